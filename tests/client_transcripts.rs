//! Client session transcripts: scripted server replies, and what the client
//! sent and reported.

mod client_support;

use client_support::{
    config, content_wanted, drive, envelope, transcript, transcript_split, Run, Split,
};
use proptest::prelude::*;
use smtpwire::auth::{Credentials, LoginCredentials, PlainCredentials, Secret};
use smtpwire::client::{
    AuthConfig, ClientConfig, ClientError, ClientEvent, ClientSession, LongLines, MessageError,
    SessionError, StartTlsPolicy, TransactionFailure, TransactionId, Unsupported, UsageError, Wait,
};
use smtpwire::params::{BodyType, Notify, NotifyOn, Ret};
use smtpwire::Protocol;
use smtpwire::{ClientOutput, ReplyCode, Text};

const EHLO_PIPE: &[u8] = b"220 mx.example.net ESMTP\r\n250-mx.example.net\r\n250-PIPELINING\r\n\
    250-SIZE 1000000\r\n250-8BITMIME\r\n250 ENHANCEDSTATUSCODES\r\n";

fn failure(run: &Run, id: u64) -> Option<TransactionFailure> {
    run.events.iter().find_map(|e| match e {
        ClientEvent::TransactionFailed { id: done, failure } if done.get() == id => {
            Some(failure.clone())
        }
        _ => None,
    })
}

fn accepted(run: &Run, id: u64) -> bool {
    run.has(|e| matches!(e, ClientEvent::MessageAccepted { id: done, .. } if done.get() == id))
}

/// Each LMTP per-recipient reply: message, recipient, code.
fn deliveries(run: &Run) -> Vec<(u64, String, u16)> {
    run.events
        .iter()
        .filter_map(|e| match e {
            ClientEvent::RecipientDelivery {
                id,
                recipient,
                reply,
                ..
            } => Some((id.get(), recipient.to_string(), reply.code().as_u16())),
            _ => None,
        })
        .collect()
}

fn error(run: &Run) -> Option<SessionError> {
    run.events.iter().find_map(|e| match e {
        ClientEvent::Error(error) => Some(error.clone()),
        _ => None,
    })
}

