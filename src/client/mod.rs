//! The sans-IO SMTP and LMTP client session.
//!
//! [`ClientSession`] sends queued messages over one connection: greeting,
//! EHLO (or HELO, or LHLO), STARTTLS, AUTH, then one transaction per message
//! (MAIL, RCPT, DATA or BDAT), and QUIT. It does no I/O: the caller moves
//! bytes between it and the transport, and keeps the clock.
//!
//! # Transitions
//!
//! Every step of the session, as (state, input) → (what it sends or
//! reports, next state). The state is what the session waits for: the reply
//! to a command, the caller (`Ready`, `Content`), or the TLS handshake. A
//! reply is read only when it is the state's; "2yz", "4yz" and "5yz" are
//! reply classes. `tests/client_transitions.rs` drives every row by its
//! name.
//!
//! | Row | State | Input | Sends or reports | Next |
//! |-----|-------|-------|------------------|------|
//! | greet-ok | Greeting | 220 | `Greeting`; EHLO (LHLO for LMTP) | Hello |
//! | greet-554 | Greeting | 554 | `Error(GreetingRefused)`; QUIT | Quit |
//! | greet-other | Greeting | another reply | `Error(UnexpectedReply)` | Closed |
//! | hello-ok | Hello | 2yz | `Capabilities`; STARTTLS when offered and the policy is not `Never`, else AUTH when configured | StartTls, Auth or Ready |
//! | hello-no-tls | Hello | 2yz without STARTTLS, policy `Required` | `Error(StartTlsNotOffered)`; QUIT | Quit |
//! | hello-fallback | Hello (EHLO) | 500 or 502 | HELO (RFC 5321 §3.2) | Hello (HELO) |
//! | hello-refused | Hello | other 4yz or 5yz | `Error(HelloRefused)`; QUIT | Quit |
//! | starttls-ok | StartTls | 220 | `ClientOutput::StartTls` | TlsHandshake |
//! | starttls-injected | StartTls | 220 with more bytes behind it | `Error(ResponseInjection)` | Closed |
//! | starttls-refused | StartTls | 4yz or 5yz, policy `Required` | `Error(StartTlsRefused)`; QUIT | Quit |
//! | starttls-declined | StartTls | 4yz or 5yz, policy `Opportunistic` | AUTH when configured | Auth or Ready |
//! | tls-established | TlsHandshake | `tls_established` | EHLO again (RFC 3207 §4.2) | Hello |
//! | tls-injected | TlsHandshake | bytes from the server | `Error(ResponseInjection)` | Closed |
//! | tls-skipped | TlsHandshake | `poll_output` again | `Error(TlsNotEstablished)` | Closed |
//! | auth-cleartext | Hello or StartTls, AUTH configured | no TLS and no consent | `Error(AuthOverCleartext)`; QUIT | Quit |
//! | auth-no-mechanism | Hello or StartTls, AUTH configured | no usable mechanism offered | `Error(AuthNotOffered)`; QUIT | Quit |
//! | auth-ok | Auth | 235 | `Authenticated` | Ready |
//! | auth-challenge | Auth | 334 | the response line | Auth |
//! | auth-cancel | Auth | 334 the exchange cannot answer, then any reply | `*`, then `Error(Sasl)`; QUIT | Quit |
//! | auth-4yz | Auth | 4yz | `Error(AuthTemporaryFailure)`; QUIT | Quit |
//! | auth-5yz | Auth | 5yz | `Error(AuthRejected)`; QUIT | Quit |
//! | ready-mail | Ready | `send_mail` | MAIL; with PIPELINING also every RCPT and DATA | Mail |
//! | ready-refused | Ready | `send_mail` with what the server lacks | `Err` from `send_mail`, or `TransactionFailed(Refused)` at its turn | Ready |
//! | ready-noop | Ready | `noop` | NOOP | Noop |
//! | ready-quit | Ready | `quit` | QUIT | Quit |
//! | ready-idle | Ready | nothing queued | `ClientOutput::Idle` | Ready |
//! | mail-ok | Mail | 2yz | the first RCPT (without PIPELINING) | Rcpt |
//! | mail-refused | Mail | 4yz or 5yz | `TransactionFailed(MailRejected)`; with PIPELINING the RCPT replies after it are not reported | Ready |
//! | rcpt-ok | Rcpt | 2yz | `RecipientAccepted`; the next RCPT or DATA (without PIPELINING) | Rcpt or Data |
//! | rcpt-refused | Rcpt | 4yz or 5yz | `RecipientRejected`; the next RCPT or DATA (without PIPELINING) | Rcpt or Data |
//! | rcpt-none | Rcpt (the last) | no recipient taken | `TransactionFailed(NoValidRecipients)`; RSET | Rset |
//! | data-354 | Data | 354 | `ClientOutput::SendContent` | Content |
//! | data-354-none | Data | 354 after every RCPT was refused (PIPELINING) | an empty message's end of data (RFC 2920 §3.1) | DataEnd |
//! | data-354-lmtp-none | Data | 354 after every RCPT was refused, LMTP | `Error(UnexpectedReply)` (RFC 2033 §4.2: no reply would end it) | Closed |
//! | data-refused | Data | 4yz or 5yz | `TransactionFailed(DataRejected)`, or `NoValidRecipients`; RSET | Rset |
//! | content-send | Content | `send_content` | the content, dot-stuffed, or staged for BDAT | Content |
//! | content-finish | Content | `finish_content` | the end of data, or the last BDAT chunk; with PIPELINING the next message's MAIL, RCPT and DATA behind it (RFC 2920 §3.1) | DataEnd or Bdat |
//! | content-bad | Content | content that breaks a rule | `Error(ContentRefused)`, `TransactionFailed(Refused)` | Closed |
//! | bdat-ok | Bdat | 2yz to a chunk | the next chunk | Content or Bdat |
//! | bdat-last-ok | Bdat | 2yz to the last chunk | `MessageAccepted` | Ready |
//! | bdat-refused | Bdat | 4yz or 5yz | `TransactionFailed(DataRejected)` once every chunk sent is answered; RSET (RFC 3030 §2) | Rset |
//! | end-ok | DataEnd | 2yz | `MessageAccepted` | Ready |
//! | end-refused | DataEnd | 4yz or 5yz | `TransactionFailed(MessageRejected)` | Ready |
//! | lmtp-each | LmtpDelivery | a reply, more to come | `RecipientDelivery` | LmtpDelivery |
//! | lmtp-last | LmtpDelivery | the last reply | `RecipientDelivery`; `MessageAccepted` if any was 2yz, else `TransactionFailed(MessageRejected)` | Ready |
//! | rset-ok | Rset | 2yz | nothing | Ready |
//! | rset-other | Rset | another reply | `Error(UnexpectedReply)` | Closed |
//! | noop-reply | Noop | 2yz, 4yz or 5yz | `NoopReply` | Ready |
//! | quit-reply | Quit | any reply, or the end of the stream | nothing | Closed |
//! | any-421 | any reply awaited, or Ready | 421 | `Error(ServiceClosing)` (RFC 5321 §3.8) | Closed |
//! | any-misfit | any reply awaited | a reply of a class the command cannot have (354 to MAIL) | `Error(UnexpectedReply)` | Closed |
//! | any-unasked | Ready | a reply | `Error(UnexpectedReply)` | Closed |
//! | any-malformed | any reply awaited | a malformed reply | `Error(MalformedReply)` | Closed |
//! | any-eof | any but Quit | the end of the stream | `Error(ConnectionClosed)` | Closed |
//! | any-timeout | any reply awaited, or Content | `handle_timeout` | `Error(Timeout)` | Closed |
//!
//! Whenever the session ends with an error, each message it leaves undone
//! gets its `TransactionFailed` after the `Error`: `Interrupted` if it had
//! started, `NotSent` if not.
//!
//! In the code, `replies.rs` reads each reply against what it answers (the
//! setup rows there, the transaction rows in `transaction.rs`); `queue.rs`
//! starts queued work and ends the session; `content.rs` takes the content.

