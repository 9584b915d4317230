//! SCRAM through both drivers over loopback: SCRAM-SHA-256-PLUS bound to
//! the TLS 1.3 connection's `tls-exporter`, plain SCRAM-SHA-256 on TLS 1.2
//! (where rustls cannot say whether the extended master secret is there,
//! so no binding is offered), and a client presenting another channel's
//! binding refused.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use smtpwire::auth::{
    ChannelBinding, ClientAuth, Credentials, Mechanism, PlainCredentials, ScramHash, Secret,
    StoredKeys,
};
use smtpwire::client::AuthConfig;
use smtpwire::server::{AuthKeysRequest, AuthRequest, Reject, ServerConfig};
use smtpwire::Text;
use smtpwire_tokio::client::{tls, Client, Message};
use smtpwire_tokio::server::{Handler, Server, TlsSession};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{TlsAcceptor, TlsConnector};

/// Each test ends well within this, or fails.
const LIMIT: Duration = Duration::from_secs(20);

/// What the server's handlers saw: the mechanism of each verified login,
/// and whether each TLS session had a channel binding.
#[derive(Default)]
struct Seen {
    verified: Vec<Mechanism>,
    bound: Vec<bool>,
}

struct Users {
    keys: StoredKeys,
    seen: Arc<Mutex<Seen>>,
}

impl Handler for Users {
    fn tls_established(&mut self, session: &TlsSession) {
        let bound = session.channel_binding.is_some();
        self.seen.lock().unwrap().bound.push(bound);
    }

    async fn scram_keys(
        &mut self,
        request: &AuthKeysRequest,
    ) -> Result<Option<StoredKeys>, Reject> {
        Ok((request.user().username() == "alice").then(|| self.keys.clone()))
    }

    async fn auth(&mut self, request: &AuthRequest) -> Result<(), Reject> {
        let Credentials::Verified(identity) = request.credentials() else {
            panic!("only SCRAM is offered")
        };
        self.seen
            .lock()
            .unwrap()
            .verified
            .push(identity.mechanism().clone());
        Ok(())
    }
}

/// A self-signed identity: the acceptor (with only `versions`) and the
/// certificate a client pins.
fn identity(
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> (TlsAcceptor, CertificateDer<'static>) {
    let certified = rcgen::generate_simple_self_signed(vec!["mx.test".to_string()]).unwrap();
    let certificate = certified.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.key_pair.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![certificate.clone()], key)
        .unwrap();
    (TlsAcceptor::from(Arc::new(config)), certificate)
}

/// Serves SCRAM-SHA-256(-PLUS) for alice/pencil on a loopback port.
async fn serve(acceptor: TlsAcceptor) -> (String, Arc<Mutex<Seen>>) {
    let mut config = ServerConfig::new(Text::from_static("mx.test"));
    config.capabilities.starttls = true;
    config.capabilities.auth = vec![Mechanism::ScramSha256Plus, Mechanism::ScramSha256];
    let keys =
        StoredKeys::from_password(ScramHash::Sha256, "pencil", b"sixteen octets!!", 4096).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let shared = seen.clone();
    let server = Server::new(config).with_tls(acceptor);
    tokio::spawn(async move {
        let handler = move |_| Users {
            keys: keys.clone(),
            seen: shared.clone(),
        };
        server
            .serve_until(listener, handler, std::future::pending::<()>())
            .await
    });
    (address, seen)
}

fn alice(password: &str) -> AuthConfig {
    let user = PlainCredentials::new(
        None,
        Text::from_static("alice"),
        Secret::new(password).unwrap(),
    )
    .unwrap();
    AuthConfig::new(Credentials::Plain(user))
        .with_mechanisms(vec![Mechanism::ScramSha256Plus, Mechanism::ScramSha256])
}

/// Sends one message as alice; whether it was accepted.
async fn send_as_alice(
    address: &str,
    certificate: CertificateDer<'static>,
    password: &str,
) -> bool {
    let client = Client::builder("client.test")
        .tls_config(tls::trusting(vec![certificate]).unwrap())
        .auth(alice(password))
        .connect(address)
        .await;
    let Ok(mut client) = client else {
        return false;
    };
    let message = Message::new(
        "alice@example.org",
        ["bob@example.net"],
        "Subject: t\r\n\r\nhi\r\n",
    )
    .unwrap();
    let accepted = client
        .send(message)
        .await
        .is_ok_and(|outcome| outcome.all_accepted());
    let _ = client.quit().await;
    accepted
}

