//! The `message/delivery-status` body part of a delivery status
//! notification (RFC 3464 §2).

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::{self, Write};

use super::outcome::{AttemptRecord, Fate, Settled};
use super::plan::Routable;
use crate::address::{Domain, ForwardPath, Host};
use crate::params::{EnvelopeId, Orcpt, OrcptType};
use crate::reply::{EnhancedStatusCode, Reply};
use crate::Text;

/// What the reporting MTA did with a recipient (RFC 3464 §2.3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Not delivered and no longer tried.
    Failed,
    /// Not delivered yet; still being tried.
    Delayed,
    /// Delivered to the recipient's mailbox.
    Delivered,
    /// Passed on to a system that will send no further notifications.
    Relayed,
    /// Delivered, and passed on to further addresses (an alias, a list).
    Expanded,
}

impl Action {
    /// The field value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Action::Failed => "failed",
            Action::Delayed => "delayed",
            Action::Delivered => "delivered",
            Action::Relayed => "relayed",
            Action::Expanded => "expanded",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The per-recipient fields of a delivery status notification (RFC 3464
/// §2.3). Dates are the caller's text (RFC 5322 `date-time`), since the
/// crate keeps no clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientReport {
    /// Original-Recipient, from the ORCPT parameter (RFC 3461 §4.2).
    pub original_recipient: Option<Orcpt>,
    /// Final-Recipient: the address the delivery was tried for.
    pub final_recipient: ForwardPath,
    /// Action.
    pub action: Action,
    /// Status.
    pub status: EnhancedStatusCode,
    /// Remote-MTA: the host whose reply the report quotes.
    pub remote_mta: Option<Host>,
    /// Diagnostic-Code, as `smtp; <code> <enhanced code> <text>`.
    pub diagnostic: Option<Reply>,
    /// Last-Attempt-Date.
    pub last_attempt_date: Option<Text>,
    /// Will-Retry-Until, for a delayed recipient.
    pub will_retry_until: Option<Text>,
}

impl RecipientReport {
    /// A report with the outcome of `attempt`: its status, host and reply.
    pub fn from_attempt(
        final_recipient: ForwardPath,
        action: Action,
        attempt: &AttemptRecord,
    ) -> Self {
        RecipientReport {
            original_recipient: None,
            final_recipient,
            action,
            status: attempt.status,
            remote_mta: attempt.host.clone(),
            diagnostic: attempt.reply.clone(),
            last_attempt_date: None,
            will_retry_until: None,
        }
    }
}

impl<R: Routable> Settled<R> {
    /// The report for this recipient, from its last attempt: `failed`,
    /// `delayed` or `delivered` as its fate says. A relay that handed the
    /// message to a server without DSN support reports
    /// [`Action::Relayed`] instead of `delivered` (RFC 3464 §2.3.3).
    pub fn report(&self) -> Option<RecipientReport> {
        let action = match self.fate {
            Fate::Delivered => Action::Delivered,
            Fate::Failed => Action::Failed,
            Fate::Delayed { .. } => Action::Delayed,
        };
        let last = self.attempts.last()?;
        Some(RecipientReport::from_attempt(
            self.recipient.forward_path().clone(),
            action,
            last,
        ))
    }
}

/// A `message/delivery-status` body part (RFC 3464 §2.1): the per-message
/// fields and one group of fields per recipient.
///
/// It is rendered as a MIME entity body. When an address or a reply holds
/// UTF-8, the result is not ASCII and must be sent as
/// `message/global-delivery-status` (RFC 6533) instead.
///
/// ```
/// use smtpwire::delivery::{Action, DeliveryStatus, RecipientReport};
/// use smtpwire::{Domain, EnhancedStatusCode, ForwardPath, Host, Reply, ReplyCode, Text};
///
/// let mut recipient = RecipientReport::from_attempt(
///     ForwardPath::parse("<bob@example.net>").unwrap(),
///     Action::Failed,
///     &smtpwire::delivery::AttemptRecord {
///         host: Some(Host::parse("mx.example.net").unwrap()),
///         status: EnhancedStatusCode::BAD_DESTINATION_MAILBOX,
///         reply: Some(Reply::with_enhanced(
///             ReplyCode::MAILBOX_UNAVAILABLE,
///             EnhancedStatusCode::BAD_DESTINATION_MAILBOX,
///             Text::from_static("No such user"),
///         ).unwrap()),
///     },
/// );
/// recipient.last_attempt_date = Some(Text::from_static("Mon, 1 Jan 2024 12:00:00 +0000"));
/// let report = DeliveryStatus::new(Domain::parse("out.example.org").unwrap(), vec![recipient]);
/// assert_eq!(
///     report.render(),
///     "Reporting-MTA: dns; out.example.org\r\n\
///      \r\n\
///      Final-Recipient: rfc822;bob@example.net\r\n\
///      Action: failed\r\n\
///      Status: 5.1.1\r\n\
///      Remote-MTA: dns; mx.example.net\r\n\
///      Diagnostic-Code: smtp; 550 5.1.1 No such user\r\n\
///      Last-Attempt-Date: Mon, 1 Jan 2024 12:00:00 +0000\r\n"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryStatus {
    /// Reporting-MTA: this host.
    pub reporting_mta: Domain,
    /// Original-Envelope-Id, from the ENVID parameter (RFC 3461 §4.4).
    pub envelope_id: Option<EnvelopeId>,
    /// Received-From-MTA: the host the message came from.
    pub received_from_mta: Option<Host>,
    /// Arrival-Date.
    pub arrival_date: Option<Text>,
    /// One report per recipient.
    pub recipients: Vec<RecipientReport>,
}

