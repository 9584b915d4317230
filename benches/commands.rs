//! Command parsing throughput, side by side with smtp-proto on the same input.
//!
//! `cargo bench -p smtpwire --bench commands`. Two corpora: the broad one of
//! `corpus/commands.rs` (many session shapes, every address form and
//! parameter) and the narrow mix this benchmark started with. Each is kept to
//! the lines both parsers accept, so neither is timed on lines it refuses.
//!
//! For each corpus and each way a server reads commands — the whole stream at
//! once, 4 KiB reads, and lines already framed — the report times smtpwire
//! (`LineFramer::next_framed` and `Command::parse_framed` over the stream, as
//! its server session reads, and `Command::parse` per line) and smtp-proto
//! (`RequestReceiver` over the stream, `Request::parse` per line) in
//! interleaved rounds, alternating which goes first, and prints the best time
//! per command of each, their ratio, and the median and middle half of the
//! per-round ratios. It also counts the allocations per command in the steady
//! state. Criterion's own measurements follow, for `--save-baseline` and
//! `--baseline` comparisons.

#[path = "corpus/commands.rs"]
mod corpus;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use smtpwire::framing::{LineEndPolicy, LineFramer};
use smtpwire::limits::DEFAULT_MAX_COMMAND_LINE;
use smtpwire::{Command, ParseOptions};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use std::alloc::System;
use std::hint::black_box;
use std::time::Instant;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Size of one read in the chunked rows: a common socket read size.
const READ: usize = 4096;

/// Interleaved rounds per row of the report.
const ROUNDS: usize = 41;

