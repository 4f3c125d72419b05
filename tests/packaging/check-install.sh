#!/bin/sh
# SPDX-License-Identifier: MIT
# Holds `make install` against the Debian packaging without building a
# package: installs into a scratch root with the variables debian/rules uses
# (`debian/rules print-install-vars`), then checks, as dh_install and
# dh_missing --fail-missing would, that every installed file is taken by
# exactly one debian/*.install line and that every line takes a file; and that
# each installed unit's ExecStart= is an installed program (and syncd's
# --config an installed file).
# Prints one line per check and closes with "ok: N passed, N failed".
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
build="${BRIDGED_BUILD:-build}"
case "$build" in /*) ;; *) build="$top/$build" ;; esac

passed=0 failed=0
pass() { echo "PASS: $*"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
root="$tmp/root"

# The variables of debian/rules minus its own build directory: the programs
# are the ones this check run built.
vars=$(cd "$top" && make -s -f debian/rules print-install-vars 2>/dev/null | tr ' ' '\n' |
        grep -v '^B=' | tr '\n' ' ')
case "$vars" in
*PREFIX=/usr*) pass "debian/rules print-install-vars: $vars" ;;
*) fail "debian/rules print-install-vars gave '$vars'"; echo "ok: $passed passed, $failed failed"; exit 1 ;;
esac

# make check's second pass builds in B/san with SAN=1 (in the environment
# then); by hand, the same must hold or make would relink without sanitizers.
case "$build" in */san) SAN=${SAN:-1}; export SAN ;; esac

# shellcheck disable=SC2086
if (cd "$top" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES \
        make --no-print-directory $vars B="$build" DESTDIR="$root" install) >"$tmp/log" 2>&1; then
        pass "make install DESTDIR=... $vars"
else
        fail "make install:"
        tail -n 20 "$tmp/log" | sed 's/^/    /'
        echo "ok: $passed passed, $failed failed"
        exit 1
fi

(cd "$root" && find . \( -type f -o -type l \) | sed 's|^\./||' | sort) > "$tmp/files"

# "PACKAGE PATTERN" for each line of debian/*.install (its first field).
for f in "$top"/debian/*.install; do
        pkg=$(basename "$f" .install)
        sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$f" | awk -v p="$pkg" '{ print p, $1 }'
done > "$tmp/patterns"

while read -r path; do
        owners=""
        while read -r pkg pattern; do
                # shellcheck disable=SC2254
                case "$path" in $pattern) owners="$owners $pkg" ;; esac
        done < "$tmp/patterns"
        case "$owners" in
        "") fail "$path: installed but in no debian/*.install (dh_missing would fail)" ;;
        " "*" "*) fail "$path: in more than one package:$owners" ;;
        *) pass "$path:$owners" ;;
        esac
done < "$tmp/files"

while read -r pkg pattern; do
        hit=0
        while read -r path; do
                # shellcheck disable=SC2254
                case "$path" in $pattern) hit=1; break ;; esac
        done < "$tmp/files"
        [ "$hit" -eq 1 ] || fail "debian/$pkg.install: $pattern matches nothing make install installs"
done < "$tmp/patterns"

for name in bridged syncd; do
        unit=$(find "$root" -name "$name.service" -type f | head -n 1)
        exec_start=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$unit" 2>/dev/null)
        if [ -n "$exec_start" ] && [ -x "$root$exec_start" ]; then
                pass "$name.service ExecStart=$exec_start is installed"
        else
                fail "$name.service ExecStart='$exec_start' is not an installed program"
        fi
done

# syncd.service starts with --config FILE: the package installs FILE.
conf=$(sed -n 's/^ExecStart=[^ ]* .*--config \([^ ]*\).*/\1/p' "$(find "$root" -name syncd.service -type f | head -n 1)")
if [ -n "$conf" ] && [ -f "$root$conf" ]; then
        pass "syncd.service --config $conf is installed"
else
        fail "syncd.service --config '$conf' is not an installed file"
fi

echo "ok: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
