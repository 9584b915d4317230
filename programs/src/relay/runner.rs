//! The queue runner: due messages' pending recipients are grouped by
//! destination, each destination gets one connection per host carrying all
//! of its messages, and each message's outcome is written to the queue as
//! its transaction ends: a crash sends again only what was on the wire.
//!
//! Each (source address, receiving provider) pair keeps a pace that its
//! provider's throttling replies slow down, and, with a warm-up schedule,
//! caps on what it sends an hour and a day; a message over a cap or its
//! pace stays queued, without counting as an attempt, and is tried when
//! they allow. The counts and paces are kept in the queue's ledger, so a
//! restart neither resets the caps nor resumes at full speed against a
//! provider that is still throttling.
//!
//! The queue tools (`smtpwire-queue`) act on messages while the runner
//! runs: the runner holds a shared [`Claim`] on each message from the scan
//! that sends it until its outcome is written back, and skips a message a
//! tool holds an exclusive one on; a held message is out of
//! `incoming/new/`, which is all the runner scans.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use smtpwire::client::Recipient;
use smtpwire::delivery::{
    Action, Backoff, Delivery, Fate, Pace, Plan, Planner, RecipientReport, RouteError, Settled,
    Unroutable, Warmup,
};
use smtpwire::{Domain, ForwardPath, Host, Text};
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio::task::{Id as TaskId, JoinSet};
use tokio::time::MissedTickBehavior;

use super::bounce::{self, About, Notice};
use super::claim::Claim;
use super::dsn::{asks_for, relayed_reports, report_if_asked, waiting_report, Event};
use super::queue::{Queue, Queued, Standing};
use super::rewrite;
use crate::outbound::ledger::{warm_retry_at, Ledger};
use crate::outbound::pacing::{by_throttling, pair_of, Paces, Pair};
use crate::outbound::transfer::{Outgoing, Transfer, PIPELINED_WINDOW};
use crate::outbound::{random_seed, unix_now};
use crate::server::maildir::Maildir;
use crate::trace::rfc5322_date;

/// A destination's messages, each with its queue name.
type Batch = Vec<(String, Outgoing<Recipient>)>;

/// Most messages out for delivery, and so in memory, at once; the rest wait
/// for a later scan.
const MAX_IN_FLIGHT: usize = 1000;

/// Delivers what is queued.
pub struct Runner {
    /// The queue directory.
    pub queue: Queue,
    /// Where bounces are queued: the queue's incoming Maildir.
    pub store: Maildir,
    /// How to reach next hops.
    pub transfer: Arc<Transfer>,
    /// When to retry, and when to give up.
    pub backoff: Backoff,
    /// This relay's name: the Reporting-MTA of its bounces.
    pub hostname: Domain,
    /// Names and literals this relay is known by, so that an MX pointing
    /// back at it is not followed (RFC 5321 §5.1).
    pub own_hosts: Vec<Host>,
    /// The pause between queue scans.
    pub interval: Duration,
    /// Most messages per connection.
    pub per_connection: usize,
    /// Destinations delivered to at once.
    pub connections: usize,
    /// How long a message may wait before its sender is told it is
    /// delayed; `None` never tells.
    pub warn_after: Option<Duration>,
    /// Signs messages whose From: domain has a key, once, before their
    /// first delivery attempt; the keys may be replaced while it runs.
    pub dkim: Arc<arc_swap::ArcSwapOption<crate::dkim::Signer>>,
    /// With a table, the `From:` and `Sender:` fields go through its
    /// sender rules once, before the first attempt and before signing.
    pub header_rewriting: Option<Arc<crate::relay::rewrite::Rewriting>>,
    /// The pause after a provider's first throttling reply to a source
    /// address; it doubles while the throttling goes on.
    pub throttle_pause: Duration,
    /// The warm-up caps of each pair; `None`, no caps.
    pub warmup: Option<Warmup>,
}

/// A message out for delivery: its queue entry, its content, the
/// destinations still being tried and what the finished ones came to.
struct InFlight {
    queued: Queued,
    /// Keeps the queue tools off it until its outcome is written back.
    claim: Claim,
    content: Bytes,
    /// It came with REQUIRETLS (RFC 8689).
    requiretls: bool,
    outstanding: usize,
    settled: Vec<Settled<Recipient>>,
    /// Reports owed for recipients handed to next hops that do not offer
    /// DSN, as `NOTIFY=SUCCESS` asked (RFC 3461 §5.2.2).
    relayed: Vec<RecipientReport>,
    /// When recipients its pairs' paces or warm-up caps held back this
    /// scan may go.
    paced_until: Option<u64>,
    /// Whether a pair's pace (a provider's throttling) held recipients
    /// back this scan.
    paced: bool,
}

