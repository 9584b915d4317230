//! Where mail goes next, and what to do after each try: the sans-IO parts
//! of a mail relay's delivery.
//!
//! - [`Planner`]: next hops from MX answers the caller looked up (RFC 5321
//!   §5.1, RFC 7505), recipients grouped so one connection carries each
//!   destination's recipients.
//! - [`Delivery`]: one message's attempts over a hop list, fed with a
//!   client session's events, settled into each recipient's [`Fate`] with a
//!   caller-configured [`Backoff`].
//! - [`DeliveryStatus`]: the `message/delivery-status` part of a bounce or
//!   delay notice (RFC 3464).
//! - [`Warmup`] and [`SendLog`]: daily and hourly caps that grow as a new
//!   sending address builds its reputation.
//! - [`provider_of`], [`is_throttling`] and [`Pace`]: warm-up as receiving
//!   providers see it, per source address and provider, slowed by their
//!   throttling replies.
//! - [`mta_sts`]: a domain's MTA-STS policy file (RFC 8461) read, and what
//!   it says of each MX host; [`Delivery::refused_by_policy`] records a
//!   host such a policy rules out.
//!
//! The caller keeps DNS, the clock and the randomness: answers, times (in
//! seconds on its own clock) and a seed are passed in.

mod backoff;
mod dsn;
mod failure;
pub mod mta_sts;
mod mx;
mod outcome;
mod plan;
mod provider;
mod shuffle;
#[cfg(test)]
mod tests;
mod warmup;

pub use backoff::{Backoff, Retry};
pub use dsn::{Action, DeliveryStatus, RecipientReport};
pub use mx::{Hop, MxAnswer, MxRecord, RouteError};
pub use outcome::{AttemptRecord, Delivery, Fate, RecipientState, Settled, Settlement};
pub use plan::{domains_to_resolve, HopGroup, MxAnswers, Plan, Planner, Routable, Unroutable};
pub use provider::{is_throttling, provider_of, Pace, PaceState, ThrottleRule, THROTTLING};
pub use shuffle::disjoint_samples;
pub use warmup::{SendLog, Warmup};
