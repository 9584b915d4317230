//! Delivery status notification requests (RFC 3461) as the queue keeps
//! them, the rules that say which reports they ask for, and the
//! per-recipient reports the runner makes from delivery outcomes.
//!
//! The parameters are kept in their wire form (`RET=HDRS ENVID=…`,
//! `NOTIFY=SUCCESS ORCPT=rfc822;…`, xtext-encoded) after a tab on the
//! envelope line they belong to, so that they read back exactly as given
//! and a line without them (written before the queue kept them) still
//! reads as it did: the path before the tab is parsed as it always was.

use smtpwire::client::Recipient;
use smtpwire::delivery::{Action, Fate, RecipientReport, Settled};
use smtpwire::reply::EnhancedStatusCode;
use smtpwire::{
    Command, EnvelopeId, ForwardPath, Host, MailParameters, Notify, RcptParameters, Ret,
};

/// What separates a path from its parameters on an envelope line: a tab,
/// which the receiving server never writes in a path (it escapes control
/// characters).
pub const PARAMS_SEPARATOR: char = '\t';

/// What the sender asked of the whole message: how much of it a report
/// returns (RFC 3461 §4.3) and the envelope identifier reports carry
/// (§4.4).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageDsn {
    /// `RET=`.
    pub ret: Option<Ret>,
    /// `ENVID=`.
    pub envid: Option<EnvelopeId>,
}

impl MessageDsn {
    /// The DSN parameters among MAIL's.
    pub fn of(params: &MailParameters) -> MessageDsn {
        MessageDsn {
            ret: params.ret,
            envid: params.envid.clone(),
        }
    }

    /// Whether the sender gave neither.
    pub fn is_empty(&self) -> bool {
        self.ret.is_none() && self.envid.is_none()
    }

    /// As MAIL parameters, to pass on to a next hop: only those given
    /// (RFC 3461 §5.2.1).
    pub fn to_params(&self) -> MailParameters {
        MailParameters {
            ret: self.ret,
            envid: self.envid.clone(),
            ..MailParameters::default()
        }
    }

    /// The wire form, ` RET=… ENVID=…`, empty when none was given.
    pub fn render(&self) -> String {
        self.to_params().to_string()
    }

    /// Reads what [`render`](Self::render) wrote; `None` if it is not MAIL
    /// parameters.
    pub fn parse(text: &str) -> Option<MessageDsn> {
        let line = format!("MAIL FROM:<> {}", text.trim());
        match Command::parse_slice(line.trim_end().as_bytes()) {
            Ok(Command::Mail { params, .. }) => Some(MessageDsn::of(&params)),
            _ => None,
        }
    }
}

/// Only `NOTIFY` and `ORCPT` of a recipient's parameters: the others are
/// the receiving session's business, not the queue's.
pub fn dsn_only(params: &RcptParameters) -> RcptParameters {
    RcptParameters {
        notify: params.notify,
        orcpt: params.orcpt.clone(),
        other: Vec::new(),
    }
}

/// A recipient as an envelope line holds it: the path, then its DSN
/// parameters after a tab when it has any.
pub fn render_recipient(recipient: &Recipient) -> String {
    let params = dsn_only(&recipient.params).to_string();
    match params.trim_start() {
        "" => recipient.path.to_string(),
        params => format!("{}{PARAMS_SEPARATOR}{params}", recipient.path),
    }
}

/// Reads what [`render_recipient`] wrote, or a bare path; `None` if either
/// part does not parse.
pub fn parse_recipient(text: &str) -> Option<Recipient> {
    let (path, params) = match text.split_once(PARAMS_SEPARATOR) {
        Some((path, params)) => (path, Some(params)),
        None => (text, None),
    };
    let path = ForwardPath::parse(path).ok()?;
    let params = match params {
        None => RcptParameters::default(),
        Some(params) => {
            // Parsed with a placeholder path: only the parameters count.
            let line = format!("RCPT TO:<postmaster> {}", params.trim());
            match Command::parse_slice(line.trim_end().as_bytes()) {
                Ok(Command::Rcpt { params, .. }) => dsn_only(&params),
                _ => return None,
            }
        }
    };
    Some(Recipient { path, params })
}

/// The events a report may be owed for (RFC 3461 §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// Delivered, relayed to a system without DSN, or expanded.
    Success,
    /// Failed for good.
    Failure,
    /// Not delivered yet, still being tried.
    Delay,
}

