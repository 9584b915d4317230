//! One destination's next hops: MX ordering (RFC 5321 §5.1) and null MX
//! (RFC 7505), from an answer the caller looked up.

use alloc::vec::Vec;

use super::shuffle::SplitMix64;
use crate::address::{AddressError, Domain, Host};
use crate::reply::EnhancedStatusCode;

/// One MX record: a mail exchanger and its preference (RFC 1035 §3.3.9).
///
/// ```
/// use smtpwire::delivery::MxRecord;
/// use smtpwire::Domain;
///
/// let record = MxRecord::new(10, Domain::parse("mx1.example.net").unwrap());
/// assert_eq!(record.preference, 10);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MxRecord {
    /// Lower is tried first.
    pub preference: u16,
    /// The exchanger's name.
    pub exchange: Domain,
}

impl MxRecord {
    /// A record.
    pub fn new(preference: u16, exchange: Domain) -> Self {
        MxRecord {
            preference,
            exchange,
        }
    }
}

/// What the caller's MX lookup for a domain found.
///
/// ```
/// use smtpwire::delivery::MxAnswer;
///
/// // As a resolver gives them: fully qualified, with the trailing dot.
/// let answer = MxAnswer::from_rdata([(10, "mx1.example.net."), (20, "mx2.example.net.")]).unwrap();
/// assert!(matches!(answer, MxAnswer::Records(ref records) if records.len() == 2));
/// assert_eq!(MxAnswer::from_rdata([(0, ".")]).unwrap(), MxAnswer::NullMx);
/// assert_eq!(MxAnswer::from_rdata([]).unwrap(), MxAnswer::NoRecords);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MxAnswer {
    /// The domain's MX records, in any order. An empty list means records
    /// were there but none was usable, which RFC 5321 §5.1 makes an error.
    Records(Vec<MxRecord>),
    /// The single record `0 .`: the domain accepts no mail (RFC 7505 §3).
    NullMx,
    /// The domain exists but has no MX records: it is its own mail
    /// exchanger, at preference 0 (the implicit MX of RFC 5321 §5.1).
    NoRecords,
    /// The domain does not exist (NXDOMAIN).
    NoSuchDomain,
    /// The lookup failed for now (SERVFAIL, a timeout): try again later.
    LookupFailed,
}

impl MxAnswer {
    /// Builds the answer from MX RDATA as a resolver returns it:
    /// `(preference, exchange)` with the exchange fully qualified or not.
    ///
    /// No records is [`NoRecords`](Self::NoRecords); a lone `0 .` is
    /// [`NullMx`](Self::NullMx). A `.` among other records names no host
    /// anyone can reach, so it is left out and the others are used, as is a
    /// lone `.` at a preference other than 0 (RFC 7505 §3 defines the null MX
    /// as exactly one record, preference 0).
    pub fn from_rdata<'a>(
        records: impl IntoIterator<Item = (u16, &'a str)>,
    ) -> Result<Self, AddressError> {
        let mut usable = Vec::new();
        let mut seen = 0usize;
        let mut null_at_zero = false;
        for (preference, name) in records {
            seen += 1;
            let name = name.strip_suffix('.').unwrap_or(name);
            if name.is_empty() {
                null_at_zero |= preference == 0;
                continue;
            }
            usable.push(MxRecord::new(preference, Domain::parse(name)?));
        }
        Ok(match (seen, null_at_zero) {
            (0, _) => MxAnswer::NoRecords,
            (1, true) => MxAnswer::NullMx,
            _ => MxAnswer::Records(usable),
        })
    }
}

/// A host to try, in the order of the list it is in.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Hop {
    /// The host to connect to: an MX exchanger (whose addresses the caller
    /// looks up next) or the address literal of the recipient.
    pub host: Host,
    /// The MX preference; 0 for an implicit MX and an address literal.
    pub preference: u16,
}

/// Why a destination has no host to try.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum RouteError {
    /// The domain publishes a null MX: it accepts no mail (RFC 7505 §4).
    #[error("the domain accepts no mail (null MX)")]
    NullMx,
    /// The domain does not exist.
    #[error("the domain does not exist")]
    NoSuchDomain,
    /// MX records were found but none is usable (RFC 5321 §5.1).
    #[error("MX records found but none usable")]
    NoUsableMx,
    /// Every remaining MX record is this host or ranks below it: the mail
    /// would loop (RFC 5321 §5.1).
    #[error("mail loops back to myself")]
    LoopsToSelf,
    /// The MX lookup failed for now.
    #[error("the MX lookup failed")]
    LookupFailed,
    /// The caller gave no answer for the domain.
    #[error("no MX answer was given for the domain")]
    Unresolved,
    /// The recipient is the bare `<Postmaster>`, which names no domain.
    #[error("the recipient names no domain")]
    NoDomain,
}

