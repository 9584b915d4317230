//! The incremental layer: the only code in the crate that sees partial input.
//!
//! Everything here turns a byte stream into complete units (command lines,
//! replies, message content) and says "need more input" by returning `None`,
//! never by failing. The parsers in the rest of the crate then see only whole
//! lines, so a bug that depends on where the input was split has nowhere to live.

mod line;
mod reply;

pub use line::{FrameError, FramedLine, LineEndPolicy, LineFramer};
pub use reply::{ReplyAssembler, ReplyLimits};
