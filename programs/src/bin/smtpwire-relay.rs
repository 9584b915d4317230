//! A mail relay: receives mail with the receiving server into a queue
//! directory, and delivers it to each recipient domain's mail exchangers
//! with the driver crate's client (`smtpwire_tokio::client::Client`),
//! primary first, secondaries when it is down, retrying on a backoff
//! schedule and bouncing what fails.
//!
//! ```sh
//! cargo run -p smtpwire-programs --bin smtpwire-relay   # 127.0.0.1:2527, MX from DNS
//! cargo run -p smtpwire-programs --bin smtpwire-relay -- --mx example.net=127.0.0.1:2601,127.0.0.1:2602
//! ```
//!
//! The client gets its 250 only once the message is fsynced in the queue;
//! a restart, or a crash, loses nothing: the next run takes up every queued
//! message where it was. Each message's outcome is written as its
//! transaction ends, so a crash sends again only what was on the wire: at
//! most `--connections` × 2 messages (the pipelined window), which the
//! relay prints when it starts. Next hops for a domain come from `--mx` when given
//! (in order, as preferences 10, 20, …), from its MX records otherwise
//! (RFC 5321 §5.1, RFC 7505 null MX). One connection per destination
//! carries all of its due messages, pipelined, with STARTTLS when the next
//! hop offers it.
//!
//! With `--warmup-daily N --warmup-hourly M` each source address sends each
//! receiving provider at most that many messages on its first day and in
//! any hour of it, growing day by day (`--warmup-growth`); the rest stays
//! queued, and the counts, with the pace each throttling provider
//! brought, survive a restart in the queue directory's `warmup` file.
//!
//! With `--dkim domain:selector:keyfile` (repeatable) a queued message whose
//! `From:` domain has a key is signed once, before its first attempt, and
//! the signed copy kept in the queue for every recipient, host and retry.
//!
//! With `--authenticate spf,dkim,dmarc` each message taken in gets an
//! `Authentication-Results:` field, and with `--arc-seal domain` also an
//! ARC set (RFC 8617) signed with that domain's RSA `--dkim` key.
//!
//! `smtpwire-queue` lists the queue and holds, releases, flushes, requeues
//! or deletes its messages while the relay runs.
//!
//! The relay takes mail for any recipient from any client that reaches it:
//! keep it on loopback or a trusted network.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use smtpwire::delivery::Backoff;
use smtpwire::Domain;

use smtpwire_programs::authentication::{self, Checks};
use smtpwire_programs::dkim::{Algorithm, Key, Signer};
use smtpwire_programs::logging::{self, LogFormat};
use smtpwire_programs::metrics_file::{sample_queue, MetricsFlags};
use smtpwire_programs::outbound::ledger::WarmupFlags;
use smtpwire_programs::outbound::routes::{FixedRoute, SMTP_PORT};
use smtpwire_programs::outbound::secure::{SecureSettings, POLICY_PORT};
use smtpwire_programs::outbound::transfer::PIPELINED_WINDOW;
use smtpwire_programs::relay::queue::Queue;
use smtpwire_programs::relay::rewrite::Rewriting;
use smtpwire_programs::relay::srs::Srs;
use smtpwire_programs::relay::{Relay, Settings, Sources};
use smtpwire_programs::reload::Reload;
use smtpwire_programs::server::tls::Identity;
use smtpwire_programs::service;

