//! A relay running in the test's process, and mail sent through it with
//! the queue id its `250 … queued as ID` reply gives.

use std::net::SocketAddr;

use smtpwire_programs::relay::{Relay, Settings, Sources};
use smtpwire_programs::server::client::Client;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running relay; stopped (as a crash would) when dropped.
pub struct RunningRelay {
    /// Where it takes mail.
    pub address: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl RunningRelay {
    /// Binds a relay on a free loopback port with `settings` and runs it.
    pub async fn start(settings: Settings) -> RunningRelay {
        RunningRelay::start_from(settings, Sources::default()).await
    }

    /// [`start`](Self::start), delivering as `sources` say (its DNS
    /// server among others).
    pub async fn start_from(settings: Settings, sources: Sources) -> RunningRelay {
        let relay = Relay::bind_from(SocketAddr::from(([127, 0, 0, 1], 0)), settings, sources)
            .await
            .unwrap();
        let address = relay.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(relay.run(async {
            let _ = stopped.await;
        }));
        RunningRelay {
            address,
            stop: Some(stop),
            task,
        }
    }

    /// Ends the relay as a crash would: every task dropped where it is,
    /// the runner's claims on its messages with them.
    pub async fn crash(mut self) {
        self.task.abort();
        let _ = (&mut self.task).await;
    }

    /// Sends one message from alice@example.org per content, on one
    /// connection; returns each one's queue id.
    pub async fn send(&self, recipients: &[&str], contents: &[Vec<u8>]) -> Vec<String> {
        let (mut client, greeting) = Client::connect(self.address).await.unwrap();
        assert_eq!(greeting.code, 220);
        assert_eq!(client.command("EHLO client.test").await.unwrap().code, 250);
        let mut ids = Vec::new();
        for content in contents {
            let replies = client
                .send_message("alice@example.org", recipients, content, 1)
                .await
                .unwrap();
            let end = replies.last().unwrap();
            assert_eq!(end.code, 250, "{end:?}");
            let id = end.lines[0].split("queued as ").nth(1);
            ids.push(id.expect("a queue id in the reply").to_string());
        }
        assert_eq!(client.command("QUIT").await.unwrap().code, 221);
        ids
    }
}

impl Drop for RunningRelay {
    fn drop(&mut self) {
        drop(self.stop.take());
        self.task.abort();
    }
}
