#!/bin/sh
# SPDX-License-Identifier: MIT
# Checks the manual pages in man/:
# - each renders with `MANWIDTH=80 man --warnings -l` without a word on
#   stderr (groff's warnings, man-db's preprocessor complaints);
# - bridged --help, bridgectl --help and syncd --help agree with their pages:
#   every option of the help is in the page's SYNOPSIS, OPTIONS (or, for
#   bridgectl, COMMANDS) and every option there is in the help; bridgectl's
#   commands likewise.
# The programs are the built ones, found through $BRIDGED_BUILD.
# Prints one line per check and closes with "ok: N passed, N failed".
# Exit 77 (skip) without man(1).
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
build="${BRIDGED_BUILD:-build}"
case "$build" in /*) ;; *) build="$top/$build" ;; esac

command -v man >/dev/null 2>&1 || { echo "skip: man (man-db) is not installed"; exit 77; }

passed=0 failed=0
pass() { echo "PASS: $*"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT

# ---- lint ----

for page in "$top"/man/*.[1-8]; do
        name=${page#"$top"/}
        if LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$page" >"$tmp/out" 2>"$tmp/err" &&
                [ ! -s "$tmp/err" ] && [ -s "$tmp/out" ]; then
                pass "man --warnings -l $name"
        else
                fail "man --warnings -l $name:"
                sed 's/^/    /' "$tmp/err"
        fi
done

# ---- help against page ----

# The page as plain ASCII text, wide enough that no option is broken.
render() {
        LC_ALL=C MANWIDTH=200 MAN_KEEP_FORMATTING= man -l "$top/man/$1" 2>/dev/null | col -bx
}

# The lines of sections $2... of rendered page $1 (headings at column 0).
sections() {
        page=$1
        shift
        render "$page" | awk -v want=" $* " '
                /^[A-Z]/ || /^   [A-Z]/ { on = index(want, " " $0 " ") > 0; next }
                on { print }'
}

# Options (--long, -x) in stdin, one per line, sorted.
options() {
        grep -oE '(^|[^A-Za-z0-9-])--?[A-Za-z][A-Za-z0-9-]*' | sed 's/^[^-]*//' | sort -u
}

# compare WHAT FILE_FROM_HELP FILE_FROM_PAGE
compare() {
        only_help=$(comm -23 "$2" "$3" | tr '\n' ' ')
        only_page=$(comm -13 "$2" "$3" | tr '\n' ' ')
        if [ -z "$only_help$only_page" ] && [ -s "$2" ]; then
                pass "$1: help and page agree ($(tr '\n' ' ' < "$2"))"
        else
                fail "$1: only in --help: ${only_help:-none}; only in the page: ${only_page:-none}"
        fi
}

check_program() {
        prog=$1 page=$2 secs=$3
        bin="$build/$prog"
        if [ ! -x "$bin" ]; then
                fail "$prog: $bin is not built"
                return
        fi
        name=${prog##*/}
        "$bin" --help 2>&1 | options > "$tmp/help-$name"
        sections "$page" $secs | options > "$tmp/page-$name"
        compare "$name options" "$tmp/help-$name" "$tmp/page-$name"
}

check_program bridged/bridged bridged.8 "SYNOPSIS OPTIONS"
check_program server/syncd syncd.8 "SYNOPSIS OPTIONS"
check_program bridged/bridgectl bridgectl.1 "SYNOPSIS COMMANDS OPTIONS"

# bridgectl's commands: the first word of each line of the help's "Commands:"
# block, and of each tag line of the page's COMMANDS section (7 blanks, a word).
if [ -x "$build/bridged/bridgectl" ]; then
        "$build/bridged/bridgectl" --help | awk '
                /^Commands:/ { on = 1; next }
                /^[A-Za-z]/ { on = 0 }
                on && /^  [a-z]/ { print $1 }' | sort -u > "$tmp/help-cmds"
        sections bridgectl.1 COMMANDS | sed -n 's/^       \([a-z][a-z]*\)\( .*\)\{0,1\}$/\1/p' | sort -u > "$tmp/page-cmds"
        compare "bridgectl commands" "$tmp/help-cmds" "$tmp/page-cmds"
fi

echo "ok: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
