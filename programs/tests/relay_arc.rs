//! ARC at the relay (RFC 8617): the relay authenticates what it takes in
//! and seals it; the next hop's verifiers, `mail-auth`'s and dkimpy's,
//! find the chain valid, one hop and two hops on.

// Shared with the other test files, each of which uses a part.
#[allow(dead_code)]
mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use mail_auth::{AuthenticatedMessage, DkimResult, MessageAuthenticator};
use smtpwire_programs::authentication::{self, Checks};
use smtpwire_programs::dkim::{Key, Signer};
use smtpwire_programs::outbound::routes::FixedRoute;
use smtpwire_programs::relay::{Relay, Settings};
use smtpwire_programs::server::client::Client;
use support::dns::{DnsServer, Zone};
use support::{Scratch, TestServer};

/// The relay's name, under which it gives its results.
const RELAY: &str = "relay.test";

fn key(domain: &str) -> Key {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/keys/rsa2048.pem");
    Key::read(domain, "rsa", &file).unwrap()
}

/// The text of `key`'s record, its strings joined.
fn key_text(key: &Key) -> String {
    let printed = key.txt_record();
    let (_, strings) = printed.split_once(" IN TXT ").unwrap();
    strings.split('"').skip(1).step_by(2).collect()
}

fn zone() -> Zone {
    Zone::new()
        .txt("client.example", "v=spf1 ip4:127.0.0.1 -all")
        .txt("sender.example", "v=spf1 ip4:127.0.0.1 -all")
        .txt("_dmarc.sender.example", "v=DMARC1; p=reject")
        .txt(
            "rsa._domainkey.sender.example",
            &key_text(&key("sender.example")),
        )
        .txt(
            "rsa._domainkey.relay.example",
            &key_text(&key("relay.example")),
        )
}

/// A message from sender.example, signed with its key.
fn message() -> Vec<u8> {
    let content = b"From: news@sender.example\r\nTo: ann@example.net\r\nSubject: Hello\r\n\
        Date: Mon, 7 Dec 2026 06:00:00 +0000\r\nMessage-ID: <arc@sender.example>\r\n\r\n\
        Hello Ann.\r\n.A line with a dot.\r\n";
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let fields = Signer::new(vec![key("sender.example")])
        .unwrap()
        .sign(content, now)
        .unwrap()
        .unwrap();
    [fields, content.to_vec()].concat()
}

/// Sends `content` through a relay that seals with relay.example's key to
/// `next_hop`, and returns what the next hop stored, less its own fields.
async fn relayed(dns: &DnsServer, next_hop: &TestServer, content: &[u8], run: usize) -> Vec<u8> {
    let queue = Scratch(
        std::env::temp_dir().join(format!("smtpwire-relay-arc-{}-{run}", std::process::id())),
    );
    let routes = vec![FixedRoute::parse(&format!("example.net={}", next_hop.address), 25).unwrap()];
    let settings = Settings {
        authentication: Some(authentication::Settings {
            checks: Checks::parse("dmarc").unwrap(),
            authserv_id: RELAY.to_string(),
            dns_server: Some(dns.address()),
            arc_key: Some(key("relay.example")),
        }),
        ..support::relay_settings(&queue.0, routes)
    };
    let relay = Relay::bind(SocketAddr::from(([127, 0, 0, 1], 0)), settings)
        .await
        .unwrap();
    let address = relay.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(relay.run(async {
        let _ = stopped.await;
    }));
    let before = next_hop.delivered().len();
    let (mut client, _) = Client::connect(address).await.unwrap();
    assert_eq!(
        client.command("EHLO client.example").await.unwrap().code,
        250
    );
    let replies = client
        .send_message("news@sender.example", &["ann@example.net"], content, 1)
        .await
        .unwrap();
    assert_eq!(replies.last().unwrap().code, 250, "{replies:?}");
    next_hop
        .wait_for(|| next_hop.delivered().len() == before + 1)
        .await;
    let _ = stop.send(());
    task.await.unwrap();
    let contents = next_hop.contents();
    contents
        .into_iter()
        .find(|stored| count(stored, "ARC-Seal:") == run)
        .expect("the relayed message")
}

fn count(message: &[u8], name: &str) -> usize {
    String::from_utf8_lossy(message)
        .lines()
        .filter(|line| line.starts_with(name))
        .count()
}

/// `mail-auth`'s verdict on the chain, keys from the test's DNS server.
async fn verify_arc(dns: &DnsServer, message: &[u8]) -> DkimResult {
    use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
    let mut server = NameServerConfig::udp_and_tcp(dns.address().ip());
    for connection in &mut server.connections {
        connection.port = dns.address().port();
    }
    let authenticator = MessageAuthenticator::new(
        ResolverConfig::from_name_servers(vec![server]),
        ResolverOpts::default(),
    )
    .unwrap();
    let parsed = AuthenticatedMessage::parse(message).unwrap();
    authenticator.verify_arc(&parsed).await.result().clone()
}

/// dkimpy's verdict on the chain (`cv=`), the keys given to it directly.
fn dkimpy_arc_verify(message: &[u8]) -> String {
    use std::io::Write;
    use std::process::{Command, Stdio};

    const VERIFY: &str = "import sys, dkim\n\
        records = {sys.argv[1].encode(): sys.argv[2].encode()}\n\
        def lookup(name, timeout=5):\n\
        \x20   return records.get(name.rstrip(b'.'))\n\
        cv, results, reason = dkim.arc_verify(sys.stdin.buffer.read(), dnsfunc=lookup)\n\
        print(cv.decode(), reason)\n";
    let mut child = Command::new("/usr/bin/python3")
        .args(["-c", VERIFY, "rsa._domainkey.relay.example"])
        .arg(key_text(&key("relay.example")))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(message).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "dkimpy could not verify (is python3-dkim installed?): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relay_seals_what_it_forwards() {
    let dns = DnsServer::start(zone()).await;
    let next_hop = TestServer::start(|_| {}).await;

    // First hop: no chain yet, cv=none.
    let once = relayed(&dns, &next_hop, &message(), 1).await;
    let text = String::from_utf8_lossy(&once).into_owned();
    assert!(text.starts_with("ARC-Seal: i=1; a=rsa-sha256;"), "{text}");
    assert!(text.contains("cv=none"), "{text}");
    assert!(
        text.contains(&format!("ARC-Authentication-Results: i=1; {RELAY};")),
        "{text}"
    );
    assert!(
        text.contains("\tdmarc=pass header.from=sender.example"),
        "{text}"
    );
    assert_eq!(verify_arc(&dns, &once).await, DkimResult::Pass);
    let verdict = dkimpy_arc_verify(&once);
    assert!(verdict.starts_with("pass"), "{verdict}\n{text}");

    // Second hop: the chain verified (arc=pass) and sealed again, cv=pass.
    let twice = relayed(&dns, &next_hop, &once, 2).await;
    let text = String::from_utf8_lossy(&twice).into_owned();
    assert!(text.starts_with("ARC-Seal: i=2; a=rsa-sha256;"), "{text}");
    assert!(text.contains("cv=pass"), "{text}");
    assert!(text.contains("\tarc=pass"), "{text}");
    assert_eq!(verify_arc(&dns, &twice).await, DkimResult::Pass);
    let verdict = dkimpy_arc_verify(&twice);
    assert!(verdict.starts_with("pass"), "{verdict}\n{text}");
}
