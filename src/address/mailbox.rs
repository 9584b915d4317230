//! Mailboxes and the reverse and forward paths that carry them.

use super::domain::{domain_len, scan_host};
use super::local_part::scan_local_part;
use super::{whole_input_parsers, AddressError, Host, LocalPart};
use crate::limits::MAX_PATH_LEN;
use bytes::Bytes;
use core::fmt;

/// `Local-part "@" ( Domain / address-literal )` (RFC 5321 §4.1.2).
///
/// A mailbox is always short enough to fit in a path: at most
/// [`MAX_PATH_LEN`](crate::limits::MAX_PATH_LEN) − 2 octets.
///
/// ```
/// use smtpwire::Mailbox;
///
/// let mailbox = Mailbox::parse(r#""john \"jd\" doe"@example.com"#).unwrap();
/// assert_eq!(mailbox.local_part().value(), r#"john "jd" doe"#);
/// assert_eq!(mailbox.host().to_string(), "example.com");
/// assert!(Mailbox::parse("user@[IPv6:2001:db8::1]").is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Mailbox {
    local_part: LocalPart,
    host: Host,
}

impl Mailbox {
    /// Joins a local part and a host, checking that the result fits in a path.
    pub fn new(local_part: LocalPart, host: Host) -> Result<Self, AddressError> {
        let mailbox = Mailbox { local_part, host };
        let len = mailbox.wire_len();
        if len + 2 > MAX_PATH_LEN {
            return Err(AddressError::PathTooLong { len: len + 2 });
        }
        Ok(mailbox)
    }

    /// The part before the `@`.
    pub fn local_part(&self) -> &LocalPart {
        &self.local_part
    }

    /// The part after the `@`.
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// Whether the mailbox is all ASCII.
    pub fn is_ascii(&self) -> bool {
        self.local_part.is_ascii() && self.host.is_ascii()
    }

    /// Whether sending it needs the SMTPUTF8 extension (RFC 6531).
    pub fn needs_smtputf8(&self) -> bool {
        !self.is_ascii()
    }

    fn wire_len(&self) -> usize {
        let host_len = match &self.host {
            Host::Domain(domain) => domain.as_str().len(),
            // Literals display in canonical form, which may differ from the input.
            Host::Literal(literal) => {
                let mut counter = LenCounter(0);
                let _ = fmt::write(&mut counter, format_args!("{literal}"));
                counter.0
            }
        };
        self.local_part.as_str().len() + 1 + host_len
    }
}

/// Counts what a `Display` impl writes, without allocating.
struct LenCounter(usize);

impl fmt::Write for LenCounter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0 += s.len();
        Ok(())
    }
}

whole_input_parsers!(Mailbox, scan_mailbox, AddressError::InvalidDomain);

/// Scans the mailbox at the start of `input`.
#[inline]
pub(crate) fn scan_mailbox(src: &Bytes, input: &[u8]) -> Result<(Mailbox, usize), AddressError> {
    let (local_part, local_len) = scan_local_part(src, input)?;
    if input.get(local_len) != Some(&b'@') {
        return Err(AddressError::MissingDomain);
    }
    let host_input = input.get(local_len + 1..).unwrap_or_default();
    let (host, host_len) = scan_host(src, host_input)?;
    let len = local_len + 1 + host_len;
    if len + 2 > MAX_PATH_LEN {
        return Err(AddressError::PathTooLong { len: len + 2 });
    }
    Ok((Mailbox { local_part, host }, len))
}

impl fmt::Display for Mailbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.local_part, self.host)
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
    if input.starts_with(b"<>") {
        return Ok((ReversePath::Null, 2));
    }
    let (mailbox, len) = scan_path(src, input)?;
    Ok((ReversePath::Mailbox(mailbox), len))
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
    const POSTMASTER: &[u8] = b"<postmaster>";
    if input
        .get(..POSTMASTER.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(POSTMASTER))
    {
        return Ok((ForwardPath::Postmaster, POSTMASTER.len()));
    }
    if input.starts_with(b"<>") {
        return Err(AddressError::NullRecipient);
    }
    let (mailbox, len) = scan_path(src, input)?;
    Ok((ForwardPath::Mailbox(mailbox), len))
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

/// `"<" [ A-d-l ":" ] Mailbox ">"` (RFC 5321 §4.1.2). A source route is
/// checked and then ignored, as §4.1.2 and Appendix C ask of receivers.
#[inline]
fn scan_path(src: &Bytes, input: &[u8]) -> Result<(Mailbox, usize), AddressError> {
    let mut at = 1;
    if input.first() != Some(&b'<') {
        return Err(AddressError::InvalidPath);
    }
    if input.get(at) == Some(&b'@') {
        loop {
            at += 1;
            let rest = input.get(at..).unwrap_or_default();
            at += domain_len(rest).map_err(|_| AddressError::InvalidSourceRoute)?;
            match (input.get(at), input.get(at + 1)) {
                (Some(b','), Some(b'@')) => at += 1,
                (Some(b':'), _) => break,
                _ => return Err(AddressError::InvalidSourceRoute),
            }
        }
        at += 1;
    }
    let (mailbox, mailbox_len) = scan_mailbox(src, input.get(at..).unwrap_or_default())?;
    at += mailbox_len;
    if input.get(at) != Some(&b'>') {
        return Err(AddressError::InvalidPath);
    }
    let len = at + 1;
    if len > MAX_PATH_LEN {
        return Err(AddressError::PathTooLong { len });
    }
    Ok((mailbox, len))
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
            &Host::Domain(Domain::parse("bar.com").unwrap())
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
