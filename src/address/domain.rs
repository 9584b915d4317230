//! Domains, address literals and the hosts they make up.

use super::{
    class, failure, finish, named, no_case, octet, octets1, piece, whole_input_parsers,
    AddressError, Fault, Parsed,
};
use crate::limits::{MAX_DOMAIN_LABEL_LEN, MAX_DOMAIN_LEN};
use crate::Text;
use bytes::Bytes;
use core::cmp::Ordering;
use core::fmt;
use core::net::{Ipv4Addr, Ipv6Addr};
use nom::branch::alt;
use nom::bytes::complete::take_while_m_n;
use nom::combinator::{cut, map, map_opt, verify};
use nom::sequence::{delimited, preceded, separated_pair};
use nom::Parser;

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
    let (name, len) = finish(input, domain(input), AddressError::InvalidDomain)?;
    Ok((Domain(piece(src, name)), len))
}

/// `Domain = sub-domain *("." sub-domain)` (RFC 5321 §4.1.2), at most
/// [`MAX_DOMAIN_LEN`] octets long. A dot must be followed by a label.
///
/// One pass over the letters, digits, hyphens, UTF-8 bytes and dots finds
/// where the domain ends, noting on the way, without a branch, whether a
/// label is empty or has a hyphen at either end: a branch taken at each dot
/// was mispredicted once per label, most of what a domain cost. This pass
/// stays hand-written: the rule as a loop over [`sub_domain`] alone made a
/// whole `EHLO client7.mail.example.net` 5 % slower. A domain that is not
/// plainly valid is read again by the rule as written, [`domain_by_label`],
/// which names the first fault.
#[inline]
pub(crate) fn domain(input: &[u8]) -> Parsed<'_, &[u8]> {
    // The edges (dot, hyphen) that may not come next, and whether one did.
    // The domain starts as a label does after a dot.
    let mut barred = barred_after(class::DOT);
    let mut fault = 0;
    let mut end = input.len();
    for (at, &byte) in input.iter().enumerate() {
        let classes = class::of(byte);
        if classes & (class::LABEL | class::DOT) == 0 {
            end = at;
            break;
        }
        fault |= classes & barred;
        barred = barred_after(classes);
    }
    // Nor may a label end in a dot (an empty one) or a hyphen, the bytes
    // after which something is barred.
    let fault = fault != 0 || barred != 0;
    match (input.get(..end), input.get(end..)) {
        // No label of a name this short can be too long.
        (Some(name), Some(rest)) if !fault && end <= MAX_DOMAIN_LABEL_LEN => Ok((rest, name)),
        (Some(name), Some(rest))
            if !fault
                && end <= MAX_DOMAIN_LEN
                && name
                    .split(|&byte| byte == b'.')
                    .all(|label| label.len() <= MAX_DOMAIN_LABEL_LEN) =>
        {
            Ok((rest, name))
        }
        _ => domain_by_label(input),
    }
}

/// The edges of a label that may not follow a byte of `classes`: after a
/// dot neither a dot (an empty label) nor a hyphen (labels do not start with
/// one), after a hyphen no dot (nor do they end with one).
#[inline]
fn barred_after(classes: u8) -> u8 {
    // Indexed by the dot and hyphen bits; no byte has both.
    const _: () = assert!(class::DOT == 1 << 2 && class::HYPHEN == 2 << 2);
    const BARRED: [u8; 4] = [0, class::DOT | class::HYPHEN, class::DOT, 0];
    BARRED[usize::from(classes >> 2 & 3)]
}

/// `Domain = sub-domain *("." sub-domain)` read label by label, as it is
/// written.
fn domain_by_label(input: &[u8]) -> Parsed<'_, &[u8]> {
    let (mut rest, _) = named(AddressError::InvalidDomain, sub_domain).parse(input)?;
    while let Some(after_dot) = rest.strip_prefix(b".") {
        (rest, _) = named(AddressError::InvalidDomain, cut(sub_domain)).parse(after_dot)?;
    }
    let name = &input[..input.len() - rest.len()];
    if name.len() > MAX_DOMAIN_LEN {
        return failure(AddressError::DomainTooLong { len: name.len() });
    }
    Ok((rest, name))
}

/// `sub-domain = Let-dig [Ldh-str]` with `Let-dig = ALPHA / DIGIT` and
/// `Ldh-str = *( ALPHA / DIGIT / "-" ) Let-dig` (RFC 5321 §4.1.2), or a
/// U-label (RFC 6531 §3.3, taken as its UTF-8 bytes): one run of letters,
/// digits, hyphens and UTF-8 that neither starts nor ends with a hyphen.
/// An ASCII label is at most [`MAX_DOMAIN_LABEL_LEN`] octets (RFC 1035
/// §2.3.4); a U-label's length is that of its A-label, not known here.
#[inline]
fn sub_domain(input: &[u8]) -> Parsed<'_, &[u8]> {
    let (rest, label) = octets1(|byte| class::is(byte, class::LABEL)).parse(input)?;
    if label.first() == Some(&b'-') || label.last() == Some(&b'-') {
        return Err(nom::Err::Error(Fault(None)));
    }
    if label.len() > MAX_DOMAIN_LABEL_LEN && label.is_ascii() {
        return failure(AddressError::LabelTooLong { len: label.len() });
    }
    Ok((rest, label))
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
        if !is_whole(tag.as_bytes(), standardized_tag)
            || !is_whole(content.as_bytes(), octets1(dcontent))
        {
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
    let (literal, len) = finish(
        input,
        address_literal(input),
        AddressError::InvalidAddressLiteral,
    )?;
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

/// `address-literal = "[" ( IPv4-address-literal / IPv6-address-literal /
/// General-address-literal ) "]"` (RFC 5321 §4.1.3).
pub(crate) fn address_literal(input: &[u8]) -> Parsed<'_, RawLiteral<'_>> {
    named(
        AddressError::InvalidAddressLiteral,
        delimited(
            octet(b'['),
            alt((
                map(ipv4_address_literal, RawLiteral::V4),
                map(ipv6_address_literal, RawLiteral::V6),
                map(general_address_literal, |(tag, content)| {
                    RawLiteral::General { tag, content }
                }),
            )),
            octet(b']'),
        ),
    )
    .parse(input)
}

/// `IPv4-address-literal = Snum 3("."  Snum)` (RFC 5321 §4.1.3).
fn ipv4_address_literal(input: &[u8]) -> Parsed<'_, Ipv4Addr> {
    let dot = || octet(b'.');
    map(
        (
            snum,
            preceded(dot(), snum),
            preceded(dot(), snum),
            preceded(dot(), snum),
        ),
        |(a, b, c, d)| Ipv4Addr::new(a, b, c, d),
    )
    .parse(input)
}

