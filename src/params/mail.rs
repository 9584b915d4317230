//! Parameters of `MAIL FROM:`.

use super::{
    digits, for_each_param, parse_digits, set_flag, set_once, whole, write_param, Keyword,
    ParamError, Parameter, Parsed, RawParam,
};
use crate::address::{no_case, Mailbox};
use crate::limits::MAX_ENVID_LEN;
use crate::xtext::{decode_text, Xtext};
use crate::Text;
use alloc::vec::Vec;
use bytes::Bytes;
use core::fmt;
use nom::branch::alt;
use nom::combinator::value;
use nom::Parser;

/// `BODY=` (RFC 6152 §2, RFC 3030 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BodyType {
    /// `7BIT`.
    SevenBit,
    /// `8BITMIME`.
    EightBitMime,
    /// `BINARYMIME`, only with `BDAT`.
    BinaryMime,
}

impl BodyType {
    /// The value as written on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            BodyType::SevenBit => "7BIT",
            BodyType::EightBitMime => "8BITMIME",
            BodyType::BinaryMime => "BINARYMIME",
        }
    }
}

/// `RET=` (RFC 3461 §4.3): how much of the message a failure notice returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ret {
    /// `FULL`: the whole message.
    Full,
    /// `HDRS`: only the header.
    Headers,
}

impl Ret {
    /// The value as written on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Ret::Full => "FULL",
            Ret::Headers => "HDRS",
        }
    }
}

/// The decoded value of `ENVID=` (RFC 3461 §4.4): printable ASCII, at most
/// [`MAX_ENVID_LEN`] characters; xtext-encoded on the wire.
///
/// ```
/// use smtpwire::EnvelopeId;
///
/// assert!(EnvelopeId::new("QQ314159 a+b").is_ok());
/// assert!(EnvelopeId::new("tab\there").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EnvelopeId(Text);

impl EnvelopeId {
    /// Checks and wraps a decoded envelope identifier.
    pub fn new(value: &str) -> Result<Self, ParamError> {
        let text = Text::new(value).map_err(|_| ParamError::InvalidValue { keyword: "ENVID" })?;
        Self::checked(text)
    }

    fn checked(text: Text) -> Result<Self, ParamError> {
        let printable = text.as_bytes().iter().all(|b| matches!(b, b' '..=b'~'));
        if text.is_empty() || text.len() > MAX_ENVID_LEN || !printable {
            return Err(ParamError::InvalidValue { keyword: "ENVID" });
        }
        Ok(EnvelopeId(text))
    }

    /// The decoded identifier.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

/// `AUTH=` on `MAIL` (RFC 4954 §5): who submitted the message, as vouched for
/// by an authenticated client.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AuthParam {
    /// `AUTH=<>`: the submitter is not known or not trusted.
    Unknown,
    /// The submitter's mailbox, xtext-encoded on the wire.
    Mailbox(Mailbox),
}

/// `MT-PRIORITY=` (RFC 6710 §3): −9 (lowest) to 9 (highest).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MtPriority(i8);

impl MtPriority {
    /// A priority, if it is within −9..=9.
    pub fn new(priority: i8) -> Option<Self> {
        (-9..=9).contains(&priority).then_some(MtPriority(priority))
    }

    /// The priority.
    pub fn get(self) -> i8 {
        self.0
    }
}

/// An RFC 3339 `date-time`, as `HOLDUNTIL=` takes it (RFC 4865 §4).
///
/// ```
/// use smtpwire::HoldUntil;
///
/// assert!(HoldUntil::new("2026-08-01T12:00:00Z").is_ok());
/// assert!(HoldUntil::new("2026-08-01T12:00:00.5+02:00").is_ok());
/// assert!(HoldUntil::new("2026-13-01T12:00:00Z").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HoldUntil(Text);

