//! Authentication of a received message: SPF (RFC 7208) for the client's
//! address with the HELO and MAIL FROM identities, DKIM (RFC 6376) for
//! each signature, DMARC (RFC 7489) with identifier alignment, and the
//! `Authentication-Results:` field (RFC 8601) that records them. The
//! evaluations are `mail-auth`'s; this module chooses what to check, bounds
//! the time it takes, and writes the field.
//!
//! The server runs it once per message, at the end of data, over the whole
//! message; the relay can run it on what it takes in.

pub(crate) mod field;
mod resolver;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use mail_auth::arc::ArcSealer;
use mail_auth::common::crypto::DkimKey;
use mail_auth::common::headers::HeaderWriter;
use mail_auth::dkim::Done;
use mail_auth::dmarc::Policy;
use mail_auth::spf::verify::SpfParameters;
use mail_auth::{
    AuthenticatedMessage, DkimOutput, DmarcOutput, DmarcResult, MessageAuthenticator, SpfOutput,
    SpfResult,
};

pub use field::remove_claims_of;

/// Time one check (SPF for one identity, the DKIM signatures, DMARC) may
/// take in all, whatever the lookups inside it: past it the check is a
/// temporary error. RFC 7208 §4.6.4 asks SPF verifiers to bound the whole
/// evaluation, suggesting "at least 20 seconds".
pub const CHECK_TIME_LIMIT: Duration = Duration::from_secs(20);

/// Signatures verified per message; more are ignored. Each costs a key
/// lookup and a pass over the message (RFC 6376 §6.1 lets a verifier
/// limit the signatures it looks at).
pub const MAX_SIGNATURES: usize = 8;

/// Which checks to run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Checks {
    /// SPF for the HELO and MAIL FROM identities.
    pub spf: bool,
    /// DKIM signatures.
    pub dkim: bool,
    /// DMARC; it needs SPF and DKIM results (RFC 7489 §4.2), so it runs
    /// both, and they are recorded too.
    pub dmarc: bool,
}

impl Checks {
    /// Reads a comma-separated list of `spf`, `dkim` and `dmarc`, as the
    /// server's `--authenticate` option takes it.
    pub fn parse(list: &str) -> Result<Checks, String> {
        let mut checks = Checks::default();
        for name in list.split(',').map(str::trim) {
            match name.to_ascii_lowercase().as_str() {
                "spf" => checks.spf = true,
                "dkim" => checks.dkim = true,
                "dmarc" => checks.dmarc = true,
                _ => return Err(format!("{name:?}: expected spf, dkim or dmarc")),
            }
        }
        Ok(checks)
    }

    /// Whether anything is checked.
    pub fn any(&self) -> bool {
        self.spf || self.dkim || self.dmarc
    }

    fn spf(&self) -> bool {
        self.spf || self.dmarc
    }

    fn dkim(&self) -> bool {
        self.dkim || self.dmarc
    }
}

/// What the SMTP session says about a message's origin.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    /// The client's address.
    pub client: IpAddr,
    /// The domain the client gave in HELO or EHLO; `None` for an address
    /// literal or no greeting, which SPF does not check (RFC 7208 §2.3).
    pub helo: Option<&'a str>,
    /// The MAIL FROM address without angle brackets, empty for the null
    /// reverse-path `<>`.
    pub mail_from: &'a str,
}

/// How authentication is set up.
#[derive(Debug)]
pub struct Settings {
    /// What to check.
    pub checks: Checks,
    /// The authserv-id the results are given under (RFC 8601 §2.5): this
    /// host's name.
    pub authserv_id: String,
    /// The nameserver to ask, instead of the system's.
    pub dns_server: Option<SocketAddr>,
    /// Seal each message with an ARC set (RFC 8617) made with this key,
    /// after verifying the sets it has: what a relay that forwards does.
    pub arc_key: Option<crate::dkim::Key>,
}

/// Runs the checks; one is shared by every connection.
pub struct Evaluator {
    authenticator: MessageAuthenticator,
    checks: Checks,
    authserv_id: String,
    sealer: Option<Sealers>,
}

/// How long an ARC-Message-Signature made with an `x=` tag stays valid: a
/// week, longer than a message is retried (RFC 5321 §4.5.4.1 suggests
/// giving up after four or five days).
const ARC_EXPIRY_SECS: u64 = 7 * 24 * 60 * 60;

/// Two ARC sealers with one key, the second adding an `x=` tag.
/// `mail-auth` folds the `ARC-Message-Signature:` field at a fixed width,
/// which can put a fold between the end of `b=` and its `;`; dkimpy then
/// fails the signature ([`crate::dkim::unfold_before_semicolon`] says
/// why), and the fold cannot be taken out afterwards, as the
/// `ARC-Seal:` covers the field as written. A set with that fold is made
/// again with the second sealer, whose longer field moves the fold.
struct Sealers {
    plain: ArcSealer<DkimKey, Done>,
    expiring: ArcSealer<DkimKey, Done>,
}

