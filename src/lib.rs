//! # smtpwire
//!
//! A sans-IO SMTP and LMTP protocol library: a strict wire codec, the message
//! content path, and client and server sessions that a caller drives over any
//! transport. The crate does no I/O, reads no clock and spawns nothing.
//!
//! Layers, each depending only on those above it in this list:
//!
//! - [`Text`] and [`limits`]: the line-safe string type and every size limit.
//! - [`framing`]: the only incremental code; complete lines out of a byte stream.
//! - [`address`], [`xtext`], [`params`], [`command`]: the command side of the codec.
#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod address;
pub mod command;
pub mod framing;
pub mod limits;
pub mod params;
mod text;
pub mod xtext;

pub use address::{
    AddressError, AddressLiteral, Domain, ForwardPath, Host, LocalPart, Mailbox, ReversePath,
};
pub use command::{
    Argument, Command, CommandError, InitialResponse, ParseOptions, SaslMechanism, UnknownVerb,
};
pub use params::{
    AuthParam, BodyType, ByMode, DeliverBy, EnvelopeId, FutureRelease, HoldUntil, MailParameters,
    MtPriority, Notify, NotifyOn, Orcpt, OrcptType, ParamError, Parameter, RcptParameters, Ret,
};
pub use text::{Text, TextError};
