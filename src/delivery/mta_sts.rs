//! MTA-STS (RFC 8461): the policy file and what it asks of a delivery.
//!
//! A domain publishes, at `https://mta-sts.<domain>/.well-known/mta-sts.txt`,
//! the MX hosts that may receive its mail and whether they must be reached
//! over STARTTLS with a certificate that verifies for the MX host's name.
//! This module is the sans-IO part: [`Policy::parse`] reads the file (RFC
//! 8461 §3.2) and [`Policy::check_mx`] says whether an MX host may be
//! used and what its TLS must be (§4). Finding the policy (the
//! `_mta-sts` TXT record, the HTTPS fetch, §3.3), keeping it (§5.1) and
//! verifying certificates are the caller's.
//!
//! What a policy in `enforce` mode promises: mail goes only to an MX host the
//! domain listed, over TLS whose certificate chains to a trusted root and
//! carries the MX host's name, so an attacker on the path can neither strip
//! STARTTLS nor swap the MX records for hosts of their own. What it does not
//! promise: anything on first contact before a policy is cached (a first
//! fetch can be blocked, §10.2), nor protection from an attacker who can
//! obtain a WebPKI certificate for the MX name; in `testing` mode failures
//! are only to be reported, never enforced.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

/// The longest `max_age` a policy may give: about a year (RFC 8461 §3.2).
pub const MAX_AGE_LIMIT: u64 = 31_557_600;

/// The largest policy file a sender needs to read (RFC 8461 §3.3 lets
/// senders refuse larger ones; 64 KiB is what it suggests).
pub const MAX_POLICY_SIZE: usize = 64 * 1024;

/// What the domain asks senders to do (RFC 8461 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Deliver only to matching MX hosts over verified TLS.
    Enforce,
    /// Deliver as without a policy, reporting what would have failed.
    Testing,
    /// The domain withdrew its policy: deliver as without one.
    None,
}

impl Mode {
    /// The name in the policy file.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::Testing => "testing",
            Mode::None => "none",
        }
    }
}

/// One `mx` line: a host name, or `*.` and a name, which stands for any
/// name with exactly one more label on the left (RFC 8461 §4.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MxPattern {
    /// Lower-case, without a trailing dot or the `*.`.
    suffix: String,
    wildcard: bool,
}

impl MxPattern {
    /// Reads one pattern; `None` when it is not `["*."] Domain`.
    pub fn parse(text: &str) -> Option<MxPattern> {
        let (wildcard, name) = match text.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let name = name.strip_suffix('.').unwrap_or(name);
        if !is_host_name(name) {
            return None;
        }
        Some(MxPattern {
            suffix: name.to_ascii_lowercase(),
            wildcard,
        })
    }

    /// Whether the MX host `host` (an A-label name, any case, with or
    /// without the root's dot) matches. A wildcard covers one label only:
    /// `*.example.com` matches `mx1.example.com`, not `example.com` nor
    /// `a.b.example.com` (RFC 8461 §4.1).
    pub fn matches(&self, host: &str) -> bool {
        let host = host.strip_suffix('.').unwrap_or(host);
        if !self.wildcard {
            return host.eq_ignore_ascii_case(&self.suffix);
        }
        let Some((first, rest)) = host.split_once('.') else {
            return false;
        };
        !first.is_empty() && rest.eq_ignore_ascii_case(&self.suffix)
    }
}

impl core::fmt::Display for MxPattern {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        if self.wildcard {
            f.write_str("*.")?;
        }
        f.write_str(&self.suffix)
    }
}

/// A parsed policy file (RFC 8461 §3.2).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Policy {
    /// `enforce`, `testing` or `none`.
    pub mode: Mode,
    /// The MX hosts mail may go to; empty only in mode `none`.
    pub mx: Vec<MxPattern>,
    /// How long, in seconds, the policy may be cached and applied, at most
    /// [`MAX_AGE_LIMIT`].
    pub max_age: u64,
}

/// Why a policy file was refused: the `sts-policy-invalid` of TLS
/// reporting (RFC 8460 §4.3.2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// Larger than [`MAX_POLICY_SIZE`].
    #[error("policy larger than {MAX_POLICY_SIZE} bytes")]
    TooLarge,
    /// Not UTF-8 text.
    #[error("policy is not text")]
    NotText,
    /// No `version: STSv1` (the only version, §3.2).
    #[error("policy version is missing or not STSv1")]
    Version,
    /// No `mode`, or not one of the three.
    #[error("policy mode is missing or unknown")]
    Mode,
    /// No `max_age`, or not 1 to 10 digits.
    #[error("policy max_age is missing or not a number")]
    MaxAge,
    /// An `mx` line that is not a host name pattern.
    #[error("policy mx pattern {0:?} is not a host name")]
    MxPattern(String),
    /// Mode `enforce` or `testing` without any `mx` line.
    #[error("policy lists no mx pattern")]
    NoMx,
    /// A line without `key:`.
    #[error("policy line {0:?} is not key: value")]
    Line(String),
}

