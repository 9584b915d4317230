//! Authentication at intake: the server checks SPF, DKIM and DMARC against
//! records served by a DNS server on loopback (`support/dns.rs`), and the
//! `Authentication-Results:` field of each stored message says exactly
//! what it found; a DMARC failure under `p=reject` is refused when the
//! policy option is on.

// Shared with the other test files, each of which uses a part.
#[allow(dead_code)]
mod support;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use smtpwire_programs::authentication::{self, Checks};
use smtpwire_programs::dkim::{Key, Signer};
use smtpwire_programs::server::client::{Client, Reply};
use support::dns::{DnsServer, Zone};
use support::TestServer;

/// The authserv-id the server writes under, and the name it checks SPF's
/// `%{r}` for: the test server's hostname.
const AUTHSERV_ID: &str = "mx.test";

/// The name the test client greets with; its SPF record authorises the
/// loopback address.
const HELO: &str = "client.example";

fn key_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/keys")
        .join(name)
}

fn rsa(domain: &str) -> Key {
    Key::read(domain, "rsa", &key_file("rsa2048.pem")).unwrap()
}

fn ed25519(domain: &str) -> Key {
    Key::read(domain, "ed", &key_file("ed25519.pem")).unwrap()
}

/// The text of `key`'s record, its quoted strings joined, as a resolver
/// hands it over (RFC 6376 §3.6.2.2).
fn key_text(key: &Key) -> String {
    let printed = key.txt_record();
    let (_, strings) = printed.split_once(" IN TXT ").unwrap();
    strings.split('"').skip(1).step_by(2).collect()
}

/// The records every test sees.
fn zone() -> Zone {
    let mut zone = Zone::new()
        .txt(HELO, "v=spf1 ip4:127.0.0.1 -all")
        // SPF
        .txt("spf-pass.example", "v=spf1 ip4:127.0.0.1 -all")
        .txt("spf-fail.example", "v=spf1 ip4:192.0.2.1 -all")
        .txt("spf-softfail.example", "v=spf1 ip4:192.0.2.1 ~all")
        .servfail("spf-temperror.example")
        .txt(
            "spf-permerror.example",
            "v=spf1 ip4:127.0.0.1 redirect=a redirect=b",
        )
        // DKIM: keys for dkim.example; one whose key lookup fails, one
        // whose key is not published.
        .servfail("rsa._domainkey.dkim-temperror.example")
        .txt("dkim-permerror.example", "v=spf1 -all")
        // DMARC
        .txt("dmarc.example", "v=spf1 ip4:127.0.0.1 -all")
        .txt("_dmarc.dmarc.example", "v=DMARC1; p=reject")
        .txt("_dmarc.reject.example", "v=DMARC1; p=reject")
        .txt("_dmarc.quarantine.example", "v=DMARC1; p=quarantine")
        .txt("_dmarc.relaxed.example", "v=DMARC1; p=reject")
        .txt("bounces.relaxed.example", "v=spf1 ip4:127.0.0.1 -all")
        .txt("_dmarc.strict.example", "v=DMARC1; p=reject; aspf=s")
        .txt("bounces.strict.example", "v=spf1 ip4:127.0.0.1 -all")
        .servfail("_dmarc.dmarc-temperror.example")
        .txt("_dmarc.dmarc-permerror.example", "v=DMARC1; p=bogus");
    for domain in ["dkim.example", "dmarc.example"] {
        zone = zone
            .txt(&format!("rsa._domainkey.{domain}"), &key_text(&rsa(domain)))
            .txt(
                &format!("ed._domainkey.{domain}"),
                &key_text(&ed25519(domain)),
            );
    }
    zone
}

/// A DNS server with [`zone`] and a server checking `checks` against it.
async fn start(checks: &str, enforce: bool) -> (DnsServer, TestServer) {
    let dns = DnsServer::start(zone()).await;
    let address = dns.address();
    let checks = Checks::parse(checks).unwrap();
    let server = TestServer::start(move |settings| {
        settings.authentication = Some(authentication::Settings {
            checks,
            authserv_id: AUTHSERV_ID.to_string(),
            dns_server: Some(address),
            arc_key: None,
        });
        settings.reject_on_dmarc_policy = enforce;
    })
    .await;
    (dns, server)
}

