//! The client session's transition table, in the `smtpwire::client` module
//! documentation, row by row: each row named there has a case here that
//! drives it, and each case here names a row there.

mod client_support;

use std::collections::BTreeSet;

use client_support::{config, content_wanted, drive, envelope, transcript, Run, Split};
use smtpwire::auth::{Credentials, LoginCredentials, PlainCredentials, Secret};
use smtpwire::client::{
    AuthConfig, ClientConfig, ClientError, ClientEvent, ClientSession, MessageError, SessionError,
    StartTlsPolicy, TransactionFailure, Wait,
};
use smtpwire::{ClientOutput, Protocol, Text};

/// The table, as the module documentation has it.
const MODULE: &str = include_str!("../src/client/mod.rs");

/// The name of every row of the table.
fn table_rows() -> BTreeSet<String> {
    MODULE
        .lines()
        .filter_map(|line| line.strip_prefix("//! | "))
        .filter_map(|row| row.split(" | ").next())
        .filter(|name| *name != "Row")
        .map(str::to_string)
        .collect()
}

const GREET: &str = "220 mx.example.net\r\n";
const EHLO: &str = "250 mx.example.net\r\n";
const EHLO_PIPE: &str = "250-mx.example.net\r\n250 PIPELINING\r\n";
const BYE: &str = "221 bye\r\n";

fn plain() -> Credentials {
    let password = Secret::new("secret").unwrap();
    Credentials::Plain(PlainCredentials::new(None, Text::new("alice").unwrap(), password).unwrap())
}

fn login() -> Credentials {
    let password = Secret::new("pw").unwrap();
    Credentials::Login(LoginCredentials::new(Text::new("tim").unwrap(), password).unwrap())
}

/// A session with no TLS to offer.
fn clear() -> ClientConfig {
    config().with_starttls(StartTlsPolicy::Never)
}

/// One message to `<b@y.org>`, or to each of `to`, then QUIT, against one
/// script of replies.
fn one(config: ClientConfig, to: &[&str], server: &[&str]) -> Run {
    transcript(
        config,
        vec![envelope("<a@x.org>", to)],
        &[server.concat().as_bytes()],
    )
}

/// No message, then QUIT.
fn none(config: ClientConfig, server: &[&str]) -> Run {
    transcript(config, vec![], &[server.concat().as_bytes()])
}

fn error(run: &Run) -> Option<SessionError> {
    run.events.iter().find_map(|e| match e {
        ClientEvent::Error(error) => Some(error.clone()),
        _ => None,
    })
}

fn failure(run: &Run) -> Option<TransactionFailure> {
    run.events.iter().find_map(|e| match e {
        ClientEvent::TransactionFailed { failure, .. } => Some(failure.clone()),
        _ => None,
    })
}

fn accepted(run: &Run) -> bool {
    run.has(|e| matches!(e, ClientEvent::MessageAccepted { .. }))
}

/// The reply was read as unexpected for `command`.
fn unexpected(run: &Run, command: &str) -> bool {
    matches!(error(run), Some(SessionError::UnexpectedReply { command: c, .. }) if c == command)
}

/// Polls until the session blocks; returns the output it blocks on.
fn settle(session: &mut ClientSession, run: &mut Run) -> ClientOutput {
    loop {
        match session.poll_output() {
            ClientOutput::Transmit(bytes) => run.transmits.push(bytes.to_vec()),
            ClientOutput::Event(event) => run.events.push(event),
            blocking => return blocking,
        }
    }
}

/// A session that has read the greeting and EHLO `caps`, polled until it
/// blocks.
fn ready(config: ClientConfig, caps: &str) -> (ClientSession, Run) {
    let mut session = ClientSession::new(config);
    let input = format!("{GREET}{caps}");
    assert_eq!(session.receive(input.as_bytes()), input.len());
    let mut run = Run::default();
    let _ = settle(&mut session, &mut run);
    (session, run)
}

/// A session at the TLS handshake after a 220 to STARTTLS.
fn handshake() -> (ClientSession, Run) {
    let (mut session, mut run) = ready(config(), "250-mx\r\n250 STARTTLS\r\n");
    session.receive(b"220 go ahead\r\n");
    assert_eq!(settle(&mut session, &mut run), ClientOutput::StartTls);
    (session, run)
}

