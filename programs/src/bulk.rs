//! The bulk sender: one template (or A/B variants) to a recipient list, one
//! message per recipient, grouped by destination with many pipelined
//! transactions per connection, from chosen source addresses, paced per
//! (source address, receiving provider) by a warm-up schedule and by the
//! provider's throttling replies, with per-recipient results.

pub mod check;
pub mod cli;
pub mod list;
pub mod progress;
pub mod results;
pub mod template;
pub mod variants;

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::io;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use smtpwire::delivery::{Backoff, Delivery, Fate, Planner, Routable, Settled, Warmup};
use smtpwire::{ForwardPath, Host, ReversePath};
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;

use crate::outbound::ledger::{Ledger, Pair};
use crate::outbound::pacing::{by_throttling, pair_of, Paces};
use crate::outbound::transfer::{Outgoing, Transfer};
use crate::outbound::{random_seed, unix_now};
use list::Row;
use progress::Progress;
use results::{Outcome, Status, Writer};
use template::Template;

/// Most recipients whose copies are made and in memory at once.
const MAX_BATCH: usize = 1000;

/// Groups of settled recipients waiting to be written.
const SETTLED_QUEUE: usize = 64;

/// One recipient on its way: its row, the variant it gets, its source
/// address and its tries so far.
#[derive(Debug, Clone)]
struct Addressee {
    row: usize,
    variant: usize,
    path: ForwardPath,
    /// The local address it goes out from; `None`, the system's choice.
    source: Option<IpAddr>,
    /// Its pair once planned: the source and the receiving provider.
    pair: Option<Pair>,
    attempts: u32,
    /// Tries the provider answered with a throttling reply, which do not
    /// count as attempts.
    throttled: u32,
}

impl Routable for Addressee {
    fn forward_path(&self) -> &ForwardPath {
        &self.path
    }
}

/// One A/B variant (or the one template): its name for the results file
/// (empty without variants) and its template.
pub struct Variant {
    /// The name in the results file's `variant` column.
    pub name: String,
    /// The message.
    pub template: Arc<Template>,
}

/// The outcomes so far, each written to the results file as it comes and
/// only counted here, so a long list is not held twice.
struct Outcomes<'a> {
    tally: Tally,
    results: &'a mut Writer,
}

impl Outcomes<'_> {
    fn push(
        &mut self,
        campaign: &Campaign,
        row: usize,
        variant: usize,
        outcome: Outcome,
    ) -> io::Result<()> {
        let name = campaign
            .variants
            .get(variant)
            .map_or("", |v| v.name.as_str());
        self.results
            .record(&campaign.rows[row].email, name, &outcome)?;
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
    /// The messages: one, or the A/B variants.
    pub variants: Vec<Variant>,
    /// How to reach next hops, and the source addresses to send from.
    pub transfer: Arc<Transfer>,
    /// Names this host is known by (MX records pointing here are skipped).
    pub own_hosts: Vec<Host>,
    /// Most messages per connection, and the most one (source, provider)
    /// pair sends in one round at full pace.
    pub per_connection: usize,
    /// Destinations sent to at once.
    pub connections: usize,
    /// Tries per recipient in this run; throttled tries count apart, up
    /// to as many.
    pub attempts: u32,
    /// The wait before trying a deferred recipient again.
    pub retry_after: Duration,
    /// The pause after a provider's first throttling reply to a source
    /// address; it doubles while the throttling goes on.
    pub throttle_pause: Duration,
    /// The warm-up schedule, if the addresses are warming up.
    pub warmup: Option<Warmup>,
    /// The warm-up's counts and the paces providers' throttling brought,
    /// kept between runs: counted even without a warm-up, so that one
    /// started later knows what each pair has sent.
    pub ledger: Ledger,
}

/// What `Campaign::send` did with a batch.
struct Sending {
    /// The connections' tasks; they end with the run, on an error too.
    tasks: JoinSet<()>,
    /// Outcomes as each transaction ends; closes when all are in.
    settling: mpsc::Receiver<Vec<Settled<Addressee>>>,
    /// Not sent: their pair is paused after a throttling reply, or has
    /// sent its round.
    paced: Vec<Addressee>,
    /// Not sent: their pair reached its warm-up cap.
    held: Vec<Addressee>,
    /// Sent: row, variant and attempts before this one.
    sent: Vec<(usize, usize, u32)>,
}