impl HoldUntil {
    /// Checks the syntax and field ranges of a date-time.
    pub fn new(value: &str) -> Result<Self, ParamError> {
        if !is_date_time(value.as_bytes()) {
            return Err(ParamError::InvalidValue {
                keyword: "HOLDUNTIL",
            });
        }
        // The grammar admits only ASCII digits and punctuation.
        Text::new(value)
            .map(HoldUntil)
            .map_err(|_| ParamError::InvalidValue {
                keyword: "HOLDUNTIL",
            })
    }

    /// The date-time as written.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

/// `full-date "T" full-time` (RFC 3339 §5.6); `T` and `Z` in either case.
fn is_date_time(value: &[u8]) -> bool {
    let number = |range: core::ops::Range<usize>, max: u64, min: u64| {
        value
            .get(range)
            .and_then(|digits| parse_digits(digits, 4))
            .is_some_and(|n| (min..=max).contains(&n))
    };
    let at = |index: usize, expected: &[u8]| value.get(index).is_some_and(|b| expected.contains(b));
    let date_time = number(0..4, 9999, 0)
        && at(4, b"-")
        && number(5..7, 12, 1)
        && at(7, b"-")
        && number(8..10, 31, 1)
        && at(10, b"Tt")
        && number(11..13, 23, 0)
        && at(13, b":")
        && number(14..16, 59, 0)
        && at(16, b":")
        && number(17..19, 60, 0);
    if !date_time {
        return false;
    }
    let mut rest = value.get(19..).unwrap_or_default();
    if let Some(fraction) = rest.strip_prefix(b".") {
        let digits = fraction.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 {
            return false;
        }
        rest = fraction.get(digits..).unwrap_or_default();
    }
    match rest {
        b"Z" | b"z" => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => {
            let hours = parse_digits(&[*h1, *h2], 2);
            let minutes = parse_digits(&[*m1, *m2], 2);
            hours.is_some_and(|h| h <= 23) && minutes.is_some_and(|m| m <= 59)
        }
        _ => false,
    }
}

/// When a message may be released (RFC 4865 FUTURERELEASE).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FutureRelease {
    /// `HOLDFOR=`: seconds to hold the message, at most 999 999 999.
    For(u32),
    /// `HOLDUNTIL=`: the time to release it.
    Until(HoldUntil),
}

/// Largest `HOLDFOR` and `BY` time: nine digits (RFC 4865 §4, RFC 2852 §4).
const MAX_NINE_DIGITS: u32 = 999_999_999;

impl FutureRelease {
    /// `HOLDFOR=seconds`, if it fits in nine digits.
    pub fn hold_for(seconds: u32) -> Option<Self> {
        (seconds <= MAX_NINE_DIGITS).then_some(FutureRelease::For(seconds))
    }
}

/// What happens when a `BY` deadline passes (RFC 2852 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ByMode {
    /// `N`: send a delay notification and keep trying.
    Notify,
    /// `R`: return the message as undeliverable.
    Return,
}

/// `BY=time;mode[T]` (RFC 2852 §4): deliver within `time` seconds.
///
/// ```
/// use smtpwire::{ByMode, DeliverBy};
///
/// let by = DeliverBy::new(120, ByMode::Return, true).unwrap();
/// assert_eq!(by.to_string(), "120;RT");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DeliverBy {
    time: i32,
    mode: ByMode,
    trace: bool,
}

impl DeliverBy {
    /// A deadline, if `time` fits in nine digits and a sign.
    pub fn new(time: i32, mode: ByMode, trace: bool) -> Option<Self> {
        (time.unsigned_abs() <= MAX_NINE_DIGITS).then_some(DeliverBy { time, mode, trace })
    }

    /// Seconds from now; may be negative in `N` mode.
    pub fn time(&self) -> i32 {
        self.time
    }

    /// What to do when the deadline passes.
    pub fn mode(&self) -> ByMode {
        self.mode
    }

    /// Whether each hop should report the deadline (`T`).
    pub fn trace(&self) -> bool {
        self.trace
    }

