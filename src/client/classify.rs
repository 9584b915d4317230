//! What a reply means for a sender who keeps its lists clean.

use crate::reply::{Reply, ReplyClass};

/// Whether a reply is final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permanence {
    /// 2yz or 3yz: done, or going on.
    Success,
    /// 4yz: try again later.
    Transient,
    /// 5yz: do not try again unchanged.
    Permanent,
}

/// The cause a failure reply names, from its enhanced status code (RFC 3463,
/// RFC 5248) when it has one and from the reply code otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cause {
    /// Not a failure.
    None,
    /// The mailbox does not exist or its address is wrong (x.1.1, x.1.2,
    /// x.1.3, x.1.6, x.1.10; 550 and 551 without an enhanced code).
    BadMailbox,
    /// The mailbox is disabled (x.2.1).
    MailboxDisabled,
    /// The mailbox is full (x.2.2; 452 and 552 without an enhanced code).
    MailboxFull,
    /// The message is too big (x.2.3, x.3.4).
    MessageTooBig,
    /// Refused by policy or security: spam, reputation, authentication
    /// (x.7.y, 530, 534, 535, 538).
    Policy,
    /// Too many recipients or messages: slow down (x.5.3, x.4.5).
    RateLimited,
    /// The receiving system, network or routing has trouble (x.3.y, x.4.y).
    System,
    /// The client spoke out of turn or with bad syntax (x.5.y, 500-504).
    Protocol,
    /// Anything else.
    Other,
}

/// A reply's permanence and cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Classification {
    /// Whether to retry.
    pub permanence: Permanence,
    /// Why it failed.
    pub cause: Cause,
}

impl Classification {
    /// A permanent failure because the mailbox does not exist: the address
    /// should come off the list.
    pub fn is_hard_bounce(&self) -> bool {
        self.permanence == Permanence::Permanent && self.cause == Cause::BadMailbox
    }
}

/// Classifies a reply, e.g. a rejected recipient or a refused message.
///
/// ```
/// use smtpwire::client::{classify, Cause, Permanence};
/// use smtpwire::{EnhancedStatusCode, Reply, ReplyCode, Text};
///
/// let reply = Reply::with_enhanced(
///     ReplyCode::MAILBOX_UNAVAILABLE,
///     EnhancedStatusCode::BAD_DESTINATION_MAILBOX,
///     Text::from_static("No such user"),
/// )
/// .unwrap();
/// let verdict = classify(&reply);
/// assert_eq!(verdict.permanence, Permanence::Permanent);
/// assert_eq!(verdict.cause, Cause::BadMailbox);
/// assert!(verdict.is_hard_bounce());
/// ```
pub fn classify(reply: &Reply) -> Classification {
    let code = reply.code();
    let permanence = match code.class() {
        ReplyClass::PositiveCompletion | ReplyClass::PositiveIntermediate => Permanence::Success,
        ReplyClass::TransientNegative => Permanence::Transient,
        ReplyClass::PermanentNegative => Permanence::Permanent,
    };
    let cause = if permanence == Permanence::Success {
        Cause::None
    } else if let Some(enhanced) = reply.enhanced() {
        match (enhanced.subject(), enhanced.detail()) {
            (1, 1 | 2 | 3 | 6 | 10) => Cause::BadMailbox,
            (2, 1) => Cause::MailboxDisabled,
            (2, 2) => Cause::MailboxFull,
            (2, 3) | (3, 4) => Cause::MessageTooBig,
            (4, 5) | (5, 3) => Cause::RateLimited,
            (7, _) => Cause::Policy,
            (3 | 4, _) => Cause::System,
            (5, _) => Cause::Protocol,
            _ => Cause::Other,
        }
    } else {
        match code.as_u16() {
            550 | 551 | 553 => Cause::BadMailbox,
            452 | 552 => Cause::MailboxFull,
            530 | 534 | 535 | 538 => Cause::Policy,
            500..=504 | 555 => Cause::Protocol,
            421 | 451 => Cause::System,
            _ => Cause::Other,
        }
    };
    Classification { permanence, cause }
}
