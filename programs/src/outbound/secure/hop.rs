//! What TLS one next hop gets under its domain's policy, and how the
//! attempt is reported: the glue between the policies (DANE, RFC 7672 §2;
//! MTA-STS, RFC 8461 §4), the driver's client, and TLS reporting (RFC
//! 8460).
//!
//! DANE comes first (RFC 8461 §2): an MX host of a DNSSEC-secure MX RRset
//! with secure TLSA records is held to them whatever the domain's MTA-STS
//! policy says; MTA-STS applies to the other hosts.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use hickory_resolver::TokioResolver;
use rustls::RootCertStore;
use smtpwire::client::{ClientError, SessionError};
use smtpwire::delivery::mta_sts::MxVerdict;
use smtpwire_tokio::client::tls::dane::{dane_config, TlsaRecord};
use smtpwire_tokio::client::tls::{any_certificate, webpki_checked, CertificateCheck};
use smtpwire_tokio::client::{Client, ClientBuilder, ConnectionError, Error, StartTlsPolicy};

use super::cache::PolicyCache;
use super::dane::{mx_validation, tlsa_lookup, validating_resolver, TlsaAnswer, Validation};
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
    /// The validating resolver of DANE lookups, when DANE is on.
    dnssec: Option<TokioResolver>,
    reports: TlsReports,
}

/// The TLS one connection attempt is made with.
pub struct HopTls {
    verdict: MxVerdict,
    policy: PolicyType,
    /// The WebPKI check, when a policy looks at the certificate.
    check: Option<CertificateCheck>,
    /// Whether a failed handshake or a missing STARTTLS rules the host
    /// out (rather than being reported only).
    tls_required: bool,
    /// DANE with secure TLSA records none of which is usable: reported as
    /// `tlsa-invalid` even when the session succeeds (RFC 8460 §4.3.2.1).
    unusable_tlsa: bool,
}

/// What DANE asks of one MX host (RFC 7672 §2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostDane {
    /// No secure TLSA records: MTA-STS or opportunistic TLS as for any
    /// host.
    NotApplicable,
    /// TLS is mandatory and the certificate must match one of these usable
    /// records.
    Authenticated(Vec<TlsaRecord>),
    /// Secure TLSA records, none usable: TLS is mandatory, the certificate
    /// is not checked (§2.2).
    Unauthenticated,
    /// The host must not be used now (bogus or failed DNSSEC lookups,
    /// §2.2): it is skipped, as a host refusing the policy is.
    Skipped,
}

impl NextHopSecurity {
    /// Opportunistic TLS for every next hop; attempts are logged.
    pub fn opportunistic() -> NextHopSecurity {
        NextHopSecurity {
            policies: None,
            roots: None,
            dnssec: None,
            reports: TlsReports::default(),
        }
    }

