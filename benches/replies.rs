//! Reply parsing and emission, side by side with smtp-proto on the same bytes
//! in the same run.
//!
//! `cargo bench -p smtpwire --bench replies -- --warm-up-time 1 --measurement-time 3`
//!
//! Two workloads: one Postfix delivery (seven replies), and the broad corpus
//! of `corpus/replies.rs` (sessions in the styles of eight MTAs). Each is read
//! the way a client reads it: smtpwire through a
//! [`ReplyAssembler`](smtpwire::framing::ReplyAssembler), with the EHLO reply
//! turned into [`Capabilities`]; smtp-proto through the entry points its own
//! client uses, a `ResponseReceiver` per reply and `EhloResponse::parse` for
//! the EHLO reply. The broad corpus is fed whole and in 4 KiB reads, and
//! also with the EHLO replies parsed as plain replies, which sets the two
//! reply parsers side by side without the capability readers.
//!
//! Besides criterion's figures, the run prints for every workload both
//! parsers' rates and the ratio over interleaved rounds (median and range),
//! and the allocations per reply in the steady state. Passing a filter that
//! matches no criterion benchmark (`-- rounds`) prints only those.

use std::alloc::System;
use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use criterion::{criterion_group, Criterion, Throughput};
use smtp_proto::response::parser::ResponseReceiver;
use smtpwire::framing::ReplyAssembler;
use smtpwire::{Capabilities, EnhancedStatusCode, Reply, ReplyCode, Text};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

#[path = "corpus/replies.rs"]
mod corpus;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// What a client reads in one delivery to a Postfix server, one read per reply.
const SESSION: [&[u8]; 7] = [
    b"220 mx.example.org ESMTP Postfix (Debian/GNU)\r\n",
    b"250-mx.example.org\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-VRFY\r\n250-ETRN\r\n\
      250-STARTTLS\r\n250-AUTH PLAIN LOGIN\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n\
      250-DSN\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n",
    b"250 2.1.0 Ok\r\n",
    b"250 2.1.5 Ok\r\n",
    b"354 End data with <CR><LF>.<CR><LF>\r\n",
    b"250 2.0.0 Ok: queued as 4Xq1Lr2pQnz9sWK\r\n",
    b"221 2.0.0 Bye\r\n",
];

/// Seed and size of the broad corpus: fixed, so every run reads the same bytes.
const CORPUS_SEED: u64 = 0x5eed_2026_0017;
const CORPUS_SESSIONS: usize = 2_000;

/// The bytes a client reads, how they arrive, and which replies answer EHLO.
struct Workload {
    name: &'static str,
    /// The reads, in order.
    reads: Vec<Vec<u8>>,
    ehlo: Vec<bool>,
    lines: usize,
    /// Whether EHLO replies are read for their capabilities, or parsed as
    /// replies like any other (the reply parsers alone, side by side).
    capabilities: bool,
}

impl Workload {
    fn replies(&self) -> usize {
        self.ehlo.len()
    }

    fn today() -> Self {
        let lines = SESSION
            .iter()
            .map(|read| read.split(|&b| b == b'\n').count() - 1);
        Workload {
            name: "Postfix session (7 replies, 1 read each)",
            reads: SESSION.iter().map(|read| read.to_vec()).collect(),
            // The second reply answers EHLO.
            ehlo: (0..SESSION.len()).map(|index| index == 1).collect(),
            lines: lines.sum(),
            capabilities: true,
        }
    }

    fn broad(read: Option<usize>, capabilities: bool) -> Self {
        let corpus = corpus::generate(CORPUS_SEED, CORPUS_SESSIONS);
        let reads = match read {
            Some(size) => corpus.stream.chunks(size).map(<[u8]>::to_vec).collect(),
            None => vec![corpus.stream],
        };
        Workload {
            name: match (read.is_some(), capabilities) {
                (true, true) => "broad corpus, 4 KiB reads",
                (false, true) => "broad corpus, whole stream",
                (true, false) => "broad corpus, 4 KiB reads, replies only",
                (false, false) => "broad corpus, whole stream, replies only",
            },
            reads,
            ehlo: corpus.ehlo,
            lines: corpus.lines,
            capabilities,
        }
    }
}

/// smtpwire as a client uses it; returns the replies read.
fn smtpwire_read(workload: &Workload, assembler: &mut ReplyAssembler) -> usize {
    let mut index = 0;
    for read in &workload.reads {
        assembler.push(read);
        while let Some(reply) = assembler.next_reply() {
            let reply = reply.expect("valid reply");
            if workload.capabilities && workload.ehlo[index] {
                let caps = Capabilities::from_reply(&reply).expect("EHLO reply");
                black_box(&caps);
            }
            black_box(&reply);
            index += 1;
        }
    }
    index
}

