//! Address rewriting at intake, from a table file the operator edits: in
//! the spirit of Postfix's `virtual(5)`, `aliases(5)` and `canonical(5)`
//! ([`table`] has the format). Recipients are decided at RCPT, so an
//! address the table refuses is refused while the client is connected.
//!
//! The file is read again when its modification time changes (looked at
//! no more than once a second) or when [`Rewriting::reload`] is called,
//! as on SIGHUP. A file that no longer parses leaves the rules in force
//! as they were, and says why.

pub mod expand;
pub mod headers;
pub mod table;

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

pub use expand::{Expansion, Refusal, Resolution};
pub use table::{Table, TableError};

/// How often the file's modification time is looked at.
const CHECK_EVERY: Duration = Duration::from_secs(1);

/// The table in force, and the file it comes from.
#[derive(Debug)]
pub struct Rewriting {
    path: PathBuf,
    /// The rules and the file's modification time when they were read.
    current: RwLock<(Arc<Table>, Option<SystemTime>)>,
    /// When the modification time was last looked at.
    checked: Mutex<Instant>,
}

impl Rewriting {
    /// Reads the table at `path`; fails if it cannot be read or parsed.
    pub fn load(path: &Path) -> io::Result<Rewriting> {
        let (table, modified) = read(path)?;
        Ok(Rewriting {
            path: path.to_path_buf(),
            current: RwLock::new((Arc::new(table), modified)),
            checked: Mutex::new(Instant::now()),
        })
    }

    /// The rules in force, read again first if the file changed.
    pub fn table(&self) -> Arc<Table> {
        let due = {
            let mut checked = self.checked.lock().unwrap_or_else(|e| e.into_inner());
            let due = checked.elapsed() >= CHECK_EVERY;
            if due {
                *checked = Instant::now();
            }
            due
        };
        if due {
            let modified = std::fs::metadata(&self.path)
                .and_then(|meta| meta.modified())
                .ok();
            let known = self.current.read().unwrap_or_else(|e| e.into_inner()).1;
            if modified != known {
                self.reload_logged();
            }
        }
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .0
            .clone()
    }

    /// Reads the file again now; on failure the rules stay as they were.
    pub fn reload(&self) -> io::Result<()> {
        let (table, modified) = read(&self.path)?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = (Arc::new(table), modified);
        Ok(())
    }

    fn reload_logged(&self) {
        match self.reload() {
            Ok(()) => tracing::info!(path = %self.path.display(), "rewriting table reloaded"),
            Err(error) => {
                tracing::warn!(path = %self.path.display(), %error, "rewriting table kept as it was");
                // Not tried again until the file changes once more.
                let modified = std::fs::metadata(&self.path)
                    .and_then(|meta| meta.modified())
                    .ok();
                self.current.write().unwrap_or_else(|e| e.into_inner()).1 = modified;
            }
        }
    }
}

/// The table at `path` and its modification time.
fn read(path: &Path) -> io::Result<(Table, Option<SystemTime>)> {
    let modified = std::fs::metadata(path)?.modified().ok();
    let text = std::fs::read_to_string(path)?;
    let table = Table::parse(&text).map_err(|error| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: {error}", path.display()),
        )
    })?;
    Ok((table, modified))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_file_is_read_again_and_a_broken_one_keeps_the_rules() {
        let dir = std::env::temp_dir().join(format!("smtpwire-rewrite-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("table");
        std::fs::write(&path, "alias a@example.org b@example.net\n").unwrap();
        let rewriting = Rewriting::load(&path).unwrap();
        assert!(rewriting.table().recipients.contains_key("a@example.org"));

        std::fs::write(&path, "alias c@example.org d@example.net\n").unwrap();
        rewriting.reload().unwrap();
        assert!(rewriting.table().recipients.contains_key("c@example.org"));

        std::fs::write(&path, "nonsense\n").unwrap();
        assert!(rewriting.reload().is_err());
        assert!(rewriting.table().recipients.contains_key("c@example.org"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
