//! What is sent, and what became of it.

use std::collections::VecDeque;
use std::fmt;

use bytes::Bytes;
use smtpwire::client::{ClientEvent, Envelope, TransactionFailure, TransactionId};
use smtpwire::{BodyType, ForwardPath, Reply, ReversePath};

use super::error::UsageError;

/// One message: its envelope and its content.
///
/// The content is the whole RFC 5322 message (header, blank line, body)
/// as it is; the driver dot-stuffs it for DATA and repairs bare line ends
/// as the session's configuration says.
#[derive(Debug, Clone)]
pub struct Message {
    envelope: Envelope,
    content: Bytes,
}

impl Message {
    /// A message from `from` to each of `to`, addresses written with or
    /// without angle brackets (`""` or `"<>"` for the null sender of a
    /// bounce). Content with an octet above 127 is declared
    /// `BODY=8BITMIME` (RFC 6152 §3), so a server without 8BITMIME refuses
    /// it rather than get it unannounced.
    pub fn new<T: AsRef<str>>(
        from: &str,
        to: impl IntoIterator<Item = T>,
        content: impl Into<Bytes>,
    ) -> Result<Self, UsageError> {
        let from = ReversePath::parse(&bracketed(from)).map_err(|reason| invalid(from, reason))?;
        let mut envelope = Envelope::new(from);
        for recipient in to {
            let recipient = recipient.as_ref();
            let path = ForwardPath::parse(&bracketed(recipient))
                .map_err(|reason| invalid(recipient, reason))?;
            envelope.add_recipient(path);
        }
        if envelope.recipients.is_empty() {
            return Err(UsageError::NoRecipients);
        }
        let content = content.into();
        if !content.is_ascii() {
            envelope.mail_params.body = Some(BodyType::EightBitMime);
        }
        Ok(Message { envelope, content })
    }

    /// A message with an envelope built by the caller, for parameters
    /// [`new`](Self::new) does not set (DSN, SIZE, REQUIRETLS, …).
    pub fn with_envelope(envelope: Envelope, content: impl Into<Bytes>) -> Self {
        Message {
            envelope,
            content: content.into(),
        }
    }

    /// The envelope.
    pub fn envelope(&self) -> &Envelope {
        &self.envelope
    }

    /// The envelope, to add parameters.
    pub fn envelope_mut(&mut self) -> &mut Envelope {
        &mut self.envelope
    }

    /// The content.
    pub fn content(&self) -> &Bytes {
        &self.content
    }

    pub(super) fn into_parts(self) -> (Envelope, Bytes) {
        (self.envelope, self.content)
    }
}

/// `a@example.org` as the `<a@example.org>` a path needs.
fn bracketed(address: &str) -> String {
    if address.starts_with('<') {
        address.to_string()
    } else {
        format!("<{address}>")
    }
}

fn invalid(address: &str, reason: smtpwire::AddressError) -> UsageError {
    UsageError::InvalidAddress {
        address: address.to_string(),
        reason,
    }
}

/// What became of one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecipientStatus {
    /// The server took the message for this recipient: the reply to the
    /// end of data (SMTP), or this recipient's own reply after it (LMTP,
    /// RFC 2033 §4.2).
    Accepted(Reply),
    /// The server refused this recipient: its RCPT reply, the reply that
    /// refused the whole message (MAIL, DATA or the end of data), or, with
    /// LMTP, this recipient's reply after the end of data. A 4yz reply
    /// means the same message may be accepted later.
    Refused(Reply),
    /// No reply says what became of the recipient: the message was never
    /// sent or was cut off; [`Outcome::failure`] says why.
    NotDelivered,
}

impl RecipientStatus {
    /// Whether the server took the message for this recipient.
    pub fn is_accepted(&self) -> bool {
        matches!(self, RecipientStatus::Accepted(_))
    }
}

impl fmt::Display for RecipientStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecipientStatus::Accepted(reply) => write!(f, "accepted: {reply}"),
            RecipientStatus::Refused(reply) => write!(f, "refused: {reply}"),
            RecipientStatus::NotDelivered => f.write_str("not delivered"),
        }
    }
}

/// One recipient of a message and what became of it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecipientOutcome {
    /// The recipient, as in the envelope.
    pub recipient: ForwardPath,
    /// What became of it.
    pub status: RecipientStatus,
}

impl fmt::Display for RecipientOutcome {
    /// `<bob@example.net>: refused: 550 5.1.1 no such user`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.recipient, self.status)
    }
}

/// What became of one message: each recipient's status, in envelope order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    id: TransactionId,
    recipients: Vec<RecipientOutcome>,
    failure: Option<TransactionFailure>,
    events: Vec<ClientEvent>,
}

impl Outcome {
    /// The message, as [`Client::queue`](super::Client::queue) numbered it.
    pub fn id(&self) -> TransactionId {
        self.id
    }

    /// Each recipient and what became of it, in envelope order.
    pub fn recipients(&self) -> &[RecipientOutcome] {
        &self.recipients
    }

    /// Why no recipient got the message; `None` when at least one did.
    pub fn failure(&self) -> Option<&TransactionFailure> {
        self.failure.as_ref()
    }

    /// Whether every recipient got the message.
    pub fn all_accepted(&self) -> bool {
        self.recipients.iter().all(|r| r.status.is_accepted())
    }

