//! Forward-confirmed reverse DNS of a source address: receivers look up
//! the PTR name of the connecting address, then that name's addresses, and
//! trust (or accept at all) mail only when the address is among them; the
//! large providers also want the name to match the EHLO name.

use std::net::IpAddr;
use std::time::Duration;

use hickory_resolver::proto::rr::RData;
use hickory_resolver::TokioResolver;

/// How long the whole check of one address may take: it runs at start and
/// only warns.
const CHECK_TIME: Duration = Duration::from_secs(5);

/// Checks that `source` has a PTR name equal to `hello` (the EHLO name)
/// whose A/AAAA records contain `source`. `Err` says what is missing and
/// what to publish.
pub async fn check(
    resolver: Option<&TokioResolver>,
    source: IpAddr,
    hello: &str,
) -> Result<(), String> {
    let resolver = resolver.ok_or_else(|| format!("{source}: no DNS resolver to check its PTR"))?;
    let publish = format!("publish PTR {source} -> {hello}. and A/AAAA {hello}. -> {source}");
    let names = match tokio::time::timeout(CHECK_TIME, resolver.reverse_lookup(source)).await {
        Ok(Ok(lookup)) => lookup
            .answers()
            .iter()
            .filter_map(|record| match &record.data {
                RData::PTR(name) => Some(name.to_ascii()),
                _ => None,
            })
            .map(|name| name.trim_end_matches('.').to_ascii_lowercase())
            .collect::<Vec<_>>(),
        Ok(Err(error)) if error.is_no_records_found() || error.is_nx_domain() => Vec::new(),
        Ok(Err(error)) => return Err(format!("{source}: PTR lookup failed ({error})")),
        Err(_) => return Err(format!("{source}: PTR lookup timed out")),
    };
    let hello = hello.trim_end_matches('.').to_ascii_lowercase();
    if !names.contains(&hello) {
        let mut found = match names.is_empty() {
            true => "no PTR record".to_string(),
            false => format!("PTR {}", names.join(", ")),
        };
        if source.is_loopback() {
            // Loopback test addresses have no PTR of their own: the
            // resolver names them all localhost (RFC 6761 §6.3).
            found.push_str(" (a loopback address)");
        }
        return Err(format!(
            "{source} has {found}, not the EHLO name {hello}: {publish}"
        ));
    }
    let forward = tokio::time::timeout(CHECK_TIME, resolver.lookup_ip(format!("{hello}."))).await;
    match forward {
        Ok(Ok(lookup)) if lookup.iter().any(|ip| ip == source) => Ok(()),
        Ok(Ok(_)) | Ok(Err(_)) => Err(format!(
            "{source}: its PTR name {hello} does not resolve back to it: {publish}"
        )),
        Err(_) => Err(format!("{hello}: address lookup timed out")),
    }
}

/// Checks each of `sources` against `hello`, printing a warning for each
/// that fails, and returns them; with `require`, any failure is an error.
pub async fn check_all(
    resolver: Option<&TokioResolver>,
    sources: &[IpAddr],
    hello: &str,
    require: bool,
) -> Result<Vec<String>, String> {
    let mut failed = Vec::new();
    for source in sources {
        if let Err(why) = check(resolver, *source, hello).await {
            eprintln!("warning: forward-confirmed reverse DNS: {why}");
            failed.push(why);
        }
    }
    match failed.first() {
        Some(first) if require => Err(format!("--require-fcrdns: {first}")),
        _ => Ok(failed),
    }
}
