//! [`ReplyCode`] and [`ReplyClass`]: the three-digit code that starts every reply line.

use core::fmt;

use nom::combinator::map;
use nom::Parser;

use super::grammar::octet;
use super::ReplyError;

/// What the first digit of a reply code says about the command (RFC 5321 §4.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ReplyClass {
    /// `2yz`: the action was completed.
    PositiveCompletion,
    /// `3yz`: accepted so far; the server waits for more (DATA content, an AUTH step).
    PositiveIntermediate,
    /// `4yz`: not done this time; the same request may succeed later.
    TransientNegative,
    /// `5yz`: not done, and repeating the request unchanged will not help.
    PermanentNegative,
}

impl ReplyClass {
    /// The class's first digit, as on the wire.
    pub const fn digit(self) -> u8 {
        match self {
            ReplyClass::PositiveCompletion => 2,
            ReplyClass::PositiveIntermediate => 3,
            ReplyClass::TransientNegative => 4,
            ReplyClass::PermanentNegative => 5,
        }
    }
}

/// A reply code that RFC 5321 §4.2 allows: first digit 2-5, second 0-5,
/// third 0-9.
///
/// Codes such as `999` or `260` cannot be built, so a value of this type can go
/// on the wire as is, and [`class`](Self::class) needs no fallback.
///
/// ```
/// use smtpwire::{ReplyClass, ReplyCode};
///
/// assert_eq!(ReplyCode::new(550).unwrap(), ReplyCode::MAILBOX_UNAVAILABLE);
/// assert_eq!(ReplyCode::MAILBOX_UNAVAILABLE.class(), ReplyClass::PermanentNegative);
/// assert!(ReplyCode::new(999).is_err());
///
/// // In a constant, an invalid code is a compile-time error.
/// const QUEUED: ReplyCode = ReplyCode::new_const(250);
/// assert!(QUEUED.is_positive());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReplyCode(u16);

