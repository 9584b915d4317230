//! Parameters of `RCPT TO:`.

use super::{
    for_each_param, is_name, set_once, write_param, Keyword, ParamError, Parameter, RawParam,
};
use crate::address::piece;
use crate::limits::MAX_ORCPT_LEN;
use crate::xtext::{decode_text, decode_utf8_addr_text, Utf8AddrXtext, Xtext};
use crate::Text;
use alloc::vec::Vec;
use bytes::Bytes;
use core::fmt;

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
        if is_name(value, "NEVER") {
            return Some(Notify::Never);
        }
        let (mut success, mut failure, mut delay) = (false, false, false);
        for item in value.split(|&b| b == b',') {
            // The first letter picks the one name the item can be.
            let (flag, name) = match item.first()? | 0x20 {
                b's' => (&mut success, "SUCCESS"),
                b'f' => (&mut failure, "FAILURE"),
                b'd' => (&mut delay, "DELAY"),
                _ => return None,
            };
            if !is_name(item, name) {
                return None;
            }
            *flag = true;
        }
        NotifyOn::new(success, failure, delay).map(Notify::On)
    }
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
            if !is_atom(atom.as_bytes()) {
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
        let invalid = ParamError::InvalidValue { keyword: "ORCPT" };
        let semicolon = memchr::memchr(b';', value).ok_or(invalid.clone())?;
        let (addr_type, encoded) = (&value[..semicolon], &value[semicolon + 1..]);
        if !is_atom(addr_type) {
            return Err(invalid);
        }
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

/// `atom` of RFC 5322, ASCII only.
fn is_atom(value: &[u8]) -> bool {
    !value.is_empty()
        && value
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b))
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
    pub(crate) fn parse(src: &Bytes, input: &[u8], extra_spaces: bool) -> Result<Self, ParamError> {
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
