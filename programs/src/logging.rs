//! The programs' log, through `tracing`: one event per connection, message
//! and delivery attempt, each with its fields (client address, queue id,
//! TLS version and cipher, AUTH user, close reason, next hop, reply),
//! written to stderr as text an operator greps or as JSON lines a log
//! pipeline reads (`--log-format json`).
//!
//! Lines are written by a thread of their own in batches: a busy server
//! makes one write for many lines, and no connection waits for the
//! terminal. When that thread falls behind, connections wait rather than
//! lines being lost.

use clap::ValueEnum;
use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// `2026-12-07T15:00:00.000000Z  INFO closed client=192.0.2.1:40000 reason=quit …`
    #[default]
    Text,
    /// One JSON object per line, the fields at its top level.
    Json,
}

/// Keeps the writer thread; dropping it writes what is waiting, so hold it
/// until the program ends.
#[must_use = "dropping it stops the log"]
pub struct LogGuard {
    _writer: WorkerGuard,
}

/// Sends this process's events to stderr in `format`, from INFO up. Once
/// per process: a second call keeps the first one's setting.
pub fn init(format: LogFormat) -> LogGuard {
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(false)
        .finish(std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_writer(writer)
        .with_target(false)
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO);
    // Already set (a test running programs in one process): keep it.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
    };
    LogGuard { _writer: guard }
}
