//! The queue tools against a running relay over loopback: `list` shows
//! each message with its recipients and their states; `hold` keeps a
//! message from delivery while others go and `release` lets it go; `flush`
//! sends a deferred message before its backoff; `requeue` starts its
//! schedule again; `delete` while deliveries happen. In each case the
//! receiving server's messages are counted: none lost, none doubled.

// Shared with the other test files, each of which uses a part.
#[allow(dead_code)]
mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use smtpwire_programs::outbound::routes::FixedRoute;
use smtpwire_programs::relay::admin::{Admin, Entry, Outcome};
use smtpwire_programs::relay::queue::Standing;
use smtpwire_programs::relay::Settings;
use support::relay::RunningRelay;
use support::{accepts_then_hangs, numbered_message, wait_until, Scratch, TestServer};

/// A fresh queue directory, removed when dropped.
fn queue_dir(tag: &str) -> Scratch {
    let path = std::env::temp_dir().join(format!("smtpwire-queue-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&path);
    Scratch(path)
}

fn route(domain: &str, host: SocketAddr) -> FixedRoute {
    FixedRoute::parse(&format!("{domain}={host}"), 25).unwrap()
}

/// The test relay's settings, retrying after `retry`.
fn settings(queue: &Path, routes: Vec<FixedRoute>, retry: Duration) -> Settings {
    let mut settings = support::relay_settings(queue, routes);
    settings.backoff.initial = retry;
    settings.backoff.max = retry;
    settings
}

/// A receiving server's address with nothing listening there any more.
async fn stopped_server() -> (SocketAddr, TestServer) {
    let mut server = TestServer::start(|_| {}).await;
    server.stop().await;
    (server.address, server)
}

/// Runs a tool (which may wait on a delivery) off the runtime's threads.
async fn tool<T: Send + 'static>(
    admin: &Admin,
    act: impl FnOnce(&Admin) -> T + Send + 'static,
) -> T {
    let admin = admin.clone();
    tokio::task::spawn_blocking(move || act(&admin))
        .await
        .unwrap()
}

/// The entry of `id` in the listing.
fn listed(admin: &Admin, id: &str) -> Option<Entry> {
    admin
        .list()
        .unwrap()
        .into_iter()
        .find(|entry| entry.queued.name == id)
}

/// Messages `numbers` as [`TestServer::contents`] sorts them.
fn expected(numbers: impl IntoIterator<Item = usize>) -> Vec<Vec<u8>> {
    let mut messages: Vec<Vec<u8>> = numbers.into_iter().map(numbered_message).collect();
    messages.sort();
    messages
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_shows_each_message_with_its_recipients_their_states_and_last_errors() {
    let up = TestServer::start(|_| {}).await;
    let (down, _down) = stopped_server().await;
    let queue = queue_dir("list");
    let routes = vec![route("example.com", up.address), route("example.net", down)];
    let relay = RunningRelay::start(settings(&queue.0, routes, Duration::from_secs(3600))).await;
    let admin = Admin::open(&queue.0, Duration::from_secs(5)).unwrap();
    let content = numbered_message(1);
    let ids = relay
        .send(
            &["carol@example.com", "bob@example.net"],
            std::slice::from_ref(&content),
        )
        .await;
    let id = &ids[0];
    wait_until("tried once", || {
        listed(&admin, id).is_some_and(|entry| entry.queued.attempts == 1)
    })
    .await;

    let entry = listed(&admin, id).unwrap();
    assert!(!entry.held);
    assert_eq!(entry.queued.from.to_string(), "<alice@example.org>");
    assert!(entry.size > content.len() as u64);
    assert!(entry.queued.next_attempt > entry.queued.first_attempt + 3000);
    let recipients: Vec<(String, Standing, bool)> = entry
        .queued
        .recipients
        .iter()
        .map(|r| (r.path.to_string(), r.standing, r.last_error.is_some()))
        .collect();
    assert_eq!(
        recipients,
        [
            (
                "<carol@example.com>".to_string(),
                Standing::Delivered,
                false
            ),
            ("<bob@example.net>".to_string(), Standing::Pending, true),
        ]
    );
    assert_eq!(up.contents(), expected([1]));

    // The command line shows the same, as text and as JSON Lines.
    let run = |args: &[&str]| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_smtpwire-queue"))
            .arg("--queue")
            .arg(&queue.0)
            .args(args)
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        String::from_utf8(output.stdout).unwrap()
    };
    let text = run(&["list"]);
    assert!(text.starts_with(&format!("{id}  ")), "{text}");
    assert!(
        text.contains("\n  delivered <carol@example.com>\n"),
        "{text}"
    );
    assert!(
        text.contains("\n  pending   <bob@example.net>  ("),
        "{text}"
    );
    assert!(text.contains("\n-- 1 messages, "), "{text}");
    // Found through the relay's settings file as well.
    let settings = queue.0.join("relay.toml");
    std::fs::write(
        &settings,
        format!("queue = {:?}\n", queue.0.display().to_string()),
    )
    .unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_smtpwire-queue"))
        .args(["--config", settings.to_str().unwrap(), "list"])
        .output()
        .unwrap();
    let through_settings = String::from_utf8(output.stdout).unwrap();
    assert!(
        through_settings.starts_with(&format!("{id}  ")),
        "{through_settings}"
    );
    assert!(
        through_settings.contains("\n-- 1 messages, "),
        "{through_settings}"
    );
    let json = run(&["list", "--json"]);
    let record: serde_json::Value = serde_json::from_str(json.trim_end()).unwrap();
    assert_eq!(record["id"], id.as_str());
    assert_eq!(record["attempts"], 1);
    assert_eq!(record["recipients"][0]["state"], "delivered");
    assert_eq!(record["recipients"][1]["state"], "pending");
    // Nothing listens at the next hop: no reply, the status says why.
    let last_error = record["recipients"][1]["last_error"].as_str().unwrap();
    assert_eq!(
        last_error, "4.4.1 relay=127.0.0.1 (No answer from host)",
        "{last_error}"
    );
    drop(relay);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_message_waits_while_others_go_and_goes_once_released() {
    let (address, _stopped) = stopped_server().await;
    let queue = queue_dir("hold");
    let routes = vec![route("example.net", address)];
    let relay = RunningRelay::start(settings(&queue.0, routes, Duration::from_secs(1))).await;
    let admin = Admin::open(&queue.0, Duration::from_secs(5)).unwrap();
    let ids = relay
        .send(&["bob@example.net"], &[0, 1, 2].map(numbered_message))
        .await;
    let held = ids[1].clone();
    assert_eq!(
        tool(&admin, move |a| a.hold(&held)).await.unwrap(),
        Outcome::Done
    );
    let held = ids[1].clone();
    assert_eq!(
        tool(&admin, move |a| a.hold(&held)).await.unwrap(),
        Outcome::AlreadySo
    );
    assert!(listed(&admin, &ids[1]).unwrap().held);

    // The next hop comes up: the others go, the held one stays, through
    // several retries.
    let server = TestServer::start_at(address, |_| {}).await;
    wait_until("the others delivered", || {
        server.contents() == expected([0, 2])
    })
    .await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(server.contents(), expected([0, 2]));
    let remaining: Vec<String> = admin
        .list()
        .unwrap()
        .into_iter()
        .map(|e| e.queued.name)
        .collect();
    assert_eq!(remaining, [ids[1].clone()]);

    let released = ids[1].clone();
    assert_eq!(
        tool(&admin, move |a| a.release(&released)).await.unwrap(),
        Outcome::Done
    );
    wait_until("the held one delivered", || {
        server.contents() == expected([0, 1, 2])
    })
    .await;
    wait_until("the queue emptied", || admin.list().unwrap().is_empty()).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(server.contents(), expected([0, 1, 2]));
    drop(relay);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flush_sends_a_deferred_message_before_its_backoff() {
    let (address, _stopped) = stopped_server().await;
    let queue = queue_dir("flush");
    let routes = vec![route("example.net", address)];
    let relay = RunningRelay::start(settings(&queue.0, routes, Duration::from_secs(3600))).await;
    let admin = Admin::open(&queue.0, Duration::from_secs(5)).unwrap();
    let ids = relay
        .send(&["bob@example.net"], &[numbered_message(7)])
        .await;
    wait_until("tried once", || {
        listed(&admin, &ids[0]).is_some_and(|entry| entry.queued.attempts == 1)
    })
    .await;

    // Up again, but the message waits for its hour.
    let server = TestServer::start_at(address, |_| {}).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert!(server.contents().is_empty());

    let flushed = tool(&admin, |a| a.flush_all()).await.unwrap();
    assert_eq!(flushed.len(), 1);
    assert_eq!(flushed[0].0, ids[0]);
    assert_eq!(*flushed[0].1.as_ref().unwrap(), Outcome::Done);
    wait_until("delivered", || server.contents() == expected([7])).await;
    wait_until("the queue emptied", || admin.list().unwrap().is_empty()).await;
    let gone = ids[0].clone();
    assert_eq!(
        tool(&admin, move |a| a.flush(&gone)).await.unwrap(),
        Outcome::NotQueued
    );
    assert_eq!(server.contents(), expected([7]));
    drop(relay);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requeue_starts_the_schedule_again_and_the_message_goes_at_once() {
    let (address, _stopped) = stopped_server().await;
    let queue = queue_dir("requeue");
    let routes = vec![route("example.net", address)];
    let relay = RunningRelay::start(settings(&queue.0, routes, Duration::from_secs(3600))).await;
    let admin = Admin::open(&queue.0, Duration::from_secs(5)).unwrap();
    let ids = relay
        .send(&["bob@example.net"], &[numbered_message(3)])
        .await;
    let id = ids[0].clone();
    wait_until("tried once", || {
        listed(&admin, &id).is_some_and(|entry| entry.queued.attempts == 1)
    })
    .await;

    // Held, so that the runner does not act before the new schedule is
    // looked at.
    let (held, requeued) = (id.clone(), id.clone());
    assert_eq!(
        tool(&admin, move |a| a.hold(&held)).await.unwrap(),
        Outcome::Done
    );
    let before = smtpwire_programs::outbound::unix_now();
    assert_eq!(
        tool(&admin, move |a| a.requeue(&requeued)).await.unwrap(),
        Outcome::Done
    );
    let entry = listed(&admin, &id).unwrap();
    assert_eq!(entry.queued.attempts, 0);
    assert!(entry.queued.first_attempt >= before);
    assert!(entry.queued.next_attempt <= smtpwire_programs::outbound::unix_now());
    assert_eq!(entry.queued.recipients[0].standing, Standing::Pending);

    let server = TestServer::start_at(address, |_| {}).await;
    let released = id.clone();
    assert_eq!(
        tool(&admin, move |a| a.release(&released)).await.unwrap(),
        Outcome::Done
    );
    wait_until("delivered", || server.contents() == expected([3])).await;
    wait_until("the queue emptied", || admin.list().unwrap().is_empty()).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(server.contents(), expected([3]));
    drop(relay);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_while_deliveries_happen_loses_and_doubles_nothing() {
    const MESSAGES: usize = 40;
    let server = TestServer::start(|_| {}).await;
    let queue = queue_dir("delete");
    let routes = vec![route("example.net", server.address)];
    let mut relay_settings = settings(&queue.0, routes, Duration::from_secs(1));
    relay_settings.interval = Duration::from_millis(20);
    let relay = RunningRelay::start(relay_settings).await;
    let admin = Admin::open(&queue.0, Duration::from_secs(10)).unwrap();

    // Every other message is deleted as soon as it is queued, while the
    // runner delivers those before it.
    let mut deleted = Vec::new();
    let mut kept = Vec::new();
    for number in 0..MESSAGES {
        let id = relay
            .send(&["bob@example.net"], &[numbered_message(number)])
            .await;
        if number % 2 == 1 {
            let id = id[0].clone();
            match tool(&admin, move |a| a.delete(&id)).await.unwrap() {
                Outcome::Done => deleted.push(number),
                // Delivered before the deletion got to it.
                Outcome::NotQueued => kept.push(number),
                other => panic!("{other:?}"),
            }
        } else {
            kept.push(number);
        }
    }
    assert!(!deleted.is_empty());
    wait_until("the kept ones delivered", || {
        server.contents() == expected(kept.clone())
    })
    .await;
    wait_until("the queue emptied", || admin.list().unwrap().is_empty()).await;
    // No late copy, and no state brought back for a deleted message.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(server.contents(), expected(kept.clone()));
    assert_eq!(std::fs::read_dir(queue.0.join("state")).unwrap().count(), 0);
    eprintln!("{} deleted, {} delivered", deleted.len(), kept.len());
    drop(relay);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_being_delivered_is_deleted_only_once_its_delivery_ends() {
    // A next hop that takes nothing and never answers the end of data: the
    // delivery stays under way.
    let (hanging, taken) = accepts_then_hangs(0).await;
    let queue = queue_dir("in-flight");
    let relay = RunningRelay::start(settings(
        &queue.0,
        vec![route("example.net", hanging)],
        Duration::from_secs(1),
    ))
    .await;
    let admin = Admin::open(&queue.0, Duration::from_millis(300)).unwrap();
    let ids = relay
        .send(&["bob@example.net"], &[numbered_message(5)])
        .await;
    let id = ids[0].clone();
    // Out for delivery: `flush`, which does not wait, says so once the
    // runner holds the message.
    wait_until("out for delivery", || {
        admin.flush(&id).unwrap() == Outcome::Delivering
    })
    .await;
    let deleting = id.clone();
    let refused = tool(&admin, move |a| a.delete(&deleting))
        .await
        .unwrap_err();
    assert_eq!(refused.kind(), std::io::ErrorKind::WouldBlock);
    assert!(listed(&admin, &id).is_some());
    assert!(taken.lock().unwrap().is_empty());

    // The relay ends (its delivery with it): now the deletion goes
    // through, and a relay started again with a working next hop sends
    // nothing.
    relay.crash().await;
    let deleting = id.clone();
    assert_eq!(
        tool(&admin, move |a| a.delete(&deleting)).await.unwrap(),
        Outcome::Done
    );
    let server = TestServer::start(|_| {}).await;
    let relay = RunningRelay::start(settings(
        &queue.0,
        vec![route("example.net", server.address)],
        Duration::from_secs(1),
    ))
    .await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert!(server.contents().is_empty());
    assert!(admin.list().unwrap().is_empty());
    drop(relay);
}
