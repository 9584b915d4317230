//! DKIM signing: what the signatures cover and how they are made, checked
//! with `mail-auth`'s verifier against the key records the key helper
//! prints (no DNS: the records are put in its cache); then the bulk
//! sender and the relay signing what they send. `interop/dkim.sh` has the
//! same messages verified by dkimpy and OpenDKIM.

// Shared with the other test files, each of which uses a part.
#[allow(dead_code)]
mod support;

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use base64::Engine;
use clap::Parser;
use hickory_resolver::config::{ResolverConfig, ResolverOpts};
use mail_auth::common::parse::TxtRecordParser;
use mail_auth::common::verify::DomainKey;
use mail_auth::{
    AuthenticatedMessage, DkimResult, MessageAuthenticator, Parameters, ResolverCache, Txt,
};
use smtpwire_programs::bulk::cli::{run, Args};
use smtpwire_programs::dkim::{Key, Signer, DEFAULT_HEADERS};
use smtpwire_programs::outbound::routes::FixedRoute;
use smtpwire_programs::relay::{Relay, Settings};
use smtpwire_programs::server::rules::RecipientRules;
use support::{content_of, TestServer};

fn key_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/keys")
        .join(name)
}

fn rsa() -> Key {
    Key::read("example.org", "rsa", &key_file("rsa2048.pem")).unwrap()
}

fn ed25519() -> Key {
    Key::read("example.org", "ed", &key_file("ed25519.pem")).unwrap()
}

/// A message with a line starting with a dot and an 8-bit (UTF-8) body.
const MESSAGE: &[u8] = "From: News <news@example.org>\r\nTo: ann@example.net\r\n\
    Subject: Hello\r\nDate: Mon, 7 Dec 2026 06:00:00 +0000\r\nMessage-ID: <1@example.org>\r\n\
    List-Unsubscribe: <https://example.org/u?e=ann>\r\n\
    List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n\
    Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\
    Grüße,\r\n.a line starting with a dot\r\n\r\n\r\n"
    .as_bytes();

/// The `DKIM-Signature:` fields of `message`, each unfolded, as tag lists.
fn signatures(message: &[u8]) -> Vec<HashMap<String, String>> {
    let text = String::from_utf8_lossy(message);
    let header = text
        .split("\r\n\r\n")
        .next()
        .unwrap()
        .replace("\r\n\t", " ");
    header
        .split("\r\n")
        .filter_map(|line| line.strip_prefix("DKIM-Signature:"))
        .map(|value| {
            value
                .split(';')
                .filter_map(|tag| tag.split_once('='))
                .map(|(name, value)| {
                    let value: String = value.split_whitespace().collect();
                    (name.trim().to_string(), value)
                })
                .collect()
        })
        .collect()
}

/// Key records by name, as the verifier's TXT cache: the records are
/// looked up there, never in DNS.
#[derive(Default)]
struct Records(Mutex<HashMap<Box<str>, Txt>>);

impl ResolverCache<Box<str>, Txt> for Records {
    fn get<Q>(&self, name: &Q) -> Option<Txt>
    where
        Box<str>: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.0.lock().unwrap().get(name).cloned()
    }

    fn remove<Q>(&self, name: &Q) -> Option<Txt>
    where
        Box<str>: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.0.lock().unwrap().remove(name)
    }

    fn insert(&self, key: Box<str>, value: Txt, _: Instant) {
        self.0.lock().unwrap().insert(key, value);
    }
}

impl Records {
    /// The records of `keys`, read back from what the key helper prints.
    fn of(keys: &[Key]) -> Records {
        let records = Records::default();
        for key in keys {
            let printed = key.txt_record();
            let (name, strings) = printed.split_once(" IN TXT ").unwrap();
            let text: String = strings.split('"').skip(1).step_by(2).collect();
            let record = DomainKey::parse(text.as_bytes()).unwrap();
            records.insert(
                name.into(),
                Txt::DomainKey(Arc::new(record)),
                Instant::now(),
            );
        }
        records
    }
}

/// The verifier's result for each signature of `message`.
async fn verify(message: &[u8], keys: &[Key]) -> Vec<DkimResult> {
    let records = Records::of(keys);
    let authenticator = MessageAuthenticator::new(
        ResolverConfig::from_parts(None, vec![], vec![]),
        ResolverOpts::default(),
    )
    .unwrap();
    let parsed = AuthenticatedMessage::parse(message).unwrap();
    authenticator
        .verify_dkim(Parameters::new(&parsed).with_txt_cache(&records))
        .await
        .into_iter()
        .map(|output| output.result().clone())
        .collect()
}

