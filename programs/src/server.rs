//! The receiving server: settings, the accept loop, TLS, admission control,
//! and the handler that stores each message in a Maildir.

pub mod admission;
pub mod busy_poll;
pub mod client;
pub mod connection;
pub mod handler;
pub mod maildir;
pub mod rules;
pub mod tls;
pub mod txlog;
pub mod users;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use smtpwire::auth::Mechanism;
use smtpwire::server::{AuthPolicy, Deadline, ServerConfig};
use smtpwire::Protocol;
use smtpwire::Text;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::runtime::RuntimeFlavor;
use tokio::sync::{mpsc, watch, Notify};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use admission::{AcceptBackoff, ConnectionTable, Throttle};
use busy_poll::BusyPoll;
use maildir::Maildir;
use rules::RecipientRules;
use users::Users;

/// A plain or TLS byte stream.
pub trait Transport: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Transport for T {}

/// How the server runs; `main.rs` fills it from the command line.
pub struct Settings {
    /// The name in the greeting, EHLO reply and trace fields.
    pub hostname: Text,
    /// Where messages go; `None` accepts and drops them.
    pub maildir: Option<PathBuf>,
    /// Who may AUTH; AUTH is offered only when set.
    pub users: Option<Users>,
    /// Offer AUTH without TLS.
    pub allow_cleartext_auth: bool,
    /// Submission mode: MAIL only after AUTH.
    pub require_auth: bool,
    /// LMTP instead of SMTP.
    pub lmtp: bool,
    /// Expect a PROXY protocol header on each connection.
    pub proxy_protocol: bool,
    /// The TLS certificate for STARTTLS; `None` turns STARTTLS off.
    pub tls: Option<tls::Identity>,
    /// Largest message, advertised as SIZE.
    pub max_message_size: Option<u64>,
    /// Recipients per message.
    pub max_recipients: Option<usize>,
    /// The time a client has for one request, instead of RFC 5321's five
    /// minutes.
    pub idle_timeout: Option<Duration>,
    /// Octets per second that message content must keep up to earn more
    /// time, instead of the library's default.
    pub min_data_rate: Option<u32>,
    /// Recipients refused as unknown or greylisted.
    pub rules: RecipientRules,
    /// Keep polling this long after each input before sleeping (see
    /// [`busy_poll`]); [`Server::bind`] refuses it outside tokio's
    /// single-threaded runtime.
    pub busy_poll: Option<Duration>,
    /// Connections open at once; more are answered 421 and closed.
    pub max_connections: usize,
    /// Connections open at once from one client address (the peer's, not
    /// one a PROXY header names); `None` or 0 for no such limit.
    pub max_connections_per_ip: Option<usize>,
}

impl Settings {
    /// Defaults: SMTP into no maildir (discard), no TLS, no AUTH; as many
    /// connections as the open-file limit leaves room for
    /// ([`admission::default_max_connections`]), 50 from one address.
    pub fn new(hostname: Text) -> Self {
        Settings {
            hostname,
            maildir: None,
            users: None,
            allow_cleartext_auth: false,
            require_auth: false,
            lmtp: false,
            proxy_protocol: false,
            tls: None,
            max_message_size: None,
            max_recipients: None,
            idle_timeout: None,
            min_data_rate: None,
            rules: RecipientRules::default(),
            busy_poll: None,
            max_connections: admission::default_max_connections(),
            max_connections_per_ip: Some(admission::DEFAULT_PER_CLIENT),
        }
    }

    fn session_config(&self) -> ServerConfig {
        let mut config = ServerConfig::new(self.hostname.clone());
        if self.lmtp {
            config.protocol = Protocol::Lmtp;
        }
        config.capabilities.starttls = self.tls.is_some();
        if self.users.is_some() {
            config.capabilities.auth = vec![Mechanism::Plain, Mechanism::Login];
        }
        if self.allow_cleartext_auth {
            config.auth_policy = AuthPolicy::AllowCleartext;
        }
        config.require_auth = self.require_auth;
        config.proxy_protocol = self.proxy_protocol;
        if let Some(size) = self.max_message_size {
            config.limits.message_size = size;
        }
        if let Some(recipients) = self.max_recipients {
            config.limits.recipients = recipients;
        }
        if let Some(timeout) = self.idle_timeout {
            config.limits.timeout = timeout;
        }
        if let Some(min_data_rate) = self.min_data_rate {
            config.limits.deadline = Deadline::PerRequest { min_data_rate };
        }
        config
    }
}

/// What every connection shares.
pub struct Shared {
    /// The session configuration.
    pub config: Arc<ServerConfig>,
    /// This server's name, for trace fields.
    pub hostname: String,
    /// Where messages go; `None` discards them.
    pub store: Option<Maildir>,
    /// Who may authenticate.
    pub users: Option<Users>,
    /// The STARTTLS handshake.
    pub tls: Option<TlsAcceptor>,
    /// LMTP instead of SMTP.
    pub lmtp: bool,
    /// Recipients refused as unknown or greylisted.
    pub rules: RecipientRules,
    /// Counters.
    pub stats: Stats,
    /// The connections open now, within their limits.
    pub connections: Arc<ConnectionTable>,
    /// Told of each input when `--busy-poll` is on.
    pub busy_poll: Option<Arc<BusyPoll>>,
}

