//! Every row of the transition table in `src/server/transitions.rs`, driven
//! through `ServerSession`: a state is reached by the input before it, then
//! the row's input gives the row's reply or request and leaves the row's
//! next state, shown by what the session does with the input after it.

mod support;

use smtpwire::server::{
    DecisionError, ServerConfig, ServerEvent, ServerLimits, ServerOutput, ServerSession,
};
use smtpwire::{ParseOptions, Protocol, Text};
use support::{accept_all, config, run, Verdict};

/// One row: the state and input it names, how to reach it, and what the
/// session must have written and asked by the end.
struct Row {
    state: &'static str,
    input: &'static str,
    config: fn() -> ServerConfig,
    chunks: &'static [&'static str],
    decide: fn(&ServerEvent) -> Verdict,
    output: &'static str,
    events: &'static [&'static str],
}

fn proxied() -> ServerConfig {
    config().with_proxy_protocol(true)
}

fn lmtp() -> ServerConfig {
    config().with_protocol(Protocol::Lmtp)
}

fn starttls() -> ServerConfig {
    let mut config = config();
    config.capabilities.starttls = true;
    config
}

fn etrn() -> ServerConfig {
    let mut config = config();
    config.capabilities.etrn = true;
    config
}

fn xclient() -> ServerConfig {
    config().with_xclient(true)
}

fn submission() -> ServerConfig {
    let mut config = config()
        .with_require_auth(true)
        .with_auth_policy(smtpwire::server::AuthPolicy::AllowCleartext);
    config.capabilities.auth = vec![smtpwire::auth::Mechanism::Plain];
    config
}

fn refuse_all(event: &ServerEvent) -> Verdict {
    match event {
        ServerEvent::Connect(_) => Verdict::Accept,
        _ => Verdict::Reject(550, "No"),
    }
}

fn two_errors() -> ServerConfig {
    config().with_limits(ServerLimits::default().with_errors(2))
}

fn refuse_connect(event: &ServerEvent) -> Verdict {
    match event {
        ServerEvent::Connect(_) => Verdict::Reject(554, "No"),
        _ => Verdict::Accept,
    }
}

fn refuse_data(event: &ServerEvent) -> Verdict {
    match event {
        ServerEvent::Data(_) => Verdict::Reject(554, "No"),
        _ => Verdict::Accept,
    }
}

