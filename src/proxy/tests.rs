use super::*;
use crate::limits::{MAX_PROXY_V1_HEADER, MAX_PROXY_V2_HEADER};
use alloc::vec;
use core::net::{Ipv4Addr, Ipv6Addr};
use proptest::prelude::*;

fn parsed(input: &[u8]) -> (ProxyHeader, usize) {
    parse(input).unwrap().unwrap()
}

fn emitted(header: &ProxyHeader) -> Vec<u8> {
    let mut out = Vec::new();
    header.emit(&mut out).unwrap();
    out
}

/// Every strict prefix of `input[..len]` needs more input; the whole parses
/// to `expected`.
fn assert_split_invariant(
    input: &[u8],
    expected: &Result<Option<(ProxyHeader, usize)>, ProxyError>,
) {
    let full = parse(input);
    assert_eq!(&full, expected);
    for cut in 0..input.len() {
        let partial = parse(&input[..cut]);
        assert!(
            partial == Ok(None) || partial == full,
            "prefix of {cut} octets gave {partial:?}, whole gave {full:?}"
        );
        if let Ok(Some((_, consumed))) = &full {
            if cut < *consumed {
                assert_eq!(partial, Ok(None), "prefix of {cut} octets");
            }
        }
    }
}

#[test]
fn v1_spec_examples() {
    let (header, consumed) = parsed(b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\nGET /");
    assert_eq!(consumed, 47);
    assert_eq!(
        header.source(),
        Some(SocketAddr::from((Ipv4Addr::new(192, 168, 0, 1), 56324)))
    );
    assert_eq!(
        header.destination(),
        Some(SocketAddr::from((Ipv4Addr::new(192, 168, 0, 11), 443)))
    );

    let max_tcp4 = b"PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n";
    let (header, consumed) = parsed(max_tcp4);
    assert_eq!(consumed, max_tcp4.len());
    assert_eq!(emitted(&header), max_tcp4);

    let max_tcp6 = b"PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
    assert_eq!(max_tcp6.len(), 104);
    let (header, _) = parsed(max_tcp6);
    assert_eq!(
        header.source(),
        Some(SocketAddr::from((Ipv6Addr::from([0xffff; 8]), 65535)))
    );

    // §2.1's worst case, 107 octets, is UNKNOWN with a full TCP6 tail.
    let worst = b"PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
    assert_eq!(worst.len(), MAX_PROXY_V1_HEADER);
    let (header, consumed) = parsed(worst);
    assert_eq!((header.addresses, consumed), (ProxyAddresses::Unknown, 107));
    assert_eq!(parsed(b"PROXY UNKNOWN\r\n").0.source(), None);
}

#[test]
fn v1_refusals() {
    let cases: [(&[u8], ProxyError); 14] = [
        (b"GET / HTTP/1.0\r\n", ProxyError::BadSignature),
        (b"proxy TCP4", ProxyError::BadSignature),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", ProxyError::V1Syntax),
        (b"PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n", ProxyError::V1Syntax),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", ProxyError::V1Syntax),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n", ProxyError::V1Syntax),
        (
            b"PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n",
            ProxyError::V1Protocol,
        ),
        (b"PROXY TCP4 ::1 5.6.7.8 1 2\r\n", ProxyError::BadAddress),
        (b"PROXY TCP6 1.2.3.4 ::1 1 2\r\n", ProxyError::BadAddress),
        (
            b"PROXY TCP4 1.2.3.04 5.6.7.8 1 2\r\n",
            ProxyError::BadAddress,
        ),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n", ProxyError::BadPort),
        (
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n",
            ProxyError::BadPort,
        ),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n", ProxyError::BadPort),
        (b"PROXY UNKNOWNX\r\n", ProxyError::V1Protocol),
    ];
    for (input, error) in cases {
        assert_split_invariant(input, &Err(error));
    }
    let mut long = b"PROXY UNKNOWN ".to_vec();
    long.resize(MAX_PROXY_V1_HEADER, b'x');
    assert_eq!(parse(&long[..106]), Ok(None));
    assert_eq!(
        parse(&long),
        Err(ProxyError::TooLong {
            limit: MAX_PROXY_V1_HEADER
        })
    );
    assert_eq!(
        parse(b"PROXY TCP4 0.0.0.0 0.0.0.0 0 0\r\n")
            .unwrap()
            .unwrap()
            .1,
        32
    );
}

/// A TCP4 header with one ALPN TLV, written out by hand from §2.2.
const V2_TCP4: &[u8] = &[
    0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a, // signature
    0x21, // version 2, PROXY
    0x11, // AF_INET, STREAM
    0x00, 0x13, // 12 address octets + 7 TLV octets
    192, 0, 2, 10, // source
    198, 51, 100, 1, // destination
    0xdc, 0x04, // source port 56324
    0x00, 0x19, // destination port 25
    0x01, 0x00, 0x04, b's', b'm', b't', b'p', // PP2_TYPE_ALPN "smtp"
];

