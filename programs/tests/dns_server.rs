//! The tests' DNS server (`support/dns.rs`) answers what it was given,
//! over UDP and over TCP, with NXDOMAIN, NODATA and SERVFAIL where a
//! resolver must see them.

// Shared with the other test files, each of which uses a part.
#[allow(dead_code)]
mod support;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::RData;
use hickory_resolver::TokioResolver;

use support::dns::{DnsServer, Zone};

/// A resolver that asks only `server`, over `connection`.
fn resolver_at(server: SocketAddr, connection: ConnectionConfig) -> TokioResolver {
    let mut connection = connection;
    connection.port = server.port();
    let name_server = NameServerConfig::new(server.ip(), true, vec![connection]);
    let config = ResolverConfig::from_name_servers(vec![name_server]);
    let mut builder = TokioResolver::builder_with_config(config, TokioRuntimeProvider::default());
    builder.options_mut().timeout = Duration::from_secs(2);
    builder.options_mut().attempts = 1;
    // Answers longer than 512 octets come over UDP only with EDNS
    // (RFC 6891); over UDP and TCP the resolver would take the truncated
    // answer again over TCP.
    builder.options_mut().edns0 = true;
    builder.build().unwrap()
}

fn zone() -> Zone {
    Zone::new()
        .txt("example.org", "v=spf1 ip4:127.0.0.1 -all")
        .txt("long.example.org", &"k".repeat(600))
        .address("mail.example.org", "127.0.0.2".parse().unwrap())
        .mx("example.org", 10, "mail.example.org")
        .ptr("192.0.2.7".parse().unwrap(), "mail.example.org")
        .txt("sel._domainkey.deep.example.net", "v=DKIM1; p=")
        .servfail("broken.example")
}

/// The text of each TXT record at `name`, its strings joined, or the
/// response code of a negative answer.
async fn txt(resolver: &TokioResolver, name: &str) -> Result<Vec<String>, ResponseCode> {
    match resolver.txt_lookup(name).await {
        Ok(lookup) => Ok(lookup
            .answers()
            .iter()
            .filter_map(|record| match &record.data {
                RData::TXT(txt) => Some(
                    txt.txt_data
                        .iter()
                        .map(|s| String::from_utf8_lossy(s).into_owned())
                        .collect(),
                ),
                _ => None,
            })
            .collect()),
        Err(NetError::Dns(DnsError::NoRecordsFound(negative))) => Err(negative.response_code),
        Err(NetError::Dns(DnsError::ResponseCode(code))) => Err(code),
        Err(other) => panic!("{name}: unexpected failure {other:?}"),
    }
}

async fn answers_from_memory(connection: ConnectionConfig) {
    let dns = DnsServer::start(zone()).await;
    let resolver = resolver_at(dns.address(), connection);
    assert_eq!(
        txt(&resolver, "Example.ORG.").await,
        Ok(vec!["v=spf1 ip4:127.0.0.1 -all".to_string()])
    );
    // Split into 255-octet strings on the wire, joined again here.
    assert_eq!(
        txt(&resolver, "long.example.org.").await,
        Ok(vec!["k".repeat(600)])
    );
    let addresses: Vec<IpAddr> = resolver
        .lookup_ip("mail.example.org.")
        .await
        .unwrap()
        .iter()
        .collect();
    assert_eq!(addresses, vec!["127.0.0.2".parse::<IpAddr>().unwrap()]);
    let exchanges: Vec<String> = resolver
        .mx_lookup("example.org.")
        .await
        .unwrap()
        .answers()
        .iter()
        .filter_map(|record| match &record.data {
            RData::MX(mx) => Some(format!("{} {}", mx.preference, mx.exchange)),
            _ => None,
        })
        .collect();
    assert_eq!(exchanges, vec!["10 mail.example.org."]);
    let names: Vec<String> = resolver
        .reverse_lookup("7.2.0.192.in-addr.arpa.")
        .await
        .unwrap()
        .answers()
        .iter()
        .filter_map(|record| match &record.data {
            RData::PTR(ptr) => Some(ptr.0.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(names, vec!["mail.example.org."]);
    // A name with other records, and one above a record (an empty
    // non-terminal), exist: no data. Any other does not.
    assert_eq!(
        txt(&resolver, "mail.example.org.").await,
        Err(ResponseCode::NoError)
    );
    assert_eq!(
        txt(&resolver, "deep.example.net.").await,
        Err(ResponseCode::NoError)
    );
    assert_eq!(
        txt(&resolver, "nowhere.example.org.").await,
        Err(ResponseCode::NXDomain)
    );
    assert_eq!(
        txt(&resolver, "broken.example.").await,
        Err(ResponseCode::ServFail)
    );
}

#[tokio::test]
async fn answers_over_udp() {
    answers_from_memory(ConnectionConfig::udp()).await;
}

#[tokio::test]
async fn answers_over_tcp() {
    answers_from_memory(ConnectionConfig::tcp()).await;
}

#[tokio::test]
async fn records_can_be_replaced() {
    let dns = DnsServer::start(Zone::new().txt("example.org", "first")).await;
    let resolver = resolver_at(dns.address(), ConnectionConfig::udp());
    assert_eq!(
        txt(&resolver, "example.org.").await,
        Ok(vec!["first".to_string()])
    );
    dns.replace(Zone::new().txt("example.com", "second"));
    // A fresh resolver: the first keeps its answer for the TTL.
    let resolver = resolver_at(dns.address(), ConnectionConfig::udp());
    assert_eq!(
        txt(&resolver, "example.com.").await,
        Ok(vec!["second".to_string()])
    );
    assert_eq!(
        txt(&resolver, "example.org.").await,
        Err(ResponseCode::NXDomain)
    );
}
