//! The client driver: connect, STARTTLS, AUTH, and messages pipelined over
//! one connection, each with every recipient's outcome.
//!
//! A [`Client`] owns one connection and its [`ClientSession`]. Every wait
//! is bounded: the connect by [`ClientBuilder::connect_timeout`], each
//! reply by the session's RFC 5321 §4.5.3.2 timeout (capped by
//! [`ClientBuilder::max_wait`]), each write and the TLS handshake likewise,
//! so a silent server ends in [`ConnectionError`] rather than a hang.
//!
//! STARTTLS is [`Required`](StartTlsPolicy::Required) by default, with the
//! server's certificate checked against the system's CA bundle
//! ([`tls::system_trust`]): nothing, credentials included, crosses the
//! network in clear or reaches an impostor. Choose
//! [`Opportunistic`](StartTlsPolicy::Opportunistic) to send in clear to a
//! server that does not offer STARTTLS; a certificate that fails
//! verification still ends the connection, since there is no going back
//! to clear after the handshake started. For a self-signed server, trust
//! its certificate with [`tls::trust_file`] (it is pinned).
//!
//! ```no_run
//! use smtpwire_tokio::client::{Client, Message};
//!
//! # async fn run() -> Result<(), smtpwire_tokio::client::Error> {
//! let mut client = Client::builder("client.example.org")
//!     .connect("mail.example.net:25")
//!     .await?;
//! let message = Message::new(
//!     "alice@example.org",
//!     ["bob@example.net", "carol@example.net"],
//!     "Subject: hello\r\n\r\nHi.\r\n",
//! )?;
//! for recipient in client.send(message).await?.recipients() {
//!     println!("{recipient}"); // <bob@example.net>: accepted: 250 2.0.0 Ok
//! }
//! client.quit().await?;
//! # Ok(())
//! # }
//! ```
//!
//! Many messages go over one connection at one round trip each: queue a
//! few ahead with [`Client::queue`] and take each [`Outcome`] with
//! [`Client::next_outcome`] as its transaction ends. The client keeps
//! only what is queued and not yet reported, so a sender that keeps a
//! fixed number in flight runs in constant memory however many it sends:
//!
//! ```no_run
//! # use smtpwire_tokio::client::{Client, Error, Message};
//! # async fn run(mut client: Client, messages: Vec<Message>) -> Result<(), Error> {
//! let mut messages = messages.into_iter();
//! loop {
//!     while client.queued() < 4 {
//!         let Some(message) = messages.next() else { break };
//!         client.queue(message)?;
//!     }
//!     let Some(outcome) = client.next_outcome().await? else { break };
//!     println!("{}: all accepted: {}", outcome.id(), outcome.all_accepted());
//! }
//! client.quit().await
//! # }
//! ```

mod driver;
mod error;
mod message;
pub mod tls;

pub use error::{ConnectionError, Error, UsageError};
pub use message::{Message, Outcome, RecipientOutcome, RecipientStatus};
pub use smtpwire::client::{AuthConfig, LongLines, StartTlsPolicy, TransactionId};

use std::sync::Arc;
use std::time::Duration;

use smtpwire::client::UsageError as SessionUsage;
use smtpwire::client::{check_line_lengths, ClientConfig, ClientError, ClientSession, Wait};
use smtpwire::{Capabilities, Host, Protocol};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::TlsConnector;

use driver::{Driver, Upgrade};

/// How long a TCP connect may take, as Postfix's `smtp_connect_timeout`.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// One connection to an SMTP or LMTP server; see the [module
/// documentation](self).
///
/// Built by [`Client::builder`]; ready to send once `connect` returns
/// (greeting, EHLO, STARTTLS and AUTH done).
pub struct Client {
    driver: Driver,
}

impl Client {
    /// Options for a client that says `hello` (a domain, or an address
    /// literal such as `[192.0.2.1]`) in EHLO, HELO or LHLO.
    pub fn builder(hello: &str) -> ClientBuilder {
        ClientBuilder::new(hello)
    }

