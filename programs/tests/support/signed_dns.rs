//! A DNSSEC-signed zone on loopback, for the DANE tests: hickory-server's
//! in-memory zone, signed with a fresh ECDSA P-256 key (RFC 6605) and
//! NSEC for denials (RFC 4035 §3.1.3), served over UDP and TCP on one port
//! of 127.0.0.1. Its DNSKEY is written to a file in zone-file form: the
//! trust anchor a validating resolver starts from, so the zone is secure
//! without a chain from the root.
//!
//! An RRset can be made bogus: its signature is spoiled after signing, as
//! an attacker rewriting the answer without the key would leave it.
//!
//! ```ignore
//! let zone = SignedZone::new("example.test")
//!     .mx("example.test", 10, "mx.example.test")
//!     .address("mx.example.test", LOOPBACK)
//!     .tlsa("_25._tcp.mx.example.test", 3, 1, 1, digest);
//! let dns = SignedDnsServer::start(zone, &dir.join("anchor.key")).await;
//! ```

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use hickory_server::dnssec::NxProofKind;
use hickory_server::net::runtime::TokioRuntimeProvider;
use hickory_server::proto::dnssec::crypto::EcdsaSigningKey;
use hickory_server::proto::dnssec::rdata::{DNSSECRData, DNSKEY, RRSIG};
use hickory_server::proto::dnssec::{Algorithm, DnssecSigner, SigningKey};
use hickory_server::proto::rr::rdata::tlsa::{CertUsage, Matching, Selector};
use hickory_server::proto::rr::rdata::{MX, SOA, TLSA};
use hickory_server::proto::rr::{LowerName, Name, RData, Record, RecordType, RrKey};
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, ZoneType};
use hickory_server::Server;
use rustls_pki_types::PrivatePkcs8KeyDer;

use super::dns::{address_data, fqdn, serve, txt_data};

/// The time to live of every record: short, as the records are the test's.
const TTL: u32 = 60;

/// How long the signatures are valid: past any test run.
const SIGNATURE_LIFETIME: Duration = Duration::from_secs(86_400);

/// The records of one zone, to be signed.
pub struct SignedZone {
    origin: Name,
    records: Vec<Record>,
    bogus: Vec<(Name, RecordType)>,
}

impl SignedZone {
    /// A zone at `origin`, with its SOA record.
    pub fn new(origin: &str) -> SignedZone {
        let origin = fqdn(origin);
        let soa = SOA::new(
            origin.prepend_label("ns").unwrap(),
            origin.prepend_label("hostmaster").unwrap(),
            1,
            3600,
            600,
            86_400,
            TTL,
        );
        SignedZone {
            records: vec![Record::from_rdata(origin.clone(), TTL, RData::SOA(soa))],
            origin,
            bogus: Vec::new(),
        }
    }

    /// Adds an MX record at `name` naming `exchange` at `preference`.
    pub fn mx(self, name: &str, preference: u16, exchange: &str) -> SignedZone {
        self.with(name, RData::MX(MX::new(preference, fqdn(exchange))))
    }

    /// Adds an A or AAAA record at `name`.
    pub fn address(self, name: &str, ip: IpAddr) -> SignedZone {
        self.with(name, address_data(ip))
    }

    /// Adds a TXT record at `name`.
    pub fn txt(self, name: &str, text: &str) -> SignedZone {
        self.with(name, txt_data(text))
    }

    /// Adds a TLSA record (RFC 6698 §2.1) at `name`.
    pub fn tlsa(
        self,
        name: &str,
        usage: u8,
        selector: u8,
        matching: u8,
        data: Vec<u8>,
    ) -> SignedZone {
        let tlsa = TLSA::new(
            CertUsage::from(usage),
            Selector::from(selector),
            Matching::from(matching),
            data,
        );
        self.with(name, RData::TLSA(tlsa))
    }