/// What a destination's task hands back as transactions end: the task,
/// each finished message's name and delivery there, and the signal that
/// their outcome is written, which the task waits for before it sends more.
type Finished = (TaskId, Vec<(String, Handed)>, oneshot::Sender<()>);

/// A message's delivery at one destination, and the hosts it reached there
/// that do not offer DSN.
type Handed = (Delivery<Recipient>, Vec<Host>);

/// What the runner keeps between scans.
struct Book {
    /// Messages out for delivery, by name.
    in_flight: HashMap<String, InFlight>,
    /// The messages each delivery task carries and has not handed back
    /// yet, for a task that fails.
    carried: HashMap<TaskId, HashSet<String>>,
    /// Messages whose outcome could not be written back yet, as it is to
    /// be written, with their claims.
    held: HashMap<String, (Queued, Claim)>,
    /// The pace of each source address and provider.
    paces: Paces,
    /// Each delivery task's pair, and whether a throttling reply came.
    rounds: HashMap<TaskId, (Pair, bool)>,
    /// The warm-up counts and the saved paces.
    ledger: Ledger,
    /// Messages whose last round a provider throttled: they wait for its
    /// pause without a delay notice.
    throttled: HashSet<String>,
}

impl Runner {
    /// Most messages a crash can leave delivered but not recorded, to be
    /// sent again on the next start: those on the wire of each connection.
    pub fn in_flight_bound(&self) -> usize {
        self.connections.max(1) * PIPELINED_WINDOW
    }

