//! Parameters of `RCPT TO:`.

use super::{
    for_each_param, set_once, whole, write_param, Keyword, ParamError, Parameter, Parsed, RawParam,
};
use crate::address::{class, no_case, octet, octets1, piece};
use crate::limits::MAX_ORCPT_LEN;
use crate::xtext::{decode_text, decode_utf8_addr_text, Utf8AddrXtext, Xtext};
use crate::Text;
use alloc::vec::Vec;
use bytes::Bytes;
use core::fmt;
use nom::branch::alt;
use nom::combinator::value;
use nom::sequence::terminated;
use nom::Parser;

/// Events that trigger a delivery status notification (RFC 3461 §4.1).
///
/// ```
/// use smtpwire::NotifyOn;
///
/// assert!(NotifyOn::new(false, true, true).is_some());
/// assert!(NotifyOn::new(false, false, false).is_none());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NotifyOn {
    success: bool,
    failure: bool,
    delay: bool,
}

impl NotifyOn {
    /// The set of events, unless it is empty.
    pub fn new(success: bool, failure: bool, delay: bool) -> Option<Self> {
        (success || failure || delay).then_some(NotifyOn {
            success,
            failure,
            delay,
        })
    }

    /// `SUCCESS`.
    pub fn success(self) -> bool {
        self.success
    }

    /// `FAILURE`.
    pub fn failure(self) -> bool {
        self.failure
    }

    /// `DELAY`.
    pub fn delay(self) -> bool {
        self.delay
    }
}

/// `NOTIFY=` (RFC 3461 §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Notify {
    /// `NEVER`, which cannot be combined with anything else.
    Never,
    /// A list of `SUCCESS`, `FAILURE` and `DELAY`.
    On(NotifyOn),
}

impl Notify {
    fn parse(value: &[u8]) -> Option<Self> {
        match notify_esmtp_value(value) {
            Ok((&[], notify)) => notify,
            _ => None,
        }
    }
}

/// `notify-esmtp-value = "NEVER" / 1#notify-list-element` (RFC 3461 §4.1),
/// the list separated by commas. `None` for a list that names no condition,
/// which cannot happen, kept apart from a mismatch by [`NotifyOn::new`].
fn notify_esmtp_value(input: &[u8]) -> Parsed<'_, Option<Notify>> {
    if let Ok((rest, _)) = no_case::<()>(&b"NEVER"[..]).parse(input) {
        return Ok((rest, Some(Notify::Never)));
    }
    let mut on = [false; 3];
    let (mut rest, first) = notify_list_element(input)?;
    on[first] = true;
    while let Some(after_comma) = rest.strip_prefix(b",") {
        let (after, next) = notify_list_element(after_comma)?;
        on[next] = true;
        rest = after;
    }
    Ok((rest, NotifyOn::new(on[0], on[1], on[2]).map(Notify::On)))
}

/// `notify-list-element = "SUCCESS" / "FAILURE" / "DELAY"` (RFC 3461 §4.1),
/// as the index of its flag.
#[inline]
fn notify_list_element(input: &[u8]) -> Parsed<'_, usize> {
    alt((
        value(0, no_case(&b"SUCCESS"[..])),
        value(1, no_case(&b"FAILURE"[..])),
        value(2, no_case(&b"DELAY"[..])),
    ))
    .parse(input)
}

impl fmt::Display for Notify {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let on = match self {
            Notify::Never => return f.write_str("NEVER"),
            Notify::On(on) => on,
        };
        let items = [
            (on.success, "SUCCESS"),
            (on.failure, "FAILURE"),
            (on.delay, "DELAY"),
        ];
        let mut separator = "";
        for (_, name) in items.iter().filter(|(set, _)| *set) {
            write!(f, "{separator}{name}")?;
            separator = ",";
        }
        Ok(())
    }
}

/// The address type of `ORCPT=` (RFC 3461 §4.2, RFC 6533 §3).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum OrcptType {
    /// `rfc822`: an ASCII address, xtext-encoded.
    Rfc822,
    /// `utf-8`: a UTF-8 address in the RFC 6533 encodings.
    Utf8,
    /// Another registered type, an `atom`; its address is xtext-encoded.
    Other(Text),
}

/// `ORCPT=addr-type;address` (RFC 3461 §4.2): the recipient as the original
/// sender gave it. The address is kept decoded.
///
/// ```
/// use smtpwire::{Orcpt, OrcptType};
///
/// let orcpt = Orcpt::new(OrcptType::Utf8, "jöe@example.com").unwrap();
/// assert_eq!(orcpt.to_string(), r"utf-8;j\x{F6}e@example.com");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Orcpt {
    addr_type: OrcptType,
    address: Text,
}

impl Orcpt {
    /// An original recipient; the address must be non-empty, without CR, LF
    /// or NUL, and at most [`MAX_ORCPT_LEN`] octets.
    pub fn new(addr_type: OrcptType, address: &str) -> Result<Self, ParamError> {
        if let OrcptType::Other(atom) = &addr_type {
            if whole(atom.as_bytes(), self::addr_type).is_none() {
                return Err(ParamError::InvalidValue { keyword: "ORCPT" });
            }
        }
        let address =
            Text::new(address).map_err(|_| ParamError::InvalidValue { keyword: "ORCPT" })?;
        Self::checked(addr_type, address)
    }

