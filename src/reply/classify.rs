//! What a reply or an enhanced status code means for a sender: retry or not,
//! and why it failed. The client session and the delivery rules share it.

use super::{EnhancedStatusCode, Reply, ReplyClass, ReplyCode};

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

impl Permanence {
    fn of_class(class: ReplyClass) -> Self {
        match class {
            ReplyClass::PositiveCompletion | ReplyClass::PositiveIntermediate => Self::Success,
            ReplyClass::TransientNegative => Self::Transient,
            ReplyClass::PermanentNegative => Self::Permanent,
        }
    }
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
    /// The server wants an encrypted connection: x.7.10 (RFC 5248), x.7.11
    /// (RFC 4954), x.7.30 REQUIRETLS (RFC 8689); 538 without an enhanced code.
    EncryptionRequired,
    /// Refused by policy or security: spam, reputation, authentication
    /// (other x.7.y, 530, 534, 535).
    Policy,
    /// Too many recipients or messages: slow down (x.5.3, x.4.5).
    RateLimited,
    /// The receiving system, network or routing has trouble (x.3.y, x.4.y),
    /// mail loops included (x.4.6).
    System,
    /// The client spoke out of turn or with bad syntax (x.5.y, 500-504).
    Protocol,
    /// Anything else.
    Other,
}

impl Cause {
    /// The cause an enhanced status code names, whatever its class.
    ///
    /// ```
    /// use smtpwire::reply::Cause;
    /// use smtpwire::EnhancedStatusCode;
    ///
    /// let cause = |code: &str| Cause::of_status(code.parse().unwrap());
    /// assert_eq!(cause("5.1.1"), Cause::BadMailbox);
    /// assert_eq!(cause("4.2.2"), Cause::MailboxFull);
    /// assert_eq!(cause("5.7.10"), Cause::EncryptionRequired);
    /// assert_eq!(cause("5.7.1"), Cause::Policy);
    /// assert_eq!(cause("5.2.3"), Cause::MessageTooBig);
    /// ```
    pub const fn of_status(status: EnhancedStatusCode) -> Self {
        // RFC 3463 §3 subjects and the RFC 5248 registry details.
        match (status.subject(), status.detail()) {
            (1, 1 | 2 | 3 | 6 | 10) => Cause::BadMailbox,
            (2, 1) => Cause::MailboxDisabled,
            (2, 2) => Cause::MailboxFull,
            (2, 3) | (3, 4) => Cause::MessageTooBig,
            (4, 5) | (5, 3) => Cause::RateLimited,
            (7, 10 | 11 | 30) => Cause::EncryptionRequired,
            (7, _) => Cause::Policy,
            (3 | 4, _) => Cause::System,
            (5, _) => Cause::Protocol,
            _ => Cause::Other,
        }
    }

    /// The cause a reply code alone suggests, for servers that send no
    /// enhanced code.
    const fn of_code(code: ReplyCode) -> Self {
        match code.as_u16() {
            550 | 551 | 553 => Cause::BadMailbox,
            452 | 552 => Cause::MailboxFull,
            538 => Cause::EncryptionRequired,
            530 | 534 | 535 => Cause::Policy,
            500..=504 | 555 => Cause::Protocol,
            421 | 451 => Cause::System,
            _ => Cause::Other,
        }
    }
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
    /// A permanent failure because the mailbox does not exist.
    pub fn is_hard_bounce(&self) -> bool {
        self.permanence == Permanence::Permanent && self.cause == Cause::BadMailbox
    }

    /// A permanent failure that says the address will never take mail: no
    /// such mailbox or domain, or a disabled mailbox. Such an address should
    /// come off a mailing list; other permanent failures (policy, content,
    /// size) say nothing about the address.
    pub fn is_dead_address(&self) -> bool {
        self.is_hard_bounce()
            || (self.permanence == Permanence::Permanent && self.cause == Cause::MailboxDisabled)
    }

    /// Classifies an enhanced status code on its own, e.g. one a delivery
    /// agent chose for a failure that had no reply (a null MX, a mail loop).
    ///
    /// ```
    /// use smtpwire::reply::{Cause, Classification, Permanence};
    /// use smtpwire::EnhancedStatusCode;
    ///
    /// let verdict = Classification::of_status(EnhancedStatusCode::MAILBOX_FULL);
    /// assert_eq!(verdict.permanence, Permanence::Transient);
    /// assert_eq!(verdict.cause, Cause::MailboxFull);
    /// ```
    pub fn of_status(status: EnhancedStatusCode) -> Self {
        let permanence = Permanence::of_class(status.class());
        let cause = match permanence {
            Permanence::Success => Cause::None,
            _ => Cause::of_status(status),
        };
        Classification { permanence, cause }
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
    let permanence = Permanence::of_class(code.class());
    let cause = match (permanence, reply.enhanced()) {
        (Permanence::Success, _) => Cause::None,
        (_, Some(enhanced)) => Cause::of_status(enhanced),
        (_, None) => Cause::of_code(code),
    };
    Classification { permanence, cause }
}
