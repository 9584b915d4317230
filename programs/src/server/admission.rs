//! Who gets a session: a table of open connections with a total and a
//! per-client-address cap, the one-line 421 that answers a connection
//! over either, and the pause after a failed `accept`.
//!
//! Without a cap, a flood of connections (or many slow ones) uses up the
//! process's file descriptors, and from then on every new client hangs in
//! the listen queue while `accept` fails. A cap below that limit keeps
//! descriptors for the messages being written and refuses the excess at
//! once, so a client learns to come back later, as Postfix does with
//! `smtpd_client_connection_count_limit` and its process limit.

use std::collections::HashMap;
use std::io::{self, Write};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::net::TcpStream;
use tokio::sync::Notify;

/// Connections one client address may hold by default: Postfix's
/// `smtpd_client_connection_count_limit`.
pub const DEFAULT_PER_CLIENT: usize = 50;

/// The default total never exceeds this: at roughly 15 KiB per idle
/// session and a 32 KiB write buffer per message in flight, ten thousand
/// connections stay within a few hundred megabytes.
const MOST_BY_DEFAULT: usize = 10_000;

/// Descriptors kept out of the default total for the listener, standard
/// streams, the directory fsyncs of deliveries and TLS files.
const RESERVED_FILES: usize = 64;

/// Descriptors one session may hold: its socket and, during DATA, the file
/// in `tmp/` (an LMTP transaction holds one per recipient, but LMTP clients
/// are a few trusted mail servers).
const FILES_PER_CONNECTION: usize = 2;

/// The descriptor limit assumed where it cannot be read: macOS's default
/// soft limit, the lowest in common use.
const ASSUMED_FILE_LIMIT: usize = 256;

/// The default total: as many connections as the process's open-file limit
/// (`RLIMIT_NOFILE`, soft) leaves room for, at two descriptors each after a
/// reserve, and at most `MOST_BY_DEFAULT`. A server past its descriptor
/// limit can neither accept nor store, so the cap must be reached first.
pub fn default_max_connections() -> usize {
    let files = open_file_limit().unwrap_or(ASSUMED_FILE_LIMIT);
    (files.saturating_sub(RESERVED_FILES) / FILES_PER_CONNECTION).clamp(1, MOST_BY_DEFAULT)
}

/// The soft open-file limit, from `/proc/self/limits` (Linux); `None`
/// elsewhere. "unlimited" reads as `usize::MAX`.
fn open_file_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))?;
    let soft = line["Max open files".len()..].split_whitespace().next()?;
    if soft == "unlimited" {
        return Some(usize::MAX);
    }
    soft.parse().ok()
}

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The table holds the total allowed.
    Full,
    /// This client address holds as many as one address may.
    PerClient(IpAddr),
}

/// Open connections, counted in total and per client address.
pub struct ConnectionTable {
    most: usize,
    most_per_client: Option<usize>,
    counts: Mutex<Counts>,
    /// Woken each time a connection ends.
    freed: Notify,
}

#[derive(Default)]
struct Counts {
    open: usize,
    /// Only addresses with a connection open: never more entries than
    /// `most`.
    per_client: HashMap<IpAddr, usize>,
}

impl ConnectionTable {
    /// A table for `most` connections in all (at least one) and, when
    /// given and not 0, `most_per_client` from one address.
    pub fn new(most: usize, most_per_client: Option<usize>) -> Self {
        ConnectionTable {
            most: most.max(1),
            most_per_client: most_per_client.filter(|&most| most > 0),
            counts: Mutex::default(),
            freed: Notify::new(),
        }
    }

    /// The total allowed.
    pub fn most(&self) -> usize {
        self.most
    }

    /// The number allowed from one address, if limited.
    pub fn most_per_client(&self) -> Option<usize> {
        self.most_per_client
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.counts().open
    }

    /// A place for a connection from `client`, held until the returned
    /// [`Slot`] is dropped, or why there is none.
    pub fn admit(self: &Arc<Self>, client: IpAddr) -> Result<Slot, Refusal> {
        // An IPv4 client of a dual-stack listener arrives as ::ffff:a.b.c.d.
        let client = client.to_canonical();
        let mut counts = self.counts();
        if counts.open >= self.most {
            return Err(Refusal::Full);
        }
        if let Some(most) = self.most_per_client {
            let held = counts.per_client.entry(client).or_default();
            if *held >= most {
                return Err(Refusal::PerClient(client));
            }
            *held += 1;
        }
        counts.open += 1;
        Ok(Slot {
            table: self.clone(),
            client,
        })
    }

    /// Completes when some connection ends.
    pub async fn freed(&self) {
        self.freed.notified().await;
    }

