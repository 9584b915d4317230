//! What a client proves itself with, and the [`Secret`] wrapper that keeps
//! passwords and tokens out of logs.

use super::Mechanism;
use crate::text::TextError;
use crate::Text;
use alloc::string::String;
use core::fmt;

/// A password or token.
///
/// UTF-8 without NUL, the RFC 4616 §2 rule for PLAIN passwords, which every
/// mechanism here can carry. Its `Debug` prints `"<redacted>"`, so credentials
/// can be logged with `{:?}` without leaking; the value is reached only through
/// [`Secret::expose`]. There is no `PartialEq`: compare secrets with a
/// constant-time function of your own choosing.
///
/// The memory is freed but not wiped on drop: wiping reliably needs a
/// dependency (such as `zeroize`) that this crate does not take. Callers who
/// need it should hold the secret in their own wiping type and build a
/// `Secret` only for the exchange.
///
/// ```
/// use smtpwire::auth::Secret;
///
/// let password = Secret::new("hunter2").unwrap();
/// assert_eq!(format!("{password:?}"), "<redacted>");
/// assert_eq!(password.expose(), "hunter2");
/// assert!(Secret::new("a\0b").is_err());
/// ```
#[derive(Clone, Default)]
pub struct Secret(String);

impl Secret {
    /// Checks `value` for NUL and keeps a copy.
    pub fn new(value: &str) -> Result<Self, TextError> {
        check_no_nul(value.as_bytes())?;
        Ok(Secret(String::from(value)))
    }

    /// Checks decoded wire bytes for UTF-8 and NUL.
    pub(crate) fn from_wire(bytes: &[u8]) -> Result<Self, TextError> {
        let value = core::str::from_utf8(bytes).map_err(|err| TextError::InvalidUtf8 {
            offset: err.valid_up_to(),
        })?;
        Secret::new(value)
    }

    /// The secret value, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the secret is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn check_no_nul(bytes: &[u8]) -> Result<(), TextError> {
    match memchr::memchr(0, bytes) {
        Some(offset) => Err(TextError::ForbiddenByte { byte: 0, offset }),
        None => Ok(()),
    }
}

impl TryFrom<String> for Secret {
    type Error = TextError;
    fn try_from(value: String) -> Result<Self, TextError> {
        check_no_nul(value.as_bytes())?;
        Ok(Secret(value))
    }
}

impl TryFrom<&str> for Secret {
    type Error = TextError;
    fn try_from(value: &str) -> Result<Self, TextError> {
        Secret::new(value)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Names a credential field in errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// PLAIN authorization identity (who to act as).
    Authzid,
    /// PLAIN authentication identity (whose password this is).
    Authcid,
    /// LOGIN user name.
    Username,
    /// PLAIN or LOGIN password.
    Password,
    /// XOAUTH2 user.
    User,
    /// XOAUTH2 access token.
    Token,
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Field::Authzid => "authorization identity",
            Field::Authcid => "authentication identity",
            Field::Username => "user name",
            Field::Password => "password",
            Field::User => "user",
            Field::Token => "token",
        })
    }
}

/// Why a set of credentials cannot be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CredentialsError {
    /// A field that the mechanism requires to be non-empty is empty.
    #[error("empty {0}")]
    Empty(Field),
    /// A field holds a byte the mechanism uses as a separator.
    #[error("{field} holds byte {byte:#04x}, a separator in its mechanism")]
    Separator {
        /// The field.
        field: Field,
        /// The separator byte.
        byte: u8,
    },
}

fn require_non_empty(value: &str, field: Field) -> Result<(), CredentialsError> {
    if value.is_empty() {
        Err(CredentialsError::Empty(field))
    } else {
        Ok(())
    }
}

/// Credentials for PLAIN (RFC 4616).
///
/// Identities are [`Text`], so they can be logged or written into a trace
/// header safely; [`Text`] and [`Secret`] already exclude the NUL separator.
///
/// ```
/// use smtpwire::auth::{PlainCredentials, Secret};
/// use smtpwire::Text;
///
/// let creds = PlainCredentials::new(None, Text::new("tim").unwrap(), Secret::new("tanstaaftanstaaf").unwrap()).unwrap();
/// assert_eq!(creds.authcid(), "tim");
/// ```
#[derive(Debug, Clone)]
pub struct PlainCredentials {
    authzid: Option<Text>,
    authcid: Text,
    password: Secret,
}

impl PlainCredentials {
    /// Credentials for `authcid`, optionally acting as `authzid`.
    ///
    /// RFC 4616 §2: authcid and password are non-empty; an empty authzid is
    /// the same as none.
    pub fn new(
        authzid: Option<Text>,
        authcid: Text,
        password: Secret,
    ) -> Result<Self, CredentialsError> {
        require_non_empty(authcid.as_str(), Field::Authcid)?;
        require_non_empty(password.expose(), Field::Password)?;
        Ok(PlainCredentials {
            authzid: authzid.filter(|id| !id.is_empty()),
            authcid,
            password,
        })
    }

