//! One destination's mail over its next hops: the hosts in preference order
//! (RFC 5321 §5.1), each connection carrying every message still pending
//! for the destination, pipelined, and each message handed back as its
//! transaction ends.

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use smtpwire::client::{
    check_line_lengths, ClientError, ClientEvent, Envelope, LongLines, Recipient, SessionError,
    Unsupported,
};
use smtpwire::delivery::{Delivery, Hop, Routable};
use smtpwire::reply::EnhancedStatusCode;
use smtpwire::{
    AddressLiteral, BodyType, Domain, ForwardPath, Host, MailParameters, RcptParameters,
    ReversePath,
};
use smtpwire_tokio::client::{
    tls, Client, ClientBuilder, ConnectionError, Error, Message, StartTlsPolicy,
};
use tokio::net::{TcpSocket, TcpStream};

use super::routes::Routes;
use super::secure::hop::HostDane;
use super::secure::hop::NextHopSecurity;
use super::secure::mta_sts::DomainPolicy;
use super::secure::requiretls::{TlsDemand, ENCRYPTION_NEEDED};

/// One message on its way to one destination.
pub struct Outgoing<R> {
    /// Its recipients at this destination and what became of them.
    pub delivery: Delivery<R>,
    /// The reverse path.
    pub from: ReversePath,
    /// The content, CRLF line ends, not dot-stuffed.
    pub content: Bytes,
    /// It came with REQUIRETLS (RFC 8689), which goes on with it.
    pub requiretls: bool,
    /// MAIL parameters to pass on where their extension is offered, left
    /// out elsewhere: the sender's `RET` and `ENVID` (RFC 3461 §5.2.1).
    pub mail_params: MailParameters,
    /// The hosts it was handed to that do not offer DSN, which report
    /// nothing further (RFC 3461 §5.2.2: the relay reports `relayed`).
    pub without_dsn: Vec<Host>,
}

impl<R> Outgoing<R> {
    /// A message with no parameters to pass on.
    pub fn new(delivery: Delivery<R>, from: ReversePath, content: Bytes) -> Outgoing<R> {
        Outgoing {
            delivery,
            from,
            content,
            mail_params: MailParameters::default(),
            without_dsn: Vec::new(),
            requiretls: false,
        }
    }
}

/// A recipient as RCPT names it: its path and the parameters passed on
/// with it where their extension is offered (left out elsewhere).
pub trait Addressed: Routable {
    /// The RCPT parameters; none by default.
    fn rcpt_params(&self) -> RcptParameters {
        RcptParameters::default()
    }
}

impl Addressed for ForwardPath {}

impl Addressed for Recipient {
    fn rcpt_params(&self) -> RcptParameters {
        self.params.clone()
    }
}

/// How to reach next hops.
pub struct Transfer {
    /// MX and address lookups.
    pub routes: Routes,
    /// How to connect: hello name, STARTTLS policy and trust, the connect
    /// timeout. Each connection names its host for TLS.
    client: ClientBuilder,
    /// The client's policy for over-long lines: [`LongLines::Refuse`]
    /// fails such a message before any host is tried.
    long_lines: LongLines,
    /// The local addresses connections are made from; empty, the system
    /// chooses.
    sources: Vec<IpAddr>,
    /// The next of `sources` for [`run`](Self::run), round-robin.
    next_source: AtomicUsize,
    connect_timeout: Duration,
    /// The TLS policies of next hops, and the record of each attempt.
    security: NextHopSecurity,
}

/// What came of connecting to a host.
enum Reached {
    /// Ready for messages.
    Client(Box<Client>),
    /// No address of the host answered.
    NoAnswer,
    /// The session failed before it was ready (greeting, EHLO, STARTTLS,
    /// AUTH); the session's own error when there is one.
    Failed(Option<SessionError>),
    /// The destination's TLS policy forbids the host, or the host's TLS
    /// did not meet it: the status to record.
    RefusedByPolicy(EnhancedStatusCode),
}

/// 4.7.5, cryptographic failure (RFC 3463 §3.8): a host whose certificate
/// a policy requires to verify did not, or one the policy does not list.
const POLICY_NOT_MET: EnhancedStatusCode = EnhancedStatusCode::new_const(4, 7, 5);

/// Messages one connection has queued at once: the message in progress
/// and the next one, sent behind its end of data before the reply (RFC
/// 2920 §3.1). Messages whose outcome is handed back as their transaction
/// ends are never more than this many per connection short of the
/// caller's record.
pub const PIPELINED_WINDOW: usize = 2;

/// 5.6.0, other media error (RFC 3463 §3.7): the content cannot go as it is.
const MEDIA_ERROR: EnhancedStatusCode = EnhancedStatusCode::new_const(5, 6, 0);

