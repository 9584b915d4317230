//! One connection: a `ClientSession` driven over a byte stream, upgraded in
//! place for STARTTLS.

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::time::Duration;

use bytes::Bytes;
use smtpwire::client::{ClientEvent, ClientOutput, ClientSession, LongLines, TransactionId, Wait};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::TlsConnector;

use super::error::ConnectionError;
use super::message::Tracker;

/// Outgoing bytes held before a write while content streams: enough to fill
/// large TCP segments, small next to the session's content window.
const WRITE_BATCH: usize = 64 * 1024;

/// Bytes asked of the stream per read.
const READ_SIZE: usize = 16 * 1024;

/// A byte stream the driver can own: TCP, TLS over it, or the caller's.
pub(super) trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// How STARTTLS is done: what to trust and which name to check.
pub(super) struct Upgrade {
    pub connector: TlsConnector,
    pub name: ServerName<'static>,
}

/// The session, its stream and what is in flight between them.
pub(super) struct Driver {
    pub session: ClientSession,
    /// `None` once the transport failed or was closed.
    stream: Option<Box<dyn Io>>,
    upgrade: Option<Upgrade>,
    /// Longest wait for anything, whatever the session's hint.
    max_wait: Duration,
    /// The session's policy for over-long lines, which decides whether a
    /// message is checked before it is queued.
    pub long_lines: LongLines,
    /// Bytes from the session not yet written: what it transmits between
    /// two reads leaves in one write.
    outgoing: Vec<u8>,
    /// Bytes read that the session has not taken yet.
    incoming: Vec<u8>,
    read_buffer: Box<[u8]>,
    /// Content of the queued messages not yet sent, in queue order.
    contents: VecDeque<(TransactionId, Bytes)>,
    pub tracker: Tracker,
    /// Why the connection ended, until a call reports it.
    pub failure: Option<ConnectionError>,
}

impl Driver {
    pub fn new(
        session: ClientSession,
        stream: Box<dyn Io>,
        upgrade: Option<Upgrade>,
        max_wait: Duration,
        long_lines: LongLines,
    ) -> Self {
        Driver {
            session,
            stream: Some(stream),
            upgrade,
            max_wait,
            long_lines,
            outgoing: Vec::new(),
            incoming: Vec::new(),
            read_buffer: vec![0; READ_SIZE].into_boxed_slice(),
            contents: VecDeque::new(),
            tracker: Tracker::default(),
            failure: None,
        }
    }

    /// Holds message `id`'s content until the session asks for it.
    pub fn add_content(&mut self, id: TransactionId, content: Bytes) {
        self.contents.push_back((id, content));
    }

    /// Runs the session until it waits for the caller with nothing queued,
    /// or closes; with `until_outcome`, also as soon as a new outcome is in
    /// and the session would wait for the server or for more content, so
    /// the caller can act on it (and queue more) first.
    pub async fn run(&mut self, until_outcome: bool) {
        let finished = self.tracker.finished();
        loop {
            let output = self.session.poll_output();
            if until_outcome
                && self.tracker.finished() > finished
                && matches!(
                    output,
                    ClientOutput::SendContent(_) | ClientOutput::Idle | ClientOutput::NeedInput
                )
            {
                self.flush().await;
                return;
            }
            match output {
                ClientOutput::Transmit(bytes) => {
                    if self.stream.is_some() {
                        self.outgoing.extend_from_slice(&bytes);
                    }
                }
                ClientOutput::Event(ClientEvent::Error(error)) => {
                    self.failure
                        .get_or_insert(ConnectionError::Session(error.into()));
                }
                ClientOutput::Event(event) => {
                    if let ClientEvent::MessageAccepted { id, .. }
                    | ClientEvent::TransactionFailed { id, .. } = &event
                    {
                        // Messages end in queue order.
                        self.drop_content(|queued| queued <= *id);
                    }
                    self.tracker.on_event(event);
                }
                ClientOutput::SendContent(id) => self.feed_content(id).await,
                ClientOutput::Idle => {
                    self.flush().await;
                    return;
                }
                ClientOutput::NeedInput => {
                    self.flush().await;
                    self.read().await;
                }
                ClientOutput::StartTls => {
                    self.flush().await;
                    self.start_tls().await;
                }
                ClientOutput::Closed => {
                    self.flush().await;
                    if let Some(mut stream) = self.stream.take() {
                        // A server that stops reading must not hold the
                        // caller here either.
                        let _ = self.bounded(Wait::Command, stream.shutdown()).await;
                    }
                    return;
                }
            }
        }
    }

    /// How long to wait for `wait`: RFC 5321 §4.5.3.2, capped by the
    /// caller's limit.
    fn limit(&self, wait: Wait) -> Duration {
        wait.duration().min(self.max_wait)
    }

