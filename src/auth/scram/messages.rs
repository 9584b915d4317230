//! The SCRAM messages of RFC 5802 §7: written by one side, read by the
//! other, so that what our client sends is by construction what our
//! server reads.

use super::ScramError;
use alloc::string::String;
use alloc::vec::Vec;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

/// The gs2-cbind-flag (RFC 5802 §7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CbindFlag<'a> {
    /// `n`: the client does not support channel binding.
    No,
    /// `y`: the client does, but thinks the server does not.
    ClientOnly,
    /// `p=name`: the client binds to channel binding type `name`.
    Bound(&'a str),
}

/// A client-first-message, read.
#[derive(Debug)]
pub(crate) struct ClientFirst<'a> {
    /// `n,,`, `y,a=name,` or `p=tls-exporter,,`, exactly as sent: the
    /// client-final's `c=` repeats it.
    pub(crate) gs2_header: &'a str,
    pub(crate) cbind: CbindFlag<'a>,
    pub(crate) authzid: Option<String>,
    pub(crate) username: String,
    pub(crate) nonce: &'a str,
    /// client-first-message-bare, the start of the AuthMessage.
    pub(crate) bare: &'a str,
}

/// A server-first-message, read.
#[derive(Debug)]
pub(crate) struct ServerFirst<'a> {
    pub(crate) nonce: &'a str,
    pub(crate) salt: Vec<u8>,
    pub(crate) iterations: u32,
}

/// A client-final-message, read.
#[derive(Debug)]
pub(crate) struct ClientFinal<'a> {
    pub(crate) channel_binding: Vec<u8>,
    pub(crate) nonce: &'a str,
    /// client-final-message-without-proof, the end of the AuthMessage.
    pub(crate) without_proof: &'a str,
    pub(crate) proof: Vec<u8>,
}

/// A server-final-message, read.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ServerFinal {
    Verifier(Vec<u8>),
    Error(ScramError),
}

/// `saslname` (RFC 5802 §7): `,` and `=` escaped as `=2C` and `=3D`.
pub(crate) fn escape(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        match c {
            ',' => out.push_str("=2C"),
            '=' => out.push_str("=3D"),
            c => out.push(c),
        }
    }
    out
}

/// Undoes [`escape`]; any other `=` sequence, and an empty name, is an
/// invalid-username-encoding.
pub(crate) fn unescape(name: &str) -> Result<String, ScramError> {
    if name.is_empty() {
        return Err(ScramError::InvalidUsernameEncoding);
    }
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(at) = rest.find('=') {
        out.push_str(&rest[..at]);
        let after = &rest[at..];
        if after.starts_with("=2C") {
            out.push(',');
        } else if after.starts_with("=3D") {
            out.push('=');
        } else {
            return Err(ScramError::InvalidUsernameEncoding);
        }
        rest = &after[3..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Whether `nonce` is `printable` (RFC 5802 §7: %x21-2B / %x2D-7E), the
/// alphabet of nonces, non-empty.
pub(crate) fn is_nonce(nonce: &str) -> bool {
    !nonce.is_empty()
        && nonce
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && b != b',')
}

/// `key=value` with the one-letter `key`, or an invalid-encoding.
fn attribute(field: Option<&str>, key: char) -> Result<&str, ScramError> {
    field
        .and_then(|field| field.strip_prefix(key))
        .and_then(|rest| rest.strip_prefix('='))
        .ok_or(ScramError::InvalidEncoding)
}

fn base64(value: &str) -> Result<Vec<u8>, ScramError> {
    STANDARD
        .decode(value)
        .map_err(|_| ScramError::InvalidEncoding)
}

/// Optional extensions after the fixed attributes: each must be
/// `letter=value`; `m=` is reserved for mandatory ones and refused
/// (RFC 5802 §5.1).
fn check_extensions<'a>(fields: impl Iterator<Item = &'a str>) -> Result<(), ScramError> {
    for field in fields {
        let mut chars = field.chars();
        match (chars.next(), chars.next()) {
            (Some('m'), Some('=')) => return Err(ScramError::ExtensionsNotSupported),
            (Some(key), Some('=')) if key.is_ascii_alphabetic() => {}
            _ => return Err(ScramError::InvalidEncoding),
        }
    }
    Ok(())
}

/// The gs2 header, `flag,[a=authzid],`.
pub(crate) fn gs2_header(cbind: &CbindFlag<'_>, authzid: Option<&str>) -> String {
    let mut header = String::new();
    match cbind {
        CbindFlag::No => header.push('n'),
        CbindFlag::ClientOnly => header.push('y'),
        CbindFlag::Bound(name) => {
            header.push_str("p=");
            header.push_str(name);
        }
    }
    header.push(',');
    if let Some(authzid) = authzid {
        header.push_str("a=");
        header.push_str(&escape(authzid));
    }
    header.push(',');
    header
}

/// client-first-message-bare, `n=user,r=nonce`.
pub(crate) fn client_first_bare(username: &str, nonce: &str) -> String {
    alloc::format!("n={},r={nonce}", escape(username))
}

pub(crate) fn parse_client_first(message: &str) -> Result<ClientFirst<'_>, ScramError> {
    let (flag, rest) = message.split_once(',').ok_or(ScramError::InvalidEncoding)?;
    let (authzid, bare) = rest.split_once(',').ok_or(ScramError::InvalidEncoding)?;
    let gs2_header = message
        .get(..flag.len() + authzid.len() + 2)
        .ok_or(ScramError::InvalidEncoding)?;
    let cbind = match flag {
        "n" => CbindFlag::No,
        "y" => CbindFlag::ClientOnly,
        _ => {
            let name = flag.strip_prefix("p=").ok_or(ScramError::InvalidEncoding)?;
            // cb-name: letters, digits, '.', '-' (RFC 5802 §7).
            let well_formed = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
            if !well_formed {
                return Err(ScramError::InvalidEncoding);
            }
            CbindFlag::Bound(name)
        }
    };
    let authzid = match authzid {
        "" => None,
        _ => Some(unescape(attribute(Some(authzid), 'a')?)?),
    };
    let mut fields = bare.split(',');
    let first = fields.next();
    if first.is_some_and(|field| field.starts_with("m=")) {
        return Err(ScramError::ExtensionsNotSupported);
    }
    let username = unescape(attribute(first, 'n')?)?;
    let nonce = attribute(fields.next(), 'r')?;
    if !is_nonce(nonce) {
        return Err(ScramError::InvalidEncoding);
    }
    check_extensions(fields)?;
    Ok(ClientFirst {
        gs2_header,
        cbind,
        authzid,
        username,
        nonce,
        bare,
    })
}

