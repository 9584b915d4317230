//! What is sent: the content of `--data`, or a generated test message.

use std::io::{self, Read};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use smtpwire::client::{check_line_lengths, ClientError, LongLines};
use smtpwire::{BodyType, ForwardPath, ReversePath};

use crate::trace::rfc5322_date;

/// Reads the whole message from `path`, or from standard input for `-`.
pub fn read(path: &Path) -> io::Result<Vec<u8>> {
    if path == Path::new("-") {
        let mut content = Vec::new();
        io::stdin().lock().read_to_end(&mut content)?;
        Ok(content)
    } else {
        std::fs::read(path)
    }
}

/// Why `content` cannot go as it is, found before anything of it is sent: a
/// line longer than RFC 5321 §4.5.3.1.6 allows, unless the session is to
/// wrap such lines.
pub fn check(content: &[u8], long_lines: LongLines) -> Result<(), ClientError> {
    match long_lines {
        LongLines::Refuse => check_line_lengths(content).map_err(ClientError::from),
        LongLines::Wrap => Ok(()),
    }
}

/// `BODY=8BITMIME` for content with an octet above 127 (RFC 6152 §3). The
/// session refuses such a message, before its MAIL, when the server does
/// not offer 8BITMIME: turning it into 7-bit would mean re-encoding its
/// MIME parts as quoted-printable or base64, which a sender that passes
/// files on as they are should not do behind the user's back (and which
/// breaks DKIM signatures).
pub fn body_type(content: &[u8]) -> Option<BodyType> {
    (!content.is_ascii()).then_some(BodyType::EightBitMime)
}

/// A small message with the fields RFC 5322 §3.6 requires (Date, From) and
/// those a reader expects (To, Subject, Message-ID), numbered so that every
/// message of a `--count` run can be told apart.
pub fn generated(number: usize, from: &ReversePath, to: &[ForwardPath], domain: &str) -> Vec<u8> {
    let now = SystemTime::now();
    let recipients: Vec<String> = to.iter().map(ToString::to_string).collect();
    let sender = match from {
        ReversePath::Null => format!("<MAILER-DAEMON@{domain}>"),
        path => path.to_string(),
    };
    format!(
        "Date: {date}\r\n\
         From: {sender}\r\n\
         To: {to}\r\n\
         Subject: smtpwire test message {number}\r\n\
         Message-ID: {id}\r\n\
         \r\n\
         This is test message {number}, sent by smtpwire's send example.\r\n",
        date = rfc5322_date(now),
        to = recipients.join(", "),
        id = message_id(now, domain),
    )
    .into_bytes()
}

/// `<seconds.micros.pid.sequence@domain>`: unique without a random source.
fn message_id(now: SystemTime, domain: &str) -> String {
    static SEQUENCE: AtomicU64 = AtomicU64::new(0);
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    format!(
        "<{}.{}.{}.{}@{domain}>",
        since.as_secs(),
        since.subsec_micros(),
        std::process::id(),
        SEQUENCE.fetch_add(1, Ordering::Relaxed),
    )
}
