//! Why a call failed, split by what the caller can do about it.

use std::io;
use std::time::Duration;

use smtpwire::client::ClientError;
use smtpwire::AddressError;

/// Why a [`Client`](super::Client) call failed.
///
/// - [`Connection`](Self::Connection): the connection is gone; try again
///   later or elsewhere (messages not reported as accepted were not sent,
///   except one cut off while its end of data was answered, which the
///   server may have taken: RFC 5321 §6.1).
/// - [`Refused`](Self::Refused): this message cannot go to this server as
///   it is; the connection carries on with the next one.
/// - [`Usage`](Self::Usage): the call itself was wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The connection failed or could not be made.
    #[error(transparent)]
    Connection(#[from] ConnectionError),
    /// The message was refused before anything of it was sent: it needs an
    /// extension the server does not offer, is over the server's SIZE, or
    /// has a line longer than RFC 5321 §4.5.3.1.6 allows.
    #[error("message refused: {0}")]
    Refused(ClientError),
    /// The call was wrong whatever the server.
    #[error(transparent)]
    Usage(#[from] UsageError),
}

/// Why the connection failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectionError {
    /// The TCP connection could not be made.
    #[error("cannot connect to {server}: {source}")]
    Connect {
        /// The address as given.
        server: String,
        /// Why.
        source: io::Error,
    },
    /// The TCP connection was not made in time.
    #[error("cannot connect to {server}: no answer within {after:?}")]
    ConnectTimeout {
        /// The address as given.
        server: String,
        /// The connect timeout.
        after: Duration,
    },
    /// Reading or writing failed, or a write found the server not reading
    /// for longer than the session waits for a reply.
    #[error("connection lost: {0}")]
    Io(io::Error),
    /// No certificates to trust for STARTTLS.
    #[error("cannot set up TLS: {0}")]
    TlsSetup(io::Error),
    /// The TLS handshake after STARTTLS failed (an untrusted certificate,
    /// among others) or timed out.
    #[error("TLS handshake failed: {0}")]
    Tls(io::Error),
    /// The session ended: the greeting or EHLO was refused, STARTTLS is
    /// required but not offered, AUTH failed, the server closed the
    /// connection or went silent past the timeout, or a reply was malformed.
    #[error("session failed: {0}")]
    Session(ClientError),
}

/// A call that is wrong whatever the server.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UsageError {
    /// An address that is not an RFC 5321 mailbox or path.
    #[error("invalid address {address:?}: {reason}")]
    InvalidAddress {
        /// The address as given.
        address: String,
        /// Why.
        reason: AddressError,
    },
    /// A hello name that is neither a domain nor an address literal.
    #[error("invalid hello name {name:?}: {reason}")]
    InvalidHello {
        /// The name as given.
        name: String,
        /// Why.
        reason: AddressError,
    },
    /// A name the server's certificate cannot be checked against.
    #[error("invalid TLS server name {0:?}")]
    InvalidServerName(String),
    /// A message needs at least one recipient.
    #[error("message has no recipients")]
    NoRecipients,
    /// A message after QUIT, or on a connection that has failed (the
    /// failure was reported by an earlier call).
    #[error("the connection is closed")]
    Closed,
    /// A [`blocking`](crate::blocking) call from inside an async runtime,
    /// where it would stall the runtime's thread: use the async client.
    #[error("a blocking client call inside an async runtime")]
    InsideRuntime,
}
