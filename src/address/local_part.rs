//! The part of a mailbox before the `@`.

use super::{
    class, failure, finish, named, octet, octets1, piece, satisfy_byte, whole_input_parsers,
    AddressError, Parsed,
};
use crate::limits::MAX_LOCAL_PART_LEN;
use crate::Text;
use alloc::borrow::Cow;
use alloc::string::String;
use bytes::Bytes;
use core::fmt;
use nom::branch::alt;
use nom::combinator::{cut, recognize};
use nom::Parser;

/// The local part of a mailbox: a dot-string or a quoted-string
/// (RFC 5321 §4.1.2), either of which may hold UTF-8 (RFC 6531 §3.3).
///
/// The value is kept exactly as it is written on the wire, quotes and
/// backslashes included, so a mailbox is relayed byte for byte;
/// [`LocalPart::value`] gives the unquoted form.
///
/// ```
/// use smtpwire::LocalPart;
///
/// let quoted = LocalPart::parse(r#""john \"jd\" doe""#).unwrap();
/// assert!(quoted.is_quoted());
/// assert_eq!(quoted.value(), r#"john "jd" doe"#);
///
/// assert_eq!(LocalPart::from_value("john.doe").unwrap().as_str(), "john.doe");
/// assert_eq!(LocalPart::from_value("john doe").unwrap().as_str(), "\"john doe\"");
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct LocalPart(pub(super) Text);

impl LocalPart {
    /// The local part from its unquoted value, quoted only when it is not a
    /// dot-string.
    ///
    /// Fails on control characters, which no quoted-string can carry, and on
    /// values whose wire form is longer than
    /// [`MAX_LOCAL_PART_LEN`](crate::limits::MAX_LOCAL_PART_LEN).
    pub fn from_value(value: &str) -> Result<Self, AddressError> {
        if is_dot_string(value.as_bytes()) {
            return Self::checked(Text::new(value)?);
        }
        let mut wire = String::with_capacity(value.len() + 2);
        wire.push('"');
        for ch in value.chars() {
            match ch {
                '"' | '\\' => {
                    wire.push('\\');
                    wire.push(ch);
                }
                ' '..='~' => wire.push(ch),
                _ if !ch.is_ascii() => wire.push(ch),
                _ => return Err(AddressError::InvalidLocalPart),
            }
        }
        wire.push('"');
        Self::checked(Text::try_from(wire)?)
    }

    fn checked(wire: Text) -> Result<Self, AddressError> {
        if wire.len() > MAX_LOCAL_PART_LEN {
            return Err(AddressError::LocalPartTooLong { len: wire.len() });
        }
        Ok(LocalPart(wire))
    }

    /// The wire form, with quotes and escapes if it has them.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The wire form as a [`Text`].
    pub fn as_text(&self) -> &Text {
        &self.0
    }

    /// Whether the wire form is a quoted-string.
    pub fn is_quoted(&self) -> bool {
        self.0.as_bytes().first() == Some(&b'"')
    }

    /// The value without quotes and quoted-pair backslashes; borrowed unless
    /// there were backslashes to remove.
    pub fn value(&self) -> Cow<'_, str> {
        let wire = self.as_str();
        let Some(inner) = wire
            .strip_prefix('"')
            .and_then(|rest| rest.strip_suffix('"'))
        else {
            return Cow::Borrowed(wire);
        };
        if !inner.contains('\\') {
            return Cow::Borrowed(inner);
        }
        let mut value = String::with_capacity(inner.len());
        let mut escaped = false;
        for ch in inner.chars() {
            if ch == '\\' && !escaped {
                escaped = true;
            } else {
                value.push(ch);
                escaped = false;
            }
        }
        Cow::Owned(value)
    }

    /// Whether the local part is all ASCII.
    pub fn is_ascii(&self) -> bool {
        self.0.as_bytes().is_ascii()
    }

    /// Whether sending it needs the SMTPUTF8 extension (RFC 6531).
    pub fn needs_smtputf8(&self) -> bool {
        !self.is_ascii()
    }
}

whole_input_parsers!(LocalPart, scan_local_part, AddressError::InvalidLocalPart);

/// Scans the local part at the start of `input`.
#[inline]
pub(crate) fn scan_local_part(
    src: &Bytes,
    input: &[u8],
) -> Result<(LocalPart, usize), AddressError> {
    let (wire, len) = finish(input, local_part(input), AddressError::InvalidLocalPart)?;
    Ok((LocalPart(piece(src, wire)), len))
}

