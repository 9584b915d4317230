//! ClientSession against ServerSession with no sockets: a transport that
//! hands bytes across in random pieces, a "TLS" that passes them through,
//! thousands of messages with random content and random decisions. Every
//! message the server accepts arrives byte-exact, and both sides agree on
//! the outcome of every message and recipient.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use smtpwire::auth::{Credentials, Mechanism, PlainCredentials, Secret};
use smtpwire::client::{
    AuthConfig, ClientConfig, ClientEvent, ClientSession, Envelope, SessionError, StartTlsPolicy,
};
use smtpwire::reply::{EnhancedStatusCode, Reply, ReplyCode};
use smtpwire::server::{AuthPolicy, Reject, ServerConfig, ServerEvent, ServerSession};
use smtpwire::{ClientOutput, Domain, ForwardPath, Protocol, ReversePath, ServerOutput, Text};

/// xorshift64*: deterministic randomness without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// A message body with CRLF lines, some starting with dots, some empty.
fn content(rng: &mut Rng) -> Vec<u8> {
    let mut body = Vec::new();
    for _ in 0..rng.below(60) {
        match rng.below(8) {
            0 => body.extend_from_slice(b"."),
            1 => body.extend_from_slice(b".."),
            2 => body.extend_from_slice(b".leading dot"),
            3 => {}
            _ => {
                for _ in 0..rng.below(120) {
                    body.push(b' ' + rng.below(95) as u8);
                }
            }
        }
        body.extend_from_slice(b"\r\n");
    }
    body
}

fn refuse(code: u16) -> Reject {
    let code = ReplyCode::new(code).unwrap();
    let enhanced = EnhancedStatusCode::new((code.as_u16() / 100) as u8, 0, 0).unwrap();
    Reject::new(Reply::with_enhanced(code, enhanced, Text::from_static("refused")).unwrap())
        .unwrap()
}

#[derive(Default)]
struct Tally {
    /// Message content the server accepted, by the order it was accepted.
    delivered: Vec<Vec<u8>>,
    /// The client's view: content of each message it was told was accepted.
    confirmed: Vec<Vec<u8>>,
    failed: usize,
    rejected_recipients: usize,
}

struct Scenario {
    seed: u64,
    messages: usize,
    protocol: Protocol,
    tls: bool,
    auth: bool,
    pipelining: bool,
    chunking: bool,
    /// Percent of MAIL, RCPT and end-of-data the server refuses.
    refusals: [u64; 3],
}

const USUAL_REFUSALS: [u64; 3] = [5, 15, 10];

