//! A hostile client against `ServerSession`: slow requests, input sent out
//! of pipelining sync, BDAT that cannot be resynchronised, loops that make
//! no progress, HTTP, AUTH corner cases, odd hello names and addresses, and
//! why each session ended.

mod support;

use std::time::Duration;

use proptest::prelude::*;
use smtpwire::auth::Mechanism;
use smtpwire::server::{
    AddressControlPolicy, AuthPolicy, CloseReason, Deadline, ServerConfig, ServerEvent,
    ServerSession,
};
use smtpwire::ServerOutput;
use support::{accept_all, check_transcript, client_turns, config, relaxed, run, Verdict};

const GREETING: &str = "S: 220 mx.example.org ESMTP ready";

/// The EHLO reply of [`config`], shortened to what these tests look at.
fn quiet() -> ServerConfig {
    let mut config = config();
    config.capabilities.dsn = false;
    config.capabilities.smtp_utf8 = false;
    config.capabilities.chunking = false;
    config.capabilities.binary_mime = false;
    config.capabilities.eight_bit_mime = false;
    config
}

const QUIET_EHLO: &str = "S: 250-mx.example.org
    S: 250-PIPELINING
    S: 250-SIZE 10240000
    S: 250 ENHANCEDSTATUSCODES";

fn script(body: &str) -> String {
    format!("{GREETING}\n{body}")
}

/// A session past its greeting, for tests that drive it by hand.
fn greeted(config: ServerConfig) -> ServerSession {
    let mut session = ServerSession::new(config);
    drain(&mut session);
    session
}

/// Accepts every request and returns what was transmitted, until the session
/// blocks.
fn drain(session: &mut ServerSession) -> String {
    let mut out = String::new();
    loop {
        match session.poll_output() {
            ServerOutput::Transmit(bytes) => out.push_str(&String::from_utf8_lossy(&bytes)),
            ServerOutput::Event(event) => session.accept_event(event).unwrap(),
            _ => return out,
        }
    }
}

fn send(session: &mut ServerSession, input: &[u8]) -> String {
    assert_eq!(session.receive(input), input.len());
    drain(session)
}

fn seconds(hint: Option<Duration>) -> Option<f64> {
    hint.map(|left| (left.as_secs_f64() * 10.0).round() / 10.0)
}

fn ten_seconds() -> ServerConfig {
    let mut config = config();
    config.limits.timeout = Duration::from_secs(10);
    config
}

// --- 1: time is bounded per request, not per read ---

#[test]
fn a_trickled_command_runs_out_of_time_like_a_silent_client() {
    let mut session = greeted(ten_seconds());
    assert_eq!(seconds(session.timeout_hint()), Some(10.0));
    for byte in b"EHLO slow" {
        session.advance(Duration::from_secs(1));
        send(&mut session, &[*byte]);
    }
    // Nine bytes over nine seconds: one second left, however many reads.
    assert_eq!(seconds(session.timeout_hint()), Some(1.0));
    session.advance(Duration::from_secs(1));
    assert_eq!(session.timeout_hint(), Some(Duration::ZERO));
    session.handle_timeout();
    assert_eq!(drain(&mut session), "421 4.4.2 Timeout exceeded\r\n");
    assert_eq!(session.close_reason(), Some(CloseReason::Timeout));
}

#[test]
fn each_command_gets_the_whole_timeout() {
    let mut session = greeted(ten_seconds());
    session.advance(Duration::from_secs(8));
    assert!(send(&mut session, b"EHLO a.example\r\n").starts_with("250-"));
    assert_eq!(seconds(session.timeout_hint()), Some(10.0));
}

#[test]
fn a_per_read_deadline_restarts_with_every_read() {
    let mut config = ten_seconds();
    config.limits.deadline = Deadline::PerRead;
    let mut session = greeted(config);
    for byte in b"EHLO slow" {
        session.advance(Duration::from_secs(9));
        send(&mut session, &[*byte]);
        assert_eq!(seconds(session.timeout_hint()), Some(10.0));
    }
}