/// What a policy says of one MX host (RFC 8461 §4.1, §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MxVerdict {
    /// Use it only over STARTTLS with a certificate that verifies (WebPKI)
    /// for the host's name: `enforce`, and the host matches.
    RequireVerifiedTls,
    /// Use it as without a policy, and report if it is not listed or its
    /// TLS does not verify: `testing`.
    ReportOnly {
        /// Whether the host matches a pattern.
        listed: bool,
    },
    /// Do not use it: `enforce`, and no pattern matches.
    Refuse,
    /// No requirement: mode `none`.
    NoPolicy,
}

impl Policy {
    /// Reads a policy file: `key: value` lines ended by LF or CRLF, keys
    /// `version`, `mode`, `max_age` and any number of `mx`; the first of a
    /// repeated key counts, unknown keys are ignored (RFC 8461 §3.2). A
    /// `max_age` above [`MAX_AGE_LIMIT`] is taken as the limit.
    pub fn parse(file: &[u8]) -> Result<Policy, PolicyError> {
        if file.len() > MAX_POLICY_SIZE {
            return Err(PolicyError::TooLarge);
        }
        let text = core::str::from_utf8(file).map_err(|_| PolicyError::NotText)?;
        let mut version = None;
        let mut mode = None;
        let mut max_age = None;
        let mut mx = Vec::new();
        for line in text.split('\n') {
            let line = line.strip_suffix('\r').unwrap_or(line);
            if line.trim().is_empty() {
                continue;
            }
            let (key, value) = line
                .split_once(':')
                .ok_or_else(|| PolicyError::Line(line.to_string()))?;
            // sts-policy-field-delim = ":" *WSP, and *WSP after the value.
            let value = value.trim_matches([' ', '\t']);
            match key {
                "version" => {
                    version.get_or_insert(value);
                }
                "mode" => {
                    mode.get_or_insert(value);
                }
                "max_age" => {
                    max_age.get_or_insert(value);
                }
                "mx" => mx.push(
                    MxPattern::parse(value).ok_or_else(|| PolicyError::MxPattern(value.into()))?,
                ),
                _ => {}
            }
        }
        if version != Some("STSv1") {
            return Err(PolicyError::Version);
        }
        let mode = match mode {
            Some("enforce") => Mode::Enforce,
            Some("testing") => Mode::Testing,
            Some("none") => Mode::None,
            _ => return Err(PolicyError::Mode),
        };
        // sts-policy-max-age-value = 1*10DIGIT
        let max_age = max_age
            .filter(|age| (1..=10).contains(&age.len()) && age.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|age| age.parse::<u64>().ok())
            .ok_or(PolicyError::MaxAge)?
            .min(MAX_AGE_LIMIT);
        if mx.is_empty() && mode != Mode::None {
            return Err(PolicyError::NoMx);
        }
        Ok(Policy { mode, mx, max_age })
    }

    /// Whether `host` matches one of the `mx` patterns.
    pub fn lists(&self, host: &str) -> bool {
        self.mx.iter().any(|pattern| pattern.matches(host))
    }

    /// What this policy says of delivering to the MX host `host`.
    pub fn check_mx(&self, host: &str) -> MxVerdict {
        match (self.mode, self.lists(host)) {
            (Mode::Enforce, true) => MxVerdict::RequireVerifiedTls,
            (Mode::Enforce, false) => MxVerdict::Refuse,
            (Mode::Testing, listed) => MxVerdict::ReportOnly { listed },
            (Mode::None, _) => MxVerdict::NoPolicy,
        }
    }

    /// Writes the policy back in the file's format, so that a cache can
    /// keep it as text that [`parse`](Self::parse) reads.
    pub fn to_file(&self) -> String {
        let mut file = String::from("version: STSv1\r\nmode: ");
        file.push_str(self.mode.as_str());
        file.push_str("\r\n");
        for pattern in &self.mx {
            file.push_str("mx: ");
            file.push_str(&pattern.to_string());
            file.push_str("\r\n");
        }
        file.push_str("max_age: ");
        file.push_str(&self.max_age.to_string());
        file.push_str("\r\n");
        file
    }
}