const ROWS: &[Row] = &[
    Row {
        state: "Proxy",
        input: "PROXY header",
        config: proxied,
        chunks: &["PROXY TCP4 192.0.2.7 198.51.100.1 56324 25\r\n", "QUIT\r\n"],
        decide: accept_all,
        output: "220 mx.example.org ESMTP ready\r\n221 2.0.0 Bye\r\n",
        events: &["connect from 192.0.2.7:56324"],
    },
    Row {
        state: "Proxy",
        input: "bad header",
        config: proxied,
        chunks: &["PROXY nonsense\r\n", "QUIT\r\n"],
        decide: accept_all,
        output: "554 5.5.1 Invalid PROXY protocol header\r\n",
        events: &[],
    },
    Row {
        state: "Greeting",
        input: "input before the greeting",
        config: proxied,
        chunks: &["PROXY TCP4 192.0.2.7 198.51.100.1 56324 25\r\nQUIT\r\n"],
        decide: accept_all,
        output: "554 5.5.1 Input before greeting\r\n",
        events: &["connect from 192.0.2.7:56324"],
    },
    Row {
        state: "Greeting",
        input: "Connect rejected, then QUIT and another command",
        config,
        chunks: &["NOOP\r\n", "QUIT\r\n"],
        decide: refuse_connect,
        output: "554 5.0.0 No\r\n503 5.5.1 No service here: QUIT\r\n221 2.0.0 Bye\r\n",
        events: &["connect"],
    },
    Row {
        state: "Commands",
        input: "HELO accepted, then LHLO in SMTP",
        config,
        chunks: &["HELO a.example\r\n", "LHLO a.example\r\n"],
        decide: accept_all,
        output: "220 mx.example.org ESMTP ready\r\n250 mx.example.org\r\n500 5.5.1 Command unrecognized\r\n",
        events: &["connect", "hello a.example extended=false"],
    },
    Row {
        state: "Commands",
        input: "HELO in LMTP",
        config: lmtp,
        chunks: &["HELO a.example\r\n"],
        decide: accept_all,
        output: "220 mx.example.org LMTP ready\r\n500 5.5.1 This is an LMTP server: use LHLO\r\n",
        events: &["connect"],
    },
    Row {
        state: "Deciding",
        input: "Hello rejected",
        config,
        chunks: &["HELO a.example\r\n"],
        decide: refuse_all,
        output: "220 mx.example.org ESMTP ready\r\n550 5.0.0 No\r\n",
        events: &["connect", "hello a.example extended=false"],
    },
    Row {
        state: "Commands",
        input: "MAIL before a hello, then nested",
        config,
        chunks: &[
            "MAIL FROM:<a@example.org>\r\n",
            "HELO a.example\r\n",
            "MAIL FROM:<a@example.org>\r\n",
            "MAIL FROM:<a@example.org>\r\n",
        ],
        decide: accept_all,
        output: "220 mx.example.org ESMTP ready\r\n503 5.5.1 Send EHLO first\r\n250 mx.example.org\r\n250 2.1.0 Sender ok\r\n503 5.5.1 Sender already given\r\n",
        events: &[
            "connect",
            "hello a.example extended=false",
            "mail <a@example.org>",
            "aborted Disconnected",
        ],
    },
    Row {
        state: "Commands",
        input: "MAIL without AUTH where it is required",
        config: submission,
        chunks: &["HELO a.example\r\n", "MAIL FROM:<a@example.org>\r\n"],
        decide: accept_all,
        output: "220 mx.example.org ESMTP ready\r\n250 mx.example.org\r\n530 5.7.0 Authentication required\r\n",
        events: &["connect", "hello a.example extended=false"],
    },
    Row {
        state: "Commands",
        input: "MAIL with a parameter not offered after HELO",
        config,
        chunks: &["HELO a.example\r\n", "MAIL FROM:<a@example.org> BODY=8BITMIME\r\n"],
        decide: accept_all,
        output: "220 mx.example.org ESMTP ready\r\n250 mx.example.org\r\n555 5.5.4 Parameter not recognized or not implemented\r\n",
        events: &["connect", "hello a.example extended=false"],
    },
    Row {
        state: "Deciding",
        input: "Mail rejected, then Rcpt rejected",
        config,
        chunks: &[
            "HELO a.example\r\n",
            "MAIL FROM:<a@example.org>\r\n",
            "MAIL FROM:<c@example.org>\r\n",
            "RCPT TO:<b@example.org>\r\n",
        ],
        decide: |event| match event {
            ServerEvent::Mail(r) if r.from().to_string() == "<a@example.org>" => {
                Verdict::Reject(451, "Later")
            }
            ServerEvent::Rcpt(_) => Verdict::Reject(550, "No"),
            _ => Verdict::Accept,
        },
        output: "220 mx.example.org ESMTP ready\r\n250 mx.example.org\r\n451 4.0.0 Later\r\n250 2.1.0 Sender ok\r\n550 5.0.0 No\r\n",
        events: &[
            "connect",
            "hello a.example extended=false",
            "mail <a@example.org>",
            "mail <c@example.org>",
            "rcpt <b@example.org>",
            "aborted Disconnected",
        ],
    },
    Row {
        state: "Commands",
        input: "RCPT before MAIL, RCPT accepted",
        config,
        chunks: &[
            "HELO a.example\r\n",
            "RCPT TO:<b@example.org>\r\n",
            "MAIL FROM:<a@example.org>\r\n",
            "RCPT TO:<b@example.org>\r\n",
        ],
        decide: accept_all,
        output: "220 mx.example.org ESMTP ready\r\n250 mx.example.org\r\n503 5.5.1 Need MAIL first\r\n250 2.1.0 Sender ok\r\n250 2.1.5 Recipient ok\r\n",
        events: &[
            "connect",
            "hello a.example extended=false",
            "mail <a@example.org>",
            "rcpt <b@example.org>",
            "aborted Disconnected",
        ],
    },
    Row {
        state: "Commands",
        input: "DATA without recipients, DATA accepted, content, end of message accepted",
        config,
        chunks: &[
            "HELO a.example\r\n",
            "MAIL FROM:<a@example.org>\r\n",
            "DATA\r\n",
            "RCPT TO:<b@example.org>\r\n",
            "DATA\r\n",
            "Hi\r\n.\r\n",
            "RSET\r\n",
        ],
        decide: accept_all,
        output: "220 mx.example.org ESMTP ready\r\n250 mx.example.org\r\n250 2.1.0 Sender ok\r\n554 5.5.1 No valid recipients\r\n250 2.1.5 Recipient ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n250 2.0.0 Message accepted\r\n250 2.0.0 Ok\r\n",
        events: &[
            "connect",
            "hello a.example extended=false",
            "mail <a@example.org>",
            "rcpt <b@example.org>",
            "data chunked=false",
            "content Hi\r\n",
            "message 4 octets to <b@example.org>",
        ],
    },
    Row {
        state: "Deciding",
        input: "Data rejected, then RCPT",
        config,
        chunks: &[
            "HELO a.example\r\n",
            "MAIL FROM:<a@example.org>\r\n",
            "RCPT TO:<b@example.org>\r\n",
            "DATA\r\n",
            "RCPT TO:<c@example.org>\r\n",
        ],
        decide: refuse_data,
        output: "220 mx.example.org ESMTP ready\r\n250 mx.example.org\r\n250 2.1.0 Sender ok\r\n250 2.1.5 Recipient ok\r\n554 5.0.0 No\r\n250 2.1.5 Recipient ok\r\n",
        events: &[
            "connect",
            "hello a.example extended=false",
            "mail <a@example.org>",
            "rcpt <b@example.org>",
            "data chunked=false",
            "rcpt <c@example.org>",
            "aborted Disconnected",
        ],
    },
    Row {
        state: "Data",
        input: "end of a message that breaks a rule",
        config,
        chunks: &[
            "HELO a.example\r\n",
            "MAIL FROM:<a@example.org>\r\n",
            "RCPT TO:<b@example.org>\r\n",
            "DATA\r\n",
            "a\rb\r\n.\r\n",
            "NOOP\r\n",
        ],
        decide: accept_all,
        output: "220 mx.example.org ESMTP ready\r\n250 mx.example.org\r\n250 2.1.0 Sender ok\r\n250 2.1.5 Recipient ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n550 5.6.0 Bare <CR> or <LF> in message content\r\n250 2.0.0 Ok\r\n",
        events: &[
            "connect",
            "hello a.example extended=false",
            "mail <a@example.org>",
            "rcpt <b@example.org>",
            "data chunked=false",
            "content a\rb\r\n",
            "aborted Refused",
        ],
    },
    Row {
        state: "Commands",
        input: "BDAT: the first chunk asks, later ones do not; the last ends the message",
        config,
        chunks: &[
            "HELO a.example\r\n",
            "MAIL FROM:<a@example.org>\r\n",
            "RCPT TO:<b@example.org>\r\n",
            "BDAT 3\r\nabc",
            "BDAT 0\r\n",
            "BDAT 2 LAST\r\nde",
        ],
        decide: accept_all,
        output: "220 mx.example.org ESMTP ready\r\n250 mx.example.org\r\n250 2.1.0 Sender ok\r\n250 2.1.5 Recipient ok\r\n250 2.0.0 Chunk received\r\n551 5.7.1 Null BDAT request\r\n250 2.0.0 Message accepted\r\n",
        events: &[
            "connect",
            "hello a.example extended=false",
            "mail <a@example.org>",
            "rcpt <b@example.org>",
            "data chunked=true",
            "content abcde",
            "message 5 octets to <b@example.org>",
        ],
    },
    Row {
        state: "Commands",
        input: "BDAT refused: its chunk is skipped, later chunks refused until RSET",
        config,
        chunks: &[
            "HELO a.example\r\n",
            "MAIL FROM:<a@example.org>\r\n",
            "RCPT TO:<b@example.org>\r\n",
            "BDAT 3\r\nabc",
            "BDAT 2 LAST\r\nde",
        ],
        decide: refuse_data,
        output: "220 mx.example.org ESMTP ready\r\n250 mx.example.org\r\n250 2.1.0 Sender ok\r\n250 2.1.5 Recipient ok\r\n554 5.0.0 No\r\n503 5.5.1 Transaction failed: send RSET\r\n",
        events: &[
            "connect",
            "hello a.example extended=false",
            "mail <a@example.org>",
            "rcpt <b@example.org>",
            "data chunked=true",
            "aborted Disconnected",
        ],
    },
    Row {
        state: "Commands",
        input: "BDAT too large to skip",
        config,
        chunks: &["HELO a.example\r\n", "BDAT 99999999999\r\n"],
        decide: accept_all,
        output: "220 mx.example.org ESMTP ready\r\n250 mx.example.org\r\n552 5.3.4 Chunk exceeds the message size limit\r\n",
        events: &["connect", "hello a.example extended=false"],
    },
    Row {
        state: "Deciding",
        input: "Message rejected in LMTP: one reply per recipient",
        config: lmtp,
        chunks: &[
            "LHLO a.example\r\n",
            "MAIL FROM:<a@example.org>\r\n",
            "RCPT TO:<b@example.org>\r\n",
            "RCPT TO:<c@example.org>\r\n",
            "DATA\r\n",
            "Hi\r\n.\r\n",
        ],
        decide: |event| match event {
            ServerEvent::Message(_) => Verdict::Reject(452, "Full"),
            _ => Verdict::Accept,
        },
        output: "220 mx.example.org LMTP ready\r\n250-mx.example.org\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-DSN\r\n250-SMTPUTF8\r\n250-CHUNKING\r\n250 BINARYMIME\r\n250 2.1.0 Sender ok\r\n250 2.1.5 Recipient ok\r\n250 2.1.5 Recipient ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n452 4.0.0 Full\r\n452 4.0.0 Full\r\n",
        events: &[
            "connect",
            "hello a.example extended=true",
            "mail <a@example.org>",
            "rcpt <b@example.org>",
            "rcpt <c@example.org>",
            "data chunked=false",
            "content Hi\r\n",
            "message 4 octets to <b@example.org>,<c@example.org>",
        ],
    },
    Row {
        state: "Commands",
        input: "RSET, NOOP, HELP",
        config,
        chunks: &["RSET\r\n", "NOOP\r\n", "HELP\r\n"],
        decide: accept_all,
        output: "220 mx.example.org ESMTP ready\r\n250 2.0.0 Ok\r\n250 2.0.0 Ok\r\n214 2.0.0 See RFC 5321\r\n",
        events: &["connect"],
    },
    Row {
        state: "Commands",
        input: "VRFY accepted without text, with text; EXPN rejected",
        config,
        chunks: &["VRFY a\r\n", "VRFY b\r\n", "EXPN c\r\n"],
        decide: |event| match event {
            ServerEvent::Verify(r) if r.argument() == "b" => Verdict::AcceptWith("<b@example.org>"),
            ServerEvent::Verify(r) if r.is_expand() => Verdict::Reject(550, "No"),
            _ => Verdict::Accept,
        },
        output: "220 mx.example.org ESMTP ready\r\n252 2.5.0 Cannot verify, but will accept the message\r\n250 2.1.5 <b@example.org>\r\n550 5.0.0 No\r\n",
        events: &["connect", "verify a expand=false", "verify b expand=false", "verify c expand=true"],
    },
    Row {
        state: "Commands",
        input: "ETRN not offered",
        config,
        chunks: &["ETRN example.org\r\n"],
        decide: accept_all,
        output: "220 mx.example.org ESMTP ready\r\n502 5.5.1 Command not implemented\r\n",
        events: &["connect"],
    },
    Row {
        state: "Commands",
        input: "ETRN accepted",
        config: etrn,
        chunks: &["ETRN example.org\r\n"],
        decide: accept_all,
        output: "220 mx.example.org ESMTP ready\r\n250 2.0.0 Queuing started\r\n",
        events: &["connect", "etrn example.org"],
    },
    Row {
        state: "Commands",
        input: "STARTTLS not offered",
        config,
        chunks: &["STARTTLS\r\n"],
        decide: accept_all,
        output: "220 mx.example.org ESMTP ready\r\n502 5.5.1 Command not implemented\r\n",
        events: &["connect"],
    },
    Row {
        state: "Deciding",
        input: "StartTls accepted, the handshake done, STARTTLS again",
        config: starttls,
        chunks: &["STARTTLS\r\n", "STARTTLS\r\n"],
        decide: accept_all,
        output: "220 mx.example.org ESMTP ready\r\n220 2.0.0 Ready to start TLS\r\n503 5.5.1 TLS already active\r\n",
        events: &["connect", "starttls"],
    },
    Row {
        state: "Deciding",
        input: "StartTls accepted with input pipelined behind it",
        config: starttls,
        chunks: &["STARTTLS\r\nHELO a.example\r\n"],
        decide: accept_all,
        output: "220 mx.example.org ESMTP ready\r\n554 5.5.1 Input pipelined after STARTTLS\r\n",
        events: &["connect", "starttls"],
    },
    Row {
        state: "Commands",
        input: "AUTH before a hello; AUTH with an initial response, accepted; then MAIL",
        config: submission,
        chunks: &[
            "AUTH PLAIN dGVzdAB0ZXN0ADEyMzQ=\r\n",
            "HELO a.example\r\n",
            "AUTH PLAIN dGVzdAB0ZXN0ADEyMzQ=\r\n",
            "MAIL FROM:<a@example.org>\r\n",
        ],
        decide: accept_all,
        output: "220 mx.example.org ESMTP ready\r\n503 5.5.1 Send EHLO first\r\n250 mx.example.org\r\n235 2.7.0 Authentication succeeded\r\n250 2.1.0 Sender ok\r\n",
        events: &[
            "connect",
            "hello a.example extended=false",
            "auth test",
            "mail <a@example.org>",
            "aborted Disconnected",
        ],
    },
    Row {
        state: "Auth",
        input: "response to the challenge; Auth rejected",
        config: submission,
        chunks: &["HELO a.example\r\n", "AUTH PLAIN\r\n", "dGVzdAB0ZXN0ADEyMzQ=\r\n"],
        decide: |event| match event {
            ServerEvent::Auth(_) => Verdict::Reject(535, "Bad"),
            _ => Verdict::Accept,
        },
        output: "220 mx.example.org ESMTP ready\r\n250 mx.example.org\r\n334 \r\n535 5.0.0 Bad\r\n",
        events: &["connect", "hello a.example extended=false", "auth test"],
    },
    Row {
        state: "Commands",
        input: "XCLIENT malformed, then accepted",
        config: xclient,
        chunks: &["XCLIENT COLOR=blue\r\n", "XCLIENT ADDR=192.0.2.1\r\n"],
        decide: accept_all,
        output: "220 mx.example.org ESMTP ready\r\n501 5.5.4 Syntax error in parameters or arguments\r\n220 mx.example.org ESMTP ready\r\n",
        events: &[
            "connect",
            "xclient ADDR",
        ],
    },
    Row {
        state: "Commands",
        input: "unknown verb, then a header field",
        config,
        chunks: &["XYZZY\r\n", "Host: mx.example.org\r\n"],
        decide: accept_all,
        output: "220 mx.example.org ESMTP ready\r\n500 5.5.1 Command unrecognized\r\n221 2.7.0 This is an SMTP server: goodbye\r\n",
        events: &["connect"],
    },
    Row {
        state: "Commands",
        input: "QUIT, with more behind it",
        config,
        chunks: &["QUIT\r\n", "NOOP\r\n"],
        decide: accept_all,
        output: "220 mx.example.org ESMTP ready\r\n221 2.0.0 Bye\r\n",
        events: &["connect"],
    },
    Row {
        state: "Commands",
        input: "Hello accepted in a transaction",
        config,
        chunks: &[
            "HELO a.example\r\n",
            "MAIL FROM:<a@example.org>\r\n",
            "HELO b.example\r\n",
        ],
        decide: accept_all,
        output: "220 mx.example.org ESMTP ready\r\n250 mx.example.org\r\n250 2.1.0 Sender ok\r\n250 mx.example.org\r\n",
        events: &[
            "connect",
            "hello a.example extended=false",
            "mail <a@example.org>",
            "hello b.example extended=false",
            "aborted Reset",
        ],
    },
    Row {
        state: "any",
        input: "too many errors",
        config: two_errors,
        chunks: &["XYZZY\r\n", "XYZZY\r\n", "NOOP\r\n"],
        decide: accept_all,
        output: "220 mx.example.org ESMTP ready\r\n500 5.5.1 Command unrecognized\r\n500 5.5.1 Command unrecognized\r\n421 4.7.0 Too many errors\r\n",
        events: &["connect"],
    },
];

