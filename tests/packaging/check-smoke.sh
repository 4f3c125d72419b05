#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs debian/tests/smoke (the autopkgtest) with the built bridged,
# bridgectl and syncd first on PATH. Exit 77 (skip) without dbus-daemon,
# curl or openssl, which the autopkgtest's Depends bring in a package test.
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
build="${BRIDGED_BUILD:-build}"
case "$build" in /*) ;; *) build="$top/$build" ;; esac
for tool in dbus-daemon curl openssl; do
        command -v "$tool" >/dev/null 2>&1 || { echo "skip: $tool is not installed"; exit 77; }
done
PATH="$build/bridged:$build/server:$PATH" sh "$top/debian/tests/smoke"
