#!/usr/bin/env bash
# Fault script: the relay killed with SIGKILL during delivery, restarted,
# and the copies at the destination counted. Nothing queued may be lost,
# and no more may arrive twice than the relay was carrying when it died:
# the in-flight bound it prints at start (connections x the pipelined
# window), once per kill.
#
# 1. The receiving server, writing into the relay's queue directory, takes
#    N numbered messages from smtpwire-send: N messages are queued.
# 2. The relay starts and delivers them to a second smtpwire-server, which
#    keeps each copy in a Maildir. Each time that Maildir holds another
#    share of N, the relay is killed with SIGKILL and started again.
# 3. When the queue is empty the copies are counted: distinct messages
#    (by their numbered Subject), total copies and duplicates.
#
# Prints the figures and "relay_crash: PASS" or "FAIL"; exits non-zero if a
# message is lost, duplicates exceed kills x the bound, a kill came after
# the delivery was over, or anything takes longer than the time limit.
#
#   bash interop/relay_crash.sh                               (300 messages, two kills)
#   RELAY_CRASH_MESSAGES=2000 bash interop/relay_crash.sh     (the full run)
#   RELAY_CRASH_KILLS=0 bash interop/relay_crash.sh           (throughput: no kill)
#
# Other settings: RELAY_CRASH_CONNECTIONS (the relay's --connections, 16),
# RELAY_CRASH_PER_CONNECTION (--per-connection, 100), RELAY_CRASH_LIMIT
# (seconds for each stage, 120), RELAY_BIN (a relay binary to run instead of
# building this checkout's), INTEROP_PROFILE (release or dev, as in
# interop/lib.sh), INTEROP_KEEP=1 keeps the work directory. Loopback only.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=interop/lib.sh
source "$root/interop/lib.sh"

messages=${RELAY_CRASH_MESSAGES:-300}
kills=${RELAY_CRASH_KILLS:-2}
connections=${RELAY_CRASH_CONNECTIONS:-16}
per_connection=${RELAY_CRASH_PER_CONNECTION:-100}
limit=${RELAY_CRASH_LIMIT:-120}
for number in "$messages" "$kills" "$connections" "$per_connection" "$limit"; do
    [[ $number =~ ^[0-9]+$ ]] || die "RELAY_CRASH_* settings must be whole numbers"
done
((messages > kills)) || die "RELAY_CRASH_MESSAGES must exceed RELAY_CRASH_KILLS"

work=$(mktemp -d "${TMPDIR:-/tmp}/smtpwire-relay-crash.XXXXXX")
relay_pid=
cleanup() {
    [[ -n $relay_pid ]] && kill -KILL "$relay_pid" 2> /dev/null
    finish_work
}
trap cleanup EXIT
trap 'exit 130' INT TERM

build_server
build_program send
send_bin=$PROGRAM_BIN
if [[ -n ${RELAY_BIN:-} ]]; then
    [[ -x $RELAY_BIN ]] || die "RELAY_BIN is not an executable: $RELAY_BIN"
else
    build_program relay
    RELAY_BIN=$PROGRAM_BIN
fi

queue="$work/queue"
destination="$work/destination"

# files_in DIR: how many files DIR holds (0 when it does not exist).
files_in() {
    find "$1" -maxdepth 1 -type f 2> /dev/null | wc -l
}

# 1. Queue the messages: the relay's queue is a Maildir the server fills.
start_server intake --no-tls --maildir "$queue/incoming"
"$send_bin" --server "127.0.0.1:${PORT[intake]}" --from sender@example.org \
    --to postmaster@example.net --starttls never --count "$messages" \
    --connections 4 --quiet > "$work/send.log" 2>&1 \
    || die "smtpwire-send failed: $(tail -n 5 "$work/send.log")"
stop_pid "${PID[intake]}"
queued=$(files_in "$queue/incoming/new")
((queued == messages)) || die "$queued of $messages messages queued"

