//! Every reply, read against the command it answers.

use alloc::vec::Vec;

use super::{
    AuthExchange, Awaiting, ClientError, ClientEvent, ClientSession, Phase, StartTlsPolicy,
    TransactionFailure,
};
use crate::address::Host;
use crate::auth::{choose_mechanism, ClientAuth, Mechanism};
use crate::capability::Capabilities;
use crate::command::{Command, InitialResponse};
use crate::framing::ReplyLimits;
use crate::limits::DEFAULT_MAX_AUTH_LINE;
use crate::reply::{Reply, ReplyClass, ReplyCode};
use crate::Protocol;
use crate::Text;

/// How a reply code reads for most commands.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Ok,
    Intermediate,
    Failed,
}

fn verdict(reply: &Reply) -> Verdict {
    match reply.code().class() {
        ReplyClass::PositiveCompletion => Verdict::Ok,
        ReplyClass::PositiveIntermediate => Verdict::Intermediate,
        ReplyClass::TransientNegative | ReplyClass::PermanentNegative => Verdict::Failed,
    }
}

impl Awaiting {
    /// The command a reply answers, for error reports.
    fn command(self) -> &'static str {
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

impl ClientSession {
    pub(super) fn on_reply(&mut self, reply: Reply) {
        let awaiting = self.awaiting.pop_front();
        if awaiting == Some(Awaiting::Quit) {
            self.phase = Phase::Closed;
            return;
        }
        // RFC 5321 §3.8: 421 ends the session whatever it answers, and may
        // come when nothing was asked (an idle timeout).
        if reply.code() == ReplyCode::SERVICE_NOT_AVAILABLE {
            return self.fail(ClientError::ServiceClosing(reply), false);
        }
        let Some(awaiting) = awaiting else {
            return self.unexpected("nothing", reply);
        };
        match awaiting {
            Awaiting::Greeting => self.on_greeting(reply),
            Awaiting::Ehlo | Awaiting::Lhlo | Awaiting::Helo => self.on_hello(awaiting, reply),
            Awaiting::StartTls => self.on_starttls(reply),
            Awaiting::Auth => self.on_auth(reply),
            Awaiting::Mail
            | Awaiting::Rcpt(_)
            | Awaiting::Data
            | Awaiting::DataEnd
            | Awaiting::LmtpDelivery(_)
            | Awaiting::Bdat { .. } => self.on_transaction_reply(awaiting, reply),
            Awaiting::Rset => {
                if verdict(&reply) != Verdict::Ok {
                    self.unexpected(awaiting.command(), reply);
                }
            }
            Awaiting::Noop => match verdict(&reply) {
                Verdict::Intermediate => self.unexpected(awaiting.command(), reply),
                _ => self.events.push_back(ClientEvent::NoopReply(reply)),
            },
            Awaiting::Quit => {}
        }
    }

    /// A reply that makes no sense here: the session is out of step with
    /// the server and closes.
    fn unexpected(&mut self, command: &'static str, reply: Reply) {
        self.fail(ClientError::UnexpectedReply { command, reply }, false);
    }

    fn on_greeting(&mut self, reply: Reply) {
        match reply.code().as_u16() {
            220 => {
                self.events.push_back(ClientEvent::Greeting(reply));
                self.send_hello();
            }
            // RFC 5321 §3.1: after a 554 greeting the client sends QUIT.
            554 => self.fail(ClientError::GreetingRefused(reply), true),
            _ => self.unexpected(Awaiting::Greeting.command(), reply),
        }
    }

    pub(super) fn send_hello(&mut self) {
        let host = self.config.hello_host.clone();
        if self.config.protocol == Protocol::Lmtp {
            self.send(&Command::lhlo(host), Awaiting::Lhlo);
        } else {
            self.send(&Command::ehlo(host), Awaiting::Ehlo);
        }
    }

    fn on_hello(&mut self, awaiting: Awaiting, reply: Reply) {
        let code = reply.code().as_u16();
        match verdict(&reply) {
            Verdict::Ok if awaiting == Awaiting::Helo => self.hello_done(Capabilities::default()),
            Verdict::Ok => match Capabilities::from_reply(&reply) {
                Ok(caps) => self.hello_done(caps),
                Err(_) => self.unexpected(awaiting.command(), reply),
            },
            // RFC 5321 §3.2: a server that does not know EHLO answers 500 or
            // 502, and the client falls back to HELO.
            Verdict::Failed if awaiting == Awaiting::Ehlo && matches!(code, 500 | 502) => {
                match &self.config.hello_host {
                    Host::Domain(domain) => {
                        let helo = Command::helo(domain.clone());
                        self.send(&helo, Awaiting::Helo);
                    }
                    Host::Literal(_) => self.fail(ClientError::HelloRefused(reply), true),
                }
            }
            Verdict::Failed => self.fail(ClientError::HelloRefused(reply), true),
            Verdict::Intermediate => self.unexpected(awaiting.command(), reply),
        }
    }

