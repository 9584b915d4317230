//! SCRAM (RFC 5802) with SHA-1 and SHA-256 (RFC 7677), and the `-PLUS`
//! variant bound to the TLS connection by `tls-exporter` (RFC 9266).
//!
//! The types here exist whatever the features, so that matching on
//! [`Mechanism`] or [`Step`](super::Step) does not depend
//! on them; running an exchange and making keys needs the `scram` feature
//! (RustCrypto's `no_std` hashes). SASLprep (RFC 4013) needs the `saslprep`
//! feature, which needs `std` (the `stringprep` crate is not `no_std`):
//! without it only printable US-ASCII names and passwords are taken, the
//! strings SASLprep leaves as they are.
//!
//! Nonces come from the caller, as the core has no random source. The
//! server's side asks the caller for the user's [`StoredKeys`] in the
//! middle of the exchange ([`Step::LookUpKeys`](super::Step::LookUpKeys))
//! and checks the proof itself; it never sees the password.

#[cfg(feature = "scram")]
pub(crate) mod client;
#[cfg(feature = "scram")]
mod keys;
#[cfg(feature = "scram")]
mod messages;
#[cfg(feature = "scram")]
mod prep;
#[cfg(feature = "scram")]
pub(crate) mod server;
#[cfg(all(test, feature = "scram"))]
mod tests;

use super::Mechanism;
use crate::Text;
use alloc::vec::Vec;
use bytes::Bytes;
use core::fmt;

/// A server's secret for SCRAM exchanges with users it does not have:
/// the salt such a user is sent is derived from it and the name, so that it
/// is the same for a name at every attempt, as a real user's is, yet cannot
/// be worked out without the secret (RFC 5802 §9: a server should not tell
/// which users exist).
///
/// Without one a server derives that salt from the name alone, which
/// anyone who knows this library can compute and so tell unknown users
/// from real ones. Fill it with random bytes, kept for the server's
/// lifetime (the tokio driver does so when none is set), or with a secret
/// kept across restarts so that the salts stay the same across them too.
///
/// ```
/// use smtpwire::auth::StandInSecret;
/// use smtpwire::server::ServerConfig;
/// use smtpwire::Text;
///
/// let mut config = ServerConfig::new(Text::from_static("mx.example.org"));
/// config.scram_stand_in = Some(StandInSecret::new([7; 32]));
/// // Never shown in logs.
/// assert_eq!(format!("{:?}", config.scram_stand_in), "Some(StandInSecret(..))");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct StandInSecret([u8; 32]);

impl StandInSecret {
    /// A secret of 32 octets (an HMAC key as long as SHA-256's output).
    pub fn new(octets: [u8; 32]) -> Self {
        StandInSecret(octets)
    }

    /// The secret's octets.
    pub fn octets(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for StandInSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StandInSecret(..)")
    }
}

/// The fewest PBKDF2 iterations accepted (RFC 7677 §4: at least 4096).
pub const MIN_ITERATIONS: u32 = 4096;

/// The most PBKDF2 iterations a client runs for a server: each costs two
/// HMACs, and a hostile server must not make the client spin for minutes.
pub const MAX_ITERATIONS: u32 = 10_000_000;

/// The hash function of a SCRAM mechanism.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScramHash {
    /// SHA-1, `SCRAM-SHA-1` (RFC 5802): for old servers only.
    Sha1,
    /// SHA-256, `SCRAM-SHA-256` (RFC 7677).
    Sha256,
}

impl ScramHash {
    /// The length of the hash's output, and so of every key, in octets.
    pub fn output_len(self) -> usize {
        match self {
            ScramHash::Sha1 => 20,
            ScramHash::Sha256 => 32,
        }
    }

    /// The name the hash has in a mechanism name, `SHA-1` or `SHA-256`.
    pub fn as_str(self) -> &'static str {
        match self {
            ScramHash::Sha1 => "SHA-1",
            ScramHash::Sha256 => "SHA-256",
        }
    }
}

impl Mechanism {
    /// The SCRAM hash and whether channel binding is required (`-PLUS`),
    /// for a SCRAM mechanism.
    pub fn scram(&self) -> Option<(ScramHash, bool)> {
        match self {
            Mechanism::ScramSha1 => Some((ScramHash::Sha1, false)),
            Mechanism::ScramSha256 => Some((ScramHash::Sha256, false)),
            Mechanism::ScramSha256Plus => Some((ScramHash::Sha256, true)),
            _ => None,
        }
    }
}

/// Channel binding data from the TLS layer (RFC 5056), which `-PLUS`
/// mechanisms fold into the proof so that it is only good on this
/// connection.
///
/// Its `Debug` hides the data, which is secret to the connection.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChannelBinding {
    /// `tls-exporter` (RFC 9266 §2): 32 octets from the TLS exporter with
    /// the label `EXPORTER-Channel-Binding` and no context. RFC 9266 §3
    /// allows it on TLS 1.3, and on TLS 1.2 only with the extended master
    /// secret (RFC 7627).
    TlsExporter(Bytes),
}

