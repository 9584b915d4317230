//! Whole exchanges, client and server, from the RFC examples, the error paths,
//! and client-encode → server-decode for arbitrary credentials.

use super::*;
use crate::limits;
use crate::text::TextError;
use crate::{EnhancedStatusCode, ReplyCode};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use proptest::prelude::*;

const GOOGLE_XOAUTH2: &[u8] = b"dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ==";
const GOOGLE_ERROR: &[u8] = b"eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiYmVhcmVyIG1hYyIsInNjb3BlIjoiaHR0cHM6Ly9tYWlsLmdvb2dsZS5jb20vIn0K";

fn text(s: &str) -> Text {
    Text::new(s).unwrap()
}

fn secret(s: &str) -> Secret {
    Secret::new(s).unwrap()
}

fn done(step: Step) -> Credentials {
    match step {
        Step::Done(creds) => creds,
        other => panic!("expected credentials, got {other:?}"),
    }
}

fn plain(step: Step) -> PlainCredentials {
    match done(step) {
        Credentials::Plain(creds) => creds,
        other => panic!("expected PLAIN, got {other:?}"),
    }
}

fn challenge(step: Step) -> Text {
    match step {
        Step::Challenge(text) => text,
        other => panic!("expected a challenge, got {other:?}"),
    }
}

fn start_err(mechanism: &Mechanism, initial: Option<&[u8]>) -> AuthError {
    ServerAuth::start(mechanism, initial).unwrap_err()
}

#[test]
fn rfc4954_plain_initial_response() {
    // RFC 4954 §4 example: authzid "test", authcid "test", password "1234".
    let (auth, step) = ServerAuth::start(&Mechanism::Plain, Some(b"dGVzdAB0ZXN0ADEyMzQ=")).unwrap();
    let creds = plain(step);
    assert_eq!(creds.authzid().unwrap(), "test");
    assert_eq!(creds.authcid(), "test");
    assert_eq!(creds.password().expose(), "1234");
    assert!(!auth.awaiting_response());
}

#[test]
fn rfc4954_plain_after_empty_challenge() {
    let (mut auth, step) = ServerAuth::start(&Mechanism::Plain, None).unwrap();
    assert_eq!(challenge(step), "");
    assert!(auth.awaiting_response());
    let creds = plain(auth.respond(b"dGVzdAB0ZXN0ADEyMzQ=").unwrap());
    assert_eq!(creds.authcid(), "test");
    assert_eq!(
        auth.respond(b"dGVzdAB0ZXN0ADEyMzQ=").unwrap_err(),
        AuthError::NotAwaitingResponse
    );
}

#[test]
fn rfc4616_examples() {
    // §4: no authzid, then "Kurt" acting as "Ursel".
    let (_, step) =
        ServerAuth::start(&Mechanism::Plain, Some(b"AHRpbQB0YW5zdGFhZnRhbnN0YWFm")).unwrap();
    let creds = plain(step);
    assert_eq!(creds.authzid(), None);
    assert_eq!(creds.authcid(), "tim");
    assert_eq!(creds.password().expose(), "tanstaaftanstaaf");

    let (_, step) =
        ServerAuth::start(&Mechanism::Plain, Some(b"VXJzZWwAS3VydAB4aXBqM3BsbXE=")).unwrap();
    let creds = plain(step);
    assert_eq!(creds.authzid().unwrap(), "Ursel");
    assert_eq!(creds.authcid(), "Kurt");
    assert_eq!(creds.password().expose(), "xipj3plmq");
}

#[test]
fn plain_carries_utf8() {
    // "\0jürgen\0päss§": RFC 4616 fields are UTF-8.
    let (_, step) =
        ServerAuth::start(&Mechanism::Plain, Some(b"AGrDvHJnZW4AcMOkc3PCpw==")).unwrap();
    let creds = plain(step);
    assert_eq!(creds.authcid(), "jürgen");
    assert_eq!(creds.password().expose(), "päss§");
}

