//! What a client session hands its caller: outputs, events and outcomes.

use core::fmt;
use core::time::Duration;

use bytes::Bytes;

use super::error::{MessageError, SessionError};
use crate::address::ForwardPath;
use crate::auth::Mechanism;
use crate::capability::Capabilities;
use crate::reply::Reply;

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

/// The next thing a [`ClientSession`](super::ClientSession) needs from its
/// caller, from [`poll_output`](super::ClientSession::poll_output).
///
/// [`Transmit`](Self::Transmit) and [`Event`](Self::Event) ask for nothing
/// but to be acted on: poll again. The others block: the session says the
/// same until the caller does what they ask. Each call of `poll_output`
/// returns the first of these that applies:
///
/// 1. [`Transmit`](Self::Transmit), with everything written since the last
///    one: bytes always come out before the events of the same step.
/// 2. [`Event`](Self::Event), oldest first.
/// 3. [`Closed`](Self::Closed) once the session is over, and
///    [`StartTls`](Self::StartTls) once the 220 to STARTTLS is read.
/// 4. [`SendContent`](Self::SendContent) when content is wanted and no
///    reply is awaited.
/// 5. Otherwise the next reply already received is read, and the session
///    starts again from 1 with what it produced; at the end of the stream
///    it closes (failing with
///    [`SessionError::ConnectionClosed`] unless QUIT was sent).
/// 6. [`SendContent`](Self::SendContent) when content is wanted and the
///    content window has room, although replies are awaited.
/// 7. [`NeedInput`](Self::NeedInput) when a reply is awaited.
/// 8. [`Idle`](Self::Idle).
///
/// Not `#[non_exhaustive]`: a new output must be a compile error in a
/// caller's drain loop, not a silent `_ =>` arm.
#[must_use]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientOutput {
    /// Write these bytes to the server, in order, before anything that
    /// follows.
    Transmit(Bytes),
    /// Something the application must know.
    Event(ClientEvent),
    /// Read from the server and pass what came to
    /// [`receive`](super::ClientSession::receive), or call
    /// [`receive_eof`](super::ClientSession::receive_eof) at the end of
    /// the stream, or [`handle_timeout`](super::ClientSession::handle_timeout)
    /// when the timer armed from
    /// [`timeout_hint`](super::ClientSession::timeout_hint) fires.
    NeedInput,
    /// The session wants the content of this message: pass it through
    /// [`send_content`](super::ClientSession::send_content) (which may take
    /// fewer bytes than given) and end it with
    /// [`finish_content`](super::ClientSession::finish_content).
    ///
    /// With BDAT and PIPELINING this comes before the envelope's replies
    /// (RFC 3030 §4.2); if the envelope or a chunk is then refused, the
    /// session stops asking and the rest of the content is not sent.
    SendContent(TransactionId),
    /// Nothing to do until the caller queues a message
    /// ([`send_mail`](super::ClientSession::send_mail)), a
    /// [`noop`](super::ClientSession::noop) or a
    /// [`quit`](super::ClientSession::quit).
    Idle,
    /// Flush what was transmitted, upgrade the transport to TLS, then call
    /// [`tls_established`](super::ClientSession::tls_established). It comes
    /// once: polling again without the upgrade ends the session with
    /// [`SessionError::TlsNotEstablished`].
    StartTls,
    /// The session is over: flush what was transmitted and close the
    /// transport.
    Closed,
}

impl ClientOutput {
    /// Whether the caller must do I/O or act before polling again.
    pub fn is_blocking(&self) -> bool {
        !matches!(self, ClientOutput::Transmit(_) | ClientOutput::Event(_))
    }
}

/// What a [`ClientSession`](super::ClientSession) reports.
///
/// Every message handed to `send_mail` ends in exactly one
/// [`MessageAccepted`](Self::MessageAccepted) or
/// [`TransactionFailed`](Self::TransactionFailed). Not `#[non_exhaustive]`:
/// a new event must be a compile error for a caller that handles them all.
///
/// ```
/// use smtpwire::client::{ClientConfig, ClientEvent, ClientSession, Envelope, StartTlsPolicy};
/// use smtpwire::{ClientOutput, Domain, ForwardPath, ReversePath};
///
/// let config = ClientConfig::new(Domain::parse("client.example.org").unwrap())
///     .with_starttls(StartTlsPolicy::Never);
/// let mut session = ClientSession::new(config);
/// let mut envelope = Envelope::new(ReversePath::parse("<a@example.org>").unwrap());
/// envelope.add_recipient(ForwardPath::parse("<bob@example.net>").unwrap());
/// envelope.add_recipient(ForwardPath::parse("<nobody@example.net>").unwrap());
/// session.send_mail(envelope).unwrap();
/// session.receive(b"220 mx.example.net\r\n250 mx.example.net\r\n250 2.1.0 Ok\r\n\
///     250 2.1.5 Ok\r\n550 5.1.1 No such user\r\n");
/// let mut events = Vec::new();
/// loop {
///     match session.poll_output() {
///         ClientOutput::Transmit(_) => {}
///         ClientOutput::Event(event) => events.push(event),
///         _ => break,
///     }
/// }
/// // The second recipient of the envelope was refused.
/// assert!(events.iter().any(|event| matches!(
///     event,
///     ClientEvent::RecipientRejected { index: 1, reply, .. } if reply.code().as_u16() == 550
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
        /// The recipient's position in the envelope given to
        /// [`send_mail`](super::ClientSession::send_mail), from 0.
        index: usize,
        /// The recipient.
        recipient: ForwardPath,
        /// The server's reply.
        reply: Reply,
    },
    /// The server refused a recipient; the message goes on to the others.
    RecipientRejected {
        /// The message.
        id: TransactionId,
        /// The recipient's position in the envelope, from 0.
        index: usize,
        /// The recipient.
        recipient: ForwardPath,
        /// The server's reply; see [`classify`](super::classify).
        reply: Reply,
    },
    /// LMTP: the outcome for one accepted recipient after the end of data
    /// (RFC 2033 §4.2).
    RecipientDelivery {
        /// The message.
        id: TransactionId,
        /// The recipient's position in the envelope, from 0.
        index: usize,
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
    /// still in step, closed at once otherwise. The messages it leaves
    /// undone each get their [`TransactionFailed`](Self::TransactionFailed)
    /// after it.
    Error(SessionError),
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
            | ClientEvent::TransactionFailed { id, .. } => Some(*id),
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
#[non_exhaustive]
pub enum TransactionFailure {
    /// Refused by the session: the server lacks an extension the message
    /// needs (found before anything was sent), or the content broke a rule
    /// on the way (the connection is then closed, so that no partial
    /// message can be taken for a whole one).
    #[error("not sent: {0}")]
    Refused(MessageError),
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
