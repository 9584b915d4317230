//! Per-recipient results, written as CSV: `email,status,code,enhanced,
//! attempts,remove,variant,detail`, a row appended as each recipient settles, so
//! that a run cut short keeps what it did. `remove` is `yes` for addresses
//! to take off the list: mailboxes and domains that do not exist (or no
//! longer take mail), and what is not an address. A later run reads the
//! file back and sends only to rows whose status is not final (deferred,
//! throttled or held). `variant` names the A/B variant the recipient got
//! (empty without variants); a later run keeps each recipient's variant.

use std::collections::HashMap;
use std::io;
use std::path::Path;

use smtpwire::delivery::AttemptRecord;

use super::list::{parse, quote};

/// The results file's columns.
const HEADER: &str = "email,status,code,enhanced,attempts,remove,variant,detail";

/// What became of a recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// A server took the message.
    Delivered,
    /// Refused for good because the address is dead: no such mailbox or
    /// domain, a null MX, a disabled mailbox.
    Failed,
    /// Refused for good for another reason (policy, content, size): the
    /// address may be fine, so it stays on the list; not sent again.
    Rejected,
    /// Refused for now on every try of the run; try again in a later run.
    Deferred,
    /// Not tried: the warm-up cap was reached.
    Held,
    /// The receiving provider throttled the source address on every try
    /// of the run: not a failure, tried again in a later run.
    Throttled,
    /// Not a mail address.
    Invalid,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Delivered => "delivered",
            Status::Failed => "failed",
            Status::Rejected => "rejected",
            Status::Deferred => "deferred",
            Status::Held => "held",
            Status::Throttled => "throttled",
            Status::Invalid => "invalid",
        }
    }

    /// Whether a later run leaves the recipient alone.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Status::Delivered | Status::Failed | Status::Rejected | Status::Invalid
        )
    }

    fn parse(word: &str) -> Option<Status> {
        [
            Status::Delivered,
            Status::Failed,
            Status::Rejected,
            Status::Deferred,
            Status::Held,
            Status::Throttled,
            Status::Invalid,
        ]
        .into_iter()
        .find(|status| status.as_str() == word)
    }
}

/// One recipient's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// What became of it.
    pub status: Status,
    /// The last reply code, if a server gave one.
    pub code: Option<u16>,
    /// The last enhanced status code (the server's or one for a failure
    /// without a reply).
    pub enhanced: Option<String>,
    /// Tries in this run.
    pub attempts: u32,
    /// The server's text, or why there was none.
    pub detail: String,
}

impl Outcome {
    /// The outcome after `attempts` tries whose records are `records`; a
    /// permanent failure is [`Status::Failed`] only when the last attempt
    /// says the address is dead.
    pub fn of(status: Status, attempts: u32, records: &[AttemptRecord]) -> Outcome {
        let last = records.last();
        let dead = last.is_some_and(|record| record.classification().is_dead_address());
        let status = match status {
            Status::Failed if !dead => Status::Rejected,
            other => other,
        };
        let reply = last.and_then(|record| record.reply.as_ref());
        Outcome {
            status,
            code: reply.map(|reply| reply.code().as_u16()),
            enhanced: last.map(|record| record.status.to_string()),
            attempts,
            detail: match reply {
                Some(reply) => reply.lines().collect::<Vec<_>>().join(" "),
                None => last.map_or_else(String::new, |record| {
                    record.status.meaning().unwrap_or("no reply").to_string()
                }),
            },
        }
    }

    /// Not tried: past the warm-up cap.
    pub fn held(attempts: u32) -> Outcome {
        Outcome {
            status: Status::Held,
            code: None,
            enhanced: None,
            attempts,
            detail: "warm-up cap reached".to_string(),
        }
    }

    /// Its try ended with no outcome known (the task sending it failed):
    /// deferred, for a later run.
    pub fn unknown(attempts: u32) -> Outcome {
        Outcome {
            status: Status::Deferred,
            code: None,
            enhanced: None,
            attempts,
            detail: "no outcome known".to_string(),
        }
    }

