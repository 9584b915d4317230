//! Every reply, read against the command it answers: the setup rows of the
//! table in the module documentation (greeting to AUTH, RSET, NOOP, QUIT,
//! and the rows for any state); the transaction's are in `transaction.rs`.

use alloc::vec::Vec;

use super::queue::{AuthExchange, Awaiting, Phase};
use super::{ClientEvent, ClientSession, SessionError, StartTlsPolicy};
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
pub(super) enum Verdict {
    Ok,
    Intermediate,
    Failed,
}

pub(super) fn verdict(reply: &Reply) -> Verdict {
    match reply.code().class() {
        ReplyClass::PositiveCompletion => Verdict::Ok,
        ReplyClass::PositiveIntermediate => Verdict::Intermediate,
        ReplyClass::TransientNegative | ReplyClass::PermanentNegative => Verdict::Failed,
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
            return self.fail(SessionError::ServiceClosing(reply), false);
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
    pub(super) fn unexpected(&mut self, command: &'static str, reply: Reply) {
        self.fail(SessionError::UnexpectedReply { command, reply }, false);
    }

    fn on_greeting(&mut self, reply: Reply) {
        match reply.code().as_u16() {
            220 => {
                self.events.push_back(ClientEvent::Greeting(reply));
                self.send_hello();
            }
            // RFC 5321 §3.1: after a 554 greeting the client sends QUIT.
            554 => self.fail(SessionError::GreetingRefused(reply), true),
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
                    Host::Literal(_) => self.fail(SessionError::HelloRefused(reply), true),
                }
            }
            Verdict::Failed => self.fail(SessionError::HelloRefused(reply), true),
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
                    return self.fail(SessionError::StartTlsNotOffered, true);
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
                    return self.fail(SessionError::ResponseInjection, false);
                }
                self.phase = Phase::TlsHandshake;
            }
            Verdict::Failed if self.config.starttls == StartTlsPolicy::Required => {
                self.fail(SessionError::StartTlsRefused(reply), true);
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
            return self.fail(SessionError::AuthOverCleartext, true);
        }
        // SCRAM needs a nonce, and -PLUS a channel to bind to.
        let usable: Vec<Mechanism> = auth
            .mechanisms
            .iter()
            .filter(|m| auth.credentials.for_mechanism(m).is_some())
            .filter(|m| m.scram().is_none() || self.auth_nonce.is_some())
            .filter(|m| !m.needs_channel_binding() || self.channel_binding.is_some())
            .cloned()
            .collect();
        let offered = self.caps.as_ref().map(|caps| caps.auth.as_slice());
        let Some(mechanism) = choose_mechanism(offered.unwrap_or_default(), &usable) else {
            return self.fail(SessionError::AuthNotOffered, true);
        };
        let nonce = self.auth_nonce.take();
        let mut exchange = match ClientAuth::with_nonce(
            mechanism,
            &auth.credentials,
            nonce.as_ref().map(Text::as_str),
            self.channel_binding.as_ref(),
        ) {
            Ok(exchange) => exchange,
            Err(error) => return self.fail(SessionError::Sasl(error), true),
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
            return self.fail(SessionError::Sasl(error), true);
        }
        match verdict(&reply) {
            Verdict::Ok if code == ReplyCode::AUTH_SUCCEEDED => {
                if let Err(error) = auth.exchange.check_success() {
                    return self.fail(SessionError::Sasl(error), true);
                }
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
                self.fail(SessionError::AuthTemporaryFailure(reply), true);
            }
            Verdict::Failed => self.fail(SessionError::AuthRejected(reply), true),
            _ => self.unexpected(Awaiting::Auth.command(), reply),
        }
    }

    fn send_line(&mut self, line: &Text) {
        self.out.extend_from_slice(line.as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }
}
