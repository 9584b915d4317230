//! Authentication of each message at the end of data, when the server is
//! set to check SPF, DKIM or DMARC ([`crate::authentication`]): the
//! results go into an `Authentication-Results:` field of the stored
//! message, and a DMARC failure under `p=reject` can refuse the message.

use smtpwire::reply::{EnhancedStatusCode, ReplyCode};
use smtpwire::server::Reject;
use smtpwire::Text;

use super::rules::{refusal, refusal_with};
use crate::authentication::{Dmarc, Evaluator, Origin, Verdict};

/// The checks and what the server does with their outcome.
pub struct Intake {
    /// Runs the checks.
    pub evaluator: Evaluator,
    /// Refuse a message that fails DMARC when its domain's policy is
    /// `p=reject`; otherwise the failure is only recorded, as `quarantine`
    /// and `none` always are.
    pub reject_on_dmarc_policy: bool,
    /// What the messages being checked may hold in memory together.
    pub memory: std::sync::Arc<super::held::HeldMemory>,
}

impl Intake {
    /// Evaluates `message` from `origin`: its verdict, or the refusal the
    /// DMARC policy asks for.
    pub async fn check(
        &self,
        origin: &Origin<'_>,
        message: &[u8],
        hostname: &str,
    ) -> Result<Verdict, Reject> {
        let verdict = self.evaluator.evaluate(origin, message, hostname).await;
        match &verdict.dmarc {
            Some(dmarc) if self.reject_on_dmarc_policy && dmarc.asks_for_rejection() => {
                Err(dmarc_refusal(dmarc))
            }
            _ => Ok(verdict),
        }
    }
}

/// The longest domain name, in octets (RFC 1035 §2.3.4).
const MAX_DOMAIN_LEN: usize = 253;

/// RFC 7489 §6.7 and §10.3: a message refused for its domain's DMARC
/// policy gets a 5xx at the end of data; 550 5.7.1 (RFC 3463: delivery not
/// authorized, message refused), naming the domain.
fn dmarc_refusal(dmarc: &Dmarc) -> Reject {
    let text = format!(
        "Message refused: it fails DMARC authentication, and the policy of {} is reject",
        dmarc.domain
    );
    // The longest domain name (RFC 1035 §2.3.4) keeps the reply line
    // within RFC 5321 §4.5.3.1.5's 512 octets.
    let carried = (dmarc.domain.len() <= MAX_DOMAIN_LEN)
        .then(|| Text::new(&text).ok())
        .flatten();
    match carried {
        Some(text) => refusal_with(
            ReplyCode::MAILBOX_UNAVAILABLE,
            EnhancedStatusCode::DELIVERY_NOT_AUTHORIZED,
            text,
        ),
        // A domain the reply cannot carry (the From: field is the
        // sender's): the reason without it.
        None => refusal(
            ReplyCode::MAILBOX_UNAVAILABLE,
            EnhancedStatusCode::DELIVERY_NOT_AUTHORIZED,
            "Message refused: it fails DMARC authentication, and its domain's policy is reject",
        ),
    }
}
