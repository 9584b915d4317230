//! The sans-IO SMTP and LMTP client session.
//!
//! [`ClientSession`] sends queued messages over one connection: greeting,
//! EHLO (or HELO, or LHLO), STARTTLS, AUTH, then one transaction per message
//! (MAIL, RCPT, DATA or BDAT), and QUIT. It does no I/O: the caller moves
//! bytes between it and the transport, and keeps the clock.

mod config;
mod content;
mod envelope;
mod event;
mod replies;
#[cfg(test)]
mod tests;

pub use crate::reply::{classify, Cause, Classification, Permanence};
pub use config::{AuthConfig, ClientConfig, LongLines, StartTlsPolicy};
pub use content::{check_line_lengths, MAX_LINE_OCTETS};
pub use envelope::{Envelope, Recipient, Unsupported};
pub use event::{ClientError, ClientEvent, TransactionFailure, TransactionId, Wait};

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::vec::Vec;
use bytes::BytesMut;
use core::time::Duration;

use crate::auth::ClientAuth;
use crate::capability::Capabilities;
use crate::command::Command;
use crate::framing::{LineEndPolicy, ReplyAssembler};
use crate::reply::Reply;
use crate::Output;
use content::Content;

/// One SMTP or LMTP connection, seen from the client.
///
/// The session owns no socket. The caller queues messages with
/// [`send_mail`](Self::send_mail) (and ends with [`quit`](Self::quit)), then
/// runs the drain loop:
///
/// 1. Call [`poll_output`](Self::poll_output) until it blocks, and act on
///    what it returns:
///    - [`Output::Transmit`]: write the bytes to the server.
///    - [`Output::Event`]: a [`ClientEvent`] for the application.
///    - [`Output::NeedInput`]: read from the server and pass what came to
///      [`receive`](Self::receive) (it may take fewer bytes than given: pass
///      the rest later), or call [`receive_eof`](Self::receive_eof) at the
///      end of the stream, or [`handle_timeout`](Self::handle_timeout) when
///      the timer armed from [`timeout_hint`](Self::timeout_hint) fires.
///    - [`Output::AwaitingDecision`]: the session waits for the caller:
///      content when [`wants_content`](Self::wants_content) says so (through
///      [`send_content`](Self::send_content), which may take fewer bytes than
///      given, and [`finish_content`](Self::finish_content)), otherwise
///      another message or QUIT.
///    - [`Output::StartTls`]: upgrade the transport, then call
///      [`tls_established`](Self::tls_established). It comes once: polling
///      again without the upgrade ends the session with
///      [`ClientError::TlsNotEstablished`] (the connection is aborted, as
///      RFC 3207 §4.1 asks when the handshake cannot start). A caller with
///      no TLS sets [`StartTlsPolicy::Never`]; the default,
///      [`StartTlsPolicy::Opportunistic`], upgrades whenever the server
///      offers STARTTLS.
///    - [`Output::Closed`]: close the transport.
/// 2. Repeat.
///
/// Replies are read only when the session needs them, so replies that came
/// early wait in the (bounded) input buffer; the 220 to STARTTLS is the
/// exception, where anything after it is an attack and fails the session.
///
/// With PIPELINING (RFC 2920) a message costs one round trip: its MAIL,
/// RCPT and DATA go together, right behind the end of the previous
/// message's data, and BDAT chunks do not wait for the RCPT replies.
///
/// ```
/// use smtpwire::client::{ClientConfig, ClientEvent, ClientSession, Envelope};
/// use smtpwire::{Domain, ForwardPath, Output, ReversePath};
///
/// let config = ClientConfig::new(Domain::parse("client.example.org").unwrap());
/// let mut session = ClientSession::new(config);
/// let mut envelope = Envelope::new(ReversePath::parse("<alice@example.org>").unwrap());
/// envelope.add_recipient(ForwardPath::parse("<bob@example.net>").unwrap());
/// let id = session.send_mail(envelope).unwrap();
/// session.quit();
///
/// let mut server: &[u8] = b"220 mx.example.net ESMTP\r\n\
///     250-mx.example.net\r\n250 PIPELINING\r\n\
///     250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 Go ahead\r\n\
///     250 2.0.0 Queued\r\n221 2.0.0 Bye\r\n";
/// let mut body: &[u8] = b"Subject: hi\r\n\r\n.leading dot\r\n";
/// let mut wire = Vec::new();
/// let mut accepted = false;
/// loop {
///     match session.poll_output() {
///         Output::Transmit(bytes) => wire.extend_from_slice(&bytes),
///         Output::Event(ClientEvent::MessageAccepted { id: done, .. }) => accepted = done == id,
///         Output::Event(_) => {}
///         Output::AwaitingDecision if session.wants_content().is_some() => {
///             if body.is_empty() {
///                 session.finish_content().unwrap();
///             } else {
///                 let taken = session.send_content(body).unwrap();
///                 body = &body[taken..];
///             }
///         }
///         Output::NeedInput if server.is_empty() => session.receive_eof(),
///         Output::NeedInput => {
///             let taken = session.receive(server);
///             server = &server[taken..];
///         }
///         Output::Closed => break,
///         other => panic!("unexpected {other:?}"),
///     }
/// }
/// assert!(accepted);
/// // MAIL, RCPT and DATA went out together (PIPELINING); the body was dot-stuffed.
/// assert!(wire.starts_with(b"EHLO client.example.org\r\nMAIL FROM:<alice@example.org>\r\n\
///     RCPT TO:<bob@example.net>\r\nDATA\r\n"));
/// assert!(wire.ends_with(b"\r\n..leading dot\r\n.\r\nQUIT\r\n"));
/// ```
#[derive(Debug)]
pub struct ClientSession {
    config: ClientConfig,
    replies: ReplyAssembler,
    out: BytesMut,
    events: VecDeque<ClientEvent>,
    phase: Phase,
    /// What each reply still to come answers, in order.
    awaiting: VecDeque<Awaiting>,
    caps: Option<Capabilities>,
    tls: bool,
    auth: Option<AuthExchange>,
    jobs: VecDeque<Job>,
    /// The message whose replies are being read.
    current: Option<Transaction>,
    /// The next message, sent in the same group as the end of `current`'s
    /// data; its replies follow `current`'s.
    ahead: Option<Transaction>,
    next_id: u64,
    eof: bool,
    /// [`Output::StartTls`] was handed out for the handshake now due.
    starttls_told: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
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
enum Awaiting {
    Greeting,
    Ehlo,
    Helo,
    Lhlo,
    StartTls,
    Auth,
    Mail,
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

#[derive(Debug)]
enum Job {
    Mail(TransactionId, Box<Envelope>),
    Noop,
    Quit,
}

struct AuthExchange {
    exchange: ClientAuth,
    /// The exchange failed on our side and was cancelled with `*`; the
    /// server's reply to that is awaited.
    cancelled: Option<crate::auth::ClientAuthError>,
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

/// The message in progress.
#[derive(Debug)]
struct Transaction {
    id: TransactionId,
    envelope: Envelope,
    /// The server offers PIPELINING (RFC 2920).
    pipelined: bool,
    mail_ok: bool,
    /// Indices of the recipients the server took.
    accepted: Vec<usize>,
    failure: Option<TransactionFailure>,
    /// The reply that makes the message delivered.
    delivered: Option<Reply>,
    /// LMTP: the last per-recipient reply.
    last_delivery: Option<Reply>,
    /// The end of data was answered, so the server has no transaction left.
    ended: bool,
    content: Content,
}

impl Transaction {
    fn viable(&self) -> bool {
        self.mail_ok && !self.accepted.is_empty() && self.failure.is_none()
    }
}

/// Smallest content window: room for a few lines whatever the configuration.
const MIN_CONTENT_WINDOW: usize = 1024;

impl ClientSession {
    /// A session on a fresh connection; the server speaks first.
    pub fn new(mut config: ClientConfig) -> Self {
        config.content_window = config.content_window.max(MIN_CONTENT_WINDOW);
        let replies = ReplyAssembler::with_limits(config.reply_limits, LineEndPolicy::Strict);
        let tls = config.implicit_tls;
        ClientSession {
            config,
            replies,
            out: BytesMut::new(),
            events: VecDeque::new(),
            phase: Phase::Setup,
            awaiting: VecDeque::from([Awaiting::Greeting]),
            caps: None,
            tls,
            auth: None,
            jobs: VecDeque::new(),
            current: None,
            ahead: None,
            next_id: 0,
            eof: false,
            starttls_told: false,
        }
    }