impl ReplyCode {
    /// `220 <domain> Service ready`
    pub const SERVICE_READY: ReplyCode = ReplyCode::new_const(220);
    /// `221 <domain> Service closing transmission channel`
    pub const CLOSING: ReplyCode = ReplyCode::new_const(221);
    /// `235 Authentication succeeded` (RFC 4954 §6)
    pub const AUTH_SUCCEEDED: ReplyCode = ReplyCode::new_const(235);
    /// `250 Requested mail action okay, completed`
    pub const OK: ReplyCode = ReplyCode::new_const(250);
    /// `251 User not local; will forward`
    pub const USER_NOT_LOCAL_WILL_FORWARD: ReplyCode = ReplyCode::new_const(251);
    /// `252 Cannot VRFY user, but will accept message and attempt delivery`
    pub const CANNOT_VERIFY: ReplyCode = ReplyCode::new_const(252);
    /// `334` server challenge in an AUTH exchange (RFC 4954 §4)
    pub const AUTH_CHALLENGE: ReplyCode = ReplyCode::new_const(334);
    /// `354 Start mail input; end with <CRLF>.<CRLF>`
    pub const START_MAIL_INPUT: ReplyCode = ReplyCode::new_const(354);
    /// `421 <domain> Service not available, closing transmission channel`
    pub const SERVICE_NOT_AVAILABLE: ReplyCode = ReplyCode::new_const(421);
    /// `450 Requested mail action not taken: mailbox unavailable`
    pub const MAILBOX_TEMPORARILY_UNAVAILABLE: ReplyCode = ReplyCode::new_const(450);
    /// `451 Requested action aborted: local error in processing`
    pub const LOCAL_ERROR: ReplyCode = ReplyCode::new_const(451);
    /// `452 Requested action not taken: insufficient system storage`
    pub const INSUFFICIENT_STORAGE: ReplyCode = ReplyCode::new_const(452);
    /// `454 Temporary authentication failure` (RFC 4954 §6) or TLS not
    /// available (RFC 3207 §4)
    pub const TEMPORARY_AUTH_FAILURE: ReplyCode = ReplyCode::new_const(454);
    /// `500 Syntax error, command unrecognized`
    pub const SYNTAX_ERROR: ReplyCode = ReplyCode::new_const(500);
    /// `501 Syntax error in parameters or arguments`
    pub const PARAMETER_SYNTAX_ERROR: ReplyCode = ReplyCode::new_const(501);
    /// `502 Command not implemented`
    pub const COMMAND_NOT_IMPLEMENTED: ReplyCode = ReplyCode::new_const(502);
    /// `503 Bad sequence of commands`
    pub const BAD_SEQUENCE: ReplyCode = ReplyCode::new_const(503);
    /// `504 Command parameter not implemented`
    pub const PARAMETER_NOT_IMPLEMENTED: ReplyCode = ReplyCode::new_const(504);
    /// `530 Authentication required` (RFC 4954 §6) or `Must issue a STARTTLS
    /// command first` (RFC 3207 §4)
    pub const AUTH_REQUIRED: ReplyCode = ReplyCode::new_const(530);
    /// `534 Authentication mechanism is too weak` (RFC 4954 §6)
    pub const AUTH_MECHANISM_TOO_WEAK: ReplyCode = ReplyCode::new_const(534);
    /// `535 Authentication credentials invalid` (RFC 4954 §6)
    pub const AUTH_CREDENTIALS_INVALID: ReplyCode = ReplyCode::new_const(535);
    /// `538 Encryption required for requested authentication mechanism`
    /// (RFC 4954 §6)
    pub const ENCRYPTION_REQUIRED: ReplyCode = ReplyCode::new_const(538);
    /// `550 Requested action not taken: mailbox unavailable`
    pub const MAILBOX_UNAVAILABLE: ReplyCode = ReplyCode::new_const(550);
    /// `551 User not local; please try <forward-path>`
    pub const USER_NOT_LOCAL: ReplyCode = ReplyCode::new_const(551);
    /// `552 Requested mail action aborted: exceeded storage allocation`
    pub const EXCEEDED_STORAGE: ReplyCode = ReplyCode::new_const(552);
    /// `553 Requested action not taken: mailbox name not allowed`
    pub const MAILBOX_NAME_NOT_ALLOWED: ReplyCode = ReplyCode::new_const(553);
    /// `554 Transaction failed` (or, as a greeting, no SMTP service here)
    pub const TRANSACTION_FAILED: ReplyCode = ReplyCode::new_const(554);
    /// `555 MAIL FROM/RCPT TO parameters not recognized or not implemented`
    pub const PARAMETERS_NOT_RECOGNIZED: ReplyCode = ReplyCode::new_const(555);

    /// Checks `code` against the RFC 5321 §4.2 ranges.
    pub const fn new(code: u16) -> Result<Self, ReplyError> {
        if Self::is_valid(code) {
            Ok(ReplyCode(code))
        } else {
            Err(ReplyError::InvalidCode { code })
        }
    }

    /// A code for a constant.
    ///
    /// # Panics
    ///
    /// Panics when `code` is outside the RFC 5321 §4.2 ranges; in a `const`
    /// item that is a compile-time error.
    pub const fn new_const(code: u16) -> Self {
        assert!(
            Self::is_valid(code),
            "reply code outside RFC 5321 §4.2 ranges"
        );
        ReplyCode(code)
    }

    const fn is_valid(code: u16) -> bool {
        matches!(code / 100, 2..=5) && (code / 10) % 10 <= 5
    }

    /// The three digits as written on the wire.
    pub(crate) const fn digits(self) -> [u8; 3] {
        // `self.0` is in 200..=559, so each digit fits a byte.
        [
            b'0' + (self.0 / 100) as u8,
            b'0' + ((self.0 / 10) % 10) as u8,
            b'0' + (self.0 % 10) as u8,
        ]
    }

    /// The code as a number.
    pub const fn as_u16(self) -> u16 {
        self.0
    }

