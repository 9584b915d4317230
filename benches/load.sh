#!/usr/bin/env bash
# Load comparison, run by hand (not a timed test): Postfix's smtp-source
# drives the receiving server (smtpwire-server) in --discard mode and Postfix's smtp-sink on the
# same machine in the same run; prints messages/s for each, the ratios
# ours/smtp-sink per row, and the servers' peak resident memory.
#
#   bash benches/load.sh                  LOAD_MESSAGES=5000, LOAD_REPEAT=7 by default
#
# Two smtpwire-server instances take part, both on one thread (LOAD_THREADS), as
# smtp-sink is one process and smtp-source needs the other core:
#   ours       the server as it starts by default, sleeping whenever it has
#              nothing to do;
#   busy-poll  the same with --busy-poll LOAD_BUSY_POLL microseconds (50 by
#              default): after each input it keeps polling its sockets that
#              long before sleeping, so smtp-source, on the other core, no
#              longer pays to wake it (see smtpwire-tokio/src/server/busy_poll.rs).
# With LOAD_THREADS other than 1 the busy-poll server is left out, as
# --busy-poll needs the single-threaded runtime.
#
# Each row runs LOAD_REPEAT rounds; a round runs smtp-source once against
# each server, the order turning from round to round. The rate columns are
# the median rates; each ratio column is the median of the rounds' own
# ratios, whose runs are seconds apart and so spared the drift of a shared
# 2-core machine over a whole row, which is larger than the differences
# measured. A ratio is therefore not the quotient of the rate columns. Runs
# that fail count as missing, not as slow. The CPU columns are each
# server's own CPU time (user + system) per 1,000 messages over all rounds.
#
# LOAD_BASELINE=PATH adds a server "baseline": the smtpwire-server binary
# at PATH (an earlier build, say) started as "ours" is, and measured in
# the same rounds, so that a before/after comparison shares the machine's
# drift instead of comparing runs minutes apart.
#
# The last row times smtpwire-send (this project's client) against
# smtp-sink beside smtp-source sending the same count, both with 20
# connections that each carry many 4 KiB messages (smtp-source -d).
#   LOAD_SENDER='CMD' bash benches/load.sh
#       times CMD instead (run with bash -c; $SINK_PORT, $COUNT and
#       $MESSAGE, a 4 KiB message file, are exported).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=interop/lib.sh
source "$root/interop/lib.sh"

messages=$(positive LOAD_MESSAGES "${LOAD_MESSAGES:-5000}") || exit 1
repeat=$(positive LOAD_REPEAT "${LOAD_REPEAT:-7}") || exit 1
threads=$(positive LOAD_THREADS "${LOAD_THREADS:-1}") || exit 1
busy_poll=$(positive LOAD_BUSY_POLL "${LOAD_BUSY_POLL:-50}") || exit 1
work=$(mktemp -d "${TMPDIR:-/tmp}/smtpwire-load.XXXXXX")
trap finish_work EXIT
trap 'exit 130' INT TERM

install_peers
build_server
start_server ours --discard --no-tls --threads "$threads"
servers=(ours)
if [[ -n ${LOAD_BASELINE:-} ]]; then
    [[ -x $LOAD_BASELINE ]] || die "LOAD_BASELINE: no executable at $LOAD_BASELINE"
    built=$SERVER_BIN
    SERVER_BIN=$LOAD_BASELINE
    start_server baseline --discard --no-tls --threads "$threads"
    SERVER_BIN=$built
    servers+=(baseline)
fi
if ((threads == 1)); then
    start_server busy-poll --discard --no-tls --threads 1 --busy-poll "$busy_poll"
    servers+=(busy-poll)
fi

start_sink sink 1000
SINK_PORT=${PORT[sink]}
targets=("${servers[@]}" sink)

# elapsed COMMAND...: runs COMMAND, prints its wall time in seconds.
elapsed() {
    local start end
    start=$(date +%s.%N)
    "$@" > "$work/last.log" 2>&1 || { echo "failed: $* : $(tail -n 5 "$work/last.log")" >&2; echo nan; return; }
    end=$(date +%s.%N)
    awk -v a="$start" -v b="$end" 'BEGIN { printf "%.6f", b - a }'
}

rate() { # COUNT SECONDS
    [[ $2 == nan ]] && { echo nan; return; }
    awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", n / s }'
}

ratio() { # A B
    [[ $1 == nan || $2 == nan ]] && { echo nan; return; }
    awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'
}

# median VALUES...: the middle one of those that are not nan (the upper
# middle for an even count); nan when none is.
median() {
    printf '%s\n' "$@" | grep -v '^nan$' | sort -g \
        | awk '{ v[NR] = $1 } END { print NR ? v[int(NR / 2) + 1] : "nan" }'
}

cpu_ticks() { # PID: user + system time so far, in clock ticks
    awk '{ print $14 + $15 }' "/proc/$1/stat"
}

