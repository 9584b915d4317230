//! The queue runner: in each round, every due message's pending recipients
//! are grouped by destination, each destination gets one connection per
//! host carrying all of its messages, and what happened is written back to
//! the queue before the next round.

use std::collections::BTreeMap;
use std::io;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use smtpwire::delivery::{Backoff, Delivery, Fate, Planner, RecipientReport, Settled};
use smtpwire::{Domain, ForwardPath, Host, Text};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::bounce;
use super::outbound::transfer::{Outgoing, Transfer};
use super::outbound::{random_seed, unix_now};
use super::queue::{Queue, Queued, Standing};
use super::server::maildir::Maildir;
use super::server::trace::rfc5322_date;

/// A destination's messages, each with the index of its queue entry.
type Batch = Vec<(usize, Outgoing<ForwardPath>)>;

/// Most messages read into memory for one round; the rest wait for the
/// next.
const MAX_PER_ROUND: usize = 1000;

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
    /// The pause between rounds.
    pub interval: Duration,
    /// Most messages per connection.
    pub per_connection: usize,
    /// Destinations delivered to at once.
    pub connections: usize,
}

impl Runner {
    /// Runs rounds for ever.
    pub async fn run(self) {
        if let Err(error) = self.queue.sweep() {
            eprintln!("queue: {error}");
        }
        loop {
            if let Err(error) = self.round().await {
                eprintln!("queue: {error}");
            }
            tokio::time::sleep(self.interval).await;
        }
    }

    /// One pass over the due messages.
    pub async fn round(&self) -> io::Result<()> {
        let now = unix_now();
        let mut due = Vec::new();
        let mut contents = Vec::new();
        for queued in self.queue.scan(now)? {
            if queued.pending().next().is_none() {
                // Settled before a crash kept it from being removed.
                self.queue.remove(&queued.name)?;
                continue;
            }
            if queued.next_attempt > now || due.len() >= MAX_PER_ROUND {
                continue;
            }
            match self.queue.content(&queued.name) {
                Ok(content) => {
                    due.push(queued);
                    contents.push(content);
                }
                Err(error) => eprintln!("queue: {}: {error}", queued.name),
            }
        }
        if due.is_empty() {
            return Ok(());
        }
        let mut settled: Vec<Vec<Settled<ForwardPath>>> = vec![Vec::new(); due.len()];
        let batches = self.plan(&due, &contents, now, &mut settled).await;
        let limit = Arc::new(Semaphore::new(self.connections.max(1)));
        let mut tasks = JoinSet::new();
        for (destination, batch) in batches.into_values() {
            let transfer = self.transfer.clone();
            let per_connection = self.per_connection.max(1);
            let limit = limit.clone();
            tasks.spawn(async move {
                let _permit = limit.acquire_owned().await;
                let (indices, mut outgoing): (Vec<usize>, Vec<_>) = batch.into_iter().unzip();
                for chunk in outgoing.chunks_mut(per_connection) {
                    transfer.run(&destination, chunk).await;
                }
                indices
                    .into_iter()
                    .zip(outgoing.into_iter().map(|message| message.delivery))
                    .collect::<Vec<_>>()
            });
        }
        while let Some(done) = tasks.join_next().await {
            // A task that failed leaves its recipients pending, to be tried
            // again in the next round.
            let Ok(deliveries) = done else { continue };
            for (index, delivery) in deliveries {
                let queued = &due[index];
                let settlement = delivery.settle(
                    &self.backoff,
                    queued.attempts + 1,
                    queued.first_attempt,
                    unix_now(),
                );
                settled[index].extend(settlement.recipients);
            }
        }
        for ((queued, settled), content) in due.into_iter().zip(settled).zip(contents) {
            self.record(queued, settled, &content).await?;
        }
        Ok(())
    }