#[test]
fn v2_tcp4_with_tlv() {
    let mut input = V2_TCP4.to_vec();
    input.extend_from_slice(b"EHLO x\r\n");
    let (header, consumed) = parsed(&input);
    assert_eq!(consumed, V2_TCP4.len());
    assert_eq!(header.version, ProxyVersion::V2);
    assert_eq!(
        header.source(),
        Some(SocketAddr::from((Ipv4Addr::new(192, 0, 2, 10), 56324)))
    );
    assert_eq!(
        header.destination(),
        Some(SocketAddr::from((Ipv4Addr::new(198, 51, 100, 1), 25)))
    );
    assert_eq!(
        header.tlvs,
        vec![Tlv {
            kind: 0x01,
            value: Bytes::from_static(b"smtp")
        }]
    );
    assert_eq!(emitted(&header), V2_TCP4);
    assert_split_invariant(&input, &Ok(Some((header, consumed))));
}

#[test]
fn v2_local_discards_the_block() {
    let mut local = V2_TCP4.to_vec();
    local[12] = 0x20;
    let (header, consumed) = parsed(&local);
    assert_eq!(consumed, V2_TCP4.len());
    assert_eq!(header.addresses, ProxyAddresses::Local);
    assert!(header.tlvs.is_empty());
    assert_eq!(header.source(), None);
    assert_eq!(
        emitted(&header),
        [&V2_TCP4[..12], &[0x20, 0x00, 0x00, 0x00]].concat()
    );
}

#[test]
fn v2_unix_and_ipv6() {
    let unix = ProxyHeader {
        version: ProxyVersion::V2,
        addresses: ProxyAddresses::Unix {
            source: UnixAddress::from_path(b"/run/client.sock").unwrap(),
            destination: UnixAddress::new([0x2f; UNIX_ADDRESS_LEN]),
        },
        tlvs: Vec::new(),
    };
    let bytes = emitted(&unix);
    assert_eq!(bytes.len(), 16 + 216);
    assert_eq!(bytes[13], 0x31);
    let (header, _) = parsed(&bytes);
    let ProxyAddresses::Unix {
        source,
        destination,
    } = &header.addresses
    else {
        panic!("expected UNIX addresses");
    };
    assert_eq!(source.path(), b"/run/client.sock");
    assert_eq!(destination.path().len(), UNIX_ADDRESS_LEN);
    assert!(UnixAddress::from_path(&[b'a'; UNIX_ADDRESS_LEN + 1]).is_none());
    assert_eq!(header, unix);

    let v6 = ProxyHeader {
        version: ProxyVersion::V2,
        addresses: ProxyAddresses::Ipv6 {
            source: SocketAddrV6::new(Ipv6Addr::LOCALHOST, 1, 0, 0),
            destination: SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, 65535, 0, 0),
        },
        tlvs: Vec::new(),
    };
    let bytes = emitted(&v6);
    assert_eq!((bytes.len(), bytes[13], bytes[15]), (16 + 36, 0x21, 36));
    assert_eq!(parsed(&bytes).0, v6);
}

#[test]
fn v2_refusals() {
    let with = |at: usize, byte: u8| {
        let mut bytes = V2_TCP4.to_vec();
        bytes[at] = byte;
        bytes
    };
    assert_eq!(parse(&with(11, b'X')), Err(ProxyError::BadSignature));
    assert_eq!(parse(&with(12, 0x11)), Err(ProxyError::BadVersion(1)));
    assert_eq!(parse(&with(12, 0x22)), Err(ProxyError::BadCommand(2)));
    assert_eq!(
        parse(&with(13, 0x12)),
        Err(ProxyError::UnsupportedFamily(0x12))
    );
    assert_eq!(
        parse(&with(13, 0x41)),
        Err(ProxyError::UnsupportedFamily(0x41))
    );
    // TCP6 needs 36 octets; only 19 are declared.
    assert_eq!(
        parse(&with(13, 0x21)),
        Err(ProxyError::AddressBlockTooShort {
            family: 0x21,
            length: 19
        })
    );
    // The TLV claims 5 value octets but 4 remain.
    assert_eq!(parse(&with(30, 0x05)), Err(ProxyError::MalformedTlv));
    // A trailing TLV fragment shorter than its 3-octet head.
    let mut fragment = with(15, 0x14);
    fragment.push(0x04);
    assert_eq!(parse(&fragment), Err(ProxyError::MalformedTlv));
    // The length is checked before the block arrives, so nothing is buffered.
    let mut huge = V2_TCP4[..16].to_vec();
    let over = (MAX_PROXY_V2_HEADER - 16 + 1) as u16;
    huge[14..16].copy_from_slice(&over.to_be_bytes());
    assert_eq!(
        parse(&huge),
        Err(ProxyError::TooLong {
            limit: MAX_PROXY_V2_HEADER
        })
    );
    huge[14..16].copy_from_slice(&(over - 1).to_be_bytes());
    assert_eq!(parse(&huge), Ok(None));
}

