//! The DNS half of DANE for SMTP (RFC 7672 §2): a DNSSEC-validating
//! resolver, and what it says of a domain's MX RRset and of an MX host's
//! TLSA RRset.
//!
//! Only what a validating resolver proved can be trusted (RFC 7672 §2.1):
//! an RRset is `Secure` when every record of it validated up to a trust
//! anchor, `Bogus` when validation failed (a forged or broken signature,
//! RFC 4035 §5.5), and `Insecure` otherwise (an unsigned zone). The
//! certificate checks themselves are the driver's
//! ([`smtpwire_tokio::client::tls::dane`]).

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::dnssec::{Proof, TrustAnchors};
use hickory_resolver::proto::rr::{RData, Record};
use hickory_resolver::TokioResolver;
use smtpwire_tokio::client::tls::dane::TlsaRecord;

use crate::outbound::routes::{nameserver_config, NAMESERVER_TIMEOUT};

/// What DNSSEC validation said of one RRset (RFC 4035 §4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validation {
    /// Every record validated up to a trust anchor.
    Secure,
    /// Not signed, or not provably so: nothing is learned from it.
    Insecure,
    /// Validation failed: the answer cannot be used at all.
    Bogus,
}

impl Validation {
    /// The status of an RRset from the proofs of its records: the weakest
    /// one wins, an empty set proves nothing.
    pub fn of(records: &[Record]) -> Validation {
        let proofs = records.iter().map(|record| record.proof);
        if records.is_empty() {
            Validation::Insecure
        } else if proofs.clone().any(|proof| proof == Proof::Bogus) {
            Validation::Bogus
        } else if proofs.clone().all(|proof| proof == Proof::Secure) {
            Validation::Secure
        } else {
            Validation::Insecure
        }
    }
}

/// What the TLSA lookup of one MX host came to (RFC 7672 §2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsaAnswer {
    /// Secure TLSA records: `usable` the ones SMTP can check a certificate
    /// with (none when all are unusable, §2.2: TLS is then mandatory but
    /// unauthenticated).
    Secure {
        /// The records RFC 7672 §3.1 allows, in the order received.
        usable: Vec<TlsaRecord>,
    },
    /// No TLSA records, or only insecure ones: DANE does not apply.
    Absent,
    /// The answer failed validation.
    Bogus,
    /// The lookup failed (SERVFAIL, timeout): whether DANE applies is
    /// unknown, so the host cannot be used now (§2.2).
    Failed(String),
}

/// A resolver that validates with DNSSEC, at `nameserver` (or the
/// system's), anchored at the DNSKEY records of `anchor` (or the root's
/// key signing keys hickory carries).
pub fn validating_resolver(
    nameserver: Option<SocketAddr>,
    anchor: Option<&Path>,
) -> io::Result<TokioResolver> {
    let mut builder = match nameserver {
        Some(server) => TokioResolver::builder_with_config(
            nameserver_config(server),
            TokioRuntimeProvider::default(),
        ),
        None => TokioResolver::builder_tokio().map_err(io::Error::other)?,
    };
    builder.options_mut().timeout = NAMESERVER_TIMEOUT;
    builder.options_mut().validate = true;
    let anchors = match anchor {
        Some(path) => TrustAnchors::from_file(path).map_err(|error| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: {error}", path.display()),
            )
        })?,
        None => TrustAnchors::default(),
    };
    builder
        .with_trust_anchor(Arc::new(anchors))
        .build()
        .map_err(io::Error::other)
}

/// A domain's MX RRset as the validating resolver saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedMx {
    /// What validation said of the RRset.
    pub validation: Validation,
    /// The exchange names in it, lower-case A-labels without the final
    /// dot: DANE applies only to these hosts, whatever MX records the
    /// delivery's own (unvalidated) lookup came back with.
    pub exchanges: Vec<String>,
}

impl ValidatedMx {
    /// Whether `host` is an exchange of a secure MX RRset (RFC 7672
    /// §2.2.1: only then are its TLSA records looked up).
    pub fn secures(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.');
        self.validation == Validation::Secure
            && self
                .exchanges
                .iter()
                .any(|exchange| exchange.eq_ignore_ascii_case(host))
    }
}

/// `domain`'s MX RRset through the validating `resolver` (RFC 7672
/// §2.2.1: DANE applies only to MX hosts of a secure MX RRset). A failed
/// lookup is `Insecure`: the delivery's own MX lookup decides what a
/// failure means.
pub async fn mx_validation(resolver: &TokioResolver, domain: &str) -> ValidatedMx {
    let insecure = |validation| ValidatedMx {
        validation,
        exchanges: Vec::new(),
    };
    match resolver.mx_lookup(format!("{domain}.")).await {
        Ok(lookup) => ValidatedMx {
            validation: Validation::of(lookup.answers()),
            exchanges: lookup
                .answers()
                .iter()
                .filter_map(|record| match &record.data {
                    RData::MX(mx) => Some(mx.exchange.to_ascii().trim_end_matches('.').to_string()),
                    _ => None,
                })
                .collect(),
        },
        Err(NetError::Dns(DnsError::DnssecBogus)) => insecure(Validation::Bogus),
        Err(_) => insecure(Validation::Insecure),
    }
}

