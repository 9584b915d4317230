//! A blocking SMTP server on `std::net` with no async runtime: one thread per
//! connection, messages discarded or printed. The same `ServerSession` that
//! runs under tokio in `examples/server` runs here unchanged.
//!
//! ```sh
//! cargo run --example std_server -- 127.0.0.1:2526 --print
//! ```

use std::io::{self, ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use smtpwire::server::{ServerConfig, ServerEvent, ServerSession};
use smtpwire::{ServerOutput, Text};

fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1);
    let address = args.next().unwrap_or_else(|| "127.0.0.1:2526".to_string());
    let print = args.any(|arg| arg == "--print");
    let listener = TcpListener::bind(&address)?;
    eprintln!("SMTP on {}", listener.local_addr()?);
    serve(listener, print);
    Ok(())
}

/// Accepts connections forever, each on its own thread.
pub fn serve(listener: TcpListener, print: bool) {
    let config = Arc::new(ServerConfig::new(Text::from_static("localhost")));
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let config = config.clone();
        thread::spawn(move || {
            if let Err(error) = handle(stream, config, print) {
                eprintln!("connection failed: {error}");
            }
        });
    }
}

/// The drain loop over one blocking socket: every decision is "accept".
pub fn handle(mut stream: TcpStream, config: Arc<ServerConfig>, print: bool) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut session = ServerSession::new(config);
    let mut input = [0u8; 16 * 1024];
    let (mut start, mut end) = (0, 0);
    let mut output = Vec::new();
    loop {
        match session.poll_output() {
            // Pipelined replies are gathered and written before the next read.
            ServerOutput::Transmit(bytes) => output.extend_from_slice(&bytes),
            ServerOutput::Event(ServerEvent::Content(chunk)) if print => {
                io::stdout().lock().write_all(&chunk)?;
            }
            ServerOutput::Event(ServerEvent::Message(message)) => {
                eprintln!(
                    "message of {} octets for {} recipient(s)",
                    message.size(),
                    message.recipients().len()
                );
                session.accept(message).map_err(io::Error::other)?;
            }
            ServerOutput::Event(event) => session.accept_event(event).map_err(io::Error::other)?,
            ServerOutput::NeedInput => {
                if start < end {
                    start += session.receive(&input[start..end]);
                    continue;
                }
                stream.write_all(&output)?;
                output.clear();
                let wait = session.timeout_hint();
                if wait == Some(Duration::ZERO) {
                    // The request's time is used up (a zero read timeout
                    // would mean none at all).
                    session.handle_timeout();
                    continue;
                }
                stream.set_read_timeout(wait)?;
                let waiting_since = Instant::now();
                let read = stream.read(&mut input);
                // A client that trickles its request runs out of time too.
                session.advance(waiting_since.elapsed());
                match read {
                    Ok(0) => session.receive_eof(),
                    Ok(count) => (start, end) = (0, count),
                    Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                        session.handle_timeout()
                    }
                    Err(error) => return Err(error),
                }
            }
            // STARTTLS is not offered by this configuration, and every
            // decision is taken as soon as it is asked.
            ServerOutput::StartTls | ServerOutput::AwaitingDecision | ServerOutput::Closed => {
                return stream.write_all(&output);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::serve;

    #[test]
    fn the_std_server_takes_a_message() {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        std::thread::spawn(move || serve(listener, false));
        let stream = std::net::TcpStream::connect(address).unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut writer = stream;
        let mut replies = Vec::new();
        let mut read_reply = |replies: &mut Vec<String>| loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line.as_bytes().get(3) != Some(&b'-') {
                replies.push(line[..3].to_string());
                return;
            }
        };
        read_reply(&mut replies);
        writer.write_all(b"EHLO c.example\r\n").unwrap();
        read_reply(&mut replies);
        writer
            .write_all(b"MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n")
            .unwrap();
        for _ in 0..3 {
            read_reply(&mut replies);
        }
        writer
            .write_all(b"Subject: std\r\n\r\nhi\r\n.\r\nQUIT\r\n")
            .unwrap();
        read_reply(&mut replies);
        read_reply(&mut replies);
        assert_eq!(replies, ["220", "250", "250", "250", "354", "250", "221"]);
    }
}
