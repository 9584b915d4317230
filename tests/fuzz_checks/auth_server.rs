//! A server exchange never panics, ends after any error, and whatever
//! credentials it accepts survive a client re-encoding unchanged; a SCRAM
//! exchange only ever verifies the user whose keys it was given.

use std::sync::OnceLock;

use bytes::Bytes;
use smtpwire::auth::{
    ChannelBinding, ClientAuth, Credentials, Mechanism, ScramHash, ServerAuth, Step, StoredKeys,
};
use smtpwire::limits::DEFAULT_MAX_AUTH_LINE;

/// The one user SCRAM exchanges know: RFC 7677's "user" with "pencil".
const SCRAM_USER: &str = "user";

/// Made once: PBKDF2 is slow by design.
fn scram_keys() -> &'static StoredKeys {
    static KEYS: OnceLock<StoredKeys> = OnceLock::new();
    KEYS.get_or_init(|| {
        StoredKeys::from_password(ScramHash::Sha256, "pencil", b"fuzzing salt", 4096)
            .expect("valid keys")
    })
}

/// `data[0]` picks the mechanism (low two bits: PLAIN, LOGIN, XOAUTH2, an
/// unimplemented one; bit 4 makes it SCRAM-SHA-256, with bit 0
/// SCRAM-SHA-256-PLUS bound to a fixed channel), whether the first line is
/// an initial response (bit 2) and whether to reject credentials with an
/// XOAUTH2 error (bit 3); the rest is client lines separated by LF.
pub fn check(data: &[u8]) {
    let Some((&control, rest)) = data.split_first() else {
        return;
    };
    let mechanism = match (control & 0x10 != 0, control & 0x03) {
        (true, 1) => Mechanism::ScramSha256Plus,
        (true, _) => Mechanism::ScramSha256,
        (false, 0) => Mechanism::Plain,
        (false, 1) => Mechanism::Login,
        (false, 2) => Mechanism::XOAuth2,
        (false, _) => Mechanism::parse(b"CRAM-MD5").expect("well-formed name"),
    };
    let binding = ChannelBinding::TlsExporter(Bytes::from_static(&[0x5a; 32]));
    let mut lines = rest.split(|b| *b == b'\n');
    let initial = if control & 0x04 != 0 {
        lines.next()
    } else {
        None
    };
    let Ok((mut auth, mut step)) =
        ServerAuth::start_with_binding(&mechanism, initial, DEFAULT_MAX_AUTH_LINE, Some(&binding))
    else {
        return;
    };
    loop {
        match &step {
            Step::LookUpKeys(user) => {
                let keys = (user.username() == SCRAM_USER).then(scram_keys);
                match auth.supply_keys(keys, "server-nonce") {
                    Ok(next) => step = next,
                    Err(_) => return assert!(!auth.awaiting_response()),
                }
                continue;
            }
            Step::Done(Credentials::Verified(identity)) => {
                assert_eq!(identity.authcid(), SCRAM_USER);
            }
            Step::Done(credentials) => {
                assert_reencodes(&mechanism, credentials);
                if control & 0x08 != 0 {
                    step = auth.reject(Some(br#"{"status":"401"}"#));
                    continue;
                }
            }
            Step::Challenge(_) | Step::Failed => {}
        }
        let Some(line) = lines.next() else {
            return;
        };
        match auth.respond(line) {
            Ok(next) => step = next,
            Err(_) => {
                assert!(!auth.awaiting_response());
                return;
            }
        }
    }
}

fn assert_reencodes(mechanism: &Mechanism, credentials: &Credentials) {
    let mut client = ClientAuth::new(mechanism, credentials).expect("credentials fit");
    let answer = match client.initial_response() {
        Some(initial) => initial,
        None => client.respond(b"").expect("first challenge"),
    };
    let (mut server, mut step) =
        ServerAuth::start(mechanism, Some(answer.as_bytes())).expect("re-encoded response");
    while let Step::Challenge(challenge) = step {
        let answer = client.respond(challenge.as_bytes()).expect("answer");
        step = server
            .respond(answer.as_bytes())
            .expect("re-encoded response");
    }
    let Step::Done(again) = step else {
        panic!("re-encoded exchange failed");
    };
    assert_eq!(format!("{again:?}"), format!("{credentials:?}"));
    assert_eq!(secret(&again), secret(credentials));
}

fn secret(credentials: &Credentials) -> &str {
    match credentials {
        Credentials::Plain(creds) => creds.password().expose(),
        Credentials::Login(creds) => creds.password().expose(),
        Credentials::XOAuth2(creds) => creds.token().expose(),
        Credentials::Verified(_) => "",
    }
}
