#!/usr/bin/env bash
# Runs every fuzz target in fuzz/fuzz_targets for a bounded time on the
# stable toolchain (no sanitizer, so no nightly needed) and fails on any
# crash, hang or leak. New failing inputs are copied into
# tests/fuzz_regressions/TARGET/, which `cargo test` replays
# (tests/fuzz_regressions.rs, with the checks in tests/fuzz_checks/).
#
#   FUZZ_SECONDS=60 bash interop/fuzz.sh [TARGET...]
#
# New corpus entries go to a scratch directory, so the checkout's seed corpus
# stays as committed. FUZZ_TARGET_DIR overrides the fuzz crate's target dir.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

seconds=${FUZZ_SECONDS:-60}
target_dir=${FUZZ_TARGET_DIR:-$root/fuzz/target}

if ! cargo fuzz --version > /dev/null 2>&1; then
    echo "installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

if (($# > 0)); then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi
((${#targets[@]} > 0)) || { echo "fuzz: no targets found" >&2; exit 1; }

scratch=$(mktemp -d "${TMPDIR:-/tmp}/smtpwire-fuzz.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

# The same flags for the build and every run, so the runs reuse the build.
fuzz_flags=(-s none --target-dir "$target_dir")

started=$SECONDS
echo "== building ${#targets[@]} fuzz targets"
cargo fuzz build "${fuzz_flags[@]}"
echo "build took $((SECONDS - started)) s"

failed=()
summary=()
for target in "${targets[@]}"; do
    echo "== fuzzing $target for ${seconds}s"
    mkdir -p "$scratch/corpus/$target" "$scratch/artifacts/$target"
    log="$scratch/$target.log"
    status=0
    # The first corpus directory receives new inputs; the seeds are read only.
    cargo fuzz run "${fuzz_flags[@]}" "$target" "$scratch/corpus/$target" "fuzz/corpus/$target" -- \
        -max_total_time="$seconds" -timeout=10 -print_final_stats=1 \
        -artifact_prefix="$scratch/artifacts/$target/" > "$log" 2>&1 || status=$?
    executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    coverage=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
    features=$(grep -o 'ft: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
    crashes=0
    for artifact in "$scratch/artifacts/$target"/*; do
        [[ -f $artifact ]] || continue
        crashes=$((crashes + 1))
        mkdir -p "tests/fuzz_regressions/$target"
        cp "$artifact" "tests/fuzz_regressions/$target/"
        echo "failing input kept: tests/fuzz_regressions/$target/$(basename "$artifact")"
    done
    if ((status != 0 || crashes > 0)); then
        failed+=("$target")
        tail -n 40 "$log"
    fi
    summary+=("$(printf '%-16s %12s %8s %8s %8s' "$target" "${executions:-?}" "${coverage:-?}" \
        "${features:-?}" "$crashes")")
done

echo
printf '%-16s %12s %8s %8s %8s\n' target executions cov ft crashes
printf '%s\n' "${summary[@]}"
echo "fuzzing took $((SECONDS - started)) s in all"
if ((${#failed[@]} > 0)); then
    echo "fuzz: FAILED: ${failed[*]} (inputs in tests/fuzz_regressions/; replay with cargo test --test fuzz_regressions)" >&2
    exit 1
fi
