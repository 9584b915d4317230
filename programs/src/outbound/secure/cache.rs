//! MTA-STS policies kept on disk, one file per domain in the queue
//! directory's `mta-sts/`, so that a restart keeps protecting the domains
//! already seen (RFC 8461 §5.1: a policy is applied for its `max_age`
//! whatever DNS says meanwhile). Each file is replaced whole (written
//! aside, fsynced, renamed): a crash leaves the old policy or the new one.

use std::io;
use std::path::PathBuf;

use smtpwire::delivery::mta_sts::Policy;

use crate::outbound::replace_file;

/// A policy as it was fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cached {
    /// The `id` of the `_mta-sts` TXT record it was fetched for.
    pub id: String,
    /// When it was fetched, in seconds since the Unix epoch.
    pub fetched: u64,
    /// The policy.
    pub policy: Policy,
}

impl Cached {
    /// Whether it still applies at `now`: within `max_age` of its fetch
    /// (RFC 8461 §3.2, §5.1).
    pub fn is_fresh(&self, now: u64) -> bool {
        now < self.fetched.saturating_add(self.policy.max_age)
    }

    fn render(&self) -> String {
        format!(
            "id: {}\nfetched: {}\n{}",
            self.id,
            self.fetched,
            self.policy.to_file()
        )
    }

    fn parse(text: &str) -> Option<Cached> {
        let mut lines = text.splitn(3, '\n');
        let id = lines.next()?.strip_prefix("id: ")?.to_string();
        let fetched = lines.next()?.strip_prefix("fetched: ")?.parse().ok()?;
        let policy = Policy::parse(lines.next()?.as_bytes()).ok()?;
        Some(Cached {
            id,
            fetched,
            policy,
        })
    }
}

/// The policies of a queue directory.
#[derive(Debug, Clone)]
pub struct PolicyCache {
    dir: PathBuf,
}

impl PolicyCache {
    /// The cache in `dir`, created if missing.
    pub fn open(dir: PathBuf) -> io::Result<PolicyCache> {
        std::fs::create_dir_all(&dir)?;
        Ok(PolicyCache { dir })
    }

    /// The policy kept for `domain`, if any can be read.
    pub fn load(&self, domain: &str) -> Option<Cached> {
        let text = std::fs::read_to_string(self.path(domain)?).ok()?;
        Cached::parse(&text)
    }

    /// Keeps `cached` for `domain` in place of what was.
    pub fn store(&self, domain: &str, cached: &Cached) -> io::Result<()> {
        let path = self
            .path(domain)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "unusable domain name"))?;
        replace_file(&path, cached.render().as_bytes())
    }

    /// The file of `domain`: its lower-case name, which holds letters,
    /// digits, hyphens and dots only, or `None` for a name that does not.
    fn path(&self, domain: &str) -> Option<PathBuf> {
        let name = domain.trim_end_matches('.').to_ascii_lowercase();
        let usable = !name.is_empty()
            && !name.starts_with('.')
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
        usable.then(|| self.dir.join(format!("{name}.policy")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(tag: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("smtpwire-sts-cache-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn a_stored_policy_loads_back_and_ages() {
        let dir = scratch("roundtrip");
        let cache = PolicyCache::open(dir.clone()).unwrap();
        let policy =
            Policy::parse(b"version: STSv1\nmode: enforce\nmx: *.example.net\nmax_age: 100\n")
                .unwrap();
        let cached = Cached {
            id: "20260101T000000".into(),
            fetched: 1_000,
            policy,
        };
        cache.store("Example.NET", &cached).unwrap();
        let loaded = cache.load("example.net").unwrap();
        assert_eq!(loaded, cached);
        assert!(loaded.is_fresh(1_099));
        assert!(!loaded.is_fresh(1_100));
        assert!(cache.load("example.org").is_none());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn names_that_are_not_host_names_get_no_file() {
        let dir = scratch("names");
        let cache = PolicyCache::open(dir.clone()).unwrap();
        assert!(cache.path("../etc/passwd").is_none());
        assert!(cache.path(".hidden").is_none());
        assert!(cache.path("").is_none());
        let _ = std::fs::remove_dir_all(dir);
    }
}
