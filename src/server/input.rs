//! Framing input: one step of the session per command line, content chunk,
//! SASL response or PROXY header. What each unit of input does to the state
//! is in `transitions.rs`.

use bytes::{Buf, Bytes};

use super::config::{LongLinePolicy, SyncPolicy};
use super::event::{
    AbortReason, AuthKeysRequest, AuthRequest, ConnectRequest, MessageRequest, ServerEvent,
};
use super::foreign;
use super::replies::{self, Canned};
use super::{Body, CloseReason, Phase, Progress, ServerSession};
use crate::auth::{AuthError, Step as AuthStep};
use crate::command::{Command, CommandError};
use crate::data::{BdatEvent, DataEvent, DataRefusal};
use crate::framing::FrameError;
use crate::proxy;

impl ServerSession {
    /// Handles the next unit of buffered input, if the session may.
    pub(super) fn step(&mut self) -> Progress {
        match self.phase {
            Phase::Closed
            | Phase::TlsHandshake
            | Phase::Greeting(_)
            | Phase::Deciding(_)
            | Phase::AuthLookup(..) => Progress::Blocked,
            Phase::Proxy => self.read_proxy_header(),
            Phase::Data => self.read_data(),
            Phase::Chunk => self.read_chunk(),
            Phase::SkipChunk { .. } => self.skip_chunk(),
            Phase::Refused | Phase::Commands | Phase::Auth(_) => match self.read_line() {
                Some(line) => {
                    self.handle_line(line);
                    Progress::Advanced
                }
                None => self.end_of_input(),
            },
        }
    }

    /// Takes the next line out of the framer: a command is parsed where the
    /// line lies, so only what the command keeps shares the buffer.
    fn read_line(&mut self) -> Option<Line> {
        let in_auth = matches!(self.phase, Phase::Auth(_));
        Some(match self.input.next_framed()? {
            Err(error) => Line::Unframed(error),
            Ok(line) if in_auth => Line::AuthResponse(line.to_bytes()),
            Ok(line) => match Command::parse_framed(line, &self.config.parse_options) {
                Ok(command) => {
                    let foreign =
                        matches!(command, Command::Unknown { .. }) && foreign::is_foreign(&line);
                    Line::Command { command, foreign }
                }
                Err(error) => Line::Invalid {
                    line: line.to_bytes(),
                    error,
                },
            },
        })
    }

    /// Nothing complete is buffered: wait, or finish if the peer is gone.
    fn end_of_input(&mut self) -> Progress {
        if !self.eof {
            return Progress::Blocked;
        }
        self.close(CloseReason::PeerClosed);
        Progress::Advanced
    }

    pub(super) fn announce_connection(&mut self, proxy: Option<proxy::ProxyHeader>) {
        let ticket = self.issue_ticket();
        self.events
            .push_back(ServerEvent::Connect(ConnectRequest { ticket, proxy }));
        self.phase = Phase::Greeting(ticket);
    }

    fn read_proxy_header(&mut self) -> Progress {
        let buf = self.input.buffer_mut();
        match proxy::parse(buf) {
            Ok(Some((header, consumed))) => {
                buf.advance(consumed);
                self.announce_connection(Some(header));
                self.next_request();
                Progress::Advanced
            }
            Ok(None) => self.end_of_input(),
            Err(_) => {
                self.fail(replies::BAD_PROXY, CloseReason::BadProxyHeader);
                Progress::Advanced
            }
        }
    }

    fn handle_line(&mut self, line: Line) {
        self.next_request();
        let (command, foreign) = match line {
            Line::Command { command, foreign } => (command, foreign),
            Line::Unframed(FrameError::TooLong { .. }) => {
                return self.line_error(replies::LINE_TOO_LONG)
            }
            Line::Unframed(FrameError::BareLineFeed) => {
                return self.line_error(replies::BARE_LF_COMMAND)
            }
            Line::AuthResponse(line) => {
                // RFC 4954 §4: the client answers one challenge and waits
                // for the next.
                if self.out_of_sync(true) {
                    return;
                }
                if let Phase::Auth(exchange) = &mut self.phase {
                    let step = exchange.respond(&line);
                    self.continue_auth(step);
                }
                return;
            }
            Line::Invalid { line, error } => return self.parse_error(&line, &error),
        };
        // After a refused greeting every command but QUIT gets the same
        // 503, whatever it looks like.
        if !matches!(self.phase, Phase::Refused) {
            if foreign {
                return self.fail(replies::NOT_SMTP, CloseReason::NotSmtp);
            }
            if self.out_of_sync(self.ends_group(&command)) {
                return;
            }
        }
        self.command(command);
    }

