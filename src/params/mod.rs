//! ESMTP parameters of `MAIL` and `RCPT` (RFC 5321 §4.1.2 `esmtp-param`).
//!
//! Parameters of the extensions this crate knows are typed; any other
//! `keyword[=value]` is kept in order as a [`Parameter`], since whether it is
//! acceptable (or answered with 555) is the session's decision.

mod extension;
mod mail;
mod rcpt;

pub use extension::ParamExtension;
pub use mail::{
    AuthParam, BodyType, ByMode, DeliverBy, EnvelopeId, FutureRelease, HoldUntil, MailParameters,
    MtPriority, Ret,
};
pub use rcpt::{Notify, NotifyOn, Orcpt, OrcptType, RcptParameters};

use crate::address::{octet, octets1, piece, AddressError};
use crate::xtext::XtextError;
use crate::Text;
use bytes::Bytes;
use core::fmt;
use nom::combinator::{map_opt, verify};
use nom::Parser;

/// Why the parameters of a `MAIL` or `RCPT` command are not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    /// Two spaces in a row, or a space at the end.
    #[error("empty parameter")]
    Empty,
    /// The keyword is not `(ALPHA / DIGIT) *(ALPHA / DIGIT / "-")`.
    #[error("invalid parameter keyword")]
    InvalidKeyword,
    /// The value of an unknown parameter is empty or holds a byte `esmtp-value`
    /// does not allow.
    #[error("invalid value syntax for parameter {keyword}")]
    InvalidSyntax {
        /// The keyword as sent.
        keyword: Text,
    },
    /// A parameter that needs a value came without one.
    #[error("parameter {keyword} needs a value")]
    MissingValue {
        /// The parameter.
        keyword: &'static str,
    },
    /// A parameter that takes no value came with one.
    #[error("parameter {keyword} takes no value")]
    UnexpectedValue {
        /// The parameter.
        keyword: &'static str,
    },
    /// The value is outside what the parameter's RFC defines.
    #[error("invalid value for parameter {keyword}")]
    InvalidValue {
        /// The parameter.
        keyword: &'static str,
    },
    /// The same parameter twice in one command.
    #[error("parameter {keyword} given more than once")]
    Duplicate {
        /// The parameter.
        keyword: &'static str,
    },
    /// Two parameters that exclude each other (RFC 4865 §4: `HOLDFOR` and
    /// `HOLDUNTIL`).
    #[error("parameters {first} and {second} exclude each other")]
    Conflict {
        /// The one given first.
        first: &'static str,
        /// The one given second.
        second: &'static str,
    },
    /// The xtext or RFC 6533 encoding of the value is malformed.
    #[error("parameter {keyword}: {source}")]
    Encoding {
        /// The parameter.
        keyword: &'static str,
        /// What is wrong with the encoding.
        source: XtextError,
    },
    /// The value does not hold a valid mailbox.
    #[error("parameter {keyword}: {source}")]
    Address {
        /// The parameter.
        keyword: &'static str,
        /// What is wrong with the mailbox.
        source: AddressError,
    },
    /// A [`Parameter`] was built for a keyword that has a typed field.
    #[error("parameter {keyword} has a typed field")]
    Typed {
        /// The parameter.
        keyword: &'static str,
    },
}

/// A parameter this crate has no type for: `esmtp-keyword ["=" esmtp-value]`
/// (RFC 5321 §4.1.2; RFC 6531 §3.3 admits UTF-8 in the value).
///
/// [`Parameter::new`] refuses the keywords that have typed fields in
/// [`MailParameters`] or [`RcptParameters`], so whatever a caller puts in
/// `other` cannot clash with them on the wire.
///
/// ```
/// use smtpwire::Parameter;
///
/// let param = Parameter::new("X-TAG", Some("v1")).unwrap();
/// assert_eq!(param.to_string(), "X-TAG=v1");
/// assert!(Parameter::new("X TAG", None).is_err());
/// assert!(Parameter::new("X", Some("a=b")).is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Parameter {
    keyword: Text,
    value: Option<Text>,
}

