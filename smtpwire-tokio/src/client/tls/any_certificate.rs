//! STARTTLS without checking who the server is: opportunistic security
//! (RFC 7435), as MTAs relaying on the open internet do (RFC 3207 §4.1
//! leaves the choice to the client's policy). Most MX hosts present
//! certificates that do not name them, so insisting would mean falling
//! back to cleartext, which is worse; the handshake's own signatures are
//! still checked, so the channel is encrypted to whoever holds the key.

use std::io;
use std::sync::Arc;

use rustls::client::danger::ServerCertVerified;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

use super::verifier::{with_verifier, Acceptance};

/// Accepts any certificate (the handshake signatures are still checked).
#[derive(Debug)]
struct AnyCertificate;

impl Acceptance for AnyCertificate {
    fn accept(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
}

/// Encrypts to any server, whatever its certificate (see the module's
/// documentation): for relaying to other domains' mail exchangers with
/// [`StartTlsPolicy::Opportunistic`](crate::client::StartTlsPolicy::Opportunistic),
/// never for submission, where the server must be the one meant.
pub fn any_certificate() -> io::Result<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    with_verifier(provider, AnyCertificate)
}