/// server-first-message, `r=nonce,s=salt,i=count`.
pub(crate) fn server_first(nonce: &str, salt: &[u8], iterations: u32) -> String {
    alloc::format!("r={nonce},s={},i={iterations}", STANDARD.encode(salt))
}

pub(crate) fn parse_server_first(message: &str) -> Result<ServerFirst<'_>, ScramError> {
    let mut fields = message.split(',');
    let first = fields.next();
    if first.is_some_and(|field| field.starts_with("m=")) {
        return Err(ScramError::ExtensionsNotSupported);
    }
    let nonce = attribute(first, 'r')?;
    let salt = base64(attribute(fields.next(), 's')?)?;
    let iterations = attribute(fields.next(), 'i')?;
    // posit-number: no sign, no leading zero.
    if iterations.starts_with('0') || !iterations.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ScramError::InvalidEncoding);
    }
    let iterations = iterations
        .parse()
        .map_err(|_| ScramError::InvalidEncoding)?;
    if !is_nonce(nonce) || salt.is_empty() {
        return Err(ScramError::InvalidEncoding);
    }
    check_extensions(fields)?;
    Ok(ServerFirst {
        nonce,
        salt,
        iterations,
    })
}

/// client-final-message-without-proof, `c=binding,r=nonce`.
pub(crate) fn client_final_without_proof(channel_binding: &[u8], nonce: &str) -> String {
    alloc::format!("c={},r={nonce}", STANDARD.encode(channel_binding))
}

/// Adds `,p=proof` to [`client_final_without_proof`].
pub(crate) fn with_proof(without_proof: &str, proof: &[u8]) -> String {
    alloc::format!("{without_proof},p={}", STANDARD.encode(proof))
}

pub(crate) fn parse_client_final(message: &str) -> Result<ClientFinal<'_>, ScramError> {
    // The proof comes last (RFC 5802 §7).
    let (without_proof, proof) = message
        .rsplit_once(",p=")
        .ok_or(ScramError::InvalidEncoding)?;
    let proof = base64(proof)?;
    let mut fields = without_proof.split(',');
    let channel_binding = base64(attribute(fields.next(), 'c')?)?;
    let nonce = attribute(fields.next(), 'r')?;
    check_extensions(fields)?;
    Ok(ClientFinal {
        channel_binding,
        nonce,
        without_proof,
        proof,
    })
}

/// server-final-message with the verifier, `v=signature`.
pub(crate) fn server_final(signature: &[u8]) -> String {
    alloc::format!("v={}", STANDARD.encode(signature))
}

/// server-final-message with an error, `e=value`.
pub(crate) fn server_error(error: ScramError) -> String {
    alloc::format!("e={}", error.as_str())
}

pub(crate) fn parse_server_final(message: &str) -> Result<ServerFinal, ScramError> {
    let mut fields = message.split(',');
    let first = fields.next().unwrap_or_default();
    let outcome = if let Some(error) = first.strip_prefix("e=") {
        ServerFinal::Error(ScramError::parse(error))
    } else {
        ServerFinal::Verifier(base64(attribute(Some(first), 'v')?)?)
    };
    check_extensions(fields)?;
    Ok(outcome)
}

/// `AuthMessage := client-first-message-bare "," server-first-message ","
/// client-final-message-without-proof` (RFC 5802 §3).
pub(crate) fn auth_message(
    client_first_bare: &str,
    server_first: &str,
    without_proof: &str,
) -> String {
    alloc::format!("{client_first_bare},{server_first},{without_proof}")
}
