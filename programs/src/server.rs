//! The receiving server: settings, and the handler that stores each message
//! in a Maildir, run by the driver crate's server
//! ([`smtpwire_tokio::server::Server`]), which accepts, caps connections,
//! reads and writes, upgrades with STARTTLS and shuts down gracefully.

pub mod client;
pub mod envelopes;
pub mod handler;
pub mod held;
pub mod intake;
pub mod maildir;
pub mod rules;
pub mod tls;
pub mod users;

use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;

use smtpwire::auth::Mechanism;
use smtpwire::server::{AuthPolicy, Deadline, ServerConfig};
use smtpwire::Protocol;
use smtpwire::Text;
use smtpwire_tokio::server::{Connections, RateLimits, DEFAULT_MAX_CONNECTIONS_PER_IP};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinSet;

use crate::authentication::Evaluator;
use crate::relay::rewrite::Rewriting;
use crate::relay::srs::Srs;
use handler::Handler;
use intake::Intake;
use maildir::Maildir;
use rules::RecipientRules;
use users::Users;

/// Where a server listens: an address to bind, or a socket bound already
/// (passed by a service manager, or bound before the process gave up
/// root).
pub enum Listen {
    /// Bind this address.
    Address(SocketAddr),
    /// Listen on this socket.
    Bound(TcpListener),
}

impl Listen {
    /// The listening socket, bound now if it was not.
    pub async fn bind(self) -> io::Result<TcpListener> {
        match self {
            Listen::Address(address) => TcpListener::bind(address).await,
            Listen::Bound(listener) => Ok(listener),
        }
    }
}

impl From<SocketAddr> for Listen {
    fn from(address: SocketAddr) -> Self {
        Listen::Address(address)
    }
}

impl From<TcpListener> for Listen {
    fn from(listener: TcpListener) -> Self {
        Listen::Bound(listener)
    }
}

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
    /// With the PROXY protocol, the peers whose header is believed; any
    /// other is closed unanswered.
    pub trusted_proxies: Vec<IpAddr>,
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
    /// Keep polling this long after each input before sleeping
    /// ([`smtpwire_tokio::server::Server::with_busy_poll`]); [`Server::bind`]
    /// refuses it outside tokio's single-threaded runtime.
    pub busy_poll: Option<Duration>,
    /// Connections open at once; more are answered 421 and closed.
    pub max_connections: usize,
    /// Connections open at once from one client address (the one a
    /// trusted PROXY header names, or the peer's); `None` or 0 for no such
    /// limit.
    pub max_connections_per_ip: Option<usize>,
    /// SPF, DKIM and DMARC checks of each message, recorded in an
    /// `Authentication-Results:` field; `None` checks nothing.
    pub authentication: Option<crate::authentication::Settings>,
    /// With DMARC checked, refuse a message that fails it when its
    /// domain's policy is `p=reject` (550 5.7.1 at the end of data).
    pub reject_on_dmarc_policy: bool,
    /// Connections, messages and recipients one client address may start
    /// per minute; none limited by default.
    pub rate_limits: RateLimits,
    /// Keep the DSN parameters (RFC 3461: RET, ENVID, NOTIFY, ORCPT) on
    /// the envelope lines of each stored message, as a relay's queue reads
    /// them ([`crate::relay::queue`]); SMTP only.
    pub envelope_dsn: bool,
    /// Offer DSN (RFC 3461) in the EHLO reply; on by default. A server
    /// that does not offer it refuses the DSN parameters.
    pub offer_dsn: bool,
    /// The rewriting table recipients and senders go through at RCPT and
    /// MAIL ([`crate::relay::rewrite`]); SMTP only.
    pub rewriting: Option<Arc<Rewriting>>,
    /// SRS for the senders of mail the table forwards, and the decoding
    /// of bounces to SRS addresses ([`crate::relay::srs`]); SMTP only.
    pub srs: Option<Srs>,
    /// With authentication on, the bytes all messages under way may hold
    /// in memory together ([`held`]).
    pub max_held_memory: usize,
}

/// The default of [`Settings::max_held_memory`].
pub const DEFAULT_MAX_HELD_MEMORY: usize = 256 << 20;

impl Settings {
    /// Defaults: SMTP into no maildir (discard), no TLS, no AUTH, PROXY
    /// headers believed from loopback only; as many connections as the
    /// open-file limit leaves room for ([`default_max_connections`]), 50
    /// from one address.
    pub fn new(hostname: Text) -> Self {
        Settings {
            hostname,
            maildir: None,
            users: None,
            allow_cleartext_auth: false,
            require_auth: false,
            lmtp: false,
            proxy_protocol: false,
            trusted_proxies: vec![Ipv4Addr::LOCALHOST.into(), Ipv6Addr::LOCALHOST.into()],
            tls: None,
            max_message_size: None,
            max_recipients: None,
            idle_timeout: None,
            min_data_rate: None,
            rules: RecipientRules::default(),
            busy_poll: None,
            max_connections: default_max_connections(),
            max_connections_per_ip: Some(DEFAULT_MAX_CONNECTIONS_PER_IP),
            authentication: None,
            reject_on_dmarc_policy: false,
            rate_limits: RateLimits::default(),
            envelope_dsn: false,
            offer_dsn: true,
            rewriting: None,
            srs: None,
            max_held_memory: DEFAULT_MAX_HELD_MEMORY,
        }
    }

