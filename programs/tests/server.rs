//! The receiving server over real loopback TCP, run in-process and driven
//! by a hand-written client.
//!
//! Tests that only need "send this message" are generic over [`MailClient`]
//! and run twice: through the hand-written client and through the crate's
//! own `ClientSession` (the send example's connection driver).

// Shared with the other test files, each of which uses a part.
#[allow(dead_code)]
mod support;

use std::time::Duration;

use smtpwire_programs::server::client::Client;
use support::session_client::SessionClient;
use support::{
    content_of, numbered_message, numbered_messages, HandClient, MailClient, TestServer,
};

/// Runs each generic check once per [`MailClient`].
macro_rules! with_each_client {
    ($($check:ident),* $(,)?) => {
        mod hand_client {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    super::$check::<super::HandClient>().await;
                }
            )*
        }
        mod session_client {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    super::$check::<super::SessionClient>().await;
                }
            )*
        }
    };
}

with_each_client!(
    a_plain_message_lands_byte_exact_with_trace_fields,
    a_ten_mib_message_streams_to_disk,
    two_hundred_messages_over_one_connection,
    fifty_concurrent_connections,
);

async fn a_plain_message_lands_byte_exact_with_trace_fields<C: MailClient>() {
    let server = TestServer::start(|_| {}).await;
    let content = b"Subject: plain\r\n\r\nHello over TCP.\r\n..leading dot\r\n".to_vec();
    let mut client = C::open(&server, false).await;
    let codes = client
        .send("a@example.com", &["b@example.org"], &content)
        .await;
    assert_eq!(codes, [250]);
    client.quit().await;
    let files = server.delivered();
    assert_eq!(files.len(), 1);
    let stored = &files[0];
    assert_eq!(content_of(stored), content);
    let head = String::from_utf8_lossy(&stored[..stored.len() - content.len()]).to_string();
    assert!(head.starts_with("Return-Path: <a@example.com>\r\nX-Envelope-To: <b@example.org>\r\n"));
    assert!(
        head.contains("Received: from client.example ([127.0.0.1])\r\n\tby mx.test with ESMTP id ")
    );
    assert!(head.contains("\tfor <b@example.org>;\r\n\t"));
    assert!(head.ends_with(" +0000\r\n"), "{head}");
    assert!(server.tmp_is_empty());
}

#[tokio::test]
async fn pipelined_commands_are_answered_in_order() {
    let server = TestServer::start(|_| {}).await;
    let (mut client, _) = Client::connect(server.address).await.unwrap();
    // EHLO ends its group (RFC 2920 §3.1): the client waits for its reply.
    let hello = client.command("EHLO client.example").await.unwrap();
    assert_eq!(hello.code, 250);
    client
        .send(b"MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\nRCPT TO:<c@example.org>\r\nDATA\r\n")
        .await
        .unwrap();
    let mut codes = Vec::new();
    for _ in 0..4 {
        codes.push(client.reply().await.unwrap().code);
    }
    assert_eq!(codes, [250, 250, 250, 354]);
    client
        .send(b"Subject: p\r\n\r\nbody\r\n.\r\nQUIT\r\n")
        .await
        .unwrap();
    assert_eq!(client.reply().await.unwrap().code, 250);
    assert_eq!(client.reply().await.unwrap().code, 221);
    let files = server.delivered();
    assert_eq!(content_of(&files[0]), b"Subject: p\r\n\r\nbody\r\n");
    let head = String::from_utf8_lossy(&files[0]);
    assert!(head.contains("X-Envelope-To: <b@example.org>\r\nX-Envelope-To: <c@example.org>\r\n"));
}

#[tokio::test]
async fn starttls_upgrades_and_is_recorded() {
    let server = TestServer::start(|_| {}).await;
    let (mut client, _) = Client::connect(server.address).await.unwrap();
    let before = client.command("EHLO client.example").await.unwrap();
    assert!(before.has_line("STARTTLS"));
    assert_eq!(
        client.start_tls(&server.certificate).await.unwrap().code,
        220
    );
    let after = client.command("EHLO client.example").await.unwrap();
    assert!(!after.has_line("STARTTLS"));
    let content = b"Subject: tls\r\n\r\nsecret\r\n";
    let replies = client
        .send_message("a@example.com", &["b@example.org"], content, 1)
        .await
        .unwrap();
    assert_eq!(replies.last().unwrap().code, 250);
    let files = server.delivered();
    assert_eq!(content_of(&files[0]), content);
    assert!(String::from_utf8_lossy(&files[0]).contains(" with ESMTPS id "));
}

