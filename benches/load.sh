#!/usr/bin/env bash
# Load comparison, run by hand (not a timed test): Postfix's smtp-source
# drives the example server in --discard mode and Postfix's smtp-sink on the
# same machine in the same run; prints messages/s for both, the ratio
# ours/smtp-sink per row, and both servers' peak resident memory.
#
#   bash benches/load.sh                  LOAD_MESSAGES=5000 by default
#   LOAD_SENDER='CMD' bash benches/load.sh
#       adds a row timing CMD (run with bash -c; $SINK_PORT and $COUNT are
#       exported) against smtp-sink beside smtp-source sending the same count.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=interop/lib.sh
source "$root/interop/lib.sh"

messages=${LOAD_MESSAGES:-5000}
work=$(mktemp -d "${TMPDIR:-/tmp}/smtpwire-load.XXXXXX")
trap 'stop_all; rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

install_peers
build_server
# One thread, as smtp-sink is one process: smtp-source needs the other core,
# and a second worker would only fight it for that core.
start_server ours --discard --no-tls --threads 1

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

printf '%-44s %10s %10s %7s\n' "row (smtp-source, $messages msgs)" "ours m/s" "sink m/s" "ratio"

# row LABEL COUNT SMTP-SOURCE-ARGS...: the same smtp-source run against both.
row() {
    local label=$1 count=$2
    shift 2
    local ours sink
    ours=$(elapsed smtp-source -M load.test -f from@example.org -t to@example.org -m "$count" "$@" \
        "127.0.0.1:${PORT[ours]}")
    sink=$(elapsed smtp-source -M load.test -f from@example.org -t to@example.org -m "$count" "$@" \
        "127.0.0.1:$SINK_PORT")
    local ours_rate sink_rate
    ours_rate=$(rate "$count" "$ours")
    sink_rate=$(rate "$count" "$sink")
    printf '%-44s %10s %10s %7s\n' "$label" "$ours_rate" "$sink_rate" "$(ratio "$ours_rate" "$sink_rate")"
}

# compare_senders LABEL COUNT COMMAND: COMMAND (bash -c, with SINK_PORT and
# COUNT exported) against smtp-source, both sending COUNT messages to
# smtp-sink; the ratio is COMMAND's rate over smtp-source's.
compare_senders() {
    local label=$1 count=$2 command=$3
    local theirs ours
    theirs=$(elapsed smtp-source -M load.test -s 20 -l 4096 -f from@example.org -t to@example.org \
        -m "$count" "127.0.0.1:$SINK_PORT")
    ours=$(SINK_PORT=$SINK_PORT COUNT=$count elapsed bash -c "$command")
    local ours_rate theirs_rate
    ours_rate=$(rate "$count" "$ours")
    theirs_rate=$(rate "$count" "$theirs")
    printf '%-44s %10s %10s %7s\n' "$label" "$ours_rate" "$theirs_rate" "$(ratio "$ours_rate" "$theirs_rate")"
}

row "(a) 1 msg/connection, 20 sessions, 4 KiB" "$messages" -s 20 -l 4096
row "(b) many msgs/connection (-d), 20 sessions" "$messages" -d -s 20 -l 4096
row "(c) 50 recipients/msg, 20 sessions" "$((messages / 5))" -r 50 -s 20 -l 4096
if [[ -n ${LOAD_SENDER:-} ]]; then
    echo
    printf '%-44s %10s %10s %7s\n' "sender row (to smtp-sink)" "cmd m/s" "source m/s" "ratio"
    export SINK_PORT
    compare_senders "LOAD_SENDER vs smtp-source, 20 sessions" "$messages" "$LOAD_SENDER"
fi

echo
printf 'peak RSS: ours %s KiB, smtp-sink %s KiB\n' "$(peak_rss_kib "${PID[ours]}")" "$(peak_rss_kib "$sink_pid")"
