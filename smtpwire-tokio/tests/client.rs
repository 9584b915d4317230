//! The client driver against a scripted server on loopback: outcomes per
//! recipient, pipelining with one write per group, STARTTLS with a pinned
//! certificate, timeouts, LMTP, CHUNKING and AUTH.

use std::pin::Pin;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use smtpwire::auth::{Credentials, PlainCredentials, Secret};
use smtpwire::client::{
    ClientError, ClientEvent, MessageError, SessionError, TransactionFailure, Wait,
};
use smtpwire::Text;
use smtpwire_tokio::client::{
    tls, AuthConfig, Client, ClientBuilder, ConnectionError, Error, Message, StartTlsPolicy,
    UsageError,
};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

/// Bounds every test: a hang is a failure, not a stuck run.
const TEST_LIMIT: Duration = Duration::from_secs(20);

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// What the scripted server does.
#[derive(Clone, Default)]
struct Script {
    /// EHLO keywords after the name.
    keywords: Vec<&'static str>,
    /// LHLO instead of EHLO, and one reply per accepted recipient after
    /// the end of data: 452 for a recipient whose address has "full".
    lmtp: bool,
    /// Offers STARTTLS and upgrades with this.
    tls: Option<TlsAcceptor>,
    /// Says nothing at all after this many lines (0: not even a greeting).
    silent_after: Option<usize>,
    /// Sends a reply in clear right behind the 220 to STARTTLS, as an
    /// attacker on the path would (RFC 3207 §6).
    inject: bool,
}