#[tokio::test]
async fn auth_over_tls_accepts_the_right_password_only() {
    let server = TestServer::start(|settings| {
        settings.users =
            Some(smtpwire_programs::server::users::Users::parse("alice:correct horse\n").unwrap());
        settings.require_auth = true;
    })
    .await;
    let (mut client, _) = Client::connect(server.address).await.unwrap();
    let cleartext = client.command("EHLO client.example").await.unwrap();
    assert!(
        !cleartext.has_line("AUTH"),
        "no AUTH before TLS: {cleartext:?}"
    );
    client.start_tls(&server.certificate).await.unwrap();
    let secured = client.command("EHLO client.example").await.unwrap();
    assert!(secured.has_line("AUTH"), "{secured:?}");
    assert_eq!(
        client
            .command("MAIL FROM:<a@example.com>")
            .await
            .unwrap()
            .code,
        530
    );
    let wrong = client
        .command(&format!("AUTH PLAIN {}", plain("alice", "wrong")))
        .await
        .unwrap();
    assert_eq!(wrong.code, 535);
    let unknown = client
        .command(&format!("AUTH PLAIN {}", plain("mallory", "correct horse")))
        .await
        .unwrap();
    assert_eq!(unknown.code, 535);
    let right = client
        .command(&format!("AUTH PLAIN {}", plain("alice", "correct horse")))
        .await
        .unwrap();
    assert_eq!(right.code, 235);
    let replies = client
        .send_message("alice@example.com", &["b@example.org"], b"x\r\n", 1)
        .await
        .unwrap();
    assert_eq!(replies.last().unwrap().code, 250);
    assert!(String::from_utf8_lossy(&server.delivered()[0]).contains(" with ESMTPSA id "));
}

#[tokio::test]
async fn auth_login_works_over_tls() {
    let server = TestServer::start(|settings| {
        settings.users = Some(smtpwire_programs::server::users::Users::parse("bob:pw\n").unwrap());
    })
    .await;
    let (mut client, _) = Client::connect(server.address).await.unwrap();
    client.command("EHLO client.example").await.unwrap();
    client.start_tls(&server.certificate).await.unwrap();
    client.command("EHLO client.example").await.unwrap();
    assert_eq!(client.command("AUTH LOGIN").await.unwrap().code, 334);
    assert_eq!(client.command(&b64("bob")).await.unwrap().code, 334);
    assert_eq!(client.command(&b64("pw")).await.unwrap().code, 235);
}

#[tokio::test]
async fn auth_is_refused_over_cleartext() {
    let server = TestServer::start(|settings| {
        settings.users =
            Some(smtpwire_programs::server::users::Users::parse("alice:secret\n").unwrap());
    })
    .await;
    let (mut client, _) = Client::connect(server.address).await.unwrap();
    let hello = client.command("EHLO client.example").await.unwrap();
    assert!(!hello.has_line("AUTH"));
    let refused = client
        .command(&format!("AUTH PLAIN {}", plain("alice", "secret")))
        .await
        .unwrap();
    assert!(refused.code >= 500, "{refused:?}");
}

#[tokio::test]
async fn cleartext_auth_when_allowed() {
    let server = TestServer::start(|settings| {
        settings.users =
            Some(smtpwire_programs::server::users::Users::parse("alice:secret\n").unwrap());
        settings.allow_cleartext_auth = true;
    })
    .await;
    let (mut client, _) = Client::connect(server.address).await.unwrap();
    assert!(client
        .command("EHLO client.example")
        .await
        .unwrap()
        .has_line("AUTH"));
    let accepted = client
        .command(&format!("AUTH PLAIN {}", plain("alice", "secret")))
        .await
        .unwrap();
    assert_eq!(accepted.code, 235);
}

