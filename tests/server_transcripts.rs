//! Server transcripts in `C:`/`S:` form, replayed through `ServerSession`:
//! the RFC examples and every path where the session answers by itself.

mod support;

use smtpwire::server::{AuthPolicy, EarlyTalkerPolicy, ServerConfig, ServerEvent};
use smtpwire::Protocol;
use smtpwire::Text;
use support::{accept_all, check_transcript, config, relaxed, run, transcript, Verdict};

const GREETING: &str = "S: 220 mx.example.org ESMTP ready";
const EHLO: &str = "S: 250-mx.example.org
    S: 250-PIPELINING
    S: 250-SIZE 10240000
    S: 250-ENHANCEDSTATUSCODES
    S: 250-8BITMIME
    S: 250-DSN
    S: 250-SMTPUTF8
    S: 250-CHUNKING
    S: 250 BINARYMIME";

fn script(body: &str) -> String {
    format!("{GREETING}\n{body}")
}

/// RFC 5321 Appendix D.1, with the unknown recipient refused by the
/// application.
#[test]
fn rfc5321_d1_typical_transaction() {
    let run = check_transcript(
        config(),
        &script(&format!(
            "C: EHLO bar.com
             {EHLO}
             C: MAIL FROM:<Smith@bar.com>
             S: 250 2.1.0 Sender ok
             C: RCPT TO:<Jones@foo.com>
             S: 250 2.1.5 Recipient ok
             C: RCPT TO:<Green@foo.com>
             S: 550 5.0.0 No such user here
             C: RCPT TO:<Brown@foo.com>
             S: 250 2.1.5 Recipient ok
             C: DATA
             S: 354 End data with <CR><LF>.<CR><LF>
             C: Blah blah blah...
             C: ...etc. etc. etc.
             C: .
             S: 250 2.0.0 queued as 4F2A
             C: QUIT
             S: 221 2.0.0 Bye"
        )),
        &mut |event| match event {
            ServerEvent::Rcpt(r) if r.to().to_string().contains("Green") => {
                Verdict::Reject(550, "No such user here")
            }
            ServerEvent::Message(_) => Verdict::AcceptWith("queued as 4F2A"),
            _ => Verdict::Accept,
        },
    );
    assert_eq!(
        run.events,
        [
            "connect",
            "hello bar.com extended=true",
            "mail <Smith@bar.com>",
            "rcpt <Jones@foo.com>",
            "rcpt <Green@foo.com>",
            "rcpt <Brown@foo.com>",
            "data chunked=false",
            "content Blah blah blah...\r\n..etc. etc. etc.\r\n",
            "message 37 octets to <Jones@foo.com>,<Brown@foo.com>",
        ]
    );
    assert!(run.closed);
}

/// RFC 2920 §3.2: a pipelined group is answered in order and in one write.
#[test]
fn rfc2920_pipelined_group_answered_in_one_transmit() {
    let (client, server) = transcript(&script(&format!(
        "C: EHLO dbc.mtview.ca.us
         {EHLO}
         C: MAIL FROM:<mrose@dbc.mtview.ca.us>
         S: 250 2.1.0 Sender ok
         C: RCPT TO:<ned@innosoft.com>
         S: 250 2.1.5 Recipient ok
         C: RCPT TO:<dan@innosoft.com>
         S: 250 2.1.5 Recipient ok
         C: RCPT TO:<kvc@innosoft.com>
         S: 250 2.1.5 Recipient ok
         C: DATA
         S: 354 End data with <CR><LF>.<CR><LF>
         C: Hello
         C: .
         S: 250 2.0.0 Message accepted
         C: QUIT
         S: 221 2.0.0 Bye"
    )));
    // EHLO and DATA each end a group (RFC 2920 §3.1): the client waits for
    // their replies.
    let ehlo_end = client.find("MAIL").unwrap();
    let data_end = client.find("Hello").unwrap();
    let (hello, rest) = client.as_bytes().split_at(ehlo_end);
    let (group, content) = rest.split_at(data_end - ehlo_end);
    let run = run(config(), &[hello, group, content], &mut accept_all);
    assert_eq!(run.output, server);
    // Greeting, the EHLO reply, the whole pipelined group at once, then the
    // message's reply with QUIT's.
    assert_eq!(run.transmits, 4);
}

