//! Mailbox addresses and the paths of `MAIL` and `RCPT` (RFC 5321 §4.1.2,
//! §4.1.3), with the UTF-8 forms of RFC 6531.
//!
//! Every type parses from a string or, without copying, from a [`Bytes`]
//! buffer, and displays in its wire form. Values parsed out of a buffer are
//! reference-counted slices of it.

pub(crate) mod domain;
mod local_part;
pub(crate) mod mailbox;

pub use domain::{AddressLiteral, Domain, Host};
pub use local_part::LocalPart;
pub use mailbox::{ForwardPath, Mailbox, ReversePath};

use crate::text::check_line_text;
use crate::{Text, TextError};
use bytes::Bytes;
use nom::error::{ErrorKind, ParseError};

/// Why a domain, local part, mailbox or path is not valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    /// The domain does not follow `sub-domain *("." sub-domain)`.
    #[error("invalid domain syntax")]
    InvalidDomain,
    /// The domain is longer than [`crate::limits::MAX_DOMAIN_LEN`].
    #[error("domain of {len} octets is too long")]
    DomainTooLong {
        /// Its length in octets.
        len: usize,
    },
    /// An ASCII label is longer than [`crate::limits::MAX_DOMAIN_LABEL_LEN`].
    #[error("domain label of {len} octets is too long")]
    LabelTooLong {
        /// Its length in octets.
        len: usize,
    },
    /// The bracketed address literal is neither IPv4, IPv6 nor a general one.
    #[error("invalid address literal")]
    InvalidAddressLiteral,
    /// The local part is neither a dot-string nor a quoted-string.
    #[error("invalid local part syntax")]
    InvalidLocalPart,
    /// The local part is longer than [`crate::limits::MAX_LOCAL_PART_LEN`].
    #[error("local part of {len} octets is too long")]
    LocalPartTooLong {
        /// Its length in octets, quotes included.
        len: usize,
    },
    /// A mailbox has no `@` between local part and domain.
    #[error("mailbox has no @domain")]
    MissingDomain,
    /// The path holds something after the mailbox, or before its `<`.
    #[error("invalid path syntax")]
    InvalidPath,
    /// A path without its angle brackets, such as `bob@example.net`: paths
    /// are written `<bob@example.net>` (RFC 5321 §4.1.2). A bare address
    /// makes a path through [`ForwardPath::from_address`] or
    /// [`ReversePath::from_address`].
    #[error("a path needs angle brackets: <local-part@domain>, or <> for the null sender")]
    MissingAngleBrackets,
    /// The source route before the mailbox is malformed.
    #[error("invalid source route")]
    InvalidSourceRoute,
    /// The path is longer than [`crate::limits::MAX_PATH_LEN`], or a mailbox
    /// would not fit in one.
    #[error("path of {len} octets is too long")]
    PathTooLong {
        /// Its length in octets, angle brackets included.
        len: usize,
    },
    /// `<>` where a recipient is required.
    #[error("the null path is not a recipient")]
    NullRecipient,
    /// The input holds CR, LF or NUL, or is not UTF-8.
    #[error(transparent)]
    Text(#[from] TextError),
}

impl AddressError {
    /// Whether the error is about a length limit rather than the syntax:
    /// RFC 5321 §4.5.3.1 answers those with 501, syntax with 553.
    pub fn is_length(&self) -> bool {
        matches!(
            self,
            AddressError::DomainTooLong { .. }
                | AddressError::LabelTooLong { .. }
                | AddressError::LocalPartTooLong { .. }
                | AddressError::PathTooLong { .. }
        )
    }
}

/// How an address rule failed: `None` while no rule has named the fault (a
/// nom combinator inside it did not match), then the [`AddressError`] of the
/// innermost rule that did, which callers report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fault(pub(crate) Option<AddressError>);

impl<I> ParseError<I> for Fault {
    fn from_error_kind(_: I, _: ErrorKind) -> Self {
        Fault(None)
    }

    fn append(_: I, _: ErrorKind, other: Self) -> Self {
        other
    }
}

