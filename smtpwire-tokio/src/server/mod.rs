//! An SMTP or LMTP server over tokio: a [`ServerSession`] per connection,
//! a [`Handler`] for every decision.
//!
//! The driver reads and writes, keeps the time each request may take
//! ([`ServerLimits::timeout`](smtpwire::server::ServerLimits::timeout),
//! counted per request rather than per read), upgrades connections with
//! STARTTLS when given a TLS acceptor, and stops gracefully: idle clients
//! get 421, messages in flight finish first.
//!
//! ```no_run
//! use smtpwire::server::{RcptRequest, Reject, ServerConfig};
//! use smtpwire::Text;
//! use smtpwire_tokio::server::{refuse, Handler, Server};
//!
//! struct Policy;
//!
//! impl Handler for Policy {
//!     async fn rcpt(&mut self, request: &RcptRequest) -> Result<(), Reject> {
//!         match request.to().to_string().as_str() {
//!             "<nobody@example.org>" => Err(refuse(550, "5.1.1", "No such user")),
//!             _ => Ok(()),
//!         }
//!     }
//! }
//!
//! # async fn run() -> std::io::Result<()> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:2525").await?;
//! let server = Server::new(ServerConfig::new(Text::from_static("mx.example.org")));
//! server.serve(listener, |_client| Policy).await
//! # }
//! ```
//!
//! [`ServerSession`]: smtpwire::server::ServerSession

mod connection;
mod handler;
mod tls;

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use smtpwire::server::{CloseReason, ServerConfig};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

pub use connection::Transport;
pub use handler::{refuse, Handler};
pub use tls::acceptor_from_pem;

/// Pause after an accept that failed for want of resources (descriptors,
/// memory), so the loop does not spin while none are free.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Serves SMTP or LMTP connections with a [`ServerSession`] each.
///
/// [`ServerSession`]: smtpwire::server::ServerSession
#[derive(Clone)]
pub struct Server {
    config: Arc<ServerConfig>,
    tls: Option<TlsAcceptor>,
    /// With the PROXY protocol, the only peers whose header is believed.
    proxies: Option<Arc<[IpAddr]>>,
}

impl Server {
    /// A server running sessions under `config`, without TLS.
    pub fn new(config: ServerConfig) -> Self {
        Server {
            config: Arc::new(config),
            tls: None,
            proxies: None,
        }
    }

    /// Offers STARTTLS (RFC 3207) and upgrades with `acceptor`.
    pub fn with_tls(mut self, acceptor: TlsAcceptor) -> Self {
        Arc::make_mut(&mut self.config).capabilities.starttls = true;
        self.tls = Some(acceptor);
        self
    }

    /// Reads a PROXY protocol header (version 1 or 2) before anything else
    /// on every connection, so that the handler learns the real client
    /// ([`Handler::connect`]), and takes connections only from the
    /// load balancers in `trusted`: any other peer could claim any address,
    /// so it is closed at once, unanswered.
    pub fn with_proxy_protocol(mut self, trusted: impl IntoIterator<Item = IpAddr>) -> Self {
        Arc::make_mut(&mut self.config).proxy_protocol = true;
        self.proxies = Some(trusted.into_iter().map(canonical).collect());
        self
    }

    /// The configuration each session runs under.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// Accepts connections until accepting fails for good, each served with
    /// a handler made by `handler` for the client's address.
    pub async fn serve<H, F>(&self, listener: TcpListener, handler: F) -> io::Result<()>
    where
        H: Handler,
        F: FnMut(SocketAddr) -> H,
    {
        self.serve_until(listener, handler, std::future::pending())
            .await
    }

    /// [`serve`](Self::serve) until `stop` completes, then shuts down
    /// gracefully: no new connections, 421 4.3.2 to idle clients, and
    /// clients with a message in flight are let finish it first. Returns
    /// once every connection is closed.
    pub async fn serve_until<H, F>(
        &self,
        listener: TcpListener,
        mut handler: F,
        stop: impl Future<Output = ()>,
    ) -> io::Result<()>
    where
        H: Handler,
        F: FnMut(SocketAddr) -> H,
    {
        let (stopping, watch) = watch::channel(false);
        let mut connections = JoinSet::new();
        tokio::pin!(stop);
        let accepted = loop {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((_, client)) if !self.admits(client.ip()) => {}
                    Ok((stream, client)) => {
                        // Replies are small and wait on each other: Nagle
                        // would hold them back.
                        let _ = stream.set_nodelay(true);
                        connections.spawn(connection::serve(
                            Box::new(stream),
                            self.config.clone(),
                            self.tls.clone(),
                            handler(client),
                            watch.clone(),
                        ));
                    }
                    Err(error) if is_connection_error(&error) => {}
                    Err(error) if is_resource_error(&error) => {
                        tokio::time::sleep(ACCEPT_BACKOFF).await;
                    }
                    Err(error) => break Err(error),
                },
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
                () = &mut stop => break Ok(()),
            }
        };
        // No new client is taken while the others finish.
        drop(listener);
        let _ = stopping.send(true);
        while connections.join_next().await.is_some() {}
        accepted
    }

    /// Serves one connection the caller accepted (a TLS stream from the
    /// first byte, a Unix socket, an in-memory pipe) until it closes;
    /// returns why the session closed it, or `None` when the transport
    /// failed first. Turning `stopping` true ends it as a shutdown does.
    pub async fn serve_connection<H: Handler>(
        &self,
        stream: Box<dyn Transport>,
        handler: H,
        stopping: watch::Receiver<bool>,
    ) -> Option<CloseReason> {
        connection::serve(
            stream,
            self.config.clone(),
            self.tls.clone(),
            handler,
            stopping,
        )
        .await
    }
}

impl Server {
    /// Whether a peer at `address` may connect: any, unless only trusted
    /// proxies may.
    fn admits(&self, address: IpAddr) -> bool {
        self.proxies
            .as_ref()
            .map_or(true, |trusted| trusted.contains(&canonical(address)))
    }
}

/// An IPv4 address as itself, also when it comes mapped into IPv6 from a
/// dual-stack socket.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        v4 => v4,
    }
}

/// An error that ends one connection before it was accepted, not the
/// listener.
fn is_connection_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
    )
}

/// Out of descriptors, buffers or memory: it passes once connections close.
fn is_resource_error(error: &io::Error) -> bool {
    // EMFILE, ENFILE, ENOBUFS and ENOMEM on Linux and the BSDs.
    matches!(error.raw_os_error(), Some(23 | 24 | 55 | 105 | 12))
        || error.kind() == io::ErrorKind::OutOfMemory
}