/// smtp-proto as its client uses it: `EhloResponse::parse` over the bytes
/// of the EHLO reply, held until they are all in; a `ResponseReceiver` for
/// every other reply (and for the EHLO reply too when only the reply
/// parsers are compared). Returns the replies read.
fn smtp_proto_read(
    workload: &Workload,
    receiver: &mut ResponseReceiver,
    pending: &mut Vec<u8>,
) -> usize {
    let mut index = 0;
    for read in &workload.reads {
        let mut bytes = read.iter();
        while index < workload.ehlo.len() {
            if workload.capabilities && workload.ehlo[index] {
                let whole = pending.is_empty();
                if !whole {
                    pending.extend_from_slice(bytes.as_slice());
                }
                let mut from = if whole { bytes.clone() } else { pending.iter() };
                match smtp_proto::EhloResponse::parse(&mut from) {
                    Ok(ehlo) => {
                        black_box(&ehlo);
                        // What is left is the tail of this read.
                        bytes = read[read.len() - from.len()..].iter();
                        pending.clear();
                    }
                    Err(smtp_proto::Error::NeedsMoreData { .. }) => {
                        if whole {
                            pending.extend_from_slice(bytes.as_slice());
                        }
                        break;
                    }
                    Err(error) => panic!("smtp-proto EHLO: {error}"),
                }
            } else {
                match receiver.parse(&mut bytes) {
                    Ok(reply) => {
                        black_box(&reply);
                        receiver.reset();
                    }
                    Err(smtp_proto::Error::NeedsMoreData { .. }) => break,
                    Err(error) => panic!("smtp-proto: {error}"),
                }
            }
            index += 1;
        }
    }
    index
}

fn workloads() -> [Workload; 5] {
    [
        Workload::today(),
        Workload::broad(None, true),
        Workload::broad(Some(4096), true),
        Workload::broad(None, false),
        Workload::broad(Some(4096), false),
    ]
}

fn parse(c: &mut Criterion) {
    for (workload, group) in workloads().iter().zip([
        "parse_session",
        "parse_broad_whole",
        "parse_broad_4k",
        "parse_broad_whole_replies",
        "parse_broad_4k_replies",
    ]) {
        let mut group = c.benchmark_group(group);
        group.throughput(Throughput::Elements(workload.replies() as u64));
        let mut assembler = ReplyAssembler::new();
        group.bench_function("smtpwire", |b| {
            b.iter(|| smtpwire_read(workload, &mut assembler))
        });
        let mut receiver = ResponseReceiver::default();
        let mut pending = Vec::new();
        group.bench_function("smtp-proto", |b| {
            b.iter(|| smtp_proto_read(workload, &mut receiver, &mut pending))
        });
        group.finish();
    }
}

fn session_replies() -> Vec<Reply> {
    let mut assembler = ReplyAssembler::new();
    SESSION
        .iter()
        .map(|read| {
            assembler.push(read);
            assembler.next_reply().expect("whole reply").expect("valid")
        })
        .collect()
}

fn emit(c: &mut Criterion) {
    let replies = session_replies();
    let mut group = c.benchmark_group("emit_session");
    group.throughput(Throughput::Elements(replies.len() as u64));
    let mut out = BytesMut::with_capacity(4096);
    group.bench_function("smtpwire", |b| {
        b.iter(|| {
            out.clear();
            for reply in &replies {
                black_box(reply).emit(&mut out);
            }
            black_box(out.len())
        })
    });
    group.finish();

    // Single-line replies with an enhanced code: the form both crates write.
    let ours = [
        (ReplyCode::OK, EnhancedStatusCode::SENDER_OK, "Ok"),
        (ReplyCode::OK, EnhancedStatusCode::DESTINATION_VALID, "Ok"),
        (
            ReplyCode::OK,
            EnhancedStatusCode::OK,
            "Ok: queued as 4Xq1Lr2pQnz9sWK",
        ),
        (ReplyCode::CLOSING, EnhancedStatusCode::OK, "Bye"),
    ]
    .map(|(code, enhanced, text)| {
        Reply::with_enhanced(code, enhanced, Text::from_static(text)).expect("classes agree")
    });
    let theirs = [
        (250, [2, 1, 0], "Ok"),
        (250, [2, 1, 5], "Ok"),
        (250, [2, 0, 0], "Ok: queued as 4Xq1Lr2pQnz9sWK"),
        (221, [2, 0, 0], "Bye"),
    ]
    .map(|(code, [e0, e1, e2], text)| smtp_proto::Response::new(code, e0, e1, e2, text));
    let mut group = c.benchmark_group("emit_single_line");
    group.throughput(Throughput::Elements(ours.len() as u64));
    group.bench_function("smtpwire", |b| {
        b.iter(|| {
            out.clear();
            for reply in &ours {
                black_box(reply).emit(&mut out);
            }
            black_box(out.len())
        })
    });
    let mut vec = Vec::with_capacity(4096);
    group.bench_function("smtp-proto", |b| {
        b.iter(|| {
            vec.clear();
            for reply in &theirs {
                black_box(reply).write(&mut vec).expect("write to a Vec");
            }
            black_box(vec.len())
        })
    });
    group.finish();

    let greeting = Text::from_static("mx.example.org");
    c.bench_function("capabilities_parse_emit", |b| {
        b.iter(|| {
            let caps = Capabilities::from_reply(black_box(&replies[1])).expect("250");
            black_box(caps.to_reply(greeting.clone()))
        })
    });
}

