//! Reply parsing and emission, side by side with smtp-proto's reply parser on
//! the same bytes in the same run.
//!
//! `cargo bench --bench replies -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use criterion::{criterion_group, Criterion, Throughput};
use smtpwire::framing::ReplyAssembler;
use smtpwire::{Capabilities, EnhancedStatusCode, Reply, ReplyCode, Text};

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

const REPLIES: u64 = SESSION.len() as u64;

fn smtpwire_session(assembler: &mut ReplyAssembler) -> usize {
    let mut seen = 0;
    for read in SESSION {
        assembler.push(read);
        while let Some(reply) = assembler.next_reply() {
            let reply = reply.expect("valid reply");
            seen += usize::from(black_box(&reply).code().as_u16() > 0);
        }
    }
    seen
}

fn smtp_proto_session(receiver: &mut smtp_proto::response::parser::ResponseReceiver) -> usize {
    let mut seen = 0;
    for read in SESSION {
        let mut bytes = read.iter();
        loop {
            match receiver.parse(&mut bytes) {
                Ok(reply) => {
                    seen += usize::from(black_box(&reply).code > 0);
                    receiver.reset();
                }
                Err(smtp_proto::Error::NeedsMoreData { .. }) => break,
                Err(error) => panic!("smtp-proto: {error}"),
            }
        }
    }
    seen
}

fn parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse_session");
    group.throughput(Throughput::Elements(REPLIES));
    let mut assembler = ReplyAssembler::new();
    assert_eq!(smtpwire_session(&mut assembler), SESSION.len());
    group.bench_function("smtpwire", |b| b.iter(|| smtpwire_session(&mut assembler)));
    let mut receiver = smtp_proto::response::parser::ResponseReceiver::default();
    assert_eq!(smtp_proto_session(&mut receiver), SESSION.len());
    group.bench_function("smtp-proto", |b| {
        b.iter(|| smtp_proto_session(&mut receiver))
    });
    group.finish();
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
    group.throughput(Throughput::Elements(REPLIES));
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

    let ehlo = Capabilities::from_reply(&replies[1]).expect("EHLO reply");
    let greeting = Text::from_static("mx.example.org");
    c.bench_function("capabilities_parse_emit", |b| {
        b.iter(|| {
            let caps = Capabilities::from_reply(black_box(&replies[1])).expect("250");
            black_box(caps.to_reply(greeting.clone()))
        })
    });
    black_box(ehlo);
}

/// Replies per second of each parser, measured back to back in rounds so
/// both see the same machine load; prints the median ratio.
fn print_ratio() {
    fn rate(mut session: impl FnMut() -> usize) -> f64 {
        let start = Instant::now();
        let mut replies = 0usize;
        while start.elapsed() < Duration::from_millis(300) {
            for _ in 0..1000 {
                replies += session();
            }
        }
        replies as f64 / start.elapsed().as_secs_f64()
    }
    let mut assembler = ReplyAssembler::new();
    let mut receiver = smtp_proto::response::parser::ResponseReceiver::default();
    let mut ratios = Vec::new();
    let (mut ours_best, mut theirs_best) = (0f64, 0f64);
    for _ in 0..5 {
        let ours = rate(|| smtpwire_session(&mut assembler));
        let theirs = rate(|| smtp_proto_session(&mut receiver));
        ours_best = ours_best.max(ours);
        theirs_best = theirs_best.max(theirs);
        ratios.push(ours / theirs);
    }
    ratios.sort_by(f64::total_cmp);
    println!(
        "reply parsing: smtpwire {:.1} M replies/s, smtp-proto {:.1} M replies/s, \
         ratio {:.2}x (median of {} rounds)",
        ours_best / 1e6,
        theirs_best / 1e6,
        ratios[ratios.len() / 2],
        ratios.len()
    );
}

criterion_group!(benches, parse, emit);

fn main() {
    benches();
    print_ratio();
    Criterion::default().configure_from_args().final_summary();
}
