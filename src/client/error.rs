//! Why things fail, split by what the caller can do about it:
//!
//! - [`SessionError`]: the session is over; try again later or elsewhere.
//! - [`MessageError`]: this message cannot go to this server as it is.
//! - [`UsageError`]: the call was wrong whatever the server.
//!
//! [`ClientError`] is any of the three, for the calls that can fail in more
//! than one way and for callers that keep one error type.

use crate::auth::ClientAuthError;
use crate::data::EncodeError;
use crate::reply::{Reply, ReplyError};

use super::event::Wait;

/// The session failed and is ending: with QUIT when the connection is still
/// in step, closed at once otherwise. Messages not yet accepted come back
/// as [`TransactionFailure`](super::TransactionFailure)s.
///
/// It displays as one line for a log, with the whole of the server's reply
/// where there is one: `hello refused: 550 5.7.1 go away`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
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
    /// [`ClientOutput::StartTls`](super::ClientOutput::StartTls) was polled
    /// past without [`tls_established`](super::ClientSession::tls_established):
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
    /// The content of the message in progress broke a rule while it
    /// streamed, after MAIL, RCPT and DATA: the connection is closed without
    /// the end of data, so that no partial message can be taken for a whole
    /// one (RFC 5321 §3.8). The message fails with the same error.
    #[error("connection closed in the middle of a message: {0}")]
    ContentRefused(MessageError),
}

/// Why the session would not send a message to this server as it is: it
/// needs an extension the server lacks, or its content broke a rule.
///
/// Found before anything of the message was sent when the server's
/// capabilities were known, or while its content streamed (then the
/// session ends with [`SessionError::ContentRefused`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MessageError {
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
}

/// A call the session refuses whatever the server says: the caller's
/// mistake, with no effect on the session.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UsageError {
    /// A message needs at least one recipient.
    #[error("message has no recipients")]
    NoRecipients,
    /// `send_content` or `finish_content` when no content is wanted.
    #[error("no message content is wanted now")]
    NoContentWanted,
    /// The session is closed or quitting.
    #[error("the session is closed")]
    Closed,
}

/// Any client error, by what the caller can do about it. It displays as
/// the error it holds.
///
/// [`send_mail`](super::ClientSession::send_mail),
/// [`send_content`](super::ClientSession::send_content) and
/// [`finish_content`](super::ClientSession::finish_content) fail with
/// [`Refused`](Self::Refused) or [`Usage`](Self::Usage); a session's own
/// failure comes as [`ClientEvent::Error`](super::ClientEvent::Error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The session is over.
    #[error(transparent)]
    Session(#[from] SessionError),
    /// This message cannot go to this server as it is. From
    /// `send_content` and `finish_content`, the session has ended too.
    #[error(transparent)]
    Refused(#[from] MessageError),
    /// The call was wrong; nothing changed.
    #[error(transparent)]
    Usage(#[from] UsageError),
}
