use alloc::string::ToString;
use alloc::vec;
use alloc::vec::Vec;
use core::time::Duration;

use super::{host, rcpt, reply};
use crate::address::ForwardPath;
use crate::client::{
    ClientEvent, MessageError, SessionError, TransactionFailure, TransactionId, Wait,
};
use crate::delivery::{Backoff, Delivery, Fate, Hop, RecipientState, Retry};
use crate::reply::{EnhancedStatusCode, Reply};

const ID: TransactionId = TransactionId(0);
const FIRST: u64 = 1_700_000_000;

fn hops(names: &[&str]) -> Vec<Hop> {
    names
        .iter()
        .zip(0u16..)
        .map(|(name, index)| Hop {
            host: host(name),
            preference: index * 10,
        })
        .collect()
}

fn backoff() -> Backoff {
    Backoff {
        initial: Duration::from_secs(600),
        factor: 2,
        max: Duration::from_secs(3600),
        give_up_after: Duration::from_secs(86_400),
    }
}

/// RCPT accepted for the recipient at `index` of the envelope.
fn accepted(index: usize, recipient: &ForwardPath) -> ClientEvent {
    ClientEvent::RecipientAccepted {
        id: ID,
        index,
        recipient: recipient.clone(),
        reply: reply(250, Some("2.1.5"), "Ok"),
    }
}

fn rejected(index: usize, recipient: &ForwardPath, reply: Reply) -> ClientEvent {
    ClientEvent::RecipientRejected {
        id: ID,
        index,
        recipient: recipient.clone(),
        reply,
    }
}

fn message_accepted() -> ClientEvent {
    ClientEvent::MessageAccepted {
        id: ID,
        reply: reply(250, Some("2.0.0"), "Queued"),
    }
}

fn failed(failure: TransactionFailure) -> ClientEvent {
    ClientEvent::TransactionFailed { id: ID, failure }
}

fn current(delivery: &Delivery<ForwardPath>) -> Option<alloc::string::String> {
    delivery.current_host().map(|hop| hop.host.to_string())
}

fn statuses(attempts: &[crate::delivery::AttemptRecord]) -> Vec<alloc::string::String> {
    attempts.iter().map(|a| a.status.to_string()).collect()
}

#[test]
fn connect_failure_421_and_4xx_move_to_the_next_host() {
    let bob = rcpt("bob@example.net");
    let mut delivery = Delivery::new(
        hops(&[
            "mx1.example.net",
            "mx2.example.net",
            "mx3.example.net",
            "mx4.example.net",
        ]),
        vec![bob.clone()],
    );
    delivery.connection_failed();
    assert_eq!(current(&delivery).as_deref(), Some("mx2.example.net"));

    // 421 before the transaction: the session fails, the message was not sent.
    let closing = reply(421, Some("4.3.2"), "Shutting down");
    delivery.observe(&ClientEvent::Error(SessionError::ServiceClosing(
        closing.clone(),
    )));
    delivery.observe(&failed(TransactionFailure::NotSent));
    delivery.end_host();
    assert_eq!(current(&delivery).as_deref(), Some("mx3.example.net"));

    // 451 to the end of data.
    delivery.observe(&accepted(0, &bob));
    delivery.observe(&failed(TransactionFailure::MessageRejected(reply(
        451,
        None,
        "Try later",
    ))));
    delivery.end_host();
    assert_eq!(current(&delivery).as_deref(), Some("mx4.example.net"));

    // The last one takes it.
    assert_eq!(delivery.pending().count(), 1);
    delivery.observe(&accepted(0, &bob));
    delivery.observe(&message_accepted());
    delivery.end_host();
    assert_eq!(current(&delivery), None);

    let settled = delivery.settle(&backoff(), 1, FIRST, FIRST);
    let bob = &settled.recipients[0];
    assert_eq!(bob.fate, Fate::Delivered);
    assert_eq!(
        statuses(&bob.attempts),
        ["4.4.1", "4.3.2", "4.0.0", "2.0.0"]
    );
    assert_eq!(bob.attempts[1].reply.as_ref(), Some(&closing));
    assert_eq!(bob.attempts[2].host, Some(host("mx3.example.net")));
    assert_eq!(settled.retry_at, None);
}

