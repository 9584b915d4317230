//! How a client session behaves: its name, protocol, TLS and AUTH policy.

use alloc::vec;
use alloc::vec::Vec;

use crate::address::Host;
use crate::auth::{Credentials, Mechanism};
use crate::data::OutgoingBareNewline;
use crate::framing::ReplyLimits;
use crate::limits::DEFAULT_CLIENT_CONTENT_WINDOW;
use crate::Protocol;

/// What the session does about STARTTLS (RFC 3207) on a cleartext
/// connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StartTlsPolicy {
    /// Upgrade, or give up with [`SessionError::StartTlsNotOffered`] or
    /// [`SessionError::StartTlsRefused`] and QUIT: an attacker who strips
    /// STARTTLS from the EHLO reply gets nothing sent in clear.
    ///
    /// [`SessionError::StartTlsNotOffered`]: super::SessionError::StartTlsNotOffered
    /// [`SessionError::StartTlsRefused`]: super::SessionError::StartTlsRefused
    Required,
    /// Upgrade when the server offers STARTTLS; carry on in clear when it
    /// does not or refuses it, as MX-to-MX delivery usually does. The
    /// caller must be able to upgrade: once the server has said 220 the
    /// connection cannot go on in clear, and polling past
    /// [`ClientOutput::StartTls`](super::ClientOutput::StartTls) without upgrading
    /// fails the session with [`SessionError::TlsNotEstablished`].
    ///
    /// [`SessionError::TlsNotEstablished`]: super::SessionError::TlsNotEstablished
    #[default]
    Opportunistic,
    /// Never send STARTTLS: the policy for a transport that has no TLS.
    Never,
}

/// What the session does with a line of content longer than RFC 5321
/// §4.5.3.1.6 allows: more than [`MAX_LINE_OCTETS`] octets before its line
/// end. Content sent with `BODY=BINARYMIME` has no lines and is never
/// looked at (RFC 3030 §3).
///
/// [`MAX_LINE_OCTETS`]: super::MAX_LINE_OCTETS
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LongLines {
    /// Fail the message with [`MessageError::LineTooLong`], sending nothing
    /// of the piece of content that holds the line's octet past the limit.
    /// Since content streams after MAIL, RCPT and DATA, the session then
    /// closes the connection without the end of data (or the last BDAT
    /// chunk), which makes the server drop the transaction (RFC 5321
    /// §3.8) rather than take part of a message for all of it. A caller
    /// with the whole message checks it first with
    /// [`check_line_lengths`](super::check_line_lengths), and nothing goes.
    ///
    /// [`MessageError::LineTooLong`]: super::MessageError::LineTooLong
    #[default]
    Refuse,
    /// Break the line as Postfix's `smtp_line_length_limit` (998 since
    /// Postfix 2.9) does: after [`MAX_LINE_OCTETS`] octets, a CRLF and a
    /// space, the space counting toward the next piece. In a header that
    /// is a folding (RFC 5322 §2.2.3), which unfolds to the field as it
    /// was plus a space; in a body it changes the text, which breaks DKIM
    /// body hashes and formats that cannot take the space (a JSON string,
    /// a multi-octet UTF-8 sequence cut in two). Refusing is the default
    /// for that reason; wrapping is for relays, which must not bounce what
    /// another server accepted.
    ///
    /// [`MAX_LINE_OCTETS`]: super::MAX_LINE_OCTETS
    Wrap,
}

/// AUTH (RFC 4954) settings.
///
/// `Debug` shows no secret: [`Credentials`] redact theirs. Built with
/// [`new`](Self::new) and the `with_` setters, so that a new setting is not
/// a breaking change.
///
/// ```
/// use smtpwire::auth::{Credentials, Mechanism, PlainCredentials, Secret};
/// use smtpwire::client::AuthConfig;
/// use smtpwire::Text;
///
/// let alice = Text::new("alice").unwrap();
/// let plain = PlainCredentials::new(None, alice, Secret::new("secret").unwrap()).unwrap();
/// let auth = AuthConfig::new(Credentials::Plain(plain))
///     .with_mechanisms(vec![Mechanism::Plain])
///     .with_cleartext(true);
/// assert!(auth.allow_cleartext);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AuthConfig {
    /// What to authenticate with.
    pub credentials: Credentials,
    /// Mechanisms in the caller's order of preference; the first that the
    /// server offers and that the credentials fit is used.
    pub mechanisms: Vec<Mechanism>,
    /// Whether AUTH may run on a connection without TLS. Off by default:
    /// the secrets would cross the network in clear.
    pub allow_cleartext: bool,
}

impl AuthConfig {
    /// Credentials with the default preference, PLAIN then LOGIN then
    /// XOAUTH2, and no AUTH over cleartext.
    pub fn new(credentials: Credentials) -> Self {
        AuthConfig {
            credentials,
            mechanisms: vec![Mechanism::Plain, Mechanism::Login, Mechanism::XOAuth2],
            allow_cleartext: false,
        }
    }

    /// Sets [`mechanisms`](Self::mechanisms).
    #[must_use]
    pub fn with_mechanisms(mut self, mechanisms: Vec<Mechanism>) -> Self {
        self.mechanisms = mechanisms;
        self
    }

