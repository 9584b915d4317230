//! The server side of one AUTH exchange.

use super::message::{self, LOGIN_PASSWORD_PROMPT, LOGIN_USERNAME_PROMPT};
#[cfg(feature = "scram")]
use super::scram::server::{ScramServer, ScramStep};
use super::{ChannelBinding, ScramError, ScramUser, StoredKeys};
use super::{Credentials, CredentialsError, Field, LoginCredentials, Mechanism};
use crate::limits::DEFAULT_MAX_AUTH_LINE;
use crate::text::TextError;
use crate::{EnhancedStatusCode, ReplyCode, Text};

/// What the server does next in an exchange.
#[derive(Debug, Clone)]
#[must_use]
pub enum Step {
    /// Send `334 ` followed by this base64 text, then feed the client's answer
    /// to [`ServerAuth::respond`].
    Challenge(Text),
    /// The client has presented these credentials. Verify them; on success
    /// reply 235 (2.7.0), on failure call [`ServerAuth::reject`].
    Done(Credentials),
    /// The exchange failed: reply 535 (5.7.8), RFC 4954 §6.
    Failed,
    /// SCRAM: look up this user's [`StoredKeys`] and hand them, with the
    /// server's part of the nonce, to [`ServerAuth::supply_keys`].
    LookUpKeys(ScramUser),
}

/// Why an exchange ended without credentials. Each error ends the exchange;
/// [`AuthError::reply_code`] and [`AuthError::enhanced_code`] give the reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The mechanism is not one this crate runs (RFC 4954 §4: 504 5.5.4).
    #[error("authentication mechanism {0} is not supported")]
    UnsupportedMechanism(Mechanism),
    /// The client answered `*` (RFC 4954 §4: 501).
    #[error("authentication cancelled by the client")]
    Cancelled,
    /// A response is not valid base64 (RFC 4954 §4: 501 5.5.2).
    #[error("authentication response is not valid base64")]
    BadBase64,
    /// A response line is longer than the limit, which counts the CRLF
    /// (RFC 4954 §6: 500 5.5.6).
    #[error("authentication line longer than {limit} octets")]
    TooLong {
        /// The limit in force.
        limit: usize,
    },
    /// The decoded response does not follow the mechanism's format.
    #[error("malformed authentication response: {0}")]
    Malformed(#[from] MalformedResponse),
    /// A response arrived when none was asked for: the exchange had already
    /// produced its outcome. A caller error, answered as a bad sequence.
    #[error("no authentication response was expected")]
    NotAwaitingResponse,
    /// A SCRAM client-first the server cannot go on with, with the RFC
    /// 5802 §7 error value that names why: a malformed message, a channel
    /// binding that does not fit, a downgraded `-PLUS` offer.
    #[error("SCRAM exchange refused: {0}")]
    Scram(ScramError),
}

impl AuthError {
    /// The SMTP reply code for this error.
    pub fn reply_code(&self) -> ReplyCode {
        match self {
            AuthError::UnsupportedMechanism(_) => ReplyCode::PARAMETER_NOT_IMPLEMENTED,
            AuthError::Cancelled | AuthError::BadBase64 | AuthError::Malformed(_) => {
                ReplyCode::PARAMETER_SYNTAX_ERROR
            }
            AuthError::Scram(error) if error.is_syntax() => ReplyCode::PARAMETER_SYNTAX_ERROR,
            AuthError::Scram(_) => ReplyCode::AUTH_CREDENTIALS_INVALID,
            AuthError::TooLong { .. } => ReplyCode::SYNTAX_ERROR,
            AuthError::NotAwaitingResponse => ReplyCode::BAD_SEQUENCE,
        }
    }

    /// The enhanced status code (RFC 3463) for this error, as RFC 4954 §4
    /// and §6 assign them.
    pub fn enhanced_code(&self) -> EnhancedStatusCode {
        match self {
            AuthError::UnsupportedMechanism(_) => EnhancedStatusCode::INVALID_ARGUMENTS,
            AuthError::Cancelled => EnhancedStatusCode::SECURITY_FAILURE,
            AuthError::BadBase64 | AuthError::Malformed(_) => EnhancedStatusCode::SYNTAX_ERROR,
            AuthError::Scram(error) if error.is_syntax() => EnhancedStatusCode::SYNTAX_ERROR,
            AuthError::Scram(_) => EnhancedStatusCode::AUTH_CREDENTIALS_INVALID,
            AuthError::TooLong { .. } => EnhancedStatusCode::AUTH_LINE_TOO_LONG,
            AuthError::NotAwaitingResponse => EnhancedStatusCode::INVALID_COMMAND,
        }
    }
}

