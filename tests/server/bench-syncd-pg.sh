#!/bin/sh
# SPDX-License-Identifier: MIT
# bench-syncd with a PostgreSQL server of its own (tests/server/pg-harness):
# the SQLite figures, then the same on PostgreSQL, its commits synced to disk
# as SQLite's are.
B=${BRIDGED_BUILD:-build}
export PG_HARNESS_FSYNC=on
exec tests/server/pg-harness run "$B/tests/server/bench-syncd"