    /// Delivers for ever: every `interval` the queue is scanned and each
    /// due message not already out is sent on its way; each destination's
    /// outcome for a message is written as its transaction ends, so a slow
    /// destination holds up only its own messages and a crash sends again
    /// at most [`in_flight_bound`](Self::in_flight_bound) of them.
    /// The counts and paces in `ledger` are taken up and kept there.
    pub async fn run(self, ledger: Ledger) {
        if let Err(error) = self.queue.sweep() {
            eprintln!("queue: {error}");
        }
        let mut book = Book {
            in_flight: HashMap::new(),
            carried: HashMap::new(),
            held: HashMap::new(),
            // The paces' clock is the Unix epoch's, as the ledger's.
            paces: Paces::resumed(
                self.per_connection as u64,
                self.throttle_pause,
                &ledger.paces,
                Duration::ZERO,
            ),
            rounds: HashMap::new(),
            ledger,
            throttled: HashSet::new(),
        };
        let mut tasks: JoinSet<()> = JoinSet::new();
        let (results, mut finishing) = mpsc::unbounded_channel::<Finished>();
        let limit = Arc::new(Semaphore::new(self.connections.max(1)));
        let mut tick = tokio::time::interval(self.interval);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                // A task's results before its end, so that what a failed
                // task did hand back is counted once.
                biased;
                Some((task, finished, recorded)) = finishing.recv() => {
                    for (name, delivery) in finished {
                        if let Some(carried) = book.carried.get_mut(&task) {
                            carried.remove(&name);
                        }
                        self.finish(name, Some((task, delivery)), &mut book).await;
                    }
                    let _ = recorded.send(());
                }
                Some(done) = tasks.join_next_with_id() => {
                    // A task hands back every message before it ends; one
                    // that failed leaves the rest pending there.
                    let id = match done {
                        Ok((id, ())) => id,
                        Err(error) => {
                            eprintln!("queue: a delivery task failed: {error}");
                            error.id()
                        }
                    };
                    for name in book.carried.remove(&id).unwrap_or_default() {
                        self.finish(name, None, &mut book).await;
                    }
                    if let Some((pair, throttled)) = book.rounds.remove(&id) {
                        let pace = book.paces.of(&pair);
                        // Only a pace that is or was slowed has changed.
                        let changed = throttled || pace.is_slowed();
                        if !throttled {
                            pace.round_ended_well();
                        }
                        book.paces.forget_settled(clock());
                        if changed {
                            keep_state(&mut book);
                        }
                    }
                }
                _ = tick.tick() => {
                    if let Err(error) = self.start_due(&mut book, &mut tasks, &results, &limit).await {
                        eprintln!("queue: {error}");
                    }
                }
            }
        }
    }

    /// Sends the due messages that are not out yet, up to
    /// [`MAX_IN_FLIGHT`] at a time: one task per destination.
    async fn start_due(
        &self,
        book: &mut Book,
        tasks: &mut JoinSet<()>,
        results: &mpsc::UnboundedSender<Finished>,
        limit: &Arc<Semaphore>,
    ) -> io::Result<()> {
        let now = unix_now();
        book.held
            .retain(|_, (queued, _)| self.persist(queued).is_err());
        let mut due = Vec::new();
        // Messages that wait untried past the time for a delay notice.
        let mut waiting = Vec::new();
        let signer = self.dkim.load();
        let skip = |name: &str| book.in_flight.contains_key(name) || book.held.contains_key(name);
        for scanned in self.queue.scan(now, skip)? {
            if scanned.next_attempt > now && scanned.pending().next().is_some() {
                if !scanned.warned
                    && !book.throttled.contains(&scanned.name)
                    && self.overdue(&scanned, now)
                {
                    waiting.push(self.queue.message_path(&scanned.name));
                }
                continue;
            }
            let Some((claim, queued)) = self.claim(&scanned.name, now) else {
                continue;
            };
            if queued.pending().next().is_none() {
                // Settled before a crash kept it from being removed.
                if let Err(error) = self.queue.remove(&queued.name) {
                    eprintln!("queue: {}: {error}", queued.name);
                }
                continue;
            }
            if queued.next_attempt > now || book.in_flight.len() + due.len() >= MAX_IN_FLIGHT {
                continue;
            }
            match self.queue.content(&queued.name) {
                Ok(content) => match self.prepared(signer.as_deref(), &queued, content) {
                    // A rewritten or signed copy is a new file, to be
                    // claimed again; a tool may have acted on it meanwhile.
                    Ok(content)
                        if (signer.is_some() || self.header_rewriting.is_some())
                            && queued.attempts == 0 =>
                    {
                        drop(claim);
                        if let Some((claim, queued)) = self.claim(&queued.name, now) {
                            due.push((queued, content, claim));
                        }
                    }
                    Ok(content) => due.push((queued, content, claim)),
                    // Not delivered unsigned: the next scan tries again.
                    Err(error) => eprintln!("queue: {}: dkim: {error}", queued.name),
                },
                Err(error) => eprintln!("queue: {}: {error}", queued.name),
            }
        }
        for name in self.queue.names(true)? {
            if super::admin::arrival_of(&name)
                .is_some_and(|arrived| self.overdue_since(arrived, now))
            {
                waiting.push(self.queue.hold_path(&name));
            }
        }
        self.warn_waiting(waiting, now).await;
        if due.is_empty() {
            return Ok(());
        }
        let everyone: Vec<ForwardPath> = due
            .iter()
            .flat_map(|(q, _, _)| q.pending().cloned())
            .collect();
        let answers = self.transfer.routes.answers(&everyone).await;
        // One seed per scan: a destination's hosts come out in the same
        // order for every message, so they can share connections.
        let planner = Planner::new(self.own_hosts.clone(), random_seed());
        // Each destination's connection: its source address, pair and
        // messages; and what each pair sends in this scan.
        let mut batches: BTreeMap<String, (Host, Option<IpAddr>, Pair, Batch)> = BTreeMap::new();
        let mut used: BTreeMap<Pair, u64> = BTreeMap::new();
        let mut ready = Vec::new();
        for (queued, content, claim) in due {
            let requiretls = match self.queue.requires_tls(&queued.name) {
                Ok(requiretls) => requiretls,
                Err(error) => {
                    eprintln!("queue: {}: {error}", queued.name);
                    continue;
                }
            };
            let pending = queued.pending_addressed();
            let plan = if looped(&content) {
                Plan {
                    groups: Vec::new(),
                    unroutable: pending
                        .into_iter()
                        .map(|recipient| Unroutable {
                            recipient,
                            error: RouteError::LoopsToSelf,
                        })
                        .collect(),
                }
            } else {
                self.transfer.routes.plan(pending, &planner, &answers)
            };
            let mut message = InFlight {
                settled: Delivery::for_unroutable(plan.unroutable)
                    .settle(
                        &self.backoff,
                        queued.attempts + 1,
                        queued.first_attempt,
                        now,
                    )
                    .recipients,
                outstanding: 0,
                relayed: Vec::new(),
                paced_until: None,
                requiretls,
                paced: false,
                queued,
                claim,
                content,
            };
            for outcome in &message.settled {
                log_attempt(&message.queued, outcome);
            }
            for group in plan.groups {
                let Some(destination) = group.destinations.first().cloned() else {
                    continue;
                };
                let key = destination.to_string().to_ascii_lowercase();
                let (_, _, pair, batch) = batches.entry(key).or_insert_with(|| {
                    let source = self.transfer.next_source();
                    let provider = self.transfer.routes.provider(&group);
                    (destination, source, pair_of(source, provider), Vec::new())
                });
                let sent = used.entry(pair.clone()).or_default();
                if *sent >= book.ledger.allowance(self.warmup.as_ref(), pair, now) {
                    // Over the warm-up cap: pending still, not an attempt,
                    // due when the cap reopens.
                    let at = warm_retry_at(now);
                    message.paced_until = Some(message.paced_until.map_or(at, |t| t.min(at)));
                    continue;
                }
                // One round at a time per pair: the next waits for what
                // this one's replies do to the pace.
                let busy = book.rounds.values().any(|(out, _)| out == pair);
                let pace = book.paces.of(pair);
                if busy || *sent >= pace.allowance(clock()) {
                    // Held back, not tried: pending still, due when the
                    // pace allows (the next scan if it is not paused).
                    let at = resume_secs(pace).max(now);
                    message.paced_until = Some(message.paced_until.map_or(at, |t| t.min(at)));
                    message.paced = true;
                    continue;
                }
                *sent += 1;
                message.outstanding += 1;
                let mut outgoing = Outgoing::new(
                    Delivery::for_group(group),
                    message.queued.from.clone(),
                    message.content.clone(),
                );
                outgoing.mail_params = message.queued.dsn.to_params();
                outgoing.requiretls = message.requiretls;
                batch.push((message.queued.name.clone(), outgoing));
            }
            if message.outstanding == 0 {
                ready.push(message);
            } else {
                book.in_flight.insert(message.queued.name.clone(), message);
            }
        }
        // Counted and saved before any of them goes: a crash may overcount
        // a round, never undercount.
        if used.values().any(|&count| count > 0) {
            book.ledger.record(&used, now);
            keep_state(book);
        }
        for (destination, source, pair, batch) in batches.into_values() {
            if batch.is_empty() {
                continue;
            }
            let (names, outgoing): (Vec<String>, Vec<_>) = batch.into_iter().unzip();
            let carried = names.iter().cloned().collect();
            let transfer = self.transfer.clone();
            let per_connection = self.per_connection;
            let limit = limit.clone();
            let results = results.clone();
            let task = tasks.spawn(async move {
                let _permit = limit.acquire_owned().await;
                let task = tokio::task::id();
                let hand_back = |finished: Vec<(usize, Outgoing<Recipient>)>| {
                    let finished = finished
                        .into_iter()
                        .map(|(index, message)| {
                            (
                                names[index].clone(),
                                (message.delivery, message.without_dsn),
                            )
                        })
                        .collect();
                    let (recorded, written) = oneshot::channel();
                    let _ = results.send((task, finished, recorded));
                    async move {
                        let _ = written.await;
                    }
                };
                transfer
                    .run_from(source, &destination, outgoing, per_connection, hand_back)
                    .await;
            });
            book.carried.insert(task.id(), carried);
            book.rounds.insert(task.id(), (pair, false));
        }
        for message in ready {
            self.settle(message, book).await;
        }
        Ok(())
    }

    /// A shared claim on a message and its state as it is once claimed
    /// (the scan may have read it before a tool changed it); `None` if a
    /// tool is at work on it or it is gone.
    fn claim(&self, name: &str, now: u64) -> Option<(Claim, Queued)> {
        let path = self.queue.message_path(name);
        let claimed = Claim::shared(&path).and_then(|claim| match claim {
            Some(claim) => Ok(Some((claim, self.queue.load(name, &path, now)?))),
            None => Ok(None),
        });
        claimed.unwrap_or_else(|error| {
            eprintln!("queue: {name}: {error}");
            None
        })
    }

    /// `content` as it goes out: its sender fields rewritten when that is
    /// on, then signed ([`signed`](Self::signed)); before the first
    /// attempt only, so that every recipient, host and retry gets the same
    /// copy, which is kept in the queue in place of the one taken in.
    fn prepared(
        &self,
        signer: Option<&crate::dkim::Signer>,
        queued: &Queued,
        content: Bytes,
    ) -> io::Result<Bytes> {
        let content = match (&self.header_rewriting, queued.attempts) {
            (Some(rewriting), 0) => {
                match rewrite::headers::rewrite_sender_fields(&content, &rewriting.table()) {
                    Some(rewritten) => self.queue.replace_content(&queued.name, &rewritten)?,
                    None => content,
                }
            }
            _ => content,
        };
        self.signed(signer, queued, content)
    }

    /// `content` signed, the signed copy kept in the queue in its place so
    /// that every recipient, host and retry gets the same signature; a
    /// message already signed with each key of its From: domain (here
    /// before a restart, or by an earlier hop) is left as it is. A message
    /// the keys cannot sign is still delivered: a relay must not lose mail
    /// it took. Fails if the signed copy cannot be written.
    fn signed(
        &self,
        signer: Option<&crate::dkim::Signer>,
        queued: &Queued,
        content: Bytes,
    ) -> io::Result<Bytes> {
        // Signed before the first attempt, so a retry has the signed copy
        // already; one never tried (even after a crash) is checked again.
        let (Some(signer), 0) = (signer, queued.attempts) else {
            return Ok(content);
        };
        let name = &queued.name;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let fields = match signer.sign(&content, now) {
            Ok(Some(fields)) => fields,
            Ok(None) => return Ok(content),
            Err(error) => {
                eprintln!("queue: {name}: dkim: {error}: delivered unsigned");
                return Ok(content);
            }
        };
        self.queue.prepend(name, &fields)
    }

    /// Takes a message's result at one destination, with the task that
    /// delivered it (`None` from a task that failed: its recipients there
    /// stay pending). A throttling reply slows the task's pair, and its
    /// recipients wait for the pair's pause to end. A message whose
    /// destinations are all done is written back; one still waiting for
    /// others has the recipients delivered here written at once, so that a
    /// crash does not send them again.
    async fn finish(&self, name: String, delivery: Option<(TaskId, Handed)>, book: &mut Book) {
        let Some(message) = book.in_flight.get_mut(&name) else {
            return;
        };
        message.outstanding = message.outstanding.saturating_sub(1);
        if let Some((task, (delivery, without_dsn))) = delivery {
            let queued = &message.queued;
            let mut outcomes = delivery
                .settle(
                    &self.backoff,
                    queued.attempts + 1,
                    queued.first_attempt,
                    unix_now(),
                )
                .recipients;
            if let Some((pair, throttled)) = book.rounds.get_mut(&task) {
                for outcome in &mut outcomes {
                    if by_throttling(outcome) {
                        *throttled = true;
                        let pace = book.paces.of(pair);
                        pace.throttled(clock());
                        outcome.fate = Fate::Delayed {
                            retry_at: resume_secs(pace),
                        };
                    }
                }
            }
            for outcome in &outcomes {
                log_attempt(queued, outcome);
            }
            message
                .relayed
                .extend(relayed_reports(&outcomes, &without_dsn));
            if message.outstanding > 0 {
                let (delivered, rest) = outcomes
                    .into_iter()
                    .partition(|outcome| outcome.fate == Fate::Delivered);
                self.save_delivered(&mut message.queued, delivered);
                outcomes = rest;
            }
            message.settled.extend(outcomes);
        }
        if message.outstanding == 0 {
            if let Some(message) = book.in_flight.remove(&name) {
                self.settle(message, book).await;
            }
        }
    }

    /// Marks recipients delivered and saves the state, the rest as it was.
    /// If that fails they are still marked in memory, and written with the
    /// rest once the message's other destinations are done.
    fn save_delivered(&self, queued: &mut Queued, delivered: Vec<Settled<Recipient>>) {
        if delivered.is_empty() {
            return;
        }
        for outcome in &delivered {
            mark(queued, outcome, Standing::Delivered);
        }
        if let Err(error) = self.queue.save(queued) {
            eprintln!("queue: {}: cannot save it: {error}", queued.name);
        }
    }

    /// Writes a finished message back. If that fails, the updated entry
    /// is held in memory, and written at each scan until that works: read
    /// back from its files instead, it would look as it did before this
    /// attempt, and be sent again to recipients that already have it.
    async fn settle(&self, message: InFlight, book: &mut Book) {
        let InFlight {
            queued,
            claim,
            content,
            settled,
            paced_until,
            relayed,
            paced,
            ..
        } = message;
        let throttled = paced || settled.iter().any(by_throttling);
        if throttled {
            book.throttled.insert(queued.name.clone());
        } else {
            book.throttled.remove(&queued.name);
        }
        let before = queued.clone();
        let queued = self
            .record(queued, settled, paced_until, relayed, &content, throttled)
            .await;
        if !needs_writing(&before, &queued, unix_now()) {
            return;
        }
        if let Err(error) = self.persist(&queued) {
            eprintln!("queue: {}: cannot write it back: {error}", queued.name);
            book.held.insert(queued.name.clone(), (queued, claim));
        }
    }

    /// What became of a message's recipients: the delivered and failed
    /// ones are done (the failed reported to the sender as their `NOTIFY`
    /// asks), the deferred ones wait for the earliest retry, or for
    /// `paced_until` when a pace held some back. Recipients a provider
    /// throttled wait for its pause, and an attempt where every recipient
    /// was throttled or held back does not count as one; a message
    /// `throttled` (or held back by the pace throttling brought) gets no
    /// delay notice this time. `relayed` are the success reports owed for
    /// recipients handed to next hops without DSN. Returns the entry to
    /// write back.
    async fn record(
        &self,
        mut queued: Queued,
        settled: Vec<Settled<Recipient>>,
        paced_until: Option<u64>,
        relayed: Vec<RecipientReport>,
        content: &[u8],
        throttled: bool,
    ) -> Queued {
        if settled.iter().any(|outcome| !by_throttling(outcome)) {
            queued.attempts += 1;
        }
        let mut retry_at = paced_until;
        let mut failures = Vec::new();
        // Recipients this attempt failed, by index: pending again if their
        // bounce cannot be queued.
        let mut failed = Vec::new();
        // This attempt's word on the recipients still pending, for a delay
        // notice.
        let mut delayed = Vec::new();
        for outcome in settled {
            let standing = match outcome.fate {
                Fate::Delivered => Standing::Delivered,
                Fate::Failed => Standing::Failed,
                Fate::Delayed { retry_at: at } => {
                    retry_at = Some(retry_at.map_or(at, |sooner| sooner.min(at)));
                    Standing::Pending
                }
            };
            let entry = mark(&mut queued, &outcome, standing);
            match standing {
                Standing::Failed => {
                    failures.extend(report_if_asked(&outcome, Event::Failure));
                    failed.extend(entry);
                }
                Standing::Pending => delayed.extend(outcome.report()),
                Standing::Delivered => {}
            }
        }
        if let Err(error) = self
            .notify(Notice::Failure, &queued, failures, content)
            .await
        {
            // Not reported yet: tried again, and reported, next time.
            eprintln!("queue: {}: cannot queue its bounce: {error}", queued.name);
            for index in failed {
                queued.recipients[index].standing = Standing::Pending;
            }
        }
        if let Err(error) = self
            .notify(Notice::Success, &queued, relayed, content)
            .await
        {
            eprintln!(
                "queue: {}: cannot queue its success report: {error}",
                queued.name
            );
        }
        // A message waiting on a provider's throttling, or on the pace it
        // brought, waits without a notice: the relay is slowing down, not
        // failing to deliver.
        if !throttled {
            self.warn_if_overdue(&mut queued, content, delayed).await;
        }
        let fallback = unix_now() + self.backoff.delay(queued.attempts).as_secs();
        queued.next_attempt = retry_at.unwrap_or(fallback);
        queued
    }

    /// Whether a message arrived `warn_after` ago or more.
    fn overdue(&self, queued: &Queued, now: u64) -> bool {
        let arrived = super::admin::arrival_of(&queued.name).unwrap_or(queued.first_attempt);
        self.overdue_since(arrived, now)
    }

    /// Whether `warn_after` has passed since `arrived`.
    fn overdue_since(&self, arrived: u64, now: u64) -> bool {
        self.warn_after
            .is_some_and(|after| now.saturating_sub(arrived) >= after.as_secs())
    }

    /// Delay notices for the messages at `paths` that wait without being
    /// tried (due later, or on hold: the runner sends neither) once they
    /// are overdue, each claimed while its state is updated; one a tool is
    /// at work on is left for a later scan.
    async fn warn_waiting(&self, paths: Vec<std::path::PathBuf>, now: u64) {
        for path in paths {
            let Some(name) = path
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
            else {
                continue;
            };
            let Ok(Some(claim)) = Claim::shared(&path) else {
                continue;
            };
            let loaded = self.queue.load(&name, &path, now).and_then(|queued| {
                let content = self.queue.content_at(&path)?;
                Ok((queued, content))
            });
            let (mut queued, content) = match loaded {
                Ok(loaded) => loaded,
                Err(error) => {
                    eprintln!("queue: {name}: {error}");
                    continue;
                }
            };
            if queued.warned {
                continue;
            }
            self.warn_if_overdue(&mut queued, &content, Vec::new())
                .await;
            if queued.warned {
                if let Err(error) = self.queue.save(&queued) {
                    eprintln!("queue: {name}: cannot save it: {error}");
                }
            }
            drop(claim);
        }
    }

    /// Tells the sender once that a message is still waiting, when it has
    /// waited `warn_after` since it arrived: whether it was tried, held
    /// back by a pace or a warm-up cap, or put on hold. Only the pending
    /// recipients whose `NOTIFY` asks for it (DELAY, or none given: RFC
    /// 3461 §4.1) are reported, each with what `fresh` (this attempt's
    /// reports) says of it, or else with its last error.
    async fn warn_if_overdue(
        &self,
        queued: &mut Queued,
        content: &[u8],
        fresh: Vec<RecipientReport>,
    ) {
        if queued.warned || !self.overdue(queued, unix_now()) {
            return;
        }
        let delayed: Vec<RecipientReport> = queued
            .recipients
            .iter()
            .filter(|recipient| recipient.standing == Standing::Pending)
            .filter(|recipient| asks_for(recipient.params.notify, Event::Delay))
            .map(|recipient| {
                let mut report = fresh
                    .iter()
                    .find(|report| report.final_recipient == recipient.path)
                    .cloned()
                    .unwrap_or_else(|| waiting_report(recipient));
                report.action = Action::Delayed;
                report.original_recipient = recipient.params.orcpt.clone();
                report
            })
            .collect();
        match self.notify(Notice::Delay, queued, delayed, content).await {
            Ok(()) => queued.warned = true,
            Err(error) => eprintln!(
                "queue: {}: cannot queue its delay notice: {error}",
                queued.name
            ),
        }
    }

    /// Writes an entry back: off the queue when nothing is pending, its
    /// state saved otherwise.
    fn persist(&self, queued: &Queued) -> io::Result<()> {
        if queued.pending().next().is_none() {
            self.queue.remove(&queued.name)
        } else {
            self.queue.save(queued)
        }
    }

    /// Queues a `notice` about `reports` to the sender, from the null
    /// reverse path; none when there is nothing to report, and none for a
    /// message with a null reverse path (RFC 5321 §4.5.5, RFC 3461 §6.2).
    async fn notify(
        &self,
        notice: Notice,
        queued: &Queued,
        mut reports: Vec<RecipientReport>,
        content: &[u8],
    ) -> io::Result<()> {
        if reports.is_empty() || queued.from == smtpwire::ReversePath::Null {
            return Ok(());
        }
        let sender = queued.from.to_string();
        let now = SystemTime::now();
        let date = Text::new(&rfc5322_date(now)).ok();
        let arrived = super::admin::arrival_of(&queued.name).unwrap_or(queued.first_attempt);
        let give_up = UNIX_EPOCH + Duration::from_secs(arrived) + self.backoff.give_up_after;
        let until = Text::new(&rfc5322_date(give_up)).ok();
        for report in &mut reports {
            if notice != Notice::Success {
                report.last_attempt_date = date.clone();
            }
            if notice == Notice::Delay {
                report.will_retry_until = until.clone();
            }
        }
        let about = About {
            envelope_id: queued.dsn.envid.clone(),
            ret: queued.dsn.ret,
            arrival: UNIX_EPOCH + Duration::from_secs(arrived),
        };
        let name = self.store.unique_name();
        let sending = bounce::Sending {
            reporting_mta: &self.hostname,
            to: &sender,
            message_id: &name,
            date: now,
        };
        let report = bounce::compose(notice, &sending, &about, reports, content);
        bounce::queue_report(&self.store, name, &sender, &report).await
    }
}

