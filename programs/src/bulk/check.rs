//! The sender's checklist, run with `--check` and, as warnings, at the
//! start of every run: what the large providers require of a bulk sender
//! before they accept its mail into the inbox. Each failure comes with the
//! record to publish.
//!
//! - the `From:` domain of each template has a DMARC record (RFC 7489
//!   §6.1: a TXT record at `_dmarc.domain` starting `v=DMARC1`);
//! - the envelope sender's domain, the identity SPF checks (RFC 7208
//!   §2.4), has an SPF record that authorises each source address;
//! - each source address has forward-confirmed reverse DNS matching the
//!   EHLO name ([`fcrdns`](crate::outbound::fcrdns), checked with the
//!   sources at start).
//!
//! SPF is evaluated here for the `ip4`, `ip6`, `a`, `mx`, `include`,
//! `exists` and `all` mechanisms and the `redirect` modifier, with RFC 7208
//! §4.6.4's limit of 10 lookups; macros (§7) are not expanded, a record
//! using them is reported as not evaluated.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;

use hickory_resolver::proto::rr::RData;
use hickory_resolver::TokioResolver;

/// RFC 7208 §4.6.4: at most 10 mechanisms and modifiers that look up DNS.
const MAX_LOOKUPS: u32 = 10;

/// RFC 7208 §4.6.4: at most 10 names of one `mx` mechanism looked up.
const MAX_MX_NAMES: usize = 10;

/// An SPF result (RFC 7208 §2.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Spf {
    /// The address is authorised.
    Pass,
    /// The domain says it is not.
    Fail,
    /// Probably not.
    SoftFail,
    /// The domain says nothing either way.
    Neutral,
    /// No SPF record.
    None,
    /// The record cannot be evaluated, and why.
    PermError(String),
    /// A DNS failure, and which.
    TempError(String),
}

/// Runs the DMARC checks for the `From:` domains `from_domains` and the
/// SPF check of `envelope_domain` for each of `sources`; returns one
/// warning per failure, each with the record to publish. With no resolver
/// there is nothing to check against: one warning says so.
pub async fn checklist(
    resolver: Option<&TokioResolver>,
    from_domains: &[String],
    envelope_domain: &str,
    sources: &[IpAddr],
) -> Vec<String> {
    let Some(resolver) = resolver else {
        return vec!["no DNS resolver: the sender's checklist was not run".to_string()];
    };
    let mut warnings = Vec::new();
    for domain in from_domains {
        let domain = domain.trim_end_matches('.').to_ascii_lowercase();
        match txt_records(resolver, &format!("_dmarc.{domain}")).await {
            Ok(records) if records.iter().any(|r| is_version(r, "v=DMARC1")) => {}
            Ok(_) => warnings.push(format!(
                "DMARC: {domain} has no DMARC record: publish _dmarc.{domain}. TXT \
                 \"v=DMARC1; p=none; rua=mailto:dmarc-reports@{domain}\""
            )),
            Err(error) => warnings.push(format!("DMARC: _dmarc.{domain}: {error}")),
        }
    }
    let domain = envelope_domain.trim_end_matches('.').to_ascii_lowercase();
    for &source in sources {
        let result = check_host(resolver, source, &domain).await;
        if result != Spf::Pass {
            let mechanism = match source {
                IpAddr::V4(ip) => format!("ip4:{ip}"),
                IpAddr::V6(ip) => format!("ip6:{ip}"),
            };
            warnings.push(format!(
                "SPF: {domain} does not authorise {source} ({result:?}): publish {domain}. TXT \
                 \"v=spf1 {mechanism} -all\" (or add {mechanism} to its record)"
            ));
        }
    }
    warnings
}

/// RFC 7208 §4: whether `ip` may send mail for `domain`.
pub async fn check_host(resolver: &TokioResolver, ip: IpAddr, domain: &str) -> Spf {
    let mut evaluation = Evaluation {
        resolver,
        ip,
        lookups: 0,
    };
    evaluation.check_host(domain.to_string()).await
}

