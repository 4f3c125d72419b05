#!/bin/sh
# SPDX-License-Identifier: MIT
# The four scenarios of one service (online, offline and restart, a phone
# switch, a Buds switch) with bridged through HAProxy (TCP, round robin) to
# two syncd on one PostgreSQL database of its own (tests/server/pg-harness).
# Skips (77) without haproxy, which build-aux/deps installs.
B=${BRIDGED_BUILD:-build}
if [ "${BRIDGED_SAN:-0}" = 1 ]; then
        echo "test-scenarios-haproxy: skipped under the sanitizers: the scenarios run there on SQLite, the PostgreSQL store in test-syncd-pg and test-instances-pg"
        exit 77
fi
command -v haproxy >/dev/null 2>&1 || { echo "test-scenarios-haproxy: haproxy is not installed"; exit 77; }
export E2E_HAPROXY=1
exec tests/server/pg-harness run "$B/tests/e2e/test-scenarios"