impl Transfer {
    /// Next hops reached through `routes`, greeted as `hello`, with
    /// opportunistic STARTTLS (RFC 7435) unless `starttls` is off, and
    /// over-long lines handled as `long_lines` says.
    pub fn new(
        routes: Routes,
        hello: &Domain,
        starttls: bool,
        long_lines: LongLines,
        connect_timeout: Duration,
    ) -> io::Result<Transfer> {
        let client = Client::builder(hello.as_str())
            .long_lines(long_lines)
            .connect_timeout(connect_timeout);
        let client = if starttls {
            client
                .starttls(StartTlsPolicy::Opportunistic)
                .tls_config(tls::any_certificate()?)
        } else {
            client.starttls(StartTlsPolicy::Never)
        };
        Ok(Transfer {
            routes,
            client,
            long_lines,
            sources: Vec::new(),
            next_source: AtomicUsize::new(0),
            connect_timeout,
            security: NextHopSecurity::opportunistic(),
        })
    }

    /// Connections go out from these local addresses: each is bound to
    /// one of them before it connects, so the receiver sees that address.
    pub fn with_sources(mut self, sources: Vec<IpAddr>) -> Transfer {
        self.sources = sources;
        self
    }

    /// Next hops get TLS as `security` says (MTA-STS, TLS reporting)
    /// instead of opportunistically.
    pub fn with_security(mut self, security: NextHopSecurity) -> Transfer {
        self.security = security;
        self
    }

    /// The local addresses connections go out from.
    pub fn sources(&self) -> &[IpAddr] {
        &self.sources
    }

    /// The next source address in turn (round-robin), or `None` for the
    /// system's choice when none is configured.
    pub fn next_source(&self) -> Option<IpAddr> {
        match self.sources.len() {
            0 => None,
            count => Some(self.sources[self.next_source.fetch_add(1, Ordering::Relaxed) % count]),
        }
    }

    /// [`run_from`](Self::run_from) the next source address in turn
    /// (round-robin over the destinations), or from the system's choice
    /// when none is configured.
    pub async fn run<R, F, Recorded>(
        &self,
        destination: &Host,
        messages: Vec<Outgoing<R>>,
        per_connection: usize,
        done: F,
    ) where
        R: Addressed,
        F: FnMut(Vec<(usize, Outgoing<R>)>) -> Recorded,
        Recorded: Future<Output = ()>,
    {
        self.run_from(
            self.next_source(),
            destination,
            messages,
            per_connection,
            done,
        )
        .await;
    }

