//! Every transition of the server session, in one place.
//!
//! Two functions hold them: [`command`](ServerSession::command) for a
//! command line in a state that reads commands, and
//! [`decided`](ServerSession::decided) for the application's answer to the
//! request a command raised. The helpers below them check one command's
//! preconditions each, in the order of the rows. The rest of the session
//! only frames input (`input.rs`: lines, message content, BDAT chunks, SASL
//! responses, the PROXY header) and writes replies (`replies.rs`).
//!
//! The state is [`Phase`], what the session waits for, together with what
//! the connection has learnt, which no command undoes but RSET, EHLO,
//! STARTTLS and XCLIENT: the hello (`hello`), TLS (`tls`), AUTH
//! (`authenticated`) and the open transaction with its content mode
//! (`transaction`, [`Body`]). Every row that gives a request goes to
//! `Deciding` (`Greeting` for `Connect`), where input stays buffered; the
//! decision then leaves `Commands` unless its row names another state.
//!
//! | State | Input | Reply or request | Next state |
//! |---|---|---|---|
//! | `Proxy` | PROXY header | `Connect` | `Greeting` |
//! | `Proxy` | bad header | 554 5.5.1 | `Closed` |
//! | `Greeting` | any input, early talkers refused | 554 5.5.1 | `Closed` |
//! | `Greeting` | `Connect` accepted | 220 greeting (554 when input came with the PROXY header) | `Commands` (`Closed`) |
//! | `Greeting` | `Connect` rejected | the rejection | `Refused` |
//! | `Refused` | QUIT / other | 221 / 503 5.5.1 | `Closed` / `Refused` |
//! | `Commands` | HELO, EHLO (SMTP), LHLO (LMTP) | `Hello`; the other verb 500 | `Deciding`; `Commands` |
//! | `Deciding` | `Hello` accepted | 250 (EHLO: the extensions); drops the transaction | `Commands` |
//! | `Commands` | MAIL | `Mail`; 503 (no hello, nested), 530 (AUTH required), 5xx (parameters) | `Deciding`; `Commands` |
//! | `Deciding` | `Mail` accepted | 250 2.1.0; the transaction opens | `Commands` |
//! | `Commands` | RCPT | `Rcpt`; 503 (no MAIL, after content), 452 (over the cap), 5xx (parameters) | `Deciding`; `Commands` |
//! | `Deciding` | `Rcpt` accepted | 250 2.1.5; the recipient is added | `Commands` |
//! | `Commands` | DATA | `Data`; 503 or 554 (no transaction, no recipient, BINARYMIME, after BDAT) | `Deciding`; `Commands` |
//! | `Deciding` | `Data` accepted | 354 | `Data` |
//! | `Commands` | BDAT, first chunk | `Data` | `Deciding` |
//! | `Commands` | BDAT, later chunk | none | `Chunk` |
//! | `Commands` | BDAT the session refuses: not offered (500), refused as DATA would be (503, 554), after a refused chunk (503) | the refusal after the chunk | `SkipChunk` |
//! | `Commands` | BDAT of nothing that is not LAST / too big to skip | 551 / 552 | `Commands` / `Closed` |
//! | `Deciding` | `Data` for BDAT accepted / rejected | none / the rejection after the chunk | `Chunk` / `SkipChunk` |
//! | `Data`, `Chunk` | content | `Content` event | same |
//! | `Data`, `Chunk` | end of message | `Message`; 552, 550, 500 when the content broke a rule | `Deciding`; `Commands` |
//! | `Chunk` | end of a chunk that is not the last | 250 2.0.0 | `Commands` |
//! | `SkipChunk` | end of the chunk | the refusal kept for it | `Commands` |
//! | `Deciding` | `Message` accepted, rejected or delivered (LMTP) | one reply (LMTP: one per recipient); the transaction closes | `Commands` |
//! | `Commands` | RSET, NOOP, HELP | 250, 250, 214 (RSET drops the transaction) | `Commands` |
//! | `Commands` | VRFY, EXPN | `Verify` | `Deciding` |
//! | `Deciding` | `Verify` accepted | 252 without the caller's text, 250 with it | `Commands` |
//! | `Commands` | ETRN | `Etrn`; 502 when not offered | `Deciding`; `Commands` |
//! | `Commands` | STARTTLS | `StartTls`; 503 (TLS up), 502 (not offered) | `Deciding`; `Commands` |
//! | `Deciding` | `StartTls` accepted | 220; 554 when input is pipelined behind it | `TlsHandshake`; `Closed` |
//! | `TlsHandshake` | handshake done / any input | none / 554 5.5.1 | `Commands` / `Closed` |
//! | `Commands` | AUTH | 334; 503, 502, 538, 504 (preconditions) | `Auth`; `Commands` |
//! | `Commands` | AUTH SCRAM-SHA-256-PLUS without a channel binding | 504 | `Commands` |
//! | `Auth` | response | 334; the exchange done: `Auth`; failed: 535 or 501 | `Auth`; `Deciding`; `Commands` |
//! | `Auth` | SCRAM client-first | `AuthKeys`; refused (RFC 5802 §7 error): 535 or 501 | `AuthLookup`; `Commands` |
//! | `AuthLookup` | `supply_keys` / `AuthKeys` accepted / rejected | 334 server-first / 535 / the rejection | `Auth` / `Commands` / `Commands` |
//! | `Deciding` | `Auth` accepted | 235 | `Commands` |
//! | `Commands` | XCLIENT (when offered) | `Xclient`; 503 (in a transaction), 501 | `Deciding`; `Commands` |
//! | `Deciding` | `Xclient` accepted | 220 greeting; hello, AUTH and counts forgotten | `Commands` |
//! | `Commands` | QUIT | 221 | `Closed` |
//! | `Commands` | unknown verb / HTTP or a header field | 500 / 221 2.7.0 | `Commands` / `Closed` |
//! | `Deciding` | any request rejected (where not above) | the rejection; MAIL, RCPT and AUTH count as errors | `Commands` |
//! | any but `Closed` | too many errors or junk commands, timeout, shutdown | 421 | `Closed` |
//! | any | end of input | none | `Closed` |

