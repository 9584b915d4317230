//! The relay's rewriting table over real loopback: aliases, a domain moved
//! elsewhere, lists expanded in envelopes of their owners (bounces for a
//! bad subscriber reach the owner, not the writer), nested lists, a loop
//! and refused addresses refused at RCPT, sender masquerading, and the
//! table read again when it changes.

// Shared with the other test files, each of which uses a part.
#[allow(dead_code)]
mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use smtpwire_programs::outbound::routes::FixedRoute;
use smtpwire_programs::relay::rewrite::Rewriting;
use smtpwire_programs::relay::srs::Srs;
use smtpwire_programs::relay::Settings;
use smtpwire_programs::server::rules::RecipientRules;
use support::relay::RunningRelay;
use support::reports::{send_with, Report};
use support::{content_of, wait_until, Scratch, TestServer};

const TABLE: &str = "\
# aliases
alias   info@example.org     alice@example.net
alias   staff@example.org    alice@example.net, bob@example.net
alias   @old.example         @example.net
refuse  gone@example.org
# lists
list    team@example.org     owner=team-owner@example.org  a@example.net, b@example.net, bad@example.net
list    all@example.org      owner=all-owner@example.org   team@example.org, c@example.net, a@example.net
list    loop-a@example.org   owner=team-owner@example.org  loop-b@example.org
list    loop-b@example.org   owner=team-owner@example.org  x@example.net, loop-a@example.org
# senders
sender  @host1.companya.example  @companyb.example
";

const CONTENT: &[u8] = b"From: writer@example.com\r\nSubject: to the table\r\n\r\nHello.\r\n";

fn route(domain: &str, host: SocketAddr) -> FixedRoute {
    FixedRoute::parse(&format!("{domain}={host}"), 25).unwrap()
}

/// The servers the relay's routes reach: example.net (the subscribers'
/// domain, where `bad@` is unknown), example.org (the list owners') and
/// example.com (the writer's), each a receiving server of its own.
struct World {
    net: TestServer,
    org: TestServer,
    com: TestServer,
    table: std::path::PathBuf,
    relay: RunningRelay,
    _scratch: Scratch,
}

impl World {
    async fn start(tag: &str) -> World {
        let net = TestServer::start(|settings| {
            settings.rules = RecipientRules::new(&["bad@example.net".to_string()], &[]);
        })
        .await;
        let org = TestServer::start(|_| {}).await;
        let com = TestServer::start(|_| {}).await;
        let scratch = Scratch(
            std::env::temp_dir().join(format!("smtpwire-rewrite-{tag}-{}", std::process::id())),
        );
        let _ = std::fs::remove_dir_all(&scratch.0);
        std::fs::create_dir_all(&scratch.0).unwrap();
        let table = scratch.0.join("table");
        std::fs::write(&table, TABLE).unwrap();
        let routes = vec![
            route("example.net", net.address),
            route("example.org", org.address),
            route("example.com", com.address),
            route("companyb.example", com.address),
        ];
        let relay = RunningRelay::start(Settings {
            rewriting: Some(Arc::new(Rewriting::load(&table).unwrap())),
            ..support::relay_settings(&scratch.0.join("queue"), routes)
        })
        .await;
        World {
            net,
            org,
            com,
            table,
            relay,
            _scratch: scratch,
        }
    }

    async fn send(&self, mail: &str, rcpts: &[&str]) -> Vec<u16> {
        send_with(self.relay.address, mail, rcpts, CONTENT).await
    }
}

