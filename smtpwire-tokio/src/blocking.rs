//! A blocking client, for programs with no async runtime.
//!
//! [`Client`] is the async [`client::Client`] run on
//! a runtime of its own (tokio's current-thread runtime, on the calling
//! thread), so it has the same timeouts, STARTTLS, AUTH, pipelining and
//! per-recipient outcomes; only the waiting differs. Nothing runs in the
//! background between calls: the connection is read and written only while
//! a call is in progress.
//!
//! Options are those of [`ClientBuilder`], and errors those of the async
//! client. Call it from plain threads; inside an async runtime, use the
//! async client instead (a call from a runtime thread is refused with
//! [`UsageError::InsideRuntime`] rather than blocking the runtime).
//!
//! ```no_run
//! use smtpwire_tokio::blocking;
//! use smtpwire_tokio::client::{Client, Message};
//!
//! # fn run() -> Result<(), smtpwire_tokio::client::Error> {
//! let builder = Client::builder("client.example.org");
//! let mut client = blocking::Client::connect(builder, "mail.example.net:25")?;
//! let message = Message::new(
//!     "alice@example.org",
//!     ["bob@example.net"],
//!     "Subject: hello\r\n\r\nHi.\r\n",
//! )?;
//! for recipient in client.send(message)?.recipients() {
//!     println!("{recipient}"); // <bob@example.net>: accepted: 250 2.0.0 Ok
//! }
//! client.quit()
//! # }
//! ```

use std::future::Future;

use smtpwire::Capabilities;
use tokio::runtime::Runtime;

use crate::client::TransactionId;
use crate::client::{self, ClientBuilder, ConnectionError, Error, Message, Outcome, UsageError};

/// One connection to an SMTP or LMTP server, driven by blocking calls; see
/// the [module documentation](self).
pub struct Client {
    inner: client::Client,
    runtime: Runtime,
}

impl Client {
    /// Connects to `server` (`host:port`, `[v6]:port`) as
    /// [`ClientBuilder::connect`] does, and returns once the session is
    /// ready for messages.
    pub fn connect(builder: ClientBuilder, server: &str) -> Result<Client, Error> {
        let runtime = runtime()?;
        let inner = runtime.block_on(builder.connect(server))?;
        Ok(Client { inner, runtime })
    }

    /// Runs the session over a TCP connection the caller opened; see
    /// [`ClientBuilder::connect_stream`]. `server_name` is what STARTTLS
    /// checks, unless the builder names another.
    pub fn connect_tcp(
        builder: ClientBuilder,
        stream: std::net::TcpStream,
        server_name: &str,
    ) -> Result<Client, Error> {
        let runtime = runtime()?;
        let io = |error| Error::from(ConnectionError::Io(error));
        stream.set_nonblocking(true).map_err(io)?;
        // Registering the socket needs the runtime's reactor.
        let stream = {
            let _entered = runtime.enter();
            tokio::net::TcpStream::from_std(stream).map_err(io)?
        };
        stream.set_nodelay(true).map_err(io)?;
        let inner = runtime.block_on(builder.connect_stream(stream, server_name))?;
        Ok(Client { inner, runtime })
    }

    /// What the server supports, from its last EHLO or LHLO reply.
    pub fn capabilities(&self) -> Option<&Capabilities> {
        self.inner.capabilities()
    }

    /// Whether the connection is TLS.
    pub fn is_tls(&self) -> bool {
        self.inner.is_tls()
    }

    /// Queues a message to go out, pipelined, during the next call that
    /// waits; see [`client::Client::queue`].
    pub fn queue(&mut self, message: Message) -> Result<TransactionId, Error> {
        self.inner.queue(message)
    }

    /// Messages queued whose outcome has not been taken yet.
    pub fn queued(&self) -> usize {
        self.inner.queued()
    }

    /// The outcome of the oldest queued message not yet reported, once its
    /// transaction ends; `Ok(None)` when none is left. See
    /// [`client::Client::next_outcome`].
    pub fn next_outcome(&mut self) -> Result<Option<Outcome>, Error> {
        block_on(&self.runtime, self.inner.next_outcome())
    }

    /// Sends one message and waits for its outcome; see
    /// [`client::Client::send`].
    pub fn send(&mut self, message: Message) -> Result<Outcome, Error> {
        block_on(&self.runtime, self.inner.send(message))
    }

    /// Sends QUIT after the queued messages and closes the connection; see
    /// [`client::Client::quit`].
    pub fn quit(self) -> Result<(), Error> {
        block_on(&self.runtime, self.inner.quit())
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("blocking::Client")
            .field(&self.inner)
            .finish()
    }
}

/// A runtime for one client, unless the caller is already inside one
/// (where blocking would stall every task on that thread, and tokio
/// refuses to start a runtime in a runtime).
fn runtime() -> Result<Runtime, Error> {
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(UsageError::InsideRuntime.into());
    }
    tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(|error| ConnectionError::Io(error).into())
}

/// Runs `future` to completion on the client's runtime, unless the caller
/// has since entered another runtime.
fn block_on<T>(
    runtime: &Runtime,
    future: impl Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(UsageError::InsideRuntime.into());
    }
    runtime.block_on(future)
}
