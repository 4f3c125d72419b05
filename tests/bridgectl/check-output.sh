#!/bin/sh
# SPDX-License-Identifier: MIT
# Checks bridgectl's text against golden files: for each case directory
# tests/bridgectl/cases/NAME, a private dbus-daemon and fake-bridged answer
# from the case's canned JSON (see fake-bridged.c), bridgectl runs with the
# arguments in NAME/args (one line, split by the shell) in UTC and the C
# locale, and its standard output, standard error and exit status must be
# NAME/expected, byte for byte:
#
#     <stdout>
#     --- stderr
#     <stderr>
#     --- exit N
#
# BRIDGECTL_GOLDEN_UPDATE=1 writes what bridgectl printed into the expected
# files instead (then read the diff before committing it).
# Prints one line per case and closes with "ok: N passed, N failed".
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
build="${BRIDGED_BUILD:-build}"
case "$build" in /*) ;; *) build="$top/$build" ;; esac
ctl="$build/bridged/bridgectl"
fake="$build/tests/bridgectl/fake-bridged"

command -v dbus-daemon >/dev/null 2>&1 || { echo "skip: dbus-daemon is not installed"; exit 77; }

tmp=$(mktemp -d) || exit 1
pids=""
cleanup() {
        for p in $pids; do kill "$p" 2>/dev/null; done
        rm -rf "$tmp"
}
trap cleanup EXIT

# Waits up to 10 s for file $1 to have a line matching $2.
wait_for() {
        i=0
        while [ $i -lt 100 ]; do
                grep -q "$2" "$1" 2>/dev/null && return 0
                sleep 0.1
                i=$((i + 1))
        done
        return 1
}

cat > "$tmp/bus.conf" <<EOT
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=$tmp/bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
  </policy>
</busconfig>
EOT
dbus-daemon --config-file="$tmp/bus.conf" --nofork --print-address=1 >"$tmp/address" 2>"$tmp/bus.log" &
pids="$pids $!"
wait_for "$tmp/address" '^unix:' || { echo "FAIL: dbus-daemon did not start: $(head -n 1 "$tmp/bus.log")"; exit 1; }
export DBUS_SYSTEM_BUS_ADDRESS="$(head -n 1 "$tmp/address")"
export TZ=UTC LC_ALL=C
unset NO_COLOR

passed=0 failed=0
for case_dir in "$top"/tests/bridgectl/cases/*/; do
        name=$(basename "$case_dir")
        # a file of the case's own: the shell truncates a shared one in the
        # child, after the fork, and under load the wait below read the
        # "ready" of the case before
        "$fake" "$case_dir" >"$tmp/fake-$name.out" 2>&1 &
        fake_pid=$!
        if ! wait_for "$tmp/fake-$name.out" '^ready'; then
                echo "FAIL: $name: fake-bridged did not start: $(head -n 1 "$tmp/fake-$name.out")"
                failed=$((failed + 1))
                kill "$fake_pid" 2>/dev/null
                continue
        fi
        # shellcheck disable=SC2046
        (cd "$case_dir" && eval "set -- $(cat args)" && "$ctl" "$@" >"$tmp/stdout" 2>"$tmp/stderr" </dev/null)
        status=$?
        kill "$fake_pid" 2>/dev/null
        wait "$fake_pid" 2>/dev/null
        { cat "$tmp/stdout"; echo "--- stderr"; cat "$tmp/stderr"; echo "--- exit $status"; } >"$tmp/got"
        if [ "${BRIDGECTL_GOLDEN_UPDATE:-0}" = 1 ]; then
                cp "$tmp/got" "$case_dir/expected"
        fi
        if cmp -s "$tmp/got" "$case_dir/expected"; then
                echo "PASS: $name"
                passed=$((passed + 1))
        else
                echo "FAIL: $name"
                diff -u "$case_dir/expected" "$tmp/got" | sed 's/^/    /' | head -n 40
                failed=$((failed + 1))
        fi
done

echo "ok: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
