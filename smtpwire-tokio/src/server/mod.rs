//! An SMTP or LMTP server over tokio: a [`ServerSession`] per connection,
//! a [`Handler`] for every decision.
//!
//! The driver reads and writes, keeps the time each request may take
//! ([`ServerLimits::timeout`](smtpwire::server::ServerLimits::timeout),
//! counted per request rather than per read), upgrades connections with
//! STARTTLS when given a TLS acceptor, caps the connections open in all and
//! per client address, limits what each client starts per minute
//! ([`RateLimits`]), and stops gracefully: idle clients get 421,
//! messages in flight finish first.
//!
//! ```no_run
//! use smtpwire::server::{RcptRequest, Reject, ServerConfig};
//! use smtpwire::Text;
//! use smtpwire_tokio::server::{refuse, Handler, Server};
//!
//! struct Policy;
//!
//! impl Handler for Policy {
//!     async fn rcpt(&mut self, request: &RcptRequest) -> Result<(), Reject> {
//!         match request.to().to_string().as_str() {
//!             "<nobody@example.org>" => Err(refuse(550, "5.1.1", "No such user")),
//!             _ => Ok(()),
//!         }
//!     }
//! }
//!
//! # async fn run() -> std::io::Result<()> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:2525").await?;
//! let server = Server::new(ServerConfig::new(Text::from_static("mx.example.org")));
//! server.serve(listener, |_client| Policy).await
//! # }
//! ```
//!
//! [`ServerSession`]: smtpwire::server::ServerSession

mod admission;
mod busy_poll;
mod connection;
mod handler;
mod rates;
mod tls;

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use smtpwire::auth::StandInSecret;
use smtpwire::server::{CloseReason, ServerConfig};
use tokio::net::TcpListener;
use tokio::runtime::RuntimeFlavor;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

pub use admission::{
    Connections, Notice, Refusal, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_CONNECTIONS_PER_IP,
};
pub use connection::Transport;
pub use handler::{refuse, Handler};
pub use rates::{RateLimits, MAX_TRACKED_CLIENTS, RATE_WINDOW};
pub use tls::{acceptor_from_pem, TlsSession};

use admission::{AcceptBackoff, ConnectionTable, NoticeHook, Slot, Throttle};
use busy_poll::BusyPoll;
use rates::{Attempt, RateTable};

/// Serves SMTP or LMTP connections with a [`ServerSession`] each.
///
/// Clones share the connection table, so their connections count against
/// the same limits.
///
/// [`ServerSession`]: smtpwire::server::ServerSession
#[derive(Clone)]
pub struct Server {
    config: Arc<ServerConfig>,
    tls: Option<TlsAcceptor>,
    /// With the PROXY protocol, the only peers whose header is believed.
    proxies: Option<Arc<[IpAddr]>>,
    table: Arc<ConnectionTable>,
    /// Counts per client address, for the rates that are limited.
    rates: Arc<RateTable>,
    busy_poll: Option<Arc<BusyPoll>>,
    notice: Option<NoticeHook>,
    /// Refusals are made by the accept loop and, behind a proxy, by the
    /// connections' tasks: one throttle for all.
    refusals: Arc<Mutex<Throttle>>,
}

impl Server {
    /// A server running sessions under `config`, without TLS, for at most
    /// [`DEFAULT_MAX_CONNECTIONS`] connections at once and
    /// [`DEFAULT_MAX_CONNECTIONS_PER_IP`] from one client address.
    ///
    /// A configuration without a
    /// [`scram_stand_in`](ServerConfig::scram_stand_in) secret gets a
    /// random one, kept for this server's lifetime.
    pub fn new(mut config: ServerConfig) -> Self {
        if config.scram_stand_in.is_none() {
            config.scram_stand_in = crate::channel::random_octets().map(StandInSecret::new);
        }
        Server {
            config: Arc::new(config),
            tls: None,
            proxies: None,
            table: Arc::new(ConnectionTable::new(
                DEFAULT_MAX_CONNECTIONS,
                Some(DEFAULT_MAX_CONNECTIONS_PER_IP),
            )),
            rates: Arc::new(RateTable::new(RateLimits::default())),
            busy_poll: None,
            notice: None,
            refusals: Arc::default(),
        }
    }