/// `Local-part = Dot-string / Quoted-string` (RFC 5321 §4.1.2), either of
/// which may hold UTF-8 (RFC 6531 §3.3), and at most
/// [`MAX_LOCAL_PART_LEN`] octets long.
#[inline]
pub(crate) fn local_part(input: &[u8]) -> Parsed<'_, &[u8]> {
    // The first octet tells the alternatives apart.
    let (rest, wire) = if input.first() == Some(&b'"') {
        named(AddressError::InvalidLocalPart, quoted_string).parse(input)?
    } else {
        named(AddressError::InvalidLocalPart, dot_string).parse(input)?
    };
    if wire.len() > MAX_LOCAL_PART_LEN {
        return failure(AddressError::LocalPartTooLong { len: wire.len() });
    }
    Ok((rest, wire))
}

/// `Dot-string = Atom *("."  Atom)` (RFC 5321 §4.1.2). A dot must be
/// followed by an atom: `a.` and `a..b` are faults, not a shorter match.
///
/// Nearly every local part is a plain dot-string, which one pass over its
/// atext and dots reads whole, noting without a branch whether an atom is
/// empty: a branch taken at each dot was mispredicted once per atom. This
/// pass stays hand-written: the rule as a loop over [`atom`] alone made a
/// whole `RCPT TO:<user0.name@example.com>` 6 % slower. Whatever the pass
/// is not sure of is read by the rule as written, [`dot_string_by_atom`],
/// which also names the fault.
#[inline]
fn dot_string(input: &[u8]) -> Parsed<'_, &[u8]> {
    // A dot bars a dot next (an empty atom); the string starts as an atom
    // does after a dot.
    let mut after_dot = class::DOT;
    let mut fault = 0;
    let mut end = input.len();
    for (at, &byte) in input.iter().enumerate() {
        let classes = class::of(byte);
        if classes & (class::ATEXT | class::DOT) == 0 {
            end = at;
            break;
        }
        fault |= classes & after_dot;
        after_dot = classes & class::DOT;
    }
    match (input.get(..end), input.get(end..)) {
        // Nor may the last atom be empty.
        (Some(string), Some(rest)) if fault | after_dot == 0 => Ok((rest, string)),
        _ => dot_string_by_atom(input),
    }
}

/// `Dot-string = Atom *("."  Atom)` read atom by atom, as it is written.
fn dot_string_by_atom(input: &[u8]) -> Parsed<'_, &[u8]> {
    let (mut rest, _) = atom(input)?;
    while let Some(after_dot) = rest.strip_prefix(b".") {
        (rest, _) = cut(atom).parse(after_dot)?;
    }
    Ok((rest, &input[..input.len() - rest.len()]))
}

/// `Atom = 1*atext` (RFC 5321 §4.1.2, `atext` from RFC 5322 §3.2.3), with
/// `atext =/ UTF8-non-ascii` (RFC 6531 §3.3).
#[inline]
fn atom(input: &[u8]) -> Parsed<'_, &[u8]> {
    octets1(|byte| class::is(byte, class::ATEXT)).parse(input)
}

/// `Quoted-string = DQUOTE *QcontentSMTP DQUOTE` (RFC 5321 §4.1.2).
///
/// A quoted local part without backslashes is one run of `qtextSMTP`
/// between the quotes, read here in one pass; the rule as a loop over
/// [`qcontent_smtp`] alone made a whole `RCPT TO:<"first last1"@example.com>`
/// 5–9 % slower. Anything else is read by the rule as written,
/// [`quoted_string_by_content`].
#[inline]
fn quoted_string(input: &[u8]) -> Parsed<'_, &[u8]> {
    let inner = input.get(1..).unwrap_or_default();
    let len = inner
        .iter()
        .position(|&byte| !qtext_smtp(byte))
        .unwrap_or(inner.len());
    match (inner.get(len), input.get(..len + 2), inner.get(len + 1..)) {
        (Some(b'"'), Some(string), Some(rest)) if input.first() == Some(&b'"') => {
            Ok((rest, string))
        }
        _ => quoted_string_by_content(input),
    }
}

/// `Quoted-string = DQUOTE *QcontentSMTP DQUOTE` read content by content,
/// as it is written.
fn quoted_string_by_content(input: &[u8]) -> Parsed<'_, &[u8]> {
    let (mut rest, _) = octet(b'"').parse(input)?;
    while let Ok((after, _)) = qcontent_smtp(rest) {
        rest = after;
    }
    let (rest, _) = octet(b'"').parse(rest)?;
    Ok((rest, &input[..input.len() - rest.len()]))
}

/// `QcontentSMTP = qtextSMTP / quoted-pairSMTP` (RFC 5321 §4.1.2). A run of
/// `qtextSMTP` is taken at once.
#[inline]
fn qcontent_smtp(input: &[u8]) -> Parsed<'_, &[u8]> {
    alt((octets1(qtext_smtp), quoted_pair_smtp)).parse(input)
}

/// `qtextSMTP = %d32-33 / %d35-91 / %d93-126` (RFC 5321 §4.1.2), with
/// `qtextSMTP =/ UTF8-non-ascii` (RFC 6531 §3.3): printable ASCII but `"`
/// and `\`, and UTF-8 bytes.
#[inline]
fn qtext_smtp(byte: u8) -> bool {
    matches!(byte, 32..=33 | 35..=91 | 93..=126) || byte >= 0x80
}