cpu_ms_per_k() { # TICKS COUNT: milliseconds of CPU per 1,000 messages
    awk -v t="$1" -v n="$2" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.0f", t * 1000 / hz / n * 1000 }'
}

# one_run PORT COUNT SMTP-SOURCE-ARGS...: prints the rate of one run.
one_run() {
    local port=$1 count=$2
    shift 2
    rate "$count" "$(elapsed smtp-source -M load.test -f from@example.org -t to@example.org \
        -m "$count" "$@" "127.0.0.1:$port")"
}

# The header of the server rows: per target its rate and CPU, per server
# server its ratio to smtp-sink.
row_header() {
    local columns=() target server
    for target in "${targets[@]}"; do columns+=("$target m/s"); done
    for server in "${servers[@]}"; do columns+=("$server ratio"); done
    for target in "${targets[@]}"; do columns+=("$target cpu"); done
    printf '%-42s' "row (smtp-source, $messages msgs, median of $repeat)"
    printf ' %14s' "${columns[@]}"
    echo
}

# row LABEL COUNT SMTP-SOURCE-ARGS...: the same smtp-source runs against
# every target, round after round.
row() {
    local label=$1 count=$2
    shift 2
    local -A rates=() ratios=() cpu=()
    local round turn target server rate
    for target in "${targets[@]}"; do cpu[$target]=$(cpu_ticks "${PID[$target]}"); done
    for round in $(seq "$repeat"); do
        local -A this=()
        for turn in "${!targets[@]}"; do
            target=${targets[$(((turn + round) % ${#targets[@]}))]}
            rate=$(one_run "${PORT[$target]}" "$count" "$@")
            this[$target]=$rate
            rates[$target]+=" $rate"
        done
        for server in "${servers[@]}"; do
            ratios[$server]+=" $(ratio "${this[$server]}" "${this[sink]}")"
        done
    done
    local columns=() total=$((count * repeat))
    # Word splitting of the lists is meant: they hold plain numbers.
    # shellcheck disable=SC2086
    {
        for target in "${targets[@]}"; do columns+=("$(median ${rates[$target]})"); done
        for server in "${servers[@]}"; do columns+=("$(median ${ratios[$server]})"); done
    }
    for target in "${targets[@]}"; do
        columns+=("$(cpu_ms_per_k "$(($(cpu_ticks "${PID[$target]}") - cpu[$target]))" "$total")ms")
    done
    printf '%-42s' "$label"
    printf ' %14s' "${columns[@]}"
    echo
}

# compare_senders LABEL COUNT COMMAND: COMMAND (bash -c, with SINK_PORT,
# COUNT and MESSAGE exported) against smtp-source, both sending COUNT
# messages to smtp-sink; the ratio is COMMAND's rate over smtp-source's,
# the median of the rounds' own ratios.
compare_senders() {
    local label=$1 count=$2 command=$3
    local theirs_rates=() ours_rates=() ratios=() round ours theirs
    for round in $(seq "$repeat"); do
        theirs=$(one_run "$SINK_PORT" "$count" -d -s 20 -l 4096)
        ours=$(rate "$count" "$(SINK_PORT=$SINK_PORT COUNT=$count MESSAGE=$message_file \
            elapsed bash -c "$command")")
        theirs_rates+=("$theirs")
        ours_rates+=("$ours")
        ratios+=("$(ratio "$ours" "$theirs")")
    done
    printf '%-42s %14s %14s %14s\n' "$label" "$(median "${ours_rates[@]}")" \
        "$(median "${theirs_rates[@]}")" "$(median "${ratios[@]}")"
}

row_header
row "(a) 1 msg/connection, 20 sessions, 4 KiB" "$messages" -s 20 -l 4096
row "(b) many msgs/connection (-d), 20 sessions" "$messages" -d -s 20 -l 4096
row "(c) 50 recipients/msg, 20 sessions" "$((messages / 5))" -r 50 -s 20 -l 4096
# A 4 KiB message, as smtp-source -l 4096 sends.
message_file="$work/message.eml"
python3 -c 'import sys; sys.stdout.write("Subject: load\r\n\r\n" + ("x" * 78 + "\r\n") * 51)' \
    > "$message_file"
if [[ -n ${LOAD_SENDER:-} ]]; then
    sender=$LOAD_SENDER
else
    build_program send
    sender="\"$PROGRAM_BIN\" --server \"127.0.0.1:\$SINK_PORT\" --from from@example.org \
        --to to@example.org --data \"\$MESSAGE\" --starttls never --count \"\$COUNT\" \
        --connections 20 --quiet"
fi
echo
printf '%-42s %14s %14s %14s\n' "sender row (to smtp-sink, -d)" "ours m/s" "src m/s" "ratio"
compare_senders "send example vs smtp-source, 20 connections" "$messages" "$sender"

echo
printf 'peak RSS:'
for target in "${targets[@]}"; do printf ' %s %s KiB;' "$target" "$(peak_rss_kib "${PID[$target]}")"; done
echo