    /// Sets [`allow_cleartext`](Self::allow_cleartext).
    #[must_use]
    pub fn with_cleartext(mut self, allow: bool) -> Self {
        self.allow_cleartext = allow;
        self
    }
}

/// Settings of one [`ClientSession`](super::ClientSession), or of many: a
/// session takes it as an `Arc<ClientConfig>` too.
///
/// Built with [`new`](Self::new) and the `with_` setters, so that a new
/// setting is not a breaking change; the fields can be read, and set on a
/// config already built.
///
/// ```
/// use smtpwire::client::{ClientConfig, StartTlsPolicy};
/// use smtpwire::Domain;
///
/// let config = ClientConfig::new(Domain::parse("client.example.org").unwrap())
///     .with_starttls(StartTlsPolicy::Required)
///     .with_chunking(true);
/// assert!(config.chunking);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClientConfig {
    /// The name sent with EHLO, HELO or LHLO.
    pub hello_host: Host,
    /// SMTP or LMTP.
    pub protocol: Protocol,
    /// STARTTLS on a cleartext connection.
    pub starttls: StartTlsPolicy,
    /// The transport is TLS from the start (RFC 8314 implicit TLS): no
    /// STARTTLS, and AUTH and REQUIRETLS are allowed.
    pub implicit_tls: bool,
    /// AUTH after the (second) EHLO, when set.
    pub auth: Option<AuthConfig>,
    /// Send content with BDAT (RFC 3030) when the server offers CHUNKING.
    pub chunking: bool,
    /// Pipeline commands (RFC 2920) when the server offers PIPELINING; off
    /// sends one command at a time whatever the server offers.
    pub pipelining: bool,
    /// What to do with a bare CR or LF in content.
    pub bare_newline: OutgoingBareNewline,
    /// What to do with a content line longer than RFC 5321 allows.
    pub long_lines: LongLines,
    /// Bounds on each reply read from the server.
    pub reply_limits: ReplyLimits,
    /// Most content bytes held for the caller at a time; see
    /// [`DEFAULT_CLIENT_CONTENT_WINDOW`].
    pub content_window: usize,
}

impl ClientConfig {
    /// SMTP, opportunistic STARTTLS, no AUTH, DATA rather than BDAT,
    /// PIPELINING when offered, bare line endings repaired, over-long lines
    /// refused, default limits.
    pub fn new(hello_host: impl Into<Host>) -> Self {
        ClientConfig {
            hello_host: hello_host.into(),
            protocol: Protocol::Smtp,
            starttls: StartTlsPolicy::default(),
            implicit_tls: false,
            auth: None,
            chunking: false,
            pipelining: true,
            bare_newline: OutgoingBareNewline::Normalize,
            long_lines: LongLines::Refuse,
            reply_limits: ReplyLimits::default(),
            content_window: DEFAULT_CLIENT_CONTENT_WINDOW,
        }
    }

    /// Sets [`protocol`](Self::protocol).
    #[must_use]
    pub fn with_protocol(mut self, protocol: Protocol) -> Self {
        self.protocol = protocol;
        self
    }

    /// Sets [`starttls`](Self::starttls).
    #[must_use]
    pub fn with_starttls(mut self, starttls: StartTlsPolicy) -> Self {
        self.starttls = starttls;
        self
    }

    /// Sets [`implicit_tls`](Self::implicit_tls).
    #[must_use]
    pub fn with_implicit_tls(mut self, implicit_tls: bool) -> Self {
        self.implicit_tls = implicit_tls;
        self
    }

    /// Sets [`chunking`](Self::chunking).
    #[must_use]
    pub fn with_chunking(mut self, chunking: bool) -> Self {
        self.chunking = chunking;
        self
    }

    /// Sets [`pipelining`](Self::pipelining).
    #[must_use]
    pub fn with_pipelining(mut self, pipelining: bool) -> Self {
        self.pipelining = pipelining;
        self
    }

    /// Sets [`bare_newline`](Self::bare_newline).
    #[must_use]
    pub fn with_bare_newline(mut self, bare_newline: OutgoingBareNewline) -> Self {
        self.bare_newline = bare_newline;
        self
    }

    /// Sets [`long_lines`](Self::long_lines).
    #[must_use]
    pub fn with_long_lines(mut self, long_lines: LongLines) -> Self {
        self.long_lines = long_lines;
        self
    }

    /// Sets [`reply_limits`](Self::reply_limits).
    #[must_use]
    pub fn with_reply_limits(mut self, reply_limits: ReplyLimits) -> Self {
        self.reply_limits = reply_limits;
        self
    }

    /// Sets [`content_window`](Self::content_window).
    #[must_use]
    pub fn with_content_window(mut self, content_window: usize) -> Self {
        self.content_window = content_window;
        self
    }

    /// Sets [`auth`](Self::auth): AUTH after the (second) EHLO.
    #[must_use]
    pub fn with_auth(mut self, auth: AuthConfig) -> Self {
        self.auth = Some(auth);
        self
    }
}
