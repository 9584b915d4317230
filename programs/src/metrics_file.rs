//! Numbers to watch, in Prometheus's text format, written to a file that
//! node_exporter's textfile collector (or anything else) reads: the
//! programs count through the `metrics` facade, and a task renders the
//! counts and writes them aside and renames, so a reader never sees half a
//! file.
//!
//! The names (each `smtpwire_` first):
//!
//! | name | kind | labels | what |
//! |---|---|---|---|
//! | `connections_total` | counter | `reason` | connections ended, by close reason (`quit`, `timeout`, `transport-failed`, …) |
//! | `connections_open` | gauge | | connections open |
//! | `tls_connections_total` | counter | `version` | STARTTLS handshakes completed, by protocol version |
//! | `messages_total` | counter | `result`, `code` | messages ended: `accepted`, `refused` (with the reply code) or `aborted` |
//! | `deliveries_total` | counter | `fate`, `domain` | relay delivery attempts per recipient, by fate (`delivered`, `delayed`, `failed`) and recipient domain |
//! | `queue_messages` | gauge | `state` | relay queue: messages `active` or `held` |
//! | `queue_oldest_seconds` | gauge | | relay queue: age of the oldest message |
//!
//! Domains as labels are bounded: past [`MAX_DOMAIN_LABELS`] distinct ones,
//! the rest count as `other`, so a stream of made-up domains cannot grow
//! the file or the memory behind it.

use std::collections::HashSet;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Distinct recipient domains given their own label.
pub const MAX_DOMAIN_LABELS: usize = 200;

/// The label for `domain`: itself while fewer than [`MAX_DOMAIN_LABELS`]
/// are in use, else `other`.
pub fn domain_label(domain: &str) -> String {
    static SEEN: Mutex<Option<HashSet<String>>> = Mutex::new(None);
    let domain = domain.to_ascii_lowercase();
    let mut seen = SEEN.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let seen = seen.get_or_insert_with(HashSet::new);
    if seen.contains(&domain) {
        return domain;
    }
    if seen.len() < MAX_DOMAIN_LABELS {
        seen.insert(domain.clone());
        return domain;
    }
    "other".to_string()
}

/// The command-line flags of a program that writes metrics.
#[derive(Debug, Clone, clap::Args)]
pub struct MetricsFlags {
    /// Write metrics in Prometheus's text format to this file (for
    /// node_exporter's textfile collector), replaced whole each time.
    #[arg(long, value_name = "PATH")]
    pub metrics_file: Option<PathBuf>,
    /// Seconds between two writes of --metrics-file.
    #[arg(long, value_name = "SECONDS", default_value_t = 15.0)]
    pub metrics_interval: f64,
}

impl MetricsFlags {
    /// With --metrics-file, starts counting and a task that writes the
    /// file, `sample` setting the gauges read from outside before each
    /// write; the task ends with the runtime.
    pub fn start(&self, sample: impl Fn() + Send + 'static) -> io::Result<()> {
        let Some(path) = &self.metrics_file else {
            return Ok(());
        };
        let every = Duration::try_from_secs_f64(self.metrics_interval).map_err(|error| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("--metrics-interval: {error}"),
            )
        })?;
        let file = MetricsFile::install(path, every)?;
        tokio::spawn(file.run(sample));
        Ok(())
    }
}

/// Sets the queue's gauges from its directories: messages active and held,
/// and the age of the oldest (its arrival is in its name).
pub fn sample_queue(queue: &crate::relay::queue::Queue) {
    let active = queue.names(false).unwrap_or_default();
    let held = queue.names(true).unwrap_or_default();
    metrics::gauge!("smtpwire_queue_messages", "state" => "active").set(active.len() as f64);
    metrics::gauge!("smtpwire_queue_messages", "state" => "held").set(held.len() as f64);
    let now = crate::outbound::unix_now();
    let oldest = active
        .iter()
        .chain(&held)
        .filter_map(|name| crate::relay::admin::arrival_of(name))
        .min();
    let age = oldest.map_or(0, |arrived| now.saturating_sub(arrived));
    metrics::gauge!("smtpwire_queue_oldest_seconds").set(age as f64);
}

/// Where and how often the numbers are written.
pub struct MetricsFile {
    handle: PrometheusHandle,
    path: PathBuf,
    every: Duration,
}

impl MetricsFile {
    /// Starts counting for this process (once: a second call fails) and
    /// names the file, rewritten `every` so often by [`run`](Self::run).
    pub fn install(path: &Path, every: Duration) -> io::Result<Self> {
        let handle = PrometheusBuilder::new()
            .install_recorder()
            .map_err(io::Error::other)?;
        Ok(MetricsFile {
            handle,
            path: path.to_path_buf(),
            every: every.max(Duration::from_millis(100)),
        })
    }

    /// Writes the file now, after `sample` has set the gauges read from
    /// outside (open connections, the queue).
    pub fn write(&self, sample: &impl Fn()) -> io::Result<()> {
        sample();
        self.handle.run_upkeep();
        let text = self.handle.render();
        let mut aside = self.path.clone().into_os_string();
        aside.push(".tmp");
        let aside = PathBuf::from(aside);
        let mut file = std::fs::File::create(&aside)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&aside, &self.path)
    }

    /// Writes the file at once and then every period, for ever; a write
    /// that fails is reported and tried again next period.
    pub async fn run(self, sample: impl Fn()) {
        let mut ticks = tokio::time::interval(self.every);
        loop {
            ticks.tick().await;
            if let Err(error) = self.write(&sample) {
                tracing::warn!(path = %self.path.display(), %error, "cannot write the metrics");
            }
        }
    }
}
