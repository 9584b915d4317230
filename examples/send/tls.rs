//! The client side of STARTTLS: which certificates to trust.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
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
    /// Trusts exactly `certificates` (a CA, or a self-signed server
    /// certificate) for `name`.
    pub fn trusting(certificates: Vec<CertificateDer<'static>>, name: &str) -> io::Result<Self> {
        let mut roots = rustls::RootCertStore::empty();
        for certificate in certificates {
            roots.add(certificate).map_err(io::Error::other)?;
        }
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_root_certificates(roots)
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
