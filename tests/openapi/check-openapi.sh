#!/bin/sh
# SPDX-License-Identifier: MIT
# Validates docs/sync-api.yaml against the OpenAPI 3.1 specification's own
# schema, and checks that every $ref in it resolves, with
# @seriousme/openapi-schema-validator (pinned in package-lock.json beside this
# script; make installs it into BUILD/openapi with npm ci). Without the
# validator (no npm, or no registry when make ran) it skips, exit 77, saying
# what is missing: never a silent pass. Prints "ok: 1 passed, 0 failed" or the
# validator's complaints.
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
b=${BRIDGED_BUILD:-$top/build}
case "$b" in /*) ;; *) b=$top/$b ;; esac
validator=$b/openapi/node_modules/@seriousme/openapi-schema-validator/bin/validate-api-cli.js

if ! command -v node >/dev/null 2>&1; then
	echo "openapi: skipped: node is not installed (Debian: nodejs)"
	exit 77
fi
if [ ! -f "$validator" ]; then
	why=$(cat "$b/openapi/missing" 2>/dev/null)
	echo "openapi: skipped: ${why:-the validator is not installed (make installs it into $b/openapi)}"
	exit 77
fi

out=$(node "$validator" "$top/docs/sync-api.yaml" 2>&1)
rc=$?
if [ $rc -ne 0 ]; then
	echo "$out"
	echo "FAIL: docs/sync-api.yaml is not a valid OpenAPI 3.1 description"
	exit 1
fi
echo "docs/sync-api.yaml: valid OpenAPI 3.1 ($(node -p "require('$b/openapi/node_modules/@seriousme/openapi-schema-validator/package.json').version" 2>/dev/null | sed 's/^/@seriousme\/openapi-schema-validator /'))"
echo "ok: 1 passed, 0 failed"
