//! The sender (`send`) against the receiving server
//! (`server`), both in-process, over real loopback TCP: every
//! message must land in the Maildir byte for byte.

// Shared with the other test files, each of which uses a part.
#[allow(dead_code)]
mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use smtpwire::auth::{Credentials, PlainCredentials, Secret};
use smtpwire::{ForwardPath, ReversePath, Text};
use smtpwire_tokio::client::{tls, AuthConfig, LongLines, Outcome, RecipientStatus};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use smtpwire_programs::send::{ContentFor, Report, Run, Settings};
use support::session_client::settings;
use support::{numbered_message, numbered_messages, TestServer};

/// Settings for `server` from `a@example.com` to `recipients`.
fn to(server: &TestServer, tls: bool, recipients: &[&str]) -> Settings {
    let mut settings = settings(server.address, &server.certificate, tls);
    settings.from = ReversePath::parse("<a@example.com>").unwrap();
    settings.to = recipients
        .iter()
        .map(|to| ForwardPath::parse(&format!("<{to}>")).unwrap())
        .collect();
    settings
}

fn same(content: &[u8]) -> ContentFor {
    let content = Bytes::copy_from_slice(content);
    Arc::new(move |_| content.clone())
}

/// A run and every report it made, in the order they came.
struct Collected {
    run: Run,
    outcomes: Vec<(usize, Outcome)>,
    /// Messages not sent and connection failures, as the program prints
    /// them.
    errors: Vec<String>,
}

impl Collected {
    fn succeeded(&self) -> bool {
        self.run.succeeded()
    }
}

async fn collect(
    settings: Settings,
    content: ContentFor,
    count: usize,
    connections: usize,
) -> Collected {
    let (mut outcomes, mut errors) = (Vec::new(), Vec::new());
    let run =
        smtpwire_programs::send::run(Arc::new(settings), content, count, connections, |report| {
            match report {
                Report::Outcome { number, outcome } => outcomes.push((number, outcome)),
                Report::NotSent { number, error } => {
                    errors.push(format!("message {number} not sent: {error}"))
                }
                Report::Connection { error, .. } => errors.push(error),
            }
        })
        .await;
    outcomes.sort_by_key(|(number, _)| *number);
    Collected {
        run,
        outcomes,
        errors,
    }
}

async fn send(
    settings: Settings,
    content: ContentFor,
    count: usize,
    connections: usize,
) -> Collected {
    let run = collect(settings, content, count, connections).await;
    assert!(
        run.succeeded(),
        "errors {:?}, outcomes {:?}",
        run.errors,
        run.outcomes
    );
    run
}

/// What the Maildir holds, less the trace fields, sorted.
fn stored_text(server: &TestServer) -> String {
    String::from_utf8_lossy(&server.delivered()[0]).into_owned()
}

#[tokio::test]
async fn plain_with_every_line_end_made_crlf() {
    let server = TestServer::start(|_| {}).await;
    let content = b"Subject: plain\n\nbare LF\n.leading dot\rbare CR\r\nlast line".to_vec();
    let run = send(to(&server, false, &["b@example.org"]), same(&content), 1, 1).await;
    let (_, outcome) = &run.outcomes[0];
    assert!(matches!(
        &outcome.recipients()[0].status,
        RecipientStatus::Accepted(reply) if reply.code().as_u16() == 250
    ));
    assert_eq!(
        server.contents(),
        [b"Subject: plain\r\n\r\nbare LF\r\n.leading dot\r\nbare CR\r\nlast line\r\n".to_vec()]
    );
    assert!(stored_text(&server).contains(" with ESMTP id "));
}

#[tokio::test]
async fn starttls_trusting_the_servers_certificate() {
    let server = TestServer::start(|_| {}).await;
    let content = b"Subject: tls\r\n\r\nsecret\r\n";
    send(to(&server, true, &["b@example.org"]), same(content), 1, 1).await;
    assert_eq!(server.contents(), [content.to_vec()]);
    assert!(stored_text(&server).contains(" with ESMTPS id "));
}