/// Command-line flags.
#[derive(Parser, Debug)]
#[command(about = "An SMTP relay with a queue directory and MX-based delivery")]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:2527")]
    listen: SocketAddr,
    /// This relay's name.
    #[arg(long, default_value = "localhost")]
    hostname: String,
    /// The queue directory (created if missing).
    #[arg(long, default_value = "./queue")]
    queue: PathBuf,
    /// `domain=host[:port],host[:port],…`: deliver the domain's mail to
    /// these hosts, in this order, instead of its MX records; repeat for
    /// more domains.
    #[arg(long)]
    mx: Vec<String>,
    /// The port of mail exchangers found in DNS.
    #[arg(long, default_value_t = SMTP_PORT)]
    port: u16,
    /// Seconds before the first retry of a deferred message.
    #[arg(long, default_value_t = 30 * 60)]
    retry_initial: u64,
    /// How much each wait grows over the last.
    #[arg(long, default_value_t = 2)]
    retry_factor: u32,
    /// The longest wait between retries, in seconds.
    #[arg(long, default_value_t = 4 * 3600)]
    retry_max: u64,
    /// Seconds after the first attempt to give up and bounce.
    #[arg(long, default_value_t = 5 * 86_400)]
    give_up_after: u64,
    /// Seconds a message may wait before its sender is told it is delayed
    /// (once); 0 never tells.
    #[arg(long, default_value_t = 4 * 3600)]
    warn_after: u64,
    /// Seconds between queue runs.
    #[arg(long, default_value_t = 1.0)]
    interval: f64,
    /// Seconds a connect to a next hop may take.
    #[arg(long, default_value_t = 30)]
    connect_timeout: u64,
    /// Most messages per outgoing connection.
    #[arg(long, default_value_t = 100)]
    per_connection: usize,
    /// Destinations delivered to at once.
    #[arg(long, default_value_t = 16)]
    connections: usize,
    /// Never use STARTTLS to next hops (default: when offered).
    #[arg(long)]
    no_starttls_out: bool,
    /// Look up recipient domains' MTA-STS policies (RFC 8461), cached in
    /// the queue directory, and apply them: in `enforce` mode mail goes
    /// only to the MX hosts a policy lists, over STARTTLS with a
    /// certificate that verifies for the host's name, or stays queued.
    #[arg(long, conflicts_with = "no_starttls_out")]
    mta_sts: bool,
    /// The CA certificates (PEM) that MTA-STS policy hosts and MX hosts
    /// must chain to (default: the system's bundle).
    #[arg(long, value_name = "FILE")]
    next_hop_ca: Option<PathBuf>,
    /// The HTTPS port of MTA-STS policy hosts.
    #[arg(long, default_value_t = POLICY_PORT)]
    mta_sts_port: u16,
    /// DANE (RFC 7672): for MX hosts of a DNSSEC-secure MX RRset, look up
    /// their TLSA records with DNSSEC validation and hold them to those
    /// records (TLS mandatory, certificate matched), before and above
    /// MTA-STS; a host whose records fail validation is skipped.
    #[arg(long, conflicts_with = "no_starttls_out")]
    dane: bool,
    /// The DNSSEC trust anchor: DNSKEY records in zone-file form (default:
    /// the root zone's key signing keys).
    #[arg(long, value_name = "FILE", requires = "dane")]
    dnssec_trust_anchor: Option<PathBuf>,
    /// Also append each delivery attempt's TLS report (RFC 8460 terms:
    /// policy, MX host, result type) to this file as a JSON line.
    #[arg(long, value_name = "FILE")]
    tls_report_file: Option<PathBuf>,
    /// Turn STARTTLS off for clients (default: a self-signed certificate).
    #[arg(long)]
    no_tls: bool,
    /// Largest message in octets.
    #[arg(long)]
    max_message_size: Option<u64>,
    /// A local address to deliver from; repeat for several, used
    /// round-robin over the destinations.
    #[arg(long)]
    source_ip: Vec<IpAddr>,
    /// Refuses to start unless each source address's PTR name is the
    /// hostname and resolves back to it (a warning without this flag).
    #[arg(long)]
    require_fcrdns: bool,
    /// Seconds a provider's throttling reply pauses mail to it from that
    /// source address, the first time; it doubles while the throttling
    /// goes on, and the messages per round halve. Throttled recipients
    /// stay queued without counting as a failed attempt.
    #[arg(long, default_value_t = 60.0)]
    throttle_pause: f64,
    /// `domain:selector:keyfile`: sign queued mail whose From: domain is
    /// this one with the key (PEM, RSA of 2048 bits or more, or Ed25519);
    /// repeat for more keys or domains, a domain with one of each kind
    /// getting both signatures.
    #[arg(long)]
    dkim: Vec<String>,
    /// The warm-up caps per (source address, receiving provider), counted
    /// in the queue directory's `warmup` file; a message over a cap stays
    /// queued until the cap allows it.
    #[command(flatten)]
    warmup: WarmupFlags,
    /// The DNS server to ask (`address:port`) instead of the system's.
    #[arg(long)]
    dns_server: Option<SocketAddr>,
    /// Once the port is bound, run as this user (the process must start
    /// as root): port 25 needs root, nothing after it does. The queue
    /// directory must be writable by it.
    #[arg(long, value_name = "NAME")]
    user: Option<String>,
    /// How log lines are written: text, or one JSON object per line.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(flatten)]
    metrics: MetricsFlags,
    /// Check each message taken in, as smtpwire-server's option of the
    /// same name does: a comma-separated list of `spf`, `dkim` and
    /// `dmarc`, recorded in an `Authentication-Results:` field.
    #[arg(long, value_name = "CHECKS", value_parser = Checks::parse)]
    authenticate: Option<Checks>,
    /// The name the results are given under. Default: the --hostname.
    #[arg(long, value_name = "NAME", requires = "authenticate")]
    authserv_id: Option<String>,
    /// Seal each message taken in with an ARC set (RFC 8617) signed with
    /// this domain's RSA key from --dkim, after verifying the sets it
    /// came with, so that the next hops can trust its authentication
    /// results. Needs --authenticate.
    #[arg(long, value_name = "DOMAIN", requires = "authenticate")]
    arc_seal: Option<String>,
    /// The rewriting table (aliases, lists, domain rewrites, refused
    /// addresses, sender rules; the README has the format), applied at
    /// RCPT and MAIL; read again when it changes.
    #[arg(long, value_name = "FILE")]
    rewrite_table: Option<PathBuf>,
    /// Rewrite the From: and Sender: fields by the table's sender rules
    /// too, before the message is signed (--dkim).
    #[arg(long, requires = "rewrite_table")]
    rewrite_sender_headers: bool,
    /// Rewrite the envelope sender of mail the table forwards with SRS
    /// (the Sender Rewriting Scheme) into this domain, so that SPF holds
    /// at the next hop, and send bounces to such addresses back to the
    /// sender. Needs --srs-secret-file.
    #[arg(long, value_name = "DOMAIN", requires = "srs_secret_file")]
    srs_domain: Option<String>,
    /// The file holding the SRS secret (its first line).
    #[arg(long, value_name = "FILE", requires = "srs_domain")]
    srs_secret_file: Option<PathBuf>,
}

