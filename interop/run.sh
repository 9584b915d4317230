#!/usr/bin/env bash
# Interop: the receiving server (smtpwire-server) (examples/server) against real SMTP software.
# Installs the peers with apt when missing, builds the server once, starts
# one instance per mode on free loopback ports, runs each case and checks
# what landed in the Maildir byte for byte. A missing peer is a failure,
# never a skip. Prints PASS/FAIL per case and "N passed, M failed".
#
#   bash interop/run.sh            (as root on Debian 12, or with the peers installed)
#   INTEROP_KEEP=1 bash interop/run.sh   keeps the work directory for inspection
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
here="$root/interop"
# shellcheck source=interop/lib.sh
source "$here/lib.sh"

work=$(mktemp -d "${TMPDIR:-/tmp}/smtpwire-interop.XXXXXX")
trap finish_work EXIT
trap 'exit 130' INT TERM

install_peers
build_server

msgs="$work/messages"
python3 "$here/messages.py" "$msgs" || die "cannot write the test messages"
printf 'alice:wonderland\nbob:builder\n' > "$work/users"
USER_NAME=alice
USER_PASS=wonderland

# One server per mode, each with its own Maildir.
start_server plain --no-tls --maildir "$work/md-plain"
start_server tls --users "$work/users" --maildir "$work/md-tls"
start_server auth --no-tls --users "$work/users" --allow-cleartext-auth --require-auth --maildir "$work/md-auth"
start_server lmtp --lmtp --no-tls --maildir "$work/md-lmtp"
# As benches/load.sh runs it: one thread, polling before it sleeps.
start_server polled --no-tls --threads 1 --busy-poll 50 --maildir "$work/md-polled"
[[ -s ${CERT[tls]} ]] || die "the TLS server wrote no certificate"

passed=0
failed=0
failures=()

# record NAME STATUS LOG: counts one case; its log is shown only on failure.
record() {
    if (($2 == 0)); then
        echo "PASS $1"
        passed=$((passed + 1))
    else
        echo "FAIL $1 (exit $2)"
        sed 's/^/    | /' "$3" | tail -n 25
        failed=$((failed + 1))
        failures+=("$1")
    fi
}

# case_ NAME FUNCTION ARGS...: runs one case with `set -e` in a subshell,
# starting from empty Maildirs and capture directories.
case_() {
    local name=$1
    shift
    rm -f "$work"/md-*/new/* "$work"/md-*/tmp/* "$work"/capture-*/*
    local log="$work/case-$name.log"
    (
        set -e
        "$@"
    ) > "$log" 2>&1
    record "$name" $? "$log"
}

# stored MODE ARGS...: checks the Maildir of server MODE (see maildir_check.py).
stored() {
    local mode=$1
    shift
    python3 "$here/maildir_check.py" "$work/md-$mode" "$@"
}

# expect_status WANT COMMAND...: runs COMMAND, which must exit with WANT.
expect_status() {
    local want=$1
    shift
    local status=0
    "$@" || status=$?
    if ((status != want)); then
        echo "expected exit status $want, got $status from: $*"
        return 1
    fi
}

FROM=sender@example.org
TO=rcpt@example.net

# ---------------------------------------------------------------- swaks
# swaks dot-stuffs the data and always appends CRLF "." itself, so it is given
# each message without its final CRLF: what it sends then ends exactly like
# the file. (swaks 20201014 has no way to add MAIL parameters, so its 8-bit
# case sends without BODY=8BITMIME; smtplib covers the parameter.)
swaks_to() { # swaks_to MODE FILE ARGS...
    local mode=$1 file=$2
    shift 2
    local input="$work/swaks-input.eml"
    head -c -2 "$file" > "$input"
    swaks --server 127.0.0.1 --port "${PORT[$mode]}" --helo interop.test \
        --from "$FROM" --to "$TO" --data "$input" "$@"
}

