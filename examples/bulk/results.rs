//! Per-recipient results, written as CSV: `email,status,code,enhanced,
//! attempts,remove,detail`. `remove` is `yes` for addresses to take off
//! the list: those refused for good, and those that are not addresses.
//! A later run reads the file back and sends only to rows whose status is
//! not final (deferred or held).

use std::collections::HashMap;
use std::io;
use std::path::Path;

use smtpwire::delivery::AttemptRecord;

use super::list::{parse, quote};

/// The results file's columns.
const HEADER: &str = "email,status,code,enhanced,attempts,remove,detail";

/// What became of a recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// A server took the message.
    Delivered,
    /// Refused for good (5xx, null MX, no such domain).
    Failed,
    /// Refused for now on every try of the run; try again in a later run.
    Deferred,
    /// Not tried: the warm-up cap was reached.
    Held,
    /// Not a mail address.
    Invalid,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Delivered => "delivered",
            Status::Failed => "failed",
            Status::Deferred => "deferred",
            Status::Held => "held",
            Status::Invalid => "invalid",
        }
    }

    /// Whether a later run leaves the recipient alone.
    pub fn is_final(self) -> bool {
        matches!(self, Status::Delivered | Status::Failed | Status::Invalid)
    }

    fn parse(word: &str) -> Option<Status> {
        [
            Status::Delivered,
            Status::Failed,
            Status::Deferred,
            Status::Held,
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
    /// The outcome after `attempts` tries whose records are `records`.
    pub fn of(status: Status, attempts: u32, records: &[AttemptRecord]) -> Outcome {
        let last = records.last();
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

/// The final results of an earlier run, by lower-cased address.
pub fn read_final(path: &Path) -> io::Result<HashMap<String, String>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(HashMap::new()),
        Err(error) => return Err(error),
    };
    let mut finals = HashMap::new();
    let mut lines = text.split_inclusive('\n');
    lines.next();
    for line in lines {
        let Some(record) = parse(line).into_iter().next() else {
            continue;
        };
        let is_final = record
            .get(1)
            .and_then(|status| Status::parse(status))
            .is_some_and(Status::is_final);
        if let (true, Some(email)) = (is_final, record.first()) {
            finals.insert(email.to_ascii_lowercase(), line.trim_end().to_string());
        }
    }
    Ok(finals)
}

/// Writes the results: the final lines kept from before, then this run's.
pub fn write(path: &Path, kept: &[String], fresh: &[(&str, &Outcome)]) -> io::Result<()> {
    let mut text = format!("{HEADER}\n");
    for line in kept {
        text.push_str(line);
        text.push('\n');
    }
    for (email, outcome) in fresh {
        let fields = [
            quote(email),
            outcome.status.as_str().to_string(),
            outcome
                .code
                .map_or_else(String::new, |code| code.to_string()),
            outcome.enhanced.clone().unwrap_or_default(),
            outcome.attempts.to_string(),
            if outcome.remove() { "yes" } else { "no" }.to_string(),
            quote(&outcome.detail),
        ];
        text.push_str(&fields.join(","));
        text.push('\n');
    }
    let aside = path.with_extension("new");
    std::fs::write(&aside, text)?;
    std::fs::rename(&aside, path)
}
