//! The users file, and the credential checks made against it.
//!
//! One user a line, `user:secret`; blank lines and lines starting with `#`
//! are skipped, and the secret is everything after the first `:`. The
//! secret is either SCRAM keys, in the form Dovecot's passwd-file uses,
//!
//! ```text
//! alice:{SCRAM-SHA-256}4096,<salt>,<StoredKey>,<ServerKey>
//! ```
//!
//! (the iteration count, at least 4096 (RFC 7677 §4), then the salt and the
//! two keys of RFC 5802 §3 in base64), which `smtpwire-server
//! --hash-password` prints for a password read from standard input; or a
//! password in plain text, `bob:secret` or `bob:{PLAIN}secret` (the prefix
//! is needed for a password that starts with `{`). Plain-text passwords
//! get SCRAM keys with a random salt when the file is read.
//!
//! SCRAM exchanges take the keys as they are; PLAIN and LOGIN passwords
//! are turned into keys with the user's salt and compared with StoredKey,
//! in constant time, and an unknown user is checked against stand-in keys
//! so that the answer takes as long.

use std::collections::HashMap;
use std::io;
use std::path::Path;
use std::sync::OnceLock;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use smtpwire::auth::{Credentials, ScramHash, StoredKeys};

/// The prefix of SCRAM-SHA-256 keys in a users file, as in Dovecot's.
const SCRAM_PREFIX: &str = "{SCRAM-SHA-256}";
/// The prefix that marks a password in plain text.
const PLAIN_PREFIX: &str = "{PLAIN}";
/// Iterations for new keys: RFC 7677 §4's minimum, Dovecot's default.
pub const DEFAULT_ITERATIONS: u32 = 4096;
/// Salt length for new keys (RFC 5802 §9 asks for a random salt).
const SALT_OCTETS: usize = 16;

/// Who may authenticate, with their SCRAM keys.
#[derive(Debug, Default, Clone)]
pub struct Users {
    keys: HashMap<String, StoredKeys>,
}

impl Users {
    /// Reads a users file (see the module documentation).
    pub fn load(path: &Path) -> io::Result<Self> {
        Self::parse(&std::fs::read_to_string(path)?)
    }

    /// Parses the contents of a users file.
    pub fn parse(contents: &str) -> io::Result<Self> {
        let mut keys = HashMap::new();
        for (number, line) in contents.lines().enumerate() {
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let invalid = |what: String| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("users file line {}: {what}", number + 1),
                )
            };
            let Some((user, secret)) = line.split_once(':') else {
                return Err(invalid("expected user:password".to_string()));
            };
            let user_keys = match secret.strip_prefix(SCRAM_PREFIX) {
                Some(encoded) => parse_keys(encoded).map_err(invalid)?,
                None => {
                    let password = secret.strip_prefix(PLAIN_PREFIX).unwrap_or(secret);
                    keys_for(password).map_err(invalid)?
                }
            };
            keys.insert(user.to_string(), user_keys);
        }
        Ok(Users { keys })
    }

    /// The SCRAM keys of `user` for `hash`, if the user exists.
    pub fn scram_keys(&self, user: &str, hash: ScramHash) -> Option<&StoredKeys> {
        self.keys.get(user).filter(|keys| keys.hash() == hash)
    }

    /// Whether the credentials name a known user with the right password.
    /// No one may ask to act as someone else (an authzid other than the
    /// authcid); XOAUTH2 tokens are never valid here. SCRAM identities come
    /// verified by the exchange.
    pub fn verify(&self, credentials: &Credentials) -> bool {
        let (user, password) = match credentials {
            Credentials::Plain(plain) => {
                if plain.authzid().is_some_and(|id| id != plain.authcid()) {
                    return false;
                }
                (plain.authcid().as_str(), plain.password().expose())
            }
            Credentials::Login(login) => (login.username().as_str(), login.password().expose()),
            Credentials::Verified(identity) => {
                let acts_as_itself = identity.authzid().is_none_or(|id| id == identity.authcid());
                return acts_as_itself && self.keys.contains_key(identity.authcid().as_str());
            }
            _ => return false,
        };
        // An unknown user is still checked against something, so the answer
        // takes as long as for a known one.
        let (known, expected) = match (self.keys.get(user), stand_in_keys()) {
            (Some(keys), _) => (true, keys),
            (None, Some(stand_in)) => (false, stand_in),
            (None, None) => return false,
        };
        let given = StoredKeys::from_password(
            expected.hash(),
            password,
            expected.salt(),
            expected.iterations(),
        );
        let matches =
            given.is_ok_and(|given| constant_time_eq(expected.stored_key(), given.stored_key()));
        known & matches
    }
}

/// The users-file secret for `password`: SCRAM-SHA-256 keys with a fresh
/// random salt and [`DEFAULT_ITERATIONS`], as `--hash-password` prints it.
pub fn hash_password(password: &str) -> io::Result<String> {
    let keys = keys_for(password).map_err(io::Error::other)?;
    Ok(format!(
        "{SCRAM_PREFIX}{},{},{},{}",
        keys.iterations(),
        STANDARD.encode(keys.salt()),
        STANDARD.encode(keys.stored_key()),
        STANDARD.encode(keys.server_key())
    ))
}

/// SCRAM-SHA-256 keys for a plain-text password, with a random salt.
fn keys_for(password: &str) -> Result<StoredKeys, String> {
    let mut salt = [0u8; SALT_OCTETS];
    rustls::crypto::ring::default_provider()
        .secure_random
        .fill(&mut salt)
        .map_err(|_| "no random source for a salt".to_string())?;
    StoredKeys::from_password(ScramHash::Sha256, password, &salt, DEFAULT_ITERATIONS)
        .map_err(|error| error.to_string())
}

