//! One message's transaction: where it stands, and each reply to it read
//! by what it answers (the MAIL to LMTP rows of the table in the module
//! documentation).

use alloc::boxed::Box;
use alloc::vec::Vec;

use super::content::Content;
use super::queue::Awaiting;
use super::replies::{verdict, Verdict};
use super::{
    ClientConfig, ClientEvent, ClientSession, Envelope, SessionError, TransactionFailure,
    TransactionId,
};
use crate::capability::Capabilities;
use crate::command::Command;
use crate::reply::{Reply, ReplyCode};
use crate::Protocol;

/// Where a message stands.
#[derive(Debug)]
enum Stage {
    /// MAIL was sent; its reply is not in.
    Mail,
    /// MAIL was taken: the server holds a transaction for the message.
    Open,
    /// LMTP: the end of data is answered one accepted recipient at a time
    /// (RFC 2033 §4.2); the first positive reply so far.
    Delivering(Option<Reply>),
    /// The server took the message.
    Accepted(Reply),
    /// The message failed. `open`: the server may still hold its
    /// transaction (MAIL was taken and the end of data not answered), so
    /// RSET goes when the message concludes (RFC 5321 §4.1.1.5).
    Failed {
        failure: TransactionFailure,
        open: bool,
    },
}

/// The message in progress.
#[derive(Debug)]
pub(super) struct Transaction {
    pub(super) id: TransactionId,
    pub(super) envelope: Envelope,
    /// The server offers PIPELINING (RFC 2920).
    pub(super) pipelined: bool,
    stage: Stage,
    /// Indices in the envelope of the recipients the server took.
    accepted: Vec<usize>,
    pub(super) content: Content,
}

/// What a reply leaves the message waiting for.
enum Next {
    /// More replies (or content) for this message.
    Wait,
    /// The message is over: report it, and go on with the next.
    Conclude,
    /// The session cannot be kept in step: end it with this error, and the
    /// message with this failure (boxed: a rare path, kept off the size of
    /// the common ones).
    Abort(Box<(SessionError, TransactionFailure)>),
}

impl Transaction {
    pub(super) fn new(
        id: TransactionId,
        envelope: Envelope,
        pipelined: bool,
        config: &ClientConfig,
        caps: &Capabilities,
        chunking: bool,
    ) -> Self {
        Transaction {
            id,
            pipelined,
            stage: Stage::Mail,
            accepted: Vec::new(),
            content: Content::new(config, caps, &envelope, chunking),
            envelope,
        }
    }

    /// MAIL was taken, whatever became of the message since: the replies
    /// to its RCPTs say something of the recipients.
    fn mail_taken(&self) -> bool {
        !matches!(self.stage, Stage::Mail | Stage::Failed { open: false, .. })
    }

    /// MAIL and at least one recipient were taken, and nothing failed.
    fn viable(&self) -> bool {
        matches!(self.stage, Stage::Open) && !self.accepted.is_empty()
    }

    fn has_failed(&self) -> bool {
        matches!(self.stage, Stage::Failed { .. })
    }

    /// Fails the message, unless it already failed: the first cause is the
    /// one reported.
    fn fail(&mut self, failure: TransactionFailure) {
        if !self.has_failed() {
            let open = matches!(self.stage, Stage::Open);
            self.stage = Stage::Failed { failure, open };
        }
    }

    /// The end of data was answered: the server holds no transaction.
    fn end(&mut self, reply: Reply) {
        match &mut self.stage {
            Stage::Failed { open, .. } => *open = false,
            _ if verdict(&reply) == Verdict::Ok => self.stage = Stage::Accepted(reply),
            _ => {
                self.stage = Stage::Failed {
                    failure: TransactionFailure::MessageRejected(reply),
                    open: false,
                }
            }
        }
    }
}

impl ClientSession {
    /// The message whose content the session waits for, if any.
    pub(super) fn content_wanted(&self) -> Option<TransactionId> {
        self.current
            .as_ref()
            .filter(|transaction| transaction.content.is_wanted())
            .map(|transaction| transaction.id)
    }

