//! [`MailClient`] over the crate's own `ClientSession`, through the send
//! example's connection driver, so the generic server tests run through it
//! as well as through the hand-written client.

use std::net::SocketAddr;

use bytes::Bytes;
use rustls::pki_types::CertificateDer;
use smtpwire::client::{ClientConfig, Envelope, StartTlsPolicy};
use smtpwire::{Domain, ForwardPath, Protocol, ReversePath};

use super::MailClient;
use smtpwire_programs::send::connection::Connection;
use smtpwire_programs::send::report::{Delivery, Tracker};
use smtpwire_programs::send::{tls, Settings};

/// Settings for the receiving server at `address`: EHLO `client.example`,
/// STARTTLS required (trusting `certificate`) or never.
pub fn settings(address: SocketAddr, certificate: &CertificateDer<'static>, tls: bool) -> Settings {
    let mut config = ClientConfig::new(Domain::parse("client.example").unwrap());
    config.starttls = if tls {
        StartTlsPolicy::Required
    } else {
        StartTlsPolicy::Never
    };
    let upgrade = tls::Upgrade::trusting(vec![certificate.clone()], "127.0.0.1").unwrap();
    Settings {
        server: address.to_string(),
        config,
        upgrade: Some(upgrade),
        from: ReversePath::Null,
        to: Vec::new(),
    }
}

/// [`MailClient`] over [`Connection`].
pub struct SessionClient {
    connection: Connection,
    tracker: Tracker,
    lmtp: bool,
}

impl SessionClient {
    /// Opens a connection with `settings` and runs it to the point where it
    /// can send: greeting, EHLO, STARTTLS and AUTH as configured.
    pub async fn open_with(settings: &Settings) -> Self {
        let mut client = SessionClient {
            connection: Connection::open(
                settings.server.as_str(),
                settings.config.clone(),
                settings.upgrade.clone(),
            )
            .await
            .unwrap(),
            tracker: Tracker::default(),
            lmtp: settings.config.protocol == Protocol::Lmtp,
        };
        client.drive().await;
        client
    }

    async fn drive(&mut self) {
        self.connection.drive().await;
        for event in self.connection.take_events() {
            self.tracker.record(event);
        }
        assert!(self.tracker.errors.is_empty(), "{:?}", self.tracker.errors);
        assert!(
            self.connection.failure().is_none(),
            "{:?}",
            self.connection.failure()
        );
    }
}

impl MailClient for SessionClient {
    async fn connect(
        address: SocketAddr,
        certificate: &CertificateDer<'static>,
        tls: bool,
    ) -> Self {
        Self::open_with(&settings(address, certificate, tls)).await
    }

    async fn send(&mut self, from: &str, recipients: &[&str], content: &[u8]) -> Vec<u16> {
        let from = ReversePath::parse(&format!("<{from}>")).unwrap();
        let paths: Vec<ForwardPath> = recipients
            .iter()
            .map(|to| ForwardPath::parse(&format!("<{to}>")).unwrap())
            .collect();
        let mut envelope = Envelope::new(from);
        for path in &paths {
            envelope.add_recipient(path.clone());
        }
        let id = self
            .connection
            .send(envelope, Bytes::copy_from_slice(content))
            .unwrap();
        self.tracker.queued(id, &paths);
        self.drive().await;
        let outcome = self.tracker.outcome(id).unwrap();
        let result = outcome.result.clone().expect("the message is settled");
        let mut codes = Vec::new();
        for (_, delivery) in &outcome.recipients {
            match delivery {
                Delivery::Delivered(reply) | Delivery::Refused(reply) if self.lmtp => {
                    codes.push(reply.code().as_u16());
                }
                Delivery::Delivered(_) | Delivery::Refused(_) => {}
                other => panic!("recipient not settled by a reply: {other}"),
            }
        }
        if !self.lmtp {
            if let Ok(reply) = result {
                codes.push(reply.code().as_u16());
            }
        }
        codes
    }

    async fn quit(mut self) {
        self.connection.quit();
        self.drive().await;
    }
}
