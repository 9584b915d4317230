//! MTA-STS at the relay (RFC 8461), on loopback: a DNS server with the
//! domain's MX and `_mta-sts` records, an HTTPS host serving its policy
//! with a certificate from a test CA, and the example server as the MX
//! host. In `enforce` mode mail goes only to a listed MX host over verified
//! TLS; a host not listed, a certificate for another name, and STARTTLS
//! stripped on the path each keep the message queued, with the reason in
//! the TLS report. In `testing` mode the same failures are reported and
//! the mail delivered.

// Shared with the other test files, each of which uses a part.
#[allow(dead_code)]
mod support;

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use std::time::{SystemTime, UNIX_EPOCH};

use smtpwire::delivery::mta_sts::Policy;
use smtpwire_programs::outbound::secure::cache::{Cached, PolicyCache};
use smtpwire_programs::outbound::secure::SecureSettings;
use smtpwire_programs::relay::{Settings, Sources};
use smtpwire_programs::server::tls::Identity;
use support::dns::{DnsServer, Zone};
use support::relay::RunningRelay;
use support::secure::{
    held_back, send_over_tls, starttls_stripper, with_intake_tls, PolicyHost, Setup,
};
use support::{relay_settings, wait_until, TestServer};

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

const ENFORCE: &str =
    "version: STSv1\r\nmode: enforce\r\nmx: mx.example.test\r\nmax_age: 86400\r\n";
const TESTING: &str =
    "version: STSv1\r\nmode: testing\r\nmx: mx.example.test\r\nmax_age: 86400\r\n";

impl Setup {
    /// The policy host for example.test serving `policy`.
    async fn policy_host(&self, policy: &str) -> PolicyHost {
        PolicyHost::serve(self.ca.issue("mta-sts.example.test"), policy).await
    }

    /// A relay resolving at `dns`, delivering to port `mx_port` of the MX
    /// hosts it finds, with MTA-STS on.
    async fn relay(&self, dns: &DnsServer, mx_port: u16, policy_port: u16) -> RunningRelay {
        self.relay_with(dns, mx_port, policy_port, |_| {}).await
    }

    /// [`relay`](Self::relay), with `configure` changing its settings.
    async fn relay_with(
        &self,
        dns: &DnsServer,
        mx_port: u16,
        policy_port: u16,
        configure: impl FnOnce(&mut Settings),
    ) -> RunningRelay {
        let mut settings = relay_settings(&self.scratch.0.join("queue"), Vec::new());
        settings.port = mx_port;
        settings.starttls = true;
        settings.secure = SecureSettings {
            mta_sts: true,
            trust: Some(self.ca.pem()),
            policy_port,
            report_file: Some(self.report_file()),
            ..SecureSettings::default()
        };
        configure(&mut settings);
        let sources = Sources {
            nameserver: Some(dns.address()),
            ..Sources::default()
        };
        RunningRelay::start_from(settings, sources).await
    }
}

/// example.test's records: its MX host `mx`, its `_mta-sts` TXT record, and
/// every name at 127.0.0.1.
fn zone(mx: &str) -> Zone {
    Zone::new()
        .mx("example.test", 10, mx)
        .txt("_mta-sts.example.test", "v=STSv1; id=20261207T000000")
        .address(mx, LOOPBACK)
        .address("mta-sts.example.test", LOOPBACK)
}

const MESSAGE: &[u8] = b"Subject: secure\r\n\r\nover verified TLS only\r\n";

async fn send(relay: &RunningRelay) {
    relay.send(&["bob@example.test"], &[MESSAGE.to_vec()]).await;
}

#[tokio::test]
async fn enforce_delivers_to_a_listed_mx_over_verified_tls_and_caches_the_policy() {
    let setup = Setup::new("mta-sts-good");
    let server = setup.mx_server("mx.example.test").await;
    let dns = DnsServer::start(zone("mx.example.test")).await;
    let policy = setup.policy_host(ENFORCE).await;
    let relay = setup
        .relay(&dns, server.address.port(), policy.address.port())
        .await;
    send(&relay).await;
    wait_until("delivered", || server.delivered().len() == 1).await;
    assert_eq!(server.contents(), [MESSAGE.to_vec()]);
    wait_until("reported", || setup.reported("mx.example.test", "success")).await;
    let cached =
        std::fs::read_to_string(setup.scratch.0.join("queue/mta-sts/example.test.policy")).unwrap();
    assert!(cached.starts_with("id: 20261207T000000\n"), "{cached}");
    assert!(cached.contains("mode: enforce"), "{cached}");
}

