//! The HAProxy PROXY protocol preamble, versions 1 and 2.
//!
//! A load balancer that forwards SMTP connections can prefix each one with a
//! header naming the real client and server endpoints (HAProxy
//! proxy-protocol.txt). [`parse`] reads that header from the start of the
//! stream, before any SMTP; [`ProxyHeader::emit`] writes one, for tests and
//! for balancers written with this crate.
//!
//! A server must only accept the header from a peer it trusts to send it:
//! from anyone else it lets a client claim any address (proxy-protocol.txt
//! §2, "security"). That choice is the caller's.

mod v1;
mod v2;

use alloc::vec::Vec;
use bytes::{BufMut, Bytes};
use core::net::{SocketAddr, SocketAddrV4, SocketAddrV6};

/// Which format a header was read in or is to be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProxyVersion {
    /// The text line, `PROXY TCP4 …\r\n` (proxy-protocol.txt §2.1).
    V1,
    /// The binary header (proxy-protocol.txt §2.2).
    V2,
}

/// Octets in a version 2 UNIX socket address (proxy-protocol.txt §2.2).
pub const UNIX_ADDRESS_LEN: usize = 108;

/// A UNIX socket address as version 2 carries it: 108 octets, the path
/// padded with NUL. Kept whole, since Linux abstract addresses start with NUL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UnixAddress([u8; UNIX_ADDRESS_LEN]);

impl UnixAddress {
    /// Wraps the raw 108 octets.
    pub fn new(raw: [u8; UNIX_ADDRESS_LEN]) -> Self {
        UnixAddress(raw)
    }

    /// A path of at most 108 octets, padded with NUL; `None` if longer.
    pub fn from_path(path: &[u8]) -> Option<Self> {
        let mut raw = [0; UNIX_ADDRESS_LEN];
        raw.get_mut(..path.len())?.copy_from_slice(path);
        Some(UnixAddress(raw))
    }

    /// The raw 108 octets.
    pub fn as_bytes(&self) -> &[u8; UNIX_ADDRESS_LEN] {
        &self.0
    }

    /// The path up to its first NUL.
    pub fn path(&self) -> &[u8] {
        let end = memchr::memchr(0, &self.0).unwrap_or(UNIX_ADDRESS_LEN);
        self.0.get(..end).unwrap_or_default()
    }
}

/// The endpoints a header carries.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ProxyAddresses {
    /// Version 2 LOCAL: the balancer opened the connection itself (a health
    /// check); use the real endpoints.
    Local,
    /// Version 1 `UNKNOWN`, or version 2 PROXY with an unspecified family:
    /// proxied, but the original endpoints are not known.
    Unknown,
    /// TCP over IPv4.
    Ipv4 {
        /// The original client.
        source: SocketAddrV4,
        /// The address the client connected to.
        destination: SocketAddrV4,
    },
    /// TCP over IPv6. Flow info and scope id are not carried and read as 0.
    Ipv6 {
        /// The original client.
        source: SocketAddrV6,
        /// The address the client connected to.
        destination: SocketAddrV6,
    },
    /// A UNIX stream socket (version 2 only).
    Unix {
        /// The original client.
        source: UnixAddress,
        /// The address the client connected to.
        destination: UnixAddress,
    },
}

/// A version 2 type-length-value extension, kept as sent.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Tlv {
    /// The type (`PP2_TYPE_*` in proxy-protocol.txt §2.2.1).
    pub kind: u8,
    /// The value octets.
    pub value: Bytes,
}

/// A parsed or to-be-emitted PROXY header.
///
/// ```
/// use smtpwire::proxy::{parse, ProxyVersion};
///
/// let input = b"PROXY TCP4 192.0.2.10 198.51.100.1 56324 25\r\nEHLO client.example\r\n";
/// let (header, consumed) = parse(input).unwrap().unwrap();
/// assert_eq!(header.version, ProxyVersion::V1);
/// assert_eq!(header.source().unwrap().to_string(), "192.0.2.10:56324");
/// assert_eq!(&input[consumed..], b"EHLO client.example\r\n");
///
/// assert!(parse(b"PROXY TCP4 192.0").unwrap().is_none()); // need more input
/// assert!(parse(b"EHLO client.example\r\n").is_err());
///
/// let mut out = Vec::new();
/// header.emit(&mut out).unwrap();
/// assert_eq!(out, &input[..consumed]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProxyHeader {
    /// The format.
    pub version: ProxyVersion,
    /// The endpoints.
    pub addresses: ProxyAddresses,
    /// Version 2 extensions in the order sent; always empty for version 1 and
    /// for LOCAL, whose protocol block receivers discard (§2.2).
    pub tlvs: Vec<Tlv>,
}

impl ProxyHeader {
    /// The original client's address, when it is an IP endpoint.
    pub fn source(&self) -> Option<SocketAddr> {
        match self.addresses {
            ProxyAddresses::Ipv4 { source, .. } => Some(SocketAddr::V4(source)),
            ProxyAddresses::Ipv6 { source, .. } => Some(SocketAddr::V6(source)),
            _ => None,
        }
    }