#[tokio::test]
async fn lmtp_answers_and_stores_per_recipient() {
    let server = TestServer::start(|settings| settings.lmtp = true).await;
    let (mut client, greeting) = Client::connect(server.address).await.unwrap();
    assert!(greeting.lines[0].contains("LMTP"));
    assert_eq!(
        client.command("LHLO client.example").await.unwrap().code,
        250
    );
    let content = b"Subject: lmtp\r\n\r\nfor two\r\n";
    let replies = client
        .send_message(
            "a@example.com",
            &["one@example.org", "two@example.org"],
            content,
            2,
        )
        .await
        .unwrap();
    let codes: Vec<u16> = replies.iter().map(|reply| reply.code).collect();
    assert_eq!(codes, [250, 250, 250, 354, 250, 250]);
    let files = server.delivered();
    assert_eq!(files.len(), 2);
    let mut delivered_to: Vec<String> = files
        .iter()
        .map(|file| {
            assert_eq!(content_of(file), content);
            let text = String::from_utf8_lossy(file);
            assert!(text.contains(" with LMTP id "));
            text.lines()
                .find(|line| line.starts_with("Delivered-To:"))
                .unwrap()
                .to_string()
        })
        .collect();
    delivered_to.sort();
    assert_eq!(
        delivered_to,
        [
            "Delivered-To: <one@example.org>",
            "Delivered-To: <two@example.org>"
        ]
    );
}

#[tokio::test]
async fn bdat_chunks_make_one_message() {
    let server = TestServer::start(|_| {}).await;
    let (mut client, _) = Client::connect(server.address).await.unwrap();
    assert!(client
        .command("EHLO client.example")
        .await
        .unwrap()
        .has_line("CHUNKING"));
    client.command("MAIL FROM:<a@example.com>").await.unwrap();
    client.command("RCPT TO:<b@example.org>").await.unwrap();
    client.send(b"BDAT 15\r\nSubject: bdat\r\n").await.unwrap();
    assert_eq!(client.reply().await.unwrap().code, 250);
    client
        .send(b"BDAT 13 LAST\r\n\r\n.no stuff\r\n")
        .await
        .unwrap();
    assert_eq!(client.reply().await.unwrap().code, 250);
    assert_eq!(
        content_of(&server.delivered()[0]),
        b"Subject: bdat\r\n\r\n.no stuff\r\n"
    );
}

async fn a_ten_mib_message_streams_to_disk<C: MailClient>() {
    let server = TestServer::start(|settings| settings.max_message_size = Some(32 << 20)).await;
    let line = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.....\r\n";
    let mut content = b"Subject: big\r\n\r\n".to_vec();
    while content.len() < 10 << 20 {
        content.extend_from_slice(line);
    }
    let mut client = C::open(&server, false).await;
    assert_eq!(
        client
            .send("a@example.com", &["b@example.org"], &content)
            .await,
        [250]
    );
    client.quit().await;
    assert_eq!(content_of(&server.delivered()[0]), content);
}

/// Sends messages `0..count` from [`numbered_message`] over `client`, each
/// of which must be accepted.
async fn send_numbered<C: MailClient>(client: &mut C, count: usize) {
    for number in 0..count {
        let codes = client
            .send(
                "a@example.com",
                &["b@example.org"],
                &numbered_message(number),
            )
            .await;
        assert_eq!(codes, [250], "message {number}");
    }
}

async fn two_hundred_messages_over_one_connection<C: MailClient>() {
    let server = TestServer::start(|_| {}).await;
    let mut client = C::open(&server, false).await;
    send_numbered(&mut client, 200).await;
    client.quit().await;
    assert_eq!(server.contents(), numbered_messages(200));
    assert_eq!(server.shared.stats.messages(), 200);
}

async fn fifty_concurrent_connections<C: MailClient + Send + 'static>() {
    let server = TestServer::start(|_| {}).await;
    let mut tasks = Vec::new();
    for number in 0..50 {
        let address = server.address;
        let certificate = server.certificate.clone();
        tasks.push(tokio::spawn(async move {
            let mut client = C::connect(address, &certificate, number % 2 == 0).await;
            let codes = client
                .send(
                    "a@example.com",
                    &["b@example.org"],
                    &numbered_message(number),
                )
                .await;
            client.quit().await;
            codes
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), [250]);
    }
    assert_eq!(server.contents(), numbered_messages(50));
}

