//! DANE at the relay (RFC 7672), on loopback: a DNSSEC-signed zone for
//! example.test (its key the relay's trust anchor) with the MX records and
//! the TLSA records of `_<port>._tcp.<mx>`, and the example server as the
//! MX host with a certificate from a CA the relay does not trust. A
//! certificate that matches a DANE-EE or DANE-TA record is delivered to;
//! one that does not keeps the message queued (4.7.5). A TLSA RRset whose
//! signature fails validation rules its MX host out: the message waits
//! when no other MX is left, and goes to a good second MX otherwise.

// Shared with the other test files, each of which uses a part.
#[allow(dead_code)]
mod support;

use std::net::{IpAddr, Ipv4Addr};

use hickory_server::proto::dnssec::crypto::Digest;
use hickory_server::proto::dnssec::DigestType;
use hickory_server::proto::rr::RecordType;
use smtpwire_programs::outbound::secure::SecureSettings;
use smtpwire_programs::relay::{Settings, Sources};
use smtpwire_programs::server::tls::Identity;
use support::relay::RunningRelay;
use support::secure::{held_back, send_over_tls, with_intake_tls, PolicyHost, Setup, TestCa};
use support::signed_dns::{SignedDnsServer, SignedZone};
use support::{relay_settings, wait_until, TestServer};

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

const MESSAGE: &[u8] = b"Subject: dane\r\n\r\nto a certificate DNSSEC vouches for\r\n";

/// TLSA certificate usages (RFC 7218 §2.1).
const DANE_TA: u8 = 2;
const DANE_EE: u8 = 3;
/// Selector: the full certificate; matching type: its SHA-256.
const CERT: u8 = 0;
const SHA256: u8 = 1;

fn sha256(data: &[u8]) -> Vec<u8> {
    Digest::new(data, DigestType::SHA256)
        .unwrap()
        .as_ref()
        .to_vec()
}

/// example.test signed, with `mx_hosts` as its MX hosts in that order, all
/// at 127.0.0.1.
fn zone(mx_hosts: &[&str]) -> SignedZone {
    mx_hosts
        .iter()
        .zip(1u16..)
        .fold(SignedZone::new("example.test"), |zone, (mx, rank)| {
            zone.mx("example.test", rank * 10, mx).address(mx, LOOPBACK)
        })
}

/// The TLSA name of `mx` for connections to `port` (RFC 7672 §2.2.3).
fn tlsa_name(mx: &str, port: u16) -> String {
    format!("_{port}._tcp.{mx}")
}

/// The signed zone served, and a relay with DANE on that resolves at it
/// and delivers to port `mx_port` of the MX hosts.
async fn relay(setup: &Setup, zone: SignedZone, mx_port: u16) -> (SignedDnsServer, RunningRelay) {
    relay_with(setup, zone, mx_port, |_| {}).await
}

/// [`relay`], with `configure` changing its settings.
async fn relay_with(
    setup: &Setup,
    zone: SignedZone,
    mx_port: u16,
    configure: impl FnOnce(&mut Settings),
) -> (SignedDnsServer, RunningRelay) {
    let anchor = setup.scratch.0.join("anchor.key");
    let dns = SignedDnsServer::start(zone, &anchor).await;
    let mut settings = relay_settings(&setup.scratch.0.join("queue"), Vec::new());
    settings.port = mx_port;
    settings.starttls = true;
    settings.secure = SecureSettings {
        dane: true,
        dnssec_trust_anchor: Some(anchor),
        report_file: Some(setup.report_file()),
        ..SecureSettings::default()
    };
    configure(&mut settings);
    let sources = Sources {
        nameserver: Some(dns.address()),
        ..Sources::default()
    };
    (dns, RunningRelay::start_from(settings, sources).await)
}

async fn send(relay: &RunningRelay) {
    relay.send(&["bob@example.test"], &[MESSAGE.to_vec()]).await;
}

