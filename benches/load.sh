#!/usr/bin/env bash
# Load comparison, run by hand (not a timed test): Postfix's smtp-source
# drives the example server in --discard mode and Postfix's smtp-sink on the
# same machine in the same run; prints messages/s for both, the ratio
# ours/smtp-sink per row, and both servers' peak resident memory.
#
#   bash benches/load.sh                  LOAD_MESSAGES=5000, LOAD_REPEAT=7 by default
#
# Each row runs LOAD_REPEAT pairs of runs, ours and smtp-sink taking turns to
# go first, and shows the median rate of each and the median of the pairs'
# ratios: the two runs of a pair are seconds apart, so the ratio of each
# pair is spared the drift of a shared 2-core machine over the whole row,
# which is larger than the difference measured. The CPU columns are each
# server's own CPU time (user + system) per 1,000 messages over all runs.
# LOAD_THREADS sets the example server's worker threads (1 by default).
#
# The example server runs with --busy-poll LOAD_BUSY_POLL microseconds (50
# by default): after each input it polls its sockets that long before
# sleeping, which spares smtp-source, on the same two cores, the cost of
# waking it (see examples/server/busy_poll.rs). Row (a) runs once more
# against a second instance without it, to show what it buys; its CPU
# column is that instance's.
#
# The last row times the send example (this crate's client) against
# smtp-sink beside smtp-source sending the same count, both with 20
# connections that each carry many 4 KiB messages (smtp-source -d).
#   LOAD_SENDER='CMD' bash benches/load.sh
#       times CMD instead (run with bash -c; $SINK_PORT, $COUNT and
#       $MESSAGE, a 4 KiB message file, are exported).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=interop/lib.sh
source "$root/interop/lib.sh"

messages=${LOAD_MESSAGES:-5000}
repeat=${LOAD_REPEAT:-7}
work=$(mktemp -d "${TMPDIR:-/tmp}/smtpwire-load.XXXXXX")
trap 'stop_all; rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

install_peers
build_server
# One thread, as smtp-sink is one process: smtp-source needs the other core,
# and a second worker would only fight it for that core.
threads=${LOAD_THREADS:-1}
busy_poll=${LOAD_BUSY_POLL:-50}
if ((threads == 1)); then
    start_server ours --discard --no-tls --threads 1 --busy-poll "$busy_poll"
else
    start_server ours --discard --no-tls --threads "$threads"
fi
start_server parked --discard --no-tls --threads "$threads"

SINK_PORT=$(free_port)
# Unprivileged, backlog 1000, counting to stdout.
smtp-sink -c -u nobody "127.0.0.1:$SINK_PORT" 1000 > "$work/sink.log" 2>&1 &
sink_pid=$!
STARTED_PIDS+=("$sink_pid")
wait_for_port "$SINK_PORT" || die "smtp-sink did not start: $(cat "$work/sink.log")"

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

median() { # VALUES...: the middle one (the upper middle for an even count)
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int(NR / 2) + 1] }'
}

cpu_ticks() { # PID: user + system time so far, in clock ticks
    awk '{ print $14 + $15 }' "/proc/$1/stat"
}

cpu_ms_per_k() { # TICKS COUNT: milliseconds of CPU per 1,000 messages
    awk -v t="$1" -v n="$2" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.0f", t * 1000 / hz / n * 1000 }'
}

printf '%-44s %9s %9s %6s %9s %9s\n' "row (smtp-source, $messages msgs, median of $repeat)" \
    "ours m/s" "sink m/s" "ratio" "ours cpu" "sink cpu"

# one_run PORT COUNT SMTP-SOURCE-ARGS...: prints the rate of one run.
one_run() {
    local port=$1 count=$2
    shift 2
    rate "$count" "$(elapsed smtp-source -M load.test -f from@example.org -t to@example.org \
        -m "$count" "$@" "127.0.0.1:$port")"
}

