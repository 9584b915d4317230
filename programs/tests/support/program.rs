//! One of this crate's programs run as a child process: its log lines
//! read as they come, and killed when the test ends, however it ends.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long a test waits for a log line.
const LOG_WAIT: Duration = Duration::from_secs(10);

/// A program started for a test.
pub struct Running {
    child: Child,
    log: mpsc::Receiver<String>,
}

impl Running {
    /// Starts `program` with `arguments`, under a service manager's
    /// `notify` socket when given.
    pub fn start(program: &str, arguments: &[&str], notify: Option<&Path>) -> Running {
        let mut command = Command::new(program);
        command.args(arguments).stderr(Stdio::piped());
        if let Some(socket) = notify {
            command.env("NOTIFY_SOCKET", socket);
        }
        let mut child = command.spawn().unwrap();
        let (lines, log) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if lines.send(line).is_err() {
                    return;
                }
            }
        });
        Running { child, log }
    }

    /// Sends SIGHUP, and returns the log line that says how it went.
    pub fn hang_up(&self) -> String {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .unwrap()
            .success());
        self.line_with(&["reloaded ", "reload refused"])
    }

    /// The next log line, waiting up to ten seconds for it.
    pub fn next_line(&self) -> String {
        self.log
            .recv_timeout(LOG_WAIT)
            .unwrap_or_else(|_| panic!("no log line in time"))
    }

    /// Waits up to ten seconds for a log line holding `text`.
    pub fn line_containing(&self, text: &str) -> String {
        self.line_with(&[text])
    }

    /// Waits up to ten seconds for a log line holding one of `texts`.
    pub fn line_with(&self, texts: &[&str]) -> String {
        let deadline = Instant::now() + LOG_WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.log.recv_timeout(left) {
                Ok(line) if texts.iter().any(|text| line.contains(text)) => return line,
                Ok(_) => {}
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    panic!("no log line with {texts:?} in time")
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    panic!("the program ended before a log line with {texts:?}")
                }
            }
        }
    }

    /// `smtpwire-server` taking mail into `maildir` over plain SMTP on a
    /// port of its own, and the address it listens on.
    pub fn maildir_sink(maildir: &Path) -> (Running, String) {
        let maildir = maildir.to_str().unwrap();
        let arguments = ["--listen", "127.0.0.1:0", "--no-tls", "--maildir", maildir];
        let sink = Running::start(env!("CARGO_BIN_EXE_smtpwire-server"), &arguments, None);
        let address = sink.address("SMTP on ");
        (sink, address)
    }

    /// The address on the first log line starting with `prefix`, as the
    /// programs report where they listen (`SMTP on 127.0.0.1:2525, …`).
    pub fn address(&self, prefix: &str) -> String {
        let line = self.line_containing(prefix);
        let rest = line
            .strip_prefix(prefix)
            .unwrap_or_else(|| panic!("{line}"));
        rest.split(',').next().unwrap().to_string()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