    fn parse(value: &[u8]) -> Option<Self> {
        let semicolon = memchr::memchr(b';', value)?;
        let (time, mode) = (&value[..semicolon], &value[semicolon + 1..]);
        let (negative, digits) = match time.split_first()? {
            (b'-', digits) => (true, digits),
            (b'+', digits) => (false, digits),
            _ => (false, time),
        };
        let magnitude = i32::try_from(parse_digits(digits, 9)?).ok()?;
        let time = if negative { -magnitude } else { magnitude };
        let (mode, trace) = match mode {
            [mode] => (*mode, false),
            [mode, b'T' | b't'] => (*mode, true),
            _ => return None,
        };
        let mode = match mode {
            b'N' | b'n' => ByMode::Notify,
            b'R' | b'r' => ByMode::Return,
            _ => return None,
        };
        DeliverBy::new(time, mode, trace)
    }
}

impl fmt::Display for DeliverBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mode = match self.mode {
            ByMode::Notify => "N",
            ByMode::Return => "R",
        };
        let trace = if self.trace { "T" } else { "" };
        write!(f, "{};{mode}{trace}", self.time)
    }
}

/// Parameters of `MAIL FROM:` (RFC 5321 §4.1.1.2 `Mail-parameters`).
///
/// Typed fields for the extensions this crate knows; anything else is kept in
/// order in `other`. Written back with the typed ones first.
///
/// ```
/// use smtpwire::{BodyType, MailParameters};
///
/// let params = MailParameters {
///     size: Some(12345),
///     body: Some(BodyType::EightBitMime),
///     ..MailParameters::default()
/// };
/// assert_eq!(params.to_string(), " SIZE=12345 BODY=8BITMIME");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct MailParameters {
    /// `SIZE=` (RFC 1870): the declared message size in octets.
    pub size: Option<u64>,
    /// `BODY=` (RFC 6152, RFC 3030).
    pub body: Option<BodyType>,
    /// `SMTPUTF8` (RFC 6531).
    pub smtputf8: bool,
    /// `RET=` (RFC 3461).
    pub ret: Option<Ret>,
    /// `ENVID=` (RFC 3461).
    pub envid: Option<EnvelopeId>,
    /// `AUTH=` (RFC 4954 §5).
    pub auth: Option<AuthParam>,
    /// `MT-PRIORITY=` (RFC 6710).
    pub mt_priority: Option<MtPriority>,
    /// `HOLDFOR=` or `HOLDUNTIL=` (RFC 4865).
    pub hold: Option<FutureRelease>,
    /// `BY=` (RFC 2852).
    pub by: Option<DeliverBy>,
    /// `REQUIRETLS` (RFC 8689).
    pub requiretls: bool,
    /// Every other parameter, in the order it came.
    pub other: Vec<Parameter>,
}

impl MailParameters {
    /// Whether the parameters are all ASCII on the wire: only untyped values
    /// can carry UTF-8 (RFC 6531 §3.3); typed ones are encoded.
    pub fn is_ascii(&self) -> bool {
        super::values_are_ascii(&self.other)
    }

    /// Parses ` keyword[=value]…` (empty, or starting with a space).
    #[inline]
    pub(crate) fn parse(src: &Bytes, input: &[u8], extra_spaces: bool) -> Result<Self, ParamError> {
        // Most commands come without parameters: no call for those.
        if input.is_empty() {
            return Ok(MailParameters::default());
        }
        Self::parse_listed(src, input, extra_spaces)
    }

    /// [`parse`](Self::parse) for a non-empty list.
    fn parse_listed(src: &Bytes, input: &[u8], extra_spaces: bool) -> Result<Self, ParamError> {
        let mut params = MailParameters::default();
        for_each_param(input, extra_spaces, |raw| params.apply(src, raw))?;
        Ok(params)
    }