/// Saves the warm-up counts and the paces as they are now; a failure is
/// reported, and delivery goes on.
fn keep_state(book: &mut Book) {
    book.ledger.paces = book.paces.saved(clock(), Duration::ZERO);
    if let Err(error) = book.ledger.save() {
        eprintln!("queue: warm-up ledger: {error}");
    }
}

/// Now as the paces count time: since the Unix epoch.
fn clock() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// When `pace`'s pause ends, in whole seconds since the Unix epoch, as
/// queue entries are due: rounded up, so as not to send before.
fn resume_secs(pace: &Pace) -> u64 {
    let at = pace.resume_at();
    at.as_secs() + u64::from(at.subsec_nanos() > 0)
}

/// Whether the message has been through so many hosts that it must be
/// looping (RFC 5321 §6.3: counting `Received:` fields, with a threshold of
/// at least 100).
fn looped(content: &[u8]) -> bool {
    const MAX_HOPS: usize = 100;
    let received = bounce::header_of(content)
        .split(|&byte| byte == b'\n')
        .filter(|line| line.len() >= 9 && line[..9].eq_ignore_ascii_case(b"received:"))
        .count();
    received >= MAX_HOPS
}

/// Whether a message's entry, `before` a scan took it up and `after`, must
/// be written back: not when all that changed is that it is due now, as a
/// message held back from the scan (its next hop's round still out) comes
/// back. It is due after a restart all the same, and writing every held
/// message at every scan kept the runner from handing back the messages
/// that were out, one write per held message per scan.
fn needs_writing(before: &Queued, after: &Queued, now: u64) -> bool {
    let still_due = after.next_attempt <= now.max(before.next_attempt);
    let as_before = Queued {
        next_attempt: before.next_attempt,
        ..after.clone()
    };
    !still_due || as_before != *before || after.pending().next().is_none()
}

