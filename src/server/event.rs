//! What the server session tells its caller, and the decision tokens the caller
//! hands back.

use alloc::vec::Vec;
use bytes::Bytes;

use super::replies;
use super::ticket::Ticket;
use super::xclient::XclientAttribute;
use crate::address::{ForwardPath, Host, ReversePath};
use crate::auth::{Credentials, ScramUser};
use crate::params::{MailParameters, RcptParameters};
use crate::proxy::ProxyHeader;
use crate::reply::{Reply, ReplyClass};
use crate::Text;

/// Something the application must know or decide.
///
/// Every variant that holds a `…Request` is a decision: the session reads no
/// further input until the request is given back through
/// [`ServerSession::accept`](super::ServerSession::accept),
/// [`accept_with`](super::ServerSession::accept_with) or
/// [`reject`](super::ServerSession::reject). The request alone or the whole
/// event may be handed back: each `…Request` converts into its event.
///
/// The enum is exhaustive on purpose: a new request is one more thing a
/// server must answer, and should fail to compile rather than fall into a
/// `_ =>` arm.
///
/// ```
/// use smtpwire::server::{Reject, ServerConfig, ServerEvent, ServerOutput, ServerSession};
/// use smtpwire::Text;
///
/// let mut session = ServerSession::new(ServerConfig::new(Text::from_static("mx.example.org")));
/// let mut turns = [&b"EHLO client.example\r\n"[..], b"MAIL FROM:<a@example.org>\r\n\
///     RCPT TO:<nobody@example.org>\r\nRCPT TO:<b@example.org>\r\n"].into_iter();
/// let mut wire = Vec::new();
/// loop {
///     match session.poll_output() {
///         ServerOutput::Transmit(bytes) => wire.extend_from_slice(&bytes),
///         ServerOutput::Event(ServerEvent::Rcpt(request)) if request.to().to_string() == "<nobody@example.org>" => {
///             session.reject(request, Reject::permanent()).unwrap()
///         }
///         ServerOutput::Event(event) => session.accept_event(event).unwrap(),
///         ServerOutput::NeedInput => match turns.next() {
///             Some(turn) => assert_eq!(session.receive(turn), turn.len()),
///             None => break,
///         },
///         other => panic!("unexpected {other:?}"),
///     }
/// }
/// assert!(wire.ends_with(b"250 2.1.0 Sender ok\r\n550 5.7.1 Rejected\r\n250 2.1.5 Recipient ok\r\n"));
/// ```
#[derive(Debug)]
pub enum ServerEvent {
    /// A client connected: accept to send the 220 greeting, reject to send 554.
    Connect(ConnectRequest),
    /// HELO, EHLO or LHLO.
    Hello(HelloRequest),
    /// STARTTLS: accept to send 220 and hand the transport over for TLS.
    StartTls(StartTlsRequest),
    /// A completed SASL exchange: verify the credentials.
    Auth(AuthRequest),
    /// A SCRAM exchange needs the user's stored keys: answer with
    /// [`ServerSession::supply_keys`](super::ServerSession::supply_keys),
    /// or reject to end the exchange with that reply (454 4.7.0 when the
    /// user database cannot be reached, say).
    AuthKeys(AuthKeysRequest),
    /// MAIL FROM.
    Mail(MailRequest),
    /// RCPT TO.
    Rcpt(RcptRequest),
    /// DATA, or the first BDAT of a transaction.
    Data(DataRequest),
    /// Unstuffed message content, in order; chunks of one message follow each
    /// other until [`Message`](ServerEvent::Message) or
    /// [`Aborted`](ServerEvent::Aborted).
    Content(Bytes),
    /// The end of a message whose content arrived whole: accept to take
    /// responsibility for it (RFC 5321 §6.1), reject to refuse it.
    Message(MessageRequest),
    /// VRFY or EXPN: accept answers 252 (RFC 5321 §3.5.3), `accept_with` a 250
    /// with the caller's text.
    Verify(VerifyRequest),
    /// ETRN (RFC 1985).
    Etrn(EtrnRequest),
    /// XCLIENT from a proxy: accept to start over as the client it names.
    Xclient(XclientRequest),
    /// The open transaction ended without a message: content reported since
    /// the last [`Data`](ServerEvent::Data) must be thrown away.
    Aborted(AbortReason),
}