    /// Delivers `messages` to `destination`, up to `per_connection` of
    /// them at a time, trying its hosts in turn. Each message is handed to
    /// `done` once, with its index in `messages`, as soon as its
    /// [`Delivery`] is ready to settle: when its transaction ends with no
    /// recipient left for another host, or else when no host is left. The
    /// connection waits for `done`'s future before it goes on, so a caller
    /// that records the outcome there has at most [`PIPELINED_WINDOW`]
    /// messages unrecorded. Every message must have been planned with the
    /// same hops. Connections go out from `source` when it is given.
    pub async fn run_from<R, F, Recorded>(
        &self,
        source: Option<IpAddr>,
        destination: &Host,
        messages: Vec<Outgoing<R>>,
        per_connection: usize,
        mut done: F,
    ) where
        R: Addressed,
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
        if messages.is_empty() {
            return;
        }
        let policy = self.policy_for(destination).await;
        // Messages by what they ask of TLS, each kind on connections of
        // its own (RFC 8689).
        let mut by_demand: [Vec<(usize, Outgoing<R>)>; 3] = Default::default();
        for (index, message) in messages {
            let slot = match TlsDemand::of(message.requiretls, &message.content) {
                TlsDemand::AsPolicy => 0,
                TlsDemand::Relaxed => 1,
                TlsDemand::Required => 2,
            };
            by_demand[slot].push((index, message));
        }
        let demands = [TlsDemand::AsPolicy, TlsDemand::Relaxed, TlsDemand::Required];
        for (demand, messages) in demands.into_iter().zip(by_demand) {
            if messages.is_empty() {
                continue;
            }
            let Some(policy) = demand.policy(&policy) else {
                // No route meets REQUIRETLS: returned, never sent.
                let refused = messages
                    .into_iter()
                    .map(|(index, mut message)| {
                        eprintln!(
                            "message not sent: REQUIRETLS, and {destination} has no secure route"
                        );
                        message.delivery.refuse_unsent(ENCRYPTION_NEEDED);
                        (index, message)
                    })
                    .collect();
                done(refused).await;
                continue;
            };
            let mut messages = messages.into_iter();
            loop {
                let chunk: Vec<_> = messages.by_ref().take(per_connection.max(1)).collect();
                if chunk.is_empty() {
                    break;
                }
                self.deliver(source, destination, &policy, chunk, &mut done)
                    .await;
            }
        }
    }

    /// The TLS policy of mail to `destination`: none for an address
    /// literal or a domain routed with `--mx`, whose hosts the operator
    /// chose.
    async fn policy_for(&self, destination: &Host) -> DomainPolicy {
        match destination {
            Host::Domain(domain) if !self.routes.is_fixed(domain) => {
                self.security.policy_for(domain.as_str()).await
            }
            _ => DomainPolicy::default(),
        }
    }

    /// Fails a message for good, before any host is tried, when the
    /// session would refuse a line of it: each try would tear the
    /// connection down for the messages behind it.
    fn refuse_if_unsendable<R: Addressed>(&self, mut message: Outgoing<R>) -> Outgoing<R> {
        // Content goes as DATA or BDAT with at most 8BITMIME, never
        // BINARYMIME, so its lines always count.
        if self.long_lines == LongLines::Refuse {
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
        source: Option<IpAddr>,
        destination: &Host,
        policy: &DomainPolicy,
        mut open: Vec<(usize, Outgoing<R>)>,
        done: &mut F,
    ) where
        R: Addressed,
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
            match self.connect(source, destination, policy, &hop).await {
                Reached::Client(client) => {
                    if !client.capabilities().is_some_and(|offered| offered.dsn) {
                        for (_, message) in &mut open {
                            message.without_dsn.push(hop.host.clone());
                        }
                    }
                    open = self.send_over(*client, open, done).await
                }
                Reached::NoAnswer => {
                    for (_, message) in &mut open {
                        message.delivery.connection_failed();
                    }
                }
                Reached::Failed(error) => end_host(&mut open, error.as_ref()),
                Reached::RefusedByPolicy(status) => {
                    for (_, message) in &mut open {
                        message.delivery.refused_by_policy(status);
                    }
                }
            }
        }
    }

    /// Sends `open` over one connection, [`PIPELINED_WINDOW`] messages
    /// queued at a time, handing each message to `done` as its transaction
    /// ends if nothing of it is left for another host. Returns the others,
    /// the host ended for each.
    async fn send_over<R, F, Recorded>(
        &self,
        mut client: Client,
        open: Vec<(usize, Outgoing<R>)>,
        done: &mut F,
    ) -> Vec<(usize, Outgoing<R>)>
    where
        R: Addressed,
        F: FnMut(Vec<(usize, Outgoing<R>)>) -> Recorded,
        Recorded: Future<Output = ()>,
    {
        let mut waiting = open.into_iter();
        // Messages queued on this connection, in queue order, and those
        // whose transaction ended (or never started) with recipients left.
        let mut sent = VecDeque::with_capacity(PIPELINED_WINDOW);
        let mut left = Vec::new();
        // What ended the session early, if anything did.
        let mut failure = None;
        let mut queueing = true;
        loop {
            while queueing && client.queued() < PIPELINED_WINDOW {
                let Some((index, mut message)) = waiting.next() else {
                    break;
                };
                let content = message.content.clone();
                match client.queue(Message::with_envelope(envelope(&message), content)) {
                    Ok(id) => sent.push_back((id, (index, message))),
                    Err(Error::Refused(ClientError::Refused(error))) => {
                        // This host cannot take it as it is; another may.
                        eprintln!("message not sent: {error}");
                        message.delivery.refused_here(&error);
                        left.push((index, message));
                    }
                    Err(error) => {
                        queueing = false;
                        failure = session_error(error);
                        left.push((index, message));
                    }
                }
            }
            match client.next_outcome().await {
                Ok(Some(outcome)) => {
                    let Some(at) = sent.iter().position(|(id, _)| *id == outcome.id()) else {
                        continue;
                    };
                    let Some((_, mut entry)) = sent.remove(at) else {
                        continue;
                    };
                    for event in outcome.events() {
                        entry.1.delivery.observe(event);
                    }
                    if entry.1.delivery.current_host().is_none() {
                        done(vec![entry]).await;
                    } else {
                        left.push(entry);
                    }
                }
                Ok(None) => break,
                Err(error) => {
                    queueing = false;
                    failure = session_error(error);
                }
            }
        }
        if let Err(error) = client.quit().await {
            failure = failure.or(session_error(error));
        }
        // The client reports the end of every transaction it took; anything
        // else would wait for the next host with the rest.
        left.extend(sent.into_iter().map(|(_, entry)| entry));
        left.extend(waiting);
        end_host(&mut left, failure.as_ref());
        left
    }

    /// A connection to the first of `hop`'s addresses that answers (RFC
    /// 5321 §5.1: try each address of a host before the next host), its
    /// session ready for messages, with the TLS `policy` asks of the host.
    /// From `source`, only the addresses of its family are tried.
    async fn connect(
        &self,
        source: Option<IpAddr>,
        destination: &Host,
        policy: &DomainPolicy,
        hop: &Hop,
    ) -> Reached {
        let name = connect_name(&hop.host);
        let domain = destination.to_string();
        let dane = self
            .security
            .dane_for(&domain, policy, &name, self.routes.port())
            .await;
        if dane == HostDane::Skipped {
            eprintln!(
                "{name}: DNSSEC validation failed for {domain}'s MX or this host's TLSA records"
            );
            return Reached::RefusedByPolicy(POLICY_NOT_MET);
        }
        for address in self.routes.addresses(destination, hop).await {
            let client = self.client.clone().server_name(&name).record_events(true);
            let prepared = self.security.prepare(&domain, policy, &dane, &name, client);
            let (client, tls) = match prepared {
                Ok(Some(prepared)) => prepared,
                Ok(None) => {
                    eprintln!("{name}: not an MX host the MTA-STS policy of {domain} allows");
                    return Reached::RefusedByPolicy(POLICY_NOT_MET);
                }
                Err(error) => {
                    eprintln!("{name}: {error}");
                    return Reached::Failed(None);
                }
            };
            let connected = match source {
                None => client.connect(&address.to_string()).await,
                Some(source) if source.is_ipv4() != address.is_ipv4() => continue,
                Some(source) => match self.connect_from(source, address).await {
                    Ok(stream) => client.connect_stream(stream, &name).await,
                    Err(error) => {
                        eprintln!("{name} ({address}) from {source}: {error}");
                        continue;
                    }
                },
            };
            match connected {
                Ok(client) => {
                    self.security
                        .connected(&tls, &domain, &name, address.ip(), &client);
                    return Reached::Client(Box::new(client));
                }
                Err(Error::Connection(
                    error @ (ConnectionError::Connect { .. }
                    | ConnectionError::ConnectTimeout { .. }),
                )) => eprintln!("{name} ({address}): {error}"),
                Err(error) => {
                    eprintln!("{name} ({address}): {error}");
                    let refused = self
                        .security
                        .failed(&tls, &domain, &name, address.ip(), &error);
                    if refused && matches!(error, Error::Connection(ConnectionError::Tls(_))) {
                        return Reached::RefusedByPolicy(POLICY_NOT_MET);
                    }
                    return Reached::Failed(session_error(error));
                }
            }
        }
        eprintln!("{name}: no address answered");
        Reached::NoAnswer
    }

    /// A TCP connection to `address` from the local address `source`,
    /// bound before connecting (any local port).
    async fn connect_from(&self, source: IpAddr, address: SocketAddr) -> io::Result<TcpStream> {
        let socket = if source.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        socket.bind(SocketAddr::new(source, 0))?;
        tokio::time::timeout(self.connect_timeout, socket.connect(address))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))?
    }
}