/// Message content earns `1 / min_data_rate` seconds per octet, never more
/// than the timeout.
#[test]
fn content_earns_time_at_the_minimum_rate_up_to_the_timeout() {
    let mut session = greeted(ten_seconds());
    send(&mut session, b"EHLO a.example\r\n");
    send(&mut session, b"MAIL FROM:<a@example.com>\r\n");
    send(&mut session, b"RCPT TO:<b@example.com>\r\n");
    assert!(send(&mut session, b"DATA\r\n").starts_with("354"));
    session.advance(Duration::from_secs(6));
    send(&mut session, &[b'x'; 1000]);
    // 4 s left, and 1000 octets at 500 octets/s earn 2 s more.
    assert_eq!(seconds(session.timeout_hint()), Some(6.0));
    send(&mut session, &[b'x'; 60_000]);
    assert_eq!(seconds(session.timeout_hint()), Some(10.0));
}

/// The counter-check: 100 KB at 2 KB/s under a 10 s timeout gets through; at
/// 100 octets/s the same message runs out of time.
#[test]
fn an_honest_slow_sender_gets_through_and_a_trickle_does_not() {
    for (rate, delivered) in [(2048, true), (100, false)] {
        let mut session = greeted(ten_seconds());
        send(&mut session, b"EHLO a.example\r\n");
        send(&mut session, b"MAIL FROM:<a@example.com>\r\n");
        send(&mut session, b"RCPT TO:<b@example.com>\r\n");
        send(&mut session, b"DATA\r\n");
        let mut left = 100 * 1024;
        let mut timed_out = false;
        while left > 0 {
            session.advance(Duration::from_secs(1));
            if session.timeout_hint() == Some(Duration::ZERO) {
                session.handle_timeout();
                timed_out = true;
                break;
            }
            let line = [b'x'; 62].iter().chain(b"\r\n").copied();
            let chunk: Vec<u8> = line.cycle().take(rate.min(left)).collect();
            left -= chunk.len();
            send(&mut session, &chunk);
        }
        let end = send(&mut session, b"\r\n.\r\n");
        assert_eq!(!timed_out, delivered, "rate {rate}");
        assert_eq!(
            end.starts_with("250 2.0.0"),
            delivered,
            "rate {rate}: {end}"
        );
    }
}

// --- 3: input out of pipelining sync ---

/// MAIL, a refused RCPT, DATA and the content in one write: the content is
/// never read as commands, so the MAIL/RCPT/DATA inside it deliver nothing.
#[test]
fn content_sent_with_a_refused_data_is_never_run_as_commands() {
    let (ehlo, rest) = (
        "EHLO a.example\r\n",
        "MAIL FROM:<a@example.com>\r\nRCPT TO:<nobody@example.com>\r\nDATA\r\n\
MAIL FROM:<forged@example.com>\r\nRCPT TO:<victim@example.com>\r\nDATA\r\nforged\r\n.\r\n",
    );
    let refuse = &mut |event: &ServerEvent| match event {
        ServerEvent::Rcpt(_) => Verdict::Reject(550, "No such user"),
        _ => Verdict::Accept,
    };
    let run = run(config(), &[ehlo.as_bytes(), rest.as_bytes()], refuse);
    run.assert_output_ends_with(
        "250 2.1.0 Sender ok\r\n550 5.0.0 No such user\r\n\
554 5.5.0 Input sent before the reply it had to wait for (RFC 2920)\r\n",
    );
    assert!(
        !run.events.iter().any(|e| e.contains("victim")),
        "{:#?}",
        run.events
    );
    assert_eq!(run.close_reason, Some(CloseReason::PipeliningSync));

    // Relaxed, the content is read as commands, as RFC 2920 leaves it: the
    // forged RCPT joins the open transaction.
    let run = self::run(relaxed(), &[ehlo.as_bytes(), rest.as_bytes()], refuse);
    assert!(run.events.iter().any(|e| e.contains("victim")));
}