#[test]
fn malformed_plain_messages() {
    let cases: [(&[u8], MalformedResponse); 6] = [
        (b"tim", MalformedResponse::PlainSeparators),
        (b"\0tim", MalformedResponse::PlainSeparators),
        (b"\0tim\0pw\0", MalformedResponse::PlainSeparators),
        (
            b"\0\0pw",
            MalformedResponse::Credentials(CredentialsError::Empty(Field::Authcid)),
        ),
        (
            b"\0tim\0",
            MalformedResponse::Credentials(CredentialsError::Empty(Field::Password)),
        ),
        (
            b"\0t\xffm\0pw",
            MalformedResponse::Encoding {
                field: Field::Authcid,
                source: TextError::InvalidUtf8 { offset: 1 },
            },
        ),
    ];
    for (message, expected) in cases {
        let encoded = message::encode(message);
        let err = start_err(&Mechanism::Plain, Some(encoded.as_bytes()));
        assert_eq!(err, AuthError::Malformed(expected), "{message:?}");
        assert_eq!(
            (err.reply_code(), err.enhanced_code()),
            (
                ReplyCode::new_const(501),
                EnhancedStatusCode::new_const(5, 5, 2)
            )
        );
    }
    // An identity with a line break could forge a trace header later.
    let encoded = message::encode(b"\0tim\r\n\0pw");
    assert!(matches!(
        start_err(&Mechanism::Plain, Some(encoded.as_bytes())),
        AuthError::Malformed(MalformedResponse::Encoding {
            field: Field::Authcid,
            ..
        })
    ));
}

#[test]
fn equals_sign_is_an_empty_initial_response() {
    // RFC 4954 §4: "=" is a zero-length initial response, which PLAIN refuses.
    assert_eq!(
        start_err(&Mechanism::Plain, Some(b"=")),
        AuthError::Malformed(MalformedResponse::PlainSeparators)
    );
    assert_eq!(
        start_err(&Mechanism::XOAuth2, Some(b"=")),
        AuthError::Malformed(MalformedResponse::XOAuth2Syntax)
    );
    // After a challenge, "=" is just bad base64.
    let (mut auth, _) = ServerAuth::start(&Mechanism::Plain, None).unwrap();
    assert_eq!(auth.respond(b"=").unwrap_err(), AuthError::BadBase64);
}

#[test]
fn login_two_steps() {
    let (mut auth, step) = ServerAuth::start(&Mechanism::Login, None).unwrap();
    assert_eq!(challenge(step), "VXNlcm5hbWU6");
    assert_eq!(challenge(auth.respond(b"dGlt").unwrap()), "UGFzc3dvcmQ6");
    let Credentials::Login(creds) = done(auth.respond(b"dGFuc3RhYWZ0YW5zdGFhZg==").unwrap()) else {
        panic!("expected LOGIN credentials");
    };
    assert_eq!(creds.username(), "tim");
    assert_eq!(creds.password().expose(), "tanstaaftanstaaf");
}

#[test]
fn login_takes_the_user_name_as_initial_response() {
    let (mut auth, step) = ServerAuth::start(&Mechanism::Login, Some(b"dGlt")).unwrap();
    assert_eq!(challenge(step), "UGFzc3dvcmQ6");
    assert_eq!(done(auth.respond(b"cHc=").unwrap()).identity(), "tim");
    assert_eq!(
        start_err(&Mechanism::Login, Some(b"=")),
        AuthError::Malformed(MalformedResponse::Credentials(CredentialsError::Empty(
            Field::Username
        )))
    );
}

#[test]
fn cancel_and_bad_base64() {
    for mechanism in [Mechanism::Plain, Mechanism::Login, Mechanism::XOAuth2] {
        let (mut auth, _) = ServerAuth::start(&mechanism, None).unwrap();
        let err = auth.respond(b"*").unwrap_err();
        assert_eq!(err, AuthError::Cancelled);
        assert_eq!(err.reply_code(), ReplyCode::PARAMETER_SYNTAX_ERROR);
        assert!(!auth.awaiting_response());

        let (mut auth, _) = ServerAuth::start(&mechanism, None).unwrap();
        assert_eq!(
            auth.respond(b"not base64!").unwrap_err(),
            AuthError::BadBase64
        );
        assert_eq!(
            auth.respond(b"dGlt").unwrap_err(),
            AuthError::NotAwaitingResponse
        );
    }
    let (mut auth, _) = ServerAuth::start(&Mechanism::Login, None).unwrap();
    let _ = auth.respond(b"dGlt").unwrap();
    assert_eq!(auth.respond(b"*").unwrap_err(), AuthError::Cancelled);
}