/// Letters, digits and hyphens in dot-separated labels of 1 to 63, at most
/// 253 in all: the `Domain` of RFC 5321 §4.1.2 that an MX pattern holds.
fn is_host_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    const EXAMPLE: &[u8] = b"version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\n\
        mx: *.example.net\r\nmx: backupmx.example.com\r\nmax_age: 604800\r\n";

    #[test]
    fn the_rfc_example_parses() {
        let policy = Policy::parse(EXAMPLE).unwrap();
        assert_eq!(policy.mode, Mode::Enforce);
        assert_eq!(policy.max_age, 604_800);
        let patterns: Vec<String> = policy.mx.iter().map(|p| p.to_string()).collect();
        assert_eq!(
            patterns,
            ["mail.example.com", "*.example.net", "backupmx.example.com"]
        );
    }

    #[test]
    fn lf_endings_extensions_and_repeated_keys() {
        let file = b"version: STSv1\nmode:testing\nmode: enforce\nx-ext: anything\n\
            mx:MX.Example.ORG.\nmax_age:\t86400  \n";
        let policy = Policy::parse(file).unwrap();
        assert_eq!(policy.mode, Mode::Testing, "the first mode counts");
        assert_eq!(policy.max_age, 86_400);
        assert!(policy.lists("mx.example.org"));
    }

    #[test]
    fn wildcards_cover_exactly_one_label() {
        let pattern = MxPattern::parse("*.example.com").unwrap();
        assert!(pattern.matches("mx1.example.com"));
        assert!(pattern.matches("MX1.EXAMPLE.COM."));
        assert!(!pattern.matches("example.com"));
        assert!(!pattern.matches("a.b.example.com"));
        assert!(!pattern.matches(".example.com"));
        assert!(!pattern.matches("mx1.example.org"));
        let plain = MxPattern::parse("mail.example.com").unwrap();
        assert!(plain.matches("mail.example.com."));
        assert!(!plain.matches("x.mail.example.com"));
    }

    #[test]
    fn bad_files_say_why() {
        let cases: Vec<(&[u8], PolicyError)> = vec![
            (
                b"mode: enforce\nmx: a.example\nmax_age: 1\n",
                PolicyError::Version,
            ),
            (
                b"version: STSv2\nmode: enforce\nmx: a.example\nmax_age: 1\n",
                PolicyError::Version,
            ),
            (
                b"version: STSv1\nmode: strict\nmx: a.example\nmax_age: 1\n",
                PolicyError::Mode,
            ),
            (
                b"version: STSv1\nmode: enforce\nmx: a.example\n",
                PolicyError::MaxAge,
            ),
            (
                b"version: STSv1\nmode: enforce\nmx: a.example\nmax_age: -1\n",
                PolicyError::MaxAge,
            ),
            (
                b"version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 12345678901\n",
                PolicyError::MaxAge,
            ),
            (
                b"version: STSv1\nmode: enforce\nmax_age: 1\n",
                PolicyError::NoMx,
            ),
            (
                b"version: STSv1\nmode: enforce\nmx: a.*.example\nmax_age: 1\n",
                PolicyError::MxPattern("a.*.example".into()),
            ),
            (
                b"version: STSv1\nmode enforce\n",
                PolicyError::Line("mode enforce".into()),
            ),
            (b"\xff", PolicyError::NotText),
        ];
        for (file, error) in cases {
            assert_eq!(
                Policy::parse(file),
                Err(error),
                "{:?}",
                core::str::from_utf8(file)
            );
        }
        let huge = vec![b'\n'; MAX_POLICY_SIZE + 1];
        assert_eq!(Policy::parse(&huge), Err(PolicyError::TooLarge));
    }

    #[test]
    fn none_needs_no_mx_and_max_age_is_capped() {
        let policy = Policy::parse(b"version: STSv1\nmode: none\nmax_age: 99999999\n").unwrap();
        assert_eq!(policy.mode, Mode::None);
        assert_eq!(policy.max_age, MAX_AGE_LIMIT);
        assert_eq!(policy.check_mx("anything.example"), MxVerdict::NoPolicy);
    }

    #[test]
    fn verdicts_follow_mode_and_listing() {
        let enforce = Policy::parse(EXAMPLE).unwrap();
        assert_eq!(
            enforce.check_mx("mail.example.com"),
            MxVerdict::RequireVerifiedTls
        );
        assert_eq!(
            enforce.check_mx("mx.example.net"),
            MxVerdict::RequireVerifiedTls
        );
        assert_eq!(enforce.check_mx("evil.example.org"), MxVerdict::Refuse);
        let testing = Policy {
            mode: Mode::Testing,
            ..enforce
        };
        assert_eq!(
            testing.check_mx("mail.example.com"),
            MxVerdict::ReportOnly { listed: true }
        );
        assert_eq!(
            testing.check_mx("evil.example.org"),
            MxVerdict::ReportOnly { listed: false }
        );
    }

    #[test]
    fn a_written_policy_reads_back_the_same() {
        let policy = Policy::parse(EXAMPLE).unwrap();
        assert_eq!(Policy::parse(policy.to_file().as_bytes()), Ok(policy));
    }
}
