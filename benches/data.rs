//! Message content throughput, side by side in one run: the DATA decoder
//! against smtp-proto's `DataReceiver` and a plain memcpy of the same bytes,
//! and the DATA encoder against memcpy.
//!
//! ```sh
//! cargo bench --bench data -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! After criterion's report a summary prints GB/s and the ratios, measured
//! again as the best of a few runs of each (the least disturbed by other
//! load on the machine).

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use criterion::{BatchSize, Criterion, Throughput};
use smtpwire::data::{encode_message, DataDecoder, DataEncoder, DataEvent, OutgoingBareNewline};

/// At least 64 MiB of mail text.
const CONTENT_SIZE: usize = 64 << 20;
/// What a client reads from a file or socket at a time.
const ENCODE_CHUNK: usize = 64 << 10;

/// Deterministic mail text: 78-character lines of word-like runs, every
/// 25th line starting with "." so the stuffing path is exercised.
fn mail_text() -> Vec<u8> {
    const WORDS: [&[u8]; 12] = [
        b"the",
        b"message",
        b"content",
        b"of",
        b"an",
        b"SMTP",
        b"transaction",
        b"is",
        b"plain",
        b"text,",
        b"mostly",
        b"lines.",
    ];
    let mut text = Vec::with_capacity(CONTENT_SIZE + 128);
    let mut seed: u32 = 0x2545_f491;
    let mut line_no = 0u32;
    while text.len() < CONTENT_SIZE {
        let start = text.len();
        // Not the first line: smtp-proto leaves a stuffed first line as is.
        if line_no % 25 == 24 {
            text.push(b'.');
        }
        while text.len() - start < 78 {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let word = WORDS[(seed >> 24) as usize % WORDS.len()];
            text.extend_from_slice(word);
            text.push(b' ');
        }
        text.truncate(start + 78);
        text.extend_from_slice(b"\r\n");
        line_no += 1;
    }
    text
}

/// Pushes the previous input out of the CPU caches, so every contender
/// starts from memory as a session's freshly read buffer would.
fn evict(scratch: &mut [u8]) {
    for (i, byte) in scratch.iter_mut().enumerate().step_by(64) {
        *byte = byte.wrapping_add(i as u8);
    }
    black_box(&scratch);
}

fn decode_all(mut buf: BytesMut) -> (usize, BytesMut) {
    let mut decoder = DataDecoder::new().with_max_size(u64::MAX);
    let mut total = 0;
    while let Some(event) = decoder.decode(&mut buf) {
        match event {
            DataEvent::Content(chunk) => total += black_box(chunk).len(),
            DataEvent::End(_) => break,
        }
    }
    (total, buf)
}

fn smtp_proto_all(wire: &[u8], out: &mut Vec<u8>) -> usize {
    out.clear();
    let mut receiver = smtp_proto::request::receiver::DataReceiver::new();
    let mut input = wire.iter();
    assert!(receiver.ingest(&mut input, out));
    black_box(out.len())
}

fn memcpy_all(wire: &[u8], out: &mut Vec<u8>) -> usize {
    out.clear();
    out.extend_from_slice(wire);
    black_box(out.len())
}

fn encode_copying(content: &[u8], out: &mut Vec<u8>) -> usize {
    out.clear();
    let mut encoder = DataEncoder::new(OutgoingBareNewline::Normalize);
    for chunk in content.chunks(ENCODE_CHUNK) {
        encoder.encode(chunk, out).unwrap();
    }
    encoder.finish(out).unwrap();
    black_box(out.len())
}

fn encode_slicing(content: &Bytes, out: &mut Vec<Bytes>) -> usize {
    out.clear();
    let mut encoder = DataEncoder::new(OutgoingBareNewline::Normalize);
    let mut start = 0;
    while start < content.len() {
        let end = (start + ENCODE_CHUNK).min(content.len());
        encoder
            .encode_bytes(&content.slice(start..end), out)
            .unwrap();
        start = end;
    }
    encoder.finish_bytes(out).unwrap();
    black_box(out.len())
}

struct Inputs {
    content: Bytes,
    wire: Vec<u8>,
}

fn inputs() -> Inputs {
    let content = mail_text();
    let wire = encode_message(&content, OutgoingBareNewline::Normalize).unwrap();
    // Both decoders must agree on the content before they are compared.
    let (decoded, _) = decode_all(BytesMut::from(&wire[..]));
    let mut proto_out = Vec::with_capacity(wire.len());
    smtp_proto_all(&wire, &mut proto_out);
    assert_eq!(decoded, content.len());
    assert!(proto_out == content, "smtp-proto disagrees on the content");
    Inputs {
        content: Bytes::from(content),
        wire,
    }
}