mod config;
mod content;
mod envelope;
mod error;
mod event;
mod queue;
mod replies;
#[cfg(test)]
mod tests;
mod transaction;

pub use crate::reply::{classify, Cause, Classification, Permanence};
pub use config::{AuthConfig, ClientConfig, LongLines, StartTlsPolicy};
pub use content::{check_line_lengths, MAX_LINE_OCTETS};
pub use envelope::{Envelope, Recipient, Unsupported};
pub use error::{ClientError, MessageError, SessionError, UsageError};
pub use event::{ClientEvent, ClientOutput, TransactionFailure, TransactionId, Wait};

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::sync::Arc;
use bytes::BytesMut;
use core::time::Duration;

use crate::auth::ChannelBinding;
use crate::capability::Capabilities;
use crate::framing::{LineEndPolicy, ReplyAssembler};
use crate::Text;
use queue::{AuthExchange, Awaiting, Job, Phase};
use transaction::Transaction;

/// One SMTP or LMTP connection, seen from the client.
///
/// The session owns no socket. Its public API comes in four groups:
///
/// - **What it knows**: [`capabilities`](Self::capabilities),
///   [`is_tls`](Self::is_tls), [`is_idle`](Self::is_idle),
///   [`is_closed`](Self::is_closed), [`timeout_hint`](Self::timeout_hint).
/// - **Input from the transport and the clock**: [`receive`](Self::receive)
///   (it may take fewer bytes than given: pass the rest later),
///   [`receive_eof`](Self::receive_eof), [`handle_timeout`](Self::handle_timeout)
///   and [`tls_established`](Self::tls_established).
/// - **Commands from the application**: [`send_mail`](Self::send_mail),
///   [`noop`](Self::noop), [`quit`](Self::quit), and the content of a
///   message, [`send_content`](Self::send_content) and
///   [`finish_content`](Self::finish_content).
/// - **Output**: [`poll_output`](Self::poll_output), called after any of the
///   above until it returns a blocking [`ClientOutput`], whose
///   documentation says what each asks for and in what order they come.
///
/// Replies are read only when the session needs them, so replies that came
/// early wait in the (bounded) input buffer; the 220 to STARTTLS is the
/// exception, where anything after it is an attack and fails the session.
/// A caller with no TLS sets [`StartTlsPolicy::Never`]; the default,
/// [`StartTlsPolicy::Opportunistic`], upgrades whenever the server offers
/// STARTTLS.
///
/// With PIPELINING (RFC 2920) a message costs one round trip: its MAIL,
/// RCPT and DATA go together, right behind the end of the previous
/// message's data, and BDAT chunks do not wait for the RCPT replies.
///
/// ```
/// use smtpwire::client::{ClientConfig, ClientEvent, ClientSession, Envelope};
/// use smtpwire::{ClientOutput, Domain, ForwardPath, ReversePath};
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
///         ClientOutput::Transmit(bytes) => wire.extend_from_slice(&bytes),
///         ClientOutput::Event(ClientEvent::MessageAccepted { id: done, .. }) => {
///             accepted = done == id
///         }
///         ClientOutput::Event(_) => {}
///         ClientOutput::SendContent(_) if body.is_empty() => session.finish_content().unwrap(),
///         ClientOutput::SendContent(_) => {
///             let taken = session.send_content(body).unwrap();
///             body = &body[taken..];
///         }
///         ClientOutput::NeedInput if server.is_empty() => session.receive_eof(),
///         ClientOutput::NeedInput => {
///             let taken = session.receive(server);
///             server = &server[taken..];
///         }
///         ClientOutput::Closed => break,
///         other @ (ClientOutput::Idle | ClientOutput::StartTls) => panic!("unexpected {other:?}"),
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
    config: Arc<ClientConfig>,
    /// The configured content window, or [`MIN_CONTENT_WINDOW`] if larger.
    content_window: usize,
    replies: ReplyAssembler,
    out: BytesMut,
    events: VecDeque<ClientEvent>,
    phase: Phase,
    /// What each reply still to come answers, in order.
    awaiting: VecDeque<Awaiting>,
    caps: Option<Capabilities>,
    tls: bool,
    /// The TLS connection's channel binding for SCRAM, when given.
    channel_binding: Option<ChannelBinding>,
    /// The nonce for a SCRAM exchange, used once.
    auth_nonce: Option<Text>,
    auth: Option<AuthExchange>,
    jobs: VecDeque<Job>,
    /// The message whose replies are being read.
    current: Option<Transaction>,
    /// The next message, sent in the same group as the end of `current`'s
    /// data; its replies follow `current`'s.
    ahead: Option<Transaction>,
    next_id: u64,
    eof: bool,
    /// [`ClientOutput::StartTls`] was handed out for the handshake now due.
    starttls_told: bool,
}

