#!/bin/sh
# SPDX-License-Identifier: MIT
# syncd's figures in make bench: bench-syncd with a PostgreSQL server of its
# own (tests/server/pg-harness), its commits synced to disk as SQLite's are
# (fsync on), so the SQLite figures and those of 1, 2 and 4 syncd on one
# PostgreSQL database come from one run and end in one table. Without
# PostgreSQL (pg-harness says why and exits 77) the SQLite figures alone,
# and make bench goes on.
B=${BRIDGED_BUILD:-build}
export PG_HARNESS_FSYNC=on
rc=0
tests/server/pg-harness run "$B/tests/server/bench-syncd" || rc=$?
if [ "$rc" -eq 77 ]; then
        echo "bench-syncd-pg: no PostgreSQL figures in this run; the SQLite ones alone"
        exec "$B/tests/server/bench-syncd"
fi
exit "$rc"