    /// What the server supports, once its EHLO or LHLO reply is in; `None`
    /// before that and between STARTTLS and the new EHLO.
    pub fn capabilities(&self) -> Option<&Capabilities> {
        self.caps.as_ref()
    }

    /// Whether the transport is TLS.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// Whether the session is closed.
    pub fn is_closed(&self) -> bool {
        self.phase == Phase::Closed
    }

    /// Whether the session has nothing to do until the caller queues a
    /// message, a NOOP or QUIT.
    pub fn is_idle(&self) -> bool {
        self.phase == Phase::Ready
            && self.awaiting.is_empty()
            && self.current.is_none()
            && self.jobs.is_empty()
    }

    /// Queues a message; it is sent when the connection is ready and the
    /// messages before it are done, or, with PIPELINING and DATA, right
    /// behind the end of the previous message's data. Its outcome comes as
    /// events.
    ///
    /// Once the server's capabilities are known, an envelope the server
    /// cannot take is refused here; before that, it is refused with
    /// [`TransactionFailure::Refused`] when its turn comes.
    pub fn send_mail(&mut self, envelope: Envelope) -> Result<TransactionId, ClientError> {
        if self.is_closing() {
            return Err(ClientError::Closed);
        }
        if envelope.recipients.is_empty() {
            return Err(ClientError::NoRecipients);
        }
        if self.phase == Phase::Ready {
            if let Some(caps) = &self.caps {
                envelope
                    .clone()
                    .prepare(caps, self.tls, self.config.chunking && caps.chunking)?;
            }
        }
        let id = TransactionId(self.next_id);
        self.next_id += 1;
        self.jobs.push_back(Job::Mail(id, Box::new(envelope)));
        self.advance();
        Ok(id)
    }

