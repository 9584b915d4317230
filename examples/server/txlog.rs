//! The one line per transaction, written to stderr by one thread in batches:
//! a busy server then makes one write for many messages instead of one each,
//! and no connection ever waits for the terminal or wakes a thread per
//! message. Lines reach stderr within [`INTERVAL`], or sooner once
//! [`BATCH`] bytes are waiting; with nothing waiting the thread sleeps.

use std::fmt;
use std::io::Write;
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

/// The longest a line waits.
const INTERVAL: Duration = Duration::from_millis(100);

/// Waiting bytes that wake the writer at once.
const BATCH: usize = 32 * 1024;

struct Log {
    pending: Mutex<String>,
    full: Condvar,
    /// Held from taking a batch to the end of its write, so that batches
    /// reach stderr whole and in order.
    writing: Mutex<()>,
}

static LOG: OnceLock<&'static Log> = OnceLock::new();

fn log() -> &'static Log {
    LOG.get_or_init(|| {
        let log: &'static Log = Box::leak(Box::new(Log {
            pending: Mutex::new(String::new()),
            full: Condvar::new(),
            writing: Mutex::new(()),
        }));
        std::thread::spawn(move || loop {
            // Asleep while there is nothing to write, so an idle server
            // wakes no thread; the first line of a batch starts its wait.
            let pending = log
                .full
                .wait_while(lock(&log.pending), |pending| pending.is_empty())
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let (pending, _) = log
                .full
                .wait_timeout_while(pending, INTERVAL, |pending| pending.len() < BATCH)
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
    let batch = std::mem::take(&mut *lock(&log.pending));
    if !batch.is_empty() {
        let _ = std::io::stderr().write_all(batch.as_bytes());
    }
}

/// Queues one line for stderr.
pub fn write(line: fmt::Arguments<'_>) {
    let log = log();
    let mut pending = lock(&log.pending);
    let first = pending.is_empty();
    let _ = fmt::Write::write_fmt(&mut *pending, line);
    pending.push('\n');
    if first || pending.len() >= BATCH {
        log.full.notify_one();
    }
}

/// Writes what is waiting now, after any batch being written: for a server
/// that is about to exit.
pub fn flush() {
    write_out(log());
}
