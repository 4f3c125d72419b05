#!/bin/sh
# SPDX-License-Identifier: MIT
# test-syncd again on PostgreSQL: a server of its own from tests/server/pg-harness,
# each syncd of the suite on a database made there for it (tests/lib/harness.c),
# and the suite's test of the database stopped and started under syncd.
B=${BRIDGED_BUILD:-build}
exec tests/server/pg-harness run "$B/tests/server/test-syncd"
