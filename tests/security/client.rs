//! Attacks on a client session: a hostile server, or caller data that tries to
//! inject commands.

use crate::client_support::{config, drive, envelope, Run, Split};
use smtpwire::auth::Secret;
use smtpwire::client::{ClientEvent, ClientSession, SessionError, StartTlsPolicy};
use smtpwire::command::Argument;
use smtpwire::framing::ReplyLimits;
use smtpwire::params::EnvelopeId;
use smtpwire::{
    ClientOutput, Domain, ForwardPath, Mailbox, Parameter, ReplyError, ReversePath, Text,
};

fn error(run: &Run) -> Option<SessionError> {
    run.events.iter().find_map(|e| match e {
        ClientEvent::Error(error) => Some(error.clone()),
        _ => None,
    })
}

/// The EAST test case: fake replies appended to `220 Ready to start TLS`.
const INJECTED: &[u8] = b"220 mx ESMTP\r\n250-mx\r\n250 STARTTLS\r\n\
    220 Ready to start TLS\r\n250-example.org\r\n250 AUTH LOGIN\r\n";

#[test]
fn response_injection_after_starttls_is_fatal() {
    let starttls_end = INJECTED.len() - b"250-example.org\r\n250 AUTH LOGIN\r\n".len();
    for split in [
        Split::Whole,
        Split::Bytes,
        Split::At(starttls_end),
        Split::At(starttls_end + 3),
    ] {
        let required = config().with_starttls(StartTlsPolicy::Required);
        let mut session = ClientSession::new(required);
        session
            .send_mail(envelope("<a@x.org>", &["<b@y.org>"]))
            .unwrap();
        let run = drive(
            &mut session,
            &[INJECTED, b"250 mx\r\n"],
            split.clone(),
            b"",
            1,
        );
        assert_eq!(
            error(&run),
            Some(SessionError::ResponseInjection),
            "{split:?}"
        );
        assert!(run.closed);
        // Nothing is sent after STARTTLS: no EHLO over the unverified bytes,
        // and certainly no mail.
        assert!(run.wire_str().ends_with("STARTTLS\r\n"), "{split:?}");
        assert!(session.capabilities().is_none());
    }
}

#[test]
fn caller_data_cannot_inject_commands() {
    // Every value that reaches the wire is checked where it is built.
    assert!(ReversePath::parse("<a@x.org>\r\nRCPT TO:<evil@x.org>").is_err());
    assert!(ForwardPath::parse("<b@y.org>\r\nDATA").is_err());
    assert!(Mailbox::parse("\"a\r\nRCPT TO:<e@x>\"@example.org").is_err());
    assert!(Mailbox::parse("\"a\0b\"@example.org").is_err());
    assert!(Domain::parse("client.example.org\r\nMAIL FROM:<x@y>").is_err());
    assert!(Parameter::new("X-TAG", Some("v\r\nRCPT")).is_err());
    assert!(EnvelopeId::new("id\nRCPT TO:<x@y>").is_err());
    assert!(Argument::new("x\r\nQUIT").is_err());
    assert!(Text::new("a\0b").is_err());
    // Secrets travel base64-encoded, so no byte of them can break a line.
    let secret = Secret::new("pw\r\nMAIL FROM:<x@y>").unwrap();
    assert!(!format!("{secret:?}").contains("pw"));
}

fn sent_body(body: &[u8]) -> String {
    let server = b"220 mx\r\n250 mx\r\n250 ok\r\n250 ok\r\n354 go\r\n250 ok\r\n221 bye\r\n";
    let bodies: Vec<String> = [1, 2, 3, 1000]
        .into_iter()
        .map(|piece| {
            let mut session = ClientSession::new(config());
            session
                .send_mail(envelope("<a@x.org>", &["<b@y.org>"]))
                .unwrap();
            session.quit();
            let wire = drive(&mut session, &[server], Split::Whole, body, piece).wire_str();
            let start = wire.find("DATA\r\n").unwrap() + 6;
            let end = wire.rfind("QUIT\r\n").unwrap();
            wire[start..end].to_owned()
        })
        .collect();
    // However the caller cuts the content, the same bytes go out.
    assert!(bodies.windows(2).all(|pair| pair[0] == pair[1]));
    bodies[0].clone()
}

