#!/bin/sh
# SPDX-License-Identifier: MIT
# The end-to-end scenarios again with syncd on PostgreSQL: a server of its own
# from tests/server/pg-harness, each syncd on a database made there for it
# (tests/lib/harness.c).
B=${BRIDGED_BUILD:-build}
exec tests/server/pg-harness run "$B/tests/e2e/test-scenarios"