    /// Queues a NOOP (RFC 5321 §4.1.1.9), answered with
    /// [`ClientEvent::NoopReply`].
    pub fn noop(&mut self) -> Result<(), ClientError> {
        if self.is_closing() {
            return Err(ClientError::Closed);
        }
        self.jobs.push_back(Job::Noop);
        self.advance();
        Ok(())
    }

    /// Queues QUIT after the messages already queued; later `send_mail`
    /// calls are refused. The session closes on the server's reply.
    pub fn quit(&mut self) {
        if !self.is_closing() {
            self.jobs.push_back(Job::Quit);
            self.advance();
        }
    }

    fn is_closing(&self) -> bool {
        matches!(self.phase, Phase::Quitting | Phase::Closed)
            || self.jobs.iter().any(|job| matches!(job, Job::Quit))
    }

    /// Takes bytes read from the server and returns how many it took: at
    /// most what fits in the input buffer, which holds about one reply of
    /// the configured [`ReplyLimits`](crate::framing::ReplyLimits). Pass the
    /// rest after the next `poll_output`.
    ///
    /// After the 220 to STARTTLS and before `tls_established`, any byte is
    /// an injected reply and fails the session.
    pub fn receive(&mut self, input: &[u8]) -> usize {
        match self.phase {
            Phase::Closed => return input.len(),
            Phase::TlsHandshake => {
                if !input.is_empty() {
                    self.fail(ClientError::ResponseInjection, false);
                }
                return input.len();
            }
            _ => {}
        }
        let limits = self.replies.limits();
        let window = limits.max_bytes.saturating_add(limits.max_line);
        let take = input
            .len()
            .min(window.saturating_sub(self.replies.buffered()));
        self.replies.push(input.get(..take).unwrap_or_default());
        take
    }

    /// The server closed the connection. Replies already received are still
    /// read; after them, unless QUIT was answered, the session fails with
    /// [`ClientError::ConnectionClosed`].
    pub fn receive_eof(&mut self) {
        self.eof = true;
    }

    /// How long to wait for the server now (RFC 5321 §4.5.3.2), or `None`
    /// when the session is not waiting for it.
    pub fn timeout_hint(&self) -> Option<Duration> {
        self.waiting_for().map(Wait::duration)
    }

