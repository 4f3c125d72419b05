#!/bin/sh
# SPDX-License-Identifier: MIT
# test-instances on a PostgreSQL server of its own (tests/server/pg-harness).
B=${BRIDGED_BUILD:-build}
exec tests/server/pg-harness run "$B/tests/server/test-instances"
