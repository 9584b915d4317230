//! The client side of one AUTH exchange.

use super::message;
#[cfg(feature = "scram")]
use super::scram::client::ScramClient;
use super::{ChannelBinding, Credentials, Mechanism, ScramClientError};
use crate::limits::{DEFAULT_MAX_AUTH_LINE, MAX_AUTH_COMMAND_LINE};
use crate::Text;
use alloc::vec::Vec;

/// Why a client exchange cannot start or go on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientAuthError {
    /// The mechanism is not one this crate runs.
    #[error("authentication mechanism {0} is not supported")]
    UnsupportedMechanism(Mechanism),
    /// The credentials do not fit the mechanism (a bearer token for PLAIN,
    /// or a PLAIN authzid for LOGIN, which has no place for it).
    #[error("the credentials cannot be used with {0}")]
    CredentialsMismatch(Mechanism),
    /// The encoded response would be longer than servers must accept
    /// (RFC 4954 §4 obliges them to take 12288 octets).
    #[error("authentication response longer than {limit} octets")]
    ResponseTooLong {
        /// The limit, including CRLF.
        limit: usize,
    },
    /// A `334` challenge is not valid base64.
    #[error("server challenge is not valid base64")]
    BadChallenge,
    /// A `334` challenge came after the mechanism had nothing left to send.
    #[error("unexpected server challenge")]
    UnexpectedChallenge,
    /// A SCRAM exchange cannot start or go on.
    #[error(transparent)]
    Scram(#[from] ScramClientError),
}

#[derive(Debug, Clone)]
enum Plan {
    /// PLAIN and XOAUTH2 send one message.
    Message(Text),
    /// LOGIN answers two prompts.
    Login { username: Text, password: Text },
    /// SCRAM answers server-first and server-final.
    #[cfg(feature = "scram")]
    Scram(alloc::boxed::Box<ScramClient>),
}

/// The client side of one AUTH exchange (RFC 4954 §4).
///
/// Send `AUTH <mechanism>` followed by [`initial_response`] when it gives one,
/// then answer each `334` reply with [`respond`] on the text after `334 `,
/// until the server replies 235 or an error. Every line it returns is base64
/// (or `*`), so it is always safe to write followed by CRLF.
///
/// [`initial_response`]: ClientAuth::initial_response
/// [`respond`]: ClientAuth::respond
///
/// ```
/// use smtpwire::auth::{ClientAuth, Credentials, LoginCredentials, Mechanism, Secret};
/// use smtpwire::Text;
///
/// let creds = Credentials::Login(LoginCredentials::new(Text::new("tim").unwrap(), Secret::new("pw").unwrap()).unwrap());
/// let mut auth = ClientAuth::new(&Mechanism::Login, &creds).unwrap();
/// assert_eq!(auth.initial_response(), None); // LOGIN has none
/// assert_eq!(auth.respond(b"VXNlcm5hbWU6").unwrap(), "dGlt");
/// assert_eq!(auth.respond(b"UGFzc3dvcmQ6").unwrap(), "cHc=");
/// ```
#[derive(Debug, Clone)]
pub struct ClientAuth {
    mechanism: Mechanism,
    plan: Plan,
    /// How many lines have been produced so far (initial response included).
    sent: u8,
    server_error: Option<Vec<u8>>,
}

impl ClientAuth {
    /// Prepares an exchange of `mechanism` with `credentials`, converting
    /// between PLAIN and LOGIN when that loses nothing. SCRAM needs a nonce:
    /// start it with [`with_nonce`](Self::with_nonce).
    pub fn new(mechanism: &Mechanism, credentials: &Credentials) -> Result<Self, ClientAuthError> {
        Self::with_nonce(mechanism, credentials, None, None)
    }

    /// Prepares an exchange that may be SCRAM, with `nonce`, fresh random
    /// printable text for this exchange only (RFC 5802 §5.1; 18 random
    /// octets in base64 do), and the connection's `channel_binding` when the
    /// transport gives one. `-PLUS` binds to it; plain SCRAM with it tells
    /// the server, by the `y` flag, that the client could have bound, so
    /// that a server offering `-PLUS` notices a stripped offer (RFC 5802 §6).
    /// Other mechanisms ignore both.
    ///
    /// ```
    /// use smtpwire::auth::{ClientAuth, Credentials, Mechanism, PlainCredentials, Secret};
    /// use smtpwire::Text;
    ///
    /// let user = PlainCredentials::new(None, Text::new("user").unwrap(), Secret::new("pencil").unwrap()).unwrap();
    /// let creds = Credentials::Plain(user);
    /// let mut auth = ClientAuth::with_nonce(&Mechanism::ScramSha256, &creds, Some("rOprNGfwEbeRWgbNEkqO"), None).unwrap();
    /// // "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
    /// assert_eq!(auth.initial_response().unwrap(), "biwsbj11c2VyLHI9ck9wck5HZndFYmVSV2diTkVrcU8=");
    /// ```
    pub fn with_nonce(
        mechanism: &Mechanism,
        credentials: &Credentials,
        nonce: Option<&str>,
        channel_binding: Option<&ChannelBinding>,
    ) -> Result<Self, ClientAuthError> {
        #[cfg(not(feature = "scram"))]
        let _ = (nonce, channel_binding);
        if !mechanism.is_implemented() {
            return Err(ClientAuthError::UnsupportedMechanism(mechanism.clone()));
        }
        let credentials = credentials
            .for_mechanism(mechanism)
            .ok_or_else(|| ClientAuthError::CredentialsMismatch(mechanism.clone()))?;
        let plan = match &credentials {
            #[cfg(feature = "scram")]
            Credentials::Plain(creds) if mechanism.scram().is_some() => {
                let (hash, plus) = mechanism
                    .scram()
                    .unwrap_or((super::ScramHash::Sha256, false));
                Plan::Scram(alloc::boxed::Box::new(ScramClient::new(
                    hash,
                    plus,
                    creds.authzid().map(Text::as_str),
                    creds.authcid().as_str(),
                    creds.password().expose(),
                    nonce.ok_or(ScramClientError::MissingNonce)?,
                    channel_binding,
                )?))
            }
            Credentials::Plain(creds) => {
                Plan::Message(message::encode(&message::encode_plain(creds)))
            }
            Credentials::XOAuth2(creds) => {
                Plan::Message(message::encode(&message::encode_xoauth2(creds)))
            }
            Credentials::Login(creds) => Plan::Login {
                username: message::encode(creds.username().as_bytes()),
                password: message::encode(creds.password().expose().as_bytes()),
            },
            Credentials::Verified(_) => {
                return Err(ClientAuthError::CredentialsMismatch(mechanism.clone()))
            }
        };
        let longest = match &plan {
            Plan::Message(text) => text.len(),
            Plan::Login { username, password } => username.len().max(password.len()),
            // The client-final is the longest: a fixed part, the nonces,
            // the proof and the gs2 header, all of them bounded by the
            // client-first's length plus what the server sends.
            #[cfg(feature = "scram")]
            Plan::Scram(scram) => base64_len(scram.client_first().len()),
        };
        if longest.saturating_add(2) > DEFAULT_MAX_AUTH_LINE {
            return Err(ClientAuthError::ResponseTooLong {
                limit: DEFAULT_MAX_AUTH_LINE,
            });
        }
        Ok(ClientAuth {
            mechanism: mechanism.clone(),
            plan,
            sent: 0,
            server_error: None,
        })
    }