    fn session_config(&self) -> ServerConfig {
        let mut config = ServerConfig::new(self.hostname.clone());
        if self.lmtp {
            config.protocol = Protocol::Lmtp;
        }
        if self.users.is_some() {
            // -PLUS is offered only on TLS 1.3 connections, where the driver
            // gives the session a channel binding.
            config.capabilities.auth = vec![
                Mechanism::ScramSha256Plus,
                Mechanism::ScramSha256,
                Mechanism::Plain,
                Mechanism::Login,
            ];
        }
        if self.allow_cleartext_auth {
            config.auth_policy = AuthPolicy::AllowCleartext;
        }
        config.require_auth = self.require_auth;
        // REQUIRETLS (RFC 8689 §4.1), which the session offers only once
        // TLS is up; the flag is kept with the stored message.
        config.capabilities.require_tls = self.tls.is_some();
        config.capabilities.dsn = self.offer_dsn;
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

/// The default total never exceeds this: at roughly 15 KiB per idle
/// session and a 32 KiB write buffer per message in flight, ten thousand
/// connections stay within a few hundred megabytes.
const MOST_BY_DEFAULT: usize = smtpwire_tokio::server::DEFAULT_MAX_CONNECTIONS;

/// Descriptors kept out of the default total for the listener, standard
/// streams, the directory fsyncs of deliveries and TLS files.
const RESERVED_FILES: usize = 64;

/// Descriptors one session may hold: its socket and, during DATA, the file
/// in `tmp/` (an LMTP transaction holds one per recipient, but LMTP clients
/// are a few trusted mail servers).
const FILES_PER_CONNECTION: usize = 2;

/// The descriptor limit assumed where it cannot be read: macOS's default
/// soft limit, the lowest in common use.
const ASSUMED_FILE_LIMIT: usize = 256;

/// The default total: as many connections as the process's open-file limit
/// (`RLIMIT_NOFILE`, soft) leaves room for, at two descriptors each after a
/// reserve, and at most the driver's default. A server past its descriptor
/// limit can neither accept nor store, so the cap must be reached first.
pub fn default_max_connections() -> usize {
    let files = open_file_limit().unwrap_or(ASSUMED_FILE_LIMIT);
    (files.saturating_sub(RESERVED_FILES) / FILES_PER_CONNECTION).clamp(1, MOST_BY_DEFAULT)
}

/// The soft open-file limit, from `/proc/self/limits` (Linux); `None`
/// elsewhere. "unlimited" reads as `usize::MAX`.
fn open_file_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))?;
    let soft = line["Max open files".len()..].split_whitespace().next()?;
    if soft == "unlimited" {
        return Some(usize::MAX);
    }
    soft.parse().ok()
}

/// What every connection's handler shares.
pub struct Shared {
    /// This server's name, for trace fields.
    pub hostname: String,
    /// Where messages go; `None` discards them.
    pub store: Option<Maildir>,
    /// Who may authenticate; replaced on reload.
    pub users: Option<ArcSwap<Users>>,
    /// LMTP instead of SMTP.
    pub lmtp: bool,
    /// Recipients refused as unknown or greylisted; replaced on reload.
    pub rules: RecipientRules,
    /// Counters.
    pub stats: Stats,
    /// The connections open now, within their limits.
    pub connections: Connections,
    /// Authentication of each message, when on.
    pub authentication: Option<Intake>,
    /// Keep the DSN parameters on the envelope lines (SMTP only).
    pub envelope_dsn: bool,
    /// The rewriting table, when one is given (SMTP only).
    pub rewriting: Option<Arc<Rewriting>>,
    /// SRS, when on (SMTP only).
    pub srs: Option<Srs>,
}

/// The settings a running server can take anew (on SIGHUP): who may
/// authenticate, the recipient rules, and the limits on connections and
/// rates.
pub struct Reloadable {
    /// The users, read again from their file; `None` when the server
    /// offers no AUTH.
    pub users: Option<Users>,
    /// Recipients refused for good (550 5.1.1).
    pub unknown_recipients: Vec<String>,
    /// Recipients greylisted (451 4.7.1 at first).
    pub greylisted_recipients: Vec<String>,
    /// Connections open at once.
    pub max_connections: usize,
    /// Connections open at once from one client address.
    pub max_connections_per_ip: Option<usize>,
    /// Connections, messages and recipients per client per minute.
    pub rate_limits: RateLimits,
}

/// Puts [`Reloadable`] settings in force in a running [`Server`]: each
/// session sees them from its next command, and the connections open
/// stay.
pub struct Reconfigurer {
    shared: Arc<Shared>,
    driver: smtpwire_tokio::server::Server,
}