/// A message from `from` (the `From:` address).
fn message(from: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: ann@mx.test\r\nSubject: Hello\r\n\
         Date: Mon, 7 Dec 2026 06:00:00 +0000\r\nMessage-ID: <1@example.org>\r\n\r\n\
         Hello Ann.\r\n.A line with a dot.\r\n"
    )
    .into_bytes()
}

/// `message` with the `DKIM-Signature:` fields of `keys` on top.
fn signed(message: &[u8], keys: Vec<Key>) -> Vec<u8> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let fields = Signer::new(keys)
        .unwrap()
        .sign(message, now)
        .unwrap()
        .expect("the From: domain has a key");
    [fields, message.to_vec()].concat()
}

/// The first eight characters of the `b=` value of each signature on top
/// of `message`: what `header.b` shows of it (RFC 6008 §4).
fn header_b(message: &[u8]) -> Vec<String> {
    // Unfolded (RFC 5322 §2.2.3): a fold is CRLF before a space or tab.
    let text = String::from_utf8_lossy(message)
        .replace("\r\n\t", " ")
        .replace("\r\n ", " ");
    text.lines()
        .take_while(|line| !line.is_empty())
        .filter_map(|line| line.strip_prefix("DKIM-Signature:"))
        .map(|value| {
            let b = value
                .split(';')
                .find_map(|tag| tag.trim().strip_prefix("b="))
                .unwrap();
            b.split_whitespace().collect::<String>()[..8].to_string()
        })
        .collect()
}

/// Sends `content` from `mail_from` after `EHLO helo`; returns the reply
/// to its end.
async fn send(server: &TestServer, helo: &str, mail_from: &str, content: &[u8]) -> Reply {
    let (mut client, greeting) = Client::connect(server.address).await.unwrap();
    assert_eq!(greeting.code, 220);
    assert_eq!(
        client.command(&format!("EHLO {helo}")).await.unwrap().code,
        250
    );
    let mut replies = client
        .send_message(mail_from, &["ann@mx.test"], content, 1)
        .await
        .unwrap();
    assert_eq!(client.command("QUIT").await.unwrap().code, 221);
    replies.pop().unwrap()
}

