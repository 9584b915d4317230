//! A server exchange never panics, ends after any error, and whatever
//! credentials it accepts survive a client re-encoding unchanged.

use smtpwire::auth::{ClientAuth, Credentials, Mechanism, ServerAuth, Step};

/// `data[0]` picks the mechanism (low two bits), whether the first line is
/// an initial response (bit 2) and whether to reject credentials with an
/// XOAUTH2 error (bit 3); the rest is client lines separated by LF.
pub fn check(data: &[u8]) {
    let Some((&control, rest)) = data.split_first() else {
        return;
    };
    let mechanism = match control & 0x03 {
        0 => Mechanism::Plain,
        1 => Mechanism::Login,
        2 => Mechanism::XOAuth2,
        _ => Mechanism::parse(b"CRAM-MD5").expect("well-formed name"),
    };
    let mut lines = rest.split(|b| *b == b'\n');
    let initial = if control & 0x04 != 0 {
        lines.next()
    } else {
        None
    };
    let Ok((mut auth, mut step)) = ServerAuth::start(&mechanism, initial) else {
        return;
    };
    loop {
        if let Step::Done(credentials) = &step {
            assert_reencodes(&mechanism, credentials);
            if control & 0x08 != 0 {
                step = auth.reject(Some(br#"{"status":"401"}"#));
                continue;
            }
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
    }
}