#[test]
fn commands_that_end_a_group_must_end_the_input() {
    for (early, hello) in [
        ("EHLO a.example\r\nMAIL FROM:<a@example.com>\r\n", ""),
        ("NOOP\r\nNOOP\r\n", "EHLO a.example\r\n"),
        ("VRFY postmaster\r\nNOOP\r\n", "EHLO a.example\r\n"),
        ("AUTH PLAIN\r\nAHVzZXIAcGFzcw==\r\n", "EHLO a.example\r\n"),
        // After HELO nothing is pipelined (RFC 2920 §3.1 is an ESMTP
        // extension), nor before any hello.
        (
            "MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\n",
            "HELO a.example\r\n",
        ),
        ("RSET\r\nNOOP\r\n", ""),
    ] {
        let mut config = config();
        config.capabilities.auth = vec![Mechanism::Plain];
        config.auth_policy = AuthPolicy::AllowCleartext;
        let chunks = [hello.as_bytes(), early.as_bytes()];
        let run = run(config, &chunks, &mut accept_all);
        run.assert_output_ends_with(
            "554 5.5.0 Input sent before the reply it had to wait for (RFC 2920)\r\n",
        );
        assert_eq!(
            run.close_reason,
            Some(CloseReason::PipeliningSync),
            "{early}"
        );
    }
}

#[test]
fn a_pipelined_group_that_ends_where_it_should_is_answered() {
    check_transcript(
        quiet(),
        &script(&format!(
            "C: EHLO a.example
             {QUIET_EHLO}
             C: RSET
             C: MAIL FROM:<a@example.com>
             C: RCPT TO:<b@example.com>
             C: DATA
             S: 250 2.0.0 Ok
             S: 250 2.1.0 Sender ok
             S: 250 2.1.5 Recipient ok
             S: 354 End data with <CR><LF>.<CR><LF>
             C: hi
             C: .
             C: MAIL FROM:<a@example.com>
             C: RCPT TO:<b@example.com>
             C: NOOP
             S: 250 2.0.0 Message accepted
             S: 250 2.1.0 Sender ok
             S: 250 2.1.5 Recipient ok
             S: 250 2.0.0 Ok
             C: QUIT
             S: 221 2.0.0 Bye"
        )),
        &mut accept_all,
    );
}

const PIPELINED_SESSION: &str = "C: EHLO client.example
    S: 250
    C: MAIL FROM:<a@example.com>
    C: RCPT TO:<b@example.com>
    C: RCPT TO:<c@example.com>
    C: DATA
    S: 354
    C: line one
    C: ..dot
    C: .
    C: MAIL FROM:<>
    C: RCPT TO:<b@example.com>
    C: BDAT 5 LAST
    C: 01234RSET
    C: NOOP
    S: 250
    C: QUIT";

proptest! {
    /// A client that waits for its replies may split each turn anywhere:
    /// the synchronisation check sees the same input.
    #[test]
    fn turns_split_anywhere_agree(cuts in proptest::collection::vec(any::<prop::sample::Index>(), 5)) {
        let turns = client_turns(PIPELINED_SESSION);
        let whole: Vec<&[u8]> = turns.iter().map(String::as_bytes).collect();
        let expected = run(config(), &whole, &mut accept_all);
        assert!(expected.output.ends_with("221 2.0.0 Bye\r\n"), "{}", expected.output);
        let mut pieces = Vec::new();
        for (turn, cut) in turns.iter().zip(cuts.iter().cycle()) {
            let (head, tail) = turn.as_bytes().split_at(cut.index(turn.len() + 1));
            pieces.push(head);
            pieces.push(tail);
        }
        let split = run(config(), &pieces, &mut accept_all);
        prop_assert_eq!(split.output, expected.output);
        prop_assert_eq!(split.events, expected.events);
    }
}

// --- 4: BDAT that cannot be resynchronised ---

#[test]
fn a_bdat_whose_size_cannot_be_read_closes_the_session() {
    for line in [
        "BDAT 99999999999999999999",
        "BDAT -5",
        "BDAT +5",
        "BDAT 0x10",
        "BDAT 10 LAST extra",
        "BDAT 10 NEXT",
        "BDAT",
        "bdat 1e3",
    ] {
        let run = run(
            config(),
            &[
                b"EHLO a.example\r\n",
                format!("{line}\r\nRSET\r\n").as_bytes(),
            ],
            &mut accept_all,
        );
        run.assert_output_ends_with("521 5.5.4 Malformed BDAT: cannot read on\r\n");
        assert_eq!(run.close_reason, Some(CloseReason::UnframedChunk), "{line}");
    }
}

