//! The encodings ESMTP parameters use for values that may hold any
//! character: xtext (RFC 3461 §4) and, for UTF-8 addresses,
//! `utf-8-addr-xtext` and `utf-8-addr-unitext` (RFC 6533 §3).
//!
//! Encoders are `Display` wrappers, so a value is encoded straight into
//! whatever it is written to:
//!
//! ```
//! use smtpwire::xtext::{self, Xtext, Utf8AddrXtext};
//!
//! assert_eq!(Xtext(b"a+b=c d").to_string(), "a+2Bb+3Dc+20d");
//! assert_eq!(&*xtext::decode(b"a+2Bb").unwrap(), b"a+b");
//! assert_eq!(Utf8AddrXtext("用户@example.com").to_string(), r"\x{7528}\x{6237}@example.com");
//! assert_eq!(xtext::decode_utf8_addr(r"\x{7528}\x{6237}@example.com").unwrap(), "用户@example.com");
//! ```

use crate::address::{octet, octets1, satisfy_byte};
use crate::text::check_line_safe;
use crate::Text;
use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;
use bytes::Bytes;
use core::fmt::{self, Write};
use nom::bytes::complete::{tag, take_while_m_n};
use nom::combinator::{map, map_opt};
use nom::sequence::{delimited, preceded};
use nom::Parser;

/// Why an encoded value cannot be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum XtextError {
    /// A byte the encoding does not allow unescaped.
    #[error("byte {byte:#04x} at offset {offset} must be escaped")]
    InvalidByte {
        /// The byte.
        byte: u8,
        /// Its position in the encoded value.
        offset: usize,
    },
    /// A `+XX` or `\x{…}` escape that is malformed.
    #[error("malformed escape at offset {offset}")]
    InvalidEscape {
        /// Where the escape starts.
        offset: usize,
    },
    /// The value is empty where the grammar wants at least one character.
    #[error("empty value")]
    Empty,
    /// The decoded value holds CR, LF or NUL: a value meant to be copied into
    /// headers must not be able to start a new line (CVE-2020-28021).
    #[error("decoded value holds forbidden byte {byte:#04x}")]
    ForbiddenDecoded {
        /// The decoded byte.
        byte: u8,
    },
    /// The decoded value is not UTF-8.
    #[error("decoded value is not UTF-8")]
    InvalidUtf8,
}

/// `xchar = any ASCII CHAR between "!" (33) and "~" (126) inclusive, except
/// for "+" and "="` (RFC 3461 §4).
#[inline]
fn is_xchar(byte: u8) -> bool {
    matches!(byte, b'!'..=b'~') && byte != b'+' && byte != b'='
}

/// `QCHAR = %x21-2a / %x2c-3c / %x3e-5b / %x5d-7e` (RFC 6533 §3): `!` to
/// `~` except `+`, `=` and `\`.
fn is_qchar(byte: u8) -> bool {
    matches!(byte, b'!'..=b'~') && !matches!(byte, b'+' | b'=' | b'\\')
}

/// What the encoding rules return; the error is decided by the caller, which
/// knows the offset.
type Parsed<'a, O> = nom::IResult<&'a [u8], O, ()>;

/// A run of `xchar`s.
#[inline]
fn xchars(input: &[u8]) -> Parsed<'_, &[u8]> {
    octets1(is_xchar).parse(input)
}

/// `hexchar = ASCII "+" immediately followed by two upper case hexadecimal
/// digits` (RFC 3461 §4), as the octet it stands for.
fn hexchar(input: &[u8]) -> Parsed<'_, u8> {
    let upper_hex = || satisfy_byte(|byte| byte.is_ascii_digit() || (b'A'..=b'F').contains(&byte));
    map(
        preceded(octet(b'+'), (upper_hex(), upper_hex())),
        |(high, low)| hex_value(high) << 4 | hex_value(low),
    )
    .parse(input)
}

/// The value of a hexadecimal digit already checked to be one.
fn hex_value(digit: u8) -> u8 {
    match digit {
        b'0'..=b'9' => digit - b'0',
        b'a'..=b'f' => digit - b'a' + 10,
        _ => digit.wrapping_sub(b'A').wrapping_add(10),
    }
}

/// Decodes xtext: borrowed when it holds no `+XX` escape.
///
/// `xtext = *( xchar / hexchar )` (RFC 3461 §4). Escapes take upper-case hex
/// digits only, as RFC 3461 §4 writes them.
pub fn decode(input: &[u8]) -> Result<Cow<'_, [u8]>, XtextError> {
    if memchr::memchr(b'+', input).is_none() {
        check_run(input, xchars)?;
        return Ok(Cow::Borrowed(input));
    }
    let mut decoded = Vec::with_capacity(input.len());
    let mut rest = input;
    while let Some(&byte) = rest.first() {
        let offset = input.len() - rest.len();
        if let Ok((after, run)) = xchars(rest) {
            decoded.extend_from_slice(run);
            rest = after;
        } else if let Ok((after, escaped)) = hexchar(rest) {
            decoded.push(escaped);
            rest = after;
        } else if byte == b'+' {
            return Err(XtextError::InvalidEscape { offset });
        } else {
            return Err(XtextError::InvalidByte { byte, offset });
        }
    }
    Ok(Cow::Owned(decoded))
}

