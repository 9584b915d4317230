//! An SMTP and LMTP receiving server on tokio that stores every message in a
//! Maildir, built on the driver crate's server (`smtpwire_tokio::server`).
//!
//! ```sh
//! cargo run -p smtpwire-programs --bin smtpwire-server -- --demo   # send itself one message and exit
//! cargo run -p smtpwire-programs --bin smtpwire-server             # listen on 127.0.0.1:2525
//! cargo run -p smtpwire-programs --bin smtpwire-server -- --help
//! ```
//!
//! Each message is stored as received (CRLF line ends) after the fields this
//! server adds: `Return-Path:`, the envelope recipients (`X-Envelope-To:`, one
//! per recipient, in SMTP mode; `Delivered-To:` in LMTP mode, where each
//! recipient gets its own copy) and a `Received:` trace field; with
//! `--authenticate`, an `Authentication-Results:` field above `Received:`.

mod demo;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use smtpwire::{Domain, Text};

use smtpwire_programs::authentication::{self, Checks};
use smtpwire_programs::logging::{self, LogFormat};
use smtpwire_programs::metrics_file::MetricsFlags;
use smtpwire_programs::reload::Reload;
use smtpwire_programs::server::rules::RecipientRules;
use smtpwire_programs::server::users::{self, Users};
use smtpwire_programs::server::{
    default_max_connections, idle_for, tls, Reloadable, Server, Settings,
};
use smtpwire_programs::service;
use smtpwire_tokio::server::{RateLimits, DEFAULT_MAX_CONNECTIONS_PER_IP};

