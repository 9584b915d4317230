//! Recipient rules for testing senders against the refusals real servers
//! give: unknown mailboxes and greylisting.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;

use smtpwire::reply::{EnhancedStatusCode, Reply, ReplyCode};
use smtpwire::server::Reject;
use smtpwire::Text;

/// Which recipients are refused, and how; the lists may be replaced while
/// sessions check them ([`replace`](Self::replace)).
#[derive(Debug, Default)]
pub struct RecipientRules {
    lists: ArcSwap<Lists>,
    /// The sender and recipient pairs already refused once.
    seen: Mutex<HashSet<(String, String)>>,
}

/// The refused addresses, compared as [`key`] makes them.
#[derive(Debug, Default)]
struct Lists {
    /// Refused for good: 550 5.1.1 (RFC 3463 §3.2, bad destination
    /// mailbox).
    unknown: HashSet<String>,
    /// Refused with 451 4.7.1 the first time a sender tries them, taken
    /// on the next try (greylisting, RFC 6647).
    greylisted: HashSet<String>,
}

impl Lists {
    fn new(unknown: &[String], greylisted: &[String]) -> Arc<Self> {
        Arc::new(Lists {
            unknown: unknown.iter().map(|address| key(address)).collect(),
            greylisted: greylisted.iter().map(|address| key(address)).collect(),
        })
    }
}

impl RecipientRules {
    /// Rules refusing the `unknown` addresses and greylisting the
    /// `greylisted` ones (`user@domain`, with or without angle brackets).
    pub fn new(unknown: &[String], greylisted: &[String]) -> Self {
        RecipientRules {
            lists: ArcSwap::new(Lists::new(unknown, greylisted)),
            seen: Mutex::default(),
        }
    }

    /// New lists for the checks from now on. The pairs greylisting has
    /// seen stay seen: a reload does not make senders wait again.
    pub fn replace(&self, unknown: &[String], greylisted: &[String]) {
        self.lists.store(Lists::new(unknown, greylisted));
    }

    /// The refusal for `recipient` from `sender`, if any.
    pub fn check(&self, sender: &str, recipient: &str) -> Option<Reject> {
        let lists = self.lists.load();
        // Most servers have no rules: no allocation per RCPT for them.
        if lists.unknown.is_empty() && lists.greylisted.is_empty() {
            return None;
        }
        let recipient = key(recipient);
        if lists.unknown.contains(&recipient) {
            return Some(refusal(
                ReplyCode::MAILBOX_UNAVAILABLE,
                EnhancedStatusCode::BAD_DESTINATION_MAILBOX,
                "No such user here",
            ));
        }
        if lists.greylisted.contains(&recipient) {
            let mut seen = self
                .seen
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if seen.insert((key(sender), recipient)) {
                return Some(refusal(
                    ReplyCode::LOCAL_ERROR,
                    EnhancedStatusCode::new_const(4, 7, 1),
                    "Greylisted, please try again later",
                ));
            }
        }
        None
    }
}

/// The address as compared: no brackets, lower case.
fn key(address: &str) -> String {
    address
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_ascii_lowercase()
}

/// A refusal with `code`, `enhanced` and `text`.
pub fn refusal(code: ReplyCode, enhanced: EnhancedStatusCode, text: &'static str) -> Reject {
    refusal_with(code, enhanced, Text::from_static(text))
}

/// [`refusal`] with a text made at run time.
pub fn refusal_with(code: ReplyCode, enhanced: EnhancedStatusCode, text: Text) -> Reject {
    Reply::with_enhanced(code, enhanced, text)
        .ok()
        .and_then(|reply| Reject::new(reply).ok())
        .unwrap_or_else(Reject::temporary)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(rules: &RecipientRules, sender: &str, recipient: &str) -> Option<u16> {
        rules
            .check(sender, recipient)
            .map(|refusal| refusal.reply().code().as_u16())
    }

    /// Replaced lists hold from the next check; a pair greylisting let
    /// through stays let through.
    #[test]
    fn replaced_lists_keep_what_greylisting_has_seen() {
        let rules =
            RecipientRules::new(&["<gone@example.org>".into()], &["slow@example.org".into()]);
        assert_eq!(code(&rules, "a@example.net", "Gone@Example.org"), Some(550));
        assert_eq!(code(&rules, "a@example.net", "slow@example.org"), Some(451));
        assert_eq!(code(&rules, "a@example.net", "slow@example.org"), None);
        rules.replace(&["new@example.org".into()], &["slow@example.org".into()]);
        assert_eq!(code(&rules, "a@example.net", "gone@example.org"), None);
        assert_eq!(code(&rules, "a@example.net", "new@example.org"), Some(550));
        assert_eq!(code(&rules, "a@example.net", "slow@example.org"), None);
        assert_eq!(code(&rules, "b@example.net", "slow@example.org"), Some(451));
    }
}