    /// The session's events about this message, in the order they came,
    /// when [`ClientBuilder::record_events`](super::ClientBuilder::record_events)
    /// is on (empty otherwise): for policy that reads the replies
    /// themselves, such as [`smtpwire::delivery::Delivery::observe`].
    pub fn events(&self) -> &[ClientEvent] {
        &self.events
    }
}

/// Where one recipient stands while its message is in flight.
#[derive(Debug)]
enum Stage {
    /// Nothing heard yet.
    Waiting,
    /// RCPT accepted; the end of data decides.
    Taken,
    Done(RecipientStatus),
}

/// A message queued and not yet ended.
#[derive(Debug)]
struct Pending {
    id: TransactionId,
    recipients: Vec<(ForwardPath, Stage)>,
    events: Vec<ClientEvent>,
}

impl Pending {
    /// The recipient at `index` of the envelope, as the session's events
    /// name it.
    fn stage(&mut self, index: usize) -> Option<&mut Stage> {
        self.recipients.get_mut(index).map(|(_, stage)| stage)
    }

    /// Every recipient not yet decided gets `status`.
    fn end(
        self,
        status: impl Fn() -> RecipientStatus,
        failure: Option<TransactionFailure>,
    ) -> Outcome {
        let recipients = self
            .recipients
            .into_iter()
            .map(|(recipient, stage)| RecipientOutcome {
                recipient,
                status: match stage {
                    Stage::Done(status) => status,
                    Stage::Waiting | Stage::Taken => status(),
                },
            })
            .collect();
        Outcome {
            id: self.id,
            recipients,
            failure,
            events: self.events,
        }
    }
}

/// Builds each message's [`Outcome`] from the session's events; it holds
/// only the messages in flight and the outcomes the caller has not taken.
#[derive(Debug, Default)]
pub(super) struct Tracker {
    pending: VecDeque<Pending>,
    finished: VecDeque<Outcome>,
    /// Whether each outcome carries its events.
    pub record_events: bool,
}

impl Tracker {
    /// Message `id` was queued for `recipients`, in envelope order.
    pub fn expect(&mut self, id: TransactionId, recipients: Vec<ForwardPath>) {
        let recipients = recipients
            .into_iter()
            .map(|path| (path, Stage::Waiting))
            .collect();
        self.pending.push_back(Pending {
            id,
            recipients,
            events: Vec::new(),
        });
    }

    /// Messages queued whose outcome has not been taken.
    pub fn len(&self) -> usize {
        self.pending.len() + self.finished.len()
    }

    /// How many outcomes wait to be taken.
    pub fn finished(&self) -> usize {
        self.finished.len()
    }

    /// The oldest outcome not taken.
    pub fn next(&mut self) -> Option<Outcome> {
        self.finished.pop_front()
    }

    /// The outcome of message `id`, once it is in.
    pub fn take(&mut self, id: TransactionId) -> Option<Outcome> {
        let at = self.finished.iter().position(|outcome| outcome.id == id)?;
        self.finished.remove(at)
    }

    fn pending(&mut self, id: TransactionId) -> Option<&mut Pending> {
        self.pending.iter_mut().find(|pending| pending.id == id)
    }

    /// Takes an event about a message; the others are not its business.
    pub fn on_event(&mut self, event: ClientEvent) {
        if self.record_events {
            if let Some(pending) = event.transaction().and_then(|id| self.pending(id)) {
                pending.events.push(event.clone());
            }
        }
        match event {
            ClientEvent::RecipientAccepted { id, index, .. } => {
                if let Some(stage) = self.pending(id).and_then(|p| p.stage(index)) {
                    *stage = Stage::Taken;
                }
            }
            ClientEvent::RecipientRejected {
                id, index, reply, ..
            } => {
                if let Some(stage) = self.pending(id).and_then(|p| p.stage(index)) {
                    *stage = Stage::Done(RecipientStatus::Refused(reply));
                }
            }
            ClientEvent::RecipientDelivery {
                id, index, reply, ..
            } => {
                if let Some(stage) = self.pending(id).and_then(|p| p.stage(index)) {
                    *stage = Stage::Done(if reply.code().is_positive() {
                        RecipientStatus::Accepted(reply)
                    } else {
                        RecipientStatus::Refused(reply)
                    });
                }
            }
            ClientEvent::MessageAccepted { id, reply } => {
                self.end(id, || RecipientStatus::Accepted(reply.clone()), None);
            }
            ClientEvent::TransactionFailed { id, failure } => {
                let reply = match &failure {
                    TransactionFailure::MailRejected(reply)
                    | TransactionFailure::DataRejected(reply)
                    | TransactionFailure::MessageRejected(reply) => Some(reply.clone()),
                    _ => None,
                };
                let status = || match &reply {
                    Some(reply) => RecipientStatus::Refused(reply.clone()),
                    None => RecipientStatus::NotDelivered,
                };
                self.end(id, status, Some(failure));
            }
            _ => {}
        }
    }

    fn end(
        &mut self,
        id: TransactionId,
        status: impl Fn() -> RecipientStatus,
        failure: Option<TransactionFailure>,
    ) {
        if let Some(at) = self.pending.iter().position(|pending| pending.id == id) {
            if let Some(pending) = self.pending.remove(at) {
                self.finished.push_back(pending.end(status, failure));
            }
        }
    }
}