    fn hello_done(&mut self, caps: Capabilities) {
        self.events
            .push_back(ClientEvent::Capabilities(caps.clone()));
        let offered = caps.starttls;
        self.caps = Some(caps);
        if !self.tls {
            match (self.config.starttls, offered) {
                (StartTlsPolicy::Required | StartTlsPolicy::Opportunistic, true) => {
                    return self.send(&Command::StartTls, Awaiting::StartTls);
                }
                (StartTlsPolicy::Required, false) => {
                    return self.fail(ClientError::StartTlsNotOffered, true);
                }
                _ => {}
            }
        }
        self.start_auth();
    }

    fn on_starttls(&mut self, reply: Reply) {
        match verdict(&reply) {
            Verdict::Ok if reply.code() == ReplyCode::SERVICE_READY => {
                // RFC 3207 §4.2: nothing learnt in clear is kept.
                self.caps = None;
                // RFC 3207 §6 and CVE-2011-0411: whatever came with the 220
                // was sent in clear and must not be read as if through TLS.
                if self.replies.buffered() > 0 {
                    return self.fail(ClientError::ResponseInjection, false);
                }
                self.phase = Phase::TlsHandshake;
            }
            Verdict::Failed if self.config.starttls == StartTlsPolicy::Required => {
                self.fail(ClientError::StartTlsRefused(reply), true);
            }
            Verdict::Failed => self.start_auth(),
            _ => self.unexpected(Awaiting::StartTls.command(), reply),
        }
    }

    /// AUTH when configured, then ready for messages.
    fn start_auth(&mut self) {
        let Some(auth) = &self.config.auth else {
            self.phase = Phase::Ready;
            return;
        };
        // RFC 4954 §4 and the safety rules: no secrets in clear unless the
        // caller said so.
        if !self.tls && !auth.allow_cleartext {
            return self.fail(ClientError::AuthOverCleartext, true);
        }
        let usable: Vec<Mechanism> = auth
            .mechanisms
            .iter()
            .filter(|m| auth.credentials.for_mechanism(m).is_some())
            .cloned()
            .collect();
        let offered = self.caps.as_ref().map(|caps| caps.auth.as_slice());
        let Some(mechanism) = choose_mechanism(offered.unwrap_or_default(), &usable) else {
            return self.fail(ClientError::AuthNotOffered, true);
        };
        let mut exchange = match ClientAuth::new(mechanism, &auth.credentials) {
            Ok(exchange) => exchange,
            Err(error) => return self.fail(ClientError::Sasl(error), true),
        };
        let initial = exchange.initial_response().map(|response| {
            if response.is_empty() {
                Some(InitialResponse::empty())
            } else {
                InitialResponse::base64(response.as_str()).ok()
            }
        });
        let command = Command::auth(mechanism.clone(), initial.flatten());
        self.send(&command, Awaiting::Auth);
        // Challenges (an XOAUTH2 error status) may be longer than a reply line.
        let limits = self.config.reply_limits;
        self.replies.set_limits(ReplyLimits {
            max_line: limits.max_line.max(DEFAULT_MAX_AUTH_LINE),
            ..limits
        });
        self.auth = Some(AuthExchange {
            exchange,
            cancelled: None,
        });
    }

    pub(super) fn end_auth(&mut self) {
        if self.auth.take().is_some() {
            self.replies.set_limits(self.config.reply_limits);
        }
    }

    fn on_auth(&mut self, reply: Reply) {
        let Some(auth) = self.auth.as_mut() else {
            return self.unexpected(Awaiting::Auth.command(), reply);
        };
        let code = reply.code();
        if let Some(error) = auth.cancelled.take() {
            // The server's answer to `*`; the exchange failed on our side.
            return self.fail(ClientError::Sasl(error), true);
        }
        match verdict(&reply) {
            Verdict::Ok if code == ReplyCode::AUTH_SUCCEEDED => {
                let mechanism = auth.exchange.mechanism().clone();
                self.end_auth();
                self.events.push_back(ClientEvent::Authenticated(mechanism));
                self.phase = Phase::Ready;
            }
            Verdict::Intermediate if code == ReplyCode::AUTH_CHALLENGE => {
                let line = match auth.exchange.respond(reply.first_line().as_bytes()) {
                    Ok(response) => response,
                    Err(error) => {
                        // RFC 4954 §4: `*` cancels; the server answers 501.
                        auth.cancelled = Some(error);
                        auth.exchange.cancel()
                    }
                };
                self.send_line(&line);
                self.awaiting.push_back(Awaiting::Auth);
            }
            Verdict::Failed if code.is_transient() => {
                self.fail(ClientError::AuthTemporaryFailure(reply), true);
            }
            Verdict::Failed => self.fail(ClientError::AuthRejected(reply), true),
            _ => self.unexpected(Awaiting::Auth.command(), reply),
        }
    }

