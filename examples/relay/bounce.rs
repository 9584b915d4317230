//! The non-delivery report a relay owes the sender of a message it took
//! but could not deliver (RFC 5321 §4.4 and §6.1): a `multipart/report`
//! (RFC 6522) with a `message/delivery-status` part (RFC 3464) and the
//! original header.

use std::time::SystemTime;

use smtpwire::delivery::{DeliveryStatus, RecipientReport};
use smtpwire::Domain;

use super::server::trace::rfc5322_date;

/// The report's content, ready to queue to the original sender with a null
/// reverse path (so that it can never cause another report).
pub fn compose(
    reporting_mta: &Domain,
    sender: &str,
    reports: Vec<RecipientReport>,
    original: &[u8],
    message_id: &str,
    now: SystemTime,
) -> Vec<u8> {
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
    let status = DeliveryStatus::new(reporting_mta.clone(), reports).render();
    // RFC 6533 §6: a report holding UTF-8 is a global one.
    let status_type = if status.is_ascii() {
        "message/delivery-status"
    } else {
        "message/global-delivery-status"
    };
    let boundary = format!("=_report_{message_id}");
    let host = reporting_mta.as_str();
    format!(
        "From: Mail Delivery System <MAILER-DAEMON@{host}>\r\n\
         To: {sender}\r\n\
         Subject: Undelivered Mail Returned to Sender\r\n\
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
         Your message could not be delivered to these recipients:\r\n\
         \r\n\
         {summary}\
         \r\n\
         --{boundary}\r\n\
         Content-Type: {status_type}\r\n\
         \r\n\
         {status}\
         \r\n\
         --{boundary}\r\n\
         Content-Type: text/rfc822-headers\r\n\
         \r\n\
         {header}\
         \r\n\
         --{boundary}--\r\n",
        date = rfc5322_date(now),
        header = String::from_utf8_lossy(header_of(original)),
    )
    .into_bytes()
}

/// The header section of a message, up to and including its last CRLF.
fn header_of(message: &[u8]) -> &[u8] {
    match message.windows(4).position(|window| window == b"\r\n\r\n") {
        Some(end) => &message[..end + 2],
        None => message,
    }
}