use alloc::vec::Vec;

use super::checks;
use super::config::{AddressControlPolicy, AuthPolicy};
use super::event::{
    AbortReason, DataRequest, EtrnRequest, HelloRequest, MailRequest, MessageRequest, RcptRequest,
    Reject, ServerEvent, StartTlsRequest, VerifyRequest, XclientRequest,
};
use super::replies::{self, Canned};
use super::{Body, CloseReason, Hello, Phase, ServerSession, Transaction};
use crate::address::{ForwardPath, Host, ReversePath};
use crate::auth::{Mechanism, ServerAuth};
use crate::command::{Argument, Command, InitialResponse};
use crate::data::DataDecoder;
use crate::params::{BodyType, MailParameters, RcptParameters};
use crate::reply::{Reply, ReplyCode};
use crate::{Protocol, Text};

/// Which hello verb a client used.
#[derive(Clone, Copy, PartialEq, Eq)]
enum HelloVerb {
    Helo,
    Ehlo,
    Lhlo,
}

/// The application's answer to a request.
pub(super) enum Verdict {
    /// Accept, with the caller's text in place of the usual one.
    Accept(Option<Text>),
    Reject(Reject),
}

impl ServerSession {
    /// A command line read in `Commands` or `Refused`.
    pub(super) fn command(&mut self, command: Command) {
        if matches!(self.phase, Phase::Refused) {
            // RFC 5321 §3.1: after a 554 greeting only QUIT is answered.
            return match command {
                Command::Quit => self.quit(),
                _ => self.error(replies::NO_SERVICE),
            };
        }
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

    /// The application answered `request`, the one the session awaited.
    pub(super) fn decided(&mut self, request: ServerEvent, verdict: Verdict) {
        use Verdict::{Accept, Reject as Refuse};
        match (request, verdict) {
            (ServerEvent::Connect(_), Accept(_)) => {
                // `receive` refuses input that comes before the greeting;
                // bytes that came along with a PROXY header are caught here.
                if self.input.buffered() > 0
                    && self.config.early_talkers == super::config::EarlyTalkerPolicy::Reject
                {
                    return self.fail(replies::EARLY_TALKER, CloseReason::EarlyTalker);
                }
                self.greet();
                self.phase = Phase::Commands;
            }
            (ServerEvent::Connect(_), Refuse(reject)) => {
                // RFC 5321 §3.1: after a 554 greeting only QUIT is answered.
                self.send_reject(reject);
                self.phase = Phase::Refused;
            }
            (ServerEvent::Hello(HelloRequest { host, extended, .. }), Accept(_)) => {
                // RFC 5321 §4.1.4: an accepted EHLO resets the state as RSET does.
                if self.drop_transaction(AbortReason::Reset) {
                    return;
                }
                let reply = self.hello_reply(extended);
                self.send(&reply);
                self.hello = Some(Hello { host, extended });
            }
            (ServerEvent::StartTls(_), Accept(_)) => self.start_tls(),
            // Keys are given with `supply_keys`; an accept has none, so the
            // exchange cannot succeed.
            (ServerEvent::AuthKeys(_), Accept(_)) => {
                self.end_auth();
                self.error(replies::AUTH_FAILED);
            }
            (ServerEvent::AuthKeys(_), Refuse(reject)) => {
                self.end_auth();
                self.send_reject(reject);
                self.count_error();
            }
            (ServerEvent::Auth(_), Accept(text)) => {
                self.authenticated = true;
                self.positive(replies::AUTH_OK, text);
            }
            (ServerEvent::Mail(MailRequest { params, .. }), Accept(text)) => {
                self.transaction = Some(Transaction {
                    params,
                    recipients: Vec::new(),
                    over_cap: 0,
                    body: Body::Envelope,
                });
                self.positive(replies::SENDER_OK, text);
            }
            (ServerEvent::Rcpt(RcptRequest { to, .. }), Accept(text)) => {
                if let Some(transaction) = &mut self.transaction {
                    transaction.recipients.push(to);
                }
                self.positive(replies::RECIPIENT_OK, text);
            }
            // Failed logins count as errors, and so do refused MAIL and RCPT
            // as in Postfix's hard error limit: a client guessing passwords
            // or probing for addresses is cut off.
            (
                ServerEvent::Auth(_) | ServerEvent::Mail(_) | ServerEvent::Rcpt(_),
                Refuse(reject),
            ) => {
                self.send_reject(reject);
                self.count_error();
            }
            (ServerEvent::Data(DataRequest { chunk: None, .. }), Accept(_)) => {
                if let Some(transaction) = &mut self.transaction {
                    transaction.body = Body::Data;
                }
                let limits = &self.config.limits;
                self.content = DataDecoder::new()
                    .with_max_size(limits.message_size)
                    .with_max_line(limits.text_line)
                    .with_bare_newline(self.config.bare_newlines);
                self.canned(replies::START_DATA);
                self.phase = Phase::Data;
            }
            (
                ServerEvent::Data(DataRequest {
                    chunk: Some((size, last)),
                    ..
                }),
                Accept(_),
            ) => {
                self.start_chunks(size, last);
            }
            (
                ServerEvent::Data(DataRequest {
                    chunk: Some((size, _)),
                    ..
                }),
                Refuse(reject),
            ) => {
                // RFC 3030 §2: the chunk is read before the refusal is sent.
                if let Some(transaction) = &mut self.transaction {
                    transaction.body = Body::FailedChunks;
                }
                self.phase = Phase::SkipChunk {
                    remaining: size,
                    reply: self.reject_reply(reject),
                };
            }
            (ServerEvent::Message(MessageRequest { recipients, .. }), Accept(text)) => {
                for _ in 0..self.end_of_message_replies(recipients.len()) {
                    self.positive(replies::MESSAGE_OK, text.clone());
                }
                self.message_answered();
            }
            (ServerEvent::Message(MessageRequest { recipients, .. }), Refuse(reject)) => {
                for _ in 0..self.end_of_message_replies(recipients.len()) {
                    self.send_reject(reject.clone());
                }
                // A transaction that ended without a message.
                self.transaction = None;
                self.count_junk();
            }
            // RFC 5321 §3.5.3: 252 when the server will not say.
            (ServerEvent::Verify(_), Accept(None)) => self.canned(replies::CANNOT_VERIFY),
            (ServerEvent::Verify(_), Accept(Some(text))) => {
                self.positive(replies::VERIFIED, Some(text));
            }
            (ServerEvent::Etrn(_), Accept(text)) => self.positive(replies::ETRN_OK, text),
            (ServerEvent::Xclient(_), Accept(_)) => {
                // The session starts over as the client the proxy names.
                self.abort_transaction(AbortReason::Reset);
                self.hello = None;
                self.authenticated = false;
                self.reset_error_counts();
                self.greet();
            }
            (
                ServerEvent::Hello(_)
                | ServerEvent::StartTls(_)
                | ServerEvent::Data(DataRequest { chunk: None, .. })
                | ServerEvent::Verify(_)
                | ServerEvent::Etrn(_)
                | ServerEvent::Xclient(_),
                Refuse(reject),
            ) => self.send_reject(reject),
            // Never awaited: `claim` turns them away before they get here.
            (ServerEvent::Content(_) | ServerEvent::Aborted(_), _) => {}
        }
    }

    /// LMTP (RFC 2033 §4.2): the end of a message answered with one outcome
    /// per accepted recipient; see [`ServerSession::deliver`].
    pub(super) fn delivered(
        &mut self,
        request: MessageRequest,
        outcomes: impl IntoIterator<Item = Result<(), Reject>>,
    ) {
        let mut outcomes = outcomes.into_iter();
        for _ in 0..self.end_of_message_replies(request.recipients.len()) {
            match outcomes.next() {
                Some(Ok(())) => self.canned(replies::MESSAGE_OK),
                Some(Err(reject)) => self.send_reject(reject),
                None => self.canned(replies::UNAVAILABLE),
            }
        }
        self.message_answered();
    }

    /// The message is delivered (to some recipients at least): the
    /// transaction closes and the abuse counts start afresh.
    fn message_answered(&mut self) {
        self.transaction = None;
        self.reset_error_counts();
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
        self.ask(|ticket| {
            ServerEvent::Hello(HelloRequest {
                ticket,
                host,
                extended: verb != HelloVerb::Helo,
            })
        });
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
        self.ask(|ticket| {
            ServerEvent::Mail(MailRequest {
                ticket,
                from,
                params,
            })
        });
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
        self.ask(|ticket| ServerEvent::Rcpt(RcptRequest { ticket, to, params }));
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
        self.ask(|ticket| {
            ServerEvent::Data(DataRequest {
                ticket,
                chunk: None,
            })
        });
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
            self.ask(|ticket| {
                ServerEvent::Data(DataRequest {
                    ticket,
                    chunk: Some((size, last)),
                })
            });
        } else {
            self.begin_chunk(size, last);
        }
    }