#[tokio::test]
async fn starttls_required_fails_without_trust() {
    let server = TestServer::start(|_| {}).await;
    let mut settings = to(&server, true, &["b@example.org"]);
    let stranger = smtpwire_programs::server::tls::Identity::self_signed("other.test").unwrap();
    settings.client = settings
        .client
        .tls_config(tls::trusting(stranger.chain.clone()).unwrap());
    let run = collect(settings, same(b"x\r\n"), 1, 1).await;
    assert!(!run.succeeded());
    assert_eq!(run.run.delivered, 0);
    assert!(server.delivered().is_empty());
}

/// A scratch directory for one test's files, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("smtpwire-send-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A self-signed certificate and key made the usual way, with `openssl req
/// -x509`, whose default configuration marks the certificate `critical
/// CA:TRUE`; returns the PEM certificate's and key's paths.
fn openssl_self_signed(dir: &Path, stem: &str) -> (PathBuf, PathBuf) {
    let (cert, key) = (
        dir.join(format!("{stem}.pem")),
        dir.join(format!("{stem}.key")),
    );
    let made = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
        ])
        .args([
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-days",
            "2",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("the openssl binary is needed for this test (apt-get install openssl)");
    assert!(made.status.success(), "{made:?}");
    let text = std::process::Command::new("openssl")
        .args(["x509", "-noout", "-text", "-in"])
        .arg(&cert)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("CA:TRUE"), "not marked a CA: {text}");
    (cert, key)
}

/// The receiving server with the certificate chain and key in these files.
async fn serving(cert: &Path, key: &Path) -> TestServer {
    let identity = smtpwire_programs::server::tls::Identity::from_pem_files(cert, key).unwrap();
    TestServer::start(move |settings| settings.tls = Some(identity)).await
}

/// Settings for STARTTLS required, trusting the PEM file `trust` for `name`.
fn trusting(server: &TestServer, trust: &Path, name: &str) -> Settings {
    let mut settings = to(server, true, &["b@example.org"]);
    settings.client = settings
        .client
        .tls_config(tls::trust_file(trust).unwrap())
        .server_name(name);
    settings
}

#[tokio::test]
async fn starttls_pins_a_self_signed_certificate_marked_ca() {
    let scratch = Scratch::new("pinned");
    let (cert, key) = openssl_self_signed(&scratch.0, "server");
    let server = serving(&cert, &key).await;
    let content = b"Subject: pinned\r\n\r\nsecret\r\n";
    send(trusting(&server, &cert, "127.0.0.1"), same(content), 1, 1).await;
    assert_eq!(server.contents(), [content.to_vec()]);
    assert!(stored_text(&server).contains(" with ESMTPS id "));
}

#[tokio::test]
async fn starttls_refuses_another_self_signed_certificate() {
    let scratch = Scratch::new("stranger");
    let (cert, key) = openssl_self_signed(&scratch.0, "server");
    let (other, _) = openssl_self_signed(&scratch.0, "other");
    let server = serving(&cert, &key).await;
    let run = collect(trusting(&server, &other, "127.0.0.1"), same(b"x\r\n"), 1, 1).await;
    assert!(!run.succeeded());
    assert!(
        run.errors
            .iter()
            .any(|e| e.contains("invalid peer certificate")),
        "{:?}",
        run.errors
    );
    assert!(server.delivered().is_empty());
}

/// A CA, and a server certificate it signed for `localhost` and 127.0.0.1,
/// written as `ca.pem`, `chain.pem` (server certificate, then CA) and
/// `server.key`.
fn ca_signed(dir: &Path) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let params =
        CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
    let leaf = params.signed_by(&key, &ca, &ca_key).unwrap();
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    std::fs::write(dir.join("chain.pem"), leaf.pem() + &ca.pem()).unwrap();
    std::fs::write(dir.join("server.key"), key.serialize_pem()).unwrap();
}

#[tokio::test]
async fn starttls_verifies_a_ca_signed_chain_by_name() {
    let scratch = Scratch::new("chain");
    ca_signed(&scratch.0);
    let server = serving(&scratch.0.join("chain.pem"), &scratch.0.join("server.key")).await;
    let ca = scratch.0.join("ca.pem");
    let content = b"Subject: chain\r\n\r\nsigned\r\n";
    send(trusting(&server, &ca, "localhost"), same(content), 1, 1).await;
    assert_eq!(server.contents(), [content.to_vec()]);

    // The chain is good, but not for this name.
    let run = collect(
        trusting(&server, &ca, "mx.elsewhere.test"),
        same(content),
        1,
        1,
    )
    .await;
    assert!(!run.succeeded());
    assert!(
        run.errors.iter().any(|e| e.contains("not valid for name")),
        "{:?}",
        run.errors
    );
    assert_eq!(server.delivered().len(), 1);
}

