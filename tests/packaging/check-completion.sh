#!/bin/sh
# SPDX-License-Identifier: MIT
# Checks completion/bridgectl.bash: in bash, with bash-completion loaded when
# it is installed and without it, each command line below completes to the
# words given. Conflict ids come from a stand-in bridgectl that answers
# `--json conflicts` as the daemon does; then the built bridgectl with no
# daemon on the bus must complete to nothing, quietly.
# File names complete in a directory holding ParametricEQ.txt and rew.txt.
# Prints one line per case and closes with "ok: N passed, N failed".
# Exit 77 (skip) without bash.
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
build="${BRIDGED_BUILD:-build}"
case "$build" in /*) ;; *) build="$top/$build" ;; esac

command -v bash >/dev/null 2>&1 || { echo "skip: bash is not installed"; exit 77; }

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT

# A stand-in for bridgectl: ListConflicts as cJSON prints it.
mkdir -p "$tmp/fake"
cat > "$tmp/fake/bridgectl" <<'EOF'
#!/bin/sh
[ "$*" = "--json conflicts" ] || exit 1
echo '[{"id":3,"key":"eq.active","family":"pro","kept":{"key":"eq.active","family":"pro","stamp":{"ms":1763700000000,"c":0,"origin":"00a1b2c3d4e5f607"},"derived":false,"value":{"preset":"flat"}},"lost":{"key":"eq.active","family":"pro","stamp":{"ms":1763690000000,"c":1,"origin":"1111111111111111"},"derived":false,"value":{"preset":"voice"}},"kept_from":"server","lost_from":"bridge","at_ms":1763700000500},{"id":17,"key":"profile","family":"any","kept":{},"lost":{},"kept_from":"server","lost_from":"buds","at_ms":1763700000900}]'
EOF
chmod 0755 "$tmp/fake/bridgectl"
# The files eq import and eq export offer; the cases run there.
mkdir -p "$tmp/work"
: > "$tmp/work/ParametricEQ.txt"
: > "$tmp/work/rew.txt"
cd "$tmp/work" || exit 1

# The cases: the line typed (a trailing '|' marks where the cursor is, so a
# trailing blank shows), then '=>' and the completions, sorted.
cat > "$tmp/cases" <<'EOF'
bridgectl |=> conflicts eq get help monitor restore set stats status sync
bridgectl --j|=> --json
bridgectl --json st|=> stats status
bridgectl get |=> eq.active eq.custom profile
bridgectl get eq.c|=> eq.custom
bridgectl get profile |=>
bridgectl set |=> eq.active eq.custom profile
bridgectl set eq.custom |=> --family
bridgectl set eq.custom --family |=> pro standard
bridgectl set --family s|=> standard
bridgectl set eq.active |=> '{"preset":"bass_boost"}' '{"preset":"flat"}' '{"preset":"treble"}' '{"preset":"voice"}'
bridgectl set profile |=>
bridgectl sync |=> --no-block --timeout
bridgectl restore |=> 17 3
bridgectl restore 1|=> 17
bridgectl restore 3 |=>
bridgectl conflicts |=> dismiss
bridgectl conflicts dismiss |=> 17 3
bridgectl conflicts dismiss --|=> --all
bridgectl conflicts dismiss --all |=>
bridgectl eq |=> export import
bridgectl eq i|=> import
bridgectl eq import |=> ParametricEQ.txt rew.txt
bridgectl eq export P|=> ParametricEQ.txt
bridgectl eq import rew.txt |=>
bridgectl eq frobnicate |=>
EOF

cat > "$tmp/run.bash" <<'EOF'
# $1: 1 to load bash-completion first; $2: the completion file; $3: cases
[ "$1" = 1 ] && . /usr/share/bash-completion/bash_completion
. "$2"
while IFS= read -r c; do
        line=${c%%|=>*}
        want=${c#*|=> }
        [ "$want" = "$c" ] && want=""
        [ "${c%|=>}" != "$c" ] && want=""
        read -r -a COMP_WORDS <<< "$line"
        [ "${line% }" != "$line" ] && COMP_WORDS+=("")
        COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
        COMP_LINE=$line
        COMP_POINT=${#line}
        COMPREPLY=()
        _bridgectl bridgectl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
        got=$(printf '%s\n' "${COMPREPLY[@]}" | sed '/^$/d' | sort | tr '\n' ' ')
        got=${got% }
        if [ "$got" = "$want" ]; then
                echo "PASS: '$line' => $got"
        else
                echo "FAIL: '$line' => '$got', expected '$want'"
        fi
done < "$3"
EOF

out=""
if [ -r /usr/share/bash-completion/bash_completion ]; then
        out=$(PATH="$tmp/fake:$PATH" bash "$tmp/run.bash" 1 "$top/completion/bridgectl.bash" "$tmp/cases" 2>&1 |
                sed 's/^\(PASS\|FAIL\): /\1: (bash-completion) /')
else
        out="SKIP: bash-completion is not installed; only without it"
fi
out="$out
$(PATH="$tmp/fake:$PATH" bash "$tmp/run.bash" 0 "$top/completion/bridgectl.bash" "$tmp/cases" 2>&1)"

# The built bridgectl, no daemon: nothing, and nothing on the terminal.
if [ -x "$build/bridged/bridgectl" ]; then
        mkdir -p "$tmp/real"
        ln -s "$build/bridged/bridgectl" "$tmp/real/bridgectl"
        echo 'bridgectl restore |=>' > "$tmp/cases-real"
        out="$out
$(DBUS_SYSTEM_BUS_ADDRESS="unix:path=$tmp/no-bus" PATH="$tmp/real:$PATH" \
        bash "$tmp/run.bash" 0 "$top/completion/bridgectl.bash" "$tmp/cases-real" 2>&1 |
        sed 's/^\(PASS\|FAIL\): /\1: (no daemon) /')"
fi

echo "$out" | sed '/^$/d'
passed=$(echo "$out" | grep -c '^PASS')
failed=$(echo "$out" | grep -vc '^PASS\|^SKIP\|^$')
echo "ok: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
