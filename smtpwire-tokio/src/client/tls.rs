//! Which certificates the client trusts for STARTTLS.
//!
//! Each helper returns a [`rustls::ClientConfig`] (with the ring provider)
//! for [`ClientBuilder::tls_config`](super::ClientBuilder::tls_config).
//!
//! A trust list holds CAs, server certificates pinned as they are, or both.
//! A server whose certificate is byte for byte one in the list is taken as
//! pinned, as DANE-EE does (RFC 7671 §5.1): neither its name, its dates nor
//! its CA flag are looked at, since the list names this very key. That is
//! what makes the usual self-signed certificate work: `openssl req -x509`
//! (and rcgen's defaults) mark it a CA, which WebPKI refuses as a server's
//! own (`CaUsedAsEndEntity`). Every other certificate gets the full WebPKI
//! verification against the list, name included. Either way the handshake
//! signature is checked, so the server holds the key.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

mod any_certificate;
mod checked;
pub mod dane;
mod verifier;
pub use any_certificate::any_certificate;
pub use checked::{webpki_checked, CertificateCheck};
use verifier::{with_verifier, Acceptance};

/// Where Linux and BSD distributions keep their CA bundle.
const SYSTEM_BUNDLES: [&str; 5] = [
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
    "/usr/local/share/certs/ca-root-nss.crt",
];

/// Trusts the system's CA bundle: the file named by `SSL_CERT_FILE`, else
/// the first of the usual locations that exists. A server certificate
/// placed in that file is pinned (see the module's documentation), so
/// `SSL_CERT_FILE=server.pem` trusts exactly one self-signed server.
///
/// Fails with [`io::ErrorKind::NotFound`] when there is no bundle.
pub fn system_trust() -> io::Result<rustls::ClientConfig> {
    trust_file(system_bundle()?)
}

/// Where the system's CA bundle is: the file named by `SSL_CERT_FILE`,
/// else the first of the usual locations that exists; for a caller that
/// verifies with the bundle's certificates in a way of its own (WebPKI
/// alone, without pinning).
///
/// Fails with [`io::ErrorKind::NotFound`] when there is no bundle.
pub fn system_bundle() -> io::Result<PathBuf> {
    std::env::var_os("SSL_CERT_FILE")
        .map(PathBuf::from)
        .into_iter()
        .chain(SYSTEM_BUNDLES.iter().map(PathBuf::from))
        .find(|path| path.is_file())
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                "no system CA bundle found (set SSL_CERT_FILE)",
            )
        })
}

/// Trusts the certificates of the PEM file at `path`: CAs, pinned server
/// certificates, or both.
pub fn trust_file(path: impl AsRef<Path>) -> io::Result<rustls::ClientConfig> {
    trusting(read_certificates(path)?)
}

/// The certificates of the PEM file at `path`; an error names the file,
/// and a file without any is one.
pub fn read_certificates(path: impl AsRef<Path>) -> io::Result<Vec<CertificateDer<'static>>> {
    let path = path.as_ref();
    let invalid = |reason: String| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: {reason}", path.display()),
        )
    };
    let certificates = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|error| invalid(error.to_string()))?;
    if certificates.is_empty() {
        return Err(invalid("no certificate".into()));
    }
    Ok(certificates)
}

/// Trusts exactly `certificates`: a server certificate among them is
/// pinned, the others are CAs.
pub fn trusting(certificates: Vec<CertificateDer<'static>>) -> io::Result<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = PinnedOrWebPki::new(certificates, provider.clone())?;
    with_verifier(provider, verifier)
}

/// Pinned certificates first, then WebPKI.
#[derive(Debug)]
struct PinnedOrWebPki {
    /// The certificates any of which the server may present as its own.
    pinned: Vec<CertificateDer<'static>>,
    /// Chain, dates and name against the same certificates as roots; it
    /// also checks the handshake signatures.
    webpki: Arc<WebPkiServerVerifier>,
}

impl PinnedOrWebPki {
    fn new(
        certificates: Vec<CertificateDer<'static>>,
        provider: Arc<CryptoProvider>,
    ) -> io::Result<Self> {
        let mut roots = rustls::RootCertStore::empty();
        for certificate in &certificates {
            roots.add(certificate.clone()).map_err(io::Error::other)?;
        }
        let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(io::Error::other)?;
        Ok(PinnedOrWebPki {
            pinned: certificates,
            webpki,
        })
    }
}

impl Acceptance for PinnedOrWebPki {
    fn accept(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if self
            .pinned
            .iter()
            .any(|pinned| pinned.as_ref() == end_entity.as_ref())
        {
            return Ok(ServerCertVerified::assertion());
        }
        self.webpki
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }
}
