//! Maildir delivery: each message is written into `tmp/` as it streams in,
//! made durable, then renamed into `new/` (the maildir(5) protocol), so a
//! reader never sees a partial file and a crash never loses an acknowledged
//! message. What a crash leaves in `tmp/` is swept away later, by the rule
//! maildir(5) gives every program that shares the directory.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::fs::{self, File};
use tokio::io::{AsyncWriteExt, BufWriter};

/// Write buffer per open message file: large enough that a big message costs
/// few system calls, small enough for thousands of concurrent messages.
const WRITE_BUFFER: usize = 32 * 1024;

/// A file in `tmp/` untouched this long is the leftover of a delivery that
/// died: maildir(5) lets any program remove files "not accessed for 36
/// hours", and no writer keeps one that long.
pub const STALE_AFTER: Duration = Duration::from_secs(36 * 60 * 60);

/// How often `tmp/` is swept: leftovers wait at most this much past
/// [`STALE_AFTER`], for one directory scan an hour.
pub const SWEEP_EVERY: Duration = Duration::from_secs(60 * 60);

/// A Maildir: a directory with `tmp/`, `new/` and `cur/`.
#[derive(Debug, Clone)]
pub struct Maildir {
    root: PathBuf,
    /// The host part of file names, with the characters maildir(5) reserves
    /// (`/` and `:`) replaced.
    host: String,
}

impl Maildir {
    /// Opens `root`, creating it and its three subdirectories when missing.
    pub fn create(root: &Path, hostname: &str) -> io::Result<Self> {
        for sub in ["tmp", "new", "cur"] {
            std::fs::create_dir_all(root.join(sub))?;
        }
        let host = hostname.replace('/', "\\057").replace(':', "\\072");
        Ok(Maildir {
            root: root.to_path_buf(),
            host,
        })
    }

    /// The directory delivered messages land in.
    pub fn new_dir(&self) -> PathBuf {
        self.root.join("new")
    }

    /// The directory messages are written in before delivery.
    pub fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// Removes the files in `tmp/` neither read nor written for
    /// [`STALE_AFTER`] before `now`. Blocking: a directory scan and a
    /// `stat` per file.
    ///
    /// The later of the access and modification times counts, so a file
    /// still being written is fresh on a file system mounted `noatime`.
    /// Other writers may share `tmp/`: a file that vanishes meanwhile (they
    /// renamed it into `new/`) is no error, and one that cannot be removed
    /// does not stop the sweep.
    pub fn remove_stale(&self, now: SystemTime) -> io::Result<Swept> {
        let mut swept = Swept::default();
        for entry in std::fs::read_dir(self.tmp_dir())? {
            let removed = entry.and_then(|entry| {
                // DirEntry::metadata does not follow links: a link or a
                // directory someone put there is left alone.
                let metadata = entry.metadata()?;
                if !metadata.is_file() {
                    return Ok(false);
                }
                let touched = metadata.accessed()?.max(metadata.modified()?);
                // A time in the future is fresh.
                if now.duration_since(touched).unwrap_or_default() < STALE_AFTER {
                    return Ok(false);
                }
                std::fs::remove_file(entry.path())?;
                Ok(true)
            });
            match removed {
                Ok(true) => swept.removed += 1,
                Ok(false) => {}
                Err(error) if error.kind() == io::ErrorKind::NotFound => {}
                Err(error) => {
                    swept.failed += 1;
                    swept.first_error.get_or_insert(error);
                }
            }
        }
        Ok(swept)
    }

    /// Sweeps `tmp/` with [`remove_stale`](Self::remove_stale) now and
    /// every [`SWEEP_EVERY`], each time on a blocking thread so no scan
    /// holds up a connection; runs until dropped.
    pub async fn sweep_tmp(self) {
        let mut every = tokio::time::interval(SWEEP_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            let maildir = self.clone();
            let swept =
                tokio::task::spawn_blocking(move || maildir.remove_stale(SystemTime::now())).await;
            let tmp = self.tmp_dir();
            match swept {
                Ok(Ok(swept)) => {
                    if swept.removed > 0 {
                        tracing::info!(
                            removed = swept.removed,
                            dir = %tmp.display(),
                            "removed files untouched for 36 hours"
                        );
                    }
                    if let Some(error) = swept.first_error {
                        tracing::warn!(
                            failed = swept.failed,
                            dir = %tmp.display(),
                            %error,
                            "could not sweep files"
                        );
                    }
                }
                Ok(Err(error)) => {
                    tracing::warn!(dir = %tmp.display(), %error, "cannot sweep")
                }
                Err(error) => tracing::warn!(dir = %tmp.display(), %error, "sweeping failed"),
            }
        }
    }

    /// A name no other delivery uses: time, process id and a counter, as
    /// maildir(5) suggests (`1700000000.M123456P42Q7.host`).
    pub fn unique_name(&self) -> String {
        static SEQUENCE: AtomicU64 = AtomicU64::new(0);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        format!(
            "{}.M{}P{}Q{}.{}",
            now.as_secs(),
            now.subsec_micros(),
            std::process::id(),
            SEQUENCE.fetch_add(1, Ordering::Relaxed),
            self.host,
        )
    }

    /// Starts a message file named `name` in `tmp/`, beginning with `head`
    /// (the trace header fields).
    pub async fn begin(&self, name: String, head: &[u8]) -> io::Result<TmpMessage> {
        let path = self.tmp_dir().join(&name);
        let file = File::create(&path).await?;
        let mut message = TmpMessage {
            name,
            path,
            file: BufWriter::with_capacity(WRITE_BUFFER, file),
        };
        if let Err(error) = message.file.write_all(head).await {
            message.discard().await;
            return Err(error);
        }
        Ok(message)
    }

    /// Makes `message` durable and moves it into `new/`: flush, fsync the
    /// file, rename, fsync `new/` so the rename itself survives a crash.
    /// Returns the delivered path.
    pub async fn deliver(&self, mut message: TmpMessage) -> io::Result<PathBuf> {
        let synced = async {
            message.file.flush().await?;
            message.file.get_ref().sync_all().await
        }
        .await;
        if let Err(error) = synced {
            message.discard().await;
            return Err(error);
        }
        let target = self.new_dir().join(&message.name);
        if let Err(error) = fs::rename(&message.path, &target).await {
            message.discard().await;
            return Err(error);
        }
        File::open(self.new_dir()).await?.sync_all().await?;
        Ok(target)
    }
}

/// What one sweep of `tmp/` did.
#[derive(Debug, Default)]
pub struct Swept {
    /// Stale files removed.
    pub removed: usize,
    /// Files that could not be looked at or removed.
    pub failed: usize,
    /// Why the first of those failed.
    pub first_error: Option<io::Error>,
}

/// A message being written in `tmp/`.
#[derive(Debug)]
pub struct TmpMessage {
    name: String,
    path: PathBuf,
    file: BufWriter<File>,
}

impl TmpMessage {
    /// The file name it will have in `new/`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Appends content.
    pub async fn write(&mut self, chunk: &[u8]) -> io::Result<()> {
        self.file.write_all(chunk).await
    }

    /// Removes the file: the message was not accepted.
    pub async fn discard(self) {
        drop(self.file);
        if let Err(error) = fs::remove_file(&self.path).await {
            tracing::warn!(path = %self.path.display(), %error, "could not remove");
        }
    }
}
