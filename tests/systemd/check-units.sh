#!/bin/sh
# SPDX-License-Identifier: MIT
# Checks what systemd/ installs, without installing it:
# - bridged.service and syncd.service: systemd-analyze verify is silent, and
#   the exposure level of systemd-analyze security is at most 1.5 (ExecStart=
#   points at a stub, or at the built daemon when there is one); each one's
#   level is printed;
# - syncd.service's reload copies each file it loads as a credential to
#   $SYNCD_RELOAD_DIRECTORY under the credential's name, and syncd.conf's
#   Database= is in its StateDirectory=;
# - org.bridged.conf: a private dbus-daemon starts with it included; then, as
#   root, with user and group "bridged" played by "daemon": only that user may
#   own org.bridged, anyone may see the state, only root and the group may
#   read the Shared Data (Get, ListConflicts, the Changed signal, broadcast
#   or addressed to them) and call
#   Set, Sync, Restore and DismissConflicts (bus-peer answers in bridged's
#   place); the active seat's user (at_console) needs a logind session and
#   is left to bridged's own check, tested in the e2e suite;
# - bridged.sysusers, syncd.sysusers and bridged.tmpfiles: applied to a
#   scratch root.
# Prints one line per check and closes with "ok: N passed, N failed, N skipped".
# Exit 77 (skip) without systemd-analyze.
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
units="$top/systemd"
build="${BRIDGED_BUILD:-build}"
case "$build" in /*) ;; *) build="$top/$build" ;; esac
max_exposure=1.5

command -v systemd-analyze >/dev/null 2>&1 || { echo "skip: systemd-analyze is not installed"; exit 77; }

tmp=$(mktemp -d) || exit 1
pids=""
cleanup() {
        for p in $pids; do kill "$p" 2>/dev/null; done
        rm -rf "$tmp"
}
trap cleanup EXIT
chmod 0755 "$tmp"

passed=0 failed=0 skipped=0
pass() { echo "PASS: $*"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }
skip() { echo "SKIP: $*"; skipped=$((skipped + 1)); }

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

# ---- the unit ----

# verify wants ExecStart='s binary to exist: the built daemon if there is one
# (wherever the module.mk files put it), else a stub.
mkdir -p "$tmp/sbin"
for name in bridged syncd; do
        printf '#!/bin/sh\nexit 0\n' > "$tmp/sbin/$name"
        chmod 0755 "$tmp/sbin/$name"
        for daemon in "$build/$name" "$build/sbin/$name" "$build/bridged/$name" "$build/server/$name"; do
                if [ -f "$daemon" ] && [ -x "$daemon" ]; then
                        cp "$daemon" "$tmp/sbin/$name"
                        break
                fi
        done
        sed "s|@SBINDIR@|$tmp/sbin|g" "$units/$name.service" > "$tmp/$name.service"
done

# verify runs man for each Documentation= page: give it the project's pages
for page in man/*.[0-9]; do
        section=${page##*.}
        mkdir -p "$tmp/man/man$section"
        cp "$page" "$tmp/man/man$section/"
done

for name in bridged syncd; do
        if out=$(MANPATH="$tmp/man" systemd-analyze verify "$tmp/$name.service" 2>&1) && [ -z "$out" ]; then
                pass "systemd-analyze verify $name.service"
        else
                fail "systemd-analyze verify $name.service:"
                echo "$out" | sed 's/^/    /'
        fi

        out=$(systemd-analyze security --offline=true --no-pager "$tmp/$name.service" 2>&1)
        score=$(echo "$out" | sed -n "s/.*Overall exposure level for $name.service: \([0-9.]*\).*/\1/p")
        if [ -z "$score" ]; then
                fail "systemd-analyze security $name.service gave no exposure level:"
                echo "$out" | tail -n 5 | sed 's/^/    /'
        elif awk "BEGIN { exit !($score <= $max_exposure) }"; then
                pass "systemd-analyze security $name.service: exposure $score (at most $max_exposure)"
        else
                fail "systemd-analyze security $name.service: exposure $score is above $max_exposure:"
                echo "$out" | grep '✗' | sed 's/^/    /'
        fi