fn script(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

#[test]
fn pipelined_group_goes_out_in_one_transmit() {
    let server = script(&[
        EHLO_PIPE,
        b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n550 5.1.1 No such user\r\n250 2.1.5 Ok\r\n",
        b"354 Go ahead\r\n250 2.0.0 Queued as 1234\r\n221 2.0.0 Bye\r\n",
    ]);
    let run = transcript(
        config(),
        vec![envelope(
            "<a@example.org>",
            &["<b@example.net>", "<nobody@example.net>", "<c@example.net>"],
        )],
        &[&server],
    );
    let group = b"MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\n\
        RCPT TO:<nobody@example.net>\r\nRCPT TO:<c@example.net>\r\nDATA\r\n";
    assert!(
        run.transmits.iter().any(|t| t.as_slice() == group),
        "{run:?}"
    );
    let rejected: Vec<_> = run
        .events
        .iter()
        .filter_map(|e| match e {
            ClientEvent::RecipientRejected {
                recipient, reply, ..
            } => Some((recipient.to_string(), reply.code())),
            _ => None,
        })
        .collect();
    assert_eq!(
        rejected,
        [(
            "<nobody@example.net>".into(),
            ReplyCode::MAILBOX_UNAVAILABLE
        )]
    );
    let accepted_count = run
        .events
        .iter()
        .filter(|e| matches!(e, ClientEvent::RecipientAccepted { .. }))
        .count();
    assert_eq!(accepted_count, 2);
    assert!(accepted(&run, 0));
    assert!(run
        .wire_str()
        .ends_with("DATA\r\nSubject: test\r\n\r\nHello\r\n.\r\nQUIT\r\n"));
    assert!(run.closed);
}

/// One command at a time when the server does not offer PIPELINING, and when
/// it does but `ClientConfig::pipelining` is off.
#[test]
fn without_pipelining_one_command_at_a_time() {
    let not_offered: &[u8] =
        b"220 mx\r\n250 mx\r\n250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n250 ok\r\n221 bye\r\n";
    let switched_off: &[u8] = b"220 mx\r\n250-mx\r\n250-PIPELINING\r\n250 CHUNKING\r\n\
        250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n250 ok\r\n221 bye\r\n";
    assert!(config().pipelining, "on by default");
    for (server, pipelining) in [(not_offered, true), (switched_off, false)] {
        let config = config().with_pipelining(pipelining);
        let mut session = ClientSession::new(config);
        session
            .send_mail(envelope("<a@x.org>", &["<b@y.org>", "<c@y.org>"]))
            .unwrap();
        session.quit();
        let run = drive(&mut session, &[server], Split::Whole, b"Hi\r\n", 100);
        let commands: Vec<String> = run
            .transmits
            .iter()
            .map(|t| String::from_utf8_lossy(t).into_owned())
            .collect();
        assert_eq!(
            commands,
            [
                "EHLO client.example.org\r\n",
                "MAIL FROM:<a@x.org>\r\n",
                "RCPT TO:<b@y.org>\r\n",
                "RCPT TO:<c@y.org>\r\n",
                "DATA\r\n",
                "Hi\r\n",
                ".\r\n",
                "QUIT\r\n"
            ]
        );
        assert!(accepted(&run, 0));
    }
}

#[test]
fn helo_fallback_on_500_and_502() {
    for refusal in ["500 what?\r\n", "502 not implemented\r\n"] {
        let server = script(&[
            b"220 old.example\r\n",
            refusal.as_bytes(),
            b"250 old.example\r\n250 ok\r\n250 ok\r\n354 go\r\n250 ok\r\n221 bye\r\n",
        ]);
        let run = transcript(
            config(),
            vec![envelope("<a@x.org>", &["<b@y.org>"])],
            &[&server],
        );
        assert!(run
            .wire_str()
            .starts_with("EHLO client.example.org\r\nHELO client.example.org\r\nMAIL"));
        assert!(run.has(|e| matches!(e, ClientEvent::Capabilities(c) if *c == Default::default())));
        assert!(accepted(&run, 0));
    }
    // Any other refusal of EHLO ends the session politely.
    let run = transcript(
        config(),
        vec![envelope("<a@x.org>", &["<b@y.org>"])],
        &[b"220 mx\r\n550 go away\r\n221 bye\r\n"],
    );
    assert!(matches!(error(&run), Some(SessionError::HelloRefused(_))));
    assert_eq!(failure(&run, 0), Some(TransactionFailure::NotSent));
    assert!(run
        .wire_str()
        .ends_with("EHLO client.example.org\r\nQUIT\r\n"));
}

const STARTTLS_EHLO: &[u8] =
    b"220 mx ESMTP\r\n250-mx\r\n250-STARTTLS\r\n250 AUTH PLAIN\r\n220 2.0.0 Ready\r\n";
const AFTER_TLS: &[u8] = b"250-mx\r\n250-PIPELINING\r\n250 AUTH PLAIN LOGIN\r\n\
    250 ok\r\n250 ok\r\n354 go\r\n250 ok\r\n221 bye\r\n";

#[test]
fn starttls_offered_upgrades_and_forgets() {
    for policy in [StartTlsPolicy::Required, StartTlsPolicy::Opportunistic] {
        let config = config().with_starttls(policy);
        let run = transcript(
            config,
            vec![envelope("<a@x.org>", &["<b@y.org>"])],
            &[STARTTLS_EHLO, AFTER_TLS],
        );
        assert_eq!(run.starttls, 1);
        assert!(run
            .wire_str()
            .starts_with("EHLO client.example.org\r\nSTARTTLS\r\nEHLO client.example.org\r\nMAIL"));
        let caps: Vec<_> = run
            .events
            .iter()
            .filter_map(|e| match e {
                ClientEvent::Capabilities(caps) => Some(caps.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(caps.len(), 2);
        assert!(caps[0].starttls && !caps[0].pipelining);
        assert!(!caps[1].starttls && caps[1].pipelining);
        assert!(accepted(&run, 0));
    }
}

/// A caller with no TLS that leaves the default opportunistic policy and
/// ignores `ClientOutput::StartTls` is told once, then the session ends instead
/// of asking for ever; after the server's 220 nothing goes out in clear
/// (RFC 3207 §4.1).
#[test]
fn starttls_ignored_by_the_caller_ends_the_session() {
    let mut session = ClientSession::new(config());
    session
        .send_mail(envelope("<a@x.org>", &["<b@y.org>"]))
        .unwrap();
    session.quit();
    let mut server = STARTTLS_EHLO;
    let mut wire = Vec::new();
    let mut events = Vec::new();
    let mut starttls = 0;
    let mut closed = false;
    for _ in 0..1_000 {
        match session.poll_output() {
            ClientOutput::Transmit(bytes) => wire.extend_from_slice(&bytes),
            ClientOutput::Event(event) => events.push(event),
            ClientOutput::NeedInput => {
                let taken = session.receive(server);
                server = &server[taken..];
            }
            // This caller has no TLS and carries on as if nothing happened.
            ClientOutput::StartTls => starttls += 1,
            ClientOutput::SendContent(_) | ClientOutput::Idle => {
                unreachable!("nothing to do before the upgrade")
            }
            ClientOutput::Closed => {
                closed = true;
                break;
            }
        }
    }
    assert!(closed, "the session must end");
    assert_eq!(starttls, 1);
    assert!(events
        .iter()
        .any(|e| matches!(e, ClientEvent::Error(SessionError::TlsNotEstablished))));
    assert!(events.iter().any(|e| matches!(
        e,
        ClientEvent::TransactionFailed {
            failure: TransactionFailure::NotSent | TransactionFailure::Interrupted,
            ..
        }
    )));
    assert_eq!(wire, b"EHLO client.example.org\r\nSTARTTLS\r\n");
    assert!(SessionError::TlsNotEstablished
        .to_string()
        .contains("StartTlsPolicy::Never"));
}

#[test]
fn starttls_stripped_or_refused() {
    let stripped = b"220 mx\r\n250-mx\r\n250 PIPELINING\r\n221 bye\r\n";
    let required = config().with_starttls(StartTlsPolicy::Required);
    let run = transcript(
        required.clone(),
        vec![envelope("<a@x.org>", &["<b@y.org>"])],
        &[stripped],
    );
    assert_eq!(error(&run), Some(SessionError::StartTlsNotOffered));
    assert_eq!(failure(&run, 0), Some(TransactionFailure::NotSent));
    assert!(!run.wire_str().contains("MAIL"));
    assert!(run.wire_str().ends_with("QUIT\r\n"));

    let refused = b"220 mx\r\n250-mx\r\n250 STARTTLS\r\n454 4.7.0 TLS not available\r\n221 bye\r\n";
    let run = transcript(
        required,
        vec![envelope("<a@x.org>", &["<b@y.org>"])],
        &[refused],
    );
    assert!(matches!(
        error(&run),
        Some(SessionError::StartTlsRefused(_))
    ));
    assert!(!run.wire_str().contains("MAIL"));

    // Opportunistic carries on in clear, whether stripped or refused.
    let rest: &[u8] = b"250 ok\r\n250 ok\r\n354 go\r\n250 ok\r\n221 bye\r\n";
    for head in [
        &b"220 mx\r\n250-mx\r\n250 PIPELINING\r\n"[..],
        &b"220 mx\r\n250-mx\r\n250 STARTTLS\r\n454 4.7.0 TLS not available\r\n"[..],
    ] {
        let server = script(&[head, rest]);
        let run = transcript(
            config(),
            vec![envelope("<a@x.org>", &["<b@y.org>"])],
            &[&server],
        );
        assert_eq!(run.starttls, 0);
        assert!(accepted(&run, 0), "{run:?}");
    }
    // Never does not even ask.
    let never = config().with_starttls(StartTlsPolicy::Never);
    let server =
        b"220 mx\r\n250-mx\r\n250 STARTTLS\r\n250 ok\r\n250 ok\r\n354 go\r\n250 ok\r\n221 bye\r\n";
    let run = transcript(
        never,
        vec![envelope("<a@x.org>", &["<b@y.org>"])],
        &[server],
    );
    assert!(!run.wire_str().contains("STARTTLS"));
    assert!(accepted(&run, 0));
}

fn plain() -> Credentials {
    Credentials::Plain(
        PlainCredentials::new(
            None,
            Text::new("alice").unwrap(),
            Secret::new("secret").unwrap(),
        )
        .unwrap(),
    )
}

fn login() -> Credentials {
    Credentials::Login(
        LoginCredentials::new(Text::new("tim").unwrap(), Secret::new("pw").unwrap()).unwrap(),
    )
}

#[test]
fn auth_plain_with_initial_response() {
    let config = config()
        .with_implicit_tls(true)
        .with_auth(AuthConfig::new(plain()));
    let server = b"220 mx\r\n250-mx\r\n250 AUTH LOGIN PLAIN\r\n235 2.7.0 Accepted\r\n\
        250 ok\r\n250 ok\r\n354 go\r\n250 ok\r\n221 bye\r\n";
    // Mid-exchange, the session's Debug output shows no secret either.
    let mut session = ClientSession::new(config.clone());
    session.receive(b"220 mx\r\n250-mx\r\n250 AUTH PLAIN\r\n");
    while !session.poll_output().is_blocking() {}
    let debug = format!("{session:?}");
    assert!(debug.contains("AuthExchange"));
    assert!(!debug.contains("AGFsaWNl") && !debug.contains("secret"));
    let run = transcript(
        config.clone(),
        vec![envelope("<a@x.org>", &["<b@y.org>"])],
        &[server],
    );
    assert!(run
        .wire_str()
        .contains("EHLO client.example.org\r\nAUTH PLAIN AGFsaWNlAHNlY3JldA==\r\nMAIL"));
    assert!(run.has(|e| matches!(e, ClientEvent::Authenticated(m) if m.as_str() == "PLAIN")));
    assert!(accepted(&run, 0));
    // The configuration never shows the secret.
    assert!(!format!("{config:?}").contains("secret"));
}

#[test]
fn auth_login_answers_challenges() {
    let config = config()
        .with_implicit_tls(true)
        .with_auth(AuthConfig::new(login()));
    let server = b"220 mx\r\n250-mx\r\n250 AUTH LOGIN\r\n334 VXNlcm5hbWU6\r\n334 UGFzc3dvcmQ6\r\n\
        235 ok\r\n221 bye\r\n";
    let run = transcript(config, vec![], &[server]);
    assert!(run
        .wire_str()
        .contains("AUTH LOGIN\r\ndGlt\r\ncHc=\r\nQUIT\r\n"));
    assert!(run.has(|e| matches!(e, ClientEvent::Authenticated(_))));
}

#[test]
fn auth_failures_are_typed() {
    for (reply, permanent) in [
        ("535 5.7.8 Bad credentials\r\n", true),
        ("454 4.7.0 Try later\r\n", false),
    ] {
        let config = config()
            .with_implicit_tls(true)
            .with_auth(AuthConfig::new(plain()));
        let server = script(&[
            b"220 mx\r\n250-mx\r\n250 AUTH PLAIN\r\n",
            reply.as_bytes(),
            b"221 bye\r\n",
        ]);
        let run = transcript(
            config,
            vec![envelope("<a@x.org>", &["<b@y.org>"])],
            &[&server],
        );
        match error(&run) {
            Some(SessionError::AuthRejected(r)) if permanent => assert_eq!(r.code().as_u16(), 535),
            Some(SessionError::AuthTemporaryFailure(r)) if !permanent => {
                assert_eq!(r.code().as_u16(), 454)
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(failure(&run, 0), Some(TransactionFailure::NotSent));
        assert!(run.wire_str().ends_with("QUIT\r\n") && !run.wire_str().contains("MAIL"));
    }
    // A challenge the mechanism cannot answer is cancelled with `*`.
    let config = config()
        .with_implicit_tls(true)
        .with_auth(AuthConfig::new(login()));
    let server = b"220 mx\r\n250-mx\r\n250 AUTH LOGIN\r\n334 !!!\r\n501 cancelled\r\n221 bye\r\n";
    let run = transcript(config, vec![], &[server]);
    assert!(run.wire_str().contains("AUTH LOGIN\r\n*\r\nQUIT\r\n"));
    assert!(matches!(error(&run), Some(SessionError::Sasl(_))));
}

#[test]
fn auth_needs_tls_or_consent_and_an_offered_mechanism() {
    let mut config = config().with_auth(AuthConfig::new(plain()));
    let server = b"220 mx\r\n250-mx\r\n250 AUTH PLAIN\r\n221 bye\r\n";
    let run = transcript(config.clone(), vec![], &[server]);
    assert_eq!(error(&run), Some(SessionError::AuthOverCleartext));
    assert!(!run.wire_str().contains("AUTH"));

    config = config.with_auth(AuthConfig::new(plain()).with_cleartext(true));
    let server = b"220 mx\r\n250-mx\r\n250 AUTH CRAM-MD5\r\n221 bye\r\n";
    let run = transcript(config, vec![], &[server]);
    assert_eq!(error(&run), Some(SessionError::AuthNotOffered));
}

#[test]
fn all_recipients_rejected_with_354_sends_an_empty_body() {
    let server = script(&[
        EHLO_PIPE,
        b"250 ok\r\n550 5.1.1 no\r\n550 5.1.1 no\r\n354 go\r\n554 5.5.1 no valid recipients\r\n221 bye\r\n",
    ]);
    let run = transcript(
        config(),
        vec![envelope("<a@x.org>", &["<b@y.org>", "<c@y.org>"])],
        &[&server],
    );
    assert_eq!(
        failure(&run, 0),
        Some(TransactionFailure::NoValidRecipients)
    );
    assert!(run.contents.is_empty());
    assert!(
        run.wire_str().ends_with("DATA\r\n.\r\nQUIT\r\n"),
        "{}",
        run.wire_str()
    );
    assert!(!run.wire_str().contains("Hello"));
}

#[test]
fn all_recipients_rejected_with_554_to_data() {
    let server = script(&[
        EHLO_PIPE,
        b"250 ok\r\n550 5.1.1 no\r\n554 5.5.1 no valid recipients\r\n250 reset\r\n221 bye\r\n",
    ]);
    let run = transcript(
        config(),
        vec![envelope("<a@x.org>", &["<b@y.org>"])],
        &[&server],
    );
    assert_eq!(
        failure(&run, 0),
        Some(TransactionFailure::NoValidRecipients)
    );
    assert!(run.wire_str().ends_with("DATA\r\nRSET\r\nQUIT\r\n"));
}

#[test]
fn failed_transaction_is_reset_and_the_next_one_goes() {
    let server = b"220 mx\r\n250 mx\r\n250 ok\r\n550 no\r\n250 reset\r\n\
        250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n550 5.7.1 spam\r\n221 bye\r\n";
    let mut session = ClientSession::new(config());
    session
        .send_mail(envelope("<a@x.org>", &["<b@y.org>"]))
        .unwrap();
    session
        .send_mail(envelope("<a@x.org>", &["<c@y.org>"]))
        .unwrap();
    session.quit();
    let run = drive(&mut session, &[server], Split::Whole, b"x\r\n", 100);
    assert_eq!(
        failure(&run, 0),
        Some(TransactionFailure::NoValidRecipients)
    );
    assert!(accepted(&run, 1));
    assert!(run
        .wire_str()
        .contains("RCPT TO:<b@y.org>\r\nRSET\r\nMAIL FROM:<a@x.org>\r\n"));
}

#[test]
fn mail_and_message_rejections() {
    let server = script(&[
        EHLO_PIPE,
        b"451 4.3.0 try later\r\n503 no mail\r\n503 no mail\r\n221 bye\r\n",
    ]);
    let run = transcript(
        config(),
        vec![envelope("<a@x.org>", &["<b@y.org>"])],
        &[&server],
    );
    assert!(
        matches!(failure(&run, 0), Some(TransactionFailure::MailRejected(r)) if r.code().as_u16() == 451)
    );
    assert!(!run.wire_str().contains("RSET"));

    let server = script(&[
        EHLO_PIPE,
        b"250 ok\r\n250 ok\r\n354 go\r\n552 5.3.4 too big\r\n221 bye\r\n",
    ]);
    let run = transcript(
        config(),
        vec![envelope("<a@x.org>", &["<b@y.org>"])],
        &[&server],
    );
    assert!(
        matches!(failure(&run, 0), Some(TransactionFailure::MessageRejected(r)) if r.code().as_u16() == 552)
    );
    assert!(!run.wire_str().contains("RSET"));
}

#[test]
fn size_is_declared_and_checked() {
    let mut big = envelope("<a@x.org>", &["<b@y.org>"]);
    big.mail_params.size = Some(5_000_000);
    // Queued before the capabilities are known: refused when its turn comes.
    let run = transcript(
        config(),
        vec![big.clone()],
        &[&script(&[EHLO_PIPE, b"221 bye\r\n"])],
    );
    assert_eq!(
        failure(&run, 0),
        Some(TransactionFailure::Refused(MessageError::MessageTooLarge {
            size: 5_000_000,
            limit: 1_000_000
        }))
    );
    assert!(!run.wire_str().contains("MAIL"));

    // Known capabilities: refused at once.
    let mut session = ClientSession::new(config());
    drive(&mut session, &[EHLO_PIPE], Split::Whole, b"", 1);
    assert!(session.is_idle());
    assert_eq!(
        session.send_mail(big),
        Err(ClientError::Refused(MessageError::MessageTooLarge {
            size: 5_000_000,
            limit: 1_000_000
        }))
    );

    // SIZE= goes with a size the server takes, and never to a server
    // without SIZE.
    let mut small = envelope("<a@x.org>", &["<b@y.org>"]);
    small.mail_params.size = Some(100);
    let run = transcript(
        config(),
        vec![small.clone()],
        &[&script(&[EHLO_PIPE, b"421 bye\r\n"])],
    );
    assert!(run.wire_str().contains("MAIL FROM:<a@x.org> SIZE=100\r\n"));
    let run = transcript(config(), vec![small], &[b"220 mx\r\n250 mx\r\n421 bye\r\n"]);
    assert!(run.wire_str().contains("MAIL FROM:<a@x.org>\r\n"));
}

#[test]
fn extension_checks() {
    let plain_server = b"220 mx\r\n250 mx\r\n221 bye\r\n";
    let refused = |envelope: smtpwire::client::Envelope| {
        let run = transcript(config(), vec![envelope], &[plain_server]);
        assert!(!run.wire_str().contains("MAIL"));
        match failure(&run, 0) {
            Some(TransactionFailure::Refused(error)) => error,
            other => panic!("{other:?}"),
        }
    };
    let mut e = envelope("<a@x.org>", &["<b@y.org>"]);
    e.mail_params.body = Some(BodyType::EightBitMime);
    assert_eq!(refused(e), MessageError::EightBitNotSupported);
    let mut e = envelope("<a@x.org>", &["<b@y.org>"]);
    e.mail_params.body = Some(BodyType::BinaryMime);
    assert_eq!(refused(e), MessageError::BinaryMimeNotSupported);
    assert_eq!(
        refused(envelope("<jürgen@x.org>", &["<b@y.org>"])),
        MessageError::SmtpUtf8NotSupported
    );
    let mut e = envelope("<a@x.org>", &["<b@y.org>"]);
    e.mail_params.ret = Some(Ret::Headers);
    assert_eq!(refused(e.clone()), MessageError::DsnNotSupported);
    let mut e2 = envelope("<a@x.org>", &["<b@y.org>"]);
    e2.recipients[0].params.notify = Some(Notify::Never);
    assert_eq!(refused(e2), MessageError::DsnNotSupported);
    let mut e3 = envelope("<a@x.org>", &["<b@y.org>"]);
    e3.mail_params.requiretls = true;
    assert_eq!(refused(e3.clone()), MessageError::RequireTlsWithoutTls);

    // REQUIRETLS over TLS still needs the server's REQUIRETLS.
    let tls = config().with_implicit_tls(true);
    let run = transcript(tls, vec![e3], &[plain_server]);
    assert_eq!(
        failure(&run, 0),
        Some(TransactionFailure::Refused(
            MessageError::RequireTlsNotSupported
        ))
    );

    // Dropping is the caller's choice for DSN.
    e.unsupported = Unsupported::Drop;
    e.recipients[0].params.notify = Some(Notify::On(NotifyOn::new(false, true, false).unwrap()));
    let server = b"220 mx\r\n250 mx\r\n250 ok\r\n250 ok\r\n354 go\r\n250 ok\r\n221 bye\r\n";
    let run = transcript(config(), vec![e], &[server]);
    assert!(run
        .wire_str()
        .contains("MAIL FROM:<a@x.org>\r\nRCPT TO:<b@y.org>\r\n"));
    assert!(accepted(&run, 0));

    // With the extensions offered, the parameters go out; SMTPUTF8 is added.
    let mut e = envelope("<jürgen@x.org>", &["<b@y.org>"]);
    e.mail_params.body = Some(BodyType::EightBitMime);
    e.mail_params.ret = Some(Ret::Full);
    let server =
        b"220 mx\r\n250-mx\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 DSN\r\n250 ok\r\n221 bye\r\n";
    let run = transcript(config(), vec![e], &[server]);
    assert!(
        run.wire_str()
            .contains("MAIL FROM:<jürgen@x.org> BODY=8BITMIME SMTPUTF8 RET=FULL\r\n"),
        "{}",
        run.wire_str()
    );
}

#[test]
fn eight_bit_content_without_8bitmime_aborts() {
    let server = b"220 mx\r\n250 mx\r\n250 ok\r\n250 ok\r\n354 go\r\n250 ok\r\n";
    let mut session = ClientSession::new(config());
    session
        .send_mail(envelope("<a@x.org>", &["<b@y.org>"]))
        .unwrap();
    let run = drive(
        &mut session,
        &[server],
        Split::Whole,
        "Grüße\r\n".as_bytes(),
        100,
    );
    assert_eq!(
        error(&run),
        Some(SessionError::ContentRefused(
            MessageError::EightBitNotSupported
        ))
    );
    assert!(matches!(
        failure(&run, 0),
        Some(TransactionFailure::Refused(_))
    ));
    // No end of data after a message cut short.
    assert!(run.wire_str().ends_with("DATA\r\n"));
    assert!(run.closed);
}

/// A message whose third line is `length` octets of `x`.
fn with_long_line(length: usize) -> Vec<u8> {
    let mut body = b"Subject: long\r\n\r\n".to_vec();
    body.extend_from_slice(&vec![b'x'; length]);
    body.extend_from_slice(b"\r\nlast\r\n");
    body
}

/// One message through DATA (or BDAT with `chunking`), content offered in
/// pieces of `piece` octets.
fn send_body(config: ClientConfig, server: &[u8], body: &[u8], piece: usize) -> Run {
    let mut session = ClientSession::new(config);
    session
        .send_mail(envelope("<a@x.org>", &["<b@y.org>"]))
        .unwrap();
    session.quit();
    drive(&mut session, &[server], Split::Whole, body, piece)
}

const DATA_SERVER: &[u8] =
    b"220 mx\r\n250-mx\r\n250 PIPELINING\r\n250 ok\r\n250 ok\r\n354 go\r\n250 ok\r\n221 bye\r\n";

/// Each line the client sent, without its CRLF.
fn wire_lines(run: &Run) -> Vec<Vec<u8>> {
    run.wire()
        .split(|&b| b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line).to_vec())
        .collect()
}

#[test]
fn an_over_long_line_is_refused_before_it_goes_out() {
    // RFC 5321 §4.5.3.1.6: 1000 octets with the CRLF; 998 before it pass.
    let run = send_body(config(), DATA_SERVER, &with_long_line(998), 1 << 20);
    assert!(accepted(&run, 0));

    // Offered whole: nothing of the content goes, and no end of data.
    let run = send_body(config(), DATA_SERVER, &with_long_line(1200), 1 << 20);
    let refused = MessageError::LineTooLong {
        line: 3,
        length: 1200,
    };
    assert_eq!(
        error(&run),
        Some(SessionError::ContentRefused(refused.clone()))
    );
    assert_eq!(failure(&run, 0), Some(TransactionFailure::Refused(refused)));
    assert!(run.wire_str().ends_with("DATA\r\n"), "{}", run.wire_str());
    assert!(run.closed);

    // Offered in small pieces: the line is cut off at the limit, and the
    // connection closed with the message unfinished.
    for piece in [7, 999, 1000] {
        let run = send_body(config(), DATA_SERVER, &with_long_line(1200), piece);
        assert!(
            matches!(
                error(&run),
                Some(SessionError::ContentRefused(MessageError::LineTooLong { line: 3, length }))
                    if length > 998
            ),
            "{:?}",
            error(&run)
        );
        assert!(wire_lines(&run).iter().all(|line| line.len() <= 998));
        assert!(!run.wire_str().contains("\r\n.\r\n"));
        assert!(run.closed);
    }

    // A bare LF or CR ends a line too.
    let mut body = b"a\nb\rc\r\n".to_vec();
    body.extend_from_slice(&[b'y'; 999]);
    let run = send_body(config(), DATA_SERVER, &body, 1 << 20);
    assert_eq!(
        error(&run),
        Some(SessionError::ContentRefused(MessageError::LineTooLong {
            line: 4,
            length: 999
        }))
    );
}

#[test]
fn over_long_lines_wrapped_as_postfix_does() {
    let wrap = config().with_long_lines(LongLines::Wrap);
    let x = |count: usize| "x".repeat(count);
    // 2500 octets: 998, then a space and 997, then a space and 505.
    let expected = format!(
        "\r\n\r\n{}\r\n {}\r\n {}\r\nlast\r\n.\r\n",
        x(998),
        x(997),
        x(505)
    );
    for piece in [7, 998, 1 << 20] {
        let run = send_body(wrap.clone(), DATA_SERVER, &with_long_line(2500), piece);
        assert!(accepted(&run, 0));
        assert!(run.wire_str().contains(&expected), "{}", run.wire_str());
    }
    // A line of exactly 998 octets, or ending right at the limit, stays whole.
    let run = send_body(wrap.clone(), DATA_SERVER, &with_long_line(998), 1 << 20);
    assert!(run.wire_str().contains(&format!("\r\n{}\r\nlast", x(998))));

    // BDAT counts what the wrapping adds.
    let chunked = wrap.with_chunking(true);
    let server = b"220 mx\r\n250-mx\r\n250-PIPELINING\r\n250 CHUNKING\r\n250 ok\r\n250 ok\r\n\
        250 queued\r\n221 bye\r\n";
    let body = x(1000);
    let run = send_body(chunked, server, body.as_bytes(), 1 << 20);
    assert!(accepted(&run, 0));
    assert!(
        run.wire_str()
            .ends_with(&format!("BDAT 1003 LAST\r\n{}\r\n xxQUIT\r\n", x(998))),
        "{}",
        run.wire_str()
    );
}

#[test]
fn binarymime_carries_lines_of_any_length() {
    let config = config().with_chunking(true);
    let server = b"220 mx\r\n250-mx\r\n250-BINARYMIME\r\n250 CHUNKING\r\n250 ok\r\n250 ok\r\n\
        250 queued\r\n221 bye\r\n";
    let mut binary = envelope("<a@x.org>", &["<b@y.org>"]);
    binary.mail_params.body = Some(BodyType::BinaryMime);
    let mut session = ClientSession::new(config);
    session.send_mail(binary).unwrap();
    session.quit();
    let body = with_long_line(5000);
    let run = drive(&mut session, &[server], Split::Whole, &body, 1 << 20);
    assert!(accepted(&run, 0));
    assert!(run.wire().windows(body.len()).any(|w| w == body));
}

#[test]
fn lmtp_reports_each_recipient() {
    let config = config().with_protocol(Protocol::Lmtp);
    let server = b"220 lmtp ready\r\n250-lmtp\r\n250-PIPELINING\r\n250 ENHANCEDSTATUSCODES\r\n\
        250 ok\r\n250 ok\r\n550 5.1.1 unknown\r\n250 ok\r\n354 go\r\n\
        250 2.0.0 <b> delivered\r\n452 4.2.2 <d> mailbox full\r\n221 bye\r\n";
    let run = transcript(
        config,
        vec![envelope(
            "<a@x.org>",
            &["<b@y.org>", "<c@y.org>", "<d@y.org>"],
        )],
        &[server],
    );
    assert!(run.wire_str().starts_with("LHLO client.example.org\r\n"));
    assert_eq!(
        deliveries(&run),
        [(0, "<b@y.org>".into(), 250), (0, "<d@y.org>".into(), 452)]
    );
    assert!(accepted(&run, 0));

    // Every recipient failing fails the message with the last reply.
    let config = client_support::config().with_protocol(Protocol::Lmtp);
    let server = b"220 lmtp\r\n250 lmtp\r\n250 ok\r\n250 ok\r\n354 go\r\n452 full\r\n221 bye\r\n";
    let run = transcript(
        config,
        vec![envelope("<a@x.org>", &["<b@y.org>"])],
        &[server],
    );
    assert!(
        matches!(failure(&run, 0), Some(TransactionFailure::MessageRejected(r)) if r.code().as_u16() == 452)
    );
}

#[test]
fn service_closing_mid_transaction() {
    let server = script(&[EHLO_PIPE, b"250 ok\r\n421 4.4.2 shutting down\r\n"]);
    let run = transcript(
        config(),
        vec![
            envelope("<a@x.org>", &["<b@y.org>", "<c@y.org>"]),
            envelope("<a@x.org>", &["<d@y.org>"]),
        ],
        &[&server],
    );
    assert!(
        matches!(error(&run), Some(SessionError::ServiceClosing(r)) if r.code().as_u16() == 421)
    );
    assert_eq!(failure(&run, 0), Some(TransactionFailure::Interrupted));
    assert_eq!(failure(&run, 1), Some(TransactionFailure::NotSent));
    assert!(run.closed);
    assert!(!run.wire_str().contains("QUIT"));
}

#[test]
fn greeting_refusals() {
    let run = transcript(
        config(),
        vec![envelope("<a@x.org>", &["<b@y.org>"])],
        &[b"554 no service\r\n221 bye\r\n"],
    );
    assert!(matches!(
        error(&run),
        Some(SessionError::GreetingRefused(_))
    ));
    assert_eq!(run.wire_str(), "QUIT\r\n");
    let run = transcript(config(), vec![], &[b"421 busy\r\n"]);
    assert!(matches!(error(&run), Some(SessionError::ServiceClosing(_))));
    assert_eq!(run.wire_str(), "");
    assert!(run.closed);
}

/// RFC 5321 §3.8: a 421 may come when nothing was asked (an idle
/// timeout); it is the service closing, not a stray reply.
#[test]
fn unsolicited_421_while_idle_is_the_service_closing() {
    let mut session = ClientSession::new(config());
    let run = drive(
        &mut session,
        &[b"220 mx\r\n250 mx\r\n421 4.4.2 idle too long\r\n"],
        Split::Whole,
        b"",
        0,
    );
    assert!(
        matches!(error(&run), Some(SessionError::ServiceClosing(r)) if r.code().as_u16() == 421),
        "{run:?}"
    );
    assert!(run.closed);
}

/// RFC 2033 §4.2: an LMTP server owes no reply to the end of a message
/// with no accepted recipient, so a 354 where 503 was due leaves nothing to
/// keep the session in step by: the client closes rather than wait.
#[test]
fn lmtp_go_ahead_with_no_recipient_closes_the_session() {
    let config = config().with_protocol(Protocol::Lmtp);
    let server = b"220 lmtp\r\n250-lmtp\r\n250 PIPELINING\r\n\
        250 ok\r\n550 5.1.1 unknown\r\n354 go\r\n";
    let run = transcript(
        config,
        vec![envelope("<a@x.org>", &["<b@y.org>"])],
        &[server],
    );
    assert_eq!(
        failure(&run, 0),
        Some(TransactionFailure::NoValidRecipients)
    );
    assert!(matches!(
        error(&run),
        Some(SessionError::UnexpectedReply {
            command: "DATA",
            ..
        })
    ));
    assert!(run.closed);
    assert!(run.wire_str().ends_with("DATA\r\n"), "{}", run.wire_str());
}

/// What each reply class does at each step of a plain transaction.
#[test]
fn every_reply_class_at_every_step() {
    let steps: [&[u8]; 6] = [
        b"220 mx\r\n",
        b"250 mx\r\n",
        b"250 ok\r\n",
        b"250 ok\r\n",
        b"354 go\r\n",
        b"250 ok\r\n",
    ];
    for step in 0..steps.len() {
        for class in [b'2', b'3', b'4', b'5'] {
            let mut server = steps[..step].concat();
            let reply = format!("{}51 reply\r\n", class as char);
            server.extend_from_slice(reply.as_bytes());
            server.extend_from_slice(b"250 more\r\n221 bye\r\n");
            let run = transcript(
                config(),
                vec![envelope("<a@x.org>", &["<b@y.org>"])],
                &[&server],
            );
            let expected_ok = steps[step][0] == class;
            // Whatever comes, the message ends in exactly one outcome and
            // the session ends.
            let outcomes = run
                .events
                .iter()
                .filter(|e| {
                    matches!(
                        e,
                        ClientEvent::MessageAccepted { .. } | ClientEvent::TransactionFailed { .. }
                    )
                })
                .count();
            assert_eq!(outcomes, 1, "step {step} class {}: {run:?}", class as char);
            assert!(run.closed, "step {step}");
            if !expected_ok {
                assert!(!accepted(&run, 0), "step {step} class {}", class as char);
            }
        }
    }
}

#[test]
fn timeouts_follow_rfc_5321() {
    let mut session = ClientSession::new(config());
    session
        .send_mail(envelope("<a@x.org>", &["<b@y.org>"]))
        .unwrap();
    let minutes = |s: &ClientSession| s.timeout_hint().map(|d| d.as_secs() / 60);
    assert_eq!(minutes(&session), Some(5));
    let feed = |s: &mut ClientSession, input: &[u8]| {
        assert_eq!(s.receive(input), input.len());
        while !s.poll_output().is_blocking() {}
    };
    feed(&mut session, b"220 mx\r\n");
    assert_eq!(minutes(&session), Some(5));
    feed(&mut session, b"250 mx\r\n250 ok\r\n250 ok\r\n");
    assert_eq!(minutes(&session), Some(2));
    feed(&mut session, b"354 go\r\n");
    assert_eq!(minutes(&session), Some(3));
    session.finish_content().unwrap();
    assert_eq!(minutes(&session), Some(10));
    session.handle_timeout();
    let mut events = Vec::new();
    loop {
        match session.poll_output() {
            ClientOutput::Event(e) => events.push(e),
            ClientOutput::Closed => break,
            ClientOutput::Transmit(_) => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        events[0],
        ClientEvent::Error(SessionError::Timeout(Wait::DataTermination))
    );
    assert_eq!(
        events[1],
        ClientEvent::TransactionFailed {
            id: TransactionId::clone(&session_id()),
            failure: TransactionFailure::Interrupted
        }
    );
    assert_eq!(session.timeout_hint(), None);
}

fn session_id() -> TransactionId {
    let mut session = ClientSession::new(config());
    session
        .send_mail(envelope("<a@x.org>", &["<b@y.org>"]))
        .unwrap()
}

#[test]
fn noop_and_bdat() {
    let config = config().with_chunking(true);
    let server = b"220 mx\r\n250-mx\r\n250-PIPELINING\r\n250-BINARYMIME\r\n250 CHUNKING\r\n\
        250 noop\r\n250 ok\r\n250 ok\r\n250 2.0.0 queued\r\n221 bye\r\n";
    let mut session = ClientSession::new(config);
    session.noop().unwrap();
    session
        .send_mail(envelope("<a@x.org>", &["<b@y.org>"]))
        .unwrap();
    session.quit();
    let run = drive(&mut session, &[server], Split::Whole, b".dot\nline\r\n", 3);
    assert!(run.has(|e| matches!(e, ClientEvent::NoopReply(_))));
    assert!(accepted(&run, 0));
    // No stuffing in BDAT, but bare LF still repaired.
    assert!(
        run.wire_str()
            .ends_with("RCPT TO:<b@y.org>\r\nBDAT 12 LAST\r\n.dot\r\nline\r\nQUIT\r\n"),
        "{}",
        run.wire_str()
    );
}

#[test]
fn bdat_binarymime_sends_content_as_is() {
    let config = config().with_chunking(true);
    let server = b"220 mx\r\n250-mx\r\n250-BINARYMIME\r\n250 CHUNKING\r\n250 ok\r\n250 ok\r\n250 queued\r\n221 bye\r\n";
    let mut e = envelope("<a@x.org>", &["<b@y.org>"]);
    e.mail_params.body = Some(BodyType::BinaryMime);
    let mut session = ClientSession::new(config);
    session.send_mail(e).unwrap();
    session.quit();
    let run = drive(&mut session, &[server], Split::Whole, b"\x00\xff\n.\r", 100);
    assert!(accepted(&run, 0));
    assert!(run
        .wire()
        .ends_with(b"BDAT 5 LAST\r\n\x00\xff\n.\rQUIT\r\n"));
}

#[test]
fn large_content_streams_in_a_bounded_window() {
    let server = b"220 mx\r\n250 mx\r\n250 ok\r\n250 ok\r\n354 go\r\n250 ok\r\n221 bye\r\n";
    let body = "line of text\r\n".repeat(50_000);
    let mut session = ClientSession::new(config());
    session
        .send_mail(envelope("<a@x.org>", &["<b@y.org>"]))
        .unwrap();
    session.quit();
    let run = drive(
        &mut session,
        &[server],
        Split::Whole,
        body.as_bytes(),
        1 << 20,
    );
    assert!(accepted(&run, 0));
    let largest = run.transmits.iter().map(Vec::len).max().unwrap();
    assert!(largest <= 2 * smtpwire::limits::DEFAULT_CLIENT_CONTENT_WINDOW);
    assert!(run.wire_str().contains(&body));
}

const SCRIPTS: [&[u8]; 4] = [
    b"220 mx ESMTP\r\n250-mx\r\n250-PIPELINING\r\n250 SIZE 100000\r\n250 2.1.0 ok\r\n\
      250 2.1.5 ok\r\n550-5.1.1 no such\r\n550 5.1.1 user\r\n354 go\r\n250 2.0.0 queued\r\n\
      250 2.1.0 ok\r\n452 4.2.2 full\r\n250 ok\r\n354 go\r\n250 queued\r\n221 bye\r\n",
    b"220 mx\r\n502 no\r\n250 mx\r\n250 ok\r\n550 no\r\n550 no\r\n250 reset\r\n250 ok\r\n\
      250 ok\r\n250 ok\r\n354 go\r\n554 rejected\r\n221 bye\r\n",
    b"220 mx\r\n250-mx\r\n250-PIPELINING\r\n250 CHUNKING\r\n250 ok\r\n250 ok\r\n250 ok\r\n\
      250 queued\r\n250 ok\r\n250 ok\r\n250 ok\r\n250 queued\r\n221 bye\r\n",
    b"220 mx\r\n250-mx\r\n250 PIPELINING\r\n250 ok\r\n250 ok\r\n250-a\r\n251 b\r\n",
];

fn script_run(index: usize, split: Split) -> Run {
    let config = config().with_chunking(true);
    transcript_split(
        config,
        vec![
            envelope("<a@x.org>", &["<b@y.org>", "<c@y.org>"]),
            envelope("<a@x.org>", &["<d@y.org>", "<e@y.org>"]),
        ],
        &[SCRIPTS[index]],
        split,
    )
}

/// Adjacent transmits merged: how they are cut depends on when input came.
fn settled(run: &Run) -> (Vec<ClientEvent>, Vec<u8>) {
    (run.events.clone(), run.wire())
}

#[test]
fn chunking_invariant_every_split() {
    for (index, script) in SCRIPTS.iter().enumerate() {
        let whole = settled(&script_run(index, Split::Whole));
        assert!(!whole.0.is_empty());
        assert_eq!(
            settled(&script_run(index, Split::Bytes)),
            whole,
            "script {index} bytewise"
        );
        for at in 0..script.len() {
            assert_eq!(
                settled(&script_run(index, Split::At(at))),
                whole,
                "script {index} at {at}"
            );
        }
    }
}

proptest! {
    #[test]
    fn chunking_invariant_random(index in 0..SCRIPTS.len(), sizes in proptest::collection::vec(1usize..40, 1..20)) {
        let whole = settled(&script_run(index, Split::Whole));
        prop_assert_eq!(settled(&script_run(index, Split::Chunks(sizes))), whole);
    }
}

/// Each message's outcome, in the order reported.
fn outcomes(run: &Run) -> Vec<(u64, bool)> {
    run.events
        .iter()
        .filter_map(|e| match e {
            ClientEvent::MessageAccepted { id, .. } => Some((id.get(), true)),
            ClientEvent::TransactionFailed { id, .. } => Some((id.get(), false)),
            _ => None,
        })
        .collect()
}

/// Every message ends exactly once, in order, and nothing is reported for
/// a message after its end.
fn assert_well_ordered(run: &Run, messages: u64) {
    let ended: Vec<u64> = outcomes(run).iter().map(|(id, _)| *id).collect();
    assert_eq!(ended, (0..messages).collect::<Vec<_>>(), "{run:?}");
    let mut done = Vec::new();
    for event in &run.events {
        let id = match event {
            ClientEvent::RecipientAccepted { id, .. }
            | ClientEvent::RecipientRejected { id, .. }
            | ClientEvent::RecipientDelivery { id, .. } => id.get(),
            ClientEvent::MessageAccepted { id, .. } | ClientEvent::TransactionFailed { id, .. } => {
                done.push(id.get());
                continue;
            }
            _ => continue,
        };
        assert!(
            !done.contains(&id),
            "event for #{id} after its end: {run:?}"
        );
    }
}

fn two_messages() -> Vec<smtpwire::client::Envelope> {
    vec![
        envelope("<a@x.org>", &["<b@y.org>"]),
        envelope("<a@x.org>", &["<c@y.org>"]),
    ]
}

fn three_messages() -> Vec<smtpwire::client::Envelope> {
    let mut messages = two_messages();
    messages.push(envelope("<a@x.org>", &["<d@y.org>"]));
    messages
}

/// Feeds `input` whole and polls until the session blocks; returns what it
/// sent and reported.
fn exchange_run(session: &mut ClientSession, input: &[u8]) -> Run {
    assert_eq!(session.receive(input), input.len());
    let mut run = Run::default();
    loop {
        match session.poll_output() {
            ClientOutput::Transmit(bytes) => run.transmits.push(bytes.to_vec()),
            ClientOutput::Event(event) => run.events.push(event),
            _ => return run,
        }
    }
}

/// [`exchange_run`], for what was sent.
fn exchange(session: &mut ClientSession, input: &[u8]) -> Vec<Vec<u8>> {
    exchange_run(session, input).transmits
}

#[test]
fn next_message_follows_the_end_of_data_in_one_transmit() {
    let mut session = ClientSession::new(config());
    for envelope in three_messages() {
        session.send_mail(envelope).unwrap();
    }
    session.quit();
    exchange(&mut session, EHLO_PIPE);
    exchange(&mut session, b"250 ok\r\n250 ok\r\n354 go\r\n");
    assert_eq!(content_wanted(&mut session), Some(0));
    assert_eq!(session.send_content(b"Hi\r\n"), Ok(4));
    assert_eq!(exchange(&mut session, b""), [b"Hi\r\n".to_vec()]);
    session.finish_content().unwrap();
    // RFC 2920 §3.1: the end of data, then the next envelope and DATA, all
    // before the reply to the end of data.
    let group = exchange(&mut session, b"");
    assert_eq!(
        group,
        [b".\r\nMAIL FROM:<a@x.org>\r\nRCPT TO:<c@y.org>\r\nDATA\r\n".to_vec()]
    );
    assert_eq!(
        session.poll_output(),
        ClientOutput::NeedInput,
        "waits for the replies"
    );
    // Both transactions' replies come in one read; the second message's
    // content is asked for at once.
    exchange(
        &mut session,
        b"250 queued\r\n250 ok\r\n250 ok\r\n354 go\r\n",
    );
    assert_eq!(content_wanted(&mut session), Some(1));
    session.finish_content().unwrap();
    let group = exchange(&mut session, b"");
    assert_eq!(
        group,
        [b".\r\nMAIL FROM:<a@x.org>\r\nRCPT TO:<d@y.org>\r\nDATA\r\n".to_vec()]
    );
    // QUIT waits for the last message's end.
    exchange(
        &mut session,
        b"250 queued\r\n250 ok\r\n250 ok\r\n354 go\r\n",
    );
    session.finish_content().unwrap();
    assert_eq!(exchange(&mut session, b""), [b".\r\n".to_vec()]);
    assert_eq!(
        exchange(&mut session, b"250 queued\r\n"),
        [b"QUIT\r\n".to_vec()]
    );
}

#[test]
fn cross_message_group_outcomes() {
    let wire_of = |run: &Run| run.wire_str();
    // The first message's end of data refused: the second goes on.
    let server = script(&[
        EHLO_PIPE,
        b"250 ok\r\n250 ok\r\n354 go\r\n554 5.7.1 spam\r\n",
        b"250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n221 bye\r\n",
    ]);
    let run = transcript(config(), two_messages(), &[&server]);
    assert!(
        matches!(failure(&run, 0), Some(TransactionFailure::MessageRejected(r)) if r.code().as_u16() == 554)
    );
    assert!(accepted(&run, 1));
    assert_well_ordered(&run, 2);
    assert!(wire_of(&run)
        .contains("Hello\r\n.\r\nMAIL FROM:<a@x.org>\r\nRCPT TO:<c@y.org>\r\nDATA\r\n"));
    assert!(!wire_of(&run).contains("RSET"));

    // The second MAIL refused: its RCPT and DATA fail with it, no RSET, and
    // the third message starts a group of its own.
    let server = script(&[
        EHLO_PIPE,
        b"250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n",
        b"451 4.3.0 later\r\n503 5.5.1 no MAIL\r\n503 5.5.1 no MAIL\r\n",
        b"250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n221 bye\r\n",
    ]);
    let run = transcript(config(), three_messages(), &[&server]);
    assert!(accepted(&run, 0) && accepted(&run, 2));
    assert!(
        matches!(failure(&run, 1), Some(TransactionFailure::MailRejected(r)) if r.code().as_u16() == 451)
    );
    // The 503s echo the refused MAIL: no verdict on the recipient.
    assert!(!run.has(|e| matches!(
        e,
        ClientEvent::RecipientRejected { id, .. } | ClientEvent::RecipientAccepted { id, .. }
            if id.get() == 1
    )));
    assert_well_ordered(&run, 3);
    assert!(!wire_of(&run).contains("RSET"));
    assert!(wire_of(&run).contains(
        "RCPT TO:<c@y.org>\r\nDATA\r\nMAIL FROM:<a@x.org>\r\nRCPT TO:<d@y.org>\r\nDATA\r\n"
    ));

    // The second message's recipient refused but DATA accepted: its empty
    // end of data opens the group of the third.
    let server = script(&[
        EHLO_PIPE,
        b"250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n",
        b"250 ok\r\n550 5.1.1 no\r\n354 go\r\n554 5.5.1 no recipients\r\n",
        b"250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n221 bye\r\n",
    ]);
    let run = transcript(config(), three_messages(), &[&server]);
    assert_eq!(
        failure(&run, 1),
        Some(TransactionFailure::NoValidRecipients)
    );
    assert!(accepted(&run, 0) && accepted(&run, 2));
    assert_well_ordered(&run, 3);
    assert!(
        wire_of(&run).contains("DATA\r\n.\r\nMAIL FROM:<a@x.org>\r\nRCPT TO:<d@y.org>\r\nDATA\r\n")
    );

    // The second message's DATA refused after its recipient: RSET, then
    // the third.
    let server = script(&[
        EHLO_PIPE,
        b"250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n",
        b"250 ok\r\n250 ok\r\n451 4.3.0 later\r\n250 reset\r\n",
        b"250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n221 bye\r\n",
    ]);
    let run = transcript(config(), three_messages(), &[&server]);
    assert!(
        matches!(failure(&run, 1), Some(TransactionFailure::DataRejected(r)) if r.code().as_u16() == 451)
    );
    assert!(accepted(&run, 0) && accepted(&run, 2));
    assert_well_ordered(&run, 3);
    assert!(wire_of(&run).contains(
        "RCPT TO:<c@y.org>\r\nDATA\r\nRSET\r\nMAIL FROM:<a@x.org>\r\nRCPT TO:<d@y.org>\r\nDATA\r\n"
    ));
}

#[test]
fn service_closing_with_a_message_ahead() {
    // 421 to the first message's end of data: both messages in flight are
    // interrupted, the third was never sent.
    let server = script(&[
        EHLO_PIPE,
        b"250 ok\r\n250 ok\r\n354 go\r\n421 4.4.2 shutting down\r\n",
    ]);
    let run = transcript(config(), three_messages(), &[&server]);
    assert!(
        matches!(error(&run), Some(SessionError::ServiceClosing(r)) if r.code().as_u16() == 421)
    );
    assert_eq!(failure(&run, 0), Some(TransactionFailure::Interrupted));
    assert_eq!(failure(&run, 1), Some(TransactionFailure::Interrupted));
    assert_eq!(failure(&run, 2), Some(TransactionFailure::NotSent));
    assert_well_ordered(&run, 3);
    assert!(run.closed && !run.wire_str().contains("QUIT"));

    // 421 to the second message's RCPT: the first is delivered.
    let server = script(&[
        EHLO_PIPE,
        b"250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n250 ok\r\n421 4.4.2 bye\r\n",
    ]);
    let run = transcript(config(), three_messages(), &[&server]);
    assert!(accepted(&run, 0));
    assert_eq!(failure(&run, 1), Some(TransactionFailure::Interrupted));
    assert_eq!(failure(&run, 2), Some(TransactionFailure::NotSent));
    assert_well_ordered(&run, 3);

    // The connection dropped before the first end of data's reply.
    let server = script(&[EHLO_PIPE, b"250 ok\r\n250 ok\r\n354 go\r\n"]);
    let run = transcript(config(), two_messages(), &[&server]);
    assert_eq!(error(&run), Some(SessionError::ConnectionClosed));
    assert_eq!(failure(&run, 0), Some(TransactionFailure::Interrupted));
    assert_eq!(failure(&run, 1), Some(TransactionFailure::Interrupted));
    assert_well_ordered(&run, 2);
}

#[test]
fn lmtp_deliveries_then_the_next_message() {
    let config = config().with_protocol(Protocol::Lmtp);
    let server = b"220 lmtp\r\n250-lmtp\r\n250 PIPELINING\r\n\
        250 ok\r\n250 ok\r\n550 5.1.1 unknown\r\n250 ok\r\n354 go\r\n\
        250 2.0.0 <b> delivered\r\n452 4.2.2 <d> full\r\n\
        250 ok\r\n250 ok\r\n354 go\r\n452 4.2.2 <e> full\r\n221 bye\r\n";
    let run = transcript(
        config,
        vec![
            envelope("<a@x.org>", &["<b@y.org>", "<c@y.org>", "<d@y.org>"]),
            envelope("<a@x.org>", &["<e@y.org>"]),
        ],
        &[server],
    );
    assert!(run
        .wire_str()
        .contains("Hello\r\n.\r\nMAIL FROM:<a@x.org>\r\nRCPT TO:<e@y.org>\r\nDATA\r\n"));
    assert_eq!(
        deliveries(&run),
        [
            (0, "<b@y.org>".into(), 250),
            (0, "<d@y.org>".into(), 452),
            (1, "<e@y.org>".into(), 452)
        ]
    );
    assert!(accepted(&run, 0));
    assert!(
        matches!(failure(&run, 1), Some(TransactionFailure::MessageRejected(r)) if r.code().as_u16() == 452)
    );
    assert_well_ordered(&run, 2);
}

/// Two pipelined messages, each reply in turn replaced by one of each
/// class: whatever comes, every message ends exactly once and in order.
#[test]
fn every_reply_class_at_every_step_of_two_pipelined_messages() {
    let steps: [&[u8]; 10] = [
        b"220 mx\r\n",
        b"250-mx\r\n250 PIPELINING\r\n",
        b"250 ok\r\n",
        b"250 ok\r\n",
        b"354 go\r\n",
        b"250 ok\r\n",
        b"250 ok\r\n",
        b"250 ok\r\n",
        b"354 go\r\n",
        b"250 ok\r\n",
    ];
    for step in 0..steps.len() {
        for class in [b'2', b'3', b'4', b'5'] {
            let reply = format!("{}51 reply\r\n", class as char);
            let server = script(&[
                &steps[..step].concat(),
                reply.as_bytes(),
                &steps[step + 1..].concat(),
                b"250 reset\r\n221 bye\r\n",
            ]);
            for split in [Split::Whole, Split::Bytes] {
                let run = transcript_split(config(), two_messages(), &[&server], split);
                assert_well_ordered(&run, 2);
                assert!(run.closed, "step {step} class {}", class as char);
            }
        }
    }
}

const EHLO_CHUNKING: &[u8] = b"220 mx\r\n250-mx\r\n250-PIPELINING\r\n250 CHUNKING\r\n";

/// A session with BDAT and PIPELINING past EHLO, one message queued and
/// its envelope sent.
fn chunking_session(protocol: Protocol, to: &[&str]) -> (ClientSession, Vec<u8>) {
    let config = config().with_chunking(true).with_protocol(protocol);
    let mut session = ClientSession::new(config);
    session.send_mail(envelope("<a@x.org>", to)).unwrap();
    session.quit();
    // An LHLO reply reads the same as an EHLO reply.
    let sent = exchange(&mut session, EHLO_CHUNKING).concat();
    (session, sent)
}

/// Runs `session` to its end against `replies`, collecting events and what
/// it sent.
fn finish(session: &mut ClientSession, replies: &[u8]) -> Run {
    drive(session, &[replies], Split::Whole, b"", 1)
}

#[test]
fn bdat_goes_before_the_rcpt_replies() {
    let (mut session, sent) = chunking_session(Protocol::Smtp, &["<b@y.org>", "<c@y.org>"]);
    // RFC 3030 §4.2: content is wanted at once, with no reply read yet.
    assert_eq!(
        String::from_utf8_lossy(&sent),
        "EHLO client.example.org\r\nMAIL FROM:<a@x.org>\r\nRCPT TO:<b@y.org>\r\nRCPT TO:<c@y.org>\r\n"
    );
    assert_eq!(content_wanted(&mut session), Some(0));
    assert_eq!(session.send_content(b"Hi\r\n"), Ok(4));
    session.finish_content().unwrap();
    assert_eq!(
        exchange(&mut session, b""),
        [b"BDAT 4 LAST\r\nHi\r\n".to_vec()]
    );
    let run = finish(
        &mut session,
        b"250 ok\r\n550 5.1.1 no\r\n250 ok\r\n250 2.0.0 queued\r\n221 bye\r\n",
    );
    assert!(accepted(&run, 0), "{run:?}");
    assert_eq!(run.wire_str(), "QUIT\r\n");
    assert_well_ordered(&run, 1);
}

#[test]
fn pipelined_bdat_after_a_failed_envelope() {
    // MAIL refused after the last chunk went: its RCPT and BDAT are refused
    // too, and with no transaction open there is nothing to reset.
    let (mut session, _) = chunking_session(Protocol::Smtp, &["<b@y.org>"]);
    session.finish_content().unwrap();
    assert_eq!(exchange(&mut session, b""), [b"BDAT 0 LAST\r\n".to_vec()]);
    let run = finish(
        &mut session,
        b"451 4.3.0 later\r\n503 5.5.1 no MAIL\r\n503 5.5.1 no MAIL\r\n221 bye\r\n",
    );
    assert!(
        matches!(failure(&run, 0), Some(TransactionFailure::MailRejected(r)) if r.code().as_u16() == 451)
    );
    assert_eq!(run.wire_str(), "QUIT\r\n");

    // Every recipient refused after a chunk went: the chunk's refusal ends
    // the message, and RSET clears what the server holds.
    let (mut session, _) = chunking_session(Protocol::Smtp, &["<b@y.org>"]);
    assert_eq!(session.send_content(b"Hi\r\n"), Ok(4));
    session.finish_content().unwrap();
    exchange(&mut session, b"");
    let run = finish(
        &mut session,
        b"250 ok\r\n550 5.1.1 no\r\n554 5.5.1 no recipients\r\n250 reset\r\n221 bye\r\n",
    );
    assert_eq!(
        failure(&run, 0),
        Some(TransactionFailure::NoValidRecipients)
    );
    assert_eq!(run.wire_str(), "RSET\r\nQUIT\r\n");
    assert_well_ordered(&run, 1);

    // MAIL refused before any content: the rest of the content is not
    // wanted, and nothing is left to wait for after the RCPT reply.
    let (mut session, _) = chunking_session(Protocol::Smtp, &["<b@y.org>"]);
    let run = exchange_run(&mut session, b"451 4.3.0 later\r\n503 5.5.1 no MAIL\r\n");
    assert!(matches!(
        failure(&run, 0),
        Some(TransactionFailure::MailRejected(_))
    ));
    assert_eq!(content_wanted(&mut session), None);
    assert_eq!(
        session.finish_content(),
        Err(ClientError::Usage(UsageError::NoContentWanted))
    );
    assert_eq!(run.wire_str(), "QUIT\r\n");
    assert_well_ordered(&run, 1);
}

#[test]
fn lmtp_bdat_counts_deliveries_from_the_rcpt_replies() {
    // BDAT LAST goes before the RCPT replies say how many recipients will
    // each get a reply to it (RFC 2033 §4.2).
    let (mut session, _) =
        chunking_session(Protocol::Lmtp, &["<b@y.org>", "<c@y.org>", "<d@y.org>"]);
    session.finish_content().unwrap();
    assert_eq!(exchange(&mut session, b""), [b"BDAT 0 LAST\r\n".to_vec()]);
    let run = finish(
        &mut session,
        b"250 ok\r\n250 ok\r\n550 5.1.1 no\r\n250 ok\r\n\
        250 2.0.0 <b> delivered\r\n452 4.2.2 <d> full\r\n221 bye\r\n",
    );
    assert_eq!(
        deliveries(&run),
        [(0, "<b@y.org>".into(), 250), (0, "<d@y.org>".into(), 452)]
    );
    assert!(accepted(&run, 0));
    assert_eq!(run.wire_str(), "QUIT\r\n");

    // No recipient: the one refusal of BDAT LAST ends the message.
    let (mut session, _) = chunking_session(Protocol::Lmtp, &["<b@y.org>"]);
    session.finish_content().unwrap();
    exchange(&mut session, b"");
    let run = finish(
        &mut session,
        b"250 ok\r\n550 5.1.1 no\r\n554 5.5.1 no recipients\r\n250 reset\r\n221 bye\r\n",
    );
    assert_eq!(
        failure(&run, 0),
        Some(TransactionFailure::NoValidRecipients)
    );
    assert_eq!(run.wire_str(), "RSET\r\nQUIT\r\n");
}

#[test]
fn one_config_is_shared_by_many_sessions() {
    let shared = std::sync::Arc::new(config().with_starttls(StartTlsPolicy::Never));
    let server: &[u8] = b"220 mx\r\n250 mx\r\n221 bye\r\n";
    for _ in 0..2 {
        let mut session = ClientSession::new(std::sync::Arc::clone(&shared));
        session.quit();
        let run = drive(&mut session, &[server], Split::Whole, b"", 1);
        assert!(run.closed);
        assert_eq!(run.wire_str(), "EHLO client.example.org\r\nQUIT\r\n");
    }
    assert_eq!(std::sync::Arc::strong_count(&shared), 1);
}
