//! The one rustls verifier behind every certificate policy of the client:
//! each policy decides only whether the server's certificate is accepted
//! ([`Acceptance`]); the handshake's signatures are checked the same way
//! for all, with the crypto provider's algorithms, so that no policy can
//! skip them.

use std::fmt;
use std::io;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{
    verify_tls12_signature, verify_tls13_signature, CryptoProvider, WebPkiSupportedAlgorithms,
};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

/// Whether a server's certificate (with the chain it sent, the name asked
/// for, its OCSP response and the time) is accepted.
pub(super) trait Acceptance: fmt::Debug + Send + Sync {
    /// Accepts the certificate, or says why not.
    fn accept(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error>;
}

/// An [`Acceptance`] with the signature checks every handshake needs.
#[derive(Debug)]
struct Verifier<A> {
    acceptance: A,
    algorithms: WebPkiSupportedAlgorithms,
}

impl<A: Acceptance> ServerCertVerifier for Verifier<A> {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.acceptance
            .accept(end_entity, intermediates, server_name, ocsp_response, now)
    }

    /// The handshake signature, with the key of the certificate presented.
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    /// As for TLS 1.2.
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// A client configuration with the safe default protocol versions that
/// accepts servers' certificates by `acceptance`.
pub(super) fn with_verifier(
    provider: Arc<CryptoProvider>,
    acceptance: impl Acceptance + 'static,
) -> io::Result<rustls::ClientConfig> {
    let verifier = Verifier {
        acceptance,
        algorithms: provider.signature_verification_algorithms,
    };
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth())
}
