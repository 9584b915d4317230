//! Domains, address literals and the hosts they make up.

use super::{class, piece, whole_input_parsers, AddressError};
use crate::limits::{MAX_DOMAIN_LABEL_LEN, MAX_DOMAIN_LEN};
use crate::Text;
use bytes::Bytes;
use core::cmp::Ordering;
use core::fmt;
use core::net::{Ipv4Addr, Ipv6Addr};

/// A domain name: dot-separated labels of letters, digits and hyphens that
/// neither start nor end with a hyphen (RFC 5321 §4.1.2 `Domain`), or U-labels
/// in UTF-8 (RFC 6531 §3.3).
///
/// U-labels are taken as any run of non-ASCII characters, letters, digits and
/// hyphens; their IDNA2008 validity is left to the caller. Comparison with
/// `==` is exact, as written; two names for the same domain compare with
/// [`Domain::eq_ignore_case`].
///
/// ```
/// use smtpwire::Domain;
///
/// let domain = Domain::parse("mail.example.org").unwrap();
/// assert!(domain.is_ascii());
/// assert!(Domain::parse("bücher.example").unwrap().needs_smtputf8());
/// assert!(Domain::parse("-bad.example").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Domain(pub(super) Text);

impl Domain {
    /// The domain as written.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The domain as a [`Text`].
    pub fn as_text(&self) -> &Text {
        &self.0
    }

    /// Whether every label is ASCII.
    pub fn is_ascii(&self) -> bool {
        self.0.as_bytes().is_ascii()
    }

    /// Whether sending the domain needs the SMTPUTF8 extension (RFC 6531).
    pub fn needs_smtputf8(&self) -> bool {
        !self.is_ascii()
    }

    /// Case-insensitive comparison of the ASCII letters, as DNS compares names.
    pub fn eq_ignore_ascii_case(&self, other: &str) -> bool {
        self.0.eq_ignore_ascii_case(other)
    }

    /// Whether the two name the same domain: RFC 5321 §2.4 has domain names
    /// compared without regard to case.
    ///
    /// ASCII letters compare case-insensitively, as DNS compares them. U-labels
    /// (RFC 6531) compare after each character is mapped to lowercase
    /// ([`char::to_lowercase`]), which is the case step of IDNA2008 alone: the
    /// crate has no IDNA mapping, so names that IDNA would map to one another
    /// in other ways (width, normalization) differ, and an A-label
    /// (`xn--bcher-kva.example`) never equals its U-label (`bücher.example`).
    /// A caller that needs either converts the names first.
    ///
    /// ```
    /// use smtpwire::Domain;
    ///
    /// let domain = Domain::parse("Mail.Example.ORG").unwrap();
    /// assert!(domain.eq_ignore_case(&Domain::parse("mail.example.org").unwrap()));
    /// let bucher = Domain::parse("BÜCHER.example").unwrap();
    /// assert!(bucher.eq_ignore_case(&Domain::parse("bücher.example").unwrap()));
    /// assert!(!bucher.eq_ignore_case(&Domain::parse("xn--bcher-kva.example").unwrap()));
    /// ```
    pub fn eq_ignore_case(&self, other: &Domain) -> bool {
        self.cmp_ignore_case(other).is_eq()
    }

    /// The order that goes with [`eq_ignore_case`](Self::eq_ignore_case), for
    /// sorting names or keeping them in a map where case must not matter.
    pub fn cmp_ignore_case(&self, other: &Domain) -> Ordering {
        fn folded(text: &str) -> impl Iterator<Item = char> + '_ {
            text.chars().flat_map(char::to_lowercase)
        }
        folded(self.as_str()).cmp(folded(other.as_str()))
    }
}

whole_input_parsers!(Domain, scan_domain, AddressError::InvalidDomain);

/// Scans the domain at the start of `input`, returning it and its length.
#[inline]
pub(crate) fn scan_domain(src: &Bytes, input: &[u8]) -> Result<(Domain, usize), AddressError> {
    let len = domain_len(input)?;
    let domain = input.get(..len).unwrap_or_default();
    Ok((Domain(piece(src, domain)), len))
}

