//! The envelopes one transaction is stored as when the server feeds a
//! relay: the sender's own, and one per list owner the rewriting table
//! expanded a recipient to (RFC 5321 §3.9.2), each with the DSN
//! parameters its recipients go on with (RFC 3461 §5.2.7), and the
//! reports owed at once for recipients that asked `NOTIFY=SUCCESS` and
//! were expanded.

use smtpwire::delivery::{Action, RecipientReport};
use smtpwire::reply::EnhancedStatusCode;
use smtpwire::{ForwardPath, Notify, NotifyOn, RcptParameters};

use crate::relay::dsn::render_recipient;
use crate::relay::rewrite::Expansion;

/// One envelope to store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stored {
    /// Its reverse path as the `Return-Path:` line shows it; `None` for the
    /// sender's own (the transaction's, which the handler writes).
    pub owner: Option<String>,
    /// A list's envelope, which starts afresh: no MAIL DSN parameters of
    /// the sender's (RFC 3461 §5.2.7.1). Forwarded mail under an SRS
    /// sender keeps them.
    pub afresh: bool,
    /// Each recipient as its `X-Envelope-To:` line holds it: the path and
    /// DSN parameters.
    pub recipients: Vec<String>,
    /// The addresses the table rewrote into this envelope, as RCPT gave
    /// them, for `X-Original-To:` fields.
    pub original_to: Vec<String>,
}

/// The envelopes of one transaction.
#[derive(Debug, Clone, Default)]
pub struct Envelopes {
    /// The sender's own first, then one per list owner.
    pub stored: Vec<Stored>,
    /// `Action: expanded` or `delivered` reports owed to the sender for
    /// recipients that asked `NOTIFY=SUCCESS` (RFC 3461 §5.2.7).
    pub success: Vec<RecipientReport>,
}

/// 2.0.0: a report of success with nothing more to say (RFC 3463 §3.1).
const SUCCESS: EnhancedStatusCode = EnhancedStatusCode::new_const(2, 0, 0);

impl Envelopes {
    /// A recipient the table left as it is, as its envelope line holds it.
    pub fn keep(&mut self, line: String) {
        self.own().recipients.push(line);
    }

    /// A recipient the table rewrote, with the parameters RCPT gave it:
    /// a one-to-one alias keeps them (RFC 3461 §5.2.7.2); an alias to
    /// several passes `ORCPT` and `NOTIFY` without `SUCCESS` on, and owes
    /// an `expanded` report if `SUCCESS` was asked (§5.2.7.3); a list
    /// starts afresh, from its owner, without parameters, and owes a
    /// `delivered` report, the list being the end of this delivery
    /// (§5.2.7.1). `shown` is the original as header fields show it;
    /// `forwarded_from`, when given, is the reverse path (an SRS address)
    /// of the envelope the aliases' addresses go in instead of the
    /// sender's own.
    pub fn rewritten(
        &mut self,
        original: &ForwardPath,
        shown: &str,
        params: &RcptParameters,
        expansion: &Expansion,
        forwarded_from: Option<&str>,
    ) {
        let asked_success = matches!(params.notify, Some(Notify::On(on)) if on.success());
        let passed = if expansion.is_one_to_one() {
            params.clone()
        } else {
            RcptParameters {
                notify: params.notify.map(without_success),
                ..params.clone()
            }
        };
        let own_count = expansion.same_sender.recipients.len();
        for address in &expansion.same_sender.recipients {
            if let Ok(path) = ForwardPath::from_address(address) {
                let line = render(&path, &passed);
                let own = match forwarded_from {
                    None => self.own(),
                    Some(from) => self.envelope_of(from, false),
                };
                if !own.recipients.contains(&line) {
                    own.recipients.push(line);
                }
                push_once(&mut own.original_to, shown);
            }
        }
        for (owner, branch) in &expansion.lists {
            let stored = self.envelope_of(&format!("<{owner}>"), true);
            for address in &branch.recipients {
                let Ok(path) = ForwardPath::from_address(address) else {
                    continue;
                };
                let line = path.to_string();
                // Each member once per envelope, however many lists name it.
                if !stored.recipients.contains(&line) {
                    stored.recipients.push(line);
                }
            }
            push_once(&mut stored.original_to, shown);
        }
        if asked_success && !expansion.is_one_to_one() {
            let action = if own_count > 0 {
                Action::Expanded
            } else {
                Action::Delivered
            };
            self.success.push(RecipientReport {
                original_recipient: params.orcpt.clone(),
                final_recipient: original.clone(),
                action,
                status: SUCCESS,
                remote_mta: None,
                diagnostic: None,
                last_attempt_date: None,
                will_retry_until: None,
            });
        }
    }

