//! A paced load generator: offers a fixed rate of transactions to an SMTP
//! server over a fixed number of connections and prints the latency of
//! each transaction's percentiles, which Postfix's smtp-source (as fast as
//! it can, untimed) cannot. `benches/cost.sh` runs it against
//! smtpwire-server and Postfix's smtp-sink.
//!
//! ```sh
//! cargo run --release -p smtpwire-tokio --example paced_load -- \
//!     127.0.0.1:2525 RATE CONNECTIONS SECONDS SIZE RECIPIENTS
//! ```
//!
//! Transaction `i` is due at `i / RATE` seconds after the start and goes
//! on connection `i % CONNECTIONS`, whatever became of the ones before it
//! (an open loop: a slow server does not slow the offered load down). Its
//! latency runs from MAIL to the reply to the end of data, counted from
//! when it was due if its connection was still busy then (the wait is part
//! of what the server costs, the "coordinated omission" a closed loop
//! hides), else from when it went out: the timer wakes up to a millisecond
//! late, which is not the server's doing. Every connection is made, EHLO
//! done, before the first transaction is due; STARTTLS is not used, so the
//! figures are the SMTP exchange's alone.
//!
//! It prints one line of `key=value` fields: `sent`, `failed` (refused or
//! cut off), `offered` and `achieved` (transactions per second), and
//! `p50_us`, `p90_us`, `p99_us`, `max_us` over the transactions that
//! succeeded. The exit status is non-zero when any failed.
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use smtpwire_tokio::client::{Client, Message, StartTlsPolicy};
use tokio::time::Instant;

/// The most transactions one run may offer, so that a mistyped rate or
/// duration cannot fill memory with latencies.
const MOST_TRANSACTIONS: u64 = 10_000_000;

/// The most connections, below common descriptor limits.
const MOST_CONNECTIONS: usize = 1_000;

/// What to offer, from the command line.
#[derive(Debug, Clone, PartialEq)]
struct Load {
    server: String,
    rate: f64,
    connections: usize,
    transactions: u64,
    size: usize,
    recipients: usize,
}

impl Load {
    /// `SERVER RATE CONNECTIONS SECONDS SIZE RECIPIENTS`.
    fn parse(args: &[String]) -> Result<Load, String> {
        let [server, rate, connections, seconds, size, recipients] = args else {
            return Err("expected SERVER RATE CONNECTIONS SECONDS SIZE RECIPIENTS".into());
        };
        let number = |name: &str, text: &str| -> Result<f64, String> {
            match text.parse::<f64>() {
                Ok(value) if value.is_finite() && value > 0.0 => Ok(value),
                _ => Err(format!("{name} must be a number above 0, not {text:?}")),
            }
        };
        let whole = |name: &str, text: &str, most: usize| -> Result<usize, String> {
            match text.parse::<usize>() {
                Ok(value) if (1..=most).contains(&value) => Ok(value),
                _ => Err(format!(
                    "{name} must be a whole number from 1 to {most}, not {text:?}"
                )),
            }
        };
        let rate = number("RATE", rate)?;
        let transactions = (rate * number("SECONDS", seconds)?).round();
        if !(1.0..=MOST_TRANSACTIONS as f64).contains(&transactions) {
            return Err(format!(
                "RATE × SECONDS must come to 1 to {MOST_TRANSACTIONS} transactions"
            ));
        }
        Ok(Load {
            server: server.clone(),
            rate,
            connections: whole("CONNECTIONS", connections, MOST_CONNECTIONS)?,
            transactions: transactions as u64,
            // 64 MiB: a message any server here would refuse is no benchmark.
            size: whole("SIZE", size, 64 << 20)?,
            // RFC 5321 §4.5.3.1.8: a server must take at least 100.
            recipients: whole("RECIPIENTS", recipients, 100)?,
        })
    }

    /// When transaction `number` is due, after `start`.
    fn due(&self, start: Instant, number: u64) -> Instant {
        start + Duration::from_secs_f64(number as f64 / self.rate)
    }

    /// The message every transaction sends: `size` octets of header and
    /// 78-character lines, to `recipients` recipients.
    fn message(&self) -> Message {
        let header = "From: <load@example.org>\r\nSubject: paced load\r\n\r\n";
        let line = format!("{}\r\n", "x".repeat(78));
        let mut content = String::with_capacity(self.size + line.len());
        content.push_str(header);
        while content.len() < self.size {
            content.push_str(&line);
        }
        let to = (0..self.recipients).map(|n| format!("rcpt{n}@example.net"));
        Message::new("load@example.org", to, Bytes::from(content))
            .expect("the generated envelope parses")
    }
}

/// What one connection measured: each successful transaction's latency in
/// microseconds, and how many failed.
#[derive(Debug, Default)]
struct Measured {
    latencies: Vec<u64>,
    failed: u64,
}

/// Sends connection `connection`'s share of the transactions over
/// `client`, each when it is due.
async fn one_connection(
    mut client: Client,
    load: &Load,
    message: &Message,
    connection: usize,
    start: Instant,
) -> Measured {
    let mut measured = Measured::default();
    let share = (connection as u64..load.transactions).step_by(load.connections);
    for number in share {
        let due = load.due(start, number);
        let began = if Instant::now() >= due {
            due
        } else {
            tokio::time::sleep_until(due).await;
            Instant::now()
        };
        match client.send(message.clone()).await {
            Ok(outcome) if outcome.all_accepted() => {
                measured.latencies.push(began.elapsed().as_micros() as u64);
            }
            Ok(_) => measured.failed += 1,
            Err(error) => {
                eprintln!("connection {connection}: {error}");
                // The rest of its share can no longer go out.
                measured.failed += (number..load.transactions)
                    .step_by(load.connections)
                    .count() as u64;
                return measured;
            }
        }
    }
    if let Err(error) = client.quit().await {
        eprintln!("connection {connection}: QUIT: {error}");
    }
    measured
}

