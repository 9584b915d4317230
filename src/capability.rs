//! [`Capabilities`]: the service extensions an EHLO (or LHLO) reply lists.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use bytes::Bytes;

use nom::branch::alt;
use nom::bytes::{take_till, take_till1, take_while, take_while_m_n};
use nom::combinator::{eof, iterator, map, map_opt, opt, rest, value};
use nom::sequence::{preceded, terminated};
use nom::{IResult, Parser};

use crate::auth::Mechanism;
use crate::reply::grammar::octet;
use crate::{Reply, ReplyCode, Text};

/// Why capabilities could not be read or an extension built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CapabilityError {
    /// The EHLO reply is not a 250 (RFC 5321 §4.1.1.1); the client falls
    /// back to HELO or gives up.
    #[error("EHLO reply has code {code}, not 250")]
    NotOk {
        /// The code received.
        code: ReplyCode,
    },
    /// An extension keyword that is empty or holds a space.
    #[error("extension keyword is empty or holds a space")]
    InvalidKeyword,
}

/// An extension this crate has no typed field for, kept as advertised.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Extension {
    keyword: Text,
    params: Text,
}

impl Extension {
    /// An extension line: `keyword` (one word; RFC 5321 §4.1.1.1 wants
    /// letters, digits and hyphens, but legacy forms such as `AUTH=LOGIN`
    /// are let through) and its parameters, space-separated, possibly empty.
    pub fn new(keyword: Text, params: Text) -> Result<Self, CapabilityError> {
        if keyword.is_empty() || keyword.as_bytes().contains(&b' ') {
            return Err(CapabilityError::InvalidKeyword);
        }
        Ok(Extension { keyword, params })
    }

    /// The keyword, as the server wrote it.
    pub fn keyword(&self) -> &Text {
        &self.keyword
    }

    /// Everything after the keyword and its space, as the server wrote it.
    pub fn params(&self) -> &Text {
        &self.params
    }

    /// The parameters one by one.
    pub fn param_list(&self) -> impl Iterator<Item = &str> {
        self.params
            .as_str()
            .split(' ')
            .filter(|param| !param.is_empty())
    }
}

/// MT-PRIORITY (RFC 6710 §3): priorities are honoured, optionally under a
/// named assignment policy such as `MIXER` or `STANAG4406`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct MtPriority {
    /// The policy name the server gave, if any.
    pub policy: Option<Text>,
}

/// FUTURERELEASE (RFC 4865 §3): how far ahead a message may be held.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FutureRelease {
    /// Longest hold, in seconds (for HOLDFOR).
    pub max_interval: u64,
    /// Latest release time, an RFC 3339 date-time (for HOLDUNTIL).
    pub max_datetime: Text,
}

/// What a server supports, from its EHLO reply (RFC 5321 §4.1.1.1 and each
/// extension's RFC), and what a server advertises in its own.
///
/// Keywords are matched without regard to case. Extensions without a field
/// here are kept, in order and with their parameters, in
/// [`other`](Self::other); so is a known keyword whose parameters do not
/// parse (`SIZE lots`), so that nothing the server said is lost.
///
/// ```
/// use smtpwire::framing::ReplyAssembler;
/// use smtpwire::{Capabilities, Text};
///
/// let mut replies = ReplyAssembler::new();
/// replies.push(b"250-mx.example.org Hello\r\n250-SIZE 35882577\r\n250-auth=LOGIN\r\n\
///                250-AUTH PLAIN LOGIN XOAUTH2\r\n250-X-ACME frob\r\n250 pipelining\r\n");
/// let reply = replies.next_reply().unwrap().unwrap();
/// let caps = Capabilities::from_reply(&reply).unwrap();
/// assert!(caps.pipelining);
/// assert_eq!(caps.size, Some(35882577));
/// assert!(caps.supports_auth("xoauth2"));
/// assert_eq!(caps.auth.len(), 3);
/// assert_eq!(caps.extension("x-acme").unwrap().params(), "frob");
///
/// // A server builds its own.
/// let ours = Capabilities { pipelining: true, starttls: true, ..Capabilities::default() };
/// let reply = ours.to_reply(Text::from_static("mx.example.org"));
/// assert_eq!(&reply.to_bytes()[..], b"250-mx.example.org\r\n250-PIPELINING\r\n250 STARTTLS\r\n");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Capabilities {
    /// PIPELINING (RFC 2920).
    pub pipelining: bool,
    /// SIZE (RFC 1870): the largest message in octets; `Some(0)` means SIZE
    /// was listed with no figure or with 0, i.e. no fixed limit.
    pub size: Option<u64>,
    /// 8BITMIME (RFC 6152).
    pub eight_bit_mime: bool,
    /// SMTPUTF8 (RFC 6531).
    pub smtp_utf8: bool,
    /// STARTTLS (RFC 3207).
    pub starttls: bool,
    /// AUTH (RFC 4954) mechanisms, from `AUTH …` and the legacy `AUTH=…`
    /// line alike, without repeats; empty when AUTH is not offered. A name
    /// that is not a well-formed SASL mechanism name (RFC 4422 §3.1) cannot
    /// be chosen by a client and is skipped when the reply is read.
    pub auth: Vec<Mechanism>,
    /// CHUNKING (RFC 3030).
    pub chunking: bool,
    /// BINARYMIME (RFC 3030).
    pub binary_mime: bool,
    /// DSN (RFC 3461).
    pub dsn: bool,
    /// ENHANCEDSTATUSCODES (RFC 2034).
    pub enhanced_status_codes: bool,
    /// REQUIRETLS (RFC 8689).
    pub require_tls: bool,
    /// MT-PRIORITY (RFC 6710).
    pub mt_priority: Option<MtPriority>,
    /// FUTURERELEASE (RFC 4865).
    pub future_release: Option<FutureRelease>,
    /// DELIVERBY (RFC 2852): the shortest by-time accepted, in seconds;
    /// `Some(0)` means DELIVERBY was listed with no minimum.
    pub deliver_by: Option<u64>,
    /// ETRN (RFC 1985).
    pub etrn: bool,
    /// VRFY (RFC 5321 §3.5).
    pub vrfy: bool,
    /// EXPN (RFC 5321 §3.5).
    pub expn: bool,
    /// HELP (RFC 5321 §4.1.1.8).
    pub help: bool,
    /// Every other extension, in the order listed.
    pub other: Vec<Extension>,
}

