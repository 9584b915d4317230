//! The blocking client from plain threads against the driver's own server
//! on loopback: outcomes per recipient, many messages pipelined, a caller's
//! own TCP connection, timeouts, and a call from inside a runtime refused.

use std::io::Read;
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use smtpwire::server::{MessageRequest, RcptRequest, Reject, ServerConfig};
use smtpwire::Text;
use smtpwire_tokio::blocking;
use smtpwire_tokio::client::{
    Client, ClientBuilder, ConnectionError, Error, Message, StartTlsPolicy, UsageError,
};
use smtpwire_tokio::server::{refuse, Handler, Server};

/// Refuses recipients named "nobody" and records each message's size.
struct Sink(Arc<Mutex<Vec<u64>>>);

impl Handler for Sink {
    async fn rcpt(&mut self, request: &RcptRequest) -> Result<(), Reject> {
        if request.to().to_string().contains("nobody") {
            return Err(refuse(550, "5.1.1", "No such user"));
        }
        Ok(())
    }

    async fn message(&mut self, request: &MessageRequest) -> Result<(), Reject> {
        self.0.lock().unwrap().push(request.size());
        Ok(())
    }
}

/// Starts the driver's server on a thread of its own (with its own
/// runtime, as a separate process would be) and returns its address and
/// the sizes of the messages it takes.
fn sink() -> (SocketAddr, Arc<Mutex<Vec<u64>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    listener.set_nonblocking(true).unwrap();
    let sizes = Arc::new(Mutex::new(Vec::new()));
    let taken = sizes.clone();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let server = Server::new(ServerConfig::new(Text::from_static("mx.test")));
            let _ = server
                .serve(listener, move |_client| Sink(taken.clone()))
                .await;
        });
    });
    (address, sizes)
}

fn clear() -> ClientBuilder {
    Client::builder("client.test").starttls(StartTlsPolicy::Never)
}

fn message(to: &[&str], body: &str) -> Message {
    let content = format!("Subject: test\r\n\r\n{body}\r\n");
    Message::new("alice@example.org", to.iter().copied(), content).unwrap()
}

#[test]
fn one_message_with_one_refused_recipient() {
    let (address, sizes) = sink();
    let mut client = blocking::Client::connect(clear(), &address.to_string()).unwrap();
    assert!(!client.is_tls());
    assert!(client.capabilities().is_some_and(|c| c.pipelining));
    let outcome = client
        .send(message(&["bob@example.net", "nobody@example.net"], "hi"))
        .unwrap();
    let accepted: Vec<bool> = outcome
        .recipients()
        .iter()
        .map(|r| r.status.is_accepted())
        .collect();
    assert_eq!(accepted, [true, false]);
    assert!(outcome.recipients()[1].to_string().contains("550 5.1.1"));
    client.quit().unwrap();
    assert_eq!(sizes.lock().unwrap().len(), 1);
}

#[test]
fn many_messages_pipelined_each_with_its_outcome() {
    let (address, sizes) = sink();
    let mut client = blocking::Client::connect(clear(), &address.to_string()).unwrap();
    let mut ids = Vec::new();
    let mut outcomes = Vec::new();
    for number in 0..50 {
        while client.queued() >= 4 {
            outcomes.push(client.next_outcome().unwrap().unwrap());
        }
        let id = client
            .queue(message(&["bob@example.net"], &format!("message {number}")))
            .unwrap();
        ids.push(id);
    }
    while let Some(outcome) = client.next_outcome().unwrap() {
        outcomes.push(outcome);
    }
    client.quit().unwrap();
    let reported: Vec<_> = outcomes.iter().map(|o| o.id()).collect();
    assert_eq!(reported, ids, "every message reported once, in order");
    assert!(outcomes.iter().all(|o| o.all_accepted()));
    assert_eq!(sizes.lock().unwrap().len(), 50);
}

#[test]
fn a_connection_the_caller_opened() {
    let (address, sizes) = sink();
    let stream = std::net::TcpStream::connect(address).unwrap();
    let mut client = blocking::Client::connect_tcp(clear(), stream, "mx.test").unwrap();
    let outcome = client.send(message(&["bob@example.net"], "own")).unwrap();
    assert!(outcome.all_accepted());
    client.quit().unwrap();
    assert_eq!(sizes.lock().unwrap().len(), 1);
}

#[test]
fn a_silent_server_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    // Accepts and says nothing, until the client gives up.
    let silent = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let _ = stream.read(&mut [0; 1]);
    });
    let started = Instant::now();
    let builder = clear().max_wait(Duration::from_millis(300));
    let error = blocking::Client::connect(builder, &address.to_string()).unwrap_err();
    assert!(
        matches!(error, Error::Connection(ConnectionError::Session(_))),
        "{error:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    silent.join().unwrap();
}

#[test]
fn nothing_listening_is_a_connection_error() {
    let address = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let error = blocking::Client::connect(clear(), &address.to_string()).unwrap_err();
    assert!(
        matches!(error, Error::Connection(ConnectionError::Connect { .. })),
        "{error:?}"
    );
}

#[test]
fn a_call_from_inside_a_runtime_is_refused() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (address, _) = sink();
    let error = runtime
        .block_on(async { blocking::Client::connect(clear(), &address.to_string()) })
        .unwrap_err();
    assert!(
        matches!(error, Error::Usage(UsageError::InsideRuntime)),
        "{error:?}"
    );
}