impl Parameter {
    /// A parameter, checked against the `esmtp-keyword` and `esmtp-value` rules.
    pub fn new(keyword: &str, value: Option<&str>) -> Result<Self, ParamError> {
        let keyword_text = Text::new(keyword).map_err(|_| ParamError::InvalidKeyword)?;
        check_keyword(keyword.as_bytes())?;
        if let Some(typed) = Keyword::identify(keyword.as_bytes()) {
            return Err(ParamError::Typed {
                keyword: typed.as_str(),
            });
        }
        let value = match value {
            Some(value) => {
                let invalid = || ParamError::InvalidSyntax {
                    keyword: keyword_text.clone(),
                };
                if !is_esmtp_value(value.as_bytes()) {
                    return Err(invalid());
                }
                Some(Text::new(value).map_err(|_| invalid())?)
            }
            None => None,
        };
        Ok(Parameter {
            keyword: keyword_text,
            value,
        })
    }

    /// The keyword as sent.
    pub fn keyword(&self) -> &Text {
        &self.keyword
    }

    /// The value, if there is one.
    pub fn value(&self) -> Option<&Text> {
        self.value.as_ref()
    }
}

impl fmt::Display for Parameter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.keyword.as_str())?;
        if let Some(value) = &self.value {
            write!(f, "={value}")?;
        }
        Ok(())
    }
}

/// Keywords with a typed field in [`MailParameters`] or [`RcptParameters`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Keyword {
    Size,
    Body,
    SmtpUtf8,
    Ret,
    Envid,
    Auth,
    MtPriority,
    HoldFor,
    HoldUntil,
    By,
    RequireTls,
    Notify,
    Orcpt,
}

impl Keyword {
    /// Which typed keyword `keyword` is, in any case. The length leaves at
    /// most three names to compare.
    #[inline]
    pub(crate) fn identify(keyword: &[u8]) -> Option<Keyword> {
        use Keyword::*;
        let candidates: &[Keyword] = match keyword.len() {
            2 => &[By],
            3 => &[Ret],
            4 => &[Size, Body, Auth],
            5 => &[Envid, Orcpt],
            6 => &[Notify],
            7 => &[HoldFor],
            8 => &[SmtpUtf8],
            9 => &[HoldUntil],
            10 => &[RequireTls],
            11 => &[MtPriority],
            _ => &[],
        };
        candidates
            .iter()
            .copied()
            .find(|candidate| is_name(keyword, candidate.as_str()))
    }

    /// The keyword as written on the wire.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Keyword::Size => "SIZE",
            Keyword::Body => "BODY",
            Keyword::SmtpUtf8 => "SMTPUTF8",
            Keyword::Ret => "RET",
            Keyword::Envid => "ENVID",
            Keyword::Auth => "AUTH",
            Keyword::MtPriority => "MT-PRIORITY",
            Keyword::HoldFor => "HOLDFOR",
            Keyword::HoldUntil => "HOLDUNTIL",
            Keyword::By => "BY",
            Keyword::RequireTls => "REQUIRETLS",
            Keyword::Notify => "NOTIFY",
            Keyword::Orcpt => "ORCPT",
        }
    }
}

/// Whether `input`, made of keyword or value bytes, is `name` in any case.
///
/// Or-ing 0x20 lower-cases letters and leaves digits and `-` as they are;
/// only control bytes, which neither class holds, could fold onto them, so
/// the comparison is exact.
#[inline]
fn is_name(input: &[u8], name: &str) -> bool {
    input.len() == name.len()
        && input
            .iter()
            .zip(name.as_bytes())
            .all(|(&a, &b)| a | 0x20 == b | 0x20)
}

/// Byte classes of the parameter grammar, one table lookup per byte.
mod class {
    /// `ALPHA / DIGIT / "-"`: what an `esmtp-keyword` is made of.
    pub(super) const KEYWORD: u8 = 1;
    /// `%d33-60 / %d62-126` (RFC 5321 §4.1.2) and UTF-8 bytes (RFC 6531
    /// §3.3): what an `esmtp-value` is made of.
    pub(super) const VALUE: u8 = 2;

    const fn table() -> [u8; 256] {
        let mut table = [0u8; 256];
        let mut byte = 0;
        while byte < 256 {
            let b = byte as u8;
            if b.is_ascii_alphanumeric() || b == b'-' {
                table[byte] |= KEYWORD;
            }
            if matches!(b, 33..=60 | 62..=126) || b >= 0x80 {
                table[byte] |= VALUE;
            }
            byte += 1;
        }
        table
    }

    static TABLE: [u8; 256] = table();

    /// Whether `byte` is in `class`.
    #[inline]
    pub(super) fn is(byte: u8, class: u8) -> bool {
        TABLE[usize::from(byte)] & class != 0
    }
}

/// What the parameter rules return; which [`ParamError`] a mismatch is
/// depends on where it happens, so the rules name none themselves.
pub(crate) type Parsed<'a, O> = nom::IResult<&'a [u8], O, ()>;

