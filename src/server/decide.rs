//! What the session does once the application has decided.

use alloc::vec::Vec;

use super::decision::Pending;
use super::event::{AbortReason, Reject};
use super::replies::{self, Canned};
use super::{Body, CloseReason, Hello, Phase, ServerSession, Transaction};
use crate::data::DataDecoder;
use crate::reply::{Reply, ReplyCode};
use crate::Protocol;
use crate::Text;

impl ServerSession {
    /// Carries out an acceptance; `text` replaces the usual reply text.
    pub(super) fn grant(&mut self, pending: Pending, text: Option<Text>) {
        match pending {
            Pending::Connect(_) => {
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
            Pending::Hello(request) => {
                // RFC 5321 §4.1.4: an accepted EHLO resets the state as RSET does.
                if self.drop_transaction(AbortReason::Reset) {
                    return;
                }
                let reply = self.hello_reply(request.extended);
                self.send(&reply);
                self.hello = Some(Hello {
                    host: request.host,
                    extended: request.extended,
                });
            }
            Pending::StartTls(_) => self.start_tls(),
            Pending::Auth(_) => {
                self.authenticated = true;
                self.positive(replies::AUTH_OK, text);
            }
            Pending::Mail(request) => {
                self.transaction = Some(Transaction {
                    params: request.params,
                    recipients: Vec::new(),
                    over_cap: 0,
                    body: Body::Envelope,
                });
                self.positive(replies::SENDER_OK, text);
            }
            Pending::Rcpt(request) => {
                if let Some(transaction) = &mut self.transaction {
                    transaction.recipients.push(request.to);
                }
                self.positive(replies::RECIPIENT_OK, text);
            }
            Pending::Data(request) => match request.chunk {
                None => {
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
                Some((size, last)) => self.start_chunks(size, last),
            },
            Pending::Message(request) => {
                for _ in 0..self.end_of_message_replies(request.recipients.len()) {
                    self.positive(replies::MESSAGE_OK, text.clone());
                }
                self.transaction = None;
                self.reset_error_counts();
            }
            Pending::Verify(_) => match text {
                // RFC 5321 §3.5.3: 252 when the server will not say.
                None => self.canned(replies::CANNOT_VERIFY),
                Some(text) => self.positive(replies::VERIFIED, Some(text)),
            },
            Pending::Etrn(_) => self.positive(replies::ETRN_OK, text),
            Pending::Xclient(_) => {
                // The session starts over as the client the proxy names.
                self.abort_transaction(AbortReason::Reset);
                self.hello = None;
                self.authenticated = false;
                self.reset_error_counts();
                self.greet();
            }
        }
    }

    /// Carries out a refusal.
    pub(super) fn refuse(&mut self, pending: Pending, reject: Reject) {
        match pending {
            Pending::Connect(_) => {
                // RFC 5321 §3.1: after a 554 greeting only QUIT is answered.
                self.send_reject(reject);
                self.phase = Phase::Refused;
            }
            Pending::Data(request) => match request.chunk {
                None => self.send_reject(reject),
                Some((size, _)) => {
                    if let Some(transaction) = &mut self.transaction {
                        transaction.body = Body::FailedChunks;
                    }
                    self.phase = Phase::SkipChunk {
                        remaining: size,
                        reply: self.reject_reply(reject),
                    };
                }
            },
            Pending::Message(request) => {
                for _ in 0..self.end_of_message_replies(request.recipients.len()) {
                    self.send_reject(reject.clone());
                }
                // A transaction that ended without a message.
                self.transaction = None;
                self.count_junk();
            }
            // Failed logins count as errors, and so do refused MAIL and RCPT
            // as in Postfix's hard error limit: a client guessing passwords
            // or probing for addresses is cut off.
            Pending::Auth(_) | Pending::Mail(_) | Pending::Rcpt(_) => {
                self.send_reject(reject);
                self.count_error();
            }
            Pending::Hello(_)
            | Pending::StartTls(_)
            | Pending::Verify(_)
            | Pending::Etrn(_)
            | Pending::Xclient(_) => self.send_reject(reject),
        }
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
