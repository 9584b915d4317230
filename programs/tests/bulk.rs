//! The bulk sender, run from its command line against the receiving server
//! over loopback: unknown recipients are marked for removal, greylisted ones
//! are delivered on retry, the warm-up cap holds back what it must
//! until a later day, each result is written as its transaction ends, A/B
//! variants go to disjoint samples of the sizes asked for, a source
//! address without forward-confirmed reverse DNS is reported, and the
//! sender's checklist, against a DNS server on loopback, names each record
//! to publish.

// Shared with the other test files, each of which uses a part.
#[allow(dead_code)]
mod support;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use smtpwire_programs::bulk::cli::{run, Args};
use smtpwire_programs::server::rules::RecipientRules;
use support::{accepts_then_hangs, TestServer};

/// A scratch directory with a list and a template, removed when dropped.
struct Run {
    dir: PathBuf,
}

impl Run {
    fn new(tag: &str, emails: &[&str]) -> Run {
        let dir = std::env::temp_dir().join(format!("smtpwire-bulk-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut list = String::from("name,email\n");
        for (number, email) in emails.iter().enumerate() {
            list.push_str(&format!("\"Reader, no. {number}\",{email}\n"));
        }
        std::fs::write(dir.join("list.csv"), list).unwrap();
        std::fs::write(
            dir.join("template.eml"),
            "From: News <news@example.org>\nTo: {{email}}\nSubject: Hello {{name}}\n\n\
             Dear {{name}},\n.this line starts with a dot\n",
        )
        .unwrap();
        Run { dir }
    }

    /// Runs the sender with `extra` flags; returns its summary.
    async fn send(&self, server: &TestServer, extra: &[&str]) -> String {
        self.send_to(server.address, extra).await
    }

    /// [`send`](Self::send) to the next hop at `address`.
    async fn send_to(&self, address: SocketAddr, extra: &[&str]) -> String {
        self.try_send_to(address, extra).await.unwrap()
    }

    /// Runs the sender with `extra` flags (and the template and sender
    /// unless they name their own) to the next hop at `address`.
    async fn try_send_to(&self, address: SocketAddr, extra: &[&str]) -> Result<String, String> {
        let path = |name: &str| self.dir.join(name).display().to_string();
        let mx = format!("example.net={address}");
        let mut command = vec![
            "bulk".to_string(),
            format!("--list={}", path("list.csv")),
            format!("--results={}", path("results.csv")),
            "--unsubscribe-url=https://example.org/unsubscribe?who={{email}}".to_string(),
            format!("--mx={mx}"),
            "--retry-after=0.3".to_string(),
            "--attempts=3".to_string(),
        ];
        if !extra.iter().any(|flag| flag.starts_with("--from")) {
            command.push("--from=bounces@example.org".to_string());
        }
        if !extra.iter().any(|flag| flag.starts_with("--variant")) {
            command.push(format!("--template={}", path("template.eml")));
        }
        command.extend(extra.iter().map(ToString::to_string));
        run(Args::try_parse_from(command).unwrap()).await
    }

    /// The results file: each address's fields by column name.
    fn results(&self) -> HashMap<String, HashMap<String, String>> {
        let text = std::fs::read_to_string(self.dir.join("results.csv")).unwrap();
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap().split(',').collect();
        lines
            .map(|line| {
                let fields: HashMap<String, String> = header
                    .iter()
                    .map(ToString::to_string)
                    .zip(line.splitn(header.len(), ',').map(ToString::to_string))
                    .collect();
                (fields["email"].clone(), fields)
            })
            .collect()
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_recipients_are_marked_for_removal_and_greylisted_ones_arrive_on_retry() {
    let unknown = ["gone@example.net", "never@example.net"];
    let greylisted = ["slow@example.net", "careful@example.net"];
    let good = ["ann@example.net", "bob@example.net", "cy@example.net"];
    let server = TestServer::start(|settings| {
        settings.rules =
            RecipientRules::new(&unknown.map(String::from), &greylisted.map(String::from));
    })
    .await;
    let emails: Vec<&str> = good
        .iter()
        .chain(&unknown)
        .chain(&greylisted)
        .copied()
        .collect();
    let run = Run::new("rules", &emails);
    let summary = run.send(&server, &[]).await;
    assert!(summary.starts_with("5 delivered, 2 failed"), "{summary}");

    let results = run.results();
    assert_eq!(results.len(), 7);
    for email in good {
        let row = &results[email];
        assert_eq!(
            (row["status"].as_str(), row["attempts"].as_str()),
            ("delivered", "1")
        );
        assert_eq!(row["remove"], "no");
    }
    for email in unknown {
        let row = &results[email];
        assert_eq!(row["status"], "failed", "{row:?}");
        assert_eq!(
            (row["code"].as_str(), row["enhanced"].as_str()),
            ("550", "5.1.1")
        );
        assert_eq!(row["remove"], "yes");
    }
    for email in greylisted {
        let row = &results[email];
        assert_eq!(row["status"], "delivered", "{row:?}");
        assert_eq!(row["attempts"], "2");
        assert_eq!(row["remove"], "no");
    }

    // One copy per delivered recipient, each its own, with RFC 8058's
    // one-click fields.
    let delivered = server.delivered();
    assert_eq!(delivered.len(), 5);
    for email in good.iter().chain(&greylisted) {
        let copy = delivered
            .iter()
            .map(|stored| String::from_utf8_lossy(stored).into_owned())
            .find(|text| text.contains(&format!("X-Envelope-To: <{email}>\r\n")))
            .unwrap_or_else(|| panic!("no copy for {email}"));
        let encoded = email.replace('@', "%40");
        assert!(copy.contains(&format!(
            "List-Unsubscribe: <https://example.org/unsubscribe?who={encoded}>\r\n"
        )));
        assert!(copy.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"));
        assert!(copy.contains(&format!("To: {email}\r\n")));
        assert!(copy.contains("Subject: Hello Reader, no. "));
        assert!(copy.contains("\r\n\r\nDear Reader, no. "));
        assert!(
            copy.ends_with(",\r\n.this line starts with a dot\r\n"),
            "{copy}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_warm_up_cap_holds_back_the_rest_until_a_later_day() {
    let server = TestServer::start(|_| {}).await;
    let emails: Vec<String> = (0..7).map(|n| format!("reader{n}@example.net")).collect();
    let emails: Vec<&str> = emails.iter().map(String::as_str).collect();
    let run = Run::new("warmup", &emails);
    let warmup = ["--warmup-daily", "4", "--warmup-hourly", "3"];

    // The caps go by the clock's hours and days: the first two runs must
    // fall in the same hour.
    let into_hour = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        % 3600;
    if into_hour > 3590 {
        tokio::time::sleep(std::time::Duration::from_secs(3601 - into_hour)).await;
    }

    // Day one: three this hour, the hourly cap.
    let summary = run.send(&server, &warmup).await;
    assert!(summary.starts_with("3 delivered, 0 failed"), "{summary}");
    assert!(summary.contains("4 held by the warm-up cap"), "{summary}");
    assert_eq!(server.delivered().len(), 3);
    let results = run.results();
    let held: Vec<&String> = results
        .values()
        .filter(|row| row["status"] == "held")
        .map(|row| &row["email"])
        .collect();
    assert_eq!(held.len(), 4);

    // Again in the same hour: nothing more may go.
    let summary = run.send(&server, &warmup).await;
    assert!(summary.starts_with("0 delivered"), "{summary}");
    assert!(
        summary.contains("4 held by the warm-up cap; 3 already done before"),
        "{summary}"
    );
    assert_eq!(server.delivered().len(), 3);

    // As if a day had passed since: day two's caps are 8 and 6.
    let state_path = run.dir.join("results.csv.warmup");
    let state = std::fs::read_to_string(&state_path).unwrap();
    let yesterday: String = state
        .lines()
        .map(|line| match line.split_once(' ') {
            Some((key @ ("first_day" | "day"), value)) => {
                format!("{key} {}\n", value.parse::<u64>().unwrap() - 1)
            }
            Some(("hour", value)) => format!("hour {}\n", value.parse::<u64>().unwrap() - 24),
            _ => format!("{line}\n"),
        })
        .collect();
    std::fs::write(&state_path, yesterday).unwrap();
    let summary = run.send(&server, &warmup).await;
    assert!(summary.starts_with("4 delivered"), "{summary}");
    assert_eq!(server.delivered().len(), 7);
    assert!(run
        .results()
        .values()
        .all(|row| row["status"] == "delivered"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_result_is_written_as_its_transaction_ends() {
    // Takes two of the five and then hangs, the connection still open.
    let (hanging, taken) = accepts_then_hangs(2).await;
    let emails: Vec<String> = (0..5).map(|n| format!("reader{n}@example.net")).collect();
    let emails: Vec<&str> = emails.iter().map(String::as_str).collect();
    let run = Run::new("settling", &emails);
    let delivered_rows = || {
        std::fs::read_to_string(run.dir.join("results.csv"))
            .map(|text| {
                text.lines()
                    .filter(|line| line.contains(",delivered,"))
                    .count()
            })
            .unwrap_or(0)
    };
    let written = async {
        for _ in 0..1000 {
            if delivered_rows() == 2 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the two results not written while the connection hangs");
    };
    tokio::select! {
        summary = run.send_to(hanging, &[]) => panic!("the run ended: {summary}"),
        () = written => {}
    }
    assert_eq!(taken.lock().unwrap().len(), 2);
}

/// A copy whose values make a line longer than RFC 5321 allows fails on its
/// own before anything of it is sent, and the other copies still go over
/// the same connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_with_an_over_long_line_fails_alone_before_sending() {
    let server = TestServer::start(|_| {}).await;
    let run = Run::new("long-line", &["ann@example.net", "bob@example.net"]);
    let list = format!(
        "name,email\nAnn,ann@example.net\n{},bob@example.net\nCy,cy@example.net\n",
        "B".repeat(1200)
    );
    std::fs::write(run.dir.join("list.csv"), list).unwrap();
    let summary = run.send(&server, &[]).await;
    assert!(summary.starts_with("2 delivered"), "{summary}");
    assert!(summary.contains(" 1 rejected"), "{summary}");
    let results = run.results();
    let bob = &results["bob@example.net"];
    assert_eq!(
        (bob["status"].as_str(), bob["enhanced"].as_str()),
        ("rejected", "5.6.0"),
        "{bob:?}"
    );
    assert_eq!(bob["remove"], "no");
    assert_eq!(server.delivered().len(), 2);
}

/// Two variants each go to a seeded random sample of the size asked for,
/// no recipient in two, the variant in the results; the same seed draws
/// the same samples; a later run sends the chosen variant to the rest and
/// leaves the samples alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_b_variants_go_to_disjoint_samples_and_the_winner_to_the_rest() {
    let server = TestServer::start(|_| {}).await;
    let emails: Vec<String> = (0..20).map(|n| format!("reader{n}@example.net")).collect();
    let emails: Vec<&str> = emails.iter().map(String::as_str).collect();
    let runs = [Run::new("ab-1", &emails), Run::new("ab-2", &emails)];
    let mut drawn = Vec::new();
    for run in &runs {
        for name in ["a", "b"] {
            std::fs::write(
                run.dir.join(format!("{name}.eml")),
                format!(
                    "From: news@example.org\nTo: {{{{email}}}}\nSubject: Variant {name}\n\nHi\n"
                ),
            )
            .unwrap();
        }
        let variant_a = format!("--variant=a={}:3", run.dir.join("a.eml").display());
        let variant_b = format!("--variant=b={}:5", run.dir.join("b.eml").display());
        let summary = run
            .send(&server, &[&variant_a, &variant_b, "--seed=42"])
            .await;
        assert!(summary.starts_with("8 delivered"), "{summary}");
        let results = run.results();
        assert_eq!(results.len(), 8);
        let sample = |name: &str| -> Vec<String> {
            let mut sample: Vec<String> = results
                .values()
                .filter(|row| row["variant"] == name)
                .map(|row| row["email"].clone())
                .collect();
            sample.sort();
            sample
        };
        let (a, b) = (sample("a"), sample("b"));
        assert_eq!((a.len(), b.len()), (3, 5));
        assert!(a.iter().all(|email| !b.contains(email)));
        drawn.push((a, b));
    }
    assert_eq!(drawn[0], drawn[1], "the same seed, the same samples");
    let subjects = |variant: &str| {
        server
            .delivered()
            .iter()
            .filter(|m| String::from_utf8_lossy(m).contains(&format!("Subject: Variant {variant}")))
            .count()
    };
    assert_eq!((subjects("a"), subjects("b")), (6, 10));

    // b won: the other twelve get it; the samples are not sent again.
    let run = &runs[0];
    let variant_a = format!("--variant=a={}:3", run.dir.join("a.eml").display());
    let variant_b = format!("--variant=b={}:5", run.dir.join("b.eml").display());
    let summary = run
        .send(&server, &[&variant_a, &variant_b, "--send-variant=b"])
        .await;
    assert!(summary.starts_with("12 delivered"), "{summary}");
    assert!(summary.contains("8 already done before"), "{summary}");
    let results = run.results();
    assert_eq!(results.len(), 20);
    let count = |name: &str| {
        results
            .values()
            .filter(|row| row["variant"] == name)
            .count()
    };
    assert_eq!((count("a"), count("b")), (3, 17));
    assert_eq!((subjects("a"), subjects("b")), (6, 22));
}

/// A source address whose PTR name is not the EHLO name (a loopback one,
/// which the resolver names localhost) is reported at start: a warning
/// that lets the run go on, or an error that stops it with
/// `--require-fcrdns`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_address_without_forward_confirmed_reverse_dns_is_reported() {
    let server = TestServer::start(|_| {}).await;
    let run = Run::new("fcrdns", &["ann@example.net"]);
    let refused = run
        .try_send_to(
            server.address,
            &["--source-ip=127.0.0.2", "--require-fcrdns"],
        )
        .await
        .unwrap_err();
    assert!(refused.contains("--require-fcrdns: 127.0.0.2"), "{refused}");
    assert!(
        refused.contains("(a loopback address), not the EHLO name example.org"),
        "{refused}"
    );
    assert!(
        refused.contains("publish PTR 127.0.0.2 -> example.org."),
        "{refused}"
    );
    assert!(server.delivered().is_empty());
    let summary = run.send(&server, &["--source-ip=127.0.0.2"]).await;
    assert!(summary.starts_with("1 delivered"), "{summary}");
    assert!(String::from_utf8_lossy(&server.delivered()[0]).contains("[127.0.0.2]"));
}

/// The key file `name` of the test keys.
fn key_file(name: &str) -> String {
    format!("{}/tests/keys/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// The sender's checklist against a DNS server on loopback holding SPF
/// (through `include`), DKIM and DMARC records: a sender whose records
/// are all right passes with no warning, and sends; each record missing or
/// wrong gets one warning naming the record to publish.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_senders_checklist_warns_with_the_records_to_publish() {
    use smtpwire_programs::dkim::{Algorithm, Key};
    use support::dns::{DnsServer, Zone};

    let rsa = Key::read("good.test", "mail", key_file("rsa2048.pem").as_ref()).unwrap();
    let ed = Key::read("good.test", "ed", key_file("ed25519.pem").as_ref()).unwrap();
    let nodmarc = Key::read("nodmarc.test", "mail", key_file("ed25519.pem").as_ref()).unwrap();
    let zone = Zone::new()
        .txt("_dmarc.good.test", "v=DMARC1; p=reject")
        .txt("good.test", "google-site-verification=abc")
        .txt("good.test", "v=spf1 include:_spf.good.test -all")
        .txt("_spf.good.test", "v=spf1 ip4:127.0.0.0/30 ~all")
        .txt("mail._domainkey.good.test", &rsa.record_text())
        .txt("ed._domainkey.good.test", &ed.record_text())
        .txt("nodmarc.test", "v=spf1 ip4:127.0.0.1 -all")
        .txt("mail._domainkey.nodmarc.test", &nodmarc.record_text())
        .txt("nospf.test", "v=spf1 ip4:192.0.2.0/24 -all")
        .txt("flaky.test", "v=spf1 ip4:127.0.0.1 -all")
        .servfail("_dmarc.flaky.test");
    let dns_server = DnsServer::start(zone).await;
    let dns = dns_server.address();
    let server = TestServer::start(|_| {}).await;
    let run = Run::new("check", &["ann@example.net"]);
    let another = Key::generate(Algorithm::Ed25519).unwrap();
    std::fs::write(run.dir.join("another.pem"), another).unwrap();
    let dns_flag = format!("--dns-server={dns}");
    let check = |from_domain: &'static str, extra: Vec<String>| {
        let (run, dns_flag, server) = (&run, dns_flag.clone(), server.address);
        async move {
            let template = format!("From: News <news@{from_domain}>\nSubject: Hi\n\nHello\n");
            std::fs::write(run.dir.join("template.eml"), template).unwrap();
            let mut flags = vec![
                "--hostname=localhost".to_string(),
                "--source-ip=127.0.0.1".to_string(),
                format!("--from=bounces@{from_domain}"),
                dns_flag,
                "--check".to_string(),
            ];
            // A later flag of the same name takes its place.
            for flag in extra {
                let name = flag.split('=').next().unwrap().to_string();
                if name != "--dkim" {
                    flags.retain(|f| !f.starts_with(&format!("{name}=")));
                }
                flags.push(flag);
            }
            let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
            run.try_send_to(server, &flags).await.unwrap()
        }
    };
    let good_keys = || {
        vec![
            format!("--dkim=good.test:mail:{}", key_file("rsa2048.pem")),
            format!("--dkim=good.test:ed:{}", key_file("ed25519.pem")),
        ]
    };

    // Everything published: the loopback address's reverse DNS is
    // localhost, the EHLO name, which resolves back to it.
    let passed = check("good.test", good_keys()).await;
    assert_eq!(passed, "checklist passed for good.test", "{passed}");

    let no_dmarc = check(
        "nodmarc.test",
        vec![format!(
            "--dkim=nodmarc.test:mail:{}",
            key_file("ed25519.pem")
        )],
    )
    .await;
    assert!(no_dmarc.starts_with("checklist: 1 warnings"), "{no_dmarc}");
    assert!(
        no_dmarc.contains(
            "DMARC: nodmarc.test has no DMARC record: publish _dmarc.nodmarc.test. TXT \
             \"v=DMARC1; p=none; rua=mailto:dmarc-reports@nodmarc.test\""
        ),
        "{no_dmarc}"
    );

    // A DNS failure is reported as one, not as a missing record.
    let failing = check("flaky.test", Vec::new()).await;
    assert!(failing.starts_with("checklist: 1 warnings"), "{failing}");
    assert!(failing.contains("DMARC: _dmarc.flaky.test: "), "{failing}");
    assert!(!failing.contains("publish"), "{failing}");

    let mut flags = good_keys();
    flags.push("--from=bounces@nospf.test".to_string());
    let no_spf = check("good.test", flags).await;
    assert!(no_spf.starts_with("checklist: 1 warnings"), "{no_spf}");
    assert!(
        no_spf.contains(
            "SPF: nospf.test does not authorise 127.0.0.1 (Fail): publish nospf.test. TXT \
             \"v=spf1 ip4:127.0.0.1 -all\""
        ),
        "{no_spf}"
    );

    let absent = Key::read("good.test", "missing", key_file("ed25519.pem").as_ref()).unwrap();
    let mut flags = good_keys();
    flags.push(format!(
        "--dkim=good.test:missing:{}",
        key_file("ed25519.pem")
    ));
    let no_key = check("good.test", flags).await;
    assert!(no_key.starts_with("checklist: 1 warnings"), "{no_key}");
    assert!(
        no_key.contains(&format!(
            "DKIM: missing._domainkey.good.test has no DKIM key record: publish {}",
            absent.txt_record()
        )),
        "{no_key}"
    );

    // The RSA selector's record given an Ed25519 key, and the Ed25519
    // selector's given another Ed25519 key.
    let other_type = Key::read("good.test", "mail", key_file("ed25519.pem").as_ref()).unwrap();
    let other_key = run.dir.join("another.pem");
    let other_key_text = Key::read("good.test", "ed", &other_key).unwrap();
    let mismatched = check(
        "good.test",
        vec![
            format!("--dkim=good.test:mail:{}", key_file("ed25519.pem")),
            format!("--dkim=good.test:ed:{}", other_key.display()),
        ],
    )
    .await;
    assert!(
        mismatched.starts_with("checklist: 2 warnings"),
        "{mismatched}"
    );
    assert!(
        mismatched.contains(&format!(
            "DKIM: mail._domainkey.good.test publishes a key of another type than the \
             ed25519 key configured: publish {}",
            other_type.txt_record()
        )),
        "{mismatched}"
    );
    assert!(
        mismatched.contains(&format!(
            "DKIM: ed._domainkey.good.test publishes another key than the one configured: \
             publish {}",
            other_key_text.txt_record()
        )),
        "{mismatched}"
    );

    // 127.0.0.2 is authorised by SPF, but its PTR name, localhost,
    // resolves to 127.0.0.1 only.
    let mut flags = good_keys();
    flags.push("--source-ip=127.0.0.2".to_string());
    let no_fcrdns = check("good.test", flags).await;
    assert!(
        no_fcrdns.starts_with("checklist: 1 warnings"),
        "{no_fcrdns}"
    );
    assert!(
        no_fcrdns.contains(
            "127.0.0.2: its PTR name localhost does not resolve back to it: \
             publish PTR 127.0.0.2 -> localhost. and A/AAAA localhost. -> 127.0.0.2"
        ),
        "{no_fcrdns}"
    );
    // --check sends nothing.
    assert!(server.delivered().is_empty());

    // The sender whose checklist passed sends, signed with both keys.
    let template = "From: News <news@good.test>\nSubject: Hi\n\nHello\n";
    std::fs::write(run.dir.join("template.eml"), template).unwrap();
    let mut flags = vec![
        "--hostname=localhost".to_string(),
        "--source-ip=127.0.0.1".to_string(),
        "--from=bounces@good.test".to_string(),
        dns_flag.clone(),
    ];
    flags.extend(good_keys());
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let summary = run.send(&server, &flags).await;
    assert!(summary.starts_with("1 delivered"), "{summary}");
    let delivered = String::from_utf8_lossy(&server.delivered()[0]).into_owned();
    assert!(
        delivered.contains("s=mail;") && delivered.contains("s=ed;"),
        "{delivered}"
    );
}