/// Serves one connection as `script` says; RCPT to an address with
/// "nobody" is refused with 550 5.1.1.
async fn serve(stream: TcpStream, script: Script) {
    let mut stream: BufReader<Box<dyn Io>> = BufReader::new(Box::new(stream));
    if script.silent_after == Some(0) {
        // Holds the connection open without a word.
        let _ = stream.read_u8().await;
        return;
    }
    let _ = stream.write_all(b"220 mx.test ESMTP\r\n").await;
    let mut recipients: Vec<String> = Vec::new();
    let mut tls = false;
    let mut lines = 0;
    loop {
        let mut line = String::new();
        if stream.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        lines += 1;
        if script.silent_after.is_some_and(|after| lines > after) {
            continue;
        }
        let verb = line.get(..4).unwrap_or_default().to_ascii_uppercase();
        let reply = match verb.as_str() {
            "EHLO" | "LHLO" => {
                let mut reply = String::from("250-mx.test\r\n");
                let starttls = script.tls.is_some() && !tls;
                for keyword in script
                    .keywords
                    .iter()
                    .chain(starttls.then_some(&"STARTTLS"))
                {
                    reply.push_str(&format!("250-{keyword}\r\n"));
                }
                reply + "250 8BITMIME\r\n"
            }
            "STAR" => {
                let ready: &[u8] = match script.inject {
                    true => b"220 2.0.0 go ahead\r\n250 2.0.0 injected\r\n",
                    false => b"220 2.0.0 go ahead\r\n",
                };
                let _ = stream.write_all(ready).await;
                let Some(acceptor) = &script.tls else { return };
                let Ok(upgraded) = acceptor.accept(stream.into_inner()).await else {
                    return;
                };
                stream = BufReader::new(Box::new(upgraded));
                tls = true;
                continue;
            }
            "AUTH" => "235 2.7.0 authenticated\r\n".into(),
            "MAIL" => {
                recipients.clear();
                "250 2.1.0 ok\r\n".into()
            }
            "RCPT" if line.contains("nobody") => "550 5.1.1 no such user\r\n".into(),
            "RCPT" => {
                recipients.push(line.clone());
                "250 2.1.5 ok\r\n".into()
            }
            "DATA" => {
                let _ = stream.write_all(b"354 go ahead\r\n").await;
                loop {
                    let mut content = String::new();
                    if stream.read_line(&mut content).await.unwrap_or(0) == 0 {
                        return;
                    }
                    if content == ".\r\n" {
                        break;
                    }
                }
                delivered(&script, &recipients)
            }
            "BDAT" => {
                let mut words = line.split_whitespace().skip(1);
                let size: usize = words.next().and_then(|n| n.parse().ok()).unwrap_or(0);
                let mut chunk = vec![0; size];
                if stream.read_exact(&mut chunk).await.is_err() {
                    return;
                }
                match words.next() {
                    Some(last) if last.eq_ignore_ascii_case("LAST") => {
                        delivered(&script, &recipients)
                    }
                    _ => format!("250 2.0.0 {size} octets\r\n"),
                }
            }
            "QUIT" => {
                let _ = stream.write_all(b"221 2.0.0 bye\r\n").await;
                return;
            }
            _ => "250 2.0.0 ok\r\n".into(),
        };
        if stream.write_all(reply.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// The reply, or (LMTP) replies, to the end of a message.
fn delivered(script: &Script, recipients: &[String]) -> String {
    if !script.lmtp {
        return "250 2.0.0 queued\r\n".into();
    }
    recipients
        .iter()
        .map(|rcpt| match rcpt.contains("full") {
            true => "452 4.2.2 mailbox full\r\n",
            false => "250 2.1.5 delivered\r\n",
        })
        .collect()
}

/// A listener on loopback serving one connection with `script`.
async fn server(script: Script) -> (String, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address").to_string();
    let task = tokio::spawn(async move {
        if let Ok((stream, _)) = listener.accept().await {
            serve(stream, script).await;
        }
    });
    (address, task)
}

/// A client with no TLS, as the scripted server mostly has none.
fn clear() -> ClientBuilder {
    Client::builder("client.test").starttls(StartTlsPolicy::Never)
}

fn message(to: &[&str]) -> Message {
    Message::new("alice@example.org", to, "Subject: test\r\n\r\n.dot\r\n").expect("message")
}

/// Runs `test` under a watchdog that aborts the test binary after
/// [`TEST_LIMIT`]: a timer inside the runtime would never fire for a task
/// that spins without yielding.
async fn bounded<T>(test: impl std::future::Future<Output = T>) -> T {
    let (done, wait) = mpsc::channel::<()>();
    std::thread::spawn(move || {
        if let Err(RecvTimeoutError::Timeout) = wait.recv_timeout(TEST_LIMIT) {
            eprintln!("a client test is still running after {TEST_LIMIT:?}");
            std::process::abort();
        }
    });
    let result = test.await;
    drop(done);
    result
}

#[tokio::test]
async fn one_message_with_one_refused_recipient() {
    bounded(async {
        let (address, _server) = server(Script::default()).await;
        let mut client = clear().connect(&address).await.expect("connect");
        let outcome = client
            .send(message(&["bob@example.net", "nobody@example.net"]))
            .await
            .expect("send");
        assert_eq!(outcome.failure(), None);
        assert!(!outcome.all_accepted());
        let lines: Vec<String> = outcome.recipients().iter().map(|r| r.to_string()).collect();
        assert_eq!(
            lines,
            [
                "<bob@example.net>: accepted: 250 2.0.0 queued",
                "<nobody@example.net>: refused: 550 5.1.1 no such user",
            ]
        );
        client.quit().await.expect("quit");
    })
    .await;
}

#[tokio::test]
async fn every_recipient_refused_is_an_outcome_not_an_error() {
    bounded(async {
        let (address, _server) = server(Script::default()).await;
        let mut client = clear().connect(&address).await.expect("connect");
        let outcome = client
            .send(message(&["nobody@example.net"]))
            .await
            .expect("send");
        assert_eq!(
            outcome.failure(),
            Some(&TransactionFailure::NoValidRecipients)
        );
        // The connection carries on.
        let outcome = client.send(message(&["bob@example.net"])).await;
        assert!(outcome.expect("second send").all_accepted());
        client.quit().await.expect("quit");
    })
    .await;
}

/// Records what each write hands the socket.
struct Recorder {
    inner: TcpStream,
    writes: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl AsyncRead for Recorder {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Recorder {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let written = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(count)) = written {
            let write = buf.get(..count).unwrap_or_default().to_vec();
            self.writes.lock().expect("lock").push(write);
        }
        written
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Everything the client writes to `address`, one entry per write.
type Writes = Arc<Mutex<Vec<Vec<u8>>>>;

/// A connection to `address` that records the client's writes.
async fn recording(address: &str) -> (Recorder, Writes) {
    let writes = Writes::default();
    let inner = TcpStream::connect(address).await.expect("connect");
    let recorder = Recorder {
        inner,
        writes: writes.clone(),
    };
    (recorder, writes)
}

/// The writes as text.
fn written(writes: &Writes) -> Vec<String> {
    let writes = writes.lock().expect("lock");
    writes
        .iter()
        .map(|w| String::from_utf8_lossy(w).into_owned())
        .collect()
}

#[tokio::test]
async fn send_leaves_the_outcomes_of_messages_queued_before() {
    bounded(async {
        let script = Script {
            keywords: vec!["PIPELINING"],
            ..Script::default()
        };
        let (address, _server) = server(script).await;
        let mut client = clear().connect(&address).await.expect("connect");
        let first = client
            .queue(message(&["nobody@example.net"]))
            .expect("queue");
        let second = client
            .send(message(&["bob@example.net"]))
            .await
            .expect("send");
        assert!(second.all_accepted());
        assert_eq!(client.queued(), 1);
        let outcome = client.next_outcome().await.expect("outcome");
        let outcome = outcome.expect("the first message's outcome");
        assert_eq!(outcome.id(), first);
        assert_eq!(
            outcome.failure(),
            Some(&TransactionFailure::NoValidRecipients)
        );
        assert!(client.next_outcome().await.expect("none left").is_none());
        client.quit().await.expect("quit");
    })
    .await;
}

#[tokio::test]
async fn opportunistic_starttls_goes_on_in_clear_without_the_offer() {
    bounded(async {
        let (address, _server) = server(Script::default()).await;
        let (_, certificate) = pinned_identity();
        let mut client = Client::builder("client.test")
            .starttls(StartTlsPolicy::Opportunistic)
            .tls_config(tls::trusting(vec![certificate]).expect("trust"))
            .connect(&address)
            .await
            .expect("connect");
        assert!(!client.is_tls());
        let outcome = client.send(message(&["bob@example.net"])).await;
        assert!(outcome.expect("send").all_accepted());
        client.quit().await.expect("quit");
    })
    .await;
}

#[tokio::test]
async fn many_messages_pipelined_with_one_write_per_group() {
    const COUNT: usize = 5;
    bounded(async {
        let script = Script {
            keywords: vec!["PIPELINING"],
            ..Script::default()
        };
        let (address, _server) = server(script).await;
        let (recorder, writes) = recording(&address).await;
        let mut client = clear()
            .connect_stream(recorder, "mx.test")
            .await
            .expect("session");
        let ids: Vec<_> = (0..COUNT)
            .map(|_| client.queue(message(&["bob@example.net"])).expect("queue"))
            .collect();
        assert_eq!(client.queued(), COUNT);
        let mut outcomes = Vec::new();
        while let Some(outcome) = client.next_outcome().await.expect("outcome") {
            assert!(outcome.all_accepted(), "{outcome:?}");
            outcomes.push(outcome.id());
        }
        assert_eq!(outcomes, ids);
        assert_eq!(client.queued(), 0);
        client.quit().await.expect("quit");

        let text = written(&writes);
        // EHLO; the first envelope; each message's content and end of data
        // with the next envelope (RFC 2920 §3.1); the last content; QUIT.
        assert_eq!(text.len(), COUNT + 3, "{text:#?}");
        assert_eq!(text[0], "EHLO client.test\r\n");
        let envelope = "MAIL FROM:<alice@example.org>\r\nRCPT TO:<bob@example.net>\r\nDATA\r\n";
        let content = "Subject: test\r\n\r\n..dot\r\n.\r\n";
        assert_eq!(text[1], envelope);
        for group in &text[2..COUNT + 1] {
            assert_eq!(*group, format!("{content}{envelope}"));
        }
        assert_eq!(text[COUNT + 1], content);
        assert_eq!(text[COUNT + 2], "QUIT\r\n");
    })
    .await;
}

/// A server identity made by rcgen, and the client trust pinning it.
fn pinned_identity() -> (TlsAcceptor, CertificateDer<'static>) {
    let certified = rcgen::generate_simple_self_signed(vec!["mx.test".to_string()]).expect("cert");
    let certificate = certified.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.key_pair.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(vec![certificate.clone()], key)
        .expect("server config");
    (TlsAcceptor::from(Arc::new(config)), certificate)
}

#[tokio::test]
async fn starttls_with_a_pinned_self_signed_certificate() {
    bounded(async {
        let (acceptor, certificate) = pinned_identity();
        let script = Script {
            tls: Some(acceptor),
            ..Script::default()
        };
        let (address, _server) = server(script).await;
        // Connected by address: the pinned certificate is taken whatever
        // its name.
        let mut client = Client::builder("client.test")
            .tls_config(tls::trusting(vec![certificate]).expect("trust"))
            .connect(&address)
            .await
            .expect("connect");
        assert!(client.is_tls());
        let outcome = client.send(message(&["bob@example.net"])).await;
        assert!(outcome.expect("send").all_accepted());
        client.quit().await.expect("quit");
    })
    .await;
}

#[tokio::test]
async fn starttls_refuses_a_certificate_not_trusted() {
    bounded(async {
        let (acceptor, _) = pinned_identity();
        let (_, other) = pinned_identity();
        let script = Script {
            tls: Some(acceptor),
            ..Script::default()
        };
        let (address, _server) = server(script).await;
        let result = Client::builder("client.test")
            .tls_config(tls::trusting(vec![other]).expect("trust"))
            .connect(&address)
            .await;
        let Err(error) = result else {
            panic!("connected to an untrusted server")
        };
        assert!(
            matches!(error, Error::Connection(ConnectionError::Tls(_))),
            "{error:?}"
        );
        assert!(error.to_string().starts_with("TLS handshake failed: "));
    })
    .await;
}

#[tokio::test]
async fn a_reply_injected_after_the_starttls_220_ends_the_session() {
    bounded(async {
        let (acceptor, certificate) = pinned_identity();
        let script = Script {
            tls: Some(acceptor),
            inject: true,
            ..Script::default()
        };
        let (address, _server) = server(script).await;
        let result = Client::builder("client.test")
            .tls_config(tls::trusting(vec![certificate]).expect("trust"))
            .connect(&address)
            .await;
        let Err(error) = result else {
            panic!("went on after an injected reply")
        };
        assert!(
            matches!(
                error,
                Error::Connection(ConnectionError::Session(ClientError::Session(
                    SessionError::ResponseInjection
                )))
            ),
            "{error:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn starttls_required_but_not_offered_sends_nothing() {
    bounded(async {
        let (address, _server) = server(Script::default()).await;
        let (_, certificate) = pinned_identity();
        let result = Client::builder("client.test")
            .tls_config(tls::trusting(vec![certificate]).expect("trust"))
            .connect(&address)
            .await;
        let Err(error) = result else {
            panic!("sent without TLS")
        };
        assert!(
            matches!(
                error,
                Error::Connection(ConnectionError::Session(ClientError::Session(
                    SessionError::StartTlsNotOffered
                )))
            ),
            "{error:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_silent_server_times_out() {
    bounded(async {
        let script = Script {
            silent_after: Some(0),
            ..Script::default()
        };
        let (address, _server) = server(script).await;
        let started = Instant::now();
        let result = clear()
            .max_wait(Duration::from_millis(200))
            .connect(&address)
            .await;
        let Err(error) = result else {
            panic!("connected to a silent server")
        };
        assert!(
            matches!(
                error,
                Error::Connection(ConnectionError::Session(ClientError::Session(
                    SessionError::Timeout(Wait::Greeting)
                )))
            ),
            "{error:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(5));
    })
    .await;
}

#[tokio::test]
async fn a_server_silent_mid_transaction_times_out() {
    bounded(async {
        // Answers EHLO, then nothing.
        let script = Script {
            silent_after: Some(1),
            ..Script::default()
        };
        let (address, _server) = server(script).await;
        let mut client = clear()
            .max_wait(Duration::from_millis(200))
            .connect(&address)
            .await
            .expect("connect");
        let Err(error) = client.send(message(&["bob@example.net"])).await else {
            panic!("sent to a silent server")
        };
        assert!(
            matches!(
                error,
                Error::Connection(ConnectionError::Session(ClientError::Session(
                    SessionError::Timeout(Wait::Command)
                )))
            ),
            "{error:?}"
        );
        assert!(matches!(
            client.queue(message(&["bob@example.net"])),
            Err(Error::Usage(UsageError::Closed))
        ));
    })
    .await;
}

#[tokio::test]
async fn lmtp_gives_each_recipient_its_own_outcome() {
    bounded(async {
        let script = Script {
            lmtp: true,
            keywords: vec!["PIPELINING"],
            ..Script::default()
        };
        let (address, _server) = server(script).await;
        let mut client = clear().lmtp().connect(&address).await.expect("connect");
        let recipients = ["bob@example.net", "nobody@example.net", "full@example.net"];
        let outcome = client.send(message(&recipients)).await.expect("send");
        let statuses: Vec<String> = outcome
            .recipients()
            .iter()
            .map(|r| r.status.to_string())
            .collect();
        assert_eq!(
            statuses,
            [
                "accepted: 250 2.1.5 delivered",
                "refused: 550 5.1.1 no such user",
                "refused: 452 4.2.2 mailbox full",
            ]
        );
        assert_eq!(outcome.failure(), None);
        client.quit().await.expect("quit");
    })
    .await;
}

#[tokio::test]
async fn chunking_sends_bdat_when_asked() {
    bounded(async {
        let script = Script {
            keywords: vec!["PIPELINING", "CHUNKING"],
            ..Script::default()
        };
        let (address, _server) = server(script).await;
        let (recorder, writes) = recording(&address).await;
        let builder = clear().chunking(true);
        let mut client = builder
            .connect_stream(recorder, "mx.test")
            .await
            .expect("session");
        for _ in 0..2 {
            let outcome = client.send(message(&["bob@example.net"])).await;
            assert!(outcome.expect("send").all_accepted());
        }
        client.quit().await.expect("quit");
        let text = written(&writes).concat();
        // Not dot-stuffed: BDAT carries the content as it is (RFC 3030 §2).
        assert_eq!(
            text.matches("BDAT 23 LAST\r\nSubject: test\r\n\r\n.dot\r\n")
                .count(),
            2,
            "{text}"
        );
        assert!(!text.contains("DATA\r\n"), "{text}");
    })
    .await;
}

#[tokio::test]
async fn auth_plain_before_the_messages() {
    bounded(async {
        let script = Script {
            keywords: vec!["AUTH PLAIN LOGIN"],
            ..Script::default()
        };
        let (address, _server) = server(script).await;
        let user = Text::new("alice").expect("user");
        let password = Secret::new("secret").expect("password");
        let plain = PlainCredentials::new(None, user, password).expect("credentials");
        let mut auth = AuthConfig::new(Credentials::Plain(plain));
        auth.allow_cleartext = true;
        let (recorder, writes) = recording(&address).await;
        let builder = clear().auth(auth);
        let mut client = builder
            .connect_stream(recorder, "mx.test")
            .await
            .expect("session");
        let outcome = client.send(message(&["bob@example.net"])).await;
        assert!(outcome.expect("send").all_accepted());
        client.quit().await.expect("quit");
        let text = written(&writes);
        // base64 of "\0alice\0secret", before the first MAIL.
        assert_eq!(text[1], "AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n");
        assert!(text[2].starts_with("MAIL FROM:"), "{text:?}");
    })
    .await;
}

#[tokio::test]
async fn an_over_long_line_is_refused_before_anything_is_sent() {
    bounded(async {
        let (address, _server) = server(Script::default()).await;
        let mut client = clear().connect(&address).await.expect("connect");
        let long = format!("Subject: long\r\n\r\n{}\r\n", "x".repeat(1200));
        let message_with_long_line =
            Message::new("alice@example.org", ["bob@example.net"], long).expect("message");
        let Err(error) = client.queue(message_with_long_line) else {
            panic!("queued a line over the limit")
        };
        assert!(
            matches!(
                error,
                Error::Refused(ClientError::Refused(MessageError::LineTooLong {
                    line: 3,
                    ..
                }))
            ),
            "{error:?}"
        );
        let outcome = client.send(message(&["bob@example.net"])).await;
        assert!(outcome.expect("send").all_accepted());
        client.quit().await.expect("quit");
    })
    .await;
}

#[test]
fn misuse_is_a_usage_error() {
    let none: [&str; 0] = [];
    assert_eq!(
        Message::new("alice@example.org", none, "").err(),
        Some(UsageError::NoRecipients)
    );
    let Err(error) = Message::new("alice@example.org", ["bob"], "") else {
        panic!("took a bare local part")
    };
    assert!(error.to_string().starts_with("invalid address \"bob\": "));
}

#[tokio::test]
async fn nothing_listening_is_a_connection_error() {
    bounded(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address").to_string();
        drop(listener);
        let Err(error) = clear().connect(&address).await else {
            panic!("connected to a closed port")
        };
        assert!(
            matches!(error, Error::Connection(ConnectionError::Connect { .. })),
            "{error:?}"
        );
        assert!(error
            .to_string()
            .starts_with(&format!("cannot connect to {address}: ")));
    })
    .await;
}

#[tokio::test]
async fn a_client_runs_in_a_spawned_task() {
    bounded(async {
        let (address, _server) = server(Script::default()).await;
        // tokio::spawn takes only futures that are Send: a program sending
        // over many connections at once runs each in a task of its own.
        let task = tokio::spawn(async move {
            let mut client = clear().connect(&address).await.expect("connect");
            let outcome = client.send(message(&["bob@example.net"])).await;
            client.quit().await.expect("quit");
            outcome.expect("send").all_accepted()
        });
        assert!(task.await.expect("task"));
    })
    .await;
}

#[tokio::test]
async fn each_outcome_carries_its_events_when_asked() {
    bounded(async {
        let (address, _server) = server(Script::default()).await;
        let mut client = clear()
            .record_events(true)
            .connect(&address)
            .await
            .expect("connect");
        let outcome = client
            .send(message(&["bob@example.net", "nobody@example.net"]))
            .await
            .expect("send");
        let events: Vec<&str> = outcome
            .events()
            .iter()
            .map(|event| match event {
                ClientEvent::RecipientAccepted { .. } => "rcpt accepted",
                ClientEvent::RecipientRejected { .. } => "rcpt rejected",
                ClientEvent::MessageAccepted { .. } => "message accepted",
                _ => "other",
            })
            .collect();
        assert_eq!(
            events,
            ["rcpt accepted", "rcpt rejected", "message accepted"]
        );
        assert!(outcome
            .events()
            .iter()
            .all(|event| event.transaction() == Some(outcome.id())));

        // Off by default: nothing kept beyond each recipient's status.
        let (address, _server) = server(Script::default()).await;
        let mut client = clear().connect(&address).await.expect("connect");
        let outcome = client.send(message(&["bob@example.net"])).await;
        assert!(outcome.expect("send").events().is_empty());
    })
    .await;
}

#[tokio::test]
async fn opportunistic_starttls_encrypts_to_any_certificate_when_told() {
    bounded(async {
        // A certificate for another name, trusted by nobody: a relay still
        // encrypts to it rather than send in clear (RFC 7435).
        let (acceptor, _) = pinned_identity();
        let script = Script {
            tls: Some(acceptor),
            ..Script::default()
        };
        let (address, _server) = server(script).await;
        let mut client = Client::builder("client.test")
            .starttls(StartTlsPolicy::Opportunistic)
            .tls_config(tls::any_certificate().expect("config"))
            .server_name("mx.elsewhere.test")
            .connect(&address)
            .await
            .expect("connect");
        assert!(client.is_tls());
        let outcome = client.send(message(&["bob@example.net"])).await;
        assert!(outcome.expect("send").all_accepted());
        client.quit().await.expect("quit");
    })
    .await;
}
