//! [`MailClient`] over the driver crate's [`Client`], which the sender is
//! built on, so the generic server tests run through it as well as
//! through the hand-written client.

use std::net::SocketAddr;

use rustls::pki_types::CertificateDer;
use smtpwire_tokio::client::{tls, Client, Message, RecipientStatus, StartTlsPolicy};

use super::MailClient;
use smtpwire_programs::send::Settings;

/// Settings for the receiving server at `address`: EHLO `client.example`,
/// STARTTLS required (trusting `certificate`) or never.
pub fn settings(address: SocketAddr, certificate: &CertificateDer<'static>, tls: bool) -> Settings {
    let policy = if tls {
        StartTlsPolicy::Required
    } else {
        StartTlsPolicy::Never
    };
    let client = Client::builder("client.example")
        .starttls(policy)
        .tls_config(tls::trusting(vec![certificate.clone()]).unwrap());
    Settings {
        server: address.to_string(),
        client,
        from: smtpwire::ReversePath::Null,
        to: Vec::new(),
    }
}

/// [`MailClient`] over [`Client`].
pub struct SessionClient {
    client: Client,
    lmtp: bool,
}

impl SessionClient {
    /// Connects with `settings`, ready to send: greeting, EHLO, STARTTLS
    /// and AUTH done as configured; `lmtp` when `settings` speak LMTP.
    pub async fn open_with(settings: &Settings, lmtp: bool) -> Self {
        let client = settings.client.clone().connect(&settings.server).await;
        SessionClient {
            client: client.unwrap(),
            lmtp,
        }
    }
}

impl MailClient for SessionClient {
    async fn connect(
        address: SocketAddr,
        certificate: &CertificateDer<'static>,
        tls: bool,
    ) -> Self {
        Self::open_with(&settings(address, certificate, tls), false).await
    }

    async fn send(&mut self, from: &str, recipients: &[&str], content: &[u8]) -> Vec<u16> {
        let message = Message::new(from, recipients, content.to_vec()).unwrap();
        let outcome = self.client.send(message).await.unwrap();
        let mut codes = Vec::new();
        let mut accepted = None;
        for recipient in outcome.recipients() {
            let code = match &recipient.status {
                RecipientStatus::Accepted(reply) => {
                    accepted.get_or_insert(reply.code().as_u16());
                    reply.code().as_u16()
                }
                RecipientStatus::Refused(reply) => reply.code().as_u16(),
                other => panic!("recipient not settled by a reply: {other}"),
            };
            if self.lmtp {
                codes.push(code);
            }
        }
        // SMTP: one reply to the end of data, for every recipient it took.
        if !self.lmtp {
            codes.extend(accepted);
        }
        codes
    }

    async fn quit(self) {
        self.client.quit().await.unwrap();
    }
}
