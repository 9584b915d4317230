//! Refuses one recipient and prints each message's size: `cargo run -p
//! smtpwire-tokio --example policy_server [CERT.pem KEY.pem]` (STARTTLS with them).
use smtpwire::server::{MessageRequest, RcptRequest, Reject, ServerConfig};
use smtpwire_tokio::server::{acceptor_from_pem, refuse, Handler, Server};

struct Policy;

impl Handler for Policy {
    async fn rcpt(&mut self, request: &RcptRequest) -> Result<(), Reject> {
        match request.to().to_string().as_str() {
            "<nobody@example.org>" => Err(refuse(550, "5.1.1", "No such user")),
            _ => Ok(()),
        }
    }
    async fn message(&mut self, request: &MessageRequest) -> Result<(), Reject> {
        println!("{} octets", request.size());
        Ok(())
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut server = Server::new(ServerConfig::new(smtpwire::Text::from_static("localhost")));
    if let [_, cert, key] = &std::env::args().collect::<Vec<_>>()[..] {
        server = server.with_tls(acceptor_from_pem(cert, key)?);
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:2525").await?;
    server.serve(listener, |_client| Policy).await
}
