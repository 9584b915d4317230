//! Version 2: a binary header (proxy-protocol.txt §2.2).

use super::{
    ProxyAddresses, ProxyEmitError, ProxyError, ProxyHeader, ProxyVersion, Tlv, UnixAddress,
    UNIX_ADDRESS_LEN,
};
use crate::limits::MAX_PROXY_V2_HEADER;
use alloc::vec::Vec;
use bytes::{BufMut, Bytes};
use core::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};

pub(super) const SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";
/// Signature, version/command, family/transport, 16-bit length.
const FIXED_LEN: usize = 16;
const VERSION: u8 = 0x2;
const COMMAND_LOCAL: u8 = 0x0;
const COMMAND_PROXY: u8 = 0x1;
/// Family/transport bytes §2.2 defines for streams; datagram ones are
/// refused, as SMTP never runs over them.
const UNSPEC: u8 = 0x00;
const TCP4: u8 = 0x11;
const TCP6: u8 = 0x21;
const UNIX_STREAM: u8 = 0x31;
const IPV4_BLOCK: usize = 4 + 4 + 2 + 2;
const IPV6_BLOCK: usize = 16 + 16 + 2 + 2;
const UNIX_BLOCK: usize = 2 * UNIX_ADDRESS_LEN;
/// TLV type and 16-bit length.
const TLV_HEAD: usize = 3;

pub(super) fn parse(input: &[u8]) -> Result<Option<(ProxyHeader, usize)>, ProxyError> {
    let Some(&[version_command, family, len_high, len_low]) = input.get(SIGNATURE.len()..FIXED_LEN)
    else {
        return Ok(None);
    };
    if version_command >> 4 != VERSION {
        return Err(ProxyError::BadVersion(version_command >> 4));
    }
    let command = version_command & 0x0f;
    if command != COMMAND_LOCAL && command != COMMAND_PROXY {
        return Err(ProxyError::BadCommand(command));
    }
    let length = u16::from_be_bytes([len_high, len_low]);
    let total = FIXED_LEN + usize::from(length);
    if total > MAX_PROXY_V2_HEADER {
        return Err(ProxyError::TooLong {
            limit: MAX_PROXY_V2_HEADER,
        });
    }
    let Some(block) = input.get(FIXED_LEN..total) else {
        return Ok(None);
    };
    let header = if command == COMMAND_LOCAL {
        // §2.2: for LOCAL the receiver discards the block, family included.
        ProxyHeader {
            version: ProxyVersion::V2,
            addresses: ProxyAddresses::Local,
            tlvs: Vec::new(),
        }
    } else {
        let too_short = ProxyError::AddressBlockTooShort { family, length };
        let (addresses, tlvs) = match family {
            UNSPEC => (ProxyAddresses::Unknown, block),
            TCP4 => {
                let (raw, tlvs) = block.split_first_chunk().ok_or(too_short)?;
                (ipv4(raw), tlvs)
            }
            TCP6 => {
                let (raw, tlvs) = block.split_first_chunk().ok_or(too_short)?;
                (ipv6(raw), tlvs)
            }
            UNIX_STREAM => {
                let (raw, tlvs) = block.split_first_chunk().ok_or(too_short)?;
                (unix(raw), tlvs)
            }
            other => return Err(ProxyError::UnsupportedFamily(other)),
        };
        ProxyHeader {
            version: ProxyVersion::V2,
            addresses,
            tlvs: parse_tlvs(tlvs)?,
        }
    };
    Ok(Some((header, total)))
}

fn ipv4(raw: &[u8; IPV4_BLOCK]) -> ProxyAddresses {
    let [s0, s1, s2, s3, d0, d1, d2, d3, sp0, sp1, dp0, dp1] = *raw;
    ProxyAddresses::Ipv4 {
        source: SocketAddrV4::new(
            Ipv4Addr::new(s0, s1, s2, s3),
            u16::from_be_bytes([sp0, sp1]),
        ),
        destination: SocketAddrV4::new(
            Ipv4Addr::new(d0, d1, d2, d3),
            u16::from_be_bytes([dp0, dp1]),
        ),
    }
}