#[test]
fn every_row_of_the_transition_table() {
    for row in ROWS {
        let chunks: Vec<&[u8]> = row.chunks.iter().map(|c| c.as_bytes()).collect();
        let result = run((row.config)(), &chunks, &mut |event| (row.decide)(event));
        let context = format!("{} / {}", row.state, row.input);
        assert_eq!(result.output, row.output, "{context}");
        assert_eq!(result.events, row.events, "{context}");
    }
}

/// The rows the caller drives rather than the peer: a timeout and a
/// shutdown end any state with 421, and input during the TLS handshake
/// ends it with 554.
#[test]
fn timeout_shutdown_and_input_during_the_handshake() {
    let mut timed_out = ServerSession::new(config());
    greet(&mut timed_out);
    timed_out.handle_timeout();
    assert_eq!(
        transmitted(&mut timed_out),
        "421 4.4.2 Timeout exceeded\r\n"
    );

    let mut shut_down = ServerSession::new(config());
    greet(&mut shut_down);
    shut_down.shutdown();
    assert_eq!(
        transmitted(&mut shut_down),
        "421 4.3.2 Service shutting down\r\n"
    );

    let mut upgrading = ServerSession::new(starttls());
    greet(&mut upgrading);
    assert_eq!(upgrading.receive(b"STARTTLS\r\n"), 10);
    let ServerOutput::Event(ServerEvent::StartTls(request)) = upgrading.poll_output() else {
        panic!("STARTTLS asks");
    };
    upgrading.accept(request).expect("awaited");
    assert_eq!(
        transmitted(&mut upgrading),
        "220 2.0.0 Ready to start TLS\r\n"
    );
    assert!(matches!(upgrading.poll_output(), ServerOutput::StartTls));
    upgrading.receive(b"EHLO a.example\r\n");
    assert_eq!(
        transmitted(&mut upgrading),
        "554 5.5.1 Input pipelined after STARTTLS\r\n"
    );
}

