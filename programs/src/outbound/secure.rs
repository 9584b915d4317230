//! Authenticated TLS to next hops: DANE (RFC 7672) for MX hosts with
//! DNSSEC-secure TLSA records, MTA-STS (RFC 8461) for the domains that
//! publish a policy, and a record of every attempt in the terms of TLS
//! reporting (RFC 8460).
//!
//! What DANE promises, when it is on: an MX host of a DNSSEC-secure MX
//! RRset whose TLSA records are secure gets mail only over STARTTLS, with a
//! certificate one of its usable records matches (unauthenticated when none
//! is usable, RFC 7672 §2.2), whatever the domain's MTA-STS policy says;
//! a host whose MX or TLSA answer fails validation is not used. It promises
//! nothing for unsigned domains and hosts without secure TLSA records,
//! which get MTA-STS or opportunistic TLS ([`dane`]).
//!
//! What it promises, for a recipient domain with an MTA-STS policy in
//! `enforce` mode: its mail goes only to MX hosts the policy lists, only
//! after STARTTLS, and only when the host's certificate verifies with
//! WebPKI for the MX host's name; otherwise the message stays queued (4.7.x
//! or 4.4.x) and the reason is logged. In `testing` mode mail goes as it
//! would without a policy and what would have failed is logged.
//!
//! What it does not promise: protection on the first contact with a
//! domain whose policy fetch an attacker blocks (nothing is cached yet,
//! RFC 8461 §10.2); anything for domains routed with `--mx`, which the
//! operator chose by hand; nor anything against an attacker able to get a
//! WebPKI certificate for the MX host's name. TLS reports are written per
//! attempt; aggregating them into daily reports and sending them to the
//! domain's `rua` is left to a log pipeline.

pub mod cache;
pub mod dane;
pub mod fetch;
pub mod hop;
pub mod mta_sts;
pub mod report;
pub mod requiretls;

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use rustls::RootCertStore;

/// How the relay secures next hops; the default is opportunistic TLS with
/// no policy lookups.
#[derive(Debug, Clone)]
pub struct SecureSettings {
    /// Look up and apply MTA-STS policies (RFC 8461).
    pub mta_sts: bool,
    /// The CA certificates (PEM) that policy hosts and MX hosts must chain
    /// to; `None`, the system's bundle.
    pub trust: Option<PathBuf>,
    /// The port of the policy hosts (443 in the real world: RFC 8461
    /// §3.3); another for tests.
    pub policy_port: u16,
    /// Also append each attempt's TLS report as a JSON line to this file.
    pub report_file: Option<PathBuf>,
    /// Look up TLSA records with DNSSEC validation and apply them (DANE,
    /// RFC 7672).
    pub dane: bool,
    /// The DNSKEY records (zone-file form) DNSSEC validation starts from;
    /// `None`, the root zone's key signing keys.
    pub dnssec_trust_anchor: Option<PathBuf>,
}

impl Default for SecureSettings {
    /// Opportunistic TLS, no policy lookups, reports in the log only.
    fn default() -> SecureSettings {
        SecureSettings {
            mta_sts: false,
            trust: None,
            policy_port: POLICY_PORT,
            report_file: None,
            dane: false,
            dnssec_trust_anchor: None,
        }
    }
}

/// The port MTA-STS policies are served on (RFC 8461 §3.3: HTTPS).
pub const POLICY_PORT: u16 = 443;

/// The trust anchors of WebPKI checks: the certificates of `trust`, or of
/// the system's CA bundle.
pub fn webpki_roots(trust: Option<&std::path::Path>) -> io::Result<Arc<RootCertStore>> {
    let path = match trust {
        Some(path) => path.to_path_buf(),
        None => smtpwire_tokio::client::tls::system_bundle()?,
    };
    let mut roots = RootCertStore::empty();
    let (added, _ignored) =
        roots.add_parsable_certificates(smtpwire_tokio::client::tls::read_certificates(&path)?);
    if added == 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: no usable CA certificate", path.display()),
        ));
    }
    Ok(Arc::new(roots))
}
