//! Polling before parking ([`Server::with_busy_poll`]), a knob for a server
//! that shares its machine with the clients driving it, as in a load test,
//! and has a core to spare; off by default.
//!
//! [`Server::with_busy_poll`]: super::Server::with_busy_poll
//!
//! A thread asleep in `epoll_wait` has to be woken by whoever makes one of
//! its sockets ready, and over loopback that is the client's own system
//! call: the client pays for the wake-up, which on a virtual machine
//! includes an interrupt to the other core. A server that answers faster
//! than its clients write sleeps between nearly every two commands, so
//! the project's `benches/load.sh` measured its one-message-per-connection row at about
//! 0.9 of smtp-sink's rate, with smtp-source as the bottleneck; polling for
//! 50 µs after each input lifts it to 1.05–1.1. The price is up to that
//! much CPU after each input: a client that writes more often than the
//! window keeps one core busy, and a server with no input for a window
//! sleeps as before. Clients that come over a network gain nothing from it;
//! Linux offers the same trade for network cards as `SO_BUSY_POLL`.
//!
//! It needs tokio's single-threaded runtime at 1.23 or later, where a task
//! that yields is polled again only after the runtime has looked at its
//! sockets without blocking, and timers keep firing meanwhile.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// Keeps a single-threaded runtime polling for `window` after each input.
pub(super) struct BusyPoll {
    window: Duration,
    /// Reads and accepts so far; the poller only compares it with itself.
    inputs: AtomicU64,
    /// True while the poller waits for input; the first input wakes it.
    parked: AtomicBool,
    wake: Notify,
}

impl BusyPoll {
    /// Polls for `window` after each input.
    pub(super) fn new(window: Duration) -> Self {
        BusyPoll {
            window,
            inputs: AtomicU64::new(0),
            parked: AtomicBool::new(false),
            wake: Notify::new(),
        }
    }

    /// Called by a task that has just read or accepted something.
    pub(super) fn input(&self) {
        self.inputs.fetch_add(1, Ordering::SeqCst);
        if self.parked.load(Ordering::SeqCst) && self.parked.swap(false, Ordering::SeqCst) {
            self.wake.notify_one();
        }
    }

    /// Whether the poller is asleep, waiting for input.
    pub(super) fn is_parked(&self) -> bool {
        self.parked.load(Ordering::SeqCst)
    }

    /// Runs until dropped: sleeps until there is input, then yields to the
    /// runtime until `window` passes with no more, and so on.
    pub(super) async fn run(&self) {
        let mut seen = self.inputs.load(Ordering::SeqCst);
        loop {
            // On one thread, `input` cannot run between these lines; the
            // order (store `parked`, then load `inputs`, against add to
            // `inputs`, then load `parked`) makes at least one side see the
            // other on any runtime, and `notify_one` keeps its wake-up for a
            // poller not yet waiting, so no input is slept through.
            self.parked.store(true, Ordering::SeqCst);
            if self.inputs.load(Ordering::SeqCst) == seen {
                self.wake.notified().await;
            }
            self.parked.store(false, Ordering::SeqCst);
            seen = self.poll_while_busy().await;
        }
    }

    /// Yields until `window` passes with no input; returns the input count
    /// it last saw.
    async fn poll_while_busy(&self) -> u64 {
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
        seen
    }
}
