//! The warm-up's send log, kept in a file between runs: `first_day`, `day`,
//! `sent_today`, `hour` and `sent_this_hour`, one `key value` line each.

use std::io;
use std::path::{Path, PathBuf};

use smtpwire::delivery::SendLog;

/// A [`SendLog`] and the file it lives in.
pub struct Ledger {
    path: PathBuf,
    /// The counts.
    pub log: SendLog,
}

impl Ledger {
    /// Loads `path`, or starts a new log if it does not exist.
    pub fn load(path: &Path) -> io::Result<Ledger> {
        let mut log = SendLog::default();
        match std::fs::read_to_string(path) {
            Ok(text) => {
                for line in text.lines() {
                    let Some((key, value)) = line.split_once(' ') else {
                        continue;
                    };
                    let value: u64 = value.trim().parse().map_err(|_| {
                        io::Error::new(io::ErrorKind::InvalidData, format!("{line}: not a number"))
                    })?;
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
            log,
        })
    }

    /// Writes the log back, atomically.
    pub fn save(&self) -> io::Result<()> {
        let log = &self.log;
        let mut text = String::new();
        if let Some(first) = log.first_day {
            text.push_str(&format!("first_day {first}\n"));
        }
        text.push_str(&format!(
            "day {}\nsent_today {}\nhour {}\nsent_this_hour {}\n",
            log.day, log.sent_today, log.hour, log.sent_this_hour
        ));
        let aside = self.path.with_extension("new");
        std::fs::write(&aside, text)?;
        std::fs::rename(&aside, &self.path)
    }
}