/// The keywords with a typed field.
#[derive(Clone, Copy)]
enum Keyword {
    Pipelining,
    Size,
    EightBitMime,
    SmtpUtf8,
    StartTls,
    Auth,
    Chunking,
    BinaryMime,
    Dsn,
    EnhancedStatusCodes,
    RequireTls,
    MtPriority,
    FutureRelease,
    DeliverBy,
    Etrn,
    Vrfy,
    Expn,
    Help,
}

/// SASL mechanisms kept from an EHLO reply; later ones are ignored.
const MAX_AUTH_MECHANISMS: usize = 64;

/// How many keywords have a typed field: the most lines
/// [`Capabilities::to_reply`] writes for them.
const KEYWORD_COUNT: usize = 18;

/// The keyword with a typed field that `name` is, in any letter case
/// (RFC 5321 §2.4: keywords are not case sensitive).
fn keyword(name: &[u8]) -> Option<Keyword> {
    // The length and first two letters single out one candidate, so a
    // name is compared once, in place, where comparing it against each
    // keyword in turn, or copying it to upper-case it first, costs
    // several times more over a long EHLO reply.
    let upper = |at: usize| name.get(at).map(u8::to_ascii_uppercase);
    Some(match (name.len(), upper(0)?, upper(1)?) {
        (3, b'D', b'S') if spelled(name, b"DSN") => Keyword::Dsn,
        (4, b'A', b'U') if spelled(name, b"AUTH") => Keyword::Auth,
        (4, b'E', b'T') if spelled(name, b"ETRN") => Keyword::Etrn,
        (4, b'E', b'X') if spelled(name, b"EXPN") => Keyword::Expn,
        (4, b'H', b'E') if spelled(name, b"HELP") => Keyword::Help,
        (4, b'S', b'I') if spelled(name, b"SIZE") => Keyword::Size,
        (4, b'V', b'R') if spelled(name, b"VRFY") => Keyword::Vrfy,
        (8, b'8', b'B') if spelled(name, b"8BITMIME") => Keyword::EightBitMime,
        (8, b'C', b'H') if spelled(name, b"CHUNKING") => Keyword::Chunking,
        (8, b'S', b'M') if spelled(name, b"SMTPUTF8") => Keyword::SmtpUtf8,
        (8, b'S', b'T') if spelled(name, b"STARTTLS") => Keyword::StartTls,
        (9, b'D', b'E') if spelled(name, b"DELIVERBY") => Keyword::DeliverBy,
        (10, b'B', b'I') if spelled(name, b"BINARYMIME") => Keyword::BinaryMime,
        (10, b'P', b'I') if spelled(name, b"PIPELINING") => Keyword::Pipelining,
        (10, b'R', b'E') if spelled(name, b"REQUIRETLS") => Keyword::RequireTls,
        (11, b'M', b'T') if spelled(name, b"MT-PRIORITY") => Keyword::MtPriority,
        (13, b'F', b'U') if spelled(name, b"FUTURERELEASE") => Keyword::FutureRelease,
        (19, b'E', b'N') if spelled(name, b"ENHANCEDSTATUSCODES") => Keyword::EnhancedStatusCodes,
        _ => return None,
    })
}

/// Whether `name` is `spelling` (upper-case letters, digits and `-`) in any
/// letter case. Inlined where `spelling` is a constant, the compiler knows
/// which bytes are letters, so each byte costs a mask and a compare.
#[inline(always)]
fn spelled(name: &[u8], spelling: &[u8]) -> bool {
    name.len() == spelling.len()
        && name.iter().zip(spelling).all(|(&byte, &expected)| {
            // Clearing 0x20 takes a lower-case letter, and nothing else,
            // to its capital.
            let fold = if expected.is_ascii_uppercase() {
                !0x20
            } else {
                0xff
            };
            byte & fold == expected
        })
}