    /// As `settings` say, looking policies up at `resolver` and keeping
    /// them in `cache_dir`; DANE lookups go to `nameserver` (the system's
    /// when `None`) through a resolver of their own that validates.
    pub fn new(
        settings: &SecureSettings,
        resolver: Option<TokioResolver>,
        nameserver: Option<SocketAddr>,
        cache_dir: PathBuf,
    ) -> io::Result<NextHopSecurity> {
        let reports = TlsReports::open(settings.report_file.as_deref())?;
        let dnssec = match settings.dane {
            true => Some(validating_resolver(
                nameserver,
                settings.dnssec_trust_anchor.as_deref(),
            )?),
            false => None,
        };
        if !settings.mta_sts {
            return Ok(NextHopSecurity {
                reports,
                dnssec,
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
            dnssec,
            reports,
        })
    }

    /// The policy for mail to `domain`, with whether its MX RRset is
    /// DNSSEC-secure when DANE is on; a failed fetch is reported.
    pub async fn policy_for(&self, domain: &str) -> DomainPolicy {
        let mut found = self.sts_policy_for(domain).await;
        if let Some(resolver) = &self.dnssec {
            found.mx_dnssec = Some(mx_validation(resolver, domain).await);
        }
        found
    }

    /// The MTA-STS policy for mail to `domain`; a failed fetch is reported.
    async fn sts_policy_for(&self, domain: &str) -> DomainPolicy {
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

    /// What DANE asks of the MX host `mx` of `domain`, reached on `port`
    /// (RFC 7672 §2.2): nothing unless DANE is on and `policy` found the
    /// MX RRset secure; a host that is [skipped](HostDane::Skipped) is
    /// reported.
    pub async fn dane_for(
        &self,
        domain: &str,
        policy: &DomainPolicy,
        mx: &str,
        port: u16,
    ) -> HostDane {
        let Some(resolver) = &self.dnssec else {
            return HostDane::NotApplicable;
        };
        let Some(mx_rrset) = &policy.mx_dnssec else {
            return HostDane::NotApplicable;
        };
        let (result, detail) = if mx_rrset.secures(mx) {
            match tlsa_lookup(resolver, mx, port).await {
                TlsaAnswer::Secure { usable } if usable.is_empty() => {
                    return HostDane::Unauthenticated
                }
                TlsaAnswer::Secure { usable } => return HostDane::Authenticated(usable),
                TlsaAnswer::Absent => return HostDane::NotApplicable,
                TlsaAnswer::Bogus => (ResultType::DnssecInvalid, "TLSA RRset bogus".to_string()),
                TlsaAnswer::Failed(error) => {
                    (ResultType::DnssecInvalid, format!("TLSA lookup: {error}"))
                }
            }
        } else if mx_rrset.validation == Validation::Insecure {
            return HostDane::NotApplicable;
        } else if mx_rrset.validation == Validation::Bogus {
            (ResultType::DnssecInvalid, "MX RRset bogus".to_string())
        } else {
            // §2.2.1: a host the secure MX RRset does not name came from a
            // forged answer to the delivery's own lookup.
            (
                ResultType::DnssecInvalid,
                "not an exchange of the secure MX RRset".to_string(),
            )
        };
        self.reports.record(&Attempt {
            policy: PolicyType::Tlsa,
            domain,
            mx_host: mx,
            receiving_ip: None,
            failure: Some(result),
            detail: Some(detail),
        });
        HostDane::Skipped
    }

    /// How to connect to the MX host `mx` of `domain` under `policy`, or
    /// under `dane` when it applies (it takes precedence, RFC 8461 §2);
    /// `None` when the MTA-STS policy forbids the host (reported).
    pub fn prepare(
        &self,
        domain: &str,
        policy: &DomainPolicy,
        dane: &HostDane,
        mx: &str,
        client: ClientBuilder,
    ) -> io::Result<Option<(ClientBuilder, HopTls)>> {
        // REQUIRETLS: a host no TLSA record authenticates is used only
        // under the domain's MTA-STS policy, and never unauthenticated.
        let unverified = match dane {
            HostDane::Unauthenticated => Some(ResultType::TlsaInvalid),
            HostDane::NotApplicable | HostDane::Skipped if policy.policy.is_none() => {
                Some(ResultType::ValidationFailure)
            }
            _ => None,
        };
        if let (true, Some(failure)) = (policy.verified_only, unverified) {
            self.reports.record(&Attempt {
                policy: PolicyType::Tlsa,
                domain,
                mx_host: mx,
                receiving_ip: None,
                failure: Some(failure),
                detail: Some("REQUIRETLS: no certificate check for this host".to_string()),
            });
            return Ok(None);
        }
        let dane_config = match dane {
            HostDane::Authenticated(records) => Some(dane_config(records.clone())?),
            HostDane::Unauthenticated => Some(any_certificate()?),
            HostDane::NotApplicable | HostDane::Skipped => None,
        };
        if let Some(config) = dane_config {
            let client = client.starttls(StartTlsPolicy::Required).tls_config(config);
            let hop = HopTls {
                verdict: MxVerdict::NoPolicy,
                policy: PolicyType::Tlsa,
                check: None,
                tls_required: true,
                unusable_tlsa: *dane == HostDane::Unauthenticated,
            };
            return Ok(Some((client, hop)));
        }
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
            tls_required: verdict == MxVerdict::RequireVerifiedTls,
            unusable_tlsa: false,
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
        } else if hop.unusable_tlsa {
            (
                Some(ResultType::TlsaInvalid),
                Some("no usable TLSA record".to_string()),
            )
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
        hop.tls_required
    }
}