/// The keys a SIGHUP puts in force: the key files and the rewriting
/// table are read again too.
const RELOADABLE: &[&str] = &["mx", "dkim"];

fn main() -> ExitCode {
    let args = smtpwire_programs::config::parse::<Args>();
    let reload = match Reload::<Args>::of_process(RELOADABLE) {
        Ok(reload) => reload,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    // Before the log's thread or the runtime's start.
    let inherited = match service::take_inherited_listener() {
        Ok(inherited) => inherited,
        Err(failure) => return failure,
    };
    let _log = logging::init(args.log_format);
    match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime.block_on(run(args, inherited, reload)),
        Err(error) => {
            eprintln!("error: cannot start the runtime: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(
    args: Args,
    inherited: Option<std::net::TcpListener>,
    reload: Reload<Args>,
) -> ExitCode {
    let settings = match settings(&args) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    let queue = settings.queue.display().to_string();
    // The rewriting table is read again on SIGHUP too (and whenever its
    // file changes).
    let rewriting = settings.rewriting.clone();
    let sources = Sources {
        addresses: args.source_ip.clone(),
        require_fcrdns: args.require_fcrdns,
        throttle_pause: Duration::from_secs_f64(args.throttle_pause.max(0.0)),
        warmup: args.warmup.schedule(),
        nameserver: args.dns_server,
    };
    let bound = service::listen(inherited, args.listen, args.user.as_deref());
    let relay = match async { Relay::bind_from(bound?, settings, sources).await }.await {
        Ok(relay) => relay,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    let reconfigurer = relay.reconfigurer();
    tokio::spawn(reload.on_hangup(move |args| {
        let (routes, signer) = (routes(args)?, signer(args)?);
        if let Some(rewriting) = &rewriting {
            rewriting
                .reload()
                .map_err(|e| format!("--rewrite-table: {e}"))?;
        }
        reconfigurer.apply(routes, signer);
        Ok(())
    }));
    let queue_dir = match Queue::open(&args.queue) {
        Ok(queue_dir) => queue_dir,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(error) = args.metrics.start(move || sample_queue(&queue_dir)) {
        eprintln!("error: {error}");
        return ExitCode::FAILURE;
    }
    match relay.local_addr() {
        Ok(address) => {
            let serving = format!("relay on {address}, queue in {queue}");
            eprintln!(
                "{serving}; a crash sends again at most {} messages \
                 ({} connections x {PIPELINED_WINDOW} pipelined); Ctrl-C stops",
                relay.in_flight_bound(),
                args.connections.max(1),
            );
            service::notify_ready(&serving);
        }
        Err(error) => eprintln!("error: {error}"),
    }
    relay
        .run(async {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = service::terminated() => {}
            }
            service::notify_stopping();
        })
        .await;
    ExitCode::SUCCESS
}

fn settings(args: &Args) -> Result<Settings, String> {
    let hostname =
        Domain::parse(&args.hostname).map_err(|e| format!("--hostname {}: {e}", args.hostname))?;
    let tls = if args.no_tls {
        None
    } else {
        Some(Identity::self_signed(&args.hostname).map_err(|e| e.to_string())?)
    };
    Ok(Settings {
        hostname,
        queue: args.queue.clone(),
        routes: routes(args)?,
        port: args.port,
        backoff: Backoff {
            initial: Duration::from_secs(args.retry_initial),
            factor: args.retry_factor,
            max: Duration::from_secs(args.retry_max),
            give_up_after: Duration::from_secs(args.give_up_after),
        },
        interval: Duration::from_secs_f64(args.interval.max(0.01)),
        connect_timeout: Duration::from_secs(args.connect_timeout),
        per_connection: args.per_connection,
        connections: args.connections,
        warn_after: (args.warn_after > 0).then(|| Duration::from_secs(args.warn_after)),
        starttls: !args.no_starttls_out,
        tls,
        max_message_size: args.max_message_size,
        dkim: signer(args)?,
        authentication: match args.authenticate {
            Some(checks) => Some(authentication(args, checks)?),
            None => None,
        },
        secure: SecureSettings {
            mta_sts: args.mta_sts,
            trust: args.next_hop_ca.clone(),
            policy_port: args.mta_sts_port,
            report_file: args.tls_report_file.clone(),
            dane: args.dane,
            dnssec_trust_anchor: args.dnssec_trust_anchor.clone(),
        },
        rewriting: match &args.rewrite_table {
            Some(path) => Some(Arc::new(
                Rewriting::load(path).map_err(|e| format!("--rewrite-table: {e}"))?,
            )),
            None => None,
        },
        rewrite_sender_headers: args.rewrite_sender_headers,
        srs: match (&args.srs_domain, &args.srs_secret_file) {
            (Some(domain), Some(file)) => Some(srs(domain, file)?),
            _ => None,
        },
    })
}

/// SRS for `domain`, with the secret on the first line of `file`.
fn srs(domain: &str, file: &std::path::Path) -> Result<Srs, String> {
    Domain::parse(domain).map_err(|e| format!("--srs-domain {domain}: {e}"))?;
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("--srs-secret-file {}: {e}", file.display()))?;
    let secret = text.lines().next().unwrap_or_default().trim();
    if secret.is_empty() {
        return Err(format!("--srs-secret-file {}: empty", file.display()));
    }
    Ok(Srs::new(domain, secret.as_bytes()))
}

/// The `--mx` routes.
fn routes(args: &Args) -> Result<Vec<FixedRoute>, String> {
    args.mx
        .iter()
        .map(|spec| FixedRoute::parse(spec, args.port))
        .collect()
}

/// The `--dkim` keys, read from their files now; `None` without any.
fn signer(args: &Args) -> Result<Option<Signer>, String> {
    match args.dkim.is_empty() {
        true => Ok(None),
        false => Signer::from_specs(&args.dkim).map(Some),
    }
}

/// The intake checks, and the ARC key: the first RSA key of the
/// `--arc-seal` domain among the `--dkim` keys.
fn authentication(args: &Args, checks: Checks) -> Result<authentication::Settings, String> {
    let authserv_id = args.authserv_id.as_deref().unwrap_or(&args.hostname);
    Domain::parse(authserv_id).map_err(|e| format!("--authserv-id {authserv_id}: {e}"))?;
    let arc_key = match &args.arc_seal {
        Some(domain) => Some(
            args.dkim
                .iter()
                .map(|spec| Key::load(spec))
                .collect::<Result<Vec<Key>, String>>()?
                .into_iter()
                .find(|key| {
                    key.domain.eq_ignore_ascii_case(domain) && key.algorithm == Algorithm::Rsa
                })
                .ok_or_else(|| format!("--arc-seal {domain}: no RSA key for it in --dkim"))?,
        ),
        None => None,
    };
    Ok(authentication::Settings {
        checks,
        authserv_id: authserv_id.to_string(),
        dns_server: args.dns_server,
        arc_key,
    })
}
