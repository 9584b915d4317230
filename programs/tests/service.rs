//! smtpwire-server as a system service: it gives up root once its port is
//! bound, serves a socket systemd passed it, and tells systemd when it is
//! ready and when it stops.
#![cfg(unix)]

// Shared with the other test files, each of which uses a part.
#[allow(dead_code)]
mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixDatagram;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use nix::unistd::{Uid, User};

const SERVER: &str = env!("CARGO_BIN_EXE_smtpwire-server");

/// The arguments every run here shares: no TLS, nothing stored.
fn server_args() -> [&'static str; 4] {
    ["--no-tls", "--discard", "--hostname", "mx.test"]
}

/// A child process killed when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Connects to `address` until the server answers, for up to ten seconds;
/// returns its greeting once an EHLO and a QUIT are answered.
fn greeting_from(address: SocketAddr) -> String {
    let stream = support::connect_when_listening(address)
        .unwrap_or_else(|error| panic!("the server never listened on {address}: {error}"));
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut greeting = String::new();
    reader.read_line(&mut greeting).unwrap();
    (&stream).write_all(b"EHLO client.test\r\n").unwrap();
    let mut line = String::new();
    while line.as_bytes().get(3) != Some(&b' ') {
        line.clear();
        assert!(reader.read_line(&mut line).unwrap() > 0, "no EHLO reply");
    }
    assert!(line.starts_with("250 "), "{line}");
    (&stream).write_all(b"QUIT\r\n").unwrap();
    let mut rest = String::new();
    while reader.read_line(&mut rest).unwrap() > 0 {}
    assert!(rest.starts_with("221 "), "{rest}");
    greeting
}

/// A port below 1024 free on loopback.
fn free_privileged_port() -> u16 {
    (600..1000)
        .find(|&port| TcpListener::bind(("127.0.0.1", port)).is_ok())
        .expect("no free port below 1024 on 127.0.0.1")
}

/// The ids in a `/proc/PID/status` line such as `Uid:` (real, effective,
/// saved, filesystem) or `Groups:`.
fn status_ids(pid: u32, field: &str) -> Vec<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .unwrap_or_else(|| panic!("no {field} in the status of {pid}"));
    line.split_whitespace()
        .map(|id| id.parse().unwrap())
        .collect()
}

/// Started as root with `--user nobody`, the server binds a port only root
/// may bind, then runs with nobody's user and group ids only (real,
/// effective, saved and filesystem, no other groups) and serves. Started
/// as anyone else, `--user` is refused with a reason, since such a process
/// cannot change its ids.
#[test]
fn the_server_runs_as_the_named_user_after_binding_a_privileged_port() {
    if !Uid::effective().is_root() {
        let output = Command::new(SERVER)
            .args(server_args())
            .args(["--listen", "127.0.0.1:0", "--user", "nobody"])
            .output()
            .unwrap();
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("only a process started as root can become another user"),
            "{stderr}"
        );
        return;
    }
    let nobody = User::from_name("nobody").unwrap().expect("a user nobody");
    let port = free_privileged_port();
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let server = Running(
        Command::new(SERVER)
            .args(server_args())
            .args(["--listen", &address.to_string(), "--user", "nobody"])
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let greeting = greeting_from(address);
    assert!(greeting.starts_with("220 mx.test "), "{greeting}");
    let pid = server.0.id();
    assert_eq!(status_ids(pid, "Uid:"), [nobody.uid.as_raw(); 4]);
    assert_eq!(status_ids(pid, "Gid:"), [nobody.gid.as_raw(); 4]);
    assert_eq!(status_ids(pid, "Groups:"), [nobody.gid.as_raw()]);

    let output = Command::new(SERVER)
        .args(server_args())
        .args(["--listen", "127.0.0.1:0", "--user", "root"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--user root: that is root"), "{stderr}");
}

/// Under socket activation the server serves the socket it was given as
/// descriptor 3 (`LISTEN_FDS=1`, `LISTEN_PID` its own), not `--listen`;
/// with `NOTIFY_SOCKET` set it says `READY=1` once serving and
/// `STOPPING=1` when SIGTERM stops it, and then exits cleanly.
#[test]
fn the_server_serves_a_socket_from_systemd_and_notifies_it() {
    let scratch = std::env::temp_dir().join(format!("smtpwire-service-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    let notify_path = scratch.join("notify");
    let _ = std::fs::remove_file(&notify_path);
    let manager = UnixDatagram::bind(&notify_path).unwrap();
    manager
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    // The shell moves the socket from its standard input to descriptor 3
    // and names its own PID, which `exec` hands on to the server.
    let mut server = Running(
        Command::new("sh")
            .arg("-c")
            .arg(r#"exec 3<&0 0</dev/null; LISTEN_FDS=1 LISTEN_PID=$$ exec "$0" "$@""#)
            .arg(SERVER)
            .args(server_args())
            // Never bound: the inherited socket wins.
            .args(["--listen", "127.0.0.1:1"])
            .env("NOTIFY_SOCKET", &notify_path)
            .stdin(Stdio::from(OwnedFd::from(listener)))
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut datagram = [0; 512];
    let length = manager.recv(&mut datagram).expect("no READY=1 in time");
    let ready = String::from_utf8_lossy(&datagram[..length]).into_owned();
    assert_eq!(
        ready,
        format!("READY=1\nSTATUS=SMTP on {address}, discarding messages\n")
    );
    let greeting = greeting_from(address);
    assert!(greeting.starts_with("220 mx.test "), "{greeting}");

    let pid = server.0.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let length = manager.recv(&mut datagram).expect("no STOPPING=1 in time");
    assert_eq!(&datagram[..length], b"STOPPING=1\n");
    let status = server.0.wait().unwrap();
    assert!(status.success(), "{status}");
    let _ = std::fs::remove_dir_all(&scratch);
}
