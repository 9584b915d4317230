//! Reads both sides of a recorded SMTP conversation with the wire codec: the
//! client's pipelined commands and message content, and the server's replies.
//!
//! ```sh
//! cargo run --example transcript
//! ```

use bytes::BytesMut;
use smtpwire::data::{DataEvent, OutgoingBareNewline};
use smtpwire::framing::{LineEndPolicy, LineFramer, ReplyAssembler};
use smtpwire::{limits, Capabilities, Command, DataDecoder, DataEncoder};

const MESSAGE: &[u8] =
    b"Subject: dots\r\n\r\n.a line that starts with a dot\r\n.\r\nthe line above was only a dot\n";

const SERVER: &[u8] = b"220 mx.example.org ESMTP\r\n\
250-mx.example.org\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-8BITMIME\r\n\
250-ENHANCEDSTATUSCODES\r\n250-X-CUSTOM with params\r\n250 CHUNKING\r\n\
250 2.1.0 Sender ok\r\n250 2.1.5 Recipient ok\r\n550 5.1.1 <nobody@example.org>: no such user\r\n\
354 End data with <CR><LF>.<CR><LF>\r\n250 2.0.0 Ok: queued as 4F2A\r\n221 2.0.0 Bye\r\n";

fn main() {
    // The client side: the envelope pipelined in one write (RFC 2920), then the
    // dot-stuffed content, then QUIT.
    let mut client = BytesMut::from(
        &b"EHLO client.example\r\nMAIL FROM:<\"john smith\"@example.com> SIZE=120 BODY=8BITMIME\r\n\
RCPT TO:<alice@example.org> NOTIFY=FAILURE,DELAY\r\nRCPT TO:<nobody@example.org>\r\nDATA\r\n"[..],
    );
    let mut encoder = DataEncoder::new(OutgoingBareNewline::Normalize);
    encoder.encode(MESSAGE, &mut client).expect("normalised");
    encoder.finish(&mut client).expect("normalised");
    client.extend_from_slice(b"QUIT\r\n");

    println!("== what the server reads");
    let mut framer = LineFramer::new(limits::DEFAULT_MAX_COMMAND_LINE, LineEndPolicy::Strict);
    framer.push(&client);
    while let Some(line) = framer.next_line() {
        let command =
            Command::parse(&line.expect("short, CRLF-terminated lines")).expect("valid commands");
        println!("C: {command:?}");
        if command == Command::Data {
            let mut decoder = DataDecoder::new();
            loop {
                match decoder.decode(framer.buffer_mut()) {
                    Some(DataEvent::Content(chunk)) => {
                        println!("   content: {:?}", String::from_utf8_lossy(&chunk))
                    }
                    Some(DataEvent::End(end)) => {
                        println!(
                            "   end of data: {} octets, refusal: {:?}",
                            end.size,
                            end.refusal()
                        );
                        break;
                    }
                    None => unreachable!("the whole message is buffered"),
                }
            }
        }
    }

    println!("\n== what the client reads");
    let mut assembler = ReplyAssembler::new();
    assembler.push(SERVER);
    while let Some(reply) = assembler.next_reply() {
        let reply = reply.expect("well-formed replies");
        let enhanced = reply
            .enhanced()
            .map(|code| code.to_string())
            .unwrap_or_default();
        println!("S: {} {enhanced} {:?}", reply.code(), reply.first_line());
        if reply.is_multiline() {
            let capabilities = Capabilities::from_reply(&reply).expect("EHLO reply");
            println!("   capabilities: {capabilities:?}");
        }
    }
}
