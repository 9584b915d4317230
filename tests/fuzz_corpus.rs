//! Replays every fuzz target's corpus (`fuzz/corpus/<target>/`) through the
//! same check the target runs, on the stable toolchain.
//!
//! The corpus belongs to the fuzz crate and is not published (thousands of
//! small files every user would download), so neither is this test; the
//! published crate replays the regression inputs (`tests/fuzz_regressions.rs`).

use std::fs;
use std::path::Path;

mod fuzz_checks;

/// Fewest inputs a target's corpus may hold; each holds over a hundred after
/// merging, so fewer means the corpus was lost or moved.
const MIN_CORPUS: usize = 100;

fn replay(target: &str) {
    let check = fuzz_checks::check_of(target).expect("a fuzz target");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let replayed = fuzz_checks::replay_dir(&dir, check);
    assert!(
        replayed >= MIN_CORPUS,
        "{}: {replayed} inputs, expected at least {MIN_CORPUS}",
        dir.display()
    );
}

/// A target added to the fuzz crate without a check here would be fuzzed
/// but never replayed.
#[test]
fn every_fuzz_target_has_a_check() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/fuzz_targets");
    let mut targets: Vec<String> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.expect("readable directory entry").path();
            let stem = path.file_stem().and_then(|stem| stem.to_str());
            stem.expect("a UTF-8 file name").to_owned()
        })
        .collect();
    targets.sort();
    let checked: Vec<&str> = fuzz_checks::TARGETS.iter().map(|&(name, _)| name).collect();
    assert_eq!(targets, checked);
}

#[test]
fn address_corpus() {
    replay("address");
}

#[test]
fn auth_server_corpus() {
    replay("auth_server");
}

#[test]
fn bdat_corpus() {
    replay("bdat");
}

#[test]
fn capabilities_corpus() {
    replay("capabilities");
}

#[test]
fn client_session_corpus() {
    replay("client_session");
}

#[test]
fn command_corpus() {
    replay("command");
}

#[test]
fn data_decoder_corpus() {
    replay("data_decoder");
}

#[test]
fn line_framer_corpus() {
    replay("line_framer");
}

#[test]
fn mta_sts_corpus() {
    replay("mta_sts");
}

#[test]
fn proxy_corpus() {
    replay("proxy");
}

#[test]
fn reply_corpus() {
    replay("reply");
}

#[test]
fn server_session_corpus() {
    replay("server_session");
}