impl ServerEvent {
    /// Whether the event carries a request the session waits on, rather
    /// than only informing ([`Content`](Self::Content),
    /// [`Aborted`](Self::Aborted)).
    pub fn is_request(&self) -> bool {
        self.ticket().is_some()
    }

    /// The token of the request this event carries; `None` for the events
    /// that only inform.
    pub(crate) fn ticket(&self) -> Option<Ticket> {
        Some(match self {
            ServerEvent::Connect(r) => r.ticket,
            ServerEvent::Hello(r) => r.ticket,
            ServerEvent::StartTls(r) => r.ticket,
            ServerEvent::Auth(r) => r.ticket,
            ServerEvent::AuthKeys(r) => r.ticket,
            ServerEvent::Mail(r) => r.ticket,
            ServerEvent::Rcpt(r) => r.ticket,
            ServerEvent::Data(r) => r.ticket,
            ServerEvent::Message(r) => r.ticket,
            ServerEvent::Verify(r) => r.ticket,
            ServerEvent::Etrn(r) => r.ticket,
            ServerEvent::Xclient(r) => r.ticket,
            ServerEvent::Content(_) | ServerEvent::Aborted(_) => return None,
        })
    }
}

/// Why a transaction ended without a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AbortReason {
    /// RSET, a new HELO/EHLO, STARTTLS or QUIT.
    Reset,
    /// The message reached its end but broke a rule (size, bare CR/LF, line
    /// length); the session has answered it.
    Refused,
    /// The peer closed the connection or the session was shut down before the
    /// end of the message.
    Disconnected,
}

/// A reply that refuses: its code is always 4xx or 5xx.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject(Reply);

/// A positive reply was given where a refusal is needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a rejection needs a 4xx or 5xx reply")]
pub struct NotARejection;

/// [`Reject::new`], for `reply.try_into()?`.
impl TryFrom<Reply> for Reject {
    type Error = NotARejection;
    fn try_from(reply: Reply) -> Result<Self, NotARejection> {
        Reject::new(reply)
    }
}

impl Reject {
    /// Wraps `reply` if it refuses.
    pub fn new(reply: Reply) -> Result<Self, NotARejection> {
        match reply.code().class() {
            ReplyClass::TransientNegative | ReplyClass::PermanentNegative => Ok(Reject(reply)),
            _ => Err(NotARejection),
        }
    }

    /// 451 4.3.0: a temporary refusal; the client tries again later.
    pub fn temporary() -> Self {
        Reject(replies::UNAVAILABLE.to_reply())
    }

    /// 550 5.7.1: a permanent refusal for policy reasons.
    pub fn permanent() -> Self {
        Reject(replies::REJECTED.to_reply())
    }

    /// 554 5.7.1: the answer to a connection the server will not serve
    /// (RFC 5321 §3.1).
    pub fn no_service() -> Self {
        Reject(replies::REFUSED.to_reply())
    }

    /// The reply that will be sent.
    pub fn reply(&self) -> &Reply {
        &self.0
    }

    pub(crate) fn into_reply(self) -> Reply {
        self.0
    }
}