const ROWS: &[(&str, fn())] = &[
    ("greet-ok", || {
        let run = none(clear(), &[GREET, EHLO, BYE]);
        assert!(matches!(run.events.first(), Some(ClientEvent::Greeting(_))));
        assert_eq!(run.wire_str(), "EHLO client.example.org\r\nQUIT\r\n");
        let run = none(clear().with_protocol(Protocol::Lmtp), &[GREET, EHLO, BYE]);
        assert!(run.wire_str().starts_with("LHLO client.example.org\r\n"));
    }),
    ("greet-554", || {
        let run = none(clear(), &["554 no service\r\n", BYE]);
        assert!(matches!(
            error(&run),
            Some(SessionError::GreetingRefused(_))
        ));
        assert_eq!(run.wire_str(), "QUIT\r\n");
        assert!(run.closed);
    }),
    ("greet-other", || {
        let run = none(clear(), &["250 hello?\r\n"]);
        assert!(unexpected(&run, "the greeting"));
        assert_eq!(run.wire_str(), "");
        assert!(run.closed);
    }),
    ("hello-ok", || {
        // STARTTLS when offered...
        let (session, run) = ready(config(), "250-mx\r\n250 STARTTLS\r\n");
        assert!(run.has(|e| matches!(e, ClientEvent::Capabilities(c) if c.starttls)));
        assert!(session.capabilities().is_some());
        assert!(run.wire_str().ends_with("STARTTLS\r\n"));
        // ...AUTH when configured, over TLS...
        let tls = clear()
            .with_implicit_tls(true)
            .with_auth(AuthConfig::new(plain()));
        let (_, run) = ready(tls, "250-mx\r\n250 AUTH PLAIN\r\n");
        assert!(run
            .wire_str()
            .ends_with("AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n"));
        // ...or ready for messages.
        let (mut session, mut run) = ready(config(), EHLO);
        assert_eq!(settle(&mut session, &mut run), ClientOutput::Idle);
        assert!(session.is_idle());
    }),
    ("hello-no-tls", || {
        let required = config().with_starttls(StartTlsPolicy::Required);
        let run = one(required, &["<b@y.org>"], &[GREET, EHLO, BYE]);
        assert_eq!(error(&run), Some(SessionError::StartTlsNotOffered));
        assert_eq!(failure(&run), Some(TransactionFailure::NotSent));
        assert_eq!(run.wire_str(), "EHLO client.example.org\r\nQUIT\r\n");
    }),
    ("hello-fallback", || {
        for code in ["500", "502"] {
            let refusal = format!("{code} what?\r\n");
            let run = none(clear(), &[GREET, &refusal, EHLO, BYE]);
            assert_eq!(
                run.wire_str(),
                "EHLO client.example.org\r\nHELO client.example.org\r\nQUIT\r\n"
            );
            assert!(run.has(|e| matches!(e, ClientEvent::Capabilities(c) if !c.pipelining)));
            assert_eq!(error(&run), None);
        }
    }),
    ("hello-refused", || {
        let run = none(clear(), &[GREET, "550 5.7.1 go away\r\n", BYE]);
        assert!(matches!(error(&run), Some(SessionError::HelloRefused(_))));
        assert_eq!(run.wire_str(), "EHLO client.example.org\r\nQUIT\r\n");
    }),
    ("starttls-ok", || {
        let (session, run) = handshake();
        assert_eq!(run.wire_str(), "EHLO client.example.org\r\nSTARTTLS\r\n");
        // RFC 3207 §4.2: what was learnt in clear is forgotten.
        assert!(session.capabilities().is_none());
        assert_eq!(session.timeout_hint(), None);
    }),
    ("starttls-injected", || {
        let (mut session, mut run) = ready(config(), "250-mx\r\n250 STARTTLS\r\n");
        session.receive(b"220 go ahead\r\n250 injected\r\n");
        assert_eq!(settle(&mut session, &mut run), ClientOutput::Closed);
        assert_eq!(error(&run), Some(SessionError::ResponseInjection));
    }),
    ("starttls-refused", || {
        let required = config().with_starttls(StartTlsPolicy::Required);
        let run = none(
            required,
            &[GREET, "250-mx\r\n250 STARTTLS\r\n", "454 no\r\n", BYE],
        );
        assert!(matches!(
            error(&run),
            Some(SessionError::StartTlsRefused(_))
        ));
        assert!(run.wire_str().ends_with("STARTTLS\r\nQUIT\r\n"));
    }),
    ("starttls-declined", || {
        let with_auth = config().with_auth(AuthConfig::new(plain()).with_cleartext(true));
        let caps = "250-mx\r\n250-STARTTLS\r\n250 AUTH PLAIN\r\n";
        let run = none(with_auth, &[GREET, caps, "454 no\r\n", "235 ok\r\n", BYE]);
        assert_eq!(error(&run), None);
        assert!(run.wire_str().contains("STARTTLS\r\nAUTH PLAIN "));
        assert_eq!(run.starttls, 0);
        assert!(run.has(|e| matches!(e, ClientEvent::Authenticated(_))));
    }),
    ("tls-established", || {
        let (mut session, mut run) = handshake();
        session.tls_established();
        assert!(session.is_tls());
        assert_eq!(settle(&mut session, &mut run), ClientOutput::NeedInput);
        assert!(run
            .wire_str()
            .ends_with("STARTTLS\r\nEHLO client.example.org\r\n"));
    }),
    ("tls-injected", || {
        let (mut session, mut run) = handshake();
        let injected = b"250 injected\r\n";
        assert_eq!(session.receive(injected), injected.len());
        assert_eq!(settle(&mut session, &mut run), ClientOutput::Closed);
        assert_eq!(error(&run), Some(SessionError::ResponseInjection));
    }),
    ("tls-skipped", || {
        let (mut session, mut run) = handshake();
        assert_eq!(settle(&mut session, &mut run), ClientOutput::Closed);
        assert_eq!(error(&run), Some(SessionError::TlsNotEstablished));
    }),
    ("auth-cleartext", || {
        let with_auth = clear().with_auth(AuthConfig::new(plain()));
        let run = none(with_auth, &[GREET, "250-mx\r\n250 AUTH PLAIN\r\n", BYE]);
        assert_eq!(error(&run), Some(SessionError::AuthOverCleartext));
        assert_eq!(run.wire_str(), "EHLO client.example.org\r\nQUIT\r\n");
    }),
    ("auth-no-mechanism", || {
        let with_auth = clear().with_auth(AuthConfig::new(plain()).with_cleartext(true));
        let run = none(with_auth, &[GREET, "250-mx\r\n250 AUTH CRAM-MD5\r\n", BYE]);
        assert_eq!(error(&run), Some(SessionError::AuthNotOffered));
        assert_eq!(run.wire_str(), "EHLO client.example.org\r\nQUIT\r\n");
    }),
    ("auth-ok", || {
        let tls = clear()
            .with_implicit_tls(true)
            .with_auth(AuthConfig::new(plain()));
        let run = none(
            tls,
            &[GREET, "250-mx\r\n250 AUTH PLAIN\r\n", "235 ok\r\n", BYE],
        );
        assert!(run.has(|e| matches!(e, ClientEvent::Authenticated(m) if m.as_str() == "PLAIN")));
        assert!(run
            .wire_str()
            .ends_with("AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\nQUIT\r\n"));
    }),
    ("auth-challenge", || {
        let tls = clear()
            .with_implicit_tls(true)
            .with_auth(AuthConfig::new(login()));
        let challenges = "334 VXNlcm5hbWU6\r\n334 UGFzc3dvcmQ6\r\n235 ok\r\n";
        let run = none(
            tls,
            &[GREET, "250-mx\r\n250 AUTH LOGIN\r\n", challenges, BYE],
        );
        assert!(run
            .wire_str()
            .ends_with("AUTH LOGIN\r\ndGlt\r\ncHc=\r\nQUIT\r\n"));
        assert_eq!(error(&run), None);
    }),
    ("auth-cancel", || {
        let tls = clear()
            .with_implicit_tls(true)
            .with_auth(AuthConfig::new(login()));
        let replies = "334 !!!\r\n501 cancelled\r\n";
        let run = none(tls, &[GREET, "250-mx\r\n250 AUTH LOGIN\r\n", replies, BYE]);
        assert!(run.wire_str().ends_with("AUTH LOGIN\r\n*\r\nQUIT\r\n"));
        assert!(matches!(error(&run), Some(SessionError::Sasl(_))));
    }),
    ("auth-4yz", || {
        let tls = clear()
            .with_implicit_tls(true)
            .with_auth(AuthConfig::new(plain()));
        let run = none(
            tls,
            &[
                GREET,
                "250-mx\r\n250 AUTH PLAIN\r\n",
                "454 4.7.0 later\r\n",
                BYE,
            ],
        );
        assert!(matches!(
            error(&run),
            Some(SessionError::AuthTemporaryFailure(_))
        ));
        assert!(run.wire_str().ends_with("QUIT\r\n"));
    }),
    ("auth-5yz", || {
        let tls = clear()
            .with_implicit_tls(true)
            .with_auth(AuthConfig::new(plain()));
        let run = none(
            tls,
            &[
                GREET,
                "250-mx\r\n250 AUTH PLAIN\r\n",
                "535 5.7.8 no\r\n",
                BYE,
            ],
        );
        assert!(matches!(error(&run), Some(SessionError::AuthRejected(_))));
        assert!(run.wire_str().ends_with("QUIT\r\n"));
    }),
    ("ready-mail", || {
        let (mut session, _) = ready(clear(), EHLO_PIPE);
        session
            .send_mail(envelope("<a@x.org>", &["<b@y.org>"]))
            .unwrap();
        let mut run = Run::default();
        assert_eq!(settle(&mut session, &mut run), ClientOutput::NeedInput);
        assert_eq!(
            run.transmits,
            [b"MAIL FROM:<a@x.org>\r\nRCPT TO:<b@y.org>\r\nDATA\r\n".to_vec()]
        );
        let (mut session, _) = ready(clear(), EHLO);
        session
            .send_mail(envelope("<a@x.org>", &["<b@y.org>"]))
            .unwrap();
        let mut run = Run::default();
        let _ = settle(&mut session, &mut run);
        assert_eq!(run.wire_str(), "MAIL FROM:<a@x.org>\r\n");
    }),
    ("ready-refused", || {
        // Capabilities known: refused by `send_mail`.
        let (mut session, _) = ready(clear(), EHLO);
        assert_eq!(
            session.send_mail(envelope("<a@x.org>", &["<jörg@y.org>"])),
            Err(ClientError::Refused(MessageError::SmtpUtf8NotSupported))
        );
        assert!(session.is_idle());
        // Queued before: refused at its turn, and nothing of it goes.
        let run = one(clear(), &["<jörg@y.org>"], &[GREET, EHLO, BYE]);
        assert_eq!(
            failure(&run),
            Some(TransactionFailure::Refused(
                MessageError::SmtpUtf8NotSupported
            ))
        );
        assert_eq!(run.wire_str(), "EHLO client.example.org\r\nQUIT\r\n");
    }),
    ("ready-noop", || {
        let (mut session, _) = ready(clear(), EHLO);
        session.noop().unwrap();
        let mut run = Run::default();
        assert_eq!(settle(&mut session, &mut run), ClientOutput::NeedInput);
        assert_eq!(run.wire_str(), "NOOP\r\n");
    }),
    ("ready-quit", || {
        let (mut session, _) = ready(clear(), EHLO);
        session.quit();
        let mut run = Run::default();
        assert_eq!(settle(&mut session, &mut run), ClientOutput::NeedInput);
        assert_eq!(run.wire_str(), "QUIT\r\n");
    }),
    ("ready-idle", || {
        let (mut session, mut run) = ready(clear(), EHLO);
        assert_eq!(settle(&mut session, &mut run), ClientOutput::Idle);
        assert_eq!(session.timeout_hint(), None);
    }),
    ("mail-ok", || {
        let (mut session, _) = ready(clear(), EHLO);
        session
            .send_mail(envelope("<a@x.org>", &["<b@y.org>"]))
            .unwrap();
        let mut run = Run::default();
        let _ = settle(&mut session, &mut run);
        session.receive(b"250 ok\r\n");
        let _ = settle(&mut session, &mut run);
        assert_eq!(
            run.wire_str(),
            "MAIL FROM:<a@x.org>\r\nRCPT TO:<b@y.org>\r\n"
        );
    }),
    ("mail-refused", || {
        let run = one(
            clear(),
            &["<b@y.org>"],
            &[GREET, EHLO, "550 5.7.1 no\r\n", BYE],
        );
        assert!(matches!(
            failure(&run),
            Some(TransactionFailure::MailRejected(_))
        ));
        assert!(run.wire_str().ends_with("MAIL FROM:<a@x.org>\r\nQUIT\r\n"));
        // With PIPELINING the RCPT replies after it say nothing of the
        // recipients.
        let replies = "451 4.3.0 later\r\n503 need MAIL\r\n503 need MAIL\r\n";
        let run = one(clear(), &["<b@y.org>"], &[GREET, EHLO_PIPE, replies, BYE]);
        assert!(matches!(
            failure(&run),
            Some(TransactionFailure::MailRejected(_))
        ));
        assert!(!run.has(|e| matches!(e, ClientEvent::RecipientRejected { .. })));
        assert!(!run.wire_str().contains("RSET"));
    }),
    ("rcpt-ok", || {
        let to = ["<b@y.org>", "<c@y.org>"];
        let (mut session, _) = ready(clear(), EHLO);
        session.send_mail(envelope("<a@x.org>", &to)).unwrap();
        let mut run = Run::default();
        let _ = settle(&mut session, &mut run);
        session.receive(b"250 ok\r\n250 ok\r\n");
        let _ = settle(&mut session, &mut run);
        assert!(run.has(|e| matches!(e, ClientEvent::RecipientAccepted { index: 0, .. })));
        assert!(run
            .wire_str()
            .ends_with("RCPT TO:<b@y.org>\r\nRCPT TO:<c@y.org>\r\n"));
        session.receive(b"250 ok\r\n");
        let _ = settle(&mut session, &mut run);
        assert!(run.has(|e| matches!(e, ClientEvent::RecipientAccepted { index: 1, .. })));
        assert!(run.wire_str().ends_with("RCPT TO:<c@y.org>\r\nDATA\r\n"));
    }),
    ("rcpt-refused", || {
        let to = ["<b@y.org>", "<b@y.org>"];
        let replies = "250 ok\r\n250 ok\r\n550 5.1.1 no\r\n354 go\r\n250 queued\r\n";
        let run = one(clear(), &to, &[GREET, EHLO, replies, BYE]);
        // The same address twice: the index tells which was refused.
        assert!(run.has(|e| matches!(e, ClientEvent::RecipientAccepted { index: 0, .. })));
        assert!(run.has(|e| matches!(e, ClientEvent::RecipientRejected { index: 1, .. })));
        assert!(run.wire_str().contains("RCPT TO:<b@y.org>\r\nDATA\r\n"));
        assert!(accepted(&run));
    }),
    ("rcpt-none", || {
        let replies = "250 ok\r\n550 5.1.1 no\r\n250 reset\r\n";
        let run = one(clear(), &["<b@y.org>"], &[GREET, EHLO, replies, BYE]);
        assert_eq!(failure(&run), Some(TransactionFailure::NoValidRecipients));
        assert!(run
            .wire_str()
            .ends_with("RCPT TO:<b@y.org>\r\nRSET\r\nQUIT\r\n"));
    }),
    ("data-354", || {
        let (mut session, _) = ready(clear(), EHLO_PIPE);
        let id = session
            .send_mail(envelope("<a@x.org>", &["<b@y.org>"]))
            .unwrap();
        session.receive(b"250 ok\r\n250 ok\r\n354 go\r\n");
        let mut run = Run::default();
        assert_eq!(
            settle(&mut session, &mut run),
            ClientOutput::SendContent(id)
        );
        assert_eq!(session.timeout_hint(), Some(Wait::DataBlock.duration()));
    }),
    ("data-354-none", || {
        let replies = "250 ok\r\n550 no\r\n354 go\r\n554 no valid recipients\r\n";
        let run = one(clear(), &["<b@y.org>"], &[GREET, EHLO_PIPE, replies, BYE]);
        assert_eq!(failure(&run), Some(TransactionFailure::NoValidRecipients));
        assert!(run.contents.is_empty());
        assert!(run.wire_str().ends_with("DATA\r\n.\r\nQUIT\r\n"));
    }),
    ("data-354-lmtp-none", || {
        let lmtp = clear().with_protocol(Protocol::Lmtp);
        let replies = "250 ok\r\n550 no\r\n354 go\r\n";
        let run = one(lmtp, &["<b@y.org>"], &[GREET, EHLO_PIPE, replies]);
        assert!(unexpected(&run, "DATA"));
        assert_eq!(failure(&run), Some(TransactionFailure::NoValidRecipients));
        assert!(run.wire_str().ends_with("DATA\r\n"));
        assert!(run.closed);
    }),
    ("data-refused", || {
        let replies = "250 ok\r\n250 ok\r\n451 4.3.0 later\r\n250 reset\r\n";
        let run = one(clear(), &["<b@y.org>"], &[GREET, EHLO, replies, BYE]);
        assert!(matches!(
            failure(&run),
            Some(TransactionFailure::DataRejected(_))
        ));
        assert!(run.wire_str().ends_with("DATA\r\nRSET\r\nQUIT\r\n"));
    }),
    ("content-send", || {
        let mut session = ClientSession::new(clear());
        session
            .send_mail(envelope("<a@x.org>", &["<b@y.org>"]))
            .unwrap();
        let server = format!("{GREET}{EHLO_PIPE}250 ok\r\n250 ok\r\n354 go\r\n250 ok\r\n");
        let body = b"Subject: dots\r\n\r\n.leading dot\r\n";
        let run = drive(&mut session, &[server.as_bytes()], Split::Whole, body, 5);
        assert!(run.wire_str().contains("\r\n\r\n..leading dot\r\n.\r\n"));
        assert!(accepted(&run));
    }),
    ("content-finish", || {
        let (mut session, _) = ready(clear(), EHLO_PIPE);
        session
            .send_mail(envelope("<a@x.org>", &["<b@y.org>"]))
            .unwrap();
        session
            .send_mail(envelope("<a@x.org>", &["<c@y.org>"]))
            .unwrap();
        session.receive(b"250 ok\r\n250 ok\r\n354 go\r\n");
        let mut run = Run::default();
        let _ = settle(&mut session, &mut run);
        assert_eq!(content_wanted(&mut session), Some(0));
        session.finish_content().unwrap();
        let mut run = Run::default();
        assert_eq!(settle(&mut session, &mut run), ClientOutput::NeedInput);
        assert_eq!(
            run.transmits,
            [b".\r\nMAIL FROM:<a@x.org>\r\nRCPT TO:<c@y.org>\r\nDATA\r\n".to_vec()]
        );
    }),
    ("content-bad", || {
        let mut session = ClientSession::new(clear());
        session
            .send_mail(envelope("<a@x.org>", &["<b@y.org>"]))
            .unwrap();
        let server = format!("{GREET}{EHLO}250 ok\r\n250 ok\r\n354 go\r\n");
        let body = "Grüße\r\n".as_bytes();
        let run = drive(&mut session, &[server.as_bytes()], Split::Whole, body, 100);
        let refused = MessageError::EightBitNotSupported;
        assert_eq!(
            error(&run),
            Some(SessionError::ContentRefused(refused.clone()))
        );
        assert_eq!(failure(&run), Some(TransactionFailure::Refused(refused)));
        assert!(run.wire_str().ends_with("DATA\r\n"));
        assert!(run.closed);
    }),
    ("bdat-ok", || {
        // Without PIPELINING each chunk waits for the reply to the one
        // before.
        let chunking = clear().with_chunking(true).with_content_window(1024);
        let mut session = ClientSession::new(chunking);
        session
            .send_mail(envelope("<a@x.org>", &["<b@y.org>"]))
            .unwrap();
        session.quit();
        let caps = "250-mx\r\n250 CHUNKING\r\n";
        let replies = "250 ok\r\n250 ok\r\n250 chunk\r\n250 queued\r\n221 bye\r\n";
        let server = format!("{GREET}{caps}{replies}");
        let body = format!("{}\r\n", "x".repeat(48)).repeat(20);
        let run = drive(
            &mut session,
            &[server.as_bytes()],
            Split::Whole,
            body.as_bytes(),
            1000,
        );
        let chunk = format!("BDAT 1000\r\n{body}");
        let at = |wanted: &[u8]| run.transmits.iter().position(|t| t.starts_with(wanted));
        let (first, last) = (at(chunk.as_bytes()), at(b"BDAT 0 LAST\r\n"));
        assert!(first.is_some() && last > first, "{run:?}");
        assert!(accepted(&run));
    }),
    ("bdat-last-ok", || {
        let chunking = clear().with_chunking(true);
        let caps = "250-mx\r\n250 CHUNKING\r\n";
        let run = one(
            chunking,
            &["<b@y.org>"],
            &[GREET, caps, "250 ok\r\n250 ok\r\n250 queued\r\n", BYE],
        );
        assert!(run
            .wire_str()
            .contains("BDAT 24 LAST\r\nSubject: test\r\n\r\nHello\r\n"));
        assert!(accepted(&run));
    }),
    ("bdat-refused", || {
        let chunking = clear().with_chunking(true);
        let caps = "250-mx\r\n250 CHUNKING\r\n";
        let replies = "250 ok\r\n250 ok\r\n554 5.6.0 no\r\n250 reset\r\n";
        let run = one(chunking, &["<b@y.org>"], &[GREET, caps, replies, BYE]);
        assert!(matches!(
            failure(&run),
            Some(TransactionFailure::DataRejected(_))
        ));
        assert!(run.wire_str().ends_with("RSET\r\nQUIT\r\n"));
    }),
    ("end-ok", || {
        let replies = "250 ok\r\n250 ok\r\n354 go\r\n250 2.0.0 queued\r\n";
        let run = one(clear(), &["<b@y.org>"], &[GREET, EHLO_PIPE, replies, BYE]);
        assert!(accepted(&run));
        assert!(run.wire_str().ends_with("\r\n.\r\nQUIT\r\n"));
    }),
    ("end-refused", || {
        let replies = "250 ok\r\n250 ok\r\n354 go\r\n554 5.7.1 spam\r\n";
        let run = one(clear(), &["<b@y.org>"], &[GREET, EHLO_PIPE, replies, BYE]);
        assert!(matches!(
            failure(&run),
            Some(TransactionFailure::MessageRejected(_))
        ));
        // The end of data ended the transaction: nothing to reset.
        assert!(run.wire_str().ends_with("\r\n.\r\nQUIT\r\n"));
    }),
    ("lmtp-each", || {
        let lmtp = clear().with_protocol(Protocol::Lmtp);
        let to = ["<b@y.org>", "<c@y.org>"];
        let replies = "250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n250 b done\r\n452 c full\r\n";
        let run = one(lmtp, &to, &[GREET, EHLO_PIPE, replies, BYE]);
        let deliveries: Vec<(usize, u16)> = run
            .events
            .iter()
            .filter_map(|e| match e {
                ClientEvent::RecipientDelivery { index, reply, .. } => {
                    Some((*index, reply.code().as_u16()))
                }
                _ => None,
            })
            .collect();
        assert_eq!(deliveries, [(0, 250), (1, 452)]);
    }),
    ("lmtp-last", || {
        let lmtp = || clear().with_protocol(Protocol::Lmtp);
        let to = ["<b@y.org>", "<c@y.org>"];
        let envelope_replies = "250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n";
        let run = one(
            lmtp(),
            &to,
            &[
                GREET,
                EHLO_PIPE,
                envelope_replies,
                "452 full\r\n250 done\r\n",
                BYE,
            ],
        );
        assert!(
            run.has(|e| matches!(e, ClientEvent::MessageAccepted { reply, .. } if reply.code().as_u16() == 250))
        );
        let run = one(
            lmtp(),
            &to,
            &[
                GREET,
                EHLO_PIPE,
                envelope_replies,
                "452 full\r\n550 gone\r\n",
                BYE,
            ],
        );
        assert!(matches!(
            failure(&run),
            Some(TransactionFailure::MessageRejected(r)) if r.code().as_u16() == 550
        ));
    }),
    ("rset-ok", || {
        let messages = vec![
            envelope("<a@x.org>", &["<b@y.org>"]),
            envelope("<a@x.org>", &["<c@y.org>"]),
        ];
        let replies =
            "250 ok\r\n550 no\r\n250 reset\r\n250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n";
        let server = format!("{GREET}{EHLO}{replies}{BYE}");
        let run = transcript(clear(), messages, &[server.as_bytes()]);
        assert!(run
            .wire_str()
            .contains("RSET\r\nMAIL FROM:<a@x.org>\r\nRCPT TO:<c@y.org>\r\n"));
        assert!(accepted(&run));
    }),
    ("rset-other", || {
        let replies = "250 ok\r\n550 no\r\n354 what\r\n";
        let run = one(clear(), &["<b@y.org>"], &[GREET, EHLO, replies]);
        assert!(unexpected(&run, "RSET"));
        assert!(run.closed);
    }),
    ("noop-reply", || {
        for reply in ["250 ok\r\n", "451 later\r\n", "502 no\r\n"] {
            let (mut session, _) = ready(clear(), EHLO);
            session.noop().unwrap();
            session.receive(reply.as_bytes());
            let mut run = Run::default();
            assert_eq!(settle(&mut session, &mut run), ClientOutput::Idle);
            assert!(run.has(|e| matches!(e, ClientEvent::NoopReply(_))));
        }
    }),
    ("quit-reply", || {
        for ending in [BYE, ""] {
            let run = none(clear(), &[GREET, EHLO, ending]);
            assert!(run.closed);
            assert_eq!(error(&run), None);
        }
    }),
    ("any-421", || {
        let closing = "421 4.4.2 shutting down\r\n";
        let run = one(clear(), &["<b@y.org>"], &[GREET, EHLO, closing]);
        assert!(matches!(error(&run), Some(SessionError::ServiceClosing(_))));
        assert_eq!(failure(&run), Some(TransactionFailure::Interrupted));
        // Unasked, while the session is idle.
        let (mut session, mut run) = ready(clear(), EHLO);
        session.receive(closing.as_bytes());
        assert_eq!(settle(&mut session, &mut run), ClientOutput::Closed);
        assert!(matches!(error(&run), Some(SessionError::ServiceClosing(_))));
    }),
    ("any-misfit", || {
        let run = one(clear(), &["<b@y.org>"], &[GREET, EHLO, "354 go\r\n"]);
        assert!(unexpected(&run, "MAIL"));
        assert!(run.closed);
    }),
    ("any-unasked", || {
        let (mut session, mut run) = ready(clear(), EHLO);
        session.receive(b"250 surprise\r\n");
        assert_eq!(settle(&mut session, &mut run), ClientOutput::Closed);
        assert!(unexpected(&run, "nothing"));
    }),
    ("any-malformed", || {
        let run = none(clear(), &["hello\r\n"]);
        assert!(matches!(error(&run), Some(SessionError::MalformedReply(_))));
        assert!(run.closed);
    }),
    ("any-eof", || {
        let run = one(clear(), &["<b@y.org>"], &[GREET]);
        assert_eq!(error(&run), Some(SessionError::ConnectionClosed));
        assert_eq!(failure(&run), Some(TransactionFailure::NotSent));
    }),
    ("any-timeout", || {
        let mut session = ClientSession::new(clear());
        assert_eq!(session.timeout_hint(), Some(Wait::Greeting.duration()));
        session.handle_timeout();
        let mut run = Run::default();
        assert_eq!(settle(&mut session, &mut run), ClientOutput::Closed);
        assert_eq!(error(&run), Some(SessionError::Timeout(Wait::Greeting)));
    }),
];

#[test]
fn every_row_of_the_table_has_a_case_and_every_case_a_row() {
    let cases: BTreeSet<String> = ROWS.iter().map(|(name, _)| name.to_string()).collect();
    assert_eq!(cases.len(), ROWS.len(), "a case is named twice");
    let rows = table_rows();
    let missing: Vec<_> = rows.difference(&cases).collect();
    let stray: Vec<_> = cases.difference(&rows).collect();
    assert!(missing.is_empty(), "rows without a case: {missing:?}");
    assert!(stray.is_empty(), "cases without a row: {stray:?}");
}

#[test]
fn every_row_holds() {
    let failed: Vec<&str> = ROWS
        .iter()
        .filter(|(_, case)| std::panic::catch_unwind(case).is_err())
        .map(|(name, _)| *name)
        .collect();
    assert!(failed.is_empty(), "rows that do not hold: {failed:?}");
}