/// Accepts the connection and takes the greeting.
fn greet(session: &mut ServerSession) {
    let ServerOutput::Event(ServerEvent::Connect(request)) = session.poll_output() else {
        panic!("a new session asks about the connection");
    };
    session.accept(request).expect("awaited");
    transmitted(session);
}

/// Everything transmitted up to the next blocking output, which must be
/// no decision.
fn transmitted(session: &mut ServerSession) -> String {
    let mut wire = String::new();
    loop {
        match session.poll_output() {
            ServerOutput::Transmit(bytes) => wire.push_str(&String::from_utf8_lossy(&bytes)),
            ServerOutput::Event(event) => panic!("unexpected {event:?}"),
            _ => return wire,
        }
    }
}

/// `ServerOutput` hands out an event as soon as its command is read, while
/// the replies gather: decided at once, a pipelined group's replies leave
/// in one transmit; left undecided, the replies so far leave before the
/// session says it waits.
#[test]
fn events_come_before_the_transmit_of_their_group() {
    let mut session = ServerSession::new(config());
    greet(&mut session);
    session.receive(b"EHLO a.example\r\n");
    let ServerOutput::Event(hello) = session.poll_output() else {
        panic!("EHLO asks");
    };
    session.accept(hello).expect("awaited");
    transmitted(&mut session);

    session.receive(b"RSET\r\nMAIL FROM:<a@example.org>\r\n");
    let ServerOutput::Event(ServerEvent::Mail(mail)) = session.poll_output() else {
        panic!("the MAIL event comes before the reply to RSET");
    };
    session.accept(mail).expect("awaited");
    assert_eq!(
        transmitted(&mut session),
        "250 2.0.0 Ok\r\n250 2.1.0 Sender ok\r\n"
    );

    session.receive(b"RSET\r\nMAIL FROM:<b@example.org>\r\n");
    assert!(matches!(
        session.poll_output(),
        ServerOutput::Event(ServerEvent::Aborted(_))
    ));
    let ServerOutput::Event(ServerEvent::Mail(mail)) = session.poll_output() else {
        panic!("the MAIL event comes before the reply to RSET");
    };
    let ServerOutput::Transmit(reset) = session.poll_output() else {
        panic!("the reply to RSET leaves while MAIL is decided");
    };
    assert_eq!(&reset[..], b"250 2.0.0 Ok\r\n");
    assert!(matches!(
        session.poll_output(),
        ServerOutput::AwaitingDecision
    ));
    session.accept(mail).expect("awaited");
    assert_eq!(transmitted(&mut session), "250 2.1.0 Sender ok\r\n");
}

