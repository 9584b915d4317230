//! What a client session tells its caller, and why things fail.

use core::fmt;
use core::time::Duration;

use crate::address::ForwardPath;
use crate::auth::{ClientAuthError, Mechanism};
use crate::capability::Capabilities;
use crate::data::EncodeError;
use crate::reply::{Reply, ReplyError};

/// Names one queued message, from [`send_mail`](super::ClientSession::send_mail)
/// to the event that ends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TransactionId(pub(crate) u64);

impl TransactionId {
    /// The number, counting queued messages from 0.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for TransactionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// What a [`ClientSession`](super::ClientSession) reports.
///
/// Every message handed to `send_mail` ends in exactly one
/// [`MessageAccepted`](Self::MessageAccepted) or
/// [`TransactionFailed`](Self::TransactionFailed).
///
/// ```
/// use smtpwire::client::{ClientConfig, ClientEvent, ClientSession, Envelope, StartTlsPolicy};
/// use smtpwire::{Domain, ForwardPath, Output, ReversePath};
///
/// let mut config = ClientConfig::new(Domain::parse("client.example.org").unwrap());
/// config.starttls = StartTlsPolicy::Never;
/// let mut session = ClientSession::new(config);
/// let mut envelope = Envelope::new(ReversePath::parse("<a@example.org>").unwrap());
/// envelope.add_recipient(ForwardPath::parse("<nobody@example.net>").unwrap());
/// session.send_mail(envelope).unwrap();
/// session.receive(b"220 mx.example.net\r\n250 mx.example.net\r\n250 2.1.0 Ok\r\n\
///     550 5.1.1 No such user\r\n");
/// let mut events = Vec::new();
/// loop {
///     match session.poll_output() {
///         Output::Transmit(_) => {}
///         Output::Event(event) => events.push(event),
///         _ => break,
///     }
/// }
/// assert!(events.iter().any(|event| matches!(
///     event,
///     ClientEvent::RecipientRejected { reply, .. } if reply.code().as_u16() == 550
/// )));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientEvent {
    /// The server's 220 greeting.
    Greeting(Reply),
    /// What the server supports, from its EHLO or LHLO reply; empty after a
    /// fall back to HELO. Sent again after STARTTLS, when everything learnt
    /// before the upgrade has been forgotten (RFC 3207 §4.2).
    Capabilities(Capabilities),
    /// AUTH succeeded (235).
    Authenticated(Mechanism),
    /// The server took a recipient (RCPT answered 2yz).
    RecipientAccepted {
        /// The message.
        id: TransactionId,
        /// The recipient.
        recipient: ForwardPath,
        /// The server's reply.
        reply: Reply,
    },
    /// The server refused a recipient; the message goes on to the others.
    RecipientRejected {
        /// The message.
        id: TransactionId,
        /// The recipient.
        recipient: ForwardPath,
        /// The server's reply; see [`classify`](super::classify).
        reply: Reply,
    },
    /// The session is ready for the message's content: call
    /// [`send_content`](super::ClientSession::send_content) and then
    /// [`finish_content`](super::ClientSession::finish_content).
    ///
    /// With BDAT and PIPELINING this comes before the envelope's replies
    /// (RFC 3030 §4.2); if the envelope or a chunk is then refused,
    /// [`wants_content`](super::ClientSession::wants_content) turns `None`
    /// and the rest of the content is not sent.
    ContentWanted(TransactionId),
    /// LMTP: the outcome for one accepted recipient after the end of data
    /// (RFC 2033 §4.2).
    RecipientDelivery {
        /// The message.
        id: TransactionId,
        /// The recipient.
        recipient: ForwardPath,
        /// The server's reply for this recipient.
        reply: Reply,
    },
    /// The server took responsibility for the message (SMTP), or for at
    /// least one recipient of it (LMTP; the reply is the first positive one).
    MessageAccepted {
        /// The message.
        id: TransactionId,
        /// The reply to the end of data.
        reply: Reply,
    },
    /// The message was not delivered to any recipient.
    TransactionFailed {
        /// The message.
        id: TransactionId,
        /// Why.
        failure: TransactionFailure,
    },
    /// The reply to a [`noop`](super::ClientSession::noop).
    NoopReply(Reply),
    /// The session failed and is ending: with QUIT when the connection is
    /// still in step, closed at once otherwise.
    Error(ClientError),
}

