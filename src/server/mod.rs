//! The sans-IO SMTP and LMTP server session.

mod checks;
mod close;
mod config;
mod error;
mod event;
mod foreign;
mod input;
mod output;
mod replies;
mod ticket;
mod transitions;
mod xclient;

use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::vec::Vec;
use bytes::BytesMut;
use core::time::Duration;

use crate::address::{ForwardPath, Host};
use crate::auth::{ChannelBinding, ServerAuth, StoredKeys};
use crate::data::{BdatDecoder, DataDecoder};
use crate::framing::LineFramer;
use crate::params::MailParameters;
use crate::reply::{Reply, ReplyCode};
use crate::Text;

pub use close::CloseReason;
pub use config::{
    AddressControlPolicy, AuthPolicy, Deadline, EarlyTalkerPolicy, LongLinePolicy, ServerConfig,
    ServerLimits, SyncPolicy,
};
pub use error::DecisionError;
pub use event::{
    AbortReason, AuthKeysRequest, AuthRequest, ConnectRequest, DataRequest, EtrnRequest,
    HelloRequest, MailRequest, MessageRequest, NotARejection, RcptRequest, Reject, ServerEvent,
    StartTlsRequest, VerifyRequest, XclientRequest,
};
pub use output::ServerOutput;
pub use xclient::XclientAttribute;

use replies::Canned;
use ticket::Ticket;
use transitions::Verdict;

/// RFC 5321 §4.5.3.2.7: a server should wait at least five minutes for the
/// next command or block of data; the default of [`ServerLimits::timeout`].
pub const SERVER_TIMEOUT: Duration = crate::limits::DEFAULT_SERVER_TIMEOUT;

/// One SMTP or LMTP connection, seen from the server.
///
/// The session owns no socket. The caller moves bytes and decisions in and
/// out, in a drain loop:
///
/// 1. Give the session what the peer sent with [`receive`](Self::receive)
///    (or [`receive_eof`](Self::receive_eof), or
///    [`handle_timeout`](Self::handle_timeout) when the timer armed from
///    [`timeout_hint`](Self::timeout_hint) fires), and tell it how long the
///    wait took with [`advance`](Self::advance), so that a client trickling
///    a request runs out of time as an idle one does.
/// 2. Call [`poll_output`](Self::poll_output) until it blocks: write every
///    [`ServerOutput::Transmit`], answer every request in a
///    [`ServerOutput::Event`] with [`accept`](Self::accept) or
///    [`reject`](Self::reject) (now or later), upgrade the transport on
///    [`ServerOutput::StartTls`], close it on [`ServerOutput::Closed`].
///
/// Its methods come in four groups, in this order below:
///
/// - **Getters**, which change nothing: [`is_tls`](Self::is_tls),
///   [`is_authenticated`](Self::is_authenticated),
///   [`in_transaction`](Self::in_transaction),
///   [`hello_host`](Self::hello_host), [`close_reason`](Self::close_reason),
///   [`config`](Self::config).
/// - **Input**, what the peer and the transport did:
///   [`receive`](Self::receive), [`receive_eof`](Self::receive_eof),
///   [`advance`](Self::advance), [`handle_timeout`](Self::handle_timeout),
///   [`tls_established`](Self::tls_established).
/// - **Application commands**, the answers to requests and the server's own
///   wish to stop: [`accept`](Self::accept),
///   [`accept_with`](Self::accept_with), [`reject`](Self::reject),
///   [`accept_event`](Self::accept_event), [`deliver`](Self::deliver),
///   [`shutdown`](Self::shutdown).
/// - **Output**, what the caller must do next:
///   [`poll_output`](Self::poll_output), [`timeout_hint`](Self::timeout_hint).
///
/// Commands in the wrong order never reach the application: the session
/// answers them itself (503 and friends). Pipelined commands (RFC 2920) are
/// answered in order; [`ServerOutput`] tells when their replies leave.
/// Every transition, from a state and an input to a reply or a request and
/// the next state, is in one file, `src/server/transitions.rs`, whose
/// documentation tabulates them.
///
/// ```
/// use smtpwire::server::{ServerConfig, ServerEvent, ServerOutput, ServerSession};
/// use smtpwire::Text;
///
/// let config = ServerConfig::new(Text::from_static("mx.example.org"));
/// let mut session = ServerSession::new(config);
/// let mut wire = Vec::new();
/// let mut message = Vec::new();
/// // What the client writes each time it has its replies: EHLO and DATA
/// // end a pipelined group (RFC 2920 §3.1).
/// let mut writes = [
///     &b"EHLO client.example\r\n"[..],
///     b"MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n",
///     b"Hello\r\n.\r\nQUIT\r\n",
/// ]
/// .into_iter();
/// let mut client_input: &[u8] = &[];
/// loop {
///     match session.poll_output() {
///         ServerOutput::Transmit(bytes) => wire.extend_from_slice(&bytes),
///         ServerOutput::Event(ServerEvent::Content(chunk)) => message.extend_from_slice(&chunk),
///         ServerOutput::Event(event) => session.accept_event(event).unwrap(),
///         ServerOutput::NeedInput => {
///             if client_input.is_empty() {
///                 client_input = writes.next().unwrap_or_default();
///             }
///             let taken = session.receive(client_input);
///             client_input = &client_input[taken..];
///         }
///         ServerOutput::Closed => break,
///         other => panic!("unexpected {other:?}"),
///     }
/// }
/// assert_eq!(message, b"Hello\r\n");
/// assert!(wire.ends_with(b"221 2.0.0 Bye\r\n"));
/// ```
#[derive(Debug)]
pub struct ServerSession {
    config: Arc<ServerConfig>,
    input: LineFramer,
    output: BytesMut,
    events: VecDeque<ServerEvent>,
    phase: Phase,
    /// Tells this session's tokens from other sessions'.
    stamp: usize,
    last_ticket: u64,
    hello: Option<Hello>,
    tls: bool,
    /// The TLS connection's binding for SCRAM -PLUS, when the caller gave it.
    channel_binding: Option<ChannelBinding>,
    authenticated: bool,
    transaction: Option<Transaction>,
    /// The DATA decoder, kept in place between messages rather than moved
    /// in and out of the phase.
    content: DataDecoder,
    errors: usize,
    junk: usize,
    eof: bool,
    /// What is left of the time the client has for the current request.
    time_left: Duration,
    closed_by: Option<CloseReason>,
}