/// A decision handed back for an event that asks nothing is the caller's
/// mistake, told apart from a session that has closed; both read as a log
/// line.
#[test]
fn decision_errors_say_what_the_caller_can_do() {
    let mut session = ServerSession::new(config());
    let content = ServerEvent::Content(bytes::Bytes::from_static(b"x"));
    assert_eq!(session.accept(content), Err(DecisionError::NotARequest));
    assert!(DecisionError::NotARequest.is_misuse());
    assert!(DecisionError::NotAwaited.is_misuse());
    assert!(!DecisionError::Closed.is_misuse());
    for error in [
        DecisionError::NotARequest,
        DecisionError::NotAwaited,
        DecisionError::Closed,
    ] {
        assert!(
            error.to_string().starts_with("decision ignored: "),
            "{error}"
        );
    }
    // The session still waits for its connection decision.
    assert!(matches!(
        session.poll_output(),
        ServerOutput::Event(ServerEvent::Connect(_))
    ));
}

/// `ServerConfig::with_parse_options` selects how strictly command lines are
/// read: `MAIL FROM: <a>` (a space after the colon) is refused under RFC
/// 5321 and taken with `ParseOptions::LENIENT`, as Postfix takes it.
#[test]
fn parse_options_are_chosen_through_the_config() {
    let chunks: &[&[u8]] = &[b"HELO a.example\r\n", b"MAIL FROM: <a@example.org>\r\n"];
    let strict = run(config(), chunks, &mut accept_all);
    assert!(
        strict
            .output
            .ends_with("250 mx.example.org\r\n501 5.5.2 Syntax error\r\n"),
        "{}",
        strict.output
    );
    let lenient = run(
        config().with_parse_options(ParseOptions::LENIENT),
        chunks,
        &mut accept_all,
    );
    lenient.assert_output_ends_with("250 2.1.0 Sender ok\r\n");
}

/// A configuration builds in one expression, without an `Arc` at the call.
#[test]
fn config_builds_by_chained_setters() {
    let config = ServerConfig::new(Text::from_static("mx.example.org"))
        .with_limits(ServerLimits::default().with_message_size(1000))
        .with_protocol(Protocol::Lmtp);
    assert_eq!(config.limits.message_size, 1000);
    let session = ServerSession::new(config);
    assert_eq!(session.config().protocol, Protocol::Lmtp);
}
