//! What the session waits for, the work queued by the caller, and how the
//! session starts that work and ends.

use alloc::boxed::Box;

use super::transaction::Transaction;
use super::{
    ClientEvent, ClientSession, Envelope, SessionError, TransactionFailure, TransactionId, Wait,
};
use crate::auth::{ClientAuth, ClientAuthError};
use crate::command::Command;

/// Where the session stands outside the replies it awaits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// Greeting, hello, STARTTLS and AUTH.
    Setup,
    /// 220 to STARTTLS was read; the transport belongs to the TLS handshake.
    TlsHandshake,
    /// Sending messages.
    Ready,
    /// QUIT was sent.
    Quitting,
    Closed,
}

/// What a reply to come answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Awaiting {
    Greeting,
    Ehlo,
    Helo,
    Lhlo,
    StartTls,
    Auth,
    Mail,
    /// The RCPT for the recipient at this index of the envelope.
    Rcpt(usize),
    Data,
    DataEnd,
    /// LMTP: the reply for accepted recipient `n` after the end of data.
    LmtpDelivery(usize),
    Bdat {
        last: bool,
    },
    Rset,
    Noop,
    Quit,
}

impl Awaiting {
    /// The command a reply answers, for error reports.
    pub(super) fn command(self) -> &'static str {
        match self {
            Awaiting::Greeting => "the greeting",
            Awaiting::Ehlo => "EHLO",
            Awaiting::Helo => "HELO",
            Awaiting::Lhlo => "LHLO",
            Awaiting::StartTls => "STARTTLS",
            Awaiting::Auth => "AUTH",
            Awaiting::Mail => "MAIL",
            Awaiting::Rcpt(_) => "RCPT",
            Awaiting::Data => "DATA",
            Awaiting::DataEnd | Awaiting::LmtpDelivery(_) => "the end of data",
            Awaiting::Bdat { .. } => "BDAT",
            Awaiting::Rset => "RSET",
            Awaiting::Noop => "NOOP",
            Awaiting::Quit => "QUIT",
        }
    }
}

/// Work the caller queued.
#[derive(Debug)]
pub(super) enum Job {
    Mail(TransactionId, Box<Envelope>),
    Noop,
    Quit,
}

pub(super) struct AuthExchange {
    pub(super) exchange: ClientAuth,
    /// The exchange failed on our side and was cancelled with `*`; the
    /// server's reply to that is awaited.
    pub(super) cancelled: Option<ClientAuthError>,
}

impl core::fmt::Debug for AuthExchange {
    /// Only the mechanism: the exchange holds the encoded credentials.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AuthExchange")
            .field("mechanism", self.exchange.mechanism())
            .field("cancelled", &self.cancelled)
            .finish_non_exhaustive()
    }
}

impl ClientSession {
    pub(super) fn is_closing(&self) -> bool {
        matches!(self.phase, Phase::Quitting | Phase::Closed)
            || self.jobs.iter().any(|job| matches!(job, Job::Quit))
    }

    /// What the session waits for from the server now, if anything.
    pub(super) fn waiting_for(&self) -> Option<Wait> {
        if matches!(self.phase, Phase::Closed | Phase::TlsHandshake) {
            return None;
        }
        match self.awaiting.front() {
            Some(Awaiting::Greeting) => Some(Wait::Greeting),
            Some(Awaiting::Data) => Some(Wait::DataInitiation),
            Some(Awaiting::Bdat { last: false }) => Some(Wait::DataBlock),
            Some(Awaiting::DataEnd | Awaiting::LmtpDelivery(_) | Awaiting::Bdat { last: true }) => {
                Some(Wait::DataTermination)
            }
            Some(_) => Some(Wait::Command),
            None if self.content_wanted().is_some() => Some(Wait::DataBlock),
            None => None,
        }
    }

    /// Starts queued work when nothing is in flight, or the next message
    /// when it may follow the end of the current one's data.
    pub(super) fn advance(&mut self) {
        while self.phase == Phase::Ready {
            if self.may_send_ahead() {
                if let Some(Job::Mail(id, envelope)) = self.jobs.pop_front() {
                    self.ahead = self.start_transaction(id, *envelope);
                }
                continue;
            }
            if !self.awaiting.is_empty() || self.current.is_some() {
                break;
            }
            let Some(job) = self.jobs.pop_front() else {
                break;
            };
            match job {
                Job::Mail(id, envelope) => self.current = self.start_transaction(id, *envelope),
                Job::Noop => self.send(&Command::Noop { arg: None }, Awaiting::Noop),
                Job::Quit => {
                    self.send(&Command::Quit, Awaiting::Quit);
                    self.phase = Phase::Quitting;
                }
            }
        }
    }

