//! What a sender keeps between runs about each (source address, receiving
//! provider) pair, in one file: the warm-up's send counts, since a
//! provider judges a sender by the address it connects from and counts its
//! mail across all the domains it hosts; and the pace its throttling
//! replies brought, so that a restart does not resume at full speed
//! against a provider that is still throttling. The bulk sender and the
//! relay both keep one.
//!
//! Each pair is a `pair SOURCE PROVIDER` line followed by `key value`
//! lines: the counts `first_day`, `day`, `sent_today`, `hour` and
//! `sent_this_hour`, and, for a pair a provider slowed down, `pace_size`,
//! `pace_pause_ms` and `pace_resume_at_ms` (milliseconds since the Unix
//! epoch). `SOURCE` is `default` when the system chose it. Unknown keys
//! are skipped, so an older program reads a newer file.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use smtpwire::delivery::{PaceState, SendLog, Warmup};

pub use crate::outbound::pacing::Pair;

/// Seconds in an hour: the warm-up's hourly cap reopens on the hour.
const HOUR: u64 = 3600;

/// Most pairs a file may hold, so that a damaged or hostile file cannot
/// fill memory. A sender that meets more providers than this over its life
/// forgets the ones it has not sent to for longest ([`Ledger::save`]).
const MAX_PAIRS: usize = 100_000;

/// How many pairs are left once the oldest are forgotten: room below
/// [`MAX_PAIRS`], so that forgetting is not done again at every save.
const PAIRS_KEPT: usize = MAX_PAIRS / 10 * 9;

/// The [`SendLog`]s and saved paces of every pair, and the file they live
/// in.
pub struct Ledger {
    path: PathBuf,
    /// The counts of each pair.
    pub logs: BTreeMap<Pair, SendLog>,
    /// The learnt pace of each pair a provider slowed down, its
    /// `resume_at` since the Unix epoch.
    pub paces: BTreeMap<Pair, PaceState>,
}

