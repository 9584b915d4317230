//! The application side of one connection: what the server decides for each
//! event, and where message content goes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use smtpwire::reply::{EnhancedStatusCode, ReplyCode};
use smtpwire::server::{AbortReason, MessageRequest, Reject, ServerEvent, ServerSession};
use smtpwire::Text;

use super::maildir::TmpMessage;
use super::rules::refusal;
use super::Shared;
use crate::trace::{Received, Via};

/// What one connection knows about its client, and the open transaction.
pub struct Handler {
    shared: Arc<Shared>,
    client: SocketAddr,
    helo: Option<(String, bool)>,
    tls: bool,
    user: Option<String>,
    envelope: Option<Envelope>,
    connected: Instant,
}

/// The open transaction.
struct Envelope {
    from: String,
    recipients: Vec<String>,
    started: Instant,
    /// One file per stored copy: one in SMTP mode, one per recipient in LMTP
    /// mode; none when discarding.
    copies: Vec<TmpMessage>,
    /// Content that could not be written: the message will be refused with
    /// 451 when it ends.
    failed: bool,
    size: u64,
}

impl Handler {
    /// A handler for a client connected from `client`.
    pub fn new(shared: Arc<Shared>, client: SocketAddr) -> Self {
        Handler {
            shared,
            client,
            helo: None,
            tls: false,
            user: None,
            envelope: None,
            connected: Instant::now(),
        }
    }

    /// Whether a message transaction is open (MAIL accepted, not yet ended).
    pub fn in_transaction(&self) -> bool {
        self.envelope.is_some()
    }

    /// Whether the transport is TLS.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// The transport became TLS: as the session does (RFC 3207 §4.2), forget
    /// what the client said before.
    pub fn tls_established(&mut self) {
        self.tls = true;
        self.helo = None;
        self.user = None;
    }

    /// Answers one event from the session.
    pub async fn handle(&mut self, session: &mut ServerSession, event: ServerEvent) {
        match event {
            ServerEvent::Connect(request) => {
                if let Some(source) = request.proxy().and_then(|header| header.source()) {
                    self.client = source;
                }
                decide(session.accept(request));
            }
            ServerEvent::Hello(request) => {
                self.helo = Some((escaped(request.host()), request.is_extended()));
                decide(session.accept(request));
            }
            ServerEvent::StartTls(request) => match self.shared.tls {
                Some(_) => decide(session.accept(request)),
                None => decide(session.reject(request, tls_unavailable())),
            },
            ServerEvent::Auth(request) => {
                let valid = self
                    .shared
                    .users
                    .as_ref()
                    .is_some_and(|users| users.verify(request.credentials()));
                if valid {
                    self.user = Some(escaped(request.credentials().identity()));
                    decide(session.accept(request));
                } else {
                    decide(session.reject(request, bad_credentials()));
                }
            }
            ServerEvent::Mail(request) => {
                self.envelope = Some(Envelope {
                    from: escaped(request.from()),
                    recipients: Vec::new(),
                    started: Instant::now(),
                    copies: Vec::new(),
                    failed: false,
                    size: 0,
                });
                decide(session.accept(request));
            }
            ServerEvent::Rcpt(request) => {
                let Some(envelope) = &mut self.envelope else {
                    decide(session.reject(request, Reject::temporary()));
                    return;
                };
                let recipient = escaped(request.to());
                match self.shared.rules.check(&envelope.from, &recipient) {
                    Some(refusal) => decide(session.reject(request, refusal)),
                    None => {
                        envelope.recipients.push(recipient);
                        decide(session.accept(request));
                    }
                }
            }
            ServerEvent::Data(request) => match self.open_copies().await {
                Ok(()) => decide(session.accept(request)),
                Err(error) => {
                    eprintln!("{}: cannot store a message: {error}", self.client);
                    decide(session.reject(request, Reject::temporary()));
                }
            },
            ServerEvent::Content(chunk) => self.write(&chunk).await,
            ServerEvent::Message(request) => self.finish(session, request).await,
            ServerEvent::Aborted(reason) => self.abort(reason).await,
            other => decide(session.accept_event(other)),
        }
    }

