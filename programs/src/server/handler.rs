//! The application side of one connection: what the server decides for each
//! event, and where message content goes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use smtpwire::address::{Host, ReversePath};
use smtpwire::auth::StoredKeys;
use smtpwire::proxy::ProxyHeader;
use smtpwire::reply::{EnhancedStatusCode, ReplyCode};
use smtpwire::server::{
    AbortReason, AuthKeysRequest, AuthRequest, CloseReason, DataRequest, HelloRequest, MailRequest,
    MessageRequest, RcptRequest, Reject,
};
use smtpwire::{Domain, RcptParameters, Text};
use smtpwire_tokio::server::TlsSession;

use super::envelopes::{Envelopes, Stored};
use super::held::{no_room, Held};
use super::maildir::TmpMessage;
use super::rules::refusal;
use super::Shared;
use crate::authentication::{remove_claims_of, Origin};
use crate::relay::bounce::{self, About, Notice};
use crate::relay::dsn::{dsn_only, MessageDsn, PARAMS_SEPARATOR};
use crate::relay::rewrite::{Expansion, Refusal, Resolution};
use crate::relay::srs::unix_day;
use crate::trace::{Received, Via};

/// What one connection knows about its client, and the open transaction.
pub struct Handler {
    shared: Arc<Shared>,
    client: SocketAddr,
    helo: Option<(String, bool)>,
    /// The HELO or EHLO name when it is a domain, the identity SPF checks
    /// (RFC 7208 §2.3).
    helo_domain: Option<String>,
    /// What STARTTLS settled on, once it did.
    tls: Option<TlsSession>,
    user: Option<String>,
    envelope: Option<Envelope>,
    /// The file the last SMTP message was delivered to, for its reply.
    queued: Option<Text>,
    connected: Instant,
}

/// The open transaction.
/// The delivery field that says the message came with REQUIRETLS (RFC
/// 8689), among the envelope fields on top of a stored message; without
/// its line end.
pub const REQUIRETLS_FIELD: &str = "X-Envelope-Requiretls: yes";

struct Envelope {
    from: String,
    /// The MAIL FROM address without brackets, empty for `<>`.
    sender: String,
    /// MAIL carried REQUIRETLS (RFC 8689 §4.1): kept with the stored
    /// message for whoever relays it.
    requiretls: bool,
    recipients: Vec<String>,
    /// With [`Shared::envelope_dsn`], MAIL's DSN parameters as given.
    mail_dsn: MessageDsn,
    /// The envelopes it is stored as in SMTP: the recipients after the
    /// rewriting table, with their DSN parameters when kept.
    envelopes: Envelopes,
    started: Instant,
    /// One file per stored copy: one in SMTP mode, one per recipient in LMTP
    /// mode; none when discarding.
    copies: Vec<TmpMessage>,
    /// With authentication on, the message is held here until it ends:
    /// its results must be written above it, and DKIM needs all of it.
    /// The session's message size limit bounds it, and the server's
    /// [`HeldMemory`](super::held::HeldMemory) all of them.
    held: Option<Held>,
    /// Why the message will be refused when it ends: content that could
    /// not be written (451) or held (452).
    failure: Option<Reject>,
    size: u64,
}

impl Handler {
    /// A handler for a client connected from `client`.
    pub fn new(shared: Arc<Shared>, client: SocketAddr) -> Self {
        Handler {
            shared,
            client,
            helo: None,
            helo_domain: None,
            tls: None,
            user: None,
            envelope: None,
            queued: None,
            connected: Instant::now(),
        }
    }

