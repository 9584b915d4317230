//! Where a domain's mail goes: its MX records from DNS, or hosts fixed on
//! the command line (`--mx domain=host:port,…`), and the socket addresses
//! of each host.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use arc_swap::ArcSwap;
use hickory_resolver::config::{NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;
use hickory_resolver::TokioResolver;
use smtpwire::delivery::{
    domains_to_resolve, provider_of, Hop, HopGroup, MxAnswer, MxAnswers, Plan, Planner, Routable,
};
use smtpwire::{AddressLiteral, Domain, Host};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// MX lookups in flight at once.
const MAX_LOOKUPS: usize = 32;

/// How long one query to a `--dns-server` may take.
pub const NAMESERVER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// The SMTP port for relaying (RFC 5321 §4.5.4.2).
pub const SMTP_PORT: u16 = 25;

/// One host of a fixed route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixedHost {
    /// A name or an IPv4 address.
    pub host: String,
    /// The port to connect to.
    pub port: u16,
}

/// The hosts for one domain, best first, as `--mx` gives them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixedRoute {
    /// The recipient domain, lower-cased.
    pub domain: String,
    /// The hosts, tried in this order.
    pub hosts: Vec<FixedHost>,
}

impl FixedRoute {
    /// Parses `domain=host[:port],host[:port],…`; a host without a port
    /// gets `default_port`.
    pub fn parse(spec: &str, default_port: u16) -> Result<FixedRoute, String> {
        let (domain, hosts) = spec
            .split_once('=')
            .ok_or_else(|| format!("{spec}: expected domain=host:port,…"))?;
        Domain::parse(domain).map_err(|error| format!("{spec}: {domain}: {error}"))?;
        let hosts = hosts
            .split(',')
            .map(|entry| {
                let (host, port) = match entry.rsplit_once(':') {
                    Some((host, port)) => {
                        let port = port
                            .parse()
                            .map_err(|_| format!("{spec}: {entry}: bad port"))?;
                        (host, port)
                    }
                    None => (entry, default_port),
                };
                // The host stands in an MX record, so it must be a name; a
                // dotted quad is one syntactically.
                Domain::parse(host).map_err(|error| {
                    format!("{spec}: {host}: not a name or IPv4 address: {error}")
                })?;
                Ok(FixedHost {
                    host: host.to_string(),
                    port,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(FixedRoute {
            domain: domain.to_ascii_lowercase(),
            hosts,
        })
    }

    /// The hops, with preferences 10, 20, … in the order given. They go
    /// to a delivery as they are, not through the MX rules: the same host
    /// may well be listed twice with different ports.
    fn hops(&self) -> Vec<Hop> {
        self.hosts
            .iter()
            .zip(1u16..)
            .filter_map(|(fixed, rank)| {
                Some(Hop {
                    host: Host::Domain(Domain::parse(&fixed.host).ok()?),
                    preference: rank.saturating_mul(10),
                })
            })
            .collect()
    }

    /// The host a hop of this route stands for.
    fn host_for(&self, hop: &Hop) -> Option<&FixedHost> {
        let rank = usize::from(hop.preference / 10);
        self.hosts.get(rank.checked_sub(1)?)
    }
}

/// The fixed routes by domain, lower-cased.
type FixedRoutes = HashMap<String, FixedRoute>;

/// `routes` by their domain.
fn by_domain(routes: Vec<FixedRoute>) -> FixedRoutes {
    routes
        .into_iter()
        .map(|route| (route.domain.clone(), route))
        .collect()
}

/// The route for `domain` among `fixed`, if it has one (names compare in
/// any case).
fn fixed_route<'a>(fixed: &'a FixedRoutes, domain: &Domain) -> Option<&'a FixedRoute> {
    fixed.get(&domain.as_str().to_ascii_lowercase())
}

/// MX and address lookups, with fixed routes taking precedence.
pub struct Routes {
    resolver: Option<TokioResolver>,
    /// Replaced whole on reload, while deliveries read it.
    fixed: ArcSwap<FixedRoutes>,
    port: u16,
}

impl Routes {
    /// Routes for `fixed` domains, DNS (the system's resolver
    /// configuration) for the others, connecting to `port` on exchangers
    /// found in DNS.
    pub fn new(fixed: Vec<FixedRoute>, port: u16) -> Self {
        let resolver = match TokioResolver::builder_tokio().and_then(|builder| builder.build()) {
            Ok(resolver) => Some(resolver),
            Err(error) => {
                eprintln!("warning: no DNS resolver ({error}): only --mx routes work");
                None
            }
        };
        Routes {
            resolver,
            fixed: ArcSwap::from_pointee(by_domain(fixed)),
            port,
        }
    }

    /// Replaces the fixed routes, for the lookups from now on.
    pub fn set_fixed(&self, fixed: Vec<FixedRoute>) {
        self.fixed.store(Arc::new(by_domain(fixed)));
    }

    /// Looks names up at the DNS server `server` (over UDP and TCP)
    /// instead of the system's.
    pub fn with_nameserver(mut self, server: SocketAddr) -> Self {
        let config = nameserver_config(server);
        let mut builder =
            TokioResolver::builder_with_config(config, TokioRuntimeProvider::default());
        builder.options_mut().timeout = NAMESERVER_TIMEOUT;
        match builder.build() {
            Ok(resolver) => self.resolver = Some(resolver),
            Err(error) => eprintln!("warning: no DNS resolver for {server} ({error})"),
        }
        self
    }

    /// The port connections to exchangers found in DNS go to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The resolver, if the system's configuration gave one.
    pub fn resolver(&self) -> Option<&TokioResolver> {
        self.resolver.as_ref()
    }

    /// Whether `domain` has an `--mx` route now.
    pub fn is_fixed(&self, domain: &Domain) -> bool {
        fixed_route(&self.fixed(), domain).is_some()
    }

    /// The `--mx` routes in force.
    fn fixed(&self) -> arc_swap::Guard<Arc<FixedRoutes>> {
        self.fixed.load()
    }

    /// The MX answers for the domains of `recipients` that have no fixed
    /// route, looked up at the same time: one slow nameserver costs one
    /// resolver timeout, not one per domain.
    pub async fn answers<R: Routable>(&self, recipients: &[R]) -> MxAnswers {
        let limit = Arc::new(Semaphore::new(MAX_LOOKUPS));
        let mut lookups = JoinSet::new();
        let fixed = self.fixed.load_full();
        for domain in domains_to_resolve(recipients) {
            if fixed_route(&fixed, &domain).is_some() {
                continue;
            }
            let resolver = self.resolver.clone();
            let limit = limit.clone();
            lookups.spawn(async move {
                let _permit = limit.acquire_owned().await;
                let answer = look_up_mx(resolver.as_ref(), &domain).await;
                (domain, answer)
            });
        }
        let mut answers = MxAnswers::new();
        while let Some(done) = lookups.join_next().await {
            if let Ok((domain, answer)) = done {
                answers.insert(domain, answer);
            }
        }
        answers
    }

    /// Where each recipient goes: fixed routes first, then `planner` over
    /// `answers` (from [`answers`](Self::answers)) for the other domains.
    pub fn plan<R: Routable>(
        &self,
        recipients: Vec<R>,
        planner: &Planner,
        answers: &MxAnswers,
    ) -> Plan<R> {
        let fixed = self.fixed();
        let mut fixed_groups: Vec<HopGroup<R>> = Vec::new();
        let mut others = Vec::new();
        for recipient in recipients {
            let domain = match recipient.forward_path().mailbox().map(|m| m.host()) {
                Some(Host::Domain(domain)) => domain,
                _ => {
                    others.push(recipient);
                    continue;
                }
            };
            let Some(route) = fixed_route(&fixed, &domain) else {
                others.push(recipient);
                continue;
            };
            match fixed_groups
                .iter_mut()
                .find(|group| group.destinations.iter().any(|d| same_host(d, &domain)))
            {
                Some(group) => group.recipients.push(recipient),
                None => fixed_groups.push(HopGroup {
                    hops: route.hops(),
                    destinations: vec![Host::Domain(domain)],
                    recipients: vec![recipient],
                }),
            }
        }
        let mut plan = planner.plan(others, answers);
        plan.groups.extend(fixed_groups);
        plan
    }

    /// The receiving provider of `group`, for warm-up and pacing: the
    /// registrable domain of its most preferred exchanger
    /// ([`provider_of`]), so domains whose MX records point at the same
    /// provider count together; for an `--mx` route, its first host and
    /// port, so routes to one server count together.
    pub fn provider<R>(&self, group: &HopGroup<R>) -> String {
        let fixed = self.fixed();
        let route = group
            .destinations
            .iter()
            .find_map(|destination| match destination {
                Host::Domain(domain) => fixed_route(&fixed, domain),
                Host::Literal(_) => None,
            });
        if let Some(first) = route.and_then(|route| route.hosts.first()) {
            return format!("{}:{}", first.host.to_ascii_lowercase(), first.port);
        }
        match group.hops.first().map(|hop| &hop.host) {
            Some(Host::Domain(name)) => provider_of(name.as_str()),
            Some(literal) => literal.to_string(),
            None => "unroutable".to_string(),
        }
    }

    /// The addresses to try for `hop`, a next hop of `destination`, in
    /// order.
    pub async fn addresses(&self, destination: &Host, hop: &Hop) -> Vec<SocketAddr> {
        // Copied out: the routes may be replaced during the lookup.
        let fixed = match destination {
            Host::Domain(domain) => fixed_route(&self.fixed(), domain)
                .and_then(|route| route.host_for(hop))
                .cloned(),
            Host::Literal(_) => None,
        };
        if let Some(fixed) = fixed {
            return match tokio::net::lookup_host((fixed.host.as_str(), fixed.port)).await {
                Ok(addresses) => addresses.collect(),
                Err(error) => {
                    eprintln!("{}: {error}", fixed.host);
                    Vec::new()
                }
            };
        }
        match &hop.host {
            Host::Literal(AddressLiteral::V4(ip)) => {
                vec![SocketAddr::new(IpAddr::V4(*ip), self.port)]
            }
            Host::Literal(AddressLiteral::V6(ip)) => {
                vec![SocketAddr::new(IpAddr::V6(*ip), self.port)]
            }
            Host::Literal(_) => Vec::new(),
            Host::Domain(name) => self.look_up_addresses(name).await,
        }
    }

    async fn look_up_addresses(&self, name: &Domain) -> Vec<SocketAddr> {
        if let Ok(ip) = name.as_str().parse::<IpAddr>() {
            return vec![SocketAddr::new(ip, self.port)];
        }
        let Some(resolver) = &self.resolver else {
            return Vec::new();
        };
        match resolver.lookup_ip(format!("{}.", name.as_str())).await {
            Ok(lookup) => lookup
                .iter()
                .map(|ip| SocketAddr::new(ip, self.port))
                .collect(),
            Err(error) => {
                eprintln!("address lookup for {name} failed: {error}");
                Vec::new()
            }
        }
    }
}

/// A resolver configuration that asks `server` alone, over UDP and TCP.
pub fn nameserver_config(server: SocketAddr) -> ResolverConfig {
    let mut name_server = NameServerConfig::udp_and_tcp(server.ip());
    for connection in &mut name_server.connections {
        connection.port = server.port();
    }
    ResolverConfig::from_name_servers(vec![name_server])
}

/// `domain`'s MX records (RFC 5321 §5.1). A record whose exchange is not a
/// usable name is left out; if that leaves none of several, the answer is
/// taken as a failed lookup rather than a permanent error.
async fn look_up_mx(resolver: Option<&TokioResolver>, domain: &Domain) -> MxAnswer {
    let Some(resolver) = resolver else {
        return MxAnswer::LookupFailed;
    };
    // Fully qualified, so the resolver's search list is not applied.
    let name = format!("{}.", domain.as_str());
    match resolver.mx_lookup(name).await {
        Ok(lookup) => {
            // A-labels: what a connection and a TLS server name take.
            let records: Vec<(u16, String)> = lookup
                .answers()
                .iter()
                .filter_map(|record| match &record.data {
                    RData::MX(mx) => Some((mx.preference, mx.exchange.to_ascii())),
                    _ => None,
                })
                .collect();
            let answer = answer_from_records(&records);
            if answer == MxAnswer::LookupFailed {
                eprintln!("MX lookup for {domain}: no usable exchange name");
            }
            answer
        }
        Err(error) if error.is_nx_domain() => MxAnswer::NoSuchDomain,
        Err(error) if error.is_no_records_found() => MxAnswer::NoRecords,
        Err(error) => {
            eprintln!("MX lookup for {domain} failed: {error}");
            MxAnswer::LookupFailed
        }
    }
}

/// The answer MX records `(preference, exchange)` give. A record whose
/// exchange is not a usable name is left out; with one left out, only
/// exchangers still in hand are an answer to act on, not a null MX or "no
/// usable MX" that the dropped record might have changed: that is a failed
/// lookup.
fn answer_from_records(records: &[(u16, String)]) -> MxAnswer {
    let usable: Vec<(u16, &str)> = records
        .iter()
        .filter(|(_, name)| {
            let bare = name.strip_suffix('.').unwrap_or(name);
            bare.is_empty() || Domain::parse(bare).is_ok()
        })
        .map(|(pref, name)| (*pref, name.as_str()))
        .collect();
    let dropped = usable.len() < records.len();
    match MxAnswer::from_rdata(usable) {
        Ok(MxAnswer::Records(found)) if !found.is_empty() || !dropped => MxAnswer::Records(found),
        Ok(answer) if !dropped => answer,
        _ => MxAnswer::LookupFailed,
    }
}

fn same_host(host: &Host, domain: &Domain) -> bool {
    matches!(host, Host::Domain(name) if name.eq_ignore_case(domain))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_routes_parse_in_order_with_default_ports() {
        let route = FixedRoute::parse("Example.NET=127.0.0.1:2601,mx2.example.net", 25).unwrap();
        assert_eq!(route.domain, "example.net");
        let hosts: Vec<(&str, u16)> = route
            .hosts
            .iter()
            .map(|h| (h.host.as_str(), h.port))
            .collect();
        assert_eq!(hosts, [("127.0.0.1", 2601), ("mx2.example.net", 25)]);
        let hops = route.hops();
        assert_eq!(
            hops.iter().map(|hop| hop.preference).collect::<Vec<_>>(),
            [10, 20]
        );
        assert_eq!(route.host_for(&hops[1]), Some(&route.hosts[1]));
    }

    #[test]
    fn unusable_exchange_names_never_make_a_permanent_answer() {
        let answer = |records: &[(u16, &str)]| {
            let records: Vec<(u16, String)> =
                records.iter().map(|(p, n)| (*p, n.to_string())).collect();
            answer_from_records(&records)
        };
        let mx = |names: &[&str]| match answer(&names.iter().map(|n| (10, *n)).collect::<Vec<_>>())
        {
            MxAnswer::Records(found) => found.len(),
            other => panic!("{other:?}"),
        };
        assert_eq!(mx(&["mx1.example.net.", "mx2.example.net."]), 2);
        assert_eq!(mx(&["mx1.example.net.", "bad..name."]), 1);
        assert_eq!(answer(&[(0, ".")]), MxAnswer::NullMx);
        assert_eq!(answer(&[]), MxAnswer::NoRecords);
        assert_eq!(answer(&[(10, "bad..name.")]), MxAnswer::LookupFailed);
        assert_eq!(
            answer(&[(10, "bad..name."), (0, ".")]),
            MxAnswer::LookupFailed
        );
        assert_eq!(
            answer(&[(10, "."), (20, "bad..name.")]),
            MxAnswer::LookupFailed
        );
    }

    #[test]
    fn fixed_routes_refuse_what_is_not_a_route() {
        for bad in [
            "example.net",
            "example.net=",
            "=mx.example.net",
            "example.net=mx:port",
        ] {
            assert!(FixedRoute::parse(bad, 25).is_err(), "{bad}");
        }
    }
}
