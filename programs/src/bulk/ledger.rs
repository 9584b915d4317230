//! The warm-up's send logs, kept in a file between runs: one per (source
//! address, receiving provider), since a provider judges a sender by the
//! address it connects from and counts its mail across all the domains it
//! hosts. Each pair is a `pair SOURCE PROVIDER` line followed by its
//! `first_day`, `day`, `sent_today`, `hour` and `sent_this_hour` as
//! `key value` lines. `SOURCE` is `default` when the system chose it.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use smtpwire::delivery::SendLog;

pub use crate::outbound::pacing::Pair;

/// The [`SendLog`]s of every pair and the file they live in.
pub struct Ledger {
    path: PathBuf,
    /// The counts of each pair.
    pub logs: BTreeMap<Pair, SendLog>,
}

impl Ledger {
    /// Loads `path`, or starts with no counts if it does not exist.
    pub fn load(path: &Path) -> io::Result<Ledger> {
        let mut logs = BTreeMap::new();
        let bad = |line: &str, why: &str| {
            io::Error::new(io::ErrorKind::InvalidData, format!("{line}: {why}"))
        };
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let mut current: Option<Pair> = None;
                for line in text.lines() {
                    let Some((key, value)) = line.split_once(' ') else {
                        continue;
                    };
                    if key == "pair" {
                        let (source, provider) = value
                            .split_once(' ')
                            .ok_or_else(|| bad(line, "expected pair SOURCE PROVIDER"))?;
                        let pair = (source.to_string(), provider.to_string());
                        logs.entry(pair.clone()).or_insert_with(SendLog::default);
                        current = Some(pair);
                        continue;
                    }
                    let log = current
                        .as_ref()
                        .and_then(|pair| logs.get_mut(pair))
                        .ok_or_else(|| {
                            bad(
                                line,
                                "counts before any pair line (a log kept before counts \
                                 per source and provider: remove it to start again)",
                            )
                        })?;
                    let value: u64 = value
                        .trim()
                        .parse()
                        .map_err(|_| bad(line, "not a number"))?;
                    match key {
                        "first_day" => log.first_day = Some(value),
                        "day" => log.day = value,
                        "sent_today" => log.sent_today = value,
                        "hour" => log.hour = value,
                        "sent_this_hour" => log.sent_this_hour = value,
                        _ => {}
                    }
                }
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(error) => return Err(error),
        }
        Ok(Ledger {
            path: path.to_path_buf(),
            logs,
        })
    }

    /// The log of `pair`, new if it has none yet.
    pub fn log(&mut self, pair: &Pair) -> &mut SendLog {
        self.logs.entry(pair.clone()).or_default()
    }

    /// Writes the logs back: to a file aside, synced, then renamed over
    /// the old one and the directory synced, so a crash leaves either the
    /// old counts or the new ones, never a torn file.
    pub fn save(&self) -> io::Result<()> {
        let mut text = String::new();
        for ((source, provider), log) in &self.logs {
            text.push_str(&format!("pair {source} {provider}\n"));
            if let Some(first) = log.first_day {
                text.push_str(&format!("first_day {first}\n"));
            }
            text.push_str(&format!(
                "day {}\nsent_today {}\nhour {}\nsent_this_hour {}\n",
                log.day, log.sent_today, log.hour, log.sent_this_hour
            ));
        }
        let aside = self.path.with_extension("new");
        let mut file = std::fs::File::create(&aside)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&aside, &self.path)?;
        let dir = match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        std::fs::File::open(dir)?.sync_all()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_pair_keeps_its_own_counts_across_a_save_and_load() {
        let dir = std::env::temp_dir().join(format!("smtpwire-ledger-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("state");
        let mut ledger = Ledger::load(&path).unwrap();
        let gmail = ("192.0.2.1".to_string(), "google.com".to_string());
        let outlook = ("192.0.2.1".to_string(), "outlook.com".to_string());
        ledger.log(&gmail).record(86_400 * 3 + 7200, 5);
        ledger.log(&outlook).record(86_400 * 3 + 7200, 2);
        ledger.save().unwrap();
        let loaded = Ledger::load(&path).unwrap();
        assert_eq!(loaded.logs, ledger.logs);
        assert_eq!(loaded.logs[&gmail].sent_today, 5);
        assert_eq!(loaded.logs[&outlook].sent_this_hour, 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
