#!/usr/bin/env bash
# Fault script: slow clients and a full connection table against the
# example server, over loopback only. Builds the server, starts it with a
# short --timeout and connection limits, and runs interop/slow_clients.py,
# which holds SLOW_CLIENTS slow clients (one byte every SLOW_INTERVAL
# seconds: half trickle a command line, half message content after 354)
# and enough idle connections to fill the table, then checks that
#   - a client is refused with 421 4.7.0 while the table is full,
#   - a client from a full address is refused with 421 naming it once slots
#     are free, and a normal client is served,
#   - every slow client is closed within --timeout (plus SLOW_SLACK) of the
#     start of its request (it prints the longest and the bound),
#   - an honest sender above the minimum data rate (SLOW_HONEST_SIZE octets
#     at SLOW_HONEST_RATE octets/s, longer than --timeout) gets its message
#     into the Maildir,
# and prints the server's peak resident memory (VmHWM) under that load.
# Then a second server, given SLOW_FLOOD_FILES descriptors and a table
# larger than that, gets SLOW_FLOOD connections at once: it runs out of
# descriptors, must log its failing accepts at most once every 10 s (not
# once per failure), and must serve a client as soon as they close.
# Exits non-zero if a check fails. Stops what it started, by PID.
#
#   bash interop/slow_clients.sh                 full figures: 500 slow clients, 100 KB at 2 KB/s
#   SLOW_CLIENTS=100 SLOW_IDLE=20 SLOW_HONEST_SIZE=30000 bash interop/slow_clients.sh
#                                                small figures (about 30 s), as CI runs it
#
# Figures (environment): SLOW_CLIENTS (500), SLOW_IDLE idle connections
# (100), SLOW_PER_IP per-address limit (50), SLOW_TIMEOUT the server's
# --timeout in seconds (10), SLOW_INTERVAL seconds between a slow client's
# bytes (2), SLOW_HOLD longest wait for a slow client to be closed (three
# timeouts), SLOW_SLACK seconds allowed past the timeout (2),
# SLOW_HONEST_SIZE (100000), SLOW_HONEST_RATE (2000), SLOW_FLOOD (300) and
# SLOW_FLOOD_FILES (96). The table holds
# exactly SLOW_CLIENTS + SLOW_IDLE. INTEROP_PROFILE=dev uses the debug build.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=interop/lib.sh
source "$root/interop/lib.sh"

slow=$(positive SLOW_CLIENTS "${SLOW_CLIENTS:-500}") || exit 1
idle=$(positive SLOW_IDLE "${SLOW_IDLE:-100}") || exit 1
per_ip=$(positive SLOW_PER_IP "${SLOW_PER_IP:-50}") || exit 1
server_timeout=$(positive SLOW_TIMEOUT "${SLOW_TIMEOUT:-10}") || exit 1
interval=$(positive SLOW_INTERVAL "${SLOW_INTERVAL:-2}") || exit 1
hold=$(positive SLOW_HOLD "${SLOW_HOLD:-$((3 * server_timeout))}") || exit 1
slack=$(positive SLOW_SLACK "${SLOW_SLACK:-2}") || exit 1
honest_size=$(positive SLOW_HONEST_SIZE "${SLOW_HONEST_SIZE:-100000}") || exit 1
honest_rate=$(positive SLOW_HONEST_RATE "${SLOW_HONEST_RATE:-2000}") || exit 1
flood=$(positive SLOW_FLOOD "${SLOW_FLOOD:-300}") || exit 1
flood_files=$(positive SLOW_FLOOD_FILES "${SLOW_FLOOD_FILES:-96}") || exit 1
((flood > flood_files)) || die "SLOW_FLOOD must exceed SLOW_FLOOD_FILES"
table=$((slow + idle))
# The connections that fill the table come from 127.0.0.2 onwards, one
# address per SLOW_PER_IP of them.
((2 + (table - 1) / per_ip <= 254)) || die "SLOW_CLIENTS + SLOW_IDLE needs more than 253 addresses at SLOW_PER_IP"
((table <= 20000)) || die "SLOW_CLIENTS + SLOW_IDLE above 20,000"

