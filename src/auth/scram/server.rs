//! The server's side of a SCRAM exchange (RFC 5802 §5), checking the
//! client's proof against the [`StoredKeys`] the caller looked up.

use super::keys::{proof_verifies, server_signature};
use super::messages::{self, CbindFlag};
use super::prep::saslprep;
use super::{
    ChannelBinding, ScramError, ScramHash, ScramUser, StandInSecret, StoredKeys, MIN_ITERATIONS,
};
use crate::Text;
use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;

/// Salt length of the stand-in keys for unknown users.
const STAND_IN_SALT: usize = 16;

/// What the exchange asks of its caller next.
#[derive(Debug)]
pub(crate) enum ScramStep {
    /// Send this message as a challenge.
    Challenge(String),
    /// Look up the keys of this user, then call [`ScramServer::supply_keys`].
    LookUpKeys(ScramUser),
    /// The client proved the password: its identity.
    Verified {
        username: Text,
        authzid: Option<Text>,
    },
    /// The exchange failed (after the client acknowledged an `e=`).
    Failed,
}

#[derive(Debug, Clone)]
enum State {
    AwaitingClientFirst,
    AwaitingKeys(Box<FirstSeen>),
    AwaitingClientFinal(Box<FirstSeen>, String, Option<StoredKeys>),
    /// The server-final went out; the client's empty answer is next.
    AwaitingAck(Option<(Text, Option<Text>)>),
    Finished,
}

/// What the client-first said, kept for the rest of the exchange.
#[derive(Debug, Clone)]
struct FirstSeen {
    gs2_header: String,
    bare: String,
    client_nonce: String,
    username: Text,
    authzid: Option<Text>,
}

/// The server side of one SCRAM exchange, on decoded messages.
#[derive(Debug, Clone)]
pub(crate) struct ScramServer {
    hash: ScramHash,
    plus: bool,
    /// The connection's binding when the server offers `-PLUS`.
    channel_binding: Option<ChannelBinding>,
    /// What unknown users' salts are derived from, when the server has it.
    stand_in: Option<StandInSecret>,
    state: State,
}

impl ScramServer {
    /// An exchange of `hash`, with channel binding when `plus`.
    /// `channel_binding` is the connection's binding data when the server
    /// offers `-PLUS` on it, `None` when it does not.
    pub(crate) fn new(
        hash: ScramHash,
        plus: bool,
        channel_binding: Option<ChannelBinding>,
    ) -> Self {
        ScramServer {
            hash,
            plus,
            channel_binding,
            stand_in: None,
            state: State::AwaitingClientFirst,
        }
    }

    /// Derives unknown users' salts from `secret`.
    pub(crate) fn set_stand_in_secret(&mut self, secret: &StandInSecret) {
        self.stand_in = Some(secret.clone());
    }

    /// Takes one decoded client message.
    pub(crate) fn respond(&mut self, message: &[u8]) -> Result<ScramStep, ScramError> {
        let state = core::mem::replace(&mut self.state, State::Finished);
        match state {
            State::AwaitingClientFirst => {
                let message =
                    core::str::from_utf8(message).map_err(|_| ScramError::InvalidEncoding)?;
                self.client_first(message)
            }
            State::AwaitingClientFinal(first, server_first, keys) => {
                let outcome = core::str::from_utf8(message)
                    .map_err(|_| ScramError::InvalidEncoding)
                    .and_then(|message| {
                        self.client_final(&first, &server_first, keys.as_ref(), message)
                    });
                // Errors found here are the server-final's `e=` (RFC 5802
                // §7); the client answers it and the exchange fails then.
                Ok(ScramStep::Challenge(match outcome {
                    Ok(signature) => {
                        self.state = State::AwaitingAck(Some((first.username, first.authzid)));
                        messages::server_final(&signature)
                    }
                    Err(error) => {
                        self.state = State::AwaitingAck(None);
                        messages::server_error(error)
                    }
                }))
            }
            // Whatever the client answers to the server-final, the outcome
            // is decided.
            State::AwaitingAck(Some((username, authzid))) => {
                Ok(ScramStep::Verified { username, authzid })
            }
            State::AwaitingAck(None) => Ok(ScramStep::Failed),
            State::AwaitingKeys(_) | State::Finished => Err(ScramError::OtherError),
        }
    }