    /// A line that is not a valid command: most are answered and forgotten,
    /// but a BDAT whose size cannot be read leaves its chunk unframed, and
    /// HTTP or a header field is no SMTP client at all.
    fn parse_error(&mut self, line: &[u8], err: &CommandError) {
        if foreign::is_foreign(line) {
            return self.fail(replies::NOT_SMTP, CloseReason::NotSmtp);
        }
        if foreign::verb_is(line, b"BDAT") {
            // RFC 3030 §2: the chunk must be read and discarded even when
            // BDAT fails, which cannot be done without its size.
            return self.fail(replies::BAD_BDAT, CloseReason::UnframedChunk);
        }
        self.error(replies::for_command_error(err))
    }

    /// Whether `command` must be the last of a pipelined group: RFC 2920
    /// §3.1 names EHLO, DATA, VRFY, EXPN, TURN, QUIT and NOOP, RFC 4954 §4
    /// AUTH without an initial response; a client that was not offered
    /// PIPELINING waits for every reply. QUIT is left out: the session ends
    /// with it whatever follows. STARTTLS has a check of its own that no
    /// policy turns off.
    fn ends_group(&self, command: &Command) -> bool {
        match command {
            // A BDAT's octets follow it by definition, and what comes after
            // a chunk or a message's end is checked as the command it is.
            Command::Quit | Command::StartTls | Command::Bdat { .. } => false,
            Command::Helo { .. }
            | Command::Ehlo { .. }
            | Command::Lhlo { .. }
            | Command::Data
            | Command::Vrfy { .. }
            | Command::Expn { .. }
            | Command::Noop { .. }
            | Command::Auth {
                initial_response: None,
                ..
            } => true,
            _ => !self.pipelining(),
        }
    }

    /// Whether the client may pipeline: PIPELINING is offered, and only
    /// after EHLO or LHLO.
    fn pipelining(&self) -> bool {
        self.config.capabilities.pipelining
            && self.hello.as_ref().is_some_and(|hello| hello.extended)
    }

    /// Input is already buffered behind a line the client had to wait on:
    /// under [`SyncPolicy::Enforce`] that is answered 554 and the session
    /// closes without reading it. Returns whether it did.
    fn out_of_sync(&mut self, ends_group: bool) -> bool {
        let early = ends_group && self.input.buffered() > 0;
        if early && self.config.pipelining_sync == SyncPolicy::Enforce {
            self.fail(replies::OUT_OF_SYNC, CloseReason::PipeliningSync);
            return true;
        }
        false
    }

    /// A line that could not be framed; inside an AUTH exchange it also ends
    /// the exchange (RFC 4954 §4).
    fn line_error(&mut self, canned: Canned) {
        if matches!(self.phase, Phase::Auth(_)) {
            self.end_auth();
        }
        self.error(canned);
    }

    pub(super) fn continue_auth(&mut self, step: Result<AuthStep, AuthError>) {
        match step {
            Ok(AuthStep::Challenge(challenge)) => self.challenge(challenge),
            Ok(AuthStep::Done(credentials)) => {
                self.end_auth();
                self.ask(|ticket| {
                    ServerEvent::Auth(AuthRequest {
                        ticket,
                        credentials,
                    })
                });
            }
            Ok(AuthStep::Failed) => {
                self.end_auth();
                self.error(replies::AUTH_FAILED);
            }
            Ok(AuthStep::LookUpKeys(user)) => {
                // The exchange waits beside the request; input stays
                // buffered until the keys come back.
                let Phase::Auth(exchange) = core::mem::replace(&mut self.phase, Phase::Commands)
                else {
                    return;
                };
                let ticket = self.issue_ticket();
                self.phase = Phase::AuthLookup(ticket, alloc::boxed::Box::new(exchange));
                self.events
                    .push_back(ServerEvent::AuthKeys(AuthKeysRequest { ticket, user }));
            }
            Err(err) => {
                self.end_auth();
                self.auth_error(&err);
            }
        }
    }

    pub(super) fn auth_error(&mut self, err: &AuthError) {
        self.error(replies::for_auth_error(err));
    }

    /// Leaves the SASL exchange and goes back to reading commands.
    pub(super) fn end_auth(&mut self) {
        self.input.set_max_line(self.config.limits.command_line);
        if matches!(self.phase, Phase::Auth(_)) {
            self.phase = Phase::Commands;
        }
    }

