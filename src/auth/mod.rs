//! SASL exchanges for SMTP AUTH (RFC 4954), without I/O.
//!
//! A server runs one [`ServerAuth`] per AUTH command: it turns the initial
//! response and each client line into a [`Step`] (a challenge to send after
//! `334 `, or the decoded [`Credentials`] for the caller to verify). A client
//! runs one [`ClientAuth`]: it produces the initial response and the answer to
//! each `334` challenge. Neither side checks a password or a token; that stays
//! with the caller, as does the decision to allow AUTH over cleartext.
//!
//! Mechanisms implemented: PLAIN (RFC 4616), LOGIN
//! (draft-murchison-sasl-login), XOAUTH2 (the Google and Microsoft bearer
//! token format) and, with the `scram` feature, SCRAM-SHA-256 and
//! SCRAM-SHA-256-PLUS on both sides and SCRAM-SHA-1 for clients (RFC 5802,
//! RFC 7677, RFC 9266; see [`scram`]). SCRAM is the exception to "neither
//! side checks a password": its server checks the proof against the
//! [`StoredKeys`] the caller looks up ([`Step::LookUpKeys`]). Other names
//! parse as [`Mechanism::Other`] so they can be offered, listed and refused
//! with the right reply.

mod client;
mod credentials;
#[cfg(test)]
mod exchange_tests;
mod message;
pub mod scram;
mod server;

pub use client::{ClientAuth, ClientAuthError};
pub use credentials::{
    Credentials, CredentialsError, Field, LoginCredentials, OAuthBearer, PlainCredentials, Secret,
    VerifiedIdentity,
};
pub use scram::{
    ChannelBinding, ScramClientError, ScramError, ScramHash, ScramUser, StandInSecret, StoredKeys,
    StoredKeysError,
};
pub use server::{AuthError, MalformedResponse, ServerAuth, Step};

use crate::limits::MAX_SASL_MECHANISM_NAME;
use crate::Text;
use alloc::string::String;
use bytes::Bytes;
use core::str::FromStr;

/// A SASL mechanism name as it appears in EHLO `AUTH` and on the AUTH command.
///
/// Names compare case-insensitively on the wire (RFC 4954 §4 uses the
/// RFC 4422 §3.1 names, which are upper case; servers take any case), so
/// parsing upper-cases them and the variants compare by value.
///
/// ```
/// use smtpwire::auth::Mechanism;
///
/// assert_eq!(Mechanism::parse(b"plain").unwrap(), Mechanism::Plain);
/// let scram = Mechanism::parse(b"scram-sha-256").unwrap();
/// assert_eq!(scram.as_str(), "SCRAM-SHA-256");
/// assert!(Mechanism::parse(b"BAD NAME").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Mechanism {
    /// `PLAIN`, RFC 4616.
    Plain,
    /// `LOGIN`, draft-murchison-sasl-login.
    Login,
    /// `XOAUTH2`, an OAuth 2.0 bearer token in the Google/Microsoft format.
    XOAuth2,
    /// `SCRAM-SHA-1`, RFC 5802; this crate runs its client side only.
    ScramSha1,
    /// `SCRAM-SHA-256`, RFC 7677.
    ScramSha256,
    /// `SCRAM-SHA-256-PLUS`, RFC 7677 with channel binding (RFC 5802 §6),
    /// here `tls-exporter` (RFC 9266).
    ScramSha256Plus,
    /// Any other well-formed name, upper-cased. This crate does not run it.
    Other(Text),
}

/// Why a mechanism name is not well formed (RFC 4422 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MechanismError {
    /// The name is empty.
    #[error("empty SASL mechanism name")]
    Empty,
    /// The name is longer than [`MAX_SASL_MECHANISM_NAME`] octets.
    #[error("SASL mechanism name longer than {MAX_SASL_MECHANISM_NAME} octets")]
    TooLong,
    /// The name holds a byte other than a letter, digit, `-` or `_`.
    #[error("byte {byte:#04x} is not allowed in a SASL mechanism name")]
    InvalidByte {
        /// The offending byte.
        byte: u8,
    },
}

impl Mechanism {
    /// Parses a mechanism name in any letter case.
    pub fn parse(name: &[u8]) -> Result<Self, MechanismError> {
        Mechanism::parse_with(name, |upper| {
            Text::from_parsed(Bytes::copy_from_slice(upper))
        })
    }

    /// Parses a name that is a slice of `line`; an upper-case name other than
    /// the known ones shares `line`'s buffer instead of being copied.
    pub(crate) fn parse_in(line: &Bytes, name: &[u8]) -> Result<Self, MechanismError> {
        Mechanism::parse_with(name, |upper| Text::from_parsed(line.slice_ref(upper)))
    }

    /// Checks the RFC 4422 §3.1 grammar and builds the value; `keep` makes
    /// the text of an already upper-case [`Mechanism::Other`] name.
    pub(crate) fn parse_with(
        name: &[u8],
        keep: impl FnOnce(&[u8]) -> Text,
    ) -> Result<Self, MechanismError> {
        if name.is_empty() {
            return Err(MechanismError::Empty);
        }
        if name.len() > MAX_SASL_MECHANISM_NAME {
            return Err(MechanismError::TooLong);
        }
        // RFC 4422 §3.1: upper-case letters, digits, hyphen, underscore;
        // lower case is accepted here and folded.
        if let Some(&byte) = name
            .iter()
            .find(|b| !(b.is_ascii_alphanumeric() || **b == b'-' || **b == b'_'))
        {
            return Err(MechanismError::InvalidByte { byte });
        }
        Ok(if name.eq_ignore_ascii_case(b"PLAIN") {
            Mechanism::Plain
        } else if name.eq_ignore_ascii_case(b"LOGIN") {
            Mechanism::Login
        } else if name.eq_ignore_ascii_case(b"XOAUTH2") {
            Mechanism::XOAuth2
        } else if name.eq_ignore_ascii_case(b"SCRAM-SHA-1") {
            Mechanism::ScramSha1
        } else if name.eq_ignore_ascii_case(b"SCRAM-SHA-256") {
            Mechanism::ScramSha256
        } else if name.eq_ignore_ascii_case(b"SCRAM-SHA-256-PLUS") {
            Mechanism::ScramSha256Plus
        } else if !name.iter().any(u8::is_ascii_lowercase) {
            Mechanism::Other(keep(name))
        } else {
            let upper: String = name
                .iter()
                .map(|b| char::from(b.to_ascii_uppercase()))
                .collect();
            Mechanism::Other(Text::from_parsed(upper.into()))
        })
    }