    /// The identity to act as, when it differs from the authcid.
    pub fn authzid(&self) -> Option<&Text> {
        self.authzid.as_ref()
    }

    /// The identity whose password this is.
    pub fn authcid(&self) -> &Text {
        &self.authcid
    }

    /// The password.
    pub fn password(&self) -> &Secret {
        &self.password
    }
}

/// Credentials for LOGIN: a user name and a password.
///
/// ```
/// use smtpwire::auth::{LoginCredentials, Secret};
/// use smtpwire::Text;
///
/// let creds = LoginCredentials::new(Text::new("tim").unwrap(), Secret::new("pw").unwrap()).unwrap();
/// assert_eq!(creds.username(), "tim");
/// ```
#[derive(Debug, Clone)]
pub struct LoginCredentials {
    username: Text,
    password: Secret,
}

impl LoginCredentials {
    /// Both fields must be non-empty.
    pub fn new(username: Text, password: Secret) -> Result<Self, CredentialsError> {
        require_non_empty(username.as_str(), Field::Username)?;
        require_non_empty(password.expose(), Field::Password)?;
        Ok(LoginCredentials { username, password })
    }

    /// The user name.
    pub fn username(&self) -> &Text {
        &self.username
    }

    /// The password.
    pub fn password(&self) -> &Secret {
        &self.password
    }
}

/// Credentials for XOAUTH2: a user and an OAuth 2.0 bearer token.
///
/// ```
/// use smtpwire::auth::{OAuthBearer, Secret};
/// use smtpwire::Text;
///
/// let creds = OAuthBearer::new(Text::new("someuser@example.com").unwrap(), Secret::new("ya29.vF9dft4").unwrap()).unwrap();
/// assert_eq!(creds.user(), "someuser@example.com");
/// ```
#[derive(Debug, Clone)]
pub struct OAuthBearer {
    user: Text,
    token: Secret,
}

/// XOAUTH2 separates its fields with Control-A.
pub(crate) const XOAUTH2_SEPARATOR: u8 = 0x01;

impl OAuthBearer {
    /// Both fields must be non-empty and free of the Control-A separator.
    pub fn new(user: Text, token: Secret) -> Result<Self, CredentialsError> {
        for (value, field) in [(user.as_str(), Field::User), (token.expose(), Field::Token)] {
            require_non_empty(value, field)?;
            if memchr::memchr(XOAUTH2_SEPARATOR, value.as_bytes()).is_some() {
                return Err(CredentialsError::Separator {
                    field,
                    byte: XOAUTH2_SEPARATOR,
                });
            }
        }
        Ok(OAuthBearer { user, token })
    }

    /// The account the token is for.
    pub fn user(&self) -> &Text {
        &self.user
    }

    /// The access token, without the `Bearer ` scheme.
    pub fn token(&self) -> &Secret {
        &self.token
    }
}

/// Who a mechanism that checks the password itself (SCRAM) found the
/// client to be: the exchange proved the password, so the caller decides
/// only whether `authcid` may act as `authzid`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedIdentity {
    pub(crate) mechanism: Mechanism,
    pub(crate) authcid: Text,
    pub(crate) authzid: Option<Text>,
}

impl VerifiedIdentity {
    /// The mechanism that proved it.
    pub fn mechanism(&self) -> &Mechanism {
        &self.mechanism
    }

    /// The authentication identity whose keys the proof matched.
    pub fn authcid(&self) -> &Text {
        &self.authcid
    }

    /// The identity the client asks to act as, if it gave one.
    pub fn authzid(&self) -> Option<&Text> {
        self.authzid.as_ref()
    }
}

/// Credentials of any implemented mechanism: what a server exchange produces
/// and what a client exchange is started with.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// PLAIN credentials; SCRAM clients take them too.
    Plain(PlainCredentials),
    /// LOGIN credentials.
    Login(LoginCredentials),
    /// XOAUTH2 credentials.
    XOAuth2(OAuthBearer),
    /// An identity a SCRAM server exchange has already checked the
    /// password of; only a server produces it, and no client takes it.
    Verified(VerifiedIdentity),
}

impl Credentials {
    /// The mechanism these credentials were made for.
    pub fn mechanism(&self) -> Mechanism {
        match self {
            Credentials::Plain(_) => Mechanism::Plain,
            Credentials::Login(_) => Mechanism::Login,
            Credentials::XOAuth2(_) => Mechanism::XOAuth2,
            Credentials::Verified(identity) => identity.mechanism.clone(),
        }
    }