    /// What the server supports, from its last EHLO or LHLO reply.
    pub fn capabilities(&self) -> Option<&Capabilities> {
        self.driver.session.capabilities()
    }

    /// Whether the connection is TLS.
    pub fn is_tls(&self) -> bool {
        self.driver.session.is_tls()
    }

    /// Queues a message; it goes out during the next
    /// [`next_outcome`](Self::next_outcome), [`send`](Self::send) or
    /// [`quit`](Self::quit), pipelined right behind the messages before it.
    ///
    /// Refused at once ([`Error::Refused`]) when the server cannot take it
    /// as it is, or it has a line longer than RFC 5321 §4.5.3.1.6 allows
    /// (unless [`LongLines::Wrap`] was chosen), so that nothing of it is
    /// sent.
    pub fn queue(&mut self, message: Message) -> Result<TransactionId, Error> {
        if let Some(failure) = self.driver.failure.take() {
            return Err(failure.into());
        }
        let (envelope, content) = message.into_parts();
        if self.driver.session.is_closed() {
            return Err(UsageError::Closed.into());
        }
        if self.driver.long_lines == LongLines::Refuse {
            check_line_lengths(&content).map_err(|error| Error::Refused(error.into()))?;
        }
        let recipients: Vec<_> = envelope.recipients.iter().map(|r| r.path.clone()).collect();
        let id = self
            .driver
            .session
            .send_mail(envelope)
            .map_err(|error| match error {
                ClientError::Usage(SessionUsage::NoRecipients) => UsageError::NoRecipients.into(),
                ClientError::Usage(SessionUsage::Closed) => UsageError::Closed.into(),
                error => Error::Refused(error),
            })?;
        self.driver.tracker.expect(id, recipients);
        self.driver.add_content(id, content);
        Ok(id)
    }

    /// Messages queued whose outcome has not been taken yet.
    pub fn queued(&self) -> usize {
        self.driver.tracker.len()
    }

    /// The outcome of the oldest queued message not yet reported, once its
    /// transaction ends; `Ok(None)` when none is left.
    ///
    /// When the connection fails, the messages it cut off come first, each
    /// with its [`TransactionFailure`](smtpwire::client::TransactionFailure),
    /// then the failure itself as [`Error::Connection`], once.
    pub async fn next_outcome(&mut self) -> Result<Option<Outcome>, Error> {
        loop {
            if let Some(outcome) = self.driver.tracker.next() {
                return Ok(Some(outcome));
            }
            if self.driver.tracker.len() == 0 || self.driver.session.is_closed() {
                return match self.driver.failure.take() {
                    Some(failure) => Err(failure.into()),
                    None => Ok(None),
                };
            }
            self.driver.run(true).await;
        }
    }

    /// Sends one message and waits for its outcome; outcomes of messages
    /// queued before it stay for [`next_outcome`](Self::next_outcome).
    ///
    /// `Ok` whenever the server answered for the message, even if it
    /// refused every recipient (see [`Outcome::failure`]); `Err` when the
    /// connection failed before it did.
    pub async fn send(&mut self, message: Message) -> Result<Outcome, Error> {
        let id = self.queue(message)?;
        loop {
            if let Some(outcome) = self.driver.tracker.take(id) {
                return match (outcome.failure(), self.driver.failure.take()) {
                    (Some(_), Some(failure)) if outcome.recipients().iter().all(unanswered) => {
                        Err(failure.into())
                    }
                    (_, failure) => {
                        self.driver.failure = failure;
                        Ok(outcome)
                    }
                };
            }
            if self.driver.session.is_closed() {
                let failure = self.driver.failure.take();
                return Err(failure.map_or(UsageError::Closed.into(), Error::from));
            }
            self.driver.run(true).await;
        }
    }

    /// Sends QUIT after the queued messages and closes the connection;
    /// outcomes not taken are dropped. `Err` when the connection failed
    /// and no earlier call reported it.
    pub async fn quit(mut self) -> Result<(), Error> {
        self.driver.session.quit();
        while !self.driver.session.is_closed() {
            self.driver.run(false).await;
        }
        match self.driver.failure.take() {
            Some(failure) => Err(failure.into()),
            None => Ok(()),
        }
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("tls", &self.is_tls())
            .field("closed", &self.driver.session.is_closed())
            .field("queued", &self.queued())
            .finish_non_exhaustive()
    }
}

