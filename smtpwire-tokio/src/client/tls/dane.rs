//! DANE for SMTP (RFC 7672): checking a server's certificate against the
//! TLSA records of `_25._tcp.<mx>` instead of against a CA list.
//!
//! [`TlsaRecord::matches`] is the pure part (RFC 6698 §2.1): a
//! certificate's DER, whole or its SubjectPublicKeyInfo, as it is or its
//! SHA-256 or SHA-512 digest, compared with the record's data.
//! [`dane_config`] turns the usable records into a rustls verifier:
//!
//! - DANE-EE, `3 x x` (RFC 7672 §3.1.1): the server's own certificate or
//!   key matches; its names, dates and issuer are not looked at.
//! - DANE-TA, `2 x x` (§3.1.2): a certificate the server sends in its chain
//!   matches, and the server's certificate chains to it, with the chain's
//!   dates and the server's name checked as WebPKI does, the matched
//!   certificate standing as the only root.
//!
//! PKIX-TA and PKIX-EE (usages 0 and 1) are unusable for SMTP (§3.1.3) and
//! left out by [`TlsaRecord::is_usable`], as are unknown selectors and
//! matching types. Whether the records can be trusted at all (DNSSEC) is
//! the caller's to decide: only records from a validated answer may be
//! given here (§2.2).

use std::io;
use std::sync::Arc;

use ring::digest;
use rustls::client::danger::{ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, RootCertStore};

use super::verifier::{with_verifier, Acceptance};

/// DANE-TA: the record names a trust anchor in the server's chain.
pub const DANE_TA: u8 = 2;
/// DANE-EE: the record names the server's own certificate or key.
pub const DANE_EE: u8 = 3;

/// One TLSA record (RFC 6698 §2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsaRecord {
    /// Certificate usage: 0 to 3.
    pub usage: u8,
    /// Selector: 0 the whole certificate, 1 its SubjectPublicKeyInfo.
    pub selector: u8,
    /// Matching type: 0 exact, 1 SHA-256, 2 SHA-512.
    pub matching: u8,
    /// The certificate association data.
    pub data: Vec<u8>,
}

impl TlsaRecord {
    /// Whether SMTP can use it (RFC 7672 §3.1): DANE-TA or DANE-EE, a
    /// known selector and matching type, and data of the digest's length.
    pub fn is_usable(&self) -> bool {
        let length_fits = match self.matching {
            0 => !self.data.is_empty(),
            1 => self.data.len() == 32,
            2 => self.data.len() == 64,
            _ => false,
        };
        matches!(self.usage, DANE_TA | DANE_EE) && self.selector <= 1 && length_fits
    }

    /// Whether `certificate` (DER) is the one this record names; `false`
    /// for a certificate that does not parse or a record that is not
    /// usable.
    pub fn matches(&self, certificate: &[u8]) -> bool {
        if !self.is_usable() {
            return false;
        }
        let selected = match self.selector {
            0 => certificate.to_vec(),
            _ => match subject_public_key_info(certificate) {
                Some(spki) => spki,
                None => return false,
            },
        };
        match self.matching {
            0 => selected == self.data,
            1 => digest::digest(&digest::SHA256, &selected).as_ref() == self.data.as_slice(),
            _ => digest::digest(&digest::SHA512, &selected).as_ref() == self.data.as_slice(),
        }
    }
}

/// The DER of a certificate's SubjectPublicKeyInfo, tag and length included.
fn subject_public_key_info(certificate: &[u8]) -> Option<Vec<u8>> {
    let der = CertificateDer::from(certificate);
    let parsed = webpki::EndEntityCert::try_from(&der).ok()?;
    Some(parsed.subject_public_key_info().as_ref().to_vec())
}

/// A client configuration that accepts a server only as the usable
/// `records` allow (see the [module documentation](self)). Fails when none
/// is usable: the caller then falls back to unauthenticated TLS (RFC 7672
/// §2.2), which is its decision, not this verifier's.
pub fn dane_config(records: Vec<TlsaRecord>) -> io::Result<rustls::ClientConfig> {
    let records: Vec<TlsaRecord> = records.into_iter().filter(TlsaRecord::is_usable).collect();
    if records.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "no usable TLSA record",
        ));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    with_verifier(provider.clone(), Dane { records, provider })
}

/// Checks servers against TLSA records.
#[derive(Debug)]
struct Dane {
    records: Vec<TlsaRecord>,
    provider: Arc<CryptoProvider>,
}

impl Dane {
    /// The chain anchored at a certificate of `chain` that a DANE-TA
    /// record names, checked by WebPKI with that certificate as its root.
    fn verify_by_anchor(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let anchors = intermediates.iter().filter(|certificate| {
            self.records
                .iter()
                .any(|record| record.usage == DANE_TA && record.matches(certificate))
        });
        let mut last = rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer);
        for anchor in anchors {
            let mut roots = RootCertStore::empty();
            if let Err(error) = roots.add(anchor.clone().into_owned()) {
                last = error;
                continue;
            }
            let webpki =
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), self.provider.clone())
                    .build()
                    .map_err(|error| rustls::Error::General(error.to_string()))?;
            match webpki.verify_server_cert(end_entity, intermediates, server_name, &[], now) {
                Ok(verified) => return Ok(verified),
                Err(error) => last = error,
            }
        }
        Err(last)
    }
}