/// Whether a recipient's `NOTIFY` asks for a report of `event`: without
/// one, as for `FAILURE,DELAY` (RFC 3461 §4.1: "the MTA SHOULD ... as if
/// NOTIFY=FAILURE,DELAY"); `NEVER`, for nothing.
pub fn asks_for(notify: Option<Notify>, event: Event) -> bool {
    match notify {
        None => event != Event::Success,
        Some(Notify::Never) => false,
        Some(Notify::On(on)) => match event {
            Event::Success => on.success(),
            Event::Failure => on.failure(),
            Event::Delay => on.delay(),
        },
    }
}

/// The report for an outcome when its recipient's `NOTIFY` asks for one
/// of `event` (RFC 3461 §4.1), with its `ORCPT` as Original-Recipient
/// (§4.2).
pub fn report_if_asked(outcome: &Settled<Recipient>, event: Event) -> Option<RecipientReport> {
    let params = &outcome.recipient.params;
    if !asks_for(params.notify, event) {
        return None;
    }
    let mut report = outcome.report()?;
    report.original_recipient = params.orcpt.clone();
    Some(report)
}

/// `Action: relayed` reports (RFC 3461 §5.2.2) for the recipients among
/// `outcomes` that asked for `NOTIFY=SUCCESS` and were delivered to one of
/// `without_dsn`, hosts that do not offer DSN and so report nothing; a
/// host that offers it got the parameters, and the relay reports nothing
/// for it (§5.2.1).
pub fn relayed_reports(
    outcomes: &[Settled<Recipient>],
    without_dsn: &[Host],
) -> Vec<RecipientReport> {
    outcomes
        .iter()
        .filter(|outcome| outcome.fate == Fate::Delivered)
        .filter(|outcome| {
            let host = outcome.attempts.last().and_then(|last| last.host.as_ref());
            host.is_some_and(|host| without_dsn.contains(host))
        })
        .filter_map(|outcome| report_if_asked(outcome, Event::Success))
        .map(|mut report| {
            report.action = Action::Relayed;
            report
        })
        .collect()
}

/// A delay report for a recipient not tried this time (held back by a
/// pace or a warm-up cap, or on hold): its status is its last error's, or
/// 4.0.0 (RFC 3463 §3.1, other or undefined) when it was never tried.
pub fn waiting_report(recipient: &super::queue::Recipient) -> RecipientReport {
    let status = recipient
        .last_error
        .as_deref()
        .and_then(|error| error.split_whitespace().next())
        .and_then(|status| status.parse().ok())
        .unwrap_or(EnhancedStatusCode::new_const(4, 0, 0));
    RecipientReport {
        original_recipient: None,
        final_recipient: recipient.path.clone(),
        action: Action::Delayed,
        status,
        remote_mta: None,
        diagnostic: None,
        last_attempt_date: None,
        will_retry_until: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smtpwire::{NotifyOn, Orcpt, OrcptType};

    #[test]
    fn parameters_read_back_exactly_as_given() {
        let recipient = Recipient {
            path: ForwardPath::parse("<b@example.net>").unwrap(),
            params: RcptParameters {
                notify: Some(Notify::On(NotifyOn::new(true, false, true).unwrap())),
                orcpt: Some(Orcpt::new(OrcptType::Rfc822, "B+x=y@example.net").unwrap()),
                other: Vec::new(),
            },
        };
        let line = render_recipient(&recipient);
        assert_eq!(
            line,
            "<b@example.net>\tNOTIFY=SUCCESS,DELAY ORCPT=rfc822;B+2Bx+3Dy@example.net"
        );
        assert_eq!(parse_recipient(&line), Some(recipient));
        let bare = parse_recipient("<c@example.net>").unwrap();
        assert_eq!(bare.params, RcptParameters::default());
        assert!(parse_recipient("<c@example.net>\tNOTIFY=SOMETIMES").is_none());

        let message = MessageDsn {
            ret: Some(Ret::Headers),
            envid: Some(EnvelopeId::new("QQ 314+").unwrap()),
        };
        assert_eq!(message.render(), " RET=HDRS ENVID=QQ+20314+2B");
        assert_eq!(MessageDsn::parse(&message.render()), Some(message));
        assert_eq!(MessageDsn::parse(""), Some(MessageDsn::default()));
    }

    #[test]
    fn notify_rules_of_rfc_3461_section_4_1() {
        use Event::*;
        let on = |s, f, d| Some(Notify::On(NotifyOn::new(s, f, d).unwrap()));
        assert!(!asks_for(None, Success));
        assert!(asks_for(None, Failure) && asks_for(None, Delay));
        for event in [Success, Failure, Delay] {
            assert!(!asks_for(Some(Notify::Never), event));
        }
        assert!(asks_for(on(true, false, false), Success));
        assert!(!asks_for(on(true, false, false), Failure));
        assert!(!asks_for(on(false, true, false), Delay));
        assert!(asks_for(on(false, false, true), Delay));
    }
}