#[test]
fn unsupported_mechanism_is_504() {
    let cram = Mechanism::parse(b"CRAM-MD5").unwrap();
    let err = start_err(&cram, None);
    assert_eq!(err, AuthError::UnsupportedMechanism(cram));
    assert_eq!(
        (err.reply_code(), err.enhanced_code()),
        (
            ReplyCode::new_const(504),
            EnhancedStatusCode::new_const(5, 5, 4)
        )
    );
}

#[test]
fn over_long_lines_are_refused() {
    let line = alloc::vec![b'A'; 64];
    let (mut auth, _) = ServerAuth::start_with_max_line(&Mechanism::Plain, None, 66).unwrap();
    assert!(matches!(auth.respond(&line), Err(AuthError::Malformed(_))));
    let (mut auth, _) = ServerAuth::start_with_max_line(&Mechanism::Plain, None, 65).unwrap();
    let err = auth.respond(&line).unwrap_err();
    assert_eq!(err, AuthError::TooLong { limit: 65 });
    assert_eq!(
        (err.reply_code(), err.enhanced_code()),
        (
            ReplyCode::new_const(500),
            EnhancedStatusCode::new_const(5, 5, 6)
        )
    );
    assert_eq!(
        ServerAuth::start_with_max_line(&Mechanism::Plain, Some(&line), 65).unwrap_err(),
        AuthError::TooLong { limit: 65 }
    );
}

#[test]
fn xoauth2_success() {
    let (_, step) = ServerAuth::start(&Mechanism::XOAuth2, Some(GOOGLE_XOAUTH2)).unwrap();
    let Credentials::XOAuth2(creds) = done(step) else {
        panic!("expected XOAUTH2 credentials");
    };
    assert_eq!(creds.user(), "someuser@example.com");
    assert_eq!(
        creds.token().expose(),
        "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg"
    );

    let creds = Credentials::XOAuth2(creds);
    let mut client = ClientAuth::new(&Mechanism::XOAuth2, &creds).unwrap();
    assert_eq!(
        client.initial_response().unwrap().as_bytes(),
        GOOGLE_XOAUTH2
    );
}

#[test]
fn xoauth2_error_flow() {
    let creds = Credentials::XOAuth2(
        OAuthBearer::new(text("someuser@example.com"), secret("expired")).unwrap(),
    );
    let mut client = ClientAuth::new(&Mechanism::XOAuth2, &creds).unwrap();
    let initial = client.initial_response().unwrap();

    let (mut server, step) =
        ServerAuth::start(&Mechanism::XOAuth2, Some(initial.as_bytes())).unwrap();
    assert_eq!(done(step).identity(), "someuser@example.com");
    let json = br#"{"status":"401","schemes":"bearer mac","scope":"https://mail.google.com/"}
"#;
    let error = challenge(server.reject(Some(json)));
    assert_eq!(error.as_bytes(), GOOGLE_ERROR);
    assert!(server.awaiting_response());

    let answer = client.respond(error.as_bytes()).unwrap();
    assert_eq!(answer, "");
    assert_eq!(client.server_error(), Some(&json[..]));
    assert!(matches!(
        server.respond(answer.as_bytes()).unwrap(),
        Step::Failed
    ));
    assert!(!server.awaiting_response());
    assert_eq!(
        client.respond(b""),
        Err(ClientAuthError::UnexpectedChallenge)
    );
}

#[test]
fn reject_without_xoauth2_error_fails_at_once() {
    let (mut server, step) = ServerAuth::start(&Mechanism::XOAuth2, Some(GOOGLE_XOAUTH2)).unwrap();
    let _ = done(step);
    assert!(matches!(server.reject(None), Step::Failed));
    let (mut server, step) =
        ServerAuth::start(&Mechanism::Plain, Some(b"AHRpbQB0YW5zdGFhZnRhbnN0YWFm")).unwrap();
    let _ = done(step);
    assert!(matches!(server.reject(Some(b"{}")), Step::Failed));
}

#[test]
fn malformed_xoauth2_messages() {
    for message in [
        &b"user=u\x01auth=Bearer t\x01"[..],
        b"user=u\x01auth=Basic dDpw\x01\x01",
        b"auth=Bearer t\x01user=u\x01\x01",
        b"user=u\x01auth=Bearer\x01\x01",
        b"user=u\x01host=h\x01auth=Bearer t\x01\x01",
    ] {
        let encoded = message::encode(message);
        assert_eq!(
            start_err(&Mechanism::XOAuth2, Some(encoded.as_bytes())),
            AuthError::Malformed(MalformedResponse::XOAuth2Syntax),
            "{message:?}"
        );
    }
    let encoded = message::encode(b"user=u\x01auth=bearer \x01\x01");
    assert_eq!(
        start_err(&Mechanism::XOAuth2, Some(encoded.as_bytes())),
        AuthError::Malformed(MalformedResponse::Credentials(CredentialsError::Empty(
            Field::Token
        )))
    );
}

