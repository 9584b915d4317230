//! Rates per client address, as Postfix's anvil keeps them: connections,
//! messages and recipients each client started in the current minute,
//! answered with a temporary refusal once over a limit.
//!
//! A cap on open connections stops a client from holding many sessions;
//! it does not stop one that opens and closes them as fast as it can, or
//! pours thousands of messages down one. These limits do, per client, so
//! one abusive address slows down while the others keep their pace.
//!
//! Each attempt counts, the refused ones too (as anvil counts them): a
//! client that keeps hammering stays refused until it pauses for a
//! minute.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

/// The period the limits count over: anvil's `anvil_rate_time_unit`.
pub const RATE_WINDOW: Duration = Duration::from_secs(60);

/// Client addresses whose counts are kept at once. Past this, expired
/// windows are swept; if every entry is still live (a flood from that
/// many addresses in one minute), a new address goes uncounted until one
/// expires: counting it would mean forgetting a client that may be over
/// its limit, and refusing it would lock out every newcomer. The
/// connection caps still bound what such a flood can hold.
pub const MAX_TRACKED_CLIENTS: usize = 100_000;

/// Limits per client address per [`RATE_WINDOW`], each off unless set.
///
/// ```
/// use smtpwire_tokio::server::RateLimits;
///
/// let limits = RateLimits::default()
///     .with_connections(60)
///     .with_messages(20)
///     .with_recipients(200);
/// assert_eq!(limits.messages, Some(20));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RateLimits {
    /// Connections a client may open per minute; more are answered
    /// `421 4.7.0` and closed (Postfix's
    /// `smtpd_client_connection_rate_limit`).
    pub connections: Option<u32>,
    /// MAIL commands a client may send per minute; more are answered
    /// `450 4.7.1` (`smtpd_client_message_rate_limit`).
    pub messages: Option<u32>,
    /// RCPT commands a client may send per minute; more are answered
    /// `450 4.7.1` (`smtpd_client_recipient_rate_limit`).
    pub recipients: Option<u32>,
}

impl RateLimits {
    /// At most `most` connections per client per minute.
    pub fn with_connections(mut self, most: u32) -> Self {
        self.connections = Some(most);
        self
    }

    /// At most `most` MAIL commands per client per minute.
    pub fn with_messages(mut self, most: u32) -> Self {
        self.messages = Some(most);
        self
    }

    /// At most `most` RCPT commands per client per minute.
    pub fn with_recipients(mut self, most: u32) -> Self {
        self.recipients = Some(most);
        self
    }

    /// The limit on `attempt`, if any.
    fn on(&self, attempt: Attempt) -> Option<u32> {
        match attempt {
            Attempt::Connection => self.connections,
            Attempt::Message => self.messages,
            Attempt::Recipient => self.recipients,
        }
    }
}

/// What a rate counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Attempt {
    Connection,
    Message,
    Recipient,
}

impl Attempt {
    /// The start of the line that refuses one attempt too many.
    pub(super) fn too_many(self) -> &'static str {
        match self {
            Attempt::Connection => "Too many connections",
            Attempt::Message => "Too much mail",
            Attempt::Recipient => "Too many recipients",
        }
    }
}

/// One client's counts in its current window.
struct Window {
    started: Instant,
    connections: u32,
    messages: u32,
    recipients: u32,
}

impl Window {
    fn new(now: Instant) -> Self {
        Window {
            started: now,
            connections: 0,
            messages: 0,
            recipients: 0,
        }
    }

    fn is_expired(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.started) >= RATE_WINDOW
    }
}

/// The counts of every client seen in the last minute, shared by the
/// server's connections, and the limits they are held to, which may
/// change while the server runs.
pub(super) struct RateTable {
    limits: RwLock<RateLimits>,
    windows: Mutex<HashMap<IpAddr, Window>>,
}

impl RateTable {
    pub(super) fn new(limits: RateLimits) -> Self {
        RateTable {
            limits: RwLock::new(limits),
            windows: Mutex::default(),
        }
    }

    /// Counts one `attempt` by `client` at `now`; false when it is over
    /// the limit for that kind of attempt.
    pub(super) fn allows(&self, client: IpAddr, attempt: Attempt, now: Instant) -> bool {
        let Some(limit) = self.limits().on(attempt) else {
            return true;
        };
        // An IPv4 client of a dual-stack listener arrives as ::ffff:a.b.c.d.
        let client = client.to_canonical();
        let mut windows = self
            .windows
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if windows.len() >= MAX_TRACKED_CLIENTS && !windows.contains_key(&client) {
            windows.retain(|_, window| !window.is_expired(now));
            if windows.len() >= MAX_TRACKED_CLIENTS {
                return true;
            }
        }
        let window = windows.entry(client).or_insert_with(|| Window::new(now));
        if window.is_expired(now) {
            *window = Window::new(now);
        }
        let count = match attempt {
            Attempt::Connection => &mut window.connections,
            Attempt::Message => &mut window.messages,
            Attempt::Recipient => &mut window.recipients,
        };
        *count = count.saturating_add(1);
        *count <= limit
    }