/// One evaluation: the address and the lookups used so far.
struct Evaluation<'a> {
    resolver: &'a TokioResolver,
    ip: IpAddr,
    lookups: u32,
}

impl<'a> Evaluation<'a> {
    /// Counts one lookup against the limit.
    fn count_lookup(&mut self) -> Result<(), Spf> {
        self.lookups += 1;
        if self.lookups > MAX_LOOKUPS {
            return Err(Spf::PermError("more than 10 DNS lookups".to_string()));
        }
        Ok(())
    }

    /// Boxed, since `include` and `redirect` recurse (bounded by the
    /// lookup limit).
    fn check_host(&mut self, domain: String) -> Pin<Box<dyn Future<Output = Spf> + Send + '_>> {
        Box::pin(async move {
            let records = match txt_records(self.resolver, &domain).await {
                Ok(records) => records,
                Err(error) => return Spf::TempError(format!("{domain}: {error}")),
            };
            let spf: Vec<&String> = records.iter().filter(|r| is_version(r, "v=spf1")).collect();
            let record = match spf.as_slice() {
                [] => return Spf::None,
                [one] => one.to_string(),
                _ => return Spf::PermError(format!("{domain}: more than one SPF record")),
            };
            match self.evaluate(&domain, &record).await {
                Ok(result) | Err(result) => result,
            }
        })
    }

    /// The terms of `record`, in order (RFC 7208 §4.6); `Err` ends the
    /// evaluation with that result.
    async fn evaluate(&mut self, domain: &str, record: &str) -> Result<Spf, Spf> {
        let mut redirect = None;
        for term in record.split_ascii_whitespace().skip(1) {
            if term.contains('%') {
                return Err(Spf::PermError(format!(
                    "{term}: macros are not evaluated here"
                )));
            }
            if let Some((name, value)) = term.split_once('=') {
                if name.eq_ignore_ascii_case("redirect") {
                    redirect = Some(value.to_string());
                }
                continue;
            }
            let (qualifier, mechanism) = match term.as_bytes().first() {
                Some(b'+') => (Spf::Pass, &term[1..]),
                Some(b'-') => (Spf::Fail, &term[1..]),
                Some(b'~') => (Spf::SoftFail, &term[1..]),
                Some(b'?') => (Spf::Neutral, &term[1..]),
                _ => (Spf::Pass, term),
            };
            if self.matches(domain, mechanism).await? {
                return Ok(qualifier);
            }
        }
        match redirect {
            Some(target) => {
                self.count_lookup()?;
                match self.check_host(target.clone()).await {
                    Spf::None => Err(Spf::PermError(format!("redirect={target}: no SPF record"))),
                    result => Ok(result),
                }
            }
            None => Ok(Spf::Neutral),
        }
    }

    /// Whether `mechanism` (without its qualifier) matches the address.
    async fn matches(&mut self, domain: &str, mechanism: &str) -> Result<bool, Spf> {
        let (name, argument) = match mechanism.split_once(':') {
            Some((name, argument)) => (name, Some(argument)),
            None => match mechanism.split_once('/') {
                Some((name, _)) => (name, None),
                None => (mechanism, None),
            },
        };
        let bad = |why: &str| Spf::PermError(format!("{mechanism}: {why}"));
        match name.to_ascii_lowercase().as_str() {
            "all" => Ok(true),
            "ip4" | "ip6" => {
                let argument = argument.ok_or_else(|| bad("no address"))?;
                let (network, prefix) = split_prefix(argument).map_err(|why| bad(&why))?;
                let network: IpAddr = network.parse().map_err(|_| bad("bad address"))?;
                Ok(in_network(self.ip, network, prefix))
            }
            "a" | "mx" => {
                self.count_lookup()?;
                let target = argument.map_or(domain, |a| a.split('/').next().unwrap_or(a));
                let (v4, v6) = dual_prefix(mechanism).map_err(|why| bad(&why))?;
                let hosts = if name.eq_ignore_ascii_case("mx") {
                    let mut names = self.mx_names(target).await?;
                    if names.len() > MAX_MX_NAMES {
                        return Err(bad("more than 10 MX names"));
                    }
                    names.sort();
                    names
                } else {
                    vec![target.to_string()]
                };
                for host in hosts {
                    for address in self.addresses(&host).await? {
                        let prefix = if address.is_ipv4() { v4 } else { v6 };
                        if in_network(self.ip, address, prefix) {
                            return Ok(true);
                        }
                    }
                }
                Ok(false)
            }
            "include" => {
                self.count_lookup()?;
                let target = argument.ok_or_else(|| bad("no domain"))?;
                match self.check_host(target.to_string()).await {
                    Spf::Pass => Ok(true),
                    Spf::Fail | Spf::SoftFail | Spf::Neutral => Ok(false),
                    Spf::TempError(why) => Err(Spf::TempError(why)),
                    Spf::None => Err(bad("the included domain has no SPF record")),
                    Spf::PermError(why) => Err(Spf::PermError(why)),
                }
            }
            "exists" => {
                self.count_lookup()?;
                let target = argument.ok_or_else(|| bad("no domain"))?;
                Ok(!self.addresses(target).await?.is_empty())
            }
            // RFC 7208 §5.5: "ptr" SHOULD NOT be used; it counts and never
            // matches here.
            "ptr" => {
                self.count_lookup()?;
                Ok(false)
            }
            _ => Err(bad("unknown mechanism")),
        }
    }

    async fn mx_names(&self, domain: &str) -> Result<Vec<String>, Spf> {
        match self.resolver.mx_lookup(format!("{domain}.")).await {
            Ok(lookup) => Ok(lookup
                .answers()
                .iter()
                .filter_map(|record| match &record.data {
                    RData::MX(mx) => Some(mx.exchange.to_ascii().trim_end_matches('.').to_string()),
                    _ => None,
                })
                .collect()),
            Err(error) if error.is_no_records_found() || error.is_nx_domain() => Ok(Vec::new()),
            Err(error) => Err(Spf::TempError(format!("{domain} MX: {error}"))),
        }
    }

    async fn addresses(&self, host: &str) -> Result<Vec<IpAddr>, Spf> {
        match self.resolver.lookup_ip(format!("{host}.")).await {
            Ok(lookup) => Ok(lookup.iter().collect()),
            Err(error) if error.is_no_records_found() || error.is_nx_domain() => Ok(Vec::new()),
            Err(error) => Err(Spf::TempError(format!("{host}: {error}"))),
        }
    }
}