    /// Each due message's pending recipients by destination; recipients
    /// with no route are settled at once.
    async fn plan(
        &self,
        due: &[Queued],
        contents: &[Bytes],
        now: u64,
        settled: &mut [Vec<Settled<ForwardPath>>],
    ) -> BTreeMap<String, (Host, Batch)> {
        // One seed per round: a destination's hosts come out in the same
        // order for every message, so they can share connections.
        let planner = Planner::new(self.own_hosts.clone(), random_seed());
        let mut batches: BTreeMap<String, (Host, Batch)> = BTreeMap::new();
        for (index, queued) in due.iter().enumerate() {
            let pending = queued.pending().cloned().collect();
            let plan = self.transfer.routes.plan(pending, &planner).await;
            if !plan.unroutable.is_empty() {
                let settlement = Delivery::for_unroutable(plan.unroutable).settle(
                    &self.backoff,
                    queued.attempts + 1,
                    queued.first_attempt,
                    now,
                );
                settled[index].extend(settlement.recipients);
            }
            for group in plan.groups {
                let Some(destination) = group.destinations.first().cloned() else {
                    continue;
                };
                let key = destination.to_string().to_ascii_lowercase();
                let outgoing = Outgoing {
                    delivery: Delivery::for_group(group),
                    from: queued.from.clone(),
                    content: contents[index].clone(),
                };
                batches
                    .entry(key)
                    .or_insert_with(|| (destination, Vec::new()))
                    .1
                    .push((index, outgoing));
            }
        }
        batches
    }

    /// Writes back what became of a message's recipients: the delivered and
    /// failed ones are done (the failed reported to the sender), and the
    /// message leaves the queue once none is pending.
    async fn record(
        &self,
        mut queued: Queued,
        settled: Vec<Settled<ForwardPath>>,
        content: &Bytes,
    ) -> io::Result<()> {
        queued.attempts += 1;
        let mut retry_at: Option<u64> = None;
        let mut failures = Vec::new();
        for outcome in settled {
            let standing = match outcome.fate {
                Fate::Delivered => Standing::Delivered,
                Fate::Failed => Standing::Failed,
                Fate::Delayed { retry_at: at } => {
                    retry_at = Some(retry_at.map_or(at, |sooner| sooner.min(at)));
                    Standing::Pending
                }
            };
            log(&queued.name, &outcome);
            if standing == Standing::Failed {
                failures.extend(outcome.report());
            }
            let entry = queued
                .recipients
                .iter_mut()
                .find(|(path, now)| *now == Standing::Pending && *path == outcome.recipient);
            if let Some((_, now)) = entry {
                *now = standing;
            }
        }
        if !failures.is_empty() {
            self.bounce(&queued, failures, content).await?;
        }
        if queued.pending().next().is_none() {
            return self.queue.remove(&queued.name);
        }
        let fallback = unix_now() + self.backoff.delay(queued.attempts).as_secs();
        queued.next_attempt = retry_at.unwrap_or(fallback);
        self.queue.save(&queued)
    }

    /// Queues a report of `failures` to the sender; a message with a null
    /// reverse path gets none (RFC 5321 §4.5.5).
    async fn bounce(
        &self,
        queued: &Queued,
        mut failures: Vec<RecipientReport>,
        content: &Bytes,
    ) -> io::Result<()> {
        if queued.from == smtpwire::ReversePath::Null {
            return Ok(());
        }
        let sender = queued.from.to_string();
        let now = SystemTime::now();
        let date = Text::new(&rfc5322_date(now)).ok();
        for report in &mut failures {
            report.last_attempt_date = date.clone();
        }
        let name = self.store.unique_name();
        let report = bounce::compose(&self.hostname, &sender, failures, content, &name, now);
        let head = format!("Return-Path: <>\r\nX-Envelope-To: {sender}\r\n");
        let mut file = self.store.begin(name, head.as_bytes()).await?;
        file.write(&report).await?;
        self.store.deliver(file).await?;
        Ok(())
    }
}

/// One line per recipient outcome.
fn log(name: &str, outcome: &Settled<ForwardPath>) {
    let Some(last) = outcome.attempts.last() else {
        return;
    };
    let host = last
        .host
        .as_ref()
        .map_or_else(|| "none".to_string(), ToString::to_string);
    let fate = match outcome.fate {
        Fate::Delivered => "delivered".to_string(),
        Fate::Failed => "failed".to_string(),
        Fate::Delayed { retry_at } => format!("deferred until {retry_at}"),
    };
    let reply = last.reply.as_ref().map_or(String::new(), |reply| {
        format!(" ({} {})", reply.code().as_u16(), reply.first_line())
    });
    eprintln!(
        "{name} to={} relay={host} status={} {fate}{reply}",
        outcome.recipient, last.status
    );
}
