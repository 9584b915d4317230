//! Messages per second through a ClientSession talking to a ServerSession in
//! memory: 4 KiB messages, 3 recipients each, 100 messages per connection,
//! with PIPELINING on and off. Prints the figures after criterion's report.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use smtpwire::client::{ClientConfig, ClientEvent, ClientSession, Envelope};
use smtpwire::server::{ServerConfig, ServerEvent, ServerSession};
use smtpwire::{ClientOutput, Domain, ForwardPath, ReversePath, ServerOutput, Text};

const MESSAGES: usize = 100;

fn body() -> Vec<u8> {
    let line = format!("{}\r\n", "x".repeat(76));
    line.repeat(4096 / line.len() + 1).into_bytes()
}

/// One connection carrying `MESSAGES` messages; returns the messages the
/// client saw accepted.
fn connection(server_config: &Arc<ServerConfig>, body: &[u8]) -> usize {
    let mut server = ServerSession::new(Arc::clone(server_config));
    let mut client = ClientSession::new(ClientConfig::new(
        Domain::parse("client.example.org").unwrap(),
    ));
    for _ in 0..MESSAGES {
        let mut envelope = Envelope::new(ReversePath::parse("<sender@example.org>").unwrap());
        for to in ["<a@example.com>", "<b@example.com>", "<c@example.com>"] {
            envelope.add_recipient(ForwardPath::parse(to).unwrap());
        }
        client.send_mail(envelope).unwrap();
    }
    client.quit();
    let (mut to_server, mut to_client) = (Vec::new(), Vec::new());
    let mut remaining: &[u8] = body;
    let mut accepted = 0;
    loop {
        let mut client_closed = false;
        loop {
            match client.poll_output() {
                ClientOutput::Transmit(bytes) => to_server.extend_from_slice(&bytes),
                ClientOutput::Event(ClientEvent::MessageAccepted { .. }) => accepted += 1,
                ClientOutput::Event(_) => {}
                ClientOutput::SendContent(_) => {
                    if remaining.is_empty() {
                        client.finish_content().unwrap();
                        remaining = body;
                    } else {
                        let taken = client.send_content(remaining).unwrap();
                        remaining = &remaining[taken..];
                    }
                }
                ClientOutput::Closed => {
                    client_closed = true;
                    break;
                }
                _ => break,
            }
        }
        loop {
            match server.poll_output() {
                ServerOutput::Transmit(bytes) => to_client.extend_from_slice(&bytes),
                ServerOutput::Event(ServerEvent::Content(chunk)) => {
                    black_box(chunk);
                }
                ServerOutput::Event(event) => server.accept_event(event).unwrap(),
                _ => break,
            }
        }
        if client_closed {
            return accepted;
        }
        let taken = server.receive(&to_server);
        to_server.drain(..taken);
        let taken = client.receive(&to_client);
        to_client.drain(..taken);
    }
}

fn bench(c: &mut Criterion) {
    let body = body();
    let mut group = c.benchmark_group("client+server pair");
    group.throughput(Throughput::Elements(MESSAGES as u64));
    let mut figures = Vec::new();
    for pipelining in [true, false] {
        let mut config = ServerConfig::new(Text::from_static("mx.example.org"));
        config.capabilities.pipelining = pipelining;
        let config = Arc::new(config);
        assert_eq!(connection(&config, &body), MESSAGES);
        let name = if pipelining {
            "pipelining"
        } else {
            "one command at a time"
        };
        group.bench_function(name, |b| b.iter(|| connection(&config, &body)));
        let best = (0..10)
            .map(|_| {
                let start = Instant::now();
                black_box(connection(&config, &body));
                start.elapsed().as_secs_f64()
            })
            .fold(f64::MAX, f64::min);
        figures.push((name, MESSAGES as f64 / best));
    }
    group.finish();
    for (name, rate) in figures {
        println!("client+server pair, {name}: {rate:.0} messages/s (4 KiB, 3 recipients)");
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
