//! Delivery status notifications through the relay over real loopback
//! (RFC 3461, RFC 3464): the parameters a sender gives are kept in the
//! queue and passed on to a next hop that offers DSN; each NOTIFY value
//! gets exactly the reports it asks for, read back from the report's
//! `message/delivery-status` part.

// Shared with the other test files, each of which uses a part.
#[allow(dead_code)]
mod support;

use std::net::SocketAddr;
use std::time::Duration;

use smtpwire_programs::outbound::routes::FixedRoute;
use smtpwire_programs::relay::Settings;
use smtpwire_programs::server::rules::RecipientRules;
use support::relay::RunningRelay;
use support::reports::{send_with, value, Report};
use support::{wait_until, Scratch, TestServer};

fn route(domain: &str, host: SocketAddr) -> FixedRoute {
    FixedRoute::parse(&format!("{domain}={host}"), 25).unwrap()
}

fn scratch(tag: &str) -> Scratch {
    let path = std::env::temp_dir().join(format!("smtpwire-dsn-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&path);
    Scratch(path)
}

async fn relay(
    queue: &Scratch,
    routes: Vec<FixedRoute>,
    warn_after: Option<Duration>,
) -> RunningRelay {
    RunningRelay::start(Settings {
        warn_after,
        ..support::relay_settings(&queue.0, routes)
    })
    .await
}

const CONTENT: &[u8] = b"Subject: asking to be told\r\n\r\nThe body stays home.\r\n";

/// The reports the sender's server holds, parsed.
fn reports(sender: &TestServer) -> Vec<Report> {
    sender
        .delivered()
        .iter()
        .map(|stored| Report::parse(stored))
        .collect()
}

/// Lets the relay's runner go round a few more times, for reports that
/// must not come.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(800)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_notify_value_gets_exactly_the_reports_it_asks_for() {
    // A next hop without DSN, which refuses the "bad-" mailboxes.
    let next_hop = TestServer::start(|settings| {
        settings.offer_dsn = false;
        let unknown: Vec<String> = ["never", "default", "failure", "success"]
            .iter()
            .map(|name| format!("bad-{name}@example.net"))
            .collect();
        settings.rules = RecipientRules::new(&unknown, &[]);
    })
    .await;
    let sender = TestServer::start(|_| {}).await;
    let queue = scratch("notify");
    let routes = vec![
        route("example.net", next_hop.address),
        route("example.org", sender.address),
    ];
    let relay = relay(&queue, routes, None).await;
    let codes = send_with(
        relay.address,
        "<alice@example.org> RET=HDRS ENVID=QQ314159",
        &[
            "<ok-success@example.net> NOTIFY=SUCCESS ORCPT=rfc822;first+2Bline@example.com",
            "<ok-default@example.net>",
            "<ok-never@example.net> NOTIFY=NEVER",
            "<bad-never@example.net> NOTIFY=NEVER",
            "<bad-default@example.net>",
            "<bad-failure@example.net> NOTIFY=FAILURE ORCPT=rfc822;bf@example.com",
            "<bad-success@example.net> NOTIFY=SUCCESS",
        ],
        CONTENT,
    )
    .await;
    assert_eq!(codes, [250, 250, 250, 250, 250, 250, 250, 250, 250]);

    wait_until("the two reports", || sender.delivered().len() >= 2).await;
    wait_until("delivered", || next_hop.delivered().len() == 1).await;
    settle().await;
    let reports = reports(&sender);
    assert_eq!(reports.len(), 2, "{reports:#?}");
    let failure = reports
        .iter()
        .find(|report| report.text.contains("Action: failed"))
        .expect("a failure report");
    let success = reports
        .iter()
        .find(|report| report.text.contains("Action: relayed"))
        .expect("a relayed report");

    // FAILURE, and no NOTIFY (as FAILURE,DELAY), are told of the failure;
    // NEVER and SUCCESS alone are not (RFC 3461 §4.1).
    assert_eq!(
        failure.actions(),
        [
            ("bad-default@example.net".to_string(), "failed".to_string()),
            ("bad-failure@example.net".to_string(), "failed".to_string()),
        ]
    );
    assert_eq!(failure.field("original-envelope-id"), Some("QQ314159"));
    assert_eq!(failure.field("reporting-mta"), Some("dns; relay.test"));
    assert!(failure.field("arrival-date").is_some());
    let bad = failure.recipient("bad-failure@example.net").unwrap();
    assert_eq!(
        value(bad, "original-recipient"),
        Some("rfc822;bf@example.com")
    );
    assert_eq!(value(bad, "status"), Some("5.1.1"));
    assert!(value(bad, "remote-mta").is_some());
    assert!(value(bad, "diagnostic-code")
        .unwrap()
        .starts_with("smtp; 550 5.1.1"));
    // RET=HDRS: the header only (RFC 3461 §4.3).
    assert!(failure.text.contains("Content-Type: text/rfc822-headers"));
    assert!(failure.text.contains("Subject: asking to be told"));
    assert!(!failure.text.contains("The body stays home."));
    // From the null reverse path (RFC 3461 §6.2).
    assert!(failure.text.starts_with("Return-Path: <>\r\n"));

    // SUCCESS to a hop without DSN: relayed (RFC 3461 §5.2.2), with the
    // ORCPT's xtext decoded (RFC 3461 §6.3).
    assert_eq!(
        success.actions(),
        [("ok-success@example.net".to_string(), "relayed".to_string())]
    );
    let relayed = success.recipient("ok-success@example.net").unwrap();
    assert_eq!(
        value(relayed, "original-recipient"),
        Some("rfc822;first+line@example.com")
    );
    assert_eq!(success.field("original-envelope-id"), Some("QQ314159"));
    drop(relay);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_next_hop_with_dsn_gets_the_parameters_given_and_the_relay_reports_nothing() {
    let next_hop = TestServer::start(|settings| settings.envelope_dsn = true).await;
    let sender = TestServer::start(|_| {}).await;
    let queue = scratch("passed");
    let routes = vec![
        route("example.net", next_hop.address),
        route("example.org", sender.address),
    ];
    let relay = relay(&queue, routes, None).await;
    let codes = send_with(
        relay.address,
        "<alice@example.org> ENVID=QQ+2B1",
        &[
            "<ok@example.net> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;ok@example.com",
            "<plain@example.net>",
        ],
        CONTENT,
    )
    .await;
    assert_eq!(codes, [250, 250, 250, 250]);
    wait_until("delivered", || next_hop.delivered().len() == 1).await;
    let stored = String::from_utf8(next_hop.delivered()[0].clone()).unwrap();
    // Exactly those given: no RET, no NOTIFY for the plain recipient.
    assert!(
        stored.starts_with(
            "Return-Path: <alice@example.org>\tENVID=QQ+2B1\r\n\
             X-Envelope-To: <ok@example.net>\tNOTIFY=SUCCESS,DELAY ORCPT=rfc822;ok@example.com\r\n\
             X-Envelope-To: <plain@example.net>\r\n"
        ),
        "{stored}"
    );
    settle().await;
    assert!(sender.delivered().is_empty(), "RFC 3461 §5.2.1: no report");
    drop(relay);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delay_notices_follow_notify_and_reach_messages_on_hold() {
    // The destination is down: everything waits.
    let mut destination = TestServer::start(|_| {}).await;
    let down = destination.address;
    destination.stop().await;
    let sender = TestServer::start(|_| {}).await;
    let queue = scratch("delay");
    let routes = vec![
        route("example.net", down),
        route("example.org", sender.address),
    ];
    let relay = relay(&queue, routes, Some(Duration::from_secs(1))).await;
    let codes = send_with(
        relay.address,
        "<alice@example.org>",
        &[
            "<delay@example.net> NOTIFY=DELAY",
            "<default@example.net>",
            "<failure@example.net> NOTIFY=FAILURE,SUCCESS",
            "<never@example.net> NOTIFY=NEVER",
        ],
        CONTENT,
    )
    .await;
    assert_eq!(codes, [250, 250, 250, 250, 250, 250]);
    // A message with a null reverse path is never reported on.
    let codes = send_with(relay.address, "<>", &["<nobody@example.net>"], CONTENT).await;
    assert_eq!(codes, [250, 250, 250]);
    // A message on hold that arrived long ago (its name says when): it is
    // never tried, and still its sender is told.
    let held = b"Return-Path: <carol@example.org>\r\n\
                 X-Envelope-To: <held@example.net>\tNOTIFY=DELAY\r\n\
                 Subject: held\r\n\r\nOn hold.\r\n";
    std::fs::write(queue.0.join("hold/1000.M1P1Q1.relay.test"), held).unwrap();

    wait_until("two delay notices", || sender.delivered().len() >= 2).await;
    settle().await;
    let reports = reports(&sender);
    assert_eq!(reports.len(), 2, "once each, none for <>: {reports:#?}");
    let of_alice = reports
        .iter()
        .find(|report| report.text.contains("To: <alice@example.org>"))
        .unwrap();
    assert_eq!(
        of_alice.actions(),
        [
            ("default@example.net".to_string(), "delayed".to_string()),
            ("delay@example.net".to_string(), "delayed".to_string()),
        ]
    );
    assert!(of_alice.text.contains("Subject: Delayed Mail"));
    let of_carol = reports
        .iter()
        .find(|report| report.text.contains("To: <carol@example.org>"))
        .unwrap();
    assert_eq!(
        of_carol.actions(),
        [("held@example.net".to_string(), "delayed".to_string())]
    );
    let held = of_carol.recipient("held@example.net").unwrap();
    assert_eq!(value(held, "status"), Some("4.0.0"));
    drop(relay);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ret_full_returns_the_whole_message_in_a_failure_report() {
    let next_hop = TestServer::start(|settings| {
        settings.rules = RecipientRules::new(&["gone@example.net".to_string()], &[]);
    })
    .await;
    let sender = TestServer::start(|_| {}).await;
    let queue = scratch("full");
    let routes = vec![
        route("example.net", next_hop.address),
        route("example.org", sender.address),
    ];
    let relay = relay(&queue, routes, None).await;
    let codes = send_with(
        relay.address,
        "<alice@example.org> RET=FULL",
        &["<gone@example.net>"],
        CONTENT,
    )
    .await;
    assert_eq!(codes, [250, 250, 250]);
    wait_until("the bounce", || sender.delivered().len() == 1).await;
    let report = &reports(&sender)[0];
    assert!(report.text.contains("Content-Type: message/rfc822\r\n"));
    assert!(report.text.contains("The body stays home."));
    assert_eq!(report.field("original-envelope-id"), None);
    drop(relay);
}