/// The domain of the `From:` field of a template's header (RFC 5322
/// §3.6.2), if it names one outright (not through a `{{column}}`).
pub fn header_from_domain(template: &str) -> Option<String> {
    let header = template.split("\n\n").next().unwrap_or(template);
    let value = header
        .lines()
        .map(|line| line.trim_end_matches('\r'))
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.trim().eq_ignore_ascii_case("from").then_some(value)
        })?;
    if value.contains("{{") {
        return None;
    }
    let address = match value.rsplit_once('<') {
        Some((_, rest)) => rest.split('>').next().unwrap_or(rest),
        None => value.trim(),
    };
    let (_, domain) = address.rsplit_once('@')?;
    let domain = domain.trim().trim_end_matches('>').to_ascii_lowercase();
    (!domain.is_empty()).then_some(domain)
}

/// The TXT records at `name`, each's strings joined (RFC 7208 §3.3); none
/// when the name or its records do not exist.
async fn txt_records(resolver: &TokioResolver, name: &str) -> Result<Vec<String>, String> {
    match resolver.txt_lookup(format!("{name}.")).await {
        Ok(lookup) => Ok(lookup
            .answers()
            .iter()
            .filter_map(|record| match &record.data {
                RData::TXT(txt) => Some(txt),
                _ => None,
            })
            .map(|txt| {
                txt.txt_data
                    .iter()
                    .map(|part| String::from_utf8_lossy(part))
                    .collect::<String>()
            })
            .collect()),
        Err(error) if error.is_no_records_found() || error.is_nx_domain() => Ok(Vec::new()),
        Err(error) => Err(error.to_string()),
    }
}