/// The stored messages of a server whose envelope names `recipient`.
fn stored_for(server: &TestServer, recipient: &str) -> Vec<String> {
    let line = format!("X-Envelope-To: <{recipient}>");
    server
        .delivered()
        .into_iter()
        .map(|stored| String::from_utf8(stored).unwrap())
        .filter(|stored| stored.lines().any(|l| l.starts_with(&line)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aliases_domains_and_refusals_are_decided_at_rcpt() {
    let world = World::start("alias").await;
    let codes = world
        .send(
            "<writer@example.com>",
            &[
                "<info@example.org>",
                "<carol@old.example>",
                "<gone@example.org>",
                "<loop-a@example.org>",
            ],
        )
        .await;
    // Refused while the client is still there: never queued.
    assert_eq!(codes, [250, 250, 250, 550, 550, 250]);
    wait_until("delivered", || world.net.delivered().len() == 1).await;
    let stored = String::from_utf8(world.net.delivered()[0].clone()).unwrap();
    assert!(
        stored.starts_with(
            "Return-Path: <writer@example.com>\r\n\
             X-Envelope-To: <alice@example.net>\r\n\
             X-Envelope-To: <carol@example.net>\r\n"
        ),
        "{stored}"
    );
    // The originals, as X-Original-To (not Delivered-To), and the header
    // otherwise as the writer sent it.
    assert!(stored.contains("X-Original-To: <info@example.org>\r\n"));
    assert!(stored.contains("X-Original-To: <carol@old.example>\r\n"));
    assert!(!stored.contains("Delivered-To:"));
    assert!(stored.ends_with("From: writer@example.com\r\nSubject: to the table\r\n\r\nHello.\r\n"));

    // The table is read again once it changes.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    std::fs::write(
        &world.table,
        format!("{TABLE}alias new@example.org dave@example.net\n"),
    )
    .unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let codes = world
        .send("<writer@example.com>", &["<new@example.org>"])
        .await;
    assert_eq!(codes, [250, 250, 250]);
    wait_until("the new alias", || {
        !stored_for(&world.net, "dave@example.net").is_empty()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_goes_from_its_owner_who_gets_the_bounce_for_a_bad_subscriber() {
    let world = World::start("list").await;
    let codes = world
        .send(
            "<writer@example.com> RET=HDRS ENVID=writer-1",
            &[
                "<team@example.org> NOTIFY=SUCCESS,FAILURE",
                "<all@example.org>",
            ],
        )
        .await;
    assert_eq!(codes, [250, 250, 250, 250]);
    // team@ is a list of team-owner's, also nested in all@ (all-owner's):
    // two envelopes, one per owner, each member once in each.
    wait_until("both envelopes", || world.net.delivered().len() == 2).await;
    let mut froms: Vec<String> = world
        .net
        .delivered()
        .iter()
        .map(|stored| {
            let stored = String::from_utf8_lossy(stored);
            let head: Vec<&str> = stored
                .lines()
                .filter(|line| {
                    ["Return-Path:", "X-Envelope-To:", "X-Original-To:"]
                        .iter()
                        .any(|name| line.starts_with(name))
                })
                .collect();
            head.join("\n")
        })
        .collect();
    froms.sort();
    assert_eq!(
        froms,
        [
            "Return-Path: <all-owner@example.org>\n\
             X-Envelope-To: <c@example.net>\n\
             X-Envelope-To: <a@example.net>\n\
             X-Original-To: <all@example.org>",
            // bad@ was refused by the next hop.
            "Return-Path: <team-owner@example.org>\n\
             X-Envelope-To: <a@example.net>\n\
             X-Envelope-To: <b@example.net>\n\
             X-Original-To: <team@example.org>\n\
             X-Original-To: <all@example.org>",
        ]
    );
    // The header section unchanged but for trace fields (RFC 5321 §3.9).
    for stored in world.net.delivered() {
        assert!(content_of(&stored).ends_with(CONTENT));
    }

    // bad@ bounces to its list's owner, once, never to the writer.
    wait_until("the owner's bounce", || !world.org.delivered().is_empty()).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let mut bounced_to: Vec<String> = world
        .org
        .delivered()
        .iter()
        .map(|stored| {
            let report = Report::parse(stored);
            assert_eq!(
                report.actions(),
                [("bad@example.net".to_string(), "failed".to_string())]
            );
            // A list starts afresh: not the writer's ENVID.
            assert_eq!(report.field("original-envelope-id"), None);
            let text = &report.text;
            let to = text.lines().find(|l| l.starts_with("To: ")).unwrap();
            to.to_string()
        })
        .collect();
    bounced_to.sort();
    assert_eq!(bounced_to, ["To: <team-owner@example.org>"]);
    // The writer hears only that team@ was delivered to the list, as
    // NOTIFY=SUCCESS asked (RFC 3461 §5.2.7.1), with its ENVID.
    wait_until("the writer's report", || !world.com.delivered().is_empty()).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let reports: Vec<Report> = world
        .com
        .delivered()
        .iter()
        .map(|s| Report::parse(s))
        .collect();
    assert_eq!(reports.len(), 1);
    assert_eq!(
        reports[0].actions(),
        [("team@example.org".to_string(), "delivered".to_string())]
    );
    assert_eq!(reports[0].field("original-envelope-id"), Some("writer-1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alias_to_several_reports_expanded_and_drops_success_downstream() {
    let world = World::start("expanded").await;
    let codes = world
        .send(
            "<writer@example.com>",
            &["<staff@example.org> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;staff@example.org"],
        )
        .await;
    assert_eq!(codes, [250, 250, 250]);
    wait_until("delivered", || world.net.delivered().len() == 1).await;
    wait_until("the expanded report", || world.com.delivered().len() == 1).await;
    let report = Report::parse(&world.com.delivered()[0]);
    assert_eq!(
        report.actions(),
        [("staff@example.org".to_string(), "expanded".to_string())]
    );
    // Downstream (a hop with DSN): no success report comes from there, as
    // SUCCESS was dropped; nothing more reaches the writer.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(world.com.delivered().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_masqueraded_sender_leaves_in_the_envelope_as_its_public_domain() {
    let world = World::start("sender").await;
    let codes = world
        .send("<anyone@host1.companya.example>", &["<alice@example.net>"])
        .await;
    assert_eq!(codes, [250, 250, 250]);
    wait_until("delivered", || world.net.delivered().len() == 1).await;
    let stored = String::from_utf8(world.net.delivered()[0].clone()).unwrap();
    assert!(
        stored.starts_with("Return-Path: <anyone@companyb.example>\r\n"),
        "{stored}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn srs_round_trip_forwarded_sender_and_its_bounce_back() {
    let net = TestServer::start(|_| {}).await;
    let com = TestServer::start(|_| {}).await;
    let scratch =
        Scratch(std::env::temp_dir().join(format!("smtpwire-srs-{}", std::process::id())));
    let _ = std::fs::remove_dir_all(&scratch.0);
    std::fs::create_dir_all(&scratch.0).unwrap();
    let table = scratch.0.join("table");
    std::fs::write(&table, "alias fwd@example.org dest@example.net\n").unwrap();
    let routes = vec![
        route("example.net", net.address),
        route("example.com", com.address),
    ];
    let relay = RunningRelay::start(Settings {
        rewriting: Some(Arc::new(Rewriting::load(&table).unwrap())),
        srs: Some(Srs::new("relay.example", b"a secret")),
        ..support::relay_settings(&scratch.0.join("queue"), routes)
    })
    .await;

    // Forwarded: the envelope sender is an SRS address of the relay's.
    let codes = send_with(
        relay.address,
        "<writer@example.com>",
        &["<fwd@example.org>"],
        CONTENT,
    )
    .await;
    assert_eq!(codes, [250, 250, 250]);
    wait_until("forwarded", || net.delivered().len() == 1).await;
    let stored = String::from_utf8(net.delivered()[0].clone()).unwrap();
    let return_path = stored.lines().next().unwrap();
    let srs_address = return_path
        .strip_prefix("Return-Path: <")
        .and_then(|rest| rest.strip_suffix('>'))
        .unwrap()
        .to_string();
    assert!(srs_address.starts_with("SRS0="), "{return_path}");
    assert!(srs_address.ends_with("=example.com=writer@relay.example"));

    // The next hop's bounce to it reaches the writer, from <>.
    let bounce = b"Subject: Undelivered Mail\r\n\r\nIt bounced.\r\n";
    let rcpt = format!("<{srs_address}>");
    let codes = send_with(relay.address, "<>", &[rcpt.as_str()], bounce).await;
    assert_eq!(codes, [250, 250, 250]);
    wait_until("bounced back", || com.delivered().len() == 1).await;
    let stored = String::from_utf8(com.delivered()[0].clone()).unwrap();
    assert!(
        stored.starts_with("Return-Path: <>\r\nX-Envelope-To: <writer@example.com>\r\n"),
        "{stored}"
    );
    // A forged one is refused at RCPT: the relay is no open relay by SRS.
    let forged = rcpt.replace("=example.com=", "=example.net=");
    let codes = send_with(relay.address, "<>", &[forged.as_str()], bounce).await;
    assert_eq!(codes, [250, 550]);
    drop(relay);
}
