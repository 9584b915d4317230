#!/usr/bin/env bash
# The sender's memory over runs of growing length, run by hand (not a timed
# test): smtpwire-send (this project's client, release build) sends
# --count N generated messages over one connection to Postfix's smtp-sink
# on loopback, for N in 1,000, 10,000 and 100,000, beside Postfix's
# smtp-source sending as many over one connection (-d) to the same sink.
# Prints each program's peak resident memory (from `/usr/bin/time -v`) and
# rate, and exits non-zero when the sender's peak is not flat (the largest
# more than SENDER_MEMORY_SPREAD percent, 10 by default, above the
# smallest) or not under SENDER_MEMORY_LIMIT KiB (16384 by default), or
# when a run fails.
#
#   bash benches/sender_memory.sh
#   SENDER_MEMORY_COUNTS="1000 5000" bash benches/sender_memory.sh
#
# Postfix (for smtp-sink and smtp-source) and GNU time are installed with
# apt-get when missing; the script fails if that does not work.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=interop/lib.sh
source "$root/interop/lib.sh"

# Split on spaces, as meant.
# shellcheck disable=SC2206
counts=(${SENDER_MEMORY_COUNTS:-1000 10000 100000})
for count in "${counts[@]}"; do positive SENDER_MEMORY_COUNTS "$count" > /dev/null || exit 1; done
limit=$(positive SENDER_MEMORY_LIMIT "${SENDER_MEMORY_LIMIT:-16384}") || exit 1
spread=$(positive SENDER_MEMORY_SPREAD "${SENDER_MEMORY_SPREAD:-10}") || exit 1
work=$(mktemp -d "${TMPDIR:-/tmp}/smtpwire-sender-memory.XXXXXX")
trap finish_work EXIT
trap 'exit 130' INT TERM

command -v smtp-sink > /dev/null && command -v smtp-source > /dev/null || install_peers
command -v smtp-sink > /dev/null || die "smtp-sink is missing and could not be installed"
command -v smtp-source > /dev/null || die "smtp-source is missing and could not be installed"
if [[ ! -x /usr/bin/time ]]; then
    apt-get install -y -qq --no-install-recommends time > /dev/null || die "cannot install GNU time"
fi
[[ -x /usr/bin/time ]] || die "/usr/bin/time is missing and could not be installed"

build_program send

start_sink sink 100
sink_port=${PORT[sink]}

# measure NAME COMMAND...: runs COMMAND under GNU time; prints its peak
# resident memory in KiB and its wall time in seconds, or dies when it
# fails.
measure() {
    local name=$1
    shift
    /usr/bin/time -v -o "$work/$name.time" "$@" > "$work/$name.log" 2>&1 \
        || die "$name failed: $(tail -n 5 "$work/$name.log")"
    awk -F': ' '/Maximum resident set size/ { rss = $2 }
        /Elapsed \(wall clock\)/ { n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i] }
        END { print rss, s }' "$work/$name.time"
}

printf '%10s %16s %12s %18s %14s\n' messages "sender peak KiB" "sender m/s" "smtp-source KiB" "smtp-source m/s"
peaks=()
for count in "${counts[@]}"; do
    read -r ours ours_seconds < <(measure "send-$count" "$PROGRAM_BIN" \
        --server "127.0.0.1:$sink_port" --from from@example.org --to to@example.org \
        --starttls never --count "$count" --quiet) || exit 1
    read -r theirs theirs_seconds < <(measure "source-$count" smtp-source -d -s 1 -m "$count" \
        -f from@example.org -t to@example.org "127.0.0.1:$sink_port") || exit 1
    peaks+=("$ours")
    awk -v n="$count" -v a="$ours" -v as="$ours_seconds" -v b="$theirs" -v bs="$theirs_seconds" \
        'BEGIN { printf "%10d %16d %12.0f %18d %14.0f\n", n, a, n / as, b, n / bs }'
done

smallest=$(printf '%s\n' "${peaks[@]}" | sort -n | head -n 1)
largest=$(printf '%s\n' "${peaks[@]}" | sort -n | tail -n 1)
verdict=0
if ((largest * 100 > smallest * (100 + spread))); then
    echo "FAIL: the sender's peak grows with the run: ${smallest} KiB to ${largest} KiB (more than ${spread}%)"
    verdict=1
fi
if ((largest >= limit)); then
    echo "FAIL: the sender's peak, ${largest} KiB, is not under ${limit} KiB"
    verdict=1
fi
((verdict == 0)) && echo "PASS: the sender's peak stays within ${spread}% (${smallest}-${largest} KiB) and under ${limit} KiB"
exit "$verdict"