/// Gives an outcome's recipient's pending entry `standing`, and the
/// outcome as its last error unless it was delivered; returns that entry's
/// index. The outcome was logged when it came.
fn mark(queued: &mut Queued, outcome: &Settled<Recipient>, standing: Standing) -> Option<usize> {
    let entry = queued.recipients.iter().position(|recipient| {
        recipient.standing == Standing::Pending && recipient.path == outcome.recipient.path
    });
    if let Some(index) = entry {
        let recipient = &mut queued.recipients[index];
        recipient.standing = standing;
        recipient.last_error = match outcome.fate {
            Fate::Delivered => None,
            _ => outcome.attempts.last().map(|last| {
                // Without a reply, the status's registered meaning says
                // what went wrong (RFC 3463 §3).
                let why = match (&last.reply, last.status.meaning()) {
                    (None, Some(meaning)) => format!(" ({meaning})"),
                    _ => reply_of(last),
                };
                format!("{} relay={}{why}", last.status, host_of(last))
            }),
        };
    }
    entry
}

/// The host an attempt reached, or `none`.
fn host_of(attempt: &smtpwire::delivery::AttemptRecord) -> String {
    attempt
        .host
        .as_ref()
        .map_or_else(|| "none".to_string(), ToString::to_string)
}

/// The reply an attempt ended with, as ` (code first line)`, or nothing.
fn reply_of(attempt: &smtpwire::delivery::AttemptRecord) -> String {
    attempt.reply.as_ref().map_or(String::new(), |reply| {
        format!(" ({} {})", reply.code().as_u16(), reply.first_line())
    })
}