    fn client_first(&mut self, message: &str) -> Result<ScramStep, ScramError> {
        let first = messages::parse_client_first(message)?;
        match (&first.cbind, self.plus, &self.channel_binding) {
            (CbindFlag::Bound(name), true, Some(binding)) if *name == binding.name() => {}
            (CbindFlag::Bound(_), true, Some(_)) => {
                return Err(ScramError::UnsupportedChannelBindingType)
            }
            (CbindFlag::Bound(_), true, None) => {
                return Err(ScramError::ChannelBindingNotSupported)
            }
            // -PLUS is channel binding; a flag that refuses it has no place.
            (CbindFlag::No | CbindFlag::ClientOnly, true, _) => {
                return Err(ScramError::ChannelBindingNotSupported)
            }
            // Binding with a mechanism that has none.
            (CbindFlag::Bound(_), false, _) => return Err(ScramError::OtherError),
            // RFC 5802 §6: the client could bind and thought the server
            // could not, yet this server offers -PLUS: a downgrade.
            (CbindFlag::ClientOnly, false, Some(_)) => {
                return Err(ScramError::ServerDoesSupportChannelBinding)
            }
            (CbindFlag::ClientOnly | CbindFlag::No, false, _) => {}
        }
        let prepared = |value: &str| {
            saslprep(value)
                .and_then(|prepared| Text::new(&prepared).ok())
                .ok_or(ScramError::InvalidUsernameEncoding)
        };
        let username = prepared(&first.username)?;
        let authzid = first.authzid.as_deref().map(prepared).transpose()?;
        let user = ScramUser::new(self.hash, username.clone(), authzid.clone());
        self.state = State::AwaitingKeys(Box::new(FirstSeen {
            gs2_header: String::from(first.gs2_header),
            bare: String::from(first.bare),
            client_nonce: String::from(first.nonce),
            username,
            authzid,
        }));
        Ok(ScramStep::LookUpKeys(user))
    }

    /// Goes on with the user's keys (`None` for a user that does not exist
    /// or has no keys for this hash) and the server's part of the nonce.
    ///
    /// For a missing user the exchange runs on with stand-in keys, salted
    /// from the user name so that asking twice gets the same salt, and
    /// fails at the proof with `invalid-proof`, as a wrong password does:
    /// RFC 5802 §9 leaves it to the server not to tell which names exist.
    pub(crate) fn supply_keys(
        &mut self,
        keys: Option<&StoredKeys>,
        nonce: &str,
    ) -> Result<ScramStep, ScramError> {
        let State::AwaitingKeys(first) = core::mem::replace(&mut self.state, State::Finished)
        else {
            return Err(ScramError::OtherError);
        };
        if !messages::is_nonce(nonce) {
            return Err(ScramError::NoResources);
        }
        let keys = keys.filter(|keys| keys.hash() == self.hash);
        let (salt, iterations) = match keys {
            Some(keys) => (keys.salt().to_vec(), keys.iterations()),
            None => (self.stand_in_salt(&first.username), MIN_ITERATIONS),
        };
        let combined = alloc::format!("{}{nonce}", first.client_nonce);
        let server_first = messages::server_first(&combined, &salt, iterations);
        self.state = State::AwaitingClientFinal(first, server_first.clone(), keys.cloned());
        Ok(ScramStep::Challenge(server_first))
    }

    fn stand_in_salt(&self, username: &Text) -> Vec<u8> {
        let key = match &self.stand_in {
            Some(secret) => &secret.octets()[..],
            None => b"smtpwire SCRAM unknown user",
        };
        let mut salt = self.hash.hmac(key, &[username.as_bytes()]);
        salt.truncate(STAND_IN_SALT);
        salt
    }

    /// Checks client-final and gives the server's signature.
    fn client_final(
        &self,
        first: &FirstSeen,
        server_first: &str,
        keys: Option<&StoredKeys>,
        message: &str,
    ) -> Result<Vec<u8>, ScramError> {
        let last = messages::parse_client_final(message)?;
        let mut expected = first.gs2_header.clone().into_bytes();
        if self.plus {
            if let Some(binding) = &self.channel_binding {
                expected.extend_from_slice(binding.data());
            }
        }
        if last.channel_binding != expected {
            return Err(ScramError::ChannelBindingsDontMatch);
        }
        // The nonce must be the one the server sent, both halves.
        let sent = server_first
            .strip_prefix("r=")
            .and_then(|rest| rest.split(',').next());
        if sent != Some(last.nonce) {
            return Err(ScramError::OtherError);
        }
        let auth_message = messages::auth_message(&first.bare, server_first, last.without_proof);
        let keys = keys.ok_or(ScramError::InvalidProof)?;
        if !proof_verifies(keys, auth_message.as_bytes(), &last.proof) {
            return Err(ScramError::InvalidProof);
        }
        Ok(server_signature(
            self.hash,
            keys.server_key(),
            auth_message.as_bytes(),
        ))
    }

    /// Whether the exchange expects a client message (not keys, not done).
    pub(crate) fn awaiting_response(&self) -> bool {
        matches!(
            self.state,
            State::AwaitingClientFirst | State::AwaitingClientFinal(..) | State::AwaitingAck(_)
        )
    }

    /// Whether the exchange waits for [`supply_keys`](Self::supply_keys).
    pub(crate) fn awaiting_keys(&self) -> bool {
        matches!(self.state, State::AwaitingKeys(_))
    }
}
