//! One connection: a `ClientSession` driven over tokio TCP, upgraded in place
//! for STARTTLS.

use std::collections::VecDeque;
use std::io;
use std::time::Duration;

use bytes::Bytes;
use smtpwire::client::{
    ClientConfig, ClientError, ClientEvent, ClientSession, Envelope, TransactionId,
};
use smtpwire::ClientOutput as Output;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, ToSocketAddrs};
use tokio_rustls::client::TlsStream;

use super::tls::Upgrade;

/// Outgoing bytes held before a write while content streams: enough to fill
/// large TCP segments, small next to the session's content window.
const WRITE_BATCH: usize = 64 * 1024;

/// Bytes asked of the socket per read.
const READ_SIZE: usize = 16 * 1024;

/// How long a write may wait for a server that has stopped reading, and a
/// TLS handshake for one that has stopped answering: the longest of the
/// client timeouts of RFC 5321 §4.5.3.2.
const STALL_LIMIT: Duration = Duration::from_secs(10 * 60);

enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl Stream {
    async fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            Stream::Plain(tcp) => tcp.write_all(bytes).await,
            Stream::Tls(tls) => {
                tls.write_all(bytes).await?;
                tls.flush().await
            }
        }
    }

    async fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(tcp) => tcp.read(buffer).await,
            Stream::Tls(tls) => tls.read(buffer).await,
        }
    }

    async fn shutdown(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(tcp) => tcp.shutdown().await,
            Stream::Tls(tls) => tls.shutdown().await,
        }
    }
}

/// A connection and the session on it.
///
/// Queue messages with [`send`](Self::send) and [`quit`](Self::quit), then
/// [`drive`](Self::drive) until the session has nothing left to do; what
/// happened comes out of [`take_events`](Self::take_events).
pub struct Connection {
    session: ClientSession,
    /// `None` once the transport failed or was closed.
    stream: Option<Stream>,
    upgrade: Option<Upgrade>,
    /// Bytes from the session not yet written: consecutive transmits leave
    /// in one write.
    outgoing: Vec<u8>,
    /// Bytes read that the session has not taken yet.
    incoming: Vec<u8>,
    read_buffer: Box<[u8]>,
    /// Content of the queued messages, in the order they were queued.
    contents: VecDeque<(TransactionId, Bytes)>,
    events: Vec<ClientEvent>,
    failure: Option<io::Error>,
}

impl Connection {
    /// Connects to `server` (with TCP_NODELAY: the session decides when
    /// bytes leave, and Nagle's algorithm would hold back a lone command).
    /// `upgrade` is how STARTTLS is done, if the session asks for it.
    pub async fn open(
        server: impl ToSocketAddrs,
        config: ClientConfig,
        upgrade: Option<Upgrade>,
    ) -> io::Result<Connection> {
        let tcp = TcpStream::connect(server).await?;
        tcp.set_nodelay(true)?;
        Ok(Connection {
            session: ClientSession::new(config),
            stream: Some(Stream::Plain(tcp)),
            upgrade,
            outgoing: Vec::new(),
            incoming: Vec::new(),
            read_buffer: vec![0; READ_SIZE].into_boxed_slice(),
            contents: VecDeque::new(),
            events: Vec::new(),
            failure: None,
        })
    }

    /// Queues a message and its content.
    pub fn send(
        &mut self,
        envelope: Envelope,
        content: Bytes,
    ) -> Result<TransactionId, ClientError> {
        let id = self.session.send_mail(envelope)?;
        self.contents.push_back((id, content));
        Ok(id)
    }

    /// Queues QUIT after the messages queued so far.
    pub fn quit(&mut self) {
        self.session.quit();
    }

    /// What the session reported since the last call.
    pub fn take_events(&mut self) -> Vec<ClientEvent> {
        std::mem::take(&mut self.events)
    }

    /// The transport error that ended the connection, if one did.
    pub fn failure(&self) -> Option<&io::Error> {
        self.failure.as_ref()
    }

    /// Runs the session until it waits for the caller with nothing queued,
    /// or closes. A transport error ends the stream: the session then
    /// reports every message still open as failed.
    pub async fn drive(&mut self) {
        self.run(false).await;
    }

    /// [`drive`](Self::drive), but returns as soon as events are waiting
    /// and the session needs the server or more content: the caller acts
    /// on each outcome before more is sent. Returns with no events only
    /// where `drive` would.
    // Used by the relay and bulk (through `outbound`), not by `send`.
    #[allow(dead_code)]
    pub async fn drive_to_events(&mut self) {
        self.run(true).await;
    }

