//! When to try a deferred message again, and when to stop.

use core::time::Duration;

/// The retry schedule for deferred mail. Times are whole seconds on the
/// caller's clock (Unix time, say); the crate reads no clock.
///
/// After failed attempt `n` (counting from 1) the next one waits
/// `initial * factor^(n-1)`, at most `max`. Once `give_up_after` has passed
/// since the first attempt the message is given up; the last retry is moved
/// up to that deadline, so the final attempt falls on it rather than
/// being skipped.
///
/// ```
/// use core::time::Duration;
/// use smtpwire::delivery::{Backoff, Retry};
///
/// let backoff = Backoff {
///     initial: Duration::from_secs(600),
///     factor: 2,
///     max: Duration::from_secs(3600),
///     give_up_after: Duration::from_secs(86_400),
/// };
/// let first = 1_000_000;
/// assert_eq!(backoff.next_retry(1, first, first), Retry::At(first + 600));
/// assert_eq!(backoff.next_retry(3, first, first + 1_800), Retry::At(first + 1_800 + 2_400));
/// assert_eq!(backoff.next_retry(9, first, first + 86_400), Retry::GiveUp);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The wait after the first failed attempt.
    pub initial: Duration,
    /// How much each wait grows over the last; 1 keeps it constant, 0 is
    /// taken as 1.
    pub factor: u32,
    /// The longest wait.
    pub max: Duration,
    /// How long after the first attempt to give up.
    pub give_up_after: Duration,
}

/// What to do with a deferred message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Retry {
    /// Try again at this time, in the caller's seconds.
    At(u64),
    /// Stop: the message is too old. Report the recipients as failed.
    GiveUp,
}

impl Default for Backoff {
    /// RFC 5321 §4.5.4.1: retry no sooner than 30 minutes, and give up no
    /// sooner than 4 to 5 days; waits double up to 4 hours.
    fn default() -> Self {
        Backoff {
            initial: Duration::from_secs(30 * 60),
            factor: 2,
            max: Duration::from_secs(4 * 3600),
            give_up_after: Duration::from_secs(5 * 86_400),
        }
    }
}

impl Backoff {
    /// The wait after failed attempt `attempt` (counting from 1; 0 is taken
    /// as 1).
    pub fn delay(&self, attempt: u32) -> Duration {
        let growth = self.factor.max(1).checked_pow(attempt.saturating_sub(1));
        growth
            .and_then(|growth| self.initial.checked_mul(growth))
            .map_or(self.max, |delay| delay.min(self.max))
    }

    /// When to retry after failed attempt `attempt` (counting from 1), made
    /// at `now`, of a message first tried at `first_attempt`.
    pub fn next_retry(&self, attempt: u32, first_attempt: u64, now: u64) -> Retry {
        let lifetime = self.give_up_after.as_secs();
        if now.saturating_sub(first_attempt) >= lifetime {
            return Retry::GiveUp;
        }
        let deadline = first_attempt.saturating_add(lifetime);
        Retry::At(
            now.saturating_add(self.delay(attempt).as_secs())
                .min(deadline),
        )
    }
}
