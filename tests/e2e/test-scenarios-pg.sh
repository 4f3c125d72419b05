#!/bin/sh
# SPDX-License-Identifier: MIT
# The end-to-end scenarios again with syncd on PostgreSQL: a server of its own
# from tests/server/pg-harness, each syncd on a database made there for it
# (tests/lib/harness.c).
B=${BRIDGED_BUILD:-build}
if [ "${BRIDGED_SAN:-0}" = 1 ]; then
        echo "test-scenarios-pg: skipped under the sanitizers: the scenarios run there on SQLite, the PostgreSQL store in test-syncd-pg and test-instances-pg"
        exit 77
fi
exec tests/server/pg-harness run "$B/tests/e2e/test-scenarios"