#[tokio::test]
async fn enforce_keeps_mail_from_an_mx_host_the_policy_does_not_list() {
    let setup = Setup::new("mta-sts-unlisted");
    let server = setup.mx_server("mx.attacker.test").await;
    let dns = DnsServer::start(zone("mx.attacker.test")).await;
    let policy = setup.policy_host(ENFORCE).await;
    let relay = setup
        .relay(&dns, server.address.port(), policy.address.port())
        .await;
    send(&relay).await;
    held_back(
        &setup,
        "sts",
        &server,
        "mx.attacker.test",
        "validation-failure",
        "4.7.5",
    )
    .await;
}

#[tokio::test]
async fn enforce_keeps_mail_from_an_mx_host_with_a_certificate_for_another_name() {
    let setup = Setup::new("mta-sts-wrong-name");
    let server = setup.mx_server("elsewhere.test").await;
    let dns = DnsServer::start(zone("mx.example.test")).await;
    let policy = setup.policy_host(ENFORCE).await;
    let relay = setup
        .relay(&dns, server.address.port(), policy.address.port())
        .await;
    send(&relay).await;
    held_back(
        &setup,
        "sts",
        &server,
        "mx.example.test",
        "certificate-host-mismatch",
        "4.7.5",
    )
    .await;
}

#[tokio::test]
async fn enforce_keeps_mail_when_starttls_is_stripped_on_the_path() {
    let setup = Setup::new("mta-sts-stripped");
    let server = setup.mx_server("mx.example.test").await;
    let (proxy, proxy_task) = starttls_stripper(server.address).await;
    let dns = DnsServer::start(zone("mx.example.test")).await;
    let policy = setup.policy_host(ENFORCE).await;
    let relay = setup.relay(&dns, proxy.port(), policy.address.port()).await;
    send(&relay).await;
    held_back(
        &setup,
        "sts",
        &server,
        "mx.example.test",
        "starttls-not-supported",
        "4.7.10",
    )
    .await;
    proxy_task.abort();
}

#[tokio::test]
async fn testing_mode_delivers_and_reports_what_enforce_would_refuse() {
    let setup = Setup::new("mta-sts-testing");
    let server = setup.mx_server("elsewhere.test").await;
    let dns = DnsServer::start(zone("mx.example.test")).await;
    let policy = setup.policy_host(TESTING).await;
    let relay = setup
        .relay(&dns, server.address.port(), policy.address.port())
        .await;
    send(&relay).await;
    wait_until("delivered", || server.delivered().len() == 1).await;
    wait_until("reported", || {
        setup.reported("mx.example.test", "certificate-host-mismatch")
    })
    .await;
}

#[tokio::test]
async fn a_policy_host_with_an_untrusted_certificate_is_reported_and_mail_goes_as_without_policy() {
    let setup = Setup::new("mta-sts-untrusted-policy");
    let server = setup.mx_server("mx.example.test").await;
    let dns = DnsServer::start(zone("mx.example.test")).await;
    // Self-signed, not from the CA the relay trusts.
    let stranger = Identity::self_signed("mta-sts.example.test").unwrap();
    let policy = PolicyHost::serve(stranger, ENFORCE).await;
    let relay = setup
        .relay(&dns, server.address.port(), policy.address.port())
        .await;
    send(&relay).await;
    wait_until("delivered", || server.delivered().len() == 1).await;
    assert!(
        setup
            .reports()
            .iter()
            .any(|report| report["result-type"] == "sts-webpki-invalid"),
        "{:?}",
        setup.reports()
    );
    assert!(!Path::new(&setup.scratch.0.join("queue/mta-sts/example.test.policy")).exists());
}

#[tokio::test]
async fn a_redirect_is_not_followed_and_counts_as_a_fetch_error() {
    let setup = Setup::new("mta-sts-redirect");
    let server = setup.mx_server("mx.example.test").await;
    let dns = DnsServer::start(zone("mx.example.test")).await;
    let redirect = "HTTP/1.1 301 Moved Permanently\r\nLocation: https://elsewhere.test/\r\n\
                    Content-Length: 0\r\nConnection: close\r\n\r\n"
        .to_string();
    let policy = PolicyHost::answering(setup.ca.issue("mta-sts.example.test"), redirect).await;
    let relay = setup
        .relay(&dns, server.address.port(), policy.address.port())
        .await;
    send(&relay).await;
    wait_until("delivered", || server.delivered().len() == 1).await;
    assert!(
        setup
            .reports()
            .iter()
            .any(|report| report["result-type"] == "sts-policy-fetch-error"),
        "{:?}",
        setup.reports()
    );
}

