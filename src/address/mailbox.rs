//! Mailboxes and the reverse and forward paths that carry them.

use super::domain::{address_literal, domain, RawLiteral};
use super::local_part::local_part;
use super::{
    failure, finish, named, no_case, octet, piece, whole_input_parsers, AddressError,
    AddressLiteral, Domain, Fault, Host, LocalPart, Parsed,
};
use crate::limits::MAX_PATH_LEN;
use crate::Text;
use bytes::Bytes;
use core::fmt;
use core::hash::{Hash, Hasher};
use nom::combinator::{cut, map, peek, recognize};
use nom::multi::many0_count;
use nom::sequence::{preceded, terminated};
use nom::Parser;

/// `Local-part "@" ( Domain / address-literal )` (RFC 5321 §4.1.2).
///
/// A mailbox is always short enough to fit in a path: at most
/// [`MAX_PATH_LEN`](crate::limits::MAX_PATH_LEN) − 2 octets.
///
/// A parsed mailbox keeps its text as it was written, in one piece of the
/// input; [`local_part`](Mailbox::local_part) and [`host`](Mailbox::host)
/// hand out the parts. Two mailboxes are equal when their local parts are
/// the same text and their hosts are equal [`Host`]s, so an address literal
/// matches however it was written.
///
/// ```
/// use smtpwire::Mailbox;
///
/// let mailbox = Mailbox::parse(r#""john \"jd\" doe"@example.com"#).unwrap();
/// assert_eq!(mailbox.local_part().value(), r#"john "jd" doe"#);
/// assert_eq!(mailbox.host().to_string(), "example.com");
/// assert_eq!(mailbox.as_str(), r#""john \"jd\" doe"@example.com"#);
/// assert!(Mailbox::parse("user@[IPv6:2001:db8::1]").is_ok());
/// ```
#[derive(Clone)]
pub struct Mailbox {
    /// Local part, `@` and host: line-safe UTF-8, checked when it was built.
    wire: Bytes,
    /// Where the `@` between the parts is in `wire`.
    at: usize,
}

impl Mailbox {
    /// Joins a local part and a host, checking that the result fits in a path.
    pub fn new(local_part: LocalPart, host: Host) -> Result<Self, AddressError> {
        let wire = alloc::format!("{local_part}@{host}");
        if wire.len() + 2 > MAX_PATH_LEN {
            return Err(AddressError::PathTooLong {
                len: wire.len() + 2,
            });
        }
        Ok(Mailbox {
            at: local_part.as_str().len(),
            wire: Bytes::from(wire),
        })
    }

    /// The part before the `@`, sharing the mailbox's buffer.
    pub fn local_part(&self) -> LocalPart {
        LocalPart(Text::from_parsed(self.wire.slice(..self.at)))
    }

    /// The part after the `@`: a domain sharing the mailbox's buffer, or an
    /// address literal.
    pub fn host(&self) -> Host {
        let text = self.host_bytes();
        match address_literal(text) {
            Ok((_, RawLiteral::V4(address))) => Host::Literal(AddressLiteral::V4(address)),
            Ok((_, RawLiteral::V6(address))) => Host::Literal(AddressLiteral::V6(address)),
            Ok((_, RawLiteral::General { tag, content })) => {
                Host::Literal(AddressLiteral::General {
                    tag: piece(&self.wire, tag),
                    content: piece(&self.wire, content),
                })
            }
            // A domain never starts with `[`, so it never reads as a literal.
            Err(_) => Host::Domain(Domain(piece(&self.wire, text))),
        }
    }

    /// The mailbox as it was written (address literals included) or, for one
    /// built with [`Mailbox::new`], as it is displayed.
    pub fn as_str(&self) -> &str {
        // Checked to be UTF-8 when built; the fallback keeps this panic-free.
        core::str::from_utf8(&self.wire).unwrap_or_default()
    }

    /// The local part as written, quotes and escapes included.
    pub fn local_part_str(&self) -> &str {
        self.as_str().get(..self.at).unwrap_or_default()
    }

    /// The host as written.
    fn host_bytes(&self) -> &[u8] {
        self.wire.get(self.at + 1..).unwrap_or_default()
    }

    /// Whether the host is an address literal.
    fn has_literal(&self) -> bool {
        self.host_bytes().first() == Some(&b'[')
    }

    /// Whether the mailbox is all ASCII.
    pub fn is_ascii(&self) -> bool {
        self.wire.is_ascii()
    }

    /// Whether sending it needs the SMTPUTF8 extension (RFC 6531).
    pub fn needs_smtputf8(&self) -> bool {
        !self.is_ascii()
    }