/// What the session waits for: the state of the transition table in
/// `transitions.rs`, beside what the connection has learnt (`hello`, `tls`,
/// `authenticated`, `transaction`), which holds across states.
#[derive(Debug)]
enum Phase {
    /// Waiting for the PROXY protocol header.
    Proxy,
    /// The connection decision, this token, is outstanding; the greeting is
    /// not sent yet.
    Greeting(Ticket),
    /// The greeting was a refusal: only QUIT is answered (RFC 5321 §3.1).
    Refused,
    /// Reading command lines.
    Commands,
    /// A request, this token, is outstanding: input stays buffered until it
    /// is decided, and command lines are read again after.
    Deciding(Ticket),
    /// Inside a SASL exchange: each line answers a 334 challenge.
    Auth(ServerAuth),
    /// A SASL exchange waits for the caller to look up the user's keys,
    /// the request with this token.
    AuthLookup(Ticket, alloc::boxed::Box<ServerAuth>),
    /// Reading DATA content with [`ServerSession::content`].
    Data,
    /// Inside the octets of an accepted BDAT chunk.
    Chunk,
    /// Inside the octets of a refused BDAT chunk: RFC 3030 §2 has them follow
    /// the command whatever its reply, so they are read and dropped, then
    /// `reply` is sent.
    SkipChunk {
        remaining: u64,
        reply: Reply,
    },
    /// 220 to STARTTLS was sent; the transport belongs to the TLS handshake.
    TlsHandshake,
    Closed,
}

#[derive(Debug)]
struct Hello {
    host: Host,
    extended: bool,
}

#[derive(Debug)]
struct Transaction {
    params: MailParameters,
    recipients: Vec<ForwardPath>,
    /// RCPTs answered 452 for being past the recipient limit.
    over_cap: usize,
    body: Body,
}

