//! A broad, deterministic corpus of SMTP and LMTP commands for the command
//! benchmark.
//!
//! The commands come from whole sessions of the shapes a server sees, drawn
//! with a fixed-seed PRNG so every run parses the same bytes:
//!
//! | share | session shape |
//! |---|---|
//! | 30 % | MX traffic: EHLO, sometimes STARTTLS and a second EHLO, 1–3 messages of MAIL and 1–4 RCPTs, DATA, RSET between messages, QUIT |
//! | 25 % | submission: EHLO, AUTH PLAIN with an initial response or AUTH LOGIN, MAIL with `AUTH=`, 1–5 RCPTs, DATA, QUIT |
//! | 10 % | bulk: one MAIL and 50 RCPTs, DATA, QUIT |
//! | 15 % | LMTP: LHLO, MAIL, 1–8 RCPTs, DATA, QUIT |
//! | 15 % | CHUNKING: EHLO, MAIL, 1–3 RCPTs, one to four BDAT chunks, the last with LAST, QUIT |
//! | 5 % | probes: HELO, NOOP, VRFY, HELP, RSET, QUIT |
//!
//! A tenth of the sessions write their verbs in lower case, as some clients
//! do. Mailboxes follow the proportions of real traffic: mostly dot-atoms
//! (with tags, dots, digits), then UTF-8 local parts and domains (RFC 6531,
//! with `SMTPUTF8` on MAIL), quoted local parts with spaces and escapes,
//! `postmaster`, address literals (IPv4, IPv6 full and compressed, IPv4 in
//! IPv6, general `tag:value`), source routes and the null reverse-path `<>`.
//! MAIL carries SIZE, BODY (7BIT, 8BITMIME, BINARYMIME), SMTPUTF8, RET, ENVID
//! and AUTH= in the mixes clients send them; RCPT carries NOTIFY (NEVER or
//! lists) and ORCPT with xtext escapes.
//!
//! The corpus is a stream of CRLF-ended lines. The benchmark keeps only the
//! lines both parsers under test accept, and says how many it dropped.

/// The seed every run uses.
pub const SEED: u64 = 0x5eed_c0de_5317_0021;

/// SplitMix64: tiny, fast and good enough to pick among choices.
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// A number in `low..=high`.
    pub fn range(&mut self, low: u64, high: u64) -> u64 {
        low + self.below(high - low + 1)
    }

    /// True `percent` times in a hundred.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// One of `items`.
    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

const FIRST: &[&str] = &[
    "john",
    "mary",
    "a",
    "noreply",
    "info",
    "sales",
    "j.smith",
    "bob",
    "alice",
    "support",
    "newsletter",
    "bounce",
    "admin",
    "x",
    "anna-lena",
    "o'neil",
    "li_wei",
    "k9",
];
const LAST: &[&str] = &[
    "doe", "smith", "nguyen", "mueller", "garcia", "kowalski", "ito",
];
const TAGS: &[&str] = &["+news", "+2024", "+a1b2", "-bounces", "=srs0", "+x"];
const DOMAINS: &[&str] = &[
    "example.com",
    "mail.example.net",
    "example.org",
    "lists.example.org",
    "sub.example.co.uk",
    "mx1.mail-relay.example",
    "a.b.c.d.example",
    "example.de",
    "xn--bcher-kva.example",
    "very-long-subdomain-name.department.corporation.example.com",
];
const UTF8_LOCALS: &[&str] = &[
    "用户",
    "δοκιμή",
    "josé.garcía",
    "ñandú",
    "пользователь",
    "müller",
];
const UTF8_DOMAINS: &[&str] = &["例子.测试", "bücher.example", "пример.рф", "exämple.com"];
const QUOTED: &[&str] = &[
    "\"john doe\"",
    "\"a b c\"",
    "\"with\\\"quote\"",
    "\"x..y\"",
    "\"back\\\\slash\"",
    "\"first.last@inner\"",
    "\"\"",
];
const MECHANISMS_B64: &[&str] = &[
    "AGpvaG5AZXhhbXBsZS5jb20Ac2VjcmV0",
    "AHVzZXIAcGFzc3dvcmQxMjM=",
    "dXNlcgB1c2VyAHB3",
];

