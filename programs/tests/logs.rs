//! The server's log and metrics for a scripted session: one JSON line per
//! message with the queue id its 250 reply named, one per connection with
//! the TLS version and cipher, the AUTH user and why it closed, and the
//! same counted in the metrics file.

// Shared with the other test files, each of which uses a part.
#[allow(dead_code)]
mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

const SERVER: &str = env!("CARGO_BIN_EXE_smtpwire-server");
const SEND: &str = env!("CARGO_BIN_EXE_smtpwire-send");

/// The text after `prefix` in the first of `lines` that has it.
fn after<'a>(lines: &'a [String], prefix: &str) -> Option<&'a str> {
    lines.iter().find_map(|line| line.strip_prefix(prefix))
}

#[test]
fn a_session_is_logged_as_json_and_counted_in_the_metrics_file() {
    let dir = std::env::temp_dir().join(format!("smtpwire-logs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let users = dir.join("users");
    std::fs::write(&users, "alice:secret\n").unwrap();
    let mut server = Command::new(SERVER)
        .args(["--listen", "127.0.0.1:0", "--hostname", "mx.test"])
        .arg("--maildir")
        .arg(dir.join("maildir"))
        .arg("--users")
        .arg(&users)
        .args(["--log-format", "json", "--metrics-interval", "0.1"])
        .arg("--metrics-file")
        .arg(dir.join("metrics.prom"))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(server.stderr.take().unwrap());
    let mut lines = Vec::new();
    while !lines
        .iter()
        .any(|line: &String| line.ends_with("Ctrl-C stops"))
    {
        let mut line = String::new();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "{lines:?}");
        lines.push(line.trim_end().to_string());
    }
    let address = after(&lines, "SMTP on ")
        .and_then(|rest| rest.split(',').next())
        .unwrap()
        .to_string();
    let certificate = after(&lines, "STARTTLS with a self-signed certificate: ")
        .unwrap()
        .to_string();

    let sent = Command::new(SEND)
        .args([
            "--server",
            &address,
            "--from",
            "a@example.org",
            "--to",
            "b@example.net",
        ])
        .args([
            "--starttls",
            "required",
            "--tls-ca",
            &certificate,
            "--auth",
            "alice:secret",
        ])
        .output()
        .unwrap();
    let said =
        String::from_utf8_lossy(&sent.stdout).into_owned() + &String::from_utf8_lossy(&sent.stderr);
    assert!(sent.status.success(), "{said}");
    let queue_id = said
        .split("queued as ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no queue id in {said}"))
        .to_string();

    let expected = [
        r#"smtpwire_connections_total{reason="quit"} 1"#,
        r#"smtpwire_tls_connections_total{version="TLSv1_3"} 1"#,
        r#"smtpwire_messages_total{result="accepted",code="250"} 1"#,
        "smtpwire_connections_open 0",
    ];
    let started = std::time::Instant::now();
    let metrics = loop {
        let metrics = std::fs::read_to_string(dir.join("metrics.prom")).unwrap_or_default();
        let lines: Vec<&str> = metrics.lines().collect();
        if expected.iter().all(|line| lines.contains(line)) {
            break metrics;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "{expected:?} not all in\n{metrics}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(
        metrics.contains("# TYPE smtpwire_messages_total counter"),
        "{metrics}"
    );

    let killed = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let rest: Vec<String> = stderr.lines().map(Result::unwrap).collect();
    assert!(server.wait().unwrap().success());
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_file(&certificate);

    let message = rest
        .iter()
        .find(|line| line.contains(r#""message":"message""#))
        .unwrap_or_else(|| panic!("no message line in {rest:?}"));
    for field in [
        format!(r#""queue_id":"{queue_id}""#),
        r#""from":"<a@example.org>""#.to_string(),
        r#""to":"<b@example.net>""#.to_string(),
        r#""recipients":1"#.to_string(),
        format!(r#""outcome":"250 {queue_id}""#),
    ] {
        assert!(message.contains(&field), "{field} not in {message}");
    }
    assert!(message.starts_with(r#"{"timestamp":""#), "{message}");
    let closed = rest
        .iter()
        .find(|line| line.contains(r#""message":"closed""#))
        .unwrap_or_else(|| panic!("no connection line in {rest:?}"));
    for field in [
        r#""tls":"TLSv1_3""#,
        r#""cipher":"TLS13_"#,
        r#""user":"alice""#,
        r#""reason":"quit""#,
        r#""client":"127.0.0.1:"#,
    ] {
        assert!(closed.contains(field), "{field} not in {closed}");
    }
}

const RELAY: &str = env!("CARGO_BIN_EXE_smtpwire-relay");

use support::program::Running;
use support::Scratch;

/// A message through `relay` from alice@example.org to `to`, with `header`
/// on top.
fn relay_message(relay: &str, to: &str, header: &str) {
    use std::io::Write;
    let mut stream = std::net::TcpStream::connect(relay).unwrap();
    let mut replies = BufReader::new(stream.try_clone().unwrap());
    // The code of the next whole reply.
    let mut reply = || {
        let mut line = String::new();
        while line.get(3..4) != Some(" ") {
            line.clear();
            assert!(replies.read_line(&mut line).unwrap() > 0, "closed");
        }
        line
    };
    assert!(reply().starts_with("220"));
    let content = format!("{header}Subject: hello\r\n\r\nHello.\r\n.\r\n");
    for (command, code) in [
        ("EHLO client.test\r\n", "250"),
        ("MAIL FROM:<alice@example.org>\r\n", "250"),
        (&format!("RCPT TO:<{to}>\r\n"), "250"),
        ("DATA\r\n", "354"),
        (&content, "250"),
        ("QUIT\r\n", "221"),
    ] {
        stream.write_all(command.as_bytes()).unwrap();
        let said = reply();
        assert!(said.starts_with(code), "{command:?}: {said}");
    }
}

/// Every recipient outcome of the relay is one `delivery` event, a JSON
/// line under `--log-format json`: one delivered over SMTP, and one failed
/// without a transfer (a message that has looped), whose bounce is then
/// delivered in turn.
#[test]
fn the_relay_logs_each_recipient_outcome_once_as_json() {
    let scratch = Scratch::new("relay-logs");
    let maildir = scratch.path("maildir");
    let (sink, sink_address) = Running::maildir_sink(&maildir);
    let queue = scratch.path("queue");
    let (to_net, to_org) = (
        format!("example.net={sink_address}"),
        format!("example.org={sink_address}"),
    );
    let relay = Running::start(
        RELAY,
        &[
            "--listen",
            "127.0.0.1:0",
            "--no-tls",
            "--retry-initial",
            "1",
            "--log-format",
            "json",
            "--queue",
            queue.to_str().unwrap(),
            "--mx",
            &to_net,
            "--mx",
            &to_org,
        ],
        None,
    );
    let relay_address = relay.address("relay on ");

    relay_message(&relay_address, "bob@example.net", "");
    relay_message(
        &relay_address,
        "carol@example.net",
        &"Received: from a by b\r\n".repeat(100),
    );
    let mut deliveries = Vec::new();
    while deliveries.len() < 3 {
        let line = relay.next_line();
        let event: serde_json::Value = serde_json::from_str(&line)
            .unwrap_or_else(|error| panic!("not JSON ({error}): {line}"));
        if event["message"] == "delivery" {
            deliveries.push(event);
        }
    }
    drop((relay, sink, scratch));

    let outcome = |to: &str| {
        let mut found = deliveries.iter().filter(|event| event["to"] == to);
        let event = found
            .next()
            .unwrap_or_else(|| panic!("{to} not in {deliveries:?}"));
        assert!(found.next().is_none(), "{to} twice in {deliveries:?}");
        event["fate"].as_str().unwrap().to_string()
    };
    assert_eq!(outcome("<bob@example.net>"), "delivered");
    assert_eq!(outcome("<carol@example.net>"), "failed");
    assert_eq!(outcome("<alice@example.org>"), "delivered");
}