swaks_plain() {
    swaks_to plain "$msgs/plain.eml"
    stored plain --count 1 --expect "$msgs/plain.eml" --from "<$FROM>" --to "<$TO>" --with ESMTP
}

swaks_pipeline() {
    swaks_to plain "$msgs/plain.eml" --pipeline | tee "$work/swaks-pipeline.out"
    grep -q '250-PIPELINING' "$work/swaks-pipeline.out"
    stored plain --count 1 --expect "$msgs/plain.eml"
}

swaks_tls() {
    swaks_to tls "$msgs/plain.eml" -tls --tls-verify --tls-ca-path "${CERT[tls]}"
    stored tls --count 1 --expect "$msgs/plain.eml" --with ESMTPS
}

swaks_auth_good() { # MECHANISM
    swaks_to tls "$msgs/plain.eml" -tls --tls-ca-path "${CERT[tls]}" --tls-verify \
        --auth "$1" --auth-user "$USER_NAME" --auth-password "$USER_PASS"
    stored tls --count 1 --expect "$msgs/plain.eml" --with ESMTPSA
}

# swaks exits 28 for "error in AUTH transaction".
swaks_auth_bad() { # MECHANISM
    expect_status 28 swaks_to tls "$msgs/plain.eml" -tls --tls-ca-path "${CERT[tls]}" --tls-verify \
        --auth "$1" --auth-user "$USER_NAME" --auth-password not-the-password
    stored tls --count 0
}

swaks_cleartext_auth() { # MECHANISM, against the server that allows AUTH without TLS
    swaks_to auth "$msgs/plain.eml" --auth "$1" --auth-user bob --auth-password builder
    stored auth --count 1 --expect "$msgs/plain.eml" --with ESMTPA
}

# No AUTH on the submission server: MAIL is refused (swaks: 23).
swaks_require_auth() {
    expect_status 23 swaks_to auth "$msgs/plain.eml"
    stored auth --count 0
}

# Without TLS the TLS server offers no AUTH, so swaks cannot authenticate (28).
swaks_no_cleartext_auth() {
    expect_status 28 swaks_to tls "$msgs/plain.eml" --auth PLAIN --auth-user "$USER_NAME" --auth-password "$USER_PASS"
    stored tls --count 0
}

swaks_file() { # FILE
    swaks_to plain "$1"
    stored plain --count 1 --expect "$1"
}

case_ swaks-plain swaks_plain
case_ swaks-pipeline swaks_pipeline
case_ swaks-starttls swaks_tls
case_ swaks-auth-plain-good swaks_auth_good PLAIN
case_ swaks-auth-plain-bad swaks_auth_bad PLAIN
case_ swaks-auth-login-good swaks_auth_good LOGIN
case_ swaks-auth-login-bad swaks_auth_bad LOGIN
case_ swaks-auth-cleartext-allowed swaks_cleartext_auth LOGIN
case_ swaks-auth-required swaks_require_auth
case_ swaks-no-auth-before-tls swaks_no_cleartext_auth
case_ swaks-8bit-body swaks_file "$msgs/eightbit.eml"
case_ swaks-1mib-body swaks_file "$msgs/big.eml"
case_ swaks-leading-dots swaks_file "$msgs/dots.eml"

# ---------------------------------------------------------------- Python smtplib
smtplib_case() { # CASE MODE FILE [CAFILE USER PASSWORD]
    local name=$1 mode=$2 file=$3
    shift 3
    python3 "$here/smtplib_cases.py" "$name" "${PORT[$mode]}" "$file" "$@"
}

py_recipients() {
    smtplib_case recipients plain "$msgs/plain.eml"
    stored plain --count 1 --expect "$msgs/plain.eml" --recipients-each 5 \
        --to '<rcpt1@example.net>' --to '<rcpt2@example.net>' --to '<rcpt3@example.net>' \
        --to '<rcpt4@example.net>' --to '<rcpt5@example.net>'
}