/// One line per recipient per delivery attempt: the queue id (the one the
/// relay's 250 reply named), the next hop, the server's reply or the
/// status chosen without one, what became of the recipient, and how long
/// since the message's first attempt.
fn log_attempt(queued: &Queued, outcome: &Settled<Recipient>) {
    let Some(last) = outcome.attempts.last() else {
        return;
    };
    let fate = match outcome.fate {
        Fate::Delivered => "delivered",
        Fate::Failed => "failed",
        Fate::Delayed { .. } => "delayed",
    };
    let reply = last.reply.as_ref().map_or_else(
        || last.status.to_string(),
        |reply| {
            reply
                .to_string()
                .replace("\r\n", " ")
                .trim_end()
                .to_string()
        },
    );
    let domain = outcome
        .recipient
        .path
        .mailbox()
        .map_or_else(String::new, |mailbox| mailbox.host().to_string());
    metrics::counter!(
        "smtpwire_deliveries_total",
        "fate" => fate,
        "domain" => crate::metrics_file::domain_label(&domain)
    )
    .increment(1);
    tracing::info!(
        queue_id = %queued.name,
        to = %outcome.recipient.path,
        relay = %host_of(last),
        reply = %reply,
        fate = %fate,
        attempt = queued.attempts + 1,
        delay_s = match queued.first_attempt {
            0 => 0,
            first => unix_now().saturating_sub(first),
        },
        "delivery"
    );
}