fn ipv6(raw: &[u8; IPV6_BLOCK]) -> ProxyAddresses {
    // Constant ranges of a fixed-size array: bounds proven at compile time.
    let mut source = [0; 16];
    let mut destination = [0; 16];
    source.copy_from_slice(&raw[..16]);
    destination.copy_from_slice(&raw[16..32]);
    ProxyAddresses::Ipv6 {
        source: SocketAddrV6::new(
            Ipv6Addr::from(source),
            u16::from_be_bytes([raw[32], raw[33]]),
            0,
            0,
        ),
        destination: SocketAddrV6::new(
            Ipv6Addr::from(destination),
            u16::from_be_bytes([raw[34], raw[35]]),
            0,
            0,
        ),
    }
}

fn unix(raw: &[u8; UNIX_BLOCK]) -> ProxyAddresses {
    let (source, destination) = raw.split_at(UNIX_ADDRESS_LEN);
    let address = |bytes: &[u8]| {
        let mut raw = [0; UNIX_ADDRESS_LEN];
        raw.copy_from_slice(bytes);
        UnixAddress(raw)
    };
    ProxyAddresses::Unix {
        source: address(source),
        destination: address(destination),
    }
}

fn parse_tlvs(block: &[u8]) -> Result<Vec<Tlv>, ProxyError> {
    // One copy of the block; each value is a slice of it.
    let block = Bytes::copy_from_slice(block);
    let mut tlvs = Vec::new();
    let mut at = 0;
    while at < block.len() {
        let Some(&[kind, len_high, len_low]) = block.get(at..at + TLV_HEAD) else {
            return Err(ProxyError::MalformedTlv);
        };
        let start = at + TLV_HEAD;
        let end = start + usize::from(u16::from_be_bytes([len_high, len_low]));
        if end > block.len() {
            return Err(ProxyError::MalformedTlv);
        }
        tlvs.push(Tlv {
            kind,
            value: block.slice(start..end),
        });
        at = end;
    }
    Ok(tlvs)
}

pub(super) fn emit(header: &ProxyHeader, out: &mut impl BufMut) -> Result<(), ProxyEmitError> {
    let (command, family, address_len, tlvs) = match &header.addresses {
        ProxyAddresses::Local => (COMMAND_LOCAL, UNSPEC, 0, &[][..]),
        ProxyAddresses::Unknown => (COMMAND_PROXY, UNSPEC, 0, &header.tlvs[..]),
        ProxyAddresses::Ipv4 { .. } => (COMMAND_PROXY, TCP4, IPV4_BLOCK, &header.tlvs[..]),
        ProxyAddresses::Ipv6 { .. } => (COMMAND_PROXY, TCP6, IPV6_BLOCK, &header.tlvs[..]),
        ProxyAddresses::Unix { .. } => (COMMAND_PROXY, UNIX_STREAM, UNIX_BLOCK, &header.tlvs[..]),
    };
    let length: usize = address_len
        + tlvs
            .iter()
            .map(|tlv| TLV_HEAD + tlv.value.len())
            .sum::<usize>();
    // Within the limit, every length below fits its 16-bit field.
    let (Ok(length_field), true) = (
        u16::try_from(length),
        FIXED_LEN + length <= MAX_PROXY_V2_HEADER,
    ) else {
        return Err(ProxyEmitError::TooLong {
            limit: MAX_PROXY_V2_HEADER,
        });
    };
    out.put_slice(&SIGNATURE);
    out.put_u8((VERSION << 4) | command);
    out.put_u8(family);
    out.put_u16(length_field);
    match &header.addresses {
        ProxyAddresses::Local | ProxyAddresses::Unknown => {}
        ProxyAddresses::Ipv4 {
            source,
            destination,
        } => put_inet(
            out,
            [&source.ip().octets(), &destination.ip().octets()],
            [source.port(), destination.port()],
        ),
        ProxyAddresses::Ipv6 {
            source,
            destination,
        } => put_inet(
            out,
            [&source.ip().octets(), &destination.ip().octets()],
            [source.port(), destination.port()],
        ),
        ProxyAddresses::Unix {
            source,
            destination,
        } => {
            out.put_slice(source.as_bytes());
            out.put_slice(destination.as_bytes());
        }
    }
    for tlv in tlvs {
        out.put_u8(tlv.kind);
        // Bounded by the total length checked above.
        out.put_u16(tlv.value.len() as u16);
        out.put_slice(&tlv.value);
    }
    Ok(())
}

/// The address block of an INET or INET6 header: both addresses, then both
/// ports (HAProxy proxy-protocol.txt §2.2).
fn put_inet<B: BufMut>(out: &mut B, addresses: [&[u8]; 2], ports: [u16; 2]) {
    addresses.iter().for_each(|address| out.put_slice(address));
    ports.iter().for_each(|&port| out.put_u16(port));
}
