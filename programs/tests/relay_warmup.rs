//! The relay's warm-up caps per (source address, receiving provider): a
//! message over the cap stays queued, not tried and not failed, and the
//! counts survive a restart, so a new message after it is held too.

// Shared with the other test files, each of which uses a part.
#[allow(dead_code)]
mod support;

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use smtpwire::delivery::Warmup;
use smtpwire_programs::outbound::routes::FixedRoute;
use smtpwire_programs::relay::{Relay, Sources};
use support::TestServer;

/// Messages the warm-up lets the pair send on its first day.
const DAILY: u64 = 2;

/// Scans the relay gets to send what it should not: at the test's
/// 100 ms interval, ten of them.
const SCANS: Duration = Duration::from_secs(1);

/// Queues message `n` to `r{n}@capped.test`, as the relay's intake would.
fn enqueue(queue: &Path, n: usize) {
    let stored = format!(
        "Return-Path: <alice@example.org>\r\nX-Envelope-To: <r{n}@capped.test>\r\n\
         Subject: {n}\r\n\r\nMessage {n}.\r\n"
    );
    std::fs::write(queue.join(format!("incoming/new/m{n}")), stored).unwrap();
}

/// Runs a relay on `queue` delivering to `hop` from 127.0.0.2 under the
/// warm-up caps for `run`, then stops it.
async fn relay_for(queue: &Path, hop: SocketAddr, run: Duration, wait_until: impl Fn() -> bool) {
    relay_warning(queue, hop, run, None, wait_until).await;
}

/// [`relay_for`], telling senders of mail waiting longer than `warn_after`.
async fn relay_warning(
    queue: &Path,
    hop: SocketAddr,
    run: Duration,
    warn_after: Option<Duration>,
    wait_until: impl Fn() -> bool,
) {
    // Bounces and delay notices to the sender would reach the same hop.
    let routes = ["capped.test", "example.org"]
        .iter()
        .map(|domain| FixedRoute::parse(&format!("{domain}={hop}"), 25).unwrap())
        .collect();
    let settings = smtpwire_programs::relay::Settings {
        warn_after,
        ..support::relay_settings(queue, routes)
    };
    let sources = Sources {
        addresses: vec![IpAddr::from([127, 0, 0, 2])],
        warmup: Some(Warmup {
            daily: DAILY,
            hourly: DAILY,
            growth_percent: 200,
            max_daily: None,
        }),
        ..Sources::default()
    };
    let relay = Relay::bind_from(SocketAddr::from(([127, 0, 0, 1], 0)), settings, sources)
        .await
        .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(relay.run(async {
        let _ = stopped.await;
    }));
    let began = Instant::now();
    while !wait_until() {
        assert!(began.elapsed() < Duration::from_secs(20), "not in time");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(run).await;
    let _ = stop.send(());
    let _ = task.await;
}

/// The messages still queued, by name.
fn queued(queue: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(queue.join("incoming/new"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_over_the_warm_up_cap_stay_queued_across_a_restart() {
    // The daily count starts again at midnight (UTC): not in the middle.
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let into_day = now.as_secs() % 86_400;
    if into_day > 86_400 - 30 {
        tokio::time::sleep(Duration::from_secs(86_400 - into_day + 1)).await;
    }
    let hop = TestServer::start(|_| {}).await;
    let queue = support::Scratch(
        std::env::temp_dir().join(format!("smtpwire-relay-warmup-{}", std::process::id())),
    );
    let _ = std::fs::remove_dir_all(&queue.0);
    std::fs::create_dir_all(queue.0.join("incoming/new")).unwrap();
    for n in 0..3 {
        enqueue(&queue.0, n);
    }
    let delivered = || hop.delivered().len();
    relay_for(&queue.0, hop.address, SCANS, || {
        delivered() >= DAILY as usize
    })
    .await;
    assert_eq!(delivered(), DAILY as usize);
    // The third is queued still: not tried, so no attempt, no bounce and
    // no delay notice (which would have been queued, or delivered).
    let left = queued(&queue.0);
    assert_eq!(left.len(), 1, "{left:?}");
    let state = std::fs::read_to_string(queue.0.join("state").join(&left[0])).unwrap();
    assert!(state.contains("attempts 0\n"), "{state}");
    assert!(state.contains("pending <r"), "{state}");
    let ledger = std::fs::read_to_string(queue.0.join("warmup")).unwrap();
    assert!(ledger.contains("pair 127.0.0.2 "), "{ledger}");
    assert!(
        ledger.contains(&format!("sent_today {DAILY}\n")),
        "{ledger}"
    );

    // After a restart a new message, due at once, is held as well: the
    // counts were kept.
    enqueue(&queue.0, 3);
    relay_for(&queue.0, hop.address, SCANS, || true).await;
    assert_eq!(delivered(), DAILY as usize);
    assert_eq!(queued(&queue.0).len(), 2);
    let state = std::fs::read_to_string(queue.0.join("state/m3")).unwrap();
    assert!(state.contains("attempts 0\n"), "{state}");
    let next: u64 = state
        .lines()
        .find_map(|line| line.strip_prefix("next "))
        .unwrap()
        .parse()
        .unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(next > now && next <= now + 3600, "next {next}, now {now}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_the_cap_holds_past_warn_after_gets_one_delay_notice() {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let into_day = now.as_secs() % 86_400;
    if into_day > 86_400 - 30 {
        tokio::time::sleep(Duration::from_secs(86_400 - into_day + 1)).await;
    }
    let hop = TestServer::start(|_| {}).await;
    let queue = support::Scratch(
        std::env::temp_dir().join(format!("smtpwire-relay-warmup-warn-{}", std::process::id())),
    );
    let _ = std::fs::remove_dir_all(&queue.0);
    std::fs::create_dir_all(queue.0.join("incoming/new")).unwrap();
    for n in 0..3 {
        enqueue(&queue.0, n);
    }
    let delivered = || hop.delivered().len();
    // Never tried, the third waits past warn_after: its sender is told
    // once (the notice, capped as well, waits in the queue).
    relay_warning(
        &queue.0,
        hop.address,
        Duration::from_millis(2500),
        Some(Duration::from_secs(1)),
        || delivered() >= DAILY as usize,
    )
    .await;
    assert_eq!(delivered(), DAILY as usize);
    let notices: Vec<String> = queued(&queue.0)
        .iter()
        .map(|name| std::fs::read_to_string(queue.0.join("incoming/new").join(name)).unwrap())
        .filter(|stored| stored.starts_with("Return-Path: <>\r\n"))
        .collect();
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert!(notices[0].contains("Action: delayed\r\n"));
    assert!(notices[0].contains("Final-Recipient: rfc822;r2@capped.test\r\n"));
    assert!(notices[0].contains("X-Envelope-To: <alice@example.org>\r\n"));
}