done

# syncd.service hands the key and the tokens over as credentials, and on
# reload copies the same files to $SYNCD_RELOAD_DIRECTORY under the same
# names (syncd reads a credential there first): the two lists must agree.
reload_dir=$(sed -n 's/^Environment=SYNCD_RELOAD_DIRECTORY=//p' "$units/syncd.service")
creds=$(sed -n 's/^LoadCredential=\([^:]*\):\(.*\)/\2 \1/p' "$units/syncd.service" | sort)
copies=$(sed -n "s|^ExecReload=+/usr/bin/install .* -T \\([^ ]*\\) $reload_dir/\\([^ ]*\\)\$|\\1 \\2|p" \
        "$units/syncd.service" | sort)
if [ -n "$reload_dir" ] && [ -n "$creds" ] && [ "$creds" = "$copies" ]; then
        pass "syncd.service: the reload copies each credential to $reload_dir ($(echo $creds))"
else
        fail "syncd.service: credentials '$(echo $creds)', copied on reload to '$reload_dir': '$(echo $copies)'"
fi
# bridged.service the same for its one credential, the token (make
# hil-vm-systemd showed why: an ExecReload= process does not see them).
reload_dir=$(sed -n 's/^Environment=BRIDGED_RELOAD_DIRECTORY=//p' "$units/bridged.service")
cred=$(sed -n 's/^LoadCredential=token:\(.*\)/\1/p' "$units/bridged.service")
if [ -n "$reload_dir" ] && [ -n "$cred" ] &&
   grep -q "^ExecReload=+.* -T $cred $reload_dir/token" "$units/bridged.service" &&
   grep -q "^ExecStopPost=+/bin/rm -rf $reload_dir\$" "$units/bridged.service"; then
        pass "bridged.service: the reload copies the token credential ($cred) to $reload_dir/token"
else
        fail "bridged.service: the token credential '$cred' is not copied on reload to '$reload_dir'/token"
fi
state=$(sed -n 's/^StateDirectory=//p' "$units/syncd.service")
if [ -n "$state" ] && grep -q "^Database=/var/lib/$state/[^/ ]*" "$units/syncd.conf"; then
        pass "syncd.conf: Database= is in syncd.service's StateDirectory=$state"
else
        fail "syncd.conf: Database= is not in /var/lib/$state (syncd.service's StateDirectory=)"
fi

# ---- sysusers.d and tmpfiles.d, in a scratch root ----

mkdir -p "$tmp/root/etc"
if systemd-sysusers --root="$tmp/root" "$units/bridged.sysusers" >/dev/null 2>&1 &&
   grep -q '^bridged:x:[0-9]*:[0-9]*:bridged sync daemon:/var/lib/bridged:' "$tmp/root/etc/passwd" &&
   grep -q '^bluetooth:x:[0-9]*:\(.*,\)\{0,1\}bridged\(,.*\)\{0,1\}$' "$tmp/root/etc/group"; then
        pass "bridged.sysusers: user bridged, member of bluetooth"
else
        fail "bridged.sysusers: $(systemd-sysusers --root="$tmp/root" "$units/bridged.sysusers" 2>&1 | tail -n 1)"
fi
if systemd-sysusers --root="$tmp/root" "$units/syncd.sysusers" >/dev/null 2>&1 &&
   grep -q '^syncd:x:[0-9]*:[0-9]*:syncd sync server:/var/lib/syncd:' "$tmp/root/etc/passwd" &&
   grep -q '^syncd:x:[0-9]*:$' "$tmp/root/etc/group"; then
        pass "syncd.sysusers: user and group syncd, in no other group"
else
        fail "syncd.sysusers: $(systemd-sysusers --root="$tmp/root" "$units/syncd.sysusers" 2>&1 | tail -n 1)"
fi

