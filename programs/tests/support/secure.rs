//! The peers of secure next-hop tests, all on loopback: a test CA that
//! issues certificates for any name, an HTTPS host that serves one MTA-STS
//! policy file, and a proxy that strips STARTTLS from the EHLO reply of the
//! server behind it, as an attacker on the path would; and the scratch
//! directory, queue and TLS reports one such test looks at.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};

use super::relay::RunningRelay;
use super::{wait_until, Scratch, TestServer};
use smtpwire::client::Envelope;
use smtpwire::{ForwardPath, ReversePath};
use smtpwire_programs::outbound::routes::FixedRoute;
use smtpwire_programs::relay::Settings;
use smtpwire_programs::server::tls::Identity;
use smtpwire_tokio::client::{tls, Client, Message};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A CA whose certificate is written to `ca.pem` in its directory.
pub struct TestCa {
    dir: PathBuf,
    key: KeyPair,
    certificate: rcgen::Certificate,
}

impl TestCa {
    /// A new CA, its certificate written to `dir/ca.pem`.
    pub fn new(dir: &Path) -> TestCa {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let certificate = params.self_signed(&key).unwrap();
        std::fs::write(dir.join("ca.pem"), certificate.pem()).unwrap();
        TestCa {
            dir: dir.to_path_buf(),
            key,
            certificate,
        }
    }

    /// The file of the CA's certificate.
    pub fn pem(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// A server identity for `name`, signed by this CA.
    pub fn issue(&self, name: &str) -> Identity {
        self.issue_as(name, false)
    }

    /// [`issue`](Self::issue), the server sending the CA's certificate
    /// after its own, as DANE-TA asks (RFC 7672 §3.1.2).
    pub fn issue_with_chain(&self, name: &str) -> Identity {
        self.issue_as(name, true)
    }

    /// The DER of the certificate last issued for `name`.
    pub fn certificate_der(&self, name: &str) -> Vec<u8> {
        let path = self.dir.join(format!("{name}.pem"));
        let certificates = smtpwire_tokio::client::tls::read_certificates(path).unwrap();
        certificates[0].to_vec()
    }

    /// The DER of the CA's certificate.
    pub fn ca_der(&self) -> Vec<u8> {
        self.certificate.der().to_vec()
    }

    fn issue_as(&self, name: &str, with_chain: bool) -> Identity {
        let key = KeyPair::generate().unwrap();
        let params = CertificateParams::new(vec![name.to_string()]).unwrap();
        let leaf = params
            .signed_by(&key, &self.certificate, &self.key)
            .unwrap();
        let cert = self.dir.join(format!("{name}.pem"));
        let key_file = self.dir.join(format!("{name}.key"));
        let mut chain = leaf.pem();
        if with_chain {
            chain.push_str(&self.certificate.pem());
        }
        std::fs::write(&cert, chain).unwrap();
        std::fs::write(&key_file, key.serialize_pem()).unwrap();
        Identity::from_pem_files(&cert, &key_file).unwrap()
    }
}

/// An HTTPS host answering every request with one response; stopped when
/// dropped.
pub struct PolicyHost {
    /// Where it listens.
    pub address: SocketAddr,
    task: JoinHandle<()>,
}

impl PolicyHost {
    /// Serves `policy` as `text/plain` with `identity`.
    pub async fn serve(identity: Identity, policy: &str) -> PolicyHost {
        let response = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n{policy}",
            policy.len()
        );
        PolicyHost::answering(identity, response).await
    }

    /// Answers every request with the HTTP `response` as it is.
    pub async fn answering(identity: Identity, response: String) -> PolicyHost {
        let acceptor = identity.acceptor().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let response = Arc::new(response);
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                let response = response.clone();
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let mut tls = BufReader::new(tls);
                    // The request's head, bounded; its body is empty.
                    let mut line = String::new();
                    for _ in 0..100 {
                        line.clear();
                        match tls.read_line(&mut line).await {
                            Ok(0) | Err(_) => return,
                            Ok(_) if line == "\r\n" => break,
                            Ok(_) => {}
                        }
                    }
                    let _ = tls.get_mut().write_all(response.as_bytes()).await;
                    let _ = tls.get_mut().shutdown().await;
                });
            }
        });
        PolicyHost { address, task }
    }
}

impl Drop for PolicyHost {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A proxy on a free port forwarding to `server`, with the `STARTTLS`
/// line taken out of the server's EHLO reply; returns its address.
pub async fn starttls_stripper(server: SocketAddr) -> (SocketAddr, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            tokio::spawn(strip(client, server));
        }
    });
    (address, task)
}

async fn strip(client: TcpStream, server: SocketAddr) {
    let Ok(upstream) = TcpStream::connect(server).await else {
        return;
    };
    let (mut client_read, mut client_write) = client.into_split();
    let (upstream_read, mut upstream_write) = upstream.into_split();
    let to_server = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut client_read, &mut upstream_write).await;
    });
    let mut replies = BufReader::new(upstream_read);
    // The lines of the reply being read: a multi-line reply is forwarded
    // whole, without its STARTTLS line, its last line marked as last.
    let mut reply: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut line = Vec::new();
        match replies.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let last = line.get(3) != Some(&b'-');
        let starttls = line.len() > 4 && line[4..].to_ascii_uppercase().starts_with(b"STARTTLS");
        if !starttls {
            reply.push(line);
        }
        if !last {
            continue;
        }
        let count = reply.len();
        for (index, line) in reply.iter_mut().enumerate() {
            if line.len() > 3 {
                line[3] = if index + 1 == count { b' ' } else { b'-' };
            }
        }
        if client_write.write_all(&reply.concat()).await.is_err() {
            break;
        }
        reply.clear();
    }
    to_server.abort();
}