/// Waits until `server` has the message and `mx` is reported as a success
/// under the TLSA policy.
async fn delivered_under_dane(setup: &Setup, server: &TestServer, mx: &str) {
    wait_until("delivered", || server.delivered().len() == 1).await;
    assert_eq!(server.contents(), [MESSAGE.to_vec()]);
    wait_until("reported", || setup.reported(mx, "success")).await;
    let report = setup
        .reports()
        .into_iter()
        .find(|report| report["receiving-mx-hostname"] == mx && report["result-type"] == "success")
        .unwrap();
    assert_eq!(report["policy-type"], "tlsa");
}

#[tokio::test]
async fn dane_ee_match_is_delivered_whatever_the_certificate_chains_to() {
    let setup = Setup::new("dane-ee");
    let server = setup.mx_server("mx.example.test").await;
    let port = server.address.port();
    let digest = sha256(&setup.ca.certificate_der("mx.example.test"));
    let zone = zone(&["mx.example.test"]).tlsa(
        &tlsa_name("mx.example.test", port),
        DANE_EE,
        CERT,
        SHA256,
        digest,
    );
    let (_dns, relay) = relay(&setup, zone, port).await;
    send(&relay).await;
    delivered_under_dane(&setup, &server, "mx.example.test").await;
}

#[tokio::test]
async fn dane_ee_mismatch_is_held() {
    let setup = Setup::new("dane-ee-mismatch");
    let server = setup.mx_server("mx.example.test").await;
    let port = server.address.port();
    // The record names another certificate of the same name.
    setup.ca.issue("other.example.test");
    let digest = sha256(&setup.ca.certificate_der("other.example.test"));
    let zone = zone(&["mx.example.test"]).tlsa(
        &tlsa_name("mx.example.test", port),
        DANE_EE,
        CERT,
        SHA256,
        digest,
    );
    let (_dns, relay) = relay(&setup, zone, port).await;
    send(&relay).await;
    held_back(
        &setup,
        "tlsa",
        &server,
        "mx.example.test",
        "validation-failure",
        "4.7.5",
    )
    .await;
}

#[tokio::test]
async fn dane_ta_match_is_delivered() {
    let setup = Setup::new("dane-ta");
    let identity = setup.ca.issue_with_chain("mx.example.test");
    let server = TestServer::start(move |settings| settings.tls = Some(identity)).await;
    let port = server.address.port();
    let zone = zone(&["mx.example.test"]).tlsa(
        &tlsa_name("mx.example.test", port),
        DANE_TA,
        CERT,
        SHA256,
        sha256(&setup.ca.ca_der()),
    );
    let (_dns, relay) = relay(&setup, zone, port).await;
    send(&relay).await;
    delivered_under_dane(&setup, &server, "mx.example.test").await;
}

#[tokio::test]
async fn dane_ta_of_another_authority_is_held() {
    let setup = Setup::new("dane-ta-mismatch");
    let identity = setup.ca.issue_with_chain("mx.example.test");
    let server = TestServer::start(move |settings| settings.tls = Some(identity)).await;
    let port = server.address.port();
    let elsewhere = setup.scratch.0.join("other-ca");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let other = TestCa::new(&elsewhere);
    let zone = zone(&["mx.example.test"]).tlsa(
        &tlsa_name("mx.example.test", port),
        DANE_TA,
        CERT,
        SHA256,
        sha256(&other.ca_der()),
    );
    let (_dns, relay) = relay(&setup, zone, port).await;
    send(&relay).await;
    held_back(
        &setup,
        "tlsa",
        &server,
        "mx.example.test",
        "validation-failure",
        "4.7.5",
    )
    .await;
}