/// Length of the domain at the start of `input`.
///
/// One pass over the letters, digits, hyphens, UTF-8 bytes and dots finds
/// where the domain ends; each label is looked at only when a dot or the end
/// closes it. Only a domain that is not plainly valid is looked at again,
/// label by label, for the exact error.
#[inline]
pub(crate) fn domain_len(input: &[u8]) -> Result<usize, AddressError> {
    let mut label_start = 0;
    let mut plain = true;
    let mut end = input.len();
    for (at, &byte) in input.iter().enumerate() {
        if !class::is(byte, class::LABEL) {
            if byte != b'.' {
                end = at;
                break;
            }
            plain &= is_plain_label(input, label_start, at);
            label_start = at + 1;
        }
    }
    if !(plain && is_plain_label(input, label_start, end) && end <= MAX_DOMAIN_LEN) {
        return domain_len_by_label(input);
    }
    Ok(end)
}

/// Whether `input[start..end]`, a run of label bytes, is a label with no
/// doubt about it: not empty, no hyphen at either end, and short enough even
/// if it is ASCII (long UTF-8 labels are left to the careful pass).
#[inline]
fn is_plain_label(input: &[u8], start: usize, end: usize) -> bool {
    match input.get(start..end) {
        Some([first, .., last]) => {
            end - start <= MAX_DOMAIN_LABEL_LEN && *first != b'-' && *last != b'-'
        }
        Some([only]) => *only != b'-',
        _ => false,
    }
}

/// [`domain_len`] one label at a time, reporting the first fault.
fn domain_len_by_label(input: &[u8]) -> Result<usize, AddressError> {
    let mut end = 0;
    loop {
        let rest = input.get(end..).unwrap_or_default();
        let label = rest
            .get(..class::run(rest, class::LABEL))
            .unwrap_or_default();
        if label.is_empty() || label.first() == Some(&b'-') || label.last() == Some(&b'-') {
            return Err(AddressError::InvalidDomain);
        }
        // Labels in UTF-8 get longer as A-labels; only ASCII ones can be measured.
        if label.len() > MAX_DOMAIN_LABEL_LEN && label.is_ascii() {
            return Err(AddressError::LabelTooLong { len: label.len() });
        }
        end += label.len();
        if input.get(end) != Some(&b'.') {
            break;
        }
        end += 1;
    }
    if end > MAX_DOMAIN_LEN {
        return Err(AddressError::DomainTooLong { len: end });
    }
    Ok(end)
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Domain({:?})", self.as_str())
    }
}

/// A host named by its address in brackets (RFC 5321 §4.1.3).
///
/// IPv4 and IPv6 literals are kept as addresses and displayed in canonical
/// form; other standardized tags keep their tag and content as written.
///
/// ```
/// use smtpwire::AddressLiteral;
/// use core::net::Ipv6Addr;
///
/// let literal = AddressLiteral::parse("[IPv6:2001:db8::1]").unwrap();
/// assert_eq!(literal, AddressLiteral::V6("2001:db8::1".parse::<Ipv6Addr>().unwrap()));
/// assert_eq!(AddressLiteral::parse("[192.0.2.1]").unwrap().to_string(), "[192.0.2.1]");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AddressLiteral {
    /// `[192.0.2.1]`.
    V4(Ipv4Addr),
    /// `[IPv6:2001:db8::1]`, including the forms with an IPv4 suffix.
    V6(Ipv6Addr),
    /// `[tag:content]` for a standardized tag other than `IPv6`.
    ///
    /// Build it with [`AddressLiteral::general`], which checks the grammar.
    General {
        /// The tag, an `Ldh-str`.
        tag: Text,
        /// Printable ASCII other than `[`, `\` and `]`.
        content: Text,
    },
}

impl AddressLiteral {
    /// A general address literal, checked against RFC 5321 §4.1.3.
    pub fn general(tag: &str, content: &str) -> Result<Self, AddressError> {
        if !is_general_tag(tag.as_bytes()) || !is_dcontent(content.as_bytes()) {
            return Err(AddressError::InvalidAddressLiteral);
        }
        Ok(AddressLiteral::General {
            tag: Text::new(tag)?,
            content: Text::new(content)?,
        })
    }
}

whole_input_parsers!(
    AddressLiteral,
    scan_literal,
    AddressError::InvalidAddressLiteral
);