/// How a decoded response breaks its mechanism's format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MalformedResponse {
    /// A PLAIN message without exactly two NUL separators (RFC 4616 §2).
    #[error("PLAIN message does not have exactly two NUL separators")]
    PlainSeparators,
    /// An XOAUTH2 message not of the form `user=…^Aauth=Bearer …^A^A`.
    #[error("XOAUTH2 message is not user=...^Aauth=Bearer ...^A^A")]
    XOAuth2Syntax,
    /// A field is not UTF-8, or an identity holds CR or LF.
    #[error("{field}: {source}")]
    Encoding {
        /// The field.
        field: Field,
        /// What is wrong with it.
        source: TextError,
    },
    /// The fields decode but do not make valid credentials (an empty authcid,
    /// for one).
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
}

#[derive(Debug, Clone)]
enum State {
    /// PLAIN or XOAUTH2 after an empty challenge: the whole message is next.
    AwaitingMessage,
    AwaitingUsername,
    AwaitingPassword(Text),
    /// Credentials handed out; the caller may still [`ServerAuth::reject`].
    Verifying,
    /// XOAUTH2 error challenge sent; the client's (empty) answer is next.
    AwaitingErrorAck,
    /// A SCRAM exchange, which keeps its own state.
    #[cfg(feature = "scram")]
    Scram(alloc::boxed::Box<ScramServer>),
    Finished,
}

/// The server side of one AUTH exchange (RFC 4954 §4).
///
/// Start it with the mechanism and initial response from the AUTH command,
/// send each [`Step::Challenge`] after `334 `, and feed every line the client
/// answers (without CRLF) to [`respond`](ServerAuth::respond) until it yields
/// [`Step::Done`] or an error.
///
/// ```
/// use smtpwire::auth::{Credentials, Mechanism, ServerAuth, Step};
///
/// // C: AUTH PLAIN dGVzdAB0ZXN0ADEyMzQ=
/// let (_auth, step) = ServerAuth::start(&Mechanism::Plain, Some(b"dGVzdAB0ZXN0ADEyMzQ=")).unwrap();
/// let Step::Done(Credentials::Plain(creds)) = step else { panic!() };
/// assert_eq!(creds.authzid().unwrap(), "test");
/// assert_eq!(creds.authcid(), "test");
/// assert_eq!(creds.password().expose(), "1234");
///
/// // LOGIN prompts for the name and then the password.
/// let (mut auth, step) = ServerAuth::start(&Mechanism::Login, None).unwrap();
/// assert!(matches!(step, Step::Challenge(prompt) if prompt == "VXNlcm5hbWU6"));
/// assert!(matches!(auth.respond(b"dGlt").unwrap(), Step::Challenge(_)));
/// assert!(matches!(auth.respond(b"cHc=").unwrap(), Step::Done(Credentials::Login(_))));
/// ```
#[derive(Debug, Clone)]
pub struct ServerAuth {
    mechanism: Mechanism,
    state: State,
    max_line: usize,
}

impl ServerAuth {
    /// Starts an exchange with the default line limit,
    /// [`DEFAULT_MAX_AUTH_LINE`].
    ///
    /// `initial_response` is the AUTH command's second argument exactly as
    /// sent: base64, or `=` for an empty response (RFC 4954 §4).
    pub fn start(
        mechanism: &Mechanism,
        initial_response: Option<&[u8]>,
    ) -> Result<(Self, Step), AuthError> {
        Self::start_with_max_line(mechanism, initial_response, DEFAULT_MAX_AUTH_LINE)
    }

    /// Starts an exchange whose lines, initial response included, may be at
    /// most `max_line` octets counting the CRLF.
    pub fn start_with_max_line(
        mechanism: &Mechanism,
        initial_response: Option<&[u8]>,
        max_line: usize,
    ) -> Result<(Self, Step), AuthError> {
        Self::start_with_binding(mechanism, initial_response, max_line, None)
    }