py_8bitmime() {
    smtplib_case 8bitmime plain "$msgs/eightbit.eml"
    stored plain --count 1 --expect "$msgs/eightbit.eml"
}

py_smtputf8() {
    smtplib_case smtputf8 plain "$msgs/utf8.eml"
    stored plain --count 1 --expect "$msgs/utf8.eml" --from '<jörg@example.org>' --to '<ñandú@example.net>'
}

py_starttls_login() {
    smtplib_case starttls-login tls "$msgs/plain.eml" "${CERT[tls]}" "$USER_NAME" "$USER_PASS"
    stored tls --count 1 --expect "$msgs/plain.eml" --with ESMTPSA
}

py_lmtp() {
    smtplib_case lmtp lmtp "$msgs/plain.eml"
    stored lmtp --count 2 --expect "$msgs/plain.eml" --label Delivered-To --recipients-each 1 \
        --to '<one@example.net>' --to '<two@example.net>' --with LMTP
}

case_ smtplib-recipients py_recipients
case_ smtplib-8bitmime py_8bitmime
case_ smtplib-smtputf8 py_smtputf8
case_ smtplib-starttls-login py_starttls_login
case_ smtplib-lmtp py_lmtp

# ---------------------------------------------------------------- curl
curl_plain() {
    curl -sS --url "smtp://127.0.0.1:${PORT[plain]}/interop.test" \
        --mail-from "$FROM" --mail-rcpt "$TO" --upload-file "$msgs/plain.eml"
    stored plain --count 1 --expect "$msgs/plain.eml" --from "<$FROM>" --to "<$TO>"
}

curl_tls_auth() {
    curl -sS --url "smtp://127.0.0.1:${PORT[tls]}/interop.test" --ssl-reqd --cacert "${CERT[tls]}" \
        --user "$USER_NAME:$USER_PASS" --mail-from "$FROM" --mail-rcpt "$TO" --upload-file "$msgs/dots.eml"
    stored tls --count 1 --expect "$msgs/dots.eml" --with ESMTPSA
}

curl_tls_bad_auth() {
    # curl exits 67: "the remote server denied curl to login".
    expect_status 67 curl -sS --url "smtp://127.0.0.1:${PORT[tls]}/interop.test" --ssl-reqd \
        --cacert "${CERT[tls]}" --user "$USER_NAME:wrong" --mail-from "$FROM" --mail-rcpt "$TO" \
        --upload-file "$msgs/plain.eml"
    stored tls --count 0
}

case_ curl-plain curl_plain
case_ curl-starttls-auth curl_tls_auth
case_ curl-starttls-bad-auth curl_tls_bad_auth

# ---------------------------------------------------------------- msmtp
# msmtp reads the message with LF or CRLF line ends and sends CRLF; it adds
# From:/Date: only when missing, and the fixed messages have both.
msmtp_send() { # MODE FILE ARGS...
    local mode=$1 file=$2
    shift 2
    msmtp -C "$work/msmtprc" --host=127.0.0.1 --port="${PORT[$mode]}" --domain=interop.test \
        --from="$FROM" "$@" -- "$TO" < "$file"
}

msmtp_plain() {
    msmtp_send plain "$msgs/plain.eml" --auth=off --tls=off
    stored plain --count 1 --expect "$msgs/plain.eml" --from "<$FROM>" --to "<$TO>"
}

msmtp_tls_auth() {
    msmtp_send tls "$msgs/dots.eml" --tls=on --tls-starttls=on --tls-trust-file="${CERT[tls]}" \
        --auth=plain --user="$USER_NAME" --passwordeval="echo $USER_PASS"
    stored tls --count 1 --expect "$msgs/dots.eml" --with ESMTPSA
}

: > "$work/msmtprc"
chmod 600 "$work/msmtprc"
case_ msmtp-plain msmtp_plain
case_ msmtp-starttls-auth msmtp_tls_auth

