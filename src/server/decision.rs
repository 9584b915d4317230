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

impl Pending {
    pub(crate) fn ticket(&self) -> u64 {
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

/// A decision the session was not waiting for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecisionError {
    /// The token belongs to another session, or was already answered.
    #[error("this session is not waiting for that request")]
    NotAwaited,
}
