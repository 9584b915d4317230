//! One destination's mail over its next hops: the hosts in preference order
//! (RFC 5321 §5.1), each connection carrying every message still pending
//! for the destination, pipelined.

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use smtpwire::client::{ClientConfig, Envelope, TransactionId};
use smtpwire::delivery::{Delivery, Hop, Routable};
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

impl Transfer {
    /// Tries `destination`'s hosts in turn until every message's recipients
    /// are settled or no host is left; each message's
    /// [`Delivery`] is then ready to settle. Every message must have been
    /// planned with the same hops.
    pub async fn run<R: Routable>(&self, destination: &Host, messages: &mut [Outgoing<R>]) {
        loop {
            let Some(hop) = messages
                .iter()
                .find_map(|message| message.delivery.current_host().cloned())
            else {
                return;
            };
            // Settled messages have no host left; the rest move together.
            let active: Vec<usize> = (0..messages.len())
                .filter(|&index| messages[index].delivery.current_host().is_some())
                .collect();
            match self.connect(destination, &hop).await {
                Some(connection) => self.send_over(connection, messages, &active).await,
                None => {
                    for &index in &active {
                        messages[index].delivery.connection_failed();
                    }
                }
            }
        }
    }

    /// Sends the `active` messages over one connection, then ends the host
    /// for each.
    async fn send_over<R: Routable>(
        &self,
        mut connection: Connection,
        messages: &mut [Outgoing<R>],
        active: &[usize],
    ) {
        let mut by_id: HashMap<TransactionId, usize> = HashMap::new();
        for &index in active {
            let message = &messages[index];
            match connection.send(envelope(message), message.content.clone()) {
                Ok(id) => {
                    by_id.insert(id, index);
                }
                Err(error) => eprintln!("message not sent: {error}"),
            }
        }
        connection.quit();
        connection.drive().await;
        for event in connection.take_events() {
            match event.transaction().and_then(|id| by_id.get(&id)) {
                Some(&index) => messages[index].delivery.observe(&event),
                // Events of the session concern every message on it.
                None => {
                    for &index in active {
                        messages[index].delivery.observe(&event);
                    }
                }
            }
        }
        for &index in active {
            messages[index].delivery.end_host();
        }
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
