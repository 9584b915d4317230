//! A DNS server for tests, on loopback: it answers from records the test
//! gives it, held in memory, over UDP and TCP on one port of 127.0.0.1, so
//! that the programs' resolvers (pointed at it with `--dns-server` or
//! `with_nameserver`) see SPF, DKIM, DMARC, MX and address records without
//! the real DNS. A name can be made to answer SERVFAIL, which resolvers
//! take as a temporary failure (RFC 7208 §2.6.6 "temperror", RFC 6376
//! §6.1.2 "TEMPFAIL").
//!
//! ```ignore
//! let zone = Zone::new()
//!     .txt("example.org", "v=spf1 ip4:127.0.0.1 -all")
//!     .servfail("broken.example");
//! let dns = DnsServer::start(zone).await;
//! // dns.address() is the 127.0.0.1:port to resolve at.
//! ```

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use hickory_server::net::runtime::Time;
use hickory_server::proto::op::{Edns, Metadata, ResponseCode};
use hickory_server::proto::rr::rdata::{A, AAAA, MX, PTR, TXT};
use hickory_server::proto::rr::{Name, RData, Record, RecordType};
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;
use tokio::net::{TcpListener, UdpSocket};

/// The time to live of every answer: short, as the records are the test's.
const TTL: u32 = 60;

/// A TCP connection that sends no query for this long is closed.
const TCP_IDLE: Duration = Duration::from_secs(10);

/// Largest response a TCP connection buffers.
const TCP_RESPONSE_BUFFER: usize = 64 * 1024;

/// The UDP payload every DNS client takes (RFC 1035 §4.2.1).
const MIN_UDP_PAYLOAD: u16 = 512;

/// Tries at a port free for both UDP and TCP before giving up.
const BIND_ATTEMPTS: usize = 20;

/// One TXT string holds at most 255 octets (RFC 1035 §3.3.14).
const TXT_STRING_MAX: usize = 255;

/// The records served, by lower-case name without the final dot.
#[derive(Debug, Default, Clone)]
pub struct Zone {
    records: HashMap<String, Vec<RData>>,
    servfail: Vec<String>,
}

impl Zone {
    /// An empty zone: every name answers NXDOMAIN.
    pub fn new() -> Zone {
        Zone::default()
    }

    /// Adds a TXT record at `name` ([`txt_data`]).
    pub fn txt(self, name: &str, text: &str) -> Zone {
        self.with(name, txt_data(text))
    }

    /// Adds an A or AAAA record at `name`.
    pub fn address(self, name: &str, ip: IpAddr) -> Zone {
        self.with(name, address_data(ip))
    }

    /// Adds an MX record at `name` naming `exchange` at `preference`.
    pub fn mx(self, name: &str, preference: u16, exchange: &str) -> Zone {
        let exchange = fqdn(exchange);
        self.with(name, RData::MX(MX::new(preference, exchange)))
    }

    /// Adds a PTR record for `ip` (under `in-addr.arpa` or `ip6.arpa`)
    /// naming `host`.
    pub fn ptr(self, ip: IpAddr, host: &str) -> Zone {
        let name = Name::from(ip).to_string();
        let host = fqdn(host);
        self.with(&name, RData::PTR(PTR(host)))
    }

    /// Makes every query for `name`, whatever its type, answer SERVFAIL.
    pub fn servfail(mut self, name: &str) -> Zone {
        self.servfail.push(normalized(name));
        self
    }

    fn with(mut self, name: &str, data: RData) -> Zone {
        self.records.entry(normalized(name)).or_default().push(data);
        self
    }

    /// What a query for `name` and `kind` gets: the records of that type,
    /// NOERROR with none when the name has records of other types or names
    /// below it (RFC 8020: an empty non-terminal exists), else NXDOMAIN.
    fn answer(&self, name: &str, kind: RecordType) -> (ResponseCode, Vec<Record>) {
        if self.servfail.iter().any(|failing| failing == name) {
            return (ResponseCode::ServFail, Vec::new());
        }
        let Ok(owner) = Name::from_ascii(format!("{name}.")) else {
            return (ResponseCode::FormErr, Vec::new());
        };
        let records: Vec<Record> = self
            .records
            .get(name)
            .into_iter()
            .flatten()
            .filter(|data| data.record_type() == kind)
            .map(|data| Record::from_rdata(owner.clone(), TTL, data.clone()))
            .collect();
        if !records.is_empty() || self.exists(name) {
            (ResponseCode::NoError, records)
        } else {
            (ResponseCode::NXDomain, records)
        }
    }

    fn exists(&self, name: &str) -> bool {
        let below = format!(".{name}");
        self.records
            .keys()
            .any(|owner| owner == name || owner.ends_with(&below))
    }
}

