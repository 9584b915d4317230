#!/usr/bin/env bash
# The cost that matters, end to end, run by hand (not a timed test): the CPU
# each message costs the process that receives or sends it, beside Postfix's
# smtp-sink and smtp-source doing the same on the same machine in the same
# run, and the latency of a transaction at a fixed offered load.
#
#   bash benches/cost.sh                  about 4 minutes on 2 cores
#   COST_SMOKE=1 bash benches/cost.sh     about a minute: every row, tiny counts
#
# Receiving rows: Postfix's smtp-source sends to smtpwire-server (--discard,
# no TLS, one thread) and to smtp-sink, 20 sessions, each either carrying
# many messages (-d) or one. "µs/msg" is the receiving process's CPU (user +
# system, summed over its threads from /proc/PID/task/*/schedstat, which
# counts nanoseconds where /proc/PID/stat counts 10 ms ticks) over every
# round, divided by the messages. The p99 columns come from the driver
# crate's paced_load example: COST_RATE transactions a second (500) over
# COST_CONNECTIONS connections (10) for COST_SECONDS (3), each timed from
# MAIL to the reply to its end of data; see its documentation for how
# lateness counts. smtp-source cannot pace nor time transactions. A
# receiver slower than the offered load falls behind and its p99 grows
# with the run (smtp-sink with 200 KiB messages): that row's p99 says it
# saturates, not how long a transaction takes.
#
# Sending rows: a sender of this project and smtp-source each send the same
# count to smtp-sink; "µs/msg" is the sending process's CPU (getrusage of
# the child, start-up included):
#   send ...        smtpwire-send, 20 connections each carrying many
#                   messages, beside smtp-source -d -s 20;
#   send 1/conn     smtpwire-send with a connection per message (as a
#                   program sending transactional mail does), beside
#                   smtp-source -s 20 without -d;
#   bulk            smtpwire-bulk to a list (a copy per recipient, the
#                   template filled in, List-Unsubscribe, a results file),
#                   beside smtp-source -d -s 1. Its DNS checklist asks a
#                   loopback port where no one answers (loopback only), so
#                   its start waits out the resolver's timeout: its rate is
#                   left out.
#
# smtp-source does not pipeline: with 20 recipients it waits for each
# RCPT's reply, where smtpwire-send pipelines them (RFC 2920 §3.1), so
# that send row weighs the way each client talks as well as its code.
#
# The receivers (smtpwire-server, smtp-sink) run on core COST_SERVER_CPU
# (0), whatever sends to them (smtp-source, paced_load, smtpwire-send and
# smtpwire-bulk) on COST_LOAD_CPU (1) (taskset). Each row runs
# COST_ROUNDS rounds (3), the order of ours and Postfix's turning from
# round to round; the m/s columns are median rates. The ratio is ours over
# Postfix's CPU per message: below 1, ours costs less. A failed run shows
# as nan and makes the exit status non-zero. Loopback only; everything
# started here is stopped by PID on exit (INTEROP_KEEP=1 keeps the work
# directory; INTEROP_PROFILE=dev uses the debug builds, for smoke runs).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=interop/lib.sh
source "$root/interop/lib.sh"

# Rounds, paced seconds, the divisor of the message counts, paced rate: a
# smoke run only shows that every row still runs, on debug builds too.
if [[ -n ${COST_SMOKE:-} ]]; then
    defaults=(1 1 50 20)
else
    defaults=(3 3 1 500)
fi
rounds=$(positive COST_ROUNDS "${COST_ROUNDS:-${defaults[0]}}") || exit 1
seconds=$(positive COST_SECONDS "${COST_SECONDS:-${defaults[1]}}") || exit 1
shrink=${defaults[2]}
rate=$(positive COST_RATE "${COST_RATE:-${defaults[3]}}") || exit 1
connections=$(positive COST_CONNECTIONS "${COST_CONNECTIONS:-10}") || exit 1
server_cpu=${COST_SERVER_CPU:-0}
load_cpu=${COST_LOAD_CPU:-1}
[[ $server_cpu =~ ^[0-9]+$ && $load_cpu =~ ^[0-9]+$ && $server_cpu != "$load_cpu" ]] \
    || die "COST_SERVER_CPU and COST_LOAD_CPU must be two different core numbers"
