#!/bin/sh
# SPDX-License-Identifier: MIT
# The other suites that reach syncd's store, again on PostgreSQL, on one
# server of their own (tests/server/pg-harness): test-limits, test-observe
# (its readiness case stops and starts that server), test-reload, and the
# end-to-end regressions (tests/e2e/test-regress). test-hostile is not
# repeated: its cases (floods, deadlines, TLS versions, strict HTTP) end
# before any request reaches the store. test-backup is SQLite's (pg_dump
# backs up a PostgreSQL database). Prints "ok: N passed, N failed" over the
# suites' cases.
B=${BRIDGED_BUILD:-build}
if [ "${BRIDGED_SAN:-0}" = 1 ]; then
        echo "test-more-pg: skipped under the sanitizers: these suites run there on SQLite, the PostgreSQL store in test-syncd-pg and test-instances-pg"
        exit 77
fi
if [ "${1:-}" != --inside ]; then
        exec tests/server/pg-harness run "$0" --inside
fi
passed=0 failed=0
for t in tests/server/test-limits tests/server/test-observe tests/server/test-reload tests/e2e/test-regress; do
        out=$("$B/$t" 2>&1)
        rc=$?
        p=$(printf '%s\n' "$out" | sed -n 's/.*\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -n1)
        f=$(printf '%s\n' "$out" | sed -n 's/.*\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -n1)
        passed=$((passed + ${p:-0}))
        if [ "$rc" -ne 0 ]; then
                failed=$((failed + ${f:-1}))
                echo "$t on PostgreSQL failed (exit $rc):"
                printf '%s\n' "$out" | tail -n 40
        fi
done
echo "ok: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