fn alice(password: &str) -> AuthConfig {
    AuthConfig::new(Credentials::Plain(
        PlainCredentials::new(
            None,
            Text::new("alice").unwrap(),
            Secret::new(password).unwrap(),
        )
        .unwrap(),
    ))
}

#[tokio::test]
async fn auth_plain_over_tls() {
    let server = TestServer::start(|settings| {
        settings.users =
            Some(smtpwire_programs::server::users::Users::parse("alice:correct horse\n").unwrap());
        settings.require_auth = true;
    })
    .await;
    let content = b"Subject: auth\r\n\r\nsubmitted\r\n";
    let mut settings = to(&server, true, &["b@example.org"]);
    settings.client = settings.client.auth(alice("correct horse"));
    send(settings.clone(), same(content), 1, 1).await;
    assert_eq!(server.contents(), [content.to_vec()]);
    assert!(stored_text(&server).contains(" with ESMTPSA id "));

    settings.client = settings.client.auth(alice("wrong"));
    let refused = collect(settings, same(content), 1, 1).await;
    assert!(!refused.succeeded());
    assert!(
        refused
            .errors
            .iter()
            .any(|e| e.contains("authentication rejected")),
        "{:?}",
        refused.errors
    );
    assert_eq!(server.delivered().len(), 1);
}

#[tokio::test]
async fn auth_prefers_scram_against_hashed_users() {
    let line = format!(
        "alice:{}\n",
        smtpwire_programs::server::users::hash_password("correct horse").unwrap()
    );
    let server = TestServer::start(|settings| {
        settings.users = Some(smtpwire_programs::server::users::Users::parse(&line).unwrap());
        settings.require_auth = true;
    })
    .await;
    let content = b"Subject: scram\r\n\r\nsubmitted\r\n";
    let mut settings = to(&server, true, &["b@example.org"]);
    let credentials = |password| alice(password).credentials;
    settings.client = settings
        .client
        .auth(smtpwire_programs::send::auth_config(credentials(
            "correct horse",
        )));
    send(settings.clone(), same(content), 1, 1).await;
    assert_eq!(server.contents(), [content.to_vec()]);

    // A wrong password fails at the SCRAM proof, not with PLAIN's 535.
    settings.client = settings
        .client
        .auth(smtpwire_programs::send::auth_config(credentials("wrong")));
    let refused = collect(settings, same(content), 1, 1).await;
    assert!(!refused.succeeded());
    assert!(
        refused.errors.iter().any(|e| e.contains("invalid-proof")),
        "{:?}",
        refused.errors
    );
    assert_eq!(server.delivered().len(), 1);
}

#[tokio::test]
async fn lmtp_reports_each_recipient() {
    let server = TestServer::start(|settings| settings.lmtp = true).await;
    let mut settings = to(&server, false, &["one@example.org", "two@example.org"]);
    settings.client = settings.client.lmtp();
    let content = b"Subject: lmtp\r\n\r\nfor two\r\n";
    let run = send(settings, same(content), 1, 1).await;
    let (_, outcome) = &run.outcomes[0];
    assert_eq!(outcome.recipients().len(), 2);
    for recipient in outcome.recipients() {
        assert!(recipient.status.is_accepted(), "{recipient}");
    }
    assert_eq!(server.contents(), [content.to_vec(), content.to_vec()]);
    let text: Vec<String> = server
        .delivered()
        .iter()
        .map(|file| String::from_utf8_lossy(file).into_owned())
        .collect();
    assert!(text.iter().all(|file| file.contains(" with LMTP id ")));
    assert!(text
        .iter()
        .any(|f| f.contains("Delivered-To: <one@example.org>")));
    assert!(text
        .iter()
        .any(|f| f.contains("Delivered-To: <two@example.org>")));
}

