//! [`EnhancedStatusCode`]: the `class.subject.detail` code of RFC 3463.

use core::fmt;
use core::str::FromStr;

use nom::branch::alt;
use nom::combinator::{map, not, opt, value};
use nom::sequence::terminated;
use nom::Parser;

use super::grammar::{digit, octet};
use super::{ReplyClass, ReplyError};

/// An enhanced mail system status code (RFC 3463, registry in RFC 5248), as
/// servers put it after the reply code when they advertise
/// ENHANCEDSTATUSCODES (RFC 2034).
///
/// The class is 2 (success), 4 (persistent transient failure) or 5 (permanent
/// failure); subject and detail are 0-999, written without leading zeros.
///
/// ```
/// use smtpwire::EnhancedStatusCode;
///
/// let code: EnhancedStatusCode = "5.7.26".parse().unwrap();
/// assert_eq!(code.subject(), 7);
/// assert_eq!(code.detail(), 26);
/// assert_eq!(code.meaning(), Some("Multiple authentication checks failed"));
/// assert_eq!(code.to_string(), "5.7.26");
/// assert!("5.07.1".parse::<EnhancedStatusCode>().is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EnhancedStatusCode {
    class: u8,
    subject: u16,
    detail: u16,
}

/// Longest enhanced code on the wire: `5.999.999`.
pub(crate) const MAX_ENHANCED_LEN: usize = 9;

impl EnhancedStatusCode {
    /// 2.0.0 Other undefined status (success)
    pub const OK: Self = Self::new_const(2, 0, 0);
    /// 2.1.0 Other address status: sender accepted
    pub const SENDER_OK: Self = Self::new_const(2, 1, 0);
    /// 2.1.5 Destination address valid
    pub const DESTINATION_VALID: Self = Self::new_const(2, 1, 5);
    /// 2.6.0 Other media status: message accepted
    pub const MESSAGE_OK: Self = Self::new_const(2, 6, 0);
    /// 2.7.0 Other security status: authentication or TLS succeeded
    pub const SECURITY_OK: Self = Self::new_const(2, 7, 0);
    /// 4.2.2 Mailbox full
    pub const MAILBOX_FULL: Self = Self::new_const(4, 2, 2);
    /// 4.3.0 Other or undefined mail system status
    pub const SYSTEM_TEMPORARY_FAILURE: Self = Self::new_const(4, 3, 0);
    /// 4.4.2 Bad connection
    pub const BAD_CONNECTION: Self = Self::new_const(4, 4, 2);
    /// 4.5.3 Too many recipients
    pub const TOO_MANY_RECIPIENTS: Self = Self::new_const(4, 5, 3);
    /// 4.7.0 Other or undefined security status (temporary authentication
    /// failure, greylisting, TLS unavailable)
    pub const SECURITY_TEMPORARY_FAILURE: Self = Self::new_const(4, 7, 0);
    /// 5.1.1 Bad destination mailbox address
    pub const BAD_DESTINATION_MAILBOX: Self = Self::new_const(5, 1, 1);
    /// 5.1.10 Recipient address has null MX (RFC 7505)
    pub const RECIPIENT_NULL_MX: Self = Self::new_const(5, 1, 10);
    /// 5.3.4 Message too big for system
    pub const MESSAGE_TOO_BIG: Self = Self::new_const(5, 3, 4);
    /// 5.5.1 Invalid command
    pub const INVALID_COMMAND: Self = Self::new_const(5, 5, 1);
    /// 5.5.2 Syntax error
    pub const SYNTAX_ERROR: Self = Self::new_const(5, 5, 2);
    /// 5.5.4 Invalid command arguments
    pub const INVALID_ARGUMENTS: Self = Self::new_const(5, 5, 4);
    /// 5.5.6 Authentication exchange line is too long (RFC 4954)
    pub const AUTH_LINE_TOO_LONG: Self = Self::new_const(5, 5, 6);
    /// 5.6.7 Non-ASCII addresses not permitted for that sender/recipient
    /// (RFC 6531)
    pub const NON_ASCII_ADDRESS_NOT_PERMITTED: Self = Self::new_const(5, 6, 7);
    /// 5.7.0 Other or undefined security status (authentication required)
    pub const SECURITY_FAILURE: Self = Self::new_const(5, 7, 0);
    /// 5.7.1 Delivery not authorized, message refused
    pub const DELIVERY_NOT_AUTHORIZED: Self = Self::new_const(5, 7, 1);
    /// 5.7.8 Authentication credentials invalid (RFC 4954)
    pub const AUTH_CREDENTIALS_INVALID: Self = Self::new_const(5, 7, 8);
    /// 5.7.9 Authentication mechanism is too weak (RFC 4954)
    pub const AUTH_MECHANISM_TOO_WEAK: Self = Self::new_const(5, 7, 9);
    /// 5.7.10 Encryption needed (RFC 5248)
    pub const ENCRYPTION_NEEDED: Self = Self::new_const(5, 7, 10);
    /// 5.7.11 Encryption required for requested authentication mechanism
    /// (RFC 4954)
    pub const ENCRYPTION_REQUIRED_FOR_MECHANISM: Self = Self::new_const(5, 7, 11);
    /// 5.7.30 REQUIRETLS support required (RFC 8689)
    pub const REQUIRETLS_REQUIRED: Self = Self::new_const(5, 7, 30);

