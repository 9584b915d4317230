//! Transactions per second through the server session in memory, side by
//! side with mailin's session in the same run: EHLO, MAIL, three RCPT, DATA
//! with 4 KiB of content, QUIT. Prints the ratio and the allocations per
//! transaction after criterion's report.

use std::alloc::System;
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

use smtpwire::server::{ServerConfig, ServerEvent, ServerSession};
use smtpwire::{ServerOutput, Text};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// One client session as it arrives on the wire, with 4 KiB of content in
/// 78-character lines, in the three writes of a pipelining client that
/// waits where RFC 2920 §3.1 says it must: after EHLO, and after DATA.
fn client_turns() -> [Vec<u8>; 3] {
    let hello = b"EHLO client.example.org\r\n".to_vec();
    let envelope = b"MAIL FROM:<sender@example.org> SIZE=4200\r\n\
RCPT TO:<alice@example.com>\r\nRCPT TO:<bob@example.com>\r\nRCPT TO:<carol@example.com>\r\nDATA\r\n"
        .to_vec();
    let line = format!("{}\r\n", "x".repeat(76));
    let mut content = Vec::new();
    while content.len() < 4096 {
        content.extend_from_slice(line.as_bytes());
    }
    content.extend_from_slice(b".\r\nQUIT\r\n");
    [hello, envelope, content]
}

/// Runs one session over `turns`, each read whole once the session asks for
/// input, as a socket would deliver them; returns the bytes written plus
/// the content bytes seen.
fn smtpwire_session(config: &Arc<ServerConfig>, turns: &[Vec<u8>]) -> usize {
    let mut session = ServerSession::new(Arc::clone(config));
    let mut turns = turns.iter();
    let mut rest: &[u8] = &[];
    let mut seen = 0;
    loop {
        match session.poll_output() {
            ServerOutput::Transmit(bytes) => seen += bytes.len(),
            ServerOutput::Event(ServerEvent::Content(chunk)) => seen += chunk.len(),
            ServerOutput::Event(event) => session.accept_event(event).expect("awaited"),
            ServerOutput::NeedInput => {
                if rest.is_empty() {
                    rest = turns.next().map_or(&[][..], Vec::as_slice);
                }
                let taken = session.receive(rest);
                rest = &rest[taken..];
            }
            ServerOutput::Closed => return seen,
            other => panic!("unexpected {other:?}"),
        }
    }
}

struct Sink(usize);

impl mailin::Handler for Sink {
    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.0 += buf.len();
        Ok(())
    }
}

/// The same session through mailin, which needs its caller to cut lines.
fn mailin_session(input: &[u8]) -> usize {
    let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let mut session = mailin::SessionBuilder::new("mx.example.org").build(ip, Sink(0));
    let mut out = Vec::with_capacity(512);
    session.greeting().write_to(&mut out).expect("vec");
    let mut rest = input;
    while let Some(end) = memchr::memchr(b'\n', rest) {
        let (line, tail) = rest.split_at(end + 1);
        rest = tail;
        session.process(line).write_to(&mut out).expect("vec");
    }
    out.len()
}

fn bench(c: &mut Criterion) {
    let config = Arc::new(ServerConfig::new(Text::from_static("mx.example.org")));
    let turns = client_turns();
    let input = turns.concat();
    assert!(smtpwire_session(&config, &turns) > 4096);
    assert!(mailin_session(&input) > 0);

    let mut group = c.benchmark_group("server transaction");
    group.throughput(Throughput::Elements(1));
    group.bench_function("smtpwire", |b| {
        b.iter(|| smtpwire_session(&config, black_box(&turns)))
    });
    group.bench_function("mailin", |b| b.iter(|| mailin_session(black_box(&input))));
    group.finish();

    let region = Region::new(GLOBAL);
    smtpwire_session(&config, &turns);
    let stats = region.change();
    let best = |f: &dyn Fn() -> usize| {
        (0..30)
            .map(|_| {
                let start = Instant::now();
                for _ in 0..200 {
                    black_box(f());
                }
                start.elapsed().as_secs_f64() / 200.0
            })
            .fold(f64::MAX, f64::min)
    };
    let ours = best(&|| smtpwire_session(&config, &turns));
    let theirs = best(&|| mailin_session(&input));
    println!(
        "server transaction: smtpwire {:.0}/s, mailin {:.0}/s, ratio {:.2}x; \
         smtpwire allocates {} times, {} bytes per transaction",
        1.0 / ours,
        1.0 / theirs,
        theirs / ours,
        stats.allocations,
        stats.bytes_allocated
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