/// A request type: its token and what it asks, and the conversion into the
/// [`ServerEvent`] variant that carries it, through which it is handed back.
macro_rules! request {
    ($(#[$doc:meta])* $variant:ident => $name:ident { $($field:ident : $ty:ty),* $(,)? }) => {
        $(#[$doc])*
        #[must_use = "the session waits until this request is accepted or rejected"]
        #[derive(Debug)]
        pub struct $name {
            pub(crate) ticket: Ticket,
            $(pub(crate) $field: $ty,)*
        }

        impl From<$name> for ServerEvent {
            fn from(request: $name) -> Self {
                ServerEvent::$variant(request)
            }
        }
    };
}

request!(
    /// A new connection, with the original client address when the PROXY
    /// protocol is on.
    Connect => ConnectRequest { proxy: Option<ProxyHeader> }
);
request!(
    /// HELO, EHLO or LHLO with the name the client gave.
    Hello => HelloRequest { host: Host, extended: bool }
);
request!(
    /// STARTTLS.
    StartTls => StartTlsRequest {}
);
request!(
    /// Credentials from a finished SASL exchange.
    Auth => AuthRequest { credentials: Credentials }
);
request!(
    /// The user a SCRAM exchange needs the keys of.
    AuthKeys => AuthKeysRequest { user: ScramUser }
);
request!(
    /// MAIL FROM with its parameters, already checked against what the server
    /// advertised.
    Mail => MailRequest { from: ReversePath, params: MailParameters }
);
request!(
    /// RCPT TO with its parameters.
    Rcpt => RcptRequest { to: ForwardPath, params: RcptParameters }
);
request!(
    /// DATA or the first BDAT: accept to start reading content.
    Data => DataRequest { chunk: Option<(u64, bool)> }
);
request!(
    /// The end of a message.
    Message => MessageRequest { size: u64, recipients: Vec<ForwardPath> }
);
request!(
    /// VRFY or EXPN with its argument.
    Verify => VerifyRequest { argument: Text, expand: bool }
);
request!(
    /// ETRN with its argument.
    Etrn => EtrnRequest { argument: Text }
);
request!(
    /// XCLIENT with its attributes.
    Xclient => XclientRequest { attributes: Vec<XclientAttribute> }
);

impl XclientRequest {
    /// The attributes, in the order sent.
    pub fn attributes(&self) -> &[XclientAttribute] {
        &self.attributes
    }

    /// The decoded value of attribute `name` (case-insensitive), if it was
    /// given and known.
    pub fn get(&self, name: &str) -> Option<&Text> {
        self.attributes
            .iter()
            .find(|a| a.name().eq_ignore_ascii_case(name))
            .and_then(XclientAttribute::value)
    }
}

impl ConnectRequest {
    /// The PROXY protocol header that came before the SMTP stream, if any.
    pub fn proxy(&self) -> Option<&ProxyHeader> {
        self.proxy.as_ref()
    }
}

impl HelloRequest {
    /// The name the client gave.
    pub fn host(&self) -> &Host {
        &self.host
    }
    /// EHLO or LHLO rather than HELO.
    pub fn is_extended(&self) -> bool {
        self.extended
    }
}

impl AuthRequest {
    /// What the client presented; verify it before accepting.
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }
}

impl AuthKeysRequest {
    /// Who asks to log in: the user name to look up, and the identity the
    /// client wants to act as.
    pub fn user(&self) -> &ScramUser {
        &self.user
    }
}

impl MailRequest {
    /// The reverse path (`<>` for bounces).
    pub fn from(&self) -> &ReversePath {
        &self.from
    }
    /// The MAIL parameters.
    pub fn params(&self) -> &MailParameters {
        &self.params
    }
}

impl RcptRequest {
    /// The forward path.
    pub fn to(&self) -> &ForwardPath {
        &self.to
    }
    /// The RCPT parameters.
    pub fn params(&self) -> &RcptParameters {
        &self.params
    }
}

impl DataRequest {
    /// BDAT (RFC 3030) rather than DATA.
    pub fn is_chunked(&self) -> bool {
        self.chunk.is_some()
    }
}

impl MessageRequest {
    /// Content size in octets, after unstuffing.
    pub fn size(&self) -> u64 {
        self.size
    }
    /// The accepted recipients, in the order they were accepted; in LMTP mode
    /// [`ServerSession::deliver`](super::ServerSession::deliver) takes one
    /// outcome for each, in this order.
    pub fn recipients(&self) -> &[ForwardPath] {
        &self.recipients
    }
}

impl VerifyRequest {
    /// The string to verify or the list to expand.
    pub fn argument(&self) -> &Text {
        &self.argument
    }
    /// EXPN rather than VRFY.
    pub fn is_expand(&self) -> bool {
        self.expand
    }
}

impl EtrnRequest {
    /// The node or domain whose queue should run.
    pub fn argument(&self) -> &Text {
        &self.argument
    }
}