/// Smallest content window: room for a few lines whatever the configuration.
const MIN_CONTENT_WINDOW: usize = 1024;

/// Construction and what the session knows.
impl ClientSession {
    /// A session on a fresh connection; the server speaks first. The
    /// configuration may be shared by many sessions as an `Arc`.
    pub fn new(config: impl Into<Arc<ClientConfig>>) -> Self {
        let config = config.into();
        let replies = ReplyAssembler::with_limits(config.reply_limits, LineEndPolicy::Strict);
        ClientSession {
            content_window: config.content_window.max(MIN_CONTENT_WINDOW),
            replies,
            out: BytesMut::new(),
            events: VecDeque::new(),
            phase: Phase::Setup,
            awaiting: VecDeque::from([Awaiting::Greeting]),
            caps: None,
            tls: config.implicit_tls,
            channel_binding: None,
            auth_nonce: None,
            auth: None,
            jobs: VecDeque::new(),
            current: None,
            ahead: None,
            next_id: 0,
            eof: false,
            starttls_told: false,
            config,
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

    /// How long to wait for the server now (RFC 5321 §4.5.3.2), or `None`
    /// when the session is not waiting for it.
    pub fn timeout_hint(&self) -> Option<Duration> {
        self.waiting_for().map(Wait::duration)
    }
}

/// Input from the transport and the clock.
impl ClientSession {
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
                    self.fail(SessionError::ResponseInjection, false);
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
    /// [`SessionError::ConnectionClosed`].
    pub fn receive_eof(&mut self) {
        self.eof = true;
    }

    /// The caller's timer from [`timeout_hint`](Self::timeout_hint) fired:
    /// the session fails with [`SessionError::Timeout`] and closes.
    pub fn handle_timeout(&mut self) {
        if let Some(wait) = self.waiting_for() {
            self.fail(SessionError::Timeout(wait), false);
        }
    }

    /// The TLS connection's channel binding (RFC 9266 `tls-exporter`), for
    /// SCRAM: given right after [`tls_established`](Self::tls_established)
    /// (or at the start with implicit TLS) by a caller whose TLS stack
    /// exports it. With it SCRAM-SHA-256-PLUS can be chosen, and plain
    /// SCRAM tells the server the client could have bound. Ignored before
    /// TLS.
    pub fn set_channel_binding(&mut self, binding: ChannelBinding) {
        if self.tls {
            self.channel_binding = Some(binding);
        }
    }

    /// The client's nonce for a SCRAM exchange on this connection: fresh
    /// random printable US-ASCII without `,` (RFC 5802 §5.1; 18 random
    /// octets in base64 do). SCRAM is chosen only when one was given, and
    /// each nonce serves one exchange.
    pub fn set_auth_nonce(&mut self, nonce: Text) {
        self.auth_nonce = Some(nonce);
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
}

/// Commands from the application.
impl ClientSession {
    /// Queues a message; it is sent when the connection is ready and the
    /// messages before it are done, or, with PIPELINING and DATA, right
    /// behind the end of the previous message's data. Its outcome comes as
    /// events, whose recipient indices are positions in this envelope.
    ///
    /// Once the server's capabilities are known, an envelope the server
    /// cannot take is refused here; before that, it is refused with
    /// [`TransactionFailure::Refused`] when its turn comes.
    pub fn send_mail(&mut self, envelope: Envelope) -> Result<TransactionId, ClientError> {
        if self.is_closing() {
            return Err(UsageError::Closed.into());
        }
        if envelope.recipients.is_empty() {
            return Err(UsageError::NoRecipients.into());
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
    pub fn noop(&mut self) -> Result<(), UsageError> {
        if self.is_closing() {
            return Err(UsageError::Closed);
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

    /// Takes the next piece of the content of the message that
    /// [`ClientOutput::SendContent`] named, of any size and split anywhere,
    /// and returns how many bytes it took: fewer than given (even none) when
    /// the content window is full, in which case the caller writes what
    /// `poll_output` hands out and offers the rest again.
    ///
    /// With DATA, every line that starts with `.` is dot-stuffed and bare CR
    /// or LF is repaired or refused (RFC 5321 §4.5.2, §2.3.8). A line longer
    /// than [`MAX_LINE_OCTETS`] is refused or wrapped as
    /// [`ClientConfig::long_lines`] says. A [`ClientError::Refused`] here
    /// (8-bit content without 8BITMIME, more than the server's SIZE, a bare
    /// line ending under
    /// [`OutgoingBareNewline::Reject`](crate::data::OutgoingBareNewline::Reject),
    /// a line too long) fails the message and closes the session, since a
    /// message cut short must never end with an end of data. Line lengths
    /// are checked before any of `chunk` is encoded, so no line longer than
    /// the limit goes out.
    pub fn send_content(&mut self, chunk: &[u8]) -> Result<usize, ClientError> {
        self.take_content(chunk)
    }

    /// Ends the content: the end of data (DATA) or the last BDAT chunk.
    pub fn finish_content(&mut self) -> Result<(), ClientError> {
        self.end_content()
    }
}

/// Output.
impl ClientSession {
    /// The next thing for the caller to do; see [`ClientOutput`] for what
    /// each output asks and the order they come in.
    pub fn poll_output(&mut self) -> ClientOutput {
        loop {
            if !self.out.is_empty() {
                return ClientOutput::Transmit(self.out.split().freeze());
            }
            if let Some(event) = self.events.pop_front() {
                return ClientOutput::Event(event);
            }
            match self.phase {
                Phase::Closed => return ClientOutput::Closed,
                // RFC 3207 §4.1: a client that cannot start the handshake
                // after the 220 aborts the connection; the server waits for
                // TLS, so nothing more can be said in clear.
                Phase::TlsHandshake if self.starttls_told => {
                    self.fail(SessionError::TlsNotEstablished, false);
                    continue;
                }
                Phase::TlsHandshake => {
                    self.starttls_told = true;
                    return ClientOutput::StartTls;
                }
                _ => {}
            }
            let content = self.content_wanted();
            if let Some(id) = content.filter(|_| self.awaiting.is_empty() && !self.eof) {
                return ClientOutput::SendContent(id);
            }
            match self.replies.next_reply() {
                Some(Ok(reply)) => {
                    self.on_reply(reply);
                    self.advance();
                    continue;
                }
                Some(Err(error)) => {
                    self.fail(SessionError::MalformedReply(error), false);
                    continue;
                }
                None => {}
            }
            if self.eof {
                if self.phase == Phase::Quitting {
                    self.phase = Phase::Closed;
                } else {
                    self.fail(SessionError::ConnectionClosed, false);
                }
                continue;
            }
            if let Some(id) = content.filter(|_| self.content_room() > 0) {
                return ClientOutput::SendContent(id);
            }
            if !self.awaiting.is_empty() {
                return ClientOutput::NeedInput;
            }
            return ClientOutput::Idle;
        }
    }
}
