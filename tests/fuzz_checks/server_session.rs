//! A server session fed arbitrary input in arbitrary chunks, with arbitrary
//! decisions, never panics, always answers with well-formed replies, and keeps
//! its buffers within the configured bounds.

use smtpwire::auth::Mechanism;
use smtpwire::framing::ReplyAssembler;
use smtpwire::reply::{Reply, ReplyCode};
use smtpwire::server::{AuthPolicy, Reject, ServerConfig, ServerSession, SyncPolicy};
use smtpwire::{ServerOutput, Text};

pub fn check(data: &[u8]) {
    let Some((&control, input)) = data.split_first() else {
        return;
    };
    let mut config = ServerConfig::new(Text::from_static("mx.example.org"));
    config.capabilities.auth = vec![Mechanism::Plain, Mechanism::Login];
    config.capabilities.starttls = control & 1 != 0;
    config.auth_policy = AuthPolicy::AllowCleartext;
    config.proxy_protocol = control & 2 != 0;
    if control & 4 != 0 {
        // Most inputs pipeline where they must not; without this bit the
        // session would close on them before reaching deeper states.
        config.pipelining_sync = SyncPolicy::Relaxed;
    }
    config.limits.message_size = 64;
    config.limits.pending_input = 256;
    config.limits.pending_output = 256;
    let limits = config.limits;
    let mut session = ServerSession::new(config);
    let chunk = 1 + usize::from(control >> 3);
    let mut decisions = input.iter().rev().cycle();
    let mut replies = ReplyAssembler::new();
    let mut rest = input;
    loop {
        match session.poll_output() {
            ServerOutput::Transmit(bytes) => {
                assert!(bytes.len() <= limits.pending_output + 1024);
                replies.push(&bytes);
                while let Some(reply) = replies.next_reply() {
                    reply.expect("the server only sends well-formed replies");
                }
            }
            ServerOutput::Event(event) => {
                if event.is_request() {
                    let result = if decisions.next().is_some_and(|b| b & 1 == 0) {
                        session.accept(event)
                    } else {
                        let reply = Reply::new(ReplyCode::new_const(550), Text::from_static("no"));
                        session.reject(event, Reject::new(reply).expect("5xx"))
                    };
                    result.expect("the session waits for the decision it asked for");
                }
            }
            ServerOutput::StartTls => session.tls_established(),
            ServerOutput::NeedInput | ServerOutput::AwaitingDecision => {
                if rest.is_empty() {
                    session.receive_eof();
                    if matches!(session.poll_output(), ServerOutput::Closed) {
                        break;
                    }
                    continue;
                }
                let end = chunk.min(rest.len());
                let taken = session.receive(&rest[..end]);
                rest = &rest[taken..];
            }
            ServerOutput::Closed => break,
        }
    }
    assert_eq!(replies.buffered(), 0, "every reply was complete");
}