/// Whether no reply said anything of this recipient.
fn unanswered(recipient: &RecipientOutcome) -> bool {
    recipient.status == RecipientStatus::NotDelivered
}

/// How to connect; from [`Client::builder`].
#[derive(Debug, Clone)]
#[must_use]
pub struct ClientBuilder {
    /// `Err` for a hello name that does not parse, reported by `connect`.
    config: Result<ClientConfig, UsageError>,
    tls: Option<Arc<tokio_rustls::rustls::ClientConfig>>,
    server_name: Option<String>,
    connect_timeout: Duration,
    max_wait: Duration,
    record_events: bool,
}

impl ClientBuilder {
    fn new(hello: &str) -> Self {
        let config = Host::parse(hello)
            .map(ClientConfig::new)
            .map_err(|reason| UsageError::InvalidHello {
                name: hello.to_string(),
                reason,
            })
            .map(|config| config.with_starttls(StartTlsPolicy::Required));
        ClientBuilder {
            config,
            tls: None,
            server_name: None,
            connect_timeout: CONNECT_TIMEOUT,
            max_wait: Wait::DataTermination.duration(),
            record_events: false,
        }
    }

    /// Changes the session's configuration (a no-op after an invalid hello
    /// name, which `connect` reports).
    fn with(mut self, change: impl FnOnce(&mut ClientConfig)) -> Self {
        if let Ok(config) = &mut self.config {
            change(config);
        }
        self
    }

    /// What to do about STARTTLS; [`StartTlsPolicy::Required`] by default
    /// (see the [module documentation](self)).
    pub fn starttls(self, policy: StartTlsPolicy) -> Self {
        self.with(|config| config.starttls = policy)
    }

    /// The TLS configuration for STARTTLS, in place of the system's CA
    /// bundle; [`tls`] builds one from a trust file or certificates.
    /// Without it, each connect reads the system's bundle again: a program
    /// that opens many connections builds one with [`tls::system_trust`]
    /// and passes it here.
    pub fn tls_config(
        mut self,
        config: impl Into<Arc<tokio_rustls::rustls::ClientConfig>>,
    ) -> Self {
        self.tls = Some(config.into());
        self
    }

    /// The name the server's certificate must carry; by default the host
    /// of the address given to [`connect`](Self::connect).
    pub fn server_name(mut self, name: &str) -> Self {
        self.server_name = Some(name.to_string());
        self
    }

    /// AUTH (RFC 4954) after EHLO, PLAIN or LOGIN as the server offers;
    /// only over TLS unless [`AuthConfig::allow_cleartext`] says otherwise.
    pub fn auth(self, auth: AuthConfig) -> Self {
        self.with(|config| config.auth = Some(auth))
    }

    /// LMTP (RFC 2033) instead of SMTP: LHLO, and one outcome per
    /// recipient after the end of data.
    pub fn lmtp(self) -> Self {
        self.with(|config| config.protocol = Protocol::Lmtp)
    }

    /// Send content with BDAT (RFC 3030) when the server offers CHUNKING;
    /// off by default.
    pub fn chunking(self, on: bool) -> Self {
        self.with(|config| config.chunking = on)
    }

    /// Pipeline (RFC 2920) when the server offers PIPELINING; on by
    /// default.
    pub fn pipelining(self, on: bool) -> Self {
        self.with(|config| config.pipelining = on)
    }

    /// What to do with content lines longer than RFC 5321 allows; refused
    /// by default, before anything of the message is sent.
    pub fn long_lines(self, long_lines: LongLines) -> Self {
        self.with(|config| config.long_lines = long_lines)
    }

    /// Any other setting of the session's
    /// [`ClientConfig`].
    pub fn session_config(self, change: impl FnOnce(&mut ClientConfig)) -> Self {
        self.with(change)
    }