/// A domain, sometimes UTF-8 when `utf8` allows it.
fn domain(rng: &mut Rng, utf8: bool) -> String {
    if utf8 && rng.chance(40) {
        return rng.pick(UTF8_DOMAINS).to_string();
    }
    let d = rng.pick(DOMAINS);
    if rng.chance(20) {
        format!("m{}.{d}", rng.below(100))
    } else {
        d.to_string()
    }
}

/// An address literal of each form in turn.
fn literal(rng: &mut Rng) -> String {
    match rng.below(10) {
        0..=4 => format!(
            "[{}.{}.{}.{}]",
            rng.range(1, 223),
            rng.below(256),
            rng.below(256),
            rng.range(1, 254)
        ),
        5 | 6 => format!(
            "[IPv6:2001:db8:{:x}::{:x}]",
            rng.below(65536),
            rng.range(1, 65535)
        ),
        7 => format!(
            "[IPv6:2001:db8:{:x}:{:x}:{:x}:{:x}:{:x}:{:x}]",
            rng.below(65536),
            rng.below(65536),
            rng.below(65536),
            rng.below(65536),
            rng.below(65536),
            rng.below(65536)
        ),
        8 => format!("[IPv6:::ffff:192.0.2.{}]", rng.range(1, 254)),
        _ => format!("[x-tag:opaque-{}]", rng.below(1000)),
    }
}

/// A mailbox in the proportions of real traffic; `utf8` says whether the
/// session announced SMTPUTF8 on this transaction.
fn mailbox(rng: &mut Rng, utf8: bool) -> String {
    let roll = rng.below(1000);
    match roll {
        // UTF-8 local part, only in SMTPUTF8 transactions.
        _ if utf8 && roll < 400 => format!("{}@{}", rng.pick(UTF8_LOCALS), domain(rng, true)),
        0..=29 => format!("{}@{}", rng.pick(QUOTED), domain(rng, false)),
        30..=49 => format!("{}@{}", rng.pick(FIRST), literal(rng)),
        50..=59 => format!("postmaster@{}", domain(rng, false)),
        60..=359 => format!(
            "{}.{}@{}",
            rng.pick(FIRST),
            rng.pick(LAST),
            domain(rng, false)
        ),
        360..=499 => format!(
            "{}{}@{}",
            rng.pick(FIRST),
            rng.pick(TAGS),
            domain(rng, false)
        ),
        500..=599 => format!(
            "{}{}@{}",
            rng.pick(FIRST),
            rng.below(10_000),
            domain(rng, false)
        ),
        _ => format!("{}@{}", rng.pick(FIRST), domain(rng, false)),
    }
}

/// A path around a mailbox: now and then with a source route.
fn path(rng: &mut Rng, utf8: bool) -> String {
    let mailbox = mailbox(rng, utf8);
    if rng.chance(1) {
        format!("<@relay.example.net,@hub.example.org:{mailbox}>")
    } else {
        format!("<{mailbox}>")
    }
}

/// The xtext form of an address (RFC 3461 §4): `+`, `=` and controls hex-escaped.
fn xtext(address: &str) -> String {
    let mut out = String::new();
    for byte in address.bytes() {
        if (b'!'..=b'~').contains(&byte) && byte != b'+' && byte != b'=' {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("+{byte:02X}"));
        }
    }
    out
}

/// One session's commands.
struct Session<'r> {
    rng: &'r mut Rng,
    lines: Vec<String>,
    lower: bool,
}