/// A loopback relay in front of `server` that records each read from the
/// client: on loopback with TCP_NODELAY, one write arrives as one read
/// unless the relay falls behind, so a group seen together was written
/// together.
struct Recorder {
    address: SocketAddr,
    reads: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl Recorder {
    async fn start(server: SocketAddr) -> Recorder {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let reads = Arc::new(Mutex::new(Vec::new()));
        let record = reads.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let upstream = TcpStream::connect(server).await.unwrap();
                upstream.set_nodelay(true).unwrap();
                let (mut client_in, mut client_out) = client.into_split();
                let (mut server_in, mut server_out) = upstream.into_split();
                let record = record.clone();
                tokio::spawn(async move {
                    let mut buffer = vec![0; 256 * 1024];
                    loop {
                        match client_in.read(&mut buffer).await {
                            Ok(0) | Err(_) => break,
                            Ok(count) => {
                                record.lock().unwrap().push(buffer[..count].to_vec());
                                if server_out.write_all(&buffer[..count]).await.is_err() {
                                    break;
                                }
                            }
                        }
                    }
                    let _ = server_out.shutdown().await;
                });
                tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut server_in, &mut client_out).await;
                });
            }
        });
        Recorder { address, reads }
    }

    fn reads(&self) -> Vec<String> {
        self.reads
            .lock()
            .unwrap()
            .iter()
            .map(|read| String::from_utf8_lossy(read).into_owned())
            .collect()
    }
}

async fn through_recorder(pipelining: bool, chunking: bool) -> (TestServer, Vec<String>) {
    let server = TestServer::start(|_| {}).await;
    let recorder = Recorder::start(server.address).await;
    let mut settings = to(&server, false, &["b@example.org", "c@example.org"]);
    settings.server = recorder.address.to_string();
    settings.client = settings.client.pipelining(pipelining).chunking(chunking);
    let content: ContentFor = Arc::new(|number| Bytes::from(numbered_message(number)));
    send(settings, content, 3, 1).await;
    assert_eq!(server.contents(), numbered_messages(3));
    (server, recorder.reads())
}

const GROUP: &str =
    "MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\nRCPT TO:<c@example.org>\r\nDATA\r\n";

#[tokio::test]
async fn pipelining_on_sends_the_envelope_and_the_end_of_data_in_one_write_each() {
    let (_server, reads) = through_recorder(true, false).await;
    assert!(reads.iter().any(|read| read == GROUP), "{reads:?}");
    // The last content line and the end of data leave together.
    assert!(
        reads
            .iter()
            .any(|read| read.ends_with(".dot\r\n.\r\n") && read.starts_with("Subject:")),
        "{reads:?}"
    );
}

#[tokio::test]
async fn pipelining_off_sends_one_command_at_a_time() {
    let (_server, reads) = through_recorder(false, false).await;
    assert!(reads
        .iter()
        .any(|read| read == "MAIL FROM:<a@example.com>\r\n"));
    assert!(
        !reads
            .iter()
            .any(|read| read.contains("MAIL FROM") && read.contains("RCPT TO")),
        "{reads:?}"
    );
}

#[tokio::test]
async fn bdat_when_chunking_is_offered() {
    let (_server, reads) = through_recorder(true, true).await;
    let wire = reads.concat();
    assert!(wire.contains("BDAT "), "{wire}");
    assert!(!wire.contains("DATA\r\n"), "{wire}");
    // BDAT content is not dot-stuffed.
    assert!(wire.contains("\r\n.dot\r\n") && !wire.contains("..dot"));
}

/// A message whose third line is 1200 octets long.
fn with_long_line() -> Vec<u8> {
    let mut content = b"Subject: long\r\n\r\n".to_vec();
    content.extend_from_slice(&[b'x'; 1200]);
    content.extend_from_slice(b"\r\nend\r\n");
    content
}

#[tokio::test]
async fn a_long_line_is_refused_before_anything_of_the_message_goes() {
    let server = TestServer::start(|_| {}).await;
    let recorder = Recorder::start(server.address).await;
    let mut settings = to(&server, false, &["b@example.org"]);
    settings.server = recorder.address.to_string();
    let run = collect(settings.clone(), same(&with_long_line()), 1, 1).await;
    assert!(!run.succeeded());
    assert!(
        run.errors
            .iter()
            .any(|e| e.contains("message 0 not sent: line 3 of the content is 1200 octets")),
        "{:?}",
        run.errors
    );
    assert!(!recorder.reads().concat().contains("MAIL FROM"));
    assert!(server.delivered().is_empty());

    // Wrapped as Postfix does: 998 octets, then CRLF, a space and the rest.
    settings.client = settings.client.long_lines(LongLines::Wrap);
    send(settings, same(&with_long_line()), 1, 1).await;
    let wrapped = format!(
        "Subject: long\r\n\r\n{}\r\n {}\r\nend\r\n",
        "x".repeat(998),
        "x".repeat(202)
    );
    assert_eq!(server.contents(), [wrapped.into_bytes()]);
}