    /// The mechanism being run.
    pub fn mechanism(&self) -> &Mechanism {
        &self.mechanism
    }

    /// The argument to put after the mechanism on the AUTH command, if any.
    ///
    /// `None` for LOGIN, whose draft defines no initial response, and when
    /// `AUTH <mechanism> <response>` would not fit in
    /// [`MAX_AUTH_COMMAND_LINE`]: RFC 4954 §4 then has the client wait for
    /// an empty challenge and answer it instead, which [`respond`] does.
    /// Call it before the first challenge, once.
    ///
    /// [`respond`]: ClientAuth::respond
    pub fn initial_response(&mut self) -> Option<Text> {
        let response = match &self.plan {
            Plan::Message(response) => response.clone(),
            #[cfg(feature = "scram")]
            Plan::Scram(scram) => message::encode(scram.client_first().as_bytes()),
            Plan::Login { .. } => return None,
        };
        // "AUTH " + mechanism + " " + response + CRLF
        let line = 5 + self.mechanism.as_str().len() + 1 + response.len() + 2;
        if self.sent != 0 || line > MAX_AUTH_COMMAND_LINE {
            return None;
        }
        self.sent = 1;
        Some(response)
    }

    /// Answers one `334` challenge; `challenge` is the reply text after
    /// `334 ` (empty for a bare `334`).
    ///
    /// LOGIN answers the user name and then the password, by order rather
    /// than by prompt text, since servers word and localise the prompts
    /// differently. For XOAUTH2, a challenge after the token is the server's
    /// error status; it is kept for [`server_error`](ClientAuth::server_error)
    /// and answered with the empty line the server waits for before its 535.
    pub fn respond(&mut self, challenge: &[u8]) -> Result<Text, ClientAuthError> {
        let decoded = message::decode(challenge).map_err(|_| ClientAuthError::BadChallenge)?;
        let answer = match (&mut self.plan, self.sent) {
            // An empty first challenge asks for the client-first that did
            // not go with the command (RFC 4954 §4).
            #[cfg(feature = "scram")]
            (Plan::Scram(scram), 0) if decoded.is_empty() => {
                message::encode(scram.client_first().as_bytes())
            }
            #[cfg(feature = "scram")]
            (Plan::Scram(scram), 1..=2) => {
                let answer = scram
                    .respond(&decoded)
                    .inspect_err(|_| self.sent = u8::MAX)?;
                message::encode(answer.as_bytes())
            }
            (Plan::Message(response), 0) => response.clone(),
            (Plan::Message(_), 1) if self.mechanism == Mechanism::XOAuth2 => {
                self.server_error = Some(decoded);
                Text::default()
            }
            (Plan::Login { username, .. }, 0) => username.clone(),
            (Plan::Login { password, .. }, 1) => password.clone(),
            _ => return Err(ClientAuthError::UnexpectedChallenge),
        };
        self.sent = self.sent.saturating_add(1);
        Ok(answer)
    }

    /// Checks a success reply (235) against the exchange: SCRAM has the
    /// server prove itself with its signature before, and a server that
    /// claims success without it has not (RFC 5802 §5).
    pub fn check_success(&self) -> Result<(), ClientAuthError> {
        match &self.plan {
            #[cfg(feature = "scram")]
            Plan::Scram(scram) if !scram.is_verified() => {
                Err(ScramClientError::ServerNotVerified.into())
            }
            _ => Ok(()),
        }
    }

    /// The line that cancels the exchange (RFC 4954 §4); the server answers 501.
    pub fn cancel(&mut self) -> Text {
        self.sent = u8::MAX;
        Text::from_static("*")
    }

    /// The decoded XOAUTH2 error status the server sent, usually JSON such
    /// as `{"status":"401","schemes":"bearer","scope":"…"}`.
    pub fn server_error(&self) -> Option<&[u8]> {
        self.server_error.as_deref()
    }
}

/// The length of `len` octets in padded base64.
#[cfg(feature = "scram")]
fn base64_len(len: usize) -> usize {
    len.div_ceil(3).saturating_mul(4)
}
