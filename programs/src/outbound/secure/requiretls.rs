//! What one message asks of the TLS to its next hops (RFC 8689): REQUIRETLS
//! on MAIL asks for more than any domain's policy, the `TLS-Required: No`
//! header field for less.
//!
//! With REQUIRETLS (§4.2.1) a message goes only where the MX lookup is
//! secure and the next hop's certificate verifies: to a domain with an
//! MTA-STS policy, held to it as in `enforce` mode whatever its mode, or,
//! with DANE on, to a domain whose MX RRset DNSSEC proves secure, then
//! only to hosts whose certificate usable TLSA records authenticate; and
//! only to a next hop that offers REQUIRETLS after STARTTLS, with
//! REQUIRETLS passed on. A domain with neither cannot be reached that way,
//! and the message is returned with 5.7.10 ("encryption needed", RFC 3463
//! §3.8); a next hop that does not offer REQUIRETLS refuses it with 5.7.30
//! (RFC 8689 §6). It is never sent in the clear.
//!
//! `TLS-Required: No` (§5) asks that the domain's policy be ignored, a
//! failed certificate check or a missing STARTTLS not holding the message
//! back; STARTTLS is still used when offered. REQUIRETLS on MAIL wins over
//! the field.

use smtpwire::delivery::mta_sts::{Mode, Policy};
use smtpwire::reply::EnhancedStatusCode;

use super::dane::Validation;
use super::mta_sts::DomainPolicy;
use crate::authentication::field::header_fields;

/// 5.7.10, encryption needed (RFC 3463 §3.8): what a REQUIRETLS message
/// that no secure route reaches is returned with.
pub const ENCRYPTION_NEEDED: EnhancedStatusCode = EnhancedStatusCode::new_const(5, 7, 10);

/// What a message asks of TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsDemand {
    /// REQUIRETLS on MAIL.
    Required,
    /// `TLS-Required: No` in the header, without REQUIRETLS.
    Relaxed,
    /// Neither: the domain's policy applies.
    AsPolicy,
}

impl TlsDemand {
    /// The demand of a message received with or without REQUIRETLS, whose
    /// content is `content`.
    pub fn of(requiretls: bool, content: &[u8]) -> TlsDemand {
        if requiretls {
            TlsDemand::Required
        } else if says_tls_not_required(content) {
            TlsDemand::Relaxed
        } else {
            TlsDemand::AsPolicy
        }
    }

    /// The policy deliveries with this demand run under, given the
    /// domain's; `None` when no next hop can meet it.
    pub fn policy(self, domain: &DomainPolicy) -> Option<DomainPolicy> {
        match self {
            TlsDemand::AsPolicy => Some(domain.clone()),
            TlsDemand::Relaxed => Some(DomainPolicy::default()),
            TlsDemand::Required => {
                let policy = domain.policy.as_ref().filter(|p| p.mode != Mode::None);
                let secure_mx = domain
                    .mx_dnssec
                    .as_ref()
                    .is_some_and(|mx| mx.validation == Validation::Secure);
                if policy.is_none() && !secure_mx {
                    return None;
                }
                let enforced = policy.map(|policy| Policy {
                    mode: Mode::Enforce,
                    ..policy.clone()
                });
                Some(DomainPolicy {
                    policy: enforced,
                    fetch_failure: None,
                    mx_dnssec: domain.mx_dnssec.clone(),
                    verified_only: true,
                })
            }
        }
    }
}

/// Whether the header has `TLS-Required: No` (RFC 8689 §5; the value in
/// any case, white space around it ignored).
fn says_tls_not_required(content: &[u8]) -> bool {
    header_fields(content).any(|field| {
        let Some(colon) = field.iter().position(|&b| b == b':') else {
            return false;
        };
        let (name, value) = (&field[..colon], &field[colon + 1..]);
        name.trim_ascii().eq_ignore_ascii_case(b"TLS-Required")
            && value.trim_ascii().eq_ignore_ascii_case(b"No")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbound::secure::dane::ValidatedMx;

    #[test]
    fn the_header_field_relaxes_and_requiretls_wins() {
        let relaxed = b"Subject: x\r\nTLS-Required:  no \r\n\r\nTLS-Required: No\r\n";
        assert_eq!(TlsDemand::of(false, relaxed), TlsDemand::Relaxed);
        assert_eq!(TlsDemand::of(true, relaxed), TlsDemand::Required);
        let in_body = b"Subject: x\r\n\r\nTLS-Required: No\r\n";
        assert_eq!(TlsDemand::of(false, in_body), TlsDemand::AsPolicy);
        let other = b"TLS-Required: Yes\r\n\r\n";
        assert_eq!(TlsDemand::of(false, other), TlsDemand::AsPolicy);
    }

    #[test]
    fn requiretls_needs_a_policy_and_holds_testing_to_enforce() {
        let testing =
            Policy::parse(b"version: STSv1\nmode: testing\nmx: mx.example\nmax_age: 9\n").unwrap();
        let domain = DomainPolicy {
            policy: Some(testing),
            ..DomainPolicy::default()
        };
        let held = TlsDemand::Required.policy(&domain).unwrap();
        assert!(held.verified_only);
        assert_eq!(held.policy.unwrap().mode, Mode::Enforce);
        assert_eq!(TlsDemand::Required.policy(&DomainPolicy::default()), None);
        assert_eq!(
            TlsDemand::Relaxed.policy(&domain),
            Some(DomainPolicy::default())
        );
    }

    /// Without a policy, a DNSSEC-secure MX RRset is a route for REQUIRETLS
    /// (the hosts then need DANE); an insecure one is not.
    #[test]
    fn requiretls_takes_a_secure_mx_rrset_without_a_policy() {
        let mx = |validation| DomainPolicy {
            mx_dnssec: Some(ValidatedMx {
                validation,
                exchanges: vec!["mx.example".to_string()],
            }),
            ..DomainPolicy::default()
        };
        let secure = TlsDemand::Required.policy(&mx(Validation::Secure)).unwrap();
        assert!(secure.verified_only && secure.policy.is_none());
        assert_eq!(TlsDemand::Required.policy(&mx(Validation::Insecure)), None);
        assert!(
            !TlsDemand::AsPolicy
                .policy(&mx(Validation::Secure))
                .unwrap()
                .verified_only
        );
    }
}
