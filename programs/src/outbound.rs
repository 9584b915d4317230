//! Sending to next hops, shared by the relay and the bulk sender: MX
//! lookups or fixed routes, opportunistic STARTTLS, and one connection per
//! destination carrying many messages.

pub mod fcrdns;
pub mod ledger;
pub mod pacing;
pub mod routes;
pub mod secure;
pub mod transfer;

use std::hash::{BuildHasher, Hasher};
use std::io::{self, Write};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch: the clock `smtpwire::delivery` is given.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

/// A fresh random seed for ordering MX hosts of equal preference (RFC 5321
/// §5.1), from the standard library's per-process random hash keys.
pub fn random_seed() -> u64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(unix_now());
    hasher.finish()
}

/// Replaces the file at `path` with `contents` so that a crash leaves the
/// old file or the new one, never a mix: written aside, fsynced, renamed,
/// and the directory fsynced so that the rename survives too.
pub fn replace_file(path: &Path, contents: &[u8]) -> io::Result<()> {
    let aside = path.with_extension("new");
    let mut file = std::fs::File::create(&aside)?;
    file.write_all(contents)?;
    file.sync_all()?;
    std::fs::rename(&aside, path)?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    std::fs::File::open(dir)?.sync_all()
}