fn run(scenario: &Scenario) -> Tally {
    let mut rng = Rng(scenario.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut server_config = ServerConfig::new(Text::from_static("mx.example.org"));
    server_config.protocol = scenario.protocol;
    server_config.capabilities.starttls = scenario.tls;
    server_config.capabilities.pipelining = scenario.pipelining;
    server_config.capabilities.chunking = scenario.chunking;
    server_config.capabilities.binary_mime = scenario.chunking;
    if scenario.auth {
        server_config.capabilities.auth = vec![Mechanism::Plain, Mechanism::Login];
    }
    server_config.auth_policy = AuthPolicy::TlsOnly;
    let mut server = ServerSession::new(Arc::new(server_config));

    let mut client_config = ClientConfig::new(Domain::parse("client.example.org").unwrap())
        .with_protocol(scenario.protocol)
        .with_chunking(scenario.chunking)
        .with_starttls(if scenario.tls {
            StartTlsPolicy::Required
        } else {
            StartTlsPolicy::Never
        });
    if scenario.auth {
        let credentials = PlainCredentials::new(
            None,
            Text::from_static("user"),
            Secret::new("pass").unwrap(),
        )
        .unwrap();
        client_config = client_config.with_auth(AuthConfig::new(Credentials::Plain(credentials)));
    }
    let mut client = ClientSession::new(client_config);

    // What the client sent, by transaction, to check against what arrived.
    let mut sent: HashMap<_, Vec<u8>> = HashMap::new();
    let mut unsent: HashMap<_, Vec<u8>> = HashMap::new();
    for n in 0..scenario.messages {
        let mut envelope = Envelope::new(ReversePath::parse("<sender@example.org>").unwrap());
        for r in 0..=rng.below(4) {
            let to = format!("<r{n}-{r}@example.com>");
            envelope.add_recipient(ForwardPath::parse(&to).unwrap());
        }
        let id = client.send_mail(envelope).unwrap();
        let body = content(&mut rng);
        sent.insert(id, body.clone());
        unsent.insert(id, body);
    }
    client.quit();

    let mut tally = Tally::default();
    let mut to_server: VecDeque<u8> = VecDeque::new();
    let mut to_client: VecDeque<u8> = VecDeque::new();
    let mut receiving: Vec<u8> = Vec::new();
    let (mut client_closed, mut server_closed) = (false, false);
    let mut idle_rounds = 0;
    while !(client_closed && server_closed) {
        let mut progress = false;
        // The client side.
        loop {
            match client.poll_output() {
                ClientOutput::Transmit(bytes) => to_server.extend(bytes.iter()),
                ClientOutput::Event(ClientEvent::MessageAccepted { id, .. }) => {
                    tally.confirmed.push(sent[&id].clone())
                }
                ClientOutput::Event(ClientEvent::TransactionFailed { .. }) => tally.failed += 1,
                ClientOutput::Event(ClientEvent::RecipientRejected { .. }) => {
                    tally.rejected_recipients += 1
                }
                // Refusals count as errors, and a server refusing often
                // enough gives up with 421 (RFC 5321 §3.8) in the middle of
                // a group: the outcomes must agree all the same.
                ClientOutput::Event(ClientEvent::Error(SessionError::ServiceClosing(_)))
                    if scenario.refusals != USUAL_REFUSALS => {}
                ClientOutput::Event(ClientEvent::Error(err)) => panic!("client error {err:?}"),
                ClientOutput::Event(_) => {}
                ClientOutput::SendContent(id) => {
                    let body = unsent.get_mut(&id).expect("content asked for once");
                    if body.is_empty() {
                        client.finish_content().unwrap();
                        unsent.remove(&id);
                    } else {
                        let piece = 1 + rng.below(body.len() as u64) as usize;
                        let taken = client.send_content(&body[..piece]).unwrap();
                        body.drain(..taken);
                    }
                }
                ClientOutput::Idle => break,
                ClientOutput::StartTls => client.tls_established(),
                ClientOutput::NeedInput => break,
                ClientOutput::Closed => {
                    client_closed = true;
                    break;
                }
            }
            progress = true;
        }
        // The server side.
        loop {
            match server.poll_output() {
                ServerOutput::Transmit(bytes) => to_client.extend(bytes.iter()),
                ServerOutput::Event(ServerEvent::Content(chunk)) => {
                    receiving.extend_from_slice(&chunk)
                }
                ServerOutput::Event(ServerEvent::Aborted(_)) => receiving.clear(),
                ServerOutput::Event(ServerEvent::Rcpt(request))
                    if rng.chance(scenario.refusals[1]) =>
                {
                    server.reject(request, refuse(550)).unwrap()
                }
                ServerOutput::Event(ServerEvent::Mail(request))
                    if rng.chance(scenario.refusals[0]) =>
                {
                    server.reject(request, refuse(451)).unwrap()
                }
                ServerOutput::Event(ServerEvent::Message(request)) => {
                    let body = std::mem::take(&mut receiving);
                    if rng.chance(scenario.refusals[2]) {
                        server.reject(request, refuse(554)).unwrap();
                    } else {
                        tally.delivered.push(body);
                        server.accept(request).unwrap();
                    }
                }
                ServerOutput::Event(event) => server.accept_event(event).unwrap(),
                ServerOutput::StartTls => server.tls_established(),
                ServerOutput::NeedInput | ServerOutput::AwaitingDecision => break,
                ServerOutput::Closed => {
                    server_closed = true;
                    break;
                }
            }
            progress = true;
        }
        // The transport: random pieces each way.
        if !to_server.is_empty() && !server_closed {
            let n = 1 + rng.below(to_server.len() as u64) as usize;
            let piece: Vec<u8> = to_server.iter().take(n).copied().collect();
            let taken = server.receive(&piece);
            to_server.drain(..taken);
            progress |= taken > 0;
        } else if client_closed && !server_closed {
            server.receive_eof();
        }
        if !to_client.is_empty() && !client_closed {
            let n = 1 + rng.below(to_client.len() as u64) as usize;
            let piece: Vec<u8> = to_client.iter().take(n).copied().collect();
            let taken = client.receive(&piece);
            to_client.drain(..taken);
            progress |= taken > 0;
        } else if server_closed && !client_closed {
            client.receive_eof();
        }
        idle_rounds = if progress { 0 } else { idle_rounds + 1 };
        assert!(idle_rounds < 3, "neither side can move");
    }
    tally
}

fn check(scenario: Scenario) {
    let tally = run(&scenario);
    assert_eq!(
        tally.delivered, tally.confirmed,
        "seed {}: the client's view of what was delivered differs from the server's",
        scenario.seed
    );
    assert_eq!(tally.delivered.len() + tally.failed, scenario.messages);
}

#[test]
fn thousands_of_messages_arrive_byte_exact() {
    for seed in 0..20 {
        check(Scenario {
            seed,
            messages: 100,
            protocol: Protocol::Smtp,
            tls: seed % 2 == 0,
            auth: seed % 4 == 0,
            pipelining: seed % 3 != 0,
            chunking: seed % 5 == 0,
            refusals: USUAL_REFUSALS,
        });
    }
}

#[test]
fn lmtp_messages_arrive_byte_exact() {
    for seed in 100..105 {
        check(Scenario {
            seed,
            messages: 100,
            protocol: Protocol::Lmtp,
            tls: false,
            auth: false,
            pipelining: true,
            chunking: seed % 2 == 0,
            refusals: USUAL_REFUSALS,
        });
    }
}

/// Pipelined messages back to back, with refusals at every step often
/// enough that the end of one message and the next one's envelope fail
/// together in every combination.
#[test]
fn pipelined_messages_under_frequent_refusals() {
    for seed in 200..212 {
        check(Scenario {
            seed,
            messages: 100,
            protocol: if seed % 3 == 0 {
                Protocol::Lmtp
            } else {
                Protocol::Smtp
            },
            tls: false,
            auth: false,
            pipelining: true,
            chunking: seed % 2 == 0,
            refusals: [30, 50, 30],
        });
    }
}

/// Round trips of one connection carrying `messages` messages of two
/// recipients each, every command and reply accepted. Lockstep: each round,
/// the client runs until it blocks, all it wrote reaches the server, the
/// server runs until it blocks, and all it wrote reaches the client; a round
/// that ends with the client waiting for replies is one round trip.
fn round_trips(protocol: Protocol, pipelining: bool, chunking: bool, messages: usize) -> usize {
    let mut server_config = ServerConfig::new(Text::from_static("mx.example.org"));
    server_config.protocol = protocol;
    server_config.capabilities.pipelining = pipelining;
    server_config.capabilities.chunking = chunking;
    let mut server = ServerSession::new(Arc::new(server_config));
    let client_config = ClientConfig::new(Domain::parse("client.example.org").unwrap())
        .with_protocol(protocol)
        .with_chunking(chunking);
    let mut client = ClientSession::new(client_config);
    for n in 0..messages {
        let mut envelope = Envelope::new(ReversePath::parse("<sender@example.org>").unwrap());
        for r in 0..2 {
            let to = format!("<r{n}-{r}@example.com>");
            envelope.add_recipient(ForwardPath::parse(&to).unwrap());
        }
        client.send_mail(envelope).unwrap();
    }
    client.quit();
    let body = b"Subject: round trips\r\n\r\nHello\r\n";
    let mut accepted = 0;
    // Each round ends with the client waiting for replies: one round trip.
    for trips in 0..10_000 {
        let mut to_server = Vec::new();
        loop {
            match client.poll_output() {
                ClientOutput::Transmit(bytes) => to_server.extend_from_slice(&bytes),
                ClientOutput::Event(ClientEvent::MessageAccepted { .. }) => accepted += 1,
                ClientOutput::Event(ClientEvent::Error(err)) => panic!("client error {err:?}"),
                ClientOutput::Event(_) => {}
                ClientOutput::SendContent(_) => {
                    // Each message's content is offered whole, then ended.
                    if client.send_content(body) == Ok(body.len()) {
                        client.finish_content().unwrap();
                    }
                }
                ClientOutput::NeedInput => break,
                ClientOutput::Closed => {
                    assert_eq!(accepted, messages);
                    return trips;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        let mut to_client = Vec::new();
        let mut input: &[u8] = &to_server;
        loop {
            match server.poll_output() {
                ServerOutput::Transmit(bytes) => to_client.extend_from_slice(&bytes),
                ServerOutput::Event(event) => server.accept_event(event).unwrap(),
                ServerOutput::NeedInput if !input.is_empty() => {
                    let taken = server.receive(input);
                    input = &input[taken..];
                }
                _ => break,
            }
        }
        let mut replies: &[u8] = &to_client;
        while !replies.is_empty() {
            let taken = client.receive(replies);
            replies = &replies[taken..];
            if taken == 0 {
                break;
            }
        }
    }
    panic!("the connection did not end");
}

#[test]
fn round_trips_per_message() {
    const MESSAGES: usize = 20;
    for protocol in [Protocol::Smtp, Protocol::Lmtp] {
        for (pipelining, chunking) in [(true, false), (true, true), (false, false), (false, true)] {
            let setup = round_trips(protocol, pipelining, chunking, 0);
            let total = round_trips(protocol, pipelining, chunking, MESSAGES);
            let per_message = (total - setup) as f64 / MESSAGES as f64;
            println!(
                "{protocol:?} pipelining={pipelining} chunking={chunking}: \
                 {per_message:.2} round trips per message"
            );
            // With PIPELINING each message costs one round trip; with DATA
            // the first costs two, as its content waits for the 354.
            if pipelining {
                assert!(
                    total - setup <= MESSAGES + 1,
                    "{protocol:?} {chunking}: {total}"
                );
            }
        }
    }
}