#[test]
fn exhausted_hosts_defer_by_the_backoff() {
    let bob = rcpt("bob@example.net");
    let mut delivery = Delivery::new(
        hops(&["mx1.example.net", "mx2.example.net"]),
        vec![bob.clone()],
    );
    delivery.observe(&failed(TransactionFailure::MailRejected(reply(
        451,
        Some("4.7.1"),
        "Greylisted",
    ))));
    delivery.end_host();
    delivery.observe(&ClientEvent::Error(SessionError::Timeout(Wait::Greeting)));
    delivery.end_host();
    assert_eq!(current(&delivery), None);

    // Third attempt at the message, one hour in: waits 600 * 2^2 s.
    let now = FIRST + 3600;
    let settled = delivery.settle(&backoff(), 3, FIRST, now);
    assert_eq!(
        settled.recipients[0].fate,
        Fate::Delayed {
            retry_at: now + 2400
        }
    );
    assert_eq!(
        statuses(&settled.recipients[0].attempts),
        ["4.7.1", "4.4.2"]
    );
    assert_eq!(settled.retry_at, Some(now + 2400));
}

#[test]
fn backoff_schedule() {
    let backoff = backoff();
    let delays: Vec<u64> = (1..=6).map(|n| backoff.delay(n).as_secs()).collect();
    assert_eq!(delays, [600, 1200, 2400, 3600, 3600, 3600]);
    assert_eq!(backoff.delay(0).as_secs(), 600);
    assert_eq!(backoff.delay(u32::MAX).as_secs(), 3600);
    // The last retry falls on the deadline, then it gives up.
    let deadline = FIRST + 86_400;
    assert_eq!(
        backoff.next_retry(30, FIRST, deadline - 60),
        Retry::At(deadline)
    );
    assert_eq!(backoff.next_retry(31, FIRST, deadline), Retry::GiveUp);
    // A constant schedule, and a factor of 0 taken as 1.
    let constant = Backoff {
        factor: 0,
        ..backoff
    };
    assert_eq!(constant.delay(9).as_secs(), 600);
    // Times near the end of the clock do not overflow.
    assert_eq!(
        backoff.next_retry(1, u64::MAX - 10, u64::MAX - 5),
        Retry::At(u64::MAX)
    );
    assert_eq!(Backoff::default().delay(1), Duration::from_secs(1800));
}

#[test]
fn gives_up_after_the_configured_time() {
    let bob = rcpt("bob@example.net");
    let mut delivery = Delivery::new(hops(&["mx1.example.net"]), vec![bob]);
    delivery.connection_failed();
    let settled = delivery.settle(&backoff(), 12, FIRST, FIRST + 86_400);
    assert_eq!(settled.recipients[0].fate, Fate::Failed);
    // The persistent transient status is kept (RFC 3464 §2.3.4).
    assert_eq!(statuses(&settled.recipients[0].attempts), ["4.4.1"]);
    assert_eq!(settled.retry_at, None);
}

#[test]
fn permanent_transaction_failure_fails_without_the_next_host() {
    let bob = rcpt("bob@example.net");
    let mut delivery = Delivery::new(
        hops(&["mx1.example.net", "mx2.example.net"]),
        vec![bob.clone()],
    );
    delivery.observe(&accepted(0, &bob));
    let refused = reply(554, Some("5.7.1"), "Spam");
    delivery.observe(&failed(TransactionFailure::MessageRejected(
        refused.clone(),
    )));
    assert_eq!(
        delivery.states().next().map(|(_, s)| s),
        Some(RecipientState::Failed)
    );
    delivery.end_host();
    assert_eq!(current(&delivery), None);
    let settled = delivery.settle(&backoff(), 1, FIRST, FIRST);
    assert_eq!(settled.recipients[0].fate, Fate::Failed);
    assert_eq!(settled.recipients[0].attempts.len(), 1);
    assert_eq!(settled.recipients[0].attempts[0].reply, Some(refused));
}

