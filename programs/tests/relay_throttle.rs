//! The relay slowing down for a provider that throttles its source
//! address: a next hop answers `421 4.7.28` to the relay's 127.0.0.2 for
//! its first connections; the relay pauses, sends smaller rounds, bounces
//! nothing, sends no delay notice, and delivers everything once the
//! throttling stops. A relay restarted during the pause waits it out, and
//! sends the halved rounds, as if it had not stopped.

// Shared with the other test files, each of which uses a part.
#[allow(dead_code)]
mod support;

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use smtpwire_programs::outbound::routes::FixedRoute;
use smtpwire_programs::relay::{Relay, Settings, Sources};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// The first pause after a throttling reply.
const PAUSE: Duration = Duration::from_millis(400);

/// What the next hop saw on one connection.
#[derive(Debug, Clone)]
struct Session {
    peer: IpAddr,
    began: Instant,
    ended: Option<Instant>,
    throttled: bool,
    /// The reverse path of each message it took.
    taken: Vec<String>,
}

/// A next hop that answers `421 4.7.28` to the first MAIL of its first
/// `throttles` connections and closes them; after that it takes
/// everything. Returns its address and what it saw.
async fn next_hop(throttles: usize) -> (SocketAddr, Arc<Mutex<Vec<Session>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::<Session>::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((stream, peer)) = listener.accept().await {
            let log = log.clone();
            let index = {
                let mut log = log.lock().unwrap();
                let throttled = log.len() < throttles;
                log.push(Session {
                    peer: peer.ip(),
                    began: Instant::now(),
                    ended: None,
                    throttled,
                    taken: Vec::new(),
                });
                log.len() - 1
            };
            tokio::spawn(async move {
                let throttled = log.lock().unwrap()[index].throttled;
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                let _ = write.write_all(b"220 mx.rate.test\r\n").await;
                let (mut in_data, mut from) = (false, String::new());
                while let Ok(Some(line)) = lines.next_line().await {
                    if in_data {
                        if line == "." {
                            in_data = false;
                            log.lock().unwrap()[index].taken.push(from.clone());
                            let _ = write.write_all(b"250 2.0.0 taken\r\n").await;
                        }
                        continue;
                    }
                    let upper = line.to_ascii_uppercase();
                    let reply: &[u8] = if upper.starts_with("EHLO") {
                        b"250 mx.rate.test\r\n"
                    } else if upper.starts_with("MAIL") && throttled {
                        let _ = write
                            .write_all(b"421 4.7.28 Our system has detected an unusual rate: rate limited\r\n")
                            .await;
                        break;
                    } else if upper.starts_with("MAIL") {
                        from = line.get(10..).unwrap_or_default().to_string();
                        b"250 2.1.0 ok\r\n"
                    } else if upper.starts_with("DATA") {
                        in_data = true;
                        b"354 go on\r\n"
                    } else if upper.starts_with("QUIT") {
                        let _ = write.write_all(b"221 bye\r\n").await;
                        break;
                    } else {
                        b"250 2.0.0 ok\r\n"
                    };
                    if write.write_all(reply).await.is_err() {
                        break;
                    }
                }
                log.lock().unwrap()[index].ended = Some(Instant::now());
            });
        }
    });
    (address, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttling_next_hop_slows_the_relay_down_and_bounces_nothing() {
    const MESSAGES: usize = 8;
    let (hop, seen) = next_hop(2).await;
    let queue = support::Scratch(
        std::env::temp_dir().join(format!("smtpwire-relay-throttle-{}", std::process::id())),
    );
    let _ = std::fs::remove_dir_all(&queue.0);
    // Bounces and delay notices to the sender would reach the same hop.
    let routes = ["rate.test", "example.org"]
        .iter()
        .map(|domain| FixedRoute::parse(&format!("{domain}={hop}"), 25).unwrap())
        .collect();
    let settings = Settings {
        per_connection: 4,
        warn_after: Some(Duration::ZERO),
        ..support::relay_settings(&queue.0, routes)
    };
    let sources = Sources {
        addresses: vec![IpAddr::from([127, 0, 0, 2])],
        throttle_pause: PAUSE,
        ..Sources::default()
    };
    let relay = Relay::bind_from(SocketAddr::from(([127, 0, 0, 1], 0)), settings, sources)
        .await
        .unwrap();
    let incoming = queue.0.join("incoming/new");
    for n in 0..MESSAGES {
        let stored = format!(
            "Return-Path: <alice@example.org>\r\nX-Envelope-To: <r{n}@rate.test>\r\n\
             Subject: {n}\r\n\r\nMessage {n}.\r\n"
        );
        std::fs::write(incoming.join(format!("m{n}")), stored).unwrap();
    }
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(relay.run(async {
        let _ = stopped.await;
    }));
    let began = Instant::now();
    let delivered = || {
        let seen = seen.lock().unwrap();
        seen.iter()
            .map(|session| session.taken.len())
            .sum::<usize>()
    };
    while delivered() < MESSAGES {
        assert!(
            began.elapsed() < Duration::from_secs(20),
            "not all delivered in time: {:?}",
            seen.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Time for a stray bounce or delay notice to show up.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let _ = stop.send(());
    let _ = task.await;
    let seen = seen.lock().unwrap().clone();
    assert!(
        seen.iter().all(|s| s.peer == IpAddr::from([127, 0, 0, 2])),
        "{seen:?}"
    );
    // Each message once, none from the null sender: nothing bounced and
    // no delay notice, though any delay was to be told at once.
    let taken: Vec<&String> = seen.iter().flat_map(|s| &s.taken).collect();
    assert_eq!(taken.len(), MESSAGES, "{seen:?}");
    assert!(
        taken.iter().all(|from| from.contains("alice@example.org")),
        "{seen:?}"
    );
    // After the throttling, a pause: no connection starts less than the
    // first pause after the first throttled one ended.
    let first_end = seen[0].ended.unwrap();
    assert!(
        seen.iter()
            .skip(1)
            .all(|s| s.began >= first_end + PAUSE - Duration::from_millis(50)),
        "{seen:?}"
    );
    // And smaller rounds: two throttling replies halve the four a
    // connection carries to one, and it grows back by half a round.
    let accepted: Vec<usize> = seen
        .iter()
        .filter(|s| !s.throttled)
        .map(|s| s.taken.len())
        .collect();
    assert_eq!(accepted.first(), Some(&1), "{seen:?}");
    assert!(accepted.iter().all(|&n| n < 4), "{seen:?}");
    // The second throttling reply came after a longer pause.
    let second = seen.iter().filter(|s| s.throttled).nth(1).unwrap();
    let after = seen.iter().find(|s| !s.throttled).unwrap();
    assert!(
        after.began >= second.ended.unwrap() + 2 * PAUSE - Duration::from_millis(50),
        "{seen:?}"
    );
}

/// Waits, for at most 20 seconds, until `done` holds of the sessions
/// `seen`.
async fn wait_until(seen: &Mutex<Vec<Session>>, done: impl Fn(&[Session]) -> bool) {
    let began = Instant::now();
    while !done(&seen.lock().unwrap()) {
        assert!(began.elapsed() < Duration::from_secs(20), "not in time");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_relay_takes_up_the_pace_of_a_throttling_next_hop() {
    const PAUSE: Duration = Duration::from_millis(1500);
    let (hop, seen) = next_hop(1).await;
    let queue = support::Scratch(
        std::env::temp_dir().join(format!("smtpwire-relay-repace-{}", std::process::id())),
    );
    let _ = std::fs::remove_dir_all(&queue.0);
    let start = || async {
        let routes = ["rate.test", "example.org"]
            .iter()
            .map(|domain| FixedRoute::parse(&format!("{domain}={hop}"), 25).unwrap())
            .collect();
        let settings = Settings {
            per_connection: 4,
            ..support::relay_settings(&queue.0, routes)
        };
        let sources = Sources {
            addresses: vec![IpAddr::from([127, 0, 0, 2])],
            throttle_pause: PAUSE,
            ..Sources::default()
        };
        let relay = Relay::bind_from(SocketAddr::from(([127, 0, 0, 1], 0)), settings, sources)
            .await
            .unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(relay.run(async {
            let _ = stopped.await;
        }));
        (stop, task)
    };
    let enqueue = |n: usize| {
        let stored = format!(
            "Return-Path: <alice@example.org>\r\nX-Envelope-To: <r{n}@rate.test>\r\n\
             Subject: {n}\r\n\r\nMessage {n}.\r\n"
        );
        std::fs::write(queue.0.join(format!("incoming/new/m{n}")), stored).unwrap();
    };
    // The first relay's one message is throttled; it stops in the pause.
    let (stop, task) = start().await;
    enqueue(0);
    wait_until(&seen, |sessions| {
        sessions.first().is_some_and(|s| s.ended.is_some())
    })
    .await;
    // Stopped once the slowed pace is saved.
    let ledger_path = queue.0.join("warmup");
    let saved = || std::fs::read_to_string(&ledger_path).unwrap_or_default();
    let began = Instant::now();
    while !saved().contains("pace_size 2\n") {
        assert!(began.elapsed() < Duration::from_secs(20), "{}", saved());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = stop.send(());
    let _ = task.await;

    // The second relay has four new messages, due at once: it waits for
    // the pause, then sends rounds of two, not four.
    let (stop, task) = start().await;
    for n in 1..5 {
        enqueue(n);
    }
    let taken = |sessions: &[Session]| sessions.iter().map(|s| s.taken.len()).sum::<usize>();
    wait_until(&seen, |sessions| taken(sessions) == 5).await;
    let _ = stop.send(());
    let _ = task.await;
    let seen = seen.lock().unwrap().clone();
    let throttled_end = seen[0].ended.unwrap();
    assert!(
        seen[1].began >= throttled_end + PAUSE - Duration::from_millis(50),
        "{seen:?}"
    );
    assert_eq!(seen[1].taken.len(), 2, "{seen:?}");
}
