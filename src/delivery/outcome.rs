//! What became of each recipient after trying a list of hosts: the rules of
//! RFC 5321 §4.2.1, §4.5.4 and §5.1, applied to a client session's events.

use alloc::vec::Vec;

use super::backoff::{Backoff, Retry};
use super::failure::{
    as_transient, message_failure, session_failure, status_of, HostFailure, BAD_CONNECTION,
    NO_ANSWER,
};
use super::mx::{Hop, RouteError};
use super::plan::{HopGroup, Routable, Unroutable};
use crate::address::Host;
use crate::client::{ClientEvent, MessageError, TransactionFailure};
use crate::reply::{Classification, EnhancedStatusCode, Permanence, Reply, ReplyClass};

/// One try at one host for one recipient, kept for the delivery report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRecord {
    /// The host tried (the report's Remote-MTA); `None` when there was none.
    pub host: Option<Host>,
    /// The outcome as an enhanced status code: the server's, or one chosen
    /// for a failure without a reply.
    pub status: EnhancedStatusCode,
    /// The server's reply (the report's Diagnostic-Code), if there was one.
    pub reply: Option<Reply>,
}

impl AttemptRecord {
    /// Whether to retry, and why it failed.
    pub fn classification(&self) -> Classification {
        Classification::of_status(self.status)
    }

    /// The record for a destination no host was found for.
    pub fn unroutable(error: RouteError) -> Self {
        AttemptRecord {
            host: None,
            status: error.status(),
            reply: None,
        }
    }
}

/// Where a recipient stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecipientState {
    /// Not yet settled: goes to the next host.
    Pending,
    /// A server took it.
    Delivered,
    /// Refused for good.
    Failed,
    /// Refused for now, by the server for this recipient alone: retried
    /// with the next attempt at the whole message, not at the next host.
    Deferred,
}

/// X.4.4 Unable to route (RFC 3463 §3.5).
const UNABLE_TO_ROUTE: EnhancedStatusCode = EnhancedStatusCode::new_const(4, 4, 4);

#[derive(Debug)]
struct Tracked<R> {
    recipient: R,
    state: RecipientState,
    /// RCPT accepted at the current host.
    accepted: bool,
    /// An attempt was already recorded at the current host.
    recorded_here: bool,
    attempts: Vec<AttemptRecord>,
}

/// One message on its way to one [`HopGroup`]: the hosts to try in turn
/// and what each recipient's attempts came to.
///
/// For each host from [`current_host`](Self::current_host): connect (or call
/// [`connection_failed`](Self::connection_failed)), send the message to the
/// [`pending`](Self::pending) recipients with a client session, pass this
/// message's events to [`observe`](Self::observe), and call
/// [`end_host`](Self::end_host) when the session is over. When no host is
/// left, [`settle`](Self::settle) turns what happened into each recipient's
/// fate. The rules:
///
/// - A connection that fails, a session that fails (421, a refused
///   greeting, a timeout, a lost connection) and a transaction refused with
///   4yz send the unsettled recipients on to the next host (RFC 5321 §5.1:
///   try each address in turn until one works).
/// - A transaction refused with 5yz fails its unsettled recipients.
/// - A recipient refused (RCPT, or an LMTP reply after the content) is
///   settled by that reply alone: 2yz delivered, 5yz failed, 4yz deferred.
/// - A message this host cannot take as it is (SIZE, SMTPUTF8, 8BITMIME,
///   REQUIRETLS) goes on to the next host too, but fails once none is left.
/// - What is left at the end is deferred, and the [`Backoff`] says when to
///   try again or that it is time to give up.
///
/// ```
/// use smtpwire::delivery::{Backoff, Delivery, Fate, Hop};
/// use smtpwire::{Domain, ForwardPath, Host};
///
/// let hop = |name: &str, preference| Hop {
///     host: Host::Domain(Domain::parse(name).unwrap()),
///     preference,
/// };
/// let rcpt = ForwardPath::parse("<bob@example.net>").unwrap();
/// let hops = vec![hop("mx1.example.net", 10), hop("mx2.example.net", 20)];
/// let mut delivery = Delivery::new(hops, vec![rcpt]);
///
/// // Neither exchanger answers: the message waits for the backoff.
/// delivery.connection_failed();
/// assert_eq!(delivery.current_host().unwrap().host.to_string(), "mx2.example.net");
/// delivery.connection_failed();
/// assert!(delivery.current_host().is_none());
///
/// let first_attempt = 1_700_000_000;
/// let settled = delivery.settle(&Backoff::default(), 1, first_attempt, first_attempt);
/// let retry_at = first_attempt + 30 * 60;
/// assert_eq!(settled.recipients[0].fate, Fate::Delayed { retry_at });
/// assert_eq!(settled.recipients[0].attempts.len(), 2);
/// assert_eq!(settled.recipients[0].attempts[0].status.to_string(), "4.4.1");
/// assert_eq!(settled.retry_at, Some(retry_at));
/// ```
#[derive(Debug)]
pub struct Delivery<R> {
    hops: Vec<Hop>,
    next: usize,
    recipients: Vec<Tracked<R>>,
    failure: Option<HostFailure>,
    /// For each recipient of the envelope sent to the current host, its
    /// place in `recipients`.
    sent: Vec<usize>,
}