    fn apply(&mut self, src: &Bytes, raw: RawParam<'_>) -> Result<(), ParamError> {
        match raw.known() {
            Some(Keyword::Size) => {
                let size = whole(raw.value("SIZE")?, size_value)
                    .ok_or(ParamError::InvalidValue { keyword: "SIZE" })?;
                set_once(&mut self.size, "SIZE", size)
            }
            Some(Keyword::Body) => {
                let body = whole(raw.value("BODY")?, body_value)
                    .ok_or(ParamError::InvalidValue { keyword: "BODY" })?;
                set_once(&mut self.body, "BODY", body)
            }
            Some(Keyword::SmtpUtf8) => set_flag(&mut self.smtputf8, "SMTPUTF8", &raw),
            Some(Keyword::Ret) => {
                let ret = whole(raw.value("RET")?, ret_value)
                    .ok_or(ParamError::InvalidValue { keyword: "RET" })?;
                set_once(&mut self.ret, "RET", ret)
            }
            Some(Keyword::Envid) => {
                let decoded = decode_text(src, raw.value("ENVID")?).map_err(|source| {
                    ParamError::Encoding {
                        keyword: "ENVID",
                        source,
                    }
                })?;
                set_once(&mut self.envid, "ENVID", EnvelopeId::checked(decoded)?)
            }
            Some(Keyword::Auth) => {
                let auth = parse_auth(src, raw.value("AUTH")?)?;
                set_once(&mut self.auth, "AUTH", auth)
            }
            Some(Keyword::MtPriority) => {
                let priority =
                    parse_priority(raw.value("MT-PRIORITY")?).ok_or(ParamError::InvalidValue {
                        keyword: "MT-PRIORITY",
                    })?;
                set_once(&mut self.mt_priority, "MT-PRIORITY", priority)
            }
            Some(Keyword::HoldFor) => {
                let seconds = parse_digits(raw.value("HOLDFOR")?, 9)
                    .and_then(|s| u32::try_from(s).ok())
                    .ok_or(ParamError::InvalidValue { keyword: "HOLDFOR" })?;
                self.set_hold("HOLDFOR", FutureRelease::For(seconds))
            }
            Some(Keyword::HoldUntil) => {
                let value = raw.value("HOLDUNTIL")?;
                let until = HoldUntil::new(core::str::from_utf8(value).unwrap_or_default())?;
                self.set_hold("HOLDUNTIL", FutureRelease::Until(until))
            }
            Some(Keyword::By) => {
                let by = DeliverBy::parse(raw.value("BY")?)
                    .ok_or(ParamError::InvalidValue { keyword: "BY" })?;
                set_once(&mut self.by, "BY", by)
            }
            Some(Keyword::RequireTls) => set_flag(&mut self.requiretls, "REQUIRETLS", &raw),
            // NOTIFY and ORCPT belong to RCPT; on MAIL they are like any other.
            Some(Keyword::Notify | Keyword::Orcpt) | None => {
                self.other.push(raw.into_parameter(src));
                Ok(())
            }
        }
    }

    fn set_hold(&mut self, keyword: &'static str, hold: FutureRelease) -> Result<(), ParamError> {
        match &self.hold {
            None => {
                self.hold = Some(hold);
                Ok(())
            }
            Some(existing) => {
                let first = match existing {
                    FutureRelease::For(_) => "HOLDFOR",
                    FutureRelease::Until(_) => "HOLDUNTIL",
                };
                if first == keyword {
                    Err(ParamError::Duplicate { keyword })
                } else {
                    Err(ParamError::Conflict {
                        first,
                        second: keyword,
                    })
                }
            }
        }
    }
}

/// `AUTH=<>` or an xtext-encoded mailbox (RFC 4954 §5).
fn parse_auth(src: &Bytes, value: &[u8]) -> Result<AuthParam, ParamError> {
    if value == b"<>" {
        return Ok(AuthParam::Unknown);
    }
    let decoded = decode_text(src, value).map_err(|source| ParamError::Encoding {
        keyword: "AUTH",
        source,
    })?;
    let mailbox =
        Mailbox::parse_bytes(&decoded.into_bytes()).map_err(|source| ParamError::Address {
            keyword: "AUTH",
            source,
        })?;
    Ok(AuthParam::Mailbox(mailbox))
}