/// The value at or below which `percent` of the sorted `values` lie
/// (nearest rank); 0 for none.
fn percentile(sorted: &[u64], percent: f64) -> u64 {
    let rank = (percent / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.saturating_sub(1)).copied().unwrap_or(0)
}

/// The line the run prints.
fn summary(load: &Load, mut latencies: Vec<u64>, failed: u64, elapsed: Duration) -> String {
    latencies.sort_unstable();
    let sent = latencies.len() as u64 + failed;
    format!(
        "sent={sent} failed={failed} offered={:.0} achieved={:.0} \
         p50_us={} p90_us={} p99_us={} max_us={}",
        load.rate,
        latencies.len() as f64 / elapsed.as_secs_f64().max(f64::MIN_POSITIVE),
        percentile(&latencies, 50.0),
        percentile(&latencies, 90.0),
        percentile(&latencies, 99.0),
        latencies.last().copied().unwrap_or(0),
    )
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let load = match Load::parse(&args) {
        Ok(load) => load,
        Err(error) => {
            eprintln!("paced_load: {error}");
            return std::process::ExitCode::from(2);
        }
    };
    let builder = Client::builder("load.example.org").starttls(StartTlsPolicy::Never);
    let mut clients = Vec::with_capacity(load.connections);
    for connection in 0..load.connections {
        match builder.clone().connect(&load.server).await {
            Ok(client) => clients.push(client),
            Err(error) => {
                eprintln!("paced_load: connection {connection}: {error}");
                return std::process::ExitCode::FAILURE;
            }
        }
    }
    let message = Arc::new(load.message());
    let load = Arc::new(load);
    let start = Instant::now();
    let tasks: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(connection, client)| {
            let (load, message) = (load.clone(), message.clone());
            tokio::spawn(
                async move { one_connection(client, &load, &message, connection, start).await },
            )
        })
        .collect();
    let (mut latencies, mut failed) = (Vec::new(), 0);
    for task in tasks {
        let measured = task.await.expect("a connection's task does not panic");
        latencies.extend(measured.latencies);
        failed += measured.failed;
    }
    let elapsed = start.elapsed();
    println!("{}", summary(&load, latencies, failed, elapsed));
    if failed == 0 {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(text: &str) -> Vec<String> {
        text.split(' ').map(String::from).collect()
    }

    #[test]
    fn parses_the_load_and_counts_its_transactions() {
        let load = Load::parse(&args("127.0.0.1:25 500 10 4 1024 20")).unwrap();
        assert_eq!(
            load,
            Load {
                server: "127.0.0.1:25".into(),
                rate: 500.0,
                connections: 10,
                transactions: 2000,
                size: 1024,
                recipients: 20,
            }
        );
    }

    #[test]
    fn refuses_loads_out_of_bounds() {
        for bad in [
            "127.0.0.1:25 0 10 4 1024 1",
            "127.0.0.1:25 500 0 4 1024 1",
            "127.0.0.1:25 500 1001 4 1024 1",
            "127.0.0.1:25 500 10 -1 1024 1",
            "127.0.0.1:25 1e9 10 1e9 1024 1",
            "127.0.0.1:25 NaN 10 4 1024 1",
            "127.0.0.1:25 500 10 4 1024 101",
            "127.0.0.1:25 500 10 4",
        ] {
            assert!(Load::parse(&args(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn transactions_fall_due_at_the_offered_rate() {
        let load = Load::parse(&args("127.0.0.1:25 500 10 4 1024 1")).unwrap();
        let start = Instant::now();
        assert_eq!(load.due(start, 0), start);
        assert_eq!(load.due(start, 500), start + Duration::from_secs(1));
        assert_eq!(load.due(start, 1), start + Duration::from_millis(2));
    }

    #[test]
    fn the_message_has_the_asked_size_and_recipients() {
        let load = Load::parse(&args("127.0.0.1:25 500 10 4 20480 20")).unwrap();
        let message = load.message();
        let size = message.content().len();
        assert!((20480..20480 + 80).contains(&size), "{size}");
        assert_eq!(message.envelope().recipients.len(), 20);
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let sorted: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&sorted, 50.0), 50);
        assert_eq!(percentile(&sorted, 99.0), 99);
        assert_eq!(percentile(&sorted, 100.0), 100);
        assert_eq!(percentile(&[7], 99.0), 7);
        assert_eq!(percentile(&[], 99.0), 0);
    }

    #[test]
    fn the_summary_counts_failures_as_sent() {
        let load = Load::parse(&args("127.0.0.1:25 100 1 1 1024 1")).unwrap();
        let line = summary(&load, vec![300, 100, 200], 2, Duration::from_secs(1));
        assert_eq!(
            line,
            "sent=5 failed=2 offered=100 achieved=3 p50_us=200 p90_us=300 p99_us=300 max_us=300"
        );
    }
}