    /// The name as it goes on the wire, upper case.
    pub fn as_str(&self) -> &str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::Login => "LOGIN",
            Mechanism::XOAuth2 => "XOAUTH2",
            Mechanism::ScramSha1 => "SCRAM-SHA-1",
            Mechanism::ScramSha256 => "SCRAM-SHA-256",
            Mechanism::ScramSha256Plus => "SCRAM-SHA-256-PLUS",
            Mechanism::Other(name) => name.as_str(),
        }
    }

    /// Whether this crate runs the exchange for this mechanism, on the
    /// client side at least: SCRAM only with the `scram` feature, and
    /// SCRAM-SHA-1 for clients only.
    pub fn is_implemented(&self) -> bool {
        match self {
            Mechanism::Other(_) => false,
            Mechanism::ScramSha1 | Mechanism::ScramSha256 | Mechanism::ScramSha256Plus => {
                cfg!(feature = "scram")
            }
            Mechanism::Plain | Mechanism::Login | Mechanism::XOAuth2 => true,
        }
    }

    /// Whether this mechanism binds the exchange to the TLS channel, and so
    /// can only run where the transport gives a [`ChannelBinding`].
    pub fn needs_channel_binding(&self) -> bool {
        matches!(self, Mechanism::ScramSha256Plus)
    }
}

impl FromStr for Mechanism {
    type Err = MechanismError;
    fn from_str(name: &str) -> Result<Self, MechanismError> {
        Mechanism::parse(name.as_bytes())
    }
}

impl core::fmt::Display for Mechanism {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Picks the first mechanism in `preference` that the server `offered`.
///
/// The caller's order wins over the server's (RFC 4954 §4 leaves the choice
/// to the client). The preference list is the caller's own and short, so the
/// work is linear in what the server sent.
///
/// ```
/// use smtpwire::auth::{choose_mechanism, Mechanism};
///
/// let offered = [Mechanism::Login, Mechanism::Plain];
/// let preference = [Mechanism::XOAuth2, Mechanism::Plain, Mechanism::Login];
/// assert_eq!(choose_mechanism(&offered, &preference), Some(&Mechanism::Plain));
/// ```
pub fn choose_mechanism<'a>(
    offered: &[Mechanism],
    preference: &'a [Mechanism],
) -> Option<&'a Mechanism> {
    preference.iter().find(|wanted| offered.contains(wanted))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_known_names_in_any_case() {
        for (wire, mechanism) in [
            ("PLAIN", Mechanism::Plain),
            ("Login", Mechanism::Login),
            ("xoauth2", Mechanism::XOAuth2),
            ("scram-sha-1", Mechanism::ScramSha1),
            ("SCRAM-SHA-256", Mechanism::ScramSha256),
            ("Scram-Sha-256-Plus", Mechanism::ScramSha256Plus),
        ] {
            assert_eq!(mechanism.as_str().parse::<Mechanism>().unwrap(), mechanism);
            assert_eq!(wire.parse::<Mechanism>().unwrap(), mechanism);
        }
        let other = Mechanism::parse(b"cram-md5").unwrap();
        assert_eq!(other, Mechanism::Other(Text::from_static("CRAM-MD5")));
        assert!(!other.is_implemented());
        assert_eq!(alloc::format!("{}", Mechanism::XOAuth2), "XOAUTH2");
    }

    #[test]
    fn upper_case_names_share_the_line() {
        let line = Bytes::from_static(b"AUTH GSSAPI");
        let name = line.get(5..).unwrap_or_default();
        let Mechanism::Other(text) = Mechanism::parse_in(&line, name).unwrap() else {
            panic!()
        };
        assert_eq!(text.as_bytes().as_ptr(), name.as_ptr());
        let folded = Mechanism::parse_in(&line, b"gssapi").unwrap();
        assert_eq!(folded, Mechanism::Other(text));
    }

    #[test]
    fn refuses_malformed_names() {
        assert_eq!(Mechanism::parse(b""), Err(MechanismError::Empty));
        assert_eq!(
            Mechanism::parse(b"A23456789012345678901"),
            Err(MechanismError::TooLong)
        );
        assert!(Mechanism::parse(b"A2345678901234567890").is_ok());
        assert_eq!(
            Mechanism::parse(b"PLAIN\r\n"),
            Err(MechanismError::InvalidByte { byte: b'\r' })
        );
    }

    #[test]
    fn choice_follows_caller_preference() {
        let offered = [
            Mechanism::parse(b"SCRAM-SHA-1").unwrap(),
            Mechanism::Plain,
            Mechanism::Login,
        ];
        assert_eq!(
            choose_mechanism(&offered, &[Mechanism::Login, Mechanism::Plain]),
            Some(&Mechanism::Login)
        );
        assert_eq!(choose_mechanism(&offered, &[Mechanism::XOAuth2]), None);
        assert_eq!(choose_mechanism(&[], &[Mechanism::Plain]), None);
    }
}