/// Checks that all of `input` is one run of `rule`'s characters, naming the
/// first byte that is not.
fn check_run<'a>(
    input: &'a [u8],
    mut rule: impl Parser<&'a [u8], Output = &'a [u8], Error = ()>,
) -> Result<(), XtextError> {
    let rest = match rule.parse(input) {
        Ok((rest, _)) => rest,
        Err(_) => input,
    };
    match rest.first() {
        Some(&byte) => Err(XtextError::InvalidByte {
            byte,
            offset: input.len() - rest.len(),
        }),
        None => Ok(()),
    }
}

/// A run of `QCHAR`s and, in the `utf-8-addr-unitext` form, UTF-8
/// (RFC 6533 §3).
#[inline]
fn qchars(input: &[u8]) -> Parsed<'_, &[u8]> {
    octets1(|byte: u8| !byte.is_ascii() || is_qchar(byte)).parse(input)
}

/// `EmbeddedUnicodeChar = %x5C.78 "{" HEXPOINT "}"` (RFC 6533 §3), as the
/// character it stands for. Any scalar value of one to six hex digits is
/// taken, not only those `HEXPOINT` lists, so that every correct encoder's
/// output decodes.
fn embedded_unicode_char(input: &[u8]) -> Parsed<'_, char> {
    map_opt(
        delimited(
            tag(&b"\\x{"[..]),
            take_while_m_n(1, 6, |byte: u8| byte.is_ascii_hexdigit()),
            octet(b'}'),
        ),
        |hex: &[u8]| {
            let scalar = hex
                .iter()
                .fold(0u32, |acc, &digit| acc << 4 | u32::from(hex_value(digit)));
            char::from_u32(scalar)
        },
    )
    .parse(input)
}

/// Decodes the `utf-8-addr-xtext` or `utf-8-addr-unitext` form of RFC 6533
/// §3: `1*(QCHAR / EmbeddedUnicodeChar)`, the unitext form also taking UTF-8.
pub fn decode_utf8_addr(input: &str) -> Result<Cow<'_, str>, XtextError> {
    if input.is_empty() {
        return Err(XtextError::Empty);
    }
    let bytes = input.as_bytes();
    if memchr::memchr(b'\\', bytes).is_none() {
        check_run(bytes, qchars)?;
        return Ok(Cow::Borrowed(input));
    }
    let mut decoded = String::with_capacity(input.len());
    let mut rest = bytes;
    while let Some(&byte) = rest.first() {
        let offset = bytes.len() - rest.len();
        if let Ok((after, _)) = qchars(rest) {
            // The run ends at an ASCII byte or the end, so it is whole UTF-8.
            decoded.push_str(
                input
                    .get(offset..bytes.len() - after.len())
                    .unwrap_or_default(),
            );
            rest = after;
        } else if let Ok((after, ch)) = embedded_unicode_char(rest) {
            decoded.push(ch);
            rest = after;
        } else if byte == b'\\' {
            return Err(XtextError::InvalidEscape { offset });
        } else {
            return Err(XtextError::InvalidByte { byte, offset });
        }
    }
    Ok(Cow::Owned(decoded))
}

/// Decodes xtext that is a slice of `src` into line-safe [`Text`], sharing
/// `src` when nothing was escaped.
pub(crate) fn decode_text(src: &Bytes, input: &[u8]) -> Result<Text, XtextError> {
    match decode(input)? {
        Cow::Borrowed(raw) => Ok(crate::address::piece(src, raw)),
        Cow::Owned(decoded) => owned_text(decoded),
    }
}

/// Decodes an RFC 6533 value that is a slice of `src` into line-safe [`Text`].
pub(crate) fn decode_utf8_addr_text(src: &Bytes, input: &[u8]) -> Result<Text, XtextError> {
    let input = core::str::from_utf8(input).map_err(|_| XtextError::InvalidUtf8)?;
    match decode_utf8_addr(input)? {
        Cow::Borrowed(raw) => Ok(crate::address::piece(src, raw.as_bytes())),
        Cow::Owned(decoded) => owned_text(decoded.into_bytes()),
    }
}

fn owned_text(decoded: Vec<u8>) -> Result<Text, XtextError> {
    check_line_safe(&decoded).map_err(|_| XtextError::ForbiddenDecoded {
        byte: decoded
            .iter()
            .copied()
            .find(|b| matches!(b, b'\r' | b'\n' | 0))
            .unwrap_or_default(),
    })?;
    let decoded = String::from_utf8(decoded).map_err(|_| XtextError::InvalidUtf8)?;
    Text::try_from(decoded).map_err(|_| XtextError::InvalidUtf8)
}

/// Displays bytes as xtext: `+XX` for every byte that is not an `xchar`.
#[derive(Debug, Clone, Copy)]
pub struct Xtext<'a>(pub &'a [u8]);

