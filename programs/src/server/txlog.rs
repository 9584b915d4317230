//! The one line per transaction, written to stderr by one thread in batches:
//! a busy server then makes one write for many messages instead of one each,
//! and no connection ever waits for the terminal or wakes a thread per
//! message. Lines reach stderr within `INTERVAL`, or sooner once
//! `BATCH` bytes are waiting; with nothing waiting the thread sleeps.

use std::fmt;
use std::io::Write;
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

/// The longest a line waits.
const INTERVAL: Duration = Duration::from_millis(100);

/// Waiting bytes that wake the writer at once.
const BATCH: usize = 32 * 1024;

struct Log {
    pending: Mutex<Pending>,
    /// Wakes the writer: from its sleep when there was nothing to write, or
    /// early from its wait for a batch once [`BATCH`] bytes are waiting.
    full: Condvar,
    /// Held from taking a batch to the end of its write, so that batches
    /// reach stderr whole and in order.
    writing: Mutex<()>,
}

#[derive(Default)]
struct Pending {
    text: String,
    /// The writer sleeps until a first line comes. Only that line wakes it,
    /// so a busy server does not wake the writer per line.
    idle: bool,
}

static LOG: OnceLock<&'static Log> = OnceLock::new();

fn log() -> &'static Log {
    LOG.get_or_init(|| {
        let log: &'static Log = Box::leak(Box::new(Log {
            pending: Mutex::new(Pending::default()),
            full: Condvar::new(),
            writing: Mutex::new(()),
        }));
        std::thread::spawn(move || loop {
            // Asleep while there is nothing to write, so an idle server
            // wakes no thread; the first line of a batch starts its wait.
            // Marked idle each time it goes back to sleep, as a flush from
            // another thread may have taken the line that woke it.
            let pending = log
                .full
                .wait_while(lock(&log.pending), |pending| {
                    pending.idle = pending.text.is_empty();
                    pending.idle
                })
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let (pending, _) = log
                .full
                .wait_timeout_while(pending, INTERVAL, |pending| pending.text.len() < BATCH)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            drop(pending);
            write_out(log);
        });
        log
    })
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Writes what is waiting.
fn write_out(log: &Log) {
    let _writing = lock(&log.writing);
    let batch = std::mem::take(&mut lock(&log.pending).text);
    if !batch.is_empty() {
        let _ = std::io::stderr().write_all(batch.as_bytes());
    }
}

/// Queues one line for stderr.
pub fn write(line: fmt::Arguments<'_>) {
    let log = log();
    let mut pending = lock(&log.pending);
    let _ = fmt::Write::write_fmt(&mut pending.text, line);
    pending.text.push('\n');
    if std::mem::take(&mut pending.idle) || pending.text.len() >= BATCH {
        log.full.notify_one();
    }
}

/// Writes what is waiting now, after any batch being written: for a server
/// that is about to exit.
pub fn flush() {
    write_out(log());
}