/// What the address rules return: the rest of the input and the value.
pub(crate) type Parsed<'a, O> = nom::IResult<&'a [u8], O, Fault>;

/// `parser` as a rule whose failures not yet named are `error`.
#[inline]
pub(crate) fn named<'a, O>(
    error: AddressError,
    mut parser: impl nom::Parser<&'a [u8], Output = O, Error = Fault>,
) -> impl nom::Parser<&'a [u8], Output = O, Error = Fault> {
    move |input| {
        parser
            .parse(input)
            .map_err(|fault| fault.map(|Fault(named)| Fault(Some(named.unwrap_or(error)))))
    }
}

/// A fault no further alternative may recover from.
#[inline]
pub(crate) fn failure<T>(error: AddressError) -> Result<T, nom::Err<Fault>> {
    Err(nom::Err::Failure(Fault(Some(error))))
}

/// One byte that satisfies `test`: nom's `satisfy` reads characters, the
/// grammar reads octets.
#[inline]
pub(crate) fn satisfy_byte<'a, E: ParseError<&'a [u8]>>(
    test: impl Fn(u8) -> bool,
) -> impl nom::Parser<&'a [u8], Output = u8, Error = E> {
    move |input: &'a [u8]| match input.split_first() {
        Some((&byte, rest)) if test(byte) => Ok((rest, byte)),
        _ => Err(nom::Err::Error(E::from_error_kind(
            input,
            ErrorKind::Satisfy,
        ))),
    }
}

/// One given octet.
#[inline]
pub(crate) fn octet<'a, E: ParseError<&'a [u8]>>(
    expected: u8,
) -> impl nom::Parser<&'a [u8], Output = u8, Error = E> {
    satisfy_byte(move |byte| byte == expected)
}

/// nom's `tag_no_case` for ASCII names, written out: nom's compares through
/// its `Compare` trait byte by byte and measured ten times slower than one
/// `eq_ignore_ascii_case` on the prefix.
#[inline]
pub(crate) fn no_case<'a, E: ParseError<&'a [u8]>>(
    name: &'static [u8],
) -> impl nom::Parser<&'a [u8], Output = &'a [u8], Error = E> {
    move |input: &'a [u8]| match input.get(..name.len()) {
        Some(head) if head.eq_ignore_ascii_case(name) => Ok((&input[name.len()..], head)),
        _ => Err(nom::Err::Error(E::from_error_kind(input, ErrorKind::Tag))),
    }
}

/// nom's `take_while1` over octets, written out: nom's own goes through
/// `Input::take_split`, a non-generic function that is not inlined across
/// crates and made the address rules a fifth slower in the benchmark.
#[inline]
pub(crate) fn octets1<'a, E: ParseError<&'a [u8]>>(
    test: impl Fn(u8) -> bool,
) -> impl nom::Parser<&'a [u8], Output = &'a [u8], Error = E> {
    move |input: &'a [u8]| {
        let len = input
            .iter()
            .position(|&byte| !test(byte))
            .unwrap_or(input.len());
        if len == 0 {
            return Err(nom::Err::Error(E::from_error_kind(
                input,
                ErrorKind::TakeWhile1,
            )));
        }
        let (run, rest) = input.split_at(len);
        Ok((rest, run))
    }
}

/// The result of a top-level rule: the value and the length it used, or the
/// error it named (`unnamed` if none did).
#[inline]
pub(crate) fn finish<'a, O>(
    input: &'a [u8],
    parsed: Parsed<'a, O>,
    unnamed: AddressError,
) -> Result<(O, usize), AddressError> {
    match parsed {
        Ok((rest, value)) => Ok((value, input.len() - rest.len())),
        Err(nom::Err::Error(Fault(named)) | nom::Err::Failure(Fault(named))) => {
            Err(named.unwrap_or(unnamed))
        }
        // Every rule reads complete input, which never asks for more.
        Err(nom::Err::Incomplete(_)) => Err(unnamed),
    }
}