#[tokio::test]
async fn plus_over_tls13_between_our_client_and_server() {
    tokio::time::timeout(LIMIT, async {
        let (acceptor, certificate) = identity(&[&rustls::version::TLS13]);
        let (address, seen) = serve(acceptor).await;
        assert!(send_as_alice(&address, certificate.clone(), "pencil").await);
        assert!(!send_as_alice(&address, certificate, "pen").await);
        let seen = seen.lock().unwrap();
        assert_eq!(seen.verified, [Mechanism::ScramSha256Plus]);
        assert_eq!(seen.bound, [true, true]);
    })
    .await
    .expect("within the limit");
}

#[tokio::test]
async fn tls12_gets_plain_scram() {
    tokio::time::timeout(LIMIT, async {
        let (acceptor, certificate) = identity(&[&rustls::version::TLS12]);
        let (address, seen) = serve(acceptor).await;
        assert!(send_as_alice(&address, certificate, "pencil").await);
        let seen = seen.lock().unwrap();
        assert_eq!(seen.verified, [Mechanism::ScramSha256]);
        assert_eq!(seen.bound, [false]);
    })
    .await
    .expect("within the limit");
}

/// Reads one whole reply; its last line.
async fn reply<S: AsyncRead + AsyncWrite + Unpin>(reader: &mut BufReader<S>) -> String {
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await.unwrap() == 0 || line.as_bytes().get(3) != Some(&b'-')
        {
            return line.trim_end().to_string();
        }
    }
}

async fn command<S: AsyncRead + AsyncWrite + Unpin>(
    reader: &mut BufReader<S>,
    line: &str,
) -> String {
    reader
        .get_mut()
        .write_all(format!("{line}\r\n").as_bytes())
        .await
        .unwrap();
    reply(reader).await
}

/// A client that relays someone else's exchange shows the server that
/// other connection's binding: the server refuses it.
#[tokio::test]
async fn another_channels_binding_is_refused() {
    tokio::time::timeout(LIMIT, async {
        let (acceptor, certificate) = identity(&[&rustls::version::TLS13]);
        let (address, seen) = serve(acceptor).await;
        let mut clear = BufReader::new(TcpStream::connect(&address).await.unwrap());
        assert!(reply(&mut clear).await.starts_with("220"));
        assert!(command(&mut clear, "EHLO client.test")
            .await
            .starts_with("250"));
        assert!(command(&mut clear, "STARTTLS").await.starts_with("220"));
        let connector = TlsConnector::from(Arc::new(tls::trusting(vec![certificate]).unwrap()));
        let name = ServerName::try_from("mx.test").unwrap();
        let stream = connector.connect(name, clear.into_inner()).await.unwrap();
        let mut tls = BufReader::new(stream);
        assert!(command(&mut tls, "EHLO client.test")
            .await
            .starts_with("250"));
        let user = PlainCredentials::new(
            None,
            Text::from_static("alice"),
            Secret::new("pencil").unwrap(),
        )
        .unwrap();
        let elsewhere = ChannelBinding::TlsExporter(Bytes::from_static(&[7; 32]));
        let mut auth = ClientAuth::with_nonce(
            &Mechanism::ScramSha256Plus,
            &Credentials::Plain(user),
            Some("relayed-nonce"),
            Some(&elsewhere),
        )
        .unwrap();
        let first = auth.initial_response().unwrap();
        let server_first = command(&mut tls, &format!("AUTH SCRAM-SHA-256-PLUS {first}")).await;
        let challenge = server_first.strip_prefix("334 ").expect("server-first");
        let last = auth.respond(challenge.as_bytes()).unwrap();
        let server_final = command(&mut tls, last.as_str()).await;
        let challenge = server_final.strip_prefix("334 ").expect("server-final");
        assert!(auth.respond(challenge.as_bytes()).is_err());
        // base64 of "e=channel-bindings-dont-match"
        assert_eq!(challenge, "ZT1jaGFubmVsLWJpbmRpbmdzLWRvbnQtbWF0Y2g=");
        assert!(command(&mut tls, "").await.starts_with("535"));
        assert!(seen.lock().unwrap().verified.is_empty());
    })
    .await
    .expect("within the limit");
}