    /// Whether the two are the same mailbox as RFC 5321 §2.4 has them
    /// compared: the hosts without regard to case ([`Host::same_host`]),
    /// the local parts case-sensitively, since only the mailbox's own host
    /// may decide that `Bob` and `bob` are one user. Local parts compare by
    /// [`value`](LocalPart::value), so `"bob"` and `bob` are the same.
    ///
    /// `==` compares the local parts as written and the domains exactly.
    ///
    /// ```
    /// use smtpwire::Mailbox;
    ///
    /// let bob = Mailbox::parse("bob@Example.NET").unwrap();
    /// assert!(bob.same_mailbox(&Mailbox::parse("bob@example.net").unwrap()));
    /// assert!(bob.same_mailbox(&Mailbox::parse("\"bob\"@example.net").unwrap()));
    /// assert!(!bob.same_mailbox(&Mailbox::parse("Bob@example.net").unwrap()));
    /// ```
    pub fn same_mailbox(&self, other: &Mailbox) -> bool {
        self.host().same_host(&other.host())
            && self.local_part().value() == other.local_part().value()
    }

    /// Whether it holds a C0 or C1 control character, DEL, or the line and
    /// paragraph separators U+2028 and U+2029: the RFC 6531 grammar lets
    /// C1 controls and the separators into a quoted local part, and written
    /// into a header field or a log they can break or forge lines.
    pub fn has_control_characters(&self) -> bool {
        // Printable ASCII, the common case, is settled without decoding.
        self.wire.iter().any(|&b| !(b' '..=b'~').contains(&b))
            && self
                .as_str()
                .chars()
                .any(|c| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}'))
    }
}

impl PartialEq for Mailbox {
    fn eq(&self, other: &Self) -> bool {
        if self.local_part_str() != other.local_part_str() {
            return false;
        }
        if self.has_literal() || other.has_literal() {
            // Literals compare by address, however they were written.
            self.host() == other.host()
        } else {
            self.host_bytes() == other.host_bytes()
        }
    }
}

impl Eq for Mailbox {}

impl Hash for Mailbox {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.local_part_str().hash(state);
        if self.has_literal() {
            self.host().hash(state);
        } else {
            self.host_bytes().hash(state);
        }
    }
}

impl fmt::Debug for Mailbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mailbox")
            .field("local_part", &self.local_part())
            .field("host", &self.host())
            .finish()
    }
}

whole_input_parsers!(Mailbox, scan_mailbox, AddressError::InvalidDomain);

/// Scans the mailbox at the start of `input`, taking it as one piece of `src`.
#[inline]
pub(crate) fn scan_mailbox(src: &Bytes, input: &[u8]) -> Result<(Mailbox, usize), AddressError> {
    let ((wire, at), len) = finish(input, mailbox(input), AddressError::InvalidDomain)?;
    Ok((
        Mailbox {
            wire: src.slice_ref(wire),
            at,
        },
        len,
    ))
}

/// `Mailbox = Local-part "@" ( Domain / address-literal )` (RFC 5321
/// §4.1.2), short enough to fit in a path of [`MAX_PATH_LEN`] octets. Gives
/// the mailbox and where its `@` is.
#[inline]
fn mailbox(input: &[u8]) -> Parsed<'_, (&[u8], usize)> {
    let (after_local, local) = local_part(input)?;
    let (rest, _) = named(AddressError::MissingDomain, octet(b'@')).parse(after_local)?;
    let (rest, _) = if rest.first() == Some(&b'[') {
        recognize(address_literal).parse(rest)?
    } else {
        domain(rest)?
    };
    let len = input.len() - rest.len();
    if len + 2 > MAX_PATH_LEN {
        return failure(AddressError::PathTooLong { len: len + 2 });
    }
    Ok((rest, (&input[..len], local.len())))
}

impl fmt::Display for Mailbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.has_literal() {
            // Literals are written in their canonical form.
            write!(f, "{}@{}", self.local_part_str(), self.host())
        } else {
            f.write_str(self.as_str())
        }
    }
}

/// The sender of `MAIL FROM:` (RFC 5321 §4.1.1.2): a mailbox, or `<>` for
/// notifications that must not be answered.
///
/// ```
/// use smtpwire::ReversePath;
///
/// assert_eq!(ReversePath::parse("<>").unwrap(), ReversePath::Null);
/// let path = ReversePath::parse("<@relay.example:user@example.org>").unwrap();
/// assert_eq!(path.to_string(), "<user@example.org>"); // source route dropped
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ReversePath {
    /// `<>`.
    Null,
    /// `<mailbox>`.
    Mailbox(Mailbox),
}