/// One extension line of an EHLO reply: its keyword and parameters, both
/// slices of the reply's bytes, so that only the parts kept become
/// [`Text`]s.
struct EhloLine<'a> {
    reply: &'a Reply,
    keyword: &'a [u8],
    params: &'a [u8],
}

impl EhloLine<'_> {
    /// `part` of the line, which the grammar cut at ASCII spaces, so it
    /// stays UTF-8.
    fn part(&self, part: &[u8]) -> Text {
        self.reply.shared_part(part)
    }
}

/// RFC 5321 §4.1.1.1:
///
/// ```text
/// ehlo-line      = ehlo-keyword *( SP ehlo-param )
/// ```
///
/// Returns the keyword and everything after its SP, as written (empty when
/// the keyword stands alone); each extension's own rule reads its
/// parameters from there.
fn ehlo_line<'a>() -> impl Parser<&'a [u8], Output = (&'a [u8], &'a [u8]), Error = ()> {
    (ehlo_keyword(), alt((preceded(sp(), rest), eof)))
}

/// An extension line's keyword, if it has one, and its parameters.
type KeywordAndParams<'a> = (Option<&'a [u8]>, &'a [u8]);

/// RFC 5321 §4.1.1.1 and §4.2.1, an extension line as it was read:
///
/// ```text
/// ( "250-" ehlo-line CRLF ) / ( "250" [ SP ehlo-line ] CRLF )
/// ```
///
/// The reply parser has checked the code, the separator, the text and the
/// line ending, so this reads past the code and finds where the keyword and
/// its parameters end in one pass over the line, with [`ehlo_line`]'s
/// result. `None` for the keyword of a line without one (`250-`, `250- x`),
/// which [`ehlo_line`] refuses.
fn wire_ehlo_line(input: &[u8]) -> IResult<&[u8], KeywordAndParams<'_>, ()> {
    let is_line_end = |byte| byte == b'\r' || byte == b'\n';
    let text = input.get(3..).unwrap_or_default();
    let (text, _) = opt(octet(|byte| byte == b'-' || byte == b' ')).parse_complete(text)?;
    let (text, keyword) =
        take_till(|byte| byte == b' ' || is_line_end(byte)).parse_complete(text)?;
    let (text, params) = opt(preceded(sp(), take_till(is_line_end))).parse_complete(text)?;
    let (rest, _) = (
        opt(octet(|byte| byte == b'\r')),
        opt(octet(|byte| byte == b'\n')),
    )
        .parse_complete(text)?;
    let keyword = (!keyword.is_empty()).then_some(keyword);
    Ok((rest, (keyword, params.unwrap_or_default())))
}

/// RFC 5321 §4.1.1.1:
///
/// ```text
/// ehlo-keyword   = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
/// ```
///
/// Widened to any run of octets other than SP: servers advertise the
/// legacy `AUTH=LOGIN` (RFC 4954 §8), Exim's `PIPE_CONNECT` and the like,
/// and a client keeps what it was told.
fn ehlo_keyword<'a>() -> impl Parser<&'a [u8], Output = &'a [u8], Error = ()> {
    take_till1(|byte| byte == b' ')
}

/// RFC 5321 §4.1.1.1:
///
/// ```text
/// ehlo-param     = 1*(%d33-126)
/// ```
///
/// Widened, as [`ehlo_keyword`], to any run of octets other than SP; a
/// parameter with a typed meaning is checked by its own rule.
fn ehlo_param<'a>() -> impl Parser<&'a [u8], Output = &'a [u8], Error = ()> {
    take_till1(|byte| byte == b' ')
}

/// The `SP` between an [`ehlo_keyword`] and its parameters, and between
/// parameters.
fn sp<'a>() -> impl Fn(&'a [u8]) -> IResult<&'a [u8], u8, ()> {
    octet(|byte| byte == b' ')
}

/// The parameters of SIZE, RFC 1870 §3:
///
/// ```text
/// size-param ::= [1*DIGIT]
/// ```
///
/// None or 0 mean no fixed maximum; both read as 0. DELIVERBY's optional
/// shortest by-time (RFC 2852 §2) is read by the same rule.
fn size_param<'a>() -> impl Parser<&'a [u8], Output = u64, Error = ()> {
    alt((value(0, eof), terminated(number(), eof)))
}

/// The parameters of FUTURERELEASE, RFC 4865 §3: the longest hold in
/// seconds, SP, and the latest release time (an RFC 3339 `date-time`, kept
/// as written).
fn future_release_params<'a>() -> impl Parser<&'a [u8], Output = (u64, &'a [u8]), Error = ()> {
    map((number(), sp(), rest), |(interval, _, date_time)| {
        (interval, date_time)
    })
}

/// The AUTH keyword's parameters (RFC 4954 §3), each a SASL mechanism name
/// (RFC 4422 §3.1, checked by [`Mechanism`]), separated by one or more SP.
/// Read as complete input: the list ends where the line does.
fn auth_mechanism(params: &[u8]) -> IResult<&[u8], &[u8], ()> {
    preceded(take_while(|byte| byte == b' '), ehlo_param()).parse_complete(params)
}