    /// RFC 2920 §3.1: the end of a message's data may open a group, and
    /// the next message's MAIL, RCPT and DATA may follow it before its
    /// reply. Only after DATA's end of data: that always ends the
    /// transaction on the server, whatever its reply, whereas a refused BDAT
    /// chunk leaves it open until RSET (RFC 3030 §2).
    fn may_send_ahead(&self) -> bool {
        let Some(current) = &self.current else {
            return false;
        };
        // Everything of `current` is on the wire once the last reply it
        // waits for is the end of data's.
        self.ahead.is_none()
            && current.pipelined
            && !current.content.is_chunked()
            && matches!(
                self.awaiting.back(),
                Some(Awaiting::DataEnd | Awaiting::LmtpDelivery(_))
            )
            && matches!(self.jobs.front(), Some(Job::Mail(..)))
    }

    pub(super) fn send(&mut self, command: &Command, awaiting: Awaiting) {
        command.emit(&mut self.out);
        self.awaiting.push_back(awaiting);
    }

    /// Sends the envelope (and, with PIPELINING, DATA or the first content
    /// request); `None` when the message was refused before anything went.
    fn start_transaction(&mut self, id: TransactionId, envelope: Envelope) -> Option<Transaction> {
        let caps = self.caps.clone().unwrap_or_default();
        let chunking = self.config.chunking && caps.chunking;
        let envelope = match envelope.prepare(&caps, self.tls, chunking) {
            Ok(envelope) => envelope,
            Err(error) => {
                self.events.push_back(ClientEvent::TransactionFailed {
                    id,
                    failure: TransactionFailure::Refused(error),
                });
                return None;
            }
        };
        let pipelined = caps.pipelining && self.config.pipelining;
        let mail = Command::mail(envelope.from.clone(), envelope.mail_params.clone());
        self.send(&mail, Awaiting::Mail);
        let mut transaction =
            Transaction::new(id, envelope, pipelined, &self.config, &caps, chunking);
        // RFC 2920 §3.1: with PIPELINING the whole envelope, and DATA, goes
        // in one group; every reply is still read in order. RFC 3030 §4.2:
        // BDAT chunks need not wait for the RCPT replies either.
        if pipelined {
            for index in 0..transaction.envelope.recipients.len() {
                self.send_rcpt(&transaction, index);
            }
            if transaction.content.is_chunked() {
                transaction.content.start();
            } else {
                self.send(&Command::Data, Awaiting::Data);
            }
        }
        Some(transaction)
    }

    pub(super) fn send_rcpt(&mut self, transaction: &Transaction, index: usize) {
        if let Some(recipient) = transaction.envelope.recipients.get(index) {
            let rcpt = Command::rcpt(recipient.path.clone(), recipient.params.clone());
            self.send(&rcpt, Awaiting::Rcpt(index));
        }
    }

    /// Ends the session on an error: the error, every message that will not
    /// go, then QUIT when the connection is still in step, or closing.
    pub(super) fn fail(&mut self, error: SessionError, quit: bool) {
        self.fail_with(error, quit, TransactionFailure::Interrupted);
    }

    /// [`fail`](Self::fail), with the failure to report for the message in
    /// progress.
    pub(super) fn fail_with(
        &mut self,
        error: SessionError,
        quit: bool,
        current: TransactionFailure,
    ) {
        self.events.push_back(ClientEvent::Error(error));
        if let Some(transaction) = self.current.take() {
            self.events.push_back(ClientEvent::TransactionFailed {
                id: transaction.id,
                failure: current,
            });
        }
        if let Some(transaction) = self.ahead.take() {
            self.events.push_back(ClientEvent::TransactionFailed {
                id: transaction.id,
                failure: TransactionFailure::Interrupted,
            });
        }
        for job in self.jobs.drain(..) {
            if let Job::Mail(id, _) = job {
                self.events.push_back(ClientEvent::TransactionFailed {
                    id,
                    failure: TransactionFailure::NotSent,
                });
            }
        }
        self.awaiting.clear();
        self.end_auth();
        if quit {
            self.send(&Command::Quit, Awaiting::Quit);
            self.phase = Phase::Quitting;
        } else {
            self.phase = Phase::Closed;
        }
    }
}
