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

use crate::text::check_line_safe;
use crate::Text;
use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;
use bytes::Bytes;
use core::fmt::{self, Write};

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

/// `xchar`: `!` to `~` except `+` and `=` (RFC 3461 §4).
fn is_xchar(byte: u8) -> bool {
    matches!(byte, b'!'..=b'~') && byte != b'+' && byte != b'='
}

/// `QCHAR`: `!` to `~` except `+`, `=` and `\` (RFC 6533 §3).
fn is_qchar(ch: char) -> bool {
    matches!(ch, '!'..='~') && !matches!(ch, '+' | '=' | '\\')
}

fn upper_hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// Decodes xtext: borrowed when it holds no `+XX` escape.
///
/// Escapes take upper-case hex digits only, as RFC 3461 §4 writes them.
pub fn decode(input: &[u8]) -> Result<Cow<'_, [u8]>, XtextError> {
    if memchr::memchr(b'+', input).is_none() {
        check_xchars(input, 0)?;
        return Ok(Cow::Borrowed(input));
    }
    let mut decoded = Vec::with_capacity(input.len());
    let mut at = 0;
    while let Some(&byte) = input.get(at) {
        if byte == b'+' {
            let escaped = match (input.get(at + 1), input.get(at + 2)) {
                (Some(&high), Some(&low)) => upper_hex_value(high).zip(upper_hex_value(low)),
                _ => None,
            };
            let (high, low) = escaped.ok_or(XtextError::InvalidEscape { offset: at })?;
            decoded.push(high << 4 | low);
            at += 3;
        } else {
            check_xchars(&[byte], at)?;
            decoded.push(byte);
            at += 1;
        }
    }
    Ok(Cow::Owned(decoded))
}

fn check_xchars(input: &[u8], base: usize) -> Result<(), XtextError> {
    match input.iter().position(|&b| !is_xchar(b)) {
        Some(offset) => Err(XtextError::InvalidByte {
            byte: input.get(offset).copied().unwrap_or_default(),
            offset: base + offset,
        }),
        None => Ok(()),
    }
}

/// Decodes the `utf-8-addr-xtext` or `utf-8-addr-unitext` form of RFC 6533
/// §3: `QCHAR`s, UTF-8 (the unitext form) and `\x{HEX}` escapes.
///
/// Any escaped scalar value is accepted, not only those the RFC's
/// `HEXPOINT` rule lists, so that every correct encoder's output decodes.
pub fn decode_utf8_addr(input: &str) -> Result<Cow<'_, str>, XtextError> {
    if input.is_empty() {
        return Err(XtextError::Empty);
    }
    if memchr::memchr(b'\\', input.as_bytes()).is_none() {
        check_qchars(input, 0)?;
        return Ok(Cow::Borrowed(input));
    }
    let mut decoded = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(escape) = rest.find('\\') {
        let offset = input.len() - rest.len() + escape;
        let (plain, escaped) = rest.split_at(escape);
        check_qchars(plain, offset - plain.len())?;
        decoded.push_str(plain);
        let invalid = XtextError::InvalidEscape { offset };
        let hex_and_rest = escaped.strip_prefix("\\x{").ok_or(invalid)?;
        let close = hex_and_rest.find('}').ok_or(invalid)?;
        let hex = hex_and_rest.get(..close).ok_or(invalid)?;
        if hex.is_empty() || hex.len() > 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(invalid);
        }
        let scalar = u32::from_str_radix(hex, 16).map_err(|_| invalid)?;
        decoded.push(char::from_u32(scalar).ok_or(invalid)?);
        rest = hex_and_rest.get(close + 1..).unwrap_or_default();
    }
    check_qchars(rest, input.len() - rest.len())?;
    decoded.push_str(rest);
    Ok(Cow::Owned(decoded))
}

fn check_qchars(input: &str, base: usize) -> Result<(), XtextError> {
    match input
        .bytes()
        .position(|b| b.is_ascii() && !is_qchar(char::from(b)))
    {
        Some(offset) => Err(XtextError::InvalidByte {
            byte: input.as_bytes().get(offset).copied().unwrap_or_default(),
            offset: base + offset,
        }),
        None => Ok(()),
    }
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
        if is_qchar(ch) || (keep_utf8 && !ch.is_ascii()) {
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
