//! What SCRAM needs from the transport: the TLS connection's channel
//! binding and fresh nonces, both from rustls.

use rustls::{ConnectionCommon, ProtocolVersion};
use smtpwire::auth::ChannelBinding;
use smtpwire::Text;

/// RFC 9266 §2: the exporter label of the `tls-exporter` binding.
const EXPORTER_LABEL: &[u8] = b"EXPORTER-Channel-Binding";
/// RFC 9266 §2: 32 octets.
const EXPORTER_LENGTH: usize = 32;
/// Random octets in a nonce: 192 bits, hex-encoded to 48 characters.
const NONCE_OCTETS: usize = 24;

/// The `tls-exporter` channel binding of a finished handshake, on TLS 1.3
/// only. RFC 9266 §3 allows TLS 1.2 only with the extended master secret
/// (RFC 7627), and rustls does not say whether a TLS 1.2 connection has it,
/// so a TLS 1.2 connection gets no binding and -PLUS is not offered on it.
pub(crate) fn tls_exporter<D>(connection: &ConnectionCommon<D>) -> Option<ChannelBinding> {
    if connection.protocol_version() != Some(ProtocolVersion::TLSv1_3) {
        return None;
    }
    // No context: in TLS 1.3 an absent and an empty context are the same
    // (RFC 8446 §7.5).
    let data = connection
        .export_keying_material([0u8; EXPORTER_LENGTH], EXPORTER_LABEL, None)
        .ok()?;
    Some(ChannelBinding::TlsExporter(bytes::Bytes::copy_from_slice(
        &data,
    )))
}

/// A fresh SCRAM nonce from the *ring* provider's system random source:
/// printable, without `,` (RFC 5802 §7). `None` if the system has no
/// randomness to give, when SCRAM must not run.
pub(crate) fn fresh_nonce() -> Option<Text> {
    let octets: [u8; NONCE_OCTETS] = random_octets()?;
    let hex: String = octets.iter().map(|octet| format!("{octet:02x}")).collect();
    Text::new(&hex).ok()
}

/// `N` octets from the system's secure random source; `None` if it fails.
pub(crate) fn random_octets<const N: usize>() -> Option<[u8; N]> {
    let mut octets = [0u8; N];
    rustls::crypto::ring::default_provider()
        .secure_random
        .fill(&mut octets)
        .ok()?;
    Some(octets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_without_a_stand_in_secret_gets_a_random_one() {
        use smtpwire::server::ServerConfig;
        let config = || ServerConfig::new(Text::from_static("mx.example.org"));
        let secret = |server: crate::server::Server| server.config().scram_stand_in.clone();
        let (one, two) = (
            secret(crate::server::Server::new(config())),
            secret(crate::server::Server::new(config())),
        );
        assert!(one.is_some());
        assert_ne!(one, two);
        // One the application gives is kept.
        let mut given = config();
        given.scram_stand_in = Some(smtpwire::auth::StandInSecret::new([5; 32]));
        let kept = secret(crate::server::Server::new(given));
        assert_eq!(kept, Some(smtpwire::auth::StandInSecret::new([5; 32])));
    }

    #[test]
    fn nonces_are_fresh_and_printable() {
        let (a, b) = (fresh_nonce().unwrap(), fresh_nonce().unwrap());
        assert_ne!(a, b);
        assert_eq!(a.len(), 2 * NONCE_OCTETS);
        assert!(a.as_str().bytes().all(|b| b.is_ascii_hexdigit()));
    }
}
