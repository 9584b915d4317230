//! The relay: the receiving server storing into a queue directory, and a
//! queue runner delivering to next hops.

pub mod admin;
pub mod bounce;
pub mod claim;
pub mod dsn;
pub mod listing;
pub mod queue;
pub mod rewrite;
pub mod runner;
pub mod srs;

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use smtpwire::client::LongLines;
use smtpwire::delivery::{Backoff, Warmup};
use smtpwire::{Domain, Host, Text};

use crate::outbound::ledger::Ledger;
use crate::outbound::routes::{FixedRoute, Routes};
use crate::outbound::secure::hop::NextHopSecurity;
use crate::outbound::secure::SecureSettings;
use crate::outbound::transfer::Transfer;
use crate::server::maildir::Maildir;
use crate::server::tls::Identity;
use queue::Queue;
use runner::Runner;

/// How the relay runs; `relay.rs` fills it from the command line.
pub struct Settings {
    /// This relay's name: greeting, EHLO to next hops, trace fields,
    /// bounces.
    pub hostname: Domain,
    /// The queue directory.
    pub queue: PathBuf,
    /// Domains routed to fixed hosts instead of their MX records.
    pub routes: Vec<FixedRoute>,
    /// The port of exchangers found in DNS.
    pub port: u16,
    /// The retry schedule.
    pub backoff: Backoff,
    /// The pause between queue runs.
    pub interval: Duration,
    /// How long a connect to a next hop may take.
    pub connect_timeout: Duration,
    /// Most messages per outgoing connection.
    pub per_connection: usize,
    /// Destinations delivered to at once.
    pub connections: usize,
    /// How long a message may wait before its sender is told it is
    /// delayed; `None` never tells.
    pub warn_after: Option<Duration>,
    /// STARTTLS to next hops that offer it.
    pub starttls: bool,
    /// STARTTLS for clients; `None` turns it off.
    pub tls: Option<Identity>,
    /// The largest message taken.
    pub max_message_size: Option<u64>,
    /// Signs queued messages whose From: domain has a key.
    pub dkim: Option<crate::dkim::Signer>,
    /// SPF, DKIM and DMARC checks of each message taken in, recorded in an
    /// `Authentication-Results:` field, and with a key, an ARC seal (RFC
    /// 8617) so that the next hops can trust those results.
    pub authentication: Option<crate::authentication::Settings>,
    /// MTA-STS for next hops, and TLS reports of each attempt.
    pub secure: SecureSettings,
    /// The rewriting table recipients and senders go through at intake
    /// ([`rewrite`]); `None` rewrites nothing.
    pub rewriting: Option<Arc<rewrite::Rewriting>>,
    /// With a table, rewrite the `From:` and `Sender:` fields by its
    /// sender rules too, before the message is signed.
    pub rewrite_sender_headers: bool,
    /// SRS for the senders of mail the table forwards, bounces to SRS
    /// addresses decoded back at RCPT; `None`, senders stay as they are.
    pub srs: Option<srs::Srs>,
}

/// The local addresses the relay delivers from, and how it slows down
/// when a provider throttles one of them.
#[derive(Debug, Clone)]
pub struct Sources {
    /// The addresses, used round-robin over the destinations; none, the
    /// system chooses.
    pub addresses: Vec<IpAddr>,
    /// Refuse to start unless each address has forward-confirmed reverse
    /// DNS matching the hostname (a warning otherwise).
    pub require_fcrdns: bool,
    /// How long a provider's first throttling reply to an address pauses
    /// mail to that provider from it; the pause doubles while the
    /// throttling goes on, and the messages per round halve.
    pub throttle_pause: Duration,
    /// The warm-up caps of each source address and receiving provider,
    /// counted in the queue directory's `warmup` file; `None`, no caps.
    pub warmup: Option<Warmup>,
    /// The DNS server for MX, address and reverse lookups (`None`: the
    /// system's).
    pub nameserver: Option<SocketAddr>,
}

impl Default for Sources {
    /// The system's choice of address and DNS server, not checked, a
    /// minute's pause, no warm-up caps.
    fn default() -> Sources {
        Sources {
            addresses: Vec::new(),
            require_fcrdns: false,
            throttle_pause: Duration::from_secs(60),
            warmup: None,
            nameserver: None,
        }
    }
}

/// A bound relay, ready to run.
pub struct Relay {
    server: crate::server::Server,
    runner: Runner,
    ledger: Ledger,
}

impl Relay {
    /// Opens the queue and binds `address`.
    pub async fn bind(address: SocketAddr, settings: Settings) -> io::Result<Relay> {
        Relay::bind_from(address, settings, Sources::default()).await
    }

