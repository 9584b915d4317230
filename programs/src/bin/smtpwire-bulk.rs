//! A bulk sender: one message template to a CSV recipient list, as a
//! newsletter or notification run does, built on the driver crate's
//! client (`smtpwire_tokio::client::Client`) and `smtpwire::delivery`.
//!
//! ```sh
//! cargo run -p smtpwire-programs --bin smtpwire-bulk -- --list list.csv --template message.eml \
//!     --from news@example.org --unsubscribe-url 'https://example.org/u?e={{email}}' \
//!     --warmup-daily 200 --warmup-hourly 50 --results results.csv
//! ```
//!
//! - The list needs an `email` column; every column can be used in the
//!   template and the unsubscribe address as `{{column}}`.
//! - Each recipient gets its own copy, with `List-Unsubscribe` and
//!   `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058), a
//!   Message-ID and a Date.
//! - Recipients are grouped by destination (MX records, or `--mx` routes);
//!   each connection carries up to `--per-connection` transactions,
//!   pipelined, with STARTTLS when offered.
//! - A warm-up schedule caps what a new sending address sends per day and
//!   per hour, growing by `--warmup-growth` percent a day; the counts are
//!   kept in `--warmup-state` between runs.
//! - `--dkim domain:selector:keyfile` (repeatable) signs each copy with
//!   the keys of its `From:` domain (RSA and Ed25519: both signatures when
//!   both are given); `smtpwire-dkim-key` makes keys and prints their DNS
//!   records. See `smtpwire_programs::dkim` for the fields signed.
//! - The results file gets a row per recipient as it settles: `remove` is
//!   `yes` for dead addresses (no such mailbox or domain), which should
//!   come off the list; other permanent refusals (policy, content) are
//!   `rejected` and kept. Recipients refused for now are retried in the run
//!   (`--attempts`, `--retry-after`); what is still deferred, or held by the
//!   warm-up cap, is sent by the next run with the same results file.

use std::process::ExitCode;

use smtpwire_programs::bulk::cli::{run, Args};

#[tokio::main]
async fn main() -> ExitCode {
    match run(smtpwire_programs::config::parse::<Args>()).await {
        Ok(summary) => {
            println!("{summary}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(2)
        }
    }
}