#[derive(Debug)]
enum Body {
    /// No DATA or BDAT yet.
    Envelope,
    /// DATA was accepted; content is streaming.
    Data,
    /// BDAT chunks are being read into one message.
    Chunks(BdatDecoder),
    /// A BDAT was refused; later chunks are read and refused until RSET.
    FailedChunks,
}

/// What one step of input processing did.
enum Progress {
    Advanced,
    Blocked,
}

impl ServerSession {
    /// A session for one new connection.
    ///
    /// The first [`poll_output`](Self::poll_output) gives
    /// [`ServerEvent::Connect`] (after the PROXY header, when configured).
    pub fn new(config: impl Into<Arc<ServerConfig>>) -> Self {
        let config = config.into();
        let input = LineFramer::new(config.limits.command_line, config.line_ends);
        let proxy_protocol = config.proxy_protocol;
        let time_left = config.limits.timeout;
        let mut session = ServerSession {
            config,
            input,
            output: BytesMut::new(),
            events: VecDeque::new(),
            phase: Phase::Proxy,
            stamp: ticket::session_stamp(),
            last_ticket: 0,
            hello: None,
            tls: false,
            channel_binding: None,
            authenticated: false,
            transaction: None,
            content: DataDecoder::new(),
            errors: 0,
            junk: 0,
            eof: false,
            time_left,
            closed_by: None,
        };
        if !proxy_protocol {
            session.announce_connection(None);
        }
        session
    }

    // --- getters: what the session knows ---

    /// Whether [`tls_established`](Self::tls_established) was called.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// Whether AUTH succeeded in this session.
    pub fn is_authenticated(&self) -> bool {
        self.authenticated
    }

    /// Whether a mail transaction is open (MAIL accepted, message not yet
    /// answered): a server shutting down gracefully waits for it before
    /// calling [`shutdown`](Self::shutdown).
    pub fn in_transaction(&self) -> bool {
        self.transaction.is_some()
    }

    /// The name from the accepted HELO, EHLO or LHLO.
    pub fn hello_host(&self) -> Option<&Host> {
        self.hello.as_ref().map(|hello| &hello.host)
    }

    /// Why the session closed, once it has.
    ///
    /// A transport that fails is the caller's to log: the session only
    /// learns of it as the end of input ([`CloseReason::PeerClosed`]).
    pub fn close_reason(&self) -> Option<CloseReason> {
        self.closed_by
    }

    /// The configuration the session runs under.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    // --- input: what the peer and the transport did ---

    /// Takes bytes the peer sent and returns how many it took.
    ///
    /// It takes fewer than offered when its bounded input buffer is full (a
    /// decision is outstanding, or the peer pipelines faster than replies are
    /// written): drain [`poll_output`](Self::poll_output), then offer the rest
    /// again. Nothing is parsed here.
    pub fn receive(&mut self, input: &[u8]) -> usize {
        if matches!(self.phase, Phase::Closed) {
            return input.len();
        }
        if input.is_empty() {
            return 0;
        }
        if matches!(self.phase, Phase::TlsHandshake) {
            // RFC 3207 §4.2 and CVE-2011-0411: nothing sent in cleartext after
            // STARTTLS may be read as part of the TLS session.
            self.fail(replies::PIPELINED_STARTTLS, CloseReason::PipelinedStartTls);
            return input.len();
        }
        if matches!(self.phase, Phase::Greeting(_))
            && self.config.early_talkers == config::EarlyTalkerPolicy::Reject
        {
            self.fail(replies::EARLY_TALKER, CloseReason::EarlyTalker);
            return input.len();
        }
        // Never less than the line limit in force: a bound below it would
        // leave a partial line that is neither complete nor too long, and
        // the session could take no more input nor make progress.
        let bound = self.config.limits.pending_input.max(self.input.max_line());
        let room = bound.saturating_sub(self.input.buffered());
        let taken = input.len().min(room);
        self.input.push(&input[..taken]);
        self.earn_time(taken);
        taken
    }

    /// The peer closed its side of the connection.
    pub fn receive_eof(&mut self) {
        self.eof = true;
    }

