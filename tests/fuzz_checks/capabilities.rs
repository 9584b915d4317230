//! Capabilities read from any 250 reply emit back into a reply that reads
//! as the same capabilities, and a reply as read gives the capabilities its
//! lines give when built into a reply.

use smtpwire::framing::ReplyAssembler;
use smtpwire::{Capabilities, Reply};

pub fn check(data: &[u8]) {
    let mut assembler = ReplyAssembler::new();
    assembler.push(data);
    while let Some(reply) = assembler.next_reply() {
        let Ok(reply) = reply else {
            continue;
        };
        let Ok(capabilities) = Capabilities::from_reply(&reply) else {
            continue;
        };
        let built = Reply::multiline(reply.code(), reply.enhanced(), reply.line_texts())
            .expect("a reply's own code and lines");
        assert_eq!(Capabilities::from_reply(&built).as_ref(), Ok(&capabilities));
        let greeting = reply.line_text(0).expect("every reply has a first line");
        let emitted = capabilities.to_reply(greeting);
        assert_eq!(emitted.first_line(), reply.first_line());
        assert_eq!(Capabilities::from_reply(&emitted), Ok(capabilities));
    }
}
