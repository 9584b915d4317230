//! Settings read again while a program runs: on SIGHUP (`systemctl reload`,
//! `kill -HUP`), a program reads its command line and `--config` file again
//! and applies what can change without dropping a connection or a queued
//! message — the users file, recipient rules and limits of the server, the
//! routes and signing keys of the relay. What cannot (the listening
//! address, the queue directory, the user to run as …) keeps its value
//! until a restart, and the log says which keys those were.
//!
//! A reading that fails (a syntax error in the file, a users file that
//! cannot be read) changes nothing: the program goes on with the settings
//! it had, and the log says why, as Postfix's `postfix reload` leaves a
//! running master alone when its configuration is broken.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::marker::PhantomData;

use clap::{CommandFactory, FromArgMatches};

use crate::config;
use crate::service;

/// A program's settings as it last read them, and the way to read them
/// again.
pub struct Reload<A> {
    command_line: Vec<OsString>,
    settings: String,
    reloadable: &'static [&'static str],
    args: PhantomData<fn() -> A>,
}

/// One reading that may be applied.
pub struct Reading<A> {
    /// The settings read.
    pub args: A,
    /// The keys whose value changed and will be applied.
    pub changed: Vec<String>,
    /// The keys whose value changed but which only a restart applies.
    pub need_restart: Vec<String>,
    settings: String,
}

impl<A: CommandFactory + FromArgMatches> Reload<A> {
    /// The settings of this process's own command line (and the file it
    /// names), read now; `reloadable` are the keys (flag names without
    /// dashes) the program applies on a reload.
    pub fn of_process(reloadable: &'static [&'static str]) -> Result<Self, String> {
        Reload::new(std::env::args_os(), reloadable)
    }

    /// [`of_process`](Self::of_process) for `command_line` (the program's
    /// name first).
    pub fn new(
        command_line: impl IntoIterator<Item = impl Into<OsString>>,
        reloadable: &'static [&'static str],
    ) -> Result<Self, String> {
        let command_line: Vec<OsString> = command_line.into_iter().map(Into::into).collect();
        let (_, settings) = config::reread::<A>(&command_line).map_err(|e| e.to_string())?;
        Ok(Reload {
            command_line,
            settings,
            reloadable,
            args: PhantomData,
        })
    }

    /// Reads the settings again, and tells which keys changed since the
    /// last reading that was [`applied`](Self::applied).
    pub fn read(&self) -> Result<Reading<A>, String> {
        let (args, settings) =
            config::reread::<A>(&self.command_line).map_err(|e| e.to_string())?;
        let before = by_key(&self.settings);
        let after = by_key(&settings);
        let (changed, need_restart) = after
            .iter()
            .filter(|(key, line)| before.get(*key) != Some(*line))
            .map(|(key, _)| key.to_string())
            .partition(|key| self.reloadable.contains(&key.as_str()));
        Ok(Reading {
            args,
            changed,
            need_restart,
            settings,
        })
    }

    /// Takes `reading` as the settings in force: the next reading is
    /// compared with it.
    pub fn applied(&mut self, reading: Reading<A>) -> A {
        self.settings = reading.settings;
        reading.args
    }

    /// On each SIGHUP until the program ends: reads the settings again and
    /// hands them to `apply`, which puts the reloadable ones in force or
    /// refuses them all with the reason; tells the service manager, and
    /// logs what changed. Returns at once where there is no SIGHUP.
    pub async fn on_hangup(mut self, mut apply: impl FnMut(&A) -> Result<(), String>) {
        let mut hangups = service::Hangups::new();
        while hangups.next().await {
            service::notify_reloading();
            match self.read().and_then(|reading| {
                apply(&reading.args)?;
                Ok(reading)
            }) {
                Ok(reading) => {
                    tracing::info!(
                        changed = %reading.changed.join(","),
                        need_restart = %reading.need_restart.join(","),
                        "reloaded"
                    );
                    self.applied(reading);
                }
                Err(error) => {
                    tracing::error!(%error, "reload refused: the settings in force stay");
                }
            }
            service::notify_reloaded();
        }
    }
}

/// Each key's line of [`config::reread`]'s settings.
fn by_key(settings: &str) -> BTreeMap<&str, &str> {
    settings
        .lines()
        .filter_map(|line| {
            let key = line.trim_start_matches("# ").split(" = ").next()?;
            Some((key, line))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Flags {
        #[arg(long, default_value = "127.0.0.1:2525")]
        listen: String,
        #[arg(long)]
        mx: Vec<String>,
        #[arg(long)]
        message_rate_limit: Option<u32>,
    }

    /// A changed reloadable key is reported as changed, any other as
    /// needing a restart, and the next reading compares with the one
    /// applied.
    #[test]
    fn a_reading_tells_what_changed_since_the_last_applied() {
        let dir = std::env::temp_dir().join(format!("smtpwire-reload-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("settings.toml");
        std::fs::write(&file, "mx = [\"a.test=127.0.0.1:25\"]\n").unwrap();
        let command_line = ["program", "--config", file.to_str().unwrap()];
        let mut reload = Reload::<Flags>::new(command_line, &["mx", "message-rate-limit"]).unwrap();
        let unchanged = reload.read().unwrap();
        assert!(unchanged.changed.is_empty() && unchanged.need_restart.is_empty());

        std::fs::write(
            &file,
            "mx = [\"a.test=127.0.0.1:26\"]\nmessage-rate-limit = 20\nlisten = \"[::1]:25\"\n",
        )
        .unwrap();
        let reading = reload.read().unwrap();
        assert_eq!(reading.changed, ["message-rate-limit", "mx"]);
        assert_eq!(reading.need_restart, ["listen"]);
        let args = reload.applied(reading);
        assert_eq!(args.mx, ["a.test=127.0.0.1:26"]);
        assert_eq!(args.message_rate_limit, Some(20));
        assert!(reload.read().unwrap().changed.is_empty());

        std::fs::write(&file, "mx = [\"a.test\" = 1]\n").unwrap();
        assert!(reload.read().is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