    /// Time passed while the caller waited for the peer: counts down what
    /// [`timeout_hint`](Self::timeout_hint) gives next. Report every wait,
    /// whether it ended with input or not; with [`Deadline::PerRead`] it
    /// changes nothing.
    pub fn advance(&mut self, elapsed: Duration) {
        if matches!(self.config.limits.deadline, Deadline::PerRequest { .. }) {
            self.time_left = self.time_left.saturating_sub(elapsed);
        }
    }

    /// The timer armed from [`timeout_hint`](Self::timeout_hint) fired:
    /// answers 421 4.4.2 and closes (RFC 5321 §4.5.3.2).
    pub fn handle_timeout(&mut self) {
        if !matches!(self.phase, Phase::Closed) {
            self.fail(replies::TIMEOUT, CloseReason::Timeout);
        }
    }

    /// The transport is now TLS: the session forgets everything learned
    /// before (RFC 3207 §4.2) and waits for a new EHLO.
    pub fn tls_established(&mut self) {
        if matches!(self.phase, Phase::TlsHandshake) {
            self.tls = true;
            self.phase = Phase::Commands;
            self.next_request();
        }
    }

    /// The TLS connection's channel binding (RFC 9266 `tls-exporter`), given
    /// right after [`tls_established`](Self::tls_established) by a caller
    /// whose TLS stack exports it. With it, SCRAM-SHA-256-PLUS is offered
    /// when the configuration lists it, and plain SCRAM refuses clients
    /// that could have bound (RFC 5802 §6). Ignored before TLS.
    pub fn set_channel_binding(&mut self, binding: ChannelBinding) {
        if self.tls {
            self.channel_binding = Some(binding);
        }
    }

    // --- application commands: decisions, and the server shutting down ---

    /// Accepts a request with its usual positive reply.
    ///
    /// # Errors
    ///
    /// The decision has no effect, and says why (see [`DecisionError`]):
    /// [`DecisionError::Closed`] when the session closed while it was being
    /// made, [`DecisionError::NotAwaited`] for a token of another session,
    /// [`DecisionError::NotARequest`] for an event that asks nothing.
    pub fn accept(&mut self, request: impl Into<ServerEvent>) -> Result<(), DecisionError> {
        let request = request.into();
        self.claim(request.ticket())?;
        self.decided(request, Verdict::Accept(None));
        Ok(())
    }

    /// Accepts a request with the caller's text on the positive reply, such as
    /// a queue id for a message (`250 2.0.0 queued as 4F2A`) or the answer to
    /// VRFY. Replies whose form the protocol fixes (the greeting, EHLO, 354,
    /// 220 to STARTTLS) keep their own text.
    ///
    /// # Errors
    ///
    /// The decision has no effect, and says why (see [`DecisionError`]):
    /// [`DecisionError::Closed`] when the session closed while it was being
    /// made, [`DecisionError::NotAwaited`] for a token of another session,
    /// [`DecisionError::NotARequest`] for an event that asks nothing.
    pub fn accept_with(
        &mut self,
        request: impl Into<ServerEvent>,
        text: Text,
    ) -> Result<(), DecisionError> {
        let request = request.into();
        self.claim(request.ticket())?;
        self.decided(request, Verdict::Accept(Some(text)));
        Ok(())
    }

    /// Refuses a request with a 4xx or 5xx reply.
    ///
    /// # Errors
    ///
    /// The decision has no effect, and says why (see [`DecisionError`]):
    /// [`DecisionError::Closed`] when the session closed while it was being
    /// made, [`DecisionError::NotAwaited`] for a token of another session,
    /// [`DecisionError::NotARequest`] for an event that asks nothing.
    pub fn reject(
        &mut self,
        request: impl Into<ServerEvent>,
        reject: Reject,
    ) -> Result<(), DecisionError> {
        let request = request.into();
        self.claim(request.ticket())?;
        self.decided(request, Verdict::Reject(reject));
        Ok(())
    }