/// Ends the attempt at the current host for `messages`, the session's
/// `failure` counting against it when there was one.
fn end_host<R: Routable>(messages: &mut [(usize, Outgoing<R>)], failure: Option<&SessionError>) {
    for (_, message) in messages {
        if let Some(error) = failure {
            message.delivery.observe(&ClientEvent::Error(error.clone()));
        }
        message.delivery.end_host();
    }
}

/// The session's own error, which says how the failure counts against
/// the host; a transport failure says nothing more than that the
/// connection was bad.
fn session_error(error: Error) -> Option<SessionError> {
    match error {
        Error::Connection(ConnectionError::Session(ClientError::Session(error))) => Some(error),
        _ => None,
    }
}

/// The envelope for a message's pending recipients, declaring 8-bit
/// content (RFC 6152) and its size (RFC 1870) to servers that take them,
/// and passing the DSN parameters on to those that offer DSN (RFC 3461
/// §5.2.1), leaving them out elsewhere (§5.2.2).
fn envelope<R: Addressed>(message: &Outgoing<R>) -> Envelope {
    let mut envelope = Envelope::new(message.from.clone());
    envelope.mail_params = message.mail_params.clone();
    envelope.unsupported = Unsupported::Drop;
    for recipient in message.delivery.pending() {
        envelope.add_recipient_with(recipient.forward_path().clone(), recipient.rcpt_params());
    }
    envelope.mail_params.size = u64::try_from(message.content.len()).ok();
    envelope.mail_params.requiretls = message.requiretls;
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
