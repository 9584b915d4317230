//! What a server offers and how strictly it reads its peer.

use crate::capability::Capabilities;
use crate::data::IncomingBareNewline;
use crate::framing::LineEndPolicy;
use crate::limits;
use crate::{Protocol, Text};

/// When AUTH may be offered and used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthPolicy {
    /// Only after STARTTLS (RFC 4954 §4: mechanisms that send passwords in the
    /// clear need a protected channel).
    #[default]
    TlsOnly,
    /// Over cleartext too: for loopback, tests, or a transport that is
    /// protected some other way.
    AllowCleartext,
}

/// What to do with a client that talks before the greeting (an "early
/// talker", almost always a spam engine that does not wait for the 220).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EarlyTalkerPolicy {
    /// Answer 554 and close, as Postfix's postscreen can.
    #[default]
    Reject,
    /// Keep the bytes and read them as commands after the greeting.
    Allow,
}

/// What to do with a message that has a line longer than
/// [`ServerLimits::text_line`] (RFC 5321 §4.5.3.1.6 limits lines to 1000
/// octets; many deployed servers take longer ones anyway).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LongLinePolicy {
    /// Refuse the message after its end with 500 5.5.2.
    #[default]
    Reject,
    /// Take the message as it is.
    Accept,
}

/// What a modern MX offers: every extension the session handles itself.
/// STARTTLS, AUTH and REQUIRETLS stay off until the caller can back them.
fn default_capabilities() -> Capabilities {
    Capabilities {
        pipelining: true,
        eight_bit_mime: true,
        smtp_utf8: true,
        chunking: true,
        binary_mime: true,
        dsn: true,
        enhanced_status_codes: true,
        ..Capabilities::default()
    }
}

/// Bounds on what one peer can make the session hold or do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerLimits {
    /// Longest command line, CRLF included.
    pub command_line: usize,
    /// Longest line of an AUTH exchange, CRLF included.
    pub auth_line: usize,
    /// Longest content line, CRLF included; longer ones make the message fail.
    pub text_line: usize,
    /// Largest message; advertised as SIZE.
    pub message_size: u64,
    /// Recipients per transaction; further RCPTs get 452 (RFC 5321 §4.5.3.1.10).
    pub recipients: usize,
    /// Errors (bad syntax, bad sequence, unknown commands) before 421 and close.
    pub errors: usize,
    /// Commands other than MAIL, RCPT, DATA and BDAT per transaction-free
    /// stretch, before 421 and close (NOOP/RSET/VRFY floods).
    pub junk_commands: usize,
    /// Input bytes held while a decision is outstanding.
    pub pending_input: usize,
    /// Reply bytes `poll_output` gathers into one `Transmit` before handing
    /// them over: past this it stops answering buffered commands and
    /// returns what it has, so a long pipelined burst never makes one
    /// unbounded write.
    pub pending_output: usize,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            command_line: limits::DEFAULT_MAX_COMMAND_LINE,
            auth_line: limits::DEFAULT_MAX_AUTH_LINE,
            text_line: limits::DEFAULT_MAX_TEXT_LINE,
            message_size: limits::DEFAULT_MAX_MESSAGE_SIZE,
            recipients: limits::DEFAULT_MAX_RECIPIENTS,
            errors: limits::DEFAULT_MAX_ERRORS,
            junk_commands: limits::DEFAULT_MAX_JUNK_COMMANDS,
            pending_input: limits::DEFAULT_MAX_PENDING_INPUT,
            pending_output: limits::DEFAULT_MAX_PENDING_OUTPUT,
        }
    }
}

/// Everything a [`ServerSession`](super::ServerSession) needs to know before
/// the first byte.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerConfig {
    /// The name the server gives in its greeting and EHLO reply.
    pub hostname: Text,
    /// SMTP or LMTP.
    pub protocol: Protocol,
    /// What the EHLO reply advertises. SIZE comes from
    /// [`ServerLimits::message_size`]; STARTTLS is dropped once TLS is up,
    /// REQUIRETLS before it, and AUTH where [`AuthPolicy`] forbids it.
    pub capabilities: Capabilities,
    /// Size and abuse limits.
    pub limits: ServerLimits,
    /// When AUTH is offered.
    pub auth_policy: AuthPolicy,
    /// Submission mode: MAIL needs a successful AUTH first (530, RFC 4954 §6).
    pub require_auth: bool,
    /// Line endings accepted in commands.
    pub line_ends: LineEndPolicy,
    /// Bare CR or LF inside message content.
    pub bare_newlines: IncomingBareNewline,
    /// Content lines over the text-line limit.
    pub long_lines: LongLinePolicy,
    /// Input before the greeting.
    pub early_talkers: EarlyTalkerPolicy,
    /// Read a PROXY protocol v1 or v2 header before anything else.
    pub proxy_protocol: bool,
    /// Offer Postfix's XCLIENT, for a trusted proxy that speaks for its
    /// clients; each XCLIENT is still a decision for the application.
    pub xclient: bool,
}

impl ServerConfig {
    /// A configuration with safe defaults for a server that calls itself
    /// `hostname`.
    pub fn new(hostname: Text) -> Self {
        ServerConfig {
            hostname,
            protocol: Protocol::Smtp,
            capabilities: default_capabilities(),
            limits: ServerLimits::default(),
            auth_policy: AuthPolicy::default(),
            require_auth: false,
            line_ends: LineEndPolicy::Strict,
            bare_newlines: IncomingBareNewline::default(),
            long_lines: LongLinePolicy::default(),
            early_talkers: EarlyTalkerPolicy::default(),
            proxy_protocol: false,
            xclient: false,
        }
    }
}
