//! Recipients grouped by where they go next, so one connection carries every
//! recipient of a destination.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use core::cmp::Ordering;
use core::fmt::Write;

use super::mx::{route_domain, Hop, MxAnswer, RouteError};
use crate::address::{Domain, ForwardPath, Host};
use crate::client::Recipient;

/// Anything that carries a recipient's forward path, so a plan can group a
/// caller's own recipient type without losing what else it holds.
pub trait Routable {
    /// The recipient's forward path.
    fn forward_path(&self) -> &ForwardPath;
}

impl Routable for ForwardPath {
    fn forward_path(&self) -> &ForwardPath {
        self
    }
}

impl Routable for Recipient {
    fn forward_path(&self) -> &ForwardPath {
        &self.path
    }
}

/// A domain that orders and compares without regard to case (RFC 5321 §2.4).
#[derive(Debug, Clone)]
struct DnsName(Domain);

impl PartialEq for DnsName {
    fn eq(&self, other: &Self) -> bool {
        self.0.eq_ignore_case(&other.0)
    }
}

impl Eq for DnsName {}

impl PartialOrd for DnsName {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for DnsName {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.cmp_ignore_case(&other.0)
    }
}

/// The MX answers the caller looked up, by domain (compared without regard to case).
///
/// ```
/// use smtpwire::delivery::{MxAnswer, MxAnswers};
/// use smtpwire::Domain;
///
/// let mut answers = MxAnswers::new();
/// answers.insert(Domain::parse("Example.NET").unwrap(), MxAnswer::NoRecords);
/// assert_eq!(answers.get(&Domain::parse("example.net").unwrap()), Some(&MxAnswer::NoRecords));
/// ```
#[derive(Debug, Clone, Default)]
pub struct MxAnswers(BTreeMap<DnsName, MxAnswer>);

impl MxAnswers {
    /// No answers yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records the answer for `domain`, replacing an earlier one.
    pub fn insert(&mut self, domain: Domain, answer: MxAnswer) {
        self.0.insert(DnsName(domain), answer);
    }

    /// The answer for `domain`.
    pub fn get(&self, domain: &Domain) -> Option<&MxAnswer> {
        self.0.get(&DnsName(domain.clone()))
    }
}

/// The domains whose MX records a plan for `recipients` needs, each once,
/// in the order they first appear. Address literals and `<Postmaster>` need
/// no lookup.
pub fn domains_to_resolve<R: Routable>(recipients: &[R]) -> Vec<Domain> {
    let mut seen = BTreeMap::new();
    let mut domains = Vec::new();
    for recipient in recipients {
        if let Some(Host::Domain(domain)) = recipient.forward_path().mailbox().map(|m| m.host()) {
            if seen.insert(DnsName(domain.clone()), ()).is_none() {
                domains.push(domain);
            }
        }
    }
    domains
}

/// Recipients that go to the same hosts, in the same order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HopGroup<R> {
    /// The hosts to try, best first.
    pub hops: Vec<Hop>,
    /// The recipient domains (or address literals) the group serves.
    pub destinations: Vec<Host>,
    /// The recipients, in the order given.
    pub recipients: Vec<R>,
}

/// A recipient no host can be found for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unroutable<R> {
    /// The recipient.
    pub recipient: R,
    /// Why.
    pub error: RouteError,
}

/// Where each recipient goes next: from [`Planner::plan`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan<R> {
    /// One group per connection to make, in the order their first
    /// recipient was given.
    pub groups: Vec<HopGroup<R>>,
    /// Recipients with no host, in the order given.
    pub unroutable: Vec<Unroutable<R>>,
}

/// Chooses next hops for outgoing mail (RFC 5321 §5.1, RFC 7505).
///
/// The caller does the DNS: it asks [`domains_to_resolve`] which domains
/// need MX lookups, looks them up, and passes the answers to
/// [`plan`](Self::plan). The seed orders exchangers of equal preference; the
/// same seed always gives the same order, so pass a fresh random one per
/// message to spread the load.
///
/// ```
/// use smtpwire::delivery::{domains_to_resolve, MxAnswer, MxAnswers, MxRecord, Planner};
/// use smtpwire::{Domain, ForwardPath, Host};
///
/// let recipients = [
///     ForwardPath::parse("<a@example.net>").unwrap(),
///     ForwardPath::parse("<b@[192.0.2.1]>").unwrap(),
///     ForwardPath::parse("<c@example.net>").unwrap(),
/// ];
/// let mut answers = MxAnswers::new();
/// for domain in domains_to_resolve(&recipients) {
///     // The caller's resolver goes here.
///     let mx = Domain::parse("mx.example.net").unwrap();
///     answers.insert(domain, MxAnswer::Records(vec![MxRecord::new(10, mx)]));
/// }
/// let me = Host::Domain(Domain::parse("out.example.org").unwrap());
/// let plan = Planner::new(vec![me], 42).plan(recipients, &answers);
/// assert_eq!(plan.groups.len(), 2);
/// assert_eq!(plan.groups[0].recipients.len(), 2);
/// assert_eq!(plan.groups[0].hops[0].host.to_string(), "mx.example.net");
/// assert_eq!(plan.groups[1].hops[0].host.to_string(), "[192.0.2.1]");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planner {
    own_hosts: Vec<Host>,
    seed: u64,
    share_connections: bool,
}

