//! Drives a `ServerSession` over in-memory input, the way a transport would,
//! and records what it said and asked.

#![allow(dead_code)] // each test file uses a different part of the harness

use smtpwire::reply::{EnhancedStatusCode, Reply, ReplyCode};
use smtpwire::server::{CloseReason, Reject, ServerConfig, ServerEvent, ServerSession, SyncPolicy};
use smtpwire::{ServerOutput, Text};

/// What the application answers to one event.
pub enum Verdict {
    Accept,
    AcceptWith(&'static str),
    Reject(u16, &'static str),
}

/// Everything a session produced over one run.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Run {
    /// Every byte transmitted, in order.
    pub output: String,
    /// One line per event; adjacent content chunks are merged.
    pub events: Vec<String>,
    /// How many `Transmit`s the output came in.
    pub transmits: usize,
    /// Whether the session asked for a TLS upgrade.
    pub started_tls: bool,
    /// Whether the session closed.
    pub closed: bool,
    /// Why, once it did.
    pub close_reason: Option<CloseReason>,
}

impl Run {
    /// Checks that the output ends with `tail`, showing all of it if not.
    pub fn assert_output_ends_with(&self, tail: &str) {
        assert!(self.output.ends_with(tail), "{}", self.output);
    }
}

pub fn config() -> ServerConfig {
    ServerConfig::new(Text::from_static("mx.example.org"))
}

/// [`config`] reading input sent ahead of its replies as the next commands,
/// for tests that pipeline whole sessions at once to reach a defence behind
/// the synchronisation check.
pub fn relaxed() -> ServerConfig {
    let mut config = config();
    config.pipelining_sync = SyncPolicy::Relaxed;
    config
}

pub fn reject(code: u16, text: &'static str) -> Reject {
    let code = ReplyCode::new(code).expect("valid code");
    let class = (code.as_u16() / 100) as u8;
    let enhanced = EnhancedStatusCode::new(class, 0, 0).expect("valid enhanced code");
    let reply = Reply::with_enhanced(code, enhanced, Text::from_static(text)).expect("agrees");
    Reject::new(reply).expect("a refusal")
}

/// Accepts every request.
pub fn accept_all(_: &ServerEvent) -> Verdict {
    Verdict::Accept
}

/// Feeds `chunks` one after another, then end of input, answering every
/// event with `decide`.
pub fn run(
    config: ServerConfig,
    chunks: &[&[u8]],
    decide: &mut dyn FnMut(&ServerEvent) -> Verdict,
) -> Run {
    let mut session = ServerSession::new(config);
    let mut run = Run::default();
    for chunk in chunks {
        let mut rest: &[u8] = chunk;
        loop {
            drain(&mut session, &mut run, decide);
            if rest.is_empty() || run.closed {
                break;
            }
            let taken = session.receive(rest);
            rest = &rest[taken..];
        }
    }
    session.receive_eof();
    drain(&mut session, &mut run, decide);
    run.close_reason = session.close_reason();
    run
}

/// Polls until the session blocks; upgrades to a pass-through "TLS" on
/// request.
pub fn drain(
    session: &mut ServerSession,
    run: &mut Run,
    decide: &mut dyn FnMut(&ServerEvent) -> Verdict,
) {
    loop {
        match session.poll_output() {
            ServerOutput::Transmit(bytes) => {
                run.transmits += 1;
                run.output.push_str(&String::from_utf8_lossy(&bytes));
            }
            ServerOutput::Event(event) => {
                record(&mut run.events, &event);
                let verdict = decide(&event);
                if event.is_request() {
                    let result = match verdict {
                        Verdict::Accept => session.accept(event),
                        Verdict::AcceptWith(text) => {
                            session.accept_with(event, Text::from_static(text))
                        }
                        Verdict::Reject(code, text) => session.reject(event, reject(code, text)),
                    };
                    result.expect("the session waits for this decision");
                }
            }
            ServerOutput::StartTls => {
                run.started_tls = true;
                session.tls_established();
            }
            ServerOutput::Closed => {
                run.closed = true;
                return;
            }
            ServerOutput::NeedInput | ServerOutput::AwaitingDecision => return,
        }
    }
}

fn record(events: &mut Vec<String>, event: &ServerEvent) {
    let line = match event {
        ServerEvent::Connect(r) => match r.proxy().and_then(|p| p.source()) {
            Some(source) => format!("connect from {source}"),
            None => "connect".to_string(),
        },
        ServerEvent::Hello(r) => format!("hello {} extended={}", r.host(), r.is_extended()),
        ServerEvent::StartTls(_) => "starttls".to_string(),
        ServerEvent::Auth(r) => format!("auth {}", r.credentials().identity()),
        ServerEvent::AuthKeys(r) => format!("auth keys for {}", r.user().username()),
        ServerEvent::Mail(r) => format!("mail {}", r.from()),
        ServerEvent::Rcpt(r) => format!("rcpt {}", r.to()),
        ServerEvent::Data(r) => format!("data chunked={}", r.is_chunked()),
        ServerEvent::Content(chunk) => {
            let text = String::from_utf8_lossy(chunk);
            if let Some(last) = events.last_mut() {
                if let Some(previous) = last.strip_prefix("content ") {
                    *last = format!("content {previous}{text}");
                    return;
                }
            }
            format!("content {text}")
        }
        ServerEvent::Message(r) => {
            let recipients: Vec<String> = r.recipients().iter().map(|p| p.to_string()).collect();
            format!("message {} octets to {}", r.size(), recipients.join(","))
        }
        ServerEvent::Verify(r) => format!("verify {} expand={}", r.argument(), r.is_expand()),
        ServerEvent::Etrn(r) => format!("etrn {}", r.argument()),
        ServerEvent::Xclient(r) => {
            let names: Vec<&str> = r.attributes().iter().map(|a| a.name().as_str()).collect();
            format!("xclient {}", names.join(","))
        }
        ServerEvent::Aborted(reason) => format!("aborted {reason:?}"),
    };
    events.push(line);
}

/// Splits a `C:`/`S:` transcript into the client's input and the server's
/// expected output, each line ending in CRLF.
pub fn transcript(script: &str) -> (String, String) {
    let mut client = String::new();
    let mut server = String::new();
    for line in script.lines().map(str::trim_start) {
        if let Some(c) = line.strip_prefix("C: ") {
            client.push_str(c);
            client.push_str("\r\n");
        } else if let Some(s) = line.strip_prefix("S: ") {
            server.push_str(s);
            server.push_str("\r\n");
        } else if line == "C:" {
            client.push_str("\r\n");
        }
    }
    (client, server)
}

/// The client's lines grouped as a client that waits for replies sends them:
/// the `C:` lines between two `S:` lines go together.
pub fn client_turns(script: &str) -> Vec<String> {
    let mut turns = vec![String::new()];
    for line in script.lines().map(str::trim_start) {
        let text = match line.strip_prefix("C: ") {
            Some(text) => text,
            None if line == "C:" => "",
            None => {
                if line.starts_with("S:") && turns.last().is_some_and(|t| !t.is_empty()) {
                    turns.push(String::new());
                }
                continue;
            }
        };
        if let Some(turn) = turns.last_mut() {
            turn.push_str(text);
            turn.push_str("\r\n");
        }
    }
    turns.retain(|turn| !turn.is_empty());
    turns
}

/// Runs a transcript, each client turn sent once the replies before it are
/// out, and checks the server said exactly the `S:` lines.
pub fn check_transcript(
    config: ServerConfig,
    script: &str,
    decide: &mut dyn FnMut(&ServerEvent) -> Verdict,
) -> Run {
    let (_, server) = transcript(script);
    let turns = client_turns(script);
    let chunks: Vec<&[u8]> = turns.iter().map(String::as_bytes).collect();
    let run = run(config, &chunks, decide);
    assert_eq!(
        run.output, server,
        "server output differs from the transcript"
    );
    run
}
