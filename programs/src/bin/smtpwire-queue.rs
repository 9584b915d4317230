//! The relay's queue tools: look into the queue and act on its messages,
//! safe while the relay runs (Postfix's `mailq`, `postqueue -f` and
//! `postsuper -h/-H/-d/-r`).
//!
//! ```sh
//! smtpwire-queue --queue ./queue list            # like mailq
//! smtpwire-queue --queue ./queue list --json     # one JSON object per line
//! smtpwire-queue --queue ./queue flush           # every message tried now
//! smtpwire-queue --queue ./queue hold ID         # not tried until released
//! smtpwire-queue --queue ./queue release ID
//! smtpwire-queue --queue ./queue delete ID
//! smtpwire-queue --queue ./queue requeue ID      # attempts and backoff reset
//! smtpwire-queue --config /etc/smtpwire/relay.toml list   # the relay's queue key
//! ```
//!
//! An ID is the one in the relay's `250 … queued as ID` reply and its log
//! lines. A change to a message being delivered waits for that delivery to
//! end (`--wait` seconds at most): a deleted message is never sent after
//! `delete` said so.

use std::io;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

use smtpwire_programs::config::{self, ConfigError};
use smtpwire_programs::outbound::unix_now;
use smtpwire_programs::relay::admin::{Admin, Outcome};
use smtpwire_programs::relay::listing;

/// Command-line flags.
#[derive(Parser, Debug)]
#[command(about = "Look into and act on the smtpwire relay's queue")]
struct Args {
    /// The relay's queue directory. Default: the `queue` key of the
    /// --config file, or ./queue.
    #[arg(long)]
    queue: Option<PathBuf>,
    /// The relay's settings file (its `--config`), for its queue
    /// directory.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Seconds to wait for a delivery under way to end before changing its
    /// message.
    #[arg(long, default_value_t = 60.0)]
    wait: f64,
    #[command(subcommand)]
    command: Command,
}

/// What to do.
#[derive(Subcommand, Debug)]
enum Command {
    /// Every queued message: id, age, size, sender, attempts, next attempt,
    /// hold, and each recipient's standing and last error.
    List {
        /// One JSON object per message and line instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Try messages at the relay's next queue scan instead of at the end of
    /// their backoff: these, or all of them.
    Flush {
        /// Queue ids; none, every message waiting for delivery.
        ids: Vec<String>,
    },
    /// Keep messages from delivery until released.
    Hold {
        /// Queue ids.
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Let held messages be delivered again.
    Release {
        /// Queue ids.
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Remove messages from the queue.
    Delete {
        /// Queue ids.
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Reset messages' attempts and backoff, and try them now.
    Requeue {
        /// Queue ids.
        #[arg(required = true)]
        ids: Vec<String>,
    },
}

fn main() -> ExitCode {
    let args = Args::parse();
    let queue = match queue_directory(&args) {
        Ok(queue) => queue,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    let wait = Duration::try_from_secs_f64(args.wait.max(0.0)).unwrap_or(Duration::MAX);
    let admin = match Admin::open(&queue, wait) {
        Ok(admin) => admin,
        Err(error) => {
            eprintln!("error: {}: {error}", queue.display());
            return ExitCode::FAILURE;
        }
    };
    let results = match args.command {
        Command::List { json } => {
            return match admin.list() {
                Ok(entries) => {
                    let now = unix_now();
                    if json {
                        print!("{}", listing::json_lines(&entries, now));
                    } else {
                        print!("{}", listing::text(&entries, now));
                    }
                    ExitCode::SUCCESS
                }
                Err(error) => {
                    eprintln!("error: {error}");
                    ExitCode::FAILURE
                }
            };
        }
        Command::Flush { ids } if ids.is_empty() => match admin.flush_all() {
            Ok(results) => results,
            Err(error) => {
                eprintln!("error: {error}");
                return ExitCode::FAILURE;
            }
        },
        Command::Flush { ids } => each(ids, |id| admin.flush(id)),
        Command::Hold { ids } => each(ids, |id| admin.hold(id)),
        Command::Release { ids } => each(ids, |id| admin.release(id)),
        Command::Delete { ids } => each(ids, |id| admin.delete(id)),
        Command::Requeue { ids } => each(ids, |id| admin.requeue(id)),
    };
    report(&results)
}

/// `--queue`, else the relay's file's `queue`, else `./queue`.
fn queue_directory(args: &Args) -> Result<PathBuf, ConfigError> {
    if let Some(queue) = &args.queue {
        return Ok(queue.clone());
    }
    let from_file = match &args.config {
        Some(path) => config::string_value(path, "queue")?,
        None => None,
    };
    Ok(PathBuf::from(from_file.unwrap_or_else(|| "./queue".into())))
}

/// `act` on each id.
fn each(
    ids: Vec<String>,
    act: impl Fn(&str) -> io::Result<Outcome>,
) -> Vec<(String, io::Result<Outcome>)> {
    ids.into_iter()
        .map(|id| {
            let outcome = act(&id);
            (id, outcome)
        })
        .collect()
}

/// One line per id; fails if any id was not queued or could not be
/// changed.
fn report(results: &[(String, io::Result<Outcome>)]) -> ExitCode {
    let mut code = ExitCode::SUCCESS;
    for (id, outcome) in results {
        match outcome {
            Ok(Outcome::Done) => println!("{id}: done"),
            Ok(Outcome::AlreadySo) => println!("{id}: nothing to do"),
            Ok(Outcome::Delivering) => println!("{id}: being delivered now"),
            Ok(Outcome::NotQueued) => {
                eprintln!("{id}: not in the queue");
                code = ExitCode::FAILURE;
            }
            Err(error) => {
                eprintln!("{id}: {error}");
                code = ExitCode::FAILURE;
            }
        }
    }
    code
}
