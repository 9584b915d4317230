//! A scripted server for client session tests: replays replies in chosen
//! chunks, supplies content when asked, and records what the client did.

#![allow(dead_code)]

use smtpwire::client::{ClientConfig, ClientEvent, ClientSession, Envelope, TransactionId};
use smtpwire::{ClientOutput, Domain, ForwardPath, ReversePath};

/// How each segment of server input is cut before it is fed.
#[derive(Debug, Clone)]
pub enum Split {
    Whole,
    Bytes,
    At(usize),
    Chunks(Vec<usize>),
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Run {
    pub events: Vec<ClientEvent>,
    pub transmits: Vec<Vec<u8>>,
    /// The messages whose content the session asked for, in order.
    pub contents: Vec<TransactionId>,
    pub starttls: usize,
    pub closed: bool,
}

impl Run {
    pub fn wire(&self) -> Vec<u8> {
        self.transmits.concat()
    }

    pub fn wire_str(&self) -> String {
        String::from_utf8_lossy(&self.wire()).into_owned()
    }

    pub fn has(&self, pred: impl Fn(&ClientEvent) -> bool) -> bool {
        self.events.iter().any(pred)
    }
}

pub fn config() -> ClientConfig {
    ClientConfig::new(Domain::parse("client.example.org").unwrap())
}

pub fn envelope(from: &str, to: &[&str]) -> Envelope {
    let mut envelope = Envelope::new(ReversePath::parse(from).unwrap());
    for rcpt in to {
        envelope.add_recipient(ForwardPath::parse(rcpt).unwrap());
    }
    envelope
}

fn cut(segment: &[u8], split: &Split) -> Vec<Vec<u8>> {
    match split {
        Split::Whole => vec![segment.to_vec()],
        Split::Bytes => segment.iter().map(|b| vec![*b]).collect(),
        Split::At(at) if *at < segment.len() => {
            vec![segment[..*at].to_vec(), segment[*at..].to_vec()]
        }
        Split::At(_) => vec![segment.to_vec()],
        Split::Chunks(sizes) => {
            let mut out = Vec::new();
            let mut rest = segment;
            for size in sizes.iter().cycle() {
                if rest.is_empty() {
                    break;
                }
                let take = (*size).clamp(1, rest.len());
                out.push(rest[..take].to_vec());
                rest = &rest[take..];
            }
            out
        }
    }
}

/// Drives `session` against server input given as segments: the first
/// before any STARTTLS, each next one after a TLS upgrade. Content for every
/// message is `body`, offered in pieces of `body_piece` bytes.
pub fn drive(
    session: &mut ClientSession,
    segments: &[&[u8]],
    split: Split,
    body: &[u8],
    body_piece: usize,
) -> Run {
    let mut run = Run::default();
    let mut segments = segments.iter().map(|s| cut(s, &split));
    let mut chunks = segments.next().unwrap_or_default().into_iter();
    let mut pending: Vec<u8> = Vec::new();
    let mut body_left: &[u8] = body;
    let mut content_for = None;
    for _ in 0..1_000_000 {
        match session.poll_output() {
            ClientOutput::Transmit(bytes) => run.transmits.push(bytes.to_vec()),
            ClientOutput::Event(event) => run.events.push(event),
            ClientOutput::Idle => return run,
            ClientOutput::SendContent(id) => {
                if content_for != Some(id) {
                    content_for = Some(id);
                    run.contents.push(id);
                    body_left = body;
                }
                if body_left.is_empty() {
                    session.finish_content().unwrap();
                } else {
                    let piece = &body_left[..body_left.len().min(body_piece.max(1))];
                    if let Ok(taken) = session.send_content(piece) {
                        body_left = &body_left[taken..];
                    }
                }
            }
            ClientOutput::NeedInput => {
                if pending.is_empty() {
                    match chunks.next() {
                        Some(chunk) => pending = chunk,
                        None => {
                            session.receive_eof();
                            continue;
                        }
                    }
                }
                let taken = session.receive(&pending);
                pending.drain(..taken);
            }
            ClientOutput::StartTls => {
                run.starttls += 1;
                // Anything left of this segment arrived before the handshake.
                let mut left: Vec<u8> = pending.split_off(0);
                left.extend(chunks.by_ref().flatten());
                if !left.is_empty() {
                    session.receive(&left);
                    continue;
                }
                chunks = segments.next().unwrap_or_default().into_iter();
                session.tls_established();
            }
            ClientOutput::Closed => {
                run.closed = true;
                return run;
            }
        }
    }
    panic!("session did not settle");
}

/// The message whose content the session waits for, if it does.
pub fn content_wanted(session: &mut ClientSession) -> Option<u64> {
    match session.poll_output() {
        ClientOutput::SendContent(id) => Some(id.get()),
        _ => None,
    }
}

/// A session with `envelopes` queued and QUIT after them, driven whole.
pub fn transcript(config: ClientConfig, envelopes: Vec<Envelope>, segments: &[&[u8]]) -> Run {
    transcript_split(config, envelopes, segments, Split::Whole)
}

pub fn transcript_split(
    config: ClientConfig,
    envelopes: Vec<Envelope>,
    segments: &[&[u8]],
    split: Split,
) -> Run {
    let mut session = ClientSession::new(config);
    for envelope in envelopes {
        session.send_mail(envelope).unwrap();
    }
    session.quit();
    drive(
        &mut session,
        segments,
        split,
        b"Subject: test\r\n\r\nHello\r\n",
        7,
    )
}