    /// Starts the tmp files of the open transaction, trace fields first.
    /// `results` is an `Authentication-Results:` field (and an ARC set) to
    /// put on top of the message as received, above this host's `Received:` field (RFC
    /// 8601 §5), the delivery fields (`Return-Path:`, the envelope
    /// recipients) staying first.
    async fn open_copies(&mut self, results: Option<&str>) -> std::io::Result<()> {
        let Some(store) = &self.shared.store else {
            return Ok(());
        };
        let Some(envelope) = &mut self.envelope else {
            return Ok(());
        };
        let (helo, extended) = self.helo.clone().unwrap_or_default();
        let via = Via {
            lmtp: self.shared.lmtp,
            extended,
            tls: self.tls.is_some(),
            authenticated: self.user.is_some(),
        };
        let now = SystemTime::now();
        // LMTP delivers to each recipient on its own (RFC 2033 §4.2), so each
        // gets its own copy and its own outcome; SMTP stores one copy per
        // envelope: the sender's, and one per list owner.
        let own_dsn = envelope.mail_dsn.render();
        let groups: Vec<Stored> = if self.shared.lmtp {
            envelope
                .recipients
                .iter()
                .map(|recipient| Stored {
                    recipients: vec![recipient.clone()],
                    ..Stored::default()
                })
                .collect()
        } else {
            envelope
                .envelopes
                .stored
                .iter()
                .filter(|stored| !stored.recipients.is_empty())
                .cloned()
                .collect()
        };
        for group in groups {
            let name = store.unique_name();
            // A list's envelope starts afresh (RFC 3461 §5.2.7.1).
            let from = group.owner.as_ref().unwrap_or(&envelope.from);
            let mut head = match group.afresh {
                false => format!("Return-Path: {from}{}\r\n", with_params(&own_dsn)),
                true => format!("Return-Path: {from}\r\n"),
            };
            let label = if self.shared.lmtp {
                "Delivered-To"
            } else {
                "X-Envelope-To"
            };
            for recipient in &group.recipients {
                head.push_str(&format!("{label}: {recipient}\r\n"));
            }
            if envelope.requiretls {
                head.push_str(REQUIRETLS_FIELD);
                head.push_str("\r\n");
            }
            // Not Delivered-To:, which downstream loop detection reads.
            for original in &group.original_to {
                head.push_str(&format!("X-Original-To: {original}\r\n"));
            }
            if let Some(results) = results {
                head.push_str(results);
            }
            let received = Received {
                helo: &helo,
                client: self.client,
                by: &self.shared.hostname,
                via,
                id: &name,
                recipient: (group.recipients.len() == 1)
                    .then(|| group.recipients[0].split(PARAMS_SEPARATOR).next())
                    .flatten(),
                time: now,
            };
            head.push_str(&received.to_field());
            let copy = store.begin(name, head.as_bytes()).await?;
            envelope.copies.push(copy);
        }
        Ok(())
    }

    /// Drops what the open transaction had written, and logs it.
    async fn abort(&mut self, reason: AbortReason) {
        let Some(mut envelope) = self.envelope.take() else {
            return;
        };
        for copy in std::mem::take(&mut envelope.copies) {
            copy.discard().await;
        }
        let outcome = format!("aborted ({reason:?})");
        self.log(&envelope, None, &outcome);
    }

    /// Appends `chunk` to every copy; after a failed write the copies are
    /// dropped and the message will be refused with 451.
    async fn write_copies(&mut self, chunk: &[u8]) {
        let Some(envelope) = &mut self.envelope else {
            return;
        };
        if envelope.failure.is_some() {
            return;
        }
        for copy in &mut envelope.copies {
            if let Err(error) = copy.write(chunk).await {
                tracing::warn!(client = %self.client, queue_id = %copy.name(), %error, "writing a message failed");
                envelope.failure = Some(Reject::temporary());
                break;
            }
        }
        if envelope.failure.is_some() {
            for copy in envelope.copies.drain(..) {
                copy.discard().await;
            }
        }
    }

    /// With authentication on, evaluates the held message and writes it
    /// below its results; `Err` is the refusal the DMARC policy asks for.
    /// The lookups are awaited: other connections go on meanwhile.
    async fn authenticate(&mut self) -> Result<(), Reject> {
        let shared = self.shared.clone();
        let Some(intake) = &shared.authentication else {
            return Ok(());
        };
        let Some(envelope) = &mut self.envelope else {
            return Ok(());
        };
        let Some(held) = envelope.held.take() else {
            return Ok(());
        };
        let sender = envelope.sender.clone();
        let origin = Origin {
            client: self.client.ip(),
            helo: self.helo_domain.as_deref(),
            mail_from: &sender,
        };
        let verdict = intake
            .check(&origin, held.bytes(), &shared.hostname)
            .await?;
        // A new ARC set goes on top, above the results it seals.
        let fields = format!("{}{}", verdict.arc_set.unwrap_or_default(), verdict.field);
        if let Err(error) = self.open_copies(Some(&fields)).await {
            tracing::warn!(client = %self.client, %error, "cannot store a message");
            if let Some(envelope) = &mut self.envelope {
                envelope.failure = Some(Reject::temporary());
            }
            return Ok(());
        }
        let content = remove_claims_of(held.bytes(), intake.evaluator.authserv_id());
        self.write_copies(&content).await;
        Ok(())
    }