impl<R: Routable> Delivery<R> {
    /// A delivery to `hops`, in order, for `recipients`.
    pub fn new(hops: Vec<Hop>, recipients: Vec<R>) -> Self {
        let mut delivery = Delivery {
            hops,
            next: 0,
            recipients: recipients
                .into_iter()
                .map(|recipient| Tracked {
                    recipient,
                    state: RecipientState::Pending,
                    accepted: false,
                    recorded_here: false,
                    attempts: Vec::new(),
                })
                .collect(),
            failure: None,
            sent: Vec::new(),
        };
        delivery.mark_sent();
        delivery
    }

    /// A delivery for a planned group.
    pub fn for_group(group: HopGroup<R>) -> Self {
        Self::new(group.hops, group.recipients)
    }

    /// A delivery with no host for recipients the plan found none for, to
    /// [`settle`](Self::settle) at once: failed when the route error is
    /// permanent (a null MX, a loop), retried by the backoff otherwise (a
    /// failed lookup).
    pub fn for_unroutable(unroutable: Vec<Unroutable<R>>) -> Self {
        let mut delivery = Self::new(Vec::new(), Vec::new());
        delivery.recipients = unroutable
            .into_iter()
            .map(|Unroutable { recipient, error }| Tracked {
                recipient,
                state: RecipientState::Pending,
                accepted: false,
                recorded_here: false,
                attempts: alloc::vec![AttemptRecord::unroutable(error)],
            })
            .collect();
        delivery.mark_sent();
        delivery
    }

    /// The host to try now; `None` when every host was tried or no
    /// recipient is left.
    pub fn current_host(&self) -> Option<&Hop> {
        let unsettled = self
            .recipients
            .iter()
            .any(|tracked| tracked.state == RecipientState::Pending);
        self.hops.get(self.next).filter(|_| unsettled)
    }

    /// The recipients to send to the current host, in the order the
    /// envelope must list them: the recipient indices of the session's
    /// events are read as positions in this list.
    pub fn pending(&self) -> impl Iterator<Item = &R> {
        self.recipients
            .iter()
            .filter(|tracked| tracked.state == RecipientState::Pending)
            .map(|tracked| &tracked.recipient)
    }

    /// Each recipient's state.
    pub fn states(&self) -> impl Iterator<Item = (&R, RecipientState)> {
        self.recipients
            .iter()
            .map(|tracked| (&tracked.recipient, tracked.state))
    }

    /// The message cannot go as it is, to any host (a line longer than RFC
    /// 5321 §4.5.3.1.6 allows, say, found before sending): every pending
    /// recipient fails for good with `status`, and no host is tried.
    pub fn refuse_unsent(&mut self, status: EnhancedStatusCode) {
        for tracked in &mut self.recipients {
            if tracked.state == RecipientState::Pending {
                tracked.state = RecipientState::Failed;
                tracked.attempts.push(AttemptRecord {
                    host: None,
                    status,
                    reply: None,
                });
            }
        }
    }

    /// The session at the current host would not send the message as it
    /// is (it needs an extension the host does not offer, or is over the
    /// host's SIZE), so nothing of it was sent: that counts against this
    /// host only, and another host may take it.
    pub fn refused_here(&mut self, error: &MessageError) {
        self.fail_host(message_failure(error));
    }