/// `quoted-pairSMTP = %d92 %d32-126` (RFC 5321 §4.1.2): a backslash and
/// the printable ASCII character it stands for.
fn quoted_pair_smtp(input: &[u8]) -> Parsed<'_, &[u8]> {
    recognize((
        octet(b'\\'),
        satisfy_byte(|byte| (32..=126).contains(&byte)),
    ))
    .parse(input)
}

/// Whether all of `value` is a `Dot-string`, which needs no quotes.
fn is_dot_string(value: &[u8]) -> bool {
    matches!(dot_string(value), Ok((&[], _)))
}

impl fmt::Display for LocalPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for LocalPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LocalPart({:?})", self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;
    use proptest::prelude::*;

    /// `Dot-string` read atom by atom, as the grammar is written.
    fn dot_string_len_by_atom(input: &[u8]) -> Option<usize> {
        let mut end = 0;
        loop {
            let atom = class::run(input.get(end..).unwrap_or_default(), class::ATEXT);
            if atom == 0 {
                return None;
            }
            end += atom;
            if input.get(end) != Some(&b'.') {
                return Some(end);
            }
            end += 1;
        }
    }

    proptest! {
        #[test]
        fn one_pass_agrees_with_atom_by_atom(
            pieces in proptest::collection::vec(
                prop_oneof![
                    Just(&b"a"[..]), Just(&b"."[..]), Just(&b"@"[..]), Just(&b"+"[..]),
                    Just("ü".as_bytes()), Just(&b" "[..]),
                ],
                0..80,
            ),
        ) {
            let input: Vec<u8> = pieces.concat();
            prop_assert_eq!(
                dot_string(&input).ok().map(|(rest, _)| input.len() - rest.len()),
                dot_string_len_by_atom(&input)
            );
        }
    }

    #[test]
    fn dot_strings() {
        for ok in [
            "a",
            "john.doe",
            "a+tag",
            "!#$%&'*+-/=?^_`{|}~",
            "üser",
            "a.b.c",
        ] {
            let part = LocalPart::parse(ok).unwrap();
            assert!(!part.is_quoted());
            assert_eq!(part.value(), ok);
        }
        for bad in ["", ".a", "a.", "a..b", "a b", "a@b", "a\"b", "a(b)", "a,b"] {
            assert!(LocalPart::parse(bad).is_err(), "{bad:?}");
        }
        assert!(LocalPart::parse("üser").unwrap().needs_smtputf8());
    }

    #[test]
    fn quoted_strings() {
        let part = LocalPart::parse(r#""john \"jd\" doe""#).unwrap();
        assert_eq!(part.as_str(), r#""john \"jd\" doe""#);
        assert_eq!(part.value(), r#"john "jd" doe"#);
        assert_eq!(LocalPart::parse(r#""a\\b""#).unwrap().value(), r"a\b");
        assert_eq!(LocalPart::parse(r#""""#).unwrap().value(), "");
        assert_eq!(LocalPart::parse(r#""a b@c""#).unwrap().value(), "a b@c");
        assert!(matches!(
            LocalPart::parse(r#""a b@c""#).unwrap().value(),
            Cow::Borrowed(_)
        ));
        for bad in ["\"abc", "\"a\\\"", "\"a\tb\"", "\"a\\\u{7f}\"", "\"a\"b"] {
            assert!(LocalPart::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn quotes_only_when_needed() {
        for (value, wire) in [
            ("simple", "simple"),
            ("john doe", "\"john doe\""),
            (r#"john "jd" doe"#, r#""john \"jd\" doe""#),
            (r"back\slash", r#""back\\slash""#),
            ("a..b", "\"a..b\""),
            ("", "\"\""),
            ("üñí", "üñí"),
        ] {
            let part = LocalPart::from_value(value).unwrap();
            assert_eq!(part.as_str(), wire);
            assert_eq!(part.value(), value);
            assert_eq!(LocalPart::parse(wire).unwrap(), part);
        }
        assert!(LocalPart::from_value("tab\there").is_err());
        assert!(LocalPart::from_value("cr\rlf").is_err());
    }

    #[test]
    fn length_limit() {
        assert!(LocalPart::parse(&"a".repeat(70)).is_ok());
        assert!(LocalPart::parse(&"a".repeat(MAX_LOCAL_PART_LEN)).is_ok());
        assert_eq!(
            LocalPart::parse(&"a".repeat(MAX_LOCAL_PART_LEN + 1)),
            Err(AddressError::LocalPartTooLong { len: 257 })
        );
        assert_eq!(
            LocalPart::from_value(&" ".repeat(MAX_LOCAL_PART_LEN - 1)),
            Err(AddressError::LocalPartTooLong { len: 257 })
        );
    }
}