    /// A reply to MAIL, RCPT, DATA, the end of data or BDAT.
    pub(super) fn on_transaction_reply(&mut self, awaiting: Awaiting, reply: Reply) {
        let verdict = verdict(&reply);
        let fits = match awaiting {
            Awaiting::Data => {
                reply.code() == ReplyCode::START_MAIL_INPUT || verdict == Verdict::Failed
            }
            _ => verdict != Verdict::Intermediate,
        };
        if !fits || self.current.is_none() {
            return self.unexpected(awaiting.command(), reply);
        }
        let Some(mut transaction) = self.current.take() else {
            return;
        };
        let awaiting = self.lmtp_replies(&mut transaction, awaiting);
        let next = match awaiting {
            Awaiting::Mail => self.on_mail(&mut transaction, reply),
            Awaiting::Rcpt(index) => self.on_rcpt(&mut transaction, index, reply),
            Awaiting::Data => self.on_data(&mut transaction, reply),
            Awaiting::DataEnd => {
                transaction.end(reply);
                Next::Conclude
            }
            Awaiting::LmtpDelivery(n) => self.on_lmtp_delivery(&mut transaction, n, reply),
            Awaiting::Bdat { last } => self.on_bdat(&mut transaction, last, reply),
            _ => Next::Wait,
        };
        match next {
            Next::Conclude => {
                self.conclude(transaction);
                self.current = self.ahead.take();
            }
            Next::Wait => {
                self.current = Some(transaction);
                if verdict == Verdict::Ok && matches!(awaiting, Awaiting::Bdat { .. }) {
                    self.resume_chunks();
                }
            }
            Next::Abort(abort) => {
                let (error, failure) = *abort;
                self.current = Some(transaction);
                self.fail_with(error, false, failure);
            }
        }
    }

    /// Rows mail-ok and mail-refused.
    fn on_mail(&mut self, transaction: &mut Transaction, reply: Reply) -> Next {
        let ok = verdict(&reply) == Verdict::Ok;
        if ok {
            transaction.stage = Stage::Open;
        } else {
            transaction.fail(TransactionFailure::MailRejected(reply));
            transaction.content.abandon();
        }
        if transaction.pipelined {
            Next::Wait
        } else if ok {
            self.send_rcpt(transaction, 0);
            Next::Wait
        } else {
            Next::Conclude
        }
    }

    /// Rows rcpt-ok, rcpt-refused and rcpt-none.
    fn on_rcpt(&mut self, transaction: &mut Transaction, index: usize, reply: Reply) -> Next {
        // RFC 2920 §3.1: the RCPT replies that follow a refused MAIL only
        // echo that refusal ("503 need MAIL"); they say nothing of the
        // recipients, whose fate is the MAIL reply's (a 4yz there must not
        // bounce them).
        let answered = transaction
            .envelope
            .recipients
            .get(index)
            .filter(|_| transaction.mail_taken());
        if let Some(recipient) = answered {
            let (id, recipient) = (transaction.id, recipient.path.clone());
            self.events.push_back(if verdict(&reply) == Verdict::Ok {
                transaction.accepted.push(index);
                ClientEvent::RecipientAccepted {
                    id,
                    index,
                    recipient,
                    reply,
                }
            } else {
                ClientEvent::RecipientRejected {
                    id,
                    index,
                    recipient,
                    reply,
                }
            });
        }
        let next = index + 1;
        if next < transaction.envelope.recipients.len() {
            if !transaction.pipelined {
                self.send_rcpt(transaction, next);
            }
            Next::Wait
        } else if !transaction.pipelined {
            self.after_envelope(transaction)
        } else if transaction.content.is_chunked() {
            self.after_pipelined_envelope(transaction)
        } else {
            // The reply to the pipelined DATA comes next.
            Next::Wait
        }
    }

    /// Every RCPT reply is in, one at a time.
    fn after_envelope(&mut self, transaction: &mut Transaction) -> Next {
        if !transaction.viable() {
            transaction.fail(TransactionFailure::NoValidRecipients);
            return Next::Conclude;
        }
        if transaction.content.is_chunked() {
            transaction.content.start();
        } else {
            self.send(&Command::Data, Awaiting::Data);
        }
        Next::Wait
    }

    /// Every RCPT reply of a pipelined BDAT transaction is in; its content
    /// went, or is going, without waiting for them (RFC 3030 §4.2). With no
    /// recipient the rest of the content is dropped, and the message ends
    /// once the replies to the chunks already sent are in.
    fn after_pipelined_envelope(&mut self, transaction: &mut Transaction) -> Next {
        if transaction.viable() {
            return Next::Wait;
        }
        transaction.fail(TransactionFailure::NoValidRecipients);
        transaction.content.abandon();
        self.after_chunk(transaction)
    }