/// Folded lines are kept within the 78 characters RFC 5322 §2.1.1 asks for.
const FOLD_AT: usize = 78;

impl DeliveryStatus {
    /// A report from `reporting_mta` with no optional per-message fields.
    pub fn new(reporting_mta: Domain, recipients: Vec<RecipientReport>) -> Self {
        DeliveryStatus {
            reporting_mta,
            envelope_id: None,
            received_from_mta: None,
            arrival_date: None,
            recipients,
        }
    }

    /// The body part, CRLF line endings, ready for a MIME multipart/report
    /// (RFC 6522). Every value was checked for CR, LF and NUL when built,
    /// so no field can break the format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = self.write(&mut out);
        out
    }

    fn write(&self, out: &mut String) -> fmt::Result {
        // RFC 3464 §2.2: the per-message fields.
        if let Some(envelope_id) = &self.envelope_id {
            write!(out, "Original-Envelope-Id: {}\r\n", envelope_id.as_str())?;
        }
        write!(out, "Reporting-MTA: dns; {}\r\n", self.reporting_mta)?;
        if let Some(host) = &self.received_from_mta {
            write!(out, "Received-From-MTA: dns; {host}\r\n")?;
        }
        if let Some(date) = &self.arrival_date {
            write!(out, "Arrival-Date: {}\r\n", date.as_str())?;
        }
        // RFC 3464 §2.3: each recipient's fields, after a blank line.
        for recipient in &self.recipients {
            out.push_str("\r\n");
            write_recipient(out, recipient)?;
        }
        Ok(())
    }
}

fn write_recipient(out: &mut String, report: &RecipientReport) -> fmt::Result {
    if let Some(orcpt) = &report.original_recipient {
        let address_type = match orcpt.addr_type() {
            OrcptType::Rfc822 => "rfc822",
            OrcptType::Utf8 => "utf-8",
            OrcptType::Other(atom) => atom.as_str(),
        };
        write!(
            out,
            "Original-Recipient: {address_type};{}\r\n",
            orcpt.address().as_str()
        )?;
    }
    let (address_type, address) = match &report.final_recipient {
        ForwardPath::Postmaster => ("rfc822", "postmaster"),
        // RFC 6533 §3: a UTF-8 address is of type utf-8.
        ForwardPath::Mailbox(mailbox) if !mailbox.is_ascii() => ("utf-8", mailbox.as_str()),
        ForwardPath::Mailbox(mailbox) => ("rfc822", mailbox.as_str()),
    };
    write!(out, "Final-Recipient: {address_type};{address}\r\n")?;
    write!(out, "Action: {}\r\n", report.action)?;
    write!(out, "Status: {}\r\n", report.status)?;
    if let Some(host) = &report.remote_mta {
        write!(out, "Remote-MTA: dns; {host}\r\n")?;
    }
    if let Some(reply) = &report.diagnostic {
        let mut field = String::new();
        write!(field, "Diagnostic-Code: smtp; {}", reply.code().as_u16())?;
        if let Some(enhanced) = reply.enhanced() {
            write!(field, " {enhanced}")?;
        }
        for line in reply.lines().filter(|line| !line.is_empty()) {
            write!(field, " {line}")?;
        }
        push_folded(out, &field);
    }
    if let Some(date) = &report.last_attempt_date {
        write!(out, "Last-Attempt-Date: {}\r\n", date.as_str())?;
    }
    if let Some(date) = &report.will_retry_until {
        write!(out, "Will-Retry-Until: {}\r\n", date.as_str())?;
    }
    Ok(())
}

/// Writes a field, folding it before spaces (RFC 5322 §2.2.3) so lines stay
/// near [`FOLD_AT`]; a word longer than that stays whole.
fn push_folded(out: &mut String, field: &str) {
    let mut line_start = 0;
    let mut last_space = None;
    let ends = memchr::memchr_iter(b' ', field.as_bytes()).chain(core::iter::once(field.len()));
    for end in ends {
        if end - line_start > FOLD_AT {
            if let Some(space) = last_space.filter(|&space| space > line_start) {
                // Spaces are ASCII, so `space` is a character boundary.
                out.push_str(field.get(line_start..space).unwrap_or_default());
                out.push_str("\r\n");
                line_start = space;
            }
        }
        last_space = Some(end);
    }
    out.push_str(field.get(line_start..).unwrap_or_default());
    out.push_str("\r\n");
}