/// `iterations,salt,StoredKey,ServerKey`, the part after the prefix.
fn parse_keys(encoded: &str) -> Result<StoredKeys, String> {
    let malformed = || format!("expected {SCRAM_PREFIX}iterations,salt,StoredKey,ServerKey");
    let fields: Vec<&str> = encoded.split(',').collect();
    let [iterations, salt, stored_key, server_key] = fields.as_slice() else {
        return Err(malformed());
    };
    let iterations = iterations.parse().map_err(|_| malformed())?;
    let decode = |field: &str| STANDARD.decode(field).map_err(|_| malformed());
    StoredKeys::new(
        ScramHash::Sha256,
        decode(salt)?,
        iterations,
        decode(stored_key)?,
        decode(server_key)?,
    )
    .map_err(|error| error.to_string())
}

/// Keys no password matches (StoredKey is a hash output, never all
/// zeros in practice), made once, for checking unknown users.
fn stand_in_keys() -> Option<&'static StoredKeys> {
    static KEYS: OnceLock<Option<StoredKeys>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let length = ScramHash::Sha256.output_len();
        let zeros = vec![0; length];
        StoredKeys::new(
            ScramHash::Sha256,
            vec![0; SALT_OCTETS],
            DEFAULT_ITERATIONS,
            zeros.clone(),
            zeros,
        )
        .ok()
    })
    .as_ref()
}

/// Compares without an early exit: the time depends only on the lengths.
fn constant_time_eq(expected: &[u8], given: &[u8]) -> bool {
    let mut difference = u8::from(expected.len() != given.len());
    for (index, byte) in given.iter().enumerate() {
        let other = expected
            .get(index % expected.len().max(1))
            .copied()
            .unwrap_or(0);
        difference |= byte ^ other;
    }
    difference == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use smtpwire::auth::{LoginCredentials, PlainCredentials, Secret};
    use smtpwire::Text;

    fn plain(user: &str, password: &str) -> Credentials {
        Credentials::Plain(
            PlainCredentials::new(
                None,
                Text::new(user).unwrap(),
                Secret::new(password).unwrap(),
            )
            .unwrap(),
        )
    }

    #[test]
    fn equality_needs_every_byte() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret!"));
        assert!(!constant_time_eq(b"secret", b"secre"));
        assert!(!constant_time_eq(b"", b"x"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn parses_lines_and_skips_comments() {
        let users = Users::parse("# comment\n\nalice:pa:ss\r\nbob:{PLAIN}{x}\n").unwrap();
        assert!(users.verify(&plain("alice", "pa:ss")));
        assert!(users.verify(&plain("bob", "{x}")));
        assert!(!users.verify(&plain("bob", "{PLAIN}{x}")));
        assert!(!users.verify(&plain("carol", "pa:ss")));
        assert!(Users::parse("nocolon\n").is_err());
    }

    #[test]
    fn hashed_lines_check_plain_and_login_passwords() {
        let line = format!("alice:{}\n", hash_password("correct horse").unwrap());
        let users = Users::parse(&line).unwrap();
        assert!(users.verify(&plain("alice", "correct horse")));
        assert!(!users.verify(&plain("alice", "correct hors")));
        let login = LoginCredentials::new(
            Text::new("alice").unwrap(),
            Secret::new("correct horse").unwrap(),
        )
        .unwrap();
        assert!(users.verify(&Credentials::Login(login)));
        assert!(users.scram_keys("alice", ScramHash::Sha256).is_some());
        assert!(users.scram_keys("alice", ScramHash::Sha1).is_none());
    }

    #[test]
    fn rfc7677_keys_as_dovecot_writes_them() {
        // The RFC 7677 §3 user: salt W22ZaJ0SNY7soEsUEjb6gQ==, password "pencil".
        let keys = StoredKeys::from_password(
            ScramHash::Sha256,
            "pencil",
            &STANDARD.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap(),
            4096,
        )
        .unwrap();
        let line = format!(
            "user:{{SCRAM-SHA-256}}4096,W22ZaJ0SNY7soEsUEjb6gQ==,{},{}\n",
            STANDARD.encode(keys.stored_key()),
            STANDARD.encode(keys.server_key())
        );
        let users = Users::parse(&line).unwrap();
        assert!(users.verify(&plain("user", "pencil")));
    }

    #[test]
    fn malformed_keys_are_refused_with_the_line() {
        for bad in [
            "a:{SCRAM-SHA-256}4096,c2FsdA==,AAAA\n",
            "a:{SCRAM-SHA-256}100,c2FsdA==,AAAA,AAAA\n",
            "a:{SCRAM-SHA-256}4096,c2FsdA==,AAAA,AAAA\n",
            "a:{SCRAM-SHA-256}x,c2FsdA==,AAAA,AAAA\n",
        ] {
            let error = Users::parse(bad).unwrap_err().to_string();
            assert!(error.starts_with("users file line 1:"), "{error}");
        }
    }

    #[test]
    fn plain_text_passwords_get_fresh_salts() {
        let a = Users::parse("alice:pw\n").unwrap();
        let b = Users::parse("alice:pw\n").unwrap();
        let salt = |users: &Users| {
            users
                .scram_keys("alice", ScramHash::Sha256)
                .unwrap()
                .salt()
                .to_vec()
        };
        assert_ne!(salt(&a), salt(&b));
    }
}
