//! The one line per transaction, written to stderr by one thread in batches:
//! a busy server then makes one write for many messages instead of one each.
//! Lines queued in the instant before the process exits may not be written.

use std::io::Write;
use std::sync::mpsc::{channel, Sender};
use std::sync::OnceLock;

static LINES: OnceLock<Sender<String>> = OnceLock::new();

/// Queues `line` for stderr.
pub fn write(line: String) {
    let sender = LINES.get_or_init(|| {
        let (sender, receiver) = channel::<String>();
        std::thread::spawn(move || {
            let mut batch = String::new();
            while let Ok(first) = receiver.recv() {
                batch.push_str(&first);
                batch.push('\n');
                // Everything already queued goes out with it.
                while let Ok(more) = receiver.try_recv() {
                    batch.push_str(&more);
                    batch.push('\n');
                }
                let _ = std::io::stderr().write_all(batch.as_bytes());
                batch.clear();
            }
        });
        sender
    });
    let _ = sender.send(line);
}