    fn send_line(&mut self, line: &Text) {
        self.out.extend_from_slice(line.as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }

    fn on_transaction_reply(&mut self, awaiting: Awaiting, reply: Reply) {
        let verdict = verdict(&reply);
        let ok = verdict == Verdict::Ok;
        let go_ahead = awaiting == Awaiting::Data && reply.code() == ReplyCode::START_MAIL_INPUT;
        let fits = match awaiting {
            Awaiting::Data => go_ahead || verdict == Verdict::Failed,
            _ => verdict != Verdict::Intermediate,
        };
        if !fits || self.current.is_none() {
            return self.unexpected(awaiting.command(), reply);
        }
        let Some(mut transaction) = self.current.take() else {
            return;
        };
        let id = transaction.id;
        let awaiting = self.lmtp_replies(&transaction, awaiting);
        let concluded = match awaiting {
            Awaiting::Mail => {
                if ok {
                    transaction.mail_ok = true;
                } else {
                    transaction.failure = Some(TransactionFailure::MailRejected(reply));
                    transaction.content.abandon();
                }
                if transaction.pipelined {
                    false
                } else if transaction.mail_ok {
                    self.send_rcpt(&transaction, 0);
                    false
                } else {
                    true
                }
            }
            Awaiting::Rcpt(index) => {
                // RFC 2920 §3.1: the RCPT replies that follow a refused MAIL
                // only echo that refusal ("503 need MAIL"); they say nothing
                // of the recipients, whose fate is the MAIL reply's (a 4yz
                // there must not bounce them).
                let answered = transaction
                    .envelope
                    .recipients
                    .get(index)
                    .filter(|_| transaction.mail_ok);
                if let Some(recipient) = answered {
                    let recipient = recipient.path.clone();
                    self.events.push_back(if ok {
                        transaction.accepted.push(index);
                        ClientEvent::RecipientAccepted {
                            id,
                            recipient,
                            reply,
                        }
                    } else {
                        ClientEvent::RecipientRejected {
                            id,
                            recipient,
                            reply,
                        }
                    });
                }
                let next = index + 1;
                if next < transaction.envelope.recipients.len() {
                    if !transaction.pipelined {
                        self.send_rcpt(&transaction, next);
                    }
                    false
                } else if !transaction.pipelined {
                    self.after_envelope(&mut transaction)
                } else if transaction.content.is_chunked() {
                    self.after_pipelined_envelope(&mut transaction)
                } else {
                    // The reply to the pipelined DATA comes next.
                    false
                }
            }
            Awaiting::Data if go_ahead => {
                if transaction.viable() {
                    transaction.content.start();
                    self.events.push_back(ClientEvent::ContentWanted(id));
                } else if self.config.protocol == Protocol::Lmtp {
                    // RFC 2033 §4.2: an LMTP server owes no reply at all to
                    // the end of a message with no accepted recipient, so
                    // after this 354 (where 503 was due) nothing tells when
                    // it is done: the session cannot be kept in step.
                    self.current = Some(transaction);
                    let error = ClientError::UnexpectedReply {
                        command: Awaiting::Data.command(),
                        reply,
                    };
                    return self.fail_with(error, false, TransactionFailure::NoValidRecipients);
                } else {
                    // RFC 2920 §3.1: DATA went ahead of the RCPT replies and
                    // was accepted although no recipient was; an empty
                    // message ends it, and its reply is a formality.
                    self.out.extend_from_slice(b".\r\n");
                    transaction
                        .failure
                        .get_or_insert(TransactionFailure::NoValidRecipients);
                    self.awaiting.push_back(Awaiting::DataEnd);
                }
                false
            }
            Awaiting::Data => {
                let failure = if transaction.viable() {
                    TransactionFailure::DataRejected(reply)
                } else {
                    TransactionFailure::NoValidRecipients
                };
                transaction.failure.get_or_insert(failure);
                true
            }
            Awaiting::DataEnd => {
                transaction.ended = true;
                if transaction.failure.is_none() {
                    if ok {
                        transaction.delivered = Some(reply);
                    } else {
                        transaction.failure = Some(TransactionFailure::MessageRejected(reply));
                    }
                }
                true
            }
            Awaiting::LmtpDelivery(n) => self.on_lmtp_delivery(&mut transaction, n, reply),
            Awaiting::Bdat { last } => {
                if !ok {
                    transaction
                        .failure
                        .get_or_insert(TransactionFailure::DataRejected(reply));
                    transaction.content.abandon();
                } else if last {
                    transaction.ended = true;
                    transaction.delivered = Some(reply);
                }
                (ok && last) || (transaction.failure.is_some() && !self.chunks_pending())
            }
            _ => false,
        };
        if concluded {
            self.conclude(transaction);
            self.current = self.ahead.take();
        } else {
            self.current = Some(transaction);
            if ok && matches!(awaiting, Awaiting::Bdat { .. }) {
                self.resume_chunks();
            }
        }
    }

    /// LMTP: one accepted recipient's outcome (RFC 2033 §4.2); the message
    /// is done after the last.
    fn on_lmtp_delivery(
        &mut self,
        transaction: &mut super::Transaction,
        n: usize,
        reply: Reply,
    ) -> bool {
        let recipient = transaction
            .accepted
            .get(n)
            .and_then(|&index| transaction.envelope.recipients.get(index));
        if let Some(recipient) = recipient {
            self.events.push_back(ClientEvent::RecipientDelivery {
                id: transaction.id,
                recipient: recipient.path.clone(),
                reply: reply.clone(),
            });
        }
        if verdict(&reply) == Verdict::Ok && transaction.delivered.is_none() {
            transaction.delivered = Some(reply.clone());
        }
        transaction.last_delivery = Some(reply);
        if matches!(self.awaiting.front(), Some(Awaiting::LmtpDelivery(_))) {
            return false;
        }
        transaction.ended = true;
        if transaction.delivered.is_none() && transaction.failure.is_none() {
            transaction.failure = transaction
                .last_delivery
                .take()
                .map(TransactionFailure::MessageRejected);
        }
        true
    }

    /// RFC 2033 §4.2: the end of data of a message with accepted recipients
    /// is answered once per recipient. They are counted when the first
    /// reply comes, since BDAT may go before the RCPT replies are in; a
    /// transaction already failed gets the one reply of a refused command.
    fn lmtp_replies(&mut self, transaction: &super::Transaction, awaiting: Awaiting) -> Awaiting {
        let end = matches!(awaiting, Awaiting::DataEnd | Awaiting::Bdat { last: true });
        if !end || self.config.protocol != Protocol::Lmtp || !transaction.viable() {
            return awaiting;
        }
        for n in (1..transaction.accepted.len()).rev() {
            self.awaiting.push_front(Awaiting::LmtpDelivery(n));
        }
        Awaiting::LmtpDelivery(0)
    }

    /// Whether replies to BDAT chunks already sent are still to come.
    fn chunks_pending(&self) -> bool {
        self.awaiting
            .iter()
            .any(|a| matches!(a, Awaiting::Bdat { .. }))
    }

    /// Every RCPT reply of a pipelined BDAT transaction is in; its content
    /// went, or is going, without waiting for them (RFC 3030 §4.2). With no
    /// recipient the rest of the content is dropped, and the message ends
    /// once the replies to the chunks already sent are in.
    fn after_pipelined_envelope(&mut self, transaction: &mut super::Transaction) -> bool {
        if transaction.viable() {
            return false;
        }
        transaction
            .failure
            .get_or_insert(TransactionFailure::NoValidRecipients);
        transaction.content.abandon();
        !self.chunks_pending()
    }

    /// Every RCPT reply is in, one at a time.
    fn after_envelope(&mut self, transaction: &mut super::Transaction) -> bool {
        if !transaction.viable() {
            transaction
                .failure
                .get_or_insert(TransactionFailure::NoValidRecipients);
            return true;
        }
        if transaction.content.is_chunked() {
            transaction.content.start();
            self.events
                .push_back(ClientEvent::ContentWanted(transaction.id));
        } else {
            self.send(&Command::Data, Awaiting::Data);
        }
        false
    }

    /// Reports the message's outcome; RSET when the server may still hold
    /// part of a transaction (RFC 5321 §4.1.1.5).
    fn conclude(&mut self, transaction: super::Transaction) {
        let id = transaction.id;
        let reset = transaction.mail_ok && !transaction.ended && transaction.failure.is_some();
        self.events
            .push_back(match (transaction.failure, transaction.delivered) {
                (Some(failure), _) => ClientEvent::TransactionFailed { id, failure },
                (None, Some(reply)) => ClientEvent::MessageAccepted { id, reply },
                (None, None) => ClientEvent::TransactionFailed {
                    id,
                    failure: TransactionFailure::Interrupted,
                },
            });
        if reset {
            self.send(&Command::Rset, Awaiting::Rset);
        }
    }
}