#[tokio::test]
async fn requiretls_mail_goes_over_verified_tls_with_requiretls_passed_on() {
    let setup = Setup::new("mta-sts-requiretls");
    let server = setup.mx_server("mx.example.test").await;
    let bounces = TestServer::start(|_| {}).await;
    let dns = DnsServer::start(zone("mx.example.test")).await;
    // Testing mode: REQUIRETLS holds the next hop to it as if enforced.
    let policy = setup.policy_host(TESTING).await;
    let intake = Identity::self_signed("relay.test").unwrap();
    let certificate = intake.chain[0].clone();
    let relay = setup
        .relay_with(
            &dns,
            server.address.port(),
            policy.address.port(),
            with_intake_tls(intake, &bounces),
        )
        .await;
    send_over_tls(&relay, certificate, MESSAGE, true).await;
    wait_until("delivered", || server.delivered().len() == 1).await;
    assert_eq!(server.contents(), [MESSAGE.to_vec()]);
    // The next hop took it with REQUIRETLS on MAIL, and keeps the flag.
    let stored = String::from_utf8(server.delivered()[0].clone()).unwrap();
    assert!(
        stored.contains("\r\nX-Envelope-Requiretls: yes\r\n"),
        "{stored}"
    );
    assert!(setup.reported("mx.example.test", "success"));
    assert!(bounces.delivered().is_empty());
}

#[tokio::test]
async fn requiretls_mail_to_a_domain_without_a_policy_is_returned_with_5_7_10() {
    let setup = Setup::new("mta-sts-requiretls-none");
    let server = setup.mx_server("mx.example.test").await;
    let bounces = TestServer::start(|_| {}).await;
    // No _mta-sts record: the MX lookup is not secured.
    let dns = DnsServer::start(
        Zone::new()
            .mx("example.test", 10, "mx.example.test")
            .address("mx.example.test", LOOPBACK),
    )
    .await;
    let intake = Identity::self_signed("relay.test").unwrap();
    let certificate = intake.chain[0].clone();
    let relay = setup
        .relay_with(
            &dns,
            server.address.port(),
            9,
            with_intake_tls(intake, &bounces),
        )
        .await;
    send_over_tls(&relay, certificate, MESSAGE, true).await;
    wait_until("bounced", || bounces.delivered().len() == 1).await;
    let bounce = String::from_utf8(bounces.delivered()[0].clone()).unwrap();
    assert!(bounce.contains("Status: 5.7.10"), "{bounce}");
    assert!(
        server.delivered().is_empty(),
        "never sent without a secure route"
    );
}

#[tokio::test]
async fn tls_required_no_relaxes_an_enforced_policy_and_requiretls_overrides_it() {
    let setup = Setup::new("mta-sts-tls-required-no");
    // A certificate for another name: the policy would hold mail back.
    let server = setup.mx_server("elsewhere.test").await;
    let bounces = TestServer::start(|_| {}).await;
    let dns = DnsServer::start(zone("mx.example.test")).await;
    let policy = setup.policy_host(ENFORCE).await;
    let intake = Identity::self_signed("relay.test").unwrap();
    let certificate = intake.chain[0].clone();
    let relay = setup
        .relay_with(
            &dns,
            server.address.port(),
            policy.address.port(),
            with_intake_tls(intake, &bounces),
        )
        .await;
    let relaxed = b"TLS-Required: No\r\nSubject: relaxed\r\n\r\nanyway\r\n";
    send_over_tls(&relay, certificate.clone(), relaxed, false).await;
    wait_until("delivered", || server.delivered().len() == 1).await;
    assert_eq!(server.contents(), [relaxed.to_vec()]);
    // The same message with REQUIRETLS is held to the policy.
    send_over_tls(&relay, certificate, relaxed, true).await;
    held_back_after(&setup, &server, 1).await;
}

/// Waits until a second certificate-host-mismatch is reported, then checks
/// that the server still has only `delivered` messages.
async fn held_back_after(setup: &Setup, server: &TestServer, delivered: usize) {
    wait_until("mismatch reported", || {
        setup
            .reports()
            .iter()
            .filter(|report| report["result-type"] == "certificate-host-mismatch")
            .count()
            >= 1
    })
    .await;
    assert_eq!(server.delivered().len(), delivered);
    assert_eq!(setup.queued(), 1, "the REQUIRETLS message stays queued");
}

#[tokio::test]
async fn a_cached_policy_keeps_applying_when_its_txt_record_and_host_are_gone() {
    let setup = Setup::new("mta-sts-cached");
    let server = setup.mx_server("mx.attacker.test").await;
    // An attacker removed the _mta-sts record and points the MX elsewhere;
    // the policy host does not answer.
    let dns = DnsServer::start(
        Zone::new()
            .mx("example.test", 10, "mx.attacker.test")
            .address("mx.attacker.test", LOOPBACK),
    )
    .await;
    let cache = PolicyCache::open(setup.scratch.0.join("queue/mta-sts")).unwrap();
    let cached = Cached {
        id: "20261207T000000".into(),
        fetched: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
        policy: Policy::parse(ENFORCE.as_bytes()).unwrap(),
    };
    cache.store("example.test", &cached).unwrap();
    let relay = setup.relay(&dns, server.address.port(), 9).await;
    send(&relay).await;
    held_back(
        &setup,
        "sts",
        &server,
        "mx.attacker.test",
        "validation-failure",
        "4.7.5",
    )
    .await;
}
