//! Tokio drivers for [`smtpwire`]'s sans-IO sessions.
//!
//! - [`server`]: accept connections and serve each with a
//!   [`ServerSession`](smtpwire::server::ServerSession), asking a
//!   [`Handler`](server::Handler) for every decision, with timeouts,
//!   STARTTLS, connection limits and graceful shutdown.
//! - [`client`]: connect, say EHLO, upgrade with STARTTLS, authenticate and
//!   send messages pipelined over one connection with a
//!   [`ClientSession`](smtpwire::client::ClientSession).
//! - [`blocking`]: the same client for programs with no async runtime.

pub mod blocking;
mod channel;
pub mod client;
pub mod server;