#[tokio::test]
async fn a_bogus_tlsa_rrset_holds_mail_for_the_only_mx() {
    let setup = Setup::new("dane-bogus");
    let server = setup.mx_server("mx.example.test").await;
    let port = server.address.port();
    let name = tlsa_name("mx.example.test", port);
    let digest = sha256(&setup.ca.certificate_der("mx.example.test"));
    let zone = zone(&["mx.example.test"])
        .tlsa(&name, DANE_EE, CERT, SHA256, digest)
        .bogus(&name, RecordType::TLSA);
    let (_dns, relay) = relay(&setup, zone, port).await;
    send(&relay).await;
    held_back(
        &setup,
        "tlsa",
        &server,
        "mx.example.test",
        "dnssec-invalid",
        "4.7.5",
    )
    .await;
}

#[tokio::test]
async fn a_bogus_tlsa_rrset_skips_its_mx_for_a_good_second_one() {
    let setup = Setup::new("dane-bogus-second");
    let server = setup.mx_server("mx2.example.test").await;
    let port = server.address.port();
    let first = tlsa_name("mx1.example.test", port);
    let digest = sha256(&setup.ca.certificate_der("mx2.example.test"));
    let zone = zone(&["mx1.example.test", "mx2.example.test"])
        .tlsa(&first, DANE_EE, CERT, SHA256, digest.clone())
        .bogus(&first, RecordType::TLSA)
        .tlsa(
            &tlsa_name("mx2.example.test", port),
            DANE_EE,
            CERT,
            SHA256,
            digest,
        );
    let (_dns, relay) = relay(&setup, zone, port).await;
    send(&relay).await;
    delivered_under_dane(&setup, &server, "mx2.example.test").await;
    assert!(setup.reported("mx1.example.test", "dnssec-invalid"));
}

#[tokio::test]
async fn secure_tlsa_records_none_usable_still_make_tls_mandatory() {
    let setup = Setup::new("dane-unusable");
    let server = setup.mx_server("mx.example.test").await;
    let port = server.address.port();
    // PKIX-EE (usage 1) is not for SMTP (RFC 7672 §3.1.3).
    let digest = sha256(&setup.ca.certificate_der("mx.example.test"));
    let zone = zone(&["mx.example.test"]).tlsa(
        &tlsa_name("mx.example.test", port),
        1,
        CERT,
        SHA256,
        digest,
    );
    let (_dns, relay) = relay(&setup, zone, port).await;
    send(&relay).await;
    wait_until("delivered", || server.delivered().len() == 1).await;
    wait_until("reported", || {
        setup.reported("mx.example.test", "tlsa-invalid")
    })
    .await;
}

#[tokio::test]
async fn a_secure_mx_without_tlsa_records_gets_opportunistic_tls() {
    let setup = Setup::new("dane-absent");
    let server = setup.mx_server("mx.example.test").await;
    let port = server.address.port();
    // Its denial is signed (NSEC): no DANE for this host, and the
    // certificate, from a CA the relay does not trust, is not held against
    // it (RFC 7672 §2.2).
    let (_dns, relay) = relay(&setup, zone(&["mx.example.test"]), port).await;
    send(&relay).await;
    wait_until("delivered", || server.delivered().len() == 1).await;
    wait_until("reported", || setup.reported("mx.example.test", "success")).await;
    let report = setup.reports().pop().unwrap();
    assert_eq!(report["policy-type"], "no-policy-found");
}

#[tokio::test]
async fn a_bogus_mx_rrset_holds_mail() {
    let setup = Setup::new("dane-bogus-mx");
    let server = setup.mx_server("mx.example.test").await;
    let port = server.address.port();
    let zone = zone(&["mx.example.test"]).bogus("example.test", RecordType::MX);
    let (_dns, relay) = relay(&setup, zone, port).await;
    send(&relay).await;
    held_back(
        &setup,
        "tlsa",
        &server,
        "mx.example.test",
        "dnssec-invalid",
        "4.7.5",
    )
    .await;
}

