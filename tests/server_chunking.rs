//! The same client input, however it is split, gives the same events and the
//! same output bytes.

mod support;

use proptest::prelude::*;
use smtpwire::auth::Mechanism;
use smtpwire::server::{AuthPolicy, ServerConfig, ServerEvent};
use support::{run, Run, Verdict};

const SESSION: &[u8] = b"EHLO client.example\r\n\
AUTH PLAIN dGVzdAB0ZXN0ADEyMzQ=\r\n\
MAIL FROM:<a@example.com> SIZE=80 BODY=8BITMIME\r\n\
RCPT TO:<b@example.com> NOTIFY=FAILURE\r\n\
RCPT TO:<refuse@example.com>\r\n\
DATA\r\n\
.first line stuffed\r\n\
..\r\n\
line with CR\rinside\r\n\
.\r\n\
MAIL FROM:<> BODY=BINARYMIME\r\n\
RCPT TO:<b@example.com>\r\n\
BDAT 10\r\n\
0123456789BDAT 5 LAST\r\n\
\r\n.\r\n\
RSET\r\n\
AUTH LOGIN\r\n\
NOOP\r\n\
QUIT\r\n";

/// Input sent ahead of its replies is read as commands here: with the
/// synchronisation check, how early input is depends on how it is split,
/// which is what the check is for.
fn server() -> ServerConfig {
    let mut config = support::relaxed();
    config.capabilities.auth = vec![Mechanism::Plain, Mechanism::Login];
    config.auth_policy = AuthPolicy::AllowCleartext;
    config.bare_newlines = smtpwire::data::IncomingBareNewline::Accept;
    config
}

fn decide(event: &ServerEvent) -> Verdict {
    match event {
        ServerEvent::Rcpt(r) if r.to().to_string().contains("refuse") => {
            Verdict::Reject(550, "No such user")
        }
        ServerEvent::Message(_) => Verdict::AcceptWith("queued"),
        _ => Verdict::Accept,
    }
}

fn feed(chunks: &[&[u8]]) -> (String, Vec<String>) {
    let Run { output, events, .. } = run(server(), chunks, &mut decide);
    (output, events)
}

#[test]
fn whole_session_does_what_it_should() {
    let (output, events) = feed(&[SESSION]);
    assert!(output.contains("235 2.7.0"), "{output}");
    assert!(
        events.contains(&"content first line stuffed\r\n.\r\nline with CR\rinside\r\n".to_string()),
        "{events:#?}"
    );
    assert!(
        events.contains(&"content 0123456789\r\n.\r\n".to_string()),
        "{events:#?}"
    );
    assert!(output.ends_with("221 2.0.0 Bye\r\n"), "{output}");
}

#[test]
fn byte_at_a_time_and_every_split_agree() {
    let whole = feed(&[SESSION]);
    let bytewise: Vec<&[u8]> = SESSION.chunks(1).collect();
    assert_eq!(feed(&bytewise), whole);
    for split in 0..=SESSION.len() {
        let (head, tail) = SESSION.split_at(split);
        assert_eq!(feed(&[head, tail]), whole, "split at {split}");
    }
}

proptest! {
    #[test]
    fn random_chunks_agree(cuts in proptest::collection::vec(0..SESSION.len(), 0..24)) {
        let whole = feed(&[SESSION]);
        let mut points = cuts;
        points.sort_unstable();
        let mut chunks = Vec::new();
        let mut start = 0;
        for point in points {
            chunks.push(&SESSION[start..point]);
            start = point;
        }
        chunks.push(&SESSION[start..]);
        prop_assert_eq!(feed(&chunks), whole);
    }
}