    /// Offers STARTTLS (RFC 3207) and upgrades with `acceptor`.
    pub fn with_tls(mut self, acceptor: TlsAcceptor) -> Self {
        Arc::make_mut(&mut self.config).capabilities.starttls = true;
        self.tls = Some(acceptor);
        self
    }

    /// Reads a PROXY protocol header (version 1 or 2) before anything else
    /// on every connection, so that the handler learns the real client
    /// ([`Handler::connect`]), and takes connections only from the
    /// load balancers in `trusted`: any other peer could claim any address,
    /// so it is closed at once, unanswered.
    ///
    /// The per-address cap then counts the address the header names, since
    /// every connection comes from a proxy; a header without one (the
    /// proxy's own health check, `LOCAL`) counts against the total only.
    pub fn with_proxy_protocol(mut self, trusted: impl IntoIterator<Item = IpAddr>) -> Self {
        Arc::make_mut(&mut self.config).proxy_protocol = true;
        self.proxies = Some(
            trusted
                .into_iter()
                .map(|address| address.to_canonical())
                .collect(),
        );
        self
    }

    /// At most `most` connections open at once (at least 1); more are
    /// answered `421 4.7.0 <host> Too many connections` and closed without
    /// a session. Set it below the process's open-file limit, less what
    /// the handler opens per connection, or `accept` fails first.
    pub fn with_max_connections(mut self, most: usize) -> Self {
        self.table = Arc::new(ConnectionTable::new(most, self.table.most_per_client()));
        self
    }

    /// At most `most` connections open at once from one client address
    /// (`None` or 0: no such cap); more are answered `421 4.7.0 <host> Too
    /// many connections from <address>` and closed without a session. The
    /// address is the peer's, or with the PROXY protocol the one the
    /// trusted proxy names ([`with_proxy_protocol`](Self::with_proxy_protocol)).
    pub fn with_max_connections_per_ip(mut self, most: Option<usize>) -> Self {
        self.table = Arc::new(ConnectionTable::new(self.table.most(), most));
        self
    }

    /// Limits what each client address may start per minute: connections
    /// (over the limit, `421 4.7.0` and closed without a session), MAIL and
    /// RCPT commands (over the limit, `450 4.7.1`, before the handler is
    /// asked), counted as Postfix's anvil counts them, refused attempts
    /// included. The address is the peer's, or the one a trusted proxy
    /// names; connections handed to
    /// [`serve_connection`](Self::serve_connection) have none and are not
    /// limited. Clones share the counts.
    pub fn with_rate_limits(mut self, limits: RateLimits) -> Self {
        self.rates = Arc::new(RateTable::new(limits));
        self
    }

    /// The limits in force ([`with_rate_limits`](Self::with_rate_limits),
    /// [`set_rate_limits`](Self::set_rate_limits)).
    pub fn rate_limits(&self) -> RateLimits {
        self.rates.limits()
    }

    /// Changes the rate limits of a server that may be running, and of its
    /// clones: each attempt from now on is held to `limits`, against the
    /// counts of the current minute, as an operator's reload expects.
    pub fn set_rate_limits(&self, limits: RateLimits) {
        self.rates.set_limits(limits);
    }

    /// Changes the connection caps of a server that may be running, and of
    /// its clones ([`with_max_connections`](Self::with_max_connections),
    /// [`with_max_connections_per_ip`](Self::with_max_connections_per_ip)).
    /// Connections open already stay open; new ones are admitted only
    /// under the new caps.
    pub fn set_connection_limits(&self, most: usize, most_per_ip: Option<usize>) {
        self.table.set_limits(most, most_per_ip);
    }

