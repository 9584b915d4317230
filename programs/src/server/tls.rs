//! TLS for STARTTLS: a certificate from PEM files, or a self-signed one made
//! at start so the server works with no set-up.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::{TlsAcceptor, TlsConnector};

/// The server's TLS identity.
pub struct Identity {
    /// The certificate chain, leaf first.
    pub chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

impl Identity {
    /// Reads a PEM certificate chain and a PEM private key.
    pub fn from_pem_files(cert: &Path, key: &Path) -> io::Result<Self> {
        let chain = CertificateDer::pem_file_iter(cert)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|error| invalid(cert, error))?;
        let key = PrivateKeyDer::from_pem_file(key).map_err(|error| invalid(key, error))?;
        Ok(Identity { chain, key })
    }

    /// A new self-signed certificate for `hostname`, `localhost` and the
    /// loopback addresses.
    pub fn self_signed(hostname: &str) -> io::Result<Self> {
        let names = vec![
            hostname.to_string(),
            "localhost".to_string(),
            "127.0.0.1".to_string(),
            "::1".to_string(),
        ];
        let certified = rcgen::generate_simple_self_signed(names).map_err(io::Error::other)?;
        let key = PrivateKeyDer::try_from(certified.key_pair.serialize_der())
            .map_err(io::Error::other)?;
        Ok(Identity {
            chain: vec![certified.cert.der().clone()],
            key,
        })
    }

    /// Writes the leaf certificate as PEM, for clients that should trust
    /// it, to a file that lasts as long as the value returned.
    pub fn write_certificate_pem(&self, path: &Path) -> io::Result<CertificateFile> {
        let Some(leaf) = self.chain.first() else {
            return Err(io::Error::other("empty certificate chain"));
        };
        std::fs::write(path, pem_encode(leaf.as_ref()))?;
        Ok(CertificateFile {
            path: path.to_path_buf(),
        })
    }

    /// The acceptor that runs the server side of the handshake.
    pub fn acceptor(self) -> io::Result<TlsAcceptor> {
        let config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(io::Error::other)?
            .with_no_client_auth()
            .with_single_cert(self.chain, self.key)
            .map_err(io::Error::other)?;
        Ok(TlsAcceptor::from(Arc::new(config)))
    }
}

/// A certificate written for clients to trust, removed when dropped: a
/// self-signed one is made anew at each start and its file is named after
/// the process, so no later run would ever reuse or remove it.
pub struct CertificateFile {
    path: PathBuf,
}

impl CertificateFile {
    /// Where the certificate is.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for CertificateFile {
    fn drop(&mut self) {
        // Already gone (removed by hand, or a temporary directory cleaned)
        // is as good as removed.
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A connector that trusts exactly `certificate`: for the built-in demo
/// client and the tests, which talk to a server whose certificate they know.
pub fn connector_trusting(certificate: &CertificateDer<'static>) -> io::Result<TlsConnector> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(certificate.clone()).map_err(io::Error::other)?;
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

/// The name a client checks the certificate against.
pub fn server_name(name: &str) -> io::Result<ServerName<'static>> {
    ServerName::try_from(name.to_string()).map_err(io::Error::other)
}

/// Where a self-signed certificate is written for clients to trust.
pub fn default_certificate_path() -> PathBuf {
    std::env::temp_dir().join(format!("smtpwire-server-{}.pem", std::process::id()))
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn invalid(path: &Path, error: impl std::fmt::Display) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{}: {error}", path.display()),
    )
}

/// RFC 7468 textual encoding: base64 in 64-column lines between labels.
fn pem_encode(der: &[u8]) -> String {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(der);
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    // Base64 output is ASCII, so every 64-byte slice is valid UTF-8.
    for line in encoded.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).unwrap_or_default());
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    pem
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_certificate_file_goes_when_its_owner_does() {
        let identity = Identity::self_signed("mx.example.org").unwrap();
        let path =
            std::env::temp_dir().join(format!("smtpwire-server-test-{}.pem", std::process::id()));
        let file = identity.write_certificate_pem(&path).unwrap();
        assert_eq!(file.path(), path);
        let written = std::fs::read_to_string(&path).unwrap();
        assert!(written.starts_with("-----BEGIN CERTIFICATE-----\n"));
        drop(file);
        assert!(!path.exists());
    }
}