/// `esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")` (RFC 5321
/// §4.1.2).
#[inline]
fn esmtp_keyword(input: &[u8]) -> Parsed<'_, &[u8]> {
    verify(
        octets1(|byte| class::is(byte, class::KEYWORD)),
        |keyword: &[u8]| keyword.first() != Some(&b'-'),
    )
    .parse(input)
}

/// `esmtp-value = 1*(%d33-60 / %d62-126)` (RFC 5321 §4.1.2), with
/// `esmtp-value =/ UTF8-non-ascii` (RFC 6531 §3.3): any printable ASCII but
/// `=`, and UTF-8.
#[inline]
fn esmtp_value(input: &[u8]) -> Parsed<'_, &[u8]> {
    octets1(|byte| class::is(byte, class::VALUE)).parse(input)
}

/// What `rule` makes of all of `input`, if it matches all of it.
#[inline]
fn whole<'a, O>(
    input: &'a [u8],
    mut rule: impl Parser<&'a [u8], Output = O, Error = ()>,
) -> Option<O> {
    match rule.parse(input) {
        Ok((&[], value)) => Some(value),
        _ => None,
    }
}

fn check_keyword(keyword: &[u8]) -> Result<(), ParamError> {
    if whole(keyword, esmtp_keyword).is_some() {
        Ok(())
    } else {
        Err(ParamError::InvalidKeyword)
    }
}

fn is_esmtp_value(value: &[u8]) -> bool {
    whole(value, esmtp_value).is_some()
}

/// One `keyword[=value]` as it appears on the line.
pub(crate) struct RawParam<'a> {
    pub(crate) keyword: &'a [u8],
    pub(crate) value: Option<&'a [u8]>,
}

impl RawParam<'_> {
    /// The typed keyword this parameter has, if any.
    #[inline]
    fn known(&self) -> Option<Keyword> {
        Keyword::identify(self.keyword)
    }

    fn value(&self, keyword: &'static str) -> Result<&[u8], ParamError> {
        self.value.ok_or(ParamError::MissingValue { keyword })
    }

    fn flag(&self, keyword: &'static str) -> Result<bool, ParamError> {
        match self.value {
            Some(_) => Err(ParamError::UnexpectedValue { keyword }),
            None => Ok(true),
        }
    }

    fn into_parameter(self, src: &Bytes) -> Parameter {
        Parameter {
            keyword: piece(src, self.keyword),
            value: self.value.map(|value| piece(src, value)),
        }
    }
}

/// Whether untyped parameters are all ASCII on the wire: only they can carry
/// UTF-8 (RFC 6531 §3.3); typed values are encoded.
fn values_are_ascii(other: &[Parameter]) -> bool {
    other
        .iter()
        .all(|p| p.value().map_or(true, |value| value.as_bytes().is_ascii()))
}

/// `esmtp-param = esmtp-keyword ["=" esmtp-value]` (RFC 5321 §4.1.2),
/// which must end at a space or the end of the line. A keyword that stops at
/// anything else is [`ParamError::InvalidKeyword`]; a value that is empty or
/// stops at anything else is [`ParamError::InvalidSyntax`].
#[inline]
fn esmtp_param(input: &[u8]) -> Result<(&[u8], RawParam<'_>), ParamError> {
    let (after, keyword) = esmtp_keyword(input).map_err(|_| ParamError::InvalidKeyword)?;
    let Ok((value_start, _)) = octet::<()>(b'=').parse(after) else {
        return match after.first() {
            None | Some(b' ') => Ok((
                after,
                RawParam {
                    keyword,
                    value: None,
                },
            )),
            Some(_) => Err(ParamError::InvalidKeyword),
        };
    };
    match esmtp_value(value_start) {
        Ok((tail, value)) if matches!(tail.first(), None | Some(b' ')) => Ok((
            tail,
            RawParam {
                keyword,
                value: Some(value),
            },
        )),
        _ => Err(ParamError::InvalidSyntax {
            keyword: Text::new(core::str::from_utf8(keyword).unwrap_or_default())
                .unwrap_or_default(),
        }),
    }
}