impl ReversePath {
    /// The path of a bare address such as `alice@example.org`, written
    /// without the angle brackets [`parse`](Self::parse) requires. The null
    /// path has no address: it is [`ReversePath::Null`].
    ///
    /// ```
    /// use smtpwire::ReversePath;
    ///
    /// let path = ReversePath::from_address("alice@example.org").unwrap();
    /// assert_eq!(path, ReversePath::parse("<alice@example.org>").unwrap());
    /// assert!(ReversePath::from_address("<alice@example.org>").is_err());
    /// ```
    pub fn from_address(address: &str) -> Result<Self, AddressError> {
        Mailbox::parse(address).map(ReversePath::Mailbox)
    }

    /// The mailbox, unless the path is null.
    pub fn mailbox(&self) -> Option<&Mailbox> {
        match self {
            ReversePath::Null => None,
            ReversePath::Mailbox(mailbox) => Some(mailbox),
        }
    }

    /// Whether the path is all ASCII.
    pub fn is_ascii(&self) -> bool {
        self.mailbox().map_or(true, Mailbox::is_ascii)
    }

    /// Whether sending it needs the SMTPUTF8 extension (RFC 6531).
    pub fn needs_smtputf8(&self) -> bool {
        !self.is_ascii()
    }
}

whole_input_parsers!(ReversePath, scan_reverse_path, AddressError::InvalidPath);

/// Scans `<>` or `<[source-route:]mailbox>` at the start of `input`.
#[inline]
pub(crate) fn scan_reverse_path(
    src: &Bytes,
    input: &[u8],
) -> Result<(ReversePath, usize), AddressError> {
    let (path, len) = finish(input, reverse_path(input), AddressError::InvalidPath)?;
    let path = match path {
        Some(mailbox) => ReversePath::Mailbox(mailbox.into_mailbox(src)),
        None => ReversePath::Null,
    };
    Ok((path, len))
}

/// `Reverse-path = Path / "<>"` (RFC 5321 §4.1.2): `None` for the null path.
#[inline]
fn reverse_path(input: &[u8]) -> Parsed<'_, Option<RawMailbox<'_>>> {
    match input.strip_prefix(b"<>") {
        Some(rest) => Ok((rest, None)),
        None => map(path, Some).parse(input),
    }
}

impl fmt::Display for ReversePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReversePath::Null => f.write_str("<>"),
            ReversePath::Mailbox(mailbox) => write!(f, "<{mailbox}>"),
        }
    }
}

impl From<Mailbox> for ReversePath {
    fn from(mailbox: Mailbox) -> Self {
        ReversePath::Mailbox(mailbox)
    }
}

/// The recipient of `RCPT TO:` (RFC 5321 §4.1.1.3): a mailbox, or the bare
/// `<Postmaster>` every server must accept (§4.5.1).
///
/// ```
/// use smtpwire::ForwardPath;
///
/// assert_eq!(ForwardPath::parse("<postmaster>").unwrap(), ForwardPath::Postmaster);
/// assert!(ForwardPath::parse("<>").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ForwardPath {
    /// `<Postmaster>`, in any case, with no domain.
    Postmaster,
    /// `<mailbox>`.
    Mailbox(Mailbox),
}

impl ForwardPath {
    /// The path of a bare address such as `bob@example.net`, written without
    /// the angle brackets [`parse`](Self::parse) requires. The bare
    /// postmaster has no domain: it is [`ForwardPath::Postmaster`].
    ///
    /// ```
    /// use smtpwire::ForwardPath;
    ///
    /// let path = ForwardPath::from_address("bob@example.net").unwrap();
    /// assert_eq!(path.to_string(), "<bob@example.net>");
    /// assert!(ForwardPath::from_address("bob").is_err());
    /// ```
    pub fn from_address(address: &str) -> Result<Self, AddressError> {
        Mailbox::parse(address).map(ForwardPath::Mailbox)
    }

    /// The mailbox, unless the path is the bare postmaster.
    pub fn mailbox(&self) -> Option<&Mailbox> {
        match self {
            ForwardPath::Postmaster => None,
            ForwardPath::Mailbox(mailbox) => Some(mailbox),
        }
    }

    /// Whether the path is all ASCII.
    pub fn is_ascii(&self) -> bool {
        self.mailbox().map_or(true, Mailbox::is_ascii)
    }

    /// Whether sending it needs the SMTPUTF8 extension (RFC 6531).
    pub fn needs_smtputf8(&self) -> bool {
        !self.is_ascii()
    }
}

whole_input_parsers!(ForwardPath, scan_forward_path, AddressError::InvalidPath);