    /// After each read or accept, keeps the runtime polling its sockets for
    /// `window` before it sleeps: spends up to that much CPU so that
    /// clients on another core of the same machine, as in a load test, do
    /// not pay for waking the server. Off by default; clients that come
    /// over a network gain nothing from it.
    ///
    /// Call it inside the runtime that serves, which must be tokio's
    /// single-threaded one: on several worker threads the poller would hold
    /// one of them while another sleeps in the sockets' poll. Anywhere else
    /// it fails with [`io::ErrorKind::InvalidInput`].
    pub fn with_busy_poll(mut self, window: Duration) -> io::Result<Self> {
        let flavor = tokio::runtime::Handle::try_current().map(|handle| handle.runtime_flavor());
        if !matches!(flavor, Ok(RuntimeFlavor::CurrentThread)) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "busy polling needs tokio's single-threaded runtime",
            ));
        }
        self.busy_poll = Some(Arc::new(BusyPoll::new(window)));
        Ok(self)
    }

    /// Hands `notice` what an operator should learn about: connections
    /// refused over a cap, and `accept` failing for want of descriptors or
    /// memory. Each kind comes at most once per [`Notice::EVERY`], with a
    /// count of those left out, so a flood cannot flood the log. Without
    /// it they go unreported: the driver writes no log of its own and
    /// leaves where lines go (stderr, syslog, `tracing`) to the caller.
    pub fn on_notice(mut self, notice: impl Fn(&Notice<'_>) + Send + Sync + 'static) -> Self {
        self.notice = Some(Arc::new(notice));
        self
    }

    /// The configuration each session runs under.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// The connections open now and the caps on them.
    pub fn connections(&self) -> Connections {
        Connections(self.table.clone())
    }

    /// Whether the busy poller ([`with_busy_poll`](Self::with_busy_poll))
    /// is polling now, rather than asleep until the next input; false
    /// without one.
    pub fn is_busy_polling(&self) -> bool {
        self.busy_poll
            .as_ref()
            .is_some_and(|poll| !poll.is_parked())
    }

    /// Accepts connections until accepting fails for good, each served with
    /// a handler made by `handler` for the client's address.
    pub async fn serve<H, F>(&self, listener: TcpListener, handler: F) -> io::Result<()>
    where
        H: Handler,
        F: FnMut(SocketAddr) -> H,
    {
        self.serve_until(listener, handler, std::future::pending())
            .await
    }

    /// [`serve`](Self::serve) until `stop` completes, then shuts down
    /// gracefully: no new connections, 421 4.3.2 to idle clients, and
    /// clients with a message in flight are let finish it first. Returns
    /// once every connection is closed.
    ///
    /// A connection over a cap gets its 421 before any handler is made.
    /// When `accept` fails for want of a resource, accepting pauses, from
    /// 10 ms doubling to 1 s while failures go on, and a connection that
    /// ends cuts the pause short.
    pub async fn serve_until<H, F>(
        &self,
        listener: TcpListener,
        mut handler: F,
        stop: impl Future<Output = ()>,
    ) -> io::Result<()>
    where
        H: Handler,
        F: FnMut(SocketAddr) -> H,
    {
        let (stopping, watch) = watch::channel(false);
        let mut connections = JoinSet::new();
        // Aborted when dropped: the poller stops however this ends.
        let mut background = JoinSet::new();
        if let Some(poll) = self.busy_poll.clone() {
            background.spawn(async move { poll.run().await });
        }
        let mut backoff = AcceptBackoff::default();
        let mut failures = Throttle::default();
        tokio::pin!(stop);
        let accepted = loop {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, client)) => {
                        backoff.accepted();
                        self.input();
                        if !self.admits(client.ip()) {
                            continue;
                        }
                        let slot = match self.admit(client.ip()) {
                            Ok(slot) => slot,
                            Err(refusal) => {
                                admission::refuse(stream, self.config.hostname.as_str(), refusal);
                                self.refused(refusal);
                                continue;
                            }
                        };
                        // Replies are small and wait on each other: Nagle
                        // would hold them back.
                        let _ = stream.set_nodelay(true);
                        // Behind a proxy the client is the one its
                        // header names, learnt at the session's start.
                        let client_ip = self.proxies.is_none().then(|| client.ip());
                        connections.spawn(connection::serve(
                            Box::new(stream),
                            self.clone(),
                            handler(client),
                            watch.clone(),
                            Some(slot),
                            client_ip,
                        ));
                    }
                    Err(error) if is_connection_error(&error) => {}
                    Err(error) if is_resource_error(&error) => {
                        // Accepting again at once would fail the same way.
                        let pause = backoff.failed();
                        if let (Some(notice), Some(left_out)) = (&self.notice, failures.due()) {
                            notice(&Notice::AcceptFailed {
                                error: &error,
                                open: self.connections().open(),
                                pause,
                                left_out,
                            });
                        }
                        // A connection that ends frees a descriptor.
                        let freed = self.connections();
                        tokio::select! {
                            () = tokio::time::sleep(pause) => {}
                            () = freed.freed() => {}
                            () = &mut stop => break Ok(()),
                        }
                    }
                    Err(error) => break Err(error),
                },
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
                () = &mut stop => break Ok(()),
            }
        };
        // No new client is taken while the others finish.
        drop(listener);
        let _ = stopping.send(true);
        while connections.join_next().await.is_some() {}
        accepted
    }

    /// Serves one connection the caller accepted (a TLS stream from the
    /// first byte, a Unix socket, an in-memory pipe) until it closes;
    /// returns why the session closed it, or `None` when the transport
    /// failed first. Turning `stopping` true ends it as a shutdown does.
    /// It is not counted against the connection caps: the caller chose to
    /// serve it.
    pub async fn serve_connection<H: Handler>(
        &self,
        stream: Box<dyn Transport>,
        handler: H,
        stopping: watch::Receiver<bool>,
    ) -> Option<CloseReason> {
        connection::serve(stream, self.clone(), handler, stopping, None, None).await
    }
}

