//! Polling before parking (`--busy-poll`): after the last read, the runtime
//! keeps checking its sockets for a short window instead of going to sleep
//! at once.
//!
//! A thread asleep in `epoll_wait` has to be woken by whoever makes one of
//! its sockets ready, and on loopback that is the peer's own system call:
//! the peer pays for the wake-up, an inter-processor interrupt that costs a
//! virtual machine an exit to its host. A server that answers faster than
//! its clients write goes to sleep between nearly every two commands, so a
//! load generator on the same machine spends part of its time waking it.
//! Polling for a few tens of microseconds turns most of those wake-ups into
//! a look at a ready list, for the price of that much CPU after each burst
//! of input; a server with no input for the window parks as before and
//! costs nothing while idle. Linux offers the same trade for real network
//! cards as `SO_BUSY_POLL`, which loopback does not use.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// Keeps a single-threaded runtime polling for `window` after each input.
pub struct BusyPoll {
    window: Duration,
    /// Reads and accepts so far; the poller only compares it with itself.
    inputs: AtomicU64,
    /// True while the poller waits for input; the first input wakes it.
    parked: AtomicBool,
    wake: Notify,
}

impl BusyPoll {
    /// Polls for `window` after each input.
    pub fn new(window: Duration) -> Self {
        BusyPoll {
            window,
            inputs: AtomicU64::new(0),
            parked: AtomicBool::new(false),
            wake: Notify::new(),
        }
    }

    /// Called by a task that has just read or accepted something.
    pub fn input(&self) {
        // SeqCst on both sides: the poller stores `parked` then loads
        // `inputs`, this adds to `inputs` then loads `parked`, so at least
        // one of the two sees the other and no input is slept through.
        self.inputs.fetch_add(1, Ordering::SeqCst);
        if self.parked.load(Ordering::SeqCst) && self.parked.swap(false, Ordering::SeqCst) {
            self.wake.notify_one();
        }
    }

    /// Whether the poller is asleep, waiting for input.
    #[cfg_attr(not(test), allow(dead_code))] // for tests/example_server.rs
    pub fn is_parked(&self) -> bool {
        self.parked.load(Ordering::SeqCst)
    }

    /// Runs until dropped: yields to the runtime, which polls its sockets
    /// without blocking while any task has yielded, until `window` passes
    /// with no input; then sleeps until the next.
    pub async fn run(&self) {
        loop {
            let mut seen = self.inputs.load(Ordering::SeqCst);
            let mut quiet_since = Instant::now();
            while quiet_since.elapsed() < self.window {
                tokio::task::yield_now().await;
                let now = self.inputs.load(Ordering::SeqCst);
                if now != seen {
                    seen = now;
                    quiet_since = Instant::now();
                }
            }
            self.parked.store(true, Ordering::SeqCst);
            if self.inputs.load(Ordering::SeqCst) == seen {
                self.wake.notified().await;
            }
            self.parked.store(false, Ordering::SeqCst);
        }
    }
}