#[test]
fn per_recipient_replies_settle_each_recipient() {
    let (a, b, c) = (
        rcpt("a@example.net"),
        rcpt("b@example.net"),
        rcpt("c@example.net"),
    );
    let mut delivery = Delivery::new(
        hops(&["mx1.example.net", "mx2.example.net"]),
        vec![a.clone(), b.clone(), c.clone()],
    );
    delivery.observe(&accepted(0, &a));
    delivery.observe(&rejected(1, &b, reply(550, Some("5.1.1"), "No such user")));
    delivery.observe(&rejected(2, &c, reply(452, Some("4.2.2"), "Mailbox full")));
    delivery.observe(&message_accepted());
    delivery.end_host();
    // Nothing is left for mx2: c waits for the next try at the message.
    assert_eq!(current(&delivery), None);
    let settled = delivery.settle(&backoff(), 1, FIRST, FIRST);
    let fates: Vec<Fate> = settled.recipients.iter().map(|s| s.fate).collect();
    let later = FIRST + 600;
    assert_eq!(
        fates,
        [
            Fate::Delivered,
            Fate::Failed,
            Fate::Delayed { retry_at: later }
        ]
    );
    assert!(settled.recipients[1].attempts[0]
        .classification()
        .is_hard_bounce());
    assert_eq!(settled.retry_at, Some(later));
}

#[test]
fn lmtp_replies_after_the_content() {
    let (a, b) = (rcpt("a@example.net"), rcpt("b@example.net"));
    let mut delivery = Delivery::new(hops(&["[192.0.2.1]"]), vec![a.clone(), b.clone()]);
    delivery.observe(&accepted(0, &a));
    delivery.observe(&accepted(1, &b));
    let delivery_reply = |index, recipient: &ForwardPath, reply| ClientEvent::RecipientDelivery {
        id: ID,
        index,
        recipient: recipient.clone(),
        reply,
    };
    delivery.observe(&delivery_reply(
        0,
        &a,
        reply(250, Some("2.0.0"), "Delivered"),
    ));
    delivery.observe(&delivery_reply(
        1,
        &b,
        reply(552, Some("5.2.2"), "Over quota"),
    ));
    delivery.observe(&message_accepted());
    delivery.end_host();
    let settled = delivery.settle(&backoff(), 1, FIRST, FIRST);
    let fates: Vec<Fate> = settled.recipients.iter().map(|s| s.fate).collect();
    assert_eq!(fates, [Fate::Delivered, Fate::Failed]);
    assert_eq!(statuses(&settled.recipients[1].attempts), ["5.2.2"]);
}

#[test]
fn the_same_address_twice_is_matched_in_order() {
    let a = rcpt("a@example.net");
    let mut delivery = Delivery::new(hops(&["mx.example.net"]), vec![a.clone(), a.clone()]);
    delivery.observe(&accepted(0, &a));
    delivery.observe(&rejected(1, &a, reply(550, None, "No")));
    delivery.observe(&message_accepted());
    delivery.end_host();
    let states: Vec<RecipientState> = delivery.states().map(|(_, state)| state).collect();
    assert_eq!(states, [RecipientState::Delivered, RecipientState::Failed]);
}

