//! The relay's queue directory.
//!
//! - `incoming/` is a Maildir the receiving server delivers into: each
//!   message is fsynced and renamed into `incoming/new/` before the client
//!   gets its 250, with the envelope in its first lines (`Return-Path:` and
//!   one `X-Envelope-To:` per recipient) and the `Received:` field after.
//! - `state/NAME` holds each message's delivery state: when it was first
//!   tried, how many times, when next, and each recipient's standing. It is
//!   replaced atomically (written aside, fsynced, renamed).
//! - `hold/` holds the messages an operator put on hold (`smtpwire-queue
//!   hold`), moved out of `incoming/new/`, which is all the runner looks
//!   at, until they are released; their state stays in `state/`.
//! - `warmup` is the delivery [`Ledger`](crate::outbound::ledger::Ledger):
//!   the warm-up's counts and the throttling paces of each source address
//!   and provider, replaced atomically too.
//!
//! A message is in the queue as long as its file is in `incoming/new/` (or
//! `hold/`), under the name the receiving server gave it in its `250 …
//! queued as NAME` reply, which the runner's log lines and the queue tools
//! use too. Its
//! state file is first written after its first delivery attempt, and only
//! if something is left to deliver: most messages never need one, and a
//! crash before it is written means the message is simply tried again as
//! new.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use smtpwire::{ForwardPath, ReversePath};

use crate::server::handler::REQUIRETLS_FIELD;

/// The fields the receiving server writes before the content.
const RETURN_PATH: &str = "Return-Path: ";
const ENVELOPE_TO: &str = "X-Envelope-To: ";

/// Where a recipient stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// Still to deliver.
    Pending,
    /// A next hop took it.
    Delivered,
    /// Failed for good; the sender was told.
    Failed,
}

impl Standing {
    /// The word the state file and the queue tools use.
    pub fn as_str(self) -> &'static str {
        match self {
            Standing::Pending => "pending",
            Standing::Delivered => "delivered",
            Standing::Failed => "failed",
        }
    }

    fn parse(word: &str) -> Option<Self> {
        match word {
            "pending" => Some(Standing::Pending),
            "delivered" => Some(Standing::Delivered),
            "failed" => Some(Standing::Failed),
            _ => None,
        }
    }
}

/// One recipient of a queued message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    /// Its forward path.
    pub path: ForwardPath,
    /// Where it stands.
    pub standing: Standing,
    /// What the last attempt to deliver to it ended with, when it was not
    /// delivered: a next hop's reply, or why none was reached.
    pub last_error: Option<String>,
}

impl Recipient {
    /// A recipient not tried yet.
    pub fn new(path: ForwardPath) -> Recipient {
        Recipient {
            path,
            standing: Standing::Pending,
            last_error: None,
        }
    }
}

/// One queued message's envelope and delivery state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued {
    /// The file name in `incoming/new/` and `state/`.
    pub name: String,
    /// The reverse path.
    pub from: ReversePath,
    /// Each recipient and where it stands.
    pub recipients: Vec<Recipient>,
    /// When it was first tried, in Unix seconds.
    pub first_attempt: u64,
    /// Attempts so far.
    pub attempts: u32,
    /// When it is due next, in Unix seconds.
    pub next_attempt: u64,
    /// Whether the sender was told it is delayed.
    pub warned: bool,
}

impl Queued {
    /// The recipients still to deliver.
    pub fn pending(&self) -> impl Iterator<Item = &ForwardPath> {
        self.recipients
            .iter()
            .filter(|recipient| recipient.standing == Standing::Pending)
            .map(|recipient| &recipient.path)
    }

    fn render(&self) -> String {
        let mut text = format!(
            "from {}\nfirst {}\nattempts {}\nnext {}\nwarned {}\n",
            self.from,
            self.first_attempt,
            self.attempts,
            self.next_attempt,
            u8::from(self.warned)
        );
        for recipient in &self.recipients {
            text.push_str(&format!(
                "{} {}\n",
                recipient.standing.as_str(),
                recipient.path
            ));
            if let Some(error) = &recipient.last_error {
                text.push_str(&format!("error {}\n", one_line(error)));
            }
        }
        text
    }

