//! Capabilities read from any 250 reply emit back into a reply that reads
//! as the same capabilities.

use smtpwire::framing::ReplyAssembler;
use smtpwire::Capabilities;

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
        let greeting = reply.line_text(0).expect("every reply has a first line");
        let emitted = capabilities.to_reply(greeting);
        assert_eq!(emitted.first_line(), reply.first_line());
        assert_eq!(Capabilities::from_reply(&emitted), Ok(capabilities));
    }
}
