//! Who gets a session: a table of open connections with a total and a
//! per-client-address cap, the one-line 421 that answers a connection over
//! either, the pause after a failed `accept`, and the throttle on the
//! notices about both.
//!
//! Without a cap, a flood of connections (or many slow ones) uses up the
//! process's file descriptors, and from then on every new client hangs in
//! the listen queue while `accept` fails. A cap below that limit keeps
//! descriptors for the messages being stored and refuses the excess at
//! once, so a client learns to come back later, as Postfix does with
//! `smtpd_client_connection_count_limit` and its process limit.

use std::collections::HashMap;
use std::fmt;
use std::io::{self, Write};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::net::TcpStream;
use tokio::sync::Notify;

/// Connections open at once unless [`Server::with_max_connections`] says
/// otherwise: at roughly 15 KiB per idle session, ten thousand stay within
/// a few hundred megabytes. A process whose open-file limit is lower
/// should set a total below that limit, or `accept` fails first.
///
/// [`Server::with_max_connections`]: super::Server::with_max_connections
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;

/// Connections one client address may hold unless
/// [`Server::with_max_connections_per_ip`] says otherwise: Postfix's
/// `smtpd_client_connection_count_limit`.
///
/// [`Server::with_max_connections_per_ip`]: super::Server::with_max_connections_per_ip
pub const DEFAULT_MAX_CONNECTIONS_PER_IP: usize = 50;

/// Why a connection was refused with 421.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// The server holds as many connections as it may in all.
    Full,
    /// This client address holds as many as one address may.
    PerClient(IpAddr),
    /// This client address opened as many connections in the last minute
    /// as [`RateLimits::connections`](super::RateLimits::connections)
    /// allows.
    ConnectionRate(IpAddr),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Full => f.write_str("Too many connections"),
            Refusal::PerClient(client) => write!(f, "Too many connections from {client}"),
            Refusal::ConnectionRate(client) => write!(
                f,
                "{} from {client} this minute",
                super::rates::Attempt::Connection.too_many()
            ),
        }
    }
}

/// Something an operator should learn about, handed to the callback given
/// to [`Server::on_notice`](super::Server::on_notice). Notices of one kind
/// come at most once per [`Notice::EVERY`]; each says how many of its kind
/// were left out since the last, so a flood cannot flood the log.
#[derive(Debug)]
pub enum Notice<'a> {
    /// A connection was answered 421 and closed.
    Refused {
        /// Why.
        refusal: Refusal,
        /// Connections open at the time.
        open: usize,
        /// The total allowed.
        most: usize,
        /// Refusals since the last such notice that got none.
        left_out: u64,
    },
    /// `accept` failed for want of a resource (descriptors, buffers,
    /// memory); accepting pauses.
    AcceptFailed {
        /// The error.
        error: &'a io::Error,
        /// Connections open at the time.
        open: usize,
        /// How long accepting pauses.
        pause: Duration,
        /// Failures since the last such notice that got none.
        left_out: u64,
    },
}

impl Notice<'_> {
    /// The shortest time between two notices of one kind.
    pub const EVERY: Duration = Duration::from_secs(10);
}

impl fmt::Display for Notice<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (left_out, kind) = match self {
            Notice::Refused {
                refusal,
                open,
                most,
                left_out,
            } => {
                write!(
                    f,
                    "refused with 421: {refusal} ({open} open, at most {most}"
                )?;
                (left_out, "refusals")
            }
            Notice::AcceptFailed {
                error,
                open,
                pause,
                left_out,
            } => {
                write!(
                    f,
                    "accept failed: {error} ({open} connections open; pausing accepts for {pause:?}"
                )?;
                (left_out, "failures")
            }
        };
        match left_out {
            0 => f.write_str(")"),
            count => write!(f, "; {count} more {kind} since the last such line)"),
        }
    }
}

