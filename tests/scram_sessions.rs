#![cfg(feature = "scram")]
//! SCRAM between a ClientSession and a ServerSession in memory, through
//! STARTTLS with a pass-through "TLS" whose channel binding each side is
//! given: SCRAM-SHA-256-PLUS when both see the same channel, a refusal when
//! a man in the middle makes them see two, plain SCRAM-SHA-256 without
//! binding, and -PLUS never offered without a channel to bind to.

use std::sync::Arc;

use bytes::Bytes;
use smtpwire::auth::{
    ChannelBinding, ClientAuthError, Credentials, Mechanism, PlainCredentials, ScramClientError,
    ScramError, ScramHash, Secret, StoredKeys,
};
use smtpwire::client::{
    AuthConfig, ClientConfig, ClientEvent, ClientSession, SessionError, StartTlsPolicy,
};
use smtpwire::server::{AuthPolicy, ServerConfig, ServerEvent, ServerSession};
use smtpwire::{ClientOutput, Domain, ServerOutput, Text};

struct Setup {
    offered: Vec<Mechanism>,
    client_binding: Option<[u8; 32]>,
    server_binding: Option<[u8; 32]>,
    password: &'static str,
}

#[derive(Debug, Default)]
struct Outcome {
    client_events: Vec<ClientEvent>,
    /// The authcid of each identity the server saw verified.
    verified: Vec<String>,
    ehlo_after_tls: String,
}

fn binding(data: [u8; 32]) -> ChannelBinding {
    ChannelBinding::TlsExporter(Bytes::copy_from_slice(&data))
}

fn run(setup: &Setup) -> Outcome {
    let keys =
        StoredKeys::from_password(ScramHash::Sha256, "pencil", b"sixteen octets!!", 4096).unwrap();
    let mut server_config = ServerConfig::new(Text::from_static("mx.example.org"));
    server_config.capabilities.starttls = true;
    server_config.capabilities.auth = setup.offered.clone();
    server_config.auth_policy = AuthPolicy::TlsOnly;
    let mut server = ServerSession::new(Arc::new(server_config));

    let user = PlainCredentials::new(
        None,
        Text::from_static("user"),
        Secret::new(setup.password).unwrap(),
    )
    .unwrap();
    let auth = AuthConfig::new(Credentials::Plain(user)).with_mechanisms(vec![
        Mechanism::ScramSha256Plus,
        Mechanism::ScramSha256,
        Mechanism::Plain,
    ]);
    let client_config = ClientConfig::new(Domain::parse("client.example.org").unwrap())
        .with_starttls(StartTlsPolicy::Required)
        .with_auth(auth);
    let mut client = ClientSession::new(client_config);
    client.set_auth_nonce(Text::from_static("client-nonce-1"));
    client.quit();

    let mut outcome = Outcome::default();
    let (mut to_server, mut to_client) = (Vec::new(), Vec::new());
    let mut tls_done = false;
    for _ in 0..200 {
        loop {
            match client.poll_output() {
                ClientOutput::Transmit(bytes) => to_server.extend_from_slice(&bytes),
                ClientOutput::Event(event) => outcome.client_events.push(event),
                ClientOutput::StartTls => {
                    client.tls_established();
                    if let Some(data) = setup.client_binding {
                        client.set_channel_binding(binding(data));
                    }
                }
                _ => break,
            }
        }
        loop {
            match server.poll_output() {
                ServerOutput::Transmit(bytes) => {
                    if tls_done && outcome.ehlo_after_tls.is_empty() && bytes.starts_with(b"250-") {
                        outcome.ehlo_after_tls = String::from_utf8_lossy(&bytes).into_owned();
                    }
                    to_client.extend_from_slice(&bytes);
                }
                ServerOutput::Event(ServerEvent::AuthKeys(request)) => {
                    let known = request.user().username() == "user";
                    server
                        .supply_keys(request, known.then_some(&keys), "server-nonce-1")
                        .unwrap();
                }
                ServerOutput::Event(ServerEvent::Auth(request)) => {
                    let Credentials::Verified(identity) = request.credentials() else {
                        panic!("SCRAM hands out verified identities")
                    };
                    outcome.verified.push(identity.authcid().to_string());
                    server.accept(request).unwrap();
                }
                ServerOutput::Event(event) => server.accept_event(event).unwrap(),
                ServerOutput::StartTls => {
                    server.tls_established();
                    tls_done = true;
                    if let Some(data) = setup.server_binding {
                        server.set_channel_binding(binding(data));
                    }
                }
                ServerOutput::NeedInput | ServerOutput::AwaitingDecision | ServerOutput::Closed => {
                    break
                }
            }
        }
        if to_server.is_empty() && to_client.is_empty() {
            break;
        }
        let taken = server.receive(&to_server);
        to_server.drain(..taken);
        let taken = client.receive(&to_client);
        to_client.drain(..taken);
    }
    outcome
}

fn authenticated(outcome: &Outcome) -> Option<&Mechanism> {
    outcome.client_events.iter().find_map(|event| match event {
        ClientEvent::Authenticated(mechanism) => Some(mechanism),
        _ => None,
    })
}

fn client_error(outcome: &Outcome) -> Option<&SessionError> {
    outcome.client_events.iter().find_map(|event| match event {
        ClientEvent::Error(error) => Some(error),
        _ => None,
    })
}

const SCRAM_ALL: fn() -> Vec<Mechanism> = || {
    vec![
        Mechanism::ScramSha256Plus,
        Mechanism::ScramSha256,
        Mechanism::Plain,
    ]
};

