//! The client side of STARTTLS: which certificates to trust.
//!
//! A trust file holds CAs, server certificates pinned as they are, or both.
//! A server whose certificate is byte for byte one of those in the file is
//! taken as pinned, as DANE-EE does (RFC 7671 §5.1): neither its name, its
//! dates nor its CA flag are looked at, since the file names this very key.
//! That is what makes the usual self-signed certificate work: `openssl req
//! -x509` marks it `CA:TRUE`, and WebPKI refuses a CA certificate as the
//! server's own (`CaUsedAsEndEntity`), where curl's `--cacert` and msmtp's
//! `--tls-trust-file` accept it. Every other certificate gets the full
//! WebPKI verification against the file, name included. Either way the
//! handshake signature is checked, so the server holds the key.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio_rustls::TlsConnector;

/// Where Linux and BSD distributions keep their CA bundle.
const SYSTEM_BUNDLES: [&str; 5] = [
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
    "/usr/local/share/certs/ca-root-nss.crt",
];

/// How to upgrade a connection: what to trust and which name to check.
#[derive(Clone)]
pub struct Upgrade {
    /// The TLS client configuration.
    pub connector: TlsConnector,
    /// The name the server's certificate must carry.
    pub name: ServerName<'static>,
}

impl Upgrade {
    /// Trusts exactly `certificates` for `name`: a server certificate
    /// among them is pinned, the others are CAs (see the module's
    /// documentation).
    pub fn trusting(certificates: Vec<CertificateDer<'static>>, name: &str) -> io::Result<Self> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = PinnedOrWebPki::new(certificates, provider.clone())?;
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(io::Error::other)?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        let name = ServerName::try_from(name.to_string()).map_err(|error| {
            io::Error::new(io::ErrorKind::InvalidInput, format!("{name}: {error}"))
        })?;
        Ok(Upgrade {
            connector: TlsConnector::from(Arc::new(config)),
            name,
        })
    }

    /// Trusts the certificates in the PEM file `ca`, or, without one, the
    /// system's CA bundle (`SSL_CERT_FILE`, else the usual locations).
    pub fn for_server(ca: Option<&Path>, name: &str) -> io::Result<Self> {
        let bundle = match ca {
            Some(path) => path.to_path_buf(),
            None => system_bundle().ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::NotFound,
                    "no system CA bundle found: pass --tls-ca",
                )
            })?,
        };
        let certificates = CertificateDer::pem_file_iter(&bundle)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|error| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}: {error}", bundle.display()),
                )
            })?;
        if certificates.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: no certificate", bundle.display()),
            ));
        }
        Self::trusting(certificates, name)
    }
}

fn system_bundle() -> Option<PathBuf> {
    std::env::var_os("SSL_CERT_FILE")
        .map(PathBuf::from)
        .into_iter()
        .chain(SYSTEM_BUNDLES.iter().map(PathBuf::from))
        .find(|path| path.is_file())
}

/// Pinned certificates first, then WebPKI.
#[derive(Debug)]
struct PinnedOrWebPki {
    /// The trust file's certificates, any of which the server may present
    /// as its own.
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

impl ServerCertVerifier for PinnedOrWebPki {
    fn verify_server_cert(
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

    /// The handshake signature, with the public key of the certificate
    /// accepted above (`verify_tls12_signature`).
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    /// As for TLS 1.2 (`verify_tls13_signature`).
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}