/// `Snum = 1*3DIGIT` "representing a decimal integer value in the range
/// 0 through 255" (RFC 5321 §4.1.3); leading zeros are allowed, as the
/// grammar does, unlike `Ipv4Addr::from_str`.
fn snum(input: &[u8]) -> Parsed<'_, u8> {
    map_opt(
        take_while_m_n(1, 3, |byte: u8| byte.is_ascii_digit()),
        |digits: &[u8]| {
            let value = digits
                .iter()
                .fold(0u16, |acc, &digit| acc * 10 + u16::from(digit - b'0'));
            u8::try_from(value).ok()
        },
    )
    .parse(input)
}

/// `IPv6-address-literal = "IPv6:" IPv6-addr` (RFC 5321 §4.1.3). Once the
/// tag is read, the address must follow: `IPv6` is no general tag.
fn ipv6_address_literal(input: &[u8]) -> Parsed<'_, Ipv6Addr> {
    preceded(no_case(&b"IPv6:"[..]), cut(ipv6_addr)).parse(input)
}

/// `IPv6-addr = IPv6-full / IPv6-comp / IPv6v4-full / IPv6v4-comp`
/// (RFC 5321 §4.1.3), where in the compressed forms `::` stands for at least
/// two groups of zeros: at most six groups (an IPv4 suffix counting as two)
/// are written besides it.
///
/// The four forms are read by the standard library's parser, which accepts
/// exactly RFC 4291's text forms, once the characters are known to be hex
/// digits, colons and dots; only the count of explicit groups is RFC 5321's.
fn ipv6_addr(input: &[u8]) -> Parsed<'_, Ipv6Addr> {
    map_opt(
        octets1(|byte: u8| byte.is_ascii_hexdigit() || byte == b':' || byte == b'.'),
        |text: &[u8]| {
            let address: Ipv6Addr = core::str::from_utf8(text).ok()?.parse().ok()?;
            if memchr::memmem::find(text, b"::").is_some() {
                let explicit_groups = text
                    .split(|&b| b == b':')
                    .filter(|group| !group.is_empty())
                    .map(|group| if group.contains(&b'.') { 2 } else { 1 })
                    .sum::<usize>();
                if explicit_groups > 6 {
                    return None;
                }
            }
            Some(address)
        },
    )
    .parse(input)
}

/// `General-address-literal = Standardized-tag ":" 1*dcontent`
/// (RFC 5321 §4.1.3).
fn general_address_literal(input: &[u8]) -> Parsed<'_, (&[u8], &[u8])> {
    separated_pair(standardized_tag, octet(b':'), octets1(dcontent)).parse(input)
}

/// `Standardized-tag = Ldh-str` (RFC 5321 §4.1.3): letters, digits and
/// hyphens, ending in a letter or digit.
fn standardized_tag(input: &[u8]) -> Parsed<'_, &[u8]> {
    verify(
        octets1(|byte: u8| byte.is_ascii_alphanumeric() || byte == b'-'),
        |tag: &[u8]| tag.last().is_some_and(u8::is_ascii_alphanumeric),
    )
    .parse(input)
}

/// `dcontent = %d33-90 / %d94-126` (RFC 5321 §4.1.3): printable ASCII but
/// `[`, `\` and `]`.
fn dcontent(byte: u8) -> bool {
    matches!(byte, 33..=90 | 94..=126)
}

/// Whether all of `input` matches `rule`.
fn is_whole<'a>(input: &'a [u8], mut rule: impl Parser<&'a [u8], Error = Fault>) -> bool {
    matches!(rule.parse(input), Ok((&[], _)))
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
    use alloc::vec;
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
                    // Each side of the label class's boundaries.
                    Just(&b"Z0"[..]), Just(&b"9z"[..]), Just(&b"A"[..]),
                    Just(&b"/"[..]), Just(&b":"[..]), Just(&b"@"[..]), Just(&b"["[..]),
                    Just(&b"`"[..]), Just(&b"{"[..]), Just(&b","[..]), Just(&b"\0"[..]),
                    Just(&b"\x7f"[..]), Just(&b"\x80"[..]), Just(&b"\xff"[..]),
                ],
                0..300,
            ),
        ) {
            let input: Vec<u8> = pieces.concat();
            prop_assert_eq!(
                finish(&input, domain(&input), AddressError::InvalidDomain).map(|(_, len)| len),
                domain_len_by_label(&input)
            );
        }
    }

    /// The domain rule read label by label, reporting the first fault.
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
