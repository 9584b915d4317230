//! WebPKI verification whose outcome the caller reads after the handshake:
//! what a policy that reports failures needs (MTA-STS in `testing` mode
//! delivers anyway and reports, RFC 8461 §5; TLS reporting names why a
//! certificate failed, RFC 8460 §4.3.1), and what one that enforces uses
//! to say why a handshake was refused.

use std::io;
use std::sync::{Arc, Mutex, PoisonError};

use rustls::client::danger::{ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::RootCertStore;

use super::verifier::{with_verifier, Acceptance};

/// What became of the certificate check of one connection.
#[derive(Debug, Clone, Default)]
pub struct CertificateCheck {
    failure: Arc<Mutex<Option<rustls::Error>>>,
}

impl CertificateCheck {
    /// Why the server's certificate failed WebPKI verification, if it was
    /// checked and failed; `None` before the handshake and after a good
    /// one.
    pub fn failure(&self) -> Option<rustls::Error> {
        self.failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn record(&self, error: &rustls::Error) {
        *self.failure.lock().unwrap_or_else(PoisonError::into_inner) = Some(error.clone());
    }
}

/// A client configuration for one connection that verifies the server's
/// certificate against `roots` (chain, dates and the server name), and
/// records a failure in the [`CertificateCheck`] returned with it. With
/// `enforce`, a failure fails the handshake; without, the handshake goes on
/// as with [`any_certificate`](super::any_certificate). The handshake's
/// signatures are checked either way.
pub fn webpki_checked(
    roots: Arc<RootCertStore>,
    enforce: bool,
) -> io::Result<(rustls::ClientConfig, CertificateCheck)> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
        .build()
        .map_err(io::Error::other)?;
    let check = CertificateCheck::default();
    let verifier = Checked {
        webpki,
        enforce,
        check: check.clone(),
    };
    Ok((with_verifier(provider, verifier)?, check))
}

/// WebPKI, its failures recorded and, unless enforced, overlooked.
#[derive(Debug)]
struct Checked {
    webpki: Arc<WebPkiServerVerifier>,
    enforce: bool,
    check: CertificateCheck,
}

impl Acceptance for Checked {
    fn accept(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.webpki.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Ok(verified) => Ok(verified),
            Err(error) => {
                self.check.record(&error);
                if self.enforce {
                    Err(error)
                } else {
                    Ok(ServerCertVerified::assertion())
                }
            }
        }
    }
}
