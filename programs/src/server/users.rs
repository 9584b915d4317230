//! The users file (`user:password` lines) and credential checks that take the
//! same time whether the first, the last or no byte differs.

use std::collections::HashMap;
use std::io;
use std::path::Path;

use smtpwire::auth::Credentials;

/// Who may authenticate, with their passwords.
#[derive(Debug, Default, Clone)]
pub struct Users {
    passwords: HashMap<String, String>,
}

impl Users {
    /// Reads `user:password` lines; blank lines and lines starting with `#`
    /// are skipped. The password is everything after the first `:`.
    pub fn load(path: &Path) -> io::Result<Self> {
        Self::parse(&std::fs::read_to_string(path)?)
    }

    /// Parses the contents of a users file.
    pub fn parse(contents: &str) -> io::Result<Self> {
        let mut passwords = HashMap::new();
        for (number, line) in contents.lines().enumerate() {
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((user, password)) = line.split_once(':') else {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("users file line {}: expected user:password", number + 1),
                ));
            };
            passwords.insert(user.to_string(), password.to_string());
        }
        Ok(Users { passwords })
    }

    /// Whether the credentials name a known user with the right password.
    /// PLAIN may not ask to act as someone else (an authzid other than the
    /// authcid); XOAUTH2 tokens are never valid here.
    pub fn verify(&self, credentials: &Credentials) -> bool {
        let (user, password) = match credentials {
            Credentials::Plain(plain) => {
                if plain.authzid().is_some_and(|id| id != plain.authcid()) {
                    return false;
                }
                (plain.authcid().as_str(), plain.password().expose())
            }
            Credentials::Login(login) => (login.username().as_str(), login.password().expose()),
            _ => return false,
        };
        // An unknown user is still compared against something, so the answer
        // takes as long as for a known one.
        let (known, expected) = match self.passwords.get(user) {
            Some(expected) => (true, expected.as_str()),
            None => (false, "\u{0}unknown user"),
        };
        let matches = constant_time_eq(expected.as_bytes(), password.as_bytes());
        known & matches
    }
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
        let users = Users::parse("# comment\n\nalice:pa:ss\r\nbob:x\n").unwrap();
        assert_eq!(users.passwords["alice"], "pa:ss");
        assert_eq!(users.passwords["bob"], "x");
        assert!(Users::parse("nocolon\n").is_err());
    }
}