/// Whether `record` is of version `tag`: the tag alone or followed by a
/// space (RFC 7208 §4.5) or, for DMARC, a `;` (RFC 7489 §6.4).
fn is_version(record: &str, tag: &str) -> bool {
    let Some(start) = record.get(..tag.len()) else {
        return false;
    };
    start.eq_ignore_ascii_case(tag)
        && matches!(record.as_bytes().get(tag.len()), None | Some(b' ' | b';'))
}

/// `address[/prefix]` as the address and its prefix (`None`: all bits).
fn split_prefix(argument: &str) -> Result<(&str, Option<u8>), String> {
    match argument.split_once('/') {
        Some((address, prefix)) => {
            let prefix = prefix
                .parse()
                .map_err(|_| "bad prefix length".to_string())?;
            Ok((address, Some(prefix)))
        }
        None => Ok((argument, None)),
    }
}

/// The IPv4 and IPv6 prefix lengths of an `a` or `mx` mechanism
/// (`/24//64`), `None` for all bits.
fn dual_prefix(mechanism: &str) -> Result<(Option<u8>, Option<u8>), String> {
    let Some(at) = mechanism.find('/') else {
        return Ok((None, None));
    };
    let lengths = &mechanism[at..];
    let parse = |text: &str| -> Result<Option<u8>, String> {
        if text.is_empty() {
            Ok(None)
        } else {
            text.parse()
                .map(Some)
                .map_err(|_| "bad prefix length".to_string())
        }
    };
    match lengths.strip_prefix("//") {
        Some(v6) => Ok((None, parse(v6)?)),
        None => {
            let rest = &lengths[1..];
            match rest.split_once("//") {
                Some((v4, v6)) => Ok((parse(v4)?, parse(v6)?)),
                None => Ok((parse(rest)?, None)),
            }
        }
    }
}

/// Whether `ip` is in `network`/`prefix` (the same family only).
fn in_network(ip: IpAddr, network: IpAddr, prefix: Option<u8>) -> bool {
    match (ip, network) {
        (IpAddr::V4(ip), IpAddr::V4(network)) => {
            let bits = u32::from(prefix.unwrap_or(32).min(32));
            let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            u32::from(ip) & mask == u32::from(network) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(network)) => {
            let bits = u32::from(prefix.unwrap_or(128).min(128));
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            u128::from(ip) & mask == u128::from(network) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_and_prefixes() {
        let ip = |text: &str| text.parse::<IpAddr>().unwrap();
        assert!(in_network(ip("192.0.2.77"), ip("192.0.2.0"), Some(24)));
        assert!(!in_network(ip("192.0.3.77"), ip("192.0.2.0"), Some(24)));
        assert!(in_network(ip("192.0.2.77"), ip("10.0.0.0"), Some(0)));
        assert!(!in_network(ip("192.0.2.77"), ip("2001:db8::"), Some(0)));
        assert!(in_network(ip("2001:db8::5"), ip("2001:db8::"), Some(64)));
        assert_eq!(
            dual_prefix("a:example.org/24//64"),
            Ok((Some(24), Some(64)))
        );
        assert_eq!(dual_prefix("mx//48"), Ok((None, Some(48))));
        assert_eq!(dual_prefix("a"), Ok((None, None)));
        assert!(dual_prefix("a/x").is_err());
        assert!(is_version("v=DMARC1; p=none", "v=DMARC1"));
        assert!(is_version("v=spf1 -all", "v=spf1"));
        assert!(!is_version("v=spf10 -all", "v=spf1"));
    }

    #[test]
    fn the_from_domain_of_a_template() {
        let domain = |text: &str| header_from_domain(text);
        assert_eq!(
            domain("Subject: x\nFROM: News <news@Example.ORG>\n\nfrom: a@b.test\n"),
            Some("example.org".to_string())
        );
        assert_eq!(
            domain("From: news@example.org\r\n\r\n"),
            Some("example.org".to_string())
        );
        assert_eq!(domain("From: {{sender}}\n\n"), None);
        assert_eq!(domain("Subject: no from\n\nFrom: a@b.test\n"), None);
    }
}