    /// Checks each part against RFC 3463 §2.
    pub const fn new(class: u8, subject: u16, detail: u16) -> Result<Self, ReplyError> {
        if !matches!(class, 2 | 4 | 5) {
            return Err(ReplyError::InvalidEnhancedClass { class });
        }
        if subject > 999 || detail > 999 {
            return Err(ReplyError::MalformedEnhancedCode);
        }
        Ok(EnhancedStatusCode {
            class,
            subject,
            detail,
        })
    }

    /// A code for a constant.
    ///
    /// # Panics
    ///
    /// Panics when a part is out of range; in a `const` item that is a
    /// compile-time error.
    pub const fn new_const(class: u8, subject: u16, detail: u16) -> Self {
        match Self::new(class, subject, detail) {
            Ok(code) => code,
            Err(_) => panic!("enhanced status code outside RFC 3463 §2 ranges"),
        }
    }

    /// Parses exactly `class.subject.detail`.
    pub fn parse(input: &[u8]) -> Result<Self, ReplyError> {
        match Self::parse_prefix(input) {
            Some((code, len)) if len == input.len() => Ok(code),
            _ => Err(ReplyError::MalformedEnhancedCode),
        }
    }

    /// Reads a code at the start of `input`, returning it and its length.
    pub(crate) fn parse_prefix(input: &[u8]) -> Option<(Self, usize)> {
        let (rest, code) = status_code().parse_complete(input).ok()?;
        Some((code, input.len() - rest.len()))
    }

    /// Writes the code as on the wire; returns its length.
    pub(crate) fn write(self, out: &mut [u8; MAX_ENHANCED_LEN]) -> usize {
        let mut len = 0;
        let mut put = |byte: u8| {
            if let Some(slot) = out.get_mut(len) {
                *slot = byte;
                len += 1;
            }
        };
        put(b'0' + self.class);
        for part in [self.subject, self.detail] {
            put(b'.');
            // Each part is at most 999, so every digit below fits a byte.
            if part >= 100 {
                put(b'0' + (part / 100) as u8);
            }
            if part >= 10 {
                put(b'0' + ((part / 10) % 10) as u8);
            }
            put(b'0' + (part % 10) as u8);
        }
        len
    }

    /// The class digit: 2, 4 or 5.
    pub const fn class_digit(self) -> u8 {
        self.class
    }

    /// The class, in the terms of the reply code it must agree with.
    pub const fn class(self) -> ReplyClass {
        match self.class {
            2 => ReplyClass::PositiveCompletion,
            4 => ReplyClass::TransientNegative,
            _ => ReplyClass::PermanentNegative,
        }
    }