# ---------------------------------------------------------------- openssl s_client
s_client_starttls() {
    # Typed as a person would, one command per reply: EHLO ends a pipelined
    # group (RFC 2920 §3.1), and the server refuses input sent behind it.
    { printf 'EHLO interop.test\n'; sleep 1; printf 'QUIT\n'; } \
        | timeout 20 openssl s_client -starttls smtp -connect "127.0.0.1:${PORT[tls]}" \
            -CAfile "${CERT[tls]}" -verify_return_error -verify_hostname localhost \
            -brief -ign_eof -crlf > "$work/s_client.out" 2>&1
    cat "$work/s_client.out"
    grep -q '^Verification: OK' "$work/s_client.out"
    # Offered only once TLS is up: AUTH (SCRAM's -PLUS with a channel
    # binding to bind to) and REQUIRETLS (RFC 8689 §4.1).
    grep -q '^250-AUTH SCRAM-SHA-256-PLUS SCRAM-SHA-256 PLAIN LOGIN' "$work/s_client.out"
    grep -q '^250[- ]REQUIRETLS' "$work/s_client.out"
    grep -q '^221 ' "$work/s_client.out"
}

case_ openssl-s_client-starttls s_client_starttls

# ---------------------------------------------------------------- Postfix smtp-source
source_to() { # MODE ARGS...
    local mode=$1
    shift
    timeout 120 smtp-source -f "$FROM" -t "$TO" -M interop.test "$@" "127.0.0.1:${PORT[$mode]}"
}

source_per_message() {
    source_to plain -s 5 -m 50
    stored plain --count 50 --recipients-each 1
}

source_recipients() {
    source_to plain -r 20 -m 10
    stored plain --count 10 --recipients-each 20
}

source_per_connection() {
    source_to plain -d -m 100
    stored plain --count 100
}

source_lmtp() {
    source_to lmtp -L -r 3 -m 10 -s 2
    stored lmtp --count 30 --label Delivered-To --recipients-each 1
}

source_busy_poll() {
    source_to polled -s 20 -m 100
    source_to polled -d -s 5 -m 100
    stored polled --count 200 --recipients-each 1
}

case_ smtp-source-connection-per-message source_per_message
case_ smtp-source-20-recipients source_recipients
case_ smtp-source-100-per-connection source_per_connection
case_ smtp-source-lmtp source_lmtp
case_ smtp-source-busy-poll-server source_busy_poll

# ---------------------------------------------------------------- real servers as peers
# For this crate's own clients as senders: aiosmtpd (capture_server.py)
# keeps each message as received, and `captured` compares it with what was
# sent. A client case is a function that sends FILE to PORT[capture] and
# calls `captured capture FILE`; smtp-sink (benches/load.sh) serves for load.
start_capture capture

