#!/usr/bin/env bash
# SCRAM-SHA-256 (RFC 5802, RFC 7677) against real peers, both ways:
#   - msmtp (GNU SASL) with --auth=scram-sha-256 as the client of
#     smtpwire-server over STARTTLS, for a user whose keys smtpwire-server
#     --hash-password made, one whose keys Dovecot's `doveadm pw` made, and
#     one with a plain-text password; a wrong password is refused;
#   - Dovecot's submission service, offering only SCRAM-SHA-256, as the
#     server of smtpwire-send --auth, with the passwd-file line
#     smtpwire-server --hash-password printed; Dovecot relays the message to
#     a second smtpwire-server, whose Maildir must hold it;
#   - smtpwire-send against smtpwire-server over TLS 1.3, which must settle
#     on SCRAM-SHA-256-PLUS (the server's log names the mechanism).
# A missing peer is a failure, never a skip. Prints PASS/FAIL per case and
# "N passed, M failed".
#
#   bash interop/scram.sh     (as root, or with msmtp and Dovecot's submission service installed)
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
here="$root/interop"
# shellcheck source=interop/lib.sh
source "$here/lib.sh"

work=$(mktemp -d "${TMPDIR:-/tmp}/smtpwire-scram.XXXXXX")
trap finish_work EXIT
trap 'exit 130' INT TERM

SUBMISSION=/usr/lib/dovecot/submission
if ! command -v msmtp > /dev/null || ! command -v doveadm > /dev/null || [[ ! -x $SUBMISSION ]]; then
    command -v apt-get > /dev/null || die "apt-get not found: cannot install msmtp and Dovecot"
    apt-get update -qq || die "apt-get update failed"
    # The packages must not start Dovecot as a system service.
    if [[ ! -e $SERVICE_POLICY ]]; then
        printf '#!/bin/sh\nexit 101\n' > "$SERVICE_POLICY" && chmod +x "$SERVICE_POLICY" \
            && MADE_SERVICE_POLICY=1
    fi
    apt-get install -y -qq --no-install-recommends --no-upgrade msmtp dovecot-core \
        dovecot-submissiond openssl > /dev/null
    installed=$?
    remove_service_policy
    ((installed == 0)) || die "apt-get install failed"
fi
command -v msmtp > /dev/null || die "peer program missing: msmtp"
command -v doveadm > /dev/null || die "peer program missing: doveadm"
[[ -x $SUBMISSION ]] || die "peer program missing: $SUBMISSION (dovecot-submissiond)"
grep -q 'scram-sha-256' <<< "$(msmtp --version)" || die "msmtp lacks SCRAM-SHA-256 (GNU SASL)"

build_server
build_program send
SEND_BIN=$PROGRAM_BIN

msgs="$work/messages"
python3 "$here/messages.py" "$msgs" || die "cannot write the test messages"

# The users file: keys from our --hash-password, keys from Dovecot's
# doveadm (the same passwd-file form), and a plain-text password.
alice_keys=$(printf 'wonderland\n' | "$SERVER_BIN" --hash-password) || die "--hash-password failed"
[[ $alice_keys == '{SCRAM-SHA-256}4096,'* ]] || die "unexpected --hash-password output: $alice_keys"
carol_keys=$(doveadm pw -s SCRAM-SHA-256 -p 'through the looking-glass') || die "doveadm pw failed"
printf 'alice:%s\ncarol:%s\nbob:builder\n' "$alice_keys" "$carol_keys" > "$work/users"

start_server tls --users "$work/users" --maildir "$work/md-tls"
start_server relayed --no-tls --maildir "$work/md-relayed"
[[ -s ${CERT[tls]} ]] || die "the TLS server wrote no certificate"

passed=0
failed=0
failures=()

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