/// `[ "+" / "-" ] DIGIT` (RFC 6710 §3).
fn parse_priority(value: &[u8]) -> Option<MtPriority> {
    let (negative, digit) = match value {
        [b'-', digit] => (true, *digit),
        [b'+', digit] | [digit] => (false, *digit),
        _ => return None,
    };
    let magnitude = i8::try_from(parse_digits(&[digit], 1)?).ok()?;
    MtPriority::new(if negative { -magnitude } else { magnitude })
}

impl fmt::Display for MailParameters {
    /// Writes each parameter preceded by a space, typed ones first.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(size) = self.size {
            write_param(f, format_args!("SIZE={size}"))?;
        }
        if let Some(body) = self.body {
            write_param(f, format_args!("BODY={}", body.as_str()))?;
        }
        if self.smtputf8 {
            f.write_str(" SMTPUTF8")?;
        }
        if let Some(ret) = self.ret {
            write_param(f, format_args!("RET={}", ret.as_str()))?;
        }
        if let Some(envid) = &self.envid {
            write_param(
                f,
                format_args!("ENVID={}", Xtext(envid.as_str().as_bytes())),
            )?;
        }
        match &self.auth {
            Some(AuthParam::Unknown) => f.write_str(" AUTH=<>")?,
            Some(AuthParam::Mailbox(mailbox)) => {
                f.write_str(" AUTH=")?;
                fmt::write(&mut XtextWriter(f), format_args!("{mailbox}"))?;
            }
            None => {}
        }
        if let Some(priority) = self.mt_priority {
            write_param(f, format_args!("MT-PRIORITY={}", priority.get()))?;
        }
        match &self.hold {
            Some(FutureRelease::For(seconds)) => write_param(f, format_args!("HOLDFOR={seconds}"))?,
            Some(FutureRelease::Until(until)) => {
                write_param(f, format_args!("HOLDUNTIL={}", until.as_str()))?;
            }
            None => {}
        }
        if let Some(by) = self.by {
            write_param(f, format_args!("BY={by}"))?;
        }
        if self.requiretls {
            f.write_str(" REQUIRETLS")?;
        }
        for param in &self.other {
            write_param(f, format_args!("{param}"))?;
        }
        Ok(())
    }
}

/// xtext-encodes whatever is written through it, so a mailbox is encoded as
/// it is displayed, without a temporary string.
struct XtextWriter<'a, 'b>(&'a mut fmt::Formatter<'b>);

impl fmt::Write for XtextWriter<'_, '_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        write!(self.0, "{}", Xtext(s.as_bytes()))
    }
}

/// `size-value = 1*20DIGIT` (RFC 1870 §3), as a number that fits in 64 bits.
#[inline]
fn size_value(input: &[u8]) -> Parsed<'_, u64> {
    digits(20).parse(input)
}

/// `body-value = "7BIT" / "8BITMIME"` (RFC 6152 §2), with
/// `/ "BINARYMIME"` (RFC 3030 §3).
#[inline]
fn body_value(input: &[u8]) -> Parsed<'_, BodyType> {
    alt((
        value(BodyType::EightBitMime, no_case(&b"8BITMIME"[..])),
        value(BodyType::SevenBit, no_case(&b"7BIT"[..])),
        value(BodyType::BinaryMime, no_case(&b"BINARYMIME"[..])),
    ))
    .parse(input)
}

/// `ret-value = "FULL" / "HDRS"` (RFC 3461 §4.3).
#[inline]
fn ret_value(input: &[u8]) -> Parsed<'_, Ret> {
    alt((
        value(Ret::Full, no_case(&b"FULL"[..])),
        value(Ret::Headers, no_case(&b"HDRS"[..])),
    ))
    .parse(input)
}