impl Campaign {
    /// Sends to every `(row, variant)` in `todo` (indices into `rows` and
    /// `variants`), appending one outcome per row to `results` as it
    /// settles, and returning how many ended in each status: delivered,
    /// failed (to be removed from the list), rejected, deferred (still
    /// refused for now after every try), throttled (the provider slowed
    /// the source down on every try) or held (past the warm-up cap, for a
    /// later run). Each recipient domain's recipients take the source
    /// addresses in turn, so every domain (and so every provider) gets
    /// the same share from each. Stops if the results cannot be written.
    pub async fn run(
        mut self,
        todo: Vec<(usize, usize)>,
        results: &mut Writer,
    ) -> io::Result<Tally> {
        let mut outcomes = Outcomes {
            tally: Tally::default(),
            results,
        };
        let started = Instant::now();
        let sources = self.transfer.sources().to_vec();
        // The paces' clock reads zero at `started`, which is `origin`
        // after the Unix epoch: saved paces are kept on the epoch's clock.
        let origin = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let mut paces = Paces::resumed(
            self.per_connection as u64,
            self.throttle_pause,
            &self.ledger.paces,
            origin,
        );
        let mut waiting: VecDeque<(Instant, Addressee)> = VecDeque::new();
        // Each domain's turn of the source addresses.
        let mut turns: HashMap<String, usize> = HashMap::new();
        for (row, variant) in todo {
            let email = &self.rows[row].email;
            match ForwardPath::parse(&format!("<{email}>")) {
                Ok(path) => waiting.push_back((
                    started,
                    Addressee {
                        row,
                        variant,
                        path,
                        source: next_source(&sources, &mut turns, email),
                        pair: None,
                        attempts: 0,
                        throttled: 0,
                    },
                )),
                Err(error) => {
                    let outcome = Outcome::invalid(&error.to_string());
                    outcomes.push(&self, row, variant, outcome)?;
                }
            }
        }
        let invalid = outcomes.tally.total();
        let mut progress = Progress::new(waiting.len() + invalid);
        progress.advance(invalid);
        let mut number = 0;
        while let Some(&(first_due, _)) = waiting.front() {
            let now = Instant::now();
            if first_due > now {
                tokio::time::sleep(first_due - now).await;
                continue;
            }
            let mut batch = Vec::new();
            while batch.len() < MAX_BATCH {
                match waiting.front() {
                    Some((due, _)) if *due <= Instant::now() => {
                        if let Some((_, addressee)) = waiting.pop_front() {
                            batch.push(addressee);
                        }
                    }
                    _ => break,
                }
            }
            let clock = started.elapsed();
            let sending = self
                .send(batch, &mut paces, (clock, origin), &mut number)
                .await;
            for held in sending.held {
                outcomes.push(&self, held.row, held.variant, Outcome::held(held.attempts))?;
                progress.advance(1);
            }
            for paced in sending.paced {
                let due = resume_at(&paces, &paced);
                waiting.push_back((started + due.max(clock), paced));
            }
            // Variant and attempts so far of each recipient not yet settled.
            let mut unsettled: HashMap<usize, (usize, u32)> = sending
                .sent
                .iter()
                .map(|&(row, variant, attempts)| (row, (variant, attempts)))
                .collect();
            // The pairs of this round, and those a provider throttled.
            let mut rounds: BTreeSet<Pair> = BTreeSet::new();
            let mut throttled: BTreeSet<Pair> = BTreeSet::new();
            let _tasks = sending.tasks;
            let mut settling = sending.settling;
            while let Some(chunk) = settling.recv().await {
                for settled in chunk {
                    unsettled.remove(&settled.recipient.row);
                    let throttling = by_throttling(&settled);
                    let mut addressee = settled.recipient;
                    if let Some(pair) = &addressee.pair {
                        rounds.insert(pair.clone());
                    }
                    if throttling {
                        addressee.throttled += 1;
                        if let Some(pair) = &addressee.pair {
                            throttled.insert(pair.clone());
                            paces.of(pair).throttled(started.elapsed());
                        }
                        if addressee.throttled < self.attempts {
                            let due = resume_at(&paces, &addressee);
                            waiting.push_back((started + due, addressee));
                            continue;
                        }
                        let outcome =
                            Outcome::of(Status::Throttled, addressee.attempts, &settled.attempts);
                        outcomes.push(&self, addressee.row, addressee.variant, outcome)?;
                        progress.advance(1);
                        continue;
                    }
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
                            outcomes.push(&self, addressee.row, addressee.variant, outcome)?;
                            progress.advance(1);
                        }
                    }
                }
            }
            for pair in rounds.difference(&throttled) {
                paces.of(pair).round_ended_well();
            }
            self.keep_state(&paces, (started.elapsed(), origin));
            // A task that failed reported nothing for its recipients: sent
            // or not, nobody knows, so they are left for a later run.
            for (row, (variant, attempts)) in unsettled {
                outcomes.push(&self, row, variant, Outcome::unknown(attempts + 1))?;
                progress.advance(1);
            }
            // Retries go after what was never tried, in due order.
            waiting.make_contiguous().sort_by_key(|(due, _)| *due);
        }
        progress.finish();
        Ok(outcomes.tally)
    }

    /// Messages the warm-up allows `pair` now; without one, no limit.
    fn warm_allowance(&self, pair: &Pair) -> u64 {
        self.ledger
            .allowance(self.warmup.as_ref(), pair, unix_now())
    }

    /// Saves the counts and the paces as they are at `clock` (the paces'
    /// clock and its origin since the Unix epoch); a failure is reported,
    /// and the run goes on.
    fn keep_state(&mut self, paces: &Paces, (now, origin): (Duration, Duration)) {
        self.ledger.paces = paces.saved(now, origin);
        if let Err(error) = self.ledger.save() {
            eprintln!("warm-up log: {error}");
        }
    }

    /// One try for each of `batch` that its pair's pace (at `clock`) and
    /// warm-up allow: grouped by destination and source address, one
    /// message each, many per connection, by the returned tasks.
    async fn send(
        &mut self,
        batch: Vec<Addressee>,
        paces: &mut Paces,
        (clock, origin): (Duration, Duration),
        number: &mut usize,
    ) -> Sending {
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
        let mut sending = Sending {
            tasks: JoinSet::new(),
            settling,
            paced: Vec::new(),
            held: Vec::new(),
            sent: Vec::new(),
        };
        // What each pair sends in this round, over all its destinations.
        let mut used: BTreeMap<Pair, u64> = BTreeMap::new();
        // Each connection's source, destination and messages.
        let mut connections = Vec::new();
        for group in plan.groups {
            let Some(destination) = group.destinations.first().cloned() else {
                continue;
            };
            let provider = self.transfer.routes.provider(&group);
            // One connection per source address.
            let mut by_source: BTreeMap<Option<IpAddr>, Vec<Addressee>> = BTreeMap::new();
            for addressee in group.recipients {
                by_source
                    .entry(addressee.source)
                    .or_default()
                    .push(addressee);
            }
            for (source, recipients) in by_source {
                let pair = pair_of(source, provider.clone());
                let pace = paces.of(&pair);
                let used = used.entry(pair.clone()).or_default();
                let paced_room = pace.allowance(clock).saturating_sub(*used);
                // The ledger counts this round only once it is planned.
                let warm_room = self.warm_allowance(&pair).saturating_sub(*used);
                let mut messages: Vec<Outgoing<Addressee>> = Vec::new();
                for mut addressee in recipients {
                    addressee.pair = Some(pair.clone());
                    let taken = messages.len() as u64;
                    if taken >= warm_room {
                        sending.held.push(addressee);
                    } else if taken >= paced_room {
                        sending.paced.push(addressee);
                    } else {
                        *number += 1;
                        let template = &self.variants[addressee.variant].template;
                        let content = template.render(
                            &self.rows[addressee.row],
                            *number,
                            SystemTime::now(),
                            &date,
                        );
                        sending
                            .sent
                            .push((addressee.row, addressee.variant, addressee.attempts));
                        messages.push(Outgoing {
                            delivery: Delivery::new(group.hops.clone(), vec![addressee]),
                            from: self.from.clone(),
                            content: content.into(),
                            requiretls: false,
                        });
                    }
                }
                *used += messages.len() as u64;
                if messages.is_empty() {
                    continue;
                }
                connections.push((source, destination.clone(), messages));
            }
        }
        // Counted and saved before any of them goes: a crash may
        // overcount a round, never undercount.
        self.ledger.record(&used, now);
        self.keep_state(paces, (clock, origin));
        for (source, destination, messages) in connections {
            let transfer = self.transfer.clone();
            let limit = limit.clone();
            let per_connection = self.per_connection;
            let settled = settled.clone();
            sending.tasks.spawn(async move {
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
                    .run_from(source, &destination, messages, per_connection, hand_back)
                    .await;
            });
        }
        sending
    }
}

/// When `addressee`'s pair may send again (zero if it was never paused).
fn resume_at(paces: &Paces, addressee: &Addressee) -> Duration {
    addressee
        .pair
        .as_ref()
        .map_or(Duration::ZERO, |pair| paces.resume_at(pair))
}

/// The source address of the next recipient at `email`'s domain: each
/// domain's recipients take `sources` in turn; `None` without sources.
fn next_source(
    sources: &[IpAddr],
    turns: &mut HashMap<String, usize>,
    email: &str,
) -> Option<IpAddr> {
    if sources.is_empty() {
        return None;
    }
    let domain = email.rsplit_once('@').map_or("", |(_, domain)| domain);
    let turn = turns.entry(domain.to_ascii_lowercase()).or_default();
    let source = sources[*turn % sources.len()];
    *turn += 1;
    Some(source)
}