    /// The current host could not be reached: records 4.4.1 for its
    /// recipients and moves to the next host.
    pub fn connection_failed(&mut self) {
        self.fail_host(HostFailure {
            status: NO_ANSWER,
            reply: None,
        });
        self.end_host();
    }

    /// The current host was not used, or its session not trusted, because
    /// a TLS policy of the destination forbids it (MTA-STS, RFC 8461 §4.2;
    /// DANE, RFC 7672 §2.2): records `status`, made transient since
    /// another host or a later try may meet the policy, for its recipients
    /// and moves to the next host.
    pub fn refused_by_policy(&mut self, status: EnhancedStatusCode) {
        self.fail_host(HostFailure {
            status: as_transient(status),
            reply: None,
        });
        self.end_host();
    }

    /// Takes one event of this message's transaction, or of the session
    /// carrying it, at the current host. Pass only the events of this
    /// message (its [`TransactionId`](crate::client::TransactionId)) and of
    /// the session.
    pub fn observe(&mut self, event: &ClientEvent) {
        match event {
            ClientEvent::RecipientAccepted { index, .. } => {
                if let Some(tracked) = self.sent_here(*index) {
                    tracked.accepted = true;
                }
            }
            ClientEvent::RecipientRejected { index, reply, .. }
            | ClientEvent::RecipientDelivery { index, reply, .. } => {
                let host = self.current_host_name();
                if let Some(tracked) = self.sent_here(*index) {
                    settle_by_reply(tracked, host, reply);
                }
            }
            ClientEvent::MessageAccepted { reply, .. } => {
                let host = self.current_host_name();
                for tracked in self.unsettled_here() {
                    if tracked.accepted {
                        settle_by_reply(tracked, host.clone(), reply);
                    }
                }
            }
            ClientEvent::TransactionFailed { failure, .. } => self.transaction_failed(failure),
            ClientEvent::Error(error) => self.fail_host(session_failure(error)),
            ClientEvent::Greeting(_)
            | ClientEvent::Capabilities(_)
            | ClientEvent::Authenticated(_)
            | ClientEvent::NoopReply(_) => {}
        }
    }

    /// The attempt at the current host is over: recipients it left
    /// unsettled get the host's failure (4.4.2 if there was none to report)
    /// and go on to the next host.
    pub fn end_host(&mut self) {
        let host = self.current_host_name();
        let failure = self.failure.take().unwrap_or(HostFailure {
            status: BAD_CONNECTION,
            reply: None,
        });
        for tracked in &mut self.recipients {
            if tracked.state == RecipientState::Pending && !tracked.recorded_here {
                tracked.attempts.push(AttemptRecord {
                    host: host.clone(),
                    status: failure.status,
                    reply: failure.reply.clone(),
                });
            }
            tracked.accepted = false;
            tracked.recorded_here = false;
        }
        self.next = self.next.saturating_add(1);
        self.mark_sent();
    }

    /// Each recipient's fate once no host is left. `attempt` counts the
    /// tries at the whole message, this one included (from 1), made at `now`;
    /// the first was at `first_attempt` (seconds on the caller's clock).
    ///
    /// Recipients still pending are failed if the last host refused the
    /// message for good, deferred otherwise; deferred ones are failed too
    /// once the backoff gives up, keeping their last 4.x.x status: a
    /// persistent transient failure (RFC 3463 §3.1), as in the RFC 3464 §9.1
    /// example.
    pub fn settle(
        self,
        backoff: &Backoff,
        attempt: u32,
        first_attempt: u64,
        now: u64,
    ) -> Settlement<R> {
        let retry = backoff.next_retry(attempt, first_attempt, now);
        let mut retry_at = None;
        let recipients =
            self.recipients
                .into_iter()
                .map(|mut tracked| {
                    if tracked.attempts.is_empty() {
                        tracked.attempts.push(AttemptRecord {
                            host: None,
                            status: UNABLE_TO_ROUTE,
                            reply: None,
                        });
                    }
                    let last_permanent = tracked.attempts.last().is_some_and(|last| {
                        last.classification().permanence == Permanence::Permanent
                    });
                    let fate = match tracked.state {
                        RecipientState::Delivered => Fate::Delivered,
                        RecipientState::Failed => Fate::Failed,
                        RecipientState::Pending if last_permanent => Fate::Failed,
                        RecipientState::Pending | RecipientState::Deferred => match retry {
                            Retry::At(at) => {
                                retry_at = Some(at);
                                Fate::Delayed { retry_at: at }
                            }
                            Retry::GiveUp => Fate::Failed,
                        },
                    };
                    Settled {
                        recipient: tracked.recipient,
                        fate,
                        attempts: tracked.attempts,
                    }
                })
                .collect();
        Settlement {
            recipients,
            retry_at,
        }
    }

