//! The status a report gives a reply or a failed session, and how a session
//! failure counts against the host it happened at.

use crate::client::ClientError;
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
fn as_transient(status: EnhancedStatusCode) -> EnhancedStatusCode {
    EnhancedStatusCode::new(4, status.subject(), status.detail()).unwrap_or(BAD_CONNECTION)
}

/// How a failed session, or a message the session would not send, counts
/// against the host. Only a message the host cannot take as it is keeps a
/// permanent status; the rest (greeting, hello, TLS, AUTH, the connection)
/// is the host's trouble, not the message's.
pub(super) fn session_failure(error: &ClientError) -> HostFailure {
    let status = |class, subject, detail| EnhancedStatusCode::new_const(class, subject, detail);
    let reply = match error {
        ClientError::ServiceClosing(reply)
        | ClientError::GreetingRefused(reply)
        | ClientError::HelloRefused(reply)
        | ClientError::StartTlsRefused(reply)
        | ClientError::AuthRejected(reply)
        | ClientError::AuthTemporaryFailure(reply)
        | ClientError::UnexpectedReply { reply, .. } => Some(reply.clone()),
        _ => None,
    };
    let status = match (&reply, error) {
        (Some(reply), _) => as_transient(status_of(reply)),
        // RFC 3463: x.7.10 encryption needed; x.7.0 other security trouble.
        (None, ClientError::StartTlsNotOffered) => status(4, 7, 10),
        (
            None,
            ClientError::ResponseInjection
            | ClientError::AuthOverCleartext
            | ClientError::AuthNotOffered
            | ClientError::Sasl(_),
        ) => status(4, 7, 0),
        (None, ClientError::MalformedReply(_)) => status(4, 5, 0),
        (None, ClientError::MessageTooLarge { .. }) => EnhancedStatusCode::MESSAGE_TOO_BIG,
        // x.6.3: conversion required but not supported.
        (None, ClientError::EightBitNotSupported | ClientError::BinaryMimeNotSupported) => {
            status(5, 6, 3)
        }
        (None, ClientError::SmtpUtf8NotSupported) => {
            EnhancedStatusCode::NON_ASCII_ADDRESS_NOT_PERMITTED
        }
        // x.7.30: REQUIRETLS (RFC 8689) cannot be honoured.
        (None, ClientError::RequireTlsWithoutTls | ClientError::RequireTlsNotSupported) => {
            EnhancedStatusCode::REQUIRETLS_REQUIRED
        }
        // x.3.3: system not capable of selected features.
        (None, ClientError::DsnNotSupported | ClientError::ExtensionNotSupported(_)) => {
            status(5, 3, 3)
        }
        // x.6.0: the content broke the line ending rules on the way out.
        (None, ClientError::Content(_)) => status(5, 6, 0),
        (None, ClientError::NoRecipients) => status(5, 5, 0),
        // Timeouts, a lost connection, and the rest.
        (None, _) => BAD_CONNECTION,
    };
    HostFailure { status, reply }
}