    /// The caller's timer from [`timeout_hint`](Self::timeout_hint) fired:
    /// the session fails with [`ClientError::Timeout`] and closes.
    pub fn handle_timeout(&mut self) {
        if let Some(wait) = self.waiting_for() {
            self.fail(ClientError::Timeout(wait), false);
        }
    }

    fn waiting_for(&self) -> Option<Wait> {
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
            None if self.wants_content().is_some() => Some(Wait::DataBlock),
            None => None,
        }
    }

    /// The transport is now TLS: the session forgets what it learnt in
    /// clear and sends EHLO (or LHLO) again (RFC 3207 §4.2).
    pub fn tls_established(&mut self) {
        if self.phase == Phase::TlsHandshake {
            self.tls = true;
            self.starttls_told = false;
            self.phase = Phase::Setup;
            self.send_hello();
        }
    }

    /// The next thing for the caller to do; see the type's documentation.
    pub fn poll_output(&mut self) -> Output<ClientEvent> {
        loop {
            if !self.out.is_empty() {
                return Output::Transmit(self.out.split().freeze());
            }
            if let Some(event) = self.events.pop_front() {
                return Output::Event(event);
            }
            match self.phase {
                Phase::Closed => return Output::Closed,
                // RFC 3207 §4.1: a client that cannot start the handshake
                // after the 220 aborts the connection; the server waits for
                // TLS, so nothing more can be said in clear.
                Phase::TlsHandshake if self.starttls_told => {
                    self.fail(ClientError::TlsNotEstablished, false);
                    continue;
                }
                Phase::TlsHandshake => {
                    self.starttls_told = true;
                    return Output::StartTls;
                }
                _ => {}
            }
            let content = self.wants_content().is_some();
            if content && self.awaiting.is_empty() && !self.eof {
                return Output::AwaitingDecision;
            }
            match self.replies.next_reply() {
                Some(Ok(reply)) => {
                    self.on_reply(reply);
                    self.advance();
                    continue;
                }
                Some(Err(error)) => {
                    self.fail(ClientError::MalformedReply(error), false);
                    continue;
                }
                None => {}
            }
            if self.eof {
                if self.phase == Phase::Quitting {
                    self.phase = Phase::Closed;
                } else {
                    self.fail(ClientError::ConnectionClosed, false);
                }
                continue;
            }
            if content && self.content_room() > 0 {
                return Output::AwaitingDecision;
            }
            if !self.awaiting.is_empty() {
                return Output::NeedInput;
            }
            return Output::AwaitingDecision;
        }
    }

    /// Starts queued work when nothing is in flight, or the next message
    /// when it may follow the end of the current one's data.
    fn advance(&mut self) {
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

    fn send(&mut self, command: &Command, awaiting: Awaiting) {
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
        let mut transaction = Transaction {
            id,
            pipelined,
            mail_ok: false,
            accepted: Vec::new(),
            failure: None,
            delivered: None,
            last_delivery: None,
            ended: false,
            content: Content::new(&self.config, &caps, &envelope, chunking),
            envelope,
        };
        // RFC 2920 §3.1: with PIPELINING the whole envelope, and DATA, goes
        // in one group; every reply is still read in order. RFC 3030 §4.2:
        // BDAT chunks need not wait for the RCPT replies either.
        if pipelined {
            for index in 0..transaction.envelope.recipients.len() {
                self.send_rcpt(&transaction, index);
            }
            if transaction.content.is_chunked() {
                transaction.content.start();
                self.events.push_back(ClientEvent::ContentWanted(id));
            } else {
                self.send(&Command::Data, Awaiting::Data);
            }
        }
        Some(transaction)
    }

    fn send_rcpt(&mut self, transaction: &Transaction, index: usize) {
        if let Some(recipient) = transaction.envelope.recipients.get(index) {
            let rcpt = Command::rcpt(recipient.path.clone(), recipient.params.clone());
            self.send(&rcpt, Awaiting::Rcpt(index));
        }
    }

    /// Ends the session on an error: the error, every message that will not
    /// go, then QUIT when the connection is still in step, or closing.
    fn fail(&mut self, error: ClientError, quit: bool) {
        self.fail_with(error, quit, TransactionFailure::Interrupted);
    }

    /// [`fail`](Self::fail), with the failure to report for the message in
    /// progress.
    fn fail_with(&mut self, error: ClientError, quit: bool, current: TransactionFailure) {
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
