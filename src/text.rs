//! [`Text`]: the string type every parsed or emitted field is built from.

use alloc::string::String;
use bytes::Bytes;
use core::fmt;

/// UTF-8 text that is safe to put on an SMTP command or reply line.
///
/// A `Text` never contains CR, LF or NUL, so no value built from caller data can
/// end a line early or smuggle a second command onto the wire (RFC 5321 §2.3.8,
/// §4.1.1). The check happens once, at construction; every emitter in the crate
/// can then write a `Text` without looking at it again.
///
/// It is backed by [`Bytes`], so values parsed from an input buffer are cheap,
/// reference-counted slices of that buffer rather than copies.
///
/// ```
/// use smtpwire::Text;
///
/// let host = Text::new("mail.example.org").unwrap();
/// assert_eq!(host.as_str(), "mail.example.org");
/// assert!(Text::new("evil\r\nRCPT TO:<x@y>").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Text(Bytes);

/// Why a value cannot become [`Text`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// The value holds CR, LF or NUL, which would break the line it is written on.
    #[error("byte {byte:#04x} at offset {offset} is not allowed on an SMTP line")]
    ForbiddenByte {
        /// The offending byte.
        byte: u8,
        /// Its position in the value.
        offset: usize,
    },
    /// The value is not valid UTF-8.
    #[error("invalid UTF-8 at offset {offset}")]
    InvalidUtf8 {
        /// Where the first invalid sequence starts.
        offset: usize,
    },
}

impl Text {
    /// Checks `value` and copies it into a new `Text`.
    pub fn new(value: &str) -> Result<Self, TextError> {
        check_line_safe(value.as_bytes())?;
        Ok(Text(Bytes::copy_from_slice(value.as_bytes())))
    }

    /// A `Text` from a string literal, checked at run time without copying.
    ///
    /// # Panics
    ///
    /// Panics when the literal holds CR, LF or NUL: a programming error, found by
    /// the first test that uses it.
    pub fn from_static(value: &'static str) -> Self {
        if let Err(err) = check_line_safe(value.as_bytes()) {
            panic!("Text::from_static({value:?}): {err}");
        }
        Text(Bytes::from_static(value.as_bytes()))
    }

    /// Checks `bytes` and wraps them without copying.
    pub fn from_bytes(bytes: Bytes) -> Result<Self, TextError> {
        check_line_text(&bytes)?;
        Ok(Text(bytes))
    }

    /// Wraps bytes that a parser has already proven to be line-safe UTF-8.
    ///
    /// Only for crate parsers whose grammar excludes CR, LF and NUL and admits
    /// only UTF-8; debug builds re-check.
    pub(crate) fn from_parsed(bytes: Bytes) -> Self {
        debug_assert!(Text::from_bytes(bytes.clone()).is_ok());
        Text(bytes)
    }