/// The narrow mix this benchmark started with: per session EHLO, MAIL with
/// SIZE/BODY, four RCPTs (some quoted, some with NOTIFY, one lower-case),
/// DATA, RSET, QUIT.
fn narrow(sessions: usize) -> Vec<u8> {
    let mut out = String::new();
    for i in 0..sessions {
        let mut push = |line: String| {
            out.push_str(&line);
            out.push_str("\r\n");
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
    out.into_bytes()
}

/// A corpus ready to time: the accepted stream, its lines without and with
/// their CRLF.
struct Corpus {
    name: &'static str,
    stream: Vec<u8>,
    lines: Vec<Bytes>,
    crlf_lines: Vec<Vec<u8>>,
}

impl Corpus {
    /// Keeps the lines of `raw` that both parsers accept, and says how many
    /// each refused.
    fn new(name: &'static str, raw: &[u8]) -> Corpus {
        let (mut ours_refused, mut theirs_refused) = (0, 0);
        let mut corpus = Corpus {
            name,
            stream: Vec::new(),
            lines: Vec::new(),
            crlf_lines: Vec::new(),
        };
        for crlf_line in raw.split_inclusive(|&b| b == b'\n') {
            let line = Bytes::copy_from_slice(&crlf_line[..crlf_line.len() - 2]);
            let ours = Command::parse(&line).is_ok();
            let theirs = smtp_proto::Request::parse(&mut crlf_line.iter()).is_ok();
            ours_refused += usize::from(!ours);
            theirs_refused += usize::from(!theirs);
            if ours && theirs {
                corpus.stream.extend_from_slice(crlf_line);
                corpus.lines.push(line);
                corpus.crlf_lines.push(crlf_line.to_vec());
            }
        }
        println!(
            "{name}: {} commands in {} octets ({ours_refused} refused by smtpwire, \
             {theirs_refused} by smtp-proto, left out)",
            corpus.lines.len(),
            corpus.stream.len()
        );
        corpus
    }
}

/// smtpwire as its server session reads commands: the framer fed
/// `read`-sized pieces, each line parsed where it lies as it comes out.
fn smtpwire_stream(stream: &[u8], read: usize) -> usize {
    let mut framer = LineFramer::new(DEFAULT_MAX_COMMAND_LINE, LineEndPolicy::Strict);
    let options = ParseOptions::default();
    let mut ok = 0;
    for piece in stream.chunks(read) {
        framer.push(piece);
        while let Some(line) = framer.next_framed() {
            ok += usize::from(Command::parse_framed(line.expect("valid line"), &options).is_ok());
        }
    }
    ok
}

/// smtp-proto as a server reads commands: `RequestReceiver` fed
/// `read`-sized pieces.
fn smtp_proto_stream(stream: &[u8], read: usize) -> usize {
    let mut receiver = smtp_proto::request::receiver::RequestReceiver::default();
    let mut ok = 0;
    for piece in stream.chunks(read) {
        let mut bytes = piece.iter();
        loop {
            match receiver.ingest(&mut bytes) {
                Ok(request) => {
                    black_box(request);
                    ok += 1;
                }
                Err(smtp_proto::Error::NeedsMoreData { .. }) => break,
                Err(_) => {}
            }
        }
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

/// Allocations per command once warm: the corpus parsed from framed lines,
/// and read in 4 KiB pieces through one framer that has seen it once.
fn allocations(corpus: &Corpus) {
    let region = Region::new(GLOBAL);
    for line in &corpus.lines {
        black_box(Command::parse(line).expect("valid"));
    }
    let parse = region.change().allocations;
    let mut framer = LineFramer::new(DEFAULT_MAX_COMMAND_LINE, LineEndPolicy::Strict);
    let options = ParseOptions::default();
    let drain = |framer: &mut LineFramer| {
        for piece in corpus.stream.chunks(READ) {
            framer.push(piece);
            while let Some(line) = framer.next_framed() {
                black_box(
                    Command::parse_framed(line.expect("valid line"), &options).expect("valid"),
                );
            }
        }
    };
    drain(&mut framer);
    let region = Region::new(GLOBAL);
    drain(&mut framer);
    let framed = region.change().allocations;
    let n = corpus.lines.len() as f64;
    println!(
        "{}: allocations per command: {:.3} parsing framed lines ({parse} in all), \
         {:.3} framing 4 KiB reads and parsing ({framed} in all)",
        corpus.name,
        parse as f64 / n,
        framed as f64 / n
    );
}

/// Seconds per call of `f`, over enough calls to last a few milliseconds.
fn time(f: &dyn Fn() -> usize, calls: usize) -> f64 {
    let start = Instant::now();
    for _ in 0..calls {
        black_box(f());
    }
    start.elapsed().as_secs_f64() / calls as f64
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// One row: both sides timed in interleaved rounds, alternating which goes
/// first. Prints a `ROW` line with the best (least disturbed) nanoseconds per
/// command of each, so runs of two builds can be compared, and the ratio
/// smtp-proto time / smtpwire time: of the best times, and the median and
/// middle half of the per-round ratios. Other work on the machine only ever
/// slows a round down, so the best times are the closest to the real cost.
fn row(corpus: &Corpus, what: &str, ours: &dyn Fn() -> usize, theirs: &dyn Fn() -> usize) {
    let n = corpus.lines.len();
    assert_eq!(ours(), n, "smtpwire refused a line of {}", corpus.name);
    assert_eq!(theirs(), n, "smtp-proto refused a line of {}", corpus.name);
    let calls = (2e-3 / time(ours, 1)).ceil() as usize;
    let (mut our_ns, mut their_ns, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let (a, b) = if round % 2 == 0 {
            let a = time(ours, calls);
            (a, time(theirs, calls))
        } else {
            let b = time(theirs, calls);
            (time(ours, calls), b)
        };
        our_ns.push(a * 1e9 / n as f64);
        their_ns.push(b * 1e9 / n as f64);
        ratios.push(b / a);
    }
    let best = |values: &[f64]| values.iter().copied().fold(f64::MAX, f64::min);
    let (ours, theirs) = (best(&our_ns), best(&their_ns));
    let ratio = median(&mut ratios);
    println!(
        "ROW {:<8} {:<14} smtpwire {ours:6.1} ns/cmd  smtp-proto {theirs:6.1} ns/cmd  \
         ratio {:.2}x (rounds: median {ratio:.2}x, middle half {:.2}-{:.2})",
        corpus.name,
        what,
        theirs / ours,
        ratios[ROUNDS / 4],
        ratios[ROUNDS - 1 - ROUNDS / 4]
    );
}

fn report(corpus: &Corpus) {
    allocations(corpus);
    let (stream, lines, crlf) = (&corpus.stream[..], &corpus.lines, &corpus.crlf_lines);
    row(
        corpus,
        "whole-stream",
        &|| smtpwire_stream(black_box(stream), usize::MAX),
        &|| smtp_proto_stream(black_box(stream), usize::MAX),
    );
    row(
        corpus,
        "4KiB-reads",
        &|| smtpwire_stream(black_box(stream), READ),
        &|| smtp_proto_stream(black_box(stream), READ),
    );
    row(
        corpus,
        "framed-lines",
        &|| smtpwire_lines(black_box(lines)),
        &|| smtp_proto_lines(black_box(crlf)),
    );
}

fn bench(c: &mut Criterion) {
    let corpora = [
        Corpus::new("broad", &corpus::commands(2000)),
        Corpus::new("narrow", &narrow(200)),
    ];
    for corpus in &corpora {
        report(corpus);
    }
    for corpus in &corpora {
        let mut group = c.benchmark_group(format!("commands/{}", corpus.name));
        group.throughput(Throughput::Elements(corpus.lines.len() as u64));
        let (stream, lines, crlf) = (&corpus.stream[..], &corpus.lines, &corpus.crlf_lines);
        group.bench_function("smtpwire/whole-stream", |b| {
            b.iter(|| smtpwire_stream(black_box(stream), usize::MAX))
        });
        group.bench_function("smtp-proto/whole-stream", |b| {
            b.iter(|| smtp_proto_stream(black_box(stream), usize::MAX))
        });
        group.bench_function("smtpwire/4KiB-reads", |b| {
            b.iter(|| smtpwire_stream(black_box(stream), READ))
        });
        group.bench_function("smtp-proto/4KiB-reads", |b| {
            b.iter(|| smtp_proto_stream(black_box(stream), READ))
        });
        group.bench_function("smtpwire/framed-lines", |b| {
            b.iter(|| smtpwire_lines(black_box(lines)))
        });
        group.bench_function("smtp-proto/framed-lines", |b| {
            b.iter(|| smtp_proto_lines(black_box(crlf)))
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