#[test]
fn recipient_indices_count_in_the_envelope_sent_to_each_host() {
    let (a, b, c) = (
        rcpt("a@example.net"),
        rcpt("b@example.net"),
        rcpt("c@example.net"),
    );
    let mut delivery = Delivery::new(
        hops(&["mx1.example.net", "mx2.example.net"]),
        vec![a.clone(), b.clone(), c.clone()],
    );
    // The first host refuses b, then the whole message for now: a and c
    // go on to the next host.
    delivery.observe(&accepted(0, &a));
    delivery.observe(&rejected(1, &b, reply(550, Some("5.1.1"), "No such user")));
    delivery.observe(&accepted(2, &c));
    delivery.observe(&failed(TransactionFailure::MessageRejected(reply(
        451,
        Some("4.3.0"),
        "Try later",
    ))));
    delivery.end_host();
    let pending: Vec<&ForwardPath> = delivery.pending().collect();
    assert_eq!(pending, [&a, &c]);
    // The second host's envelope is [a, c]: index 1 is c.
    delivery.observe(&rejected(0, &a, reply(550, Some("5.7.1"), "Refused")));
    delivery.observe(&accepted(1, &c));
    delivery.observe(&message_accepted());
    delivery.end_host();
    let states: Vec<RecipientState> = delivery.states().map(|(_, state)| state).collect();
    assert_eq!(
        states,
        [
            RecipientState::Failed,
            RecipientState::Failed,
            RecipientState::Delivered
        ]
    );
}

#[test]
fn a_message_no_host_can_take_fails_once_every_host_is_tried() {
    let bob = rcpt("bob@example.net");
    let refused = || {
        failed(TransactionFailure::Refused(
            MessageError::SmtpUtf8NotSupported,
        ))
    };
    let mut delivery = Delivery::new(
        hops(&["mx1.example.net", "mx2.example.net"]),
        vec![bob.clone()],
    );
    delivery.observe(&refused());
    delivery.end_host();
    assert_eq!(current(&delivery).as_deref(), Some("mx2.example.net"));
    delivery.observe(&refused());
    delivery.end_host();
    let settled = delivery.settle(&backoff(), 1, FIRST, FIRST);
    assert_eq!(settled.recipients[0].fate, Fate::Failed);
    assert_eq!(
        statuses(&settled.recipients[0].attempts),
        ["5.6.7", "5.6.7"]
    );

    // But a second host that can take it does.
    let mut delivery = Delivery::new(
        hops(&["mx1.example.net", "mx2.example.net"]),
        vec![bob.clone()],
    );
    delivery.observe(&refused());
    delivery.end_host();
    delivery.observe(&accepted(0, &bob));
    delivery.observe(&message_accepted());
    delivery.end_host();
    let settled = delivery.settle(&backoff(), 1, FIRST, FIRST);
    assert_eq!(settled.recipients[0].fate, Fate::Delivered);
}

#[test]
fn a_message_refused_here_before_sending_moves_on_to_the_next_host() {
    let bob = rcpt("bob@example.net");
    let mut delivery = Delivery::new(
        hops(&["mx1.example.net", "mx2.example.net"]),
        vec![bob.clone()],
    );
    delivery.refused_here(&MessageError::EightBitNotSupported);
    delivery.end_host();
    assert_eq!(current(&delivery).as_deref(), Some("mx2.example.net"));
    delivery.refused_here(&MessageError::EightBitNotSupported);
    delivery.end_host();
    let settled = delivery.settle(&backoff(), 1, FIRST, FIRST);
    assert_eq!(settled.recipients[0].fate, Fate::Failed);
    assert_eq!(
        statuses(&settled.recipients[0].attempts),
        ["5.6.3", "5.6.3"]
    );
}

#[test]
fn a_refused_greeting_is_the_hosts_trouble() {
    let bob = rcpt("bob@example.net");
    let mut delivery = Delivery::new(hops(&["mx1.example.net"]), vec![bob]);
    let greeting = reply(554, Some("5.7.1"), "Go away");
    delivery.observe(&ClientEvent::Error(SessionError::GreetingRefused(
        greeting.clone(),
    )));
    delivery.observe(&failed(TransactionFailure::NotSent));
    delivery.end_host();
    let settled = delivery.settle(&backoff(), 1, FIRST, FIRST);
    assert_eq!(
        settled.recipients[0].fate,
        Fate::Delayed {
            retry_at: FIRST + 600
        }
    );
    assert_eq!(statuses(&settled.recipients[0].attempts), ["4.7.1"]);
    assert_eq!(settled.recipients[0].attempts[0].reply, Some(greeting));
}