    fn parse(name: &str, text: &str) -> Option<Queued> {
        let mut queued = Queued {
            name: name.to_string(),
            from: ReversePath::Null,
            recipients: Vec::new(),
            first_attempt: 0,
            attempts: 0,
            next_attempt: 0,
            warned: false,
        };
        for line in text.lines() {
            let (key, value) = line.split_once(' ')?;
            match key {
                "from" => queued.from = ReversePath::parse(value).ok()?,
                "first" => queued.first_attempt = value.parse().ok()?,
                "attempts" => queued.attempts = value.parse().ok()?,
                "next" => queued.next_attempt = value.parse().ok()?,
                "warned" => queued.warned = value == "1",
                // The last error of the recipient on the line before.
                "error" => queued.recipients.last_mut()?.last_error = Some(value.to_string()),
                standing => queued.recipients.push(Recipient {
                    standing: Standing::parse(standing)?,
                    ..Recipient::new(ForwardPath::parse(value).ok()?)
                }),
            }
        }
        Some(queued)
    }
}

/// The queue directory.
#[derive(Debug, Clone)]
pub struct Queue {
    root: PathBuf,
}

impl Queue {
    /// Opens `root`, creating `incoming/` and `state/` when missing.
    pub fn open(root: &Path) -> io::Result<Queue> {
        for sub in [
            "incoming/tmp",
            "incoming/new",
            "incoming/cur",
            "state",
            "hold",
        ] {
            fs::create_dir_all(root.join(sub))?;
        }
        Ok(Queue {
            root: root.to_path_buf(),
        })
    }

    /// The file of the delivery ledger: warm-up counts and paces.
    pub fn ledger(&self) -> PathBuf {
        self.root.join("warmup")
    }

    /// The Maildir the receiving server delivers into.
    pub fn incoming(&self) -> PathBuf {
        self.root.join("incoming")
    }

    /// Where a message the runner may deliver is kept.
    pub fn message_path(&self, name: &str) -> PathBuf {
        self.incoming().join("new").join(name)
    }

    /// Where a message on hold is kept.
    pub fn hold_path(&self, name: &str) -> PathBuf {
        self.root.join("hold").join(name)
    }

    fn state_path(&self, name: &str) -> PathBuf {
        self.root.join("state").join(name)
    }

    /// The names of the messages in `incoming/new/` (`held` false) or on
    /// hold (`held` true), sorted.
    pub fn names(&self, held: bool) -> io::Result<Vec<String>> {
        let dir = if held {
            self.root.join("hold")
        } else {
            self.incoming().join("new")
        };
        let mut names = Vec::new();
        for entry in fs::read_dir(dir)? {
            names.push(entry?.file_name().to_string_lossy().into_owned());
        }
        names.sort();
        Ok(names)
    }

