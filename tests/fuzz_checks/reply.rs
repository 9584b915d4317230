//! The reply assembler gives the same replies however the input is split,
//! stays within its limits, and every reply it yields emits and reads back
//! as itself.

use smtpwire::framing::{LineEndPolicy, ReplyAssembler, ReplyLimits};
use smtpwire::{Reply, ReplyError};

pub fn check(data: &[u8]) {
    let Some((&control, input)) = data.split_first() else {
        return;
    };
    let limits = ReplyLimits {
        max_line: 4 + usize::from(control & 0x0f) * 64,
        max_lines: 1 + usize::from((control >> 4) & 0x07) * 2,
        max_bytes: 8 * 1024,
    };
    let policy = if control & 0x80 == 0 {
        LineEndPolicy::Strict
    } else {
        LineEndPolicy::AllowBareLf
    };
    let whole = assemble(&[input], limits, policy);
    let bytewise: Vec<&[u8]> = input.chunks(1).collect();
    assert_eq!(assemble(&bytewise, limits, policy), whole);
    for reply in whole.iter().flatten() {
        assert_reemits(reply);
    }
}

fn assemble(
    chunks: &[&[u8]],
    limits: ReplyLimits,
    policy: LineEndPolicy,
) -> Vec<Result<Reply, ReplyError>> {
    let mut assembler = ReplyAssembler::with_limits(limits, policy);
    let mut replies = Vec::new();
    for chunk in chunks {
        assembler.push(chunk);
        while let Some(reply) = assembler.next_reply() {
            replies.push(reply);
        }
        assert!(assembler.buffered() <= limits.max_bytes + limits.max_line);
    }
    replies
}

/// Emitting and reading back gives the same reply, unless emission had to
/// wrap a long line; then it gives one that emits to the same bytes.
fn assert_reemits(reply: &Reply) {
    let wire = reply.to_bytes();
    let mut assembler = ReplyAssembler::new();
    assembler.push(&wire);
    let again = assembler
        .next_reply()
        .expect("a whole reply")
        .expect("emitted replies parse");
    assert_eq!(assembler.buffered(), 0);
    assert!(assembler.next_reply().is_none());
    if again.line_count() == reply.line_count() {
        assert_eq!(&again, reply);
    } else {
        assert_eq!(again.code(), reply.code());
        assert_eq!(again.to_bytes(), wire);
    }
}
