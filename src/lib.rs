//! # smtpwire
//!
//! A sans-IO SMTP and LMTP protocol library: a strict wire codec, the message
//! content path, and client and server sessions that a caller drives over any
//! transport. The crate does no I/O, reads no clock and spawns nothing.
//!
//! Layers, each depending only on those above it in this list:
//!
//! - [`Text`] and [`limits`]: the line-safe string type and every size limit.
//! - [`reply`] and [`capability`]: reply codes, enhanced status codes, replies and EHLO keywords.
//! - [`framing`]: the only incremental code; complete lines out of a byte stream.
#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod framing;
pub mod limits;
mod text;

pub use text::{Text, TextError};
pub mod reply;

pub use reply::{EnhancedStatusCode, Reply, ReplyClass, ReplyCode, ReplyError};
pub mod capability;

pub use capability::Capabilities;