captured() { # NAME FILE: exactly one message, byte for byte FILE
    local dir="$work/capture-$1"
    local files=("$dir"/*.eml)
    [[ ${#files[@]} == 1 && -f ${files[0]} ]] || { echo "${#files[@]} messages captured, expected 1"; return 1; }
    cmp "${files[0]}" "$2"
}

# The peer itself must keep content exactly, or client cases prove nothing.
capture_peer_exact() {
    swaks_to capture "$msgs/dots.eml"
    captured capture "$msgs/dots.eml"
}
case_ aiosmtpd-capture-peer-is-exact capture_peer_exact

# ---------------------------------------------------------------- this crate's client against real servers
# smtpwire-send (the driver crate's Client) as the client; aiosmtpd keeps
# what it receives, smtp-sink takes load.
build_program send
SEND_BIN=$PROGRAM_BIN

# A certificate of our own for the aiosmtpd peer, and one user.
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=localhost" \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -addext "basicConstraints=critical,CA:FALSE" \
    -keyout "$work/peer.key" -out "$work/peer.pem" 2> /dev/null \
    || die "cannot make the peer's certificate"
printf 'alice:wonderland\n' > "$work/peer-users"
start_capture capture-tls --tls-cert "$work/peer.pem" --tls-key "$work/peer.key" \
    --users "$work/peer-users"

send_to() { # NAME FILE ARGS...: one message from smtpwire-send to NAME
    local name=$1 file=$2
    shift 2
    rm -f "$work/capture-$name"/*
    timeout 60 "$SEND_BIN" --server "127.0.0.1:${PORT[$name]}" --from "$FROM" --to "$TO" \
        --data "$file" --quiet "$@"
}

send_aiosmtpd_plain() {
    send_to capture "$msgs/dots.eml" --starttls never
    captured capture "$msgs/dots.eml"
}

send_aiosmtpd_starttls_auth() {
    send_to capture-tls "$msgs/eightbit.eml" --starttls required \
        --tls-ca "$work/peer.pem" --tls-name localhost --auth alice:wonderland
    captured capture-tls "$msgs/eightbit.eml"
    grep -q '"tls": true' "$work/capture-capture-tls/1.json"
    grep -q '"authenticated": true' "$work/capture-capture-tls/1.json"
}

sink_port=$(free_port)
smtp-sink -c -u nobody "127.0.0.1:$sink_port" 100 > "$work/sink.log" 2>&1 &
STARTED_PIDS+=("$!")
wait_for_port "$sink_port" || die "smtp-sink did not start"

send_sink_pipelined_recipients() {
    local recipients=() n
    for n in $(seq 50); do recipients+=(--to "r$n@example.net"); done
    timeout 120 "$SEND_BIN" --server "127.0.0.1:$sink_port" --from "$FROM" "${recipients[@]}" \
        --starttls never --count 200 --quiet
}

# Dovecot's LMTP server, a full delivery agent, stores into its users'
# Maildirs (with CRLF line ends, so the check is byte for byte). It runs as
# the dovecot user, which must be able to reach its directory.
chmod o+x "$work"
dovecot_dir="$work/dovecot"
mkdir -p "$dovecot_dir/mail"
chown dovecot:dovecot "$dovecot_dir/mail" || die "no dovecot user"
dovecot_port=$(free_port)
cat > "$dovecot_dir/dovecot.conf" << CONF
base_dir = $dovecot_dir/run
state_dir = $dovecot_dir/state
log_path = $dovecot_dir/dovecot.log
protocols = lmtp
ssl = no
listen = 127.0.0.1
mail_location = maildir:$dovecot_dir/mail/%n
mail_save_crlf = yes
# The dovecot user's uid is a system one, below the default of 500.
first_valid_uid = 1
passdb {
  driver = static
  args = nopassword=y
}
userdb {
  driver = static
  args = uid=dovecot gid=dovecot home=$dovecot_dir/mail/%n
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = $dovecot_port
  }
}
CONF
dovecot -F -c "$dovecot_dir/dovecot.conf" > "$dovecot_dir/stdout.log" 2>&1 &
STARTED_PIDS+=("$!")
wait_for_port "$dovecot_port" || die "dovecot did not start: $(cat "$dovecot_dir"/*.log)"

dovecot_delivered() { # USER FILE: USER's one message, less Dovecot's trace fields, is FILE
    python3 - "$dovecot_dir/mail/$1/new" "$2" << 'PY'
import os, sys
directory, expected = sys.argv[1], open(sys.argv[2], "rb").read()
names = os.listdir(directory)
assert len(names) == 1, f"{len(names)} messages in {directory}"
stored = open(os.path.join(directory, names[0]), "rb").read()
# Dovecot puts Return-Path, Delivered-To and a folded Received first.
while stored.startswith((b"Return-Path:", b"Delivered-To:", b"Received:", b"\t", b" ")):
    stored = stored[stored.index(b"\r\n") + 2:]
assert stored == expected, f"content differs:\n{stored!r}\n{expected!r}"
PY
}

send_dovecot_lmtp() {
    rm -rf "${dovecot_dir:?}"/mail/*
    timeout 60 "$SEND_BIN" --server "127.0.0.1:$dovecot_port" --lmtp --from "$FROM" \
        --to bob@example.net --to carol@example.net --data "$msgs/dots.eml" \
        --starttls never --quiet
    dovecot_delivered bob "$msgs/dots.eml"
    dovecot_delivered carol "$msgs/dots.eml"
}

send_dovecot_lmtp_8bit_bdat() {
    rm -rf "${dovecot_dir:?}"/mail/*
    timeout 60 "$SEND_BIN" --server "127.0.0.1:$dovecot_port" --lmtp --from "$FROM" \
        --to dave@example.net --data "$msgs/eightbit.eml" --bdat --starttls never --quiet
    dovecot_delivered dave "$msgs/eightbit.eml"
}

case_ send-to-aiosmtpd-plain send_aiosmtpd_plain
case_ send-to-aiosmtpd-starttls-auth send_aiosmtpd_starttls_auth
case_ send-to-smtp-sink-pipelined-50-recipients send_sink_pipelined_recipients
case_ send-to-dovecot-lmtp send_dovecot_lmtp
case_ send-to-dovecot-lmtp-8bit-bdat send_dovecot_lmtp_8bit_bdat

# ---------------------------------------------------------------- HAProxy
# Two servers behind HAProxy, which hands each connection to one of them in
# turn with a PROXY protocol v2 header: scaling out with existing software.
# The client connects from 127.0.0.2, so the Received: field shows that the
# servers learnt the real client and not the balancer (127.0.0.1).
start_server behind1 --no-tls --proxy-protocol --maildir "$work/md-behind1"
start_server behind2 --no-tls --proxy-protocol --maildir "$work/md-behind2"
balancer_port=$(free_port)
cat > "$work/haproxy.cfg" << CFG
defaults
    mode tcp
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend smtp
    bind 127.0.0.1:$balancer_port
    default_backend mx
backend mx
    balance roundrobin
    server one 127.0.0.1:${PORT[behind1]} send-proxy-v2
    server two 127.0.0.1:${PORT[behind2]} send-proxy-v2
CFG
haproxy -db -f "$work/haproxy.cfg" > "$work/haproxy.log" 2>&1 &
STARTED_PIDS+=($!)
wait_for_port "$balancer_port" || die "haproxy did not start: $(cat "$work/haproxy.log")"

haproxy_two_servers() {
    python3 "$here/through_balancer.py" "$balancer_port" 4
    local mode
    for mode in behind1 behind2; do
        stored "$mode" --count 2
        # Both copies name the real client, 127.0.0.2.
        [[ $(grep -l 'Received: from [^ ]* (\[127\.0\.0\.2\])' "$work/md-$mode"/new/* | wc -l) == 2 ]]
    done
}

case_ haproxy-proxy-v2-two-servers haproxy_two_servers

# ---------------------------------------------------------------- clean shutdown
# Every server stops on SIGINT with status 0 and logged no panic. Run in this
# shell, not in case_'s subshell: only the parent can collect the exit status.
shutdown_log="$work/case-servers-shut-down-cleanly.log"
shutdown_status=0
for mode in plain tls auth lmtp polled behind1 behind2; do
    stop_pid "${PID[$mode]}" || { echo "server $mode exited with status $?"; shutdown_status=1; }
    if grep -i 'panic' "${LOG[$mode]}"; then shutdown_status=1; fi
done > "$shutdown_log" 2>&1
record servers-shut-down-cleanly "$shutdown_status" "$shutdown_log"

echo
echo "$passed passed, $failed failed"
if ((failed > 0)); then
    echo "failed: ${failures[*]}"
    exit 1
fi