/// Byte classes for the scanners, one table lookup per byte.
pub(crate) mod class {
    /// Letters, digits, hyphen and UTF-8 bytes: what domain labels are made of.
    pub(crate) const LABEL: u8 = 1;
    /// `atext` (RFC 5322 §3.2.3) and UTF-8 bytes (RFC 6531 §3.3).
    pub(crate) const ATEXT: u8 = 2;
    /// The dot that joins labels and atoms.
    pub(crate) const DOT: u8 = 4;
    /// The hyphen, which a label may not start or end with.
    pub(crate) const HYPHEN: u8 = 8;

    const fn table() -> [u8; 256] {
        let mut table = [0u8; 256];
        let mut byte = 0;
        while byte < 256 {
            let b = byte as u8;
            let alnum = b.is_ascii_alphanumeric();
            if alnum || b == b'-' || b >= 0x80 {
                table[byte] |= LABEL;
            }
            let specials = b"!#$%&'*+-/=?^_`{|}~";
            let mut i = 0;
            let mut special = false;
            while i < specials.len() {
                special |= specials[i] == b;
                i += 1;
            }
            if alnum || special || b >= 0x80 {
                table[byte] |= ATEXT;
            }
            if b == b'.' {
                table[byte] |= DOT;
            }
            if b == b'-' {
                table[byte] |= HYPHEN;
            }
            byte += 1;
        }
        table
    }

    static TABLE: [u8; 256] = table();

    /// Whether `byte` is in `class`.
    #[inline]
    pub(crate) fn is(byte: u8, class: u8) -> bool {
        of(byte) & class != 0
    }

    /// Every class `byte` is in.
    #[inline]
    pub(crate) fn of(byte: u8) -> u8 {
        TABLE[usize::from(byte)]
    }

    /// How many bytes at the start of `input` are in `class`.
    #[cfg(test)]
    pub(crate) fn run(input: &[u8], class: u8) -> usize {
        input
            .iter()
            .position(|&b| !is(b, class))
            .unwrap_or(input.len())
    }
}

/// A parsed piece of `src` as [`Text`], without copying.
///
/// Callers pass sub-slices of `src` that their grammar has proven line-safe;
/// since they split only at ASCII bytes of a UTF-8 input, the piece is UTF-8.
pub(crate) fn piece(src: &Bytes, sub: &[u8]) -> Text {
    Text::from_parsed(src.slice_ref(sub))
}

/// Checks that a whole input is line-safe UTF-8 and runs `scan`, which must
/// consume all of it.
pub(crate) fn parse_whole<T>(
    src: &Bytes,
    scan: impl FnOnce(&Bytes, &[u8]) -> Result<(T, usize), AddressError>,
    trailing: AddressError,
) -> Result<T, AddressError> {
    check_line_text(src)?;
    let (value, used) = scan(src, src)?;
    if used != src.len() {
        return Err(trailing);
    }
    Ok(value)
}

/// Implements `parse(&str)`, `parse_bytes(&Bytes)`, `FromStr` and
/// `TryFrom<&str>` for an
/// address type from its prefix scanner.
macro_rules! whole_input_parsers {
    ($ty:ty, $scan:path, $trailing:expr) => {
        impl $ty {
            /// Parses the whole of `input`.
            pub fn parse(input: &str) -> Result<Self, $crate::address::AddressError> {
                Self::parse_bytes(&bytes::Bytes::copy_from_slice(input.as_bytes()))
            }

            /// Parses the whole of `input`; the value shares its buffer.
            pub fn parse_bytes(
                input: &bytes::Bytes,
            ) -> Result<Self, $crate::address::AddressError> {
                $crate::address::parse_whole(input, $scan, $trailing)
            }
        }

        impl core::str::FromStr for $ty {
            type Err = $crate::address::AddressError;
            fn from_str(input: &str) -> Result<Self, Self::Err> {
                Self::parse(input)
            }
        }

        /// `"…".try_into()?` where a constructor takes the value.
        impl TryFrom<&str> for $ty {
            type Error = $crate::address::AddressError;
            fn try_from(input: &str) -> Result<Self, Self::Error> {
                Self::parse(input)
            }
        }
    };
}
pub(crate) use whole_input_parsers;