    fn verify(&mut self, argument: Argument, expand: bool) {
        // Junk like NOOP, so address harvesting by VRFY is cut off too.
        if self.count_junk() {
            return;
        }
        self.ask(|ticket| {
            ServerEvent::Verify(VerifyRequest {
                ticket,
                argument: argument.as_text().clone(),
                expand,
            })
        });
    }

    fn etrn(&mut self, argument: Argument) {
        if !self.config.capabilities.etrn {
            return self.error(replies::NOT_IMPLEMENTED);
        }
        self.ask(|ticket| {
            ServerEvent::Etrn(EtrnRequest {
                ticket,
                argument: argument.as_text().clone(),
            })
        });
    }

    fn xclient(&mut self, args: Option<Argument>) {
        if self.transaction.is_some() {
            return self.error(replies::NESTED_MAIL);
        }
        let attributes = args.and_then(|args| super::xclient::parse(args.as_str()));
        let Some(attributes) = attributes else {
            return self.error(replies::SYNTAX);
        };
        self.ask(|ticket| ServerEvent::Xclient(XclientRequest { ticket, attributes }));
    }

    fn starttls(&mut self) {
        if self.tls {
            return self.error(replies::TLS_ACTIVE);
        }
        if !self.config.capabilities.starttls {
            return self.error(replies::NOT_IMPLEMENTED);
        }
        self.ask(|ticket| ServerEvent::StartTls(StartTlsRequest { ticket }));
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
        if !self.config.capabilities.auth.contains(&mechanism)
            || (mechanism.needs_channel_binding() && self.channel_binding.is_none())
        {
            return self.error(replies::BAD_MECHANISM);
        }
        // The exchange takes the argument as sent: base64, or `=` for empty.
        let initial = initial_response
            .as_ref()
            .map(|response| response.as_base64().map_or(&b"="[..], str::as_bytes));
        match ServerAuth::start_with_binding(
            &mechanism,
            initial,
            self.config.limits.auth_line,
            self.offered_binding(),
        ) {
            Ok((mut exchange, step)) => {
                if let Some(secret) = &self.config.scram_stand_in {
                    exchange.set_stand_in_secret(secret);
                }
                self.input.set_max_line(self.config.limits.auth_line);
                self.phase = Phase::Auth(exchange);
                self.continue_auth(Ok(step));
            }
            Err(err) => self.auth_error(&err),
        }
    }

