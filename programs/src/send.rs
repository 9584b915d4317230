//! The sender: settings, and a run of many messages over one or more
//! connections of the driver's [`Client`](smtpwire_tokio::client::Client), each outcome reported as its
//! transaction ends and then dropped, so a run of any length holds only
//! the few messages in flight on each connection.

pub mod message;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use smtpwire::auth::{Credentials, Mechanism};
use smtpwire::client::{AuthConfig, Envelope};
use smtpwire::{ForwardPath, ReversePath};
use smtpwire_tokio::client::{ClientBuilder, Error, Message, Outcome};
use tokio::sync::mpsc;

/// Messages queued on a connection ahead of their outcomes: more than the
/// two transactions the session pipelines at once (RFC 2920 §3.1), so the
/// next envelope is always ready to go behind an end of data, and few
/// enough that a connection's share of the run is never held whole.
const AHEAD: usize = 8;

/// Reports waiting between the connections and the caller: a caller that
/// falls behind holds the connections back rather than letting reports
/// pile up.
const REPORT_QUEUE: usize = 256;

/// `--auth`'s mechanisms, best first: SCRAM proves the password without
/// sending it (RFC 5802), -PLUS binds that proof to the TLS connection
/// (RFC 9266; the driver has the binding on TLS 1.3 only), and PLAIN and
/// LOGIN are for servers without SCRAM.
pub const AUTH_PREFERENCE: [Mechanism; 4] = [
    Mechanism::ScramSha256Plus,
    Mechanism::ScramSha256,
    Mechanism::Plain,
    Mechanism::Login,
];

/// The AUTH settings `--auth` makes from `credentials`.
pub fn auth_config(credentials: Credentials) -> AuthConfig {
    AuthConfig::new(credentials).with_mechanisms(AUTH_PREFERENCE.to_vec())
}

/// Where and how to send.
#[derive(Clone)]
pub struct Settings {
    /// `host:port`.
    pub server: String,
    /// How each connection is made: hello name, protocol, STARTTLS and
    /// what it trusts, AUTH, PIPELINING, CHUNKING, long lines, timeouts.
    pub client: ClientBuilder,
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

/// What a run reports as it goes.
#[derive(Debug)]
pub enum Report {
    /// Message `number`'s outcome, as its transaction ended.
    Outcome {
        /// The message, counting from 0 over the whole run.
        number: usize,
        /// Each recipient's status.
        outcome: Outcome,
    },
    /// Message `number` was refused before anything of it was sent.
    NotSent {
        /// The message.
        number: usize,
        /// Why.
        error: String,
    },
    /// Connection `connection` failed or could not be made; `unsent`
    /// messages of its share were never queued.
    Connection {
        /// The connection, counting from 0.
        connection: usize,
        /// Why.
        error: String,
        /// Messages it was to carry that were never queued.
        unsent: usize,
    },
}

/// What a run came to, counted: the outcomes themselves went to the
/// caller as they came.
#[derive(Debug)]
pub struct Run {
    /// Messages every recipient got.
    pub delivered: usize,
    /// Messages not sent and connection failures.
    pub errors: usize,
    /// Messages meant to be sent.
    pub count: usize,
    /// From the first connect to the last close.
    pub elapsed: Duration,
}

impl Run {
    /// Whether every message reached every recipient without an error.
    pub fn succeeded(&self) -> bool {
        self.errors == 0 && self.delivered == self.count
    }
}

/// Sends `count` messages over `connections` parallel connections, message
/// `n` on connection `n % connections`, each connection keeping a few
/// messages queued ahead and ending with QUIT. Each [`Report`] goes to
/// `report` as it comes.
pub async fn run(
    settings: Arc<Settings>,
    content: ContentFor,
    count: usize,
    connections: usize,
    mut report: impl FnMut(Report),
) -> Run {
    let connections = connections.clamp(1, count.max(1));
    let started = Instant::now();
    let (reports, mut incoming) = mpsc::channel(REPORT_QUEUE);
    let tasks: Vec<_> = (0..connections)
        .map(|number| {
            let (settings, content, reports) = (settings.clone(), content.clone(), reports.clone());
            let share = (number..count).step_by(connections);
            tokio::spawn(async move {
                let reports = Reporter { number, reports };
                one_connection(&settings, &content, share, &reports).await;
            })
        })
        .collect();
    drop(reports);
    let mut run = Run {
        delivered: 0,
        errors: 0,
        count,
        elapsed: Duration::ZERO,
    };
    while let Some(next) = incoming.recv().await {
        match &next {
            Report::Outcome { outcome, .. } if outcome.all_accepted() => run.delivered += 1,
            Report::Outcome { .. } => {}
            Report::NotSent { .. } | Report::Connection { .. } => run.errors += 1,
        }
        report(next);
    }
    for (connection, task) in tasks.into_iter().enumerate() {
        if let Err(error) = task.await {
            run.errors += 1;
            report(Report::Connection {
                connection,
                error: format!("task failed: {error}"),
                unsent: 0,
            });
        }
    }
    run.elapsed = started.elapsed();
    run
}

/// One connection's way of reporting.
struct Reporter {
    number: usize,
    reports: mpsc::Sender<Report>,
}

impl Reporter {
    async fn send(&self, report: Report) {
        // The receiver lives until every connection is done.
        let _ = self.reports.send(report).await;
    }

    async fn failed(&self, error: impl std::fmt::Display, unsent: usize) {
        let (connection, error) = (self.number, error.to_string());
        self.send(Report::Connection {
            connection,
            error,
            unsent,
        })
        .await;
    }
}

/// One connection's share of the run: messages `share`, reported through
/// `reports`.
async fn one_connection(
    settings: &Settings,
    content: &ContentFor,
    mut share: impl Iterator<Item = usize>,
    reports: &Reporter,
) {
    let mut client = match settings.client.clone().connect(&settings.server).await {
        Ok(client) => client,
        Err(error) => {
            let error = format!("connect to {}: {error}", settings.server);
            return reports.failed(error, share.count()).await;
        }
    };
    // Queued messages' numbers, in queue order, which is the order their
    // transactions end in.
    let mut in_flight = VecDeque::with_capacity(AHEAD);
    let mut queueing = true;
    loop {
        while queueing && client.queued() < AHEAD {
            let Some(number) = share.next() else {
                queueing = false;
                break;
            };
            let content = content(number);
            let message = Message::with_envelope(settings.envelope(&content), content);
            match client.queue(message) {
                Ok(id) => in_flight.push_back((id, number)),
                Err(Error::Refused(error)) => {
                    let error = error.to_string();
                    reports.send(Report::NotSent { number, error }).await;
                }
                Err(error) => {
                    queueing = false;
                    reports.failed(error, 1 + share.by_ref().count()).await;
                }
            }
        }
        match client.next_outcome().await {
            Ok(Some(outcome)) => {
                let at = in_flight.iter().position(|(id, _)| *id == outcome.id());
                if let Some((_, number)) = at.and_then(|at| in_flight.remove(at)) {
                    reports.send(Report::Outcome { number, outcome }).await;
                }
            }
            Ok(None) => break,
            Err(error) => {
                queueing = false;
                reports.failed(error, share.by_ref().count()).await;
            }
        }
    }
    if let Err(error) = client.quit().await {
        reports.failed(error, 0).await;
    }
}
