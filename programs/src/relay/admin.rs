//! What the queue tools (`smtpwire-queue`) do to the relay's queue, safe
//! while the relay runs.
//!
//! Each change takes an exclusive [`Claim`] on the message first, waiting
//! for a delivery under way to end: so a message is never sent after its
//! deletion was acknowledged, nor its state written back by the runner
//! after a tool changed or deleted it. Every write is crash-safe as the
//! runner's are: a state is written aside, fsynced and renamed; a hold or
//! release is a rename between `incoming/new/` and `hold/`, a deletion an
//! unlink, with the directories fsynced.
//!
//! The commands mirror Postfix's: `list` (`postqueue -p`), `flush`
//! (`postqueue -f`/`-i`), `hold` and `release` (`postsuper -h`/`-H`),
//! `delete` (`postsuper -d`) and `requeue` (`postsuper -r`).

use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use super::claim::Claim;
use super::queue::{Queue, Queued};
use crate::outbound::unix_now;

/// One message as `list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Its envelope and delivery state; a message never tried has the
    /// state it would start with, due now.
    pub queued: Queued,
    /// Whether it is on hold.
    pub held: bool,
    /// The size of its file, in octets.
    pub size: u64,
    /// When it was queued, in Unix seconds.
    pub arrived: u64,
}

/// What a change came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Done.
    Done,
    /// Not in the queue: a wrong id, or delivered or deleted meanwhile.
    NotQueued,
    /// Nothing to do: on hold already (`hold`), or not on hold (`release`).
    AlreadySo,
    /// Being delivered right now (`flush`), so not waited for: tried
    /// already.
    Delivering,
}

/// The queue tools over one queue directory.
#[derive(Debug, Clone)]
pub struct Admin {
    queue: Queue,
    wait: Duration,
}