# row SERVER LABEL COUNT SMTP-SOURCE-ARGS...: the same smtp-source runs
# against the example server SERVER and smtp-sink.
row() {
    local server=$1 label=$2 count=$3
    shift 3
    local ours_rates=() sink_rates=() ratios=() i ours sink
    local ours_cpu sink_cpu
    ours_cpu=$(cpu_ticks "${PID[$server]}")
    sink_cpu=$(cpu_ticks "$sink_pid")
    for i in $(seq "$repeat"); do
        if ((i % 2)); then
            ours=$(one_run "${PORT[$server]}" "$count" "$@")
            sink=$(one_run "$SINK_PORT" "$count" "$@")
        else
            sink=$(one_run "$SINK_PORT" "$count" "$@")
            ours=$(one_run "${PORT[$server]}" "$count" "$@")
        fi
        ours_rates+=("$ours")
        sink_rates+=("$sink")
        ratios+=("$(ratio "$ours" "$sink")")
    done
    ours_cpu=$(($(cpu_ticks "${PID[$server]}") - ours_cpu))
    sink_cpu=$(($(cpu_ticks "$sink_pid") - sink_cpu))
    local ours_rate sink_rate total=$((count * repeat))
    ours_rate=$(median "${ours_rates[@]}")
    sink_rate=$(median "${sink_rates[@]}")
    printf '%-44s %9s %9s %6s %7sms %7sms\n' "$label" "$ours_rate" "$sink_rate" \
        "$(median "${ratios[@]}")" "$(cpu_ms_per_k "$ours_cpu" "$total")" \
        "$(cpu_ms_per_k "$sink_cpu" "$total")"
}

# compare_senders LABEL COUNT COMMAND: COMMAND (bash -c, with SINK_PORT,
# COUNT and MESSAGE exported) against smtp-source, both sending COUNT
# messages to smtp-sink; the ratio is COMMAND's rate over smtp-source's.
compare_senders() {
    local label=$1 count=$2 command=$3
    local theirs_rates=() ours_rates=() ratios=() i ours theirs
    for i in $(seq "$repeat"); do
        theirs=$(one_run "$SINK_PORT" "$count" -d -s 20 -l 4096)
        ours=$(rate "$count" "$(SINK_PORT=$SINK_PORT COUNT=$count MESSAGE=$message_file \
            elapsed bash -c "$command")")
        theirs_rates+=("$theirs")
        ours_rates+=("$ours")
        ratios+=("$(ratio "$ours" "$theirs")")
    done
    printf '%-44s %9s %9s %6s\n' "$label" "$(median "${ours_rates[@]}")" \
        "$(median "${theirs_rates[@]}")" "$(median "${ratios[@]}")"
}

row ours "(a) 1 msg/connection, 20 sessions, 4 KiB" "$messages" -s 20 -l 4096
row ours "(b) many msgs/connection (-d), 20 sessions" "$messages" -d -s 20 -l 4096
row ours "(c) 50 recipients/msg, 20 sessions" "$((messages / 5))" -r 50 -s 20 -l 4096
row parked "(a) again, without --busy-poll" "$messages" -s 20 -l 4096
(cd "$root" && cargo build --profile "${INTEROP_PROFILE:-release}" --quiet --example send) \
    || die "building the send example failed"
send_bin="$(dirname "$SERVER_BIN")/send"
# A 4 KiB message, as smtp-source -l 4096 sends.
message_file="$work/message.eml"
python3 -c 'import sys; sys.stdout.write("Subject: load\r\n\r\n" + ("x" * 78 + "\r\n") * 51)' \
    > "$message_file"
sender=${LOAD_SENDER:-"\"$send_bin\" --server \"127.0.0.1:\$SINK_PORT\" --from from@example.org \
    --to to@example.org --data \"\$MESSAGE\" --starttls never --count \"\$COUNT\" \
    --connections 20 --quiet"}
echo
printf '%-44s %9s %9s %6s\n' "sender row (to smtp-sink, -d)" "ours m/s" "src m/s" "ratio"
compare_senders "send example vs smtp-source, 20 connections" "$messages" "$sender"

echo
printf 'peak RSS: ours %s KiB (without --busy-poll %s KiB), smtp-sink %s KiB\n' \
    "$(peak_rss_kib "${PID[ours]}")" "$(peak_rss_kib "${PID[parked]}")" "$(peak_rss_kib "$sink_pid")"
