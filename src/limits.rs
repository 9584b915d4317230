//! Every size limit the crate enforces, with its default, in one place.
//!
//! Each default is at or above the minimum that RFC 5321 §4.5.3 obliges an
//! implementation to accept, and at or below what widely deployed servers use,
//! so that hostile input is bounded without refusing legitimate mail.

/// Longest local part of a mailbox accepted, in octets: a chosen bound, the
/// path limit [`MAX_PATH_LEN`] (RFC 5321 §4.5.3.1.3).
///
/// RFC 5321 §4.5.3.1.1 names 64 octets as the maximum, but §4.5.3.1 asks
/// implementations to use techniques that impose no limits on the length of
/// these objects wherever possible, and real mail has longer local parts
/// (VERP and SRS rewrites, tagged addresses). What bounds an address on the
/// wire is the path that carries it, so a local part may be as long as a path.
pub const MAX_LOCAL_PART_LEN: usize = MAX_PATH_LEN;

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

/// Longest SASL mechanism name, in octets (RFC 4422 §3.1).
pub const MAX_SASL_MECHANISM_NAME: usize = 20;

/// Longest AUTH command a client sends with an initial response, including
/// CRLF. RFC 4954 §4 keeps AUTH within the RFC 5321 §4.5.3.1.4 command line
/// limit; a response that does not fit is sent after an empty challenge instead.
pub const MAX_AUTH_COMMAND_LINE: usize = 512;

/// Longest PROXY protocol version 1 header, including CRLF (HAProxy
/// proxy-protocol.txt §2.1: 107 octets is the worst case of the format).
pub const MAX_PROXY_V1_HEADER: usize = 107;

/// Longest PROXY protocol version 2 header accepted, including the 16-octet
/// fixed part. The length field allows 65 535 octets of addresses and TLVs;
/// load balancers send a few hundred at most, so more is treated as hostile.
pub const MAX_PROXY_V2_HEADER: usize = 4096;
/// Default limit for the size of one message's content, in octets after
/// unstuffing: the figure Postfix ships with (`message_size_limit`). The
/// server reads an oversized message to its end and then refuses it with 552
/// (RFC 1870 §6).
pub const DEFAULT_MAX_MESSAGE_SIZE: u64 = 10_240_000;

/// Longest label of an ASCII domain name, in octets (RFC 1035 §2.3.4).
pub const MAX_DOMAIN_LABEL_LEN: usize = 63;

/// Longest decoded `ENVID` value, in characters (RFC 3461 §4.4).
pub const MAX_ENVID_LEN: usize = 100;

/// Longest decoded `ORCPT` address, in octets (RFC 3461 §4.2 caps the
/// parameter at 500 characters).
pub const MAX_ORCPT_LEN: usize = 500;

/// Default limit for one whole reply including every CRLF, as a client reads
/// it: room for an EHLO reply many times longer than any real server sends,
/// while an endless multi-line reply is cut off long before it costs memory.
pub const DEFAULT_MAX_REPLY_BYTES: usize = 64 * 1024;

/// Default limit for recipients of one message. RFC 5321 §4.5.3.1.8 asks for
/// at least 100; Postfix and OpenSMTPD take 1000 and answer 452 past it.
pub const DEFAULT_MAX_RECIPIENTS: usize = 1000;

/// Default number of client errors (bad syntax, bad sequence, unknown
/// commands) before a server answers 421 and closes: Postfix's
/// `smtpd_hard_error_limit`.
pub const DEFAULT_MAX_ERRORS: usize = 20;

/// Default number of commands that do no mail work (NOOP, RSET, VRFY, EXPN,
/// HELP) before a server closes: Postfix's `smtpd_junk_command_limit`.
pub const DEFAULT_MAX_JUNK_COMMANDS: usize = 100;

/// Default input a server session holds without processing it: room for one
/// longest AUTH line plus a full read of pipelined commands or content.
pub const DEFAULT_MAX_PENDING_INPUT: usize = 64 * 1024;

/// Default output a server session queues before it stops reading input, so
/// a client that pipelines without reading replies cannot grow it.
pub const DEFAULT_MAX_PENDING_OUTPUT: usize = 64 * 1024;

/// Default limit for message content a client session holds on the caller's
/// behalf: encoded output not yet handed out plus content staged for the
/// next BDAT chunk. Past it the session takes no more content until the
/// caller has written what is pending, so a message is never buffered whole.
pub const DEFAULT_CLIENT_CONTENT_WINDOW: usize = 64 * 1024;

/// Default time a server gives a client for one request: RFC 5321 §4.5.3.2.7
/// asks a server to wait at least five minutes for the next command or block
/// of data.
pub const DEFAULT_SERVER_TIMEOUT: core::time::Duration = core::time::Duration::from_secs(5 * 60);

/// Default rate, in octets per second, that message content must keep up for
/// its deadline to grow: Postfix's `smtpd_min_data_rate`. A 10 MB message at
/// this rate takes under six hours; a client trickling slower is cut off.
pub const DEFAULT_MIN_DATA_RATE: u32 = 500;