impl Shared {
    /// Notes that a connection read something or one was accepted.
    pub fn input(&self) {
        if let Some(poll) = &self.busy_poll {
            poll.input();
        }
    }
}

/// Counters for `--max-messages` and the tests.
#[derive(Default)]
pub struct Stats {
    messages: AtomicU64,
    changed: Notify,
}

impl Stats {
    /// Messages accepted so far.
    pub fn messages(&self) -> u64 {
        self.messages.load(Ordering::SeqCst)
    }

    pub(crate) fn message_accepted(&self) {
        self.messages.fetch_add(1, Ordering::SeqCst);
        self.changed.notify_waiters();
    }

    /// Waits until `count` messages have been accepted.
    pub async fn reached(&self, count: u64) {
        loop {
            let notified = self.changed.notified();
            if self.messages() >= count {
                return;
            }
            notified.await;
        }
    }
}

/// A bound, not yet running server.
pub struct Server {
    listener: TcpListener,
    shared: Arc<Shared>,
}

impl Server {
    /// Binds `address` and prepares the maildir and TLS.
    pub async fn bind(address: SocketAddr, settings: Settings) -> io::Result<Server> {
        let flavor = tokio::runtime::Handle::current().runtime_flavor();
        // On several worker threads the poller would hold one of them while
        // another sleeps in the sockets' poll.
        if settings.busy_poll.is_some() && flavor != RuntimeFlavor::CurrentThread {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "busy polling needs the single-threaded runtime (--threads 1)",
            ));
        }
        let config = Arc::new(settings.session_config());
        let hostname = settings.hostname.as_str().to_string();
        let store = match &settings.maildir {
            Some(root) => Some(Maildir::create(root, &hostname)?),
            None => None,
        };
        let tls = match settings.tls {
            Some(identity) => Some(identity.acceptor()?),
            None => None,
        };
        let listener = TcpListener::bind(address).await?;
        let shared = Arc::new(Shared {
            config,
            hostname,
            store,
            users: settings.users,
            tls,
            lmtp: settings.lmtp,
            rules: settings.rules,
            stats: Stats::default(),
            connections: Arc::new(ConnectionTable::new(
                settings.max_connections,
                settings.max_connections_per_ip,
            )),
            busy_poll: settings
                .busy_poll
                .map(|window| Arc::new(BusyPoll::new(window))),
        });
        Ok(Server { listener, shared })
    }

    /// The address it listens on (useful after binding port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// What connections share, for counters.
    pub fn shared(&self) -> Arc<Shared> {
        self.shared.clone()
    }

    /// Accepts connections until `shutdown` completes; then stops accepting,
    /// closes idle connections with 421, lets messages in flight finish and
    /// returns when every connection is done.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let (stopping, stop_signal) = watch::channel(false);
        // Each connection holds a sender; `recv` returns `None` once all are gone.
        let (alive, mut all_done) = mpsc::channel::<()>(1);
        // A `JoinSet` aborts its tasks when dropped: the poller and the
        // sweeper stop however `run` ends, dropped mid-way included.
        let mut background = JoinSet::new();
        if let Some(poll) = self.shared.busy_poll.clone() {
            background.spawn(async move { poll.run().await });
        }
        if let Some(store) = self.shared.store.clone() {
            background.spawn(store.sweep_tmp());
        }
        let table = &self.shared.connections;
        let mut backoff = AcceptBackoff::default();
        let mut refusals = Throttle::default();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        backoff.accepted();
                        self.shared.input();
                        let slot = match table.admit(peer.ip()) {
                            Ok(slot) => slot,
                            Err(refusal) => {
                                admission::refuse(stream, &self.shared.hostname, refusal);
                                admission::log_refusal(&mut refusals, refusal, table);
                                continue;
                            }
                        };
                        let shared = self.shared.clone();
                        let stop_signal = stop_signal.clone();
                        let alive = alive.clone();
                        tokio::spawn(async move {
                            connection::serve(stream, peer, shared, stop_signal).await;
                            drop(slot);
                            drop(alive);
                        });
                    }
                    Err(error) if admission::is_connection_error(&error) => {}
                    Err(error) => {
                        // Out of descriptors or memory: accepting again at
                        // once would fail the same way. A connection that
                        // ends frees a descriptor, so it cuts the pause short.
                        let pause = backoff.failed(&error, table.open());
                        tokio::select! {
                            _ = &mut shutdown => break,
                            _ = tokio::time::sleep(pause) => {}
                            _ = table.freed() => {}
                        }
                    }
                },
            }
        }
        drop(self.listener);
        let _ = stopping.send(true);
        drop(alive);
        let open = table.open();
        if open > 0 {
            eprintln!("shutting down: waiting for {open} connection(s)");
        }
        let _ = all_done.recv().await;
        txlog::flush();
    }
}