impl fmt::Display for Xtext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while !rest.is_empty() {
            let plain = rest
                .iter()
                .position(|&b| !is_xchar(b))
                .unwrap_or(rest.len());
            let (run, tail) = rest.split_at(plain);
            // xchars are ASCII, so the run is UTF-8.
            f.write_str(core::str::from_utf8(run).unwrap_or_default())?;
            if let Some((&byte, tail)) = tail.split_first() {
                write!(f, "+{byte:02X}")?;
                rest = tail;
            } else {
                rest = tail;
            }
        }
        Ok(())
    }
}

/// Displays a UTF-8 address as `utf-8-addr-xtext` (RFC 6533 §3): ASCII only,
/// fit for `ORCPT` whether or not SMTPUTF8 is in use.
#[derive(Debug, Clone, Copy)]
pub struct Utf8AddrXtext<'a>(pub &'a str);

impl fmt::Display for Utf8AddrXtext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_utf8_addr(self.0, f, false)
    }
}

/// Displays a UTF-8 address as `utf-8-addr-unitext` (RFC 6533 §3): UTF-8 kept,
/// for use when SMTPUTF8 is in effect.
#[derive(Debug, Clone, Copy)]
pub struct Utf8AddrUnitext<'a>(pub &'a str);

impl fmt::Display for Utf8AddrUnitext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_utf8_addr(self.0, f, true)
    }
}

fn write_utf8_addr(value: &str, f: &mut fmt::Formatter<'_>, keep_utf8: bool) -> fmt::Result {
    for ch in value.chars() {
        if u8::try_from(ch).is_ok_and(is_qchar) || (keep_utf8 && !ch.is_ascii()) {
            f.write_char(ch)?;
        } else {
            write!(f, "\\x{{{:02X}}}", u32::from(ch))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn xtext_roundtrip() {
        for value in [&b""[..], b"plain", b"a+b=c", b" \x01\xff~!", b"+++"] {
            let encoded = Xtext(value).to_string();
            assert!(encoded.bytes().all(|b| b.is_ascii_graphic()));
            assert_eq!(&*decode(encoded.as_bytes()).unwrap(), value);
        }
    }

    #[test]
    fn xtext_decode_errors() {
        assert_eq!(
            decode(b"a b"),
            Err(XtextError::InvalidByte {
                byte: b' ',
                offset: 1
            })
        );
        assert_eq!(
            decode(b"a=b").unwrap_err(),
            XtextError::InvalidByte {
                byte: b'=',
                offset: 1
            }
        );
        for bad in [&b"+"[..], b"+4", b"+4g", b"+2b", b"x+ZZ"] {
            assert!(
                matches!(decode(bad), Err(XtextError::InvalidEscape { .. })),
                "{bad:?}"
            );
        }
        assert!(matches!(
            decode(b"+"),
            Err(XtextError::InvalidEscape { offset: 0 })
        ));
    }

    #[test]
    fn decoded_control_bytes_are_refused_as_text() {
        let src = Bytes::from_static(b"x+0AReceived:+20y");
        assert_eq!(
            decode_text(&src, &src),
            Err(XtextError::ForbiddenDecoded { byte: b'\n' })
        );
        let src = Bytes::from_static(b"a+00");
        assert_eq!(
            decode_text(&src, &src),
            Err(XtextError::ForbiddenDecoded { byte: 0 })
        );
        let src = Bytes::from_static(b"a+FF");
        assert_eq!(decode_text(&src, &src), Err(XtextError::InvalidUtf8));
    }

    #[test]
    fn utf8_addr_forms() {
        let value = "jöhn+x=y\\z w@例え.jp";
        let xtext = Utf8AddrXtext(value).to_string();
        assert!(xtext.is_ascii());
        assert_eq!(decode_utf8_addr(&xtext).unwrap(), value);
        let unitext = Utf8AddrUnitext(value).to_string();
        assert!(unitext.contains("例え"));
        assert_eq!(decode_utf8_addr(&unitext).unwrap(), value);
        assert_eq!(Utf8AddrXtext("a\u{1}").to_string(), "a\\x{01}");
    }

    #[test]
    fn utf8_addr_errors() {
        assert_eq!(decode_utf8_addr(""), Err(XtextError::Empty));
        for bad in [
            "a\\",
            "a\\x",
            "a\\x{",
            "\\x{}",
            "\\x{1234567}",
            "\\x{D800}",
            "\\x{zz}",
            "\\y{41}",
        ] {
            assert!(
                matches!(decode_utf8_addr(bad), Err(XtextError::InvalidEscape { .. })),
                "{bad:?}"
            );
        }
        assert_eq!(
            decode_utf8_addr("a+b"),
            Err(XtextError::InvalidByte {
                byte: b'+',
                offset: 1
            })
        );
        assert_eq!(
            decode_utf8_addr("\\x{41}=b"),
            Err(XtextError::InvalidByte {
                byte: b'=',
                offset: 6
            })
        );
        let src = Bytes::from_static(b"a\\x{0D}");
        assert_eq!(
            decode_utf8_addr_text(&src, &src),
            Err(XtextError::ForbiddenDecoded { byte: b'\r' })
        );
    }
}
