//! The drain loop for one connection: moves bytes between a socket and a
//! `ServerSession`, upgrades to TLS on request, and arms the timeouts the
//! session asks for.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use smtpwire::server::ServerSession;
use smtpwire::ServerOutput;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::timeout;

use super::handler::Handler;
use super::{Shared, Transport};

/// Bytes read per system call.
const READ_BUFFER: usize = 16 * 1024;

/// Serves one connection until the session closes. When `stopping` turns
/// true, an idle session is ended with 421; a transaction in flight is let
/// finish first.
pub async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    mut stopping: watch::Receiver<bool>,
) {
    // Replies are small and latency-bound; Nagle would hold them back.
    let _ = stream.set_nodelay(true);
    let mut io: Box<dyn Transport> = Box::new(stream);
    let mut session = ServerSession::new(shared.config.clone());
    let mut handler = Handler::new(shared.clone(), peer);
    // The session's own timeout bounds every wait for the client: a
    // request, a write, a TLS handshake.
    let wait_limit = shared.config.limits.timeout;
    let mut output: Vec<u8> = Vec::new();
    let mut input = vec![0; READ_BUFFER];
    let (mut start, mut end) = (0, 0);
    // Set once the transport failed: input ends and output is dropped.
    let mut broken = false;
    // Why the loop ended when the session did not end it.
    let mut cut_short = "";
    loop {
        match session.poll_output() {
            // Replies to pipelined commands go out in one write, when the
            // session next waits for the client.
            ServerOutput::Transmit(bytes) => output.extend_from_slice(&bytes),
            ServerOutput::Event(event) => handler.handle(&mut session, event).await,
            ServerOutput::NeedInput => {
                if start < end {
                    start += session.receive(&input[start..end]);
                    continue;
                }
                if broken || !flush(&mut io, &mut output, wait_limit).await {
                    broken = true;
                    session.receive_eof();
                    continue;
                }
                if *stopping.borrow() && !handler.in_transaction() {
                    session.shutdown();
                    continue;
                }
                let wait = session.timeout_hint().unwrap_or(Duration::MAX);
                let watching = !*stopping.borrow();
                let waiting_since = Instant::now();
                tokio::select! {
                    read = timeout(wait, io.read(&mut input)) => match read {
                        Err(_) => session.handle_timeout(),
                        Ok(Ok(0)) | Ok(Err(_)) => session.receive_eof(),
                        Ok(Ok(count)) => {
                            shared.input();
                            (start, end) = (0, count);
                        }
                    },
                    // Wake up to answer 421 if the server stops while idle.
                    _ = stopping.changed(), if watching => {}
                }
                // A client that trickles its request spends the same
                // time as one that says nothing.
                session.advance(waiting_since.elapsed());
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
                let Some(acceptor) = shared.tls.clone() else {
                    cut_short = "no-tls";
                    break;
                };
                if !flush(&mut io, &mut output, wait_limit).await {
                    cut_short = "write-failed";
                    break;
                }
                match timeout(wait_limit, acceptor.accept(io)).await {
                    Ok(Ok(tls)) => io = Box::new(tls),
                    Ok(Err(error)) => {
                        eprintln!("{peer}: TLS handshake failed: {error}");
                        cut_short = "tls-failed";
                        break;
                    }
                    Err(_) => {
                        cut_short = "tls-timeout";
                        break;
                    }
                }
                session.tls_established();
                handler.tls_established();
            }
            ServerOutput::Closed => {
                // TLS ends with close_notify (RFC 8446 §6.1); plain TCP sends
                // its FIN when the socket is dropped, without a system call
                // of its own.
                if !broken && flush(&mut io, &mut output, wait_limit).await && handler.is_tls() {
                    let _ = io.shutdown().await;
                }
                break;
            }
            // Every decision is taken inside `handle`, so none is ever
            // outstanding here.
            ServerOutput::AwaitingDecision => {
                eprintln!("{peer}: internal error: a decision was left open");
                cut_short = "internal-error";
                break;
            }
        }
    }
    // A transport that failed mid-message leaves no partial file behind.
    handler.disconnected().await;
    // The session saw a failed write as the end of input.
    let reason = match session.close_reason() {
        Some(_) if broken => "write-failed",
        Some(reason) => reason.as_str(),
        None => cut_short,
    };
    handler.closed(reason);
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