#[test]
fn no_hosts_at_all() {
    let delivery: Delivery<ForwardPath> = Delivery::new(vec![], vec![rcpt("a@example.net")]);
    assert_eq!(current(&delivery), None);
    let settled = delivery.settle(&backoff(), 1, FIRST, FIRST);
    assert_eq!(statuses(&settled.recipients[0].attempts), ["4.4.4"]);
    assert!(matches!(settled.recipients[0].fate, Fate::Delayed { .. }));
}

#[test]
fn planned_group_feeds_a_delivery() {
    use crate::delivery::{MxAnswer, MxAnswers, Planner};
    let mut answers = MxAnswers::new();
    answers.insert(super::domain("example.net"), MxAnswer::NoRecords);
    let mut plan = Planner::new(vec![], 0).plan(vec![rcpt("a@example.net")], &answers);
    let delivery = Delivery::for_group(plan.groups.remove(0));
    assert_eq!(current(&delivery).as_deref(), Some("example.net"));
}

#[test]
fn unroutable_recipients_fail_or_wait() {
    use crate::delivery::{MxAnswer, MxAnswers, Planner};
    let mut answers = MxAnswers::new();
    answers.insert(super::domain("null.example"), MxAnswer::NullMx);
    answers.insert(super::domain("flaky.example"), MxAnswer::LookupFailed);
    let recipients = vec![rcpt("a@null.example"), rcpt("b@flaky.example")];
    let plan = Planner::new(vec![], 0).plan(recipients, &answers);
    assert!(plan.groups.is_empty());
    let settled = Delivery::for_unroutable(plan.unroutable).settle(&backoff(), 1, FIRST, FIRST);
    let fates: Vec<Fate> = settled.recipients.iter().map(|s| s.fate).collect();
    assert_eq!(
        fates,
        [
            Fate::Failed,
            Fate::Delayed {
                retry_at: FIRST + 600
            }
        ]
    );
    assert_eq!(statuses(&settled.recipients[0].attempts), ["5.1.10"]);
    assert_eq!(statuses(&settled.recipients[1].attempts), ["4.4.3"]);
}

#[test]
fn a_message_refused_before_sending_fails_everywhere_at_once() {
    let (a, b) = (rcpt("a@example.net"), rcpt("b@example.net"));
    let mut delivery = Delivery::new(hops(&["mx1.example.net", "mx2.example.net"]), vec![a, b]);
    delivery.refuse_unsent(EnhancedStatusCode::new_const(5, 6, 0));
    assert!(delivery.current_host().is_none());
    let settled = delivery.settle(&backoff(), 1, FIRST, FIRST);
    for recipient in &settled.recipients {
        assert_eq!(recipient.fate, Fate::Failed, "{recipient:?}");
        assert_eq!(recipient.attempts.len(), 1);
        assert_eq!(recipient.attempts[0].status.to_string(), "5.6.0");
        assert_eq!(recipient.attempts[0].host, None);
    }
}

#[test]
fn a_host_a_tls_policy_refuses_is_skipped_with_a_transient_security_status() {
    let bob = rcpt("bob@example.net");
    let mut delivery = Delivery::new(
        hops(&["mx1.example.net", "mx2.example.net"]),
        vec![bob.clone()],
    );
    // Even a permanent code is recorded as transient: the policy may be
    // met by another host or later.
    delivery.refused_by_policy(EnhancedStatusCode::new_const(5, 7, 5));
    assert_eq!(current(&delivery).as_deref(), Some("mx2.example.net"));
    delivery.refused_by_policy(EnhancedStatusCode::new_const(4, 7, 10));
    assert_eq!(current(&delivery), None);
    let now = FIRST + 60;
    let settled = delivery.settle(&backoff(), 1, FIRST, now);
    assert!(matches!(settled.recipients[0].fate, Fate::Delayed { .. }));
    assert_eq!(
        statuses(&settled.recipients[0].attempts),
        ["4.7.5", "4.7.10"]
    );
}