impl Ledger {
    /// Loads `path`, or starts with no counts if it does not exist.
    pub fn load(path: &Path) -> io::Result<Ledger> {
        let mut ledger = Ledger {
            path: path.to_path_buf(),
            logs: BTreeMap::new(),
            paces: BTreeMap::new(),
        };
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(ledger),
            Err(error) => return Err(error),
        };
        let bad = |line: &str, why: &str| {
            io::Error::new(io::ErrorKind::InvalidData, format!("{line}: {why}"))
        };
        let mut current: Option<Pair> = None;
        for line in text.lines() {
            let Some((key, value)) = line.split_once(' ') else {
                continue;
            };
            if key == "pair" {
                let (source, provider) = value
                    .split_once(' ')
                    .ok_or_else(|| bad(line, "expected pair SOURCE PROVIDER"))?;
                if ledger.logs.len() >= MAX_PAIRS {
                    return Err(bad(line, "too many pairs"));
                }
                let pair = (source.to_string(), provider.to_string());
                ledger.logs.entry(pair.clone()).or_default();
                current = Some(pair);
                continue;
            }
            let pair = current.as_ref().ok_or_else(|| {
                bad(
                    line,
                    "counts before any pair line (a log kept before counts per source and \
                     provider: remove it to start again)",
                )
            })?;
            let value: u64 = value
                .trim()
                .parse()
                .map_err(|_| bad(line, "not a number"))?;
            let log = ledger.logs.entry(pair.clone()).or_default();
            match key {
                "first_day" => log.first_day = Some(value),
                "day" => log.day = value,
                "sent_today" => log.sent_today = value,
                "hour" => log.hour = value,
                "sent_this_hour" => log.sent_this_hour = value,
                "pace_size" | "pace_pause_ms" | "pace_resume_at_ms" => {
                    let pace = ledger.paces.entry(pair.clone()).or_insert(PaceState {
                        size: u64::MAX,
                        pause: Duration::ZERO,
                        resume_at: Duration::ZERO,
                    });
                    match key {
                        "pace_size" => pace.size = value,
                        "pace_pause_ms" => pace.pause = Duration::from_millis(value),
                        _ => pace.resume_at = Duration::from_millis(value),
                    }
                }
                _ => {}
            }
        }
        Ok(ledger)
    }

    /// The log of `pair`, new if it has none yet.
    pub fn log(&mut self, pair: &Pair) -> &mut SendLog {
        self.logs.entry(pair.clone()).or_default()
    }

    /// Messages the warm-up `schedule` lets `pair` send at `now` (Unix
    /// seconds); without a schedule, no limit.
    pub fn allowance(&self, schedule: Option<&Warmup>, pair: &Pair, now: u64) -> u64 {
        match schedule {
            Some(schedule) => self
                .logs
                .get(pair)
                .copied()
                .unwrap_or_default()
                .allowance(schedule, now),
            None => u64::MAX,
        }
    }

    /// Counts each pair's sends of a round at `now` (Unix seconds).
    pub fn record(&mut self, round: &BTreeMap<Pair, u64>, now: u64) {
        for (pair, &count) in round.iter().filter(|(_, &count)| count > 0) {
            self.log(pair).record(now, count);
        }
    }

    /// Forgets the pairs that sent longest ago, down to [`PAIRS_KEPT`],
    /// once there are more than [`MAX_PAIRS`]. A forgotten pair that sends
    /// again starts its warm-up afresh, with the first day's caps: the
    /// cautious side.
    fn forget_oldest(&mut self) {
        if self.logs.len().max(self.paces.len()) <= MAX_PAIRS {
            return;
        }
        let mut by_age: Vec<(u64, &Pair)> = self
            .logs
            .iter()
            .map(|(pair, log)| (log.hour, pair))
            .collect();
        by_age.sort_unstable();
        let excess = by_age.len().saturating_sub(PAIRS_KEPT);
        let forgotten: Vec<Pair> = by_age[..excess]
            .iter()
            .map(|(_, pair)| (*pair).clone())
            .collect();
        for pair in &forgotten {
            self.logs.remove(pair);
        }
        // A pace belongs to a pair that sent; without its counts it is stale.
        let logs = &self.logs;
        self.paces.retain(|pair, _| logs.contains_key(pair));
    }

    /// Writes the counts and paces back: to a file aside, synced, then
    /// renamed over the old one and the directory synced, so a crash
    /// leaves either the old state or the new one, never a torn file.
    /// Past [`MAX_PAIRS`], the pairs that sent longest ago are forgotten
    /// first, so that the file always loads again.
    pub fn save(&mut self) -> io::Result<()> {
        self.forget_oldest();
        let mut text = String::new();
        let idle = SendLog::default();
        let pairs: std::collections::BTreeSet<&Pair> =
            self.logs.keys().chain(self.paces.keys()).collect();
        for pair in pairs {
            let (source, provider) = pair;
            text.push_str(&format!("pair {source} {provider}\n"));
            let log = self.logs.get(pair).unwrap_or(&idle);
            if let Some(first) = log.first_day {
                text.push_str(&format!("first_day {first}\n"));
            }
            text.push_str(&format!(
                "day {}\nsent_today {}\nhour {}\nsent_this_hour {}\n",
                log.day, log.sent_today, log.hour, log.sent_this_hour
            ));
            if let Some(pace) = self.paces.get(pair) {
                text.push_str(&format!(
                    "pace_size {}\npace_pause_ms {}\npace_resume_at_ms {}\n",
                    pace.size,
                    pace.pause.as_millis(),
                    pace.resume_at.as_millis()
                ));
            }
        }
        super::replace_file(&self.path, text.as_bytes())
    }
}

/// The warm-up flags the bulk sender and the relay share.
#[derive(clap::Args, Debug, Clone)]
pub struct WarmupFlags {
    /// Warm-up, per (source address, receiving provider): messages on the
    /// first day (no cap without it).
    #[arg(long, requires = "warmup_hourly")]
    pub warmup_daily: Option<u64>,
    /// Warm-up: messages in any hour of the first day.
    #[arg(long, requires = "warmup_daily")]
    pub warmup_hourly: Option<u64>,
    /// Warm-up: each day's caps as a percentage of the day before's.
    #[arg(long, default_value_t = 200)]
    pub warmup_growth: u32,
    /// Warm-up: the daily cap at which it ends.
    #[arg(long)]
    pub warmup_max_daily: Option<u64>,
}