/// Command-line flags.
#[derive(Parser, Debug)]
#[command(about = "An SMTP/LMTP server that delivers into a Maildir")]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:2525")]
    listen: SocketAddr,
    /// Name in the greeting, the EHLO reply and trace fields.
    #[arg(long, default_value = "localhost")]
    hostname: String,
    /// Maildir to deliver into (created if missing).
    #[arg(long, default_value = "./maildir")]
    maildir: PathBuf,
    /// Accept messages and drop them (for load tests).
    #[arg(long)]
    discard: bool,
    /// The users file: `user:password` or `user:{SCRAM-SHA-256}…` lines
    /// (see `--hash-password`); AUTH SCRAM-SHA-256(-PLUS), PLAIN and LOGIN
    /// are offered when given.
    #[arg(long)]
    users: Option<PathBuf>,
    /// Read a password from standard input, print its users-file form
    /// (SCRAM-SHA-256 keys with a random salt, 4096 iterations) and exit.
    #[arg(long)]
    hash_password: bool,
    /// Offer AUTH without TLS.
    #[arg(long)]
    allow_cleartext_auth: bool,
    /// Submission mode: MAIL only after AUTH.
    #[arg(long)]
    require_auth: bool,
    /// Speak LMTP (RFC 2033) instead of SMTP.
    #[arg(long)]
    lmtp: bool,
    /// Keep each message's DSN parameters (RET, ENVID, and each
    /// recipient's NOTIFY and ORCPT, RFC 3461) on its envelope lines, for
    /// a --maildir that is a relay queue's `incoming` directory, whose
    /// relay then honours them. SMTP only.
    #[arg(long, conflicts_with = "lmtp")]
    envelope_dsn: bool,
    /// Do not offer DSN (RFC 3461) in the EHLO reply: a next hop as old
    /// servers are, which refuses NOTIFY, ORCPT, RET and ENVID.
    #[arg(long, conflicts_with = "envelope_dsn")]
    no_dsn: bool,
    /// Expect a PROXY protocol v1 or v2 header on each connection, and
    /// take connections only from the trusted proxies.
    #[arg(long)]
    proxy_protocol: bool,
    /// With --proxy-protocol, an address whose PROXY header is believed;
    /// repeat for more. Default: the loopback addresses. Any other peer is
    /// closed unanswered, as it could claim any client address.
    #[arg(long, value_name = "ADDRESS", requires = "proxy_protocol")]
    trusted_proxy: Vec<std::net::IpAddr>,
    /// PEM certificate chain for STARTTLS (a self-signed one is made if absent).
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key for STARTTLS.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Turn STARTTLS off.
    #[arg(long, conflicts_with_all = ["tls_cert", "tls_key"])]
    no_tls: bool,
    /// Largest message in octets (advertised as SIZE).
    #[arg(long)]
    max_message_size: Option<u64>,
    /// Most recipients per message.
    #[arg(long)]
    max_recipients: Option<usize>,
    /// Seconds a client has for one request, however many reads it takes
    /// (default: RFC 5321's 300); message content earns more as it comes.
    #[arg(long)]
    timeout: Option<u64>,
    /// Octets per second message content must keep up to earn more time
    /// (default 500, as Postfix's smtpd_min_data_rate); 0 gives content no
    /// more time than a command.
    #[arg(long, value_name = "OCTETS")]
    min_data_rate: Option<u32>,
    /// Shut down after accepting this many messages.
    #[arg(long)]
    max_messages: Option<u64>,
    /// Shut down after this many seconds with no connection.
    #[arg(long)]
    exit_after_idle: Option<u64>,
    /// Start on a free loopback port, send one message to itself over
    /// STARTTLS, print where it landed, and exit.
    #[arg(long)]
    demo: bool,
    /// Refuse this recipient with 550 5.1.1 (no such user); repeat for more.
    #[arg(long)]
    unknown_recipient: Vec<String>,
    /// Refuse this recipient with 451 4.7.1 the first time each sender
    /// tries it, as greylisting does; repeat for more.
    #[arg(long)]
    greylist_recipient: Vec<String>,
    /// Worker threads; 1 runs every connection on one thread, which is the
    /// fastest on a machine whose other cores are busy with the load itself.
    /// Default: one per core.
    #[arg(long)]
    threads: Option<usize>,
    /// After each input, keep polling the sockets this many microseconds
    /// before sleeping: spends up to that much CPU to spare clients on
    /// another core of the same machine the cost of waking the server, as
    /// in load tests. Needs `--threads 1`.
    #[arg(long, value_name = "MICROS", value_parser = clap::value_parser!(u64).range(1..))]
    busy_poll: Option<u64>,
    /// Connections open at once; more are answered `421 4.7.0` and closed.
    /// Default: what the open-file limit (`ulimit -n`) leaves room for at
    /// two descriptors per connection, at most 10,000.
    #[arg(long, value_name = "COUNT", value_parser = clap::value_parser!(u64).range(1..))]
    max_connections: Option<u64>,
    /// Connections open at once from one client address (with
    /// `--proxy-protocol`, the one the proxy names); more are answered
    /// `421 4.7.0` and closed; 0 for no limit. Default: 50, as Postfix's
    /// `smtpd_client_connection_count_limit`.
    #[arg(long, value_name = "COUNT")]
    max_connections_per_ip: Option<usize>,
    /// Connections one client address may open per minute; more are
    /// answered `421 4.7.0` and closed (Postfix's
    /// `smtpd_client_connection_rate_limit`). Default: no limit.
    #[arg(long, value_name = "COUNT")]
    connection_rate_limit: Option<u32>,
    /// MAIL commands one client address may send per minute; more are
    /// answered `450 4.7.1` (`smtpd_client_message_rate_limit`). Default:
    /// no limit.
    #[arg(long, value_name = "COUNT")]
    message_rate_limit: Option<u32>,
    /// RCPT commands one client address may send per minute; more are
    /// answered `450 4.7.1` (`smtpd_client_recipient_rate_limit`).
    /// Default: no limit.
    #[arg(long, value_name = "COUNT")]
    recipient_rate_limit: Option<u32>,
    /// Once the port is bound and the TLS key and users file are read,
    /// run as this user (the process must start as root): port 25 needs
    /// root, nothing after it does. The Maildir must be writable by it.
    #[arg(long, value_name = "NAME")]
    user: Option<String>,
    /// How log lines are written: text, or one JSON object per line.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(flatten)]
    metrics: MetricsFlags,
    /// Check each message's authentication: a comma-separated list of
    /// `spf` (RFC 7208: the client address for the HELO and MAIL FROM
    /// identities), `dkim` (RFC 6376: every signature) and `dmarc` (RFC
    /// 7489: alignment with From:, which runs the other two as well). The
    /// results go into an `Authentication-Results:` field (RFC 8601) at
    /// the top of the stored message. Off by default.
    #[arg(long, value_name = "CHECKS", value_parser = parse_checks)]
    authenticate: Option<Checks>,
    /// The name the results are given under in `Authentication-Results:`
    /// (RFC 8601 §2.5). Default: the --hostname.
    #[arg(long, value_name = "NAME", requires = "authenticate")]
    authserv_id: Option<String>,
    /// Ask this DNS server (IP:PORT, over UDP and TCP) for the SPF, DKIM
    /// and DMARC records instead of the system's resolvers.
    #[arg(long, value_name = "IP:PORT", requires = "authenticate")]
    dns_server: Option<SocketAddr>,
    /// Refuse, with `550 5.7.1` at the end of data, a message that fails
    /// DMARC when its domain's policy is `p=reject` (RFC 7489 §6.7); it is
    /// stored with `dmarc=fail` otherwise, as under `quarantine` and
    /// `none`. Needs `--authenticate` with `dmarc`.
    #[arg(long, requires = "authenticate")]
    enforce_dmarc_reject: bool,
    /// With --authenticate, the octets all messages under way may hold in
    /// memory together until they end (DKIM needs each one whole); a
    /// message that would go past it is refused with `452 4.3.1`, to be
    /// tried again. Default: 256 MiB.
    #[arg(long, value_name = "OCTETS", requires = "authenticate")]
    max_held_memory: Option<usize>,
}