/// RFC 3030 §4.2: BDAT chunks, each answered, the last one with the message.
#[test]
fn rfc3030_bdat_chunks() {
    let run = check_transcript(
        config(),
        &script(&format!(
            "C: EHLO example.com
             {EHLO}
             C: MAIL FROM:<Sam@Random.com>
             S: 250 2.1.0 Sender ok
             C: RCPT TO:<Susan@Random.com>
             S: 250 2.1.5 Recipient ok
             C: BDAT 7
             C: Hello, BDAT 0 LAST
             S: 250 2.0.0 Chunk received
             S: 250 2.0.0 Message accepted
             C: QUIT
             S: 221 2.0.0 Bye"
        )),
        &mut accept_all,
    );
    assert!(run.events.contains(&"data chunked=true".to_string()));
    assert!(run.events.contains(&"content Hello, ".to_string()));
    assert!(run
        .events
        .contains(&"message 7 octets to <Susan@Random.com>".to_string()));
}

#[test]
fn bdat_zero_last_is_an_empty_message() {
    check_transcript(
        config(),
        &script(&format!(
            "C: EHLO example.com
             {EHLO}
             C: MAIL FROM:<>
             S: 250 2.1.0 Sender ok
             C: RCPT TO:<postmaster>
             S: 250 2.1.5 Recipient ok
             C: BDAT 0 LAST
             S: 250 2.0.0 Message accepted"
        )),
        &mut accept_all,
    );
}

/// RFC 3030 §2: a refused BDAT's octets are read and dropped, never run as
/// commands; DATA and BDAT do not mix.
#[test]
fn refused_bdat_octets_are_not_commands() {
    check_transcript(
        config(),
        &script(&format!(
            "C: EHLO example.com
             {EHLO}
             C: BDAT 6
             C: QUIT
             S: 503 5.5.1 Need MAIL first
             C: MAIL FROM:<a@example.com>
             S: 250 2.1.0 Sender ok
             C: RCPT TO:<b@example.com>
             S: 250 2.1.5 Recipient ok
             C: BDAT 3
             C: x
             S: 250 2.0.0 Chunk received
             C: DATA
             S: 503 5.5.1 DATA and BDAT cannot be mixed"
        )),
        &mut accept_all,
    );
}