    async fn run(&mut self, until_events: bool) {
        loop {
            let output = self.session.poll_output();
            if until_events
                && !self.events.is_empty()
                && matches!(
                    output,
                    Output::SendContent(_) | Output::Idle | Output::NeedInput
                )
            {
                self.flush().await;
                return;
            }
            match output {
                Output::Transmit(bytes) => self.outgoing.extend_from_slice(&bytes),
                Output::Event(event) => self.events.push(event),
                Output::SendContent(id) => self.feed_content(id).await,
                Output::Idle => {
                    self.flush().await;
                    return;
                }
                Output::NeedInput => {
                    self.flush().await;
                    self.read().await;
                }
                Output::StartTls => {
                    self.flush().await;
                    if !self.start_tls().await {
                        return;
                    }
                }
                Output::Closed => {
                    self.flush().await;
                    if let Some(mut stream) = self.stream.take() {
                        let _ = stream.shutdown().await;
                    }
                    return;
                }
            }
        }
    }

    /// Offers the rest of message `id`'s content, or ends it.
    async fn feed_content(&mut self, id: TransactionId) {
        // Messages refused before their content never ask for it.
        while self
            .contents
            .front()
            .is_some_and(|(queued, _)| *queued < id)
        {
            self.contents.pop_front();
        }
        let Some((queued, content)) = self.contents.front() else {
            let _ = self.session.finish_content();
            return;
        };
        if *queued != id || content.is_empty() {
            if *queued == id {
                self.contents.pop_front();
            }
            // An error here is reported as an event too.
            let _ = self.session.finish_content();
            return;
        }
        // Written only with more content to come, so the last bytes and the
        // end of data leave together.
        if self.outgoing.len() >= WRITE_BATCH {
            self.flush().await;
        }
        let Some((_, content)) = self.contents.front_mut() else {
            return;
        };
        if let Ok(taken) = self.session.send_content(content) {
            let _ = content.split_to(taken);
            if taken == 0 {
                // The window is full of staged content the session cannot
                // send yet: its replies must come first.
                self.flush().await;
                self.read().await;
            }
        }
    }

    async fn flush(&mut self) {
        if self.outgoing.is_empty() {
            return;
        }
        if let Some(stream) = &mut self.stream {
            // Never longer than the session would wait for the reply.
            let limit = self.session.timeout_hint().unwrap_or(STALL_LIMIT);
            match tokio::time::timeout(limit, stream.write_all(&self.outgoing)).await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => self.fail(error),
                Err(_) => self.fail(io::Error::new(io::ErrorKind::TimedOut, "write timed out")),
            }
        }
        self.outgoing.clear();
    }

    /// Hands the session bytes from the server: left over from the last
    /// read, or read now within the session's timeout.
    async fn read(&mut self) {
        if self.incoming.is_empty() {
            let Some(stream) = &mut self.stream else {
                self.session.receive_eof();
                return;
            };
            let wait = self.session.timeout_hint();
            let read = stream.read(&mut self.read_buffer);
            let result = match wait {
                Some(wait) => match tokio::time::timeout(wait, read).await {
                    Ok(result) => result,
                    Err(_) => {
                        self.session.handle_timeout();
                        return;
                    }
                },
                None => read.await,
            };
            match result {
                Ok(0) => {
                    self.session.receive_eof();
                    return;
                }
                Ok(count) => self.incoming.extend_from_slice(&self.read_buffer[..count]),
                Err(error) => {
                    self.fail(error);
                    self.session.receive_eof();
                    return;
                }
            }
        }
        let taken = self.session.receive(&self.incoming);
        self.incoming.drain(..taken);
    }

    /// Upgrades the transport; `false` when the connection is lost.
    async fn start_tls(&mut self) -> bool {
        if !self.incoming.is_empty() {
            // Bytes after the 220 to STARTTLS were injected (RFC 3207 §6):
            // the session fails on them.
            let injected = std::mem::take(&mut self.incoming);
            self.session.receive(&injected);
            return true;
        }
        let (Some(Stream::Plain(tcp)), Some(upgrade)) = (self.stream.take(), &self.upgrade) else {
            self.fail(io::Error::other("STARTTLS without a TLS configuration"));
            return false;
        };
        let handshake = upgrade.connector.connect(upgrade.name.clone(), tcp);
        match tokio::time::timeout(STALL_LIMIT, handshake).await {
            Ok(Ok(tls)) => {
                self.stream = Some(Stream::Tls(Box::new(tls)));
                self.session.tls_established();
                true
            }
            Ok(Err(error)) => {
                self.fail(error);
                false
            }
            Err(_) => {
                self.fail(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "TLS handshake timed out",
                ));
                false
            }
        }
    }

    fn fail(&mut self, error: io::Error) {
        self.stream = None;
        self.failure.get_or_insert(error);
    }
}
