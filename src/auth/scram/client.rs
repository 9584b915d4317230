//! The client's side of a SCRAM exchange (RFC 5802 §5).

use super::keys::{client_proof, server_signature, signatures_match, DerivedKeys};
use super::messages::{self, CbindFlag, ServerFinal};
use super::prep::saslprep;
use super::{ChannelBinding, ScramClientError, ScramHash, MAX_ITERATIONS, MIN_ITERATIONS};
use crate::auth::Field;
use alloc::string::String;
use alloc::vec::Vec;

/// Where the client is in the exchange.
#[derive(Clone)]
enum State {
    /// client-first sent (or about to be); server-first is next.
    AwaitingServerFirst {
        password: String,
    },
    /// client-final sent; the server's signature is next.
    AwaitingServerFinal {
        expected_signature: Vec<u8>,
    },
    /// The server proved itself.
    Verified,
    Failed,
}

/// The client side of one SCRAM exchange, without the SMTP framing:
/// it takes and gives the decoded messages.
#[derive(Clone)]
pub(crate) struct ScramClient {
    hash: ScramHash,
    gs2_header: String,
    /// The data `c=` carries after the gs2 header, for `p=`.
    binding_data: Vec<u8>,
    client_first_bare: String,
    nonce: String,
    state: State,
}

impl core::fmt::Debug for ScramClient {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ScramClient")
            .field("hash", &self.hash)
            .field("gs2_header", &self.gs2_header)
            .finish_non_exhaustive()
    }
}

impl ScramClient {
    /// Prepares an exchange. With `plus`, it binds to `channel_binding`
    /// (`p=`); without, it says `y` when it has binding data (it could bind,
    /// but the server did not offer `-PLUS`, which the server then checks,
    /// RFC 5802 §6) and `n` when it has none.
    pub(crate) fn new(
        hash: ScramHash,
        plus: bool,
        authzid: Option<&str>,
        username: &str,
        password: &str,
        nonce: &str,
        channel_binding: Option<&ChannelBinding>,
    ) -> Result<Self, ScramClientError> {
        if !messages::is_nonce(nonce) {
            return Err(ScramClientError::InvalidNonce);
        }
        let (cbind, binding_data) = match (plus, channel_binding) {
            (true, Some(binding)) => (CbindFlag::Bound(binding.name()), binding.data().to_vec()),
            (true, None) => return Err(ScramClientError::MissingChannelBinding),
            (false, Some(_)) => (CbindFlag::ClientOnly, Vec::new()),
            (false, None) => (CbindFlag::No, Vec::new()),
        };
        let prepare = |value: &str, field: Field| {
            saslprep(value)
                .map(alloc::borrow::Cow::into_owned)
                .ok_or(ScramClientError::Saslprep(field))
        };
        let authzid = authzid
            .map(|authzid| prepare(authzid, Field::Authzid))
            .transpose()?;
        let username = prepare(username, Field::Authcid)?;
        let password = prepare(password, Field::Password)?;
        Ok(ScramClient {
            hash,
            gs2_header: messages::gs2_header(&cbind, authzid.as_deref()),
            binding_data,
            client_first_bare: messages::client_first_bare(&username, nonce),
            nonce: String::from(nonce),
            state: State::AwaitingServerFirst { password },
        })
    }

    /// client-first-message.
    pub(crate) fn client_first(&self) -> String {
        alloc::format!("{}{}", self.gs2_header, self.client_first_bare)
    }

    /// Answers server-first with client-final, or server-final with the
    /// empty response that lets the server send its 235 (RFC 4954 §4).
    pub(crate) fn respond(&mut self, message: &[u8]) -> Result<String, ScramClientError> {
        let state = core::mem::replace(&mut self.state, State::Failed);
        let message = core::str::from_utf8(message).map_err(|_| ScramClientError::Malformed)?;
        match state {
            State::AwaitingServerFirst { password } => self.client_final(message, &password),
            State::AwaitingServerFinal { expected_signature } => {
                match messages::parse_server_final(message) {
                    Ok(ServerFinal::Verifier(signature))
                        if signatures_match(&signature, &expected_signature) =>
                    {
                        self.state = State::Verified;
                        Ok(String::new())
                    }
                    Ok(ServerFinal::Verifier(_)) => Err(ScramClientError::BadServerSignature),
                    Ok(ServerFinal::Error(error)) => Err(ScramClientError::Server(error)),
                    Err(_) => Err(ScramClientError::Malformed),
                }
            }
            State::Verified | State::Failed => Err(ScramClientError::Malformed),
        }
    }

    fn client_final(&mut self, message: &str, password: &str) -> Result<String, ScramClientError> {
        let first = messages::parse_server_first(message).map_err(|error| match error {
            super::ScramError::ExtensionsNotSupported => ScramClientError::Server(error),
            _ => ScramClientError::Malformed,
        })?;
        // RFC 5802 §5.1: the server appends its part to the client's nonce.
        if first.nonce.len() <= self.nonce.len() || !first.nonce.starts_with(&self.nonce) {
            return Err(ScramClientError::NonceMismatch);
        }
        if !(MIN_ITERATIONS..=MAX_ITERATIONS).contains(&first.iterations) {
            return Err(ScramClientError::Iterations(first.iterations));
        }
        let keys = DerivedKeys::derive(self.hash, password, &first.salt, first.iterations);
        let mut binding = self.gs2_header.clone().into_bytes();
        binding.extend_from_slice(&self.binding_data);
        let without_proof = messages::client_final_without_proof(&binding, first.nonce);
        let auth_message = messages::auth_message(&self.client_first_bare, message, &without_proof);
        let proof = client_proof(
            self.hash,
            &keys.client_key,
            &keys.stored_key,
            auth_message.as_bytes(),
        );
        self.state = State::AwaitingServerFinal {
            expected_signature: server_signature(
                self.hash,
                &keys.server_key,
                auth_message.as_bytes(),
            ),
        };
        Ok(messages::with_proof(&without_proof, &proof))
    }

    /// Whether the server has proved it knows the password.
    pub(crate) fn is_verified(&self) -> bool {
        matches!(self.state, State::Verified)
    }
}
