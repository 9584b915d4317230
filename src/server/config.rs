//! What a server offers and how strictly it reads its peer.

use core::time::Duration;

use crate::capability::Capabilities;
use crate::command::ParseOptions;
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

/// What to do with input that arrives before the reply it had to wait for.
///
/// RFC 2920 §3.1 lets EHLO, DATA, VRFY, EXPN, TURN, QUIT and NOOP stand only
/// last in a pipelined group (STARTTLS too, RFC 3207 §4), and a client that
/// was not offered PIPELINING (after HELO, or before any hello) must wait for
/// every reply. Input already buffered when such a command is read was sent
/// without waiting: content sent with `DATA` would otherwise be read as
/// commands when DATA is refused, delivering a message the sender never sent
/// as such.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SyncPolicy {
    /// Answer 554 5.5.0 and close without reading the early input, as Exim's
    /// `smtp_enforce_sync` and Postfix's `smtpd_forbid_unauth_pipelining`
    /// do.
    #[default]
    Enforce,
    /// Read early input as the next commands. Some submission clients need
    /// this on port 587.
    Relaxed,
}

/// Whether addresses may hold control characters.
///
/// The RFC 6531/6532 grammar admits C1 controls (U+0080 to U+009F) and the
/// line and paragraph separators U+2028 and U+2029 in a quoted local part;
/// no real mailbox needs them, and written into a header field or a log
/// they can forge lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AddressControlPolicy {
    /// Refuse MAIL and RCPT whose address holds a C0 or C1 control, DEL,
    /// U+2028 or U+2029 (553 5.1.7 and 553 5.1.3, as for other mailbox
    /// syntax the server will not take).
    #[default]
    Refuse,
    /// Take them as the grammar allows; the application must escape the
    /// address wherever it writes it.
    Accept,
}

/// How the time a client may take is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deadline {
    /// The timeout bounds a whole request, however many reads it takes
    /// (Postfix's `smtpd_per_request_deadline`): a client that trickles a
    /// command a byte at a time is cut off like an idle one. Message content
    /// earns more time as it arrives, `1 / min_data_rate` seconds per octet,
    /// but never more than the timeout from the last read (Postfix's
    /// `smtpd_min_data_rate`).
    PerRequest {
        /// Octets per second content must keep up; 0 gives content no more
        /// time than a command.
        min_data_rate: u32,
    },
    /// The timeout starts again with every read, as RFC 5321 §4.5.3.2
    /// words it: a client that sends a byte a minute holds its connection
    /// for ever.
    PerRead,
}

impl Default for Deadline {
    fn default() -> Self {
        Deadline::PerRequest {
            min_data_rate: limits::DEFAULT_MIN_DATA_RATE,
        }
    }
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

/// Chained setters, one per public field, so that other crates can build a
/// `#[non_exhaustive]` struct in one expression.
macro_rules! setters {
    ($($setter:ident => $field:ident: $ty:ty),* $(,)?) => {
        $(
            #[doc = concat!("Sets [`", stringify!($field), "`](Self::", stringify!($field), ").")]
            #[must_use]
            pub fn $setter(mut self, $field: $ty) -> Self {
                self.$field = $field;
                self
            }
        )*
    };
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
    /// How long the client may take over one request (or, with
    /// [`Deadline::PerRead`], between two reads); the session's
    /// [`timeout_hint`](super::ServerSession::timeout_hint) counts it down.
    pub timeout: Duration,
    /// How [`timeout`](Self::timeout) is measured.
    pub deadline: Deadline,
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
            timeout: limits::DEFAULT_SERVER_TIMEOUT,
            deadline: Deadline::default(),
        }
    }
}

impl ServerLimits {
    setters!(
        with_command_line => command_line: usize,
        with_auth_line => auth_line: usize,
        with_text_line => text_line: usize,
        with_message_size => message_size: u64,
        with_recipients => recipients: usize,
        with_errors => errors: usize,
        with_junk_commands => junk_commands: usize,
        with_pending_input => pending_input: usize,
        with_pending_output => pending_output: usize,
        with_timeout => timeout: Duration,
        with_deadline => deadline: Deadline,
    );
}