    fn current_host_name(&self) -> Option<Host> {
        self.hops.get(self.next).map(|hop| hop.host.clone())
    }

    fn unsettled_here(&mut self) -> impl Iterator<Item = &mut Tracked<R>> {
        self.recipients
            .iter_mut()
            .filter(|tracked| tracked.state == RecipientState::Pending && !tracked.recorded_here)
    }

    /// The recipient at `index` of the envelope sent to the current host,
    /// unless it is settled here already.
    fn sent_here(&mut self, index: usize) -> Option<&mut Tracked<R>> {
        let tracked = self.recipients.get_mut(*self.sent.get(index)?)?;
        (tracked.state == RecipientState::Pending && !tracked.recorded_here).then_some(tracked)
    }

    /// The recipients the next host is sent, as [`pending`](Self::pending)
    /// lists them: the envelope an event's recipient index points into.
    fn mark_sent(&mut self) {
        self.sent = self
            .recipients
            .iter()
            .enumerate()
            .filter(|(_, tracked)| tracked.state == RecipientState::Pending)
            .map(|(at, _)| at)
            .collect();
    }

    fn transaction_failed(&mut self, failure: &TransactionFailure) {
        match failure {
            TransactionFailure::MailRejected(reply)
            | TransactionFailure::DataRejected(reply)
            | TransactionFailure::MessageRejected(reply) => {
                if reply.code().class() == ReplyClass::PermanentNegative {
                    let host = self.current_host_name();
                    for tracked in self.unsettled_here() {
                        settle_by_reply(tracked, host.clone(), reply);
                    }
                } else {
                    self.fail_host(HostFailure {
                        status: status_of(reply),
                        reply: Some(reply.clone()),
                    });
                }
            }
            TransactionFailure::Refused(error) => self.fail_host(message_failure(error)),
            TransactionFailure::NotSent | TransactionFailure::Interrupted => {
                self.fail_host(HostFailure {
                    status: BAD_CONNECTION,
                    reply: None,
                })
            }
            // Every recipient was refused and reported on its own.
            TransactionFailure::NoValidRecipients => {}
        }
    }

    /// Notes why the host failed; a failure with the server's reply says
    /// more than one without, so it wins.
    fn fail_host(&mut self, failure: HostFailure) {
        let better = match &self.failure {
            None => true,
            Some(known) => known.reply.is_none() && failure.reply.is_some(),
        };
        if better {
            self.failure = Some(failure);
        }
    }
}

/// Settles a recipient by a reply about it alone.
fn settle_by_reply<R>(tracked: &mut Tracked<R>, host: Option<Host>, reply: &Reply) {
    tracked.state = match reply.code().class() {
        ReplyClass::PositiveCompletion | ReplyClass::PositiveIntermediate => {
            RecipientState::Delivered
        }
        ReplyClass::TransientNegative => RecipientState::Deferred,
        ReplyClass::PermanentNegative => RecipientState::Failed,
    };
    tracked.recorded_here = true;
    tracked.attempts.push(AttemptRecord {
        host,
        status: status_of(reply),
        reply: Some(reply.clone()),
    });
}

/// What became of a recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fate {
    /// A server took it.
    Delivered,
    /// It will not be delivered: report it to the sender.
    Failed,
    /// Try again at this time.
    Delayed {
        /// When, in the caller's seconds.
        retry_at: u64,
    },
}

/// One recipient's fate and every attempt that led to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settled<R> {
    /// The recipient.
    pub recipient: R,
    /// What became of it.
    pub fate: Fate,
    /// Every attempt, oldest first; never empty.
    pub attempts: Vec<AttemptRecord>,
}

/// The outcome of trying a message's hosts, from [`Delivery::settle`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settlement<R> {
    /// Each recipient, in the order given.
    pub recipients: Vec<Settled<R>>,
    /// When to try the delayed recipients again; `None` if none is.
    pub retry_at: Option<u64>,
}