/// Replies per second of `read`, run over and over for at least `span`.
fn rate(span: Duration, replies: usize, mut read: impl FnMut() -> usize) -> f64 {
    let start = Instant::now();
    let mut total = 0usize;
    while start.elapsed() < span {
        let seen = read();
        assert_eq!(seen, replies);
        total += seen;
    }
    total as f64 / start.elapsed().as_secs_f64()
}

/// Middle, lowest and highest of `values`.
fn spread(values: &mut [f64]) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    (
        values[values.len() / 2],
        values[0],
        values[values.len() - 1],
    )
}

/// Rates and ratio of both parsers on every workload, measured back to back
/// in rounds (which parser goes first alternates) so both see the same
/// machine load; the spread shows how much that load moved them.
fn print_ratios() {
    const ROUNDS: usize = 15;
    let span = Duration::from_millis(150);
    println!(
        "{:<44} {:>20} {:>20} {:>24}",
        "workload (replies, lines)", "smtpwire", "smtp-proto", "ratio (min-max)"
    );
    for workload in workloads() {
        let replies = workload.replies();
        let mut assembler = ReplyAssembler::new();
        let mut receiver = ResponseReceiver::default();
        let mut pending = Vec::new();
        let (mut ours, mut theirs, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        for round in 0..ROUNDS {
            let mut measure_ours =
                || rate(span, replies, || smtpwire_read(&workload, &mut assembler));
            let mut measure_theirs = || {
                rate(span, replies, || {
                    smtp_proto_read(&workload, &mut receiver, &mut pending)
                })
            };
            let (a, b) = if round % 2 == 0 {
                let a = measure_ours();
                (a, measure_theirs())
            } else {
                let b = measure_theirs();
                (measure_ours(), b)
            };
            ours.push(a);
            theirs.push(b);
            ratios.push(a / b);
        }
        let (ours, _, _) = spread(&mut ours);
        let (theirs, _, _) = spread(&mut theirs);
        let (ratio, low, high) = spread(&mut ratios);
        println!(
            "{:<44} {:>9.2} M/s {:>4.0} ns {:>9.2} M/s {:>4.0} ns {:>9.2}x ({:.2}-{:.2})",
            format!("{} ({replies}, {})", workload.name, workload.lines),
            ours / 1e6,
            1e9 / ours,
            theirs / 1e6,
            1e9 / theirs,
            ratio,
            low,
            high,
        );
    }
    println!("(medians of {ROUNDS} interleaved rounds of {span:?} each)");
}

/// Allocations per reply once buffers have grown (a second pass over the
/// same workload), as [`smtpwire_read`] makes them.
fn print_allocations() {
    for workload in workloads() {
        let mut assembler = ReplyAssembler::new();
        smtpwire_read(&workload, &mut assembler);
        let region = Region::new(GLOBAL);
        smtpwire_read(&workload, &mut assembler);
        let allocations = region.change().allocations;
        let replies = workload.replies();
        let ehlo = workload.ehlo.iter().filter(|&&ehlo| ehlo).count();
        let capabilities = if workload.capabilities {
            format!(", Capabilities read from its {ehlo} EHLO replies")
        } else {
            String::new()
        };
        println!(
            "{}: {allocations} allocations for {replies} replies ({:.3} per reply{capabilities})",
            workload.name,
            allocations as f64 / replies as f64,
        );
    }
}

criterion_group!(benches, parse, emit);

fn main() {
    benches();
    print_allocations();
    print_ratios();
    Criterion::default().configure_from_args().final_summary();
}
