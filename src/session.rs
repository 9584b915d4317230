//! What the client and server sessions share: the protocol they speak.

/// Whether a session speaks SMTP or LMTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// SMTP (RFC 5321): HELO or EHLO, one reply after the end of data.
    #[default]
    Smtp,
    /// LMTP (RFC 2033): LHLO only, one reply per accepted recipient after the
    /// end of data.
    Lmtp,
}