/// The TLSA records of `_<port>._tcp.<host>` (RFC 7672 §2.2.3: the port
/// connected to), as validation leaves them.
pub async fn tlsa_lookup(resolver: &TokioResolver, host: &str, port: u16) -> TlsaAnswer {
    let name = format!("_{port}._tcp.{}.", host.trim_end_matches('.'));
    match resolver.tlsa_lookup(name).await {
        Ok(lookup) => tlsa_answer(lookup.answers()),
        Err(NetError::Dns(DnsError::DnssecBogus)) => TlsaAnswer::Bogus,
        // NXDOMAIN or NODATA, proven or not: no DANE for this host (§2.2).
        Err(error) if error.is_no_records_found() => TlsaAnswer::Absent,
        Err(NetError::Dns(DnsError::Nsec { proof, .. })) => match proof {
            Proof::Bogus => TlsaAnswer::Bogus,
            _ => TlsaAnswer::Absent,
        },
        Err(error) => TlsaAnswer::Failed(error.to_string()),
    }
}

/// What a TLSA answer's `records` mean (RFC 7672 §2.2).
fn tlsa_answer(records: &[Record]) -> TlsaAnswer {
    let tlsa: Vec<TlsaRecord> = records
        .iter()
        .filter_map(|record| match &record.data {
            RData::TLSA(tlsa) => Some(TlsaRecord {
                usage: tlsa.cert_usage.into(),
                selector: tlsa.selector.into(),
                matching: tlsa.matching.into(),
                data: tlsa.cert_data.clone(),
            }),
            _ => None,
        })
        .collect();
    if tlsa.is_empty() {
        return TlsaAnswer::Absent;
    }
    match Validation::of(records) {
        Validation::Secure => TlsaAnswer::Secure {
            usable: tlsa.into_iter().filter(TlsaRecord::is_usable).collect(),
        },
        Validation::Insecure => TlsaAnswer::Absent,
        Validation::Bogus => TlsaAnswer::Bogus,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_resolver::proto::rr::rdata::tlsa::{CertUsage, Matching, Selector};
    use hickory_resolver::proto::rr::rdata::TLSA;
    use hickory_resolver::proto::rr::Name;

    fn tlsa(usage: u8, proof: Proof) -> Record {
        let data = TLSA::new(
            CertUsage::from(usage),
            Selector::from(1),
            Matching::from(1),
            vec![7; 32],
        );
        let name = Name::from_ascii("_25._tcp.mx.example.").unwrap();
        let mut record = Record::from_rdata(name, 60, RData::TLSA(data));
        record.proof = proof;
        record
    }

    #[test]
    fn the_weakest_proof_decides() {
        let secure = tlsa(3, Proof::Secure);
        let insecure = tlsa(3, Proof::Insecure);
        let bogus = tlsa(3, Proof::Bogus);
        assert_eq!(
            Validation::of(std::slice::from_ref(&secure)),
            Validation::Secure
        );
        assert_eq!(
            Validation::of(&[secure.clone(), insecure]),
            Validation::Insecure
        );
        assert_eq!(Validation::of(&[secure, bogus]), Validation::Bogus);
        assert_eq!(Validation::of(&[]), Validation::Insecure);
    }

    #[test]
    fn dane_covers_only_the_exchanges_of_a_secure_mx_rrset() {
        let validated = |validation| ValidatedMx {
            validation,
            exchanges: vec!["mx.example.test".to_string()],
        };
        assert!(validated(Validation::Secure).secures("MX.example.test."));
        assert!(!validated(Validation::Secure).secures("mx.attacker.test"));
        assert!(!validated(Validation::Insecure).secures("mx.example.test"));
    }

    #[test]
    fn only_secure_tlsa_records_count_and_unusable_ones_are_dropped() {
        let answer = tlsa_answer(&[tlsa(3, Proof::Secure), tlsa(1, Proof::Secure)]);
        let TlsaAnswer::Secure { usable } = answer else {
            panic!("{answer:?}");
        };
        assert_eq!(usable.len(), 1);
        assert_eq!(usable[0].usage, 3);
        assert_eq!(
            tlsa_answer(&[tlsa(0, Proof::Secure)]),
            TlsaAnswer::Secure { usable: vec![] }
        );
        assert_eq!(tlsa_answer(&[tlsa(3, Proof::Insecure)]), TlsaAnswer::Absent);
        assert_eq!(tlsa_answer(&[tlsa(3, Proof::Bogus)]), TlsaAnswer::Bogus);
    }
}
