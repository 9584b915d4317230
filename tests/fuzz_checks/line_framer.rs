//! The line framer yields the same lines however the input is split, lent
//! in place or handed over, and never holds more than one line limit of
//! unframed bytes.

use smtpwire::framing::{LineEndPolicy, LineFramer};

pub fn check(data: &[u8]) {
    let Some((&control, input)) = data.split_first() else {
        return;
    };
    let max_line = 2 + usize::from(control & 0x3f);
    let policy = if control & 0x40 == 0 {
        LineEndPolicy::Strict
    } else {
        LineEndPolicy::AllowBareLf
    };
    let whole = frame(&[input], max_line, policy, false);
    let bytewise: Vec<&[u8]> = input.chunks(1).collect();
    assert_eq!(frame(&bytewise, max_line, policy, false), whole);
    assert_eq!(frame(&[input], max_line, policy, true), whole);
    assert_eq!(frame(&bytewise, max_line, policy, true), whole);
}

fn frame(
    chunks: &[&[u8]],
    max_line: usize,
    policy: LineEndPolicy,
    lent: bool,
) -> Vec<Result<Vec<u8>, smtpwire::framing::FrameError>> {
    let mut framer = LineFramer::new(max_line, policy);
    let mut lines = Vec::new();
    for chunk in chunks {
        framer.push(chunk);
        loop {
            let line = if lent {
                framer.next_framed().map(|line| line.map(|l| l.to_vec()))
            } else {
                framer.next_line().map(|line| line.map(|l| l.to_vec()))
            };
            let Some(line) = line else {
                break;
            };
            if let Ok(content) = &line {
                assert!(content.len() < max_line);
                assert!(!content.contains(&b'\n'));
            }
            lines.push(line);
        }
        assert!(framer.buffered() < max_line);
    }
    lines
}