#[test]
fn content_dot_lines_are_stuffed() {
    assert_eq!(sent_body(b"."), "..\r\n.\r\n");
    assert_eq!(sent_body(b".\r\n"), "..\r\n.\r\n");
    assert_eq!(
        sent_body(b"Hi\r\n.\r\nMAIL FROM:<evil@x.org>\r\n"),
        "Hi\r\n..\r\nMAIL FROM:<evil@x.org>\r\n.\r\n"
    );
    // A dot after a bare LF: the LF is repaired and the dot stuffed, so no
    // peer can read `LF . LF` or `LF . CRLF` as the end (SMTP smuggling).
    assert_eq!(sent_body(b"a\n.\nb\r\n"), "a\r\n..\r\nb\r\n.\r\n");
    assert_eq!(sent_body(b"a\r\n.\rb"), "a\r\n..\r\nb\r\n.\r\n");
}

#[test]
fn endless_replies_are_bounded() {
    let limits = ReplyLimits::default();
    let window = limits.max_bytes + limits.max_line;
    // An endless multi-line greeting.
    let mut session = ClientSession::new(config());
    let line = b"220-more and more and more\r\n";
    let mut fed = 0usize;
    let mut failed = None;
    'outer: for _ in 0..100_000 {
        let taken = session.receive(line);
        assert!(taken <= line.len());
        fed += taken;
        loop {
            match session.poll_output() {
                ClientOutput::Event(ClientEvent::Error(error)) => failed = Some(error),
                ClientOutput::Closed => break 'outer,
                ClientOutput::NeedInput => break,
                _ => {}
            }
        }
    }
    assert!(fed <= window + line.len());
    assert!(matches!(
        failed,
        Some(SessionError::MalformedReply(
            ReplyError::TooManyLines { .. } | ReplyError::TooLong { .. }
        ))
    ));
    // An endless line.
    let mut session = ClientSession::new(config());
    let junk = [b'2'; 4096];
    let mut total = 0;
    for _ in 0..100 {
        total += session.receive(&junk);
        if matches!(
            session.poll_output(),
            ClientOutput::Event(_) | ClientOutput::Closed
        ) {
            break;
        }
    }
    assert!(total <= window);
    let run = drive(&mut session, &[], Split::Whole, b"", 1);
    assert!(run.closed);
}

#[test]
fn reply_code_mismatch_is_a_protocol_error() {
    let server = b"220 mx\r\n250-mx\r\n550-PIPELINING\r\n250 SIZE\r\n";
    let mut session = ClientSession::new(config());
    session
        .send_mail(envelope("<a@x.org>", &["<b@y.org>"]))
        .unwrap();
    let run = drive(&mut session, &[server], Split::Whole, b"", 1);
    assert!(matches!(
        error(&run),
        Some(SessionError::MalformedReply(
            ReplyError::CodeMismatch { .. }
        ))
    ));
    assert!(run.closed);
    assert!(!run.wire_str().contains("MAIL"));
    // A reply with no command to answer is out of step too.
    let mut session = ClientSession::new(config());
    let run = drive(
        &mut session,
        &[b"220 mx\r\n250 mx\r\n250 unasked\r\n"],
        Split::Whole,
        b"",
        1,
    );
    assert!(matches!(
        error(&run),
        Some(SessionError::UnexpectedReply {
            command: "nothing",
            ..
        })
    ));
    assert!(run.closed);
}

#[path = "../fuzz_checks/client_session.rs"]
mod client_session_check;

mod hostile_servers {
    use super::client_session_check::check;
    use proptest::prelude::*;

    const REPLIES: [&str; 16] = [
        "220 mx\r\n",
        "250-mx\r\n",
        "250 PIPELINING\r\n",
        "250 CHUNKING\r\n",
        "250 STARTTLS\r\n",
        "220 go\r\n",
        "250 ok\r\n",
        "550 5.1.1 no\r\n",
        "354 go\r\n",
        "452 4.2.2 full\r\n",
        "421 bye\r\n",
        "334 VXNlcm5hbWU6\r\n",
        "502 no\r\n",
        "250-a\r\n550 b\r\n",
        "999 x\r\n",
        "250 ok\n",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        #[test]
        fn arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..600)) {
            check(&data);
        }

        #[test]
        fn shuffled_replies(control in any::<u8>(), picks in proptest::collection::vec(0..REPLIES.len(), 0..40)) {
            let mut data = vec![control];
            for pick in picks {
                data.extend_from_slice(REPLIES[pick].as_bytes());
            }
            check(&data);
        }
    }
}