    /// The identity that authenticated: authcid, user name or XOAUTH2 user.
    pub fn identity(&self) -> &Text {
        match self {
            Credentials::Plain(creds) => creds.authcid(),
            Credentials::Login(creds) => creds.username(),
            Credentials::XOAuth2(creds) => creds.user(),
            Credentials::Verified(identity) => identity.authcid(),
        }
    }

    /// Converts the credentials for use with `mechanism`, when they carry
    /// what it needs: PLAIN and LOGIN both take a name and a password, as long
    /// as no PLAIN authzid would be lost; SCRAM takes them as PLAIN ones,
    /// authzid included.
    pub fn for_mechanism(&self, mechanism: &Mechanism) -> Option<Credentials> {
        match (self, mechanism) {
            (Credentials::Plain(_), scram) if scram.scram().is_some() => Some(self.clone()),
            (Credentials::Login(creds), scram) if scram.scram().is_some() => {
                Some(Credentials::Plain(PlainCredentials {
                    authzid: None,
                    authcid: creds.username.clone(),
                    password: creds.password.clone(),
                }))
            }
            (Credentials::Plain(_), Mechanism::Plain)
            | (Credentials::Login(_), Mechanism::Login)
            | (Credentials::XOAuth2(_), Mechanism::XOAuth2) => Some(self.clone()),
            (Credentials::Login(creds), Mechanism::Plain) => {
                Some(Credentials::Plain(PlainCredentials {
                    authzid: None,
                    authcid: creds.username.clone(),
                    password: creds.password.clone(),
                }))
            }
            (Credentials::Plain(creds), Mechanism::Login) if creds.authzid.is_none() => {
                Some(Credentials::Login(LoginCredentials {
                    username: creds.authcid.clone(),
                    password: creds.password.clone(),
                }))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;

    fn text(s: &str) -> Text {
        Text::new(s).unwrap()
    }

    fn secret(s: &str) -> Secret {
        Secret::new(s).unwrap()
    }

    #[test]
    fn debug_never_shows_secrets() {
        let plain = Credentials::Plain(
            PlainCredentials::new(Some(text("admin")), text("tim"), secret("s3cr3t-pw")).unwrap(),
        );
        let bearer =
            Credentials::XOAuth2(OAuthBearer::new(text("tim"), secret("ya29.token")).unwrap());
        let login = Credentials::Login(LoginCredentials::new(text("tim"), secret("pw9")).unwrap());
        for (creds, hidden) in [(plain, "s3cr3t-pw"), (bearer, "ya29.token"), (login, "pw9")] {
            let shown = format!("{creds:?} {creds:#?}");
            assert!(!shown.contains(hidden), "{shown}");
            assert!(shown.contains("<redacted>"));
            assert!(shown.contains("tim"));
        }
    }

    #[test]
    fn secret_checks_nul_and_utf8() {
        assert_eq!(
            Secret::try_from(String::from("ab\0")).unwrap_err(),
            TextError::ForbiddenByte { byte: 0, offset: 2 }
        );
        assert_eq!(
            Secret::from_wire(b"ok\xc3").unwrap_err(),
            TextError::InvalidUtf8 { offset: 2 }
        );
        // CR and LF are legal in a password: it only ever travels in base64.
        assert_eq!(secret("a\r\nb").len(), 4);
    }

    #[test]
    fn constructors_refuse_empty_and_separators() {
        assert_eq!(
            PlainCredentials::new(None, text(""), secret("pw")).unwrap_err(),
            CredentialsError::Empty(Field::Authcid)
        );
        assert_eq!(
            LoginCredentials::new(text("u"), secret("")).unwrap_err(),
            CredentialsError::Empty(Field::Password)
        );
        assert_eq!(
            OAuthBearer::new(text("u\u{1}"), secret("t")).unwrap_err(),
            CredentialsError::Separator {
                field: Field::User,
                byte: 1
            }
        );
        let creds = PlainCredentials::new(Some(text("")), text("u"), secret("p")).unwrap();
        assert!(creds.authzid().is_none());
    }

    #[test]
    fn password_credentials_convert_between_plain_and_login() {
        let login = Credentials::Login(LoginCredentials::new(text("u"), secret("p")).unwrap());
        let plain = login.for_mechanism(&Mechanism::Plain).unwrap();
        assert_eq!(plain.mechanism(), Mechanism::Plain);
        assert_eq!(plain.identity(), "u");
        let back = plain.for_mechanism(&Mechanism::Login).unwrap();
        assert_eq!(back.mechanism(), Mechanism::Login);
        let with_authzid = Credentials::Plain(
            PlainCredentials::new(Some(text("z")), text("u"), secret("p")).unwrap(),
        );
        assert!(with_authzid.for_mechanism(&Mechanism::Login).is_none());
        assert!(login.for_mechanism(&Mechanism::XOAuth2).is_none());
    }
}
