//! The sender's checklist, run with `--check` and, as warnings, at the
//! start of every run: what the large providers require of a bulk sender
//! before they accept its mail into the inbox. Each failure comes with the
//! record to publish.
//!
//! - the `From:` domain of each template has a DMARC record (RFC 7489
//!   §6.1: a TXT record at `_dmarc.domain` starting `v=DMARC1`);
//! - each configured DKIM key is published, and is the one in DNS (RFC
//!   6376 §3.6.2.1: a TXT record at `selector._domainkey.domain`);
//! - the envelope sender's domain, the identity SPF checks (RFC 7208
//!   §2.4), has an SPF record that authorises each source address;
//! - each source address has forward-confirmed reverse DNS matching the
//!   EHLO name ([`fcrdns`](crate::outbound::fcrdns), checked with the
//!   sources at start).
//!
//! The record lookups, parsing and the SPF evaluation (macros, the limit
//! of 10 lookups of RFC 7208 §4.6.4) are the `mail-auth` crate's, over the
//! same resolver as the MX lookups.

use std::net::IpAddr;
use std::sync::Arc;

use hickory_resolver::TokioResolver;
use mail_auth::common::cache::NoCache;
use mail_auth::common::parse::TxtRecordParser;
use mail_auth::common::resolver::{ToFqdn, UnwrapTxtRecord};
use mail_auth::common::verify::DomainKey;
use mail_auth::dmarc::Dmarc;
use mail_auth::spf::verify::SpfParameters;
use mail_auth::{DnsError, Error, MessageAuthenticator, SpfResult, Txt};

use crate::dkim::{Key, Published};

/// What the checklist checks.
#[derive(Debug, Clone, Copy)]
pub struct Sender<'a> {
    /// The domains of the templates' `From:` fields.
    pub from_domains: &'a [String],
    /// The envelope sender (`MAIL FROM`), whose domain SPF checks.
    pub envelope_sender: &'a str,
    /// The EHLO name, SPF's HELO identity.
    pub hello: &'a str,
    /// The source addresses.
    pub sources: &'a [IpAddr],
    /// The DKIM signing keys.
    pub keys: &'a [Key],
}

/// Runs the checks of the module's list for `sender` (all but reverse
/// DNS); returns one warning per failure, each with the record to publish.
/// With no resolver there is nothing to check against: one warning says
/// so.
pub async fn checklist(resolver: Option<&TokioResolver>, sender: Sender<'_>) -> Vec<String> {
    let Some(resolver) = resolver else {
        return vec!["no DNS resolver: the sender's checklist was not run".to_string()];
    };
    let authenticator = MessageAuthenticator(resolver.clone());
    let mut warnings = Vec::new();
    for domain in sender.from_domains {
        let domain = domain.trim_end_matches('.').to_ascii_lowercase();
        let publish = format!(
            "publish _dmarc.{domain}. TXT \"v=DMARC1; p=none; rua=mailto:dmarc-reports@{domain}\""
        );
        match lookup::<Dmarc>(&authenticator, &format!("_dmarc.{domain}")).await {
            Ok(Some(_)) => {}
            Ok(None) => warnings.push(format!("DMARC: {domain} has no DMARC record: {publish}")),
            Err(Lookup::Unusable(why)) => warnings.push(format!(
                "DMARC: _dmarc.{domain} has a record that does not parse ({why}): {publish}"
            )),
            Err(Lookup::Dns(why)) => warnings.push(format!("DMARC: _dmarc.{domain}: {why}")),
        }
    }
    for key in sender.keys {
        if let Some(warning) = check_key(&authenticator, key).await {
            warnings.push(format!("DKIM: {warning}"));
        }
    }
    let domain = sender
        .envelope_sender
        .rsplit_once('@')
        .map_or(sender.envelope_sender, |(_, domain)| domain)
        .trim_end_matches('.')
        .to_ascii_lowercase();
    for &source in sender.sources {
        let result = check_host(&authenticator, source, sender.hello, sender.envelope_sender).await;
        if result != SpfResult::Pass {
            let mechanism = match source {
                IpAddr::V4(ip) => format!("ip4:{ip}"),
                IpAddr::V6(ip) => format!("ip6:{ip}"),
            };
            warnings.push(format!(
                "SPF: {domain} does not authorise {source} ({result}): publish {domain}. TXT \
                 \"v=spf1 {mechanism} -all\" (or add {mechanism} to its record)"
            ));
        }
    }
    warnings
}

/// RFC 7208 §2.4, §4: the SPF result for mail from `envelope_sender`
/// sent from `ip` by a client greeting with `hello`.
pub async fn check_host(
    authenticator: &MessageAuthenticator,
    ip: IpAddr,
    hello: &str,
    envelope_sender: &str,
) -> SpfResult {
    // The checking host's name only fills the `%{r}` macro (RFC 7208
    // §7.3): ours, since we check ourselves.
    let parameters = SpfParameters::verify_mail_from(ip, hello, hello, envelope_sender);
    authenticator.verify_spf(parameters).await.result()
}

/// Whether the key record of `key` is published and is `key`'s; `Some`
/// says what is wrong and the record to publish.
async fn check_key(authenticator: &MessageAuthenticator, key: &Key) -> Option<String> {
    let name = key.record_name();
    let publish = format!("publish {}", key.txt_record());
    let wrong = match lookup::<DomainKey>(authenticator, &name).await {
        Ok(Some(published)) => match key.compare(&published) {
            Ok(Published::Matches) => return None,
            Ok(Published::OtherType) => format!(
                "{name} publishes a key of another type than the {} key configured",
                key.algorithm.key_type()
            ),
            Ok(Published::OtherKey) => {
                format!("{name} publishes another key than the one configured")
            }
            Err(why) => format!("{name}: the configured key cannot sign ({why})"),
        },
        Ok(None) => format!("{name} has no DKIM key record"),
        Err(Lookup::Unusable(why)) => {
            format!("{name} has a key record that does not parse ({why})")
        }
        Err(Lookup::Dns(why)) => return Some(format!("{name}: {why}")),
    };
    Some(format!("{wrong}: {publish}"))
}

/// Why a record lookup gave nothing to check.
enum Lookup {
    /// A record of the kind is there, and cannot be used.
    Unusable(String),
    /// The DNS failed.
    Dns(String),
}

/// The record of type `T` at `name`, the first of its TXT records that
/// parses as one; `None` when the name, or such a record, does not exist.
async fn lookup<T>(
    authenticator: &MessageAuthenticator,
    name: &str,
) -> Result<Option<Arc<T>>, Lookup>
where
    T: TxtRecordParser + Into<Txt> + UnwrapTxtRecord,
{
    let found = authenticator
        .txt_lookup::<T>(name.to_fqdn(), None::<&NoCache<Box<str>, Txt>>)
        .await;
    match found {
        Ok(record) => Ok(Some(record)),
        Err(Error::Dns(DnsError::RecordNotFound(_) | DnsError::InvalidRecordType)) => Ok(None),
        Err(Error::Dns(DnsError::Resolver(why))) => Err(Lookup::Dns(why)),
        Err(other) => Err(Lookup::Unusable(other.to_string())),
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