work=$(mktemp -d "${TMPDIR:-/tmp}/smtpwire-cost.XXXXXX")
trap finish_work EXIT
trap 'exit 130' INT TERM

command -v smtp-sink > /dev/null && command -v smtp-source > /dev/null || install_peers
for tool in smtp-sink smtp-source taskset python3; do
    command -v "$tool" > /dev/null || die "$tool is missing and could not be installed"
done
taskset -c "$server_cpu,$load_cpu" true 2> /dev/null \
    || die "cores $server_cpu and $load_cpu are not both available (taskset)"

build_server
build_program send
send_bin=$PROGRAM_BIN
build_program bulk
bulk_bin=$PROGRAM_BIN
build_example smtpwire-tokio paced_load
paced_bin=$EXAMPLE_BIN

# pin PID: moves every thread of PID to the server core.
pin() {
    taskset -a -p -c "$server_cpu" "$1" > /dev/null || die "cannot pin process $1"
}

start_server ours --discard --no-tls --threads 1
pin "${PID[ours]}"
start_sink sink 1000
pin "${PID[sink]}"
targets=(ours sink)

failed=0

# process_cpu_ns PID: the CPU time of every thread of PID so far, in
# nanoseconds (the first field of each thread's schedstat).
process_cpu_ns() {
    cat "/proc/$1/task/"*/schedstat 2> /dev/null | awk '{ sum += $1 } END { printf "%.0f", sum }'
}

# measured COMMAND...: runs COMMAND on the load core, its output to
# $work/last.log; prints its CPU time (user + system, microseconds, from
# getrusage) and its wall time (seconds), or "nan nan" when it fails.
measured() {
    taskset -c "$load_cpu" python3 -c '
import resource, subprocess, sys, time
with open(sys.argv[1], "wb") as log:
    start = time.perf_counter()
    status = subprocess.run(sys.argv[2:], stdout=log, stderr=subprocess.STDOUT).returncode
    wall = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(f"{(usage.ru_utime + usage.ru_stime) * 1e6:.0f} {wall:.6f}" if status == 0 else "nan nan")
' "$work/last.log" "$@" || echo "nan nan"
}

# note_failure WHAT: reports a failed run and marks the exit status.
note_failure() {
    echo "failed: $1: $(tail -n 5 "$work/last.log")" >&2
    failed=1
}

# median VALUES...: the middle one of those that are not nan (the upper
# middle for an even count); nan when none is.
median() {
    printf '%s\n' "$@" | grep -v '^nan$' | sort -g \
        | awk '{ v[NR] = $1 } END { print NR ? v[int(NR / 2) + 1] : "nan" }'
}

# per_message TOTAL_US COUNT: microseconds per message, one decimal.
per_message() {
    awk -v t="$1" -v n="$2" 'BEGIN { if (t == "nan" || n == 0) print "nan"; else printf "%.1f", t / n }'
}

ratio() { # A B
    awk -v a="$1" -v b="$2" 'BEGIN { if (a == "nan" || b == "nan" || b == 0) print "nan"; else printf "%.2f", a / b }'
}

# message_file SIZE: a message of a header and SIZE octets of 78-character
# lines (as smtp-source -l counts its payload); prints its path.
message_file() {
    local path="$work/message-$1.eml"
    [[ -e $path ]] || python3 -c '
import sys
lines, rest = divmod(int(sys.argv[1]), 80)
body = ("x" * 78 + "\r\n") * lines + ("x" * (rest - 2) + "\r\n" if rest >= 2 else "")
sys.stdout.write("From: <from@example.org>\r\nSubject: cost\r\n\r\n" + body)
' "$1" > "$path"
    echo "$path"
}

# recipients COUNT: the --to flags of smtpwire-send for COUNT recipients.
recipients() {
    local n
    for ((n = 1; n <= $1; n++)); do printf -- '--to\nrcpt%d@example.net\n' "$n"; done
}