    /// The message at `path` (in `incoming/new/` or `hold/`) named `name`:
    /// its saved state, or one made due at `now` if it has none yet.
    pub fn load(&self, name: &str, path: &Path, now: u64) -> io::Result<Queued> {
        match fs::read_to_string(self.state_path(name)) {
            Ok(text) => Queued::parse(name, &text).ok_or_else(|| invalid("unreadable state")),
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                let (from, recipients) = envelope_of(&read_head(path)?)?;
                Ok(Queued {
                    name: name.to_string(),
                    from,
                    recipients: recipients.into_iter().map(Recipient::new).collect(),
                    first_attempt: now,
                    attempts: 0,
                    next_attempt: now,
                    warned: false,
                })
            }
            Err(error) => Err(error),
        }
    }

    /// Moves a message between `incoming/new/` and `hold/` (`hold` says
    /// which way), the directories fsynced so that the move survives a
    /// crash. The caller holds an exclusive
    /// [`Claim`](super::claim::Claim) on it.
    pub fn set_hold(&self, name: &str, hold: bool) -> io::Result<()> {
        let (from, to) = if hold {
            (self.message_path(name), self.hold_path(name))
        } else {
            (self.hold_path(name), self.message_path(name))
        };
        fs::rename(&from, &to)?;
        for dir in [&to, &from].into_iter().filter_map(|path| path.parent()) {
            fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    }

    /// Every queued message but those `skip` names, with a state made (due
    /// at `now`, not yet written) for those not tried yet. A file that
    /// cannot be read is reported and left for the next scan.
    pub fn scan(&self, now: u64, skip: impl Fn(&str) -> bool) -> io::Result<Vec<Queued>> {
        let mut queued = Vec::new();
        for entry in fs::read_dir(self.incoming().join("new"))? {
            let name = entry?.file_name().to_string_lossy().into_owned();
            if skip(&name) {
                continue;
            }
            match self.load(&name, &self.message_path(&name), now) {
                Ok(message) => queued.push(message),
                Err(error) => eprintln!("queue: {name}: {error}"),
            }
        }
        queued.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(queued)
    }

    /// Whether the message came with REQUIRETLS (RFC 8689): the receiving
    /// server's field among its envelope lines says so.
    pub fn requires_tls(&self, name: &str) -> io::Result<bool> {
        let head = read_head(&self.message_path(name))?;
        let found = head_lines(&head).any(|line| line == REQUIRETLS_FIELD);
        Ok(found)
    }

    /// The content to relay: the stored message without the envelope
    /// fields, which are the receiving server's and go no further.
    pub fn content(&self, name: &str) -> io::Result<Bytes> {
        let stored = fs::read(self.message_path(name))?;
        let start = envelope_length(&stored);
        Ok(Bytes::from(stored).slice(start..))
    }

    /// Puts `fields` on top of a message's content (after the envelope
    /// lines) and returns the new content. The file is replaced whole, as
    /// the receiving server wrote it (aside, fsynced, renamed), so a crash
    /// leaves either copy, never half of one.
    pub fn prepend(&self, name: &str, fields: &[u8]) -> io::Result<Bytes> {
        let path = self.message_path(name);
        let stored = fs::read(&path)?;
        let start = envelope_length(&stored);
        let mut rewritten = Vec::with_capacity(stored.len() + fields.len());
        rewritten.extend_from_slice(&stored[..start]);
        rewritten.extend_from_slice(fields);
        rewritten.extend_from_slice(&stored[start..]);
        let aside = self.incoming().join("tmp").join(name);
        let mut file = fs::File::create(&aside)?;
        file.write_all(&rewritten)?;
        file.sync_all()?;
        fs::rename(&aside, &path)?;
        fs::File::open(self.incoming().join("new"))?.sync_all()?;
        Ok(Bytes::from(rewritten).slice(start..))
    }

    /// Replaces `queued`'s state: written aside, fsynced, renamed, and the
    /// directory fsynced so that the rename survives a crash.
    pub fn save(&self, queued: &Queued) -> io::Result<()> {
        let target = self.state_path(&queued.name);
        let aside = target.with_extension("new");
        let mut file = fs::File::create(&aside)?;
        file.write_all(queued.render().as_bytes())?;
        file.sync_all()?;
        fs::rename(&aside, &target)?;
        fs::File::open(self.root.join("state"))?.sync_all()
    }

    /// Takes a message off the queue: its file first (wherever it is), so
    /// that a crash in between leaves a state without a message, which the
    /// next sweep removes.
    pub fn remove(&self, name: &str) -> io::Result<()> {
        let paths = [
            self.message_path(name),
            self.hold_path(name),
            self.state_path(name),
        ];
        for path in paths {
            match fs::remove_file(path) {
                Err(error) if error.kind() != io::ErrorKind::NotFound => return Err(error),
                _ => {}
            }
        }
        Ok(())
    }

    /// Fsyncs the directories a removal changes, so that it survives a
    /// crash.
    pub fn sync_dirs(&self) -> io::Result<()> {
        for dir in [
            self.incoming().join("new"),
            self.root.join("hold"),
            self.root.join("state"),
        ] {
            fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    }

    /// State files whose message is gone (neither in `incoming/new/` nor on
    /// hold), removed.
    pub fn sweep(&self) -> io::Result<()> {
        for entry in fs::read_dir(self.root.join("state"))? {
            let path = entry?.path();
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
            if let Some(name) = name {
                if !self.message_path(&name).exists() && !self.hold_path(&name).exists() {
                    fs::remove_file(&path)?;
                }
            }
        }
        Ok(())
    }
}

/// The envelope lines at the top of a stored message, without reading the
/// rest of it.
fn read_head(path: &Path) -> io::Result<Vec<u8>> {
    // An envelope line is a name and one path of at most 256 octets (RFC
    // 5321 §4.5.3.1.3): no more of any line is read, whatever follows.
    const MAX_HEAD_LINE: u64 = 512;
    let mut reader = io::BufReader::new(fs::File::open(path)?);
    let mut head = Vec::new();
    loop {
        let start = head.len();
        let mut line_reader = io::Read::take(&mut reader, MAX_HEAD_LINE);
        if io::BufRead::read_until(&mut line_reader, b'\n', &mut head)? == 0 {
            return Ok(head);
        }
        if !is_envelope_line(&head[start..]) {
            head.truncate(start);
            return Ok(head);
        }
    }
}

/// Whether a stored line is one of those the receiving server put on top.
fn is_envelope_line(line: &[u8]) -> bool {
    line.starts_with(RETURN_PATH.as_bytes())
        || line.starts_with(ENVELOPE_TO.as_bytes())
        || line.starts_with(REQUIRETLS_FIELD.as_bytes())
}

/// The envelope the receiving server wrote at the top of a message.
fn envelope_of(stored: &[u8]) -> io::Result<(ReversePath, Vec<ForwardPath>)> {
    let mut from = None;
    let mut recipients = Vec::new();
    for line in head_lines(stored) {
        if let Some(path) = line.strip_prefix(RETURN_PATH) {
            from = Some(ReversePath::parse(path).map_err(invalid)?);
        } else if let Some(path) = line.strip_prefix(ENVELOPE_TO) {
            recipients.push(ForwardPath::parse(path).map_err(invalid)?);
        }
    }
    match from {
        Some(from) if !recipients.is_empty() => Ok((from, recipients)),
        _ => Err(invalid("no envelope")),
    }
}

/// The octets of the envelope fields at the top.
fn envelope_length(stored: &[u8]) -> usize {
    head_lines(stored).map(|line| line.len() + 2).sum()
}

/// The leading `Return-Path:` and `X-Envelope-To:` lines, without CRLF.
fn head_lines(stored: &[u8]) -> impl Iterator<Item = &str> {
    stored.split(|&byte| byte == b'\n').map_while(|line| {
        let line = std::str::from_utf8(line.strip_suffix(b"\r")?).ok()?;
        is_envelope_line(line.as_bytes()).then_some(line)
    })
}

/// `text` with line breaks and other controls as spaces, to fit a line of
/// the state file.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn invalid(error: impl ToString) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_envelope_comes_off_and_the_rest_stays() {
        let stored = b"Return-Path: <a@example.org>\r\n\
                       X-Envelope-To: <b@example.net>\r\n\
                       X-Envelope-To: <c@example.net>\r\n\
                       X-Envelope-Requiretls: yes\r\n\
                       Received: from x\r\n\r\nbody\r\n";
        let (from, to) = envelope_of(stored).unwrap();
        assert_eq!(from.to_string(), "<a@example.org>");
        assert_eq!(to.len(), 2);
        let rest = &stored[envelope_length(stored)..];
        assert_eq!(rest, b"Received: from x\r\n\r\nbody\r\n");
    }

    #[test]
    fn state_round_trips() {
        let queued = Queued {
            name: "1.M2P3Q4.host".into(),
            from: ReversePath::Null,
            recipients: vec![
                Recipient {
                    last_error: Some("451 4.3.0 try\r\nlater".into()),
                    ..Recipient::new(ForwardPath::parse("<b@example.net>").unwrap())
                },
                Recipient {
                    standing: Standing::Delivered,
                    ..Recipient::new(ForwardPath::parse("<c@example.net>").unwrap())
                },
            ],
            first_attempt: 10,
            attempts: 2,
            next_attempt: 70,
            warned: true,
        };
        let mut read = Queued::parse(&queued.name, &queued.render()).unwrap();
        // The error's line break became a space, to stay on its line.
        assert_eq!(
            read.recipients[0].last_error.take().as_deref(),
            Some("451 4.3.0 try  later")
        );
        read.recipients[0].last_error = queued.recipients[0].last_error.clone();
        assert_eq!(read, queued);
        assert!(Queued::parse(&queued.name, "error before any recipient\n").is_none());
    }
}
