//! Which MTA-STS policy applies to a recipient domain (RFC 8461 §3, §5.1):
//! the `_mta-sts.<domain>` TXT record says which policy is current by its
//! `id`; a cached policy with that id, still within its `max_age`, is used
//! as it is; else the policy is fetched and cached. When the TXT record is
//! gone or the fetch fails, a cached policy still within its `max_age`
//! goes on applying: an attacker who blocks DNS or HTTPS cannot turn a
//! known policy off.

use hickory_resolver::proto::rr::RData;
use hickory_resolver::TokioResolver;
use mail_auth::common::parse::TxtRecordParser;
use mail_auth::mta_sts::MtaSts;
use smtpwire::delivery::mta_sts::Policy;

use super::cache::{Cached, PolicyCache};
use super::dane::ValidatedMx;
use super::fetch::{FetchError, Fetcher};
use crate::outbound::unix_now;

/// The policy a domain's delivery runs under.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DomainPolicy {
    /// The policy, if the domain has one (mode `none` included).
    pub policy: Option<Policy>,
    /// Why a fetch failed this time, for TLS reporting; a cached policy may
    /// still apply.
    pub fetch_failure: Option<FetchError>,
    /// What DNSSEC said of the domain's MX RRset, when DANE is on (RFC
    /// 7672 §2.2.1).
    pub mx_dnssec: Option<ValidatedMx>,
    /// Only next hops whose certificate DANE or the MTA-STS policy verifies
    /// may be used: the route a REQUIRETLS message needs (RFC 8689 §4.2.1).
    pub verified_only: bool,
}

/// Policy discovery with its cache.
#[derive(Clone)]
pub struct PolicySource {
    /// Where the TXT records are looked up.
    pub resolver: Option<TokioResolver>,
    /// How policies are fetched.
    pub fetcher: Fetcher,
    /// Where they are kept.
    pub cache: PolicyCache,
}

impl PolicySource {
    /// The policy for `domain` now.
    pub async fn policy_for(&self, domain: &str) -> DomainPolicy {
        let now = unix_now();
        let cached = self
            .cache
            .load(domain)
            .filter(|cached| cached.is_fresh(now));
        let Some(id) = self.current_id(domain).await else {
            return DomainPolicy {
                policy: cached.map(|cached| cached.policy),
                ..DomainPolicy::default()
            };
        };
        if let Some(cached) = cached.as_ref().filter(|cached| cached.id == id) {
            return DomainPolicy {
                policy: Some(cached.policy.clone()),
                ..DomainPolicy::default()
            };
        }
        match self.fetcher.fetch(domain).await {
            Ok(policy) => {
                let fresh = Cached {
                    id,
                    fetched: now,
                    policy,
                };
                if let Err(error) = self.cache.store(domain, &fresh) {
                    tracing::warn!(domain, error = %error, "MTA-STS policy not cached");
                }
                DomainPolicy {
                    policy: Some(fresh.policy),
                    ..DomainPolicy::default()
                }
            }
            Err(error) => DomainPolicy {
                policy: cached.map(|cached| cached.policy),
                fetch_failure: Some(error),
                ..DomainPolicy::default()
            },
        }
    }

    /// The `id` of `domain`'s `_mta-sts` TXT record (RFC 8461 §3.1):
    /// records not starting with `v=STSv1` are left out, and unless exactly
    /// one is left and it parses, the domain has no policy announced.
    async fn current_id(&self, domain: &str) -> Option<String> {
        let resolver = self.resolver.as_ref()?;
        let name = format!("_mta-sts.{}.", domain.trim_end_matches('.'));
        let lookup = resolver.txt_lookup(name).await.ok()?;
        let records: Vec<Vec<u8>> = lookup
            .answers()
            .iter()
            .filter_map(|record| match &record.data {
                RData::TXT(txt) => Some(txt.txt_data.concat()),
                _ => None,
            })
            .filter(|text| is_sts_record(text))
            .collect();
        match records.as_slice() {
            [record] => MtaSts::parse(record).ok().map(|record| record.id),
            _ => None,
        }
    }
}

/// Whether a TXT record is an MTA-STS one: `v=STSv1`, then `;`, white
/// space or its end.
fn is_sts_record(text: &[u8]) -> bool {
    text.strip_prefix(b"v=STSv1")
        .is_some_and(|rest| matches!(rest.first(), None | Some(b';' | b' ' | b'\t')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sts_version_1_records_count() {
        assert!(is_sts_record(b"v=STSv1; id=20260101"));
        assert!(is_sts_record(b"v=STSv1"));
        assert!(!is_sts_record(b"v=STSv10; id=1"));
        assert!(!is_sts_record(b"v=spf1 -all"));
    }
}