/// Everything one secure next-hop test runs against: its scratch
/// directory, with the relay's queue and TLS report file, and a test CA.
pub struct Setup {
    /// Removed when the test ends.
    pub scratch: Scratch,
    /// Issues the MX hosts' certificates.
    pub ca: TestCa,
}

impl Setup {
    /// A fresh scratch directory named after `tag`.
    pub fn new(tag: &str) -> Setup {
        let scratch =
            Scratch(std::env::temp_dir().join(format!("smtpwire-{tag}-{}", std::process::id())));
        let _ = std::fs::remove_dir_all(&scratch.0);
        std::fs::create_dir_all(scratch.0.join("queue")).unwrap();
        let ca = TestCa::new(&scratch.0);
        Setup { scratch, ca }
    }

    /// Where the relay appends its TLS reports.
    pub fn report_file(&self) -> PathBuf {
        self.scratch.0.join("tls-report.jsonl")
    }

    /// The TLS reports written so far, one JSON object each.
    pub fn reports(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.report_file())
            .unwrap_or_default()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    /// Whether a report has `result` for `mx`.
    pub fn reported(&self, mx: &str, result: &str) -> bool {
        self.reports()
            .iter()
            .any(|report| report["receiving-mx-hostname"] == mx && report["result-type"] == result)
    }

    /// The example server as an MX host presenting a certificate for
    /// `certificate_name`.
    pub async fn mx_server(&self, certificate_name: &str) -> TestServer {
        let identity = self.ca.issue(certificate_name);
        TestServer::start(move |settings| settings.tls = Some(identity)).await
    }

    /// The queue's state files, as text.
    pub fn queue_states(&self) -> Vec<String> {
        let dir = self.scratch.0.join("queue").join("state");
        std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .filter_map(|entry| std::fs::read_to_string(entry.ok()?.path()).ok())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Messages waiting in the queue.
    pub fn queued(&self) -> usize {
        let new = self.scratch.0.join("queue").join("incoming").join("new");
        std::fs::read_dir(new).map_or(0, |entries| entries.count())
    }
}

/// Waits for the report and for the queue to record `status`, then checks
/// that nothing was delivered, the message is still queued, and the
/// report names `policy` (`sts` or `tlsa`) and example.test.
pub async fn held_back(
    setup: &Setup,
    policy: &str,
    server: &TestServer,
    mx: &str,
    result: &str,
    status: &str,
) {
    wait_until(&format!("{status} recorded"), || {
        setup
            .queue_states()
            .iter()
            .any(|state| state.contains(status))
    })
    .await;
    wait_until(&format!("{result} reported for {mx}"), || {
        setup.reported(mx, result)
    })
    .await;
    assert!(server.delivered().is_empty(), "delivered despite {result}");
    assert_eq!(setup.queued(), 1, "the message stays queued");
    let report = setup
        .reports()
        .into_iter()
        .find(|report| report["result-type"] == result)
        .unwrap();
    assert_eq!(report["policy-type"], policy);
    assert_eq!(report["policy-domain"], "example.test");
}

/// A relay taking mail over STARTTLS with `identity`, bounces for
/// example.org going to `bounces`.
pub fn with_intake_tls(identity: Identity, bounces: &TestServer) -> impl FnOnce(&mut Settings) {
    let route = FixedRoute::parse(&format!("example.org={}", bounces.address), 25).unwrap();
    move |settings: &mut Settings| {
        settings.tls = Some(identity);
        settings.routes = vec![route];
    }
}

/// Sends `content` to bob@example.test through the relay at `relay` over
/// STARTTLS, trusting `certificate`, with REQUIRETLS when `requiretls`.
pub async fn send_over_tls(
    relay: &RunningRelay,
    certificate: rustls::pki_types::CertificateDer<'static>,
    content: &[u8],
    requiretls: bool,
) {
    let mut envelope = Envelope::new(ReversePath::parse("<alice@example.org>").unwrap());
    envelope.add_recipient(ForwardPath::parse("<bob@example.test>").unwrap());
    envelope.mail_params.requiretls = requiretls;
    let mut client = Client::builder("client.test")
        .tls_config(tls::trusting(vec![certificate]).unwrap())
        .server_name("relay.test")
        .connect(&relay.address.to_string())
        .await
        .unwrap();
    assert!(client.is_tls());
    let offered = client.capabilities().unwrap().require_tls;
    assert!(offered, "the intake offers REQUIRETLS over TLS");
    let outcome = client
        .send(Message::with_envelope(
            envelope,
            bytes::Bytes::copy_from_slice(content),
        ))
        .await
        .unwrap();
    assert!(outcome.failure().is_none(), "{outcome:?}");
    client.quit().await.unwrap();
}