#[test]
fn a_chunk_far_past_the_size_limit_is_refused_at_once() {
    let mut config = config();
    config.limits.message_size = 1000;
    check_transcript(
        config,
        &script(
            "C: EHLO a.example
             S: 250-mx.example.org
             S: 250-PIPELINING
             S: 250-SIZE 1000
             S: 250-ENHANCEDSTATUSCODES
             S: 250-8BITMIME
             S: 250-DSN
             S: 250-SMTPUTF8
             S: 250-CHUNKING
             S: 250 BINARYMIME
             C: MAIL FROM:<a@example.com>
             C: RCPT TO:<b@example.com>
             C: BDAT 9223372036854775808 LAST
             S: 250 2.1.0 Sender ok
             S: 250 2.1.5 Recipient ok
             S: 552 5.3.4 Chunk exceeds the message size limit",
        ),
        &mut accept_all,
    );
}

/// Up to half as much again as the limit is read and thrown away, so the
/// session stays in step; past it the session closes.
#[test]
fn a_chunk_a_little_past_the_limit_is_read_then_refused() {
    let mut config = config();
    config.limits.message_size = 1000;
    let chunk = "x".repeat(1200);
    let envelope = "MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\n";
    let input = format!("{envelope}BDAT 1200 LAST\r\n{chunk}NOOP\r\n");
    let run = run(
        config.clone(),
        &[b"EHLO a.example\r\n", input.as_bytes()],
        &mut accept_all,
    );
    run.assert_output_ends_with("552 5.3.4 Message size exceeds fixed limit\r\n250 2.0.0 Ok\r\n");
    assert!(!run.closed || run.close_reason == Some(CloseReason::PeerClosed));

    let input = format!("{envelope}BDAT 800\r\n{}BDAT 800 LAST\r\n", &chunk[..800]);
    let run = self::run(
        config,
        &[b"EHLO a.example\r\n", input.as_bytes()],
        &mut accept_all,
    );
    run.assert_output_ends_with("552 5.3.4 Chunk exceeds the message size limit\r\n");
    assert_eq!(run.close_reason, Some(CloseReason::UnframedChunk));
}

// --- 5: loops that make no progress ---

#[test]
fn a_non_final_empty_chunk_is_refused_as_an_error() {
    let mut input = String::from("MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\n");
    input.push_str(&"BDAT 0\r\n".repeat(30));
    let run = run(
        config(),
        &[b"EHLO a.example\r\n", input.as_bytes()],
        &mut accept_all,
    );
    assert_eq!(
        run.output
            .matches("551 5.7.1 Null BDAT request\r\n")
            .count(),
        20
    );
    run.assert_output_ends_with("421 4.7.0 Too many errors\r\n");
    assert_eq!(run.close_reason, Some(CloseReason::TooManyErrors));
}

#[test]
fn transactions_dropped_over_and_over_reach_the_junk_limit() {
    for drop in ["RSET\r\n", "EHLO again.example\r\n"] {
        let mut session = greeted(config());
        send(&mut session, b"EHLO a.example\r\n");
        let mut closed = None;
        for round in 0..1000 {
            send(&mut session, b"MAIL FROM:<a@example.com>\r\n");
            let out = send(&mut session, drop.as_bytes());
            if out.ends_with("421 4.7.0 Too many commands without mail\r\n") {
                closed = Some(round);
                break;
            }
        }
        assert_eq!(closed, Some(99), "{drop}");
        assert_eq!(
            session.close_reason(),
            Some(CloseReason::TooManyJunkCommands)
        );
    }
}

#[test]
fn a_delivered_message_starts_the_junk_count_afresh() {
    let mut session = greeted(config());
    send(&mut session, b"EHLO a.example\r\n");
    for _ in 0..3 {
        for _ in 0..60 {
            send(&mut session, b"NOOP\r\n");
        }
        send(
            &mut session,
            b"MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n",
        );
        assert!(send(&mut session, b"hi\r\n.\r\n").starts_with("250 2.0.0"));
    }
    assert_eq!(session.close_reason(), None);
}