    /// Makes every copy durable, then gives the outcome for each of
    /// `recipients`: one for all in SMTP, one each in LMTP.
    async fn store(&mut self, recipients: usize) -> Vec<Result<(), Reject>> {
        let Some(mut envelope) = self.envelope.take() else {
            return vec![Err(Reject::temporary())];
        };
        let mut outcomes: Vec<Result<String, Reject>> = Vec::new();
        match (&self.shared.store, envelope.failure.take()) {
            (_, Some(failure)) => outcomes.push(Err(failure)),
            (None, None) => outcomes.push(Ok("discarded".to_string())),
            (Some(store), None) => {
                for copy in std::mem::take(&mut envelope.copies) {
                    let name = copy.name().to_string();
                    outcomes.push(match store.deliver(copy).await {
                        Ok(_) => Ok(name),
                        Err(error) => {
                            tracing::warn!(client = %self.client, queue_id = %name, %error, "delivery into the maildir failed");
                            Err(Reject::temporary())
                        }
                    });
                }
            }
        }
        // SMTP stores one file per envelope (the sender's, one per list
        // owner) but answers once: a failure of any is the answer, since
        // a copy more on a retry is better than one lost (RFC 5321 §6.1).
        if !self.shared.lmtp && outcomes.len() > 1 {
            if let Some(failed) = outcomes.iter().position(Result::is_err) {
                outcomes.swap(0, failed);
            }
        }
        let summary = summarize(&outcomes);
        if outcomes.iter().any(Result::is_ok) {
            self.shared.stats.message_accepted();
        }
        if outcomes.iter().all(Result::is_ok) {
            self.report_expansions(&envelope).await;
        }
        // SMTP answers with the first outcome, and names the file it went
        // to (the sender's envelope's, when there are several).
        let stored = match outcomes.first() {
            Some(Ok(name)) if self.shared.store.is_some() => Some(name.as_str()),
            _ => None,
        };
        self.log(&envelope, stored, &summary);
        self.queued = stored.and_then(|name| Text::new(name).ok());
        // A failed write or the discard mode gives one outcome for all
        // recipients.
        if !self.shared.lmtp {
            outcomes.truncate(1);
        }
        match outcomes.as_slice() {
            [single] if recipients != 1 => vec![single.clone().map(drop); recipients.max(1)],
            _ => outcomes
                .into_iter()
                .map(|outcome| outcome.map(drop))
                .collect(),
        }
    }

    /// Queues the reports owed at once for recipients that asked
    /// `NOTIFY=SUCCESS` and were expanded by the rewriting table (RFC 3461
    /// §5.2.7); none for a message from the null reverse path (§6.2).
    async fn report_expansions(&self, envelope: &Envelope) {
        let reports = &envelope.envelopes.success;
        let Some(store) = &self.shared.store else {
            return;
        };
        if reports.is_empty() || envelope.sender.is_empty() {
            return;
        }
        let Ok(hostname) = Domain::parse(&self.shared.hostname) else {
            return;
        };
        let name = store.unique_name();
        let now = SystemTime::now();
        let about = About {
            envelope_id: envelope.mail_dsn.envid.clone(),
            ret: envelope.mail_dsn.ret,
            arrival: now,
        };
        let sending = bounce::Sending {
            reporting_mta: &hostname,
            to: &envelope.from,
            message_id: &name,
            date: now,
        };
        let report = bounce::compose(Notice::Success, &sending, &about, reports.clone(), b"");
        if let Err(error) = bounce::queue_report(store, name, &envelope.from, &report).await {
            tracing::warn!(client = %self.client, %error, "cannot queue an expansion report");
        }
    }

