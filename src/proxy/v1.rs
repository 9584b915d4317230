//! Version 1: one text line (proxy-protocol.txt §2.1).

use super::{ProxyAddresses, ProxyEmitError, ProxyError, ProxyHeader, ProxyVersion};
use crate::limits::MAX_PROXY_V1_HEADER;
use alloc::format;
use alloc::vec::Vec;
use bytes::BufMut;
use core::net::{SocketAddrV4, SocketAddrV6};
use core::str::FromStr;

pub(super) const PREFIX: &[u8] = b"PROXY ";

pub(super) fn parse(input: &[u8]) -> Result<Option<(ProxyHeader, usize)>, ProxyError> {
    let window = input.get(..MAX_PROXY_V1_HEADER).unwrap_or(input);
    let Some(lf) = memchr::memchr(b'\n', window) else {
        return if window.len() == MAX_PROXY_V1_HEADER {
            Err(ProxyError::TooLong {
                limit: MAX_PROXY_V1_HEADER,
            })
        } else {
            Ok(None)
        };
    };
    let line = window
        .get(..lf)
        .and_then(|line| line.strip_suffix(b"\r"))
        .ok_or(ProxyError::V1Syntax)?;
    let fields = line.strip_prefix(PREFIX).ok_or(ProxyError::V1Syntax)?;
    let addresses = parse_fields(fields)?;
    let header = ProxyHeader {
        version: ProxyVersion::V1,
        addresses,
        tlvs: Vec::new(),
    };
    Ok(Some((header, lf + 1)))
}

fn parse_fields(fields: &[u8]) -> Result<ProxyAddresses, ProxyError> {
    let mut fields = fields.split(|b| *b == b' ');
    let protocol = fields.next().unwrap_or_default();
    // §2.1: after UNKNOWN the receiver ignores the rest of the line.
    if protocol == b"UNKNOWN" {
        return Ok(ProxyAddresses::Unknown);
    }
    let ipv6 = match protocol {
        b"TCP4" => false,
        b"TCP6" => true,
        _ => return Err(ProxyError::V1Protocol),
    };
    let (Some(source), Some(destination), Some(source_port), Some(destination_port), None) = (
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
    ) else {
        return Err(ProxyError::V1Syntax);
    };
    let (source_port, destination_port) = (port(source_port)?, port(destination_port)?);
    Ok(if ipv6 {
        ProxyAddresses::Ipv6 {
            source: SocketAddrV6::new(address(source)?, source_port, 0, 0),
            destination: SocketAddrV6::new(address(destination)?, destination_port, 0, 0),
        }
    } else {
        ProxyAddresses::Ipv4 {
            source: SocketAddrV4::new(address(source)?, source_port),
            destination: SocketAddrV4::new(address(destination)?, destination_port),
        }
    })
}

/// An address of the family the protocol names; core's parsers refuse the
/// other family and, for IPv4, leading zeros (§2.1 wants exactly four
/// decimal integers).
fn address<A: FromStr>(field: &[u8]) -> Result<A, ProxyError> {
    core::str::from_utf8(field)
        .ok()
        .and_then(|text| text.parse().ok())
        .ok_or(ProxyError::BadAddress)
}

/// §2.1: decimal in 0..=65535, "heading zeroes are not permitted".
fn port(field: &[u8]) -> Result<u16, ProxyError> {
    let canonical = match field {
        [] => false,
        [b'0'] => true,
        [first, ..] => *first != b'0' && field.len() <= 5 && field.iter().all(u8::is_ascii_digit),
    };
    if !canonical {
        return Err(ProxyError::BadPort);
    }
    field
        .iter()
        .try_fold(0u16, |value, digit| {
            value.checked_mul(10)?.checked_add(u16::from(digit - b'0'))
        })
        .ok_or(ProxyError::BadPort)
}

pub(super) fn emit(header: &ProxyHeader, out: &mut impl BufMut) -> Result<(), ProxyEmitError> {
    if !header.tlvs.is_empty() {
        return Err(ProxyEmitError::TlvsInV1);
    }
    let line = match &header.addresses {
        ProxyAddresses::Local | ProxyAddresses::Unknown => {
            out.put_slice(b"PROXY UNKNOWN\r\n");
            return Ok(());
        }
        ProxyAddresses::Ipv4 {
            source,
            destination,
        } => format!(
            "PROXY TCP4 {} {} {} {}\r\n",
            source.ip(),
            destination.ip(),
            source.port(),
            destination.port()
        ),
        ProxyAddresses::Ipv6 {
            source,
            destination,
        } => format!(
            "PROXY TCP6 {} {} {} {}\r\n",
            source.ip(),
            destination.ip(),
            source.port(),
            destination.port()
        ),
        ProxyAddresses::Unix { .. } => return Err(ProxyEmitError::UnixInV1),
    };
    out.put_slice(line.as_bytes());
    Ok(())
}
