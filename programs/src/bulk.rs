//! The bulk sender: one template to a recipient list, one message per recipient,
//! grouped by destination with many pipelined transactions per connection,
//! paced by a warm-up schedule, with per-recipient results.

pub mod cli;
pub mod ledger;
pub mod list;
pub mod progress;
pub mod results;
pub mod template;

use std::collections::{HashMap, VecDeque};
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use smtpwire::delivery::{Backoff, Delivery, Fate, Planner, Routable, Settled, Warmup};
use smtpwire::{ForwardPath, Host, ReversePath};
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;

use crate::outbound::transfer::{Outgoing, Transfer};
use crate::outbound::{random_seed, unix_now};
use ledger::Ledger;
use list::Row;
use progress::Progress;
use results::{Outcome, Status, Writer};
use template::Template;

/// Most recipients whose copies are made and in memory at once.
const MAX_BATCH: usize = 1000;

/// Groups of settled recipients waiting to be written.
const SETTLED_QUEUE: usize = 64;

/// One recipient on its way: its row and its tries so far.
#[derive(Debug, Clone)]
struct Addressee {
    row: usize,
    path: ForwardPath,
    attempts: u32,
}

impl Routable for Addressee {
    fn forward_path(&self) -> &ForwardPath {
        &self.path
    }
}

/// The outcomes so far, each written to the results file as it comes and
/// only counted here, so a long list is not held twice.
struct Outcomes<'a> {
    tally: Tally,
    results: &'a mut Writer,
}

impl Outcomes<'_> {
    fn push(&mut self, rows: &[Row], row: usize, outcome: Outcome) -> io::Result<()> {
        self.results.record(&rows[row].email, &outcome)?;
        *self.tally.0.entry(outcome.status).or_default() += 1;
        Ok(())
    }
}

/// How many rows of a run ended in each status.
#[derive(Debug, Default)]
pub struct Tally(HashMap<Status, usize>);

impl Tally {
    /// Rows that ended in `status`.
    pub fn of(&self, status: Status) -> usize {
        self.0.get(&status).copied().unwrap_or(0)
    }

    /// Rows settled in all.
    pub fn total(&self) -> usize {
        self.0.values().sum()
    }
}

/// A send to a list.
pub struct Campaign {
    /// The reverse path, where bounces go.
    pub from: ReversePath,
    /// The recipients.
    pub rows: Vec<Row>,
    /// The message.
    pub template: Arc<Template>,
    /// How to reach next hops.
    pub transfer: Arc<Transfer>,
    /// Names this host is known by (MX records pointing here are skipped).
    pub own_hosts: Vec<Host>,
    /// Most messages per connection.
    pub per_connection: usize,
    /// Destinations sent to at once.
    pub connections: usize,
    /// Tries per recipient in this run.
    pub attempts: u32,
    /// The wait before trying a deferred recipient again.
    pub retry_after: Duration,
    /// The warm-up schedule and its log, if the address is warming up.
    pub warmup: Option<(Warmup, Ledger)>,
}

impl Campaign {
    /// Sends to every row in `todo` (indices into `rows`), appending one
    /// outcome per row to `results` as it settles, and returning how many
    /// ended in each status: delivered, failed (to be removed from the list), rejected, deferred
    /// (still refused for now after every try) or held (past the warm-up
    /// cap, for a later run). Stops if the results cannot be written.
    pub async fn run(mut self, todo: Vec<usize>, results: &mut Writer) -> io::Result<Tally> {
        let mut outcomes = Outcomes {
            tally: Tally::default(),
            results,
        };
        let mut waiting: VecDeque<(Instant, Addressee)> = VecDeque::new();
        for row in todo {
            let email = &self.rows[row].email;
            match ForwardPath::parse(&format!("<{email}>")) {
                Ok(path) => waiting.push_back((
                    Instant::now(),
                    Addressee {
                        row,
                        path,
                        attempts: 0,
                    },
                )),
                Err(error) => {
                    let outcome = Outcome::invalid(&error.to_string());
                    outcomes.push(&self.rows, row, outcome)?;
                }
            }
        }
        let invalid = outcomes.tally.total();
        let mut progress = Progress::new(waiting.len() + invalid);
        progress.advance(invalid);
        let template = self.template.clone();
        let mut number = 0;
        while let Some(&(first_due, _)) = waiting.front() {
            let allowance = self.allowance();
            if allowance == 0 {
                for (_, held) in waiting.drain(..) {
                    outcomes.push(&self.rows, held.row, Outcome::held(held.attempts))?;
                    progress.advance(1);
                }
                break;
            }
            let now = Instant::now();
            if first_due > now {
                tokio::time::sleep(first_due - now).await;
                continue;
            }
            let mut batch = Vec::new();
            while batch.len() < allowance.min(MAX_BATCH) {
                match waiting.front() {
                    Some((due, _)) if *due <= Instant::now() => {
                        if let Some((_, addressee)) = waiting.pop_front() {
                            batch.push(addressee);
                        }
                    }
                    _ => break,
                }
            }
            self.count_sent(batch.len());
            // Row and attempts so far of each recipient not yet settled.
            let mut unsettled: HashMap<usize, u32> =
                batch.iter().map(|a| (a.row, a.attempts)).collect();
            // The tasks end with the run, on an error too.
            let (_tasks, mut settling) = self.send(batch, &template, &mut number).await;
            // Each message's outcome as soon as its transaction ends.
            while let Some(chunk) = settling.recv().await {
                for settled in chunk {
                    unsettled.remove(&settled.recipient.row);
                    let mut addressee = settled.recipient;
                    addressee.attempts += 1;
                    match settled.fate {
                        Fate::Delayed { .. } if addressee.attempts < self.attempts => {
                            waiting.push_back((Instant::now() + self.retry_after, addressee));
                            continue;
                        }
                        fate => {
                            let status = match fate {
                                Fate::Delivered => Status::Delivered,
                                Fate::Failed => Status::Failed,
                                Fate::Delayed { .. } => Status::Deferred,
                            };
                            let outcome =
                                Outcome::of(status, addressee.attempts, &settled.attempts);
                            outcomes.push(&self.rows, addressee.row, outcome)?;
                            progress.advance(1);
                        }
                    }
                }
            }
            // A task that failed reported nothing for its recipients: sent
            // or not, nobody knows, so they are left for a later run.
            for (row, attempts) in unsettled {
                outcomes.push(&self.rows, row, Outcome::unknown(attempts + 1))?;
                progress.advance(1);
            }
            // Retries go after what was never tried, in due order.
            waiting.make_contiguous().sort_by_key(|(due, _)| *due);
        }
        progress.finish();
        Ok(outcomes.tally)
    }