# p99 TARGET SIZE RECIPIENTS: the paced run's p99 against TARGET, in µs.
p99() {
    local result
    result=$(measured "$paced_bin" "127.0.0.1:${PORT[$1]}" "$rate" "$connections" "$seconds" "$2" "$3")
    if [[ $result == nan* ]]; then
        note_failure "paced load against $1"
        echo nan
        return
    fi
    sed -n 's/.* p99_us=\([0-9]*\) .*/\1/p' "$work/last.log"
}

printf '%-34s %11s %11s %6s %10s %10s %9s %9s\n' workload "ours µs/msg" "Postfix µs" ratio \
    "ours p99" "Postfix p99" "ours m/s" "Pfx m/s"

# print_row LABEL OURS_US POSTFIX_US OURS_P99 POSTFIX_P99 OURS_RATE POSTFIX_RATE
print_row() {
    local p99_ours=$4 p99_postfix=$5
    [[ $p99_ours =~ ^[0-9]+$ ]] && p99_ours="${p99_ours}µs"
    [[ $p99_postfix =~ ^[0-9]+$ ]] && p99_postfix="${p99_postfix}µs"
    printf '%-34s %11s %11s %6s %10s %10s %9s %9s\n' "$1" "$2" "$3" "$(ratio "$2" "$3")" \
        "$p99_ours" "$p99_postfix" "$6" "$7"
}

