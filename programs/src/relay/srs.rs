//! The Sender Rewriting Scheme (SRS), as libsrs2, Mail::SRS and postsrsd
//! write it, so that a forwarded message's envelope sender is in the
//! relay's own domain (SPF, RFC 7208 §1.1.1 on forwarding) and a bounce to
//! it finds its way back:
//!
//! - `SRS0=HHHH=TT=domain=local@srs-domain` for a sender `local@domain`:
//!   `TT` the day (Unix days mod 1024) in two base32 characters, `HHHH`
//!   the first four base64 characters of HMAC-SHA1 over the lower-cased
//!   timestamp, domain and local part;
//! - `SRS1=HHHH=host==HHHH=TT=domain=local@srs-domain` for a sender that
//!   is already another forwarder's `SRS0` address at `host`, the hash over
//!   `host` and the rest.
//!
//! The hash is compared without regard to case, as mail systems may
//! change the case of a local part; an `SRS0` address is good for
//! [`MAX_AGE_DAYS`].

use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;

/// How long an `SRS0` address is honoured (postsrsd's default).
pub const MAX_AGE_DAYS: u64 = 21;

/// Characters of the hash kept.
const HASH_LEN: usize = 4;

/// The base32 alphabet of the timestamp (RFC 4648 §6).
const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// The timestamp wraps every 1024 days: two base32 characters.
const TIMESTAMP_WRAP: u64 = 1024;

/// Rewrites and reverses senders for one domain with one secret.
#[derive(Clone)]
pub struct Srs {
    domain: String,
    secret: Vec<u8>,
}

