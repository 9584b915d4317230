//! The reports a relay owes the sender of a message it took: that it could
//! not be delivered (RFC 5321 §4.4 and §6.1), that it has not been yet
//! and is still being tried (RFC 3464 §2.3.3, `Action: delayed`), or, when
//! the sender asked with `NOTIFY=SUCCESS` (RFC 3461 §4.1), that it was
//! relayed to a system that reports nothing further or expanded to
//! several addresses (`Action: relayed`, `expanded`). Each is a
//! `multipart/report` (RFC 6522) with a `message/delivery-status` part
//! and the original header, or with `RET=FULL` the whole original in a
//! failure report (RFC 3461 §4.3).

use std::time::SystemTime;

use smtpwire::delivery::{DeliveryStatus, RecipientReport};
use smtpwire::{Domain, EnvelopeId, Ret, Text};

use crate::server::maildir::Maildir;
use crate::trace::rfc5322_date;

/// Which report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    /// Delivery failed for good.
    Failure,
    /// Not delivered yet; still being tried.
    Delay,
    /// Relayed to a system without DSN, or expanded (RFC 3464 §2.3.3),
    /// as `NOTIFY=SUCCESS` asked.
    Success,
}

impl Notice {
    fn subject(self) -> &'static str {
        match self {
            Notice::Failure => "Undelivered Mail Returned to Sender",
            Notice::Delay => "Delayed Mail (still being retried)",
            Notice::Success => "Successful Mail Delivery Report",
        }
    }

    fn explanation(self) -> &'static str {
        match self {
            Notice::Failure => "Your message could not be delivered to these recipients:",
            Notice::Delay => {
                "Your message has not been delivered yet to these recipients.\r\n\
                 It is still being tried; you need not send it again:"
            }
            Notice::Success => {
                "Your message was passed on for these recipients, as you asked to be\r\n\
                 told; no further report may come from where it went:"
            }
        }
    }
}

/// What a report is about beyond its recipients: the message's envelope
/// identifier and how much of it to return (RFC 3461 §4.3, §4.4), and when
/// it arrived (RFC 3464 §2.2.5).
#[derive(Debug, Clone)]
pub struct About {
    /// `ENVID`, shown as `Original-Envelope-Id`.
    pub envelope_id: Option<EnvelopeId>,
    /// `RET`: `FULL` returns the whole message in a failure report;
    /// otherwise, and in other reports, only its header.
    pub ret: Option<Ret>,
    /// When the relay took the message.
    pub arrival: SystemTime,
}

/// Who sends a report, to whom, under which id and when.
#[derive(Debug, Clone, Copy)]
pub struct Sending<'a> {
    /// The relay reporting: `Reporting-MTA`, and the `From:` domain.
    pub reporting_mta: &'a Domain,
    /// The original sender, whom the report goes to.
    pub to: &'a str,
    /// The report's own id (its queue name), for `Message-ID:` and the
    /// MIME boundary.
    pub message_id: &'a str,
    /// When it is written.
    pub date: SystemTime,
}

/// The report's content, ready to queue to the original sender with a null
/// reverse path (so that it can never cause another report).
pub fn compose(
    notice: Notice,
    sending: &Sending<'_>,
    about: &About,
    reports: Vec<RecipientReport>,
    original: &[u8],
) -> Vec<u8> {
    let Sending {
        reporting_mta,
        to: sender,
        message_id,
        date: now,
    } = *sending;
    let mut summary = String::new();
    for report in &reports {
        summary.push_str(&format!("{}: ", report.final_recipient));
        match &report.diagnostic {
            Some(reply) => {
                let text: Vec<&str> = reply.lines().collect();
                summary.push_str(&format!("{} {}", reply.code().as_u16(), text.join(" ")));
            }
            None => summary.push_str(&format!("status {}", report.status)),
        }
        summary.push_str("\r\n");
    }
    let mut status = DeliveryStatus::new(reporting_mta.clone(), reports);
    status.envelope_id = about.envelope_id.clone();
    status.arrival_date = Text::new(&rfc5322_date(about.arrival)).ok();
    let status = status.render();
    // RFC 3461 §4.3: the whole message only in a failure report that
    // RET=FULL asked for.
    let (returned_type, returned) = match (notice, about.ret) {
        (Notice::Failure, Some(Ret::Full)) => ("message/rfc822", original),
        _ => ("text/rfc822-headers", header_of(original)),
    };
    // RFC 6522 §3: the third part is optional; a report made before the
    // content was at hand has none.
    let boundary = format!("=_report_{message_id}");
    let returned_part = if returned.is_empty() {
        String::new()
    } else {
        format!(
            "--{boundary}\r\n\
             Content-Type: {returned_type}\r\n\
             \r\n\
             {}\
             \r\n",
            String::from_utf8_lossy(returned)
        )
    };
    // RFC 6533 §6: a report holding UTF-8 is a global one.
    let status_type = if status.is_ascii() {
        "message/delivery-status"
    } else {
        "message/global-delivery-status"
    };
    let host = reporting_mta.as_str();
    format!(
        "From: Mail Delivery System <MAILER-DAEMON@{host}>\r\n\
         To: {sender}\r\n\
         Subject: {subject}\r\n\
         Date: {date}\r\n\
         Message-ID: <{message_id}@{host}>\r\n\
         Auto-Submitted: auto-replied\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status;\r\n\
         \tboundary=\"{boundary}\"\r\n\
         \r\n\
         --{boundary}\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         \r\n\
         This is the mail system at {host}.\r\n\
         \r\n\
         {explanation}\r\n\
         \r\n\
         {summary}\
         \r\n\
         --{boundary}\r\n\
         Content-Type: {status_type}\r\n\
         \r\n\
         {status}\
         \r\n\
         {returned_part}\
         --{boundary}--\r\n",
        date = rfc5322_date(now),
        subject = notice.subject(),
        explanation = notice.explanation(),
    )
    .into_bytes()
}

/// Queues a composed report to `sender` in `store` (the relay's incoming
/// Maildir) from the null reverse path, under `name` (the one given to
/// [`compose`]).
pub async fn queue_report(
    store: &Maildir,
    name: String,
    sender: &str,
    report: &[u8],
) -> std::io::Result<()> {
    let head = format!("Return-Path: <>\r\nX-Envelope-To: {sender}\r\n");
    let mut file = store.begin(name, head.as_bytes()).await?;
    file.write(report).await?;
    store.deliver(file).await?;
    Ok(())
}

/// The header section of a message, up to and including its last CRLF.
pub fn header_of(message: &[u8]) -> &[u8] {
    match message.windows(4).position(|window| window == b"\r\n\r\n") {
        Some(end) => &message[..end + 2],
        None => message,
    }
}