/// Scans `<Postmaster>` or `<[source-route:]mailbox>` at the start of `input`.
#[inline]
pub(crate) fn scan_forward_path(
    src: &Bytes,
    input: &[u8],
) -> Result<(ForwardPath, usize), AddressError> {
    let (path, len) = finish(input, forward_path(input), AddressError::InvalidPath)?;
    let path = match path {
        Some(mailbox) => ForwardPath::Mailbox(mailbox.into_mailbox(src)),
        None => ForwardPath::Postmaster,
    };
    Ok((path, len))
}

/// `"<Postmaster>" / Forward-path` with `Forward-path = Path` (RFC 5321
/// §4.1.1.3, §4.1.2): `None` for the bare postmaster. `<>` is named as the
/// null path, which is no recipient.
#[inline]
fn forward_path(input: &[u8]) -> Parsed<'_, Option<RawMailbox<'_>>> {
    const POSTMASTER: &[u8] = b"<postmaster>";
    // Most paths are not this one: a glance at where its `>` would be
    // settles that before the whole comparison.
    if input.get(POSTMASTER.len() - 1) == Some(&b'>') {
        if let Ok((rest, _)) = no_case::<Fault>(POSTMASTER).parse(input) {
            return Ok((rest, None));
        }
    }
    if input.starts_with(b"<>") {
        return failure(AddressError::NullRecipient);
    }
    map(path, Some).parse(input)
}

impl fmt::Display for ForwardPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ForwardPath::Postmaster => f.write_str("<Postmaster>"),
            ForwardPath::Mailbox(mailbox) => write!(f, "<{mailbox}>"),
        }
    }
}

impl From<Mailbox> for ForwardPath {
    fn from(mailbox: Mailbox) -> Self {
        ForwardPath::Mailbox(mailbox)
    }
}

/// A mailbox read from a path, its text not yet taken.
#[derive(Clone, Copy)]
struct RawMailbox<'a> {
    wire: &'a [u8],
    at: usize,
}

impl RawMailbox<'_> {
    fn into_mailbox(self, src: &Bytes) -> Mailbox {
        Mailbox {
            wire: src.slice_ref(self.wire),
            at: self.at,
        }
    }
}

/// `Path = "<" [ A-d-l ":" ] Mailbox ">"` (RFC 5321 §4.1.2), at most
/// [`MAX_PATH_LEN`] octets long. A source route is checked and then ignored,
/// as §4.1.2 and Appendix C ask of receivers.
#[inline]
fn path(input: &[u8]) -> Parsed<'_, RawMailbox<'_>> {
    let (rest, _) = named(AddressError::MissingAngleBrackets, octet(b'<')).parse(input)?;
    // Only a source route starts with `@`; looking first spares every other
    // path the call.
    let (rest, _) = if rest.first() == Some(&b'@') {
        terminated(a_d_l, octet(b':'))
            .parse(rest)
            .map_err(|fault| fault.map(|_| Fault(Some(AddressError::InvalidSourceRoute))))?
    } else {
        (rest, ())
    };
    let (rest, (wire, at)) = mailbox(rest)?;
    let (rest, _) = match rest.first() {
        Some(b'>') => (&rest[1..], ()),
        None => return failure(AddressError::MissingAngleBrackets),
        Some(_) => return failure(AddressError::InvalidPath),
    };
    let len = input.len() - rest.len();
    if len > MAX_PATH_LEN {
        return failure(AddressError::PathTooLong { len });
    }
    Ok((rest, RawMailbox { wire, at }))
}

/// `A-d-l = At-domain *( "," At-domain )` (RFC 5321 §4.1.2). Once an
/// `At-domain` has begun, the route must be well formed up to its `:`.
fn a_d_l(input: &[u8]) -> Parsed<'_, ()> {
    let (rest, _) = at_domain(input)?;
    let (rest, _) = cut((
        many0_count(preceded(octet(b','), at_domain)),
        peek(octet(b':')),
    ))
    .parse(rest)?;
    Ok((rest, ()))
}