    /// What the first digit says about the outcome.
    pub const fn class(self) -> ReplyClass {
        match self.0 / 100 {
            2 => ReplyClass::PositiveCompletion,
            3 => ReplyClass::PositiveIntermediate,
            4 => ReplyClass::TransientNegative,
            _ => ReplyClass::PermanentNegative,
        }
    }

    /// `2yz` or `3yz`: the command was accepted (completed or in progress).
    pub const fn is_positive(self) -> bool {
        self.0 < 400
    }

    /// `4yz`: a temporary failure, worth retrying later.
    pub const fn is_transient(self) -> bool {
        self.0 / 100 == 4
    }

    /// `5yz`: a permanent failure.
    pub const fn is_permanent(self) -> bool {
        self.0 / 100 == 5
    }
}

/// RFC 5321 §4.2:
///
/// ```text
/// Reply-code     = %x32-35 %x30-35 %x30-39
/// ```
pub(crate) fn reply_code<'a>() -> impl Parser<&'a [u8], Output = ReplyCode, Error = ()> {
    map(
        (
            digit_in(b'2', b'5'),
            digit_in(b'0', b'5'),
            digit_in(b'0', b'9'),
        ),
        |(a, b, c)| ReplyCode(u16::from(a) * 100 + u16::from(b) * 10 + u16::from(c)),
    )
}

/// One digit from `low` to `high` (ABNF `%x32-35` and the like); its value.
fn digit_in<'a>(low: u8, high: u8) -> impl Parser<&'a [u8], Output = u8, Error = ()> {
    map(octet(move |byte| (low..=high).contains(&byte)), |digit| {
        digit - b'0'
    })
}

impl TryFrom<u16> for ReplyCode {
    type Error = ReplyError;
    fn try_from(code: u16) -> Result<Self, ReplyError> {
        ReplyCode::new(code)
    }
}

impl From<ReplyCode> for u16 {
    fn from(code: ReplyCode) -> u16 {
        code.0
    }
}

impl fmt::Debug for ReplyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ReplyCode({})", self.0)
    }
}

impl fmt::Display for ReplyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_exactly_the_rfc_ranges() {
        let valid = (0..=1000u16).filter(|&c| ReplyCode::new(c).is_ok()).count();
        // Four classes, six second digits, ten third digits.
        assert_eq!(valid, 4 * 6 * 10);
        for bad in [0, 199, 260, 999, 600, 1000, 569] {
            assert_eq!(
                ReplyCode::new(bad),
                Err(ReplyError::InvalidCode { code: bad })
            );
        }
        assert!(ReplyCode::new(559).is_ok());
    }

    #[test]
    fn digits_roundtrip() {
        let read = |digits: [u8; 3]| {
            reply_code()
                .parse_complete(&digits)
                .ok()
                .map(|(_, code)| code)
        };
        for code in (200..=559u16).filter_map(|c| ReplyCode::new(c).ok()) {
            assert_eq!(read(code.digits()), Some(code));
        }
        assert_eq!(read(*b"999"), None);
        assert_eq!(read(*b"2a0"), None);
        assert_eq!(read(*b"160"), None);
    }

    #[test]
    fn classes() {
        assert_eq!(ReplyCode::OK.class(), ReplyClass::PositiveCompletion);
        assert_eq!(
            ReplyCode::START_MAIL_INPUT.class(),
            ReplyClass::PositiveIntermediate
        );
        assert_eq!(
            ReplyCode::LOCAL_ERROR.class(),
            ReplyClass::TransientNegative
        );
        assert_eq!(
            ReplyCode::SYNTAX_ERROR.class(),
            ReplyClass::PermanentNegative
        );
        assert!(ReplyCode::START_MAIL_INPUT.is_positive());
        assert!(ReplyCode::SERVICE_NOT_AVAILABLE.is_transient());
        assert!(!ReplyCode::SERVICE_NOT_AVAILABLE.is_permanent());
        assert!(ReplyCode::PARAMETERS_NOT_RECOGNIZED.is_permanent());
        assert_eq!(ReplyCode::TEMPORARY_AUTH_FAILURE.class().digit(), 4);
    }
}
