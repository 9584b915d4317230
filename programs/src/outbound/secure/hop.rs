//! What TLS one next hop gets under its domain's policy, and how the
//! attempt is reported: the glue between the policy (MTA-STS, RFC 8461
//! §4), the driver's client, and TLS reporting (RFC 8460).

use std::io;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use hickory_resolver::TokioResolver;
use rustls::RootCertStore;
use smtpwire::client::{ClientError, SessionError};
use smtpwire::delivery::mta_sts::MxVerdict;
use smtpwire_tokio::client::tls::{webpki_checked, CertificateCheck};
use smtpwire_tokio::client::{Client, ClientBuilder, ConnectionError, Error, StartTlsPolicy};

use super::cache::PolicyCache;
use super::fetch::Fetcher;
use super::mta_sts::{DomainPolicy, PolicySource};
use super::report::{certificate_failure, Attempt, PolicyType, ResultType, TlsReports};
use super::{webpki_roots, SecureSettings};

/// Policies for next hops and the record of each attempt.
pub struct NextHopSecurity {
    /// MTA-STS discovery, when it is on.
    policies: Option<PolicySource>,
    /// What verified certificates chain to, when a policy may ask for it.
    roots: Option<Arc<RootCertStore>>,
    reports: TlsReports,
}

/// The TLS one connection attempt is made with.
pub struct HopTls {
    verdict: MxVerdict,
    policy: PolicyType,
    /// The WebPKI check, when a policy looks at the certificate.
    check: Option<CertificateCheck>,
}

impl NextHopSecurity {
    /// Opportunistic TLS for every next hop; attempts are logged.
    pub fn opportunistic() -> NextHopSecurity {
        NextHopSecurity {
            policies: None,
            roots: None,
            reports: TlsReports::default(),
        }
    }

    /// As `settings` say, looking policies up at `resolver` and keeping
    /// them in `cache_dir`.
    pub fn new(
        settings: &SecureSettings,
        resolver: Option<TokioResolver>,
        cache_dir: PathBuf,
    ) -> io::Result<NextHopSecurity> {
        let reports = TlsReports::open(settings.report_file.as_deref())?;
        if !settings.mta_sts {
            return Ok(NextHopSecurity {
                reports,
                ..NextHopSecurity::opportunistic()
            });
        }
        let roots = webpki_roots(settings.trust.as_deref())?;
        let policies = PolicySource {
            resolver: resolver.clone(),
            fetcher: Fetcher {
                resolver,
                roots: roots.clone(),
                port: settings.policy_port,
            },
            cache: PolicyCache::open(cache_dir)?,
        };
        Ok(NextHopSecurity {
            policies: Some(policies),
            roots: Some(roots),
            reports,
        })
    }

    /// The policy for mail to `domain`; a failed fetch is reported.
    pub async fn policy_for(&self, domain: &str) -> DomainPolicy {
        let Some(policies) = &self.policies else {
            return DomainPolicy::default();
        };
        let found = policies.policy_for(domain).await;
        if let Some(failure) = &found.fetch_failure {
            self.reports.record(&Attempt {
                policy: if found.policy.is_some() {
                    PolicyType::Sts
                } else {
                    PolicyType::NoPolicyFound
                },
                domain,
                mx_host: "",
                receiving_ip: None,
                failure: Some(failure.result),
                detail: Some(failure.detail.clone()),
            });
        }
        found
    }

    /// How to connect to the MX host `mx` of `domain` under `policy`;
    /// `None` when the policy forbids it (reported).
    pub fn prepare(
        &self,
        domain: &str,
        policy: &DomainPolicy,
        mx: &str,
        client: ClientBuilder,
    ) -> io::Result<Option<(ClientBuilder, HopTls)>> {
        let verdict = policy
            .policy
            .as_ref()
            .map_or(MxVerdict::NoPolicy, |policy| policy.check_mx(mx));
        let policy_type = match verdict {
            MxVerdict::NoPolicy => PolicyType::NoPolicyFound,
            _ => PolicyType::Sts,
        };
        let checked = |enforce| match &self.roots {
            Some(roots) => webpki_checked(roots.clone(), enforce).map(Some),
            None => Ok(None),
        };
        let (client, check) = match verdict {
            MxVerdict::Refuse => {
                self.reports.record(&Attempt {
                    policy: policy_type,
                    domain,
                    mx_host: mx,
                    receiving_ip: None,
                    failure: Some(ResultType::ValidationFailure),
                    detail: Some("mx-not-in-policy".to_string()),
                });
                return Ok(None);
            }
            MxVerdict::NoPolicy => (client, None),
            MxVerdict::ReportOnly { .. } => match checked(false)? {
                Some((config, check)) => (client.tls_config(config), Some(check)),
                None => (client, None),
            },
            MxVerdict::RequireVerifiedTls => {
                let Some((config, check)) = checked(true)? else {
                    return Err(io::Error::other("a policy requires TLS but no roots"));
                };
                let client = client.starttls(StartTlsPolicy::Required).tls_config(config);
                (client, Some(check))
            }
        };
        let hop = HopTls {
            verdict,
            policy: policy_type,
            check,
        };
        Ok(Some((client, hop)))
    }

    /// Reports a session that got ready for messages.
    pub fn connected(&self, hop: &HopTls, domain: &str, mx: &str, ip: IpAddr, client: &Client) {
        let certificate = hop.check.as_ref().and_then(CertificateCheck::failure);
        let (failure, detail) = if let MxVerdict::ReportOnly { listed: false } = hop.verdict {
            (
                Some(ResultType::ValidationFailure),
                Some("mx-not-in-policy".to_string()),
            )
        } else if !client.is_tls() {
            (Some(ResultType::StartTlsNotSupported), None)
        } else {
            match certificate {
                Some(error) => (Some(certificate_failure(&error)), Some(error.to_string())),
                None => (None, None),
            }
        };
        self.reports.record(&Attempt {
            policy: hop.policy,
            domain,
            mx_host: mx,
            receiving_ip: Some(ip),
            failure,
            detail,
        });
    }

    /// Reports a session that failed before it was ready, when TLS was
    /// why; `true` when it was, under a policy that requires verified TLS.
    pub fn failed(&self, hop: &HopTls, domain: &str, mx: &str, ip: IpAddr, error: &Error) -> bool {
        let failure = match error {
            Error::Connection(ConnectionError::Session(ClientError::Session(
                SessionError::StartTlsNotOffered | SessionError::StartTlsRefused(_),
            ))) => ResultType::StartTlsNotSupported,
            Error::Connection(ConnectionError::Tls(_)) => hop
                .check
                .as_ref()
                .and_then(CertificateCheck::failure)
                .map_or(ResultType::ValidationFailure, |error| {
                    certificate_failure(&error)
                }),
            _ => return false,
        };
        self.reports.record(&Attempt {
            policy: hop.policy,
            domain,
            mx_host: mx,
            receiving_ip: Some(ip),
            failure: Some(failure),
            detail: Some(error.to_string()),
        });
        hop.verdict == MxVerdict::RequireVerifiedTls
    }
}