#[tokio::test]
async fn eight_bit_content_is_declared_to_a_server_that_offers_8bitmime() {
    let server = TestServer::start(|_| {}).await;
    let recorder = Recorder::start(server.address).await;
    let mut settings = to(&server, false, &["b@example.org"]);
    settings.server = recorder.address.to_string();
    let content = "Subject: Grüße\r\n\r\nÀ bientôt\r\n".as_bytes();
    send(settings, same(content), 1, 1).await;
    assert!(recorder
        .reads()
        .concat()
        .contains("MAIL FROM:<a@example.com> BODY=8BITMIME\r\n"));
    assert_eq!(server.contents(), [content.to_vec()]);
}

/// A server without 8BITMIME that answers each command line in turn and
/// records them: EHLO with PIPELINING only, 250 to MAIL and RCPT, 354 to
/// DATA and 250 at its end, 221 to QUIT.
async fn seven_bit_server() -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let open = Arc::new(Semaphore::new(Semaphore::MAX_PERMITS));
    scripted_server(open).await
}

/// A server without 8BITMIME that records the commands it gets; each
/// reply to an end of data waits for a permit of `gate`.
async fn scripted_server(gate: Arc<Semaphore>) -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let commands = Arc::new(Mutex::new(Vec::new()));
    let record = commands.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (record, gate) = (record.clone(), gate.clone());
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = tokio::io::BufReader::new(read).lines();
                write.write_all(b"220 old.test ESMTP\r\n").await.unwrap();
                let mut in_data = false;
                while let Ok(Some(line)) = lines.next_line().await {
                    let reply: &[u8] = if in_data {
                        if line != "." {
                            continue;
                        }
                        in_data = false;
                        gate.acquire().await.unwrap().forget();
                        b"250 queued\r\n"
                    } else {
                        record.lock().unwrap().push(line.clone());
                        match line.split(' ').next().unwrap_or_default() {
                            "EHLO" => b"250-old.test\r\n250 PIPELINING\r\n",
                            "MAIL" | "RCPT" => b"250 ok\r\n",
                            "DATA" => {
                                in_data = true;
                                b"354 go\r\n"
                            }
                            "QUIT" => b"221 bye\r\n",
                            _ => b"500 what\r\n",
                        }
                    };
                    if write.write_all(reply).await.is_err() || reply.starts_with(b"221") {
                        break;
                    }
                }
            });
        }
    });
    (address, commands)
}

#[tokio::test]
async fn eight_bit_content_is_refused_by_a_server_without_8bitmime() {
    let (address, commands) = seven_bit_server().await;
    let stranger = smtpwire_programs::server::tls::Identity::self_signed("unused.test").unwrap();
    let mut settings = settings(address, &stranger.chain[0], false);
    settings.from = ReversePath::parse("<a@example.com>").unwrap();
    settings.to = vec![ForwardPath::parse("<b@example.org>").unwrap()];

    let run = collect(
        settings.clone(),
        same("Subject: Grüße\r\n\r\n8 bits\r\n".as_bytes()),
        1,
        1,
    )
    .await;
    assert!(!run.succeeded());
    assert!(run.outcomes.is_empty());
    assert!(
        run.errors.iter().any(|e| e.contains("8BITMIME")),
        "{:?}",
        run.errors
    );
    // Refused before its MAIL: nothing of the message went.
    assert_eq!(*commands.lock().unwrap(), ["EHLO client.example", "QUIT"]);

    // The same server takes 7-bit content.
    commands.lock().unwrap().clear();
    send(settings, same(b"Subject: ascii\r\n\r\n7 bits\r\n"), 1, 1).await;
    assert!(commands
        .lock()
        .unwrap()
        .contains(&"MAIL FROM:<a@example.com>".to_string()));
}