/// The callback that receives notices.
pub(super) type NoticeHook = Arc<dyn Fn(&Notice<'_>) + Send + Sync>;

/// Open connections, counted in total and per client address.
pub(super) struct ConnectionTable {
    counts: Mutex<Counts>,
    /// Woken each time a connection ends.
    freed: Notify,
}

struct Counts {
    /// The total allowed, at least one.
    most: usize,
    /// The number allowed from one address, if limited (never 0).
    most_per_client: Option<usize>,
    open: usize,
    /// Only addresses with a connection open: never more entries than
    /// `most`.
    per_client: HashMap<IpAddr, usize>,
}

impl ConnectionTable {
    /// A table for `most` connections in all (at least one) and, when
    /// given and not 0, `most_per_client` from one address.
    pub(super) fn new(most: usize, most_per_client: Option<usize>) -> Self {
        ConnectionTable {
            counts: Mutex::new(Counts {
                most: most.max(1),
                most_per_client: most_per_client.filter(|&most| most > 0),
                open: 0,
                per_client: HashMap::new(),
            }),
            freed: Notify::new(),
        }
    }

    /// New caps, as [`new`](Self::new) takes them, for the connections
    /// admitted from now on.
    pub(super) fn set_limits(&self, most: usize, most_per_client: Option<usize>) {
        let mut counts = self.counts();
        counts.most = most.max(1);
        counts.most_per_client = most_per_client.filter(|&most| most > 0);
    }

    /// A place for one more connection, counted against the total only
    /// until [`Slot::claim`] names its client; held until the slot drops.
    pub(super) fn admit(self: &Arc<Self>) -> Result<Slot, Refusal> {
        let mut counts = self.counts();
        if counts.open >= counts.most {
            return Err(Refusal::Full);
        }
        counts.open += 1;
        Ok(Slot {
            table: self.clone(),
            client: None,
        })
    }

    /// Connections open now.
    pub(super) fn open(&self) -> usize {
        self.counts().open
    }

    /// The total allowed.
    pub(super) fn most(&self) -> usize {
        self.counts().most
    }

    /// The number allowed from one address, if limited.
    pub(super) fn most_per_client(&self) -> Option<usize> {
        self.counts().most_per_client
    }

    fn counts(&self) -> MutexGuard<'_, Counts> {
        // The counts stay consistent even if a holder panicked: each
        // change is one step.
        self.counts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn release(&self, client: Option<IpAddr>) {
        let mut counts = self.counts();
        counts.open -= 1;
        if let Some(client) = client {
            if let Some(held) = counts.per_client.get_mut(&client) {
                *held -= 1;
                if *held == 0 {
                    counts.per_client.remove(&client);
                }
            }
        }
        drop(counts);
        self.freed.notify_waiters();
    }
}

/// One admitted connection; its place frees when this drops, however the
/// connection's task ends.
pub(super) struct Slot {
    table: Arc<ConnectionTable>,
    /// The address counted against the per-client cap, once claimed.
    client: Option<IpAddr>,
}

impl Slot {
    /// Counts this connection against `client`'s cap, or refuses it. A slot
    /// names one client: a second claim is ignored.
    pub(super) fn claim(&mut self, client: IpAddr) -> Result<(), Refusal> {
        if self.client.is_some() {
            return Ok(());
        }
        let mut counts = self.table.counts();
        let Some(most) = counts.most_per_client else {
            return Ok(());
        };
        // An IPv4 client of a dual-stack listener arrives as ::ffff:a.b.c.d.
        let client = client.to_canonical();
        let held = counts.per_client.entry(client).or_default();
        if *held >= most {
            // `most` is at least 1, so the entry was there before.
            return Err(Refusal::PerClient(client));
        }
        *held += 1;
        self.client = Some(client);
        Ok(())
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.table.release(self.client);
    }
}

/// What the caller can read of a server's connection table.
///
/// Cloned servers share one table, and so one count.
#[derive(Clone)]
pub struct Connections(pub(super) Arc<ConnectionTable>);

impl Connections {
    /// Connections open now.
    pub fn open(&self) -> usize {
        self.0.open()
    }

    /// The total allowed.
    pub fn most(&self) -> usize {
        self.0.most()
    }

    /// The number allowed from one client address, if limited.
    pub fn most_per_ip(&self) -> Option<usize> {
        self.0.most_per_client()
    }

    /// Completes when some connection ends after the call.
    pub async fn freed(&self) {
        self.0.freed.notified().await;
    }
}

/// The line that answers a refused connection: RFC 5321 §3.8 and §4.2.3
/// make 421 close the channel; 4.7.0 (RFC 3463) is a policy refusal, as
/// Postfix answers a client over its count limit.
pub(super) fn refusal_line(hostname: &str, refusal: Refusal) -> String {
    format!("421 4.7.0 {hostname} {refusal}, try again later\r\n")
}

/// Answers a refused connection with its 421 line and closes it, without a
/// session. The write never waits: a new socket's send buffer is empty, so
/// the line fits at once, and a client gone already gets nothing.
pub(super) fn refuse(stream: TcpStream, hostname: &str, refusal: Refusal) {
    // Out of tokio, the socket is a plain non-blocking one: a write is one
    // system call that takes what fits and returns.
    if let Ok(mut stream) = stream.into_std() {
        let _ = stream.write(refusal_line(hostname, refusal).as_bytes());
    }
}

/// Lets one notice of a kind through per [`Notice::EVERY`], counting the
/// ones held back.
#[derive(Default)]
pub(super) struct Throttle {
    logged_at: Option<Instant>,
    left_out: u64,
}

impl Throttle {
    /// Notes one occurrence; when a notice is due, returns how many were
    /// left out before it.
    pub(super) fn due(&mut self) -> Option<u64> {
        if self
            .logged_at
            .is_some_and(|at| at.elapsed() < Notice::EVERY)
        {
            self.left_out += 1;
            return None;
        }
        self.logged_at = Some(Instant::now());
        Some(std::mem::take(&mut self.left_out))
    }
}

/// The pause after `accept` fails for want of a resource: it doubles from
/// 10 ms to 1 s while failures go on and starts again from 10 ms after a
/// success, where a loop retrying at once would spin on the same error.
#[derive(Default)]
pub(super) struct AcceptBackoff {
    /// The last pause, while accepts fail.
    pause: Option<Duration>,
}

impl AcceptBackoff {
    const FIRST: Duration = Duration::from_millis(10);
    const LONGEST: Duration = Duration::from_secs(1);

    /// Records a failed `accept`; returns how long to wait before the next.
    pub(super) fn failed(&mut self) -> Duration {
        let pause = self
            .pause
            .map_or(Self::FIRST, |pause| (pause * 2).min(Self::LONGEST));
        self.pause = Some(pause);
        pause
    }

    /// Records a successful `accept`.
    pub(super) fn accepted(&mut self) {
        self.pause = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pause after a failed accept starts short, doubles while
    /// failures go on, stays bounded, and starts short again after a
    /// success.
    #[test]
    fn accept_failures_back_off_growing_to_a_bound() {
        let mut backoff = AcceptBackoff::default();
        let pauses: Vec<u128> = (0..10).map(|_| backoff.failed().as_millis()).collect();
        assert_eq!(pauses, [10, 20, 40, 80, 160, 320, 640, 1000, 1000, 1000]);
        backoff.accepted();
        assert_eq!(backoff.failed(), Duration::from_millis(10));
    }

    /// One notice per period, then the count of those held back.
    #[test]
    fn notices_are_throttled_with_a_count() {
        let mut throttle = Throttle::default();
        assert_eq!(throttle.due(), Some(0));
        assert_eq!(throttle.due(), None);
        assert_eq!(throttle.due(), None);
        throttle.logged_at = Some(Instant::now() - Notice::EVERY);
        assert_eq!(throttle.due(), Some(2));
    }

    /// A slot holds its place in the total from admission and in its
    /// client's count from its claim, and gives both back when it drops.
    #[test]
    fn a_slot_counts_its_client_until_it_drops() {
        let table = Arc::new(ConnectionTable::new(3, Some(1)));
        let client = IpAddr::from([192, 0, 2, 1]);
        let mut first = table.admit().unwrap();
        first.claim(client).unwrap();
        let mut second = table.admit().unwrap();
        assert_eq!(second.claim(client), Err(Refusal::PerClient(client)));
        drop(second);
        let _third = table.admit().unwrap();
        drop(first);
        let mut fourth = table.admit().unwrap();
        // Mapped into IPv6, the same client.
        fourth
            .claim(IpAddr::from([0, 0, 0, 0, 0, 0xffff, 0xc000, 0x0201]))
            .unwrap();
        assert_eq!(table.counts().per_client.len(), 1);
        assert_eq!(table.open(), 2);
        let _fifth = table.admit().unwrap();
        assert_eq!(table.admit().err(), Some(Refusal::Full));
    }

    /// New caps hold the connections admitted after them; the ones open
    /// stay, and count against the new caps.
    #[test]
    fn changed_caps_hold_new_connections() {
        let table = Arc::new(ConnectionTable::new(2, None));
        let client = IpAddr::from([192, 0, 2, 1]);
        let mut first = table.admit().unwrap();
        first.claim(client).unwrap();
        let mut second = table.admit().unwrap();
        second.claim(client).unwrap();
        table.set_limits(3, Some(1));
        assert_eq!((table.most(), table.most_per_client()), (3, Some(1)));
        let mut third = table.admit().unwrap();
        // The two open before the cap came were not counted per client.
        third.claim(client).unwrap();
        assert_eq!(table.admit().err(), Some(Refusal::Full));
        drop(third);
        let mut again = table.admit().unwrap();
        assert_eq!(again.claim(client), Ok(()));
        assert_eq!(table.admit().err(), Some(Refusal::Full));
        table.set_limits(0, Some(0));
        assert_eq!((table.most(), table.most_per_client()), (1, None));
    }
}