    /// Answers [`ServerEvent::AuthKeys`] with the user's SCRAM keys (`None`
    /// for a user without keys for the hash asked) and `nonce`, the
    /// server's part of the exchange's nonce: fresh random printable text
    /// without `,`, new for every exchange (18 random octets in base64 do).
    /// Accepting the request instead ends the exchange with 535.
    ///
    /// # Errors
    ///
    /// As for [`accept`](Self::accept); the keys then have no effect.
    pub fn supply_keys(
        &mut self,
        request: AuthKeysRequest,
        keys: Option<&StoredKeys>,
        nonce: &str,
    ) -> Result<(), DecisionError> {
        self.claim(Some(request.ticket))?;
        if let Phase::Auth(exchange) = &mut self.phase {
            let step = exchange.supply_keys(keys, nonce);
            self.continue_auth(step);
        }
        Ok(())
    }

    /// Accepts whatever the event asks, if it asks anything: a shortcut for
    /// tests and for servers whose policy is "take everything". Unlike
    /// [`accept`](Self::accept), an event that asks nothing is no error.
    ///
    /// # Errors
    ///
    /// [`DecisionError::Closed`] when the session closed while the decision
    /// was being made, [`DecisionError::NotAwaited`] for a token of another
    /// session; the decision then has no effect (see [`DecisionError`]).
    pub fn accept_event(&mut self, event: ServerEvent) -> Result<(), DecisionError> {
        if event.ticket().is_none() {
            return Ok(());
        }
        self.accept(event)
    }

    /// LMTP (RFC 2033 §4.2): answers the end of a message with one outcome per
    /// accepted recipient, in the order of [`MessageRequest::recipients`].
    ///
    /// A recipient left without an outcome gets 451 4.3.0, so a short list
    /// can delay mail but never lose or wrongly confirm it; outcomes past the
    /// last recipient are ignored. In SMTP mode the first outcome answers the
    /// whole message.
    ///
    /// # Errors
    ///
    /// [`DecisionError::Closed`] when the session closed while the decision
    /// was being made, [`DecisionError::NotAwaited`] for a token of another
    /// session; the decision then has no effect (see [`DecisionError`]).
    pub fn deliver(
        &mut self,
        request: MessageRequest,
        outcomes: impl IntoIterator<Item = Result<(), Reject>>,
    ) -> Result<(), DecisionError> {
        self.claim(Some(request.ticket))?;
        self.delivered(request, outcomes);
        Ok(())
    }

    /// Ends the session from the server's side with 421 (RFC 5321 §3.8), for a
    /// server that is shutting down.
    pub fn shutdown(&mut self) {
        if !matches!(self.phase, Phase::Closed) {
            self.fail(replies::SHUTTING_DOWN, CloseReason::Shutdown);
        }
    }

    // --- output: what the caller must do next ---

    /// The next thing the caller must do. Call it until it returns a blocking
    /// variant (see [`ServerOutput::is_blocking`]); [`ServerOutput`] tells
    /// in what order events and transmits come.
    pub fn poll_output(&mut self) -> ServerOutput {
        loop {
            if let Some(event) = self.events.pop_front() {
                return ServerOutput::Event(event);
            }
            if self.output.len() >= self.config.limits.pending_output {
                break;
            }
            match self.step() {
                Progress::Advanced => continue,
                Progress::Blocked => break,
            }
        }
        if !self.output.is_empty() {
            return ServerOutput::Transmit(self.output.split().freeze());
        }
        match self.phase {
            Phase::Closed => ServerOutput::Closed,
            Phase::TlsHandshake => ServerOutput::StartTls,
            Phase::Greeting(_) | Phase::Deciding(_) | Phase::AuthLookup(..) => {
                ServerOutput::AwaitingDecision
            }
            _ => ServerOutput::NeedInput,
        }
    }

    /// How long to wait for the peer, from now, before calling
    /// [`handle_timeout`](Self::handle_timeout); `None` when the session is
    /// not waiting for the peer (a decision is outstanding, TLS is being set
    /// up, or it is closed).
    ///
    /// With [`Deadline::PerRequest`] it is what is left of
    /// [`ServerLimits::timeout`] for the current request, as counted down by
    /// [`advance`](Self::advance); message content adds to it as it arrives.
    /// A TLS handshake is the caller's to bound, with the same timeout.
    pub fn timeout_hint(&self) -> Option<Duration> {
        match self.phase {
            Phase::Closed
            | Phase::TlsHandshake
            | Phase::Greeting(_)
            | Phase::Deciding(_)
            | Phase::AuthLookup(..) => None,
            _ => Some(self.time_left),
        }
    }