    /// Starts the tmp files of the open transaction, trace fields first.
    async fn open_copies(&mut self) -> std::io::Result<()> {
        let Some(store) = &self.shared.store else {
            return Ok(());
        };
        let Some(envelope) = &mut self.envelope else {
            return Ok(());
        };
        let (helo, extended) = self.helo.clone().unwrap_or_default();
        let via = Via {
            lmtp: self.shared.lmtp,
            extended,
            tls: self.tls,
            authenticated: self.user.is_some(),
        };
        let now = SystemTime::now();
        // LMTP delivers to each recipient on its own (RFC 2033 §4.2), so each
        // gets its own copy and its own outcome.
        let groups: Vec<Vec<&String>> = if self.shared.lmtp {
            envelope.recipients.iter().map(|r| vec![r]).collect()
        } else {
            vec![envelope.recipients.iter().collect()]
        };
        for group in groups {
            let name = store.unique_name();
            let mut head = format!("Return-Path: {}\r\n", envelope.from);
            let label = if self.shared.lmtp {
                "Delivered-To"
            } else {
                "X-Envelope-To"
            };
            for recipient in &group {
                head.push_str(&format!("{label}: {recipient}\r\n"));
            }
            let received = Received {
                helo: &helo,
                client: self.client,
                by: &self.shared.hostname,
                via,
                id: &name,
                recipient: (group.len() == 1).then(|| group[0].as_str()),
                time: now,
            };
            head.push_str(&received.to_field());
            let copy = store.begin(name, head.as_bytes()).await?;
            envelope.copies.push(copy);
        }
        Ok(())
    }

    async fn write(&mut self, chunk: &[u8]) {
        let Some(envelope) = &mut self.envelope else {
            return;
        };
        envelope.size += chunk.len() as u64;
        if envelope.failed {
            return;
        }
        for copy in &mut envelope.copies {
            if let Err(error) = copy.write(chunk).await {
                eprintln!("{}: writing {} failed: {error}", self.client, copy.name());
                envelope.failed = true;
                break;
            }
        }
        if envelope.failed {
            for copy in envelope.copies.drain(..) {
                copy.discard().await;
            }
        }
    }

    /// The end of a message: make every copy durable, then answer. The
    /// positive reply is only sent once the file is safely in `new/`.
    async fn finish(&mut self, session: &mut ServerSession, request: MessageRequest) {
        let Some(envelope) = self.envelope.take() else {
            decide(session.reject(request, Reject::temporary()));
            return;
        };
        let mut outcomes: Vec<Result<String, Reject>> = Vec::new();
        match (&self.shared.store, envelope.failed) {
            (_, true) => outcomes.push(Err(Reject::temporary())),
            (None, false) => outcomes.push(Ok("discarded".to_string())),
            (Some(store), false) => {
                for copy in envelope.copies {
                    let name = copy.name().to_string();
                    outcomes.push(match store.deliver(copy).await {
                        Ok(_) => Ok(name),
                        Err(error) => {
                            eprintln!("{}: delivering {name} failed: {error}", self.client);
                            Err(Reject::temporary())
                        }
                    });
                }
            }
        }
        let summary = summarize(&outcomes);
        let delivered = outcomes.iter().filter(|outcome| outcome.is_ok()).count();
        if self.shared.lmtp {
            // A failed write or the discard mode gives one outcome for all.
            let recipients = request.recipients().len();
            let all: Vec<Result<(), Reject>> = match outcomes.as_slice() {
                [single] if recipients != 1 => {
                    vec![single.clone().map(drop); recipients]
                }
                _ => outcomes
                    .into_iter()
                    .map(|outcome| outcome.map(drop))
                    .collect(),
            };
            decide(session.deliver(request, all));
        } else {
            match outcomes.into_iter().next() {
                Some(Ok(id)) => match Text::new(&format!("queued as {id}")) {
                    Ok(text) => decide(session.accept_with(request, text)),
                    Err(_) => decide(session.accept(request)),
                },
                Some(Err(reject)) => decide(session.reject(request, reject)),
                None => decide(session.reject(request, Reject::temporary())),
            }
        }
        if delivered > 0 {
            self.shared.stats.message_accepted();
        }
        self.log(
            &envelope.from,
            &envelope.recipients,
            envelope.size,
            &summary,
            envelope.started,
        );
    }

