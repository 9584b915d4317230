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

use smtpwire_programs::outbound::secure::SecureSettings;
use smtpwire_programs::relay::Sources;
use smtpwire_programs::server::tls::Identity;
use support::dns::{DnsServer, Zone};
use support::relay::RunningRelay;
use support::secure::{starttls_stripper, PolicyHost, TestCa};
use support::{relay_settings, wait_until, Scratch, TestServer};

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

const ENFORCE: &str =
    "version: STSv1\r\nmode: enforce\r\nmx: mx.example.test\r\nmax_age: 86400\r\n";
const TESTING: &str =
    "version: STSv1\r\nmode: testing\r\nmx: mx.example.test\r\nmax_age: 86400\r\n";

/// Everything one test runs against.
struct Setup {
    scratch: Scratch,
    ca: TestCa,
}

impl Setup {
    fn new(tag: &str) -> Setup {
        let scratch = Scratch(
            std::env::temp_dir().join(format!("smtpwire-mta-sts-{tag}-{}", std::process::id())),
        );
        let _ = std::fs::remove_dir_all(&scratch.0);
        std::fs::create_dir_all(scratch.0.join("queue")).unwrap();
        let ca = TestCa::new(&scratch.0);
        Setup { scratch, ca }
    }

    fn report_file(&self) -> std::path::PathBuf {
        self.scratch.0.join("tls-report.jsonl")
    }

    /// The TLS reports written so far, one JSON object each.
    fn reports(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.report_file())
            .unwrap_or_default()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    /// Whether a report has `result` for `mx`.
    fn reported(&self, mx: &str, result: &str) -> bool {
        self.reports()
            .iter()
            .any(|report| report["receiving-mx-hostname"] == mx && report["result-type"] == result)
    }

    /// The example server as an MX host presenting a certificate for
    /// `certificate_name`.
    async fn mx_server(&self, certificate_name: &str) -> TestServer {
        let identity = self.ca.issue(certificate_name);
        TestServer::start(move |settings| settings.tls = Some(identity)).await
    }

    /// The policy host for example.test serving `policy`.
    async fn policy_host(&self, policy: &str) -> PolicyHost {
        PolicyHost::serve(self.ca.issue("mta-sts.example.test"), policy).await
    }

    /// A relay resolving at `dns`, delivering to port `mx_port` of the MX
    /// hosts it finds, with MTA-STS on.
    async fn relay(&self, dns: &DnsServer, mx_port: u16, policy_port: u16) -> RunningRelay {
        let mut settings = relay_settings(&self.scratch.0.join("queue"), Vec::new());
        settings.port = mx_port;
        settings.starttls = true;
        settings.secure = SecureSettings {
            mta_sts: true,
            trust: Some(self.ca.pem()),
            policy_port,
            report_file: Some(self.report_file()),
        };
        let sources = Sources {
            nameserver: Some(dns.address()),
            ..Sources::default()
        };
        RunningRelay::start_from(settings, sources).await
    }

    /// Messages waiting in the queue.
    fn queued(&self) -> usize {
        let new = self.scratch.0.join("queue").join("incoming").join("new");
        std::fs::read_dir(new).map_or(0, |entries| entries.count())
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

/// Waits for the report, then checks that nothing was delivered and the
/// message is still queued.
async fn held_back(setup: &Setup, server: &TestServer, mx: &str, result: &str) {
    wait_until(&format!("{result} reported for {mx}"), || {
        setup.reported(mx, result)
    })
    .await;
    assert!(server.delivered().is_empty(), "delivered despite {result}");
    assert_eq!(setup.queued(), 1, "the message stays queued");
    let report = setup
        .reports()
        .into_iter()
        .find(|report| report["result-type"] == result)
        .unwrap();
    assert_eq!(report["policy-type"], "sts");
    assert_eq!(report["policy-domain"], "example.test");
}

#[tokio::test]
async fn enforce_delivers_to_a_listed_mx_over_verified_tls_and_caches_the_policy() {
    let setup = Setup::new("good");
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
    let setup = Setup::new("unlisted");
    let server = setup.mx_server("mx.attacker.test").await;
    let dns = DnsServer::start(zone("mx.attacker.test")).await;
    let policy = setup.policy_host(ENFORCE).await;
    let relay = setup
        .relay(&dns, server.address.port(), policy.address.port())
        .await;
    send(&relay).await;
    held_back(&setup, &server, "mx.attacker.test", "validation-failure").await;
}

#[tokio::test]
async fn enforce_keeps_mail_from_an_mx_host_with_a_certificate_for_another_name() {
    let setup = Setup::new("wrong-name");
    let server = setup.mx_server("elsewhere.test").await;
    let dns = DnsServer::start(zone("mx.example.test")).await;
    let policy = setup.policy_host(ENFORCE).await;
    let relay = setup
        .relay(&dns, server.address.port(), policy.address.port())
        .await;
    send(&relay).await;
    held_back(
        &setup,
        &server,
        "mx.example.test",
        "certificate-host-mismatch",
    )
    .await;
}

#[tokio::test]
async fn enforce_keeps_mail_when_starttls_is_stripped_on_the_path() {
    let setup = Setup::new("stripped");
    let server = setup.mx_server("mx.example.test").await;
    let (proxy, proxy_task) = starttls_stripper(server.address).await;
    let dns = DnsServer::start(zone("mx.example.test")).await;
    let policy = setup.policy_host(ENFORCE).await;
    let relay = setup.relay(&dns, proxy.port(), policy.address.port()).await;
    send(&relay).await;
    held_back(&setup, &server, "mx.example.test", "starttls-not-supported").await;
    proxy_task.abort();
}

#[tokio::test]
async fn testing_mode_delivers_and_reports_what_enforce_would_refuse() {
    let setup = Setup::new("testing");
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
    let setup = Setup::new("untrusted-policy");
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
    let setup = Setup::new("redirect");
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
