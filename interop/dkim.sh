#!/usr/bin/env bash
# DKIM signatures of the bulk sender and the relay, verified by independent
# software: Python's dkimpy (Debian's python3-dkim) and OpenDKIM.
#
# 1. smtpwire-dkim-key makes an RSA-2048 and an Ed25519 key for example.org
#    and prints their records; the verifiers read the records from files,
#    never from DNS.
# 2. smtpwire-bulk sends a template (8-bit text, a line starting with a
#    dot) to two recipients, signing with both keys, to smtpwire-server on
#    loopback, which stores into a Maildir.
# 3. Python's smtplib sends an unsigned message from example.org (8-bit,
#    dot lines) through smtpwire-relay, which signs it with both keys and
#    delivers it to the same server.
# 4. Each stored message must carry two signatures; dkimpy verifies both
#    (rsa-sha256 and ed25519-sha256), and so does OpenDKIM's verifier
#    (`opendkim -t`, keys from `TestPublicKeys`; Debian's 2.11 build
#    verifies ed25519-sha256 too).
#
# Prints one line per check and "dkim: PASS"; exits non-zero on any
# failure, or if a verifier is missing after the install. Settings:
# INTEROP_PROFILE (release or dev, as in interop/lib.sh), INTEROP_KEEP=1
# keeps the work directory. Loopback only.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=interop/lib.sh
source "$root/interop/lib.sh"

# Debian's own Python has the python3-dkim module, whatever `python3` is
# first on PATH.
debian_python=/usr/bin/python3
verifiers_missing() {
    command -v opendkim > /dev/null || return 0
    command -v opendkim-testkey > /dev/null || return 0
    command -v dkimverify > /dev/null || return 0
    "$debian_python" -c 'import dkim, nacl' 2> /dev/null || return 0
    return 1
}
if verifiers_missing; then
    echo "installing the verifiers: python3-dkim opendkim opendkim-tools"
    command -v apt-get > /dev/null || die "apt-get not found: cannot install the verifiers"
    apt-get update -qq || die "apt-get update failed"
    # The packages must not start OpenDKIM as a system service.
    if [[ ! -e $SERVICE_POLICY ]]; then
        printf '#!/bin/sh\nexit 101\n' > "$SERVICE_POLICY" && chmod +x "$SERVICE_POLICY" \
            && MADE_SERVICE_POLICY=1
    fi
    apt-get install -y -qq --no-install-recommends --no-upgrade \
        python3-dkim python3-nacl opendkim opendkim-tools > /dev/null
    installed=$?
    remove_service_policy
    ((installed == 0)) || die "apt-get install of the verifiers failed"
fi
verifiers_missing && die "a verifier is missing after the install (opendkim, dkimpy with PyNaCl)"

work=$(mktemp -d "${TMPDIR:-/tmp}/smtpwire-dkim.XXXXXX")
trap finish_work EXIT
trap 'exit 130' INT TERM

build_server
for program in bulk relay dkim-key; do
    build_program "$program"
    declare "bin_${program//-/_}=$PROGRAM_BIN"
done

# 1. Keys and their records, as the helper prints them.
records="$work/records"
: > "$records"
for kind in rsa ed25519; do
    "$bin_dkim_key" generate --algorithm "$kind" --domain example.org --selector "s-$kind" \
        --key "$work/$kind.pem" > "$work/$kind.record" || die "smtpwire-dkim-key generate $kind failed"
    [[ $(stat -c %a "$work/$kind.pem") == 600 ]] || die "$kind.pem is not mode 0600"
    cmp -s "$work/$kind.record" <("$bin_dkim_key" record --domain example.org --selector "s-$kind" \
        --key "$work/$kind.pem") || die "record of the existing $kind key differs"
    cat "$work/$kind.record"
    # name. IN TXT "…" "…": the name, and the strings joined.
    sed -n 's/^\([^ ]*\)\. IN TXT \(.*\)$/\1 \2/p' "$work/$kind.record" \
        | sed 's/" "//g; s/ "/ /; s/"$//' >> "$records"
done
[[ $(wc -l < "$records") == 2 ]] || die "unexpected records: $(cat "$work"/*.record)"
dkim_flags=(--dkim "example.org:s-rsa:$work/rsa.pem" --dkim "example.org:s-ed25519:$work/ed25519.pem")

