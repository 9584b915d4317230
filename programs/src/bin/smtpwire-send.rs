//! A command-line mail sender in the spirit of swaks, built on the driver
//! crate's client (`smtpwire_tokio::client::Client`).
//!
//! ```sh
//! cargo run -p smtpwire-programs --bin smtpwire-server &   # SMTP on 127.0.0.1:2525
//! cargo run -p smtpwire-programs --bin smtpwire-send -- --from a@example.org --to b@example.net --starttls never
//! cargo run -p smtpwire-programs --bin smtpwire-send -- --from a@example.org --to b@example.net \
//!     --data message.eml --starttls required --tls-ca /tmp/smtpwire-server-PID.pem
//! cargo run --release -p smtpwire-programs --bin smtpwire-send -- --from a@example.org --to b@example.net \
//!     --starttls never --count 1000 --connections 4 --quiet
//! ```
//!
//! STARTTLS always verifies the server's certificate, against `--tls-ca` or
//! the system's CA bundle; the receiving server prints where its self-signed
//! certificate is. A server certificate found as it is in `--tls-ca` is
//! pinned: taken whatever its name, dates or CA flag (the usual `openssl req
//! -x509` certificate is marked a CA), the handshake still proving the
//! server holds its key; any other goes through full WebPKI verification.
//!
//! Every message goes with its line ends made CRLF (a bare LF or CR too),
//! dot-stuffed for DATA, as it is in BDAT chunks. A message with a line
//! longer than RFC 5321 allows (998 octets before the CRLF) is refused
//! before anything of it is sent, naming the line, unless
//! `--wrap-long-lines` breaks such lines as Postfix does. Content with
//! 8-bit octets goes with `BODY=8BITMIME` (RFC 6152), and is refused,
//! before its MAIL, by a server that does not offer 8BITMIME: it is not
//! converted to 7 bits. Each recipient's outcome
//! is printed with the server's reply; the exit status is non-zero when any
//! recipient did not get a message.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use bytes::Bytes;
use clap::{Parser, ValueEnum};
use smtpwire::auth::{Credentials, PlainCredentials, Secret};
use smtpwire::{ForwardPath, Host, ReversePath, Text};
use smtpwire_tokio::client::{tls, Client, LongLines, StartTlsPolicy};

use smtpwire_programs::send::{self, message, ContentFor, Report, Settings};

/// The environment variable read for `user:password` when `--auth` is absent.
const AUTH_VARIABLE: &str = "SMTPWIRE_AUTH";

