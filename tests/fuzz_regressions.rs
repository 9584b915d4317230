//! Replays every input a fuzz run once failed on (`tests/fuzz_regressions/`,
//! one directory per target, filled by `interop/fuzz.sh`) through the check
//! that target runs, so a crash found once stays fixed. These inputs are
//! published with the crate, unlike the corpus (`tests/fuzz_corpus.rs`).

use std::fs;
use std::path::Path;

mod fuzz_checks;

/// How many inputs `tests/fuzz_regressions/` holds at least: the ones kept
/// so far. The number only grows, so fewer means the inputs were lost.
const MIN_REGRESSIONS: usize = 2;

#[test]
fn every_regression_input_passes_its_check() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz_regressions");
    let mut replayed = 0;
    for entry in fs::read_dir(&root).unwrap_or_else(|e| panic!("{}: {e}", root.display())) {
        let dir = entry.expect("readable directory entry").path();
        let name = dir.file_name().and_then(|name| name.to_str()).unwrap_or("");
        let check = fuzz_checks::check_of(name)
            .unwrap_or_else(|| panic!("{}: not a fuzz target", dir.display()));
        let count = fuzz_checks::replay_dir(&dir, check);
        assert!(count > 0, "{}: empty", dir.display());
        replayed += count;
    }
    assert!(
        replayed >= MIN_REGRESSIONS,
        "{replayed} regression inputs, expected at least {MIN_REGRESSIONS}"
    );
}