    /// Starts an exchange on a connection where the server offers
    /// `SCRAM-SHA-256-PLUS` bound to `channel_binding`; `None` where it does
    /// not (no TLS, no exporter, or `-PLUS` not offered). `-PLUS` runs only
    /// with it, and plain SCRAM refuses a client that could have bound
    /// (`y`) when it is there (RFC 5802 §6).
    pub fn start_with_binding(
        mechanism: &Mechanism,
        initial_response: Option<&[u8]>,
        max_line: usize,
        channel_binding: Option<&ChannelBinding>,
    ) -> Result<(Self, Step), AuthError> {
        let state = match mechanism {
            Mechanism::Plain | Mechanism::XOAuth2 => State::AwaitingMessage,
            Mechanism::Login => State::AwaitingUsername,
            #[cfg(feature = "scram")]
            Mechanism::ScramSha256 | Mechanism::ScramSha256Plus => {
                let plus = mechanism.needs_channel_binding();
                if plus && channel_binding.is_none() {
                    return Err(AuthError::UnsupportedMechanism(mechanism.clone()));
                }
                State::Scram(alloc::boxed::Box::new(ScramServer::new(
                    super::ScramHash::Sha256,
                    plus,
                    channel_binding.cloned(),
                )))
            }
            _ => return Err(AuthError::UnsupportedMechanism(mechanism.clone())),
        };
        // Without SCRAM there is nothing to bind.
        #[cfg(not(feature = "scram"))]
        let _ = channel_binding;
        let mut auth = ServerAuth {
            mechanism: mechanism.clone(),
            state,
            max_line,
        };
        let step = match initial_response {
            // The empty challenge asks for the message that was not sent up
            // front (RFC 4954 §4).
            None if auth.mechanism != Mechanism::Login => Step::Challenge(Text::default()),
            None => Step::Challenge(Text::from_static(LOGIN_USERNAME_PROMPT)),
            Some(b"=") => auth.advance(&[])?,
            Some(response) => auth.respond(response)?,
        };
        Ok((auth, step))
    }

    /// The mechanism being run.
    pub fn mechanism(&self) -> &Mechanism {
        &self.mechanism
    }

    /// Takes one client line, without its CRLF.
    pub fn respond(&mut self, line: &[u8]) -> Result<Step, AuthError> {
        if line.len().saturating_add(2) > self.max_line {
            self.state = State::Finished;
            return Err(AuthError::TooLong {
                limit: self.max_line,
            });
        }
        if line == b"*" && !matches!(self.state, State::Verifying | State::Finished) {
            self.state = State::Finished;
            return Err(AuthError::Cancelled);
        }
        if matches!(self.state, State::AwaitingErrorAck) {
            // The outcome is already decided; whatever the client says ends it.
            self.state = State::Finished;
            return Ok(Step::Failed);
        }
        let decoded = message::decode(line).map_err(|_| {
            self.state = State::Finished;
            AuthError::BadBase64
        })?;
        // SCRAM's last client message is empty by design.
        #[cfg(feature = "scram")]
        if let State::Scram(scram) = &mut self.state {
            let step = scram.respond(&decoded);
            return self.scram_step(step);
        }
        if decoded.is_empty() {
            // An empty line is valid base64 for an empty response (RFC 4954
            // §4): no credentials, so the exchange fails (535), where only
            // what is not base64 is a syntax error (501).
            self.state = State::Finished;
            return Ok(Step::Failed);
        }
        self.advance(&decoded)
    }

    /// Moves on with a decoded response; any error ends the exchange.
    fn advance(&mut self, response: &[u8]) -> Result<Step, AuthError> {
        let state = core::mem::replace(&mut self.state, State::Finished);
        let credentials = match (state, &self.mechanism) {
            (State::AwaitingMessage, Mechanism::Plain) => {
                Credentials::Plain(message::decode_plain(response)?)
            }
            (State::AwaitingMessage, _) => Credentials::XOAuth2(message::decode_xoauth2(response)?),
            (State::AwaitingUsername, _) => {
                let username = message::identity(response, Field::Username)?;
                if username.is_empty() {
                    return Err(
                        MalformedResponse::from(CredentialsError::Empty(Field::Username)).into(),
                    );
                }
                self.state = State::AwaitingPassword(username);
                return Ok(Step::Challenge(Text::from_static(LOGIN_PASSWORD_PROMPT)));
            }
            (State::AwaitingPassword(username), _) => {
                let password = message::secret(response, Field::Password)?;
                Credentials::Login(
                    LoginCredentials::new(username, password).map_err(MalformedResponse::from)?,
                )
            }
            #[cfg(feature = "scram")]
            (State::Scram(mut scram), _) => {
                let step = scram.respond(response);
                self.state = State::Scram(scram);
                return self.scram_step(step);
            }
            (State::Verifying | State::AwaitingErrorAck | State::Finished, _) => {
                return Err(AuthError::NotAwaitingResponse)
            }
        };
        self.state = State::Verifying;
        Ok(Step::Done(credentials))
    }