/// `1*20DIGIT` (the bound of RFC 1870's `size-value`), as a number; fails on
/// more digits or a value past `u64`.
fn number<'a>() -> impl Parser<&'a [u8], Output = u64, Error = ()> {
    map_opt(
        take_while_m_n(1, 21, |byte: u8| byte.is_ascii_digit()),
        |digits: &[u8]| {
            if digits.len() > 20 {
                return None;
            }
            digits.iter().try_fold(0u64, |value, &digit| {
                value.checked_mul(10)?.checked_add(u64::from(digit - b'0'))
            })
        },
    )
}

impl Capabilities {
    /// Reads a 250 EHLO reply: the first line is the server's domain and
    /// greeting; each further line is `keyword [params]`.
    pub fn from_reply(reply: &Reply) -> Result<Self, CapabilityError> {
        if reply.code() != ReplyCode::OK {
            return Err(CapabilityError::NotOk { code: reply.code() });
        }
        // RFC 5321 §4.1.1.1, the reply as a whole:
        //
        //   ehlo-ok-rsp = ( "250" SP Domain [ SP ehlo-greet ] CRLF )
        //                 / ( "250-" Domain [ SP ehlo-greet ] CRLF
        //                     *( "250-" ehlo-line CRLF )
        //                     "250" SP ehlo-line CRLF )
        //
        // The reply parser has read the codes and line ends; the first
        // line (Domain and greeting) says nothing about extensions, and
        // each later one is an `ehlo_line`.
        let mut capabilities = Capabilities::default();
        match reply.wire_lines_after_first() {
            Some(mut lines) => {
                while !lines.is_empty() {
                    let Ok((rest, (keyword, params))) = wire_ehlo_line(lines) else {
                        break;
                    };
                    lines = rest;
                    if let Some(keyword) = keyword {
                        capabilities.add_line(EhloLine {
                            reply,
                            keyword,
                            params,
                        });
                    }
                }
            }
            None => {
                for text in reply.spans().skip(1).map(|span| reply.text_bytes(span)) {
                    if let Ok((_, (keyword, params))) = ehlo_line().parse_complete(text) {
                        capabilities.add_line(EhloLine {
                            reply,
                            keyword,
                            params,
                        });
                    }
                }
            }
        }
        Ok(capabilities)
    }

    fn add_line(&mut self, line: EhloLine<'_>) {
        let understood = match keyword(line.keyword) {
            Some(known) => self.add_known(known, &line),
            // RFC 4954 §8 grandfathers the `AUTH=` form of pre-standard servers.
            None => match line.keyword.split_at_checked(5) {
                Some((prefix, first)) if prefix.eq_ignore_ascii_case(b"AUTH=") => {
                    self.add_mechanisms(&line, first);
                    self.add_mechanisms(&line, line.params);
                    true
                }
                _ => false,
            },
        };
        if !understood {
            self.other.push(Extension {
                keyword: line.part(line.keyword),
                params: line.part(line.params),
            });
        }
    }

    /// Records a known keyword of `line`; `false` when its parameters do
    /// not parse.
    fn add_known(&mut self, known: Keyword, line: &EhloLine<'_>) -> bool {
        let params = line.params;
        match known {
            Keyword::Pipelining => self.pipelining = true,
            Keyword::EightBitMime => self.eight_bit_mime = true,
            Keyword::SmtpUtf8 => self.smtp_utf8 = true,
            Keyword::StartTls => self.starttls = true,
            Keyword::Chunking => self.chunking = true,
            Keyword::BinaryMime => self.binary_mime = true,
            Keyword::Dsn => self.dsn = true,
            Keyword::EnhancedStatusCodes => self.enhanced_status_codes = true,
            Keyword::RequireTls => self.require_tls = true,
            Keyword::Etrn => self.etrn = true,
            Keyword::Vrfy => self.vrfy = true,
            Keyword::Expn => self.expn = true,
            Keyword::Help => self.help = true,
            Keyword::Auth => self.add_mechanisms(line, params),
            Keyword::Size | Keyword::DeliverBy => {
                let Ok((_, value)) = size_param().parse_complete(params) else {
                    return false;
                };
                match known {
                    Keyword::Size => self.size = Some(value),
                    _ => self.deliver_by = Some(value),
                }
            }
            // RFC 6710 §3: an optional priority assignment policy name.
            Keyword::MtPriority => {
                let policy = (!params.is_empty()).then(|| line.part(params));
                self.mt_priority = Some(MtPriority { policy });
            }
            Keyword::FutureRelease => {
                let Ok((_, (max_interval, date_time))) =
                    future_release_params().parse_complete(params)
                else {
                    return false;
                };
                self.future_release = Some(FutureRelease {
                    max_interval,
                    max_datetime: line.part(date_time),
                });
            }
        }
        true
    }

    /// Adds the mechanisms listed in `names`, a part of `line`.
    fn add_mechanisms(&mut self, line: &EhloLine<'_>, names: &[u8]) {
        let mut names = iterator(names, auth_mechanism);
        // Parsing upper-cases names, so repeats in any case compare equal;
        // only a name outside the known ones is kept as the reply's bytes.
        let mechanisms = (&mut names)
            .filter_map(|name| Mechanism::parse_with(name, |upper| line.part(upper)).ok());
        for mechanism in mechanisms {
            // Servers offer a handful; a bound keeps the repeat check below
            // from going quadratic on a reply that lists thousands.
            if self.auth.len() >= MAX_AUTH_MECHANISMS {
                return;
            }
            if !self.auth.contains(&mechanism) {
                self.auth.push(mechanism);
            }
        }
    }

