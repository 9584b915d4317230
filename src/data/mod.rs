//! Message content: the bytes between `DATA` and its end, or the chunks of
//! `BDAT`, in both directions.
//!
//! - [`DataEncoder`] (client): dot-stuffs content and adds the end of data
//!   (RFC 5321 §4.5.2), with bare CR and LF normalized or refused.
//! - [`DataDecoder`] (server): removes the stuffing, finds the one true end of
//!   data `CRLF . CRLF`, and hands content out as slices of the read buffer.
//! - [`BdatEncoder`] and [`BdatDecoder`]: the counted chunks of RFC 3030.
//!
//! The end of data is where SMTP smuggling lived (CVE-2023-51764, -51765,
//! -51766): one peer took `LF . LF` or `LF . CRLF` for the end while another
//! took it for content. Here only `CRLF . CRLF` ends a message, the decoder
//! says whether bare CR or LF was seen, and the encoder never sends one.

mod bdat;
mod decoder;
mod encoder;
mod scan;

pub use bdat::{BdatChunkEnd, BdatDecoder, BdatEncoder, BdatEvent};
pub use decoder::{DataDecoder, DataEnd, DataEvent, DataRefusal, IncomingBareNewline};
pub use encoder::{encode_message, DataEncoder, EncodeError, OutgoingBareNewline};

#[cfg(test)]
mod tests;