/// The data of a TXT record of `text`: text longer than one TXT string
/// takes (255 octets) is split into several, which readers join (RFC 7208
/// §3.3, RFC 6376 §3.6.2.2).
pub fn txt_data(text: &str) -> RData {
    let strings = text
        .as_bytes()
        .chunks(TXT_STRING_MAX)
        .collect::<Vec<&[u8]>>();
    let strings = if strings.is_empty() {
        vec![&b""[..]]
    } else {
        strings
    };
    RData::TXT(TXT::from_bytes(strings))
}

/// The data of an A or AAAA record for `ip`.
pub fn address_data(ip: IpAddr) -> RData {
    match ip {
        IpAddr::V4(ip) => RData::A(A(ip)),
        IpAddr::V6(ip) => RData::AAAA(AAAA(ip)),
    }
}

/// `name` as the zone keys it: lower case, no final dot.
fn normalized(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// `name` as an absolute domain name. Panics on a name that is not one:
/// the test wrote it.
pub fn fqdn(name: &str) -> Name {
    Name::from_ascii(format!("{}.", name.trim_end_matches('.')))
        .unwrap_or_else(|error| panic!("{name:?} is not a domain name: {error}"))
}

/// A running DNS server; it stops when dropped.
pub struct DnsServer {
    address: SocketAddr,
    zone: Arc<RwLock<Zone>>,
    server: hickory_server::Server<Answers>,
}

impl DnsServer {
    /// Serves `zone` on 127.0.0.1, UDP and TCP on the same free port.
    pub async fn start(zone: Zone) -> DnsServer {
        let zone = Arc::new(RwLock::new(zone));
        let (address, server) = serve(Answers { zone: zone.clone() }).await;
        DnsServer {
            address,
            zone,
            server,
        }
    }

    /// Where it listens (UDP and TCP).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Replaces the records served from now on.
    pub fn replace(&self, zone: Zone) {
        *self.zone.write().unwrap_or_else(|e| e.into_inner()) = zone;
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.server.shutdown_token().cancel();
    }
}

/// A server answering with `handler` on 127.0.0.1, UDP and TCP on the same
/// free port, and that address; it runs until its shutdown token is
/// cancelled.
pub async fn serve<H: RequestHandler>(handler: H) -> (SocketAddr, hickory_server::Server<H>) {
    let (udp, tcp) = bind_pair()
        .await
        .unwrap_or_else(|error| panic!("cannot bind a DNS server on loopback: {error}"));
    let address = udp.local_addr().expect("a bound socket has an address");
    let mut server = hickory_server::Server::new(handler);
    server.register_socket(udp);
    server.register_listener(tcp, TCP_IDLE, TCP_RESPONSE_BUFFER);
    (address, server)
}

/// A UDP socket and a TCP listener on the same port of 127.0.0.1: the
/// port the system picks for UDP may be taken for TCP, so a few are tried.
async fn bind_pair() -> io::Result<(UdpSocket, TcpListener)> {
    let mut last_error = None;
    for _ in 0..BIND_ATTEMPTS {
        let udp = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let port = udp.local_addr()?.port();
        match TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(error) => last_error = Some(error),
        }
    }
    Err(last_error.unwrap_or_else(|| io::Error::other("no port free for UDP and TCP")))
}

/// The request handler: answers each query from the zone.
struct Answers {
    zone: Arc<RwLock<Zone>>,
}

#[async_trait::async_trait]
impl RequestHandler for Answers {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        let mut builder = MessageResponseBuilder::from_message_request(request);
        // An EDNS query gets EDNS back (RFC 6891 §6.1.1), which lets UDP
        // answers grow past 512 octets to the size the client offered.
        let edns = request.edns.as_ref().map(|asked| {
            let mut edns = Edns::new();
            edns.set_max_payload(asked.max_payload().max(MIN_UDP_PAYLOAD));
            edns
        });
        if let Some(edns) = &edns {
            builder.edns(edns);
        }
        let mut metadata = Metadata::response_from_request(&request.metadata);
        metadata.authoritative = true;
        let (code, records) = match request.request_info() {
            Ok(info) => {
                let name = normalized(&info.query.name().to_string());
                let zone = self.zone.read().unwrap_or_else(|e| e.into_inner());
                zone.answer(&name, info.query.query_type())
            }
            // Not exactly one question (RFC 9619).
            Err(_) => (ResponseCode::FormErr, Vec::new()),
        };
        metadata.response_code = code;
        let response = builder.build(metadata, &records, None, None, None);
        match response_handle.send_response(response).await {
            Ok(info) => info,
            Err(error) => {
                eprintln!("test DNS server: cannot answer: {error}");
                let mut metadata = Metadata::response_from_request(&request.metadata);
                metadata.response_code = ResponseCode::ServFail;
                hickory_server::proto::op::Header {
                    metadata,
                    counts: Default::default(),
                }
                .into()
            }
        }
    }
}