impl Planner {
    /// A planner for a host known by `own_hosts` (every name, and any
    /// address literal, by which it may be known in mail transactions),
    /// ordering equal preferences by `seed`.
    pub fn new(own_hosts: Vec<Host>, seed: u64) -> Self {
        Planner {
            own_hosts,
            seed,
            share_connections: false,
        }
    }

    /// Whether domains whose hop lists come out the same share one group,
    /// and so one connection (off by default). Their exchangers serve both,
    /// so one transaction can carry both domains' recipients; a server that
    /// limits recipients per transaction or per connection is a reason to
    /// leave it off.
    pub fn share_connections(mut self, share: bool) -> Self {
        self.share_connections = share;
        self
    }

    /// The hosts to try for one destination: the ordered MX list, the
    /// implicit MX, or the address literal itself. `answer` is only read for
    /// a domain.
    pub fn route(
        &self,
        destination: &Host,
        answer: Option<&MxAnswer>,
    ) -> Result<Vec<Hop>, RouteError> {
        match destination {
            Host::Domain(domain) => {
                let answer = answer.ok_or(RouteError::Unresolved)?;
                route_domain(domain, answer, &self.own_hosts, self.seed)
            }
            // RFC 5321 §5.1: an address literal is the address to connect to.
            Host::Literal(_) if super::mx::is_own(destination, &self.own_hosts) => {
                Err(RouteError::LoopsToSelf)
            }
            Host::Literal(_) => Ok(alloc::vec![Hop {
                host: destination.clone(),
                preference: 0,
            }]),
        }
    }

    /// Groups `recipients` by next hop: one group per destination, or per
    /// hop list when connections are shared.
    pub fn plan<R: Routable>(
        &self,
        recipients: impl IntoIterator<Item = R>,
        answers: &MxAnswers,
    ) -> Plan<R> {
        let mut plan = Plan {
            groups: Vec::new(),
            unroutable: Vec::new(),
        };
        // Destination (as a DNS name or literal) to its group or error.
        let mut by_destination: BTreeMap<String, Result<usize, RouteError>> = BTreeMap::new();
        let mut by_hops: BTreeMap<String, usize> = BTreeMap::new();
        for recipient in recipients {
            let Some(destination) = recipient.forward_path().mailbox().map(|m| m.host()) else {
                plan.unroutable.push(Unroutable {
                    recipient,
                    error: RouteError::NoDomain,
                });
                continue;
            };
            let key = host_key(&destination);
            let slot = match by_destination.get(&key) {
                Some(slot) => *slot,
                None => {
                    let answer = match &destination {
                        Host::Domain(domain) => answers.get(domain),
                        Host::Literal(_) => None,
                    };
                    let slot = self.route(&destination, answer).map(|hops| {
                        self.group_for(&mut plan.groups, &mut by_hops, hops, destination)
                    });
                    by_destination.insert(key, slot);
                    slot
                }
            };
            match slot {
                Ok(index) => {
                    if let Some(group) = plan.groups.get_mut(index) {
                        group.recipients.push(recipient);
                    }
                }
                Err(error) => plan.unroutable.push(Unroutable { recipient, error }),
            }
        }
        plan
    }

    /// The index of the group for a new destination: a group with the same
    /// hops when connections are shared, a new one otherwise.
    fn group_for<R>(
        &self,
        groups: &mut Vec<HopGroup<R>>,
        by_hops: &mut BTreeMap<String, usize>,
        hops: Vec<Hop>,
        destination: Host,
    ) -> usize {
        if self.share_connections {
            let mut key = String::new();
            for hop in &hops {
                // Writing to a String cannot fail.
                let _ = write!(key, "{} {} ", hop.preference, host_key(&hop.host));
            }
            if let Some(&index) = by_hops.get(&key) {
                if let Some(group) = groups.get_mut(index) {
                    group.destinations.push(destination);
                }
                return index;
            }
            by_hops.insert(key, groups.len());
        }
        groups.push(HopGroup {
            hops,
            destinations: alloc::vec![destination],
            recipients: Vec::new(),
        });
        groups.len() - 1
    }
}

/// A host as a map key: domains case-folded, literals in canonical form.
fn host_key(host: &Host) -> String {
    let mut key = alloc::string::ToString::to_string(host);
    if let Host::Domain(_) = host {
        key.make_ascii_lowercase();
    }
    key
}