impl ChannelBinding {
    /// The RFC 5929 channel binding type name, as it goes after `p=`.
    pub fn name(&self) -> &'static str {
        match self {
            ChannelBinding::TlsExporter(_) => "tls-exporter",
        }
    }

    /// The binding data.
    pub fn data(&self) -> &[u8] {
        match self {
            ChannelBinding::TlsExporter(data) => data,
        }
    }
}

impl fmt::Debug for ChannelBinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChannelBinding({}, <redacted>)", self.name())
    }
}

/// What a server keeps to check a SCRAM password (RFC 5802 §3): the salt,
/// the iteration count, StoredKey and ServerKey. The password itself cannot
/// be got back from them, but StoredKey lets anyone who reads it pose as the
/// server, so they are as secret as a password file; `Debug` hides the keys.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredKeys {
    hash: ScramHash,
    salt: Vec<u8>,
    iterations: u32,
    stored_key: Vec<u8>,
    server_key: Vec<u8>,
}

/// Why [`StoredKeys`] cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoredKeysError {
    /// The salt is empty.
    #[error("empty SCRAM salt")]
    EmptySalt,
    /// Fewer iterations than [`MIN_ITERATIONS`].
    #[error("{0} SCRAM iterations, fewer than the {MIN_ITERATIONS} RFC 7677 requires")]
    TooFewIterations(u32),
    /// A key's length is not the hash's output length.
    #[error("SCRAM key of {0} octets does not fit the hash")]
    KeyLength(usize),
    /// The password fails SASLprep (RFC 4013), or is not printable US-ASCII
    /// in a build without the `saslprep` feature.
    #[error("password cannot be prepared with SASLprep")]
    Saslprep,
}

impl StoredKeys {
    /// Keys kept from before (a users file, a database).
    pub fn new(
        hash: ScramHash,
        salt: Vec<u8>,
        iterations: u32,
        stored_key: Vec<u8>,
        server_key: Vec<u8>,
    ) -> Result<Self, StoredKeysError> {
        if salt.is_empty() {
            return Err(StoredKeysError::EmptySalt);
        }
        if iterations < MIN_ITERATIONS {
            return Err(StoredKeysError::TooFewIterations(iterations));
        }
        for key in [&stored_key, &server_key] {
            if key.len() != hash.output_len() {
                return Err(StoredKeysError::KeyLength(key.len()));
            }
        }
        Ok(StoredKeys {
            hash,
            salt,
            iterations,
            stored_key,
            server_key,
        })
    }

    /// The hash these keys are for.
    pub fn hash(&self) -> ScramHash {
        self.hash
    }

    /// The salt.
    pub fn salt(&self) -> &[u8] {
        &self.salt
    }

    /// The PBKDF2 iteration count.
    pub fn iterations(&self) -> u32 {
        self.iterations
    }

    /// StoredKey, `H(HMAC(SaltedPassword, "Client Key"))`.
    pub fn stored_key(&self) -> &[u8] {
        &self.stored_key
    }

    /// ServerKey, `HMAC(SaltedPassword, "Server Key")`.
    pub fn server_key(&self) -> &[u8] {
        &self.server_key
    }
}

impl fmt::Debug for StoredKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredKeys")
            .field("hash", &self.hash)
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

/// The `e=` error values of a server-final-message (RFC 5802 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum ScramError {
    /// `invalid-encoding`: a message does not follow the grammar.
    #[error("invalid-encoding")]
    InvalidEncoding,
    /// `extensions-not-supported`: a mandatory extension (`m=`) was sent.
    #[error("extensions-not-supported")]
    ExtensionsNotSupported,
    /// `invalid-proof`: the client's proof is wrong (or the user unknown).
    #[error("invalid-proof")]
    InvalidProof,
    /// `channel-bindings-dont-match`: `c=` is not what this side sees.
    #[error("channel-bindings-dont-match")]
    ChannelBindingsDontMatch,
    /// `server-does-support-channel-binding`: the client said `y` to a
    /// server that offers `-PLUS`, so something removed it in between
    /// (RFC 5802 §6).
    #[error("server-does-support-channel-binding")]
    ServerDoesSupportChannelBinding,
    /// `channel-binding-not-supported`.
    #[error("channel-binding-not-supported")]
    ChannelBindingNotSupported,
    /// `unsupported-channel-binding-type`: a `p=` type other than the one
    /// the server has.
    #[error("unsupported-channel-binding-type")]
    UnsupportedChannelBindingType,
    /// `unknown-user`.
    #[error("unknown-user")]
    UnknownUser,
    /// `invalid-username-encoding`: a bad `=` escape, or a name SASLprep
    /// refuses.
    #[error("invalid-username-encoding")]
    InvalidUsernameEncoding,
    /// `no-resources`.
    #[error("no-resources")]
    NoResources,
    /// `other-error`, and any value this crate does not know (RFC 5802 §7:
    /// unrecognised values are treated as `other-error`).
    #[error("other-error")]
    OtherError,
}