    /// The subject: which part of the mail system the status is about.
    pub const fn subject(self) -> u16 {
        self.subject
    }

    /// The detail within the subject.
    pub const fn detail(self) -> u16 {
        self.detail
    }

    /// What the subject covers (RFC 3463 §3), e.g. "Addressing status" for `x.1.y`.
    pub const fn subject_meaning(self) -> Option<&'static str> {
        Some(match self.subject {
            0 => "Other or undefined status",
            1 => "Addressing status",
            2 => "Mailbox status",
            3 => "Mail system status",
            4 => "Network and routing status",
            5 => "Mail delivery protocol status",
            6 => "Message content or media status",
            7 => "Security or policy status",
            _ => return None,
        })
    }

    /// The registered meaning of `subject.detail` (RFC 3463 §3, the RFC 5248
    /// registry and the RFCs that added to it), for callers that classify
    /// bounces. `None` for codes not in the registry.
    pub const fn meaning(self) -> Option<&'static str> {
        Some(match (self.subject, self.detail) {
            (0, 0) => "Other undefined status",
            (1, 0) => "Other address status",
            (1, 1) => "Bad destination mailbox address",
            (1, 2) => "Bad destination system address",
            (1, 3) => "Bad destination mailbox address syntax",
            (1, 4) => "Destination mailbox address ambiguous",
            (1, 5) => "Destination address valid",
            (1, 6) => "Destination mailbox has moved, no forwarding address",
            (1, 7) => "Bad sender's mailbox address syntax",
            (1, 8) => "Bad sender's system address",
            (1, 9) => "Message relayed to non-compliant mailer",
            (1, 10) => "Recipient address has null MX",
            (2, 0) => "Other or undefined mailbox status",
            (2, 1) => "Mailbox disabled, not accepting messages",
            (2, 2) => "Mailbox full",
            (2, 3) => "Message length exceeds administrative limit",
            (2, 4) => "Mailing list expansion problem",
            (3, 0) => "Other or undefined mail system status",
            (3, 1) => "Mail system full",
            (3, 2) => "System not accepting network messages",
            (3, 3) => "System not capable of selected features",
            (3, 4) => "Message too big for system",
            (3, 5) => "System incorrectly configured",
            (3, 6) => "Requested priority was changed",
            (4, 0) => "Other or undefined network or routing status",
            (4, 1) => "No answer from host",
            (4, 2) => "Bad connection",
            (4, 3) => "Directory server failure",
            (4, 4) => "Unable to route",
            (4, 5) => "Mail system congestion",
            (4, 6) => "Routing loop detected",
            (4, 7) => "Delivery time expired",
            (5, 0) => "Other or undefined protocol status",
            (5, 1) => "Invalid command",
            (5, 2) => "Syntax error",
            (5, 3) => "Too many recipients",
            (5, 4) => "Invalid command arguments",
            (5, 5) => "Wrong protocol version",
            (5, 6) => "Authentication exchange line is too long",
            (6, 0) => "Other or undefined media error",
            (6, 1) => "Media not supported",
            (6, 2) => "Conversion required and prohibited",
            (6, 3) => "Conversion required but not supported",
            (6, 4) => "Conversion with loss performed",
            (6, 5) => "Conversion failed",
            (6, 6) => "Message content not available",
            (6, 7) => "Non-ASCII addresses not permitted for that sender/recipient",
            (6, 8) | (6, 10) => "UTF-8 string reply is required, but not permitted by the client",
            (6, 9) => "UTF-8 header message cannot be transferred to one or more recipients",
            (7, 0) => "Other or undefined security status",
            (7, 1) => "Delivery not authorized, message refused",
            (7, 2) => "Mailing list expansion prohibited",
            (7, 3) => "Security conversion required but not possible",
            (7, 4) => "Security features not supported",
            (7, 5) => "Cryptographic failure",
            (7, 6) => "Cryptographic algorithm not supported",
            (7, 7) => "Message integrity failure",
            (7, 8) => "Authentication credentials invalid",
            (7, 9) => "Authentication mechanism is too weak",
            (7, 10) => "Encryption needed",
            (7, 11) => "Encryption required for requested authentication mechanism",
            (7, 12) => "A password transition is needed",
            (7, 13) => "User account disabled",
            (7, 14) => "Trust relationship required",
            (7, 15) => "Priority level is too low",
            (7, 16) => "Message is too big for the specified priority",
            (7, 17) => "Mailbox owner has changed",
            (7, 18) => "Domain owner has changed",
            (7, 19) => "RRVS test cannot be completed",
            (7, 20) => "No passing DKIM signature found",
            (7, 21) => "No acceptable DKIM signature found",
            (7, 22) => "No valid author-matched DKIM signature found",
            (7, 23) => "SPF validation failed",
            (7, 24) => "SPF validation error",
            (7, 25) => "Reverse DNS validation failed",
            (7, 26) => "Multiple authentication checks failed",
            (7, 27) => "Sender address has null MX",
            (7, 28) => "Mail flood detected",
            (7, 29) => "ARC validation failure",
            (7, 30) => "REQUIRETLS support required",
            _ => return None,
        })
    }
}