/// The outcome for one message.
#[derive(Debug, Clone)]
pub struct Verdict {
    /// The whole `Authentication-Results:` field, folded, ending in CRLF.
    pub field: String,
    /// With ARC sealing, the new set's three fields (`ARC-Seal:`,
    /// `ARC-Message-Signature:`, `ARC-Authentication-Results:`), to go on
    /// top of the message; `None` when a broken chain (`cv=fail`) cannot
    /// be sealed (RFC 8617 §5.1.2) or sealing failed.
    pub arc_set: Option<String>,
    /// The DMARC evaluation, when it ran.
    pub dmarc: Option<Dmarc>,
}

/// What DMARC concluded (RFC 7489 §4.2), with the policy that applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dmarc {
    /// The `From:` domain evaluated; empty when the message has no single
    /// author domain.
    pub domain: String,
    /// `pass`, `fail`, `none`, `temperror` or `permerror`, as the field
    /// writes it (RFC 7489 §11.2 registers them).
    pub result: &'static str,
    /// The policy the domain asks for when DMARC fails.
    pub policy: Policy,
}

impl Dmarc {
    /// Whether the message failed DMARC for a domain whose policy is
    /// `p=reject` (or `sp=`/`np=reject` for the subdomain): RFC 7489 §6.7
    /// lets the receiver reject it, with an SMTP 5xx (§10.3).
    pub fn asks_for_rejection(&self) -> bool {
        self.result == "fail" && self.policy == Policy::Reject
    }
}

impl Evaluator {
    /// An evaluator with its resolver: the system's configuration, or
    /// `settings.dns_server` alone.
    pub fn new(settings: Settings) -> std::io::Result<Evaluator> {
        let sealer = match settings.arc_key {
            Some(key) => {
                let sealers = key.try_clone().and_then(|copy| {
                    Ok(Sealers {
                        plain: key.into_arc_sealer(None)?,
                        expiring: copy.into_arc_sealer(Some(ARC_EXPIRY_SECS))?,
                    })
                });
                Some(sealers.map_err(std::io::Error::other)?)
            }
            None => None,
        };
        Ok(Evaluator {
            authenticator: resolver::authenticator(settings.dns_server)?,
            checks: settings.checks,
            authserv_id: settings.authserv_id,
            sealer,
        })
    }

    /// The authserv-id the results are given under.
    pub fn authserv_id(&self) -> &str {
        &self.authserv_id
    }

    /// Runs the checks on `message` (the content as received, CRLF line
    /// ends) from `origin`; `hostname` is this host's name, which SPF's
    /// `%{r}` macro expands to (RFC 7208 §7.2).
    pub async fn evaluate(&self, origin: &Origin<'_>, message: &[u8], hostname: &str) -> Verdict {
        let parsed = AuthenticatedMessage::parse(message).map(|mut parsed| {
            parsed.dkim_headers.truncate(MAX_SIGNATURES);
            parsed
        });
        // SPF and DKIM look up different records: at the same time, so a
        // slow nameserver costs one wait, not two.
        let spf = async {
            if self.checks.spf() {
                Some(self.spf(origin, hostname).await)
            } else {
                None
            }
        };
        let dkim = async {
            match (self.checks.dkim(), &parsed) {
                (true, Some(parsed)) => Some(self.dkim(parsed).await),
                (true, None) => Some(Vec::new()),
                (false, _) => None,
            }
        };
        let (spf, dkim) = tokio::join!(spf, dkim);
        let dmarc = match (self.checks.dmarc, &parsed, &spf, &dkim) {
            (true, Some(parsed), Some(spf), Some(dkim)) => {
                Some(self.dmarc(parsed, dkim, spf, origin).await)
            }
            (true, _, _, _) => Some(DmarcOutput::default()),
            _ => None,
        };
        let mut results = field::Results::new(&self.authserv_id);
        if let Some(spf) = &spf {
            results.spf(origin, spf);
        }
        if let Some(dkim) = &dkim {
            let from = parsed.as_ref().map_or("", |parsed| parsed.from());
            results.dkim(dkim, from);
        }
        if let Some(dmarc) = &dmarc {
            results.dmarc(dmarc);
        }
        let arc_set = match (&self.sealer, &parsed) {
            (Some(sealer), Some(parsed)) => self.seal(sealer, parsed, origin, &mut results).await,
            _ => None,
        };
        Verdict {
            arc_set,
            field: results.into_field(),
            dmarc: dmarc.as_ref().map(|output| Dmarc {
                domain: output.domain().to_string(),
                result: field::dmarc_result(output),
                policy: output.policy(),
            }),
        }
    }

    /// RFC 8617 §5.1: verifies the ARC sets the message has (recorded as
    /// `arc=`), then seals it with a new set, unless the chain is broken.
    async fn seal(
        &self,
        sealers: &Sealers,
        parsed: &AuthenticatedMessage<'_>,
        origin: &Origin<'_>,
        results: &mut field::Results<'_>,
    ) -> Option<String> {
        let check = self.authenticator.verify_arc(parsed);
        let chain = match tokio::time::timeout(CHECK_TIME_LIMIT, check).await {
            Ok(chain) => chain,
            // Not sealed: a chain that could not be checked in time would
            // be sealed as failed, which ends it for every later hop.
            Err(_) => return None,
        };
        results.arc(&chain, origin.client);
        let mut fields = None;
        for sealer in [&sealers.plain, &sealers.expiring] {
            match sealer.seal(parsed, results.sealed(), &chain) {
                Ok(set) => {
                    let header = set.to_header();
                    let folded_before_semicolon =
                        crate::dkim::unfold_before_semicolon(&header) != header;
                    fields = Some(header);
                    if !folded_before_semicolon {
                        break;
                    }
                }
                Err(error) => {
                    eprintln!("arc: the message cannot be sealed: {error}");
                    return None;
                }
            }
        }
        fields
    }