    /// Takes the decision for the request this session awaits. A token of
    /// this session's always is that request, unless the session closed
    /// since it was issued: tokens are consumed, and one request is
    /// awaited at a time.
    fn claim(&mut self, ticket: Option<Ticket>) -> Result<(), DecisionError> {
        let Some(ticket) = ticket else {
            return Err(DecisionError::NotARequest);
        };
        if let Phase::Greeting(awaited) | Phase::Deciding(awaited) = self.phase {
            if awaited == ticket {
                // The decision says where to go from here; commands unless
                // it says otherwise.
                self.phase = Phase::Commands;
                return Ok(());
            }
        }
        if matches!(self.phase, Phase::AuthLookup(awaited, _) if awaited == ticket) {
            // Back into the exchange, which the decision goes on with.
            if let Phase::AuthLookup(_, exchange) =
                core::mem::replace(&mut self.phase, Phase::Commands)
            {
                self.phase = Phase::Auth(*exchange);
            }
            return Ok(());
        }
        if ticket.session == self.stamp && matches!(self.phase, Phase::Closed) {
            return Err(DecisionError::Closed);
        }
        Err(DecisionError::NotAwaited)
    }

    /// Raises a request: `request` gets the next token, and the session
    /// reads no more input until the request comes back decided.
    fn ask(&mut self, request: impl FnOnce(Ticket) -> ServerEvent) {
        let ticket = self.issue_ticket();
        self.phase = Phase::Deciding(ticket);
        self.events.push_back(request(ticket));
    }

    fn issue_ticket(&mut self) -> Ticket {
        self.last_ticket += 1;
        Ticket {
            session: self.stamp,
            number: self.last_ticket,
        }
    }

    // --- replies ---

    fn canned(&mut self, canned: Canned) {
        let reply = self.canned_reply(canned);
        self.send(&reply);
    }

    fn canned_reply(&self, canned: Canned) -> Reply {
        self.reply_with_text(canned, Text::from_static(canned.text))
    }

    /// `canned`'s codes with another text; the enhanced code only where
    /// ENHANCEDSTATUSCODES is advertised (RFC 2034 §3).
    fn reply_with_text(&self, canned: Canned, text: Text) -> Reply {
        canned.with_text(text, self.config.capabilities.enhanced_status_codes)
    }

    /// A 334 challenge of an AUTH exchange: RFC 4954 §4 has it as `334 `
    /// and the base64 text on one line, the space kept when the challenge is
    /// empty (Go's `net/textproto` refuses a bare `334`), so it is written
    /// as it is rather than wrapped as a reply text may be.
    fn challenge(&mut self, challenge: Text) {
        self.output.extend_from_slice(b"334 ");
        self.output.extend_from_slice(challenge.as_str().as_bytes());
        self.output.extend_from_slice(b"\r\n");
    }

    /// The EHLO (or LHLO) reply lists what is offered now; HELO gets one line.
    fn hello_reply(&self, extended: bool) -> Reply {
        let greeting = self.config.hostname.clone();
        if !extended {
            return Reply::new(ReplyCode::OK, greeting);
        }
        let mut offered = self.config.capabilities.clone();
        offered.size = Some(self.config.limits.message_size);
        // RFC 3207 §4.2: STARTTLS is not offered once TLS is up; RFC 8689 §4:
        // REQUIRETLS only over TLS.
        offered.starttls &= !self.tls;
        offered.require_tls &= self.tls;
        if !self.auth_offered() || self.authenticated {
            offered.auth.clear();
        }
        // -PLUS only where there is a channel to bind to.
        if self.channel_binding.is_none() {
            offered
                .auth
                .retain(|mechanism| !mechanism.needs_channel_binding());
        }
        if self.config.xclient {
            let keyword = Text::from_static("XCLIENT");
            let attributes = Text::from_static(xclient::ATTRIBUTES);
            if let Ok(extension) = crate::capability::Extension::new(keyword, attributes) {
                offered.other.push(extension);
            }
        }
        offered.to_reply(greeting)
    }

