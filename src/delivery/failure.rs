//! The status a report gives a reply or a failed session, and how a session
//! failure counts against the host it happened at.

use crate::client::{MessageError, SessionError};
use crate::reply::{EnhancedStatusCode, Reply, ReplyClass};

/// X.4.1 No answer from host (RFC 3463 §3.5).
pub(super) const NO_ANSWER: EnhancedStatusCode = EnhancedStatusCode::new_const(4, 4, 1);
/// X.4.2 Bad connection (RFC 3463 §3.5).
pub(super) const BAD_CONNECTION: EnhancedStatusCode = EnhancedStatusCode::new_const(4, 4, 2);

/// A failure of the whole attempt at a host, applied to every recipient the
/// host did not settle when the attempt ends.
#[derive(Debug, Clone)]
pub(super) struct HostFailure {
    pub(super) status: EnhancedStatusCode,
    pub(super) reply: Option<Reply>,
}

/// The reply's enhanced code, or `class.0.0` (RFC 3463 §3.1, "other
/// undefined status") for a server that sends none.
pub(super) fn status_of(reply: &Reply) -> EnhancedStatusCode {
    reply.enhanced().unwrap_or_else(|| {
        let class = match reply.code().class() {
            ReplyClass::PositiveCompletion | ReplyClass::PositiveIntermediate => 2,
            ReplyClass::TransientNegative => 4,
            ReplyClass::PermanentNegative => 5,
        };
        EnhancedStatusCode::new_const(class, 0, 0)
    })
}

/// The same subject and detail with class 4: a refusal by one host's
/// session, which another host, or the same one later, may not repeat.
pub(super) fn as_transient(status: EnhancedStatusCode) -> EnhancedStatusCode {
    EnhancedStatusCode::new(4, status.subject(), status.detail()).unwrap_or(BAD_CONNECTION)
}

/// How a failed session counts against the host: the greeting, hello,
/// TLS, AUTH and the connection are the host's trouble, not the message's,
/// so their status is transient; a message whose content was refused on
/// the way counts as [`message_failure`] says.
pub(super) fn session_failure(error: &SessionError) -> HostFailure {
    let status = |class, subject, detail| EnhancedStatusCode::new_const(class, subject, detail);
    let reply = match error {
        SessionError::ServiceClosing(reply)
        | SessionError::GreetingRefused(reply)
        | SessionError::HelloRefused(reply)
        | SessionError::StartTlsRefused(reply)
        | SessionError::AuthRejected(reply)
        | SessionError::AuthTemporaryFailure(reply)
        | SessionError::UnexpectedReply { reply, .. } => Some(reply.clone()),
        SessionError::ContentRefused(refused) => return message_failure(refused),
        _ => None,
    };
    let status = match (&reply, error) {
        (Some(reply), _) => as_transient(status_of(reply)),
        // RFC 3463: x.7.10 encryption needed; x.7.0 other security trouble.
        (None, SessionError::StartTlsNotOffered) => status(4, 7, 10),
        (
            None,
            SessionError::ResponseInjection
            | SessionError::AuthOverCleartext
            | SessionError::AuthNotOffered
            | SessionError::Sasl(_),
        ) => status(4, 7, 0),
        (None, SessionError::MalformedReply(_)) => status(4, 5, 0),
        // Timeouts, a lost connection, and the rest.
        (None, _) => BAD_CONNECTION,
    };
    HostFailure { status, reply }
}

/// How a message the session would not send to the host counts: one the
/// host cannot take as it is keeps a permanent status.
pub(super) fn message_failure(error: &MessageError) -> HostFailure {
    let status = |class, subject, detail| EnhancedStatusCode::new_const(class, subject, detail);
    let status = match error {
        MessageError::MessageTooLarge { .. } => EnhancedStatusCode::MESSAGE_TOO_BIG,
        // x.6.3: conversion required but not supported.
        MessageError::EightBitNotSupported | MessageError::BinaryMimeNotSupported => {
            status(5, 6, 3)
        }
        MessageError::SmtpUtf8NotSupported => EnhancedStatusCode::NON_ASCII_ADDRESS_NOT_PERMITTED,
        // x.7.30: REQUIRETLS (RFC 8689) cannot be honoured.
        MessageError::RequireTlsWithoutTls | MessageError::RequireTlsNotSupported => {
            EnhancedStatusCode::REQUIRETLS_REQUIRED
        }
        // x.3.3: system not capable of selected features.
        MessageError::DsnNotSupported | MessageError::ExtensionNotSupported(_) => status(5, 3, 3),
        // x.6.0: the content broke the line ending rules on the way out.
        MessageError::Content(_) => status(5, 6, 0),
        // A caller with the whole message checks its lines before sending
        // (`check_line_lengths`); found mid-stream, it counts as a broken
        // connection.
        MessageError::LineTooLong { .. } => BAD_CONNECTION,
    };
    HostFailure {
        status,
        reply: None,
    }
}