    fn checked(addr_type: OrcptType, address: Text) -> Result<Self, ParamError> {
        if address.is_empty() || address.len() > MAX_ORCPT_LEN {
            return Err(ParamError::InvalidValue { keyword: "ORCPT" });
        }
        Ok(Orcpt { addr_type, address })
    }

    /// The address type.
    pub fn addr_type(&self) -> &OrcptType {
        &self.addr_type
    }

    /// The decoded address.
    pub fn address(&self) -> &Text {
        &self.address
    }

    fn parse(src: &Bytes, value: &[u8]) -> Result<Self, ParamError> {
        let (encoded, addr_type) = terminated(addr_type, octet(b';'))
            .parse(value)
            .map_err(|_| ParamError::InvalidValue { keyword: "ORCPT" })?;
        let encoding = |source| ParamError::Encoding {
            keyword: "ORCPT",
            source,
        };
        let (addr_type, address) = if addr_type.eq_ignore_ascii_case(b"utf-8") {
            let address = decode_utf8_addr_text(src, encoded).map_err(encoding)?;
            (OrcptType::Utf8, address)
        } else {
            let address = decode_text(src, encoded).map_err(encoding)?;
            if addr_type.eq_ignore_ascii_case(b"rfc822") {
                (OrcptType::Rfc822, address)
            } else {
                (OrcptType::Other(piece(src, addr_type)), address)
            }
        };
        Self::checked(addr_type, address)
    }
}

/// `original-recipient-address = addr-type ";" xtext` with
/// `addr-type = atom` (RFC 3461 §4.2), the atom of RFC 5322 §3.2.3 in ASCII:
/// the part before the `;`.
fn addr_type(input: &[u8]) -> Parsed<'_, &[u8]> {
    octets1(|byte: u8| byte.is_ascii() && class::is(byte, class::ATEXT)).parse(input)
}

impl fmt::Display for Orcpt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let address = self.address.as_str();
        match &self.addr_type {
            OrcptType::Rfc822 => write!(f, "rfc822;{}", Xtext(address.as_bytes())),
            OrcptType::Utf8 => write!(f, "utf-8;{}", Utf8AddrXtext(address)),
            OrcptType::Other(atom) => write!(f, "{atom};{}", Xtext(address.as_bytes())),
        }
    }
}

/// Parameters of `RCPT TO:` (RFC 5321 §4.1.1.3 `Rcpt-parameters`).
///
/// ```
/// use smtpwire::{Notify, NotifyOn, RcptParameters};
///
/// let params = RcptParameters {
///     notify: Some(Notify::On(NotifyOn::new(false, true, true).unwrap())),
///     ..RcptParameters::default()
/// };
/// assert_eq!(params.to_string(), " NOTIFY=FAILURE,DELAY");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct RcptParameters {
    /// `NOTIFY=` (RFC 3461).
    pub notify: Option<Notify>,
    /// `ORCPT=` (RFC 3461, RFC 6533).
    pub orcpt: Option<Orcpt>,
    /// Every other parameter, in the order it came.
    pub other: Vec<Parameter>,
}

impl RcptParameters {
    /// Whether the parameters are all ASCII on the wire.
    pub fn is_ascii(&self) -> bool {
        super::values_are_ascii(&self.other)
    }

    /// Parses ` keyword[=value]…` (empty, or starting with a space).
    #[inline]
    pub(crate) fn parse(src: &Bytes, input: &[u8], extra_spaces: bool) -> Result<Self, ParamError> {
        // Most commands come without parameters: no call for those.
        if input.is_empty() {
            return Ok(RcptParameters::default());
        }
        Self::parse_listed(src, input, extra_spaces)
    }

    /// [`parse`](Self::parse) for a non-empty list.
    fn parse_listed(src: &Bytes, input: &[u8], extra_spaces: bool) -> Result<Self, ParamError> {
        let mut params = RcptParameters::default();
        for_each_param(input, extra_spaces, |raw| params.apply(src, raw))?;
        Ok(params)
    }

    fn apply(&mut self, src: &Bytes, raw: RawParam<'_>) -> Result<(), ParamError> {
        match raw.known() {
            Some(Keyword::Notify) => {
                let notify = Notify::parse(raw.value("NOTIFY")?)
                    .ok_or(ParamError::InvalidValue { keyword: "NOTIFY" })?;
                set_once(&mut self.notify, "NOTIFY", notify)
            }
            Some(Keyword::Orcpt) => {
                let orcpt = Orcpt::parse(src, raw.value("ORCPT")?)?;
                set_once(&mut self.orcpt, "ORCPT", orcpt)
            }
            // The MAIL parameters are, on RCPT, like any other.
            _ => {
                self.other.push(raw.into_parameter(src));
                Ok(())
            }
        }
    }
}

impl fmt::Display for RcptParameters {
    /// Writes each parameter preceded by a space, typed ones first.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(notify) = &self.notify {
            write_param(f, format_args!("NOTIFY={notify}"))?;
        }
        if let Some(orcpt) = &self.orcpt {
            write_param(f, format_args!("ORCPT={orcpt}"))?;
        }
        for param in &self.other {
            write_param(f, format_args!("{param}"))?;
        }
        Ok(())
    }
}
