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
    let mut octets = [0u8; NONCE_OCTETS];
    rustls::crypto::ring::default_provider()
        .secure_random
        .fill(&mut octets)
        .ok()?;
    let hex: String = octets.iter().map(|octet| format!("{octet:02x}")).collect();
    Text::new(&hex).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_are_fresh_and_printable() {
        let (a, b) = (fresh_nonce().unwrap(), fresh_nonce().unwrap());
        assert_ne!(a, b);
        assert_eq!(a.len(), 2 * NONCE_OCTETS);
        assert!(a.as_str().bytes().all(|b| b.is_ascii_hexdigit()));
    }
}