impl Session<'_> {
    fn push(&mut self, verb: &str, rest: &str) {
        let verb = if self.lower {
            verb.to_ascii_lowercase()
        } else {
            verb.to_string()
        };
        self.lines.push(format!("{verb}{rest}"));
    }

    fn hello(&mut self, verb: &str) {
        let host = match self.rng.below(20) {
            0 => literal(self.rng),
            _ => format!("client{}.{}", self.rng.below(1000), domain(self.rng, false)),
        };
        self.push(verb, &format!(" {host}"));
    }

    /// MAIL with the parameters of the session's shape; returns whether the
    /// transaction is SMTPUTF8.
    fn mail(&mut self, submission: bool) -> bool {
        let rng = &mut *self.rng;
        let utf8 = rng.chance(8);
        let from = if !submission && rng.chance(6) {
            "<>".to_string()
        } else {
            path(rng, utf8)
        };
        let mut params = String::new();
        if rng.chance(70) {
            params += &format!(" SIZE={}", rng.range(300, 40_000_000));
        }
        if rng.chance(50) {
            params += [
                " BODY=8BITMIME",
                " BODY=7BIT",
                " BODY=8BITMIME",
                " BODY=BINARYMIME",
            ][rng.below(4) as usize];
        }
        if utf8 {
            params += " SMTPUTF8";
        }
        if rng.chance(15) {
            params += [" RET=HDRS", " RET=FULL"][rng.below(2) as usize];
            params += &format!(" ENVID=QQ{}+2Bx{}", rng.below(1_000_000), rng.below(100));
        }
        if submission {
            params += &format!(" AUTH={}", xtext(&mailbox(rng, false)));
        } else if rng.chance(3) {
            params += " AUTH=<>";
        }
        self.push("MAIL", &format!(" FROM:{from}{params}"));
        utf8
    }

    fn rcpt(&mut self, utf8: bool) {
        let rng = &mut *self.rng;
        let to = path(rng, utf8);
        let mut params = String::new();
        if rng.chance(15) {
            params += [
                " NOTIFY=SUCCESS,FAILURE",
                " NOTIFY=NEVER",
                " NOTIFY=FAILURE,DELAY",
                " NOTIFY=SUCCESS,FAILURE,DELAY",
            ][rng.below(4) as usize];
            if rng.chance(60) {
                let original = mailbox(rng, false);
                params += &format!(" ORCPT=rfc822;{}", xtext(&original));
            }
        }
        self.push("RCPT", &format!(" TO:{to}{params}"));
    }

    fn transaction(&mut self, recipients: u64, submission: bool) {
        let utf8 = self.mail(submission);
        for _ in 0..recipients {
            self.rcpt(utf8);
        }
    }
}

/// The corpus: `sessions` sessions' commands as one CRLF-ended stream.
pub fn commands(sessions: usize) -> Vec<u8> {
    let mut rng = Rng::new(SEED);
    let mut out = Vec::new();
    for _ in 0..sessions {
        let lower = rng.chance(10);
        let shape = rng.below(100);
        let mut s = Session {
            rng: &mut rng,
            lines: Vec::new(),
            lower,
        };
        match shape {
            0..=29 => {
                s.hello("EHLO");
                if s.rng.chance(60) {
                    s.push("STARTTLS", "");
                    s.hello("EHLO");
                }
                for message in 0..s.rng.range(1, 3) {
                    if message > 0 {
                        s.push("RSET", "");
                    }
                    let n = s.rng.range(1, 4);
                    s.transaction(n, false);
                    s.push("DATA", "");
                }
            }
            30..=54 => {
                s.hello("EHLO");
                if s.rng.chance(80) {
                    let response = s.rng.pick(MECHANISMS_B64);
                    s.push("AUTH", &format!(" PLAIN {response}"));
                } else {
                    s.push("AUTH", " LOGIN");
                }
                let n = s.rng.range(1, 5);
                s.transaction(n, true);
                s.push("DATA", "");
            }
            55..=64 => {
                s.hello("EHLO");
                s.transaction(50, false);
                s.push("DATA", "");
            }
            65..=79 => {
                s.hello("LHLO");
                let n = s.rng.range(1, 8);
                s.transaction(n, false);
                s.push("DATA", "");
            }
            80..=94 => {
                s.hello("EHLO");
                let n = s.rng.range(1, 3);
                s.transaction(n, false);
                let chunks = s.rng.range(1, 4);
                for chunk in 1..=chunks {
                    let size = s.rng.range(1, 65_536);
                    let last = if chunk == chunks { " LAST" } else { "" };
                    s.push("BDAT", &format!(" {size}{last}"));
                }
            }
            _ => {
                s.hello("HELO");
                s.push("NOOP", "");
                let probe = format!(" {}", s.rng.pick(FIRST));
                s.push("VRFY", &probe);
                s.push("HELP", "");
                s.push("RSET", "");
            }
        }
        s.push("QUIT", "");
        for line in s.lines {
            out.extend_from_slice(line.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }
    out
}