# receive LABEL COUNT SIZE RECIPIENTS MANY: smtp-source sends COUNT
# messages of SIZE octets to RECIPIENTS recipients to each receiving
# target, each session carrying many messages when MANY is "many", one
# otherwise; then the paced runs (unless MANY is "one": they keep their
# connections).
receive() {
    local label=$1 count=$(($2 / shrink)) size=$3 rcpts=$4 many=$5
    local -a args=(-s 20 -m "$count" -l "$size" -r "$rcpts" -M load.test -f from@example.org -t to@example.net)
    [[ $many == many ]] && args+=(-d)
    local -A cpu=() rates=() p99s=()
    local round turn target before result
    for round in $(seq "$rounds"); do
        for turn in 0 1; do
            target=${targets[$(((turn + round) % 2))]}
            before=$(process_cpu_ns "${PID[$target]}")
            result=$(measured smtp-source "${args[@]}" "127.0.0.1:${PORT[$target]}")
            if [[ $result == nan* ]]; then
                note_failure "smtp-source to $target ($label)"
                cpu[$target]=nan
                continue
            fi
            [[ ${cpu[$target]:-0} == nan ]] \
                || cpu[$target]=$((${cpu[$target]:-0} + $(process_cpu_ns "${PID[$target]}") - before))
            rates[$target]+=" $(awk -v n="$count" -v s="${result#* }" 'BEGIN { printf "%.0f", n / s }')"
        done
    done
    for target in "${targets[@]}"; do
        if [[ $many == many ]]; then p99s[$target]=$(p99 "$target" "$size" "$rcpts"); else p99s[$target]=-; fi
        [[ ${cpu[$target]} == nan ]] || cpu[$target]=$((cpu[$target] / 1000))
    done
    # Word splitting of the rate lists is meant: they hold plain numbers.
    # shellcheck disable=SC2086
    print_row "$label" "$(per_message "${cpu[ours]}" $((count * rounds)))" \
        "$(per_message "${cpu[sink]}" $((count * rounds)))" "${p99s[ours]}" "${p99s[sink]}" \
        "$(median ${rates[ours]:-nan})" "$(median ${rates[sink]:-nan})"
}

# send LABEL COUNT OURS_RATE POSTFIX_ARGS -- OURS_COMMAND...: OURS_COMMAND
# and smtp-source with POSTFIX_ARGS each send COUNT messages to smtp-sink,
# rounds turning their order; OURS_RATE "no" leaves our rate out.
send() {
    local label=$1 count=$2 show_rate=$3 postfix_args=$4
    shift 5
    local -a ours=("$@")
    local -A cpu=([ours]=0 [postfix]=0) rates=()
    local -a order=(ours postfix)
    local round turn who result
    # Split on spaces, as meant.
    # shellcheck disable=SC2206
    local -a theirs=(smtp-source $postfix_args -m "$count" -M load.test -f from@example.org
        -t to@example.net "127.0.0.1:${PORT[sink]}")
    for round in $(seq "$rounds"); do
        for turn in 0 1; do
            who=${order[$(((turn + round) % 2))]}
            [[ $who == ours ]] && rm -f "$work"/results.csv*
            if [[ $who == ours ]]; then
                result=$(measured "${ours[@]}")
            else
                result=$(measured "${theirs[@]}")
            fi
            if [[ $result == nan* || ${cpu[$who]} == nan ]]; then
                [[ $result == nan* ]] && note_failure "$who sending ($label)"
                cpu[$who]=nan
                continue
            fi
            cpu[$who]=$((cpu[$who] + ${result% *}))
            rates[$who]+=" $(awk -v n="$count" -v s="${result#* }" 'BEGIN { printf "%.0f", n / s }')"
        done
    done
    local our_rate
    # shellcheck disable=SC2086
    our_rate=$(median ${rates[ours]:-nan})
    [[ $show_rate == no ]] && our_rate=-
    # shellcheck disable=SC2086
    print_row "$label" "$(per_message "${cpu[ours]}" $((count * rounds)))" \
        "$(per_message "${cpu[postfix]}" $((count * rounds)))" - - "$our_rate" "$(median ${rates[postfix]:-nan})"
}

receive "receive 1 KiB, 1 rcpt" 4000 1024 1 many
receive "receive 20 KiB, 1 rcpt" 2000 20480 1 many
receive "receive 200 KiB, 1 rcpt" 400 204800 1 many
receive "receive 1 KiB, 20 rcpt" 2000 1024 20 many
receive "receive 20 KiB, 20 rcpt" 1000 20480 20 many
receive "receive 200 KiB, 20 rcpt" 400 204800 20 many
receive "receive 1 KiB, 1 rcpt, 1/conn" 2000 1024 1 one

# send_row LABEL COUNT SIZE RECIPIENTS: smtpwire-send over 20 connections.
send_row() {
    local count=$(($2 / shrink)) to
    mapfile -t to < <(recipients "$4")
    send "$1" "$count" yes "-d -s 20 -l $3 -r $4" -- "$send_bin" --server "127.0.0.1:${PORT[sink]}" \
        --from from@example.org "${to[@]}" --data "$(message_file "$3")" --starttls never \
        --count "$count" --connections 20 --quiet
}
send_row "send 1 KiB, 1 rcpt" 4000 1024 1
send_row "send 20 KiB, 1 rcpt" 2000 20480 1
send_row "send 200 KiB, 1 rcpt" 400 204800 1
send_row "send 1 KiB, 20 rcpt" 2000 1024 20

count=$((1000 / shrink))
send "send 1 KiB, 1 rcpt, 1/conn" "$count" yes "-s 20 -l 1024" -- "$send_bin" \
    --server "127.0.0.1:${PORT[sink]}" --from from@example.org --to to@example.net \
    --data "$(message_file 1024)" --starttls never --count "$count" --connections "$count" --quiet

count=$((2000 / shrink))
python3 -c '
import sys
print("email,name")
for n in range(int(sys.argv[1])):
    print(f"user{n}@example.net,User {n}")
' "$count" > "$work/list.csv"
# About 1 KiB once filled in, as the other rows' messages.
{
    printf 'From: News <news@example.org>\nSubject: Hello {{name}}\n\nDear {{name}},\n'
    python3 -c 'print(("x" * 78 + "\n") * 11, end="")'
} > "$work/template.eml"
send "bulk 1 KiB, 1 rcpt (template)" "$count" no "-d -s 1 -l 1024" -- "$bulk_bin" \
    --list "$work/list.csv" --template "$work/template.eml" --results "$work/results.csv" \
    --from news@example.org --unsubscribe-url 'https://example.org/u?e={{email}}' \
    --mx "example.net=127.0.0.1:${PORT[sink]}" --no-starttls --dns-server "127.0.0.1:$(free_port)"

echo
echo "ratio: ours over Postfix's CPU per message (below 1: ours costs less);" \
    "p99 at $rate transactions/s over $connections connections for ${seconds}s; $rounds round(s)"
exit "$failed"