    /// One line per transaction: its queue id when it was stored (the id
    /// the 250 reply names), the envelope, size and outcome.
    fn log(&self, envelope: &Envelope, queue_id: Option<&str>, outcome: &str) {
        let (result, code) = match (queue_id, outcome.split_whitespace().next()) {
            (_, Some("aborted")) => ("aborted", ""),
            (Some(_), _) => ("accepted", "250"),
            (None, Some(code)) if code.starts_with('2') => ("accepted", "250"),
            (None, Some(code)) => ("refused", code),
            (None, None) => ("refused", ""),
        };
        metrics::counter!("smtpwire_messages_total", "result" => result, "code" => code.to_string())
            .increment(1);
        tracing::info!(
            client = %self.client,
            queue_id = %queue_id.unwrap_or("none"),
            from = %envelope.from,
            to = %Joined(&envelope.recipients),
            recipients = envelope.recipients.len(),
            size = envelope.size,
            outcome = %outcome,
            elapsed_ms = envelope.started.elapsed().as_secs_f64() * 1000.0,
            "message"
        );
    }
}

impl smtpwire_tokio::server::Handler for Handler {
    async fn connect(&mut self, proxy: Option<&ProxyHeader>) -> Result<(), Reject> {
        if let Some(source) = proxy.and_then(|header| header.source()) {
            self.client = source;
        }
        Ok(())
    }

    /// As the session does (RFC 3207 §4.2), forget what the client said
    /// before.
    fn tls_established(&mut self, session: &TlsSession) {
        metrics::counter!("smtpwire_tls_connections_total", "version" => session.version.clone())
            .increment(1);
        self.tls = Some(session.clone());
        self.helo = None;
        self.helo_domain = None;
        self.user = None;
    }

    async fn hello(&mut self, request: &HelloRequest) -> Result<(), Reject> {
        self.helo = Some((escaped(request.host()), request.is_extended()));
        self.helo_domain = match request.host() {
            Host::Domain(domain) => Some(domain.to_string()),
            Host::Literal(_) => None,
        };
        Ok(())
    }

    async fn scram_keys(
        &mut self,
        request: &AuthKeysRequest,
    ) -> Result<Option<StoredKeys>, Reject> {
        let user = request.user();
        Ok(self.shared.users.as_ref().and_then(|users| {
            users
                .load()
                .scram_keys(user.username().as_str(), user.hash())
                .cloned()
        }))
    }

    async fn auth(&mut self, request: &AuthRequest) -> Result<(), Reject> {
        let valid = self
            .shared
            .users
            .as_ref()
            .is_some_and(|users| users.load().verify(request.credentials()));
        let mechanism = request.credentials().mechanism();
        if !valid {
            tracing::info!(client = %self.client, %mechanism, "authentication failed");
            return Err(bad_credentials());
        }
        let user = escaped(request.credentials().identity());
        tracing::info!(client = %self.client, user = %user, %mechanism, "authenticated");
        self.user = Some(user);
        Ok(())
    }

    async fn mail(&mut self, request: &MailRequest) -> Result<(), Reject> {
        // Canonical / masquerading rules rewrite the envelope sender; the
        // checks (SPF) still see the one the client gave.
        let rewritten = match (request.from(), &self.shared.rewriting) {
            (ReversePath::Mailbox(mailbox), Some(rewriting)) => {
                rewriting.table().rewrite_sender(mailbox.as_str())
            }
            _ => None,
        };
        self.envelope = Some(Envelope {
            from: match rewritten {
                Some(address) => format!("<{address}>"),
                None => escaped(request.from()),
            },
            sender: match request.from() {
                ReversePath::Null => String::new(),
                ReversePath::Mailbox(mailbox) => mailbox.to_string(),
            },
            requiretls: request.params().requiretls,
            held: None,
            recipients: Vec::new(),
            mail_dsn: match self.shared.envelope_dsn {
                true => MessageDsn::of(request.params()),
                false => MessageDsn::default(),
            },
            envelopes: Envelopes::default(),
            started: Instant::now(),
            copies: Vec::new(),
            failure: None,
            size: 0,
        });
        Ok(())
    }