    /// The connection is gone: drop what the transaction had written.
    pub async fn disconnected(&mut self) {
        self.abort(AbortReason::Disconnected).await;
    }

    async fn abort(&mut self, reason: AbortReason) {
        let Some(envelope) = self.envelope.take() else {
            return;
        };
        for copy in envelope.copies {
            copy.discard().await;
        }
        let outcome = format!("aborted ({reason:?})");
        self.log(
            &envelope.from,
            &envelope.recipients,
            envelope.size,
            &outcome,
            envelope.started,
        );
    }

    /// One line per connection as it ends, with why (the session's
    /// [`CloseReason`](smtpwire::server::CloseReason), or what ended the
    /// transport), for operators and tools such as fail2ban.
    pub fn closed(&self, reason: &str) {
        super::txlog::write(format_args!(
            "{} closed reason={reason} elapsed={:.1}s",
            self.client,
            self.connected.elapsed().as_secs_f64(),
        ));
    }

    /// One line per transaction on stderr.
    fn log(&self, from: &str, recipients: &[String], size: u64, outcome: &str, started: Instant) {
        super::txlog::write(format_args!(
            "{} from={from} to={} size={size} outcome={outcome} elapsed={:.1}ms",
            self.client,
            Joined(recipients),
            started.elapsed().as_secs_f64() * 1000.0,
        ));
    }
}

/// What the client said, for a header field or the log: control characters,
/// which a server may be configured to take in addresses (and which a SASL
/// identity may hold), are written as `\u{…}` escapes so that they cannot
/// break or forge a line.
fn escaped(value: &impl std::fmt::Display) -> String {
    let text = value.to_string();
    if !text.chars().any(is_unsafe) {
        return text;
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_unsafe(c) {
            out.push_str(&c.escape_unicode().to_string());
        } else {
            out.push(c);
        }
    }
    out
}

/// C0 and C1 controls, DEL and the Unicode line and paragraph separators.
fn is_unsafe(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}')
}

/// Addresses separated by commas, written without a joined copy.
struct Joined<'a>(&'a [String]);

impl std::fmt::Display for Joined<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (index, address) in self.0.iter().enumerate() {
            if index > 0 {
                f.write_str(",")?;
            }
            f.write_str(address)?;
        }
        Ok(())
    }
}

fn summarize(outcomes: &[Result<String, Reject>]) -> String {
    let parts: Vec<String> = outcomes
        .iter()
        .map(|outcome| match outcome {
            Ok(name) => format!("250 {name}"),
            Err(reject) => reject.reply().code().as_u16().to_string(),
        })
        .collect();
    parts.join(",")
}

/// A decision the session was not waiting for is a bug in this handler.
fn decide(result: Result<(), smtpwire::server::DecisionError>) {
    match result {
        // The session was shut down or timed out while this was decided.
        Ok(()) | Err(smtpwire::server::DecisionError::Closed) => {}
        Err(error) => eprintln!("internal error: {error}"),
    }
}

/// RFC 4954 §6: 535 5.7.8.
fn bad_credentials() -> Reject {
    refusal(
        ReplyCode::AUTH_CREDENTIALS_INVALID,
        EnhancedStatusCode::AUTH_CREDENTIALS_INVALID,
        "Authentication credentials invalid",
    )
}

/// RFC 3207 §4: 454 when TLS cannot be started.
fn tls_unavailable() -> Reject {
    refusal(
        ReplyCode::TEMPORARY_AUTH_FAILURE,
        EnhancedStatusCode::SECURITY_TEMPORARY_FAILURE,
        "TLS not available due to temporary reason",
    )
}

#[cfg(test)]
mod tests {
    use super::escaped;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(escaped(&"a@example.org"), "a@example.org");
        assert_eq!(
            escaped(&"<a\u{85}b\u{2028}@example.org>"),
            "<a\\u{85}b\\u{2028}@example.org>"
        );
        assert_eq!(escaped(&"x\ty"), "x\\u{9}y");
    }
}
