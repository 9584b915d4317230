//! The relay over real loopback TCP: mail accepted by the relay
//! reaches the receiving servers its `--mx` routes name, primary first,
//! secondary when the primary is down, nothing queued is lost when the
//! relay dies and starts again, and what a next hop took before the relay
//! died is not sent again.

// Shared with the other test files, each of which uses a part.
#[allow(dead_code)]
mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use smtpwire_programs::outbound::routes::FixedRoute;
use smtpwire_programs::relay::Settings;
use support::relay::RunningRelay;
use support::{
    accepts_then_hangs, content_of, numbered_messages, wait_until, HandClient, MailClient,
    TestServer,
};

/// A relay running in this process.
struct TestRelay {
    running: RunningRelay,
}

impl TestRelay {
    /// Starts a relay on `queue` that retries every second.
    async fn start(queue: &Path, routes: Vec<FixedRoute>) -> TestRelay {
        Self::start_warning(queue, routes, None).await
    }

    /// [`start`](Self::start), telling senders of mail delayed longer than
    /// `warn_after`.
    async fn start_warning(
        queue: &Path,
        routes: Vec<FixedRoute>,
        warn_after: Option<Duration>,
    ) -> TestRelay {
        let settings = Settings {
            warn_after,
            starttls: true,
            ..support::relay_settings(queue, routes)
        };
        TestRelay {
            running: RunningRelay::start(settings).await,
        }
    }

    /// Ends the relay as a crash would: every task dropped where it is.
    async fn crash(self) {
        self.running.crash().await;
    }

    /// Sends one message through the relay; the relay's replies to its end.
    async fn send(&self, from: &str, to: &str, content: &[u8]) -> Vec<u16> {
        let unused = no_certificate();
        let mut client = HandClient::connect(self.running.address, &unused, false).await;
        let codes = client.send(from, &[to], content).await;
        client.quit().await;
        codes
    }
}

/// `HandClient::connect` wants a certificate even without TLS.
fn no_certificate() -> rustls::pki_types::CertificateDer<'static> {
    rustls::pki_types::CertificateDer::from(Vec::new())
}

/// A fresh queue directory, removed when dropped.
struct QueueDir(PathBuf);