/// Scans the bracketed literal at the start of `input`.
#[inline]
pub(crate) fn scan_literal(
    src: &Bytes,
    input: &[u8],
) -> Result<(AddressLiteral, usize), AddressError> {
    let (literal, len) = read_literal(input)?;
    let literal = match literal {
        RawLiteral::V4(address) => AddressLiteral::V4(address),
        RawLiteral::V6(address) => AddressLiteral::V6(address),
        RawLiteral::General { tag, content } => AddressLiteral::General {
            tag: piece(src, tag),
            content: piece(src, content),
        },
    };
    Ok((literal, len))
}

/// An address literal checked and split, its text not yet taken.
pub(crate) enum RawLiteral<'a> {
    V4(Ipv4Addr),
    V6(Ipv6Addr),
    General { tag: &'a [u8], content: &'a [u8] },
}

/// Reads the bracketed literal at the start of `input`.
pub(crate) fn read_literal(input: &[u8]) -> Result<(RawLiteral<'_>, usize), AddressError> {
    let invalid = AddressError::InvalidAddressLiteral;
    let rest = input.strip_prefix(b"[").ok_or(invalid)?;
    let close = memchr::memchr(b']', rest).ok_or(invalid)?;
    let inner = rest.get(..close).ok_or(invalid)?;
    let literal = match memchr::memchr(b':', inner) {
        None => RawLiteral::V4(parse_ipv4(inner).ok_or(invalid)?),
        Some(colon) => {
            let (tag, content) = (&inner[..colon], &inner[colon + 1..]);
            if tag.eq_ignore_ascii_case(b"IPv6") {
                RawLiteral::V6(parse_ipv6(content).ok_or(invalid)?)
            } else if is_general_tag(tag) && is_dcontent(content) {
                RawLiteral::General { tag, content }
            } else {
                return Err(invalid);
            }
        }
    };
    Ok((literal, close + 2))
}

/// `Snum 3("." Snum)` with `Snum = 1*3DIGIT` at most 255 (RFC 5321 §4.1.3);
/// unlike `Ipv4Addr::from_str`, leading zeros are allowed as the grammar does.
fn parse_ipv4(input: &[u8]) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut parts = input.split(|&b| b == b'.');
    for octet in &mut octets {
        let part = parts.next()?;
        if part.is_empty() || part.len() > 3 || !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let value = part
            .iter()
            .fold(0u16, |acc, &d| acc * 10 + u16::from(d - b'0'));
        *octet = u8::try_from(value).ok()?;
    }
    parts.next().is_none().then_some(Ipv4Addr::from(octets))
}

/// The four IPv6 forms of RFC 5321 §4.1.3, where `::` stands for at least two
/// groups of zeros.
fn parse_ipv6(input: &[u8]) -> Option<Ipv6Addr> {
    if !input
        .iter()
        .all(|&b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
    {
        return None;
    }
    let address: Ipv6Addr = core::str::from_utf8(input).ok()?.parse().ok()?;
    if memchr::memmem::find(input, b"::").is_some() {
        let explicit_groups = input
            .split(|&b| b == b':')
            .filter(|group| !group.is_empty())
            .map(|group| if group.contains(&b'.') { 2 } else { 1 })
            .sum::<usize>();
        if explicit_groups > 6 {
            return None;
        }
    }
    Some(address)
}

/// `Standardized-tag = Ldh-str`: letters, digits and hyphens, ending in a
/// letter or digit.
fn is_general_tag(tag: &[u8]) -> bool {
    tag.last().is_some_and(u8::is_ascii_alphanumeric)
        && tag.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'-')
}

/// `1*dcontent`: printable ASCII except `[`, `\` and `]`.
fn is_dcontent(content: &[u8]) -> bool {
    !content.is_empty() && content.iter().all(|&b| matches!(b, 33..=90 | 94..=126))
}

impl fmt::Display for AddressLiteral {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddressLiteral::V4(address) => write!(f, "[{address}]"),
            AddressLiteral::V6(address) => write!(f, "[IPv6:{address}]"),
            AddressLiteral::General { tag, content } => write!(f, "[{tag}:{content}]"),
        }
    }
}