    /// Not an address.
    pub fn invalid(why: &str) -> Outcome {
        Outcome {
            status: Status::Invalid,
            code: None,
            enhanced: None,
            attempts: 0,
            detail: why.to_string(),
        }
    }

    /// Whether the address should come off the list.
    pub fn remove(&self) -> bool {
        matches!(self.status, Status::Failed | Status::Invalid)
    }
}

/// What an earlier run's results file says, by lower-cased address.
#[derive(Debug, Default)]
pub struct Earlier {
    /// The rows with a final status, as they were.
    pub finals: HashMap<String, String>,
    /// The A/B variant each recipient got, final or not.
    pub variants: HashMap<String, String>,
}

/// Reads the results of an earlier run (none if there is no file).
pub fn read_earlier(path: &Path) -> io::Result<Earlier> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Earlier::default()),
        Err(error) => return Err(error),
    };
    let mut earlier = Earlier::default();
    let mut lines = text.split_inclusive('\n');
    let header = lines.next().and_then(|line| parse(line).into_iter().next());
    let variant_column = header.and_then(|names| names.iter().position(|name| name == "variant"));
    for line in lines {
        let Some(record) = parse(line).into_iter().next() else {
            continue;
        };
        let is_final = record
            .get(1)
            .and_then(|status| Status::parse(status))
            .is_some_and(Status::is_final);
        let Some(email) = record.first().map(|email| email.to_ascii_lowercase()) else {
            continue;
        };
        match variant_column.and_then(|column| record.get(column)) {
            Some(variant) if !variant.is_empty() => {
                earlier.variants.insert(email.clone(), variant.clone());
            }
            _ => {}
        }
        if is_final {
            earlier.finals.insert(email, line.trim_end().to_string());
        }
    }
    Ok(earlier)
}

/// The results file of a run, a row appended as each recipient settles.
pub struct Writer {
    file: std::fs::File,
}

impl Writer {
    /// Starts the file afresh with the final rows `kept` from before.
    pub fn create(path: &Path, kept: &[String]) -> io::Result<Writer> {
        let mut text = format!("{HEADER}\n");
        for line in kept {
            text.push_str(line);
            text.push('\n');
        }
        let aside = path.with_extension("new");
        std::fs::write(&aside, text)?;
        std::fs::rename(&aside, path)?;
        let file = std::fs::OpenOptions::new().append(true).open(path)?;
        Ok(Writer { file })
    }

    /// Appends `email`'s outcome, with the `variant` it got.
    pub fn record(&mut self, email: &str, variant: &str, outcome: &Outcome) -> io::Result<()> {
        let fields = [
            quote(email),
            outcome.status.as_str().to_string(),
            outcome
                .code
                .map_or_else(String::new, |code| code.to_string()),
            outcome.enhanced.clone().unwrap_or_default(),
            outcome.attempts.to_string(),
            if outcome.remove() { "yes" } else { "no" }.to_string(),
            quote(variant),
            quote(&outcome.detail),
        ];
        let line = format!("{}\n", fields.join(","));
        io::Write::write_all(&mut self.file, line.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smtpwire::EnhancedStatusCode;

    fn failed_with(status: &str) -> Outcome {
        let record = AttemptRecord {
            host: None,
            status: status.parse::<EnhancedStatusCode>().unwrap(),
            reply: None,
        };
        Outcome::of(Status::Failed, 1, &[record])
    }

    #[test]
    fn only_dead_addresses_are_marked_for_removal() {
        for dead in ["5.1.1", "5.1.2", "5.1.10", "5.2.1"] {
            let outcome = failed_with(dead);
            assert_eq!(
                (outcome.status, outcome.remove()),
                (Status::Failed, true),
                "{dead}"
            );
        }
        // Policy, size and content refusals say nothing about the address.
        for alive in ["5.7.1", "5.3.4", "5.6.3", "5.4.6"] {
            let outcome = failed_with(alive);
            assert_eq!(
                (outcome.status, outcome.remove()),
                (Status::Rejected, false),
                "{alive}"
            );
            assert!(outcome.status.is_final());
        }
    }
}
