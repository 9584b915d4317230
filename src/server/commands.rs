//! Reading input: one step of the session per command line, content chunk or
//! SASL response, and every transition that follows from it.

use bytes::{Buf, Bytes};

use super::checks;
use super::config::{AddressControlPolicy, AuthPolicy, LongLinePolicy, SyncPolicy};
use super::event::XclientRequest;
use super::event::{
    AbortReason, AuthRequest, ConnectRequest, DataRequest, EtrnRequest, HelloRequest, MailRequest,
    RcptRequest, ServerEvent, StartTlsRequest, VerifyRequest,
};
use super::foreign;
use super::replies::{self, Canned};
use super::{Body, CloseReason, Phase, Progress, ServerSession};
use crate::address::{ForwardPath, Host, ReversePath};
use crate::auth::{AuthError, Mechanism, ServerAuth, Step as AuthStep};
use crate::command::{Argument, Command, CommandError, InitialResponse};
use crate::data::{BdatEvent, DataEvent, DataRefusal};
use crate::framing::FrameError;
use crate::params::{BodyType, MailParameters, RcptParameters};
use crate::proxy;
use crate::Protocol;

/// Which hello verb a client used.
#[derive(Clone, Copy, PartialEq, Eq)]
enum HelloVerb {
    Helo,
    Ehlo,
    Lhlo,
}