fn signed(signer: &Signer, message: &[u8], now: u64) -> Vec<u8> {
    let mut out = signer
        .sign(message, now)
        .unwrap()
        .expect("a key for example.org");
    out.extend_from_slice(message);
    out
}

#[test]
fn signing_is_deterministic_given_a_timestamp() {
    let signer = Signer::new(vec![rsa(), ed25519()]).unwrap();
    let first = signer.sign(MESSAGE, 1_800_000_000).unwrap().unwrap();
    assert_eq!(first, signer.sign(MESSAGE, 1_800_000_000).unwrap().unwrap());
    assert_ne!(first, signer.sign(MESSAGE, 1_800_000_001).unwrap().unwrap());
    assert!(signatures(&first)
        .iter()
        .all(|tags| tags["t"] == "1800000000"));
}

#[test]
fn no_signature_field_is_folded_before_a_semicolon() {
    // Verifiers disagree on such a fold after b=: dkimpy fails the
    // signature. The field is folded at a fixed width: with these fields
    // and this selector, b= used to end a line.
    let message = b"From: Alerts <alerts@example.org>\r\nTo: carol@example.net\r\n\
        Subject: Hello\r\nDate: Mon, 7 Dec 2026 06:00:00 +0000\r\n\
        Message-ID: <relay-1@example.org>\r\nContent-Type: text/plain; charset=utf-8\r\n\
        Content-Transfer-Encoding: 8bit\r\n\r\nText\r\n";
    for selector in ["s-rsa", "s", "selector-of-some-length"] {
        let key = Key::read("example.org", selector, &key_file("rsa2048.pem")).unwrap();
        let signer = Signer::new(vec![key]).unwrap();
        let fields = signer.sign(message, 1_796_624_234).unwrap().unwrap();
        let text = String::from_utf8(fields).unwrap();
        assert!(!text.contains("\r\n\t;"), "{text}");
    }
}

#[test]
fn the_default_headers_cover_the_required_fields_and_over_sign_from() {
    let signer = Signer::new(vec![rsa()]).unwrap();
    let message = signed(&signer, MESSAGE, 1_800_000_000);
    let tags = &signatures(&message)[0];
    let signed: Vec<String> = tags["h"]
        .split(':')
        .map(|h| h.to_ascii_lowercase())
        .collect();
    for required in [
        "from",
        "subject",
        "date",
        "message-id",
        "to",
        "list-unsubscribe",
        "list-unsubscribe-post",
    ] {
        assert!(
            signed.iter().any(|h| h == required),
            "{required} not in h={}",
            tags["h"]
        );
    }
    // The message has one From: and h= names it twice.
    assert_eq!(signed.iter().filter(|h| *h == "from").count(), 2);
    assert_eq!(signed.len(), DEFAULT_HEADERS.len());
    assert_eq!(tags["c"], "relaxed/relaxed");
    assert_eq!(tags["d"], "example.org");
    assert_eq!(tags["a"], "rsa-sha256");
}

#[test]
fn both_keys_of_a_domain_sign_with_one_body_hash() {
    let signer = Signer::new(vec![rsa(), ed25519()]).unwrap();
    let message = signed(&signer, MESSAGE, 1_800_000_000);
    let tags = signatures(&message);
    let algorithms: Vec<&str> = tags.iter().map(|t| t["a"].as_str()).collect();
    assert_eq!(algorithms, ["rsa-sha256", "ed25519-sha256"]);
    assert_eq!(tags[0]["bh"], tags[1]["bh"]);
    assert_eq!(tags[0]["s"], "rsa");
    assert_eq!(tags[1]["s"], "ed");
}

#[tokio::test]
async fn both_signatures_verify_over_dot_lines_and_8bit_text() {
    let signer = Signer::new(vec![rsa(), ed25519()]).unwrap();
    let message = signed(&signer, MESSAGE, 1_800_000_000);
    assert_eq!(
        verify(&message, signer.keys()).await,
        [DkimResult::Pass, DkimResult::Pass]
    );
    // An added From: above the signed one breaks the signature.
    let mut forged = b"From: ceo@example.org\r\n".to_vec();
    forged.extend_from_slice(&message);
    assert!(verify(&forged, signer.keys())
        .await
        .iter()
        .all(|result| matches!(result, DkimResult::Fail(_))));
}