/// X.4.6 Routing loop detected (RFC 3463 §3.5).
const ROUTING_LOOP: EnhancedStatusCode = EnhancedStatusCode::new_const(5, 4, 6);
/// X.1.2 Bad destination system address (RFC 3463 §3.2).
const BAD_DESTINATION_SYSTEM: EnhancedStatusCode = EnhancedStatusCode::new_const(5, 1, 2);
/// X.1.3 Bad destination mailbox address syntax (RFC 3463 §3.2).
const BAD_DESTINATION_SYNTAX: EnhancedStatusCode = EnhancedStatusCode::new_const(5, 1, 3);
/// X.4.4 Unable to route (RFC 3463 §3.5).
const UNABLE_TO_ROUTE: EnhancedStatusCode = EnhancedStatusCode::new_const(5, 4, 4);
/// X.4.3 Directory server failure (RFC 3463 §3.5), for a DNS failure.
const DIRECTORY_FAILURE: EnhancedStatusCode = EnhancedStatusCode::new_const(4, 4, 3);

impl RouteError {
    /// The status a delivery report gives: 5.1.10 for a null MX (RFC 7505
    /// §4), 5.4.6 for a loop (RFC 3463), 4.4.3 for a lookup that may work
    /// later.
    pub const fn status(self) -> EnhancedStatusCode {
        match self {
            RouteError::NullMx => EnhancedStatusCode::RECIPIENT_NULL_MX,
            RouteError::NoSuchDomain => BAD_DESTINATION_SYSTEM,
            RouteError::NoUsableMx => UNABLE_TO_ROUTE,
            RouteError::LoopsToSelf => ROUTING_LOOP,
            RouteError::LookupFailed | RouteError::Unresolved => DIRECTORY_FAILURE,
            RouteError::NoDomain => BAD_DESTINATION_SYNTAX,
        }
    }

    /// Whether trying again later cannot help.
    pub const fn is_permanent(self) -> bool {
        self.status().class_digit() == 5
    }
}

/// Whether `host` is one of `own`: domains compared without regard to case
/// (RFC 5321 §2.4), literals as addresses.
pub(crate) fn is_own(host: &Host, own: &[Host]) -> bool {
    own.iter().any(|mine| host.same_host(mine))
}

/// The hosts to try for `domain`, given its MX answer.
pub(crate) fn route_domain(
    domain: &Domain,
    answer: &MxAnswer,
    own: &[Host],
    seed: u64,
) -> Result<Vec<Hop>, RouteError> {
    let records = match answer {
        MxAnswer::Records(records) => records,
        MxAnswer::NullMx => return Err(RouteError::NullMx),
        MxAnswer::NoSuchDomain => return Err(RouteError::NoSuchDomain),
        MxAnswer::LookupFailed => return Err(RouteError::LookupFailed),
        MxAnswer::NoRecords => {
            let host = Host::Domain(domain.clone());
            if is_own(&host, own) {
                return Err(RouteError::LoopsToSelf);
            }
            return Ok(alloc::vec![Hop {
                host,
                preference: 0
            }]);
        }
    };
    if records.is_empty() {
        return Err(RouteError::NoUsableMx);
    }
    let mut sorted: Vec<&MxRecord> = records.iter().collect();
    // A name listed twice is tried once, at its best preference.
    sorted.sort_by(|a, b| {
        a.exchange
            .cmp_ignore_case(&b.exchange)
            .then(a.preference.cmp(&b.preference))
    });
    sorted.dedup_by(|later, kept| later.exchange.eq_ignore_case(&kept.exchange));
    // Sorting on the name as well makes the order before the shuffle, and so
    // the shuffle's result, independent of the order DNS returned.
    sorted.sort_by(|a, b| {
        a.preference
            .cmp(&b.preference)
            .then_with(|| a.exchange.cmp_ignore_case(&b.exchange))
    });
    // RFC 5321 §5.1: a relay that finds itself in the list drops that record
    // and every record at the same or a higher preference number.
    let own_preference = sorted
        .iter()
        .filter(|record| is_own(&Host::Domain(record.exchange.clone()), own))
        .map(|record| record.preference)
        .min();
    if let Some(mine) = own_preference {
        sorted.retain(|record| record.preference < mine);
        if sorted.is_empty() {
            return Err(RouteError::LoopsToSelf);
        }
    }
    // RFC 5321 §5.1: equal preferences are tried in random order, to spread
    // the load over an organization's exchangers.
    let mut rng = SplitMix64::new(seed);
    for run in sorted.chunk_by_mut(|a, b| a.preference == b.preference) {
        rng.shuffle(run);
    }
    Ok(sorted
        .into_iter()
        .map(|record| Hop {
            host: Host::Domain(record.exchange.clone()),
            preference: record.preference,
        })
        .collect())
}
