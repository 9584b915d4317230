//! Messages held in memory until they end, under one budget for the whole
//! server.
//!
//! With authentication on, a message is held whole until its last byte
//! (DKIM hashes all of it, and the results go above it). The message size
//! limit bounds one; nothing per connection bounds them all: ten thousand
//! clients each part-way through a large message would hold ten thousand
//! of them. So every held byte is counted against [`HeldMemory`], and a
//! message that would go past it is dropped from memory at once and
//! refused at its end with `452 4.3.1`, a temporary failure the client
//! retries later (RFC 5321 §4.2.3: insufficient system storage; RFC 3463
//! §3.4: mail system full).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use smtpwire::reply::{EnhancedStatusCode, ReplyCode};
use smtpwire::server::Reject;

use super::rules::refusal;

/// The held bytes of every message under way, within a bound.
#[derive(Debug)]
pub struct HeldMemory {
    held: AtomicUsize,
    most: usize,
}

impl HeldMemory {
    /// A budget of `most` bytes.
    pub fn new(most: usize) -> Arc<Self> {
        Arc::new(HeldMemory {
            held: AtomicUsize::new(0),
            most,
        })
    }

    /// The bytes held now.
    pub fn held(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }

    /// Counts `bytes` more, unless that goes past the bound.
    fn reserve(&self, bytes: usize) -> bool {
        self.held
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                held.checked_add(bytes).filter(|&total| total <= self.most)
            })
            .is_ok()
    }

    fn release(&self, bytes: usize) {
        self.held.fetch_sub(bytes, Ordering::AcqRel);
    }
}

/// One message held in memory, its bytes counted until it is dropped.
#[derive(Debug)]
pub struct Held {
    bytes: Vec<u8>,
    budget: Arc<HeldMemory>,
}

impl Held {
    /// An empty message counted against `budget`.
    pub fn new(budget: Arc<HeldMemory>) -> Self {
        Held {
            bytes: Vec::new(),
            budget,
        }
    }

    /// Appends `chunk`; false, holding nothing more, if the budget has no
    /// room for it.
    pub fn extend(&mut self, chunk: &[u8]) -> bool {
        if !self.budget.reserve(chunk.len()) {
            return false;
        }
        self.bytes.extend_from_slice(chunk);
        true
    }

    /// The message so far.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.budget.release(self.bytes.len());
    }
}

/// The answer to a message refused for want of memory.
pub fn no_room() -> Reject {
    refusal(
        ReplyCode::INSUFFICIENT_STORAGE,
        EnhancedStatusCode::new_const(4, 3, 1),
        "Insufficient system storage, try again later",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes count while held and are given back when the message goes; a
    /// chunk past the bound is refused whole.
    #[test]
    fn held_messages_share_one_bound() {
        let budget = HeldMemory::new(10);
        let mut first = Held::new(budget.clone());
        assert!(first.extend(b"123456"));
        let mut second = Held::new(budget.clone());
        assert!(!second.extend(b"12345"));
        assert!(second.extend(b"1234"));
        assert_eq!(budget.held(), 10);
        drop(first);
        assert_eq!(budget.held(), 4);
        assert!(second.extend(b"123456"));
        assert_eq!(second.bytes(), b"1234123456");
        drop(second);
        assert_eq!(budget.held(), 0);
    }
}