#[cfg(test)]
mod tests {
    use super::super::queue::Recipient as QueuedRecipient;
    use super::*;
    use smtpwire::{ForwardPath, ReversePath};

    fn queued(next_attempt: u64) -> Queued {
        Queued {
            name: "1.M2P3Q4.host".into(),
            from: ReversePath::Null,
            dsn: Default::default(),
            recipients: vec![QueuedRecipient::new(
                ForwardPath::parse("<b@example.net>").unwrap(),
            )],
            first_attempt: 0,
            attempts: 0,
            next_attempt,
            warned: false,
        }
    }

    #[test]
    fn a_message_held_back_as_it_was_is_not_written_again() {
        let now = 1_000;
        // Due before the scan, due now after it: nothing to write.
        assert!(!needs_writing(&queued(900), &queued(now), now));
        assert!(!needs_writing(&queued(900), &queued(900), now));
        // Put off to later, tried, or done: written.
        assert!(needs_writing(&queued(900), &queued(now + 60), now));
        let tried = Queued {
            attempts: 1,
            ..queued(now)
        };
        assert!(needs_writing(&queued(900), &tried, now));
        let mut done = queued(now);
        done.recipients[0].standing = Standing::Delivered;
        assert!(needs_writing(&queued(900), &done, now));
    }
}
