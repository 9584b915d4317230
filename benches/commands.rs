//! Command parsing throughput, side by side with smtp-proto on the same lines.
//!
//! `cargo bench --bench commands`. Besides criterion's numbers, prints the
//! allocations per parsed command (counted by a global allocator) and the
//! speed ratios against smtp-proto (best of 40 interleaved runs of each).

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use smtpwire::framing::{LineEndPolicy, LineFramer};
use smtpwire::limits::DEFAULT_MAX_COMMAND_LINE;
use smtpwire::Command;
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use std::alloc::System;
use std::hint::black_box;
use std::time::Instant;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// A realistic mix: per session EHLO, MAIL with SIZE/BODY, several RCPTs
/// (some with quoted local parts and DSN parameters), DATA, RSET, QUIT.
fn stream(sessions: usize) -> (Vec<u8>, usize) {
    let mut out = String::new();
    let mut lines = 0;
    for i in 0..sessions {
        let mut push = |line: String| {
            out.push_str(&line);
            out.push_str("\r\n");
            lines += 1;
        };
        push(format!("EHLO client{i}.mail.example.net"));
        push(format!(
            "MAIL FROM:<bounce-{i}@lists.example.org> SIZE={} BODY=8BITMIME",
            1000 + i * 37
        ));
        for r in 0..4 {
            push(match (i + r) % 4 {
                0 => format!("RCPT TO:<user{r}.name@example.com>"),
                1 => format!("RCPT TO:<\"first last{r}\"@example.com>"),
                2 => format!("RCPT TO:<u{r}@sub.example.co.uk> NOTIFY=SUCCESS,FAILURE"),
                _ => format!("rcpt to:<x{r}+tag@example.org>"),
            });
        }
        push("DATA".to_string());
        push("RSET".to_string());
        push("QUIT".to_string());
    }
    (out.into_bytes(), lines)
}

fn framed(stream: &[u8]) -> Vec<Bytes> {
    let mut framer = LineFramer::new(DEFAULT_MAX_COMMAND_LINE, LineEndPolicy::Strict);
    framer.push(stream);
    std::iter::from_fn(|| framer.next_line())
        .map(|line| line.expect("valid line"))
        .collect()
}

fn smtpwire_stream(stream: &[u8]) -> usize {
    let mut framer = LineFramer::new(DEFAULT_MAX_COMMAND_LINE, LineEndPolicy::Strict);
    framer.push(stream);
    let mut ok = 0;
    while let Some(line) = framer.next_line() {
        ok += usize::from(Command::parse(&line.expect("valid line")).is_ok());
    }
    ok
}

fn smtp_proto_stream(stream: &[u8]) -> usize {
    let mut iter = stream.iter();
    let mut ok = 0;
    while iter.len() > 0 {
        ok += usize::from(smtp_proto::Request::parse(&mut iter).is_ok());
    }
    ok
}

fn smtpwire_lines(lines: &[Bytes]) -> usize {
    lines
        .iter()
        .filter(|line| Command::parse(line).is_ok())
        .count()
}

fn smtp_proto_lines(lines: &[Vec<u8>]) -> usize {
    lines
        .iter()
        .filter(|line| smtp_proto::Request::parse(&mut line.iter()).is_ok())
        .count()
}

fn report(stream: &[u8], lines: &[Bytes], crlf_lines: &[Vec<u8>]) {
    // Every line must parse, or the comparison would be unfair.
    assert_eq!(smtpwire_stream(stream), lines.len());
    assert_eq!(smtp_proto_stream(stream), lines.len());
    let region = Region::new(GLOBAL);
    for line in lines {
        black_box(Command::parse(line).expect("valid"));
    }
    let allocations = region.change().allocations;
    println!(
        "smtpwire: {allocations} allocations for {} parsed commands",
        lines.len()
    );
    // Best of many short interleaved runs: the run least disturbed by other
    // work on the machine is the closest to the real cost.
    let best = |f: &dyn Fn() -> usize| {
        let start = Instant::now();
        for _ in 0..20 {
            black_box(f());
        }
        start.elapsed().as_secs_f64() / 20.0
    };
    let compare = |what: &str, ours: &dyn Fn() -> usize, theirs: &dyn Fn() -> usize| {
        let (mut our_best, mut their_best) = (f64::MAX, f64::MAX);
        for _ in 0..40 {
            our_best = our_best.min(best(ours));
            their_best = their_best.min(best(theirs));
        }
        println!(
            "{what}: smtpwire {:.1} M commands/s, smtp-proto {:.1} M commands/s, ratio {:.2}x",
            lines.len() as f64 / our_best / 1e6,
            lines.len() as f64 / their_best / 1e6,
            their_best / our_best
        );
    };
    compare(
        "framing + parsing",
        &|| smtpwire_stream(black_box(stream)),
        &|| smtp_proto_stream(black_box(stream)),
    );
    compare(
        "parsing framed lines",
        &|| smtpwire_lines(black_box(lines)),
        &|| smtp_proto_lines(black_box(crlf_lines)),
    );
}

fn bench(c: &mut Criterion) {
    let (stream, count) = stream(200);
    let lines = framed(&stream);
    assert_eq!(lines.len(), count);
    let crlf_lines: Vec<Vec<u8>> = lines
        .iter()
        .map(|line| [&line[..], b"\r\n"].concat())
        .collect();
    report(&stream, &lines, &crlf_lines);

    let mut group = c.benchmark_group("commands");
    group.throughput(Throughput::Elements(count as u64));
    group.bench_function("smtpwire/frame+parse", |b| {
        b.iter(|| smtpwire_stream(black_box(&stream)))
    });
    group.bench_function("smtp-proto/frame+parse", |b| {
        b.iter(|| smtp_proto_stream(black_box(&stream)))
    });
    group.bench_function("smtpwire/parse", |b| {
        b.iter(|| smtpwire_lines(black_box(&lines)))
    });
    group.bench_function("smtp-proto/parse", |b| {
        b.iter(|| smtp_proto_lines(black_box(&crlf_lines)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