    /// The channel binding SCRAM runs with: the connection's, when -PLUS is
    /// offered on it.
    fn offered_binding(&self) -> Option<&crate::auth::ChannelBinding> {
        let plus = &crate::auth::Mechanism::ScramSha256Plus;
        self.channel_binding
            .as_ref()
            .filter(|_| self.config.capabilities.auth.contains(plus))
    }

    /// Starts the error and junk counts afresh: after a delivered message
    /// (Postfix's limits count "errors without delivering mail"; with
    /// PIPELINING every refused MAIL or RCPT fails the rest of its group too,
    /// and a busy sender must not be cut off for that), and for the new client
    /// an XCLIENT names.
    pub(super) fn reset_error_counts(&mut self) {
        self.errors = 0;
        self.junk = 0;
    }

    /// RFC 3207 §4.2: 220, then nothing more in cleartext, and everything
    /// learned before the handshake is forgotten.
    fn start_tls(&mut self) {
        if self.input.buffered() > 0 {
            // CVE-2011-0411: commands pipelined behind STARTTLS would be read
            // as if they came over TLS.
            return self.fail(replies::PIPELINED_STARTTLS, CloseReason::PipelinedStartTls);
        }
        self.canned(replies::READY_FOR_TLS);
        self.abort_transaction(AbortReason::Reset);
        self.hello = None;
        self.authenticated = false;
        self.channel_binding = None;
        self.phase = Phase::TlsHandshake;
    }

    fn greet(&mut self) {
        let kind = match self.config.protocol {
            Protocol::Smtp => " ESMTP ready",
            Protocol::Lmtp => " LMTP ready",
        };
        let mut text = alloc::string::String::from(self.config.hostname.as_str());
        text.push_str(kind);
        let text = Text::try_from(text).unwrap_or_else(|_| self.config.hostname.clone());
        self.send(&Reply::new(ReplyCode::SERVICE_READY, text));
    }

    fn positive(&mut self, canned: Canned, text: Option<Text>) {
        match text {
            None => self.canned(canned),
            Some(text) => {
                let reply = self.reply_with_text(canned, text);
                self.send(&reply);
            }
        }
    }
}