// --- 6: not SMTP at all ---

#[test]
fn http_and_header_lines_close_the_session() {
    for (hello, line) in [
        ("", "GET / HTTP/1.1"),
        ("", "POST /cgi-bin/x HTTP/1.0"),
        ("", "CONNECT mx.example.org:443 HTTP/1.1"),
        ("EHLO a.example\r\n", "Host: mx.example.org"),
        ("EHLO a.example\r\n", "Subject: hello"),
    ] {
        let input = format!("{line}\r\n");
        let run = run(
            config(),
            &[hello.as_bytes(), input.as_bytes()],
            &mut accept_all,
        );
        run.assert_output_ends_with("221 2.7.0 This is an SMTP server: goodbye\r\n");
        assert_eq!(run.close_reason, Some(CloseReason::NotSmtp), "{line}");
    }
}

// --- 7: AUTH details ---

fn with_auth() -> ServerConfig {
    let mut config = quiet();
    config.capabilities.auth = vec![Mechanism::Plain, Mechanism::Login];
    config.auth_policy = AuthPolicy::AllowCleartext;
    config
}

const AUTH_EHLO: &str = "S: 250-mx.example.org
    S: 250-PIPELINING
    S: 250-SIZE 10240000
    S: 250-AUTH PLAIN LOGIN
    S: 250 ENHANCEDSTATUSCODES";

#[test]
fn an_empty_challenge_keeps_its_space() {
    let mut session = greeted(with_auth());
    send(&mut session, b"EHLO a.example\r\n");
    assert_eq!(send(&mut session, b"AUTH PLAIN\r\n"), "334 \r\n");
}

/// An empty line answers the challenge with an empty response: the
/// mechanism refuses it (535), where a line that is not base64 is 501.
#[test]
fn an_empty_response_is_an_empty_sasl_response() {
    let mut session = greeted(with_auth());
    send(&mut session, b"EHLO a.example\r\n");
    send(&mut session, b"AUTH PLAIN\r\n");
    let reply = send(&mut session, b"\r\n");
    assert!(reply.starts_with("535 5.7.8"), "{reply}");
    send(&mut session, b"AUTH PLAIN\r\n");
    assert!(send(&mut session, b"%%%\r\n").starts_with("501 "));
}

#[test]
fn auth_after_a_successful_one_is_503() {
    check_transcript(
        with_auth(),
        &script(&format!(
            "C: EHLO a.example
             {AUTH_EHLO}
             C: AUTH PLAIN AHVzZXIAcGFzcw==
             S: 235 2.7.0 Authentication succeeded
             C: AUTH PLAIN AHVzZXIAcGFzcw==
             S: 503 5.5.1 Already authenticated
             C: AUTH LOGIN
             S: 503 5.5.1 Already authenticated
             C: EHLO a.example
             S: 250-mx.example.org
             S: 250-PIPELINING
             S: 250-SIZE 10240000
             S: 250 ENHANCEDSTATUSCODES
             C: AUTH PLAIN
             S: 503 5.5.1 Already authenticated"
        )),
        &mut accept_all,
    );
}

// --- 8: the hello name is ASCII ---

#[test]
fn an_eight_bit_hello_name_is_501() {
    for verb in ["EHLO", "HELO"] {
        check_transcript(
            config(),
            &script(&format!(
                "C: {verb} bücher.example
                 S: 501 5.5.2 Syntax error"
            )),
            &mut accept_all,
        );
    }
}

// --- 9: control characters in addresses ---