    async fn rcpt(&mut self, request: &RcptRequest) -> Result<(), Reject> {
        let Some(envelope) = &mut self.envelope else {
            return Err(Reject::temporary());
        };
        let recipient = escaped(request.to());
        if let Some(refusal) = self.shared.rules.check(&envelope.from, &recipient) {
            return Err(refusal);
        }
        let params = match self.shared.envelope_dsn {
            true => dsn_only(request.params()),
            false => RcptParameters::default(),
        };
        let srs = self.shared.srs.as_ref();
        let resolution = match (request.to().mailbox(), &self.shared.rewriting) {
            // A bounce to an SRS address of ours goes back to the sender it
            // stands for, as an alias would take it (RFC 3461 §5.2.7.2).
            (Some(mailbox), _) if srs.is_some_and(|srs| srs.is_srs_address(mailbox.as_str())) => {
                srs.and_then(|srs| srs.reverse(mailbox.as_str(), unix_day()))
                    .map_or(Resolution::Refused(Refusal::Refused), |sender| {
                        Resolution::Rewritten(Expansion::one(sender))
                    })
            }
            (Some(mailbox), Some(rewriting)) => rewriting.table().resolve(mailbox.as_str()),
            _ => Resolution::Unchanged,
        };
        match resolution {
            Resolution::Unchanged => {
                let line = format!("{recipient}{}", with_params(&params.to_string()));
                envelope.envelopes.keep(line);
            }
            Resolution::Refused(refusal) => return Err(table_refusal(refusal)),
            Resolution::Rewritten(expansion) => {
                // Mail an alias forwards goes out from an SRS address, so
                // that the next hop's SPF check sees this relay's domain; a
                // decoded bounce keeps its null sender.
                let forwarded_from = match (srs, envelope.sender.is_empty()) {
                    (Some(srs), false) => {
                        let from = envelope.from.trim_start_matches('<').trim_end_matches('>');
                        Some(format!("<{}>", srs.forward(from, unix_day())))
                    }
                    _ => None,
                };
                envelope.envelopes.rewritten(
                    request.to(),
                    &recipient,
                    &params,
                    &expansion,
                    forwarded_from.as_deref(),
                )
            }
        }
        envelope.recipients.push(recipient);
        Ok(())
    }

    async fn data(&mut self, _request: &DataRequest) -> Result<(), Reject> {
        if let Some(intake) = &self.shared.authentication {
            if let Some(envelope) = &mut self.envelope {
                envelope.held = Some(Held::new(intake.memory.clone()));
            }
            return Ok(());
        }
        self.open_copies(None).await.map_err(|error| {
            tracing::warn!(client = %self.client, %error, "cannot store a message");
            Reject::temporary()
        })
    }

    /// Written to every copy as it arrives: without authentication the
    /// message is never held whole.
    async fn content(&mut self, chunk: Bytes) {
        let Some(envelope) = &mut self.envelope else {
            return;
        };
        envelope.size += chunk.len() as u64;
        match &mut envelope.held {
            Some(held) => {
                if !held.extend(&chunk) {
                    tracing::warn!(client = %self.client, "no memory left to hold a message: refused at its end");
                    envelope.held = None;
                    envelope.failure = Some(no_room());
                }
            }
            // Refused already: nothing is kept.
            None if envelope.failure.is_some() => {}
            None => self.write_copies(&chunk).await,
        }
    }

    /// The end of a message: make every copy durable, then answer. The
    /// positive reply is only sent once the file is safely in `new/`.
    async fn deliver(&mut self, request: &MessageRequest) -> Vec<Result<(), Reject>> {
        let recipients = request.recipients().len();
        if let Err(refusal) = self.authenticate().await {
            if let Some(envelope) = self.envelope.take() {
                let outcome = refusal.reply().code().as_u16().to_string();
                self.log(&envelope, None, &outcome);
            }
            // LMTP: the same answer for every recipient.
            return vec![Err(refusal); recipients.max(1)];
        }
        self.store(recipients).await
    }

    fn queue_id(&mut self) -> Option<Text> {
        self.queued.take()
    }

