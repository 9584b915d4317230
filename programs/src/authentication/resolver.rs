//! The resolver the checks look records up with: the system's
//! configuration, or one chosen nameserver (`--dns-server`), each lookup
//! bounded by a timeout.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts};
use mail_auth::MessageAuthenticator;

/// How long one query may take before it is tried again or fails; two
/// tries each, so a silent nameserver costs a check ten seconds.
const QUERY_TIMEOUT: Duration = Duration::from_secs(5);

/// Tries per query.
const ATTEMPTS: usize = 2;

/// A `mail-auth` authenticator over the system's resolver configuration,
/// or over `nameserver` alone (UDP, and TCP for long answers).
pub(super) fn authenticator(nameserver: Option<SocketAddr>) -> io::Result<MessageAuthenticator> {
    let (config, mut options) = match nameserver {
        Some(server) => {
            let mut name_server = NameServerConfig::udp_and_tcp(server.ip());
            for connection in &mut name_server.connections {
                connection.port = server.port();
            }
            let mut options = ResolverOpts::default();
            // Only the chosen server answers, not /etc/hosts.
            options.use_hosts_file = ResolveHosts::Never;
            (
                ResolverConfig::from_name_servers(vec![name_server]),
                options,
            )
        }
        None => hickory_resolver::system_conf::read_system_conf()
            .map_err(|error| io::Error::other(format!("no DNS resolver: {error}")))?,
    };
    options.timeout = options.timeout.min(QUERY_TIMEOUT);
    options.attempts = options.attempts.clamp(1, ATTEMPTS);
    // DKIM keys of 2048 bits and more make TXT answers past 512 octets:
    // with EDNS (RFC 6891) they come in one UDP answer.
    options.edns0 = true;
    MessageAuthenticator::new(config, options)
        .map_err(|error| io::Error::other(format!("no DNS resolver: {error}")))
}