    /// Waits until no connection has been open for `idle`.
    pub async fn idle_for(&self, idle: Duration) {
        let step = idle.min(Duration::from_millis(250));
        let mut quiet = Duration::ZERO;
        while quiet < idle {
            tokio::time::sleep(step).await;
            quiet = if self.open() == 0 {
                quiet + step
            } else {
                Duration::ZERO
            };
        }
    }

    fn counts(&self) -> MutexGuard<'_, Counts> {
        // The counts stay consistent even if a holder panicked: each
        // change is one step.
        self.counts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn release(&self, client: IpAddr) {
        let mut counts = self.counts();
        counts.open -= 1;
        if self.most_per_client.is_some() {
            if let Some(held) = counts.per_client.get_mut(&client) {
                *held -= 1;
                if *held == 0 {
                    counts.per_client.remove(&client);
                }
            }
        }
        drop(counts);
        self.freed.notify_waiters();
    }
}

/// One admitted connection; its place frees when this is dropped, however
/// the connection's task ends.
pub struct Slot {
    table: Arc<ConnectionTable>,
    client: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.table.release(self.client);
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Full => f.write_str("Too many connections"),
            Refusal::PerClient(client) => write!(f, "Too many connections from {client}"),
        }
    }
}

/// Answers a refused connection with one `421 4.7.0` line and closes it,
/// without a session. The write never waits: a new socket's send buffer is
/// empty, so the line fits at once, and a client gone already gets nothing.
pub fn refuse(stream: TcpStream, hostname: &str, refusal: Refusal) {
    // RFC 5321 §3.8 and §4.2.3: 421 closes the channel; 4.7.0 (RFC 3463) is
    // a policy refusal, as Postfix answers a client over its count limit.
    let line = format!("421 4.7.0 {hostname} {refusal}, try again later\r\n");
    // Out of tokio, the socket is a plain non-blocking one: a write is one
    // system call that takes what fits and returns.
    if let Ok(mut stream) = stream.into_std() {
        let _ = stream.write(line.as_bytes());
    }
}

/// A log line at most once per [`Throttle::EVERY`], saying how many were
/// left out since, so that a flood of connections or a run of failing
/// accepts does not flood the log.
#[derive(Default)]
pub struct Throttle {
    logged_at: Option<Instant>,
    left_out: u64,
}

impl Throttle {
    /// The shortest time between two lines.
    pub const EVERY: Duration = Duration::from_secs(10);

    /// Notes one occurrence; when a line is due, returns what to add to it
    /// about the ones left out.
    pub fn due(&mut self) -> Option<String> {
        if self.logged_at.is_some_and(|at| at.elapsed() < Self::EVERY) {
            self.left_out += 1;
            return None;
        }
        let more = match std::mem::take(&mut self.left_out) {
            0 => String::new(),
            count => format!("; {count} more since the last such line"),
        };
        self.logged_at = Some(Instant::now());
        Some(more)
    }
}

/// Logs a refused connection, throttled.
pub fn log_refusal(throttle: &mut Throttle, refusal: Refusal, table: &ConnectionTable) {
    if let Some(more) = throttle.due() {
        eprintln!(
            "refused with 421: {refusal} ({} open, at most {}{more})",
            table.open(),
            table.most()
        );
    }
}

/// The pause after `accept` fails for want of a resource (descriptors,
/// buffers, memory): it doubles from 10 ms to 1 s while failures go on and
/// starts again from 10 ms after a success, where a loop retrying at once
/// would spin on the same error. Failures are logged through a
/// [`Throttle`], not one line each.
#[derive(Default)]
pub struct AcceptBackoff {
    /// The last pause, while accepts fail.
    pause: Option<Duration>,
    log: Throttle,
}

impl AcceptBackoff {
    const FIRST: Duration = Duration::from_millis(10);
    const LONGEST: Duration = Duration::from_secs(1);

    /// Records a failed `accept` and returns how long to wait before the
    /// next; `open` connections are named in the log line.
    pub fn failed(&mut self, error: &io::Error, open: usize) -> Duration {
        if let Some(more) = self.log.due() {
            eprintln!("accept failed: {error} ({open} connections open; pausing accepts{more})");
        }
        let pause = self
            .pause
            .map_or(Self::FIRST, |pause| (pause * 2).min(Self::LONGEST));
        self.pause = Some(pause);
        pause
    }

    /// Records a successful `accept`.
    pub fn accepted(&mut self) {
        self.pause = None;
    }
}

/// Errors that concern one incoming connection only (it was reset or
/// aborted before `accept` returned it): the next is accepted at once.
pub fn is_connection_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::Interrupted
    )
}
