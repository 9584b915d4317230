//! Start the receiving server in-process on a free port with its own Maildir,
//! and the client interface the tests send through.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::pki_types::CertificateDer;
use smtpwire::Text;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub mod dns;
pub mod program;
pub mod relay;
pub mod reports;
pub mod secure;
pub mod session_client;
pub mod signed_dns;

use smtpwire_programs::server::client::Client;
use smtpwire_programs::server::{tls, Server, Settings, Shared};

/// A running server and its Maildir, removed when dropped.
pub struct TestServer {
    pub address: SocketAddr,
    pub maildir: PathBuf,
    pub certificate: CertificateDer<'static>,
    pub shared: Arc<Shared>,
    /// The driver running the connections, for its state.
    pub driver: smtpwire_tokio::server::Server,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl TestServer {
    /// Starts a server with STARTTLS (self-signed) and a fresh Maildir;
    /// `configure` changes anything else.
    pub async fn start(configure: impl FnOnce(&mut Settings)) -> TestServer {
        Self::start_at(SocketAddr::from(([127, 0, 0, 1], 0)), configure).await
    }

    /// [`start`](Self::start) on `address`: a server back on the port of
    /// one stopped before.
    pub async fn start_at(
        address: SocketAddr,
        configure: impl FnOnce(&mut Settings),
    ) -> TestServer {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let maildir = std::env::temp_dir().join(format!(
            "smtpwire-example-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        ));
        let identity = tls::Identity::self_signed("mx.test").unwrap();
        let certificate = identity.chain[0].clone();
        let mut settings = Settings::new(Text::from_static("mx.test"));
        settings.maildir = Some(maildir.clone());
        settings.tls = Some(identity);
        settings.idle_timeout = Some(Duration::from_secs(30));
        configure(&mut settings);
        let server = Server::bind(address, settings).await.unwrap();
        let address = server.local_addr().unwrap();
        let shared = server.shared();
        let driver = server.driver().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server.run(async {
            let _ = stopped.await;
        }));
        TestServer {
            address,
            maildir,
            certificate,
            shared,
            driver,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Begins a graceful shutdown; the future completes when the server has.
    pub fn stop(&mut self) -> impl std::future::Future<Output = ()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let task = self.task.take();
        async move {
            if let Some(task) = task {
                task.await.unwrap();
            }
        }
    }

    /// The contents of every file in `new/`.
    pub fn delivered(&self) -> Vec<Vec<u8>> {
        files(&self.maildir.join("new"))
            .iter()
            .map(|path| std::fs::read(path).unwrap())
            .collect()
    }

    /// What clients sent, as stored less the fields the server added,
    /// sorted.
    pub fn contents(&self) -> Vec<Vec<u8>> {
        let mut contents: Vec<Vec<u8>> = self
            .delivered()
            .iter()
            .map(|file| content_of(file).to_vec())
            .collect();
        contents.sort();
        contents
    }

    /// Whether `tmp/` holds no file.
    pub fn tmp_is_empty(&self) -> bool {
        files(&self.maildir.join("tmp")).is_empty()
    }

    /// Polls `condition` for up to ten seconds.
    pub async fn wait_for(&self, condition: impl Fn() -> bool) {
        for _ in 0..1000 {
            if condition() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("condition not reached in time");
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = std::fs::remove_dir_all(&self.maildir);
    }
}

fn files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect()
}

/// The message as the client sent it: the stored file less the fields the
/// server put in front (`Return-Path`, `X-Envelope-To`, `Delivered-To`,
/// `X-Envelope-Requiretls`, `Received` and its continuation lines).
pub fn content_of(stored: &[u8]) -> &[u8] {
    const ADDED: [&[u8]; 5] = [
        b"Return-Path:",
        b"X-Envelope-To:",
        b"Delivered-To:",
        b"X-Envelope-Requiretls:",
        b"Received:",
    ];
    let mut rest = stored;
    while ADDED.iter().any(|name| rest.starts_with(name)) || rest.starts_with(b"\t") {
        let end = rest.windows(2).position(|pair| pair == b"\r\n").unwrap();
        rest = &rest[end + 2..];
    }
    rest
}

/// Messages `0..count` of [`numbered_message`], sorted as
/// [`TestServer::contents`] is.
pub fn numbered_messages(count: usize) -> Vec<Vec<u8>> {
    let mut messages: Vec<Vec<u8>> = (0..count).map(numbered_message).collect();
    messages.sort();
    messages
}

/// A small distinct message.
pub fn numbered_message(number: usize) -> Vec<u8> {
    format!("Subject: message {number}\r\n\r\nThis is message number {number}.\r\n.dot\r\n")
        .into_bytes()
}

/// What the generic tests need from an SMTP client. The hand-written one
/// below is the first implementation; a client built on another stack can
/// implement this too and run the same tests.
pub trait MailClient: Sized + Send {
    /// Connects, says EHLO, and upgrades with STARTTLS when `tls`.
    fn connect(
        address: SocketAddr,
        certificate: &CertificateDer<'static>,
        tls: bool,
    ) -> impl Future<Output = Self> + Send;

    /// Connects to `server`.
    fn open(server: &TestServer, tls: bool) -> impl Future<Output = Self> + Send {
        Self::connect(server.address, &server.certificate, tls)
    }

    /// Sends one message; returns the codes of the replies to its end.
    fn send(
        &mut self,
        from: &str,
        recipients: &[&str],
        content: &[u8],
    ) -> impl Future<Output = Vec<u16>> + Send;

    /// QUIT.
    fn quit(self) -> impl Future<Output = ()> + Send;
}

/// [`MailClient`] over the hand-written [`Client`].
pub struct HandClient(Client);

impl MailClient for HandClient {
    async fn connect(
        address: SocketAddr,
        certificate: &CertificateDer<'static>,
        tls: bool,
    ) -> Self {
        let (mut client, greeting) = Client::connect(address).await.unwrap();
        assert_eq!(greeting.code, 220);
        assert_eq!(
            client.command("EHLO client.example").await.unwrap().code,
            250
        );
        if tls {
            assert_eq!(client.start_tls(certificate).await.unwrap().code, 220);
            assert_eq!(
                client.command("EHLO client.example").await.unwrap().code,
                250
            );
        }
        HandClient(client)
    }

    async fn send(&mut self, from: &str, recipients: &[&str], content: &[u8]) -> Vec<u16> {
        let replies = self
            .0
            .send_message(from, recipients, content, 1)
            .await
            .unwrap();
        let envelope = recipients.len() + 2;
        for reply in &replies[..envelope.min(replies.len())] {
            assert!(reply.is_positive(), "{reply:?}");
        }
        replies[envelope..].iter().map(|reply| reply.code).collect()
    }

    async fn quit(mut self) {
        assert_eq!(self.0.command("QUIT").await.unwrap().code, 221);
    }
}

/// A next hop that takes the first `accept` messages (over all its
/// connections) and then answers nothing more, holding each connection
/// open: a sender is cut off in the middle of a batch. Returns its address
/// and the `Subject:` lines of the messages it took.
// The relay's and bulk's tests use it; the server's do not.
#[allow(dead_code)]
pub async fn accepts_then_hangs(accept: usize) -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let taken = Arc::new(Mutex::new(Vec::new()));
    let subjects = taken.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let taken = taken.clone();
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                let _ = write.write_all(b"220 hold.test\r\n").await;
                let mut subject = None;
                let mut in_data = false;
                while let Ok(Some(line)) = lines.next_line().await {
                    let reply: &[u8] = if in_data {
                        if line.starts_with("Subject: ") && subject.is_none() {
                            subject = Some(line);
                            continue;
                        }
                        if line != "." {
                            continue;
                        }
                        in_data = false;
                        let took = {
                            let mut taken = taken.lock().unwrap();
                            let room = taken.len() < accept;
                            if room {
                                taken.push(subject.take().unwrap_or_default());
                            }
                            room
                        };
                        if !took {
                            // Never answers again: the relay waits.
                            std::future::pending::<()>().await;
                        }
                        b"250 2.0.0 taken\r\n"
                    } else {
                        match line.get(..4).map(str::to_ascii_uppercase).as_deref() {
                            Some("EHLO") => b"250-hold.test\r\n250 PIPELINING\r\n",
                            Some("DATA") => {
                                in_data = true;
                                b"354 go on\r\n"
                            }
                            Some("QUIT") => b"221 bye\r\n",
                            _ => b"250 2.0.0 ok\r\n",
                        }
                    };
                    if write.write_all(reply).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    (address, subjects)
}

/// The relay's settings for a test: `queue`, `routes`, a one-second retry,
/// no TLS, no signing; tests change what they exercise.
pub fn relay_settings(
    queue: &Path,
    routes: Vec<smtpwire_programs::outbound::routes::FixedRoute>,
) -> smtpwire_programs::relay::Settings {
    smtpwire_programs::relay::Settings {
        hostname: smtpwire::Domain::parse("relay.test").unwrap(),
        queue: queue.to_path_buf(),
        routes,
        port: 25,
        backoff: smtpwire::delivery::Backoff {
            initial: Duration::from_secs(1),
            factor: 1,
            max: Duration::from_secs(1),
            give_up_after: Duration::from_secs(3600),
        },
        interval: Duration::from_millis(100),
        connect_timeout: Duration::from_secs(2),
        per_connection: 100,
        connections: 4,
        warn_after: None,
        starttls: false,
        tls: None,
        max_message_size: None,
        dkim: None,
        authentication: None,
        secure: Default::default(),
        rewriting: None,
        rewrite_sender_headers: false,
        srs: None,
    }
}

/// A scratch directory, removed when dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    /// A new empty directory for the test `name` of this process.
    pub fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("smtpwire-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    /// `name` in the directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Polls `condition` for up to fifteen seconds.
pub async fn wait_until(what: &str, condition: impl Fn() -> bool) {
    for _ in 0..1500 {
        if condition() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{what}: not reached in time");
}

/// Connects to `address` once something listens there, trying for up to
/// ten seconds (a program started for a test binds a moment later); the
/// stream reads with a ten-second timeout.
pub fn connect_when_listening(address: SocketAddr) -> std::io::Result<std::net::TcpStream> {
    let started = std::time::Instant::now();
    let stream = loop {
        match std::net::TcpStream::connect(address) {
            Ok(stream) => break stream,
            Err(error) if started.elapsed() > Duration::from_secs(10) => return Err(error),
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    Ok(stream)
}