/// RFC 2034 §4, quoting RFC 1893 (now RFC 3463 §2):
///
/// ```text
/// status-code ::= class "." subject "." detail
/// ```
pub(crate) fn status_code<'a>() -> impl Parser<&'a [u8], Output = EnhancedStatusCode, Error = ()> {
    map(
        (
            class(),
            octet(|b| b == b'.'),
            subject(),
            octet(|b| b == b'.'),
            detail(),
        ),
        |(class, _, subject, _, detail)| EnhancedStatusCode {
            class,
            subject,
            detail,
        },
    )
}

/// RFC 2034 §4: `class ::= "2" / "4" / "5"`; the digit's value.
fn class<'a>() -> impl Parser<&'a [u8], Output = u8, Error = ()> {
    map(octet(|byte| matches!(byte, b'2' | b'4' | b'5')), |digit| {
        digit - b'0'
    })
}

/// RFC 2034 §4: `subject ::= 1*3digit`, written without leading zeros
/// (RFC 3463 §2: `"0"` or a digit 1-9 and up to two more).
fn subject<'a>() -> impl Parser<&'a [u8], Output = u16, Error = ()> {
    number_part()
}

/// RFC 2034 §4: `detail ::= 1*3digit`, written without leading zeros as
/// for [`subject`].
fn detail<'a>() -> impl Parser<&'a [u8], Output = u16, Error = ()> {
    number_part()
}

/// One to three digits without a leading zero, `"0" / %x31-39 0*2DIGIT`,
/// and no digit after it: a fourth digit makes the whole run no part at all
/// rather than a part followed by text.
fn number_part<'a>() -> impl Parser<&'a [u8], Output = u16, Error = ()> {
    terminated(
        alt((
            value(0, octet(|byte| byte == b'0')),
            map(
                (
                    octet(|byte| matches!(byte, b'1'..=b'9')),
                    opt(digit()),
                    opt(digit()),
                ),
                |(first, second, third)| {
                    let value = u16::from(first - b'0');
                    match (second, third) {
                        (Some(second), Some(third)) => {
                            value * 100 + u16::from(second) * 10 + u16::from(third)
                        }
                        (Some(second), None) => value * 10 + u16::from(second),
                        _ => value,
                    }
                },
            ),
        )),
        not(digit()),
    )
}

impl FromStr for EnhancedStatusCode {
    type Err = ReplyError;
    fn from_str(input: &str) -> Result<Self, ReplyError> {
        Self::parse(input.as_bytes())
    }
}

impl TryFrom<&str> for EnhancedStatusCode {
    type Error = ReplyError;
    fn try_from(input: &str) -> Result<Self, ReplyError> {
        Self::parse(input.as_bytes())
    }
}