/// Where a mailbox lives, or what a client calls itself in `EHLO`: a domain
/// or an address literal (RFC 5321 §4.1.2).
///
/// ```
/// use smtpwire::Host;
///
/// assert!(matches!(Host::parse("[192.0.2.1]").unwrap(), Host::Literal(_)));
/// assert!(matches!(Host::parse("example.org").unwrap(), Host::Domain(_)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    /// A domain name.
    Domain(Domain),
    /// An address literal.
    Literal(AddressLiteral),
}

impl Host {
    /// Whether the host is all ASCII.
    pub fn is_ascii(&self) -> bool {
        match self {
            Host::Domain(domain) => domain.is_ascii(),
            Host::Literal(_) => true,
        }
    }

    /// Whether sending the host needs the SMTPUTF8 extension (RFC 6531).
    pub fn needs_smtputf8(&self) -> bool {
        !self.is_ascii()
    }

    /// Whether the two are the same host: domains compared without regard
    /// to case ([`Domain::eq_ignore_case`], RFC 5321 §2.4), address literals
    /// by address, however they were written. A domain never equals a
    /// literal, even one it resolves to.
    ///
    /// ```
    /// use smtpwire::Host;
    ///
    /// let host = Host::parse("MX.example.org").unwrap();
    /// assert!(host.same_host(&Host::parse("mx.EXAMPLE.org").unwrap()));
    /// assert!(Host::parse("[IPv6:::1]").unwrap().same_host(&Host::parse("[IPv6:0::1]").unwrap()));
    /// ```
    pub fn same_host(&self, other: &Host) -> bool {
        match (self, other) {
            (Host::Domain(domain), Host::Domain(other)) => domain.eq_ignore_case(other),
            _ => self == other,
        }
    }
}

whole_input_parsers!(Host, scan_host, AddressError::InvalidDomain);

/// Scans a domain or an address literal at the start of `input`.
#[inline]
pub(crate) fn scan_host(src: &Bytes, input: &[u8]) -> Result<(Host, usize), AddressError> {
    if input.first() == Some(&b'[') {
        let (literal, len) = scan_literal(src, input)?;
        Ok((Host::Literal(literal), len))
    } else {
        let (domain, len) = scan_domain(src, input)?;
        Ok((Host::Domain(domain), len))
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Domain(domain) => domain.fmt(f),
            Host::Literal(literal) => literal.fmt(f),
        }
    }
}

impl From<Domain> for Host {
    fn from(domain: Domain) -> Self {
        Host::Domain(domain)
    }
}

