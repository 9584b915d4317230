//! The command line: the flags, and a run from them to the results file.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use smtpwire::client::LongLines;
use smtpwire::delivery::Warmup;
use smtpwire::{Domain, Host, ReversePath};

use super::ledger::Ledger;
use super::results::{self, Status};
use super::template::Template;
use super::Campaign;
use crate::outbound::routes::{FixedRoute, Routes, SMTP_PORT};
use crate::outbound::transfer::Transfer;

/// Command-line flags.
#[derive(Parser, Debug)]
#[command(about = "Send one message template to a CSV recipient list")]
pub struct Args {
    /// The recipient list (CSV with an `email` column).
    #[arg(long)]
    list: PathBuf,
    /// The message template (header, blank line, body; `{{column}}`
    /// placeholders).
    #[arg(long)]
    template: PathBuf,
    /// The envelope sender, where bounces go.
    #[arg(long)]
    from: String,
    /// The one-click unsubscribe address, https (`{{column}}` values are
    /// percent-encoded).
    #[arg(long)]
    unsubscribe_url: String,
    /// A mail address for unsubscribing as well.
    #[arg(long)]
    unsubscribe_mailto: Option<String>,
    /// Per-recipient results (CSV), read back by the next run.
    #[arg(long, default_value = "results.csv")]
    results: PathBuf,
    /// The name for EHLO and Message-IDs (default: the sender's domain).
    #[arg(long)]
    hostname: Option<String>,
    /// `domain=host[:port],…`: send the domain's mail to these hosts, in
    /// this order, instead of its MX records; repeat for more domains.
    #[arg(long)]
    mx: Vec<String>,
    /// The port of mail exchangers found in DNS.
    #[arg(long, default_value_t = SMTP_PORT)]
    port: u16,
    /// Most messages per connection.
    #[arg(long, default_value_t = 100)]
    per_connection: usize,
    /// Destinations sent to at once.
    #[arg(long, default_value_t = 4)]
    connections: usize,
    /// Tries per recipient in this run.
    #[arg(long, default_value_t = 3)]
    attempts: u32,
    /// Seconds before a recipient refused for now is tried again.
    #[arg(long, default_value_t = 300.0)]
    retry_after: f64,
    /// Seconds a connect may take.
    #[arg(long, default_value_t = 30)]
    connect_timeout: u64,
    /// Never use STARTTLS (default: when offered).
    #[arg(long)]
    no_starttls: bool,
    /// Warm-up: messages on the first day (no cap without it).
    #[arg(long, requires = "warmup_hourly")]
    warmup_daily: Option<u64>,
    /// Warm-up: messages in any hour of the first day.
    #[arg(long, requires = "warmup_daily")]
    warmup_hourly: Option<u64>,
    /// Warm-up: each day's caps as a percentage of the day before's.
    #[arg(long, default_value_t = 200)]
    warmup_growth: u32,
    /// Warm-up: the daily cap at which it ends.
    #[arg(long)]
    warmup_max_daily: Option<u64>,
    /// Warm-up: where the counts are kept (default: the results file with
    /// `.warmup` added).
    #[arg(long)]
    warmup_state: Option<PathBuf>,
    /// `domain:selector:keyfile`: sign mail from the domain with this key
    /// (PEM, RSA of 2048 bits or more, or Ed25519); repeat for more keys
    /// or domains, a domain with one of each kind getting both signatures.
    #[arg(long)]
    dkim: Vec<String>,
}