impl ClientEvent {
    /// The message this event is about; `None` for events of the session
    /// (greeting, capabilities, AUTH, NOOP, errors), which concern every
    /// message on the connection.
    ///
    /// ```
    /// use smtpwire::client::ClientEvent;
    /// use smtpwire::{Reply, ReplyCode, Text};
    ///
    /// let greeting = Reply::new(ReplyCode::SERVICE_READY, Text::from_static("ready"));
    /// assert_eq!(ClientEvent::Greeting(greeting).transaction(), None);
    /// ```
    pub fn transaction(&self) -> Option<TransactionId> {
        match self {
            ClientEvent::RecipientAccepted { id, .. }
            | ClientEvent::RecipientRejected { id, .. }
            | ClientEvent::RecipientDelivery { id, .. }
            | ClientEvent::MessageAccepted { id, .. }
            | ClientEvent::TransactionFailed { id, .. }
            | ClientEvent::ContentWanted(id) => Some(*id),
            ClientEvent::Greeting(_)
            | ClientEvent::Capabilities(_)
            | ClientEvent::Authenticated(_)
            | ClientEvent::NoopReply(_)
            | ClientEvent::Error(_) => None,
        }
    }
}

/// Why a message was not delivered.
///
/// It displays as one line for a log, with the server's reply where there is
/// one, as in `MAIL refused: 550 5.7.1 sender rejected`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransactionFailure {
    /// Refused by the session: the server lacks an extension the message
    /// needs (found before anything was sent), or the content broke a rule
    /// on the way (the connection is then closed, so that no partial
    /// message can be taken for a whole one).
    #[error("not sent: {0}")]
    Refused(ClientError),
    /// MAIL was refused.
    #[error("MAIL refused: {0}")]
    MailRejected(Reply),
    /// Every recipient was refused (each one reported on its own).
    #[error("every recipient was refused")]
    NoValidRecipients,
    /// DATA or a BDAT chunk was refused.
    #[error("DATA or BDAT refused: {0}")]
    DataRejected(Reply),
    /// The reply to the end of data was negative (SMTP), or every recipient's
    /// was (LMTP; the last reply).
    #[error("message refused: {0}")]
    MessageRejected(Reply),
    /// The session ended before the message was started.
    #[error("the session ended before the message was sent")]
    NotSent,
    /// The session ended during the transaction. If that was while waiting
    /// for the reply to the end of data, the server may have taken the
    /// message (RFC 5321 §6.1 warns of duplicates).
    #[error("the session ended during the transaction")]
    Interrupted,
}

/// What the session was waiting for, with its RFC 5321 §4.5.3.2 timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// The 220 greeting: 5 minutes (§4.5.3.2.1).
    Greeting,
    /// The reply to a command (EHLO, MAIL, RCPT, …): 5 minutes
    /// (§4.5.3.2.2, §4.5.3.2.3).
    Command,
    /// The reply to DATA: 2 minutes (§4.5.3.2.4).
    DataInitiation,
    /// Each block of content: 3 minutes (§4.5.3.2.5).
    DataBlock,
    /// The reply to the end of data: 10 minutes (§4.5.3.2.6).
    DataTermination,
}

impl Wait {
    /// How long RFC 5321 §4.5.3.2 has a client wait.
    pub const fn duration(self) -> Duration {
        let minutes = match self {
            Wait::Greeting | Wait::Command => 5,
            Wait::DataInitiation => 2,
            Wait::DataBlock => 3,
            Wait::DataTermination => 10,
        };
        Duration::from_secs(minutes * 60)
    }
}

/// What was awaited, for a log line such as `timed out waiting for the
/// reply to DATA`.
impl fmt::Display for Wait {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Wait::Greeting => "the greeting",
            Wait::Command => "the reply to a command",
            Wait::DataInitiation => "the reply to DATA",
            Wait::DataBlock => "the server to take more content",
            Wait::DataTermination => "the reply to the end of data",
        })
    }
}