    /// Whether the server offers SASL mechanism `name` (any case).
    pub fn supports_auth(&self, name: &str) -> bool {
        self.auth
            .iter()
            .any(|mechanism| mechanism.as_str().eq_ignore_ascii_case(name))
    }

    /// The unknown extension `keyword` (any case), if listed.
    pub fn extension(&self, keyword: &str) -> Option<&Extension> {
        self.other
            .iter()
            .find(|extension| extension.keyword.eq_ignore_ascii_case(keyword))
    }

    /// The 250 EHLO reply a server sends: `greeting` (its domain, then any
    /// text) on the first line, then one line per extension.
    pub fn to_reply(&self, greeting: Text) -> Reply {
        let mut lines = Vec::with_capacity(KEYWORD_COUNT + self.other.len());
        let flag = |on: bool, name: &'static str| on.then(|| Text::from_static(name));
        let with_number = |name: &'static str, value: u64| match value {
            0 => Text::from_static(name),
            value => owned(format!("{name} {value}")),
        };
        lines.extend(flag(self.pipelining, "PIPELINING"));
        lines.extend(self.size.map(|size| with_number("SIZE", size)));
        lines.extend(flag(self.vrfy, "VRFY"));
        lines.extend(flag(self.expn, "EXPN"));
        lines.extend(flag(self.etrn, "ETRN"));
        lines.extend(flag(self.starttls, "STARTTLS"));
        if !self.auth.is_empty() {
            let mut line = String::from("AUTH");
            for mechanism in &self.auth {
                line.push(' ');
                line.push_str(mechanism.as_str());
            }
            lines.push(owned(line));
        }
        lines.extend(flag(self.enhanced_status_codes, "ENHANCEDSTATUSCODES"));
        lines.extend(flag(self.eight_bit_mime, "8BITMIME"));
        lines.extend(flag(self.dsn, "DSN"));
        lines.extend(flag(self.smtp_utf8, "SMTPUTF8"));
        lines.extend(flag(self.chunking, "CHUNKING"));
        lines.extend(flag(self.binary_mime, "BINARYMIME"));
        lines.extend(flag(self.require_tls, "REQUIRETLS"));
        lines.extend(
            self.mt_priority
                .as_ref()
                .map(|priority| match &priority.policy {
                    Some(policy) => owned(format!("MT-PRIORITY {policy}")),
                    None => Text::from_static("MT-PRIORITY"),
                }),
        );
        lines.extend(self.future_release.as_ref().map(|release| {
            owned(format!(
                "FUTURERELEASE {} {}",
                release.max_interval, release.max_datetime
            ))
        }));
        lines.extend(self.deliver_by.map(|by| with_number("DELIVERBY", by)));
        lines.extend(flag(self.help, "HELP"));
        lines.extend(self.other.iter().map(|extension| {
            if extension.params.is_empty() {
                extension.keyword.clone()
            } else {
                owned(format!("{} {}", extension.keyword, extension.params))
            }
        }));
        Reply::from_texts(ReplyCode::OK, None, core::iter::once(greeting).chain(lines))
    }
}