/// `At-domain = "@" Domain` (RFC 5321 §4.1.2).
fn at_domain(input: &[u8]) -> Parsed<'_, ()> {
    let (rest, _) = octet(b'@').parse(input)?;
    let (rest, _) = cut(domain).parse(rest)?;
    Ok((rest, ()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::address::{AddressLiteral, Domain};
    use alloc::string::ToString;

    #[test]
    fn mailboxes() {
        let mailbox = Mailbox::parse("Smith@bar.com").unwrap();
        assert_eq!(mailbox.local_part().as_str(), "Smith");
        assert_eq!(
            mailbox.host(),
            Host::Domain(Domain::parse("bar.com").unwrap())
        );
        let literal = Mailbox::parse("a@[IPv6:::1]").unwrap();
        assert!(matches!(
            literal.host(),
            Host::Literal(AddressLiteral::V6(_))
        ));
        assert!(Mailbox::parse("用户@例子.广告").unwrap().needs_smtputf8());
        assert_eq!(Mailbox::parse("nodomain"), Err(AddressError::MissingDomain));
        assert_eq!(Mailbox::parse("a@"), Err(AddressError::InvalidDomain));
        assert_eq!(Mailbox::parse("a@b c"), Err(AddressError::InvalidDomain));
    }

    #[test]
    fn reverse_paths() {
        assert_eq!(ReversePath::parse("<>").unwrap(), ReversePath::Null);
        let path = ReversePath::parse("<Smith@bar.com>").unwrap();
        assert_eq!(path.to_string(), "<Smith@bar.com>");
        for bad in [
            "",
            "<",
            "Smith@bar.com",
            "<Smith@bar.com",
            "<Smith@bar.com>x",
            "< >",
            "<Postmaster>",
        ] {
            assert!(ReversePath::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn bare_addresses_make_paths_and_parse_asks_for_brackets() {
        let bare = "bob@example.net";
        assert_eq!(
            ForwardPath::parse(bare),
            Err(AddressError::MissingAngleBrackets)
        );
        assert_eq!(
            ReversePath::parse("<bob@example.net"),
            Err(AddressError::MissingAngleBrackets)
        );
        assert!(AddressError::MissingAngleBrackets
            .to_string()
            .contains("angle brackets"));
        assert_eq!(
            ForwardPath::parse("<bob@example.net>x"),
            Err(AddressError::InvalidPath)
        );
        assert_eq!(
            ForwardPath::from_address(bare).unwrap(),
            ForwardPath::parse("<bob@example.net>").unwrap()
        );
        assert_eq!(
            ReversePath::from_address(bare).unwrap().to_string(),
            "<bob@example.net>"
        );
        for bad in ["", "bob", "<bob@example.net>", "bob@example.net x"] {
            assert!(ForwardPath::from_address(bad).is_err(), "{bad:?}");
            assert!(ReversePath::from_address(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn source_routes_are_ignored() {
        let path = ForwardPath::parse("<@hosta.int,@jkl.org:userc@d.bar.org>").unwrap();
        assert_eq!(path, ForwardPath::parse("<userc@d.bar.org>").unwrap());
        for bad in ["<@a:>", "<@a,b:u@c>", "<@a;u@c>", "<@:u@c>", "<@a,@:u@c>"] {
            assert!(ForwardPath::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn postmaster() {
        for wire in ["<Postmaster>", "<postmaster>", "<POSTMASTER>"] {
            assert_eq!(ForwardPath::parse(wire).unwrap(), ForwardPath::Postmaster);
        }
        assert_eq!(ForwardPath::Postmaster.to_string(), "<Postmaster>");
        let with_domain = ForwardPath::parse("<Postmaster@example.org>").unwrap();
        assert!(with_domain.mailbox().is_some());
        assert_eq!(ForwardPath::parse("<>"), Err(AddressError::NullRecipient));
    }

    #[test]
    fn path_limit() {
        let local = "a".repeat(64);
        let domain = ["b".repeat(63), "c".repeat(63), "d".repeat(61)].join(".");
        let fits = alloc::format!("<{local}@{domain}>");
        assert_eq!(fits.len(), 256);
        assert!(ForwardPath::parse(&fits).is_ok());
        let over = alloc::format!("<{local}@{domain}e>");
        assert_eq!(
            ForwardPath::parse(&over),
            Err(AddressError::PathTooLong { len: 257 })
        );
        let route = alloc::format!("<@{}:{local}@x>", "r".repeat(63) + ".r" + &".r".repeat(80));
        assert!(matches!(
            ForwardPath::parse(&route),
            Err(AddressError::PathTooLong { .. })
        ));
        let local_part = LocalPart::parse(&local).unwrap();
        let host = Host::Domain(Domain::parse(&(domain + "e")).unwrap());
        assert!(Mailbox::new(local_part, host).is_err());
    }

    #[test]
    fn forbidden_bytes() {
        assert!(matches!(
            Mailbox::parse("a\0b@c"),
            Err(AddressError::Text(_))
        ));
        assert!(matches!(
            Mailbox::parse_bytes(&Bytes::from_static(b"a\xff@c")),
            Err(AddressError::Text(_))
        ));
        let _ = ToString::to_string(&ReversePath::Null);
    }
}
