//! The drain loop for one connection: moves bytes between a transport and
//! a `ServerSession`, asks the handler for every decision, upgrades to TLS
//! on request, and waits only as long as the session allows.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use smtpwire::server::{CloseReason, Reject, ServerEvent, ServerSession};
use smtpwire::{Protocol, ServerOutput, Text};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;
use tokio::time::timeout;

use super::admission::{refusal_line, Slot};
use super::rates::Attempt;
use super::{Handler, Server, TlsSession};

/// Bytes read per system call.
const READ_BUFFER: usize = 16 * 1024;

/// A byte stream the session can run over: TCP, TLS, or anything else.
pub trait Transport: AsyncRead + AsyncWrite + Unpin + Send {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send> Transport for T {}

/// Serves one connection until the session closes, and tells the handler
/// why it ended. When `stopping` turns true, a session with no message in
/// flight is ended with 421; one in a transaction is let finish first.
/// `slot` holds the connection's place in the server's table when the
/// server accepted it; behind a trusted proxy it is claimed for the client
/// the PROXY header names, or the connection is refused with 421. Such a
/// connection is plain TCP until STARTTLS; one the caller hands over may be
/// anything. `client` is the address rates are counted against, when
/// known before the session starts.
pub(super) async fn serve<H: Handler>(
    stream: Box<dyn Transport>,
    server: Server,
    mut handler: H,
    mut stopping: watch::Receiver<bool>,
    mut slot: Option<Slot>,
    mut client: Option<IpAddr>,
) -> Option<CloseReason> {
    let mut plain_tcp = slot.is_some();
    let mut io = stream;
    let config = server.config.clone();
    let tls = server.tls.clone();
    let mut session = ServerSession::new(config.clone());
    // Every wait for the client is bounded by the session's timeout: a
    // request, a write, a TLS handshake.
    let limit = config.limits.timeout;
    let mut output: Vec<u8> = Vec::new();
    let mut input = vec![0; READ_BUFFER];
    let (mut start, mut end) = (0, 0);
    let mut broken = false;
    let ended = loop {
        match session.poll_output() {
            // Replies to pipelined commands go out in one write, when the
            // session next waits for the client.
            ServerOutput::Transmit(bytes) => output.extend_from_slice(&bytes),
            ServerOutput::Event(ServerEvent::Connect(request)) => {
                let named = request.proxy().and_then(|header| header.source());
                if let (Some(slot), Some(named)) = (&mut slot, named) {
                    client = Some(named.ip());
                    if let Err(refusal) = server.claim(slot, named.ip()) {
                        server.refused(refusal);
                        // No greeting yet: the 421 is all the client hears,
                        // and the handler, never asked about the client,
                        // hears nothing either.
                        let mut line = refusal_line(config.hostname.as_str(), refusal).into_bytes();
                        if flush(&mut io, &mut line, limit).await {
                            let _ = timeout(limit, io.shutdown()).await;
                        }
                        return None;
                    }
                }
                let verdict = handler.connect(request.proxy()).await;
                let answered = answer(&mut session, request, verdict);
                debug_assert!(answered.is_ok(), "the session waits for its own request");
            }
            ServerOutput::Event(event) => {
                let rated = Rated {
                    server: &server,
                    client,
                };
                decide(&mut session, &mut handler, event, tls.is_some(), rated).await
            }
            ServerOutput::NeedInput => {
                if start < end {
                    start += session.receive(&input[start..end]);
                    continue;
                }
                if broken || !flush(&mut io, &mut output, limit).await {
                    broken = true;
                    session.receive_eof();
                    continue;
                }
                if *stopping.borrow() && !session.in_transaction() {
                    session.shutdown();
                    continue;
                }
                let wait = session.timeout_hint().unwrap_or(Duration::MAX);
                let watching = !*stopping.borrow();
                let since = Instant::now();
                tokio::select! {
                    read = timeout(wait, io.read(&mut input)) => match read {
                        Err(_) => session.handle_timeout(),
                        Ok(Ok(0)) | Ok(Err(_)) => session.receive_eof(),
                        Ok(Ok(count)) => {
                            server.input();
                            (start, end) = (0, count);
                        }
                    },
                    // Wake up to answer 421 if the server stops while idle.
                    _ = stopping.changed(), if watching => {}
                }
                // A client that trickles its request spends the same time
                // as one that says nothing.
                session.advance(since.elapsed());
            }
            ServerOutput::StartTls => {
                if start < end {
                    // Read in clear with the STARTTLS but not yet given to
                    // the session (its input bound was full): it must never
                    // be read as if it came over TLS (CVE-2011-0411). The
                    // session, handed it now, fails with 554.
                    session.receive(&input[start..end]);
                    start = end;
                    continue;
                }
                let Some(acceptor) = tls.clone() else {
                    break None;
                };
                if !flush(&mut io, &mut output, limit).await {
                    break None;
                }
                let tls_session = match timeout(limit, acceptor.accept(io)).await {
                    Ok(Ok(upgraded)) => {
                        let tls_session = TlsSession::of(upgraded.get_ref().1);
                        io = Box::new(upgraded);
                        plain_tcp = false;
                        tls_session
                    }
                    _ => return finish(&mut handler, None).await,
                };
                session.tls_established();
                if let Some(binding) = &tls_session.channel_binding {
                    session.set_channel_binding(binding.clone());
                }
                handler.tls_established(&tls_session);
            }
            ServerOutput::Closed => {
                // TLS ends with close_notify (RFC 8446 §6.1); plain TCP
                // sends its FIN when the socket drops, without a system
                // call of its own, which a connection per message would
                // pay for each.
                if !broken && flush(&mut io, &mut output, limit).await && !plain_tcp {
                    let _ = timeout(limit, io.shutdown()).await;
                }
                // A failed write looks like the end of input to the session.
                break session.close_reason().filter(|_| !broken);
            }
            // Every decision is taken in `decide`, so none is ever left
            // outstanding.
            ServerOutput::AwaitingDecision => break None,
        }
    };
    if session.in_transaction() {
        handler
            .aborted(smtpwire::server::AbortReason::Disconnected)
            .await;
    }
    finish(&mut handler, ended).await
}

async fn finish<H: Handler>(handler: &mut H, reason: Option<CloseReason>) -> Option<CloseReason> {
    handler.closed(reason).await;
    reason
}

/// Asks the handler about one event and answers the session. The session
/// issued every token it hands out and waits for it, so answering it right
/// away cannot fail.
async fn decide<H: Handler>(
    session: &mut ServerSession,
    handler: &mut H,
    event: ServerEvent,
    tls: bool,
    rated: Rated<'_>,
) {
    let answered = match event {
        ServerEvent::Hello(request) => {
            let verdict = handler.hello(&request).await;
            answer(session, request, verdict)
        }
        ServerEvent::StartTls(request) if tls => session.accept(request),
        ServerEvent::StartTls(request) => {
            session.reject(request, super::refuse(454, "4.7.0", "TLS not available"))
        }
        ServerEvent::Auth(request) => {
            let verdict = handler.auth(&request).await;
            answer(session, request, verdict)
        }
        ServerEvent::AuthKeys(request) => {
            match (
                handler.scram_keys(&request).await,
                crate::channel::fresh_nonce(),
            ) {
                (Ok(keys), Some(nonce)) => {
                    session.supply_keys(request, keys.as_ref(), nonce.as_str())
                }
                (Err(reject), _) => session.reject(request, reject),
                (Ok(_), None) => session.reject(
                    request,
                    super::refuse(454, "4.7.0", "Temporary authentication failure"),
                ),
            }
        }
        ServerEvent::Mail(request) => {
            let verdict = match rated.check(Attempt::Message) {
                Ok(()) => handler.mail(&request).await,
                refused => refused,
            };
            answer(session, request, verdict)
        }
        ServerEvent::Rcpt(request) => {
            let verdict = match rated.check(Attempt::Recipient) {
                Ok(()) => handler.rcpt(&request).await,
                refused => refused,
            };
            answer(session, request, verdict)
        }
        ServerEvent::Data(request) => {
            let verdict = handler.data(&request).await;
            answer(session, request, verdict)
        }
        ServerEvent::Content(chunk) => {
            handler.content(chunk).await;
            Ok(())
        }
        ServerEvent::Message(request) => {
            let outcomes = handler.deliver(&request).await;
            let smtp = session.config().protocol == Protocol::Smtp;
            match outcomes.first() {
                Some(Ok(())) if smtp => match handler.queue_id().as_ref().and_then(queued_as) {
                    Some(text) => session.accept_with(request, text),
                    None => session.accept(request),
                },
                _ => session.deliver(request, outcomes),
            }
        }
        ServerEvent::Verify(request) => match handler.verify(&request).await {
            Ok(None) => session.accept(request),
            Ok(Some(text)) => session.accept_with(request, text),
            Err(reject) => session.reject(request, reject),
        },
        ServerEvent::Aborted(reason) => {
            handler.aborted(reason).await;
            Ok(())
        }
        // ETRN and XCLIENT are off unless the configuration offers them,
        // and then need a policy this driver does not have.
        other if other.is_request() => session.reject(
            other,
            super::refuse(502, "5.5.1", "Command not implemented"),
        ),
        _ => Ok(()),
    };
    debug_assert!(answered.is_ok(), "the session waits for its own request");
}

/// The server's rates and the client they count against.
struct Rated<'a> {
    server: &'a Server,
    client: Option<IpAddr>,
}

