#!/bin/sh
# SPDX-License-Identifier: MIT
# One version everywhere: the upstream part of debian/changelog's first entry
# (no epoch, no Debian revision) is what bridged, bridgectl and syncd
# --version print and what every manual page's .TH line names. The Makefile
# takes the version from the changelog; this catches a program or a page that
# spells its own. The programs are the built ones, found through
# $BRIDGED_BUILD. Prints one line per check and closes with
# "ok: N passed, N failed".
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
build="${BRIDGED_BUILD:-build}"
case "$build" in /*) ;; *) build="$top/$build" ;; esac

passed=0 failed=0
pass() { echo "PASS: $*"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }

version=$(sed -n '1{s/^[^(]*(\([^)]*\)).*/\1/;s/^[0-9]*://;s/-[^-]*$//;p;q;}' "$top/debian/changelog")
if [ -n "$version" ]; then
        pass "debian/changelog: $version"
else
        fail "debian/changelog: no version in its first line"
        echo "ok: $passed passed, $failed failed"
        exit 1
fi

# check NAME PROGRAM: its --version's first line is "NAME VERSION" (syncd
# adds the API schema after it)
check() {
        if [ ! -x "$build/$2" ]; then
                fail "$1: $build/$2 is not built"
                return
        fi
        out=$("$build/$2" --version 2>&1 | head -n 1)
        case "$out" in
        "$1 $version"|"$1 $version "*) pass "$1 --version: $out" ;;
        *) fail "$1 --version says '$out', debian/changelog $version" ;;
        esac
}

check bridged bridged/bridged
check bridgectl bridged/bridgectl
check syncd server/syncd

for page in "$top"/man/*.[1-8]; do
        th=$(sed -n 's/^\.TH [^ ]* [0-9] "[^"]*" "\([^"]*\)".*/\1/p' "$page")
        if [ "$th" = "bridged $version" ]; then
                pass "${page#"$top"/}: .TH names $th"
        else
                fail "${page#"$top"/}: .TH names '$th', not 'bridged $version'"
        fi
done

echo "ok: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