#[test]
fn control_characters_in_addresses_are_refused() {
    check_transcript(
        quiet_utf8(),
        &script(&format!(
            "C: EHLO a.example
             {UTF8_EHLO}
             C: MAIL FROM:<a@exa\u{85}mple.org> SMTPUTF8
             S: 553 5.1.7 Control characters in sender address
             C: MAIL FROM:<\"a\u{85}b\"@example.org> SMTPUTF8
             S: 553 5.1.7 Control characters in sender address
             C: MAIL FROM:<\"a b\"@example.org> SMTPUTF8
             S: 250 2.1.0 Sender ok
             C: RCPT TO:<\"x\u{2028}y\"@example.org>
             S: 553 5.1.3 Control characters in recipient address
             C: RCPT TO:<\"x\u{9f}\"@example.org>
             S: 553 5.1.3 Control characters in recipient address
             C: RCPT TO:<b\u{e9}@example.org>
             S: 250 2.1.5 Recipient ok"
        )),
        &mut accept_all,
    );
}

#[test]
fn control_characters_can_be_let_through_by_name() {
    let mut config = quiet_utf8();
    config.address_controls = AddressControlPolicy::Accept;
    check_transcript(
        config,
        &script(&format!(
            "C: EHLO a.example
             {UTF8_EHLO}
             C: MAIL FROM:<\"a\u{85}b\"@example.org> SMTPUTF8
             S: 250 2.1.0 Sender ok"
        )),
        &mut accept_all,
    );
}

fn quiet_utf8() -> ServerConfig {
    let mut config = quiet();
    config.capabilities.smtp_utf8 = true;
    config
}

const UTF8_EHLO: &str = "S: 250-mx.example.org
    S: 250-PIPELINING
    S: 250-SIZE 10240000
    S: 250-ENHANCEDSTATUSCODES
    S: 250 SMTPUTF8";

// --- 10: why a session ended ---

#[test]
fn every_close_says_why() {
    let mut starttls = relaxed();
    starttls.capabilities.starttls = true;
    let mut proxied = config();
    proxied.proxy_protocol = true;
    let mut strict = config();
    strict.limits.errors = 2;
    let cases: [(ServerConfig, &[&[u8]], CloseReason); 7] = [
        (config(), &[b"QUIT\r\n"], CloseReason::Quit),
        (config(), &[b"EHLO a.example\r\n"], CloseReason::PeerClosed),
        (
            strict,
            &[b"XYZZY\r\n", b"XYZZY\r\n"],
            CloseReason::TooManyErrors,
        ),
        (
            starttls,
            &[b"EHLO a.example\r\nSTARTTLS\r\nNOOP\r\n"],
            CloseReason::PipelinedStartTls,
        ),
        (
            proxied,
            &[b"PROXY nonsense\r\n"],
            CloseReason::BadProxyHeader,
        ),
        (config(), &[b"GET / HTTP/1.1\r\n"], CloseReason::NotSmtp),
        (
            config(),
            &[b"EHLO a.example\r\nQUIT\r\n"],
            CloseReason::PipeliningSync,
        ),
    ];
    for (config, chunks, reason) in cases {
        let run = run(config, chunks, &mut accept_all);
        assert_eq!(run.close_reason, Some(reason), "{}", run.output);
    }

    let mut session = ServerSession::new(config());
    assert!(matches!(
        session.poll_output(),
        ServerOutput::Event(ServerEvent::Connect(_))
    ));
    session.receive(b"EHLO early.example\r\n");
    while !matches!(session.poll_output(), ServerOutput::Closed) {}
    assert_eq!(session.close_reason(), Some(CloseReason::EarlyTalker));

    let mut session = greeted(config());
    assert_eq!(session.close_reason(), None);
    session.shutdown();
    drain(&mut session);
    assert_eq!(session.close_reason(), Some(CloseReason::Shutdown));
    assert_eq!(CloseReason::Shutdown.to_string(), "shutdown");
}

// --- reading leniently, by name ---

#[test]
fn lenient_parsing_is_a_setting_of_the_server() {
    let turns: [&[u8]; 2] = [b"EHLO a.example\r\n", b"MAIL FROM: <a@example.com>\r\n"];
    let strict = run(config(), &turns, &mut accept_all);
    strict.assert_output_ends_with("501 5.5.2 Syntax error\r\n");
    let mut lenient = config();
    lenient.parse_options = smtpwire::ParseOptions::LENIENT;
    let lenient = run(lenient, &turns, &mut accept_all);
    lenient.assert_output_ends_with("250 2.1.0 Sender ok\r\n");
}