    /// The text as a string slice.
    pub fn as_str(&self) -> &str {
        // Every constructor checks UTF-8, so this conversion cannot fail; the
        // fallback keeps the crate free of both `unsafe` and panics.
        core::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The text as bytes, exactly as it goes on the wire.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The backing buffer.
    pub fn into_bytes(self) -> Bytes {
        self.0
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the text is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// ASCII case-insensitive comparison, as SMTP verbs, keywords and domains need.
    pub fn eq_ignore_ascii_case(&self, other: &str) -> bool {
        self.0.eq_ignore_ascii_case(other.as_bytes())
    }
}

/// Checks that `bytes` is line-safe UTF-8: the first CR, LF or NUL is
/// reported before any UTF-8 error.
///
/// Lines are nearly always ASCII, so one word-at-a-time pass looks for the
/// three forbidden bytes and for high bytes together; only a line with a
/// forbidden or high byte is looked at again, byte by byte.
#[inline]
pub(crate) fn check_line_text(bytes: &[u8]) -> Result<(), TextError> {
    if is_plain_ascii(bytes) {
        return Ok(());
    }
    check_line_safe(bytes)?;
    core::str::from_utf8(bytes).map_err(|err| TextError::InvalidUtf8 {
        offset: err.valid_up_to(),
    })?;
    Ok(())
}

/// Whether `bytes` is ASCII without CR, LF or NUL.
#[inline]
fn is_plain_ascii(bytes: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    const CR: u64 = u64::from_ne_bytes([b'\r'; 8]);
    const LF: u64 = u64::from_ne_bytes([b'\n'; 8]);
    // The classic zero-byte test: the high bit of a byte of `x` is set here
    // if that byte is zero (or, harmlessly, if a lower byte was), never
    // otherwise. A word is plain when no byte is high, NUL, CR or LF.
    let zero_bits = |x: u64| x.wrapping_sub(ONES) & !x;
    let faults = |word: u64| word | zero_bits(word) | zero_bits(word ^ CR) | zero_bits(word ^ LF);
    let Some(last) = bytes.last_chunk::<8>() else {
        return bytes
            .iter()
            .all(|&b| b.is_ascii() && !matches!(b, b'\r' | b'\n' | 0));
    };
    // The last eight bytes, overlapping the whole words before them, cover
    // the remainder in one more word.
    let mut found = faults(u64::from_ne_bytes(*last));
    for chunk in bytes.chunks_exact(8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        found |= faults(u64::from_ne_bytes(word));
    }
    found & HIGH == 0
}

/// Fails on the first CR, LF or NUL in `bytes`.
pub(crate) fn check_line_safe(bytes: &[u8]) -> Result<(), TextError> {
    match memchr::memchr3(b'\r', b'\n', 0, bytes) {
        Some(offset) => Err(TextError::ForbiddenByte {
            byte: bytes[offset],
            offset,
        }),
        None => Ok(()),
    }
}

impl TryFrom<&str> for Text {
    type Error = TextError;
    fn try_from(value: &str) -> Result<Self, TextError> {
        Text::new(value)
    }
}

impl TryFrom<String> for Text {
    type Error = TextError;
    fn try_from(value: String) -> Result<Self, TextError> {
        check_line_safe(value.as_bytes())?;
        Ok(Text(Bytes::from(value)))
    }
}

impl AsRef<str> for Text {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The two checks `check_line_text` folds into one pass, one after the other.
    fn two_pass(bytes: &[u8]) -> Result<(), TextError> {
        check_line_safe(bytes)?;
        core::str::from_utf8(bytes)
            .map(|_| ())
            .map_err(|err| TextError::InvalidUtf8 {
                offset: err.valid_up_to(),
            })
    }

    #[test]
    fn one_pass_check_finds_every_byte_at_every_offset() {
        let mut line = alloc::vec![b'a'; 24];
        for at in 0..line.len() {
            for bad in [b'\r', b'\n', 0, 0x80, 0xc3, 0xff, 0x7f, 0x01] {
                line[at] = bad;
                assert_eq!(check_line_text(&line), two_pass(&line), "{bad:#x} at {at}");
            }
            line[at] = b'a';
        }
        assert_eq!(
            check_line_text(b"caf\xc3\xa9 \r"),
            two_pass(b"caf\xc3\xa9 \r")
        );
        assert_eq!(check_line_text(b""), Ok(()));
    }

    proptest! {
        #[test]
        fn one_pass_check_agrees_with_two_passes(
            bytes in prop::collection::vec(
                prop_oneof![Just(b'\r'), Just(b'\n'), Just(0u8), 0x20u8..0x7f, any::<u8>()],
                0..100,
            )
        ) {
            prop_assert_eq!(check_line_text(&bytes), two_pass(&bytes));
        }

        #[test]
        fn a_single_fault_is_found_wherever_it_is(
            len in 0usize..150,
            at in any::<prop::sample::Index>(),
            fault in prop_oneof![Just(b'\r'), Just(b'\n'), Just(0u8), 0x80u8..=0xff],
        ) {
            let mut bytes = alloc::vec![b'x'; len];
            prop_assert_eq!(check_line_text(&bytes), Ok(()));
            if len > 0 {
                bytes[at.index(len)] = fault;
                prop_assert!(check_line_text(&bytes).is_err());
                prop_assert_eq!(check_line_text(&bytes), two_pass(&bytes));
            }
        }
    }

    #[test]
    fn refuses_line_breaking_bytes() {
        for bad in ["a\rb", "a\nb", "a\0b", "\r\n"] {
            assert!(matches!(
                Text::new(bad),
                Err(TextError::ForbiddenByte { .. })
            ));
        }
        assert_eq!(
            Text::new("ab\ncd"),
            Err(TextError::ForbiddenByte {
                byte: b'\n',
                offset: 2
            })
        );
    }

    #[test]
    fn from_bytes_checks_utf8() {
        assert_eq!(
            Text::from_bytes(Bytes::from_static(b"ok\xff")),
            Err(TextError::InvalidUtf8 { offset: 2 })
        );
        let text = Text::from_bytes(Bytes::from_static("grüße".as_bytes())).unwrap();
        assert_eq!(text.as_str(), "grüße");
    }

    #[test]
    fn case_insensitive_compare() {
        assert!(Text::from_static("PIPELINING").eq_ignore_ascii_case("pipelining"));
    }
}