/// `Mail-parameters = esmtp-param *(SP esmtp-param)` and `Rcpt-parameters`
/// alike (RFC 5321 §4.1.2), each preceded by its space: calls `each` for
/// every ` keyword[=value]` in `input`, which is empty or starts with a
/// space. `extra_spaces` accepts runs of spaces where RFC 5321 has one.
#[inline]
pub(crate) fn for_each_param<'a>(
    input: &'a [u8],
    extra_spaces: bool,
    mut each: impl FnMut(RawParam<'a>) -> Result<(), ParamError>,
) -> Result<(), ParamError> {
    let mut rest = input;
    while let Some(mut param) = rest.strip_prefix(b" ") {
        if extra_spaces {
            let spaces = param.iter().take_while(|&&b| b == b' ').count();
            param = param.get(spaces..).unwrap_or_default();
        }
        if matches!(param.first(), None | Some(b' ')) {
            return Err(ParamError::Empty);
        }
        let (tail, raw) = esmtp_param(param)?;
        each(raw)?;
        rest = tail;
    }
    if rest.is_empty() {
        Ok(())
    } else {
        Err(ParamError::Empty)
    }
}

/// Stores `value` in an empty slot, or reports the duplicate.
fn set_once<T>(slot: &mut Option<T>, keyword: &'static str, value: T) -> Result<(), ParamError> {
    if slot.is_some() {
        return Err(ParamError::Duplicate { keyword });
    }
    *slot = Some(value);
    Ok(())
}

/// Sets a flag parameter once.
fn set_flag(flag: &mut bool, keyword: &'static str, raw: &RawParam<'_>) -> Result<(), ParamError> {
    if *flag {
        return Err(ParamError::Duplicate { keyword });
    }
    *flag = raw.flag(keyword)?;
    Ok(())
}

/// `1*max_digits DIGIT` as a number, with no overflow.
fn parse_digits(value: &[u8], max_digits: usize) -> Option<u64> {
    whole(value, digits(max_digits))
}

/// `1*max DIGIT` (the form of `size-value`, RFC 1870 §3, and of the other
/// numeric values), as a number; a mismatch if it overflows 64 bits.
#[inline]
fn digits<'a>(max: usize) -> impl Parser<&'a [u8], Output = u64, Error = ()> {
    map_opt(
        verify(
            octets1(|byte: u8| byte.is_ascii_digit()),
            move |digits: &[u8]| digits.len() <= max,
        ),
        |digits: &[u8]| {
            digits.iter().try_fold(0u64, |acc, &digit| {
                acc.checked_mul(10)?.checked_add(u64::from(digit - b'0'))
            })
        },
    )
}

/// Writes ` ` then the parameter.
fn write_param(f: &mut fmt::Formatter<'_>, param: fmt::Arguments<'_>) -> fmt::Result {
    f.write_str(" ")?;
    f.write_fmt(param)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    const ALL: [Keyword; 13] = [
        Keyword::Size,
        Keyword::Body,
        Keyword::SmtpUtf8,
        Keyword::Ret,
        Keyword::Envid,
        Keyword::Auth,
        Keyword::MtPriority,
        Keyword::HoldFor,
        Keyword::HoldUntil,
        Keyword::By,
        Keyword::RequireTls,
        Keyword::Notify,
        Keyword::Orcpt,
    ];

    #[test]
    fn each_keyword_is_known_in_any_case_and_nothing_near_it() {
        for keyword in ALL {
            let name = keyword.as_str().as_bytes();
            for mask in 0u32..1 << name.len() {
                let mixed: Vec<u8> = name
                    .iter()
                    .enumerate()
                    .map(|(i, &b)| {
                        if mask & 1 << i != 0 {
                            b.to_ascii_lowercase()
                        } else {
                            b
                        }
                    })
                    .collect();
                assert_eq!(Keyword::identify(&mixed), Some(keyword), "{mixed:?}");
            }
            // Any one octet changed, added or taken away is another name.
            for at in 0..name.len() {
                for byte in (b'0'..=b'9')
                    .chain(b'A'..=b'Z')
                    .chain(b'a'..=b'z')
                    .chain([b'-'])
                {
                    let mut near = name.to_vec();
                    near[at] = byte;
                    let expected = ALL
                        .into_iter()
                        .find(|k| k.as_str().as_bytes().eq_ignore_ascii_case(&near));
                    assert_eq!(Keyword::identify(&near), expected, "{near:?}");
                }
                let mut shorter = name.to_vec();
                shorter.remove(at);
                assert_eq!(Keyword::identify(&shorter), None, "{shorter:?}");
            }
            assert_eq!(Keyword::identify(&[name, b"X"].concat()), None);
        }
        assert_eq!(Keyword::identify(b""), None);
    }
}
