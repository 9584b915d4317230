//! The command line: the flags, and a run from them to the results file.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use smtpwire::client::LongLines;
use smtpwire::{Domain, Host, ReversePath};

use super::check;
use super::results::{self, Status};
use super::template::Template;
use super::variants::{self, VariantSpec};
use super::{Campaign, Variant};
use crate::outbound::ledger::{Ledger, WarmupFlags};
use crate::outbound::routes::{FixedRoute, Routes, SMTP_PORT};
use crate::outbound::transfer::Transfer;

/// How long the checklist at start may take: it only warns.
const CHECKLIST_TIME: Duration = Duration::from_secs(15);

/// Command-line flags.
#[derive(Parser, Debug)]
#[command(about = "Send one message template to a CSV recipient list")]
pub struct Args {
    /// The recipient list (CSV with an `email` column).
    #[arg(long)]
    list: PathBuf,
    /// The message template (header, blank line, body; `{{column}}`
    /// placeholders); not needed with `--variant`.
    #[arg(long, required_unless_present = "variant")]
    template: Option<PathBuf>,
    /// `NAME=TEMPLATE:SIZE`: an A/B variant, sent to a random sample of
    /// SIZE recipients (no recipient in two samples; the rest wait for
    /// `--send-variant`); repeat for each variant.
    #[arg(long, conflicts_with = "template")]
    variant: Vec<String>,
    /// Sends this variant to every recipient no sample took (a run after
    /// the samples'); those in a sample keep theirs.
    #[arg(long, requires = "variant")]
    send_variant: Option<String>,
    /// The seed of the samples' draw (default: random, printed), so a run
    /// can be reproduced.
    #[arg(long)]
    seed: Option<u64>,
    /// A local address to send from; repeat for several: each recipient
    /// domain's recipients take them in turn (round-robin per domain).
    #[arg(long)]
    source_ip: Vec<IpAddr>,
    /// Refuses to run unless each source address's PTR name is the EHLO
    /// name and resolves back to it (checked at start, a warning without
    /// this flag).
    #[arg(long)]
    require_fcrdns: bool,
    /// Runs the sender's checklist (DMARC record, each `--dkim` key
    /// published, SPF for each `--source-ip`, forward-confirmed reverse
    /// DNS) and stops; without it the checklist runs at start, as
    /// warnings.
    #[arg(long)]
    check: bool,
    /// The DNS server to ask (`address:port`) instead of the system's.
    #[arg(long)]
    dns_server: Option<SocketAddr>,
    /// Seconds a provider's throttling reply pauses mail to it from that
    /// source address, the first time; it doubles while the throttling
    /// goes on, and the round's size halves.
    #[arg(long, default_value_t = 60.0)]
    throttle_pause: f64,
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
    /// The warm-up caps per (source address, receiving provider).
    #[command(flatten)]
    warmup: WarmupFlags,
    /// Where the warm-up's counts and the paces of throttling providers
    /// are kept between runs (default: the results file with `.warmup`
    /// added).
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
    let specs = args
        .variant
        .iter()
        .map(|spec| VariantSpec::parse(spec))
        .collect::<Result<Vec<_>, _>>()?;
    let templates: Vec<(String, PathBuf)> = match &args.template {
        Some(path) => vec![(String::new(), path.clone())],
        None => specs
            .iter()
            .map(|spec| (spec.name.clone(), spec.template.clone()))
            .collect(),
    };
    let signer = match args.dkim.is_empty() {
        true => None,
        false => Some(Arc::new(crate::dkim::Signer::from_specs(&args.dkim)?)),
    };
    let mut variants = Vec::new();
    let mut from_domains: Vec<String> = Vec::new();
    for (name, path) in templates {
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("template {}: {e}", path.display()))?;
        match check::header_from_domain(&text) {
            Some(domain) if !from_domains.contains(&domain) => from_domains.push(domain),
            Some(_) => {}
            None => eprintln!(
                "warning: template {}: no From: address to check DMARC for",
                path.display()
            ),
        }
        let mut template = Template::new(
            &text,
            args.unsubscribe_url.clone(),
            args.unsubscribe_mailto.clone(),
            hostname.clone(),
        );
        template.check(&columns)?;
        if let Some(signer) = &signer {
            // Every copy has the template's From: unless the list fills it
            // in; a template whose From: domain has no key would go out
            // unsigned.
            if let Some(row) = rows.first() {
                let sample = template.render(row, 0, std::time::SystemTime::now(), "");
                if signer.sign(&sample, 0)?.is_none() {
                    return Err(format!(
                        "--dkim: no key for the From: domain of template {} \
                         (the signing domain is the From: domain, for DMARC)",
                        path.display()
                    ));
                }
            }
            template.dkim = Some(signer.clone());
        }
        variants.push(Variant {
            name,
            template: Arc::new(template),
        });
    }
    let send_variant = match &args.send_variant {
        Some(name) => Some(
            specs
                .iter()
                .position(|spec| &spec.name == name)
                .ok_or_else(|| format!("--send-variant {name}: no such --variant"))?,
        ),
        None => None,
    };
    let routes = args
        .mx
        .iter()
        .map(|spec| FixedRoute::parse(spec, args.port))
        .collect::<Result<Vec<_>, _>>()?;
    let mut routes = Routes::new(routes, args.port);
    if let Some(server) = args.dns_server {
        routes = routes.with_nameserver(server);
    }
    let transfer = Transfer::new(
        routes,
        &hello,
        !args.no_starttls,
        LongLines::Refuse,
        Duration::from_secs(args.connect_timeout),
    )
    .map_err(|e| e.to_string())?
    .with_sources(args.source_ip.clone());
    let reverse_dns = crate::outbound::fcrdns::check_all(
        transfer.routes.resolver(),
        &args.source_ip,
        &hostname,
        args.require_fcrdns,
    )
    .await?;
    let mailbox = from
        .mailbox()
        .ok_or("--from: the null sender has no domain to check")?;
    let sender_domain = mailbox.host().to_string();
    let envelope_sender = mailbox.to_string();
    let keys = signer.as_ref().map_or(&[][..], |signer| signer.keys());
    let sender = check::Sender {
        from_domains: &from_domains,
        envelope_sender: &envelope_sender,
        hello: &hostname,
        sources: &args.source_ip,
        keys,
    };
    let warnings = tokio::time::timeout(
        CHECKLIST_TIME,
        check::checklist(transfer.routes.resolver(), sender),
    )
    .await
    .unwrap_or_else(|_| vec!["the sender's checklist did not finish in time".to_string()]);
    for warning in &warnings {
        eprintln!("warning: {warning}");
    }
    let warnings: Vec<String> = reverse_dns.into_iter().chain(warnings).collect();
    if args.check {
        let spf = if args.source_ip.is_empty() {
            " (SPF not checked: no --source-ip)"
        } else {
            ""
        };
        return Ok(if warnings.is_empty() {
            format!("checklist passed for {sender_domain}{spf}")
        } else {
            format!(
                "checklist: {} warnings for {sender_domain}{spf}: {}",
                warnings.len(),
                warnings.join("; ")
            )
        });
    }
    let state = args.warmup_state.clone().unwrap_or_else(|| {
        let mut name = args.results.clone().into_os_string();
        name.push(".warmup");
        PathBuf::from(name)
    });
    let ledger = Ledger::load(&state).map_err(|e| format!("{}: {e}", state.display()))?;
    let earlier = results::read_earlier(&args.results).map_err(|e| format!("--results: {e}"))?;
    let finals = &earlier.finals;
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
    let todo = if specs.is_empty() {
        todo.into_iter().map(|row| (row, 0)).collect()
    } else {
        let seed = args.seed.unwrap_or_else(crate::outbound::random_seed);
        if args.seed.is_none() && earlier.variants.is_empty() {
            eprintln!("variant samples drawn with --seed {seed}");
        }
        variants::assign(&rows, &todo, &earlier.variants, &specs, seed, send_variant)?
    };
    let campaign = Campaign {
        from,
        rows,
        variants,
        transfer: Arc::new(transfer),
        own_hosts: vec![Host::Domain(hello)],
        per_connection: args.per_connection,
        connections: args.connections,
        attempts: args.attempts.max(1),
        retry_after: Duration::from_secs_f64(args.retry_after.max(0.0)),
        throttle_pause: Duration::from_secs_f64(args.throttle_pause.max(0.0)),
        warmup: args.warmup.schedule(),
        ledger,
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
         {} deferred, {} throttled, {} held by the warm-up cap; {} already done before; \
         results in {}",
        count(Status::Delivered),
        count(Status::Failed),
        count(Status::Invalid),
        count(Status::Rejected),
        count(Status::Deferred),
        count(Status::Throttled),
        count(Status::Held),
        kept.len(),
        args.results.display(),
    ))
}
