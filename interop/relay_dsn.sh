#!/usr/bin/env bash
# Delivery status notifications through smtpwire-relay, sent and read by
# independent software: CPython's smtplib gives RET, ENVID, NOTIFY and
# ORCPT (RFC 3461) on a message through the relay and its rewriting table;
# the reports are read back with Python's `email` package.
#
# 1. Two smtpwire-servers: example.net's, which does not offer DSN and
#    refuses bad@example.net, and example.org's, which takes the reports.
# 2. smtpwire-relay routes both domains there, with a table aliasing
#    info@example.org to ok@example.net.
# 3. smtplib sends from alice@example.org with RET=HDRS ENVID=interop-1 to
#    info@example.org (NOTIFY=SUCCESS, ORCPT) and bad@example.net
#    (NOTIFY=FAILURE, ORCPT), and to quiet@example.net with NOTIFY=NEVER.
# 4. interop/dsn_reports.py checks there are exactly two reports: a
#    failure for bad@ and, since the next hop has no DSN, "relayed" for
#    ok@ (the alias keeps its parameters), each with the ENVID and ORCPT.
#
# Prints one line per check and "relay_dsn: PASS"; exits non-zero on any
# failure. Settings: INTEROP_PROFILE (release or dev), INTEROP_KEEP=1
# keeps the work directory. Loopback only.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=interop/lib.sh
source "$root/interop/lib.sh"

command -v python3 > /dev/null || die "python3 not found"

work=$(mktemp -d "${TMPDIR:-/tmp}/smtpwire-dsn.XXXXXX")
trap finish_work EXIT
trap 'exit 130' INT TERM

build_server
build_program relay
bin_relay=$PROGRAM_BIN

start_server net --no-tls --no-dsn --unknown-recipient bad@example.net --maildir "$work/net"
start_server org --no-tls --maildir "$work/org"
printf 'alias info@example.org ok@example.net\n' > "$work/table"

relay_log="$work/relay.log"
"$bin_relay" --listen 127.0.0.1:0 --queue "$work/queue" --no-tls --no-starttls-out \
    --mx "example.net=127.0.0.1:${PORT[net]}" --mx "example.org=127.0.0.1:${PORT[org]}" \
    --rewrite-table "$work/table" --retry-initial 1 2> "$relay_log" &
await_start relay relay $! "$relay_log" '^relay on 127\.0\.0\.1:[0-9]' \
    's/^relay on 127\.0\.0\.1:\([0-9]*\),.*/\1/p'

python3 - "${PORT[relay]}" << 'PYTHON' || die "sending through the relay failed"
import smtplib
import sys

message = b"From: alice@example.org\r\nTo: info@example.org\r\nSubject: tell me\r\n\r\nBody.\r\n"
with smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=30) as client:
    client.ehlo("client.example")
    assert client.has_extn("dsn"), "the relay does not offer DSN"
    client.mail("alice@example.org", ["RET=HDRS", "ENVID=interop-1"])
    for to, options in [
        ("info@example.org", ["NOTIFY=SUCCESS", "ORCPT=rfc822;info@example.org"]),
        ("bad@example.net", ["NOTIFY=FAILURE", "ORCPT=rfc822;bad+2Bx@example.net"]),
        ("quiet@example.net", ["NOTIFY=NEVER"]),
    ]:
        code, reply = client.rcpt(to, options)
        assert code == 250, (to, code, reply)
    code, reply = client.data(message)
    assert code == 250, (code, reply)
PYTHON

for _ in $(seq 300); do
    (($(find "$work/org/new" -type f 2> /dev/null | wc -l) >= 2)) && break
    sleep 0.1
done
# Time for a report that must not come.
sleep 1
mapfile -t reports < <(find "$work/org/new" -type f | sort)
((${#reports[@]} == 2)) || die "${#reports[@]} reports, expected 2: $(cat "$relay_log")"

expected='{"envid": "interop-1",
  "failure": {"bad@example.net": {"action": "failed", "orcpt": "rfc822;bad+x@example.net"}},
  "success": {"ok@example.net": {"action": "relayed", "orcpt": "rfc822;info@example.org"}}}'
python3 "$root/interop/dsn_reports.py" "$expected" "${reports[@]}" || die "the reports are not as asked"
echo "relay_dsn: PASS (failure and relayed reports, read by Python's email package)"
