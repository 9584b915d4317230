# Shared by interop/run.sh and the scripts in benches/: installing the peer programs,
# building and starting the receiving server (smtpwire-server), and stopping every process
# started here. Source it; it expects `root` (the repository) to be set.

PATH="$PATH:/usr/sbin:/usr/local/sbin"
export DEBIAN_FRONTEND=noninteractive

# Processes this script started, stopped by PID on exit.
declare -a STARTED_PIDS=()
# Per started server name: its port, PID, log and (if TLS) certificate.
declare -A PORT=() PID=() LOG=() CERT=()
# Per started PID, the signal that stops it when not SIGINT.
declare -A STOP_SIGNAL=()

die() {
    printf 'interop: FATAL: %s\n' "$*" >&2
    exit 1
}

# positive NAME VALUE: prints VALUE when it is a whole number above 0, and
# dies naming the setting NAME otherwise.
positive() {
    [[ $2 =~ ^[1-9][0-9]*$ ]] || die "$1 must be a whole number above 0, not '$2'"
    echo "$2"
}

# finish_work: stops every process started here and removes $work, or keeps
# it for inspection with INTEROP_KEEP=1. Meant for `trap finish_work EXIT`.
finish_work() {
    stop_all
    if [[ -n ${INTEROP_KEEP:-} ]]; then
        echo "work directory kept: $work"
    else
        rm -rf "$work"
    fi
}

# The programs the cases talk to. A missing one is an error, never a skip.
PEER_COMMANDS=(swaks msmtp curl openssl smtp-source smtp-sink python3 dovecot haproxy)
PEER_PACKAGES=(swaks libnet-ssleay-perl msmtp curl postfix openssl python3 python3-pip dovecot-lmtpd haproxy)

# Debian's hook that tells package scripts not to start services; made
# for the install when absent, and removed again however the run ends.
SERVICE_POLICY=/usr/sbin/policy-rc.d
MADE_SERVICE_POLICY=

remove_service_policy() {
    if [[ -n $MADE_SERVICE_POLICY ]]; then
        rm -f "$SERVICE_POLICY"
        MADE_SERVICE_POLICY=
    fi
}

peers_missing() {
    local cmd
    for cmd in "${PEER_COMMANDS[@]}"; do
        command -v "$cmd" > /dev/null || return 0
    done
    # swaks speaks TLS only with Net::SSLeay.
    grep -q '=== TLS supported' <<< "$(swaks --support 2>&1)" || return 0
    python3 -c 'import aiosmtpd' 2> /dev/null || return 0
    return 1
}

install_peers() {
    if peers_missing; then
        echo "installing peers: ${PEER_PACKAGES[*]}"
        command -v apt-get > /dev/null || die "apt-get not found: cannot install the peers"
        apt-get update -qq || die "apt-get update failed"
        # Installed as a tool box only: postfix must not become the system's
        # mail server, so it is told there is nothing to configure.
        echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
        # Nor may the packages start system services (Dovecot's IMAP and
        # POP3 among them): the cases start what they need themselves.
        if [[ ! -e $SERVICE_POLICY ]]; then
            printf '#!/bin/sh\nexit 101\n' > "$SERVICE_POLICY" && chmod +x "$SERVICE_POLICY" \
                && MADE_SERVICE_POLICY=1
        fi
        apt-get install -y -qq --no-install-recommends --no-upgrade "${PEER_PACKAGES[@]}" > /dev/null
        local installed=$?
        remove_service_policy
        ((installed == 0)) || die "apt-get install failed"
        if ! python3 -c 'import aiosmtpd' 2> /dev/null; then
            python3 -m pip install --quiet aiosmtpd \
                || apt-get install -y -qq --no-install-recommends --no-upgrade python3-aiosmtpd > /dev/null \
                || die "cannot install aiosmtpd"
        fi
    fi
    local cmd
    for cmd in "${PEER_COMMANDS[@]}"; do
        command -v "$cmd" > /dev/null || die "peer program missing after install: $cmd"
    done
    grep -q '=== TLS supported' <<< "$(swaks --support 2>&1)" || die "swaks lacks TLS (Net::SSLeay)"
    python3 -c 'import aiosmtpd' || die "python3 cannot import aiosmtpd"
}

# build_target ARGS...: `cargo build` of the workspace target that ARGS
# name, in the profile INTEROP_PROFILE says: release by default; dev reuses
# the debug build `cargo test` already made. Sets BUILT_DIR to the
# directory the profile's binaries go to.
build_target() {
    local profile=${INTEROP_PROFILE:-release} dir
    case $profile in
        release) dir=release ;;
        dev) dir=debug ;;
        *) die "INTEROP_PROFILE must be release or dev, not $profile" ;;
    esac
    (cd "$root" && cargo build --profile "$profile" --quiet "$@") || die "building $* failed"
    local target_dir
    target_dir=$(cd "$root" && cargo metadata --format-version 1 --no-deps \
        | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
    BUILT_DIR="$target_dir/$dir"
}

