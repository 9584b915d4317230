//! What `poll_output` gives the caller.

use bytes::Bytes;

use super::event::ServerEvent;

/// The next thing a [`ServerSession`](super::ServerSession) needs from its
/// caller.
///
/// After every call that changes the session (`receive`, `receive_eof`,
/// `handle_timeout`, `tls_established`, a decision), call `poll_output`
/// until it returns a blocking variant ([`is_blocking`](Self::is_blocking)):
/// [`NeedInput`](Self::NeedInput), [`AwaitingDecision`](Self::AwaitingDecision),
/// [`StartTls`](Self::StartTls) or [`Closed`](Self::Closed).
///
/// # Order
///
/// Events come before transmits. An event is handed out as soon as the input
/// that causes it is read, while reply bytes gather in order until the
/// session can go no further (it needs input or a decision, or is closing)
/// or until they reach [`ServerLimits::pending_output`](super::ServerLimits::pending_output);
/// then they leave in one [`Transmit`](Self::Transmit), just before the
/// blocking variant. A caller that decides each request as it comes out,
/// before polling again, thus gets the replies of a pipelined group in one
/// write (RFC 2920 §3.1), after the events of the group; one that leaves a
/// request undecided gets the replies so far, then
/// [`AwaitingDecision`](Self::AwaitingDecision). On the wire the replies are
/// always in the order of the commands they answer.
///
/// ```
/// use smtpwire::server::{ServerConfig, ServerEvent, ServerOutput, ServerSession};
/// use smtpwire::Text;
///
/// let mut session = ServerSession::new(ServerConfig::new(Text::from_static("mx.example.org")));
/// // A new connection: first a decision, then the greeting, then a wait.
/// let ServerOutput::Event(ServerEvent::Connect(request)) = session.poll_output() else { panic!() };
/// session.accept(request).unwrap();
/// let ServerOutput::Transmit(greeting) = session.poll_output() else { panic!() };
/// assert_eq!(&greeting[..], b"220 mx.example.org ESMTP ready\r\n");
/// let next = session.poll_output();
/// assert!(matches!(next, ServerOutput::NeedInput));
/// assert!(next.is_blocking());
/// ```
///
/// The enum is exhaustive on purpose: a new variant is something every
/// driver must handle, and should fail to compile rather than fall into a
/// `_ =>` arm.
#[must_use]
#[derive(Debug)]
// An output is matched and taken apart as soon as it is returned, never
// stored; boxing the event would cost an allocation per event instead.
#[allow(clippy::large_enum_variant)]
pub enum ServerOutput {
    /// Write these bytes to the peer, in order, before anything that follows.
    Transmit(Bytes),
    /// Something the application must know or decide.
    Event(ServerEvent),
    /// Read more from the peer, then call `receive` (or `receive_eof`, or
    /// `handle_timeout` when the timer from `timeout_hint` fires).
    NeedInput,
    /// A request is outstanding; input that has already arrived stays
    /// buffered until the application answers it.
    AwaitingDecision,
    /// Flush what was transmitted, upgrade the transport to TLS, then call
    /// `tls_established`.
    StartTls,
    /// The session is over: flush what was transmitted and close the transport.
    Closed,
}

impl ServerOutput {
    /// Whether the caller must do I/O or decide before polling again.
    pub fn is_blocking(&self) -> bool {
        !matches!(self, ServerOutput::Transmit(_) | ServerOutput::Event(_))
    }
}