    /// Makes the `kind` RRset at `name` bogus: its signature is spoiled.
    pub fn bogus(mut self, name: &str, kind: RecordType) -> SignedZone {
        self.bogus.push((fqdn(name), kind));
        self
    }

    fn with(mut self, name: &str, data: RData) -> SignedZone {
        self.records.push(Record::from_rdata(fqdn(name), TTL, data));
        self
    }

    /// The zone signed with a new key, whose DNSKEY record is returned as
    /// a line of zone file.
    fn signed(self) -> (InMemoryZoneHandler<TokioRuntimeProvider>, String) {
        let mut zone = InMemoryZoneHandler::<TokioRuntimeProvider>::empty(
            self.origin.clone(),
            ZoneType::Primary,
            AxfrPolicy::Deny,
            Some(NxProofKind::Nsec),
        );
        for record in self.records {
            assert!(zone.upsert_mut(record, 1), "record not added");
        }
        let pkcs8 = EcdsaSigningKey::generate_pkcs8(Algorithm::ECDSAP256SHA256).unwrap();
        let key = EcdsaSigningKey::from_pkcs8(
            &PrivatePkcs8KeyDer::from(pkcs8.secret_pkcs8_der().to_vec()),
            Algorithm::ECDSAP256SHA256,
        )
        .unwrap();
        // A key signing key that signs the zone too: flags 257.
        let dnskey = DNSKEY::new(true, true, false, key.to_public_key().unwrap());
        let anchor = Record::from_rdata(
            self.origin.clone(),
            TTL,
            RData::DNSSEC(DNSSECRData::DNSKEY(dnskey.clone())),
        )
        .to_string();
        let signer = DnssecSigner::new(
            dnskey,
            Box::new(key),
            self.origin.clone(),
            SIGNATURE_LIFETIME,
        );
        zone.add_zone_signing_key_mut(signer).unwrap();
        zone.secure_zone_mut().unwrap();
        for (name, kind) in self.bogus {
            let key = RrKey::new(LowerName::new(&name), kind);
            let rrset = zone
                .records_get_mut()
                .get_mut(&key)
                .unwrap_or_else(|| panic!("no {kind} RRset at {name} to spoil"));
            let rrset = Arc::make_mut(rrset);
            let spoiled: Vec<Record> = rrset.rrsigs().iter().map(spoil).collect();
            rrset.set_rrsigs(spoiled);
        }
        (zone, anchor)
    }
}

/// `rrsig` with one bit of its signature flipped: well-formed, but no
/// longer a signature of the RRset.
fn spoil(rrsig: &Record) -> Record {
    let RData::DNSSEC(DNSSECRData::RRSIG(signature)) = &rrsig.data else {
        panic!("not an RRSIG: {rrsig}");
    };
    let mut bytes = signature.sig().to_vec();
    bytes[0] ^= 1;
    let spoiled = RRSIG::from_sig(signature.input().clone(), bytes);
    let mut record = rrsig.clone();
    record.data = RData::DNSSEC(DNSSECRData::RRSIG(spoiled));
    record
}

/// The signed zone being served.
pub struct SignedDnsServer {
    address: SocketAddr,
    server: Server<Catalog>,
}

impl SignedDnsServer {
    /// Signs `zone`, writes its trust anchor to `anchor`, and serves it.
    pub async fn start(zone: SignedZone, anchor: &Path) -> SignedDnsServer {
        let origin = LowerName::new(&zone.origin);
        let (zone, dnskey) = zone.signed();
        std::fs::write(anchor, format!("{dnskey}\n")).unwrap();
        let mut catalog = Catalog::new();
        catalog.upsert(origin, vec![Arc::new(zone)]);
        let (address, server) = serve(catalog).await;
        SignedDnsServer { address, server }
    }

    /// Where to resolve.
    pub fn address(&self) -> SocketAddr {
        self.address
    }
}

impl Drop for SignedDnsServer {
    fn drop(&mut self) {
        self.server.shutdown_token().cancel();
    }
}
