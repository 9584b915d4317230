//! SIGHUP: a running server takes a new users file, recipient rules and
//! limits, a running relay new routes, both without dropping what they
//! hold; a broken settings file changes nothing; the service manager is
//! told of each reload.
#![cfg(unix)]

// Shared with the other test files, each of which uses a part.
#[allow(dead_code)]
mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::time::{Duration, Instant};

use base64::Engine;
use support::program::Running;
use support::Scratch;

const SERVER: &str = env!("CARGO_BIN_EXE_smtpwire-server");
const RELAY: &str = env!("CARGO_BIN_EXE_smtpwire-relay");

/// Where `program` listens, from its log line starting with `prefix`:
/// each program is given port 0, so that tests running at once never
/// reach for the same port.
fn listening(program: &Running, prefix: &str) -> SocketAddr {
    program.address(prefix).parse().unwrap()
}

/// One SMTP conversation, a command and its reply at a time.
struct Dialog {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Dialog {
    /// Connects once the server listens (ten seconds at most) and reads
    /// its greeting.
    fn open(address: SocketAddr) -> Dialog {
        let stream = support::connect_when_listening(address)
            .unwrap_or_else(|error| panic!("nothing listened on {address}: {error}"));
        let mut dialog = Dialog {
            reader: BufReader::new(stream.try_clone().unwrap()),
            stream,
        };
        let greeting = dialog.reply();
        assert!(greeting.starts_with("220 "), "{greeting}");
        dialog
    }

    /// The next reply, its lines joined.
    fn reply(&mut self) -> String {
        let mut reply = String::new();
        loop {
            let mut line = String::new();
            assert!(self.reader.read_line(&mut line).unwrap() > 0, "closed");
            reply.push_str(&line);
            if line.as_bytes().get(3) != Some(&b'-') {
                return reply;
            }
        }
    }

    /// Sends `command` and returns its reply.
    fn says(&mut self, command: &str) -> String {
        self.stream
            .write_all(format!("{command}\r\n").as_bytes())
            .unwrap();
        self.reply()
    }

    /// The reply's code.
    fn code(&mut self, command: &str) -> u16 {
        self.says(command)[..3].parse().unwrap()
    }