start_server destination --no-tls --maildir "$destination"

# start_relay: starts the relay on the queue; sets relay_pid and, from its
# first line, bound.
relay_runs=0
start_relay() {
    relay_runs=$((relay_runs + 1))
    local log="$work/relay-$relay_runs.log" _
    : > "$log"
    "$RELAY_BIN" --listen 127.0.0.1:0 --queue "$queue" --no-tls --no-starttls-out \
        --mx "example.net=127.0.0.1:${PORT[destination]}" --interval 0.1 \
        --retry-initial 1 --retry-factor 1 --retry-max 1 \
        --connections "$connections" --per-connection "$per_connection" 2> "$log" &
    relay_pid=$!
    for _ in $(seq 100); do
        grep -q '^relay on ' "$log" && break
        kill -0 "$relay_pid" 2> /dev/null || die "the relay exited at start: $(cat "$log")"
        sleep 0.05
    done
    bound=$(sed -n 's/.* sends again at most \([0-9]*\) messages.*/\1/p' "$log" | head -n 1)
    if [[ -z $bound ]]; then
        # A relay from before the bound was printed makes no such promise.
        echo "the relay prints no in-flight bound: no duplicate is allowed"
        bound=0
    fi
}

# 2. Deliver, killing the relay each time another share has arrived.
started=$(date +%s.%N)
start_relay
for kill in $(seq "$kills"); do
    share=$((messages * kill / (kills + 1)))
    deadline=$((SECONDS + limit))
    while (($(files_in "$destination/new") < share)); do
        ((SECONDS < deadline)) || die "fewer than $share copies after ${limit}s"
        kill -0 "$relay_pid" 2> /dev/null || die "the relay died: $(tail -n 5 "$work/relay-$relay_runs.log")"
        sleep 0.01
    done
    kill -KILL "$relay_pid"
    wait "$relay_pid" 2> /dev/null
    left=$(files_in "$queue/incoming/new")
    echo "kill $kill: SIGKILL with $(files_in "$destination/new") copies delivered, $left messages queued"
    ((left > 0)) || die "kill $kill came after the delivery was over: raise RELAY_CRASH_MESSAGES"
    start_relay
done
deadline=$((SECONDS + limit))
while (($(files_in "$queue/incoming/new") > 0)); do
    ((SECONDS < deadline)) || die "the queue was not empty after ${limit}s"
    kill -0 "$relay_pid" 2> /dev/null || die "the relay died: $(tail -n 5 "$work/relay-$relay_runs.log")"
    sleep 0.01
done
finished=$(date +%s.%N)
# A message leaves the queue once the destination has answered for it, so
# its copy is already in the Maildir.
kill -INT "$relay_pid"
wait "$relay_pid" 2> /dev/null
relay_pid=

# 3. Count the copies by their numbered Subject.
find "$destination/new" -maxdepth 1 -type f -exec grep -h -m 1 '^Subject: ' {} + \
    | tr -d '\r' | sort > "$work/subjects"
total=$(wc -l < "$work/subjects")
distinct=$(uniq < "$work/subjects" | wc -l)
duplicates=$((total - distinct))
lost=$((messages - distinct))
allowed=$((kills * bound))
rate=$(awk -v n="$messages" -v a="$started" -v b="$finished" \
    'BEGIN { printf "%.0f", n / (b - a) }')
echo "messages $messages, kills $kills, relay --connections $connections --per-connection $per_connection"
echo "distinct $distinct, copies $total, duplicates $duplicates, lost $lost"
echo "in-flight bound $bound per crash (the relay's), $allowed for $kills kills"
echo "drained in $(awk -v a="$started" -v b="$finished" 'BEGIN { printf "%.2f", b - a }') s" \
    "with $kills restarts: $rate messages/s"
if ((lost != 0 || duplicates > allowed)); then
    echo "relay_crash: FAIL"
    exit 1
fi
echo "relay_crash: PASS"