#[test]
fn client_plain_follows_rfc4954_example() {
    let creds = Credentials::Plain(
        PlainCredentials::new(Some(text("test")), text("test"), secret("1234")).unwrap(),
    );
    let mut client = ClientAuth::new(&Mechanism::Plain, &creds).unwrap();
    assert_eq!(client.initial_response().unwrap(), "dGVzdAB0ZXN0ADEyMzQ=");
    assert_eq!(client.initial_response(), None, "only once");
    assert_eq!(
        client.respond(b""),
        Err(ClientAuthError::UnexpectedChallenge)
    );

    // Without an initial response, the empty challenge gets the message.
    let mut client = ClientAuth::new(&Mechanism::Plain, &creds).unwrap();
    assert_eq!(client.respond(b"").unwrap(), "dGVzdAB0ZXN0ADEyMzQ=");
}

#[test]
fn client_sends_long_responses_after_the_challenge() {
    // RFC 4954 §4: an AUTH line over 512 octets must not carry the response.
    let token = "t".repeat(600);
    let creds = Credentials::XOAuth2(OAuthBearer::new(text("u"), secret(&token)).unwrap());
    let mut client = ClientAuth::new(&Mechanism::XOAuth2, &creds).unwrap();
    assert_eq!(client.initial_response(), None);
    let answer = client.respond(b"").unwrap();
    let (_, step) = ServerAuth::start(&Mechanism::XOAuth2, Some(answer.as_bytes())).unwrap();
    let Credentials::XOAuth2(decoded) = done(step) else {
        panic!("expected XOAUTH2 credentials");
    };
    assert_eq!(decoded.token().expose(), token);

    let huge = "t".repeat(limits::DEFAULT_MAX_AUTH_LINE);
    let creds = Credentials::XOAuth2(OAuthBearer::new(text("u"), secret(&huge)).unwrap());
    assert!(matches!(
        ClientAuth::new(&Mechanism::XOAuth2, &creds),
        Err(ClientAuthError::ResponseTooLong { .. })
    ));
}

#[test]
fn client_login_answers_by_order() {
    let creds = Credentials::Plain(PlainCredentials::new(None, text("tim"), secret("pw")).unwrap());
    let mut client = ClientAuth::new(&Mechanism::Login, &creds).unwrap();
    assert_eq!(client.initial_response(), None);
    // A server that words its prompts its own way still gets name, then password.
    assert_eq!(client.respond(b"VXNlciBOYW1lAA==").unwrap(), "dGlt");
    assert_eq!(client.respond(b"").unwrap(), "cHc=");
    assert_eq!(
        client.respond(b""),
        Err(ClientAuthError::UnexpectedChallenge)
    );
}

#[test]
fn client_refusals() {
    let creds = Credentials::Plain(
        PlainCredentials::new(Some(text("z")), text("tim"), secret("pw")).unwrap(),
    );
    assert_eq!(
        ClientAuth::new(&Mechanism::Login, &creds).unwrap_err(),
        ClientAuthError::CredentialsMismatch(Mechanism::Login)
    );
    assert_eq!(
        ClientAuth::new(&Mechanism::XOAuth2, &creds).unwrap_err(),
        ClientAuthError::CredentialsMismatch(Mechanism::XOAuth2)
    );
    let cram = Mechanism::parse(b"CRAM-MD5").unwrap();
    assert_eq!(
        ClientAuth::new(&cram, &creds).unwrap_err(),
        ClientAuthError::UnsupportedMechanism(cram)
    );
    let mut client = ClientAuth::new(&Mechanism::Plain, &creds).unwrap();
    assert_eq!(client.respond(b"%%%"), Err(ClientAuthError::BadChallenge));
    assert_eq!(client.cancel(), "*");
}