impl QueueDir {
    fn new(tag: &str) -> QueueDir {
        let path =
            std::env::temp_dir().join(format!("smtpwire-relay-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        QueueDir(path)
    }

    /// Queues a message from alice@example.org as the receiving server
    /// would, as `name`.
    fn put(&self, name: &str, recipients: &[&str], content: &[u8]) {
        let mut stored = b"Return-Path: <alice@example.org>\r\n".to_vec();
        for recipient in recipients {
            stored.extend_from_slice(format!("X-Envelope-To: <{recipient}>\r\n").as_bytes());
        }
        stored.extend_from_slice(content);
        std::fs::write(self.0.join("incoming/new").join(name), stored).unwrap();
    }

    /// Messages waiting in the queue.
    fn waiting(&self) -> usize {
        std::fs::read_dir(self.0.join("incoming/new"))
            .map(|entries| entries.count())
            .unwrap_or(0)
    }
}

impl Drop for QueueDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn route(domain: &str, hosts: &[SocketAddr]) -> FixedRoute {
    let hosts: Vec<String> = hosts.iter().map(ToString::to_string).collect();
    FixedRoute::parse(&format!("{domain}={}", hosts.join(",")), 25).unwrap()
}

fn message(subject: &str) -> Vec<u8> {
    format!("Subject: {subject}\r\n\r\nRelayed: {subject}.\r\n.leading dot\r\n").into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn primary_down_secondary_takes_it_primary_back_takes_it_both_down_it_waits_through_a_crash()
{
    let mut primary = TestServer::start(|_| {}).await;
    let mut secondary = TestServer::start(|_| {}).await;
    let (primary_address, secondary_address) = (primary.address, secondary.address);
    let queue = QueueDir::new("failover");
    let routes = vec![route("example.net", &[primary_address, secondary_address])];
    let relay = TestRelay::start(&queue.0, routes.clone()).await;

    // The primary is down: the secondary gets the message.
    primary.stop().await;
    let first = message("while the primary is down");
    let codes = relay
        .send("alice@example.org", "bob@example.net", &first)
        .await;
    assert_eq!(codes, [250]);
    wait_until("delivered to the secondary", || {
        secondary.delivered().len() == 1
    })
    .await;
    let stored = &secondary.delivered()[0];
    assert_eq!(content_of(stored), &first[..]);
    assert!(stored
        .starts_with(b"Return-Path: <alice@example.org>\r\nX-Envelope-To: <bob@example.net>\r\n"));
    // The relay's own trace field went along; its envelope fields did not.
    assert_eq!(count(stored, b"Received: "), 2);
    assert_eq!(count(stored, b"X-Envelope-To: "), 1);
    // Opportunistic STARTTLS to the next hop.
    assert!(String::from_utf8_lossy(stored).contains("with ESMTPS"));
    wait_until("queue emptied", || queue.waiting() == 0).await;

    // The primary is back: it gets the next message.
    let primary = TestServer::start_at(primary_address, |_| {}).await;
    let second = message("with the primary back");
    let codes = relay
        .send("alice@example.org", "bob@example.net", &second)
        .await;
    assert_eq!(codes, [250]);
    wait_until("delivered to the primary", || {
        primary.delivered().len() == 1
    })
    .await;
    assert_eq!(content_of(&primary.delivered()[0]), &second[..]);
    assert_eq!(secondary.delivered().len(), 1);

    // Both down: the message waits in the queue, through retries and a
    // crash of the relay.
    let mut primary = primary;
    primary.stop().await;
    secondary.stop().await;
    let third = message("while both are down");
    let codes = relay
        .send("alice@example.org", "bob@example.net", &third)
        .await;
    assert_eq!(codes, [250]);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(queue.waiting(), 1);
    let state = std::fs::read_dir(queue.0.join("state"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    let state = std::fs::read_to_string(state.path()).unwrap();
    assert!(state.contains("pending <bob@example.net>"), "{state}");
    assert!(!state.contains("attempts 0"), "{state}");
    relay.crash().await;
    assert_eq!(queue.waiting(), 1);

    // Restarted, with the secondary back: the message arrives there.
    let relay = TestRelay::start(&queue.0, routes).await;
    let secondary_again = TestServer::start_at(secondary_address, |_| {}).await;
    wait_until("delivered after the restart", || {
        secondary_again.delivered().len() == 1
    })
    .await;
    assert_eq!(content_of(&secondary_again.delivered()[0]), &third[..]);
    // The message file goes first and its state file after it, so that a
    // crash between the two leaves nothing to send again.
    let states = || std::fs::read_dir(queue.0.join("state")).unwrap().count();
    wait_until("queue emptied", || queue.waiting() == 0 && states() == 0).await;
    relay.crash().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_recipient_is_bounced_to_the_sender_and_the_others_delivered() {
    let destination = TestServer::start(|settings| {
        settings.rules = smtpwire_programs::server::rules::RecipientRules::new(
            &["nobody@example.net".to_string()],
            &[],
        );
    })
    .await;
    let sender_domain = TestServer::start(|_| {}).await;
    let queue = QueueDir::new("bounce");
    let routes = vec![
        route("example.net", &[destination.address]),
        route("example.org", &[sender_domain.address]),
    ];
    let relay = TestRelay::start(&queue.0, routes).await;
    let unused = no_certificate();
    let mut client = HandClient::connect(relay.running.address, &unused, false).await;
    let content = message("one known, one unknown");
    let codes = client
        .send(
            "alice@example.org",
            &["bob@example.net", "nobody@example.net"],
            &content,
        )
        .await;
    client.quit().await;
    assert_eq!(codes, [250]);

    wait_until("delivered to bob", || destination.delivered().len() == 1).await;
    let delivered = &destination.delivered()[0];
    assert_eq!(content_of(delivered), &content[..]);
    assert_eq!(count(delivered, b"X-Envelope-To: <bob@example.net>"), 1);
    assert_eq!(count(delivered, b"nobody"), 0);

    wait_until("bounce delivered", || sender_domain.delivered().len() == 1).await;
    let bounce = String::from_utf8(sender_domain.delivered()[0].clone()).unwrap();
    assert!(
        bounce.starts_with("Return-Path: <>\r\nX-Envelope-To: <alice@example.org>\r\n"),
        "{bounce}"
    );
    for expected in [
        "Content-Type: multipart/report; report-type=delivery-status;",
        "Reporting-MTA: dns; relay.test",
        "Final-Recipient: rfc822;nobody@example.net",
        "Action: failed",
        "Status: 5.1.1",
        "Diagnostic-Code: smtp; 550 5.1.1 No such user here",
        "Subject: one known, one unknown",
    ] {
        assert!(
            bounce.contains(expected),
            "{expected} missing from:\n{bounce}"
        );
    }
    assert!(!bounce.contains("Final-Recipient: rfc822;bob@example.net"));
    wait_until("queue emptied", || queue.waiting() == 0).await;
    relay.crash().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_destination_that_never_answers_holds_up_only_its_own_mail() {
    // Takes connections and never says a word: the client waits for a
    // greeting for minutes.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_address = silent.local_addr().unwrap();
    let _holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = silent.accept().await {
            held.push(stream);
        }
    });
    let answering = TestServer::start(|_| {}).await;
    let queue = QueueDir::new("stuck");
    let routes = vec![
        route("stuck.example", &[silent_address]),
        route("example.net", &[answering.address]),
    ];
    let relay = TestRelay::start(&queue.0, routes).await;
    let stuck = message("to the silent host");
    assert_eq!(
        relay
            .send("alice@example.org", "carol@stuck.example", &stuck)
            .await,
        [250]
    );
    // Give the silent destination's delivery time to start and hang.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let fine = message("to the answering host");
    assert_eq!(
        relay
            .send("alice@example.org", "bob@example.net", &fine)
            .await,
        [250]
    );
    wait_until("delivered past the stuck destination", || {
        answering.delivered().len() == 1
    })
    .await;
    assert_eq!(content_of(&answering.delivered()[0]), &fine[..]);
    // The delivered one leaves the queue; the stuck one stays.
    wait_until("the delivered message off the queue", || {
        queue.waiting() == 1
    })
    .await;
    relay.crash().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_that_has_been_through_a_hundred_hosts_is_bounced_as_a_loop() {
    let destination = TestServer::start(|_| {}).await;
    let sender_domain = TestServer::start(|_| {}).await;
    let queue = QueueDir::new("loop");
    let routes = vec![
        route("example.net", &[destination.address]),
        route("example.org", &[sender_domain.address]),
    ];
    let relay = TestRelay::start(&queue.0, routes).await;
    // With the relay's own field, 100 in all.
    let mut looping = "Received: from a by b; Fri, 27 Nov 2026 12:00:00 +0000\r\n".repeat(99);
    looping.push_str("Subject: around and around\r\n\r\nbody\r\n");
    let codes = relay
        .send("alice@example.org", "bob@example.net", looping.as_bytes())
        .await;
    assert_eq!(codes, [250]);
    wait_until("bounce delivered", || sender_domain.delivered().len() == 1).await;
    let bounce = String::from_utf8(sender_domain.delivered()[0].clone()).unwrap();
    assert!(bounce.contains("Status: 5.4.6"), "{bounce}");
    assert!(destination.delivered().is_empty());
    relay.crash().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sender_is_told_once_that_mail_is_delayed_and_it_still_arrives() {
    let mut destination = TestServer::start(|_| {}).await;
    let destination_address = destination.address;
    destination.stop().await;
    let sender_domain = TestServer::start(|_| {}).await;
    let queue = QueueDir::new("delay");
    let routes = vec![
        route("example.net", &[destination_address]),
        route("example.org", &[sender_domain.address]),
    ];
    let relay = TestRelay::start_warning(&queue.0, routes, Some(Duration::from_secs(1))).await;
    let content = message("slow going");
    let codes = relay
        .send("alice@example.org", "bob@example.net", &content)
        .await;
    assert_eq!(codes, [250]);

    wait_until("delay notice delivered", || {
        sender_domain.delivered().len() == 1
    })
    .await;
    let notice = String::from_utf8(sender_domain.delivered()[0].clone()).unwrap();
    for expected in [
        "Return-Path: <>\r\n",
        "Subject: Delayed Mail (still being retried)",
        "Final-Recipient: rfc822;bob@example.net",
        "Action: delayed",
        "Status: 4.4.1",
        "Will-Retry-Until: ",
        "Subject: slow going",
    ] {
        assert!(
            notice.contains(expected),
            "{expected} missing from:\n{notice}"
        );
    }

    // Back up: the message arrives, and no second notice was sent.
    let destination = TestServer::start_at(destination_address, |_| {}).await;
    wait_until("delivered after the delay", || {
        destination.delivered().len() == 1
    })
    .await;
    assert_eq!(content_of(&destination.delivered()[0]), &content[..]);
    wait_until("queue emptied", || queue.waiting() == 0).await;
    assert_eq!(sender_domain.delivered().len(), 1);
    relay.crash().await;
}

fn count(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .filter(|window| *window == needle)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_mid_batch_sends_again_none_of_what_the_next_hop_took() {
    const MESSAGES: usize = 12;
    const TAKEN: usize = 4;
    let (hanging, taken) = accepts_then_hangs(TAKEN).await;
    let other = TestServer::start(|_| {}).await;
    let queue = QueueDir::new("midbatch");
    let routes = vec![
        route("example.net", &[hanging]),
        route("example.com", &[other.address]),
    ];
    // Made by a relay that is then stopped.
    let relay = TestRelay::start(&queue.0, routes.clone()).await;
    relay.crash().await;
    // Queued while the relay is down, so that one batch carries them all.
    for (number, content) in numbered_messages(MESSAGES).iter().enumerate() {
        queue.put(&format!("{number:02}"), &["bob@example.net"], content);
    }
    // One message to both destinations: taken by one, stuck at the other.
    let both = message("to both destinations");
    queue.put(
        &format!("{MESSAGES:02}"),
        &["bob@example.net", "carol@example.com"],
        &both,
    );
    let relay = TestRelay::start(&queue.0, routes).await;

    // What the next hop took leaves the queue while the rest of its batch
    // hangs; the message to both destinations is saved as delivered to the
    // one that took it.
    wait_until("the next hop took its share", || {
        taken.lock().unwrap().len() == TAKEN
    })
    .await;
    wait_until("what was taken off the queue", || {
        queue.waiting() == MESSAGES + 1 - TAKEN
    })
    .await;
    wait_until("delivered to the other destination", || {
        other.delivered().len() == 1
    })
    .await;
    let saved = |text: &str| text.contains("delivered <carol@example.com>");
    wait_until("saved as delivered there", || {
        std::fs::read_dir(queue.0.join("state"))
            .unwrap()
            .filter_map(|entry| std::fs::read_to_string(entry.unwrap().path()).ok())
            .any(|state| saved(&state))
    })
    .await;
    relay.crash().await;

    // Restarted with a next hop that answers: everything else arrives, and
    // nothing a next hop took is sent again.
    let destination = TestServer::start(|_| {}).await;
    let relay = TestRelay::start(
        &queue.0,
        vec![
            route("example.net", &[destination.address]),
            route("example.com", &[other.address]),
        ],
    )
    .await;
    wait_until("queue emptied", || queue.waiting() == 0).await;
    let mut subjects: Vec<String> = destination
        .contents()
        .iter()
        .map(|content| {
            let text = String::from_utf8_lossy(content);
            text.lines().next().unwrap_or_default().to_string()
        })
        .collect();
    assert_eq!(subjects.len(), MESSAGES + 1 - TAKEN);
    subjects.extend(taken.lock().unwrap().iter().cloned());
    subjects.sort();
    let mut expected: Vec<String> = (0..MESSAGES)
        .map(|number| format!("Subject: message {number}"))
        .chain(["Subject: to both destinations".to_string()])
        .collect();
    expected.sort();
    assert_eq!(subjects, expected);
    assert_eq!(other.delivered().len(), 1);
    relay.crash().await;
}
