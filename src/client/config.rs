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
    /// Upgrade, or give up with [`ClientError::StartTlsNotOffered`] or
    /// [`ClientError::StartTlsRefused`] and QUIT: an attacker who strips
    /// STARTTLS from the EHLO reply gets nothing sent in clear.
    ///
    /// [`ClientError::StartTlsNotOffered`]: super::ClientError::StartTlsNotOffered
    /// [`ClientError::StartTlsRefused`]: super::ClientError::StartTlsRefused
    Required,
    /// Upgrade when the server offers STARTTLS; carry on in clear when it
    /// does not or refuses it, as MX-to-MX delivery usually does.
    #[default]
    Opportunistic,
    /// Never send STARTTLS.
    Never,
}

/// AUTH (RFC 4954) settings.
///
/// `Debug` shows no secret: [`Credentials`] redact theirs.
#[derive(Debug, Clone)]
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
}

/// Settings of one [`ClientSession`](super::ClientSession).
///
/// ```
/// use smtpwire::client::{ClientConfig, StartTlsPolicy};
/// use smtpwire::Domain;
///
/// let mut config = ClientConfig::new(Domain::parse("client.example.org").unwrap());
/// config.starttls = StartTlsPolicy::Required;
/// config.chunking = true;
/// ```
#[derive(Debug, Clone)]
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
    /// Bounds on each reply read from the server.
    pub reply_limits: ReplyLimits,
    /// Most content bytes held for the caller at a time; see
    /// [`DEFAULT_CLIENT_CONTENT_WINDOW`].
    pub content_window: usize,
}

impl ClientConfig {
    /// SMTP, opportunistic STARTTLS, no AUTH, DATA rather than BDAT,
    /// PIPELINING when offered, bare line endings repaired, default limits.
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
            reply_limits: ReplyLimits::default(),
            content_window: DEFAULT_CLIENT_CONTENT_WINDOW,
        }
    }
}
