//! `send_one` with no async runtime: `cargo run -p smtpwire-tokio --example send_blocking
//! [SERVER FROM TO]` (STARTTLS required; pin a self-signed server's certificate with SSL_CERT_FILE).
use smtpwire_tokio::{blocking, client::Client, client::Message};
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let arg = |n: usize, default: &str| std::env::args().nth(n).unwrap_or(default.into());
    let builder = Client::builder("client.example.org");
    let mut client = blocking::Client::connect(builder, &arg(1, "127.0.0.1:2525"))?;
    let (from, to) = (arg(2, "alice@example.org"), arg(3, "bob@example.net"));
    let message = Message::new(&from, [to], "Subject: hi\r\n\r\nHello.\r\n")?;
    for recipient in client.send(message)?.recipients() {
        println!("{recipient}");
    }
    Ok(client.quit()?)
}