#[tokio::test]
async fn a_disconnect_mid_data_leaves_no_file() {
    let server = TestServer::start(|_| {}).await;
    let (mut client, _) = Client::connect(server.address).await.unwrap();
    client.command("EHLO client.example").await.unwrap();
    client.command("MAIL FROM:<a@example.com>").await.unwrap();
    client.command("RCPT TO:<b@example.org>").await.unwrap();
    assert_eq!(client.command("DATA").await.unwrap().code, 354);
    client
        .send(b"Subject: cut short\r\n\r\nhalf a mess")
        .await
        .unwrap();
    // The tmp file exists while the message streams in.
    server.wait_for(|| !server.tmp_is_empty()).await;
    drop(client);
    server.wait_for(|| server.tmp_is_empty()).await;
    assert!(server.delivered().is_empty());
}

#[tokio::test]
async fn shutdown_sends_421_to_idle_clients_and_lets_messages_finish() {
    let mut server = TestServer::start(|_| {}).await;
    let (mut idle, _) = Client::connect(server.address).await.unwrap();
    idle.command("EHLO idle.example").await.unwrap();
    let (mut busy, _) = Client::connect(server.address).await.unwrap();
    busy.command("EHLO busy.example").await.unwrap();
    busy.command("MAIL FROM:<a@example.com>").await.unwrap();
    busy.command("RCPT TO:<b@example.org>").await.unwrap();
    assert_eq!(busy.command("DATA").await.unwrap().code, 354);
    busy.send(b"Subject: in flight\r\n\r\n").await.unwrap();

    let stopped = server.stop();
    assert_eq!(idle.reply().await.unwrap().code, 421);
    busy.send(b"finished\r\n.\r\n").await.unwrap();
    assert_eq!(busy.reply().await.unwrap().code, 250);
    assert_eq!(busy.reply().await.unwrap().code, 421);
    tokio::time::timeout(Duration::from_secs(10), stopped)
        .await
        .unwrap();
    assert_eq!(
        content_of(&server.delivered()[0]),
        b"Subject: in flight\r\n\r\nfinished\r\n"
    );
}

#[tokio::test]
async fn a_failed_write_is_answered_451_and_leaves_nothing() {
    let server = TestServer::start(|_| {}).await;
    let (mut client, _) = Client::connect(server.address).await.unwrap();
    client.command("EHLO client.example").await.unwrap();
    client.command("MAIL FROM:<a@example.com>").await.unwrap();
    client.command("RCPT TO:<b@example.org>").await.unwrap();
    assert_eq!(client.command("DATA").await.unwrap().code, 354);
    // Delivery renames into new/; without it the message cannot be made safe.
    std::fs::remove_dir(server.maildir.join("new")).unwrap();
    client
        .send(b"Subject: lost\r\n\r\nx\r\n.\r\n")
        .await
        .unwrap();
    assert_eq!(client.reply().await.unwrap().code, 451);
    assert!(server.tmp_is_empty());
    std::fs::create_dir(server.maildir.join("new")).unwrap();
}

#[tokio::test]
async fn the_proxy_protocol_header_names_the_client() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let server = TestServer::start(|settings| settings.proxy_protocol = true).await;
    let mut stream = tokio::net::TcpStream::connect(server.address)
        .await
        .unwrap();
    stream
        .write_all(b"PROXY TCP4 192.0.2.7 192.0.2.1 40000 25\r\n")
        .await
        .unwrap();
    let (reader, mut writer) = stream.split();
    let mut reader = BufReader::new(reader);
    // The greeting first: input ahead of it is refused as early talk.
    let mut greeting = String::new();
    reader.read_line(&mut greeting).await.unwrap();
    assert!(greeting.starts_with("220 "), "{greeting}");
    // After HELO there is no PIPELINING: one command, one reply.
    let mut transcript = String::new();
    for command in [
        &b"HELO far.example\r\n"[..],
        b"MAIL FROM:<a@example.com>\r\n",
        b"RCPT TO:<b@example.org>\r\n",
        b"DATA\r\n",
        b"x\r\n.\r\n",
    ] {
        writer.write_all(command).await.unwrap();
        reader.read_line(&mut transcript).await.unwrap();
    }
    writer.write_all(b"QUIT\r\n").await.unwrap();
    while reader.read_line(&mut transcript).await.unwrap() > 0 {}
    assert!(transcript.contains("\r\n221 "), "{transcript}");
    let stored = String::from_utf8_lossy(&server.delivered()[0]).to_string();
    assert!(
        stored.contains("Received: from far.example ([192.0.2.7])\r\n\tby mx.test with SMTP id ")
    );
}