# The client side holds every connection in one process: raise its
# descriptor limit as far as allowed, and check it suffices.
ulimit -n "$(ulimit -Hn)" 2> /dev/null
(($(ulimit -n) >= table + 64)) || die "ulimit -n is $(ulimit -n); $((table + 64)) descriptors needed"

work=$(mktemp -d "${TMPDIR:-/tmp}/smtpwire-slow.XXXXXX")
trap finish_work EXIT
trap 'exit 130' INT TERM

build_server
start_server slow --no-tls --maildir "$work/maildir" --timeout "$server_timeout" \
    --max-connections "$table" --max-connections-per-ip "$per_ip"
server_pid=${PID[slow]}
echo "server: --timeout $server_timeout --max-connections $table --max-connections-per-ip $per_ip"

figures=(--timeout "$server_timeout" --max-connections "$table" --per-ip "$per_ip"
    --slow "$slow" --idle "$idle" --interval "$interval" --hold "$hold" --slack "$slack"
    --honest-size "$honest_size" --honest-rate "$honest_rate")
# Bounded in time: the slow clients' wait, the honest sender and setup.
limit=$((hold + honest_size / honest_rate + 60))
timeout "$limit" python3 "$root/interop/slow_clients.py" --port "${PORT[slow]}" \
    --maildir "$work/maildir" "${figures[@]}"
status=$?
((status == 124)) && echo "FAIL: the clients did not finish within $limit s"

if kill -0 "$server_pid" 2> /dev/null; then
    rss=$(peak_rss_kib "$server_pid")
    echo "server peak RSS (VmHWM) under $slow slow + $idle idle connections: $((rss / 1024)) MiB ($rss KiB)"
else
    echo "FAIL: the server exited: $(tail -n 5 "${LOG[slow]}")"
    status=1
fi
echo "server log, refusals and accept failures:"
grep -E 'refused with 421|accept failed|accepting again' "${LOG[slow]}" | sed 's/^/    | /' | head -n 20
stop_all
# Each connection's close is logged with its reason, for tools such as
# fail2ban: every slow client's says it ran out of time.
timeouts=$(grep -c ' reason=timeout' "${LOG[slow]}")
if ((timeouts >= slow)); then
    echo "PASS close-reasons: $timeouts connections logged 'closed reason=timeout'"
else
    echo "FAIL close-reasons: $timeouts connections logged 'closed reason=timeout', $slow slow clients"
    status=1
fi

echo "flood: $flood connections against a server with $flood_files descriptors"
# Only the server gets the lower limit; the shell takes its own back after.
files=$(ulimit -n)
ulimit -Sn "$flood_files"
start_server flood --no-tls --maildir "$work/flood" --max-connections "$((2 * flood))" \
    --max-connections-per-ip 0
ulimit -Sn "$files"
started=$SECONDS
timeout 60 python3 "$root/interop/slow_clients.py" --port "${PORT[flood]}" \
    --maildir "$work/flood" "${figures[@]}" --flood "$flood" || status=1
took=$((SECONDS - started))
lines=$(grep -c 'accept failed' "${LOG[flood]}")
grep 'accept failed' "${LOG[flood]}" | sed 's/^/    | /' | head -n 10
# At most one line every 10 s: the first, and one per 10 s begun since.
if ((lines >= 1 && lines <= 1 + (took + 9) / 10)); then
    echo "PASS accept-backoff: $lines 'accept failed' line(s) in $took s"
else
    echo "FAIL accept-backoff: $lines 'accept failed' line(s) in $took s (want 1 to $((1 + (took + 9) / 10)))"
    status=1
fi
exit "$status"
