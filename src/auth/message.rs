//! The byte formats inside the base64: PLAIN and XOAUTH2 messages and the
//! LOGIN prompts, shared by the client and server exchanges so that what one
//! side writes is by construction what the other reads.

use super::credentials::XOAUTH2_SEPARATOR;
use super::{Field, MalformedResponse, OAuthBearer, PlainCredentials, Secret};
use crate::Text;
use alloc::vec::Vec;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use bytes::Bytes;

/// LOGIN's first prompt, `Username:` in base64 (draft-murchison-sasl-login §2).
pub(crate) const LOGIN_USERNAME_PROMPT: &str = "VXNlcm5hbWU6";
/// LOGIN's second prompt, `Password:` in base64.
pub(crate) const LOGIN_PASSWORD_PROMPT: &str = "UGFzc3dvcmQ6";

/// PLAIN separates its fields with NUL (RFC 4616 §2).
const PLAIN_SEPARATOR: u8 = 0;

/// Base64 as RFC 4954 §4 requires it (RFC 4648 §4 alphabet, padded); the
/// output alphabet is ASCII letters, digits, `+`, `/` and `=`, so always
/// line-safe.
pub(crate) fn encode(bytes: &[u8]) -> Text {
    Text::from_parsed(Bytes::from(STANDARD.encode(bytes)))
}

/// Strict base64: canonical padding, no whitespace, no stray bits.
pub(crate) fn decode(line: &[u8]) -> Result<Vec<u8>, base64::DecodeError> {
    STANDARD.decode(line)
}

/// `[authzid] NUL authcid NUL passwd` (RFC 4616 §2).
pub(crate) fn encode_plain(creds: &PlainCredentials) -> Vec<u8> {
    let authzid = creds.authzid().map_or(&[][..], Text::as_bytes);
    let authcid = creds.authcid().as_bytes();
    let password = creds.password().expose().as_bytes();
    let mut out = Vec::with_capacity(authzid.len() + authcid.len() + password.len() + 2);
    out.extend_from_slice(authzid);
    out.push(PLAIN_SEPARATOR);
    out.extend_from_slice(authcid);
    out.push(PLAIN_SEPARATOR);
    out.extend_from_slice(password);
    out
}

pub(crate) fn decode_plain(message: &[u8]) -> Result<PlainCredentials, MalformedResponse> {
    let mut fields = message.split(|b| *b == PLAIN_SEPARATOR);
    let (Some(authzid), Some(authcid), Some(password), None) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return Err(MalformedResponse::PlainSeparators);
    };
    let authzid = if authzid.is_empty() {
        None
    } else {
        Some(identity(authzid, Field::Authzid)?)
    };
    Ok(PlainCredentials::new(
        authzid,
        identity(authcid, Field::Authcid)?,
        secret(password, Field::Password)?,
    )?)
}

const XOAUTH2_USER_KEY: &[u8] = b"user=";
const XOAUTH2_AUTH_KEY: &[u8] = b"auth=";
const BEARER_SCHEME: &[u8] = b"Bearer ";
const XOAUTH2_END: &[u8] = &[XOAUTH2_SEPARATOR, XOAUTH2_SEPARATOR];

/// `user=` user `^A` `auth=Bearer ` token `^A^A`, the format Google and
/// Microsoft document for XOAUTH2.
pub(crate) fn encode_xoauth2(creds: &OAuthBearer) -> Vec<u8> {
    let user = creds.user().as_bytes();
    let token = creds.token().expose().as_bytes();
    let mut out = Vec::with_capacity(
        XOAUTH2_USER_KEY.len()
            + user.len()
            + 1
            + XOAUTH2_AUTH_KEY.len()
            + BEARER_SCHEME.len()
            + token.len()
            + XOAUTH2_END.len(),
    );
    out.extend_from_slice(XOAUTH2_USER_KEY);
    out.extend_from_slice(user);
    out.push(XOAUTH2_SEPARATOR);
    out.extend_from_slice(XOAUTH2_AUTH_KEY);
    out.extend_from_slice(BEARER_SCHEME);
    out.extend_from_slice(token);
    out.extend_from_slice(XOAUTH2_END);
    out
}

pub(crate) fn decode_xoauth2(message: &[u8]) -> Result<OAuthBearer, MalformedResponse> {
    let body = message
        .strip_suffix(XOAUTH2_END)
        .ok_or(MalformedResponse::XOAuth2Syntax)?;
    let mut fields = body.split(|b| *b == XOAUTH2_SEPARATOR);
    let (Some(user), Some(auth), None) = (fields.next(), fields.next(), fields.next()) else {
        return Err(MalformedResponse::XOAuth2Syntax);
    };
    let user = user
        .strip_prefix(XOAUTH2_USER_KEY)
        .ok_or(MalformedResponse::XOAuth2Syntax)?;
    let credentials = auth
        .strip_prefix(XOAUTH2_AUTH_KEY)
        .ok_or(MalformedResponse::XOAuth2Syntax)?;
    // The scheme name is case-insensitive (RFC 6750 §2.1, RFC 9110 §11.1).
    let (scheme, token) = credentials
        .split_at_checked(BEARER_SCHEME.len())
        .ok_or(MalformedResponse::XOAuth2Syntax)?;
    if !scheme.eq_ignore_ascii_case(BEARER_SCHEME) {
        return Err(MalformedResponse::XOAuth2Syntax);
    }
    Ok(OAuthBearer::new(
        identity(user, Field::User)?,
        secret(token, Field::Token)?,
    )?)
}

/// A decoded identity field; it must be line-safe UTF-8.
pub(crate) fn identity(bytes: &[u8], field: Field) -> Result<Text, MalformedResponse> {
    Text::from_bytes(Bytes::copy_from_slice(bytes))
        .map_err(|source| MalformedResponse::Encoding { field, source })
}

/// A decoded password or token field; it must be UTF-8 without NUL.
pub(crate) fn secret(bytes: &[u8], field: Field) -> Result<Secret, MalformedResponse> {
    Secret::from_wire(bytes).map_err(|source| MalformedResponse::Encoding { field, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_prompts_are_the_draft_texts() {
        assert_eq!(encode(b"Username:"), LOGIN_USERNAME_PROMPT);
        assert_eq!(encode(b"Password:"), LOGIN_PASSWORD_PROMPT);
    }

    #[test]
    fn base64_is_strict() {
        assert!(decode(b"dGVzdA==").is_ok());
        assert!(decode(b"dGVzdA").is_err(), "missing padding");
        assert!(decode(b"dGVz dA==").is_err(), "inner space");
        assert!(decode(b"dGVzdB==").is_err(), "non-zero trailing bits");
        assert_eq!(decode(b"").unwrap(), b"");
    }
}