/// A line assembled from keywords, figures and other `Text` values, none of
/// which can hold CR, LF or NUL.
fn owned(line: String) -> Text {
    Text::from_parsed(Bytes::from(line))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use proptest::prelude::*;

    fn ehlo(lines: &[&'static str]) -> Capabilities {
        let reply = Reply::multiline(
            ReplyCode::OK,
            None,
            lines.iter().map(|l| Text::from_static(l)),
        )
        .unwrap();
        Capabilities::from_reply(&reply).unwrap()
    }

    /// `reply` as a client reads it: its wire form through the framer.
    fn as_read(reply: &Reply) -> Reply {
        let mut replies = crate::framing::ReplyAssembler::new();
        replies.push(&reply.to_bytes());
        replies.next_reply().unwrap().unwrap()
    }

    /// The capabilities of `lines` read from a reply built of them and
    /// from the same reply as read off the wire, which must agree.
    fn read_both_ways(lines: &[Text]) -> Capabilities {
        let built = Reply::multiline(ReplyCode::OK, None, lines.iter().cloned()).unwrap();
        let caps = Capabilities::from_reply(&built).unwrap();
        assert_eq!(Capabilities::from_reply(&as_read(&built)).unwrap(), caps);
        caps
    }

    #[test]
    fn every_keyword_in_any_case_and_nothing_near_it() {
        let spellings = [
            "PIPELINING",
            "SIZE",
            "8BITMIME",
            "SMTPUTF8",
            "STARTTLS",
            "AUTH",
            "CHUNKING",
            "BINARYMIME",
            "DSN",
            "ENHANCEDSTATUSCODES",
            "REQUIRETLS",
            "MT-PRIORITY",
            "FUTURERELEASE",
            "DELIVERBY",
            "ETRN",
            "VRFY",
            "EXPN",
            "HELP",
        ];
        assert_eq!(spellings.len(), KEYWORD_COUNT);
        for spelling in spellings {
            let lower = spelling.to_ascii_lowercase();
            let mixed: String = spelling
                .chars()
                .enumerate()
                .map(|(at, c)| {
                    if at % 2 == 1 {
                        c.to_ascii_lowercase()
                    } else {
                        c
                    }
                })
                .collect();
            for name in [spelling, &lower, &mixed] {
                assert!(keyword(name.as_bytes()).is_some(), "{name}");
            }
            // One letter off, one longer, one shorter: none is a keyword.
            let mut off = spelling.as_bytes().to_vec();
            let last = off.len() - 1;
            off[last] = if off[last] == b'X' { b'Y' } else { b'X' };
            let longer = format!("{spelling}S");
            let shorter = &spelling[..last];
            for name in [&off[..], longer.as_bytes(), shorter.as_bytes()] {
                assert!(keyword(name).is_none(), "{}", String::from_utf8_lossy(name));
            }
        }
    }

    #[test]
    fn read_off_the_wire_as_built() {
        let caps = read_both_ways(&[
            Text::from_static("mx.example.org"),
            Text::from_static("pipelining"),
            Text::from_static("SIZE 35882577"),
            Text::from_static("AUTH=LOGIN PLAIN"),
            Text::from_static("AUTH  GSSAPI  login CRAM-MD5"),
            Text::from_static(""),
            Text::from_static(" leading space"),
            Text::from_static("X-EXPS=LOGIN"),
            Text::from_static("MT-PRIORITY MIXER"),
            Text::from_static("FUTURERELEASE 604800 2026-12-14T00:00:00Z"),
            Text::from_static("X-ACME frob  twice "),
        ]);
        assert!(caps.pipelining);
        assert_eq!(names(&caps.auth), ["LOGIN", "PLAIN", "GSSAPI", "CRAM-MD5"]);
        assert_eq!(caps.other.len(), 2);
        assert_eq!(caps.extension("x-acme").unwrap().params(), "frob  twice ");
        // A bare last line, `250`, lists nothing.
        let mut replies = crate::framing::ReplyAssembler::new();
        replies.push(b"250-mx.example.org\r\n250-DSN\r\n250\r\n");
        let reply = replies.next_reply().unwrap().unwrap();
        let caps = Capabilities::from_reply(&reply).unwrap();
        assert!(caps.dsn);
        assert!(caps.other.is_empty());
    }

    fn names(mechanisms: &[Mechanism]) -> Vec<&str> {
        mechanisms.iter().map(Mechanism::as_str).collect()
    }

    #[test]
    fn postfix() {
        let caps = ehlo(&[
            "mail.example.org",
            "PIPELINING",
            "SIZE 10240000",
            "VRFY",
            "ETRN",
            "STARTTLS",
            "AUTH PLAIN LOGIN",
            "AUTH=PLAIN LOGIN",
            "ENHANCEDSTATUSCODES",
            "8BITMIME",
            "DSN",
            "SMTPUTF8",
            "CHUNKING",
        ]);
        let expected = Capabilities {
            pipelining: true,
            size: Some(10_240_000),
            vrfy: true,
            etrn: true,
            starttls: true,
            auth: vec![Mechanism::Plain, Mechanism::Login],
            enhanced_status_codes: true,
            eight_bit_mime: true,
            dsn: true,
            smtp_utf8: true,
            chunking: true,
            ..Capabilities::default()
        };
        assert_eq!(caps, expected);
    }

    #[test]
    fn grammar_rules_read_what_their_abnf_says() {
        let line = |input: &'static [u8]| ehlo_line().parse_complete(input).ok().map(|(_, p)| p);
        assert_eq!(line(b"SIZE 1000"), Some((&b"SIZE"[..], &b"1000"[..])));
        assert_eq!(line(b"PIPELINING"), Some((&b"PIPELINING"[..], &b""[..])));
        assert_eq!(line(b"AUTH  PLAIN"), Some((&b"AUTH"[..], &b" PLAIN"[..])));
        assert_eq!(line(b" SIZE"), None);
        assert_eq!(line(b""), None);

        let size = |input: &'static [u8]| size_param().parse_complete(input).ok().map(|(_, v)| v);
        assert_eq!(size(b""), Some(0));
        assert_eq!(size(b"35882577"), Some(35_882_577));
        assert_eq!(size(b"18446744073709551615"), Some(u64::MAX));
        for bad in [
            &b"18446744073709551616"[..],
            b"000000000000000000001",
            b"10 ",
            b" 10",
            b"x",
        ] {
            assert_eq!(size(bad), None, "{bad:?}");
        }

        let release = future_release_params()
            .parse_complete(&b"604800 2026-12-31T23:59:59Z"[..])
            .ok()
            .map(|(_, parts)| parts);
        assert_eq!(release, Some((604_800, &b"2026-12-31T23:59:59Z"[..])));
        assert!(future_release_params()
            .parse_complete(&b"604800"[..])
            .is_err());

        let names: Vec<&[u8]> = iterator(&b" PLAIN  LOGIN "[..], auth_mechanism).collect();
        assert_eq!(names, [&b"PLAIN"[..], b"LOGIN"]);
    }

    #[test]
    fn a_huge_auth_list_is_cut_at_the_bound() {
        let names: Vec<String> = (0..3 * MAX_AUTH_MECHANISMS)
            .map(|n| format!("X-M{n}"))
            .collect();
        let line = format!("AUTH {}", names.join(" "));
        let reply = Reply::multiline(
            ReplyCode::OK,
            None,
            [Text::from_static("mx"), Text::new(&line).unwrap()],
        )
        .unwrap();
        let caps = Capabilities::from_reply(&reply).unwrap();
        assert_eq!(caps.auth.len(), MAX_AUTH_MECHANISMS);
        assert_eq!(caps.auth[0].as_str(), "X-M0");
    }

    #[test]
    fn exim_keeps_unknown_extensions_in_order() {
        let caps = ehlo(&[
            "mx.example.net Hello client.example.com [192.0.2.1]",
            "SIZE 52428800",
            "8BITMIME",
            "PIPELINING",
            "PIPE_CONNECT",
            "AUTH PLAIN LOGIN",
            "CHUNKING",
            "PRDR",
            "HELP",
        ]);
        assert_eq!(caps.size, Some(52_428_800));
        assert!(caps.help && caps.chunking && caps.pipelining && !caps.starttls);
        let other: Vec<&str> = caps.other.iter().map(|e| e.keyword().as_str()).collect();
        assert_eq!(other, ["PIPE_CONNECT", "PRDR"]);
    }

    #[test]
    fn gmail_like() {
        let caps = ehlo(&[
            "smtp.gmail.com at your service, [203.0.113.5]",
            "SIZE 35882577",
            "8BITMIME",
            "AUTH LOGIN PLAIN XOAUTH2 PLAIN-CLIENTTOKEN OAUTHBEARER XOAUTH",
            "ENHANCEDSTATUSCODES",
            "PIPELINING",
            "CHUNKING",
            "SMTPUTF8",
        ]);
        assert_eq!(
            names(&caps.auth),
            [
                "LOGIN",
                "PLAIN",
                "XOAUTH2",
                "PLAIN-CLIENTTOKEN",
                "OAUTHBEARER",
                "XOAUTH"
            ]
        );
        assert!(caps.supports_auth("oauthbearer") && !caps.supports_auth("CRAM-MD5"));
        assert!(caps.other.is_empty());
    }

    #[test]
    fn lowercase_legacy_and_parameters() {
        let caps = ehlo(&[
            "host",
            "pipelining",
            "Size",
            "auth=login  plain",
            "mt-priority MIXER",
            "FUTURERELEASE 604800 2026-12-31T23:59:59Z",
            "DELIVERBY 240",
            "requiretls",
            "BinaryMime",
            "expn",
            "XCLIENT NAME ADDR PROTO HELO",
            "SIZE huge",
            "",
        ]);
        assert!(caps.pipelining && caps.require_tls && caps.binary_mime && caps.expn);
        assert_eq!(caps.size, Some(0));
        assert_eq!(names(&caps.auth), ["LOGIN", "PLAIN"]);
        // Names no client could choose are skipped; repeats in any case too.
        let skipping = ehlo(&[
            "h",
            "AUTH PLAIN BAD/NAME A23456789012345678901 plain cram-md5",
        ]);
        assert_eq!(names(&skipping.auth), ["PLAIN", "CRAM-MD5"]);
        assert_eq!(
            caps.mt_priority.as_ref().unwrap().policy.as_ref().unwrap(),
            "MIXER"
        );
        let release = caps.future_release.as_ref().unwrap();
        assert_eq!(release.max_interval, 604_800);
        assert_eq!(release.max_datetime, "2026-12-31T23:59:59Z");
        assert_eq!(caps.deliver_by, Some(240));
        let xclient = caps.extension("xclient").unwrap();
        assert_eq!(
            xclient.param_list().collect::<Vec<_>>(),
            ["NAME", "ADDR", "PROTO", "HELO"]
        );
        // A known keyword whose parameters do not parse is kept as is.
        assert_eq!(caps.other[1].keyword(), "SIZE");
        assert_eq!(caps.other[1].params(), "huge");
        assert_eq!(caps.other.len(), 2);
    }

    #[test]
    fn size_zero_means_no_limit_and_malformed_release_is_kept() {
        assert_eq!(ehlo(&["h", "SIZE 0"]).size, Some(0));
        assert_eq!(ehlo(&["h", "SIZE 99999999999999999999999"]).size, None);
        assert_eq!(
            ehlo(&["h", "MT-PRIORITY"]).mt_priority,
            Some(MtPriority { policy: None })
        );
        let caps = ehlo(&["h", "FUTURERELEASE 604800"]);
        assert_eq!(caps.future_release, None);
        assert_eq!(caps.other[0].params(), "604800");
        // A one-line EHLO reply lists no extensions.
        assert_eq!(ehlo(&["h"]), Capabilities::default());
    }

    #[test]
    fn refuses_other_codes_and_bad_keywords() {
        let reply = Reply::new(
            ReplyCode::COMMAND_NOT_IMPLEMENTED,
            Text::from_static("no EHLO"),
        );
        assert_eq!(
            Capabilities::from_reply(&reply),
            Err(CapabilityError::NotOk {
                code: ReplyCode::COMMAND_NOT_IMPLEMENTED
            })
        );
        assert_eq!(
            Extension::new(Text::from_static("A B"), Text::default()),
            Err(CapabilityError::InvalidKeyword)
        );
        assert!(Extension::new(Text::default(), Text::default()).is_err());
    }

    #[test]
    fn emits_every_field() {
        let caps = Capabilities {
            pipelining: true,
            size: Some(0),
            auth: vec![Mechanism::Plain],
            mt_priority: Some(MtPriority {
                policy: Some(Text::from_static("STANAG4406")),
            }),
            future_release: Some(FutureRelease {
                max_interval: 604_800,
                max_datetime: Text::from_static("2026-12-31T23:59:59Z"),
            }),
            deliver_by: Some(60),
            other: vec![
                Extension::new(Text::from_static("XFOO"), Text::from_static("a b")).unwrap(),
            ],
            ..Capabilities::default()
        };
        let wire = caps.to_reply(Text::from_static("mx Hello")).to_bytes();
        assert_eq!(
            core::str::from_utf8(&wire).unwrap(),
            "250-mx Hello\r\n250-PIPELINING\r\n250-SIZE\r\n250-AUTH PLAIN\r\n\
             250-MT-PRIORITY STANAG4406\r\n250-FUTURERELEASE 604800 2026-12-31T23:59:59Z\r\n\
             250-DELIVERBY 60\r\n250 XFOO a b\r\n"
        );
    }

    fn token() -> impl Strategy<Value = Text> {
        "[!-~]{1,12}".prop_map(|s| Text::new(&s).unwrap())
    }

    fn capabilities() -> impl Strategy<Value = Capabilities> {
        let flags = proptest::collection::vec(any::<bool>(), 17);
        let auth = proptest::collection::btree_set("[A-Z0-9_-]{1,20}", 0..5).prop_map(|set| {
            set.into_iter()
                .map(|m| Mechanism::parse(m.as_bytes()).unwrap())
                .collect::<Vec<_>>()
        });
        let other = proptest::collection::vec(
            ("X-[A-Za-z0-9]{1,8}", "[!-~]{0,8}( [!-~]{1,8}){0,2}").prop_map(|(k, p)| {
                Extension::new(Text::new(&k).unwrap(), Text::new(&p).unwrap()).unwrap()
            }),
            0..4,
        );
        let extras = (
            proptest::option::of(any::<u64>()),
            proptest::option::of(proptest::option::of(token())),
            proptest::option::of((any::<u64>(), token())),
            proptest::option::of(any::<u64>()),
        );
        (flags, auth, other, extras).prop_map(
            |(f, auth, other, (size, mt, release, deliver_by))| Capabilities {
                pipelining: f[0],
                size,
                eight_bit_mime: f[1],
                smtp_utf8: f[2],
                starttls: f[3],
                auth,
                chunking: f[4],
                binary_mime: f[5],
                dsn: f[6],
                enhanced_status_codes: f[7],
                require_tls: f[8],
                mt_priority: mt.map(|policy| MtPriority { policy }),
                future_release: release.map(|(max_interval, max_datetime)| FutureRelease {
                    max_interval,
                    max_datetime,
                }),
                deliver_by,
                etrn: f[9],
                vrfy: f[10],
                expn: f[11],
                help: f[12],
                other,
            },
        )
    }

    proptest! {
        #[test]
        fn emit_parse_identity(caps in capabilities()) {
            let reply = caps.to_reply(Text::from_static("mx.example.org greets you"));
            prop_assert_eq!(reply.first_line(), "mx.example.org greets you");
            prop_assert_eq!(Capabilities::from_reply(&as_read(&reply)), Ok(caps.clone()));
            prop_assert_eq!(Capabilities::from_reply(&reply), Ok(caps));
        }

        #[test]
        fn read_off_the_wire_as_built_any_lines(
            lines in proptest::collection::vec(
                prop_oneof![
                    "[ -~\u{e9}]{0,30}",
                    "(?i)(auth|auth=|size|mt-priority|futurerelease|deliverby|8bitmime|dsn)( [ -~]{0,12}){0,3}",
                ],
                1..10,
            )
        ) {
            let lines: Vec<Text> = lines.iter().map(|l| Text::new(l).unwrap()).collect();
            read_both_ways(&lines);
        }

        #[test]
        fn parse_never_panics(lines in proptest::collection::vec("[ -~\u{e9}]{0,30}", 0..8)) {
            let lines = lines.iter().map(|l| Text::new(l).unwrap());
            let reply = Reply::multiline(ReplyCode::OK, None, lines).unwrap();
            let caps = Capabilities::from_reply(&reply).unwrap();
            // What was read emits and reads back the same.
            let again = Capabilities::from_reply(&caps.to_reply(Text::from_static("h"))).unwrap();
            prop_assert_eq!(again, caps);
        }
    }
}