    fn send(&mut self, reply: &Reply) {
        reply.emit(&mut self.output);
    }

    /// Sends the application's refusal.
    fn send_reject(&mut self, reject: Reject) {
        let reply = self.reject_reply(reject);
        self.send(&reply);
    }

    /// The application's refusal as sent: its enhanced code dropped where
    /// ENHANCEDSTATUSCODES is not advertised (RFC 2034 §3).
    fn reject_reply(&self, reject: Reject) -> Reply {
        let reply = reject.into_reply();
        if reply.enhanced().is_none() || self.config.capabilities.enhanced_status_codes {
            return reply;
        }
        // Without an enhanced code there is no class to disagree with, so
        // this cannot fail; were it to, the reply goes out as it was.
        Reply::multiline(reply.code(), None, reply.line_texts()).unwrap_or(reply)
    }

    /// Replies owed at the end of a message with `recipients` accepted: one
    /// per recipient in LMTP (RFC 2033 §4.2), one in SMTP.
    fn end_of_message_replies(&self, recipients: usize) -> usize {
        match self.config.protocol {
            crate::Protocol::Lmtp => recipients,
            crate::Protocol::Smtp => 1,
        }
    }

    /// Answers with `canned`, counting it as a client error; too many errors
    /// end the session (as Postfix's hard error limit does).
    fn error(&mut self, canned: Canned) {
        self.canned(canned);
        self.count_error();
    }

    fn count_error(&mut self) {
        self.errors += 1;
        if self.errors >= self.config.limits.errors {
            self.fail(replies::TOO_MANY_ERRORS, CloseReason::TooManyErrors);
        }
    }

    /// Counts a command that did no mail work; too many of them end the
    /// session (Postfix's junk command limit). Returns whether it did.
    fn count_junk(&mut self) -> bool {
        self.junk += 1;
        if self.junk >= self.config.limits.junk_commands {
            self.fail(replies::TOO_MANY_JUNK, CloseReason::TooManyJunkCommands);
            return true;
        }
        false
    }

    /// Sends a final reply and closes; a transaction still open is lost.
    fn fail(&mut self, canned: Canned, reason: CloseReason) {
        self.canned(canned);
        self.close(reason);
    }

    fn close(&mut self, reason: CloseReason) {
        let aborted = match reason {
            CloseReason::Quit => AbortReason::Reset,
            _ => AbortReason::Disconnected,
        };
        self.abort_transaction(aborted);
        self.phase = Phase::Closed;
        self.closed_by = Some(reason);
    }

    /// Drops the open transaction, telling the application when content may
    /// already have reached it; returns whether there was one.
    fn abort_transaction(&mut self, reason: AbortReason) -> bool {
        let open = self.transaction.take().is_some();
        if open {
            self.events.push_back(ServerEvent::Aborted(reason));
        }
        open
    }

    /// A transaction that ends without a message counts as junk, so a client
    /// that opens and drops transactions for ever (MAIL, RSET, MAIL, …) is
    /// cut off as a NOOP flood is. Returns whether the session closed.
    fn drop_transaction(&mut self, reason: AbortReason) -> bool {
        self.abort_transaction(reason) && self.count_junk()
    }

    /// A new request begins: the client has the whole timeout for it.
    fn next_request(&mut self) {
        self.time_left = self.config.limits.timeout;
    }

    /// Input was taken: with a per-read deadline the clock starts again;
    /// with a per-request one, message content earns time at the minimum
    /// data rate, up to the timeout (Postfix's `smtpd_min_data_rate`).
    fn earn_time(&mut self, octets: usize) {
        let timeout = self.config.limits.timeout;
        let rate = match self.config.limits.deadline {
            Deadline::PerRead => {
                self.time_left = timeout;
                return;
            }
            Deadline::PerRequest { min_data_rate } => min_data_rate,
        };
        let content = matches!(
            self.phase,
            Phase::Data | Phase::Chunk | Phase::SkipChunk { .. }
        );
        if !content || rate == 0 {
            return;
        }
        let nanos = (octets as u128).saturating_mul(1_000_000_000) / u128::from(rate);
        let earned = Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX));
        self.time_left = self.time_left.saturating_add(earned).min(timeout);
    }
}
