//! # smtpwire
//!
//! A sans-IO SMTP and LMTP protocol library: a strict wire codec, the message
//! content path, and client and server sessions that a caller drives over any
//! transport. The crate does no I/O, reads no clock and spawns nothing.
//!
//! Layers, each depending only on those above it in this list:
//!
//! - [`Text`] and [`limits`]: the line-safe string type and every size limit.
//! - [`address`], [`xtext`], [`params`], [`command`]: the command side of the
//!   codec, parsed from and emitted to complete lines.
//! - [`reply`] and [`capability`]: reply codes, enhanced status codes, replies
//!   and EHLO keywords.
//! - [`auth`]: SASL exchanges for AUTH (PLAIN, LOGIN, XOAUTH2), client and server.
//! - [`proxy`]: the HAProxy PROXY protocol preamble, versions 1 and 2.
//! - [`framing`]: the only incremental code: command lines and whole replies
//!   out of a byte stream.
//! - [`data`]: message content both ways: dot-stuffing, the end of data, BDAT chunks.
//! - [`Protocol`]: what the two sessions share; each has its own output,
//!   [`ServerOutput`] and [`ClientOutput`], for what it asks of its caller.
//! - [`server`]: the sans-IO SMTP and LMTP server session.
//! - [`client`]: the client session, sending queued messages over SMTP or LMTP.
//! - [`delivery`]: next hops from MX answers, what each attempt means for each
//!   recipient, and the delivery status notification.
//!
//! # Getting started
//!
//! Each session is a state machine that the caller drives: give it what the
//! peer sent, then call `poll_output` until it blocks, writing what it
//! transmits and answering what it asks. [`server::ServerSession`] and
//! [`client::ClientSession`] each show a whole drain loop; the smallest
//! server takes every request:
//!
//! ```
//! use smtpwire::server::{ServerConfig, ServerEvent, ServerSession};
//! use smtpwire::{ServerOutput, Text};
//!
//! let mut session = ServerSession::new(ServerConfig::new(Text::from_static("mx.example.org")));
//! let mut input: &[u8] = b"QUIT\r\n";
//! let mut wire = Vec::new();
//! loop {
//!     match session.poll_output() {
//!         ServerOutput::Transmit(bytes) => wire.extend_from_slice(&bytes), // write to the socket
//!         ServerOutput::Event(ServerEvent::Content(_chunk)) => {}          // store the message
//!         ServerOutput::Event(event) => session.accept_event(event).unwrap(), // or decide
//!         ServerOutput::NeedInput => {
//!             // read from the socket; arm a timer from session.timeout_hint()
//!             let taken = session.receive(input);
//!             input = &input[taken..];
//!         }
//!         ServerOutput::Closed => break,
//!         _ => unreachable!("no STARTTLS offered, every decision taken at once"),
//!     }
//! }
//! assert!(wire.ends_with(b"221 2.0.0 Bye\r\n"));
//! ```
//!
//! # Owned, zero-copy values
//!
//! What the sessions hand out owns its data: a parsed command, an address, a
//! parameter or a chunk of content holds [`bytes::Bytes`] slices of the
//! input buffer, shared and not copied. Events and requests therefore
//! outlive the read buffer they came from and can be held across an
//! `.await` or sent to another task, with no lifetime tying them to the
//! session.
//!
//! Over tokio, the `smtpwire-tokio` crate drives both sessions for you:
//! a `Server` that asks a `Handler` for each decision, and a `Client` that
//! sends messages and reports each recipient's outcome, with timeouts and
//! STARTTLS handled.
#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod address;
pub mod auth;
pub mod capability;
pub mod client;
pub mod command;
pub mod data;
pub mod delivery;
pub mod framing;
pub mod limits;
pub mod params;
pub mod proxy;
pub mod reply;
pub mod server;
mod session;
#[cfg(test)]
mod test_support;
mod text;
pub mod xtext;

pub use address::{
    AddressError, AddressLiteral, Domain, ForwardPath, Host, LocalPart, Mailbox, ReversePath,
};
pub use capability::Capabilities;
pub use client::ClientOutput;
pub use command::{Argument, Command, CommandError, InitialResponse, ParseOptions, UnknownVerb};
pub use data::{BdatDecoder, BdatEncoder, DataDecoder, DataEncoder};
pub use params::{
    AuthParam, BodyType, ByMode, DeliverBy, EnvelopeId, FutureRelease, HoldUntil, MailParameters,
    MtPriority, Notify, NotifyOn, Orcpt, OrcptType, ParamError, Parameter, RcptParameters, Ret,
};
pub use reply::{EnhancedStatusCode, Reply, ReplyClass, ReplyCode, ReplyError};
pub use server::ServerOutput;
pub use session::Protocol;
pub use text::{Text, TextError};