/// The files in the server's `new/`.
fn stored(server: &TestServer) -> HashSet<PathBuf> {
    std::fs::read_dir(server.maildir.join("new"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect()
}

/// Sends as [`send`] does, expects it stored, and returns the stored
/// message's `Authentication-Results:` field.
async fn results(server: &TestServer, helo: &str, mail_from: &str, content: &[u8]) -> String {
    let before = stored(server);
    let reply = send(server, helo, mail_from, content).await;
    assert_eq!(reply.code, 250, "{reply:?}");
    let new: Vec<PathBuf> = stored(server).difference(&before).cloned().collect();
    assert_eq!(new.len(), 1, "one message stored");
    let message = std::fs::read(&new[0]).unwrap();
    field(&message).expect("an Authentication-Results field")
}

/// The `Authentication-Results:` field of a stored message, with its
/// continuation lines and final CRLF.
fn field(stored: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(stored);
    let start = text.find("Authentication-Results:")?;
    let mut end = start;
    for line in text[start..].split_inclusive("\r\n") {
        if end > start && !line.starts_with('\t') && !line.starts_with(' ') {
            break;
        }
        end += line.len();
    }
    Some(text[start..end].to_string())
}

/// The field as the server writes it: the authserv-id, then each result on
/// its own folded line.
fn expected(parts: &[&str]) -> String {
    format!(
        "Authentication-Results: {AUTHSERV_ID};\r\n\t{}\r\n",
        parts.join(";\r\n\t")
    )
}

/// The HELO identity's result, which every SPF case shares.
fn helo_pass() -> String {
    format!(
        "spf=pass ({AUTHSERV_ID}: domain of postmaster@{HELO} designates 127.0.0.1 as \
         permitted sender) smtp.helo={HELO}"
    )
}

#[tokio::test]
async fn spf_results_for_the_mail_from_identity() {
    let (_dns, server) = start("spf", false).await;
    let cases = [
        (
            "a@spf-pass.example",
            "spf=pass (mx.test: domain of a@spf-pass.example designates 127.0.0.1 as \
             permitted sender) smtp.mailfrom=a@spf-pass.example",
        ),
        (
            "a@spf-fail.example",
            "spf=fail (mx.test: domain of a@spf-fail.example does not designate 127.0.0.1 as \
             permitted sender) smtp.mailfrom=a@spf-fail.example",
        ),
        (
            "a@spf-softfail.example",
            "spf=softfail (mx.test: domain of a@spf-softfail.example reports soft fail for \
             127.0.0.1) smtp.mailfrom=a@spf-softfail.example",
        ),
        (
            "a@spf-temperror.example",
            "spf=temperror (mx.test: temporary dns error validating a@spf-temperror.example) \
             smtp.mailfrom=a@spf-temperror.example",
        ),
        (
            "a@spf-permerror.example",
            "spf=permerror (mx.test: unable to verify SPF record for a@spf-permerror.example) \
             smtp.mailfrom=a@spf-permerror.example",
        ),
        (
            "a@nothing.example",
            "spf=none (mx.test: no SPF records found for a@nothing.example) \
             smtp.mailfrom=a@nothing.example",
        ),
    ];
    for (mail_from, result) in cases {
        let field = results(&server, HELO, mail_from, &message(mail_from)).await;
        assert_eq!(field, expected(&[&helo_pass(), result]), "{mail_from}");
    }
}

/// RFC 7208 §2.4: for `<>` the MAIL FROM identity is postmaster at the
/// HELO domain; a HELO domain without SPF has none.
#[tokio::test]
async fn spf_for_the_null_reverse_path_checks_the_helo_domain() {
    let (_dns, server) = start("spf", false).await;
    let field = results(&server, HELO, "", &message("a@spf-pass.example")).await;
    let mail_from = format!(
        "spf=pass ({AUTHSERV_ID}: domain of postmaster@{HELO} designates 127.0.0.1 as \
         permitted sender) smtp.mailfrom=postmaster@{HELO}"
    );
    assert_eq!(field, expected(&[&helo_pass(), &mail_from]));

    let field = results(&server, "other.example", "", &message("a@spf-pass.example")).await;
    assert_eq!(
        field,
        expected(&[
            "spf=none (mx.test: no SPF records found for postmaster@other.example) \
             smtp.helo=other.example",
            "spf=none (mx.test: no SPF records found for postmaster@other.example) \
             smtp.mailfrom=postmaster@other.example",
        ])
    );
}

#[tokio::test]
async fn dkim_results_for_each_signature() {
    let (_dns, server) = start("dkim", false).await;
    let from = "news@dkim.example";

    // Both keys: one result each, in the order of the signatures.
    let both = signed(
        &message(from),
        vec![rsa("dkim.example"), ed25519("dkim.example")],
    );
    let b = header_b(&both);
    let field = results(&server, HELO, from, &both).await;
    assert_eq!(
        field,
        expected(&[
            &format!(
                "dkim=pass header.d=dkim.example header.s=rsa header.b={}",
                b[0]
            ),
            &format!(
                "dkim=pass header.d=dkim.example header.s=ed header.b={}",
                b[1]
            ),
        ])
    );

    // A signed field changed on the way: the signature fails.
    let original = signed(&message(from), vec![rsa("dkim.example")]);
    let b = header_b(&original);
    let changed = String::from_utf8(original)
        .unwrap()
        .replace("Subject: Hello", "Subject: Hello again")
        .into_bytes();
    let field = results(&server, HELO, from, &changed).await;
    assert_eq!(
        field,
        expected(&[&format!(
            "dkim=fail (verification failed) header.d=dkim.example header.s=rsa header.b={}",
            b[0]
        )])
    );

    // The body changed: it no longer matches bh=, which is reported as
    // neutral, as large receivers do, the signature itself unchecked.
    let mut changed = signed(&message(from), vec![rsa("dkim.example")]);
    changed.extend_from_slice(b"An added line.\r\n");
    let b = header_b(&changed);
    let field = results(&server, HELO, from, &changed).await;
    assert_eq!(
        field,
        expected(&[&format!(
            "dkim=neutral (body hash did not verify) header.d=dkim.example header.s=rsa \
             header.b={}",
            b[0]
        )])
    );

    // The key lookup fails for now: try again later (RFC 6376 §6.1.2).
    let from = "news@dkim-temperror.example";
    let message_temp = signed(&message(from), vec![rsa("dkim-temperror.example")]);
    let b = header_b(&message_temp);
    let field = results(&server, HELO, from, &message_temp).await;
    assert_eq!(
        field,
        expected(&[&format!(
            "dkim=temperror (dns error) header.d=dkim-temperror.example header.s=rsa \
             header.b={}",
            b[0]
        )])
    );

    // No key published: a permanent failure (RFC 6376 §6.1.2).
    let from = "news@dkim-permerror.example";
    let message_perm = signed(&message(from), vec![rsa("dkim-permerror.example")]);
    let b = header_b(&message_perm);
    let field = results(&server, HELO, from, &message_perm).await;
    assert_eq!(
        field,
        expected(&[&format!(
            "dkim=permerror (dns record not found) header.d=dkim-permerror.example \
             header.s=rsa header.b={}",
            b[0]
        )])
    );

    // Not signed.
    let field = results(&server, HELO, from, &message(from)).await;
    assert_eq!(field, expected(&["dkim=none (no signatures)"]));
}

/// What the SPF check of `mail_from` from loopback says, as the DMARC
/// cases record it alongside.
fn spf_parts(mail_from: &str, result: &str, reason: &str) -> [String; 2] {
    [
        helo_pass(),
        format!("spf={result} ({AUTHSERV_ID}: {reason}) smtp.mailfrom={mail_from}"),
    ]
}

fn designates(mail_from: &str) -> String {
    format!("domain of {mail_from} designates 127.0.0.1 as permitted sender")
}

#[tokio::test]
async fn dmarc_results_with_alignment() {
    let (_dns, server) = start("dmarc", false).await;

    // Aligned DKIM and SPF: pass.
    let from = "news@dmarc.example";
    let content = signed(&message(from), vec![rsa("dmarc.example")]);
    let b = header_b(&content);
    let field = results(&server, HELO, from, &content).await;
    let [helo, spf] = spf_parts(from, "pass", &designates(from));
    assert_eq!(
        field,
        expected(&[
            &helo,
            &spf,
            &format!(
                "dkim=pass header.d=dmarc.example header.s=rsa header.b={}",
                b[0]
            ),
            "dmarc=pass header.from=dmarc.example policy.dmarc=reject",
        ])
    );

    // SPF passes for another domain, nothing signs: no identifier
    // aligns with From:, a failure under the domain's policy.
    let mail_from = "a@spf-pass.example";
    let field = results(
        &server,
        HELO,
        mail_from,
        &message("news@quarantine.example"),
    )
    .await;
    let [helo, spf] = spf_parts(mail_from, "pass", &designates(mail_from));
    assert_eq!(
        field,
        expected(&[
            &helo,
            &spf,
            "dkim=none (no signatures)",
            "dmarc=fail (policy not aligned) header.from=quarantine.example \
             policy.dmarc=quarantine",
        ])
    );

    // Relaxed alignment (the default): a subdomain's SPF pass counts
    // (RFC 7489 §3.1.2)...
    let mail_from = "a@bounces.relaxed.example";
    let field = results(&server, HELO, mail_from, &message("news@relaxed.example")).await;
    let [helo, spf] = spf_parts(mail_from, "pass", &designates(mail_from));
    assert_eq!(
        field,
        expected(&[
            &helo,
            &spf,
            "dkim=none (no signatures)",
            "dmarc=pass header.from=relaxed.example policy.dmarc=reject",
        ])
    );

    // ...strict alignment (aspf=s) asks for the same domain.
    let mail_from = "a@bounces.strict.example";
    let field = results(&server, HELO, mail_from, &message("news@strict.example")).await;
    let [helo, spf] = spf_parts(mail_from, "pass", &designates(mail_from));
    assert_eq!(
        field,
        expected(&[
            &helo,
            &spf,
            "dkim=none (no signatures)",
            "dmarc=fail (policy not aligned) header.from=strict.example policy.dmarc=reject",
        ])
    );

    // The policy lookup fails for now.
    let mail_from = "a@spf-pass.example";
    let field = results(
        &server,
        HELO,
        mail_from,
        &message("news@dmarc-temperror.example"),
    )
    .await;
    let [helo, spf] = spf_parts(mail_from, "pass", &designates(mail_from));
    assert_eq!(
        field,
        expected(&[
            &helo,
            &spf,
            "dkim=none (no signatures)",
            "dmarc=temperror (dns error) header.from=dmarc-temperror.example \
             policy.dmarc=none",
        ])
    );

    // A policy record that cannot be read.
    let field = results(
        &server,
        HELO,
        mail_from,
        &message("news@dmarc-permerror.example"),
    )
    .await;
    assert_eq!(
        field,
        expected(&[
            &helo,
            &spf,
            "dkim=none (no signatures)",
            "dmarc=permerror (dns record parse error) header.from=dmarc-permerror.example \
             policy.dmarc=none",
        ])
    );

    // No policy published.
    let field = results(&server, HELO, mail_from, &message("news@nothing.example")).await;
    assert_eq!(
        field,
        expected(&[
            &helo,
            &spf,
            "dkim=none (no signatures)",
            "dmarc=none header.from=nothing.example policy.dmarc=none",
        ])
    );
}

/// RFC 7489 §6.7: with the option on, a failure under `p=reject` is
/// refused at the end of data, and nothing is stored; under `quarantine`
/// it is stored with the failure recorded.
/// Messages held for their checks share one memory bound: while one holds
/// most of it, another that would go past it is refused at its end with
/// `452 4.3.1` and holds nothing; once the first ends, mail is taken again.
#[tokio::test]
async fn held_messages_share_a_memory_bound() {
    let dns = DnsServer::start(zone()).await;
    let address = dns.address();
    let server = TestServer::start(move |settings| {
        settings.authentication = Some(authentication::Settings {
            checks: Checks::parse("spf").unwrap(),
            authserv_id: AUTHSERV_ID.to_string(),
            dns_server: Some(address),
            arc_key: None,
        });
        settings.max_held_memory = 3000;
    })
    .await;
    let memory = server
        .shared
        .authentication
        .as_ref()
        .unwrap()
        .memory
        .clone();
    let (mut first, _) = Client::connect(server.address).await.unwrap();
    assert_eq!(
        first.command(&format!("EHLO {HELO}")).await.unwrap().code,
        250
    );
    first
        .send(b"MAIL FROM:<a@example.org>\r\nRCPT TO:<ann@mx.test>\r\nDATA\r\n")
        .await
        .unwrap();
    for code in [250, 250, 354] {
        assert_eq!(first.reply().await.unwrap().code, code);
    }
    let mut big = message("a@example.org");
    big.extend(b"xxxxxxxx\r\n".repeat(250));
    first.send(&big).await.unwrap();
    support::wait_until("the first message held", || memory.held() >= 2500).await;

    // About 700 octets: more than the room left.
    let mut second = message("a@example.org");
    second.extend(b"yyyyyyyy\r\n".repeat(50));
    let refused = send(&server, HELO, "a@example.org", &second).await;
    assert_eq!(refused.code, 452, "{refused:?}");
    assert!(refused.lines[0].starts_with("4.3.1 "), "{refused:?}");
    assert!(memory.held() <= 3000);

    first.send(b".\r\n").await.unwrap();
    assert_eq!(first.reply().await.unwrap().code, 250);
    assert_eq!(memory.held(), 0);
    let taken = send(&server, HELO, "a@example.org", &second).await;
    assert_eq!(taken.code, 250, "{taken:?}");
    assert_eq!(server.delivered().len(), 2);
    assert_eq!(memory.held(), 0);
}

#[tokio::test]
async fn dmarc_reject_is_refused_when_enforced() {
    let (_dns, server) = start("dmarc", true).await;
    let reply = send(
        &server,
        HELO,
        "a@spf-fail.example",
        &message("news@reject.example"),
    )
    .await;
    assert_eq!(reply.code, 550, "{reply:?}");
    assert!(reply.lines[0].starts_with("5.7.1 "), "{reply:?}");
    assert!(reply.lines[0].contains("reject.example"), "{reply:?}");
    assert!(server.delivered().is_empty());
    assert!(server.tmp_is_empty());

    let mail_from = "a@spf-fail.example";
    let field = results(
        &server,
        HELO,
        mail_from,
        &message("news@quarantine.example"),
    )
    .await;
    assert!(field.contains("\tdmarc=fail"), "{field}");
    assert!(field.contains("policy.dmarc=quarantine"), "{field}");
}

#[tokio::test]
async fn dmarc_reject_is_recorded_when_not_enforced() {
    let (_dns, server) = start("dmarc", false).await;
    let mail_from = "a@spf-fail.example";
    let field = results(&server, HELO, mail_from, &message("news@reject.example")).await;
    let [helo, spf] = spf_parts(
        mail_from,
        "fail",
        "domain of a@spf-fail.example does not designate 127.0.0.1 as permitted sender",
    );
    assert_eq!(
        field,
        expected(&[
            &helo,
            &spf,
            "dkim=none (no signatures)",
            "dmarc=fail (policy not aligned) header.from=reject.example policy.dmarc=reject",
        ])
    );
}

/// Debian's Python, which has dkimpy (python3-dkim) whatever `python3` is
/// first on PATH.
const DEBIAN_PYTHON: &str = "/usr/bin/python3";

/// Signs `message` with dkimpy: `key` in the form dkimpy reads (PKCS#1
/// PEM for RSA, the base64 seed for Ed25519), relaxed/simple
/// canonicalisation, as `selector` of dkim.example. Fails loudly when
/// dkimpy is missing: `.ci/run` installs it.
fn dkimpy_sign(message: &[u8], selector: &str, algorithm: &str, key: &[u8]) -> Vec<u8> {
    use std::io::Write;
    use std::process::{Command, Stdio};

    const SIGN: &str = "import sys, dkim\n\
        key = open(sys.argv[1], 'rb').read()\n\
        message = sys.stdin.buffer.read()\n\
        field = dkim.sign(message, sys.argv[2].encode(), b'dkim.example', key,\n\
            canonicalize=(b'relaxed', b'simple'), signature_algorithm=sys.argv[3].encode(),\n\
            include_headers=[b'from', b'to', b'subject', b'date', b'message-id'])\n\
        sys.stdout.buffer.write(field + message)\n";
    let scratch = support::Scratch(
        std::env::temp_dir().join(format!("smtpwire-dkimpy-{}-{selector}", std::process::id())),
    );
    std::fs::create_dir_all(&scratch.0).unwrap();
    let key_path = scratch.0.join("key");
    std::fs::write(&key_path, key).unwrap();
    let mut child = Command::new(DEBIAN_PYTHON)
        .args(["-c", SIGN])
        .arg(&key_path)
        .args([selector, algorithm])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("{DEBIAN_PYTHON}: {error}"));
    child.stdin.take().unwrap().write_all(message).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "dkimpy could not sign (is python3-dkim installed? apt-get install python3-dkim \
         python3-nacl): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// The RSA test key as PKCS#1 PEM, which dkimpy reads.
fn rsa_pkcs1_pem() -> Vec<u8> {
    use rsa::pkcs1::EncodeRsaPrivateKey;
    use rsa::pkcs8::DecodePrivateKey;

    let pem = std::fs::read_to_string(key_file("rsa2048.pem")).unwrap();
    let key = rsa::RsaPrivateKey::from_pkcs8_pem(&pem).unwrap();
    key.to_pkcs1_pem(rsa::pkcs8::LineEnding::LF)
        .unwrap()
        .as_bytes()
        .to_vec()
}

/// The Ed25519 test key's 32-octet seed in base64, which dkimpy reads: the
/// last octets of its PKCS#8 form (RFC 8410 §7).
fn ed25519_seed() -> Vec<u8> {
    use base64::Engine;

    let pem = std::fs::read_to_string(key_file("ed25519.pem")).unwrap();
    let body: String = pem
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap();
    base64::engine::general_purpose::STANDARD
        .encode(&der[der.len() - 32..])
        .into_bytes()
}

/// A message signed by independent software verifies here.
#[tokio::test]
async fn signatures_made_by_dkimpy_pass() {
    let (_dns, server) = start("dkim", false).await;
    let from = "news@dkim.example";
    let content = message(from);
    for (selector, algorithm, key) in [
        ("rsa", "rsa-sha256", rsa_pkcs1_pem()),
        ("ed", "ed25519-sha256", ed25519_seed()),
    ] {
        let signed = dkimpy_sign(&content, selector, algorithm, &key);
        let b = header_b(&signed);
        let field = results(&server, HELO, from, &signed).await;
        assert_eq!(
            field,
            expected(&[&format!(
                "dkim=pass header.i=@dkim.example header.s={selector} header.b={} \
                 header.d=dkim.example",
                b[0]
            )]),
            "{algorithm}"
        );
    }
}

/// RFC 8601 §5: a field that claims this host's authserv-id in a message
/// from outside is removed; one under another id stays.
#[tokio::test]
async fn fields_claiming_this_host_are_removed() {
    let (_dns, server) = start("spf", false).await;
    let mail_from = "a@spf-fail.example";
    let forged = [
        format!("Authentication-Results: {AUTHSERV_ID}; spf=pass smtp.mailfrom={mail_from}\r\n")
            .as_bytes(),
        b"Authentication-Results: elsewhere.example; dkim=pass header.d=x.example\r\n",
        &message(mail_from),
    ]
    .concat();
    let before = stored(&server);
    assert_eq!(send(&server, HELO, mail_from, &forged).await.code, 250);
    let new: Vec<PathBuf> = stored(&server).difference(&before).cloned().collect();
    let text = String::from_utf8(std::fs::read(&new[0]).unwrap()).unwrap();
    assert_eq!(text.matches("Authentication-Results:").count(), 2, "{text}");
    assert_eq!(text.matches("spf=pass smtp.mailfrom").count(), 0, "{text}");
    assert!(text.contains("\tspf=fail ("), "{text}");
    assert!(text.contains("Authentication-Results: elsewhere.example; dkim=pass"));
}

/// LMTP (RFC 2033 §4.2): every recipient gets the same verdict, stored
/// with the same results or refused alike.
#[tokio::test]
async fn lmtp_gives_every_recipient_the_same_verdict() {
    let dns = DnsServer::start(zone()).await;
    let address = dns.address();
    let server = TestServer::start(move |settings| {
        settings.lmtp = true;
        settings.authentication = Some(authentication::Settings {
            checks: Checks::parse("dmarc").unwrap(),
            authserv_id: AUTHSERV_ID.to_string(),
            dns_server: Some(address),
            arc_key: None,
        });
        settings.reject_on_dmarc_policy = true;
    })
    .await;
    let recipients = ["ann@mx.test", "bob@mx.test"];
    let transaction = |from: &'static str| async move {
        let (mut client, _) = Client::connect(server.address).await.unwrap();
        assert_eq!(
            client.command(&format!("LHLO {HELO}")).await.unwrap().code,
            250
        );
        let replies = client
            .send_message("a@spf-fail.example", &recipients, &message(from), 2)
            .await
            .unwrap();
        replies[4..]
            .iter()
            .map(|reply| reply.code)
            .collect::<Vec<u16>>()
    };
    assert_eq!(transaction("news@reject.example").await, vec![550, 550]);
    assert!(server.delivered().is_empty());
    assert_eq!(transaction("news@quarantine.example").await, vec![250, 250]);
    let fields: Vec<String> = server
        .delivered()
        .iter()
        .map(|stored| field(stored).unwrap())
        .collect();
    assert_eq!(fields.len(), 2);
    assert_eq!(fields[0], fields[1]);
    assert!(fields[0].contains("\tdmarc=fail (policy not aligned) header.from=quarantine.example"));
}