case_() {
    local name=$1
    shift
    rm -f "$work"/md-*/new/* "$work"/md-*/tmp/*
    local log="$work/case-$name.log"
    (
        set -e
        "$@"
    ) > "$log" 2>&1
    record "$name" $? "$log"
}

stored() { # MODE ARGS...: the Maildir of server MODE (see maildir_check.py)
    local mode=$1
    shift
    python3 "$here/maildir_check.py" "$work/md-$mode" "$@"
}

# ---------------------------------------------------------------- msmtp
: > "$work/msmtprc"
chmod 600 "$work/msmtprc"
msmtp_scram() { # USER PASSWORD
    msmtp -C "$work/msmtprc" --host=127.0.0.1 --port="${PORT[tls]}" --domain=interop.test \
        --tls=on --tls-starttls=on --tls-trust-file="${CERT[tls]}" \
        --auth=scram-sha-256 --user="$1" --passwordeval="printf '%s' '$2'" \
        --from=a@example.org b@example.net < "$msgs/dots.eml"
}

msmtp_our_keys() {
    msmtp_scram alice wonderland
    stored tls --count 1 --expect "$msgs/dots.eml"
    grep -qE 'user=alice mechanism=SCRAM-SHA-256$' "${LOG[tls]}"
}

msmtp_dovecot_keys() {
    msmtp_scram carol 'through the looking-glass'
    stored tls --count 1 --expect "$msgs/dots.eml"
}

msmtp_plain_text_password() {
    msmtp_scram bob builder
    stored tls --count 1 --expect "$msgs/dots.eml"
}

msmtp_wrong_password() {
    if msmtp_scram alice wonderlands; then
        echo "a wrong password was accepted"
        return 1
    fi
    stored tls --count 0
}

case_ msmtp-scram-sha-256-keys-from-hash-password msmtp_our_keys
case_ msmtp-scram-sha-256-keys-from-doveadm msmtp_dovecot_keys
case_ msmtp-scram-sha-256-plain-text-password msmtp_plain_text_password
case_ msmtp-scram-sha-256-wrong-password-refused msmtp_wrong_password

# ---------------------------------------------------------------- Dovecot
# Dovecot's submission service offers only SCRAM-SHA-256 and relays what it
# takes to the second smtpwire-server. It runs its processes as the dovecot
# user, which must reach its directory.
chmod o+x "$work"
dovecot_dir="$work/dovecot"
mkdir -p "$dovecot_dir/home"
chown dovecot:dovecot "$dovecot_dir/home" || die "no dovecot user"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
    -addext 'subjectAltName=DNS:localhost,IP:127.0.0.1' \
    -keyout "$dovecot_dir/key.pem" -out "$dovecot_dir/cert.pem" 2> /dev/null \
    || die "openssl could not make Dovecot's certificate"
printf 'dave:%s\n' "$(printf 'rabbit hole\n' | "$SERVER_BIN" --hash-password)" > "$dovecot_dir/passwd"
dovecot_port=$(free_port)
cat > "$dovecot_dir/dovecot.conf" << CONF
base_dir = $dovecot_dir/run
state_dir = $dovecot_dir/state
log_path = $dovecot_dir/dovecot.log
auth_verbose = yes
protocols = submission
listen = 127.0.0.1
hostname = dovecot.test
ssl = required
ssl_cert = <$dovecot_dir/cert.pem
ssl_key = <$dovecot_dir/key.pem
ssl_min_protocol = TLSv1.2
auth_mechanisms = scram-sha-256
# The dovecot user's uid is a system one, below the default of 500.
first_valid_uid = 1
# Submission opens the user's mail storage, though it stores nothing here.
mail_location = maildir:$dovecot_dir/home/%n/Maildir
submission_relay_host = 127.0.0.1
submission_relay_port = ${PORT[relayed]}
submission_relay_ssl = no
passdb {
  driver = passwd-file
  args = $dovecot_dir/passwd
}
userdb {
  driver = static
  args = uid=dovecot gid=dovecot home=$dovecot_dir/home/%n
}
service submission-login {
  inet_listener submission {
    address = 127.0.0.1
    port = $dovecot_port
  }
}
CONF
dovecot -F -c "$dovecot_dir/dovecot.conf" > "$dovecot_dir/stdout.log" 2>&1 &
STARTED_PIDS+=("$!")
wait_for_port "$dovecot_port" || die "dovecot did not start: $(cat "$dovecot_dir"/*.log)"

send_to_dovecot() { # PASSWORD
    timeout 60 "$SEND_BIN" --server "127.0.0.1:$dovecot_port" --tls-name localhost \
        --from dave@example.org --to erin@example.net --data "$msgs/dots.eml" \
        --starttls required --tls-ca "$dovecot_dir/cert.pem" --auth "dave:$1" --quiet
}

send_dovecot_scram() {
    send_to_dovecot 'rabbit hole'
    # Dovecot adds its Received: field above the content it relays.
    stored relayed --count 1
    python3 - "$work/md-relayed/new" "$msgs/dots.eml" << 'PY'
import os, sys
directory, expected = sys.argv[1], open(sys.argv[2], "rb").read()
(name,) = os.listdir(directory)
stored = open(os.path.join(directory, name), "rb").read()
assert stored.endswith(b"\r\n" + expected), f"content differs:\n{stored!r}"
assert b"by dovecot.test" in stored, "no Received: field from Dovecot"
PY
    grep -q 'Login: user=<dave>, method=SCRAM-SHA-256,' "$dovecot_dir/dovecot.log"
}

send_dovecot_wrong_password() {
    if send_to_dovecot 'rabbit holes'; then
        echo "Dovecot accepted a wrong password"
        return 1
    fi
    stored relayed --count 0
}

case_ send-scram-sha-256-to-dovecot-submission send_dovecot_scram
case_ send-scram-sha-256-wrong-password-to-dovecot send_dovecot_wrong_password

# ---------------------------------------------------------------- ourselves
send_ours_plus() {
    timeout 60 "$SEND_BIN" --server "127.0.0.1:${PORT[tls]}" --from a@example.org \
        --to b@example.net --data "$msgs/dots.eml" --starttls required \
        --tls-ca "${CERT[tls]}" --auth alice:wonderland --quiet
    stored tls --count 1 --expect "$msgs/dots.eml"
    grep -qE 'user=alice mechanism=SCRAM-SHA-256-PLUS$' "${LOG[tls]}"
}

case_ send-scram-sha-256-plus-to-smtpwire-server send_ours_plus

echo "$passed passed, $failed failed"
if ((failed > 0)); then
    printf 'failed: %s\n' "${failures[*]}"
    exit 1
fi
