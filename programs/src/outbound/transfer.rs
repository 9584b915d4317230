//! One destination's mail over its next hops: the hosts in preference order
//! (RFC 5321 §5.1), each connection carrying every message still pending
//! for the destination, pipelined, and each message handed back as its
//! transaction ends.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use smtpwire::client::{
    check_line_lengths, ClientConfig, ClientEvent, Envelope, LongLines, TransactionId,
};
use smtpwire::delivery::{Delivery, Hop, Routable};
use smtpwire::reply::EnhancedStatusCode;
use smtpwire::{AddressLiteral, BodyType, Host, ReversePath};

use super::connection::Connection;
use super::opportunistic::Opportunistic;
use super::routes::Routes;

/// One message on its way to one destination.
pub struct Outgoing<R> {
    /// Its recipients at this destination and what became of them.
    pub delivery: Delivery<R>,
    /// The reverse path.
    pub from: ReversePath,
    /// The content, CRLF line ends, not dot-stuffed.
    pub content: Bytes,
}

/// How to reach next hops.
pub struct Transfer {
    /// MX and address lookups.
    pub routes: Routes,
    /// The client session's configuration (hello name, STARTTLS policy,
    /// PIPELINING).
    pub config: ClientConfig,
    /// STARTTLS when the next hop offers it; `None` never asks.
    pub tls: Option<Opportunistic>,
    /// How long a TCP connect may take.
    pub connect_timeout: Duration,
}

/// Transactions one connection has open at once: the message in progress
/// and the next one, sent behind its end of data before the reply (RFC
/// 2920 §3.1; `ClientSession::send_mail`). Messages whose outcome is handed
/// back as their transaction ends are never more than this many per
/// connection short of the caller's record.
pub const PIPELINED_WINDOW: usize = 2;

/// 5.6.0, other media error (RFC 3463 §3.7): the content cannot go as it is.
const MEDIA_ERROR: EnhancedStatusCode = EnhancedStatusCode::new_const(5, 6, 0);

impl Transfer {
    /// Delivers `messages` to `destination`, up to `per_connection` of
    /// them at a time, trying its hosts in turn. Each message is handed to
    /// `done` once, with its index in `messages`, as soon as its
    /// [`Delivery`] is ready to settle: when its transaction ends with no
    /// recipient left for another host, or else when no host is left. The
    /// connection waits for `done`'s future before it goes on, so a caller
    /// that records the outcome there has at most [`PIPELINED_WINDOW`]
    /// messages unrecorded. Every message must have been planned with the
    /// same hops.
    pub async fn run<R, F, Recorded>(
        &self,
        destination: &Host,
        messages: Vec<Outgoing<R>>,
        per_connection: usize,
        mut done: F,
    ) where
        R: Routable,
        F: FnMut(Vec<(usize, Outgoing<R>)>) -> Recorded,
        Recorded: Future<Output = ()>,
    {
        let (unsendable, messages): (Vec<_>, Vec<_>) = messages
            .into_iter()
            .enumerate()
            .map(|(index, message)| (index, self.refuse_if_unsendable(message)))
            .partition(|(_, message)| message.delivery.current_host().is_none());
        if !unsendable.is_empty() {
            done(unsendable).await;
        }
        let mut messages = messages.into_iter();
        loop {
            let chunk: Vec<_> = messages.by_ref().take(per_connection.max(1)).collect();
            if chunk.is_empty() {
                return;
            }
            self.deliver(destination, chunk, &mut done).await;
        }
    }

    /// Fails a message for good, before any host is tried, when the
    /// session would refuse a line of it: each try would tear the
    /// connection down for the messages behind it.
    fn refuse_if_unsendable<R: Routable>(&self, mut message: Outgoing<R>) -> Outgoing<R> {
        // Content goes as DATA or BDAT with at most 8BITMIME, never
        // BINARYMIME, so its lines always count.
        if self.config.long_lines == LongLines::Refuse {
            if let Err(error) = check_line_lengths(&message.content) {
                eprintln!("message not sent: {error}");
                message.delivery.refuse_unsent(MEDIA_ERROR);
            }
        }
        message
    }

    /// Tries the hosts in turn until every message of `open` is handed
    /// back.
    async fn deliver<R, F, Recorded>(
        &self,
        destination: &Host,
        mut open: Vec<(usize, Outgoing<R>)>,
        done: &mut F,
    ) where
        R: Routable,
        F: FnMut(Vec<(usize, Outgoing<R>)>) -> Recorded,
        Recorded: Future<Output = ()>,
    {
        loop {
            let (finished, rest): (Vec<_>, Vec<_>) = open
                .into_iter()
                .partition(|(_, message)| message.delivery.current_host().is_none());
            if !finished.is_empty() {
                done(finished).await;
            }
            // The rest move together: they share their hosts.
            open = rest;
            let Some(hop) = open
                .first()
                .and_then(|(_, message)| message.delivery.current_host().cloned())
            else {
                return;
            };
            match self.connect(destination, &hop).await {
                Some(connection) => open = self.send_over(connection, open, done).await,
                None => {
                    for (_, message) in &mut open {
                        message.delivery.connection_failed();
                    }
                }
            }
        }
    }