    /// The address the original client connected to, when it is an IP
    /// endpoint.
    pub fn destination(&self) -> Option<SocketAddr> {
        match self.addresses {
            ProxyAddresses::Ipv4 { destination, .. } => Some(SocketAddr::V4(destination)),
            ProxyAddresses::Ipv6 { destination, .. } => Some(SocketAddr::V6(destination)),
            _ => None,
        }
    }

    /// Writes the header in its [`version`](ProxyHeader::version).
    ///
    /// Version 1 writes LOCAL as `UNKNOWN`, the form §2.1 gives for
    /// connections the proxy makes itself. Version 2 writes LOCAL without
    /// TLVs. Nothing is written on error.
    pub fn emit(&self, out: &mut impl BufMut) -> Result<(), ProxyEmitError> {
        match self.version {
            ProxyVersion::V1 => v1::emit(self, out),
            ProxyVersion::V2 => v2::emit(self, out),
        }
    }
}

/// Why the bytes at the start of a stream are not a valid PROXY header.
/// proxy-protocol.txt §2 has the receiver close the connection on any of
/// these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ProxyError {
    /// Neither the version 1 `PROXY ` prefix nor the version 2 signature.
    #[error("no PROXY protocol signature")]
    BadSignature,
    /// The header is longer than the limit.
    #[error("PROXY header longer than {limit} octets")]
    TooLong {
        /// The limit in force, [`MAX_PROXY_V1_HEADER`](crate::limits::MAX_PROXY_V1_HEADER) or [`MAX_PROXY_V2_HEADER`](crate::limits::MAX_PROXY_V2_HEADER).
        limit: usize,
    },
    /// A version 1 line not made of single-space separated fields ending in
    /// CRLF.
    #[error("malformed PROXY v1 line")]
    V1Syntax,
    /// A version 1 protocol other than `TCP4`, `TCP6` or `UNKNOWN`.
    #[error("unknown PROXY v1 protocol")]
    V1Protocol,
    /// A version 1 address that is not a canonical address of the family.
    #[error("bad address in PROXY v1 line")]
    BadAddress,
    /// A version 1 port that is not a decimal in 0..=65535 without leading
    /// zeros.
    #[error("bad port in PROXY v1 line")]
    BadPort,
    /// A version 2 version nibble other than 2.
    #[error("unsupported PROXY v2 version {0}")]
    BadVersion(u8),
    /// A version 2 command other than LOCAL (0) or PROXY (1).
    #[error("unknown PROXY v2 command {0}")]
    BadCommand(u8),
    /// A version 2 family/transport byte that is invalid or not a stream:
    /// SMTP runs over streams only.
    #[error("unsupported PROXY v2 address family and transport {0:#04x}")]
    UnsupportedFamily(u8),
    /// The version 2 length is too short for the family's addresses.
    #[error("PROXY v2 address block of {length} octets is too short for family {family:#04x}")]
    AddressBlockTooShort {
        /// The family/transport byte.
        family: u8,
        /// The length field.
        length: u16,
    },
    /// A version 2 TLV runs past the end of the header.
    #[error("malformed PROXY v2 TLV")]
    MalformedTlv,
}

/// Why a header cannot be written in the chosen version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ProxyEmitError {
    /// Version 1 has no UNIX addresses.
    #[error("PROXY v1 cannot carry UNIX socket addresses")]
    UnixInV1,
    /// Version 1 has no TLVs.
    #[error("PROXY v1 cannot carry TLVs")]
    TlvsInV1,
    /// The version 2 header would exceed [`MAX_PROXY_V2_HEADER`](crate::limits::MAX_PROXY_V2_HEADER).
    #[error("PROXY v2 header would be longer than {limit} octets")]
    TooLong {
        /// The limit.
        limit: usize,
    },
}

/// Reads a PROXY header, version 1 or 2, from the start of `input`.
///
/// `Ok(None)` means `input` is a valid beginning and more is needed; pass the
/// same bytes again with more appended. `Ok(Some((header, consumed)))` gives
/// the header and how many octets it took; SMTP starts right after. At most
/// [`MAX_PROXY_V1_HEADER`](crate::limits::MAX_PROXY_V1_HEADER) or [`MAX_PROXY_V2_HEADER`](crate::limits::MAX_PROXY_V2_HEADER) octets are examined,
/// so a caller need never buffer more before getting an answer.
pub fn parse(input: &[u8]) -> Result<Option<(ProxyHeader, usize)>, ProxyError> {
    if starts_like(input, &v2::SIGNATURE) {
        v2::parse(input)
    } else if starts_like(input, v1::PREFIX) {
        v1::parse(input)
    } else {
        Err(ProxyError::BadSignature)
    }
}

/// Whether `input` and `signature` agree on their common length.
fn starts_like(input: &[u8], signature: &[u8]) -> bool {
    input.iter().zip(signature).all(|(a, b)| a == b)
}

#[cfg(test)]
mod tests;
