//! Warm-up as receiving providers see it: recipient domains grouped by the
//! provider that runs their mail exchangers, a provider's throttling
//! replies recognised, and the pace a source address keeps with each
//! provider after it was throttled.
//!
//! Large providers judge a sender by its source IP address and count its
//! mail across all the domains they host (Gmail takes gmail.com and
//! googlemail.com, and every Google Workspace domain, on the same MX
//! hosts), so caps and backoff are kept per (source IP, provider).

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::time::Duration;

use crate::reply::Reply;

/// Second-level labels that country-code domains use as part of their
/// public suffix (`co.uk`, `com.au`, `ne.jp`...).
const SECOND_LEVEL: &[&str] = &[
    "ac", "co", "com", "edu", "gov", "gv", "ne", "net", "or", "org",
];

/// The provider a domain's mail goes to, named by its most preferred mail
/// exchanger's registrable domain, approximated as its last two labels, or
/// three under a country code's generic second level (`co.uk`, `com.au`):
/// `aspmx.l.google.com` and `alt1.aspmx.l.google.com` are both
/// `google.com`. A public-suffix list would be exact; this covers the
/// providers' own names. An IP address (a fixed route) is its own
/// provider.
///
/// ```
/// use smtpwire::delivery::provider_of;
///
/// assert_eq!(provider_of("ASPMX.L.Google.com."), "google.com");
/// assert_eq!(provider_of("mx00.gmx.net"), "gmx.net");
/// assert_eq!(provider_of("mx1.mail.example.co.uk"), "example.co.uk");
/// assert_eq!(provider_of("127.0.0.1"), "127.0.0.1");
/// ```
pub fn provider_of(exchange: &str) -> String {
    let name = exchange.trim_end_matches('.').to_ascii_lowercase();
    if name.parse::<core::net::IpAddr>().is_ok() {
        return name;
    }
    let labels: Vec<&str> = name.split('.').collect();
    let keep = match labels.as_slice() {
        [.., second, country]
            if labels.len() > 2 && country.len() == 2 && SECOND_LEVEL.contains(second) =>
        {
            3
        }
        _ => 2,
    };
    labels[labels.len().saturating_sub(keep)..].join(".")
}

/// One row of [`THROTTLING`]: a reply is a provider's throttling reply when
/// its code is `code`, its enhanced code (if the row names one) is
/// `enhanced`, and its text (lower-cased) contains `text` (if the row names
/// one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleRule {
    /// Who sends it.
    pub provider: &'static str,
    /// The reply code.
    pub code: u16,
    /// The enhanced status code (RFC 3463) as `class.subject.detail`.
    pub enhanced: Option<&'static str>,
    /// A lower-case fragment of the text.
    pub text: Option<&'static str>,
}

/// The throttling replies known, from the providers' published sender
/// guidelines. They are transient (4yz) replies that say "too much from
/// you, slow down", not anything about the recipient.
pub const THROTTLING: &[ThrottleRule] = &[
    // Gmail: unusual rate of mail from this IP, or of unauthenticated mail.
    ThrottleRule {
        provider: "Gmail",
        code: 421,
        enhanced: Some("4.7.28"),
        text: None,
    },
    ThrottleRule {
        provider: "Gmail",
        code: 450,
        enhanced: Some("4.7.28"),
        text: None,
    },
    // Gmail: the user is receiving mail too quickly.
    ThrottleRule {
        provider: "Gmail",
        code: 450,
        enhanced: Some("4.2.1"),
        text: None,
    },
    // Microsoft: "server busy" and IP-based throttling.
    ThrottleRule {
        provider: "Microsoft",
        code: 451,
        enhanced: Some("4.7.650"),
        text: None,
    },
    ThrottleRule {
        provider: "Microsoft",
        code: 451,
        enhanced: Some("4.7.500"),
        text: None,
    },
    // Yahoo: "temporarily deferred due to unexpected volume".
    ThrottleRule {
        provider: "Yahoo",
        code: 421,
        enhanced: Some("4.7.0"),
        text: Some("[tss04]"),
    },
    // Anyone: a 421 that speaks of its rate or of throttling.
    ThrottleRule {
        provider: "any",
        code: 421,
        enhanced: None,
        text: Some("rate"),
    },
    ThrottleRule {
        provider: "any",
        code: 421,
        enhanced: None,
        text: Some("throttl"),
    },
];