    /// Derives the salt a SCRAM exchange sends a user without keys from
    /// `secret` ([`StandInSecret`](super::StandInSecret)); set before
    /// [`supply_keys`](Self::supply_keys). Other mechanisms ignore it.
    pub fn set_stand_in_secret(&mut self, secret: &super::StandInSecret) {
        #[cfg(feature = "scram")]
        if let State::Scram(scram) = &mut self.state {
            scram.set_stand_in_secret(secret);
        }
        #[cfg(not(feature = "scram"))]
        let _ = secret;
    }

    /// Goes on after [`Step::LookUpKeys`] with the user's keys, `None` when
    /// the user does not exist or has no keys for the mechanism's hash, and
    /// `nonce`, the server's part of the nonce: fresh random printable text
    /// without `,` (RFC 5802 §5.1). Without keys the exchange still runs to
    /// the proof, which then fails as a wrong password does, so that a
    /// client cannot tell missing users from wrong passwords by the
    /// exchange (RFC 5802 §9).
    pub fn supply_keys(
        &mut self,
        keys: Option<&StoredKeys>,
        nonce: &str,
    ) -> Result<Step, AuthError> {
        #[cfg(feature = "scram")]
        if let State::Scram(scram) = &mut self.state {
            if scram.awaiting_keys() {
                let step = scram.supply_keys(keys, nonce);
                return self.scram_step(step);
            }
        }
        #[cfg(not(feature = "scram"))]
        let _ = (keys, nonce);
        self.state = State::Finished;
        Err(AuthError::NotAwaitingResponse)
    }

    /// Turns a SCRAM step into the exchange's; an error ends the exchange.
    #[cfg(feature = "scram")]
    fn scram_step(&mut self, step: Result<ScramStep, ScramError>) -> Result<Step, AuthError> {
        let step = match step {
            Ok(ScramStep::Challenge(challenge)) => {
                Step::Challenge(message::encode(challenge.as_bytes()))
            }
            Ok(ScramStep::LookUpKeys(user)) => Step::LookUpKeys(user),
            Ok(ScramStep::Verified { username, authzid }) => {
                self.state = State::Verifying;
                Step::Done(Credentials::Verified(super::VerifiedIdentity {
                    mechanism: self.mechanism.clone(),
                    authcid: username,
                    authzid,
                }))
            }
            Ok(ScramStep::Failed) => {
                self.state = State::Finished;
                Step::Failed
            }
            Err(error) => {
                self.state = State::Finished;
                return Err(AuthError::Scram(error));
            }
        };
        Ok(step)
    }

    /// Refuses the credentials from [`Step::Done`].
    ///
    /// For XOAUTH2 with `xoauth2_error` (the JSON status document, such as
    /// `{"status":"401","schemes":"bearer"}`), this sends it as a challenge
    /// first, the way Google and Microsoft servers do; the client answers
    /// with an empty line, which [`respond`](ServerAuth::respond) turns into
    /// [`Step::Failed`]. Otherwise the exchange fails at once.
    pub fn reject(&mut self, xoauth2_error: Option<&[u8]>) -> Step {
        let state = core::mem::replace(&mut self.state, State::Finished);
        match (state, &self.mechanism, xoauth2_error) {
            (State::Verifying, Mechanism::XOAuth2, Some(error)) => {
                self.state = State::AwaitingErrorAck;
                Step::Challenge(message::encode(error))
            }
            _ => Step::Failed,
        }
    }

    /// Whether the exchange still expects a client line.
    pub fn awaiting_response(&self) -> bool {
        matches!(
            self.state,
            State::AwaitingMessage
                | State::AwaitingUsername
                | State::AwaitingPassword(_)
                | State::AwaitingErrorAck
        ) || self.scram_awaiting_response()
    }

    #[cfg(feature = "scram")]
    fn scram_awaiting_response(&self) -> bool {
        matches!(&self.state, State::Scram(scram) if scram.awaiting_response())
    }

    #[cfg(not(feature = "scram"))]
    fn scram_awaiting_response(&self) -> bool {
        false
    }
}