/// Sends to the list as `args` say and writes the results file; returns
/// the summary line.
pub async fn run(args: Args) -> Result<String, String> {
    let from = ReversePath::parse(&format!("<{}>", args.from.trim_matches(['<', '>'])))
        .map_err(|e| format!("--from {}: {e}", args.from))?;
    let hostname = match &args.hostname {
        Some(name) => name.clone(),
        None => args
            .from
            .rsplit_once('@')
            .map(|(_, domain)| domain.trim_end_matches('>').to_string())
            .ok_or("--from has no domain: pass --hostname")?,
    };
    let hello = Domain::parse(&hostname).map_err(|e| format!("--hostname {hostname}: {e}"))?;
    let (columns, rows) = super::list::read_list(&args.list).map_err(|e| format!("--list: {e}"))?;
    let text = std::fs::read_to_string(&args.template)
        .map_err(|e| format!("--template {}: {e}", args.template.display()))?;
    let mut template = Template::new(
        &text,
        args.unsubscribe_url.clone(),
        args.unsubscribe_mailto.clone(),
        hostname.clone(),
    );
    template.check(&columns)?;
    if !args.dkim.is_empty() {
        let signer = crate::dkim::Signer::from_specs(&args.dkim)?;
        // Every copy has the template's From: unless the list fills it in;
        // a template whose From: domain has no key would go out unsigned.
        if let Some(row) = rows.first() {
            let sample = template.render(row, 0, std::time::SystemTime::now(), "");
            if signer.sign(&sample, 0)?.is_none() {
                return Err("--dkim: no key for the domain of the template's From: \
                            (the signing domain is the From: domain, for DMARC)"
                    .into());
            }
        }
        template.dkim = Some(Arc::new(signer));
    }
    let routes = args
        .mx
        .iter()
        .map(|spec| FixedRoute::parse(spec, args.port))
        .collect::<Result<Vec<_>, _>>()?;
    let transfer = Transfer::new(
        Routes::new(routes, args.port),
        &hello,
        !args.no_starttls,
        LongLines::Refuse,
        Duration::from_secs(args.connect_timeout),
    )
    .map_err(|e| e.to_string())?;
    let warmup = match (args.warmup_daily, args.warmup_hourly) {
        (Some(daily), Some(hourly)) => {
            let path = args.warmup_state.clone().unwrap_or_else(|| {
                let mut name = args.results.clone().into_os_string();
                name.push(".warmup");
                PathBuf::from(name)
            });
            let ledger = Ledger::load(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let schedule = Warmup {
                daily,
                hourly,
                growth_percent: args.warmup_growth,
                max_daily: args.warmup_max_daily,
            };
            Some((schedule, ledger))
        }
        _ => None,
    };
    let finals = results::read_final(&args.results).map_err(|e| format!("--results: {e}"))?;
    let mut kept: Vec<String> = Vec::new();
    let mut todo = Vec::new();
    let mut seen: HashMap<String, ()> = HashMap::new();
    for (index, row) in rows.iter().enumerate() {
        let key = row.email.to_ascii_lowercase();
        // Each address once, however often the list has it.
        if seen.insert(key.clone(), ()).is_some() {
            continue;
        }
        match finals.get(&key) {
            Some(line) => kept.push(line.clone()),
            None => todo.push(index),
        }
    }
    let campaign = Campaign {
        from,
        rows,
        template: Arc::new(template),
        transfer: Arc::new(transfer),
        own_hosts: vec![Host::Domain(hello)],
        per_connection: args.per_connection,
        connections: args.connections,
        attempts: args.attempts.max(1),
        retry_after: Duration::from_secs_f64(args.retry_after.max(0.0)),
        warmup,
    };
    let mut writer = results::Writer::create(&args.results, &kept)
        .map_err(|e| format!("{}: {e}", args.results.display()))?;
    let tally = campaign
        .run(todo, &mut writer)
        .await
        .map_err(|e| format!("{}: {e}", args.results.display()))?;
    let count = |status: Status| tally.of(status);
    Ok(format!(
        "{} delivered, {} failed and {} invalid (marked for removal), {} rejected, \
         {} deferred, {} held by the warm-up cap; {} already done before; results in {}",
        count(Status::Delivered),
        count(Status::Failed),
        count(Status::Invalid),
        count(Status::Rejected),
        count(Status::Deferred),
        count(Status::Held),
        kept.len(),
        args.results.display(),
    ))
}