    /// Sends one message to `to` and returns the reply to its end.
    fn send(&mut self, to: &str) -> String {
        assert_eq!(self.code("MAIL FROM:<sender@example.org>"), 250);
        assert_eq!(self.code(&format!("RCPT TO:<{to}>")), 250);
        assert_eq!(self.code("DATA"), 354);
        self.says("Subject: reload\r\n\r\nA message.\r\n.")
    }
}

fn auth_plain(user: &str, password: &str) -> String {
    let response =
        base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{password}"));
    format!("AUTH PLAIN {response}")
}

/// The files delivered into `maildir`.
fn delivered(maildir: &Path) -> usize {
    std::fs::read_dir(maildir.join("new")).map_or(0, |entries| entries.count())
}

fn wait_for_delivery(maildir: &Path, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while delivered(maildir) < count {
        assert!(
            Instant::now() < deadline,
            "{} never got message {count}",
            maildir.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// After SIGHUP, new sessions get the users file's new passwords, the new
/// recipient rules and the new message rate, while a session opened
/// before keeps going; a change only a restart applies is named in the
/// log; systemd is told `RELOADING=1` (with the time) and `READY=1`.
#[test]
fn the_server_takes_users_rules_and_limits_on_sighup() {
    let scratch = Scratch::new("reload-server");
    let users = scratch.path("users");
    std::fs::write(&users, "alice:old-secret\n").unwrap();
    let settings = scratch.path("server.toml");
    let write_settings = |listen: &str, unknown: &str, rate: u32| {
        std::fs::write(
            &settings,
            format!(
                "listen = \"{listen}\"\nhostname = \"mx.test\"\ndiscard = true\nno-tls = true\n\
                 users = \"{}\"\nallow-cleartext-auth = true\n\
                 unknown-recipient = [\"{unknown}\"]\nmessage-rate-limit = {rate}\n",
                users.display()
            ),
        )
        .unwrap()
    };
    write_settings("127.0.0.1:0", "gone@mx.test", 100);
    let notify_path = scratch.path("notify");
    let manager = UnixDatagram::bind(&notify_path).unwrap();
    manager
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let server = Running::start(
        SERVER,
        &["--config", settings.to_str().unwrap()],
        Some(&notify_path),
    );
    let address = listening(&server, "SMTP on ");
    let mut datagram = [0; 512];
    let length = manager.recv(&mut datagram).expect("no READY=1");
    assert!(datagram[..length].starts_with(b"READY=1\n"));

    let mut before = Dialog::open(address);
    assert_eq!(before.code("EHLO client.test"), 250);
    assert_eq!(before.code(&auth_plain("alice", "old-secret")), 235);
    assert_eq!(before.code("MAIL FROM:<a@example.org>"), 250);
    assert_eq!(before.code("RCPT TO:<gone@mx.test>"), 550);
    assert_eq!(before.code("RCPT TO:<moved@mx.test>"), 250);
    assert_eq!(before.code("RSET"), 250);

    std::fs::write(&users, "alice:new-secret\n").unwrap();
    write_settings("127.0.0.1:1", "moved@mx.test", 2);
    let logged = server.hang_up();
    assert!(logged.contains("reloaded"), "{logged}");
    assert!(
        logged.contains("changed=message-rate-limit,unknown-recipient"),
        "{logged}"
    );
    assert!(logged.contains("need_restart=listen"), "{logged}");
    let length = manager.recv(&mut datagram).expect("no RELOADING=1");
    let reloading = String::from_utf8_lossy(&datagram[..length]).into_owned();
    assert!(
        reloading.starts_with("RELOADING=1\nMONOTONIC_USEC="),
        "{reloading}"
    );
    let length = manager
        .recv(&mut datagram)
        .expect("no READY=1 after the reload");
    assert_eq!(&datagram[..length], b"READY=1\n");

    // The session from before is still served, under the new rules.
    assert_eq!(before.code("MAIL FROM:<a@example.org>"), 250);
    assert_eq!(before.code("RCPT TO:<gone@mx.test>"), 250);
    assert_eq!(before.code("RCPT TO:<moved@mx.test>"), 550);
    assert_eq!(before.code("QUIT"), 221);

    // Still on the old address: the listener stays until a restart.
    let mut after = Dialog::open(address);
    assert_eq!(after.code("EHLO client.test"), 250);
    assert_eq!(after.code(&auth_plain("alice", "old-secret")), 535);
    assert_eq!(after.code(&auth_plain("alice", "new-secret")), 235);
    // Two messages a minute now, and the two above counted.
    let refused = after.says("MAIL FROM:<a@example.org>");
    assert!(refused.starts_with("450 4.7.1 "), "{refused}");
    assert_eq!(after.code("QUIT"), 221);
}

/// A settings file that does not parse, or a users file that cannot be
/// read, is refused whole: the log says why and the server goes on with
/// the settings it had.
#[test]
fn a_broken_reload_changes_nothing() {
    let scratch = Scratch::new("reload-broken");
    let users = scratch.path("users");
    std::fs::write(&users, "alice:secret\n").unwrap();
    let settings = scratch.path("server.toml");
    let base = "listen = \"127.0.0.1:0\"\ndiscard = true\nno-tls = true\n\
                allow-cleartext-auth = true\nunknown-recipient = [\"gone@mx.test\"]\n";
    std::fs::write(
        &settings,
        format!("{base}users = \"{}\"\n", users.display()),
    )
    .unwrap();
    let server = Running::start(SERVER, &["--config", settings.to_str().unwrap()], None);
    let address = listening(&server, "SMTP on ");

    std::fs::write(&settings, format!("{base}users = [\n")).unwrap();
    let logged = server.hang_up();
    assert!(logged.contains("reload refused"), "{logged}");
    std::fs::write(
        &settings,
        format!("{base}users = \"{}\"\n", scratch.path("missing").display()),
    )
    .unwrap();
    let logged = server.hang_up();
    assert!(logged.contains("reload refused"), "{logged}");

    let mut dialog = Dialog::open(address);
    assert_eq!(dialog.code("EHLO client.test"), 250);
    assert_eq!(dialog.code(&auth_plain("alice", "secret")), 235);
    assert_eq!(dialog.code("MAIL FROM:<a@example.org>"), 250);
    assert_eq!(dialog.code("RCPT TO:<gone@mx.test>"), 550);
    assert_eq!(dialog.code("QUIT"), 221);
}

/// A relay routing a domain to one server sends it to another once its
/// settings file names the other and it gets SIGHUP; the message queued
/// before went to the first.
#[test]
fn the_relay_takes_a_new_route_on_sighup() {
    let scratch = Scratch::new("reload-relay");
    let sinks: Vec<(Running, SocketAddr)> = ["first", "second"]
        .into_iter()
        .map(|name| {
            let (sink, address) = Running::maildir_sink(&scratch.path(name));
            (sink, address.parse().unwrap())
        })
        .collect();
    let settings = scratch.path("relay.toml");
    let write_settings = |next_hop: SocketAddr| {
        std::fs::write(
            &settings,
            format!(
                "listen = \"127.0.0.1:0\"\nqueue = \"{}\"\nno-tls = true\n\
                 interval = 0.1\nmx = [\"example.net={next_hop}\"]\n",
                scratch.path("queue").display()
            ),
        )
        .unwrap()
    };
    write_settings(sinks[0].1);
    let relay = Running::start(RELAY, &["--config", settings.to_str().unwrap()], None);
    let relay_address = listening(&relay, "relay on ");

    let mut dialog = Dialog::open(relay_address);
    assert_eq!(dialog.code("EHLO client.test"), 250);
    assert!(dialog.send("one@example.net").starts_with("250 "));
    wait_for_delivery(&scratch.path("first"), 1);

    write_settings(sinks[1].1);
    let logged = relay.hang_up();
    assert!(
        logged.contains("reloaded") && logged.contains("changed=mx"),
        "{logged}"
    );
    assert!(dialog.send("two@example.net").starts_with("250 "));
    assert_eq!(dialog.code("QUIT"), 221);
    wait_for_delivery(&scratch.path("second"), 1);
    assert_eq!(delivered(&scratch.path("first")), 1);
}

/// The relay's rewriting table is read again on SIGHUP, even when its
/// file's modification time says nothing changed (a copy that kept it).
#[test]
fn the_relay_reads_its_rewriting_table_again_on_sighup() {
    let scratch = Scratch::new("reload-relay-table");
    let table = scratch.path("table");
    std::fs::write(&table, "refuse old@example.net\n").unwrap();
    let modified = std::fs::metadata(&table).unwrap().modified().unwrap();
    let settings = scratch.path("relay.toml");
    std::fs::write(
        &settings,
        format!(
            "listen = \"127.0.0.1:0\"\nqueue = \"{}\"\nno-tls = true\n\
             rewrite-table = \"{}\"\nmx = [\"example.net=127.0.0.1:1\"]\n",
            scratch.path("queue").display(),
            table.display()
        ),
    )
    .unwrap();
    let relay = Running::start(RELAY, &["--config", settings.to_str().unwrap()], None);
    let mut dialog = Dialog::open(listening(&relay, "relay on "));
    assert_eq!(dialog.code("EHLO client.test"), 250);
    assert_eq!(dialog.code("MAIL FROM:<sender@example.org>"), 250);
    assert_eq!(dialog.code("RCPT TO:<old@example.net>"), 550);
    assert_eq!(dialog.code("RCPT TO:<new@example.net>"), 250);

    std::fs::write(&table, "refuse new@example.net\n").unwrap();
    std::fs::File::options()
        .write(true)
        .open(&table)
        .unwrap()
        .set_modified(modified)
        .unwrap();
    let logged = relay.hang_up();
    assert!(logged.contains("reloaded"), "{logged}");
    assert_eq!(dialog.code("RCPT TO:<old@example.net>"), 250);
    assert_eq!(dialog.code("RCPT TO:<new@example.net>"), 550);
    assert_eq!(dialog.code("QUIT"), 221);
}
