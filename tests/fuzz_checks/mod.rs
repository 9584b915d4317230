//! The checks the fuzz targets in `fuzz/fuzz_targets/` run, one module per
//! target. They live in the core crate's tests rather than in the fuzz crate
//! so that the published crate, which never contains the nested fuzz
//! package, still has them for `tests/fuzz_regressions.rs`.

use std::fs;
use std::path::Path;

pub mod address;
pub mod auth_server;
pub mod bdat;
pub mod capabilities;
pub mod client_session;
pub mod command;
pub mod data_decoder;
pub mod line_framer;
pub mod mta_sts;
pub mod proxy;
pub mod reply;
pub mod server_session;

/// A fuzz target's check: panics on a bug, returns on anything else.
pub type Check = fn(&[u8]);

/// Every fuzz target by its name in `fuzz/Cargo.toml`, with its check.
pub const TARGETS: [(&str, Check); 12] = [
    ("address", address::check),
    ("auth_server", auth_server::check),
    ("bdat", bdat::check),
    ("capabilities", capabilities::check),
    ("client_session", client_session::check),
    ("command", command::check),
    ("data_decoder", data_decoder::check),
    ("line_framer", line_framer::check),
    ("mta_sts", mta_sts::check),
    ("proxy", proxy::check),
    ("reply", reply::check),
    ("server_session", server_session::check),
];

/// The check of the target called `name`.
pub fn check_of(name: &str) -> Option<Check> {
    TARGETS
        .iter()
        .find(|(target, _)| *target == name)
        .map(|&(_, check)| check)
}

/// Runs `check` on every file in `dir` and returns how many there were; a
/// directory that cannot be read fails the test, so a moved directory is
/// never taken for an empty one.
pub fn replay_dir(dir: &Path, check: Check) -> usize {
    let entries = fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut replayed = 0;
    for entry in entries {
        let path = entry.expect("readable directory entry").path();
        let data = fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        check(&data);
        replayed += 1;
    }
    replayed
}