impl Rated<'_> {
    /// Counts one `attempt`; over its rate, the `450 4.7.1` that refuses
    /// it, as Postfix answers a client over its message or recipient rate.
    fn check(&self, attempt: Attempt) -> Result<(), Reject> {
        let Some(client) = self.client else {
            return Ok(());
        };
        if self.server.allows(client, attempt) {
            return Ok(());
        }
        let text = format!(
            "{} from {} this minute, try again later",
            attempt.too_many(),
            client.to_canonical()
        );
        Err(super::refuse(450, "4.7.1", &text))
    }
}

/// `queued as ID`, if it fits in a reply line.
fn queued_as(id: &Text) -> Option<Text> {
    Text::new(&format!("queued as {id}")).ok()
}

fn answer<R: Into<ServerEvent>>(
    session: &mut ServerSession,
    request: R,
    verdict: Result<(), smtpwire::server::Reject>,
) -> Result<(), smtpwire::server::DecisionError> {
    match verdict {
        Ok(()) => session.accept(request),
        Err(reject) => session.reject(request, reject),
    }
}

/// Writes what is queued; false when the peer is gone or stopped reading.
async fn flush(io: &mut Box<dyn Transport>, output: &mut Vec<u8>, limit: Duration) -> bool {
    if output.is_empty() {
        return true;
    }
    let written = async {
        io.write_all(output).await?;
        io.flush().await
    };
    let ok = matches!(timeout(limit, written).await, Ok(Ok(())));
    output.clear();
    ok
}
