//! The RFC 5802 §3 key derivations, over SHA-1 or SHA-256.

use super::prep::saslprep;
use super::{ScramHash, StoredKeys, StoredKeysError, MIN_ITERATIONS};
use alloc::vec::Vec;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

const CLIENT_KEY: &[u8] = b"Client Key";
const SERVER_KEY: &[u8] = b"Server Key";

/// `HMAC(key, parts...)`.
fn mac<M: Mac + hmac::digest::KeyInit>(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    // HMAC takes keys of any length (RFC 2104 §2 hashes longer ones), so
    // `new_from_slice` has no error to give. Were it ever to, an empty
    // output fails every comparison it goes into: nothing verifies.
    let Ok(mut mac) = <M as hmac::digest::KeyInit>::new_from_slice(key) else {
        return Vec::new();
    };
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().to_vec()
}

impl ScramHash {
    /// `HMAC(key, parts joined)`.
    pub(crate) fn hmac(self, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        match self {
            ScramHash::Sha1 => mac::<Hmac<Sha1>>(key, parts),
            ScramHash::Sha256 => mac::<Hmac<Sha256>>(key, parts),
        }
    }

    /// `H(data)`.
    pub(crate) fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            ScramHash::Sha1 => Sha1::digest(data).to_vec(),
            ScramHash::Sha256 => Sha256::digest(data).to_vec(),
        }
    }

    /// `SaltedPassword := Hi(password, salt, i)`, which is PBKDF2 with
    /// HMAC-H and an output as long as H's (RFC 5802 §2.2).
    pub(crate) fn salted_password(self, password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
        let mut out = alloc::vec![0; self.output_len()];
        match self {
            ScramHash::Sha1 => pbkdf2::pbkdf2_hmac::<Sha1>(password, salt, iterations, &mut out),
            ScramHash::Sha256 => {
                pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut out);
            }
        }
        out
    }
}

/// The client's keys, derived from the password; what the proof and the
/// server's signature are checked with.
pub(crate) struct DerivedKeys {
    pub(crate) client_key: Vec<u8>,
    pub(crate) stored_key: Vec<u8>,
    pub(crate) server_key: Vec<u8>,
}

impl DerivedKeys {
    /// RFC 5802 §3 from an already prepared password.
    pub(crate) fn derive(hash: ScramHash, password: &str, salt: &[u8], iterations: u32) -> Self {
        let salted = hash.salted_password(password.as_bytes(), salt, iterations);
        let client_key = hash.hmac(&salted, &[CLIENT_KEY]);
        DerivedKeys {
            stored_key: hash.digest(&client_key),
            server_key: hash.hmac(&salted, &[SERVER_KEY]),
            client_key,
        }
    }
}

/// `ClientProof := ClientKey XOR HMAC(StoredKey, AuthMessage)`.
pub(crate) fn client_proof(
    hash: ScramHash,
    client_key: &[u8],
    stored_key: &[u8],
    auth_message: &[u8],
) -> Vec<u8> {
    let signature = hash.hmac(stored_key, &[auth_message]);
    client_key
        .iter()
        .zip(&signature)
        .map(|(key, sig)| key ^ sig)
        .collect()
}

/// Whether `proof` is right for `keys`: the ClientKey it yields hashes to
/// StoredKey (RFC 5802 §3), compared in constant time.
pub(crate) fn proof_verifies(keys: &StoredKeys, auth_message: &[u8], proof: &[u8]) -> bool {
    if proof.len() != keys.hash.output_len() {
        return false;
    }
    let client_key = client_proof(keys.hash, proof, &keys.stored_key, auth_message);
    keys.hash.digest(&client_key).ct_eq(&keys.stored_key).into()
}

/// `ServerSignature := HMAC(ServerKey, AuthMessage)`.
pub(crate) fn server_signature(hash: ScramHash, server_key: &[u8], auth_message: &[u8]) -> Vec<u8> {
    hash.hmac(server_key, &[auth_message])
}

/// Constant-time equality of two signatures.
pub(crate) fn signatures_match(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

impl StoredKeys {
    /// The keys for `password` with `salt` and `iterations`: what a server
    /// stores when a password is set. The salt should be at least 16 random
    /// octets, new for each password (RFC 5802 §9); the password is prepared
    /// with SASLprep first (RFC 5802 §2.2).
    ///
    /// ```
    /// use smtpwire::auth::{ScramHash, StoredKeys};
    ///
    /// let keys = StoredKeys::from_password(ScramHash::Sha256, "pencil", b"salt of 16 bytes", 4096).unwrap();
    /// assert_eq!(keys.stored_key().len(), 32);
    /// assert!(StoredKeys::from_password(ScramHash::Sha256, "pencil", b"salt", 4095).is_err());
    /// ```
    pub fn from_password(
        hash: ScramHash,
        password: &str,
        salt: &[u8],
        iterations: u32,
    ) -> Result<Self, StoredKeysError> {
        if salt.is_empty() {
            return Err(StoredKeysError::EmptySalt);
        }
        if iterations < MIN_ITERATIONS {
            return Err(StoredKeysError::TooFewIterations(iterations));
        }
        let password = saslprep(password).ok_or(StoredKeysError::Saslprep)?;
        let keys = DerivedKeys::derive(hash, &password, salt, iterations);
        StoredKeys::new(
            hash,
            salt.to_vec(),
            iterations,
            keys.stored_key,
            keys.server_key,
        )
    }
}