fn bench(c: &mut Criterion, inputs: &Inputs) {
    let Inputs { content, wire } = inputs;
    let mut scratch = vec![0u8; 2 * wire.len()];
    let mut out = Vec::with_capacity(wire.len() + 64);
    let mut slices = Vec::with_capacity(content.len() / 64);

    let mut group = c.benchmark_group("data_decode");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(wire.len() as u64));
    group.bench_function("smtpwire_decoder", |b| {
        b.iter_batched(
            || {
                let buf = BytesMut::from(&wire[..]);
                evict(&mut scratch);
                buf
            },
            decode_all,
            BatchSize::PerIteration,
        )
    });
    group.bench_function("smtp_proto_data_receiver", |b| {
        b.iter(|| smtp_proto_all(wire, &mut out))
    });
    group.bench_function("memcpy", |b| b.iter(|| memcpy_all(wire, &mut out)));
    group.finish();

    let mut group = c.benchmark_group("data_encode");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(content.len() as u64));
    group.bench_function("smtpwire_encoder_bufmut", |b| {
        b.iter(|| encode_copying(content, &mut out))
    });
    group.bench_function("smtpwire_encoder_bytes", |b| {
        b.iter(|| encode_slicing(content, &mut slices))
    });
    group.bench_function("memcpy", |b| b.iter(|| memcpy_all(content, &mut out)));
    group.finish();
}

/// Best wall time of `runs` calls of `routine`, each after `setup`; what
/// the routine returns is dropped outside the timing, as criterion does.
fn best_of<S, I, R, O>(runs: usize, mut setup: S, mut routine: R) -> Duration
where
    S: FnMut() -> I,
    R: FnMut(I) -> O,
{
    let times: Vec<Duration> = (0..runs)
        .map(|_| {
            let input = setup();
            let start = Instant::now();
            let output = black_box(routine(input));
            let elapsed = start.elapsed();
            drop(output);
            elapsed
        })
        .collect();
    times.into_iter().min().unwrap_or_default()
}

fn summary(inputs: &Inputs) {
    let Inputs { content, wire } = inputs;
    let mut scratch = vec![0u8; 2 * wire.len()];
    let mut out = Vec::with_capacity(wire.len() + 64);
    let mut slices = Vec::with_capacity(content.len() / 64);
    let runs = 15;
    let gbps = |bytes: usize, time: Duration| bytes as f64 / time.as_secs_f64() / 1e9;

    let decoder = best_of(
        runs,
        || {
            let buf = BytesMut::from(&wire[..]);
            evict(&mut scratch);
            buf
        },
        decode_all,
    );
    let proto = best_of(runs, || (), |()| smtp_proto_all(wire, &mut out));
    let memcpy = best_of(runs, || (), |()| memcpy_all(wire, &mut out));
    let encoder = best_of(runs, || (), |()| encode_copying(content, &mut out));
    let encoder_bytes = best_of(runs, || (), |()| encode_slicing(content, &mut slices));
    let memcpy_content = best_of(runs, || (), |()| memcpy_all(content, &mut out));

    let (d, p, m) = (
        gbps(wire.len(), decoder),
        gbps(wire.len(), proto),
        gbps(wire.len(), memcpy),
    );
    let (e, eb, mc) = (
        gbps(content.len(), encoder),
        gbps(content.len(), encoder_bytes),
        gbps(content.len(), memcpy_content),
    );
    println!(
        "\nDATA path, {} MiB of wire text, best of {runs} runs:",
        wire.len() >> 20
    );
    println!("  smtpwire DataDecoder       {d:6.2} GB/s");
    println!("  smtp-proto DataReceiver    {p:6.2} GB/s");
    println!("  memcpy (wire)              {m:6.2} GB/s");
    println!("  smtpwire DataEncoder/BufMut {e:5.2} GB/s");
    println!("  smtpwire DataEncoder/Bytes  {eb:5.2} GB/s");
    println!("  memcpy (content)           {mc:6.2} GB/s");
    println!("  decoder / smtp-proto       {:6.2}x", d / p);
    println!("  decoder / memcpy           {:6.2}x", d / m);
    println!("  encoder BufMut / memcpy    {:6.2}x", e / mc);
    println!("  encoder Bytes / memcpy     {:6.2}x", eb / mc);
}

fn main() {
    let inputs = inputs();
    let mut criterion = Criterion::default().configure_from_args();
    bench(&mut criterion, &inputs);
    criterion.final_summary();
    summary(&inputs);
}
