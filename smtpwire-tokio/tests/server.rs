//! The server driver over loopback: a handler's decisions reach the wire,
//! content streams to it, timeouts hold per request, STARTTLS upgrades,
//! LMTP answers per recipient, and shutdown is graceful.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use smtpwire::server::{CloseReason, MessageRequest, RcptRequest, Reject, ServerConfig};
use smtpwire::{Protocol, Text};
use smtpwire_tokio::server::{acceptor_from_pem, refuse, Handler, RateLimits, Server};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// What the handlers of one server saw.
#[derive(Default)]
struct Seen {
    messages: Vec<(u64, Vec<u8>)>,
    closed: Vec<Option<CloseReason>>,
}

struct Recorder {
    seen: Arc<Mutex<Seen>>,
    content: Vec<u8>,
}

impl Handler for Recorder {
    async fn rcpt(&mut self, request: &RcptRequest) -> Result<(), Reject> {
        match request.to().to_string().as_str() {
            "<nobody@example.org>" => Err(refuse(550, "5.1.1", "No such user")),
            _ => Ok(()),
        }
    }

    async fn content(&mut self, chunk: Bytes) {
        self.content.extend_from_slice(&chunk);
    }

    async fn message(&mut self, request: &MessageRequest) -> Result<(), Reject> {
        let content = std::mem::take(&mut self.content);
        self.seen
            .lock()
            .unwrap()
            .messages
            .push((request.size(), content));
        Ok(())
    }

    async fn closed(&mut self, reason: Option<CloseReason>) {
        self.seen.lock().unwrap().closed.push(reason);
    }
}

struct Running {
    address: SocketAddr,
    seen: Arc<Mutex<Seen>>,
    stop: Option<oneshot::Sender<()>>,
    done: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    async fn start(server: Server) -> Running {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Seen::default()));
        let (stop, stopped) = oneshot::channel();
        let shared = seen.clone();
        let done = tokio::spawn(async move {
            let handler = move |_| Recorder {
                seen: shared.clone(),
                content: Vec::new(),
            };
            let stopped = async {
                let _ = stopped.await;
            };
            server.serve_until(listener, handler, stopped).await
        });
        Running {
            address,
            seen,
            stop: Some(stop),
            done,
        }
    }

    async fn stop(mut self) -> Arc<Mutex<Seen>> {
        let _ = self.stop.take().unwrap().send(());
        self.done.await.unwrap().unwrap();
        self.seen
    }
}

fn config() -> ServerConfig {
    let mut config = ServerConfig::new(Text::from_static("mx.test"));
    config.capabilities.enhanced_status_codes = true;
    config
}

/// A client reading whole replies.
struct Client {
    reader: BufReader<TcpStream>,
}

impl Client {
    async fn connect(address: SocketAddr) -> (Client, String) {
        let stream = TcpStream::connect(address).await.unwrap();
        let mut client = Client {
            reader: BufReader::new(stream),
        };
        let greeting = client.reply().await;
        (client, greeting)
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.reader.get_mut().write_all(bytes).await.unwrap();
    }

    /// The last line of the next reply, or "" at the end of input.
    async fn reply(&mut self) -> String {
        loop {
            let mut line = String::new();
            if self.reader.read_line(&mut line).await.unwrap() == 0 {
                return line;
            }
            if line.as_bytes().get(3) != Some(&b'-') {
                return line;
            }
        }
    }

    async fn command(&mut self, line: &str) -> String {
        self.send(format!("{line}\r\n").as_bytes()).await;
        self.reply().await
    }
}