impl Admin {
    /// The tools over the queue directory `root`, waiting up to `wait` for
    /// a delivery under way to end before changing its message. Fails if
    /// `root` is not a relay's queue, rather than make one.
    pub fn open(root: &Path, wait: Duration) -> io::Result<Admin> {
        if !root.join("incoming").join("new").is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                "not a relay's queue directory (no incoming/new/)",
            ));
        }
        Ok(Admin {
            queue: Queue::open(root)?,
            wait,
        })
    }

    /// Every queued message, those waiting for delivery first, then those
    /// on hold, each sorted by id. A message that leaves the queue while
    /// it is read is left out.
    pub fn list(&self) -> io::Result<Vec<Entry>> {
        let now = unix_now();
        let mut entries = Vec::new();
        for held in [false, true] {
            for name in self.queue.names(held)? {
                let path = self.path(&name, held);
                match self.entry(&name, &path, held, now) {
                    Ok(entry) => entries.push(entry),
                    Err(error) if error.kind() == io::ErrorKind::NotFound => {}
                    Err(error) => eprintln!("{name}: {error}"),
                }
            }
        }
        Ok(entries)
    }

    fn entry(&self, name: &str, path: &Path, held: bool, now: u64) -> io::Result<Entry> {
        let metadata = std::fs::metadata(path)?;
        let modified = metadata
            .modified()
            .ok()
            .and_then(|time| time.duration_since(UNIX_EPOCH).ok())
            .map_or(now, |since| since.as_secs());
        Ok(Entry {
            queued: self.queue.load(name, path, now)?,
            held,
            size: metadata.len(),
            arrived: arrival_of(name).unwrap_or(modified),
        })
    }

    /// Makes a message due now, so the runner tries it at its next scan
    /// instead of waiting for its backoff. A message on hold stays there;
    /// one being delivered is not waited for.
    pub fn flush(&self, name: &str) -> io::Result<Outcome> {
        let flushed = self.reschedule(name, Duration::ZERO, |queued, now| {
            queued.next_attempt = now;
        });
        match flushed {
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => Ok(Outcome::Delivering),
            flushed => flushed,
        }
    }

    /// [`flush`](Self::flush) for every message waiting for delivery;
    /// returns each one's id and outcome.
    pub fn flush_all(&self) -> io::Result<Vec<(String, io::Result<Outcome>)>> {
        let names = self.queue.names(false)?;
        Ok(names
            .into_iter()
            .map(|name| {
                let outcome = self.flush(&name);
                (name, outcome)
            })
            .collect())
    }

    /// Starts a message's schedule again: no attempts so far, due now, its
    /// give-up time counted from now. Recipients already delivered or
    /// failed stay so.
    pub fn requeue(&self, name: &str) -> io::Result<Outcome> {
        self.reschedule(name, self.wait, |queued, now| {
            queued.attempts = 0;
            queued.first_attempt = now;
            queued.next_attempt = now;
        })
    }

    /// Puts a message on hold: the runner does not try it until it is
    /// released.
    pub fn hold(&self, name: &str) -> io::Result<Outcome> {
        self.move_hold(name, true)
    }

    /// Takes a message off hold; it is due as its state says (a message
    /// held past its next attempt is tried at the next scan).
    pub fn release(&self, name: &str) -> io::Result<Outcome> {
        self.move_hold(name, false)
    }

    /// Removes a message from the queue, wherever it is. Once this returns
    /// [`Outcome::Done`], the relay does not send it.
    pub fn delete(&self, name: &str) -> io::Result<Outcome> {
        let Some((_claim, _)) = self.claim(name, self.wait)? else {
            return Ok(Outcome::NotQueued);
        };
        self.queue.remove(name)?;
        self.queue.sync_dirs()?;
        Ok(Outcome::Done)
    }

    /// Changes a message's state with `change` (given the time now) and
    /// writes it back, waiting up to `wait` for a delivery under way.
    fn reschedule(
        &self,
        name: &str,
        wait: Duration,
        change: impl Fn(&mut Queued, u64),
    ) -> io::Result<Outcome> {
        let Some((_claim, path)) = self.claim(name, wait)? else {
            return Ok(Outcome::NotQueued);
        };
        let now = unix_now();
        let mut queued = self.queue.load(name, &path, now)?;
        change(&mut queued, now);
        self.queue.save(&queued)?;
        Ok(Outcome::Done)
    }

    fn move_hold(&self, name: &str, hold: bool) -> io::Result<Outcome> {
        let Some((_claim, path)) = self.claim(name, self.wait)? else {
            return Ok(Outcome::NotQueued);
        };
        if (path == self.queue.hold_path(name)) == hold {
            return Ok(Outcome::AlreadySo);
        }
        self.queue.set_hold(name, hold)?;
        Ok(Outcome::Done)
    }

    /// An exclusive claim on a message, waiting up to `wait` for a
    /// delivery under way, and where the message is; `None` if it is not
    /// queued.
    fn claim(&self, name: &str, wait: Duration) -> io::Result<Option<(Claim, PathBuf)>> {
        let name = checked(name)?;
        for held in [false, true] {
            let path = self.path(name, held);
            if let Some(claim) = Claim::exclusive(&path, wait)? {
                return Ok(Some((claim, path)));
            }
        }
        Ok(None)
    }

    fn path(&self, name: &str, held: bool) -> PathBuf {
        if held {
            self.queue.hold_path(name)
        } else {
            self.queue.message_path(name)
        }
    }
}

/// `name` if it can be a queue id: a plain file name, so that no id names
/// a file outside the queue.
fn checked(name: &str) -> io::Result<&str> {
    const MAX_NAME: usize = 255;
    let plain = !name.is_empty()
        && name.len() <= MAX_NAME
        && !name.starts_with('.')
        && !name.contains(['/', '\\', '\0']);
    if plain {
        Ok(name)
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("not a queue id: {name:?}"),
        ))
    }
}

/// When a message was queued, from its name: the receiving server names
/// it after the time, in Unix seconds, before the first dot (maildir(5)).
pub(crate) fn arrival_of(name: &str) -> Option<u64> {
    name.split_once('.')?.0.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_file_names_are_ids() {
        assert!(checked("1700000000.M1P2Q3.relay.test").is_ok());
        for bad in [
            "",
            ".",
            "..",
            "../state/x",
            "a/b",
            "a\\b",
            "a\0b",
            &"x".repeat(256),
        ] {
            assert_eq!(
                checked(bad).unwrap_err().kind(),
                io::ErrorKind::InvalidInput,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_directory_that_is_not_a_queue_is_refused_and_left_alone() {
        let root = std::env::temp_dir().join(format!("smtpwire-admin-{}", std::process::id()));
        let error = Admin::open(&root, Duration::ZERO).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::NotFound);
        assert!(!root.exists());
    }

    #[test]
    fn arrival_comes_from_the_name() {
        assert_eq!(
            arrival_of("1700000000.M1P2Q3.relay.test"),
            Some(1_700_000_000)
        );
        assert_eq!(arrival_of("bounce-1"), None);
        assert_eq!(arrival_of("x.y"), None);
    }
}