    /// How long the TCP connect may take; 30 seconds by default.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The longest wait for the server, whatever RFC 5321 §4.5.3.2 allows
    /// (up to 10 minutes for the reply to the end of data, the default).
    pub fn max_wait(mut self, limit: Duration) -> Self {
        self.max_wait = limit;
        self
    }

    /// Keep the session's events about each message in its [`Outcome`]
    /// ([`Outcome::events`]); off by default.
    pub fn record_events(mut self, on: bool) -> Self {
        self.record_events = on;
        self
    }

    /// Connects to `server` (`host:port`, `[v6]:port`) with TCP_NODELAY
    /// and returns once the session is ready for messages: greeting, EHLO,
    /// STARTTLS and AUTH done.
    pub async fn connect(self, server: &str) -> Result<Client, Error> {
        let connect = TcpStream::connect(server);
        let tcp = match tokio::time::timeout(self.connect_timeout, connect).await {
            Ok(Ok(tcp)) => tcp,
            Ok(Err(source)) => {
                let server = server.to_string();
                return Err(ConnectionError::Connect { server, source }.into());
            }
            Err(_) => {
                let (server, after) = (server.to_string(), self.connect_timeout);
                return Err(ConnectionError::ConnectTimeout { server, after }.into());
            }
        };
        // The session decides when bytes leave; Nagle's algorithm would
        // hold back a lone command until the previous one is acknowledged.
        tcp.set_nodelay(true)
            .map_err(|error| Error::from(ConnectionError::Io(error)))?;
        let host = server.rsplit_once(':').map_or(server, |(host, _)| host);
        let host = host.trim_start_matches('[').trim_end_matches(']');
        self.start(Box::new(tcp), host).await
    }

    /// Runs the session over a stream the caller opened (a Unix socket, a
    /// proxy tunnel, implicit TLS with
    /// [`ClientConfig::implicit_tls`](smtpwire::client::ClientConfig::implicit_tls)
    /// set through [`session_config`](Self::session_config)); `server_name`
    /// is what STARTTLS checks, unless [`server_name`](Self::server_name)
    /// says otherwise.
    pub async fn connect_stream<S>(self, stream: S, server_name: &str) -> Result<Client, Error>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        self.start(Box::new(stream), server_name).await
    }

    async fn start(self, stream: Box<dyn driver::Io>, host: &str) -> Result<Client, Error> {
        let mut config = self.config?;
        let upgrade = if config.starttls == StartTlsPolicy::Never || config.implicit_tls {
            None
        } else {
            let tls = match self.tls {
                Some(tls) => Some(tls),
                None => match tls::system_trust() {
                    Ok(tls) => Some(Arc::new(tls)),
                    Err(error) if config.starttls == StartTlsPolicy::Required => {
                        return Err(ConnectionError::TlsSetup(error).into())
                    }
                    // Opportunistic with nothing to verify against: clear.
                    Err(_) => {
                        config.starttls = StartTlsPolicy::Never;
                        None
                    }
                },
            };
            let name = self.server_name.as_deref().unwrap_or(host);
            let name = ServerName::try_from(name.to_string())
                .map_err(|_| UsageError::InvalidServerName(name.to_string()))?;
            tls.map(|tls| Upgrade {
                connector: TlsConnector::from(tls),
                name,
            })
        };
        let long_lines = config.long_lines;
        let mut session = ClientSession::new(config);
        // One nonce per connection: a session authenticates once.
        if let Some(nonce) = crate::channel::fresh_nonce() {
            session.set_auth_nonce(nonce);
        }
        let mut driver = Driver::new(session, stream, upgrade, self.max_wait, long_lines);
        driver.tracker.record_events = self.record_events;
        driver.run(false).await;
        if driver.session.is_closed() {
            let failure = driver.failure.take();
            let closed = ClientError::Usage(SessionUsage::Closed);
            let failure = failure.unwrap_or(ConnectionError::Session(closed));
            return Err(failure.into());
        }
        Ok(Client { driver })
    }
}