    async fn aborted(&mut self, reason: AbortReason) {
        self.abort(reason).await;
    }

    /// One line per connection as it ends, with why (the session's
    /// [`CloseReason`], or `transport-failed` when the connection broke
    /// first: a reset, a write that timed out, a failed TLS handshake), for
    /// operators and tools such as fail2ban.
    async fn closed(&mut self, reason: Option<CloseReason>) {
        // A transport that failed mid-message leaves no partial file behind.
        self.abort(AbortReason::Disconnected).await;
        let reason = reason.map_or("transport-failed", CloseReason::as_str);
        metrics::counter!("smtpwire_connections_total", "reason" => reason).increment(1);
        let (tls, cipher) = match &self.tls {
            Some(session) => (session.version.as_str(), session.cipher.as_str()),
            None => ("none", "none"),
        };
        tracing::info!(
            client = %self.client,
            tls = %tls,
            cipher = %cipher,
            user = %self.user.as_deref().unwrap_or("none"),
            reason = %reason,
            elapsed_s = self.connected.elapsed().as_secs_f64(),
            "closed"
        );
    }
}

/// What the client said, for a header field or the log: control characters,
/// which a server may be configured to take in addresses (and which a SASL
/// identity may hold), are written as `\u{…}` escapes so that they cannot
/// break or forge a line.
fn escaped(value: &impl std::fmt::Display) -> String {
    let text = value.to_string();
    if !text.chars().any(is_unsafe) {
        return text;
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_unsafe(c) {
            out.push_str(&c.escape_unicode().to_string());
        } else {
            out.push(c);
        }
    }
    out
}

/// DSN parameters (their wire form, with or without a leading space) as
/// they follow a path on an envelope line: after a tab, or nothing when
/// there are none ([`crate::relay::dsn`]).
fn with_params(params: &str) -> String {
    match params.trim() {
        "" => String::new(),
        params => format!("{PARAMS_SEPARATOR}{params}"),
    }
}

/// C0 and C1 controls, DEL and the Unicode line and paragraph separators.
fn is_unsafe(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}')
}

/// Addresses separated by commas, written without a joined copy.
struct Joined<'a>(&'a [String]);

impl std::fmt::Display for Joined<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (index, address) in self.0.iter().enumerate() {
            if index > 0 {
                f.write_str(",")?;
            }
            f.write_str(address)?;
        }
        Ok(())
    }
}

fn summarize(outcomes: &[Result<String, Reject>]) -> String {
    let parts: Vec<String> = outcomes
        .iter()
        .map(|outcome| match outcome {
            Ok(name) => format!("250 {name}"),
            Err(reject) => reject.reply().code().as_u16().to_string(),
        })
        .collect();
    parts.join(",")
}

/// A recipient the rewriting table refuses: 550 5.1.1 (RFC 3463 §3.2,
/// bad destination mailbox), or 550 5.4.6 when its expansion loops or
/// grows beyond its bounds (§3.5, routing loop detected).
fn table_refusal(why: Refusal) -> Reject {
    match why {
        Refusal::Refused => refusal(
            ReplyCode::MAILBOX_UNAVAILABLE,
            EnhancedStatusCode::BAD_DESTINATION_MAILBOX,
            "No such user here",
        ),
        Refusal::Loop => refusal(
            ReplyCode::MAILBOX_UNAVAILABLE,
            EnhancedStatusCode::new_const(5, 4, 6),
            "Alias or list expansion loops or is too large",
        ),
    }
}

/// RFC 4954 §6: 535 5.7.8.
fn bad_credentials() -> Reject {
    refusal(
        ReplyCode::AUTH_CREDENTIALS_INVALID,
        EnhancedStatusCode::AUTH_CREDENTIALS_INVALID,
        "Authentication credentials invalid",
    )
}

#[cfg(test)]
mod tests {
    use super::escaped;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(escaped(&"a@example.org"), "a@example.org");
        assert_eq!(
            escaped(&"<a\u{85}b\u{2028}@example.org>"),
            "<a\\u{85}b\\u{2028}@example.org>"
        );
        assert_eq!(escaped(&"x\ty"), "x\\u{9}y");
    }
}