#[test]
fn server_debug_redacts_the_password_in_flight() {
    let (auth, _) = ServerAuth::start(&Mechanism::Login, Some(b"dGlt")).unwrap();
    let (_, step) =
        ServerAuth::start(&Mechanism::Plain, Some(b"AHRpbQB0YW5zdGFhZnRhbnN0YWFm")).unwrap();
    let shown = format!("{auth:?} {step:?}");
    assert!(!shown.contains("tanstaaf"), "{shown}");
    assert!(shown.contains("<redacted>"));
}

/// Identities: line-safe UTF-8 without the XOAUTH2 separator; secrets: any
/// UTF-8 without NUL or the separator, CR and LF included.
fn identity() -> impl Strategy<Value = Text> {
    "[^\u{0}\u{1}\r\n]{1,40}".prop_map(|s| Text::new(&s).unwrap())
}

fn password() -> impl Strategy<Value = Secret> {
    "[^\u{0}\u{1}]{1,40}".prop_map(|s: String| Secret::try_from(s).unwrap())
}

fn credentials() -> impl Strategy<Value = Credentials> {
    prop_oneof![
        (proptest::option::of(identity()), identity(), password())
            .prop_map(|(z, c, p)| { Credentials::Plain(PlainCredentials::new(z, c, p).unwrap()) }),
        (identity(), password())
            .prop_map(|(u, p)| Credentials::Login(LoginCredentials::new(u, p).unwrap())),
        (identity(), password())
            .prop_map(|(u, t)| Credentials::XOAuth2(OAuthBearer::new(u, t).unwrap())),
    ]
}

/// What a set of credentials says, secrets included, for comparison.
fn fields(creds: &Credentials) -> Vec<String> {
    let (a, b, c) = match creds {
        Credentials::Plain(p) => (
            p.authzid().map(|z| String::from(z.as_str())),
            p.authcid().as_str(),
            p.password().expose(),
        ),
        Credentials::Login(l) => (None, l.username().as_str(), l.password().expose()),
        Credentials::XOAuth2(o) => (None, o.user().as_str(), o.token().expose()),
        Credentials::Verified(v) => (
            v.authzid().map(|z| String::from(z.as_str())),
            v.authcid().as_str(),
            "",
        ),
    };
    alloc::vec![
        format!("{:?}", creds.mechanism()),
        format!("{a:?}"),
        b.into(),
        c.into()
    ]
}

/// Drives a client against a server, as a session would.
fn run(creds: &Credentials, use_initial: bool) -> Credentials {
    let mechanism = creds.mechanism();
    let mut client = ClientAuth::new(&mechanism, creds).unwrap();
    let initial = if use_initial {
        client.initial_response()
    } else {
        None
    };
    let (mut server, mut step) =
        ServerAuth::start(&mechanism, initial.as_ref().map(Text::as_bytes)).unwrap();
    for _ in 0..3 {
        match step {
            Step::Challenge(challenge) => {
                let answer = client.respond(challenge.as_bytes()).unwrap();
                step = server.respond(answer.as_bytes()).unwrap();
            }
            Step::Done(creds) => return creds,
            Step::Failed | Step::LookUpKeys(_) => panic!("exchange failed or asked for keys"),
        }
    }
    panic!("exchange did not finish");
}

proptest! {
    #[test]
    fn client_encode_server_decode(creds in credentials(), use_initial in any::<bool>()) {
        prop_assert_eq!(fields(&run(&creds, use_initial)), fields(&creds));
    }

    #[test]
    fn server_never_panics(
        mechanism in prop_oneof![Just(Mechanism::Plain), Just(Mechanism::Login), Just(Mechanism::XOAuth2)],
        initial in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..64)),
        lines in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..4),
    ) {
        if let Ok((mut auth, _)) = ServerAuth::start(&mechanism, initial.as_deref()) {
            for line in &lines {
                let _ = auth.respond(line);
            }
        }
    }

    #[test]
    fn server_never_panics_on_base64(
        mechanism in prop_oneof![Just(Mechanism::Plain), Just(Mechanism::Login), Just(Mechanism::XOAuth2)],
        messages in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 1..4),
    ) {
        let encoded: Vec<Text> = messages.iter().map(|m| message::encode(m)).collect();
        if let Ok((mut auth, _)) = ServerAuth::start(&mechanism, Some(encoded[0].as_bytes())) {
            for line in &encoded[1..] {
                let _ = auth.respond(line.as_bytes());
            }
        }
    }
}