#[test]
fn plus_over_the_same_channel() {
    let outcome = run(&Setup {
        offered: SCRAM_ALL(),
        client_binding: Some([1; 32]),
        server_binding: Some([1; 32]),
        password: "pencil",
    });
    assert!(
        outcome.ehlo_after_tls.contains("SCRAM-SHA-256-PLUS"),
        "{}",
        outcome.ehlo_after_tls
    );
    assert_eq!(
        authenticated(&outcome),
        Some(&Mechanism::ScramSha256Plus),
        "{outcome:?}"
    );
    assert_eq!(outcome.verified, ["user"]);
}

#[test]
fn plus_refused_when_the_channels_differ() {
    let outcome = run(&Setup {
        offered: SCRAM_ALL(),
        client_binding: Some([1; 32]),
        server_binding: Some([2; 32]),
        password: "pencil",
    });
    assert_eq!(authenticated(&outcome), None);
    assert!(outcome.verified.is_empty());
    assert!(
        matches!(
            client_error(&outcome),
            Some(SessionError::Sasl(ClientAuthError::Scram(
                ScramClientError::Server(ScramError::ChannelBindingsDontMatch)
            )))
        ),
        "{outcome:?}"
    );
}

#[test]
fn plain_scram_without_a_channel_binding() {
    let outcome = run(&Setup {
        offered: SCRAM_ALL(),
        client_binding: None,
        server_binding: None,
        password: "pencil",
    });
    // Nothing to bind to: -PLUS is not offered, SCRAM-SHA-256 runs.
    assert!(!outcome.ehlo_after_tls.contains("SCRAM-SHA-256-PLUS"));
    assert!(outcome.ehlo_after_tls.contains("SCRAM-SHA-256"));
    assert_eq!(authenticated(&outcome), Some(&Mechanism::ScramSha256));
    assert_eq!(outcome.verified, ["user"]);
}

#[test]
fn client_with_a_binding_to_a_server_without_plus_says_y() {
    let outcome = run(&Setup {
        offered: vec![Mechanism::ScramSha256],
        client_binding: Some([1; 32]),
        server_binding: Some([1; 32]),
        password: "pencil",
    });
    assert_eq!(authenticated(&outcome), Some(&Mechanism::ScramSha256));
}

#[test]
fn wrong_password_is_refused_with_535() {
    let outcome = run(&Setup {
        offered: SCRAM_ALL(),
        client_binding: Some([1; 32]),
        server_binding: Some([1; 32]),
        password: "pen",
    });
    assert_eq!(authenticated(&outcome), None);
    assert!(outcome.verified.is_empty());
    assert!(
        matches!(
            client_error(&outcome),
            Some(SessionError::Sasl(ClientAuthError::Scram(
                ScramClientError::Server(ScramError::InvalidProof)
            )))
        ),
        "{outcome:?}"
    );
}

/// The salt a server sends for `AUTH SCRAM-SHA-256` by `name`, a user it
/// has no keys for, under `config`.
fn stand_in_salt(config: ServerConfig, name: &str) -> String {
    use base64::Engine as _;
    let base64 = base64::engine::general_purpose::STANDARD;
    let mut server = ServerSession::new(Arc::new(config));
    let first = base64.encode(format!("n,,n={name},r=client-nonce"));
    let mut said = Vec::new();
    // Each line waits for the reply before it, as a client without
    // PIPELINING does.
    for line in [
        String::new(),
        "EHLO client.example.org\r\n".to_string(),
        format!("AUTH SCRAM-SHA-256 {first}\r\n"),
    ] {
        server.receive(line.as_bytes());
        loop {
            match server.poll_output() {
                ServerOutput::Transmit(bytes) => said.extend_from_slice(&bytes),
                ServerOutput::Event(ServerEvent::AuthKeys(request)) => {
                    server.supply_keys(request, None, "server-nonce").unwrap();
                }
                ServerOutput::Event(event) => server.accept_event(event).unwrap(),
                _ => break,
            }
        }
    }
    let said = String::from_utf8(said).unwrap();
    let challenge = said
        .lines()
        .find_map(|line| line.strip_prefix("334 "))
        .unwrap_or_else(|| panic!("no challenge in {said}"));
    let server_first = String::from_utf8(base64.decode(challenge.trim_end()).unwrap()).unwrap();
    server_first.split(',').nth(1).unwrap().to_string()
}

/// A server's stand-in secret, from its configuration, decides the salt an
/// unknown user is sent: the same at every attempt, and not the one a
/// server without a secret sends, which anyone can derive from the name.
#[test]
fn unknown_users_are_salted_from_the_servers_secret() {
    let config = |secret: Option<[u8; 32]>| {
        let mut config = ServerConfig::new(Text::from_static("mx.example.org"));
        config.capabilities.auth = vec![Mechanism::ScramSha256];
        config.auth_policy = AuthPolicy::AllowCleartext;
        config.scram_stand_in = secret.map(smtpwire::auth::StandInSecret::new);
        config
    };
    let without = stand_in_salt(config(None), "nobody");
    let with = stand_in_salt(config(Some([9; 32])), "nobody");
    assert!(with.starts_with("s="), "{with}");
    assert_eq!(with, stand_in_salt(config(Some([9; 32])), "nobody"));
    assert_ne!(with, without);
    assert_ne!(with, stand_in_salt(config(Some([8; 32])), "nobody"));
}
