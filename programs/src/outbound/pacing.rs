//! Slowing down for a provider that throttles: the relay and the bulk
//! sender keep one [`Pace`] per source address and receiving provider, and
//! a throttling reply slows that pair instead of counting as a failure.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use smtpwire::delivery::{is_throttling, Fate, Pace, PaceState, Settled};

/// Which counts a send goes to: the source address (or `default`) and the
/// provider (as [`smtpwire::delivery::provider_of`] names it).
pub type Pair = (String, String);

/// The pair of mail sent from `source` (the system's choice when `None`)
/// to `provider`.
pub fn pair_of(source: Option<IpAddr>, provider: String) -> Pair {
    (
        source.map_or_else(|| "default".to_string(), |ip| ip.to_string()),
        provider,
    )
}

/// Whether `settled` was deferred by a provider's throttling reply: one
/// that asks the sender to slow down, not one about the message.
pub fn by_throttling<R>(settled: &Settled<R>) -> bool {
    matches!(settled.fate, Fate::Delayed { .. })
        && settled
            .attempts
            .last()
            .and_then(|record| record.reply.as_ref())
            .is_some_and(is_throttling)
}

/// The paces of the pairs that have sent, each created at full pace.
pub struct Paces {
    paces: BTreeMap<Pair, Pace>,
    ceiling: u64,
    first_pause: Duration,
}

impl Paces {
    /// Paces of `ceiling` messages a round, pausing `first_pause` after a
    /// pair's first throttling reply.
    pub fn new(ceiling: u64, first_pause: Duration) -> Paces {
        Paces {
            paces: BTreeMap::new(),
            ceiling,
            first_pause,
        }
    }

    /// [`new`](Self::new) paces, taking up those `saved` by an earlier run
    /// (their `resume_at` since the Unix epoch); `origin` is when the
    /// caller's clock reads zero, since the epoch.
    pub fn resumed(
        ceiling: u64,
        first_pause: Duration,
        saved: &BTreeMap<Pair, PaceState>,
        origin: Duration,
    ) -> Paces {
        let mut paces = Paces::new(ceiling, first_pause);
        for (pair, state) in saved {
            let state = PaceState {
                resume_at: state.resume_at.saturating_sub(origin),
                ..*state
            };
            paces
                .paces
                .insert(pair.clone(), Pace::resumed(ceiling, first_pause, state));
        }
        paces
    }

    /// The states to save for a later run, their `resume_at` since the
    /// Unix epoch (`origin` as in [`resumed`](Self::resumed)): only the
    /// pairs slowed down or paused at `now`; the others would start afresh
    /// the same way.
    pub fn saved(&self, now: Duration, origin: Duration) -> BTreeMap<Pair, PaceState> {
        self.paces
            .iter()
            .filter(|(_, pace)| pace.is_slowed() || pace.resume_at() > now)
            .map(|(pair, pace)| {
                let state = pace.state();
                let resume_at = state.resume_at.saturating_add(origin);
                (pair.clone(), PaceState { resume_at, ..state })
            })
            .collect()
    }

    /// The pace of `pair`.
    pub fn of(&mut self, pair: &Pair) -> &mut Pace {
        let (ceiling, first_pause) = (self.ceiling, self.first_pause);
        self.paces
            .entry(pair.clone())
            .or_insert_with(|| Pace::new(ceiling, first_pause))
    }

    /// When `pair` may send again (zero if it was never paused).
    pub fn resume_at(&self, pair: &Pair) -> Duration {
        self.paces.get(pair).map_or(Duration::ZERO, Pace::resume_at)
    }

    /// Forgets the pairs back at full pace and not paused at `now`: they
    /// would start afresh the same way, and a long-running sender meets
    /// ever more providers.
    pub fn forget_settled(&mut self, now: Duration) {
        self.paces
            .retain(|_, pace| pace.is_slowed() || pace.resume_at() > now);
    }
}