/// Command-line flags.
#[derive(Parser, Debug)]
#[command(about = "Send mail over SMTP or LMTP with smtpwire's client")]
struct Args {
    /// The server, `host:port`.
    #[arg(long, default_value = "127.0.0.1:2525")]
    server: String,
    /// The envelope sender (`<>` for none).
    #[arg(long)]
    from: String,
    /// An envelope recipient; repeat for more.
    #[arg(long, required = true)]
    to: Vec<String>,
    /// The message to send (`-` for standard input); a generated test
    /// message when absent.
    #[arg(long)]
    data: Option<PathBuf>,
    /// STARTTLS: insist on it, use it when offered, or never.
    #[arg(long, value_enum, default_value_t = Tls::Opportunistic)]
    starttls: Tls,
    /// Trust the CAs and pinned server certificates (e.g. the example
    /// server's self-signed one) in this PEM file instead of the system's
    /// CA bundle.
    #[arg(long)]
    tls_ca: Option<PathBuf>,
    /// The name the server's certificate must carry (default: the host in
    /// `--server`).
    #[arg(long)]
    tls_name: Option<String>,
    /// `user:password` for AUTH (default: the SMTPWIRE_AUTH variable):
    /// SCRAM-SHA-256-PLUS, SCRAM-SHA-256, PLAIN or LOGIN, the first of them
    /// the server offers.
    #[arg(long)]
    auth: Option<String>,
    /// Allow AUTH without TLS.
    #[arg(long)]
    auth_cleartext: bool,
    /// Speak LMTP (RFC 2033).
    #[arg(long)]
    lmtp: bool,
    /// How many messages to send.
    #[arg(long, default_value_t = 1)]
    count: usize,
    /// Spread the messages over this many parallel connections.
    #[arg(long, default_value_t = 1)]
    connections: usize,
    /// PIPELINING when the server offers it.
    #[arg(long, value_enum, default_value_t = Switch::On)]
    pipelining: Switch,
    /// Send content with BDAT when the server offers CHUNKING.
    #[arg(long)]
    bdat: bool,
    /// Break lines longer than 998 octets with CRLF and a space, as
    /// Postfix does, instead of refusing the message.
    #[arg(long)]
    wrap_long_lines: bool,
    /// The name for EHLO or LHLO.
    #[arg(long, default_value = "localhost")]
    hello: String,
    /// Print only failures and the summary.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Tls {
    Required,
    Opportunistic,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Switch {
    On,
    Off,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = smtpwire_programs::config::parse::<Args>();
    let (settings, content) = match prepare(&args) {
        Ok(prepared) => prepared,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    let (quiet, many) = (args.quiet, args.count > 1);
    let print = move |report: Report| show(&report, quiet, many);
    let run = send::run(
        Arc::new(settings),
        content,
        args.count,
        args.connections,
        print,
    )
    .await;
    if many {
        let seconds = run.elapsed.as_secs_f64();
        println!(
            "{} of {} messages delivered over {} connection(s) in {seconds:.3} s: {:.0} messages/s",
            run.delivered,
            run.count,
            args.connections.clamp(1, args.count),
            run.delivered as f64 / seconds.max(f64::MIN_POSITIVE),
        );
    }
    if run.succeeded() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Prints a report as it comes: each recipient's outcome (only those not
/// accepted when `quiet`), numbered when the run sends `many`.
fn show(report: &Report, quiet: bool, many: bool) {
    let prefix = |number: usize| {
        if many {
            format!("message {number} ")
        } else {
            String::new()
        }
    };
    match report {
        Report::Outcome { number, outcome } => {
            for recipient in outcome.recipients() {
                if !(quiet && recipient.status.is_accepted()) {
                    println!("{}{recipient}", prefix(*number));
                }
            }
            if let Some(failure) = outcome.failure() {
                println!("{}not delivered: {failure}", prefix(*number));
            }
        }
        Report::NotSent { number, error } => eprintln!("{}not sent: {error}", prefix(*number)),
        Report::Connection {
            connection,
            error,
            unsent,
        } => {
            eprintln!("connection {connection}: {error}");
            if *unsent > 0 {
                eprintln!("connection {connection}: {unsent} message(s) not sent");
            }
        }
    }
}

/// The settings and the content, or what is wrong with the arguments.
fn prepare(args: &Args) -> Result<(Settings, ContentFor), String> {
    let from = ReversePath::parse(&bracketed(&args.from))
        .map_err(|e| format!("--from {}: {e}", args.from))?;
    let to = args
        .to
        .iter()
        .map(|to| ForwardPath::parse(&bracketed(to)).map_err(|e| format!("--to {to}: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    Host::parse(&args.hello).map_err(|e| format!("--hello {}: {e}", args.hello))?;
    let long_lines = if args.wrap_long_lines {
        LongLines::Wrap
    } else {
        LongLines::Refuse
    };
    let mut policy = match args.starttls {
        Tls::Required => StartTlsPolicy::Required,
        Tls::Opportunistic => StartTlsPolicy::Opportunistic,
        Tls::Never => StartTlsPolicy::Never,
    };
    let mut client = Client::builder(&args.hello)
        .chunking(args.bdat)
        .long_lines(long_lines)
        .pipelining(args.pipelining == Switch::On);
    if args.lmtp {
        client = client.lmtp();
    }
    if let Some(name) = &args.tls_name {
        client = client.server_name(name);
    }
    let auth = args
        .auth
        .clone()
        .or_else(|| std::env::var(AUTH_VARIABLE).ok());
    if let Some(auth) = auth {
        let mut auth = send::auth_config(credentials(&auth)?);
        auth.allow_cleartext = args.auth_cleartext;
        client = client.auth(auth);
    }
    if policy != StartTlsPolicy::Never {
        // Read once here, not again by each connection.
        let trust = match &args.tls_ca {
            Some(path) => tls::trust_file(path),
            None => tls::system_trust(),
        };
        match trust {
            Ok(trust) => client = client.tls_config(trust),
            Err(error) if policy == StartTlsPolicy::Opportunistic => {
                eprintln!("warning: {error}; sending without STARTTLS");
                policy = StartTlsPolicy::Never;
            }
            Err(error) => return Err(error.to_string()),
        }
    }
    let client = client.starttls(policy);
    let content: ContentFor = match &args.data {
        Some(path) => {
            let content = Bytes::from(
                message::read(path).map_err(|e| format!("--data {}: {e}", path.display()))?,
            );
            message::check(&content, long_lines)
                .map_err(|e| format!("--data {}: {e}", path.display()))?;
            Arc::new(move |_| content.clone())
        }
        None => {
            let (from, to, domain) = (from.clone(), to.clone(), args.hello.clone());
            Arc::new(move |number| Bytes::from(message::generated(number, &from, &to, &domain)))
        }
    };
    let settings = Settings {
        server: args.server.clone(),
        client,
        from,
        to,
    };
    Ok((settings, content))
}

/// `user:password` as PLAIN credentials (LOGIN takes them too).
fn credentials(auth: &str) -> Result<Credentials, String> {
    let (user, password) = auth
        .split_once(':')
        .ok_or("--auth: expected user:password")?;
    let user = Text::new(user).map_err(|e| format!("--auth user: {e}"))?;
    let password = Secret::new(password).map_err(|e| format!("--auth password: {e}"))?;
    let plain = PlainCredentials::new(None, user, password).map_err(|e| format!("--auth: {e}"))?;
    Ok(Credentials::Plain(plain))
}

/// `a@example.org` as the `<a@example.org>` a path needs.
fn bracketed(address: &str) -> String {
    if address.starts_with('<') {
        address.to_string()
    } else {
        format!("<{address}>")
    }
}