impl Server {
    /// Whether a peer at `address` may connect: any, unless only trusted
    /// proxies may.
    fn admits(&self, address: IpAddr) -> bool {
        self.proxies
            .as_ref()
            .is_none_or(|trusted| trusted.contains(&address.to_canonical()))
    }

    /// A slot for a connection from the peer `address`, counted against
    /// that address unless a PROXY header is to name the client.
    fn admit(&self, address: IpAddr) -> Result<Slot, Refusal> {
        let mut slot = self.table.admit()?;
        if self.proxies.is_none() {
            self.claim(&mut slot, address)?;
        }
        Ok(slot)
    }

    /// Counts the connection in `slot` against `client`'s cap and its
    /// connection rate, or refuses it.
    fn claim(&self, slot: &mut Slot, client: IpAddr) -> Result<(), Refusal> {
        slot.claim(client)?;
        match self.allows(client, Attempt::Connection) {
            true => Ok(()),
            false => Err(Refusal::ConnectionRate(client.to_canonical())),
        }
    }

    /// Counts one `attempt` by `client`; false when it is over its rate.
    fn allows(&self, client: IpAddr, attempt: Attempt) -> bool {
        self.rates.allows(client, attempt, Instant::now())
    }

    /// Reports a refusal, throttled.
    fn refused(&self, refusal: Refusal) {
        let Some(notice) = &self.notice else {
            return;
        };
        let due = self
            .refusals
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .due();
        if let Some(left_out) = due {
            notice(&Notice::Refused {
                refusal,
                open: self.table.open(),
                most: self.table.most(),
                left_out,
            });
        }
    }

    /// Tells the busy poller, if any, that a connection read or accepted
    /// something.
    fn input(&self) {
        if let Some(poll) = &self.busy_poll {
            poll.input();
        }
    }
}

/// An error that ends one connection before it was accepted, not the
/// listener.
fn is_connection_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
    )
}

/// Out of descriptors, buffers or memory: it passes once connections close.
fn is_resource_error(error: &io::Error) -> bool {
    // EMFILE, ENFILE, ENOBUFS and ENOMEM on Linux and the BSDs.
    matches!(error.raw_os_error(), Some(23 | 24 | 55 | 105 | 12))
        || error.kind() == io::ErrorKind::OutOfMemory
}