/// The keys a SIGHUP puts in force: the users file is read again too.
const RELOADABLE: &[&str] = &[
    "users",
    "unknown-recipient",
    "greylist-recipient",
    "max-connections",
    "max-connections-per-ip",
    "connection-rate-limit",
    "message-rate-limit",
    "recipient-rate-limit",
];

/// `--authenticate`'s list.
fn parse_checks(list: &str) -> Result<Checks, String> {
    Checks::parse(list)
}

fn main() -> ExitCode {
    let args = smtpwire_programs::config::parse::<Args>();
    if args.hash_password {
        return print_password_hash();
    }
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
    let mut runtime = match args.threads {
        Some(1) => tokio::runtime::Builder::new_current_thread(),
        Some(threads) => {
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            builder.worker_threads(threads.max(1));
            builder
        }
        None => tokio::runtime::Builder::new_multi_thread(),
    };
    let runtime = match runtime.enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args, inherited, reload)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// `--hash-password`: one line from standard input, without its line end.
fn print_password_hash() -> ExitCode {
    let mut line = String::new();
    if let Err(error) = std::io::stdin().read_line(&mut line) {
        eprintln!("error: cannot read the password: {error}");
        return ExitCode::FAILURE;
    }
    let password = line.trim_end_matches(['\r', '\n']);
    match users::hash_password(password) {
        Ok(secret) => {
            println!("{secret}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn invalid(message: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidInput, message)
}

/// What a reload may change, from `args`; the users file read now.
fn reloadable(args: &Args) -> std::io::Result<Reloadable> {
    let users = match &args.users {
        Some(path) => Some(Users::load(path)?),
        None if args.require_auth => {
            return Err(invalid("--require-auth needs --users".to_string()))
        }
        None => None,
    };
    let max_connections = args
        .max_connections
        .map_or_else(default_max_connections, |most| {
            usize::try_from(most).unwrap_or(usize::MAX)
        });
    let mut rate_limits = RateLimits::default();
    (
        rate_limits.connections,
        rate_limits.messages,
        rate_limits.recipients,
    ) = (
        args.connection_rate_limit,
        args.message_rate_limit,
        args.recipient_rate_limit,
    );
    Ok(Reloadable {
        users,
        unknown_recipients: args.unknown_recipient.clone(),
        greylisted_recipients: args.greylist_recipient.clone(),
        max_connections,
        // 0 turns it off.
        max_connections_per_ip: args
            .max_connections_per_ip
            .or(Some(DEFAULT_MAX_CONNECTIONS_PER_IP)),
        rate_limits,
    })
}

async fn run(
    args: Args,
    inherited: Option<std::net::TcpListener>,
    reload: Reload<Args>,
) -> std::io::Result<()> {
    let hostname = Text::new(&args.hostname).map_err(|e| invalid(format!("--hostname: {e}")))?;
    let mut settings = Settings::new(hostname);
    if !args.discard {
        settings.maildir = Some(args.maildir.clone());
    }
    let initial = reloadable(&args)?;
    settings.users = initial.users;
    settings.rules =
        RecipientRules::new(&initial.unknown_recipients, &initial.greylisted_recipients);
    settings.max_connections = initial.max_connections;
    settings.max_connections_per_ip = initial.max_connections_per_ip;
    settings.rate_limits = initial.rate_limits;
    settings.allow_cleartext_auth = args.allow_cleartext_auth;
    settings.require_auth = args.require_auth;
    settings.lmtp = args.lmtp;
    settings.envelope_dsn = args.envelope_dsn;
    settings.offer_dsn = !args.no_dsn;
    settings.proxy_protocol = args.proxy_protocol;
    if !args.trusted_proxy.is_empty() {
        settings.trusted_proxies = args.trusted_proxy.clone();
    }
    settings.max_message_size = args.max_message_size;
    settings.max_recipients = args.max_recipients;
    settings.idle_timeout = args.timeout.map(Duration::from_secs);
    settings.min_data_rate = args.min_data_rate;
    settings.busy_poll = args.busy_poll.map(Duration::from_micros);
    if let Some(checks) = args.authenticate {
        if args.enforce_dmarc_reject && !checks.dmarc {
            return Err(invalid(
                "--enforce-dmarc-reject needs dmarc in --authenticate".to_string(),
            ));
        }
        let authserv_id = args.authserv_id.as_deref().unwrap_or(&args.hostname);
        Domain::parse(authserv_id)
            .map_err(|e| invalid(format!("--authserv-id {authserv_id}: {e}")))?;
        settings.authentication = Some(authentication::Settings {
            checks,
            authserv_id: authserv_id.to_string(),
            dns_server: args.dns_server,
            arc_key: None,
        });
        settings.reject_on_dmarc_policy = args.enforce_dmarc_reject;
        if let Some(most) = args.max_held_memory {
            settings.max_held_memory = most;
        }
    }
    // Held until the server has stopped, however it stops, so that the
    // certificate file goes with the process that made it.
    let mut certificate_file = None;
    let identity = match (&args.tls_cert, &args.tls_key, args.no_tls) {
        (_, _, true) => None,
        (Some(cert), Some(key), false) => Some(tls::Identity::from_pem_files(cert, key)?),
        _ => {
            let identity = tls::Identity::self_signed(&args.hostname)?;
            if !args.demo {
                let file = identity.write_certificate_pem(&tls::default_certificate_path())?;
                eprintln!(
                    "STARTTLS with a self-signed certificate: {}",
                    file.path().display()
                );
                certificate_file = Some(file);
            }
            Some(identity)
        }
    };
    if args.demo {
        return demo::run(settings, identity).await;
    }
    settings.tls = identity;
    let listener = service::listen(inherited, args.listen, args.user.as_deref())?;
    let server = Server::with_listener(listener, settings)?;
    let shared = server.shared();
    let reconfigurer = server.reconfigurer();
    tokio::spawn(reload.on_hangup(move |args| {
        reconfigurer.apply(reloadable(args).map_err(|error| error.to_string())?)
    }));
    let connections = shared.connections.clone();
    args.metrics.start(move || {
        metrics::gauge!("smtpwire_connections_open").set(connections.open() as f64)
    })?;
    let protocol = if args.lmtp { "LMTP" } else { "SMTP" };
    let store = if args.discard {
        "discarding messages".to_string()
    } else {
        format!("delivering into {}", args.maildir.display())
    };
    let per_ip = match shared.connections.most_per_ip() {
        Some(most) => format!("{most} per client address"),
        None => "no limit per client address".to_string(),
    };
    eprintln!(
        "at most {} connections, {per_ip}",
        shared.connections.most()
    );
    let serving = format!("{protocol} on {}, {store}", server.local_addr()?);
    eprintln!("{serving}; Ctrl-C stops");
    service::notify_ready(&serving);
    let max_messages = args.max_messages;
    let idle = args.exit_after_idle.map(Duration::from_secs);
    let stop = async move {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => eprintln!("interrupted"),
            _ = service::terminated() => eprintln!("terminated"),
            _ = shared.stats.reached(max_messages.unwrap_or(u64::MAX)), if max_messages.is_some() => {}
            _ = idle_for(&shared.connections, idle.unwrap_or_default()), if idle.is_some() => {}
        }
        service::notify_stopping();
    };
    // A second Ctrl-C stops waiting for open connections; their partial
    // files stay in tmp/, which maildir(5) readers ignore.
    let forced = async {
        let _ = tokio::signal::ctrl_c().await;
        let _ = tokio::signal::ctrl_c().await;
    };
    tokio::select! {
        _ = server.run(stop) => {}
        _ = forced => {
            // The log lines of messages already delivered still go out,
            // when the log's guard drops at the end of main.
            eprintln!("interrupted again: exiting without waiting");
        }
    }
    drop(certificate_file);
    Ok(())
}
