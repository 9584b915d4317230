//! What happened to each message and each recipient, from the session's
//! events.

use std::collections::BTreeMap;
use std::fmt;

use smtpwire::client::{ClientEvent, TransactionFailure, TransactionId};
use smtpwire::{ForwardPath, Reply};

/// Where one recipient stands.
#[derive(Debug, Clone)]
pub enum Delivery {
    /// Not settled: the message ended without a word on it.
    Unknown,
    /// RCPT was accepted; the end of data is still to come.
    RcptAccepted(Reply),
    /// The server took the message for this recipient.
    Delivered(Reply),
    /// The server refused this recipient (at RCPT, or after the content).
    Refused(Reply),
    /// The message failed for a reason that is not a reply to it.
    Failed(String),
}

impl Delivery {
    /// Whether the recipient got the message.
    pub fn is_delivered(&self) -> bool {
        matches!(self, Delivery::Delivered(_))
    }
}

impl fmt::Display for Delivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Delivery::Unknown => f.write_str("unknown"),
            Delivery::RcptAccepted(reply) => write!(f, "accepted at RCPT only: {}", show(reply)),
            Delivery::Delivered(reply) => write!(f, "delivered: {}", show(reply)),
            Delivery::Refused(reply) => write!(f, "refused: {}", show(reply)),
            Delivery::Failed(why) => write!(f, "failed: {why}"),
        }
    }
}

/// One message's outcome.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Each recipient, in envelope order.
    pub recipients: Vec<(ForwardPath, Delivery)>,
    /// The reply that accepted the message, or why it failed; `None` while
    /// it is open.
    pub result: Option<Result<Reply, String>>,
}

impl Outcome {
    /// Whether every recipient got the message.
    pub fn all_delivered(&self) -> bool {
        matches!(self.result, Some(Ok(_)))
            && self
                .recipients
                .iter()
                .all(|(_, delivery)| delivery.is_delivered())
    }
}

/// Collects the outcome of every queued message.
#[derive(Debug, Default)]
pub struct Tracker {
    messages: BTreeMap<TransactionId, Outcome>,
    /// Session errors, in order.
    pub errors: Vec<String>,
}

impl Tracker {
    /// Starts tracking a message just queued.
    pub fn queued(&mut self, id: TransactionId, recipients: &[ForwardPath]) {
        let recipients = recipients
            .iter()
            .map(|path| (path.clone(), Delivery::Unknown))
            .collect();
        self.messages.insert(
            id,
            Outcome {
                recipients,
                result: None,
            },
        );
    }

    /// Takes in what the session reported.
    pub fn record(&mut self, event: ClientEvent) {
        match event {
            ClientEvent::RecipientAccepted {
                id,
                recipient,
                reply,
                ..
            } => self.settle(id, &recipient, Delivery::RcptAccepted(reply)),
            ClientEvent::RecipientRejected {
                id,
                recipient,
                reply,
                ..
            } => self.settle(id, &recipient, Delivery::Refused(reply)),
            // LMTP (RFC 2033 §4.2): one reply per accepted recipient.
            ClientEvent::RecipientDelivery {
                id,
                recipient,
                reply,
                ..
            } => {
                let delivery = if reply.code().is_positive() {
                    Delivery::Delivered(reply)
                } else {
                    Delivery::Refused(reply)
                };
                self.settle(id, &recipient, delivery);
            }
            ClientEvent::MessageAccepted { id, reply } => {
                if let Some(outcome) = self.messages.get_mut(&id) {
                    // SMTP: the one reply to the end of data covers every
                    // recipient RCPT accepted.
                    for (_, delivery) in &mut outcome.recipients {
                        if matches!(delivery, Delivery::RcptAccepted(_)) {
                            *delivery = Delivery::Delivered(reply.clone());
                        }
                    }
                    outcome.result = Some(Ok(reply));
                }
            }
            ClientEvent::TransactionFailed { id, failure } => {
                if let Some(outcome) = self.messages.get_mut(&id) {
                    let settled = match &failure {
                        TransactionFailure::MailRejected(reply)
                        | TransactionFailure::DataRejected(reply)
                        | TransactionFailure::MessageRejected(reply) => {
                            Delivery::Refused(reply.clone())
                        }
                        other => Delivery::Failed(describe(other)),
                    };
                    for (_, delivery) in &mut outcome.recipients {
                        if matches!(delivery, Delivery::Unknown | Delivery::RcptAccepted(_)) {
                            *delivery = settled.clone();
                        }
                    }
                    outcome.result = Some(Err(describe(&failure)));
                }
            }
            ClientEvent::Error(error) => self.errors.push(error.to_string()),
            ClientEvent::Greeting(_)
            | ClientEvent::Capabilities(_)
            | ClientEvent::Authenticated(_)
            | ClientEvent::NoopReply(_) => {}
        }
    }

    /// Marks every message still open as failed for `why` (the connection
    /// was lost before the session could say).
    pub fn abandon(&mut self, why: &str) {
        for outcome in self.messages.values_mut() {
            if outcome.result.is_none() {
                for (_, delivery) in &mut outcome.recipients {
                    if matches!(delivery, Delivery::Unknown | Delivery::RcptAccepted(_)) {
                        *delivery = Delivery::Failed(why.to_string());
                    }
                }
                outcome.result = Some(Err(why.to_string()));
            }
        }
    }

    /// The outcome of message `id`.
    pub fn outcome(&self, id: TransactionId) -> Option<&Outcome> {
        self.messages.get(&id)
    }

    fn settle(&mut self, id: TransactionId, recipient: &ForwardPath, delivery: Delivery) {
        let Some(outcome) = self.messages.get_mut(&id) else {
            return;
        };
        // The first recipient of that name not settled further: a repeated
        // recipient gets its replies in envelope order.
        let next = outcome.recipients.iter_mut().find(|(path, current)| {
            path == recipient
                && matches!(
                    (&delivery, current),
                    (
                        Delivery::RcptAccepted(_) | Delivery::Refused(_),
                        Delivery::Unknown
                    ) | (
                        Delivery::Delivered(_) | Delivery::Refused(_),
                        Delivery::RcptAccepted(_)
                    )
                )
        });
        if let Some((_, current)) = next {
            *current = delivery;
        }
    }
}

/// `250 2.0.0 Ok: queued`, every line of a multi-line reply joined by ` / `.
pub fn show(reply: &Reply) -> String {
    let mut text = reply.code().as_u16().to_string();
    if let Some(enhanced) = reply.enhanced() {
        text.push(' ');
        text.push_str(&enhanced.to_string());
    }
    let lines: Vec<&str> = reply.lines().collect();
    text.push(' ');
    text.push_str(&lines.join(" / "));
    text
}

fn describe(failure: &TransactionFailure) -> String {
    match failure {
        TransactionFailure::Refused(error) => format!("refused by the client: {error}"),
        TransactionFailure::MailRejected(reply) => format!("MAIL refused: {}", show(reply)),
        TransactionFailure::NoValidRecipients => "every recipient was refused".to_string(),
        TransactionFailure::DataRejected(reply) => format!("content refused: {}", show(reply)),
        TransactionFailure::MessageRejected(reply) => format!("message refused: {}", show(reply)),
        TransactionFailure::NotSent => "not sent: the session ended first".to_string(),
        TransactionFailure::Interrupted => {
            "interrupted: the session ended during the transaction".to_string()
        }
        other => other.to_string(),
    }
}
