//! Why a decision handed to the session had no effect.

/// Why a decision had no effect.
///
/// Request tokens are consumed by the decision and carry the session that
/// issued them, so a session always takes a token of its own while it is
/// open. The variants say what the caller can do about it:
///
/// - The session is dead: [`Closed`](Self::Closed). It closed while the
///   application was deciding, because the driver called
///   [`shutdown`](super::ServerSession::shutdown) or
///   [`handle_timeout`](super::ServerSession::handle_timeout) meanwhile. A
///   driver that decides asynchronously meets this in normal running and
///   ignores it: the session has said goodbye and `poll_output` gives
///   [`ServerOutput::Closed`](super::ServerOutput::Closed).
/// - The session was called wrongly, a bug in the driver:
///   [`NotAwaited`](Self::NotAwaited) (the token came from another
///   session) and [`NotARequest`](Self::NotARequest) (the event asks
///   nothing).
///
/// No request is ever refused through this error: a refusal is the
/// application's, sent with [`reject`](super::ServerSession::reject). A drain
/// loop that answers each request before calling anything else on the
/// session meets none of these, and may `expect` the result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecisionError {
    /// The token belongs to another session.
    #[error("decision ignored: the request came from another session")]
    NotAwaited,
    /// The event handed back carries no request: it was
    /// [`Content`](super::ServerEvent::Content) or
    /// [`Aborted`](super::ServerEvent::Aborted).
    #[error("decision ignored: the event asks for no decision")]
    NotARequest,
    /// The session closed (shut down or timed out) before the decision came;
    /// it has no effect.
    #[error("decision ignored: the session closed before it came")]
    Closed,
}

impl DecisionError {
    /// Whether the driver called the session wrongly (a bug to fix), rather
    /// than deciding for a session that has meanwhile closed (normal running).
    pub fn is_misuse(self) -> bool {
        !matches!(self, DecisionError::Closed)
    }
}
