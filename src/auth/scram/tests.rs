//! SCRAM against the RFC test vectors, each `e=` path, the `y` downgrade
//! check, and our client against our server.

use super::messages;
use super::*;
use crate::auth::{
    AuthError, ClientAuth, ClientAuthError, Credentials, PlainCredentials, Secret, ServerAuth, Step,
};
use crate::Text;
use alloc::string::String;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

fn b64(text: &str) -> String {
    STANDARD.encode(text)
}

fn unb64(text: &Text) -> String {
    String::from_utf8(STANDARD.decode(text.as_str()).unwrap()).unwrap()
}

fn creds(authzid: Option<&str>, user: &str, password: &str) -> Credentials {
    Credentials::Plain(
        PlainCredentials::new(
            authzid.map(|a| Text::new(a).unwrap()),
            Text::new(user).unwrap(),
            Secret::new(password).unwrap(),
        )
        .unwrap(),
    )
}

fn challenge(step: Step) -> Text {
    match step {
        Step::Challenge(text) => text,
        other => panic!("expected a challenge, got {other:?}"),
    }
}

fn binding(data: &[u8]) -> ChannelBinding {
    ChannelBinding::TlsExporter(bytes::Bytes::copy_from_slice(data))
}

// RFC 7677 §3.
const SHA256_CLIENT_NONCE: &str = "rOprNGfwEbeRWgbNEkqO";
const SHA256_SERVER_NONCE: &str = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
const SHA256_SALT: &str = "W22ZaJ0SNY7soEsUEjb6gQ==";
const SHA256_SERVER_FIRST: &str =
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
const SHA256_CLIENT_FINAL: &str = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
const SHA256_SERVER_FINAL: &str = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

fn pencil_keys() -> StoredKeys {
    let salt = STANDARD.decode(SHA256_SALT).unwrap();
    StoredKeys::from_password(ScramHash::Sha256, "pencil", &salt, 4096).unwrap()
}