#[test]
fn only_the_from_domain_signs_and_never_twice_with_one_key() {
    let signer = Signer::new(vec![rsa()]).unwrap();
    let other = String::from_utf8_lossy(MESSAGE).replace("news@example.org", "news@example.com");
    assert_eq!(signer.sign(other.as_bytes(), 1).unwrap(), None);
    let once = signed(&signer, MESSAGE, 1);
    assert_eq!(signer.sign(&once, 2).unwrap(), None);
    // A second key of the domain still signs a message the first signed.
    let both = Signer::new(vec![rsa(), ed25519()]).unwrap();
    let added = both.sign(&once, 2).unwrap().unwrap();
    assert_eq!(signatures(&added).len(), 1);
    assert_eq!(signatures(&added)[0]["a"], "ed25519-sha256");
}

#[test]
fn an_rsa_key_under_2048_bits_is_refused() {
    let error = Key::read("example.org", "old", &key_file("rsa1024-pkcs1.pem")).unwrap_err();
    assert!(error.contains("1024 bits"), "{error}");
    let error = Key::load("example.org:s").unwrap_err();
    assert!(error.contains("domain:selector:keyfile"), "{error}");
}

#[test]
fn the_key_record_is_a_zone_file_txt_line() {
    for (key, kind, length) in [(rsa(), "rsa", 294), (ed25519(), "ed25519", 32)] {
        let printed = key.txt_record();
        let (name, strings) = printed.split_once(" IN TXT ").unwrap();
        assert_eq!(name, format!("{}._domainkey.example.org.", key.selector));
        let parts: Vec<&str> = strings.split('"').skip(1).step_by(2).collect();
        assert!(parts.iter().all(|part| part.len() <= 255), "{printed}");
        let text = parts.concat();
        let p = text
            .strip_prefix(&format!("v=DKIM1; k={kind}; p="))
            .unwrap_or_else(|| panic!("{text}"));
        let public = base64::engine::general_purpose::STANDARD.decode(p).unwrap();
        // RSA: the SubjectPublicKeyInfo of a 2048-bit key; Ed25519: the bare key.
        assert_eq!(public.len(), length);
    }
}

