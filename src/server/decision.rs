//! The opaque handle that carries any request token back into the session.

use super::event::XclientRequest;
use super::event::{
    AuthRequest, ConnectRequest, DataRequest, EtrnRequest, HelloRequest, MailRequest,
    MessageRequest, RcptRequest, StartTlsRequest, VerifyRequest,
};

/// Any request token, on its way back to the session that issued it.
///
/// Every `…Request` converts into a `Decision`, so one
/// [`accept`](super::ServerSession::accept) and one
/// [`reject`](super::ServerSession::reject) serve them all.
#[derive(Debug)]
pub struct Decision(pub(crate) Pending);

#[derive(Debug)]
pub(crate) enum Pending {
    Connect(ConnectRequest),
    Hello(HelloRequest),
    StartTls(StartTlsRequest),
    Auth(AuthRequest),
    Mail(MailRequest),
    Rcpt(RcptRequest),
    Data(DataRequest),
    Message(MessageRequest),
    Verify(VerifyRequest),
    Etrn(EtrnRequest),
    Xclient(XclientRequest),
}

/// What a request token carries to prove where it came from: the session
/// that issued it and the request's number there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ticket {
    pub(crate) session: usize,
    pub(crate) number: u64,
}

/// A number for a new session that no other session of the program has, so
/// that a token handed to the wrong session is told apart from the one it
/// awaits (tickets alone count from 1 in every session). Only after
/// `usize::MAX` sessions would a stamp come round again. A target without
/// atomics has no way to count across sessions and stamps every one 0.
pub(crate) fn session_stamp() -> usize {
    #[cfg(target_has_atomic = "ptr")]
    {
        use core::sync::atomic::{AtomicUsize, Ordering};
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        NEXT.fetch_add(1, Ordering::Relaxed)
    }
    #[cfg(not(target_has_atomic = "ptr"))]
    {
        0
    }
}

impl Pending {
    pub(crate) fn ticket(&self) -> Ticket {
        match self {
            Pending::Connect(r) => r.ticket,
            Pending::Hello(r) => r.ticket,
            Pending::StartTls(r) => r.ticket,
            Pending::Auth(r) => r.ticket,
            Pending::Mail(r) => r.ticket,
            Pending::Rcpt(r) => r.ticket,
            Pending::Data(r) => r.ticket,
            Pending::Message(r) => r.ticket,
            Pending::Verify(r) => r.ticket,
            Pending::Etrn(r) => r.ticket,
            Pending::Xclient(r) => r.ticket,
        }
    }
}

macro_rules! into_decision {
    ($($request:ident => $variant:ident),* $(,)?) => {
        $(impl From<$request> for Decision {
            fn from(request: $request) -> Self {
                Decision(Pending::$variant(request))
            }
        })*
    };
}

into_decision!(
    ConnectRequest => Connect,
    HelloRequest => Hello,
    StartTlsRequest => StartTls,
    AuthRequest => Auth,
    MailRequest => Mail,
    RcptRequest => Rcpt,
    DataRequest => Data,
    MessageRequest => Message,
    VerifyRequest => Verify,
    EtrnRequest => Etrn,
    XclientRequest => Xclient,
);

/// Why a decision had no effect.
///
/// Request tokens are consumed by the decision and carry the session that
/// issued them, so a session always takes a token of its own while it is
/// open. The error is left for the two cases no type can rule out:
///
/// - [`Closed`](Self::Closed): the session closed while the application was
///   deciding, because the driver called
///   [`shutdown`](super::ServerSession::shutdown) or
///   [`handle_timeout`](super::ServerSession::handle_timeout) meanwhile. A
///   driver that decides asynchronously meets this in normal running and
///   ignores it: the session has said goodbye and `poll_output` gives
///   [`Output::Closed`](crate::Output::Closed).
/// - [`NotAwaited`](Self::NotAwaited): the token came from another session,
///   a bug in the driver.
///
/// A drain loop that answers each request before calling anything else on
/// the session meets neither, and may `expect` the result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecisionError {
    /// The token belongs to another session.
    #[error("this session is not waiting for that request: it came from another session")]
    NotAwaited,
    /// The session closed (shut down or timed out) before the decision came;
    /// it has no effect.
    #[error("the session closed before the decision came")]
    Closed,
}