    /// Messages the warm-up allows now; without one, no limit.
    fn allowance(&self) -> usize {
        match &self.warmup {
            Some((schedule, ledger)) => {
                let left = ledger.log.allowance(schedule, unix_now());
                usize::try_from(left).unwrap_or(usize::MAX)
            }
            None => usize::MAX,
        }
    }

    fn count_sent(&mut self, count: usize) {
        if let Some((_, ledger)) = &mut self.warmup {
            ledger.log.record(unix_now(), count as u64);
            if let Err(error) = ledger.save() {
                eprintln!("warm-up log: {error}");
            }
        }
    }

    /// One try for each of `batch`: grouped by destination, one message
    /// each, many per connection, by the returned tasks. The outcomes come
    /// out of the returned channel as each transaction ends; it closes when
    /// all are in.
    async fn send(
        &self,
        batch: Vec<Addressee>,
        template: &Arc<Template>,
        number: &mut usize,
    ) -> (JoinSet<()>, mpsc::Receiver<Vec<Settled<Addressee>>>) {
        // Only this run's own count of tries decides on retries.
        let once = Backoff {
            initial: self.retry_after,
            factor: 1,
            max: self.retry_after,
            give_up_after: Duration::from_secs(u64::MAX / 4),
        };
        let now = unix_now();
        let planner = Planner::new(self.own_hosts.clone(), random_seed());
        let answers = self.transfer.routes.answers(&batch).await;
        let plan = self.transfer.routes.plan(batch, &planner, &answers);
        // Bounded: connections whose outcomes are not written yet wait,
        // rather than pile them up.
        let (settled, settling) = mpsc::channel(SETTLED_QUEUE);
        let unroutable = Delivery::for_unroutable(plan.unroutable).settle(&once, 1, now, now);
        let _ = settled.send(unroutable.recipients).await;
        let limit = Arc::new(Semaphore::new(self.connections.max(1)));
        let date = crate::trace::rfc5322_date(SystemTime::now());
        let mut tasks = JoinSet::new();
        for group in plan.groups {
            let Some(destination) = group.destinations.first().cloned() else {
                continue;
            };
            let mut messages: Vec<Outgoing<Addressee>> = Vec::new();
            for addressee in group.recipients {
                *number += 1;
                let content =
                    template.render(&self.rows[addressee.row], *number, SystemTime::now(), &date);
                messages.push(Outgoing {
                    delivery: Delivery::new(group.hops.clone(), vec![addressee]),
                    from: self.from.clone(),
                    content: content.into(),
                });
            }
            let transfer = self.transfer.clone();
            let limit = limit.clone();
            let per_connection = self.per_connection;
            let settled = settled.clone();
            tasks.spawn(async move {
                let _permit = limit.acquire_owned().await;
                let hand_back = |finished: Vec<(usize, Outgoing<Addressee>)>| {
                    let outcomes = finished
                        .into_iter()
                        .flat_map(|(_, message)| {
                            message
                                .delivery
                                .settle(&once, 1, now, unix_now())
                                .recipients
                        })
                        .collect();
                    let settled = settled.clone();
                    async move {
                        let _ = settled.send(outcomes).await;
                    }
                };
                transfer
                    .run(&destination, messages, per_connection, hand_back)
                    .await;
            });
        }
        (tasks, settling)
    }
}
