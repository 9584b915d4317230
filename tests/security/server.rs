//! Attacks on a server session.

use crate::support::{accept_all, config, relaxed, run, transcript, Verdict};
use smtpwire::server::{ServerConfig, ServerEvent, ServerSession};
use smtpwire::ServerOutput;

const ENVELOPE: &str = "C: EHLO attacker.example
    C: MAIL FROM:<a@example.com>
    C: RCPT TO:<b@example.com>
    C: DATA";

/// SMTP smuggling (CVE-2023-51764/51765/51766): none of the look-alike ends
/// of data ends the message, so the smuggled MAIL is never a command.
#[test]
fn smuggled_end_sequences_do_not_end_the_message() {
    let look_alikes: [&[u8]; 9] = [
        b"\n.\n",
        b"\n.\r\n",
        b"\r.\r",
        b"\r\n.\n",
        b"\r\n.\r",
        b"\r.\r\n",
        b"\r\n\x00.\r\n",
        b"\r\n.\x00\r\n",
        b"\n\n.\n\n",
    ];
    let (envelope, _) = transcript(ENVELOPE);
    for policy in [
        smtpwire::data::IncomingBareNewline::Reject,
        smtpwire::data::IncomingBareNewline::Accept,
    ] {
        for look_alike in look_alikes {
            let mut input = envelope.clone().into_bytes();
            input.extend_from_slice(b"Subject: hi\r\n\r\nbody");
            input.extend_from_slice(look_alike);
            input.extend_from_slice(b"MAIL FROM:<smuggled@example.com>\r\nRCPT TO:<victim@example.com>\r\nDATA\r\nforged\r\n.\r\n");
            let mut config = relaxed();
            config.bare_newlines = policy;
            let run = run(config, &[&input], &mut accept_all);
            let smuggled = run
                .events
                .iter()
                .any(|e| e.starts_with("mail <smuggled") || e.starts_with("rcpt <victim"));
            assert!(
                !smuggled,
                "{look_alike:?} under {policy:?}: {:#?}",
                run.events
            );
            let messages = run
                .events
                .iter()
                .filter(|e| e.starts_with("message"))
                .count();
            let refused = run.output.contains("550 5.6.0");
            assert!(
                messages + usize::from(refused) == 1,
                "{look_alike:?}: {:#?}",
                run.events
            );
        }
    }
}

/// CVE-2011-0411: commands pipelined behind STARTTLS are never read as if
/// they came over TLS.
#[test]
fn starttls_plaintext_injection_is_fatal() {
    let mut config = relaxed();
    config.capabilities.starttls = true;
    let run = run(
        config,
        &[b"EHLO a.example\r\nSTARTTLS\r\nMAIL FROM:<evil@example.com>\r\n"],
        &mut accept_all,
    );
    assert!(!run.started_tls);
    assert!(run.closed);
    assert!(run
        .output
        .ends_with("554 5.5.1 Input pipelined after STARTTLS\r\n"));
    assert!(!run.events.iter().any(|e| e.contains("evil")));
}