impl From<AddressLiteral> for Host {
    fn from(literal: AddressLiteral) -> Self {
        Host::Literal(literal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec::Vec;
    use proptest::prelude::*;

    #[test]
    fn names_compare_without_regard_to_case() {
        let name = |text: &str| Domain::parse(text).unwrap();
        assert!(name("MX.Example.ORG").eq_ignore_case(&name("mx.example.org")));
        assert!(name("ÖL.example").eq_ignore_case(&name("öl.example")));
        assert!(!name("öl.example").eq_ignore_case(&name("ol.example")));
        // No IDNA mapping: an A-label is not its U-label.
        assert!(!name("xn--l-fka.example").eq_ignore_case(&name("öl.example")));
        assert_eq!(
            name("b.example").cmp_ignore_case(&name("A.example")),
            core::cmp::Ordering::Greater
        );
        let literal = Host::parse("[192.0.2.1]").unwrap();
        assert!(!literal.same_host(&Host::parse("example.org").unwrap()));
        assert!(Host::parse("Example.ORG")
            .unwrap()
            .same_host(&Host::parse("example.org").unwrap()));
    }

    proptest! {
        #[test]
        fn one_pass_agrees_with_label_by_label(
            pieces in proptest::collection::vec(
                prop_oneof![
                    Just(&b"a"[..]), Just(&b"-"[..]), Just(&b"."[..]), Just(&b">"[..]),
                    Just("ü".as_bytes()), Just(&b"x"[..]),
                ],
                0..300,
            ),
        ) {
            let input: Vec<u8> = pieces.concat();
            prop_assert_eq!(domain_len(&input), domain_len_by_label(&input));
        }
    }

    #[test]
    fn domains() {
        for ok in [
            "a",
            "example.com",
            "x-1.y2.Example",
            "xn--bcher-kva.example",
            "bücher.de",
        ] {
            assert_eq!(Domain::parse(ok).unwrap().as_str(), ok);
        }
        for bad in [
            "", ".", "a.", ".a", "a..b", "-a", "a-", "a.-b", "a_b", "a b", "a@b",
        ] {
            assert!(Domain::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Domain::parse("bücher.de").unwrap().needs_smtputf8());
    }

    #[test]
    fn domain_limits() {
        let label = "a".repeat(63);
        assert!(Domain::parse(&label).is_ok());
        assert_eq!(
            Domain::parse(&"a".repeat(64)),
            Err(AddressError::LabelTooLong { len: 64 })
        );
        let long = [label.as_str(); 4].join(".");
        assert_eq!(long.len(), 255);
        assert!(Domain::parse(&long).is_ok());
        assert_eq!(
            Domain::parse(&(long + "a")).map(|_| ()).unwrap_err(),
            AddressError::LabelTooLong { len: 64 }
        );
        let long = [label.as_str(); 4].join(".") + ".b";
        assert_eq!(
            Domain::parse(&long),
            Err(AddressError::DomainTooLong { len: 257 })
        );
    }

    #[test]
    fn ipv4_literals() {
        let parsed = AddressLiteral::parse("[192.0.2.1]").unwrap();
        assert_eq!(parsed, AddressLiteral::V4(Ipv4Addr::new(192, 0, 2, 1)));
        assert_eq!(
            AddressLiteral::parse("[010.0.0.001]").unwrap(),
            AddressLiteral::V4(Ipv4Addr::new(10, 0, 0, 1))
        );
        for bad in [
            "[256.0.0.1]",
            "[1.2.3]",
            "[1.2.3.4.5]",
            "[1..2.3]",
            "[1.2.3.4",
            "1.2.3.4",
            "[]",
            "[1234.1.1.1]",
        ] {
            assert!(AddressLiteral::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn ipv6_literals() {
        for (wire, address) in [
            ("[IPv6:2001:db8:0:0:0:0:0:1]", "2001:db8::1"),
            ("[IPv6:2001:db8::1]", "2001:db8::1"),
            ("[ipv6:::1]", "::1"),
            ("[IPv6:::]", "::"),
            ("[IPv6:::ffff:192.0.2.1]", "::ffff:192.0.2.1"),
            ("[IPv6:1:2:3:4:5:6:192.0.2.1]", "1:2:3:4:5:6:c000:201"),
        ] {
            assert_eq!(
                AddressLiteral::parse(wire).unwrap(),
                AddressLiteral::V6(address.parse().unwrap()),
                "{wire}"
            );
        }
        for bad in [
            "[IPv6:1:2:3:4:5:6:7::]",
            "[IPv6:1:2:3:4:5::6:1.2.3.4]",
            "[IPv6:1:2:3:4:5:6:7]",
            "[IPv6:12345::]",
            "[IPv6:g::]",
            "[IPv6:]",
        ] {
            assert!(AddressLiteral::parse(bad).is_err(), "{bad:?}");
        }
        let literal = AddressLiteral::parse("[IPv6:::ffff:192.0.2.1]").unwrap();
        assert_eq!(literal.to_string(), "[IPv6:::ffff:192.0.2.1]");
    }

    #[test]
    fn general_literals() {
        let literal = AddressLiteral::parse("[x-tag:some.content]").unwrap();
        assert_eq!(
            literal,
            AddressLiteral::general("x-tag", "some.content").unwrap()
        );
        assert_eq!(literal.to_string(), "[x-tag:some.content]");
        for bad in ["[tag-:x]", "[tag:]", "[tag:a b]", "[tag:a\\b]", "[:x]"] {
            assert!(AddressLiteral::parse(bad).is_err(), "{bad:?}");
        }
        assert!(AddressLiteral::general("a", "[").is_err());
    }

    #[test]
    fn parses_share_the_buffer() {
        let src = Bytes::from_static(b"example.org");
        let domain = Domain::parse_bytes(&src).unwrap();
        assert_eq!(domain.as_text().as_bytes().as_ptr(), src.as_ptr());
    }
}