/// The reply to a stored message names its file in `new/`, so that a
/// client can quote it to the operator.
#[tokio::test]
async fn the_reply_to_a_message_names_its_file() {
    let server = TestServer::start(|_| {}).await;
    let (mut client, _) = Client::connect(server.address).await.unwrap();
    client.command("EHLO client.example").await.unwrap();
    let replies = client
        .send_message("a@example.com", &["b@example.org"], b"x\r\n", 1)
        .await
        .unwrap();
    let last = replies.last().unwrap();
    assert_eq!(last.code, 250);
    let (_, name) = last.lines[0].split_once("queued as ").unwrap();
    assert!(server.maildir.join("new").join(name).is_file(), "{last:?}");
}

/// With the PROXY protocol, a peer that is not a trusted proxy could claim
/// any client address: it is closed unanswered.
#[tokio::test]
async fn the_proxy_protocol_is_believed_from_trusted_proxies_only() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = TestServer::start(|settings| {
        settings.proxy_protocol = true;
        settings.trusted_proxies = vec![std::net::IpAddr::from([192, 0, 2, 1])];
    })
    .await;
    let mut stream = tokio::net::TcpStream::connect(server.address)
        .await
        .unwrap();
    let _ = stream
        .write_all(b"PROXY TCP4 192.0.2.7 192.0.2.1 40000 25\r\n")
        .await;
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
    assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "{answer:?}");
    assert!(answer.is_empty());
}

/// The server's rate limits reach the driver: with two messages a minute
/// per client, the third MAIL is answered 450 4.7.1 and the session goes
/// on.
#[tokio::test]
async fn the_message_rate_limit_refuses_the_third_mail_in_a_minute() {
    let server = TestServer::start(|settings| {
        settings.rate_limits = smtpwire_tokio::server::RateLimits::default().with_messages(2)
    })
    .await;
    let (mut client, _) = Client::connect(server.address).await.unwrap();
    client.command("EHLO client.example").await.unwrap();
    for _ in 0..2 {
        let reply = client
            .command("MAIL FROM:<a@client.example>")
            .await
            .unwrap();
        assert_eq!(reply.code, 250);
        assert_eq!(client.command("RSET").await.unwrap().code, 250);
    }
    let reply = client
        .command("MAIL FROM:<a@client.example>")
        .await
        .unwrap();
    assert_eq!(reply.code, 450);
    assert_eq!(
        reply.lines,
        ["4.7.1 Too much mail from 127.0.0.1 this minute, try again later"]
    );
    assert_eq!(client.command("NOOP").await.unwrap().code, 250);
}

#[tokio::test]
async fn a_silent_client_times_out_with_421() {
    let server =
        TestServer::start(|settings| settings.idle_timeout = Some(Duration::from_millis(200)))
            .await;
    let (mut client, _) = Client::connect(server.address).await.unwrap();
    client.command("EHLO client.example").await.unwrap();
    let started = std::time::Instant::now();
    let reply = client.reply().await.unwrap();
    assert_eq!(reply.code, 421);
    assert!(started.elapsed() >= Duration::from_millis(150));
}

