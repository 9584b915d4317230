//! The server's side of STARTTLS: a certificate and key from PEM files.

use std::io;
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

/// What a STARTTLS handshake settled on, for the log: the protocol version
/// and the cipher suite, as rustls names them (`TLSv1_3`,
/// `TLS13_AES_256_GCM_SHA384`), and the channel binding SCRAM -PLUS binds to.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsSession {
    /// The protocol version.
    pub version: String,
    /// The cipher suite.
    pub cipher: String,
    /// The `tls-exporter` channel binding (RFC 9266), on TLS 1.3; the
    /// session has it too, and offers SCRAM-SHA-256-PLUS with it when
    /// configured to.
    pub channel_binding: Option<smtpwire::auth::ChannelBinding>,
}

impl TlsSession {
    /// What `connection` negotiated; names left empty before its handshake
    /// completes.
    pub fn of(connection: &rustls::ServerConnection) -> Self {
        TlsSession {
            version: connection
                .protocol_version()
                .map(|version| format!("{version:?}"))
                .unwrap_or_default(),
            cipher: connection
                .negotiated_cipher_suite()
                .map(|suite| format!("{:?}", suite.suite()))
                .unwrap_or_default(),
            channel_binding: crate::channel::tls_exporter(connection),
        }
    }
}

/// A TLS acceptor presenting the certificate chain in the PEM file `cert`
/// with the private key in the PEM file `key`, with rustls's safe defaults
/// (TLS 1.2 and 1.3, the *ring* provider).
pub fn acceptor_from_pem(cert: impl AsRef<Path>, key: impl AsRef<Path>) -> io::Result<TlsAcceptor> {
    let invalid = |what: &Path, error: rustls::pki_types::pem::Error| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: {error}", what.display()),
        )
    };
    let (cert, key) = (cert.as_ref(), key.as_ref());
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(|error| invalid(cert, error))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| invalid(cert, error))?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|error| invalid(key, error))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(io::Error::other)?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}