    /// The envelope from `owner` (a reverse path in brackets), made if
    /// missing.
    fn envelope_of(&mut self, owner: &str, afresh: bool) -> &mut Stored {
        let found = self
            .stored
            .iter()
            .position(|stored| stored.owner.as_deref() == Some(owner) && stored.afresh == afresh);
        let index = found.unwrap_or_else(|| {
            self.stored.push(Stored {
                owner: Some(owner.to_string()),
                afresh,
                ..Stored::default()
            });
            self.stored.len() - 1
        });
        &mut self.stored[index]
    }

    /// The sender's own envelope, made if missing.
    fn own(&mut self) -> &mut Stored {
        if self
            .stored
            .first()
            .is_none_or(|first| first.owner.is_some())
        {
            self.stored.insert(0, Stored::default());
        }
        &mut self.stored[0]
    }
}

/// `NOTIFY` without `SUCCESS`; `NEVER` if nothing is left (RFC 3461
/// §5.2.7.3).
fn without_success(notify: Notify) -> Notify {
    match notify {
        Notify::On(on) => {
            NotifyOn::new(false, on.failure(), on.delay()).map_or(Notify::Never, Notify::On)
        }
        never => never,
    }
}

fn render(path: &ForwardPath, params: &RcptParameters) -> String {
    render_recipient(&smtpwire::client::Recipient {
        path: path.clone(),
        params: params.clone(),
    })
}

fn push_once(list: &mut Vec<String>, item: &str) {
    if !list.iter().any(|kept| kept == item) {
        list.push(item.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::relay::dsn::parse_recipient;
    use crate::relay::rewrite::{Resolution, Table};

    fn expansion(table: &str, address: &str) -> Expansion {
        match Table::parse(table).unwrap().resolve(address) {
            Resolution::Rewritten(expansion) => expansion,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn dsn_parameters_follow_section_5_2_7() {
        let table = "alias one@example.org a@example.net\n\
                     alias many@example.org a@example.net, b@example.net\n\
                     list team@example.org owner=owner@example.org c@example.net, a@example.net\n";
        let asked =
            parse_recipient("<x@example.org>\tNOTIFY=SUCCESS,FAILURE ORCPT=rfc822;x@example.com")
                .unwrap()
                .params;
        let mut envelopes = Envelopes::default();
        let one = ForwardPath::parse("<one@example.org>").unwrap();
        envelopes.rewritten(
            &one,
            "<one@example.org>",
            &asked,
            &expansion(table, "one@example.org"),
            None,
        );
        assert_eq!(
            envelopes.stored[0].recipients,
            ["<a@example.net>\tNOTIFY=SUCCESS,FAILURE ORCPT=rfc822;x@example.com"]
        );
        assert!(envelopes.success.is_empty());

        let many = ForwardPath::parse("<many@example.org>").unwrap();
        envelopes.rewritten(
            &many,
            "<many@example.org>",
            &asked,
            &expansion(table, "many@example.org"),
            None,
        );
        assert_eq!(
            envelopes.stored[0].recipients[1..],
            [
                "<a@example.net>\tNOTIFY=FAILURE ORCPT=rfc822;x@example.com",
                "<b@example.net>\tNOTIFY=FAILURE ORCPT=rfc822;x@example.com"
            ]
        );
        assert_eq!(envelopes.success[0].action, Action::Expanded);

        let team = ForwardPath::parse("<team@example.org>").unwrap();
        envelopes.rewritten(
            &team,
            "<team@example.org>",
            &asked,
            &expansion(table, "team@example.org"),
            None,
        );
        let list = &envelopes.stored[1];
        assert_eq!(list.owner.as_deref(), Some("<owner@example.org>"));
        assert_eq!(list.recipients, ["<c@example.net>", "<a@example.net>"]);
        assert_eq!(list.original_to, ["<team@example.org>"]);
        assert_eq!(envelopes.success[1].action, Action::Delivered);
        assert_eq!(
            without_success(Notify::On(NotifyOn::new(true, false, false).unwrap())),
            Notify::Never
        );
    }
}
