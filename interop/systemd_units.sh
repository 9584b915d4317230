#!/usr/bin/env bash
# The systemd units in programs/dist/systemd/ checked by systemd itself:
# `systemd-analyze verify` loads each unit as the service manager would
# (every key known, every command executable, the socket and its service
# paired) with the programs built from this checkout in place of
# /usr/local/bin. Installs systemd with apt when systemd-analyze is
# missing. Prints "systemd units: PASS"; exits non-zero on any complaint.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=interop/lib.sh
source "$root/interop/lib.sh"

if ! command -v systemd-analyze > /dev/null; then
    command -v apt-get > /dev/null || die "systemd-analyze not found and no apt-get to install it"
    apt-get update -qq && apt-get install -y -qq --no-install-recommends systemd > /dev/null \
        || die "apt-get install systemd failed"
fi
command -v systemd-analyze > /dev/null || die "systemd-analyze still missing"

units=$(mktemp -d)
trap 'rm -rf "$units"' EXIT
for name in server relay; do
    build_program "$name"
    cp "$PROGRAM_BIN" "$units/"
done
for unit in "$root"/programs/dist/systemd/*; do
    sed "s#/usr/local/bin/#$units/#g" "$unit" > "$units/$(basename "$unit")"
done
# systemd runs install(1) from ExecStartPre=; it must exist where the unit says.
[[ -x /usr/bin/install ]] || die "/usr/bin/install is missing"
complaints=$(systemd-analyze verify "$units"/*.service "$units"/*.socket 2>&1) \
    || die "systemd-analyze verify failed: $complaints"
[[ -z $complaints ]] || die "systemd-analyze verify complained: $complaints"
echo "systemd units: PASS"