impl Acceptance for Dane {
    fn accept(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let named = self
            .records
            .iter()
            .any(|record| record.usage == DANE_EE && record.matches(end_entity));
        if named {
            return Ok(ServerCertVerified::assertion());
        }
        self.verify_by_anchor(end_entity, intermediates, server_name, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};

    fn sha256(bytes: &[u8]) -> Vec<u8> {
        digest::digest(&digest::SHA256, bytes).as_ref().to_vec()
    }

    fn sha512(bytes: &[u8]) -> Vec<u8> {
        digest::digest(&digest::SHA512, bytes).as_ref().to_vec()
    }

    struct Chain {
        ca: CertificateDer<'static>,
        leaf: CertificateDer<'static>,
        leaf_key: KeyPair,
    }

    fn chain(name: &str) -> Chain {
        let ca_key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = params.self_signed(&ca_key).unwrap();
        let leaf_key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(vec![name.to_string()])
            .unwrap()
            .signed_by(&leaf_key, &ca, &ca_key)
            .unwrap();
        Chain {
            ca: ca.der().clone(),
            leaf: leaf.der().clone(),
            leaf_key,
        }
    }

    fn record(usage: u8, selector: u8, matching: u8, data: Vec<u8>) -> TlsaRecord {
        TlsaRecord {
            usage,
            selector,
            matching,
            data,
        }
    }

    fn verify(records: Vec<TlsaRecord>, chain: &Chain, name: &str) -> Result<(), rustls::Error> {
        let dane = Dane {
            records,
            provider: Arc::new(rustls::crypto::ring::default_provider()),
        };
        let name = ServerName::try_from(name.to_string()).unwrap();
        dane.accept(
            &chain.leaf,
            std::slice::from_ref(&chain.ca),
            &name,
            &[],
            UnixTime::now(),
        )
        .map(|_| ())
    }

    #[test]
    fn every_selector_and_matching_type_matches_its_own_certificate_only() {
        let chain = chain("mx.example");
        let other = self::chain("mx.example");
        let spki = subject_public_key_info(&chain.leaf).unwrap();
        assert_eq!(spki, chain.leaf_key.public_key_der());
        let records = [
            record(3, 0, 0, chain.leaf.to_vec()),
            record(3, 0, 1, sha256(&chain.leaf)),
            record(3, 0, 2, sha512(&chain.leaf)),
            record(3, 1, 0, spki.clone()),
            record(3, 1, 1, sha256(&spki)),
            record(3, 1, 2, sha512(&spki)),
        ];
        for record in &records {
            assert!(record.matches(&chain.leaf), "{record:?}");
            assert!(!record.matches(&other.leaf), "{record:?}");
        }
        assert!(!records[0].matches(b"not a certificate"));
    }

    #[test]
    fn unusable_records_never_match() {
        let chain = chain("mx.example");
        for record in [
            record(0, 0, 1, sha256(&chain.leaf)),
            record(1, 0, 1, sha256(&chain.leaf)),
            record(3, 2, 1, sha256(&chain.leaf)),
            record(3, 0, 3, sha256(&chain.leaf)),
            record(3, 0, 1, sha256(&chain.leaf)[..31].to_vec()),
        ] {
            assert!(!record.is_usable(), "{record:?}");
            assert!(!record.matches(&chain.leaf), "{record:?}");
        }
        assert!(dane_config(vec![record(1, 0, 1, sha256(&chain.leaf))]).is_err());
    }

    #[test]
    fn dane_ee_ignores_names_and_issuer() {
        let chain = chain("mx.example");
        let ee = record(
            3,
            1,
            1,
            sha256(&subject_public_key_info(&chain.leaf).unwrap()),
        );
        assert_eq!(verify(vec![ee.clone()], &chain, "another.example"), Ok(()));
        let stranger = self::chain("mx.example");
        assert!(verify(vec![ee], &stranger, "mx.example").is_err());
    }

    #[test]
    fn dane_ta_anchors_the_chain_and_checks_the_name() {
        let chain = chain("mx.example");
        let ta = record(2, 0, 1, sha256(&chain.ca));
        assert_eq!(verify(vec![ta.clone()], &chain, "mx.example"), Ok(()));
        let wrong_name = verify(vec![ta], &chain, "another.example");
        assert!(
            matches!(
                wrong_name,
                Err(rustls::Error::InvalidCertificate(
                    CertificateError::NotValidForName
                        | CertificateError::NotValidForNameContext { .. }
                ))
            ),
            "{wrong_name:?}"
        );
        let other_ca = self::chain("mx.example");
        let elsewhere = record(2, 0, 1, sha256(&other_ca.ca));
        assert!(verify(vec![elsewhere], &chain, "mx.example").is_err());
    }
}