#[test]
fn emit_refusals() {
    let tlv = Tlv {
        kind: 0x04,
        value: Bytes::from_static(b"x"),
    };
    let mut header = ProxyHeader {
        version: ProxyVersion::V1,
        addresses: ProxyAddresses::Unknown,
        tlvs: vec![tlv.clone()],
    };
    let mut out = Vec::new();
    assert_eq!(header.emit(&mut out), Err(ProxyEmitError::TlvsInV1));
    header.tlvs.clear();
    header.addresses = ProxyAddresses::Unix {
        source: UnixAddress::new([0; UNIX_ADDRESS_LEN]),
        destination: UnixAddress::new([0; UNIX_ADDRESS_LEN]),
    };
    assert_eq!(header.emit(&mut out), Err(ProxyEmitError::UnixInV1));
    header.version = ProxyVersion::V2;
    header.tlvs = vec![
        Tlv {
            kind: 0xe0,
            value: Bytes::from(vec![0; MAX_PROXY_V2_HEADER])
        };
        1
    ];
    assert_eq!(
        header.emit(&mut out),
        Err(ProxyEmitError::TooLong {
            limit: MAX_PROXY_V2_HEADER
        })
    );
    assert!(out.is_empty());
    header.addresses = ProxyAddresses::Local;
    // LOCAL goes out without its TLVs, which receivers would discard.
    assert_eq!(
        emitted(&header),
        [&v2::SIGNATURE[..], &[0x20, 0, 0, 0]].concat()
    );
}

fn ipv4() -> impl Strategy<Value = SocketAddrV4> {
    (any::<[u8; 4]>(), any::<u16>()).prop_map(|(ip, port)| SocketAddrV4::new(ip.into(), port))
}

fn ipv6() -> impl Strategy<Value = SocketAddrV6> {
    (any::<[u8; 16]>(), any::<u16>())
        .prop_map(|(ip, port)| SocketAddrV6::new(ip.into(), port, 0, 0))
}

fn v1_header() -> impl Strategy<Value = ProxyHeader> {
    prop_oneof![
        Just(ProxyAddresses::Unknown),
        (ipv4(), ipv4()).prop_map(|(source, destination)| ProxyAddresses::Ipv4 {
            source,
            destination
        }),
        (ipv6(), ipv6()).prop_map(|(source, destination)| ProxyAddresses::Ipv6 {
            source,
            destination
        }),
    ]
    .prop_map(|addresses| ProxyHeader {
        version: ProxyVersion::V1,
        addresses,
        tlvs: Vec::new(),
    })
}

fn unix_address() -> impl Strategy<Value = UnixAddress> {
    proptest::collection::vec(any::<u8>(), UNIX_ADDRESS_LEN).prop_map(|bytes| {
        let mut raw = [0; UNIX_ADDRESS_LEN];
        raw.copy_from_slice(&bytes);
        UnixAddress::new(raw)
    })
}

fn v2_header() -> impl Strategy<Value = ProxyHeader> {
    let tlvs = proptest::collection::vec(
        (any::<u8>(), proptest::collection::vec(any::<u8>(), 0..64)).prop_map(|(kind, value)| {
            Tlv {
                kind,
                value: value.into(),
            }
        }),
        0..6,
    );
    let proxied = prop_oneof![
        Just(ProxyAddresses::Unknown),
        (ipv4(), ipv4()).prop_map(|(source, destination)| ProxyAddresses::Ipv4 {
            source,
            destination
        }),
        (ipv6(), ipv6()).prop_map(|(source, destination)| ProxyAddresses::Ipv6 {
            source,
            destination
        }),
        (unix_address(), unix_address()).prop_map(|(source, destination)| ProxyAddresses::Unix {
            source,
            destination
        }),
    ];
    prop_oneof![
        Just(ProxyHeader {
            version: ProxyVersion::V2,
            addresses: ProxyAddresses::Local,
            tlvs: Vec::new(),
        }),
        (proxied, tlvs).prop_map(|(addresses, tlvs)| ProxyHeader {
            version: ProxyVersion::V2,
            addresses,
            tlvs,
        }),
    ]
}

proptest! {
    #[test]
    fn emit_parse_identity(
        header in prop_oneof![v1_header(), v2_header()],
        trailer in proptest::collection::vec(any::<u8>(), 0..16),
    ) {
        let mut bytes = emitted(&header);
        let len = bytes.len();
        bytes.extend_from_slice(&trailer);
        assert_split_invariant(&bytes, &Ok(Some((header, len))));
    }

    #[test]
    fn parse_never_panics(
        prefix in prop_oneof![Just(&b""[..]), Just(&b"PROXY "[..]), Just(&v2::SIGNATURE[..])],
        rest in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let input = [prefix, &rest].concat();
        let result = parse(&input);
        if let Ok(Some((header, consumed))) = &result {
            prop_assert!(*consumed <= input.len());
            // Whatever parses re-emits to something that parses the same.
            let again = emitted(header);
            prop_assert_eq!(&parsed(&again).0, header);
        }
        assert_split_invariant(&input, &result);
    }
}