#[test]
fn bytes_after_the_220_to_starttls_are_fatal() {
    let mut config = relaxed();
    config.capabilities.starttls = true;
    let mut session = ServerSession::new(config);
    let mut sent = Vec::new();
    let mut input: &[u8] = b"EHLO a.example\r\nSTARTTLS\r\n";
    loop {
        match session.poll_output() {
            ServerOutput::Transmit(bytes) => sent.extend_from_slice(&bytes),
            ServerOutput::Event(event) => session.accept_event(event).unwrap(),
            ServerOutput::NeedInput => {
                let taken = session.receive(input);
                input = &input[taken..];
            }
            ServerOutput::StartTls => break,
            other => panic!("{other:?}"),
        }
    }
    // Cleartext that arrives while the handshake should be running.
    session.receive(b"MAIL FROM:<evil@example.com>\r\n");
    let mut tail = Vec::new();
    loop {
        match session.poll_output() {
            ServerOutput::Transmit(bytes) => tail.extend_from_slice(&bytes),
            ServerOutput::Closed => break,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(tail, b"554 5.5.1 Input pipelined after STARTTLS\r\n");
}

#[test]
fn endless_command_line_is_refused_without_buffering() {
    let mut session = ServerSession::new(config());
    if let ServerOutput::Event(event) = session.poll_output() {
        session.accept_event(event).unwrap();
    }
    let mut output = Vec::new();
    let junk = vec![b'A'; 64 * 1024];
    for _ in 0..64 {
        let mut rest: &[u8] = &junk;
        while !rest.is_empty() {
            let taken = session.receive(rest);
            rest = &rest[taken..];
            while let ServerOutput::Transmit(bytes) = session.poll_output() {
                output.extend_from_slice(&bytes);
            }
        }
    }
    session.receive(b"\r\nNOOP\r\n");
    while let ServerOutput::Transmit(bytes) = session.poll_output() {
        output.extend_from_slice(&bytes);
    }
    let output = String::from_utf8(output).unwrap();
    assert!(
        output.ends_with("500 5.5.2 Line too long\r\n250 2.0.0 Ok\r\n"),
        "{output}"
    );
    assert_eq!(output.matches("Line too long").count(), 1);
}

#[test]
fn recipient_flood_is_capped() {
    let mut input = String::from("EHLO a.example\r\nMAIL FROM:<a@example.com>\r\n");
    for n in 0..1500 {
        input.push_str(&format!("RCPT TO:<r{n}@example.com>\r\n"));
    }
    let run = run(relaxed(), &[input.as_bytes()], &mut accept_all);
    assert_eq!(run.output.matches("250 2.1.5").count(), 1000);
    assert_eq!(
        run.output.matches("452 4.5.3 Too many recipients").count(),
        500
    );
}

#[test]
fn huge_sizes_are_numbers_not_allocations() {
    let run = run(
        relaxed(),
        &[
            b"EHLO a.example\r\nMAIL FROM:<a@example.com> SIZE=18446744073709551615\r\n\
MAIL FROM:<a@example.com> SIZE=99999999999999999999999\r\nBDAT 18446744073709551615 LAST\r\nxyz",
        ],
        &mut accept_all,
    );
    assert!(run
        .output
        .contains("552 5.3.4 Message size exceeds fixed limit\r\n"));
    assert!(run.output.contains("501 "), "{}", run.output);
    // A chunk far past the size limit is not read to be dropped: the
    // session closes at once.
    run.assert_output_ends_with("552 5.3.4 Chunk exceeds the message size limit\r\n");
    assert!(run.closed);
}

#[test]
fn nul_and_eight_bit_bytes_in_commands_are_refused() {
    let run = run(
        relaxed(),
        &[b"EHLO a.example\r\nNO\x00OP\r\nMAIL FROM:<\xff@example.com>\r\nNOOP\r\n"],
        &mut accept_all,
    );
    assert_eq!(
        run.output.matches("500 5.5.2 Syntax error").count(),
        2,
        "{}",
        run.output
    );
    assert!(run.output.ends_with("250 2.0.0 Ok\r\n"));
}

/// A client that pipelines without reading replies cannot make the session
/// hold more than its input and output bounds.
#[test]
fn pipelining_flood_without_reading_is_bounded() {
    let mut config = relaxed();
    config.limits.junk_commands = usize::MAX;
    let limits = config.limits;
    let mut session = ServerSession::new(config);
    if let ServerOutput::Event(event) = session.poll_output() {
        session.accept_event(event).unwrap();
    }
    let flood = "NOOP\r\n".repeat(200_000);
    // Without draining, the session takes only what fits its input bound.
    let taken = session.receive(flood.as_bytes());
    assert!(taken <= limits.pending_input);
    assert!(session.receive(&flood.as_bytes()[taken..]) == 0);
    // Each drain hands out at most about one output bound.
    let mut largest = 0;
    let mut offered = taken;
    loop {
        match session.poll_output() {
            ServerOutput::Transmit(bytes) => largest = largest.max(bytes.len()),
            ServerOutput::NeedInput if offered < flood.len() => {
                offered += session.receive(&flood.as_bytes()[offered..]);
            }
            ServerOutput::NeedInput => break,
            other => panic!("{other:?}"),
        }
    }
    assert!(largest <= limits.pending_output + 64, "{largest}");
}

#[test]
fn auth_brute_force_counts_as_errors() {
    let mut config: ServerConfig = relaxed();
    config.capabilities.auth = vec![smtpwire::auth::Mechanism::Plain];
    config.auth_policy = smtpwire::server::AuthPolicy::AllowCleartext;
    config.limits.errors = 5;
    let mut input = String::from("EHLO a.example\r\n");
    for _ in 0..10 {
        input.push_str("AUTH PLAIN dGVzdAB0ZXN0ADEyMzQ=\r\n");
    }
    let run = run(config, &[input.as_bytes()], &mut |event| match event {
        ServerEvent::Auth(_) => Verdict::Reject(535, "Bad credentials"),
        _ => Verdict::Accept,
    });
    assert_eq!(run.output.matches("535 ").count(), 5);
    assert!(run.output.ends_with("421 4.7.0 Too many errors\r\n"));
}

#[path = "../fuzz_checks/server_session.rs"]
mod fuzz_check;

proptest::proptest! {
    /// The fuzz target's check over random near-SMTP input on stable.
    #[test]
    fn arbitrary_input_keeps_the_session_sound(
        control in proptest::prelude::any::<u8>(),
        words in proptest::collection::vec(proptest::sample::select(vec![
            "EHLO a\r\n", "HELO a\r\n", "LHLO a\r\n", "MAIL FROM:<a@b>\r\n", "MAIL FROM:<>\r\n",
            "RCPT TO:<c@d>\r\n", "DATA\r\n", ".\r\n", "\r\n.\r\n", "BDAT 3\r\n", "BDAT 0 LAST\r\n",
            "AUTH PLAIN\r\n", "AUTH LOGIN\r\n", "dGVzdA==\r\n", "*\r\n", "STARTTLS\r\n", "RSET\r\n",
            "QUIT\r\n", "NOOP\r\n", "x", "\n", "\r", "\0", ".", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n",
        ]), 0..40),
    ) {
        let mut data = vec![control];
        data.extend(words.concat().into_bytes());
        fuzz_check::check(&data);
    }
}