/// Why a session failed, or why a call or a message was refused.
///
/// It displays as one line for a log, with the whole of the server's reply
/// where there is one: `hello refused: 550 5.7.1 go away`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// A reply could not be read: malformed, too long, too many lines, or
    /// codes that differ within one reply.
    #[error("malformed reply: {0}")]
    MalformedReply(ReplyError),
    /// A reply that does not fit the command it answers (a 354 to MAIL, a
    /// 334 outside AUTH), or a reply when no command was sent.
    #[error("unexpected reply to {command}: {reply}")]
    UnexpectedReply {
        /// The command the reply was read as answering, or "nothing".
        command: &'static str,
        /// The reply.
        reply: Reply,
    },
    /// The server is shutting down (421, RFC 5321 §3.8).
    #[error("service closing: {0}")]
    ServiceClosing(Reply),
    /// The greeting was 554: no service here (RFC 5321 §3.1).
    #[error("greeting refused: {0}")]
    GreetingRefused(Reply),
    /// EHLO, HELO or LHLO was refused.
    #[error("hello refused: {0}")]
    HelloRefused(Reply),
    /// STARTTLS is required but the server did not offer it.
    #[error("STARTTLS required but not offered")]
    StartTlsNotOffered,
    /// STARTTLS is required but the server refused it.
    #[error("STARTTLS refused: {0}")]
    StartTlsRefused(Reply),
    /// [`Output::StartTls`](crate::Output::StartTls) was polled past
    /// without [`tls_established`](super::ClientSession::tls_established):
    /// the server waits for a TLS handshake that will not come, so the
    /// connection is aborted (RFC 3207 §4.1).
    #[error(
        "STARTTLS was accepted but the transport was not upgraded to TLS \
         (without TLS, use StartTlsPolicy::Never)"
    )]
    TlsNotEstablished,
    /// Bytes followed the 220 reply to STARTTLS before the TLS handshake:
    /// someone on the path injected replies (RFC 3207 §6).
    #[error("bytes received after the STARTTLS reply, before the TLS handshake")]
    ResponseInjection,
    /// AUTH is configured, but the connection has no TLS and cleartext AUTH
    /// was not allowed.
    #[error("AUTH over cleartext not allowed")]
    AuthOverCleartext,
    /// The server offers no mechanism the caller accepts and the
    /// credentials fit.
    #[error("no acceptable AUTH mechanism offered")]
    AuthNotOffered,
    /// AUTH failed for good (5yz, e.g. 535 5.7.8).
    #[error("authentication rejected: {0}")]
    AuthRejected(Reply),
    /// AUTH failed for now (4yz, e.g. 454 4.7.0).
    #[error("authentication failed temporarily: {0}")]
    AuthTemporaryFailure(Reply),
    /// The SASL exchange could not go on.
    #[error(transparent)]
    Sasl(#[from] ClientAuthError),
    /// The caller's timer for [`Wait`] fired.
    #[error("timed out waiting for {0}")]
    Timeout(Wait),
    /// The server closed the connection unexpectedly.
    #[error("connection closed by the server")]
    ConnectionClosed,
    /// The message is larger than the server's SIZE (RFC 1870).
    #[error("message of {size} octets exceeds the server's limit of {limit}")]
    MessageTooLarge {
        /// The message size given or reached.
        size: u64,
        /// The server's SIZE.
        limit: u64,
    },
    /// 8-bit content or BODY=8BITMIME without 8BITMIME (RFC 6152).
    #[error("8-bit content but the server lacks 8BITMIME")]
    EightBitNotSupported,
    /// BODY=BINARYMIME needs BDAT and the server's BINARYMIME (RFC 3030 §3).
    #[error("BINARYMIME needs CHUNKING and BINARYMIME")]
    BinaryMimeNotSupported,
    /// A UTF-8 address or parameter without SMTPUTF8 (RFC 6531).
    #[error("UTF-8 envelope but the server lacks SMTPUTF8")]
    SmtpUtf8NotSupported,
    /// DSN parameters without DSN (RFC 3461).
    #[error("DSN parameters but the server lacks DSN")]
    DsnNotSupported,
    /// REQUIRETLS on a connection without TLS (RFC 8689 §4.1).
    #[error("REQUIRETLS on a connection without TLS")]
    RequireTlsWithoutTls,
    /// REQUIRETLS but the server does not offer it (RFC 8689 §4.1).
    #[error("REQUIRETLS but the server does not offer it")]
    RequireTlsNotSupported,
    /// Another MAIL parameter whose extension the server does not offer.
    #[error("{0} parameter but the server does not offer the extension")]
    ExtensionNotSupported(&'static str),
    /// A message needs at least one recipient.
    #[error("message has no recipients")]
    NoRecipients,
    /// A line of content is longer than RFC 5321 §4.5.3.1.6 allows, under
    /// [`LongLines::Refuse`](super::LongLines::Refuse).
    #[error(
        "line {line} of the content is {length} octets long: at most 998 may precede its CRLF \
         (RFC 5321 §4.5.3.1.6)"
    )]
    LineTooLong {
        /// Its number, counting from 1.
        line: u64,
        /// Its length without the line end, counted to its end, or, when
        /// streamed content refused it before its end came, to the end of
        /// the content given so far.
        length: u64,
    },
    /// Content was refused by the bare line ending policy.
    #[error(transparent)]
    Content(#[from] EncodeError),
    /// `send_content` or `finish_content` when no content is wanted.
    #[error("no message content is wanted now")]
    NoContentWanted,
    /// The session is closed or quitting.
    #[error("the session is closed")]
    Closed,
}