    /// The limits counted against.
    pub(super) fn limits(&self) -> RateLimits {
        *self
            .limits
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Holds the clients to `limits` from now on. Their counts so far stay:
    /// a client over a lowered limit is refused at once.
    pub(super) fn set_limits(&self, limits: RateLimits) {
        *self
            .limits
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = limits;
        if limits == RateLimits::default() {
            self.windows
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .clear();
        }
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.windows.lock().unwrap().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLIENT: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
    const OTHER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2));

    /// The attempt past the limit is refused, another client and another
    /// kind of attempt are not, and a new minute starts afresh.
    #[test]
    fn a_client_over_its_limit_waits_for_the_next_window() {
        let table = RateTable::new(RateLimits::default().with_messages(3).with_recipients(1));
        let start = Instant::now();
        let allowed: Vec<bool> = (0..5)
            .map(|_| table.allows(CLIENT, Attempt::Message, start))
            .collect();
        assert_eq!(allowed, [true, true, true, false, false]);
        assert!(table.allows(OTHER, Attempt::Message, start));
        assert!(table.allows(CLIENT, Attempt::Recipient, start));
        assert!(!table.allows(CLIENT, Attempt::Recipient, start));
        // Not limited at all.
        assert!(table.allows(CLIENT, Attempt::Connection, start));
        let later = start + RATE_WINDOW - Duration::from_millis(1);
        assert!(!table.allows(CLIENT, Attempt::Message, later));
        assert!(table.allows(CLIENT, Attempt::Message, start + RATE_WINDOW));
    }

    /// The same client, whether it comes over IPv4 or IPv4-mapped IPv6.
    #[test]
    fn a_mapped_address_is_the_same_client() {
        let table = RateTable::new(RateLimits::default().with_connections(1));
        let now = Instant::now();
        assert!(table.allows(CLIENT, Attempt::Connection, now));
        let mapped = IpAddr::from([0, 0, 0, 0, 0, 0xffff, 0xc000, 0x0201]);
        assert!(!table.allows(mapped, Attempt::Connection, now));
    }

    /// The table never holds more than its bound: expired windows make
    /// room, and with none expired a newcomer goes uncounted.
    #[test]
    fn the_table_stays_bounded() {
        let table = RateTable::new(RateLimits::default().with_connections(1));
        let start = Instant::now();
        let address = |n: usize| IpAddr::from((n as u128 + 1).to_be_bytes());
        for n in 0..MAX_TRACKED_CLIENTS {
            assert!(table.allows(address(n), Attempt::Connection, start));
        }
        let newcomer = address(MAX_TRACKED_CLIENTS);
        assert!(table.allows(newcomer, Attempt::Connection, start));
        assert!(table.allows(newcomer, Attempt::Connection, start));
        assert_eq!(table.tracked(), MAX_TRACKED_CLIENTS);
        let later = start + RATE_WINDOW;
        assert!(table.allows(newcomer, Attempt::Connection, later));
        assert!(!table.allows(newcomer, Attempt::Connection, later));
        assert_eq!(table.tracked(), 1);
    }

    /// Changed limits apply to the next attempt, against the counts so
    /// far; turning every limit off forgets the counts.
    #[test]
    fn changed_limits_count_from_where_the_client_is() {
        let table = RateTable::new(RateLimits::default().with_messages(3));
        let now = Instant::now();
        assert!(table.allows(CLIENT, Attempt::Message, now));
        assert!(table.allows(CLIENT, Attempt::Message, now));
        table.set_limits(RateLimits::default().with_messages(2));
        assert!(!table.allows(CLIENT, Attempt::Message, now));
        assert!(table.allows(OTHER, Attempt::Message, now));
        table.set_limits(RateLimits::default());
        assert_eq!(table.tracked(), 0);
        assert!(table.allows(CLIENT, Attempt::Message, now));
        table.set_limits(RateLimits::default().with_messages(1));
        assert!(table.allows(CLIENT, Attempt::Message, now));
        assert!(!table.allows(CLIENT, Attempt::Message, now));
    }
}