/// Everything a [`ServerSession`](super::ServerSession) needs to know before
/// the first byte.
///
/// Start from [`ServerConfig::new`], whose defaults are safe on the open
/// internet, and change what the deployment needs with the chained `with_…`
/// setters (or by assigning the public fields); share one configuration
/// between sessions through an `Arc`. New fields come with defaults, so
/// the struct is `#[non_exhaustive]`.
///
/// ```
/// use std::time::Duration;
/// use smtpwire::server::{ServerConfig, ServerLimits, SyncPolicy};
/// use smtpwire::{ParseOptions, Text};
///
/// let config = ServerConfig::new(Text::from_static("mx.example.org"))
///     .with_limits(
///         ServerLimits::default()
///             .with_message_size(25_000_000)
///             .with_timeout(Duration::from_secs(60)),
///     )
///     // A submission port whose clients pipeline behind EHLO and write
///     // `MAIL FROM: <a@example.org>`.
///     .with_pipelining_sync(SyncPolicy::Relaxed)
///     .with_parse_options(ParseOptions::LENIENT);
/// let shared = std::sync::Arc::new(config);
/// ```
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
    /// How strictly command lines are read: RFC 5321 as written by default;
    /// [`ParseOptions::LENIENT`] takes what Postfix takes (`MAIL FROM: <a>`,
    /// runs of spaces).
    pub parse_options: ParseOptions,
    /// Bare CR or LF inside message content.
    pub bare_newlines: IncomingBareNewline,
    /// Content lines over the text-line limit.
    pub long_lines: LongLinePolicy,
    /// Input before the greeting.
    pub early_talkers: EarlyTalkerPolicy,
    /// Input sent before the reply it had to wait for.
    pub pipelining_sync: SyncPolicy,
    /// Control characters in MAIL and RCPT addresses.
    pub address_controls: AddressControlPolicy,
    /// Read a PROXY protocol v1 or v2 header before anything else.
    pub proxy_protocol: bool,
    /// Offer Postfix's XCLIENT, for a trusted proxy that speaks for its
    /// clients; each XCLIENT is still a decision for the application.
    pub xclient: bool,
    /// The secret a SCRAM exchange with an unknown user derives its salt
    /// from ([`StandInSecret`](crate::auth::StandInSecret)); `None` leaves
    /// unknown users recognisable by anyone who computes that salt.
    pub scram_stand_in: Option<crate::auth::StandInSecret>,
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
            parse_options: ParseOptions::RFC5321,
            bare_newlines: IncomingBareNewline::default(),
            long_lines: LongLinePolicy::default(),
            early_talkers: EarlyTalkerPolicy::default(),
            pipelining_sync: SyncPolicy::default(),
            address_controls: AddressControlPolicy::default(),
            proxy_protocol: false,
            xclient: false,
            scram_stand_in: None,
        }
    }

    setters!(
        with_hostname => hostname: Text,
        with_protocol => protocol: Protocol,
        with_capabilities => capabilities: Capabilities,
        with_limits => limits: ServerLimits,
        with_auth_policy => auth_policy: AuthPolicy,
        with_require_auth => require_auth: bool,
        with_line_ends => line_ends: LineEndPolicy,
        with_parse_options => parse_options: ParseOptions,
        with_bare_newlines => bare_newlines: IncomingBareNewline,
        with_long_lines => long_lines: LongLinePolicy,
        with_early_talkers => early_talkers: EarlyTalkerPolicy,
        with_pipelining_sync => pipelining_sync: SyncPolicy,
        with_address_controls => address_controls: AddressControlPolicy,
        with_proxy_protocol => proxy_protocol: bool,
        with_xclient => xclient: bool,
    );
}
