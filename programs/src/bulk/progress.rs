//! A progress bar on standard error: done of total, rate and time left.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// Redrawn at most this often.
const REDRAW: Duration = Duration::from_millis(200);

/// The bar; silent when standard error is not a terminal.
pub struct Progress {
    total: usize,
    done: usize,
    started: Instant,
    drawn: Option<Instant>,
    shown: bool,
}

impl Progress {
    /// A bar for `total` recipients.
    pub fn new(total: usize) -> Self {
        Progress {
            total,
            done: 0,
            started: Instant::now(),
            drawn: None,
            shown: std::io::stderr().is_terminal(),
        }
    }

    /// `count` more recipients are settled.
    pub fn advance(&mut self, count: usize) {
        self.done = (self.done + count).min(self.total);
        let due = self.drawn.is_none_or(|at| at.elapsed() >= REDRAW);
        if self.shown && (due || self.done == self.total) {
            eprint!("\r{}", self.line());
            let _ = std::io::stderr().flush();
            self.drawn = Some(Instant::now());
        }
    }

    /// Ends the bar's line.
    pub fn finish(&self) {
        if self.shown && self.drawn.is_some() {
            eprintln!();
        }
    }

    /// `[#####.....] 120/400  30%  85.2/s  ETA 0:03:17`
    pub fn line(&self) -> String {
        const WIDTH: usize = 30;
        let filled = (self.done * WIDTH).checked_div(self.total).unwrap_or(WIDTH);
        let percent = (self.done * 100).checked_div(self.total).unwrap_or(100);
        let seconds = self.started.elapsed().as_secs_f64();
        let rate = if seconds > 0.0 {
            self.done as f64 / seconds
        } else {
            0.0
        };
        let eta = match self.total - self.done {
            0 => "0:00:00".to_string(),
            _ if rate <= 0.0 => "--:--:--".to_string(),
            left => {
                let secs = (left as f64 / rate).round() as u64;
                format!("{}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
            }
        };
        format!(
            "[{}{}] {}/{} {percent:>3}% {rate:>7.1}/s ETA {eta}",
            "#".repeat(filled),
            ".".repeat(WIDTH - filled),
            self.done,
            self.total
        )
    }
}
