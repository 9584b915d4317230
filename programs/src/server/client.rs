//! A minimal SMTP/LMTP client over tokio, written by hand so it shares no
//! code with the server it talks to: the `--demo` mode and the tests use it.

use std::io;
use std::net::SocketAddr;

use rustls::pki_types::CertificateDer;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use smtpwire_tokio::server::Transport;

use super::tls;

/// One reply: its code and the text of each line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The three-digit code.
    pub code: u16,
    /// Each line's text, after the code and separator.
    pub lines: Vec<String>,
}

impl Reply {
    /// 2xx or 3xx.
    pub fn is_positive(&self) -> bool {
        (200..400).contains(&self.code)
    }

    /// Whether any line is `keyword` or starts with `keyword ` (an EHLO
    /// capability).
    pub fn has_line(&self, keyword: &str) -> bool {
        self.lines.iter().any(|line| {
            line.eq_ignore_ascii_case(keyword)
                || line
                    .split_once(' ')
                    .is_some_and(|(first, _)| first.eq_ignore_ascii_case(keyword))
        })
    }
}

/// A connection to an SMTP or LMTP server.
pub struct Client {
    stream: BufReader<Box<dyn Transport>>,
    /// Print each command and reply on stdout.
    pub verbose: bool,
}

impl Client {
    /// Connects and reads the greeting.
    pub async fn connect(address: SocketAddr) -> io::Result<(Client, Reply)> {
        let stream = TcpStream::connect(address).await?;
        stream.set_nodelay(true)?;
        let boxed: Box<dyn Transport> = Box::new(stream);
        let mut client = Client {
            stream: BufReader::new(boxed),
            verbose: false,
        };
        let greeting = client.reply().await?;
        Ok((client, greeting))
    }

    /// Sends raw bytes.
    pub async fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.get_mut().write_all(bytes).await?;
        self.stream.get_mut().flush().await
    }

    /// Reads one reply, multi-line or not.
    pub async fn reply(&mut self) -> io::Result<Reply> {
        let mut lines = Vec::new();
        let mut line = String::new();
        loop {
            line.clear();
            if self.stream.read_line(&mut line).await? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            if self.verbose {
                print!("S: {line}");
            }
            let text = line.trim_end_matches(['\r', '\n']);
            let code = text.get(..3).and_then(|code| code.parse::<u16>().ok());
            let Some(code) = code else {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("bad reply line {text:?}"),
                ));
            };
            lines.push(text.get(4..).unwrap_or_default().to_string());
            if text.as_bytes().get(3) != Some(&b'-') {
                return Ok(Reply { code, lines });
            }
        }
    }

    /// Sends one command line and reads its reply.
    pub async fn command(&mut self, line: &str) -> io::Result<Reply> {
        if self.verbose {
            println!("C: {line}");
        }
        self.send(format!("{line}\r\n").as_bytes()).await?;
        self.reply().await
    }

    /// STARTTLS, then the handshake, trusting only `certificate`.
    pub async fn start_tls(&mut self, certificate: &CertificateDer<'static>) -> io::Result<Reply> {
        let reply = self.command("STARTTLS").await?;
        if reply.code != 220 {
            return Ok(reply);
        }
        if !self.stream.buffer().is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "data after the 220 to STARTTLS",
            ));
        }
        let connector = tls::connector_trusting(certificate)?;
        let placeholder: Box<dyn Transport> = Box::new(tokio::io::empty());
        let plain = std::mem::replace(&mut self.stream, BufReader::new(placeholder)).into_inner();
        let secured = connector
            .connect(tls::server_name("localhost")?, plain)
            .await?;
        let boxed: Box<dyn Transport> = Box::new(secured);
        self.stream = BufReader::new(boxed);
        Ok(reply)
    }

    /// One transaction: MAIL, RCPTs and DATA in one pipelined write (RFC
    /// 2920), then the dot-stuffed content. Returns the replies in order: MAIL,
    /// each RCPT, DATA, then `final_replies` replies to the end of data (one
    /// for SMTP, one per accepted recipient for LMTP). Stops after DATA when
    /// the server refuses it.
    pub async fn send_message(
        &mut self,
        from: &str,
        recipients: &[&str],
        content: &[u8],
        final_replies: usize,
    ) -> io::Result<Vec<Reply>> {
        let mut envelope = format!("MAIL FROM:<{from}>\r\n");
        for recipient in recipients {
            envelope.push_str(&format!("RCPT TO:<{recipient}>\r\n"));
        }
        envelope.push_str("DATA\r\n");
        if self.verbose {
            print!(
                "C: {}",
                envelope.replace("\r\n", "\r\nC: ").trim_end_matches("C: ")
            );
        }
        self.send(envelope.as_bytes()).await?;
        let mut replies = Vec::new();
        for _ in 0..recipients.len() + 2 {
            replies.push(self.reply().await?);
        }
        if replies.last().map(|reply| reply.code) != Some(354) {
            return Ok(replies);
        }
        if self.verbose {
            println!("C: <{} octets of content>\nC: .", content.len());
        }
        self.send(&dot_stuff(content)).await?;
        for _ in 0..final_replies {
            replies.push(self.reply().await?);
        }
        Ok(replies)
    }
}

/// RFC 5321 §4.5.2: a line that starts with `.` gets another one; the content
/// is ended with CRLF if it is not already, then `.` CRLF.
pub fn dot_stuff(content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + content.len() / 64 + 5);
    let mut at_line_start = true;
    for &byte in content {
        if at_line_start && byte == b'.' {
            out.push(b'.');
        }
        out.push(byte);
        at_line_start = byte == b'\n';
    }
    if !content.is_empty() && !content.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}
