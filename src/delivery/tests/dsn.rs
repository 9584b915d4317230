use alloc::string::ToString;
use alloc::vec;

use super::{domain, host, rcpt, reply};
use crate::delivery::{Action, AttemptRecord, DeliveryStatus, RecipientReport, RouteError};
use crate::params::{EnvelopeId, Orcpt, OrcptType};
use crate::reply::EnhancedStatusCode;
use crate::Text;

#[test]
fn rfc_3464_simple_example() {
    // RFC 3464 §9.1: a failure after a timed-out connection.
    let mut report = RecipientReport::from_attempt(
        rcpt("louisl@larry.slip.umd.edu"),
        Action::Failed,
        &AttemptRecord {
            host: None,
            status: "4.0.0".parse().unwrap(),
            reply: Some(reply(426, None, "connection timed out")),
        },
    );
    report.original_recipient =
        Some(Orcpt::new(OrcptType::Rfc822, "louisl@larry.slip.umd.edu").unwrap());
    report.last_attempt_date = Some(Text::from_static("Thu, 7 Jul 1994 17:15:49 -0400"));
    let status = DeliveryStatus::new(domain("cs.utk.edu"), vec![report]);
    assert_eq!(
        status.render(),
        "Reporting-MTA: dns; cs.utk.edu\r\n\
         \r\n\
         Original-Recipient: rfc822;louisl@larry.slip.umd.edu\r\n\
         Final-Recipient: rfc822;louisl@larry.slip.umd.edu\r\n\
         Action: failed\r\n\
         Status: 4.0.0\r\n\
         Diagnostic-Code: smtp; 426 connection timed out\r\n\
         Last-Attempt-Date: Thu, 7 Jul 1994 17:15:49 -0400\r\n"
    );
}

#[test]
fn several_recipients_and_per_message_fields() {
    let failed = RecipientReport::from_attempt(
        rcpt("a@example.net"),
        Action::Failed,
        &AttemptRecord::unroutable(RouteError::NullMx),
    );
    let mut delayed = RecipientReport::from_attempt(
        rcpt("b@example.com"),
        Action::Delayed,
        &AttemptRecord {
            host: Some(host("mx.example.com")),
            status: EnhancedStatusCode::MAILBOX_FULL,
            reply: Some(reply(452, Some("4.2.2"), "Mailbox full")),
        },
    );
    delayed.will_retry_until = Some(Text::from_static("Fri, 5 Jan 2024 12:00:00 +0000"));
    let mut status = DeliveryStatus::new(domain("out.example.org"), vec![failed, delayed]);
    status.envelope_id = Some(EnvelopeId::new("QQ314159").unwrap());
    status.received_from_mta = Some(host("[192.0.2.9]"));
    status.arrival_date = Some(Text::from_static("Mon, 1 Jan 2024 12:00:00 +0000"));
    assert_eq!(
        status.render(),
        "Original-Envelope-Id: QQ314159\r\n\
         Reporting-MTA: dns; out.example.org\r\n\
         Received-From-MTA: dns; [192.0.2.9]\r\n\
         Arrival-Date: Mon, 1 Jan 2024 12:00:00 +0000\r\n\
         \r\n\
         Final-Recipient: rfc822;a@example.net\r\n\
         Action: failed\r\n\
         Status: 5.1.10\r\n\
         \r\n\
         Final-Recipient: rfc822;b@example.com\r\n\
         Action: delayed\r\n\
         Status: 4.2.2\r\n\
         Remote-MTA: dns; mx.example.com\r\n\
         Diagnostic-Code: smtp; 452 4.2.2 Mailbox full\r\n\
         Will-Retry-Until: Fri, 5 Jan 2024 12:00:00 +0000\r\n"
    );
}

#[test]
fn long_diagnostics_fold_and_utf8_addresses_are_typed() {
    let long = crate::reply::Reply::multiline(
        crate::reply::ReplyCode::MAILBOX_UNAVAILABLE,
        Some("5.1.1".parse().unwrap()),
        [
            Text::from_static("The email account that you tried to reach does not exist."),
            Text::from_static(
                "Please try double-checking the recipient's email address for typos.",
            ),
        ],
    )
    .unwrap();
    let report = RecipientReport::from_attempt(
        rcpt("jöe@bücher.example"),
        Action::Failed,
        &AttemptRecord {
            host: Some(host("mx.bücher.example")),
            status: "5.1.1".parse().unwrap(),
            reply: Some(long),
        },
    );
    let rendered = DeliveryStatus::new(domain("out.example.org"), vec![report]).render();
    assert!(rendered.contains("Final-Recipient: utf-8;jöe@bücher.example\r\n"));
    assert!(!rendered.is_ascii());
    let diagnostic: alloc::string::String =
        rendered.split("Diagnostic-Code: ").nth(1).unwrap().into();
    let lines: alloc::vec::Vec<&str> = diagnostic.trim_end_matches("\r\n").split("\r\n").collect();
    assert!(lines.len() > 1);
    assert!(lines.iter().skip(1).all(|line| line.starts_with(' ')));
    assert!(rendered.lines().all(|line| line.chars().count() <= 78));
    // Unfolding gives back the one-line value.
    assert_eq!(
        diagnostic.replace("\r\n ", " ").trim_end(),
        "smtp; 550 5.1.1 The email account that you tried to reach does not exist. \
         Please try double-checking the recipient's email address for typos."
    );
}

#[test]
fn settled_recipients_report_their_last_attempt() {
    use crate::delivery::{Backoff, Delivery, Hop};
    let mut delivery = Delivery::new(
        vec![Hop {
            host: host("mx.example.net"),
            preference: 0,
        }],
        vec![rcpt("a@example.net")],
    );
    delivery.connection_failed();
    let settled = delivery.settle(&Backoff::default(), 1, 0, 0);
    let report = settled.recipients[0].report().unwrap();
    assert_eq!(report.action, Action::Delayed);
    assert_eq!(report.status.to_string(), "4.4.1");
    assert_eq!(report.remote_mta, Some(host("mx.example.net")));
}