impl ServerSession {
    /// Handles the next unit of buffered input, if the session may.
    pub(super) fn step(&mut self) -> Progress {
        if self.awaiting.is_some() {
            return Progress::Blocked;
        }
        match self.phase {
            Phase::Closed | Phase::TlsHandshake | Phase::Greeting => Progress::Blocked,
            Phase::Proxy => self.read_proxy_header(),
            Phase::Data => self.read_data(),
            Phase::Chunk => self.read_chunk(),
            Phase::SkipChunk { .. } => self.skip_chunk(),
            Phase::Refused | Phase::Commands | Phase::Auth(_) => match self.input.next_line() {
                Some(line) => {
                    self.handle_line(line);
                    Progress::Advanced
                }
                None => self.end_of_input(),
            },
        }
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
        let ticket = self.ticket();
        self.events
            .push_back(ServerEvent::Connect(ConnectRequest { ticket, proxy }));
        self.phase = Phase::Greeting;
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

    fn handle_line(&mut self, line: Result<Bytes, FrameError>) {
        self.next_request();
        let line = match line {
            Ok(line) => line,
            Err(FrameError::TooLong { .. }) => return self.line_error(replies::LINE_TOO_LONG),
            Err(FrameError::BareLineFeed) => return self.line_error(replies::BARE_LF_COMMAND),
        };
        if matches!(self.phase, Phase::Auth(_)) {
            // RFC 4954 §4: the client answers one challenge and waits for
            // the next.
            if self.out_of_sync(true) {
                return;
            }
            if let Phase::Auth(exchange) = &mut self.phase {
                let step = exchange.respond(&line);
                return self.continue_auth(step);
            }
        }
        let command = match Command::parse_with(&line, &self.config.parse_options) {
            Ok(command) => command,
            Err(err) => return self.parse_error(&line, &err),
        };
        if matches!(self.phase, Phase::Refused) {
            return match command {
                Command::Quit => self.quit(),
                _ => self.error(replies::NO_SERVICE),
            };
        }
        if let Command::Unknown { .. } = command {
            if foreign::is_foreign(&line) {
                return self.fail(replies::NOT_SMTP, CloseReason::NotSmtp);
            }
        }
        if self.out_of_sync(self.ends_group(&command)) {
            return;
        }
        self.dispatch(command);
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

    fn dispatch(&mut self, command: Command) {
        match command {
            Command::Helo { domain } => self.hello(Host::Domain(domain), HelloVerb::Helo),
            Command::Ehlo { host } => self.hello(host, HelloVerb::Ehlo),
            Command::Lhlo { host } => self.hello(host, HelloVerb::Lhlo),
            Command::Mail { from, params } => self.mail(from, params),
            Command::Rcpt { to, params } => self.rcpt(to, params),
            Command::Data => self.data(),
            Command::Bdat { size, last } => self.bdat(size, last),
            Command::Rset => {
                // The RSET itself is junk, however much it drops.
                self.abort_transaction(AbortReason::Reset);
                self.junk(replies::OK);
            }
            Command::Noop { .. } => self.junk(replies::OK),
            Command::Help { .. } => self.junk(replies::HELP),
            Command::Vrfy { arg } => self.verify(arg, false),
            Command::Expn { arg } => self.verify(arg, true),
            Command::Etrn { arg } => self.etrn(arg),
            Command::StartTls => self.starttls(),
            Command::Auth {
                mechanism,
                initial_response,
            } => self.auth(mechanism, initial_response),
            Command::Quit => self.quit(),
            Command::Unknown { verb, args }
                if self.config.xclient && verb.as_str().eq_ignore_ascii_case("XCLIENT") =>
            {
                self.xclient(args)
            }
            Command::Unknown { .. } => self.error(replies::UNRECOGNIZED),
        }
    }

    /// Answers a command that does no mail work; too many of them end the
    /// session (Postfix's junk command limit).
    fn junk(&mut self, canned: Canned) {
        self.canned(canned);
        self.count_junk();
    }

    fn quit(&mut self) {
        self.canned(replies::BYE);
        self.close(CloseReason::Quit);
    }

    fn hello(&mut self, host: Host, verb: HelloVerb) {
        // RFC 2033 §4.1: an LMTP server refuses HELO and EHLO; LHLO is not an
        // SMTP command.
        let lmtp = self.config.protocol == Protocol::Lmtp;
        if lmtp != (verb == HelloVerb::Lhlo) {
            let canned = if lmtp {
                replies::USE_LHLO
            } else {
                replies::UNRECOGNIZED
            };
            return self.error(canned);
        }
        let ticket = self.ticket();
        self.events.push_back(ServerEvent::Hello(HelloRequest {
            ticket,
            host,
            extended: verb != HelloVerb::Helo,
        }));
    }

    fn mail(&mut self, from: ReversePath, params: MailParameters) {
        let Some(extended) = self.hello.as_ref().map(|hello| hello.extended) else {
            return self.error(replies::NEED_HELLO);
        };
        if self.transaction.is_some() {
            return self.error(replies::NESTED_MAIL);
        }
        if self.config.require_auth && !self.authenticated {
            return self.error(replies::AUTH_REQUIRED);
        }
        let cx = self.check_context(extended);
        if let Err(canned) = checks::mail(&cx, &from, &params) {
            return self.error(canned);
        }
        let ticket = self.ticket();
        self.events.push_back(ServerEvent::Mail(MailRequest {
            ticket,
            from,
            params,
        }));
    }

    fn rcpt(&mut self, to: ForwardPath, params: RcptParameters) {
        let cap = self.config.limits.recipients;
        let Some(transaction) = &mut self.transaction else {
            return self.error(replies::NEED_MAIL);
        };
        if !matches!(transaction.body, Body::Envelope) {
            // The envelope is closed once content has begun (BDAT chunks).
            return self.error(replies::RCPT_AFTER_CONTENT);
        }
        if transaction.recipients.len() >= cap {
            // RFC 5321 §4.5.3.1.10: 452, and the client sends the rest
            // later. A pipelining client may send a whole list past the cap
            // at once; as Postfix does, only RCPTs past as many again count
            // as errors, so an endless flood is cut off and a list is not.
            transaction.over_cap += 1;
            return if transaction.over_cap > cap {
                self.error(replies::TOO_MANY_RECIPIENTS)
            } else {
                self.canned(replies::TOO_MANY_RECIPIENTS)
            };
        }
        let smtputf8 = transaction.params.smtputf8;
        let extended = self.hello.as_ref().is_some_and(|hello| hello.extended);
        if let Err(canned) = checks::rcpt(&self.check_context(extended), smtputf8, &to, &params) {
            return self.error(canned);
        }
        let ticket = self.ticket();
        self.events
            .push_back(ServerEvent::Rcpt(RcptRequest { ticket, to, params }));
    }

    fn check_context(&self, extended: bool) -> checks::Context<'_> {
        checks::Context {
            capabilities: &self.config.capabilities,
            extended,
            tls: self.tls,
            auth_offered: self.auth_offered(),
            max_size: self.config.limits.message_size,
            refuse_controls: self.config.address_controls == AddressControlPolicy::Refuse,
        }
    }

    /// Why the transaction cannot take message content now, if it cannot.
    fn content_refusal(&self, chunked: bool) -> Option<Canned> {
        let Some(transaction) = &self.transaction else {
            return Some(replies::NEED_MAIL);
        };
        if transaction.recipients.is_empty() {
            // RFC 5321 §3.3 and RFC 2920 §3.1: no valid recipients; RFC 2033
            // §4.2 makes it 503 in LMTP.
            return Some(match self.config.protocol {
                Protocol::Smtp => replies::NEED_RECIPIENT,
                Protocol::Lmtp => replies::NEED_RECIPIENT_LMTP,
            });
        }
        match (&transaction.body, chunked) {
            (Body::Envelope, false) if transaction.params.body == Some(BodyType::BinaryMime) => {
                // RFC 3030 §3: BINARYMIME content can only come in BDAT chunks.
                Some(replies::BINARY_NEEDS_BDAT)
            }
            (Body::Envelope, _) | (Body::Chunks(_), true) => None,
            (Body::FailedChunks, true) => Some(replies::CHUNK_AFTER_FAILURE),
            _ => Some(replies::DATA_AFTER_BDAT),
        }
    }

    fn data(&mut self) {
        if let Some(canned) = self.content_refusal(false) {
            return self.error(canned);
        }
        let ticket = self.ticket();
        self.events.push_back(ServerEvent::Data(DataRequest {
            ticket,
            chunk: None,
        }));
    }

    /// RFC 3030 §2: the octets of a BDAT follow it whatever its reply, so a
    /// refused chunk is still read to its end before the refusal is sent.
    fn bdat(&mut self, size: u64, last: bool) {
        let limit = self.config.limits.message_size;
        let so_far = match self.transaction.as_ref().map(|t| &t.body) {
            Some(Body::Chunks(decoder)) => decoder.total_size(),
            _ => 0,
        };
        // Postfix reads up to half as much again as the limit to throw it
        // away; a chunk that would go past that is not read at all, and
        // without reading it the session cannot find the next command.
        if so_far.saturating_add(size) > limit.saturating_add(limit / 2) {
            return self.fail(replies::CHUNK_TOO_BIG, CloseReason::UnframedChunk);
        }
        if !self.config.capabilities.chunking {
            // Not offered, but its octets are skipped all the same: read as
            // commands they could be anything.
            return self.skip_refused_chunk(size, replies::UNRECOGNIZED);
        }
        if size == 0 && !last {
            // A chunk that carries nothing and ends nothing makes no
            // progress (Postfix refuses it likewise).
            return self.error(replies::NULL_BDAT);
        }
        match self.content_refusal(true) {
            Some(canned) => self.skip_refused_chunk(size, canned),
            None => self.accept_chunk(size, last),
        }
    }

    /// A refused BDAT: its chunk is read and dropped, then the refusal is
    /// sent, counting as an error.
    fn skip_refused_chunk(&mut self, size: u64, canned: Canned) {
        self.errors += 1;
        let reply = self.canned_reply(canned);
        self.phase = Phase::SkipChunk {
            remaining: size,
            reply,
        };
    }

    fn accept_chunk(&mut self, size: u64, last: bool) {
        let first = matches!(
            self.transaction.as_ref().map(|t| &t.body),
            Some(Body::Envelope)
        );
        if first {
            let ticket = self.ticket();
            self.events.push_back(ServerEvent::Data(DataRequest {
                ticket,
                chunk: Some((size, last)),
            }));
        } else {
            self.begin_chunk(size, last);
        }
    }

    fn verify(&mut self, argument: Argument, expand: bool) {
        // Junk like NOOP, so address harvesting by VRFY is cut off too.
        if self.count_junk() {
            return;
        }
        let ticket = self.ticket();
        self.events.push_back(ServerEvent::Verify(VerifyRequest {
            ticket,
            argument: argument.as_text().clone(),
            expand,
        }));
    }

    fn etrn(&mut self, argument: Argument) {
        if !self.config.capabilities.etrn {
            return self.error(replies::NOT_IMPLEMENTED);
        }
        let ticket = self.ticket();
        self.events.push_back(ServerEvent::Etrn(EtrnRequest {
            ticket,
            argument: argument.as_text().clone(),
        }));
    }

    fn xclient(&mut self, args: Option<Argument>) {
        if self.transaction.is_some() {
            return self.error(replies::NESTED_MAIL);
        }
        let attributes = args.and_then(|args| super::xclient::parse(args.as_str()));
        let Some(attributes) = attributes else {
            return self.error(replies::SYNTAX);
        };
        let ticket = self.ticket();
        self.events
            .push_back(ServerEvent::Xclient(XclientRequest { ticket, attributes }));
    }

    fn starttls(&mut self) {
        if self.tls {
            return self.error(replies::TLS_ACTIVE);
        }
        if !self.config.capabilities.starttls {
            return self.error(replies::NOT_IMPLEMENTED);
        }
        let ticket = self.ticket();
        self.events
            .push_back(ServerEvent::StartTls(StartTlsRequest { ticket }));
    }

    /// Whether AUTH is offered on this connection now.
    pub(super) fn auth_offered(&self) -> bool {
        !self.config.capabilities.auth.is_empty()
            && (self.tls || self.config.auth_policy == AuthPolicy::AllowCleartext)
    }

    fn auth(&mut self, mechanism: Mechanism, initial_response: Option<InitialResponse>) {
        if self.hello.is_none() {
            return self.error(replies::NEED_HELLO);
        }
        if self.authenticated {
            return self.error(replies::AUTH_DONE);
        }
        // RFC 4954 §4: AUTH is not permitted during a mail transaction.
        if self.transaction.is_some() {
            return self.error(replies::AUTH_IN_TRANSACTION);
        }
        if self.config.capabilities.auth.is_empty() {
            return self.error(replies::NOT_IMPLEMENTED);
        }
        if !self.auth_offered() {
            return self.error(replies::ENCRYPTION_REQUIRED);
        }
        if !self.config.capabilities.auth.contains(&mechanism) {
            return self.error(replies::BAD_MECHANISM);
        }
        // The exchange takes the argument as sent: base64, or `=` for empty.
        let initial = initial_response
            .as_ref()
            .map(|response| response.as_base64().map_or(&b"="[..], str::as_bytes));
        match ServerAuth::start_with_max_line(&mechanism, initial, self.config.limits.auth_line) {
            Ok((exchange, step)) => {
                self.input.set_max_line(self.config.limits.auth_line);
                self.phase = Phase::Auth(exchange);
                self.continue_auth(Ok(step));
            }
            Err(err) => self.auth_error(&err),
        }
    }

    fn continue_auth(&mut self, step: Result<AuthStep, AuthError>) {
        match step {
            Ok(AuthStep::Challenge(challenge)) => self.challenge(challenge),
            Ok(AuthStep::Done(credentials)) => {
                self.end_auth();
                let ticket = self.ticket();
                self.events.push_back(ServerEvent::Auth(AuthRequest {
                    ticket,
                    credentials,
                }));
            }
            Ok(AuthStep::Failed) => {
                self.end_auth();
                self.error(replies::AUTH_FAILED);
            }
            Err(err) => {
                self.end_auth();
                self.auth_error(&err);
            }
        }
    }

    fn auth_error(&mut self, err: &AuthError) {
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

    fn begin_chunk(&mut self, size: u64, last: bool) {
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
        let ticket = self.ticket();
        self.events
            .push_back(ServerEvent::Message(super::event::MessageRequest {
                ticket,
                size,
                recipients,
            }));
    }
}