    /// `future` within the limit for `wait`. The limit is taken before the
    /// wait rather than `self` held across it: the stream is `Send` but not
    /// `Sync`, and a future holding `&Driver` would not be `Send`.
    fn bounded<F: Future>(&self, wait: Wait, future: F) -> impl Future<Output = Option<F::Output>> {
        let limit = self.limit(wait);
        async move { tokio::time::timeout(limit, future).await.ok() }
    }

    /// Forgets the content of the first messages, those `done` says have
    /// no use for it any more.
    fn drop_content(&mut self, done: impl Fn(TransactionId) -> bool) {
        while self
            .contents
            .front()
            .is_some_and(|(queued, _)| done(*queued))
        {
            self.contents.pop_front();
        }
    }

    /// Offers the rest of message `id`'s content, or ends it.
    async fn feed_content(&mut self, id: TransactionId) {
        // Messages refused before their content never ask for it.
        self.drop_content(|queued| queued < id);
        match self.contents.front() {
            Some((queued, content)) if *queued == id && !content.is_empty() => {}
            Some((queued, _)) if *queued == id => {
                self.contents.pop_front();
                // An error here comes as an event too.
                let _ = self.session.finish_content();
                return;
            }
            _ => {
                let _ = self.session.finish_content();
                return;
            }
        }
        // Written only with more content to come, so that the last bytes,
        // the end of data and the next envelope leave together.
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
        if let Some(mut stream) = self.stream.take() {
            // Never longer than the session would wait for the reply.
            let wait = self
                .session
                .timeout_hint()
                .unwrap_or(Wait::DataTermination.duration());
            let write = async {
                stream.write_all(&self.outgoing).await?;
                stream.flush().await
            };
            match tokio::time::timeout(wait.min(self.max_wait), write).await {
                Ok(Ok(())) => self.stream = Some(stream),
                Ok(Err(error)) => self.fail(ConnectionError::Io(error)),
                Err(_) => self.fail(ConnectionError::Io(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the server stopped reading",
                ))),
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
            let limit = wait.unwrap_or(Wait::Command.duration()).min(self.max_wait);
            match tokio::time::timeout(limit, stream.read(&mut self.read_buffer)).await {
                Ok(Ok(0)) => self.session.receive_eof(),
                Ok(Ok(count)) => self
                    .incoming
                    .extend_from_slice(self.read_buffer.get(..count).unwrap_or_default()),
                Ok(Err(error)) => {
                    self.fail(ConnectionError::Io(error));
                    self.session.receive_eof();
                }
                // The session records which wait ran out (RFC 5321
                // §4.5.3.2) and closes.
                Err(_) if wait.is_some() => self.session.handle_timeout(),
                Err(_) => {
                    self.fail(ConnectionError::Io(io::ErrorKind::TimedOut.into()));
                    self.session.receive_eof();
                }
            }
        }
        let taken = self.session.receive(&self.incoming);
        self.incoming.drain(..taken);
    }

    /// Upgrades the transport after the server's 220 to STARTTLS.
    async fn start_tls(&mut self) {
        if !self.incoming.is_empty() {
            // Bytes after the 220 were sent in clear before the handshake:
            // injected (RFC 3207 §6), and the session fails on them.
            let injected = std::mem::take(&mut self.incoming);
            self.session.receive(&injected);
            return;
        }
        match (self.stream.take(), &self.upgrade) {
            (Some(stream), Some(upgrade)) => {
                let handshake = upgrade.connector.connect(upgrade.name.clone(), stream);
                match self.bounded(Wait::Command, handshake).await {
                    Some(Ok(tls)) => {
                        let binding = crate::channel::tls_exporter(tls.get_ref().1);
                        self.stream = Some(Box::new(tls));
                        self.session.tls_established();
                        if let Some(binding) = binding {
                            self.session.set_channel_binding(binding);
                        }
                        return;
                    }
                    Some(Err(error)) => self.fail(ConnectionError::Tls(error)),
                    None => self.fail(ConnectionError::Tls(io::ErrorKind::TimedOut.into())),
                }
            }
            (_, None) => self.fail(ConnectionError::TlsSetup(io::Error::other(
                "STARTTLS without a TLS configuration",
            ))),
            (None, Some(_)) => {}
        }
        // No TLS and no stream: the session has no other way out of its
        // handshake state than to go on, find the transport closed (nothing
        // reaches the wire now) and report every message as not sent.
        self.session.tls_established();
    }

    /// The transport is gone; the session learns it at its next read.
    fn fail(&mut self, error: ConnectionError) {
        self.stream = None;
        self.failure.get_or_insert(error);
    }
}