impl Reconfigurer {
    /// Applies `settings`. AUTH cannot be turned on or off while running
    /// (the EHLO reply offers it or not from the start): users for a
    /// server started without are refused, and so is their absence for
    /// one started with them.
    pub fn apply(&self, settings: Reloadable) -> Result<(), String> {
        match (&self.shared.users, settings.users) {
            (Some(users), Some(new)) => users.store(Arc::new(new)),
            (None, None) => {}
            (Some(_), None) => {
                return Err("users: AUTH cannot be turned off until a restart".into())
            }
            (None, Some(_)) => return Err("users: AUTH cannot be turned on until a restart".into()),
        }
        self.shared.rules.replace(
            &settings.unknown_recipients,
            &settings.greylisted_recipients,
        );
        self.driver
            .set_connection_limits(settings.max_connections, settings.max_connections_per_ip);
        self.driver.set_rate_limits(settings.rate_limits);
        Ok(())
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

/// Waits until no connection has been open for `idle`.
pub async fn idle_for(connections: &Connections, idle: Duration) {
    let step = idle.min(Duration::from_millis(250));
    let mut quiet = Duration::ZERO;
    while quiet < idle {
        tokio::time::sleep(step).await;
        quiet = if connections.open() == 0 {
            quiet + step
        } else {
            Duration::ZERO
        };
    }
}

/// A bound, not yet running server.
pub struct Server {
    listener: TcpListener,
    driver: smtpwire_tokio::server::Server,
    shared: Arc<Shared>,
}

impl Server {
    /// Binds `address` and prepares the maildir and TLS. Busy polling is
    /// refused outside tokio's single-threaded runtime.
    pub async fn bind(address: SocketAddr, settings: Settings) -> io::Result<Server> {
        Server::with_listener(Listen::Address(address).bind().await?, settings)
    }

    /// [`bind`](Self::bind) over a socket bound already: one a service
    /// manager passed, or one bound before the process gave up root.
    pub fn with_listener(listener: TcpListener, settings: Settings) -> io::Result<Server> {
        let hostname = settings.hostname.as_str().to_string();
        let mut driver = smtpwire_tokio::server::Server::new(settings.session_config())
            .with_max_connections(settings.max_connections)
            .with_max_connections_per_ip(settings.max_connections_per_ip)
            .with_rate_limits(settings.rate_limits)
            .on_notice(|notice| eprintln!("{notice}"));
        if let Some(window) = settings.busy_poll {
            driver = driver.with_busy_poll(window)?;
        }
        if settings.proxy_protocol {
            driver = driver.with_proxy_protocol(settings.trusted_proxies.iter().copied());
        }
        if let Some(identity) = settings.tls {
            driver = driver.with_tls(identity.acceptor()?);
        }
        let store = match &settings.maildir {
            Some(root) => Some(Maildir::create(root, &hostname)?),
            None => None,
        };
        let authentication = match settings.authentication {
            Some(authentication) if authentication.checks.any() => Some(Intake {
                evaluator: Evaluator::new(authentication)?,
                reject_on_dmarc_policy: settings.reject_on_dmarc_policy,
                memory: held::HeldMemory::new(settings.max_held_memory),
            }),
            _ => None,
        };
        let shared = Arc::new(Shared {
            hostname,
            store,
            users: settings.users.map(ArcSwap::from_pointee),
            lmtp: settings.lmtp,
            rules: settings.rules,
            stats: Stats::default(),
            connections: driver.connections(),
            authentication,
            envelope_dsn: settings.envelope_dsn && !settings.lmtp,
            rewriting: settings.rewriting.filter(|_| !settings.lmtp),
            srs: settings.srs.filter(|_| !settings.lmtp),
        });
        Ok(Server {
            listener,
            driver,
            shared,
        })
    }

    /// The address it listens on (useful after binding port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// What connections share, for counters.
    pub fn shared(&self) -> Arc<Shared> {
        self.shared.clone()
    }

    /// The driver that runs the connections, for its state.
    pub fn driver(&self) -> &smtpwire_tokio::server::Server {
        &self.driver
    }

    /// What puts new settings in force while the server runs.
    pub fn reconfigurer(&self) -> Reconfigurer {
        Reconfigurer {
            shared: self.shared.clone(),
            driver: self.driver.clone(),
        }
    }

    /// Accepts connections until `shutdown` completes; then stops accepting,
    /// closes idle connections with 421, lets messages in flight finish and
    /// returns when every connection is done.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        // A `JoinSet` aborts its tasks when dropped: the sweeper stops
        // however `run` ends, dropped mid-way included.
        let mut background = JoinSet::new();
        if let Some(store) = self.shared.store.clone() {
            background.spawn(store.sweep_tmp());
        }
        let connections = self.shared.connections.clone();
        let shutdown = async move {
            shutdown.await;
            let open = connections.open();
            if open > 0 {
                eprintln!("shutting down: waiting for {open} connection(s)");
            }
        };
        let shared = self.shared.clone();
        let served = self
            .driver
            .serve_until(
                self.listener,
                move |client| Handler::new(shared.clone(), client),
                shutdown,
            )
            .await;
        if let Err(error) = served {
            tracing::error!(%error, "accepting failed");
        }
    }
}