#[test]
fn a_generated_key_reads_back() {
    let pem = Key::generate(smtpwire_programs::dkim::Algorithm::Ed25519).unwrap();
    let key = Key::from_pem("example.org", "new", &pem).unwrap();
    assert!(key.txt_record().contains("k=ed25519"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bulk_sender_signs_each_copy() {
    let server = TestServer::start(|_| {}).await;
    let dir = std::env::temp_dir().join(format!("smtpwire-dkim-bulk-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("list.csv"),
        "email\nann@example.net\nbob@example.net\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("template.eml"),
        "From: News <news@example.org>\nTo: {{email}}\nSubject: Hello\n\nGrüße\n.dot\n",
    )
    .unwrap();
    let path = |name: &str| dir.join(name).display().to_string();
    let command = [
        "bulk".to_string(),
        format!("--list={}", path("list.csv")),
        format!("--template={}", path("template.eml")),
        format!("--results={}", path("results.csv")),
        "--from=bounces@example.org".to_string(),
        "--unsubscribe-url=https://example.org/u?e={{email}}".to_string(),
        format!("--mx=example.net={}", server.address),
        format!(
            "--dkim=example.org:rsa:{}",
            key_file("rsa2048.pem").display()
        ),
        format!(
            "--dkim=example.org:ed:{}",
            key_file("ed25519.pem").display()
        ),
    ];
    let summary = run(Args::try_parse_from(command).unwrap()).await.unwrap();
    assert!(summary.starts_with("2 delivered"), "{summary}");
    let keys = [rsa(), ed25519()];
    let delivered = server.delivered();
    assert_eq!(delivered.len(), 2);
    for stored in &delivered {
        let message = content_of(stored);
        assert_eq!(signatures(message).len(), 2);
        assert_eq!(
            verify(message, &keys).await,
            [DkimResult::Pass, DkimResult::Pass]
        );
    }
    // A template whose From: domain has no key is refused at start.
    let command = [
        "bulk".to_string(),
        format!("--list={}", path("list.csv")),
        format!("--template={}", path("template.eml")),
        format!("--results={}", path("other.csv")),
        "--from=bounces@example.org".to_string(),
        "--unsubscribe-url=https://example.org/u?e={{email}}".to_string(),
        format!(
            "--dkim=example.com:rsa:{}",
            key_file("rsa2048.pem").display()
        ),
    ];
    let error = run(Args::try_parse_from(command).unwrap())
        .await
        .unwrap_err();
    assert!(error.contains("From:"), "{error}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relay_signs_a_queued_message_once_for_every_destination_and_retry() {
    // bob@example.com is refused for now at first: his copy goes on a retry.
    let server = TestServer::start(|settings| {
        settings.rules = RecipientRules::new(&[], &["bob@example.com".to_string()]);
    })
    .await;
    let queue = std::env::temp_dir().join(format!("smtpwire-dkim-relay-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&queue);
    let routes = ["example.net", "example.com"]
        .iter()
        .map(|domain| FixedRoute::parse(&format!("{domain}={}", server.address), 25).unwrap())
        .collect();
    let settings = Settings {
        dkim: Some(Signer::new(vec![rsa(), ed25519()]).unwrap()),
        ..support::relay_settings(&queue, routes)
    };
    // Queued as the receiving server would: envelope lines, then content.
    std::fs::create_dir_all(queue.join("incoming/new")).unwrap();
    let mut stored = b"Return-Path: <news@example.org>\r\n\
        X-Envelope-To: <ann@example.net>\r\nX-Envelope-To: <bob@example.com>\r\n"
        .to_vec();
    stored.extend_from_slice(MESSAGE);
    std::fs::write(queue.join("incoming/new/1.queued"), stored).unwrap();
    let relay = Relay::bind(SocketAddr::from(([127, 0, 0, 1], 0)), settings)
        .await
        .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(relay.run(async {
        let _ = stopped.await;
    }));
    server.wait_for(|| server.delivered().len() == 2).await;
    let _ = stop.send(());
    task.await.unwrap();
    // Two destinations and a retry: the same signed copy each time.
    let contents = server.contents();
    assert_eq!(contents[0], contents[1]);
    assert_eq!(signatures(&contents[0]).len(), 2);
    let keys = [rsa(), ed25519()];
    assert_eq!(
        verify(&contents[0], &keys).await,
        [DkimResult::Pass, DkimResult::Pass]
    );
    let _ = std::fs::remove_dir_all(&queue);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_masqueraded_sender_is_signed_for_its_new_domain_and_the_signature_holds() {
    let server = TestServer::start(|_| {}).await;
    let dir = std::env::temp_dir().join(format!("smtpwire-dkim-masq-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let table = dir.join("table");
    std::fs::write(&table, "sender @host1.companya.example @example.org\n").unwrap();
    let routes = vec![FixedRoute::parse(&format!("example.net={}", server.address), 25).unwrap()];
    let settings = Settings {
        dkim: Some(Signer::new(vec![rsa()]).unwrap()),
        rewriting: Some(Arc::new(
            smtpwire_programs::relay::rewrite::Rewriting::load(&table).unwrap(),
        )),
        rewrite_sender_headers: true,
        ..support::relay_settings(&dir.join("queue"), routes)
    };
    let relay = support::relay::RunningRelay::start(settings).await;
    let message = MESSAGE_FROM_HOST1.as_bytes();
    let codes = support::reports::send_with(
        relay.address,
        "<news@host1.companya.example>",
        &["<ann@example.net>"],
        message,
    )
    .await;
    assert_eq!(codes, [250, 250, 250]);
    server.wait_for(|| server.delivered().len() == 1).await;
    let stored = &server.delivered()[0];
    assert!(stored.starts_with(b"Return-Path: <news@example.org>\r\n"));
    let content = content_of(stored);
    let text = String::from_utf8_lossy(content);
    assert!(
        text.contains("\r\nFrom: News <news@example.org>\r\n"),
        "{text}"
    );
    assert_eq!(verify(content, &[rsa()]).await, [DkimResult::Pass]);
    drop(relay);
    let _ = std::fs::remove_dir_all(&dir);
}

/// [`MESSAGE`] from the internal host name the relay masquerades.
const MESSAGE_FROM_HOST1: &str = "From: News <news@host1.companya.example>\r\n\
    To: ann@example.net\r\nSubject: Hello\r\nDate: Mon, 7 Dec 2026 06:00:00 +0000\r\n\
    Message-ID: <2@host1.companya.example>\r\n\r\nHello from inside.\r\n";