# Only root can give the directory away; others check the mode.
gid=$(sed -n 's/^bridged:x:\([0-9]*\):.*/\1/p' "$tmp/root/etc/group")
want="751 0 $gid" format='%a %u %g'
[ "$(id -u)" -eq 0 ] || { want=751 format='%a'; }
systemd-tmpfiles --root="$tmp/root" --create "$units/bridged.tmpfiles" >/dev/null 2>&1
got=$(stat -c "$format" "$tmp/root/etc/bridged" 2>&1)
if [ "$got" = "$want" ]; then
        pass "bridged.tmpfiles: /etc/bridged is $want (mode uid gid)"
else
        fail "bridged.tmpfiles: /etc/bridged is $got, not $want (mode uid gid)"
fi

# ---- the D-Bus policy ----

if command -v xmllint >/dev/null 2>&1; then
        if xmllint --noout "$units/org.bridged.conf" 2>"$tmp/xmllint"; then
                pass "org.bridged.conf is well-formed XML"
        else
                fail "org.bridged.conf is not well-formed XML: $(head -n 1 "$tmp/xmllint")"
        fi
else
        skip "org.bridged.conf well-formed: xmllint is not installed"
fi

# A bus like Debian's system bus: method calls denied unless a policy allows.
write_bus_conf() { # $1 name, $2 policy file to include
        cat > "$tmp/$1.conf" <<EOT
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <listen>unix:path=$tmp/$1.socket</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
  </policy>
  <include>$2</include>
</busconfig>
EOT
}

start_bus() { # $1 name; the address ends up in $tmp/$1.address
        dbus-daemon --config-file="$tmp/$1.conf" --nofork --print-address=1 >"$tmp/$1.address" 2>"$tmp/$1.log" &
        pids="$pids $!"
        wait_for "$tmp/$1.address" '^unix:'
}

if ! command -v dbus-daemon >/dev/null 2>&1; then
        skip "org.bridged.conf on a private bus: dbus-daemon is not installed"
        echo "ok: $passed passed, $failed failed, $skipped skipped"
        [ "$failed" -eq 0 ]; exit
fi

write_bus_conf plain "$units/org.bridged.conf"
# dbus-daemon prints its address only after it has read its configuration
# (it warns about the unknown user and group "bridged" on this machine).
if start_bus plain; then
        pass "a private dbus-daemon starts with org.bridged.conf included"
else
        fail "dbus-daemon refused org.bridged.conf: $(grep -v 'Unknown' "$tmp/plain.log" | head -n 1)"
fi

peer="$build/tests/systemd/bus-peer"
if [ "$(id -u)" -ne 0 ] || ! command -v setpriv >/dev/null 2>&1 || ! command -v busctl >/dev/null 2>&1 ||
   [ ! -x "$peer" ] || ! getent passwd daemon >/dev/null || ! getent passwd nobody >/dev/null; then
        skip "the policy in action: needs root, setpriv, busctl, users daemon and nobody, and $peer"
        echo "ok: $passed passed, $failed failed, $skipped skipped"
        [ "$failed" -eq 0 ]; exit
fi

sed 's/user="bridged"/user="daemon"/; s/group="bridged"/group="daemon"/' "$units/org.bridged.conf" > "$tmp/policy.conf"
write_bus_conf acted "$tmp/policy.conf"
if ! start_bus acted; then
        fail "dbus-daemon with the policy (bridged as daemon) did not start: $(head -n 1 "$tmp/acted.log")"
        echo "ok: $passed passed, $failed failed, $skipped skipped"
        exit 1
fi
export DBUS_SYSTEM_BUS_ADDRESS="$(head -n 1 "$tmp/acted.address")"
daemon_gid=$(id -g daemon)
as_nobody="setpriv --reuid=nobody --regid=$(id -g nobody) --clear-groups"
as_member="setpriv --reuid=nobody --regid=$(id -g nobody) --groups=$daemon_gid"
as_owner="setpriv --reuid=daemon --regid=$daemon_gid --clear-groups"

if $as_nobody "$peer" >/dev/null 2>&1; then
        fail "a user other than bridged may own org.bridged"
else
        pass "a user other than bridged may not own org.bridged"
fi

$as_owner "$peer" >"$tmp/peer.out" 2>&1 &
pids="$pids $!"
if wait_for "$tmp/peer.out" '^ready'; then
        pass "user bridged may own org.bridged"