    /// RFC 7208 §2.3 and §2.4: the HELO identity when there is one, and
    /// the MAIL FROM identity, which for the null reverse-path is
    /// `postmaster@` the HELO domain: the same check, so it is done once.
    async fn spf(&self, origin: &Origin<'_>, hostname: &str) -> SpfResults {
        let helo = match origin.helo {
            Some(helo) => Some(
                self.bounded_spf(
                    SpfParameters::verify_ehlo(origin.client, helo, hostname),
                    helo,
                )
                .await,
            ),
            None => None,
        };
        let mail_from = if origin.mail_from.is_empty() {
            match &helo {
                Some(helo) => helo.clone(),
                // No identity at all: nothing for SPF to look up.
                None => SpfOutput::new(String::new()).with_result(SpfResult::None),
            }
        } else {
            let domain = origin
                .mail_from
                .rsplit_once('@')
                .map_or("", |(_, domain)| domain);
            self.bounded_spf(
                SpfParameters::verify_mail_from(
                    origin.client,
                    origin.helo.unwrap_or_default(),
                    hostname,
                    origin.mail_from,
                ),
                domain,
            )
            .await
        };
        SpfResults { helo, mail_from }
    }

    async fn bounded_spf(&self, parameters: SpfParameters<'_>, domain: &str) -> SpfOutput {
        let check = self.authenticator.verify_spf(parameters);
        match tokio::time::timeout(CHECK_TIME_LIMIT, check).await {
            Ok(output) => output,
            Err(_) => SpfOutput::new(domain.to_string()).with_result(SpfResult::TempError),
        }
    }

    /// Every signature (up to [`MAX_SIGNATURES`]); a check that runs out
    /// of time leaves each a temporary error (RFC 6376 §6.1.2).
    async fn dkim<'x>(&self, parsed: &'x AuthenticatedMessage<'x>) -> Vec<DkimOutput<'x>> {
        let check = self.authenticator.verify_dkim(parsed);
        match tokio::time::timeout(CHECK_TIME_LIMIT, check).await {
            Ok(outputs) => outputs,
            Err(_) => parsed
                .dkim_headers
                .iter()
                .map(|header| DkimOutput::temp_err(timed_out()).with_signature(&header.header))
                .collect(),
        }
    }

    /// RFC 7489 §6.6.2: SPF's verdict counts for the MAIL FROM domain
    /// (the HELO domain for `<>`, §3.1.2 of RFC 7489 via RFC 7208 §2.4),
    /// DKIM's for each signing domain, each aligned with `From:`.
    async fn dmarc(
        &self,
        parsed: &AuthenticatedMessage<'_>,
        dkim: &[DkimOutput<'_>],
        spf: &SpfResults,
        origin: &Origin<'_>,
    ) -> DmarcOutput {
        let mail_from_domain = match origin.mail_from.rsplit_once('@') {
            Some((_, domain)) => domain,
            None => origin.helo.unwrap_or_default(),
        };
        let parameters = mail_auth::dmarc::verify::DmarcParameters::new(
            parsed,
            dkim,
            mail_from_domain,
            &spf.mail_from,
        );
        let check = self.authenticator.verify_dmarc(parameters);
        match tokio::time::timeout(CHECK_TIME_LIMIT, check).await {
            Ok(output) => output,
            Err(_) => DmarcOutput::default()
                .with_domain(&crate::dkim::single_domain(parsed.froms()).unwrap_or_default())
                .with_spf_result(DmarcResult::TempError(timed_out()))
                .with_dkim_result(DmarcResult::TempError(timed_out())),
        }
    }
}

/// The SPF results of one message.
#[derive(Debug, Clone)]
struct SpfResults {
    /// For the HELO identity, when it is a domain.
    helo: Option<SpfOutput>,
    /// For the MAIL FROM identity.
    mail_from: SpfOutput,
}

/// What a check that ran out of time reports: a DNS failure.
fn timed_out() -> mail_auth::Error {
    mail_auth::Error::Dns(mail_auth::DnsError::Resolver(
        "lookups took too long".to_string(),
    ))
}

#[cfg(test)]
mod tests {
    use super::Checks;

    #[test]
    fn checks_are_read_from_a_list() {
        assert_eq!(
            Checks::parse("spf, DKIM").unwrap(),
            Checks {
                spf: true,
                dkim: true,
                dmarc: false
            }
        );
        assert!(Checks::parse("dmarc").unwrap().any());
        assert!(Checks::parse("spf,arc").is_err());
        assert!(Checks::parse("").is_err());
    }
}
