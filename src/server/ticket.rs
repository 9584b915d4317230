//! What a request token carries to prove where it came from.

/// The session that issued a request and the request's number there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ticket {
    pub(crate) session: usize,
    pub(crate) number: u64,
}

/// A number for a new session that no other session of the program has, so
/// that a token handed to the wrong session is told apart from the one it
/// awaits (tickets alone count from 1 in every session). Only after
/// `usize::MAX` sessions would a stamp come round again. A target without
/// atomics has no way to count across sessions and stamps every one 0.
pub(crate) fn session_stamp() -> usize {
    #[cfg(target_has_atomic = "ptr")]
    {
        use core::sync::atomic::{AtomicUsize, Ordering};
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        NEXT.fetch_add(1, Ordering::Relaxed)
    }
    #[cfg(not(target_has_atomic = "ptr"))]
    {
        0
    }
}
