//! How the queue runner and the queue tools keep out of each other's way
//! on one message: an advisory lock (`flock(2)`) on its file.
//!
//! The runner holds a shared claim on each message from the moment it
//! decides to send it until its outcome is written back; a tool holds an
//! exclusive one while it deletes, holds, releases or reschedules it. So a
//! tool never changes a message whose delivery is under way, and the runner
//! never starts one a tool is changing. Each side checks, once it has the
//! lock, that the path still names the file it locked: the other side may
//! have removed, moved or replaced it (a DKIM signature rewrites the file)
//! in between, and a lock on a file no longer in the queue claims nothing.

use std::fs::{self, File, TryLockError};
use std::io;
use std::path::Path;
use std::time::{Duration, Instant};

/// How often a tool tries again for a message being delivered.
const POLL: Duration = Duration::from_millis(20);

/// A lock on a queued message's file, released when dropped.
#[derive(Debug)]
pub struct Claim {
    // Held only for its lock, which closing the file releases.
    _file: File,
}

impl Claim {
    /// The runner's claim on the message at `path`: `None` if a tool is
    /// changing it or it is no longer there. Never waits.
    pub fn shared(path: &Path) -> io::Result<Option<Claim>> {
        let Some(file) = open(path)? else {
            return Ok(None);
        };
        match file.try_lock_shared() {
            Ok(()) => Ok(still_there(path, file)?.map(|file| Claim { _file: file })),
            Err(TryLockError::WouldBlock) => Ok(None),
            Err(TryLockError::Error(error)) => Err(error),
        }
    }

    /// A tool's claim on the message at `path`, waiting up to `wait` for
    /// a delivery under way to end: `Ok(None)` if the message is gone (it
    /// may have been delivered meanwhile), an error of kind
    /// [`io::ErrorKind::WouldBlock`] if the delivery outlasted `wait`.
    pub fn exclusive(path: &Path, wait: Duration) -> io::Result<Option<Claim>> {
        let deadline = Instant::now() + wait;
        loop {
            let Some(file) = open(path)? else {
                return Ok(None);
            };
            match file.try_lock() {
                Ok(()) => match still_there(path, file)? {
                    Some(file) => return Ok(Some(Claim { _file: file })),
                    // Replaced while we waited: claim the new file.
                    None => continue,
                },
                Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(POLL);
                }
                Err(TryLockError::WouldBlock) => {
                    return Err(io::Error::new(
                        io::ErrorKind::WouldBlock,
                        "being delivered; try again later",
                    ))
                }
                Err(TryLockError::Error(error)) => return Err(error),
            }
        }
    }
}

/// `path` opened for its lock, `None` if it does not exist.
fn open(path: &Path) -> io::Result<Option<File>> {
    match File::open(path) {
        Ok(file) => Ok(Some(file)),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error),
    }
}

/// `file` if `path` still names it: neither removed, moved nor replaced
/// since it was opened.
#[cfg(unix)]
fn still_there(path: &Path, file: File) -> io::Result<Option<File>> {
    use std::os::unix::fs::MetadataExt;
    let locked = file.metadata()?;
    match fs::metadata(path) {
        Ok(now) if now.dev() == locked.dev() && now.ino() == locked.ino() => Ok(Some(file)),
        Ok(_) => Ok(None),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error),
    }
}

/// `file` if `path` still names it. Elsewhere than Unix a file open
/// without sharing its deletion cannot be removed, moved or replaced, so
/// that it is still there is enough.
#[cfg(not(unix))]
fn still_there(path: &Path, file: File) -> io::Result<Option<File>> {
    Ok(path.exists().then_some(file))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(tag: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("smtpwire-claim-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_delivery_keeps_a_tool_out_and_a_tool_keeps_deliveries_out() {
        let dir = scratch("exclude");
        let path = dir.join("1.M1P1Q1.host");
        fs::write(&path, b"x").unwrap();
        let delivering = Claim::shared(&path).unwrap().expect("claimed");
        let waited = Claim::exclusive(&path, Duration::from_millis(60)).unwrap_err();
        assert_eq!(waited.kind(), io::ErrorKind::WouldBlock);
        drop(delivering);
        let tool = Claim::exclusive(&path, Duration::ZERO)
            .unwrap()
            .expect("claimed");
        assert!(Claim::shared(&path).unwrap().is_none());
        drop(tool);
        assert!(Claim::shared(&path).unwrap().is_some());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_file_removed_or_replaced_is_not_claimed() {
        let dir = scratch("gone");
        let path = dir.join("1.M1P1Q2.host");
        assert!(Claim::shared(&path).unwrap().is_none());
        fs::write(&path, b"old").unwrap();
        let old = File::open(&path).unwrap();
        fs::write(dir.join("aside"), b"new").unwrap();
        fs::rename(dir.join("aside"), &path).unwrap();
        assert!(still_there(&path, old).unwrap().is_none());
        assert!(Claim::exclusive(&path, Duration::ZERO).unwrap().is_some());
        fs::remove_dir_all(&dir).unwrap();
    }
}