    /// [`bind`](Self::bind) to an address or a socket bound already,
    /// delivering from `sources`, whose reverse DNS is checked first.
    pub async fn bind_from(
        listen: impl Into<crate::server::Listen>,
        settings: Settings,
        sources: Sources,
    ) -> io::Result<Relay> {
        let queue = Queue::open(&settings.queue)?;
        let ledger = Ledger::load(&queue.ledger())?;
        let hostname = settings.hostname.as_str().to_string();
        let mut intake =
            crate::server::Settings::new(Text::new(&hostname).map_err(io::Error::other)?);
        intake.maildir = Some(queue.incoming());
        intake.tls = settings.tls;
        intake.max_message_size = settings.max_message_size;
        intake.authentication = settings.authentication;
        // The queue keeps what the sender asked to be told (RFC 3461).
        intake.envelope_dsn = true;
        let header_rewriting = settings
            .rewriting
            .clone()
            .filter(|_| settings.rewrite_sender_headers);
        intake.rewriting = settings.rewriting;
        intake.srs = settings.srs;
        let server = crate::server::Server::with_listener(listen.into().bind().await?, intake)?;
        // A relay must not bounce what another server took: a line over
        // the limit is broken as Postfix does rather than refused.
        let mut routes = Routes::new(settings.routes, settings.port);
        if let Some(server) = sources.nameserver {
            routes = routes.with_nameserver(server);
        }
        let security = NextHopSecurity::new(
            &settings.secure,
            routes.resolver().cloned(),
            sources.nameserver,
            settings.queue.join("mta-sts"),
        )?;
        let transfer = Transfer::new(
            routes,
            &settings.hostname,
            settings.starttls,
            LongLines::Wrap,
            settings.connect_timeout,
        )?
        .with_sources(sources.addresses)
        .with_security(security);
        crate::outbound::fcrdns::check_all(
            transfer.routes.resolver(),
            transfer.sources(),
            settings.hostname.as_str(),
            sources.require_fcrdns,
        )
        .await
        .map_err(io::Error::other)?;
        let mut own_hosts = vec![Host::Domain(settings.hostname.clone())];
        if let Ok(local) = server.local_addr() {
            if let Ok(literal) = Host::parse(&crate::trace::address_literal(local.ip())) {
                own_hosts.push(literal);
            }
        }
        let runner = Runner {
            store: Maildir::create(&queue.incoming(), &hostname)?,
            queue,
            transfer: Arc::new(transfer),
            backoff: settings.backoff,
            hostname: settings.hostname,
            own_hosts,
            interval: settings.interval,
            per_connection: settings.per_connection,
            connections: settings.connections,
            warn_after: settings.warn_after,
            dkim: Arc::new(arc_swap::ArcSwapOption::from_pointee(settings.dkim)),
            header_rewriting,
            throttle_pause: sources.throttle_pause,
            warmup: sources.warmup,
        };
        Ok(Relay {
            server,
            runner,
            ledger,
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.server.local_addr()
    }

    /// What puts new routes and signing keys in force while the relay
    /// runs.
    pub fn reconfigurer(&self) -> Reconfigurer {
        Reconfigurer {
            transfer: self.runner.transfer.clone(),
            dkim: self.runner.dkim.clone(),
        }
    }

    /// Most messages a crash can leave delivered but not recorded, which
    /// the next start sends again: connections × the pipelined window.
    pub fn in_flight_bound(&self) -> usize {
        self.runner.in_flight_bound()
    }

    /// Receives and delivers until `shutdown` completes; then stops taking
    /// mail, lets messages being received finish, and stops delivering.
    /// Whatever was being delivered is tried again on the next start.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let _runner = AbortOnDrop(tokio::spawn(self.runner.run(self.ledger)));
        self.server.run(shutdown).await;
    }
}

/// Puts new settings in force in a running [`Relay`] (on SIGHUP): the
/// `--mx` routes, for the deliveries planned from then on, and the DKIM
/// keys, for the messages signed from then on.
pub struct Reconfigurer {
    transfer: Arc<Transfer>,
    dkim: Arc<arc_swap::ArcSwapOption<crate::dkim::Signer>>,
}

impl Reconfigurer {
    /// Replaces the fixed routes and the signer (`None`: sign nothing).
    pub fn apply(&self, routes: Vec<FixedRoute>, dkim: Option<crate::dkim::Signer>) {
        self.transfer.routes.set_fixed(routes);
        self.dkim.store(dkim.map(Arc::new));
    }
}

/// Stops the queue runner with the relay, however the relay ends.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
