//! XCLIENT (Postfix): a trusted proxy or content filter tells the server
//! about the client it speaks for.
//!
//! `XCLIENT attribute=value ...`, each value xtext-encoded, `[UNAVAILABLE]`
//! or `[TEMPUNAVAIL]` for a value the proxy does not know. An accepted XCLIENT
//! starts the session afresh with a new 220 greeting.

use alloc::vec::Vec;
use bytes::Bytes;

use crate::xtext;
use crate::Text;

/// The attributes Postfix defines; the EHLO reply lists them after `XCLIENT`.
pub(crate) const ATTRIBUTES: &str = "NAME ADDR PORT PROTO HELO LOGIN DESTADDR DESTPORT";

/// One `name=value` of an XCLIENT command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XclientAttribute {
    name: Text,
    value: Option<Text>,
}

impl XclientAttribute {
    /// The attribute name, upper-cased as sent (`ADDR`, `NAME`, …).
    pub fn name(&self) -> &Text {
        &self.name
    }

    /// The decoded value; `None` for `[UNAVAILABLE]` and `[TEMPUNAVAIL]`.
    pub fn value(&self) -> Option<&Text> {
        self.value.as_ref()
    }
}

/// Parses the arguments of XCLIENT; `None` when any attribute is malformed.
pub(crate) fn parse(args: &str) -> Option<Vec<XclientAttribute>> {
    let mut attributes = Vec::new();
    for word in args.split(' ') {
        let (name, value) = word.split_once('=')?;
        let known = ATTRIBUTES.split(' ').any(|a| a.eq_ignore_ascii_case(name));
        if !known {
            return None;
        }
        let value = match value {
            "[UNAVAILABLE]" | "[TEMPUNAVAIL]" => None,
            encoded => {
                let decoded = xtext::decode(encoded.as_bytes()).ok()?;
                Some(Text::from_bytes(Bytes::copy_from_slice(&decoded)).ok()?)
            }
        };
        let name = Text::new(&name.to_ascii_uppercase()).ok()?;
        attributes.push(XclientAttribute { name, value });
    }
    Some(attributes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_postfix_attributes() {
        let attributes = parse("NAME=spike.porcupine.org ADDR=168.100.189.2 login=[UNAVAILABLE]")
            .expect("valid");
        assert_eq!(attributes.len(), 3);
        assert_eq!(attributes[0].name(), "NAME");
        assert_eq!(attributes[1].value().unwrap(), "168.100.189.2");
        assert_eq!(attributes[2].name(), "LOGIN");
        assert!(attributes[2].value().is_none());
    }

    #[test]
    fn decodes_xtext_and_refuses_junk() {
        let attributes = parse("HELO=a+20b").expect("valid");
        assert_eq!(attributes[0].value().unwrap(), "a b");
        assert!(parse("HELO=a+0D+0AMAIL").is_none(), "decoded CR/LF");
        assert!(parse("COLOR=blue").is_none(), "unknown attribute");
        assert!(parse("NAME").is_none(), "no value");
    }
}