#[test]
fn rfc7677_client_vector() {
    let mut client = ClientAuth::with_nonce(
        &Mechanism::ScramSha256,
        &creds(None, "user", "pencil"),
        Some(SHA256_CLIENT_NONCE),
        None,
    )
    .unwrap();
    let first = client.initial_response().unwrap();
    assert_eq!(unb64(&first), "n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
    let last = client.respond(b64(SHA256_SERVER_FIRST).as_bytes()).unwrap();
    assert_eq!(unb64(&last), SHA256_CLIENT_FINAL);
    assert_eq!(
        client.check_success(),
        Err(ScramClientError::ServerNotVerified.into())
    );
    let ack = client.respond(b64(SHA256_SERVER_FINAL).as_bytes()).unwrap();
    assert_eq!(ack, "");
    assert_eq!(client.check_success(), Ok(()));
}

#[test]
fn rfc7677_server_vector() {
    let first = b64("n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
    let (mut server, step) =
        ServerAuth::start(&Mechanism::ScramSha256, Some(first.as_bytes())).unwrap();
    let Step::LookUpKeys(user) = step else {
        panic!("expected a key lookup, got {step:?}")
    };
    assert_eq!(user.username(), "user");
    assert_eq!(user.authzid(), None);
    assert_eq!(user.hash(), ScramHash::Sha256);
    let server_first = challenge(
        server
            .supply_keys(Some(&pencil_keys()), SHA256_SERVER_NONCE)
            .unwrap(),
    );
    assert_eq!(unb64(&server_first), SHA256_SERVER_FIRST);
    let server_final = challenge(server.respond(b64(SHA256_CLIENT_FINAL).as_bytes()).unwrap());
    assert_eq!(unb64(&server_final), SHA256_SERVER_FINAL);
    assert!(server.awaiting_response());
    let Step::Done(Credentials::Verified(identity)) = server.respond(b"").unwrap() else {
        panic!("expected a verified identity")
    };
    assert_eq!(identity.authcid(), "user");
    assert_eq!(identity.mechanism(), &Mechanism::ScramSha256);
    assert!(!server.awaiting_response());
}

#[test]
fn rfc5802_sha1_client_vector() {
    // RFC 5802 §5.
    let mut client = ClientAuth::with_nonce(
        &Mechanism::ScramSha1,
        &creds(None, "user", "pencil"),
        Some("fyko+d2lbbFgONRv9qkxdawL"),
        None,
    )
    .unwrap();
    assert_eq!(
        unb64(&client.initial_response().unwrap()),
        "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL"
    );
    let server_first = "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096";
    assert_eq!(
        unb64(&client.respond(b64(server_first).as_bytes()).unwrap()),
        "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="
    );
    client
        .respond(b64("v=rmF9pqV8S7suAoZWja4dJRkFsKQ=").as_bytes())
        .unwrap();
    assert_eq!(client.check_success(), Ok(()));
}

#[test]
fn server_does_not_run_sha1() {
    assert!(matches!(
        ServerAuth::start(&Mechanism::ScramSha1, None),
        Err(AuthError::UnsupportedMechanism(_))
    ));
}

#[test]
fn stored_keys_need_enough_iterations_and_a_salt() {
    assert_eq!(
        StoredKeys::from_password(ScramHash::Sha256, "pencil", b"salt", 4095),
        Err(StoredKeysError::TooFewIterations(4095))
    );
    assert_eq!(
        StoredKeys::from_password(ScramHash::Sha256, "pencil", b"", 4096),
        Err(StoredKeysError::EmptySalt)
    );
    assert_eq!(
        StoredKeys::new(
            ScramHash::Sha256,
            b"s".to_vec(),
            4096,
            alloc::vec![0; 20],
            alloc::vec![0; 32]
        ),
        Err(StoredKeysError::KeyLength(20))
    );
    let keys = pencil_keys();
    assert!(!alloc::format!("{keys:?}").contains("stored_key"));
}

#[test]
fn client_refuses_few_or_too_many_iterations() {
    for count in ["4095", "10000001"] {
        let mut client = ClientAuth::with_nonce(
            &Mechanism::ScramSha256,
            &creds(None, "user", "pencil"),
            Some("abc"),
            None,
        )
        .unwrap();
        client.initial_response();
        let first = alloc::format!("r=abcdef,s=c2FsdA==,i={count}");
        assert!(matches!(
            client.respond(b64(&first).as_bytes()),
            Err(ClientAuthError::Scram(ScramClientError::Iterations(_)))
        ));
    }
}

#[test]
fn client_refuses_a_nonce_that_does_not_extend_its_own() {
    for server_nonce in ["xyz123", "abc"] {
        let mut client = ClientAuth::with_nonce(
            &Mechanism::ScramSha256,
            &creds(None, "user", "pencil"),
            Some("abc"),
            None,
        )
        .unwrap();
        client.initial_response();
        let first = alloc::format!("r={server_nonce},s=c2FsdA==,i=4096");
        assert_eq!(
            client.respond(b64(&first).as_bytes()),
            Err(ClientAuthError::Scram(ScramClientError::NonceMismatch))
        );
    }
}

#[test]
fn client_checks_the_server_signature_and_reports_server_errors() {
    let run = |server_final: &str| {
        let mut client = ClientAuth::with_nonce(
            &Mechanism::ScramSha256,
            &creds(None, "user", "pencil"),
            Some(SHA256_CLIENT_NONCE),
            None,
        )
        .unwrap();
        client.initial_response();
        client.respond(b64(SHA256_SERVER_FIRST).as_bytes()).unwrap();
        client.respond(b64(server_final).as_bytes())
    };
    assert_eq!(
        run("v=AAAATRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="),
        Err(ScramClientError::BadServerSignature.into())
    );
    assert_eq!(
        run("e=invalid-proof"),
        Err(ScramClientError::Server(ScramError::InvalidProof).into())
    );
    assert_eq!(
        run("e=some-future-error"),
        Err(ScramClientError::Server(ScramError::OtherError).into())
    );
    assert_eq!(run("x=1"), Err(ScramClientError::Malformed.into()));
}

#[test]
fn client_needs_a_good_nonce_and_binding_for_plus() {
    let user = creds(None, "user", "pencil");
    assert_eq!(
        ClientAuth::new(&Mechanism::ScramSha256, &user).unwrap_err(),
        ScramClientError::MissingNonce.into()
    );
    for nonce in ["", "a,b", "caf\u{e9}", "a b"] {
        assert_eq!(
            ClientAuth::with_nonce(&Mechanism::ScramSha256, &user, Some(nonce), None).unwrap_err(),
            ScramClientError::InvalidNonce.into()
        );
    }
    assert_eq!(
        ClientAuth::with_nonce(&Mechanism::ScramSha256Plus, &user, Some("n"), None).unwrap_err(),
        ScramClientError::MissingChannelBinding.into()
    );
}

#[test]
fn gs2_headers_and_escaping() {
    let first = |mechanism: &Mechanism, authzid, user, cb: Option<&ChannelBinding>| {
        let mut client =
            ClientAuth::with_nonce(mechanism, &creds(authzid, user, "pw"), Some("N"), cb).unwrap();
        unb64(&client.initial_response().unwrap())
    };
    let cb = binding(&[7; 32]);
    assert_eq!(
        first(&Mechanism::ScramSha256, None, "u", None),
        "n,,n=u,r=N"
    );
    assert_eq!(
        first(&Mechanism::ScramSha256, None, "u", Some(&cb)),
        "y,,n=u,r=N"
    );
    assert_eq!(
        first(
            &Mechanism::ScramSha256Plus,
            Some("a=b,c"),
            "x,y=z",
            Some(&cb)
        ),
        "p=tls-exporter,a=a=3Db=2Cc,n=x=2Cy=3Dz,r=N"
    );
    assert_eq!(messages::unescape("a=2Cb=3D").unwrap(), "a,b=");
    for bad in ["a=2", "a=41", "=", ""] {
        assert_eq!(
            messages::unescape(bad),
            Err(ScramError::InvalidUsernameEncoding)
        );
    }
}

#[test]
fn saslprep_of_names_and_passwords() {
    let prepared =
        |password: &str| StoredKeys::from_password(ScramHash::Sha256, password, b"salt", 4096);
    // RFC 4013 §3: soft hyphen maps to nothing, non-ASCII space to space.
    #[cfg(feature = "saslprep")]
    {
        assert_eq!(prepared("I\u{ad}X").unwrap(), prepared("IX").unwrap());
        assert_eq!(prepared("a\u{a0}b").unwrap(), prepared("a b").unwrap());
        // NFKC: the ligature "ﬁ" is "fi", the Roman numeral Ⅸ is "IX".
        assert_eq!(prepared("\u{2168}").unwrap(), prepared("IX").unwrap());
        // Prohibited: a control character; bidi: RandALCat mixed with LCat.
        assert_eq!(prepared("\u{7}"), Err(StoredKeysError::Saslprep));
        assert_eq!(prepared("\u{627}1"), Err(StoredKeysError::Saslprep));
        let mut client = ClientAuth::with_nonce(
            &Mechanism::ScramSha256,
            &creds(None, "\u{2168}", "pw"),
            Some("N"),
            None,
        )
        .unwrap();
        assert_eq!(unb64(&client.initial_response().unwrap()), "n,,n=IX,r=N");
    }
    #[cfg(not(feature = "saslprep"))]
    assert_eq!(prepared("I\u{ad}X"), Err(StoredKeysError::Saslprep));
    assert_eq!(prepared(""), Err(StoredKeysError::Saslprep));
    assert_eq!(
        ClientAuth::with_nonce(
            &Mechanism::ScramSha256,
            &creds(None, "u", "\u{7}"),
            Some("N"),
            None
        )
        .unwrap_err(),
        ScramClientError::Saslprep(crate::auth::Field::Password).into()
    );
}

/// Runs our client against our server; `server_binding` is what the
/// server sees and offers -PLUS with, `client_binding` what the client
/// sees. Returns the server's outcome and the client's last error.
fn exchange(
    mechanism: &Mechanism,
    user: &Credentials,
    keys: Option<&StoredKeys>,
    client_binding: Option<&ChannelBinding>,
    server_binding: Option<&ChannelBinding>,
) -> (Result<Step, AuthError>, Result<(), ClientAuthError>) {
    let mut client =
        ClientAuth::with_nonce(mechanism, user, Some("client-nonce"), client_binding).unwrap();
    let first = client.initial_response().unwrap();
    let started = ServerAuth::start_with_binding(
        mechanism,
        Some(first.as_bytes()),
        crate::limits::DEFAULT_MAX_AUTH_LINE,
        server_binding,
    );
    let (mut server, mut step) = match started {
        Ok(started) => started,
        Err(error) => return (Err(error), Ok(())),
    };
    if let Step::LookUpKeys(_) = step {
        step = server.supply_keys(keys, "server-nonce").unwrap();
    }
    let mut client_result = Ok(());
    loop {
        match step {
            Step::Challenge(text) => {
                let answer = match client.respond(text.as_bytes()) {
                    Ok(answer) => answer,
                    Err(error) => {
                        client_result = Err(error);
                        Text::default()
                    }
                };
                match server.respond(answer.as_bytes()) {
                    Ok(next) => step = next,
                    Err(error) => return (Err(error), client_result),
                }
            }
            Step::Done(_) => {
                return (Ok(step), client_result.and(client.check_success()));
            }
            other => return (Ok(other), client_result),
        }
    }
}

#[test]
fn our_client_against_our_server() {
    let keys = pencil_keys();
    let (server, client) = exchange(
        &Mechanism::ScramSha256,
        &creds(Some("boss"), "user", "pencil"),
        Some(&keys),
        None,
        None,
    );
    let Ok(Step::Done(Credentials::Verified(identity))) = server else {
        panic!("expected success, got {server:?}")
    };
    assert_eq!(identity.authzid().unwrap(), "boss");
    assert_eq!(client, Ok(()));
}

#[test]
fn plus_binds_to_the_channel() {
    let keys = pencil_keys();
    let user = creds(None, "user", "pencil");
    let ours = binding(&[1; 32]);
    let (server, client) = exchange(
        &Mechanism::ScramSha256Plus,
        &user,
        Some(&keys),
        Some(&ours),
        Some(&ours),
    );
    assert!(matches!(server, Ok(Step::Done(Credentials::Verified(_)))));
    assert_eq!(client, Ok(()));
    // A man in the middle has two TLS connections, with two bindings.
    let theirs = binding(&[2; 32]);
    let (server, client) = exchange(
        &Mechanism::ScramSha256Plus,
        &user,
        Some(&keys),
        Some(&theirs),
        Some(&ours),
    );
    assert!(matches!(server, Ok(Step::Failed)), "{server:?}");
    assert_eq!(
        client,
        Err(ScramClientError::Server(ScramError::ChannelBindingsDontMatch).into())
    );
}

#[test]
fn y_flag_to_a_server_offering_plus_is_a_downgrade() {
    let keys = pencil_keys();
    let user = creds(None, "user", "pencil");
    let cb = binding(&[1; 32]);
    let (server, _) = exchange(
        &Mechanism::ScramSha256,
        &user,
        Some(&keys),
        Some(&cb),
        Some(&cb),
    );
    assert_eq!(
        server.unwrap_err(),
        AuthError::Scram(ScramError::ServerDoesSupportChannelBinding)
    );
    // The same client to a server without -PLUS is fine.
    let (server, client) = exchange(&Mechanism::ScramSha256, &user, Some(&keys), Some(&cb), None);
    assert!(matches!(server, Ok(Step::Done(_))));
    assert_eq!(client, Ok(()));
}

#[test]
fn wrong_password_and_unknown_user_fail_alike() {
    let keys = pencil_keys();
    let (server, client) = exchange(
        &Mechanism::ScramSha256,
        &creds(None, "user", "pen"),
        Some(&keys),
        None,
        None,
    );
    assert!(matches!(server, Ok(Step::Failed)));
    assert_eq!(
        client,
        Err(ScramClientError::Server(ScramError::InvalidProof).into())
    );
    let (server, client) = exchange(
        &Mechanism::ScramSha256,
        &creds(None, "nobody", "pencil"),
        None,
        None,
        None,
    );
    assert!(matches!(server, Ok(Step::Failed)));
    assert_eq!(
        client,
        Err(ScramClientError::Server(ScramError::InvalidProof).into())
    );
    // Keys for another hash are no keys.
    let sha1 = StoredKeys::from_password(ScramHash::Sha1, "pencil", b"salt", 4096).unwrap();
    let (server, _) = exchange(
        &Mechanism::ScramSha256,
        &creds(None, "user", "pencil"),
        Some(&sha1),
        None,
        None,
    );
    assert!(matches!(server, Ok(Step::Failed)));
}

#[test]
fn unknown_users_get_the_same_salt_each_time() {
    let salt_for = |name: &str, secret: Option<[u8; 32]>, nonce: &str| {
        let first = b64(&alloc::format!("n,,n={name},r=abc"));
        let (mut server, _) =
            ServerAuth::start(&Mechanism::ScramSha256, Some(first.as_bytes())).unwrap();
        if let Some(secret) = secret {
            server.set_stand_in_secret(&StandInSecret::new(secret));
        }
        let server_first = unb64(&challenge(server.supply_keys(None, nonce).unwrap()));
        String::from(server_first.split(',').nth(1).unwrap())
    };
    assert_eq!(
        salt_for("nobody", None, "one"),
        salt_for("nobody", None, "two")
    );
    // With a secret: the same for a name every time, another for another
    // name or secret, and not the salt anyone can derive without it.
    let ours = Some([1; 32]);
    assert_eq!(
        salt_for("nobody", ours, "one"),
        salt_for("nobody", ours, "two")
    );
    assert_ne!(
        salt_for("nobody", ours, "one"),
        salt_for("someone", ours, "one")
    );
    assert_ne!(
        salt_for("nobody", ours, "one"),
        salt_for("nobody", Some([2; 32]), "one")
    );
    assert_ne!(
        salt_for("nobody", ours, "one"),
        salt_for("nobody", None, "one")
    );
}

/// Feeds client-first, then (when it gets that far) client-final, and
/// returns the server-final's `e=` or the error that ended it early.
fn server_error(
    mechanism: &Mechanism,
    binding: Option<&ChannelBinding>,
    first: &str,
    last: &str,
) -> ScramError {
    let started = ServerAuth::start_with_binding(
        mechanism,
        Some(b64(first).as_bytes()),
        crate::limits::DEFAULT_MAX_AUTH_LINE,
        binding,
    );
    let (mut server, _) = match started {
        Ok(started) => started,
        Err(AuthError::Scram(error)) => return error,
        Err(other) => panic!("{other:?}"),
    };
    let server_first = unb64(&challenge(
        server.supply_keys(Some(&pencil_keys()), "S").unwrap(),
    ));
    let nonce = server_first.split(',').next().unwrap();
    let last = last.replace("{r}", nonce);
    let final_message = unb64(&challenge(server.respond(b64(&last).as_bytes()).unwrap()));
    assert!(matches!(server.respond(b"").unwrap(), Step::Failed));
    ScramError::parse(final_message.strip_prefix("e=").unwrap())
}

#[test]
fn every_server_error_value() {
    let plain = &Mechanism::ScramSha256;
    let plus = &Mechanism::ScramSha256Plus;
    let cb = binding(&[9; 32]);
    let ok_last = "c=biws,{r},p=AAAA";
    let cases: &[(&Mechanism, Option<&ChannelBinding>, &str, &str, ScramError)] = &[
        (
            plain,
            None,
            "n,,n=user",
            ok_last,
            ScramError::InvalidEncoding,
        ),
        (
            plain,
            None,
            "x,,n=user,r=a",
            ok_last,
            ScramError::InvalidEncoding,
        ),
        (
            plain,
            None,
            "n,,m=ext,n=user,r=a",
            ok_last,
            ScramError::ExtensionsNotSupported,
        ),
        (
            plain,
            None,
            "n,,n=user,r=a,m=ext",
            ok_last,
            ScramError::ExtensionsNotSupported,
        ),
        (
            plain,
            None,
            "n,,n=us=41er,r=a",
            ok_last,
            ScramError::InvalidUsernameEncoding,
        ),
        (
            plain,
            None,
            "n,,n=\u{7},r=a",
            ok_last,
            ScramError::InvalidUsernameEncoding,
        ),
        (
            plain,
            Some(&cb),
            "y,,n=user,r=a",
            ok_last,
            ScramError::ServerDoesSupportChannelBinding,
        ),
        (
            plain,
            None,
            "p=tls-exporter,,n=user,r=a",
            ok_last,
            ScramError::OtherError,
        ),
        (
            plus,
            Some(&cb),
            "p=tls-unique,,n=user,r=a",
            ok_last,
            ScramError::UnsupportedChannelBindingType,
        ),
        (
            plus,
            Some(&cb),
            "n,,n=user,r=a",
            ok_last,
            ScramError::ChannelBindingNotSupported,
        ),
        (
            plain,
            None,
            "n,,n=user,r=a",
            "c=eSws,{r},p=AAAA",
            ScramError::ChannelBindingsDontMatch,
        ),
        (
            plain,
            None,
            "n,,n=user,r=a",
            "c=biws,r=a-other,p=AAAA",
            ScramError::OtherError,
        ),
        (
            plain,
            None,
            "n,,n=user,r=a",
            "c=biws,{r},p=AAAA",
            ScramError::InvalidProof,
        ),
        (
            plain,
            None,
            "n,,n=user,r=a",
            "c=biws,{r}",
            ScramError::InvalidEncoding,
        ),
        (
            plain,
            None,
            "n,,n=user,r=a",
            "c=biws,{r},p=!!",
            ScramError::InvalidEncoding,
        ),
    ];
    for (mechanism, binding, first, last, expected) in cases {
        assert_eq!(
            server_error(mechanism, *binding, first, last),
            *expected,
            "{first} / {last}"
        );
    }
    assert!(ScramError::InvalidEncoding.is_syntax());
    assert!(!ScramError::InvalidProof.is_syntax());
    for error in ScramError::ALL {
        assert_eq!(ScramError::parse(error.as_str()), error);
    }
}

#[test]
fn plus_needs_a_binding_on_the_server() {
    assert!(matches!(
        ServerAuth::start(&Mechanism::ScramSha256Plus, None),
        Err(AuthError::UnsupportedMechanism(_))
    ));
}

#[test]
fn client_first_may_follow_an_empty_challenge() {
    let (mut server, step) = ServerAuth::start(&Mechanism::ScramSha256, None).unwrap();
    assert_eq!(challenge(step), "");
    let mut client = ClientAuth::with_nonce(
        &Mechanism::ScramSha256,
        &creds(None, "user", "pencil"),
        Some("N"),
        None,
    )
    .unwrap();
    let first = client.respond(b"").unwrap();
    assert!(matches!(
        server.respond(first.as_bytes()).unwrap(),
        Step::LookUpKeys(_)
    ));
    assert!(!server.awaiting_response());
    // A client line while keys are awaited is a caller error.
    assert!(server.respond(b"eA==").is_err());
}

#[test]
fn a_bad_server_nonce_from_the_caller_is_no_resources() {
    let first = b64("n,,n=user,r=abc");
    let (mut server, _) =
        ServerAuth::start(&Mechanism::ScramSha256, Some(first.as_bytes())).unwrap();
    assert_eq!(
        server.supply_keys(Some(&pencil_keys()), "a,b").unwrap_err(),
        AuthError::Scram(ScramError::NoResources)
    );
    assert!(!server.awaiting_response());
    // Unknown users are not told apart (`unknown-user` is never sent):
    // see wrong_password_and_unknown_user_fail_alike.
}