#[tokio::test]
async fn decisions_reach_the_wire_and_content_the_handler() {
    let running = Running::start(Server::new(config())).await;
    let (mut client, greeting) = Client::connect(running.address).await;
    assert!(greeting.starts_with("220 mx.test"), "{greeting}");
    assert!(client.command("EHLO client.test").await.starts_with("250 "));
    client
        .send(b"MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nRCPT TO:<nobody@example.org>\r\nDATA\r\n")
        .await;
    let replies = [
        client.reply().await,
        client.reply().await,
        client.reply().await,
        client.reply().await,
    ];
    assert!(replies[0].starts_with("250 2.1.0"), "{replies:?}");
    assert!(replies[1].starts_with("250 2.1.5"), "{replies:?}");
    assert_eq!(replies[2], "550 5.1.1 No such user\r\n");
    assert!(replies[3].starts_with("354 "), "{replies:?}");
    client.send(b"Subject: hi\r\n\r\n..dot\r\n.\r\n").await;
    assert!(client.reply().await.starts_with("250 2.0.0"));
    assert!(client.command("QUIT").await.starts_with("221 "));
    let seen = running.stop().await;
    let seen = seen.lock().unwrap();
    assert_eq!(
        seen.messages,
        [(21, b"Subject: hi\r\n\r\n.dot\r\n".to_vec())]
    );
    assert_eq!(seen.closed, [Some(CloseReason::Quit)]);
}

#[tokio::test]
async fn auth_is_refused_unless_the_handler_checks_it() {
    let mut config = config();
    config.capabilities.auth = vec![smtpwire::auth::Mechanism::Plain];
    config.auth_policy = smtpwire::server::AuthPolicy::AllowCleartext;
    let running = Running::start(Server::new(config)).await;
    let (mut client, _) = Client::connect(running.address).await;
    client.command("EHLO client.test").await;
    let reply = client.command("AUTH PLAIN AHVzZXIAcGFzcw==").await;
    assert!(reply.starts_with("535 5.7.8"), "{reply}");
    assert!(client.command("VRFY postmaster").await.starts_with("252 "));
    running.stop().await;
}

/// A byte every 100 ms keeps every read short, but the command takes longer
/// than the whole timeout: the client is cut off within it.
#[tokio::test]
async fn a_trickling_client_is_cut_off_within_the_timeout() {
    let mut config = config();
    config.limits.timeout = Duration::from_millis(500);
    let running = Running::start(Server::new(config)).await;
    let (mut client, _) = Client::connect(running.address).await;
    let started = Instant::now();
    for byte in b"EHLO a-slow-client.test\r\n" {
        if client.reader.get_mut().write_all(&[*byte]).await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        if started.elapsed() > Duration::from_secs(1) {
            break;
        }
    }
    assert_eq!(client.reply().await, "421 4.4.2 Timeout exceeded\r\n");
    let seen = running.stop().await;
    assert_eq!(seen.lock().unwrap().closed, [Some(CloseReason::Timeout)]);
}

#[tokio::test]
async fn shutdown_says_421_to_idle_clients_and_lets_messages_finish() {
    let running = Running::start(Server::new(config())).await;
    let (mut idle, _) = Client::connect(running.address).await;
    let (mut busy, _) = Client::connect(running.address).await;
    busy.command("EHLO busy.test").await;
    busy.send(b"MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n")
        .await;
    for _ in 0..3 {
        busy.reply().await;
    }
    let address = running.address;
    let stopped = tokio::spawn(running.stop());
    assert_eq!(idle.reply().await, "421 4.3.2 Service shutting down\r\n");
    // The listener is closed: a new client is refused.
    assert!(TcpStream::connect(address).await.is_err());
    busy.send(b"late but whole\r\n.\r\n").await;
    assert!(busy.reply().await.starts_with("250 2.0.0"));
    assert_eq!(busy.reply().await, "421 4.3.2 Service shutting down\r\n");
    let seen = stopped.await.unwrap();
    let seen = seen.lock().unwrap();
    assert_eq!(seen.messages.len(), 1);
    assert_eq!(seen.closed, [Some(CloseReason::Shutdown); 2]);
}