    fn read_data(&mut self) -> Progress {
        match self.content.decode(self.input.buffer_mut()) {
            Some(DataEvent::Content(chunk)) => {
                self.events.push_back(ServerEvent::Content(chunk));
                Progress::Advanced
            }
            Some(DataEvent::End(end)) => {
                self.phase = Phase::Commands;
                self.next_request();
                let refusal = match end.refusal() {
                    Some(DataRefusal::TooLarge) => Some(replies::TOO_BIG),
                    Some(DataRefusal::BareNewline) => Some(replies::BARE_NEWLINE),
                    None if end.line_too_long
                        && self.config.long_lines == LongLinePolicy::Reject =>
                    {
                        Some(replies::CONTENT_LINE_TOO_LONG)
                    }
                    None => None,
                };
                self.end_message(end.size, refusal);
                Progress::Advanced
            }
            None => self.end_of_input(),
        }
    }

    pub(super) fn begin_chunk(&mut self, size: u64, last: bool) {
        if let Some(super::Transaction {
            body: Body::Chunks(decoder),
            ..
        }) = &mut self.transaction
        {
            decoder.begin_chunk(size, last);
            self.phase = Phase::Chunk;
        }
    }

    pub(super) fn start_chunks(&mut self, size: u64, last: bool) {
        if let Some(transaction) = &mut self.transaction {
            let decoder =
                crate::data::BdatDecoder::new().with_max_size(self.config.limits.message_size);
            transaction.body = Body::Chunks(decoder);
        }
        self.begin_chunk(size, last);
    }

    fn read_chunk(&mut self) -> Progress {
        let Some(super::Transaction {
            body: Body::Chunks(decoder),
            ..
        }) = &mut self.transaction
        else {
            self.phase = Phase::Commands;
            return Progress::Advanced;
        };
        match decoder.decode(self.input.buffer_mut()) {
            Some(BdatEvent::Content(chunk)) => {
                self.events.push_back(ServerEvent::Content(chunk));
                Progress::Advanced
            }
            Some(BdatEvent::ChunkEnd(end)) => {
                self.phase = Phase::Commands;
                self.next_request();
                if end.last {
                    let refusal = end.size_exceeded.then_some(replies::TOO_BIG);
                    self.end_message(end.total_size, refusal);
                } else {
                    self.canned(replies::CHUNK_OK);
                }
                Progress::Advanced
            }
            None => self.end_of_input(),
        }
    }

    fn skip_chunk(&mut self) -> Progress {
        let Phase::SkipChunk { remaining, .. } = &mut self.phase else {
            return Progress::Blocked;
        };
        let buf = self.input.buffer_mut();
        let available = u64::try_from(buf.len()).unwrap_or(u64::MAX);
        let skip = (*remaining).min(available);
        // `skip` is at most `buf.len()`, so it fits in usize.
        buf.advance(usize::try_from(skip).unwrap_or(0));
        *remaining -= skip;
        if *remaining > 0 {
            return self.end_of_input();
        }
        let Phase::SkipChunk { reply, .. } = core::mem::replace(&mut self.phase, Phase::Commands)
        else {
            return Progress::Advanced;
        };
        self.next_request();
        self.send(&reply);
        if self.errors >= self.config.limits.errors {
            self.fail(replies::TOO_MANY_ERRORS, CloseReason::TooManyErrors);
        }
        Progress::Advanced
    }

    /// The content of a message reached its end: refuse it, or ask the
    /// application.
    fn end_message(&mut self, size: u64, refusal: Option<Canned>) {
        if let Some(canned) = refusal {
            let recipients = self.transaction.as_ref().map_or(0, |t| t.recipients.len());
            for _ in 0..self.end_of_message_replies(recipients) {
                self.canned(canned);
            }
            self.drop_transaction(AbortReason::Refused);
            return;
        }
        let recipients = self
            .transaction
            .as_mut()
            .map(|transaction| core::mem::take(&mut transaction.recipients))
            .unwrap_or_default();
        self.ask(|ticket| {
            ServerEvent::Message(MessageRequest {
                ticket,
                size,
                recipients,
            })
        });
    }
}

/// A line of the command phases, out of the framer.
enum Line {
    /// A line the framer refused.
    Unframed(FrameError),
    /// A line inside an AUTH exchange, which is no command.
    AuthResponse(Bytes),
    /// A command; `foreign` when it is an unknown verb on a line of another
    /// protocol (HTTP, a header field).
    Command { command: Command, foreign: bool },
    /// A line that is not a valid command.
    Invalid { line: Bytes, error: CommandError },
}