#[tokio::test]
async fn each_outcome_is_reported_as_its_transaction_ends() {
    // The server answers the first end of data at once and holds the
    // others back until the test lets them go.
    let gate = Arc::new(Semaphore::new(1));
    let (address, _) = scripted_server(gate.clone()).await;
    let stranger = smtpwire_programs::server::tls::Identity::self_signed("unused.test").unwrap();
    let mut settings = settings(address, &stranger.chain[0], false);
    settings.from = ReversePath::parse("<a@example.com>").unwrap();
    settings.to = vec![ForwardPath::parse("<b@example.org>").unwrap()];
    let (reports, mut reported) = tokio::sync::mpsc::unbounded_channel();
    let run = tokio::spawn(smtpwire_programs::send::run(
        Arc::new(settings),
        same(b"x\r\n"),
        3,
        1,
        move |report| {
            let _ = reports.send(report);
        },
    ));
    // Message 0's outcome comes while the run waits for message 1's.
    let first = tokio::time::timeout(Duration::from_secs(10), reported.recv())
        .await
        .expect("the first outcome, before the run ends")
        .unwrap();
    assert!(
        matches!(&first, Report::Outcome { number: 0, outcome } if outcome.all_accepted()),
        "{first:?}"
    );
    assert!(!run.is_finished());
    gate.add_permits(2);
    let run = run.await.unwrap();
    assert!(run.succeeded(), "{run:?}");
    let mut numbers = Vec::new();
    while let Ok(report) = reported.try_recv() {
        if let Report::Outcome { number, .. } = report {
            numbers.push(number);
        }
    }
    assert_eq!(numbers, [1, 2]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ten_mib_message() {
    let server = TestServer::start(|settings| settings.max_message_size = Some(32 << 20)).await;
    let line = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.....\r\n.x\r\n";
    let mut content = b"Subject: big\r\n\r\n".to_vec();
    while content.len() < 10 << 20 {
        content.extend_from_slice(line);
    }
    send(to(&server, true, &["b@example.org"]), same(&content), 1, 1).await;
    assert_eq!(server.contents(), [content]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_messages_over_one_connection() {
    let server = TestServer::start(|_| {}).await;
    let content: ContentFor = Arc::new(|number| Bytes::from(numbered_message(number)));
    let run = send(to(&server, false, &["b@example.org"]), content, 1000, 1).await;
    assert_eq!(run.run.delivered, 1000);
    assert_eq!(server.shared.stats.messages(), 1000);
    assert_eq!(server.contents(), numbered_messages(1000));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_connections() {
    let server = TestServer::start(|_| {}).await;
    let content: ContentFor = Arc::new(|number| Bytes::from(numbered_message(number)));
    let run = send(to(&server, true, &["b@example.org"]), content, 100, 50).await;
    assert_eq!(run.run.delivered, 100);
    assert_eq!(server.contents(), numbered_messages(100));
}

#[tokio::test]
async fn a_refused_recipient_fails_the_run_but_not_the_others() {
    let server = TestServer::start(|settings| settings.max_recipients = Some(1)).await;
    let settings = to(&server, false, &["b@example.org", "c@example.org"]);
    let run = collect(settings, same(b"x\r\n"), 1, 1).await;
    assert!(!run.succeeded());
    let (_, outcome) = &run.outcomes[0];
    assert!(outcome.recipients()[0].status.is_accepted());
    assert!(matches!(
        outcome.recipients()[1].status,
        RecipientStatus::Refused(_)
    ));
    assert_eq!(server.delivered().len(), 1);
}

#[test]
fn the_generated_message_has_the_usual_fields() {
    let from = ReversePath::parse("<a@example.com>").unwrap();
    let to = [ForwardPath::parse("<b@example.org>").unwrap()];
    let message = String::from_utf8(smtpwire_programs::send::message::generated(
        7,
        &from,
        &to,
        "client.example",
    ))
    .unwrap();
    for field in [
        "Date: ",
        "From: <a@example.com>\r\n",
        "To: <b@example.org>\r\n",
        "Subject: smtpwire test message 7\r\n",
        "Message-ID: <",
    ] {
        assert!(message.contains(field), "{field} in {message}");
    }
    assert!(message.contains("@client.example>\r\n\r\n"));
    assert!(message.ends_with("\r\n"));
}
