//! Replays every fuzz corpus and regression input through the same checks the
//! fuzz targets run, on the stable toolchain.

use std::fs;
use std::path::Path;

#[path = "../fuzz/checks/address.rs"]
mod address;
#[path = "../fuzz/checks/auth_server.rs"]
mod auth_server;
#[path = "../fuzz/checks/bdat.rs"]
mod bdat;
#[path = "../fuzz/checks/capabilities.rs"]
mod capabilities;
#[path = "../fuzz/checks/client_session.rs"]
mod client_session;
#[path = "../fuzz/checks/command.rs"]
mod command;
#[path = "../fuzz/checks/data_decoder.rs"]
mod data_decoder;
#[path = "../fuzz/checks/line_framer.rs"]
mod line_framer;
#[path = "../fuzz/checks/proxy.rs"]
mod proxy;
#[path = "../fuzz/checks/reply.rs"]
mod reply;
#[path = "../fuzz/checks/server_session.rs"]
mod server_session;

/// Runs `check` on every file kept for `target`; fails if the seed corpus is
/// missing, so a renamed target cannot silently replay nothing.
fn replay(target: &str, check: fn(&[u8])) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut replayed = 0;
    for dir in [
        root.join("corpus").join(target),
        root.join("regressions").join(target),
    ] {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("readable corpus directory").path();
            let data = fs::read(&path).expect("readable corpus file");
            check(&data);
            replayed += 1;
        }
    }
    assert!(replayed > 0, "no corpus for fuzz target {target}");
}

#[test]
fn address_corpus() {
    replay("address", address::check);
}

#[test]
fn auth_server_corpus() {
    replay("auth_server", auth_server::check);
}

#[test]
fn bdat_corpus() {
    replay("bdat", bdat::check);
}

#[test]
fn capabilities_corpus() {
    replay("capabilities", capabilities::check);
}

#[test]
fn client_session_corpus() {
    replay("client_session", client_session::check);
}

#[test]
fn command_corpus() {
    replay("command", command::check);
}

#[test]
fn data_decoder_corpus() {
    replay("data_decoder", data_decoder::check);
}

#[test]
fn line_framer_corpus() {
    replay("line_framer", line_framer::check);
}

#[test]
fn proxy_corpus() {
    replay("proxy", proxy::check);
}

#[test]
fn reply_corpus() {
    replay("reply", reply::check);
}

#[test]
fn server_session_corpus() {
    replay("server_session", server_session::check);
}