#[tokio::test]
async fn lmtp_answers_each_recipient() {
    struct Split;
    impl Handler for Split {
        async fn deliver(&mut self, request: &MessageRequest) -> Vec<Result<(), Reject>> {
            let full = |to: String| to.contains("full");
            let outcome = |to| match full(to) {
                true => Err(refuse(452, "4.2.2", "Mailbox full")),
                false => Ok(()),
            };
            request
                .recipients()
                .iter()
                .map(|r| outcome(r.to_string()))
                .collect()
        }
    }
    let mut config = config();
    config.protocol = Protocol::Lmtp;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { Server::new(config).serve(listener, |_| Split).await });
    let (mut client, _) = Client::connect(address).await;
    client.command("LHLO client.test").await;
    client.command("MAIL FROM:<a@example.org>").await;
    client.command("RCPT TO:<ann@example.org>").await;
    client.command("RCPT TO:<full@example.org>").await;
    assert!(client.command("DATA").await.starts_with("354"));
    client.send(b"hi\r\n.\r\n").await;
    assert!(client.reply().await.starts_with("250 2.0.0"));
    assert_eq!(client.reply().await, "452 4.2.2 Mailbox full\r\n");
}

#[tokio::test]
async fn starttls_upgrades_with_the_acceptor() {
    let dir = std::env::temp_dir().join(format!("smtpwire-tokio-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    std::fs::write(dir.join("cert.pem"), certified.cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), certified.key_pair.serialize_pem()).unwrap();
    let acceptor = acceptor_from_pem(dir.join("cert.pem"), dir.join("key.pem")).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let server = Server::new(config()).with_tls(acceptor);
    assert!(server.config().capabilities.starttls);
    let running = Running::start(server).await;
    let (mut client, _) = Client::connect(running.address).await;
    client.send(b"EHLO client.test\r\n").await;
    let mut offered = String::new();
    loop {
        let mut line = String::new();
        client.reader.read_line(&mut line).await.unwrap();
        offered.push_str(&line);
        if line.as_bytes().get(3) == Some(&b' ') {
            break;
        }
    }
    assert!(offered.contains("250-STARTTLS\r\n"), "{offered}");
    assert!(client.command("STARTTLS").await.starts_with("220 "));
    let mut roots = rustls::RootCertStore::empty();
    roots.add(certified.cert.der().clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(tls));
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let stream = client.reader.into_inner();
    let mut tls = BufReader::new(connector.connect(name, stream).await.unwrap());
    tls.get_mut()
        .write_all(b"EHLO client.test\r\n")
        .await
        .unwrap();
    let mut after = String::new();
    loop {
        let mut line = String::new();
        tls.read_line(&mut line).await.unwrap();
        after.push_str(&line);
        if line.as_bytes().get(3) == Some(&b' ') {
            break;
        }
    }
    assert!(!after.contains("STARTTLS"), "{after}");
    running.stop().await;
}

/// Behind a load balancer: the header names the real client, and a peer
/// that is not a trusted proxy is closed unanswered.
#[tokio::test]
async fn the_proxy_protocol_is_taken_from_trusted_peers_only() {
    struct Source(Arc<Mutex<Option<SocketAddr>>>);
    impl Handler for Source {
        async fn connect(
            &mut self,
            proxy: Option<&smtpwire::proxy::ProxyHeader>,
        ) -> Result<(), Reject> {
            *self.0.lock().unwrap() = proxy.and_then(|header| header.source());
            Ok(())
        }
    }
    let loopback = std::net::IpAddr::from([127, 0, 0, 1]);
    let elsewhere = std::net::IpAddr::from([192, 0, 2, 1]);
    for (trusted, served) in [(loopback, true), (elsewhere, false)] {
        let server = Server::new(config()).with_proxy_protocol([trusted]);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let source = Arc::new(Mutex::new(None));
        let seen = source.clone();
        tokio::spawn(async move { server.serve(listener, move |_| Source(seen.clone())).await });
        let mut stream = TcpStream::connect(address).await.unwrap();
        let _ = stream
            .write_all(b"PROXY TCP4 198.51.100.7 192.0.2.25 40000 25\r\n")
            .await;
        let mut reader = BufReader::new(stream);
        let mut greeting = String::new();
        let _ = reader.read_line(&mut greeting).await;
        assert_eq!(greeting.starts_with("220 "), served, "{greeting}");
        let expected = served.then(|| "198.51.100.7:40000".parse().unwrap());
        assert_eq!(*source.lock().unwrap(), expected);
    }
}

/// Cleartext sent with STARTTLS that the session's full input buffer left
/// with the driver is never read as if it came over TLS: the STARTTLS line
/// ends exactly where the session's input bound does, the injected command
/// follows it in the same write, and the session fails rather than upgrade.
#[tokio::test]
async fn cleartext_left_behind_a_starttls_at_the_input_bound_is_fatal() {
    let dir = std::env::temp_dir().join(format!("smtpwire-tokio-inject-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    std::fs::write(dir.join("cert.pem"), certified.cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), certified.key_pair.serialize_pem()).unwrap();
    let acceptor = acceptor_from_pem(dir.join("cert.pem"), dir.join("key.pem")).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let mut config = config();
    config.limits.junk_commands = usize::MAX;
    // The smallest bound, the command line limit, so that the burst comes
    // in one read of the driver.
    config.limits.pending_input = 0;
    let bound = config.limits.pending_input.max(config.limits.command_line);
    let running = Running::start(Server::new(config).with_tls(acceptor)).await;
    let (mut client, _) = Client::connect(running.address).await;
    client.command("EHLO client.test").await;
    let starttls = "STARTTLS\r\n";
    let rsets = (bound - starttls.len()) / "RSET\r\n".len();
    let padding = bound - starttls.len() - rsets * "RSET\r\n".len();
    // The first RSET carries trailing spaces, which RFC 5321 §4.1.1 lets a
    // server ignore, so that STARTTLS ends exactly at the bound.
    let mut burst = format!("RSET{}\r\n", " ".repeat(padding));
    burst.push_str(&"RSET\r\n".repeat(rsets - 1));
    burst.push_str(starttls);
    assert_eq!(burst.len(), bound);
    burst.push_str("MAIL FROM:<injected@example.org>\r\n");
    client.send(burst.as_bytes()).await;
    let mut tail = String::new();
    loop {
        let line = client.reply().await;
        if line.is_empty() {
            break;
        }
        tail = line;
    }
    assert_eq!(tail, "554 5.5.1 Input pipelined after STARTTLS\r\n");
    let seen = running.stop().await;
    assert_eq!(
        seen.lock().unwrap().closed,
        [Some(CloseReason::PipelinedStartTls)]
    );
}

/// Connects from `source` (any address in 127.0.0.0/8 is loopback on
/// Linux) and reads the server's first line.
async fn first_line_from(
    source: std::net::IpAddr,
    address: SocketAddr,
    proxy_header: &[u8],
) -> (String, BufReader<TcpStream>) {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind((source, 0).into()).unwrap();
    let mut stream = socket.connect(address).await.unwrap();
    stream.write_all(proxy_header).await.unwrap();
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).await.unwrap();
    (line, reader)
}

/// Whether the server closes the connection with nothing more to say.
async fn is_closed(mut reader: BufReader<TcpStream>) -> bool {
    let mut rest = String::new();
    tokio::time::timeout(Duration::from_secs(5), reader.read_line(&mut rest))
        .await
        .is_ok_and(|read| read.is_ok_and(|count| count == 0))
}

/// Polls `condition` for up to ten seconds.
async fn wait_for(condition: impl Fn() -> bool) {
    for _ in 0..1000 {
        if condition() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("condition not reached in time");
}

const LOOPBACK: std::net::IpAddr = std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

/// A connection over the total gets one 421 line and is closed without a
/// session (no handler is made for it, so none hears of its close); the
/// sessions admitted before go on, and a slot that frees serves again. The
/// refusals reach the notice callback once per period, with a count.
#[tokio::test]
async fn a_full_connection_table_answers_421_and_serves_again_once_a_slot_frees() {
    let notices = Arc::new(Mutex::new(Vec::new()));
    let heard = notices.clone();
    let server = Server::new(config())
        .with_max_connections(2)
        .with_max_connections_per_ip(None)
        .on_notice(move |notice| heard.lock().unwrap().push(notice.to_string()));
    let connections = server.connections();
    assert_eq!((connections.most(), connections.most_per_ip()), (2, None));
    let running = Running::start(server).await;
    let (first, _) = Client::connect(running.address).await;
    let (mut second, _) = Client::connect(running.address).await;
    second.command("EHLO client.test").await;
    for _ in 0..3 {
        let (line, refused) = first_line_from(LOOPBACK, running.address, b"").await;
        assert_eq!(
            line,
            "421 4.7.0 mx.test Too many connections, try again later\r\n"
        );
        assert!(
            is_closed(refused).await,
            "the refused connection was left open"
        );
    }
    assert_eq!(
        *notices.lock().unwrap(),
        ["refused with 421: Too many connections (2 open, at most 2)"]
    );
    assert!(second.command("NOOP").await.starts_with("250 "));
    drop(first);
    wait_for(|| connections.open() == 1).await;
    let (line, _) = first_line_from(LOOPBACK, running.address, b"").await;
    assert!(line.starts_with("220 "), "{line}");
    drop(second);
    let seen = running.stop().await;
    // Two sessions closed by their clients and one by the shutdown; the
    // refused connections had none.
    assert_eq!(seen.lock().unwrap().closed.len(), 3);
}

/// The per-address cap refuses that address only.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn the_per_address_limit_refuses_that_address_only() {
    let server = Server::new(config())
        .with_max_connections(10)
        .with_max_connections_per_ip(Some(2));
    let connections = server.connections();
    let running = Running::start(server).await;
    let (_one, _) = Client::connect(running.address).await;
    let (_two, _) = Client::connect(running.address).await;
    let (line, refused) = first_line_from(LOOPBACK, running.address, b"").await;
    assert_eq!(
        line,
        "421 4.7.0 mx.test Too many connections from 127.0.0.1, try again later\r\n"
    );
    assert!(
        is_closed(refused).await,
        "the refused connection was left open"
    );
    let other = std::net::IpAddr::from([127, 0, 0, 2]);
    let (line, _three) = first_line_from(other, running.address, b"").await;
    assert!(line.starts_with("220 "), "{line}");
    assert_eq!(connections.open(), 3);
}

/// Behind a trusted proxy every connection comes from the proxy: the
/// per-address cap counts the client the PROXY header names instead, and
/// refuses before the greeting, with a notice, and without a word to the
/// handler, which never heard of that client.
#[tokio::test]
async fn behind_a_trusted_proxy_the_per_address_limit_counts_the_named_client() {
    let notices = Arc::new(Mutex::new(Vec::new()));
    let heard = notices.clone();
    let server = Server::new(config())
        .with_proxy_protocol([LOOPBACK])
        .with_max_connections_per_ip(Some(1))
        .on_notice(move |notice| heard.lock().unwrap().push(notice.to_string()));
    let connections = server.connections();
    let running = Running::start(server).await;
    let header = |client: &str| format!("PROXY TCP4 {client} 192.0.2.25 40000 25\r\n");
    let named = header("198.51.100.7");
    let (line, first) = first_line_from(LOOPBACK, running.address, named.as_bytes()).await;
    assert!(line.starts_with("220 "), "{line}");
    let (line, refused) = first_line_from(LOOPBACK, running.address, named.as_bytes()).await;
    assert_eq!(
        line,
        "421 4.7.0 mx.test Too many connections from 198.51.100.7, try again later\r\n"
    );
    assert!(
        is_closed(refused).await,
        "the refused connection was left open"
    );
    let other = header("198.51.100.8");
    let (line, second) = first_line_from(LOOPBACK, running.address, other.as_bytes()).await;
    assert!(line.starts_with("220 "), "{line}");
    wait_for(|| connections.open() == 2).await;
    assert_eq!(
        *notices.lock().unwrap(),
        ["refused with 421: Too many connections from 198.51.100.7 (2 open, at most 10000)"]
    );
    drop((first, second));
    let seen = running.stop().await;
    assert_eq!(seen.lock().unwrap().closed.len(), 2);
}

/// Busy polling: the poller starts on input and sleeps once input stops.
#[tokio::test(flavor = "current_thread")]
async fn busy_polling_wakes_on_input_and_sleeps_when_idle() {
    let server = Server::new(config())
        .with_busy_poll(Duration::from_millis(300))
        .unwrap();
    let running = Running::start(server.clone()).await;
    wait_for(|| !server.is_busy_polling()).await;
    let (mut client, _) = Client::connect(running.address).await;
    assert!(server.is_busy_polling(), "input did not wake the poller");
    client.command("QUIT").await;
    wait_for(|| !server.is_busy_polling()).await;
}

/// On several worker threads the poller would hold one of them while
/// another sleeps in the sockets' poll: refused rather than left to do
/// nothing useful.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_polling_is_refused_on_a_multi_threaded_runtime() {
    let Err(error) = Server::new(config()).with_busy_poll(Duration::from_micros(50)) else {
        panic!("busy polling was accepted on a multi-threaded runtime");
    };
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
}

/// Per-client rates, as Postfix's anvil keeps them: with 20 messages a
/// minute, the 21st MAIL is answered 450 4.7.1 before the handler hears
/// of it, and the session goes on; the recipient and connection rates
/// refuse likewise; another client address keeps its own counts.
#[tokio::test]
async fn rate_limits_refuse_one_client_over_its_minute_and_spare_the_others() {
    let limits = RateLimits::default()
        .with_connections(3)
        .with_messages(20)
        .with_recipients(30);
    let server = Server::new(config()).with_rate_limits(limits);
    assert_eq!(server.rate_limits(), limits);
    let running = Running::start(server).await;
    let (mut busy, _) = Client::connect(running.address).await;
    busy.command("EHLO client.test").await;
    for _ in 0..20 {
        let mail = busy.command("MAIL FROM:<a@client.test>").await;
        assert!(mail.starts_with("250 "), "{mail}");
        assert!(busy
            .command("RCPT TO:<b@mx.test>")
            .await
            .starts_with("250 "));
        assert!(busy.command("RSET").await.starts_with("250 "));
    }
    assert_eq!(
        busy.command("MAIL FROM:<a@client.test>").await,
        "450 4.7.1 Too much mail from 127.0.0.1 this minute, try again later\r\n"
    );
    assert!(busy.command("NOOP").await.starts_with("250 "));

    let other = std::net::IpAddr::from([127, 0, 0, 2]);
    let (line, reader) = first_line_from(other, running.address, b"").await;
    assert!(line.starts_with("220 "), "{line}");
    let mut quiet = Client { reader };
    quiet.command("EHLO other.test").await;
    assert!(quiet
        .command("MAIL FROM:<c@other.test>")
        .await
        .starts_with("250 "));
    for _ in 0..30 {
        assert!(quiet
            .command("RCPT TO:<d@mx.test>")
            .await
            .starts_with("250 "));
    }
    // Over the recipient rate: this client's 31st RCPT (the first client
    // sent 20 and is not counted here).
    assert_eq!(
        quiet.command("RCPT TO:<d@mx.test>").await,
        "450 4.7.1 Too many recipients from 127.0.0.2 this minute, try again later\r\n"
    );

    // The first client's connection was its first of three this minute.
    let (_second, greeting) = Client::connect(running.address).await;
    assert!(greeting.starts_with("220 "), "{greeting}");
    let (_third, greeting) = Client::connect(running.address).await;
    assert!(greeting.starts_with("220 "), "{greeting}");
    let (line, refused) = first_line_from(LOOPBACK, running.address, b"").await;
    assert_eq!(
        line,
        "421 4.7.0 mx.test Too many connections from 127.0.0.1 this minute, try again later\r\n"
    );
    assert!(
        is_closed(refused).await,
        "the refused connection was left open"
    );
    let (line, _) = first_line_from(other, running.address, b"").await;
    assert!(line.starts_with("220 "), "{line}");
}