    /// Sends `open` over one connection, handing each message to `done`
    /// as its transaction ends if nothing of it is left for another host.
    /// Returns the others, the host ended for each.
    async fn send_over<R, F, Recorded>(
        &self,
        mut connection: Connection,
        open: Vec<(usize, Outgoing<R>)>,
        done: &mut F,
    ) -> Vec<(usize, Outgoing<R>)>
    where
        R: Routable,
        F: FnMut(Vec<(usize, Outgoing<R>)>) -> Recorded,
        Recorded: Future<Output = ()>,
    {
        // Messages with a transaction on this connection, and those whose
        // transaction ended (or never started) with recipients left.
        let mut sent: HashMap<TransactionId, (usize, Outgoing<R>)> = HashMap::new();
        let mut left = Vec::new();
        for (index, message) in open {
            match connection.send(envelope(&message), message.content.clone()) {
                Ok(id) => {
                    sent.insert(id, (index, message));
                }
                Err(error) => {
                    eprintln!("message not sent: {error}");
                    left.push((index, message));
                }
            }
        }
        connection.quit();
        loop {
            connection.drive_to_events().await;
            let events = connection.take_events();
            if events.is_empty() {
                break;
            }
            let mut finished = Vec::new();
            for event in &events {
                let Some(id) = event.transaction() else {
                    // Events of the session concern every message on it.
                    for (_, message) in sent.values_mut().chain(left.iter_mut()) {
                        message.delivery.observe(event);
                    }
                    continue;
                };
                let Some((_, message)) = sent.get_mut(&id) else {
                    continue;
                };
                message.delivery.observe(event);
                let ended = matches!(
                    event,
                    ClientEvent::MessageAccepted { .. } | ClientEvent::TransactionFailed { .. }
                );
                if !ended {
                    continue;
                }
                if let Some(entry) = sent.remove(&id) {
                    if entry.1.delivery.current_host().is_none() {
                        finished.push(entry);
                    } else {
                        left.push(entry);
                    }
                }
            }
            if !finished.is_empty() {
                done(finished).await;
            }
        }
        // A session reports the end of every transaction it took; anything
        // else would wait for the next host with the rest.
        left.extend(sent.into_values());
        for (_, message) in &mut left {
            message.delivery.end_host();
        }
        left
    }

    /// A connection to the first of `hop`'s addresses that answers (RFC
    /// 5321 §5.1: try each address of a host before the next host).
    async fn connect(&self, destination: &Host, hop: &Hop) -> Option<Connection> {
        let name = connect_name(&hop.host);
        let upgrade = match self.tls.as_ref().map(|tls| tls.upgrade(&name)) {
            Some(Ok(upgrade)) => Some(upgrade),
            Some(Err(error)) => {
                eprintln!("{name}: no TLS: {error}");
                None
            }
            None => None,
        };
        let mut config = self.config.clone();
        if upgrade.is_none() {
            config.starttls = smtpwire::client::StartTlsPolicy::Never;
        }
        for address in self.routes.addresses(destination, hop).await {
            let opened = Connection::open(address, config.clone(), upgrade.clone());
            match tokio::time::timeout(self.connect_timeout, opened).await {
                Ok(Ok(connection)) => return Some(connection),
                Ok(Err(error)) => eprintln!("{name} ({address}): {error}"),
                Err(_) => eprintln!("{name} ({address}): connect timed out"),
            }
        }
        eprintln!("{name}: no address answered");
        None
    }
}

/// The envelope for a message's pending recipients, declaring 8-bit
/// content (RFC 6152) and its size (RFC 1870) to servers that take them.
fn envelope<R: Routable>(message: &Outgoing<R>) -> Envelope {
    let mut envelope = Envelope::new(message.from.clone());
    for recipient in message.delivery.pending() {
        envelope.add_recipient(recipient.forward_path().clone());
    }
    envelope.mail_params.size = u64::try_from(message.content.len()).ok();
    if !message.content.is_ascii() {
        envelope.mail_params.body = Some(BodyType::EightBitMime);
    }
    envelope
}

/// The name to connect to and present in SNI.
fn connect_name(host: &Host) -> String {
    match host {
        Host::Domain(domain) => domain.as_str().to_string(),
        Host::Literal(AddressLiteral::V4(ip)) => ip.to_string(),
        Host::Literal(AddressLiteral::V6(ip)) => ip.to_string(),
        Host::Literal(other) => other.to_string(),
    }
}
