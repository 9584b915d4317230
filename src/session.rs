//! What the client and server sessions share: the protocol they speak, and
//! the client's drain-loop vocabulary.

use bytes::Bytes;

/// The next thing the client session needs from its caller; the server has
/// its own [`ServerOutput`](crate::server::ServerOutput).
///
/// After every call that changes the session (`receive`, `receive_eof`,
/// `handle_timeout`, `tls_established`), call `poll_output` until it
/// returns one of the blocking variants: [`NeedInput`](Output::NeedInput),
/// [`AwaitingDecision`](Output::AwaitingDecision), [`StartTls`](Output::StartTls)
/// or [`Closed`](Output::Closed). Within one call of `poll_output` the client
/// session hands out what it transmits first, then what it learnt; write
/// every [`Transmit`](Output::Transmit) in the order given.
#[must_use]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output<E> {
    /// Write these bytes to the peer, in order, before anything that follows.
    Transmit(Bytes),
    /// Something the application must know or decide.
    Event(E),
    /// Read more from the peer, then call `receive` (or `receive_eof`, or
    /// `handle_timeout` when the timer from `timeout_hint` fires).
    NeedInput,
    /// A decision token is outstanding; input that has already arrived stays
    /// buffered until the application answers it.
    AwaitingDecision,
    /// Flush what was transmitted, upgrade the transport to TLS, then call
    /// `tls_established`.
    StartTls,
    /// The session is over: flush what was transmitted and close the transport.
    Closed,
}

impl<E> Output<E> {
    /// Whether the caller must do I/O or decide before polling again.
    pub fn is_blocking(&self) -> bool {
        !matches!(self, Output::Transmit(_) | Output::Event(_))
    }
}

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