/// Whether `reply` is a provider's throttling reply, by [`THROTTLING`].
///
/// ```
/// use smtpwire::delivery::is_throttling;
/// use smtpwire::reply::{EnhancedStatusCode, Reply, ReplyCode};
/// use smtpwire::Text;
///
/// let gmail = Reply::with_enhanced(
///     ReplyCode::new_const(421),
///     EnhancedStatusCode::new_const(4, 7, 28),
///     Text::new("Unusual rate of unsolicited mail").unwrap(),
/// )
/// .unwrap();
/// assert!(is_throttling(&gmail));
/// let full = Reply::with_enhanced(
///     ReplyCode::new_const(452),
///     EnhancedStatusCode::new_const(4, 2, 2),
///     Text::new("Mailbox full").unwrap(),
/// )
/// .unwrap();
/// assert!(!is_throttling(&full));
/// ```
pub fn is_throttling(reply: &Reply) -> bool {
    let code = reply.code().as_u16();
    let enhanced = reply.enhanced().map(|status| status.to_string());
    let text = reply
        .lines()
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_lowercase();
    THROTTLING.iter().any(|rule| {
        rule.code == code
            && rule
                .enhanced
                .map_or(true, |wanted| enhanced.as_deref() == Some(wanted))
            && rule.text.map_or(true, |fragment| text.contains(fragment))
    })
}

/// The longest pause after repeated throttling.
const MAX_PAUSE: Duration = Duration::from_secs(3600);

/// The pace one source address keeps with one provider: how many messages
/// it may send in one round, and when it may send again.
///
/// A throttling reply halves the round's size and pauses the pair, the
/// pause doubling while throttling goes on (up to an hour); each round
/// that ends without one grows the size back by half, up to the ceiling.
/// Times are on the caller's clock.
///
/// ```
/// use core::time::Duration;
/// use smtpwire::delivery::Pace;
///
/// let second = Duration::from_secs(1);
/// let mut pace = Pace::new(100, second);
/// assert_eq!(pace.allowance(Duration::ZERO), 100);
/// pace.throttled(Duration::ZERO);
/// assert_eq!(pace.allowance(Duration::ZERO), 0);
/// assert_eq!(pace.allowance(second), 50);
/// pace.throttled(second);
/// assert_eq!(pace.resume_at(), 3 * second);
/// pace.round_ended_well();
/// assert_eq!(pace.allowance(3 * second), 37);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pace {
    ceiling: u64,
    size: u64,
    first_pause: Duration,
    pause: Duration,
    resume_at: Duration,
}

impl Pace {
    /// A pace of `ceiling` messages a round, pausing `first_pause` after a
    /// first throttling reply.
    pub fn new(ceiling: u64, first_pause: Duration) -> Pace {
        let ceiling = ceiling.max(1);
        Pace {
            ceiling,
            size: ceiling,
            first_pause,
            pause: first_pause,
            resume_at: Duration::ZERO,
        }
    }

    /// Messages the pair may send in a round starting at `now`: none while
    /// paused.
    pub fn allowance(&self, now: Duration) -> u64 {
        if now < self.resume_at {
            0
        } else {
            self.size
        }
    }

    /// When a pause ends (zero if there never was one).
    pub fn resume_at(&self) -> Duration {
        self.resume_at
    }

    /// Whether the pair is below its full pace.
    pub fn is_slowed(&self) -> bool {
        self.size < self.ceiling
    }

    /// A throttling reply came at `now`: halve, and pause.
    pub fn throttled(&mut self, now: Duration) {
        // Several replies of one round are one signal.
        if now < self.resume_at {
            return;
        }
        self.size = (self.size / 2).max(1);
        self.resume_at = now.saturating_add(self.pause);
        self.pause = self.pause.saturating_mul(2).min(MAX_PAUSE);
    }

    /// A round ended with no throttling reply: grow back by half.
    pub fn round_ended_well(&mut self) {
        self.size = self
            .size
            .saturating_add((self.size / 2).max(1))
            .min(self.ceiling);
        self.pause = self.first_pause;
    }

    /// What the pace has learnt from the provider, to be kept between
    /// runs: a restart that forgot it would go back to full speed against
    /// a provider that is still throttling.
    pub fn state(&self) -> PaceState {
        PaceState {
            size: self.size,
            pause: self.pause,
            resume_at: self.resume_at,
        }
    }

