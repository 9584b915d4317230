//! The server's log and metrics for a scripted session: one JSON line per
//! message with the queue id its 250 reply named, one per connection with
//! the TLS version and cipher, the AUTH user and why it closed, and the
//! same counted in the metrics file.

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
