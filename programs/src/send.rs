//! The sender: settings, and a run of many messages over one or more
//! connections.

pub mod connection;
pub mod message;
pub mod report;
pub mod tls;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use smtpwire::client::{ClientConfig, Envelope};
use smtpwire::{ForwardPath, ReversePath};

use connection::Connection;
use report::{Outcome, Tracker};

/// Where and how to send.
#[derive(Clone)]
pub struct Settings {
    /// `host:port`.
    pub server: String,
    /// The session's configuration: hello name, protocol, STARTTLS, AUTH,
    /// PIPELINING and CHUNKING.
    pub config: ClientConfig,
    /// How to upgrade for STARTTLS; `None` when it cannot happen.
    pub upgrade: Option<tls::Upgrade>,
    /// The reverse path.
    pub from: ReversePath,
    /// The recipients of every message.
    pub to: Vec<ForwardPath>,
}

impl Settings {
    /// The envelope for `content`, declaring 8-bit content (RFC 6152 §3).
    fn envelope(&self, content: &[u8]) -> Envelope {
        let mut envelope = Envelope::new(self.from.clone());
        for recipient in &self.to {
            envelope.add_recipient(recipient.clone());
        }
        envelope.mail_params.body = message::body_type(content);
        envelope
    }
}

/// The content of message `number` (counting from 0 over the whole run).
pub type ContentFor = Arc<dyn Fn(usize) -> Bytes + Send + Sync>;

/// What a run did.
pub struct Run {
    /// Each message's number and outcome, in number order.
    pub outcomes: Vec<(usize, Outcome)>,
    /// Session and transport errors, each with its connection's number.
    pub errors: Vec<(usize, String)>,
    /// Messages meant to be sent.
    pub count: usize,
    /// From the first connect to the last close.
    pub elapsed: Duration,
}

impl Run {
    /// Messages every recipient got.
    pub fn delivered(&self) -> usize {
        self.outcomes
            .iter()
            .filter(|(_, outcome)| outcome.all_delivered())
            .count()
    }

    /// Whether every message reached every recipient without an error.
    pub fn succeeded(&self) -> bool {
        self.errors.is_empty() && self.delivered() == self.count
    }
}

/// Sends `count` messages over `connections` parallel connections, message
/// `n` on connection `n % connections`, each connection queueing all of its
/// messages at once and ending with QUIT.
pub async fn run(
    settings: Arc<Settings>,
    content: ContentFor,
    count: usize,
    connections: usize,
) -> Run {
    let connections = connections.clamp(1, count.max(1));
    let started = Instant::now();
    let tasks: Vec<_> = (0..connections)
        .map(|number| {
            let settings = settings.clone();
            let content = content.clone();
            let messages: Vec<usize> = (number..count).step_by(connections).collect();
            tokio::spawn(async move { one_connection(&settings, &content, messages).await })
        })
        .collect();
    let mut outcomes = Vec::with_capacity(count);
    let mut errors = Vec::new();
    for (number, task) in tasks.into_iter().enumerate() {
        match task.await {
            Ok((done, failed)) => {
                outcomes.extend(done);
                errors.extend(failed.into_iter().map(|error| (number, error)));
            }
            Err(error) => errors.push((number, format!("task failed: {error}"))),
        }
    }
    outcomes.sort_by_key(|(number, _)| *number);
    Run {
        outcomes,
        errors,
        count,
        elapsed: started.elapsed(),
    }
}

/// One connection's share: its outcomes by message number, and its errors.
async fn one_connection(
    settings: &Settings,
    content: &ContentFor,
    messages: Vec<usize>,
) -> (Vec<(usize, Outcome)>, Vec<String>) {
    let mut tracker = Tracker::default();
    let mut ids = Vec::with_capacity(messages.len());
    let mut errors = Vec::new();
    let opened = Connection::open(
        settings.server.as_str(),
        settings.config.clone(),
        settings.upgrade.clone(),
    );
    match opened.await {
        Ok(mut connection) => {
            for &number in &messages {
                let content = content(number);
                if let Err(error) = message::check(&content, settings.config.long_lines) {
                    errors.push(format!("message {number} not sent: {error}"));
                    continue;
                }
                match connection.send(settings.envelope(&content), content) {
                    Ok(id) => {
                        tracker.queued(id, &settings.to);
                        ids.push((number, id));
                    }
                    Err(error) => errors.push(format!("message {number} not queued: {error}")),
                }
            }
            connection.quit();
            connection.drive().await;
            for event in connection.take_events() {
                tracker.record(event);
            }
            if let Some(error) = connection.failure() {
                errors.push(format!("connection: {error}"));
                tracker.abandon(&format!("connection lost: {error}"));
            }
        }
        Err(error) => errors.push(format!("connect to {}: {error}", settings.server)),
    }
    errors.append(&mut tracker.errors);
    let outcomes = ids
        .into_iter()
        .filter_map(|(number, id)| Some((number, tracker.outcome(id)?.clone())))
        .collect();
    (outcomes, errors)
}
