//! Sends one message with STARTTLS required; against the example server, pin the certificate it
//! prints: `SSL_CERT_FILE=CERT.pem cargo run -p smtpwire-tokio --example send_one [SERVER FROM TO]`
use smtpwire_tokio::client::{Client, Message};
#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let arg = |n: usize, default: &str| std::env::args().nth(n).unwrap_or(default.into());
    let builder = Client::builder("client.example.org");
    let mut client = builder.connect(&arg(1, "127.0.0.1:2525")).await?;
    let (from, to) = (arg(2, "alice@example.org"), arg(3, "bob@example.net"));
    let message = Message::new(&from, [to], "Subject: hi\r\n\r\nHello.\r\n")?;
    for recipient in client.send(message).await?.recipients() {
        println!("{recipient}");
    }
    Ok(client.quit().await?)
}
