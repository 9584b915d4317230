//! The peers of secure next-hop tests, all on loopback: a test CA that
//! issues certificates for any name, an HTTPS host that serves one MTA-STS
//! policy file, and a proxy that strips STARTTLS from the EHLO reply of the
//! server behind it, as an attacker on the path would.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use smtpwire_programs::server::tls::Identity;
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
        let key = KeyPair::generate().unwrap();
        let params = CertificateParams::new(vec![name.to_string()]).unwrap();
        let leaf = params
            .signed_by(&key, &self.certificate, &self.key)
            .unwrap();
        let cert = self.dir.join(format!("{name}.pem"));
        let key_file = self.dir.join(format!("{name}.key"));
        std::fs::write(&cert, leaf.pem()).unwrap();
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