/// A client that sends a byte every 100 ms never lets a read time out, but
/// its command takes longer than the whole timeout: it is cut off within
/// the timeout of the command's start, not held for ever.
#[tokio::test]
async fn a_trickling_client_is_cut_off_within_the_timeout() {
    let server =
        TestServer::start(|settings| settings.idle_timeout = Some(Duration::from_millis(600)))
            .await;
    let (mut client, _) = Client::connect(server.address).await.unwrap();
    let started = std::time::Instant::now();
    let trickle = async {
        for byte in b"EHLO a-very-slow-client.example\r\n" {
            if client.send(&[*byte]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    trickle.await;
    let reply = client.reply().await.unwrap();
    assert_eq!(reply.code, 421);
    let held = started.elapsed();
    assert!(held < Duration::from_millis(1500), "held for {held:?}");
}

/// Sets a file's access and modification times `age` into the past.
fn age_file(path: &std::path::Path, accessed: Duration, modified: Duration) {
    let now = std::time::SystemTime::now();
    let times = std::fs::FileTimes::new()
        .set_accessed(now - accessed)
        .set_modified(now - modified);
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_times(times)
        .unwrap();
}

const HOUR: Duration = Duration::from_secs(60 * 60);

/// maildir(5): files in `tmp/` not accessed for 36 hours are leftovers;
/// the server sweeps them when it starts.
#[tokio::test]
async fn the_server_sweeps_stale_files_from_tmp_when_it_starts() {
    let server = TestServer::start(|settings| {
        let tmp = settings.maildir.as_ref().unwrap().join("tmp");
        std::fs::create_dir_all(&tmp).unwrap();
        std::fs::write(tmp.join("crashed"), b"Subject: half a mess").unwrap();
        age_file(&tmp.join("crashed"), 40 * HOUR, 40 * HOUR);
        std::fs::write(tmp.join("writing"), b"Subject: still coming").unwrap();
    })
    .await;
    let tmp = server.maildir.join("tmp");
    server.wait_for(|| !tmp.join("crashed").exists()).await;
    assert!(tmp.join("writing").exists());
}

/// The later of the access and modification times counts, so a file read
/// or written within 36 hours stays; what is not a plain file stays.
#[test]
fn only_files_untouched_for_36_hours_are_stale() {
    let root = std::env::temp_dir().join(format!("smtpwire-sweep-{}", std::process::id()));
    let maildir = smtpwire_programs::server::maildir::Maildir::create(&root, "mx.test").unwrap();
    let tmp = maildir.tmp_dir();
    let cases = [
        ("stale", 37 * HOUR, 37 * HOUR, false),
        ("read lately", HOUR, 37 * HOUR, true),
        ("written lately", 37 * HOUR, HOUR, true),
        ("just under", 35 * HOUR, 35 * HOUR, true),
    ];
    for (name, accessed, modified, _) in cases {
        std::fs::write(tmp.join(name), b"x").unwrap();
        age_file(&tmp.join(name), accessed, modified);
    }
    std::fs::create_dir(tmp.join("a directory")).unwrap();
    let swept = maildir.remove_stale(std::time::SystemTime::now()).unwrap();
    assert_eq!((swept.removed, swept.failed), (1, 0));
    for (name, _, _, kept) in cases {
        assert_eq!(tmp.join(name).exists(), kept, "{name}");
    }
    assert!(tmp.join("a directory").is_dir());
    // Later, by the clock it is given, the rest is stale too.
    let later = std::time::SystemTime::now() + 36 * HOUR;
    assert_eq!(maildir.remove_stale(later).unwrap().removed, 3);
    std::fs::remove_dir_all(&root).unwrap();
}

/// `--busy-poll`, on the single-threaded runtime it is meant for: the
/// poller starts on input, messages go through while it polls, and it goes
/// back to sleep once input stops, so an idle server spends nothing.
#[tokio::test(flavor = "current_thread")]
async fn busy_polling_wakes_on_input_and_sleeps_when_idle() {
    let server =
        TestServer::start(|settings| settings.busy_poll = Some(Duration::from_millis(500))).await;
    let driver = server.driver.clone();
    server.wait_for(|| !driver.is_busy_polling()).await;
    let mut client = HandClient::open(&server, false).await;
    assert!(
        driver.is_busy_polling(),
        "the connection's input did not wake the poller"
    );
    send_numbered(&mut client, 20).await;
    client.quit().await;
    server.wait_for(|| !driver.is_busy_polling()).await;
    assert_eq!(server.contents(), numbered_messages(20));
}

/// The poller would hold one worker of several while another sleeps in the
/// sockets' poll: refused rather than left to do nothing useful.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_polling_is_refused_on_a_multi_threaded_runtime() {
    let mut settings =
        smtpwire_programs::server::Settings::new(smtpwire::Text::from_static("mx.test"));
    settings.busy_poll = Some(Duration::from_micros(50));
    let Err(error) =
        smtpwire_programs::server::Server::bind(([127, 0, 0, 1], 0).into(), settings).await
    else {
        panic!("busy polling was accepted on a multi-threaded runtime");
    };
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
}

fn plain(user: &str, password: &str) -> String {
    b64(&format!("\0{user}\0{password}"))
}

fn b64(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}
