//! Every size limit the crate enforces, with its default, in one place.
//!
//! Each default is at or above the minimum that RFC 5321 §4.5.3 obliges an
//! implementation to accept, and at or below what widely deployed servers use,
//! so that hostile input is bounded without refusing legitimate mail.

/// Longest local part of a mailbox, in octets (RFC 5321 §4.5.3.1.1).
pub const MAX_LOCAL_PART_LEN: usize = 64;

/// Longest domain name, in octets (RFC 5321 §4.5.3.1.2).
pub const MAX_DOMAIN_LEN: usize = 255;

/// Longest reverse or forward path including the angle brackets, in octets
/// (RFC 5321 §4.5.3.1.3).
pub const MAX_PATH_LEN: usize = 256;

/// Default limit for one command line including CRLF.
///
/// RFC 5321 §4.5.3.1.4 sets 512 octets and lets each extension raise it; MAIL
/// and RCPT with DSN, SIZE, BODY and ORCPT parameters can run past 512, so the
/// default leaves room for them, as Postfix does with 2048.
pub const DEFAULT_MAX_COMMAND_LINE: usize = 2048;

/// Default limit for one line of an AUTH exchange including CRLF: RFC 4954 §4
/// asks servers to take SASL responses of at least 12288 octets.
pub const DEFAULT_MAX_AUTH_LINE: usize = 12288 + 2;

/// Default limit for one reply line including CRLF, as a client reads it.
///
/// RFC 5321 §4.5.3.1.5 sets 512; servers in the wild send longer ones, so the
/// client takes up to 2048, the figure Postfix uses.
pub const DEFAULT_MAX_REPLY_LINE: usize = 2048;

/// Longest reply line the crate emits, including CRLF (RFC 5321 §4.5.3.1.5).
/// Longer texts are wrapped onto continuation lines.
pub const MAX_EMITTED_REPLY_LINE: usize = 512;

/// Default limit for lines in one multi-line reply, as a client reads it.
pub const DEFAULT_MAX_REPLY_LINES: usize = 256;

/// Default limit for one text line of message content including CRLF
/// (RFC 5321 §4.5.3.1.6).
pub const DEFAULT_MAX_TEXT_LINE: usize = 1000;

/// Default limit for one whole reply including every CRLF, as a client reads
/// it: room for an EHLO reply many times longer than any real server sends,
/// while an endless multi-line reply is cut off long before it costs memory.
pub const DEFAULT_MAX_REPLY_BYTES: usize = 64 * 1024;
