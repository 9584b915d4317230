//! Recipient rules for testing senders against the refusals real servers
//! give: unknown mailboxes and greylisting.

use std::collections::HashSet;
use std::sync::Mutex;

use smtpwire::reply::{EnhancedStatusCode, Reply, ReplyCode};
use smtpwire::server::Reject;
use smtpwire::Text;

/// Which recipients are refused, and how.
#[derive(Debug, Default)]
pub struct RecipientRules {
    /// Refused for good: 550 5.1.1 (RFC 3463 §3.2, bad destination
    /// mailbox).
    pub unknown: HashSet<String>,
    /// Refused with 451 4.7.1 the first time a sender tries them, taken
    /// on the next try (greylisting, RFC 6647).
    pub greylisted: HashSet<String>,
    /// The sender and recipient pairs already refused once.
    seen: Mutex<HashSet<(String, String)>>,
}

impl RecipientRules {
    /// Rules refusing the `unknown` addresses and greylisting the
    /// `greylisted` ones (`user@domain`, with or without angle brackets).
    pub fn new(unknown: &[String], greylisted: &[String]) -> Self {
        RecipientRules {
            unknown: unknown.iter().map(|address| key(address)).collect(),
            greylisted: greylisted.iter().map(|address| key(address)).collect(),
            seen: Mutex::default(),
        }
    }

    /// The refusal for `recipient` from `sender`, if any.
    pub fn check(&self, sender: &str, recipient: &str) -> Option<Reject> {
        // Most servers have no rules: no allocation per RCPT for them.
        if self.unknown.is_empty() && self.greylisted.is_empty() {
            return None;
        }
        let recipient = key(recipient);
        if self.unknown.contains(&recipient) {
            return Some(refusal(
                ReplyCode::MAILBOX_UNAVAILABLE,
                EnhancedStatusCode::BAD_DESTINATION_MAILBOX,
                "No such user here",
            ));
        }
        if self.greylisted.contains(&recipient) {
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