start_server mx --no-tls --maildir "$work/maildir"
mx="127.0.0.1:${PORT[mx]}"

# 2. The bulk sender.
printf 'email,name\nann@example.net,Ann\nbob@example.net,Bjørn\n' > "$work/list.csv"
printf 'From: News <news@example.org>\nTo: {{email}}\nSubject: Grüße, {{name}}\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\nHej {{name}}, smörgåsbord.\n.a line starting with a dot\n..two dots\n\n' \
    > "$work/template.eml"
"$bin_bulk" --list "$work/list.csv" --template "$work/template.eml" --results "$work/results.csv" \
    --from bounces@example.org --unsubscribe-url 'https://example.org/u?e={{email}}' \
    --mx "example.net=$mx" --no-starttls "${dkim_flags[@]}" > "$work/bulk.log" 2>&1 \
    || die "smtpwire-bulk failed: $(cat "$work/bulk.log")"
grep -q '^2 delivered' "$work/bulk.log" || die "smtpwire-bulk: $(cat "$work/bulk.log")"

# 3. The relay.
relay_log="$work/relay.log"
"$bin_relay" --listen 127.0.0.1:0 --queue "$work/queue" --no-tls --no-starttls-out \
    --mx "example.net=$mx" --retry-initial 1 "${dkim_flags[@]}" 2> "$relay_log" &
await_start relay relay $! "$relay_log" '^relay on 127\.0\.0\.1:[0-9]' \
    's/^relay on 127\.0\.0\.1:\([0-9]*\),.*/\1/p'
"$debian_python" - "${PORT[relay]}" << 'PYTHON' || die "sending through the relay failed"
import smtplib
import sys

message = (
    "From: Alerts <alerts@example.org>\r\nTo: carol@example.net\r\n"
    "Subject: =?utf-8?q?R=C3=A4ksm=C3=B6rg=C3=A5s?=\r\nDate: Mon, 7 Dec 2026 06:00:00 +0000\r\n"
    "Message-ID: <relay-1@example.org>\r\nContent-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: 8bit\r\n\r\n"
    "Räksmörgås\r\n.a line starting with a dot\r\n.\r\n..\r\ntrailing   spaces   \r\n\r\n\r\n"
).encode("utf-8")
with smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=30) as client:
    client.sendmail("alerts@example.org", ["carol@example.net"], message,
                    mail_options=["BODY=8BITMIME"])
PYTHON

for _ in $(seq 300); do
    (($(find "$work/maildir/new" -type f | wc -l) >= 3)) && break
    sleep 0.1
done
mapfile -t stored < <(find "$work/maildir/new" -type f | sort)
((${#stored[@]} == 3)) || die "${#stored[@]} messages stored, expected 3"

# 4. The verifiers. dkimpy: every signature of every message.
"$debian_python" "$root/interop/dkim_verify.py" --records "$records" --signatures 2 "${stored[@]}" \
    || die "dkimpy did not verify every signature"

# OpenDKIM: the filter's test mode (-t) verifies a message file and, with
# AlwaysAddARHeader, shows the Authentication-Results field it would add
# (at -vvv); TestPublicKeys has it read the key records from the same
# file, one "name text" line each.
cat > "$work/opendkim.conf" << CONF
Mode v
Syslog no
AlwaysAddARHeader yes
TestPublicKeys $records
CONF
for message in "${stored[@]}"; do
    output=$(opendkim -x "$work/opendkim.conf" -vvv -t "$message" 2>&1)
    for signature in 'rsa-sha256 header.s=s-rsa' 'ed25519-sha256 header.s=s-ed25519'; do
        # shellcheck disable=SC2086
        set -- $signature
        # A here-string, not a pipe: grep -q stops at the first match, and
        # under pipefail the writer's SIGPIPE would fail the check.
        grep -q "dkim=pass .*header.d=example.org .*header.a=$1 $2" <<< "$output" \
            || die "OpenDKIM did not pass the $1 signature of $message: $output"
        echo "PASS opendkim $1 $message"
    done
done
echo "dkim: PASS (${#stored[@]} messages from bulk and relay, rsa-sha256 and ed25519-sha256, dkimpy and $(opendkim -V | head -n 1))"