    /// Rows data-354, data-354-none, data-354-lmtp-none and data-refused.
    fn on_data(&mut self, transaction: &mut Transaction, reply: Reply) -> Next {
        if reply.code() != ReplyCode::START_MAIL_INPUT {
            let failure = if transaction.viable() {
                TransactionFailure::DataRejected(reply)
            } else {
                TransactionFailure::NoValidRecipients
            };
            transaction.fail(failure);
            return Next::Conclude;
        }
        if transaction.viable() {
            transaction.content.start();
        } else if self.config.protocol == Protocol::Lmtp {
            // RFC 2033 §4.2: an LMTP server owes no reply at all to the end
            // of a message with no accepted recipient, so after this 354
            // (where 503 was due) nothing tells when it is done: the session
            // cannot be kept in step.
            let error = SessionError::UnexpectedReply {
                command: Awaiting::Data.command(),
                reply,
            };
            return Next::Abort(Box::new((error, TransactionFailure::NoValidRecipients)));
        } else {
            // RFC 2920 §3.1: DATA went ahead of the RCPT replies and was
            // accepted although no recipient was; an empty message ends it,
            // and its reply is a formality.
            self.out.extend_from_slice(b".\r\n");
            transaction.fail(TransactionFailure::NoValidRecipients);
            self.awaiting.push_back(Awaiting::DataEnd);
        }
        Next::Wait
    }

    /// Rows bdat-ok, bdat-last-ok and bdat-refused.
    fn on_bdat(&mut self, transaction: &mut Transaction, last: bool, reply: Reply) -> Next {
        if verdict(&reply) != Verdict::Ok {
            // RFC 3030 §2: a refused chunk leaves the transaction open.
            transaction.fail(TransactionFailure::DataRejected(reply));
            transaction.content.abandon();
            return self.after_chunk(transaction);
        }
        if last {
            transaction.end(reply);
            return Next::Conclude;
        }
        self.after_chunk(transaction)
    }

    /// A failed chunked message ends once the replies to the chunks already
    /// sent are in.
    fn after_chunk(&self, transaction: &Transaction) -> Next {
        let chunks_pending = self
            .awaiting
            .iter()
            .any(|a| matches!(a, Awaiting::Bdat { .. }));
        if transaction.has_failed() && !chunks_pending {
            Next::Conclude
        } else {
            Next::Wait
        }
    }

    /// RFC 2033 §4.2: the end of data of a message with accepted recipients
    /// is answered once per recipient. They are counted when the first
    /// reply comes, since BDAT may go before the RCPT replies are in; a
    /// transaction already failed gets the one reply of a refused command.
    fn lmtp_replies(&mut self, transaction: &mut Transaction, awaiting: Awaiting) -> Awaiting {
        let end = matches!(awaiting, Awaiting::DataEnd | Awaiting::Bdat { last: true });
        if !end || self.config.protocol != Protocol::Lmtp || !transaction.viable() {
            return awaiting;
        }
        for n in (1..transaction.accepted.len()).rev() {
            self.awaiting.push_front(Awaiting::LmtpDelivery(n));
        }
        transaction.stage = Stage::Delivering(None);
        Awaiting::LmtpDelivery(0)
    }

    /// Rows lmtp-each and lmtp-last: one accepted recipient's outcome (RFC
    /// 2033 §4.2); the message is done after the last.
    fn on_lmtp_delivery(&mut self, transaction: &mut Transaction, n: usize, reply: Reply) -> Next {
        if let Some(&index) = transaction.accepted.get(n) {
            if let Some(recipient) = transaction.envelope.recipients.get(index) {
                self.events.push_back(ClientEvent::RecipientDelivery {
                    id: transaction.id,
                    index,
                    recipient: recipient.path.clone(),
                    reply: reply.clone(),
                });
            }
        }
        if let Stage::Delivering(first @ None) = &mut transaction.stage {
            if verdict(&reply) == Verdict::Ok {
                *first = Some(reply.clone());
            }
        }
        if matches!(self.awaiting.front(), Some(Awaiting::LmtpDelivery(_))) {
            return Next::Wait;
        }
        transaction.stage = match core::mem::replace(&mut transaction.stage, Stage::Mail) {
            Stage::Delivering(Some(first)) => Stage::Accepted(first),
            _ => Stage::Failed {
                failure: TransactionFailure::MessageRejected(reply),
                open: false,
            },
        };
        Next::Conclude
    }

    /// Reports the message's outcome; RSET when the server may still hold
    /// part of a transaction (RFC 5321 §4.1.1.5).
    fn conclude(&mut self, transaction: Transaction) {
        let id = transaction.id;
        let (event, reset) = match transaction.stage {
            Stage::Failed { failure, open } => {
                (ClientEvent::TransactionFailed { id, failure }, open)
            }
            Stage::Accepted(reply) => (ClientEvent::MessageAccepted { id, reply }, false),
            Stage::Mail | Stage::Open | Stage::Delivering(_) => (
                ClientEvent::TransactionFailed {
                    id,
                    failure: TransactionFailure::Interrupted,
                },
                false,
            ),
        };
        self.events.push_back(event);
        if reset {
            self.send(&Command::Rset, Awaiting::Rset);
        }
    }
}
