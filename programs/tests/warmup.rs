//! Warm-up as providers see it, on loopback: the bulk sender sends from two
//! source addresses (127.0.0.2 and 127.0.0.3; Linux routes all of 127/8 to
//! the loopback interface) to two providers reached through fixed routes,
//! one of which throttles one of the source addresses. That pair slows
//! down and pauses while the other three keep their pace, and its
//! throttled recipients are delivered later, not counted as failures; and
//! the next run takes up the pace where the last one left it.

// Shared with the other test files, each of which uses a part.
#[allow(dead_code)]
mod support;

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use smtpwire_programs::bulk::cli::{run, Args};
use support::TestServer;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// The first pause after a throttling reply, in seconds.
const PAUSE: f64 = 0.5;

/// One connection to the throttling provider: where it came from, when it
/// began, and what each RCPT got (true: accepted).
#[derive(Debug, Clone)]
struct Connection {
    peer: IpAddr,
    began: Instant,
    recipients: Vec<bool>,
}

/// A provider that answers Gmail's throttling reply, `450 4.7.28`, to the
/// first RCPT of each connection from `throttled` as long as `throttles`
/// lasts, and takes everything else. Returns its address and its log.
async fn throttling_provider(
    throttled: IpAddr,
    throttles: usize,
) -> (SocketAddr, Arc<Mutex<Vec<Connection>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let log = Arc::new(Mutex::new(Vec::<Connection>::new()));
    let connections = log.clone();
    let left = Arc::new(Mutex::new(throttles));
    tokio::spawn(async move {
        while let Ok((stream, peer)) = listener.accept().await {
            let log = log.clone();
            let left = left.clone();
            tokio::spawn(async move {
                let index = {
                    let mut log = log.lock().unwrap();
                    log.push(Connection {
                        peer: peer.ip(),
                        began: Instant::now(),
                        recipients: Vec::new(),
                    });
                    log.len() - 1
                };
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                let _ = write.write_all(b"220 mx.throttling.test\r\n").await;
                let mut in_data = false;
                while let Ok(Some(line)) = lines.next_line().await {
                    if in_data {
                        if line == "." {
                            in_data = false;
                            let _ = write.write_all(b"250 2.0.0 taken\r\n").await;
                        }
                        continue;
                    }
                    let verb = line.get(..4).map(str::to_ascii_uppercase);
                    let reply: &[u8] = match verb.as_deref() {
                        Some("EHLO") => b"250 mx.throttling.test\r\n",
                        Some("RCPT") => {
                            let throttle = {
                                let mut left = left.lock().unwrap();
                                let first = log.lock().unwrap()[index].recipients.is_empty();
                                let throttle = peer.ip() == throttled && first && *left > 0;
                                if throttle {
                                    *left -= 1;
                                }
                                throttle
                            };
                            log.lock().unwrap()[index].recipients.push(!throttle);
                            if throttle {
                                b"450 4.7.28 Unusual rate of mail from your IP: slow down\r\n"
                            } else {
                                b"250 2.1.5 ok\r\n"
                            }
                        }
                        Some("DATA") => {
                            in_data = true;
                            b"354 go on\r\n"
                        }
                        Some("QUIT") => {
                            let _ = write.write_all(b"221 bye\r\n").await;
                            break;
                        }
                        _ => b"250 2.0.0 ok\r\n",
                    };
                    if write.write_all(reply).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    (address, connections)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_provider_slows_for_that_source_while_the_others_keep_their_pace() {
    let steady = TestServer::start(|_| {}).await;
    let first_source: IpAddr = "127.0.0.2".parse().unwrap();
    let (throttling, connections) = throttling_provider(first_source, 1).await;

    let dir = std::env::temp_dir().join(format!("smtpwire-warmup-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let scratch = support::Scratch(dir.clone());
    // Alternating providers, so each (source, provider) pair gets 8.
    let mut list = String::from("email\n");
    for n in 0..16 {
        list.push_str(&format!("a{n}@steady.test\nb{n}@throttling.test\n"));
    }
    std::fs::write(dir.join("list.csv"), list).unwrap();
    std::fs::write(
        dir.join("template.eml"),
        "From: news@example.org\nTo: {{email}}\nSubject: News\n\nHello\n",
    )
    .unwrap();
    let path = |name: &str| scratch.0.join(name).display().to_string();
    let command = [
        "bulk".to_string(),
        format!("--list={}", path("list.csv")),
        format!("--template={}", path("template.eml")),
        format!("--results={}", path("results.csv")),
        "--from=bounces@example.org".to_string(),
        "--unsubscribe-url=https://example.org/u?who={{email}}".to_string(),
        format!("--mx=steady.test={}", steady.address),
        format!("--mx=throttling.test={throttling}"),
        "--source-ip=127.0.0.2".to_string(),
        "--source-ip=127.0.0.3".to_string(),
        "--per-connection=4".to_string(),
        format!("--throttle-pause={PAUSE}"),
        "--warmup-daily=1000".to_string(),
        "--warmup-hourly=1000".to_string(),
        "--no-starttls".to_string(),
    ];
    let began = Instant::now();
    let summary = tokio::time::timeout(
        Duration::from_secs(30),
        run(Args::try_parse_from(command).unwrap()),
    )
    .await
    .expect("the run ends in time")
    .unwrap();
    let took = began.elapsed();
    assert!(summary.starts_with("32 delivered, 0 failed"), "{summary}");
    assert!(summary.contains("0 deferred, 0 throttled"), "{summary}");

    // Every recipient delivered on its first counted try: the throttled
    // one's try did not count as an attempt.
    let results = std::fs::read_to_string(dir.join("results.csv")).unwrap();
    let rows: Vec<&str> = results.lines().skip(1).collect();
    assert_eq!(rows.len(), 32);
    assert!(
        rows.iter()
            .all(|row| row.contains(",delivered,250,") && row.contains(",1,no,")),
        "{results}"
    );

    // The steady provider saw both sources.
    let stored: Vec<String> = steady
        .delivered()
        .iter()
        .map(|file| String::from_utf8_lossy(file).into_owned())
        .collect();
    assert_eq!(stored.len(), 16);
    for source in ["127.0.0.2", "127.0.0.3"] {
        let from_it = stored
            .iter()
            .filter(|m| m.contains(&format!("[{source}]")))
            .count();
        assert_eq!(from_it, 8, "{source}");
    }

    // The throttling provider: from 127.0.0.3 two full rounds of 4; from
    // 127.0.0.2 a round of 4 whose first recipient was throttled, then a
    // pause, then rounds of 2 (halved) and 3 (recovering by half).
    let connections = connections.lock().unwrap().clone();
    let sizes = |source: &str| -> Vec<usize> {
        let source: IpAddr = source.parse().unwrap();
        connections
            .iter()
            .filter(|c| c.peer == source)
            .map(|c| c.recipients.len())
            .collect()
    };
    assert_eq!(sizes("127.0.0.3"), [4, 4], "{connections:?}");
    assert_eq!(sizes("127.0.0.2"), [4, 2, 3], "{connections:?}");
    let slowed: Vec<&Connection> = connections
        .iter()
        .filter(|c| c.peer == first_source)
        .collect();
    assert_eq!(slowed[0].recipients, [false, true, true, true]);
    let paused = slowed[1].began - slowed[0].began;
    assert!(paused >= Duration::from_secs_f64(PAUSE), "{paused:?}");
    // The other source's second round did not wait for that pause.
    let steady_pair = connections
        .iter()
        .filter(|c| c.peer != first_source)
        .nth(1)
        .unwrap();
    assert!(steady_pair.began < slowed[1].began);
    // Bounded: about one pause, not one per recipient.
    assert!(took < Duration::from_secs(10), "{took:?}");

    // The warm-up counts are kept per (source, provider).
    let ledger = std::fs::read_to_string(dir.join("results.csv.warmup")).unwrap();
    for source in ["127.0.0.2", "127.0.0.3"] {
        for provider in [steady.address, throttling] {
            assert!(
                ledger.contains(&format!("pair {source} {provider}\n")),
                "{ledger}"
            );
        }
    }
    println!(
        "sent 32 in {took:?}; throttling provider's rounds: {:?} from 127.0.0.2, {:?} from \
         127.0.0.3, paused {paused:?}",
        sizes("127.0.0.2"),
        sizes("127.0.0.3")
    );
}

/// A provider that throttles every try: the recipient ends `throttled` in
/// the results, with no attempt counted, for the next run; not deferred
/// or failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recipient_throttled_on_every_try_stays_pending_not_failed() {
    let source: IpAddr = "127.0.0.2".parse().unwrap();
    let (throttling, connections) = throttling_provider(source, usize::MAX).await;
    let dir = std::env::temp_dir().join(format!("smtpwire-throttled-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let scratch = support::Scratch(dir.clone());
    std::fs::write(
        dir.join("list.csv"),
        "email\nfirst@throttling.test\nsecond@throttling.test\n",
    )
    .unwrap();
    std::fs::write(dir.join("template.eml"), "Subject: News\n\nHello\n").unwrap();
    let path = |name: &str| scratch.0.join(name).display().to_string();
    let command = [
        "bulk".to_string(),
        format!("--list={}", path("list.csv")),
        format!("--template={}", path("template.eml")),
        format!("--results={}", path("results.csv")),
        "--from=bounces@example.org".to_string(),
        "--unsubscribe-url=https://example.org/u?who={{email}}".to_string(),
        format!("--mx=throttling.test={throttling}"),
        "--source-ip=127.0.0.2".to_string(),
        "--attempts=2".to_string(),
        "--throttle-pause=0.1".to_string(),
        "--no-starttls".to_string(),
    ];
    let summary = tokio::time::timeout(
        Duration::from_secs(30),
        run(Args::try_parse_from(command).unwrap()),
    )
    .await
    .expect("the run ends in time")
    .unwrap();
    assert!(summary.starts_with("1 delivered, 0 failed"), "{summary}");
    assert!(summary.contains("0 deferred, 1 throttled"), "{summary}");
    let results = std::fs::read_to_string(dir.join("results.csv")).unwrap();
    let first = results.lines().find(|l| l.starts_with("first@")).unwrap();
    assert!(
        first.starts_with("first@throttling.test,throttled,450,4.7.28,0,no,"),
        "{first}"
    );
    // The second round, after the pause, was halved to one message.
    let sizes: Vec<usize> = connections
        .lock()
        .unwrap()
        .iter()
        .map(|c| c.recipients.len())
        .collect();
    assert_eq!(sizes, [2, 1]);
}

/// A run throttled by a provider leaves its pace in the warm-up state
/// file; the next run waits out the pause before connecting again, and
/// sends the halved round, instead of starting at full speed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_next_run_takes_up_the_pace_a_throttling_provider_brought() {
    const PAUSE: Duration = Duration::from_millis(1500);
    let source: IpAddr = "127.0.0.2".parse().unwrap();
    let (throttling, connections) = throttling_provider(source, 1).await;
    let dir = std::env::temp_dir().join(format!("smtpwire-paced-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let scratch = support::Scratch(dir.clone());
    std::fs::write(dir.join("template.eml"), "Subject: News\n\nHello\n").unwrap();
    let path = |name: &str| scratch.0.join(name).display().to_string();
    let command = [
        "bulk".to_string(),
        format!("--list={}", path("list.csv")),
        format!("--template={}", path("template.eml")),
        format!("--results={}", path("results.csv")),
        "--from=bounces@example.org".to_string(),
        "--unsubscribe-url=https://example.org/u?who={{email}}".to_string(),
        format!("--mx=throttling.test={throttling}"),
        "--source-ip=127.0.0.2".to_string(),
        "--attempts=1".to_string(),
        "--per-connection=4".to_string(),
        format!("--throttle-pause={}", PAUSE.as_secs_f64()),
        "--no-starttls".to_string(),
    ];
    let send = || async {
        tokio::time::timeout(
            Duration::from_secs(30),
            run(Args::try_parse_from(command.clone()).unwrap()),
        )
        .await
        .expect("the run ends in time")
        .unwrap()
    };
    std::fs::write(dir.join("list.csv"), "email\nr0@throttling.test\n").unwrap();
    let first = send().await;
    assert!(first.contains("0 deferred, 1 throttled"), "{first}");
    let state = std::fs::read_to_string(dir.join("results.csv.warmup")).unwrap();
    assert!(state.contains("pace_size 2\n"), "{state}");

    // The throttled recipient and three more: at full pace one round of 4.
    let list: String = (0..4).map(|n| format!("r{n}@throttling.test\n")).collect();
    std::fs::write(dir.join("list.csv"), format!("email\n{list}")).unwrap();
    let second = send().await;
    assert!(second.starts_with("4 delivered, 0 failed"), "{second}");
    let connections = connections.lock().unwrap().clone();
    let sizes: Vec<usize> = connections.iter().map(|c| c.recipients.len()).collect();
    assert_eq!(sizes, [1, 2, 2], "{connections:?}");
    let waited = connections[1].began - connections[0].began;
    assert!(
        waited >= PAUSE - Duration::from_millis(50),
        "{waited:?} {connections:?}"
    );
    // The pace recovered, so the state no longer holds it back.
    let state = std::fs::read_to_string(dir.join("results.csv.warmup")).unwrap();
    assert!(!state.contains("pace_size"), "{state}");
}