else
        fail "user bridged may not own org.bridged: $(head -n 1 "$tmp/peer.out")"
fi

call() { # $1 who, then busctl call's interface, member and arguments
        who=$1; shift
        $who busctl --timeout=5 call org.bridged /org/bridged "$@" 2>&1
}

expect() { # $1 allowed|denied, $2 who (nobody, member, root), then the call
        want=$1 whoname=$2; shift 2
        case "$whoname" in
        nobody) who=$as_nobody ;;
        member) who=$as_member ;;
        *) who="" ;;
        esac
        out=$(call "$who" "$@")
        case "$out" in
        's "ok"') got=allowed ;;
        *AccessDenied*|*"ccess denied"*|*Rejected*) got=denied ;;
        *) got="other: $out" ;;
        esac
        if [ "$got" = "$want" ]; then
                pass "$whoname $*: $want"
        else
                fail "$whoname $*: expected $want, got $got"
        fi
}

M=org.bridged.Manager1
P=org.freedesktop.DBus.Properties
expect allowed nobody $M Status
expect denied nobody $M Get s profile
expect allowed nobody $M Stats
expect denied nobody $M ListConflicts
expect allowed nobody $P GetAll s $M
expect allowed nobody $P Get ss $M State
expect allowed nobody org.freedesktop.DBus.Introspectable Introspect
expect denied nobody $M Set sss active_eq "" '{}'
expect denied nobody $M Sync
expect denied nobody $M Restore t 1
expect denied nobody $M DismissConflicts at 0
expect denied nobody $P Set ssv $M State s idle
expect allowed member $M Get s profile
expect allowed member $M ListConflicts
expect allowed member $M Set sss active_eq "" '{}'
expect allowed member $M Sync
expect allowed member $M Restore t 1
expect allowed member $M DismissConflicts at 0
expect allowed root $M Set sss active_eq "" '{}'
expect allowed root $M Sync

# The Changed signal carries a record: the group gets it, nobody does, and
# nobody not even addressed to them (bridged never broadcasts it; it sends
# it to each client it checked, and the policy is the second lock). Both
# listen; root makes bus-peer send Changed, then Ping (open to all). Signals
# of one sender keep their order, so a Changed let through would come first.
changed_round() {   # HOW: Emit (broadcast) or EmitTo (addressed to each)
        rm -f "$tmp/listen-nobody" "$tmp/listen-member"
        $as_nobody "$peer" --listen >"$tmp/listen-nobody" 2>&1 &
        pids="$pids $!"
        $as_member "$peer" --listen >"$tmp/listen-member" 2>&1 &
        pids="$pids $!"
        wait_for "$tmp/listen-nobody" '^listening' && wait_for "$tmp/listen-member" '^listening' || return 1
        if [ "$1" = Emit ]; then
                busctl --timeout=5 call org.bridged /org/bridged $M Emit >/dev/null 2>&1 || return 1
        else
                busctl --timeout=5 call org.bridged /org/bridged $M EmitTo as 2 \
                        "$(sed -n 's/^listening //p' "$tmp/listen-nobody")" \
                        "$(sed -n 's/^listening //p' "$tmp/listen-member")" >/dev/null 2>&1 || return 1
        fi
        wait_for "$tmp/listen-nobody" '^Ping' && wait_for "$tmp/listen-member" '^Ping'
}
for how in Emit EmitTo; do
        what="Changed"
        [ $how = EmitTo ] && what="Changed addressed to them"
        if changed_round $how; then
                if grep -q '^Changed' "$tmp/listen-member"; then
                        pass "group bridged receives $what"
                else
                        fail "group bridged does not receive $what"
                fi
                if grep -q '^Changed' "$tmp/listen-nobody"; then
                        fail "another user receives $what (a record of the Shared Data)"
                else
                        pass "another user does not receive $what"
                fi
        else
                fail "the $what check did not run: $(cat "$tmp/listen-nobody" "$tmp/listen-member" | head -n 2)"
        fi
done

echo "ok: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