    /// A pace of `ceiling` messages a round and `first_pause`, taking up
    /// `state` where an earlier run left it; the state is brought within
    /// this pace's bounds (a smaller ceiling, a longer first pause).
    ///
    /// ```
    /// use core::time::Duration;
    /// use smtpwire::delivery::Pace;
    ///
    /// let second = Duration::from_secs(1);
    /// let mut before = Pace::new(100, second);
    /// before.throttled(Duration::ZERO);
    /// let after = Pace::resumed(100, second, before.state());
    /// assert_eq!(after, before);
    /// assert_eq!(Pace::resumed(10, second, before.state()).allowance(second), 10);
    /// ```
    pub fn resumed(ceiling: u64, first_pause: Duration, state: PaceState) -> Pace {
        let mut pace = Pace::new(ceiling, first_pause);
        pace.size = state.size.clamp(1, pace.ceiling);
        pace.pause = state.pause.clamp(first_pause.min(MAX_PAUSE), MAX_PAUSE);
        pace.resume_at = state.resume_at;
        pace
    }
}

/// A [`Pace`]'s learnt state, as [`Pace::state`] gives it and
/// [`Pace::resumed`] takes it back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaceState {
    /// Messages in a round.
    pub size: u64,
    /// The pause the next throttling reply brings.
    pub pause: Duration,
    /// When the current pause ends, on the caller's clock.
    pub resume_at: Duration,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reply::{EnhancedStatusCode, ReplyCode};
    use crate::Text;

    fn reply(code: u16, enhanced: Option<(u8, u16, u16)>, text: &str) -> Reply {
        let text = Text::new(text).unwrap();
        match enhanced {
            Some((c, s, d)) => Reply::with_enhanced(
                ReplyCode::new_const(code),
                EnhancedStatusCode::new_const(c, s, d),
                text,
            )
            .unwrap(),
            None => Reply::new(ReplyCode::new_const(code), text),
        }
    }

    #[test]
    fn the_providers_throttling_replies_are_known_and_others_are_not() {
        let throttling = [
            reply(
                421,
                Some((4, 7, 28)),
                "Our system has detected an unusual rate",
            ),
            reply(
                450,
                Some((4, 2, 1)),
                "The user you are trying to contact is receiving mail too quickly",
            ),
            reply(
                451,
                Some((4, 7, 650)),
                "The mail server IP is temporarily rate limited",
            ),
            reply(
                451,
                Some((4, 7, 500)),
                "Server busy. Please try again later",
            ),
            reply(
                421,
                Some((4, 7, 0)),
                "[TSS04] Messages from 192.0.2.1 temporarily deferred",
            ),
            reply(421, None, "Too many messages, slow down: Throttled"),
            reply(421, Some((4, 3, 2)), "Connection rate limit exceeded"),
        ];
        for reply in &throttling {
            assert!(is_throttling(reply), "{reply:?}");
        }
        let others = [
            reply(450, Some((4, 2, 0)), "Greylisted, try again later"),
            reply(421, Some((4, 7, 0)), "Service shutting down"),
            reply(550, Some((5, 7, 28)), "Unusual rate of unsolicited mail"),
            reply(452, Some((4, 2, 2)), "Mailbox full"),
        ];
        for reply in &others {
            assert!(!is_throttling(reply), "{reply:?}");
        }
    }

    #[test]
    fn a_throttled_pace_recovers_gradually_and_pauses_grow_while_throttling_goes_on() {
        let second = Duration::from_secs(1);
        let mut pace = Pace::new(8, second);
        pace.throttled(Duration::ZERO);
        // A second reply in the same pause changes nothing.
        pace.throttled(second / 2);
        assert_eq!((pace.allowance(second), pace.resume_at()), (4, second));
        pace.throttled(second);
        assert_eq!(
            (pace.allowance(3 * second), pace.resume_at()),
            (2, 3 * second)
        );
        let mut sizes = Vec::new();
        while pace.is_slowed() {
            pace.round_ended_well();
            sizes.push(pace.allowance(3 * second));
        }
        assert_eq!(sizes, [3, 4, 6, 8]);
        assert_eq!(Pace::new(0, second).allowance(Duration::ZERO), 1);
    }
}