impl fmt::Display for EnhancedStatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

impl fmt::Debug for EnhancedStatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EnhancedStatusCode({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use proptest::prelude::*;

    #[test]
    fn parses_rfc_3463_grammar() {
        let code = EnhancedStatusCode::parse(b"5.7.26").unwrap();
        assert_eq!(
            (code.class_digit(), code.subject(), code.detail()),
            (5, 7, 26)
        );
        assert_eq!(
            EnhancedStatusCode::parse(b"5.1.10"),
            Ok(EnhancedStatusCode::RECIPIENT_NULL_MX)
        );
        assert_eq!(
            EnhancedStatusCode::parse(b"2.0.0"),
            Ok(EnhancedStatusCode::OK)
        );
        assert_eq!(
            EnhancedStatusCode::parse(b"4.999.999")
                .map(|c| c.to_string())
                .as_deref(),
            Ok("4.999.999")
        );
        for bad in [
            "3.0.0", "6.1.1", "5.01.1", "5.1.01", "5.1000.1", "5.1.1000", "5.1", "5..1", "5.1.",
            "5.1.1 ", "5.1.1.1", "51.1.1", "", "5.a.1", "05.1.1",
        ] {
            assert!(EnhancedStatusCode::parse(bad.as_bytes()).is_err(), "{bad}");
        }
        assert_eq!(
            EnhancedStatusCode::parse(b"3.0.0"),
            Err(ReplyError::MalformedEnhancedCode)
        );
    }

    #[test]
    fn prefix_stops_at_the_code() {
        assert_eq!(
            EnhancedStatusCode::parse_prefix(b"2.1.5 Ok"),
            Some((EnhancedStatusCode::DESTINATION_VALID, 5))
        );
        assert_eq!(EnhancedStatusCode::parse_prefix(b"2.1.5000"), None);
    }

    #[test]
    fn constructor_checks_ranges() {
        assert_eq!(
            EnhancedStatusCode::new(3, 0, 0),
            Err(ReplyError::InvalidEnhancedClass { class: 3 })
        );
        assert_eq!(
            EnhancedStatusCode::new(5, 1000, 0),
            Err(ReplyError::MalformedEnhancedCode)
        );
        assert_eq!(
            EnhancedStatusCode::new(5, 7, 1),
            Ok(EnhancedStatusCode::DELIVERY_NOT_AUTHORIZED)
        );
    }

    #[test]
    fn meanings() {
        assert_eq!(
            EnhancedStatusCode::BAD_DESTINATION_MAILBOX.meaning(),
            Some("Bad destination mailbox address")
        );
        assert_eq!(
            EnhancedStatusCode::MAILBOX_FULL.subject_meaning(),
            Some("Mailbox status")
        );
        assert_eq!(EnhancedStatusCode::new_const(5, 7, 999).meaning(), None);
        assert_eq!(
            EnhancedStatusCode::new_const(5, 8, 0).subject_meaning(),
            None
        );
        assert_eq!(
            EnhancedStatusCode::SECURITY_TEMPORARY_FAILURE.class(),
            ReplyClass::TransientNegative
        );
    }

    proptest! {
        #[test]
        fn display_parse_roundtrip(class in prop_oneof![Just(2u8), Just(4), Just(5)], subject in 0u16..1000, detail in 0u16..1000) {
            let code = EnhancedStatusCode::new(class, subject, detail).unwrap();
            let text = code.to_string();
            let mut wire = [0; MAX_ENHANCED_LEN];
            let len = code.write(&mut wire);
            prop_assert_eq!(&wire[..len], text.as_bytes());
            prop_assert_eq!(EnhancedStatusCode::parse(text.as_bytes()), Ok(code));
        }

        #[test]
        fn parse_never_panics(input in proptest::collection::vec(any::<u8>(), 0..16)) {
            let _ = EnhancedStatusCode::parse(&input);
        }
    }
}