impl WarmupFlags {
    /// The schedule the flags give; none without `--warmup-daily`.
    pub fn schedule(&self) -> Option<Warmup> {
        Some(Warmup {
            daily: self.warmup_daily?,
            hourly: self.warmup_hourly?,
            growth_percent: self.warmup_growth,
            max_daily: self.warmup_max_daily,
        })
    }
}

/// When a pair held back by its warm-up cap at `now` (Unix seconds) may
/// be tried again: on the next hour, when the hourly cap reopens (a daily
/// cap that is still used up then puts it off another hour).
pub fn warm_retry_at(now: u64) -> u64 {
    (now / HOUR + 1) * HOUR
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_pair_keeps_its_own_counts_and_pace_across_a_save_and_load() {
        let dir = std::env::temp_dir().join(format!("smtpwire-ledger-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("state");
        let mut ledger = Ledger::load(&path).unwrap();
        let gmail = ("192.0.2.1".to_string(), "google.com".to_string());
        let outlook = ("192.0.2.1".to_string(), "outlook.com".to_string());
        ledger.log(&gmail).record(86_400 * 3 + 7200, 5);
        ledger.log(&outlook).record(86_400 * 3 + 7200, 2);
        let slowed = PaceState {
            size: 12,
            pause: Duration::from_millis(120_500),
            resume_at: Duration::from_millis(1_700_000_000_250),
        };
        ledger.paces.insert(outlook.clone(), slowed);
        ledger.save().unwrap();
        let loaded = Ledger::load(&path).unwrap();
        assert_eq!(loaded.logs, ledger.logs);
        assert_eq!(loaded.logs[&gmail].sent_today, 5);
        assert_eq!(loaded.logs[&outlook].sent_this_hour, 2);
        assert_eq!(loaded.paces.get(&outlook), Some(&slowed));
        assert_eq!(loaded.paces.get(&gmail), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Past the bound, the pairs idle longest go (with their paces), the
    /// ones that sent lately stay, and the file loads again.
    #[test]
    fn a_full_ledger_forgets_the_pairs_idle_longest() {
        let dir = std::env::temp_dir().join(format!("smtpwire-ledger-full-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("state");
        let mut ledger = Ledger::load(&path).unwrap();
        let pair = |n: usize| ("192.0.2.1".to_string(), format!("provider{n}.example"));
        // Provider n last sent in hour n.
        for n in 0..=MAX_PAIRS {
            ledger.log(&pair(n)).record(n as u64 * HOUR, 1);
        }
        let paced = PaceState {
            size: 1,
            pause: Duration::from_secs(1),
            resume_at: Duration::ZERO,
        };
        ledger.paces.insert(pair(0), paced);
        ledger.paces.insert(pair(MAX_PAIRS), paced);
        ledger.save().unwrap();
        assert_eq!(ledger.logs.len(), PAIRS_KEPT);
        let loaded = Ledger::load(&path).unwrap();
        assert_eq!(loaded.logs.len(), PAIRS_KEPT);
        let forgotten = MAX_PAIRS + 1 - PAIRS_KEPT;
        assert!(!loaded.logs.contains_key(&pair(forgotten - 1)));
        assert!(loaded.logs.contains_key(&pair(forgotten)));
        assert!(loaded.logs.contains_key(&pair(MAX_PAIRS)));
        assert_eq!(loaded.paces.keys().collect::<Vec<_>>(), [&pair(MAX_PAIRS)]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_held_pair_is_tried_again_on_the_next_hour() {
        assert_eq!(warm_retry_at(7200), 10_800);
        assert_eq!(warm_retry_at(10_799), 10_800);
    }
}