/// RFC 2033 §4.3: LMTP answers once per accepted recipient after the end.
#[test]
fn rfc2033_lmtp_reply_per_recipient() {
    let mut lmtp = relaxed();
    lmtp.protocol = Protocol::Lmtp;
    let (client, _) = transcript(
        "C: LHLO foo.edu
         C: MAIL FROM:<chris@foo.edu>
         C: RCPT TO:<pat@foo.edu>
         C: RCPT TO:<jones@foo.edu>
         C: RCPT TO:<green@foo.edu>
         C: DATA
         C: Blah blah blah...
         C: .
         C: QUIT",
    );
    let mut session = smtpwire::server::ServerSession::new(lmtp);
    let mut out = String::new();
    let mut input: &[u8] = client.as_bytes();
    loop {
        match session.poll_output() {
            smtpwire::ServerOutput::Transmit(b) => out.push_str(&String::from_utf8_lossy(&b)),
            smtpwire::ServerOutput::Event(ServerEvent::Rcpt(r))
                if r.to().to_string().contains("jones") =>
            {
                session
                    .reject(r, support::reject(550, "No such user here"))
                    .unwrap()
            }
            smtpwire::ServerOutput::Event(ServerEvent::Message(m)) => {
                assert_eq!(m.recipients().len(), 2);
                let outcomes = [Ok(()), Err(support::reject(452, "Mailbox full"))];
                session.deliver(m, outcomes).unwrap();
            }
            smtpwire::ServerOutput::Event(event) => session.accept_event(event).unwrap(),
            smtpwire::ServerOutput::NeedInput => {
                let taken = session.receive(input);
                input = &input[taken..];
            }
            smtpwire::ServerOutput::Closed => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(
        out.starts_with("220 mx.example.org LMTP ready\r\n"),
        "{out}"
    );
    assert!(
        out.ends_with(
            "250 2.1.5 Recipient ok\r\n550 5.0.0 No such user here\r\n250 2.1.5 Recipient ok\r\n\
             354 End data with <CR><LF>.<CR><LF>\r\n\
             250 2.0.0 Message accepted\r\n452 4.0.0 Mailbox full\r\n221 2.0.0 Bye\r\n"
        ),
        "{out}"
    );
}

#[test]
fn lmtp_refuses_ehlo_and_smtp_refuses_lhlo() {
    let mut lmtp = config();
    lmtp.protocol = Protocol::Lmtp;
    check_transcript(
        lmtp,
        "S: 220 mx.example.org LMTP ready
         C: EHLO foo.edu
         S: 500 5.5.1 This is an LMTP server: use LHLO
         C: HELO foo.edu
         S: 500 5.5.1 This is an LMTP server: use LHLO",
        &mut accept_all,
    );
    check_transcript(
        config(),
        &script(
            "C: LHLO foo.edu
             S: 500 5.5.1 Command unrecognized",
        ),
        &mut accept_all,
    );
}

#[test]
fn sequencing_errors_are_answered_by_the_session() {
    let run = check_transcript(
        config(),
        &script(&format!(
            "C: MAIL FROM:<a@example.com>
             S: 503 5.5.1 Send EHLO first
             C: EHLO client.example
             {EHLO}
             C: RCPT TO:<b@example.com>
             S: 503 5.5.1 Need MAIL first
             C: DATA
             S: 503 5.5.1 Need MAIL first
             C: MAIL FROM:<a@example.com>
             S: 250 2.1.0 Sender ok
             C: MAIL FROM:<a@example.com>
             S: 503 5.5.1 Sender already given
             C: DATA
             S: 554 5.5.1 No valid recipients
             C: FROB
             S: 500 5.5.1 Command unrecognized
             C: MAIL FROM:<a@@example.com>
             S: 553 5.1.7 Syntax error
             C: RCPT TO:<b@@example.com>
             S: 553 5.1.3 Syntax error
             C: RCPT TO:<b@example.com> FOO=BAR
             S: 555 5.5.4 Parameter not recognized or not implemented
             C: RSET
             S: 250 2.0.0 Ok
             C: NOOP
             S: 250 2.0.0 Ok
             C: HELP
             S: 214 2.0.0 See RFC 5321
             C: VRFY someone
             S: 252 2.5.0 Cannot verify, but will accept the message
             C: ETRN example.com
             S: 502 5.5.1 Command not implemented"
        )),
        &mut accept_all,
    );
    // Only what the application must decide reached it.
    assert_eq!(
        run.events,
        [
            "connect",
            "hello client.example extended=true",
            "mail <a@example.com>",
            "aborted Reset",
            "verify someone expand=false",
        ]
    );
}

#[test]
fn helo_allows_no_extensions() {
    check_transcript(
        config(),
        &script(
            "C: HELO client.example
             S: 250 mx.example.org
             C: MAIL FROM:<a@example.com> SIZE=100
             S: 555 5.5.4 Parameter not recognized or not implemented
             C: MAIL FROM:<a@example.com> BODY=8BITMIME
             S: 555 5.5.4 Parameter not recognized or not implemented
             C: MAIL FROM:<a@example.com>
             S: 250 2.1.0 Sender ok",
        ),
        &mut accept_all,
    );
}

#[test]
fn unadvertised_extensions_are_refused() {
    let mut plain = config();
    plain.capabilities.dsn = false;
    plain.capabilities.smtp_utf8 = false;
    plain.capabilities.binary_mime = false;
    plain.capabilities.enhanced_status_codes = false;
    check_transcript(
        plain,
        &script(
            "C: EHLO client.example
             S: 250-mx.example.org
             S: 250-PIPELINING
             S: 250-SIZE 10240000
             S: 250-8BITMIME
             S: 250 CHUNKING
             C: MAIL FROM:<a@example.com> RET=HDRS
             S: 555 Parameter not recognized or not implemented
             C: MAIL FROM:<a@example.com> SMTPUTF8
             S: 555 Parameter not recognized or not implemented
             C: MAIL FROM:<a@example.com> BODY=BINARYMIME
             S: 555 Parameter not recognized or not implemented
             C: MAIL FROM:<a@example.com> REQUIRETLS
             S: 555 Parameter not recognized or not implemented
             C: MAIL FROM:<a@example.com> SIZE=99999999
             S: 552 Message size exceeds fixed limit
             C: MAIL FROM:<a@example.com>
             S: 250 Sender ok
             C: RCPT TO:<b@example.com> NOTIFY=NEVER
             S: 555 Parameter not recognized or not implemented",
        ),
        &mut accept_all,
    );
}

/// RFC 6531 §3.4: a non-ASCII address needs SMTPUTF8 on MAIL.
#[test]
fn utf8_addresses_need_smtputf8() {
    check_transcript(
        config(),
        &script(&format!(
            "C: EHLO client.example
             {EHLO}
             C: MAIL FROM:<jörg@例え.jp>
             S: 553 5.6.7 Non-ASCII address needs SMTPUTF8
             C: MAIL FROM:<a@example.com>
             S: 250 2.1.0 Sender ok
             C: RCPT TO:<jörg@例え.jp>
             S: 553 5.6.7 Non-ASCII address needs SMTPUTF8
             C: RSET
             S: 250 2.0.0 Ok
             C: MAIL FROM:<jörg@例え.jp> SMTPUTF8
             S: 250 2.1.0 Sender ok
             C: RCPT TO:<δοκιμή@παράδειγμα.δοκιμή>
             S: 250 2.1.5 Recipient ok"
        )),
        &mut accept_all,
    );
}

/// RFC 5321 §4.5.3.1 asks for no length limits where possible: a local part
/// past the 64 octets of §4.5.3.1.1 is taken, up to what a 256-octet path
/// (§4.5.3.1.3) can hold.
#[test]
fn local_parts_longer_than_64_octets_are_accepted() {
    let seventy = "s".repeat(70);
    let longest = "l".repeat(252);
    check_transcript(
        config(),
        &script(&format!(
            "C: EHLO client.example
             {EHLO}
             C: MAIL FROM:<{seventy}@example.com>
             S: 250 2.1.0 Sender ok
             C: RCPT TO:<{seventy}.rcpt@example.org>
             S: 250 2.1.5 Recipient ok
             C: RCPT TO:<{longest}@e>
             S: 250 2.1.5 Recipient ok
             C: RCPT TO:<{longest}@ex>
             S: 501 5.1.3 Syntax error"
        )),
        &mut accept_all,
    );
}

#[test]
fn binarymime_needs_bdat() {
    check_transcript(
        config(),
        &script(&format!(
            "C: EHLO client.example
             {EHLO}
             C: MAIL FROM:<a@example.com> BODY=BINARYMIME
             S: 250 2.1.0 Sender ok
             C: RCPT TO:<b@example.com>
             S: 250 2.1.5 Recipient ok
             C: DATA
             S: 503 5.6.1 BODY=BINARYMIME needs BDAT"
        )),
        &mut accept_all,
    );
}

#[test]
fn application_decisions_shape_the_replies() {
    check_transcript(
        config(),
        &script(
            "C: HELO client.example
             S: 550 5.0.0 Go away
             C: HELO client.example
             S: 250 mx.example.org
             C: MAIL FROM:<spammer@example.com>
             S: 550 5.0.0 Not from you
             C: MAIL FROM:<a@example.com>
             S: 250 2.1.0 Sender ok
             C: RCPT TO:<b@example.com>
             S: 250 2.1.5 Recipient ok
             C: DATA
             S: 451 4.0.0 Try later
             C: QUIT
             S: 221 2.0.0 Bye",
        ),
        &mut {
            let mut helos = 0;
            move |event: &ServerEvent| match event {
                ServerEvent::Hello(_) => {
                    helos += 1;
                    if helos == 1 {
                        Verdict::Reject(550, "Go away")
                    } else {
                        Verdict::Accept
                    }
                }
                ServerEvent::Mail(m) if m.from().to_string().contains("spammer") => {
                    Verdict::Reject(550, "Not from you")
                }
                ServerEvent::Data(_) => Verdict::Reject(451, "Try later"),
                _ => Verdict::Accept,
            }
        },
    );
}

#[test]
fn refused_connection_answers_only_quit() {
    check_transcript(
        config(),
        "S: 554 5.0.0 No service for you
         C: EHLO client.example
         S: 503 5.5.1 No service here: QUIT
         C: QUIT
         S: 221 2.0.0 Bye",
        &mut |event| match event {
            ServerEvent::Connect(_) => Verdict::Reject(554, "No service for you"),
            _ => Verdict::Accept,
        },
    );
}

#[test]
fn second_ehlo_resets_the_transaction() {
    let run = check_transcript(
        config(),
        &script(&format!(
            "C: EHLO client.example
             {EHLO}
             C: MAIL FROM:<a@example.com>
             S: 250 2.1.0 Sender ok
             C: EHLO client.example
             {EHLO}
             C: RCPT TO:<b@example.com>
             S: 503 5.5.1 Need MAIL first"
        )),
        &mut accept_all,
    );
    assert!(run.events.contains(&"aborted Reset".to_string()));
}

#[test]
fn too_many_recipients_get_452() {
    let mut small = config();
    small.limits.recipients = 2;
    check_transcript(
        small,
        &script(&format!(
            "C: EHLO client.example
             {EHLO}
             C: MAIL FROM:<a@example.com>
             S: 250 2.1.0 Sender ok
             C: RCPT TO:<b1@example.com>
             S: 250 2.1.5 Recipient ok
             C: RCPT TO:<b2@example.com>
             S: 250 2.1.5 Recipient ok
             C: RCPT TO:<b3@example.com>
             S: 452 4.5.3 Too many recipients"
        )),
        &mut accept_all,
    );
}

/// RFC 2033 §4.2: after the final "." an LMTP server answers once per
/// accepted recipient whatever the outcome, its own refusals included; and
/// DATA with no accepted recipient is 503.
#[test]
fn lmtp_refusals_at_the_end_of_data_answer_each_recipient() {
    let mut lmtp = relaxed();
    lmtp.protocol = Protocol::Lmtp;
    lmtp.limits.message_size = 10;
    let (client, _) = transcript(
        "C: LHLO client.example
         C: MAIL FROM:<a@example.com>
         C: RCPT TO:<b@example.com>
         C: RCPT TO:<c@example.com>
         C: DATA
         C: more than ten octets of content
         C: .
         C: MAIL FROM:<a@example.com>
         C: DATA
         C: QUIT",
    );
    let run = run(lmtp, &[client.as_bytes()], &mut accept_all);
    run.assert_output_ends_with(
        "354 End data with <CR><LF>.<CR><LF>\r\n\
             552 5.3.4 Message size exceeds fixed limit\r\n\
             552 5.3.4 Message size exceeds fixed limit\r\n\
             250 2.1.0 Sender ok\r\n\
             503 5.5.1 No valid recipients\r\n\
             221 2.0.0 Bye\r\n",
    );
}

/// RCPT once BDAT content has begun is out of sequence: the envelope is
/// closed.
#[test]
fn rcpt_between_bdat_chunks_is_refused() {
    check_transcript(
        config(),
        &script(&format!(
            "C: EHLO client.example
             {EHLO}
             C: MAIL FROM:<a@example.com>
             S: 250 2.1.0 Sender ok
             C: RCPT TO:<b@example.com>
             S: 250 2.1.5 Recipient ok
             C: BDAT 7
             C: Hello
             S: 250 2.0.0 Chunk received
             C: RCPT TO:<late@example.com>
             S: 503 5.5.1 Recipients come before the content
             C: BDAT 0 LAST
             S: 250 2.0.0 Message accepted"
        )),
        &mut accept_all,
    );
}

/// Past the recipient limit each RCPT gets 452; as many again are let pass
/// for a pipelining client that sent its whole list, and after that each
/// counts as an error, so a flood ends.
#[test]
fn a_flood_of_recipients_past_the_limit_is_cut_off() {
    let mut small = relaxed();
    small.limits.recipients = 2;
    small.limits.errors = 2;
    let run = run(
        small,
        &[b"EHLO client.example\r\nMAIL FROM:<a@example.com>\r\n\
            RCPT TO:<b1@example.com>\r\nRCPT TO:<b2@example.com>\r\n\
            RCPT TO:<b3@example.com>\r\nRCPT TO:<b4@example.com>\r\n\
            RCPT TO:<b5@example.com>\r\nRCPT TO:<b6@example.com>\r\n\
            RCPT TO:<b7@example.com>\r\n"],
        &mut accept_all,
    );
    run.assert_output_ends_with(
        "250 2.1.5 Recipient ok\r\n250 2.1.5 Recipient ok\r\n\
             452 4.5.3 Too many recipients\r\n452 4.5.3 Too many recipients\r\n\
             452 4.5.3 Too many recipients\r\n452 4.5.3 Too many recipients\r\n\
             421 4.7.0 Too many errors\r\n",
    );
    assert!(run.closed);
}

/// VRFY is a junk command like NOOP: a harvesting run of them ends.
#[test]
fn vrfy_counts_towards_the_junk_limit() {
    let mut strict = relaxed();
    strict.limits.junk_commands = 3;
    let run = run(
        strict,
        &[b"EHLO client.example\r\nVRFY a\r\nVRFY b\r\nVRFY c\r\nVRFY d\r\n"],
        &mut accept_all,
    );
    run.assert_output_ends_with("421 4.7.0 Too many commands without mail\r\n");
    assert_eq!(
        run.events
            .iter()
            .filter(|e| e.starts_with("verify"))
            .count(),
        2
    );
    assert!(run.closed);
}

/// Refused MAIL and RCPT count as errors, as in Postfix: a client probing
/// for addresses is cut off.
#[test]
fn refused_recipients_count_as_errors() {
    let mut strict = relaxed();
    strict.limits.errors = 2;
    let run = run(
        strict,
        &[b"EHLO client.example\r\nMAIL FROM:<a@example.com>\r\n\
            RCPT TO:<x1@example.com>\r\nRCPT TO:<x2@example.com>\r\nRCPT TO:<x3@example.com>\r\n"],
        &mut |event| match event {
            ServerEvent::Rcpt(_) => Verdict::Reject(550, "No such user"),
            _ => Verdict::Accept,
        },
    );
    run.assert_output_ends_with(
        "550 5.0.0 No such user\r\n550 5.0.0 No such user\r\n421 4.7.0 Too many errors\r\n",
    );
    assert!(run.closed);
}

#[test]
fn error_limit_ends_the_session() {
    let mut strict = config();
    strict.limits.errors = 3;
    let run = check_transcript(
        strict,
        &script(
            "C: FOO
             S: 500 5.5.1 Command unrecognized
             C: BAR
             S: 500 5.5.1 Command unrecognized
             C: BAZ
             S: 500 5.5.1 Command unrecognized
             S: 421 4.7.0 Too many errors
             C: NOOP",
        ),
        &mut accept_all,
    );
    assert!(run.closed);
}

#[test]
fn oversize_message_is_read_to_its_end_then_refused() {
    let mut small = config();
    small.limits.message_size = 10;
    let run = check_transcript(
        small,
        "S: 220 mx.example.org ESMTP ready
         C: HELO client.example
         S: 250 mx.example.org
         C: MAIL FROM:<a@example.com>
         S: 250 2.1.0 Sender ok
         C: RCPT TO:<b@example.com>
         S: 250 2.1.5 Recipient ok
         C: DATA
         S: 354 End data with <CR><LF>.<CR><LF>
         C: this line alone is longer than ten octets
         C: QUIT
         C: .
         S: 552 5.3.4 Message size exceeds fixed limit
         C: NOOP
         S: 250 2.0.0 Ok",
        &mut accept_all,
    );
    assert!(run.events.contains(&"aborted Refused".to_string()));
    assert!(!run.events.iter().any(|e| e.starts_with("message")));
}

#[test]
fn bare_newlines_in_content_are_refused_after_the_end() {
    let (client, _) = transcript(
        "C: HELO client.example
         C: MAIL FROM:<a@example.com>
         C: RCPT TO:<b@example.com>
         C: DATA",
    );
    let input = format!("{client}one\ntwo\r\n.\r\nNOOP\r\n");
    let run = run(relaxed(), &[input.as_bytes()], &mut accept_all);
    assert!(run
        .output
        .ends_with("354 End data with <CR><LF>.<CR><LF>\r\n550 5.6.0 Bare <CR> or <LF> in message content\r\n250 2.0.0 Ok\r\n"));
}

#[test]
fn long_content_lines_follow_the_policy() {
    let (client, _) = transcript(
        "C: HELO client.example
         C: MAIL FROM:<a@example.com>
         C: RCPT TO:<b@example.com>
         C: DATA",
    );
    let input = format!("{client}{}\r\n.\r\n", "x".repeat(1200));
    let refused = run(relaxed(), &[input.as_bytes()], &mut accept_all);
    assert!(refused
        .output
        .ends_with("500 5.5.2 Message line too long\r\n"));
    let mut lenient = relaxed();
    lenient.long_lines = smtpwire::server::LongLinePolicy::Accept;
    let accepted = run(lenient, &[input.as_bytes()], &mut accept_all);
    assert!(accepted.output.ends_with("250 2.0.0 Message accepted\r\n"));
}

#[test]
fn auth_plain_with_initial_response() {
    let mut submission = config();
    submission.capabilities.auth = vec![
        smtpwire::auth::Mechanism::Plain,
        smtpwire::auth::Mechanism::Login,
    ];
    submission.auth_policy = AuthPolicy::AllowCleartext;
    submission.require_auth = true;
    let run = check_transcript(
        submission,
        &script(
            "C: HELO client.example
             S: 250 mx.example.org
             C: MAIL FROM:<a@example.com>
             S: 530 5.7.0 Authentication required
             C: AUTH PLAIN dGVzdAB0ZXN0ADEyMzQ=
             S: 235 2.7.0 Authentication succeeded
             C: AUTH PLAIN dGVzdAB0ZXN0ADEyMzQ=
             S: 503 5.5.1 Already authenticated
             C: MAIL FROM:<a@example.com>
             S: 250 2.1.0 Sender ok",
        ),
        &mut accept_all,
    );
    assert!(run.events.contains(&"auth test".to_string()));
}

#[test]
fn auth_login_exchange_and_failure() {
    let mut submission = config();
    submission.capabilities.auth = vec![smtpwire::auth::Mechanism::Login];
    submission.auth_policy = AuthPolicy::AllowCleartext;
    check_transcript(
        submission,
        &script(
            "C: HELO client.example
             S: 250 mx.example.org
             C: AUTH LOGIN
             S: 334 VXNlcm5hbWU6
             C: dGVzdA==
             S: 334 UGFzc3dvcmQ6
             C: d3Jvbmc=
             S: 535 5.0.0 Authentication credentials invalid
             C: AUTH LOGIN
             S: 334 VXNlcm5hbWU6
             C: *
             S: 501 5.7.0 Authentication failed
             C: AUTH CRAM-MD5
             S: 504 5.5.4 Unrecognized authentication mechanism",
        ),
        &mut |event| match event {
            ServerEvent::Auth(_) => Verdict::Reject(535, "Authentication credentials invalid"),
            _ => Verdict::Accept,
        },
    );
}

#[test]
fn auth_is_not_offered_over_cleartext_by_default() {
    let mut tls_only = relaxed();
    tls_only.capabilities.auth = vec![smtpwire::auth::Mechanism::Plain];
    tls_only.capabilities.starttls = true;
    let (client, _) = transcript(
        "C: EHLO client.example
         C: AUTH PLAIN dGVzdAB0ZXN0ADEyMzQ=
         C: STARTTLS",
    );
    let (after, _) = transcript(
        "C: EHLO client.example
         C: AUTH PLAIN dGVzdAB0ZXN0ADEyMzQ=",
    );
    let run = run(
        tls_only,
        &[client.as_bytes(), after.as_bytes()],
        &mut accept_all,
    );
    let (before_tls, after_tls) = run
        .output
        .split_once("220 2.0.0 Ready to start TLS\r\n")
        .unwrap();
    assert!(before_tls.contains("250-STARTTLS\r\n"));
    assert!(!before_tls.contains("AUTH"));
    assert!(before_tls.contains("538 5.7.11 Encryption required"));
    assert!(!after_tls.contains("STARTTLS"));
    assert!(after_tls.contains("250-AUTH PLAIN\r\n"));
    assert!(after_tls.ends_with("235 2.7.0 Authentication succeeded\r\n"));
    assert!(run.started_tls);
}

#[test]
fn early_talker_is_refused() {
    let mut session = smtpwire::server::ServerSession::new(config());
    // The connection decision is still open: the greeting has not been sent.
    assert!(matches!(
        session.poll_output(),
        smtpwire::ServerOutput::Event(ServerEvent::Connect(_))
    ));
    assert_eq!(session.receive(b"EHLO spam\r\n"), 11);
    let mut out = Vec::new();
    while let smtpwire::ServerOutput::Transmit(b) = session.poll_output() {
        out.extend_from_slice(&b);
    }
    assert_eq!(out, b"554 5.5.1 Input before greeting\r\n");
    assert!(matches!(
        session.poll_output(),
        smtpwire::ServerOutput::Closed
    ));

    let mut patient = config();
    patient.early_talkers = EarlyTalkerPolicy::Allow;
    let run = run(patient, &[b"EHLO early.example\r\n"], &mut accept_all);
    assert!(run
        .events
        .contains(&"hello early.example extended=true".to_string()));
}

#[test]
fn proxy_protocol_header_names_the_client() {
    let mut behind_balancer = config();
    behind_balancer.proxy_protocol = true;
    let quits = run(
        behind_balancer.clone(),
        &[
            b"PROXY TCP4 192.0.2.7 198.51.100.1 56324 25\r\n",
            b"QUIT\r\n",
        ],
        &mut accept_all,
    );
    assert_eq!(quits.events[0], "connect from 192.0.2.7:56324");
    assert!(quits.output.ends_with("221 2.0.0 Bye\r\n"));

    // A client that talks before the greeting is caught behind the proxy
    // too: its bytes come with the header.
    let run = run(
        behind_balancer,
        &[b"PROXY TCP4 192.0.2.7 198.51.100.1 56324 25\r\nEHLO spam\r\n"],
        &mut accept_all,
    );
    assert_eq!(run.output, "554 5.5.1 Input before greeting\r\n");
    assert!(run.closed);
}

#[test]
fn eof_inside_data_is_not_a_message() {
    let (client, _) = transcript(
        "C: HELO client.example
         C: MAIL FROM:<a@example.com>
         C: RCPT TO:<b@example.com>
         C: DATA
         C: half a messa",
    );
    let run = run(relaxed(), &[client.as_bytes()], &mut accept_all);
    assert_eq!(run.events.last().unwrap(), "aborted Disconnected");
    assert!(!run.events.iter().any(|e| e.starts_with("message")));
    assert!(run.closed);
}

#[test]
fn timeout_and_shutdown_say_421() {
    let mut session = smtpwire::server::ServerSession::new(config());
    assert_eq!(
        session.timeout_hint(),
        None,
        "waiting for the connection decision"
    );
    let event = match session.poll_output() {
        smtpwire::ServerOutput::Event(event) => event,
        other => panic!("{other:?}"),
    };
    session.accept_event(event).unwrap();
    let _greeting = session.poll_output();
    assert_eq!(
        session.timeout_hint(),
        Some(smtpwire::server::SERVER_TIMEOUT)
    );
    session.handle_timeout();
    match session.poll_output() {
        smtpwire::ServerOutput::Transmit(b) => {
            assert_eq!(&b[..], b"421 4.4.2 Timeout exceeded\r\n")
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        session.poll_output(),
        smtpwire::ServerOutput::Closed
    ));

    let run = run(config(), &[b"HELO a.example\r\n"], &mut |_| Verdict::Accept);
    assert!(run.closed);
    let mut config = ServerConfig::new(Text::from_static("mx.example.org"));
    config.capabilities.enhanced_status_codes = false;
    let mut session = smtpwire::server::ServerSession::new(config);
    if let smtpwire::ServerOutput::Event(event) = session.poll_output() {
        session.accept_event(event).unwrap();
    }
    let _greeting = session.poll_output();
    assert!(!session.in_transaction());
    session.shutdown();
    match session.poll_output() {
        smtpwire::ServerOutput::Transmit(b) => assert_eq!(&b[..], b"421 Service shutting down\r\n"),
        other => panic!("{other:?}"),
    }
}

/// Postfix XCLIENT: a trusted proxy names the real client and the session
/// starts over with a new greeting.
#[test]
fn xclient_restarts_the_session_for_the_named_client() {
    let mut proxied = config();
    proxied.xclient = true;
    proxied.capabilities.enhanced_status_codes = false;
    proxied.capabilities.pipelining = false;
    proxied.capabilities.dsn = false;
    proxied.capabilities.smtp_utf8 = false;
    proxied.capabilities.chunking = false;
    proxied.capabilities.binary_mime = false;
    proxied.capabilities.eight_bit_mime = false;
    let mut named = None;
    check_transcript(
        proxied,
        &script(
            "C: EHLO proxy.example
             S: 250-mx.example.org
             S: 250-SIZE 10240000
             S: 250 XCLIENT NAME ADDR PORT PROTO HELO LOGIN DESTADDR DESTPORT
             C: MAIL FROM:<a@example.com>
             S: 250 Sender ok
             C: XCLIENT ADDR=192.0.2.1
             S: 503 Sender already given
             C: RSET
             S: 250 Ok
             C: XCLIENT COLOR=blue
             S: 501 Syntax error in parameters or arguments
             C: XCLIENT NAME=spike.porcupine.org ADDR=168.100.189.2 LOGIN=[UNAVAILABLE]
             S: 220 mx.example.org ESMTP ready
             C: MAIL FROM:<a@example.com>
             S: 503 Send EHLO first",
        ),
        &mut |event| {
            if let ServerEvent::Xclient(request) = event {
                named = request.get("ADDR").map(|addr| addr.to_string());
            }
            Verdict::Accept
        },
    );
    assert_eq!(named.as_deref(), Some("168.100.189.2"));
    // Without the switch XCLIENT is just an unknown command.
    check_transcript(
        config(),
        &script(
            "C: XCLIENT ADDR=192.0.2.1
             S: 500 5.5.1 Command unrecognized",
        ),
        &mut accept_all,
    );
}

/// The first request of a new session: its connection.
fn connect_request(
    session: &mut smtpwire::server::ServerSession,
) -> smtpwire::server::ConnectRequest {
    match session.poll_output() {
        smtpwire::ServerOutput::Event(ServerEvent::Connect(request)) => request,
        other => panic!("expected the connection request, got {other:?}"),
    }
}

/// A token only works in the session that issued it, even when another
/// session awaits a request of the same number; one whose session closed
/// while it was being decided says so.
#[test]
fn decisions_reach_only_their_own_open_session() {
    use smtpwire::server::{DecisionError, ServerSession};
    use smtpwire::ServerOutput;
    let mut first = ServerSession::new(config());
    let mut second = ServerSession::new(config());
    let from_first = connect_request(&mut first);
    let from_second = connect_request(&mut second);
    assert_eq!(second.accept(from_first), Err(DecisionError::NotAwaited));
    assert!(matches!(
        second.poll_output(),
        ServerOutput::AwaitingDecision
    ));
    second.accept(from_second).unwrap();
    assert!(matches!(second.poll_output(), ServerOutput::Transmit(_)));

    // The driver shut the session down while the application decided.
    let mut third = ServerSession::new(config());
    let pending = connect_request(&mut third);
    third.shutdown();
    assert_eq!(third.accept(pending), Err(DecisionError::Closed));
    assert!(DecisionError::Closed.to_string().contains("closed"));
}