#[tokio::test]
async fn dane_takes_precedence_over_an_enforced_mta_sts_policy() {
    let setup = Setup::new("dane-over-sts");
    // The MX host's certificate is from a CA the relay does not trust:
    // MTA-STS alone would refuse it, its DANE-EE record vouches for it.
    let elsewhere = setup.scratch.0.join("other-ca");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let other = TestCa::new(&elsewhere);
    let identity = other.issue("mx.example.test");
    let server = TestServer::start(move |settings| settings.tls = Some(identity)).await;
    let port = server.address.port();
    let policy = PolicyHost::serve(
        setup.ca.issue("mta-sts.example.test"),
        "version: STSv1\r\nmode: enforce\r\nmx: mx.example.test\r\nmax_age: 86400\r\n",
    )
    .await;
    let zone = zone(&["mx.example.test"])
        .txt("_mta-sts.example.test", "v=STSv1; id=20261207T000000")
        .address("mta-sts.example.test", LOOPBACK)
        .tlsa(
            &tlsa_name("mx.example.test", port),
            DANE_EE,
            CERT,
            SHA256,
            sha256(&other.certificate_der("mx.example.test")),
        );
    let (_dns, relay) = relay_with(&setup, zone, port, |settings| {
        settings.secure.mta_sts = true;
        settings.secure.trust = Some(setup.ca.pem());
        settings.secure.policy_port = policy.address.port();
    })
    .await;
    send(&relay).await;
    delivered_under_dane(&setup, &server, "mx.example.test").await;
    // The policy was in force: fetched and cached in enforce mode.
    let cached =
        std::fs::read_to_string(setup.scratch.0.join("queue/mta-sts/example.test.policy")).unwrap();
    assert!(cached.contains("mode: enforce"), "{cached}");
}

/// REQUIRETLS without an MTA-STS policy (RFC 8689 §4.2.1): a DNSSEC-secure
/// MX RRset and a certificate DANE authenticates are a route for it, and
/// REQUIRETLS goes on to the next hop.
#[tokio::test]
async fn requiretls_goes_over_a_dane_route_without_mta_sts() {
    let setup = Setup::new("dane-requiretls");
    let server = setup.mx_server("mx.example.test").await;
    let port = server.address.port();
    let bounces = TestServer::start(|_| {}).await;
    let digest = sha256(&setup.ca.certificate_der("mx.example.test"));
    let zone = zone(&["mx.example.test"]).tlsa(
        &tlsa_name("mx.example.test", port),
        DANE_EE,
        CERT,
        SHA256,
        digest,
    );
    let intake = Identity::self_signed("relay.test").unwrap();
    let certificate = intake.chain[0].clone();
    let (_dns, relay) = relay_with(&setup, zone, port, with_intake_tls(intake, &bounces)).await;
    send_over_tls(&relay, certificate, MESSAGE, true).await;
    wait_until("delivered", || server.delivered().len() == 1).await;
    let stored = String::from_utf8(server.delivered()[0].clone()).unwrap();
    assert!(
        stored.contains("\r\nX-Envelope-Requiretls: yes\r\n"),
        "{stored}"
    );
    assert!(bounces.delivered().is_empty());
}

/// A secure MX RRset whose host has no TLSA records gives a REQUIRETLS
/// message no certificate check there: the host is not used, and the
/// message waits rather than go unverified.
#[tokio::test]
async fn requiretls_is_not_sent_to_a_host_dane_does_not_authenticate() {
    let setup = Setup::new("dane-requiretls-no-tlsa");
    let server = setup.mx_server("mx.example.test").await;
    let port = server.address.port();
    let bounces = TestServer::start(|_| {}).await;
    let intake = Identity::self_signed("relay.test").unwrap();
    let certificate = intake.chain[0].clone();
    let (_dns, relay) = relay_with(
        &setup,
        zone(&["mx.example.test"]),
        port,
        with_intake_tls(intake, &bounces),
    )
    .await;
    send_over_tls(&relay, certificate, MESSAGE, true).await;
    held_back(
        &setup,
        "tlsa",
        &server,
        "mx.example.test",
        "validation-failure",
        "4.7.5",
    )
    .await;
}