# build_program NAME: builds the smtpwire-NAME program and sets PROGRAM_BIN
# to it.
build_program() {
    local name=$1
    build_target -p smtpwire-programs --bin "smtpwire-$name"
    PROGRAM_BIN="$BUILT_DIR/smtpwire-$name"
    [[ -x $PROGRAM_BIN ]] || die "no smtpwire-$name binary at $PROGRAM_BIN"
}

# build_example PACKAGE NAME: builds example NAME of the workspace member
# PACKAGE and sets EXAMPLE_BIN to it.
build_example() {
    local package=$1 name=$2
    build_target -p "$package" --example "$name"
    EXAMPLE_BIN="$BUILT_DIR/examples/$name"
    [[ -x $EXAMPLE_BIN ]] || die "no example $name binary at $EXAMPLE_BIN"
}

# Builds the receiving server (smtpwire-server); sets SERVER_BIN.
build_server() {
    build_program server
    SERVER_BIN=$PROGRAM_BIN
}

# await_start WHAT NAME PID LOG READY PORT_SED: a server just started as PID
# is watched until LOG matches READY (dying if it exits first); its port,
# read from LOG with the sed script PORT_SED, its PID and LOG are recorded
# under NAME, and it is stopped on exit.
await_start() {
    local what=$1 name=$2 pid=$3 log=$4 ready=$5 port_sed=$6 _
    STARTED_PIDS+=("$pid")
    for _ in $(seq 100); do
        grep -q "$ready" "$log" && break
        kill -0 "$pid" 2> /dev/null || die "$what $name exited at start: $(cat "$log")"
        sleep 0.1
    done
    PORT[$name]=$(sed -n "$port_sed" "$log")
    [[ -n ${PORT[$name]} ]] || die "$what $name did not report its port: $(cat "$log")"
    PID[$name]=$pid
    LOG[$name]=$log
}

# start_server NAME ARGS...: starts the receiving server (smtpwire-server) on a free loopback
# port with ARGS; fills PORT[NAME], PID[NAME], LOG[NAME], CERT[NAME].
start_server() {
    local name=$1
    shift
    local log="$work/server-$name.log"
    # TMPDIR: where the server writes its generated certificate.
    TMPDIR="$work" "$SERVER_BIN" --listen 127.0.0.1:0 "$@" 2> "$log" &
    await_start server "$name" $! "$log" ' on 127\.0\.0\.1:[0-9]' \
        's/.* on 127\.0\.0\.1:\([0-9]*\),.*/\1/p'
    CERT[$name]=$(sed -n 's/^STARTTLS with a self-signed certificate: //p' "$log")
}

# A port no one listens on now, for peers that need one named up front.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_for_port PORT: until something accepts connections there.
wait_for_port() {
    local _
    for _ in $(seq 100); do
        python3 -c "import socket, sys; socket.create_connection(('127.0.0.1', $1), 1).close()" 2> /dev/null && return 0
        sleep 0.1
    done
    return 1
}

# start_sink NAME BACKLOG: starts Postfix's smtp-sink (unprivileged,
# counting to its log) on a free loopback port with a listen backlog of
# BACKLOG; fills PORT[NAME], PID[NAME] and LOG[NAME].
start_sink() {
    local name=$1 backlog=$2 port log="$work/sink-$1.log"
    port=$(free_port)
    smtp-sink -c -u nobody "127.0.0.1:$port" "$backlog" > "$log" 2>&1 &
    STARTED_PIDS+=($!)
    # A job started in the background by a script ignores SIGINT, and
    # smtp-sink sets no handler of its own.
    STOP_SIGNAL[$!]=TERM
    PID[$name]=$!
    PORT[$name]=$port
    LOG[$name]=$log
    wait_for_port "$port" || die "smtp-sink did not start: $(cat "$log")"
}

# Peak resident memory of a running process, in KiB.
peak_rss_kib() {
    awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"
}

# stop_pid PID [SIGNAL]: SIGNAL (SIGINT by default: the server's graceful
# stop), then SIGKILL after 10 s. Returns the process's exit status, or 137
# when it had to be killed.
stop_pid() {
    local pid=$1 signal=${2:-INT} _
    kill -"$signal" "$pid" 2> /dev/null || return 0
    for _ in $(seq 100); do
        kill -0 "$pid" 2> /dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2> /dev/null; then
        kill -KILL "$pid" 2> /dev/null
        wait "$pid" 2> /dev/null
        return 137
    fi
    wait "$pid" 2> /dev/null
}

stop_all() {
    remove_service_policy
    local pid
    for pid in "${STARTED_PIDS[@]}"; do
        stop_pid "$pid" "${STOP_SIGNAL[$pid]:-INT}"
    done
    STARTED_PIDS=()
}

# start_capture NAME ARGS...: starts interop/capture_server.py (aiosmtpd)
# keeping messages in $work/capture-NAME; fills PORT[NAME] and PID[NAME].
start_capture() {
    local name=$1
    shift
    local log="$work/capture-$name.log"
    python3 "$root/interop/capture_server.py" "$work/capture-$name" "$@" > "$log" 2>&1 &
    await_start "capture server" "$name" $! "$log" '^listening on ' \
        's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p'
}