impl std::fmt::Debug for Srs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Srs")
            .field("domain", &self.domain)
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl Srs {
    /// SRS for addresses at `domain`, signed with `secret`.
    pub fn new(domain: &str, secret: &[u8]) -> Srs {
        Srs {
            domain: domain.to_ascii_lowercase(),
            secret: secret.to_vec(),
        }
    }

    /// The SRS domain.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// `sender` (`local@domain`) as it leaves when forwarded, on Unix day
    /// `today`; a sender already in the SRS domain is left as it is.
    pub fn forward(&self, sender: &str, today: u64) -> String {
        let Some((local, domain)) = sender.rsplit_once('@') else {
            return sender.to_string();
        };
        if domain.eq_ignore_ascii_case(&self.domain) {
            return sender.to_string();
        }
        let local_upper = local.to_ascii_uppercase();
        if local_upper.starts_with("SRS0") && local.len() > 4 {
            // Another forwarder's SRS0: wrapped as SRS1, pointing at it.
            let rest = &local[4..];
            let hash = self.hash(&[domain, rest]);
            return format!("SRS1={hash}={domain}={rest}@{}", self.domain);
        }
        if local_upper.starts_with("SRS1=") {
            // Another forwarder's SRS1: its first forwarder kept, signed
            // again by us.
            let mut parts = local[5..].splitn(3, '=');
            if let (Some(_), Some(host), Some(rest)) = (parts.next(), parts.next(), parts.next()) {
                let hash = self.hash(&[host, rest]);
                return format!("SRS1={hash}={host}={rest}@{}", self.domain);
            }
        }
        let stamp = timestamp(today);
        let hash = self.hash(&[&stamp, domain, local]);
        format!("SRS0={hash}={stamp}={domain}={local}@{}", self.domain)
    }

    /// The address a bounce to `recipient` goes back to, if it is an SRS
    /// address of ours with a good hash (and for `SRS0`, not older than
    /// [`MAX_AGE_DAYS`] on Unix day `today`); `None` otherwise.
    pub fn reverse(&self, recipient: &str, today: u64) -> Option<String> {
        let (local, domain) = recipient.rsplit_once('@')?;
        if !domain.eq_ignore_ascii_case(&self.domain) {
            return None;
        }
        // `get`, not slicing: a UTF-8 local part may not split at 5.
        let (tag, rest) = (local.get(..5)?, local.get(5..)?);
        match tag.to_ascii_uppercase().as_str() {
            "SRS0=" => {
                let mut parts = rest.splitn(4, '=');
                let (hash, stamp, domain, local) =
                    (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
                if !self.hash_matches(hash, &[stamp, domain, local]) || !fresh(stamp, today) {
                    return None;
                }
                Some(format!("{local}@{domain}"))
            }
            "SRS1=" => {
                let mut parts = rest.splitn(3, '=');
                let (hash, host, inner) = (parts.next()?, parts.next()?, parts.next()?);
                if !self.hash_matches(hash, &[host, inner]) {
                    return None;
                }
                Some(format!("SRS0{inner}@{host}"))
            }
            _ => None,
        }
    }

    /// Whether `recipient` is in the SRS domain and looks like an SRS
    /// address (whether or not its hash is good).
    pub fn is_srs_address(&self, recipient: &str) -> bool {
        recipient.rsplit_once('@').is_some_and(|(local, domain)| {
            let tag = local.get(..5).map(str::to_ascii_uppercase);
            domain.eq_ignore_ascii_case(&self.domain)
                && matches!(tag.as_deref(), Some("SRS0=" | "SRS1="))
        })
    }

    /// The first [`HASH_LEN`] base64 characters of HMAC-SHA1 over the
    /// lower-cased `parts`.
    fn hash(&self, parts: &[&str]) -> String {
        // HMAC takes a key of any length.
        let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(&self.secret) else {
            return String::new();
        };
        for part in parts {
            mac.update(part.to_lowercase().as_bytes());
        }
        let digest = mac.finalize().into_bytes();
        let mut encoded = base64::engine::general_purpose::STANDARD.encode(digest);
        encoded.truncate(HASH_LEN);
        encoded
    }

    fn hash_matches(&self, given: &str, parts: &[&str]) -> bool {
        given.len() == HASH_LEN && given.eq_ignore_ascii_case(&self.hash(parts))
    }
}

/// The day `today` (Unix days) as two base32 characters.
fn timestamp(today: u64) -> String {
    let day = today % TIMESTAMP_WRAP;
    let high = BASE32[(day >> 5) as usize & 31] as char;
    let low = BASE32[day as usize & 31] as char;
    format!("{high}{low}")
}

/// Whether a timestamp is from the last [`MAX_AGE_DAYS`] days (modulo the
/// 1024-day wrap), read without regard to case.
fn fresh(stamp: &str, today: u64) -> bool {
    let value = |c: u8| BASE32.iter().position(|&b| b == c.to_ascii_uppercase());
    let [high, low] = stamp.as_bytes() else {
        return false;
    };
    let (Some(high), Some(low)) = (value(*high), value(*low)) else {
        return false;
    };
    let then = (high as u64) << 5 | low as u64;
    let age = (today % TIMESTAMP_WRAP + TIMESTAMP_WRAP - then) % TIMESTAMP_WRAP;
    age <= MAX_AGE_DAYS
}

/// Today in Unix days.
pub fn unix_day() -> u64 {
    crate::outbound::unix_now() / 86_400
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_forwarded_sender_comes_back_and_a_forged_or_old_one_does_not() {
        let srs = Srs::new("relay.example", b"secret");
        let day = 20_000;
        let forwarded = srs.forward("Alice@example.org", day);
        assert!(forwarded.starts_with("SRS0="), "{forwarded}");
        assert!(forwarded.ends_with("=example.org=Alice@relay.example"));
        assert_eq!(
            srs.reverse(&forwarded, day).as_deref(),
            Some("Alice@example.org")
        );
        // Case changed on the way: the hash still holds.
        let lower = forwarded.to_lowercase();
        assert_eq!(
            srs.reverse(&lower, day + MAX_AGE_DAYS).as_deref(),
            Some("alice@example.org")
        );
        assert_eq!(srs.reverse(&forwarded, day + MAX_AGE_DAYS + 1), None);
        let other = Srs::new("relay.example", b"other secret");
        assert_eq!(other.reverse(&forwarded, day), None);
        let forged = forwarded.replace("=example.org=", "=example.com=");
        assert_eq!(srs.reverse(&forged, day), None);
        assert_eq!(srs.forward("bob@relay.example", day), "bob@relay.example");
        assert_eq!(srs.reverse("SRSé=x@relay.example", day), None);
        assert_eq!(srs.reverse("SRS0@relay.example", day), None);
    }

    #[test]
    fn another_forwarders_srs0_is_wrapped_as_srs1_and_unwrapped_to_it() {
        let first = Srs::new("first.example", b"one");
        let second = Srs::new("second.example", b"two");
        let day = 20_000;
        let once = first.forward("alice@example.org", day);
        let twice = second.forward(&once, day);
        assert!(twice.starts_with("SRS1="), "{twice}");
        assert!(twice.contains("=first.example=="));
        let back = second.reverse(&twice, day).unwrap();
        assert_eq!(back, once);
        assert_eq!(
            first.reverse(&back, day).as_deref(),
            Some("alice@example.org")
        );
        let third = Srs::new("third.example", b"three");
        let thrice = third.forward(&twice, day);
        assert_eq!(third.reverse(&thrice, day).as_deref(), Some(once.as_str()));
    }

    #[test]
    fn timestamps_wrap() {
        assert_eq!(timestamp(0), "AA");
        assert_eq!(timestamp(1023), "77");
        assert!(fresh(&timestamp(1020), 1024 + 3));
    }
}
