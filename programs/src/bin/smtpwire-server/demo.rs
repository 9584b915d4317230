//! `--demo`: the server sends itself one message over loopback TCP with the
//! built-in client, upgraded with STARTTLS, and shows where it landed.

use std::io;
use std::net::SocketAddr;

use smtpwire_programs::server::client::Client;
use smtpwire_programs::server::{tls, Server, Settings};

const MESSAGE: &[u8] = b"From: Demo <demo@example.com>\r\n\
To: You <you@example.org>\r\n\
Subject: Hello from smtpwire\r\n\
\r\n\
This message went over a real TCP connection, through STARTTLS,\r\n\
into the Maildir below.\r\n\
.A line that starts with a dot survives dot-stuffing.\r\n";

/// Runs the demo with the given settings and certificate.
pub async fn run(mut settings: Settings, identity: Option<tls::Identity>) -> io::Result<()> {
    let Some(identity) = identity else {
        return Err(io::Error::other("--demo needs TLS; drop --no-tls"));
    };
    let certificate = identity
        .chain
        .first()
        .cloned()
        .ok_or_else(|| io::Error::other("no certificate"))?;
    settings.tls = Some(identity);
    let lmtp = settings.lmtp;
    let maildir = settings.maildir.clone();
    let server = Server::bind(SocketAddr::from(([127, 0, 0, 1], 0)), settings).await?;
    let address = server.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));
    println!("server listening on {address}");

    let (mut client, greeting) = Client::connect(address).await?;
    println!("S: {} {}", greeting.code, greeting.lines.join(" "));
    client.verbose = true;
    let hello = if lmtp { "LHLO" } else { "EHLO" };
    let capabilities = client.command(&format!("{hello} demo.example")).await?;
    if !capabilities.has_line("STARTTLS") {
        return Err(io::Error::other("the server does not offer STARTTLS"));
    }
    let started = client.start_tls(&certificate).await?;
    if started.code != 220 {
        return Err(io::Error::other("STARTTLS was refused"));
    }
    println!("(TLS established)");
    client.command(&format!("{hello} demo.example")).await?;
    let replies = client
        .send_message("demo@example.com", &["you@example.org"], MESSAGE, 1)
        .await?;
    client.command("QUIT").await?;
    let _ = stop.send(());
    let _ = running.await;

    let accepted = replies.len() == 4 && replies.iter().all(|reply| reply.is_positive());
    let Some(last) = replies.last().filter(|_| accepted) else {
        return Err(io::Error::other("the message was not accepted"));
    };
    let Some(root) = maildir else {
        println!("\nthe message was accepted and discarded (--discard)");
        return Ok(());
    };
    // The reply says "queued as NAME"; NAME is the file in new/.
    let name = last.lines[0].rsplit(' ').next().unwrap_or_default();
    let path = root.join("new").join(name);
    let stored = std::fs::read(&path)?;
    println!("\nstored in {}:\n", path.display());
    print!("{}", String::from_utf8_lossy(&stored));
    Ok(())
}