impl ScramError {
    const ALL: [ScramError; 11] = [
        ScramError::InvalidEncoding,
        ScramError::ExtensionsNotSupported,
        ScramError::InvalidProof,
        ScramError::ChannelBindingsDontMatch,
        ScramError::ServerDoesSupportChannelBinding,
        ScramError::ChannelBindingNotSupported,
        ScramError::UnsupportedChannelBindingType,
        ScramError::UnknownUser,
        ScramError::InvalidUsernameEncoding,
        ScramError::NoResources,
        ScramError::OtherError,
    ];

    /// The value as it goes after `e=`.
    pub fn as_str(self) -> &'static str {
        match self {
            ScramError::InvalidEncoding => "invalid-encoding",
            ScramError::ExtensionsNotSupported => "extensions-not-supported",
            ScramError::InvalidProof => "invalid-proof",
            ScramError::ChannelBindingsDontMatch => "channel-bindings-dont-match",
            ScramError::ServerDoesSupportChannelBinding => "server-does-support-channel-binding",
            ScramError::ChannelBindingNotSupported => "channel-binding-not-supported",
            ScramError::UnsupportedChannelBindingType => "unsupported-channel-binding-type",
            ScramError::UnknownUser => "unknown-user",
            ScramError::InvalidUsernameEncoding => "invalid-username-encoding",
            ScramError::NoResources => "no-resources",
            ScramError::OtherError => "other-error",
        }
    }

    /// Whether the error is about the form of a message rather than about
    /// who the client is: answered 501 (RFC 4954 §4) instead of 535.
    pub fn is_syntax(self) -> bool {
        matches!(
            self,
            ScramError::InvalidEncoding
                | ScramError::ExtensionsNotSupported
                | ScramError::InvalidUsernameEncoding
        )
    }

    /// Reads an `e=` value; values this crate does not know are
    /// [`ScramError::OtherError`] (RFC 5802 §7).
    pub fn parse(value: &str) -> Self {
        ScramError::ALL
            .into_iter()
            .find(|error| error.as_str() == value)
            .unwrap_or(ScramError::OtherError)
    }
}

/// Who asks to log in with SCRAM, for the caller to find the keys of:
/// the user name after SASLprep, and the authorization identity when the
/// client gave one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScramUser {
    hash: ScramHash,
    username: Text,
    authzid: Option<Text>,
}

impl ScramUser {
    #[cfg_attr(not(feature = "scram"), allow(dead_code))]
    pub(crate) fn new(hash: ScramHash, username: Text, authzid: Option<Text>) -> Self {
        ScramUser {
            hash,
            username,
            authzid,
        }
    }

    /// The hash whose keys are wanted.
    pub fn hash(&self) -> ScramHash {
        self.hash
    }

    /// The user name (authentication identity), prepared with SASLprep.
    pub fn username(&self) -> &Text {
        &self.username
    }

    /// The authorization identity, if the client asked to act as someone
    /// else.
    pub fn authzid(&self) -> Option<&Text> {
        self.authzid.as_ref()
    }
}

/// Why a client SCRAM exchange cannot start or go on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScramClientError {
    /// No nonce was given: SCRAM needs a fresh random one per exchange.
    #[error("SCRAM needs a client nonce")]
    MissingNonce,
    /// The nonce is empty or holds a byte other than printable US-ASCII
    /// without `,` (RFC 5802 §7).
    #[error("SCRAM nonce must be printable US-ASCII without ','")]
    InvalidNonce,
    /// `-PLUS` without channel binding data from the transport.
    #[error("SCRAM -PLUS needs channel binding data from TLS")]
    MissingChannelBinding,
    /// The user name, authzid or password fails SASLprep (RFC 4013), or is
    /// not printable US-ASCII in a build without the `saslprep` feature.
    #[error("{0} cannot be prepared with SASLprep")]
    Saslprep(super::Field),
    /// A server message does not follow the grammar of RFC 5802 §7.
    #[error("malformed SCRAM server message")]
    Malformed,
    /// The server's nonce does not start with the client's (RFC 5802 §5.1).
    #[error("SCRAM server nonce does not extend the client's")]
    NonceMismatch,
    /// The server asks for fewer iterations than [`MIN_ITERATIONS`] or
    /// more than [`MAX_ITERATIONS`].
    #[error("SCRAM iteration count {0} out of bounds")]
    Iterations(u32),
    /// The server sent `e=`.
    #[error("SCRAM server error: {0}")]
    Server(ScramError),
    /// The server's signature is wrong: it does not know the password, or
    /// the exchange was tampered with.
    #[error("SCRAM server signature does not verify")]
    BadServerSignature,
    /// The server reported success before proving it knows the password.
    #[error("server ended SCRAM without proving itself")]
    ServerNotVerified,
}
