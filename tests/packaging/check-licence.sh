#!/bin/sh
# SPDX-License-Identifier: MIT
# Checks the licence: LICENSE holds the MIT text, debian/copyright says MIT in
# DEP-5 form, and every source file (C, make, shell, man, unit, policy) names
# it in an SPDX-License-Identifier line among its first three lines. Files
# that cannot carry a comment (JSON, the fuzz corpus, Debian's control
# files, test data read byte for byte such as golden files) are left out.
# Prints each file at fault and closes with "ok: N checked" or "FAIL: N
# without the line".
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1

fail=0
grep -q '^MIT License$' LICENSE 2>/dev/null ||
	{ echo "LICENSE: missing or not the MIT licence"; fail=1; }
grep -q '^License: MIT$' debian/copyright &&
	grep -q '^Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/$' debian/copyright ||
	{ echo "debian/copyright: not DEP-5 with License: MIT"; fail=1; }

if [ -d .git ] && command -v git >/dev/null 2>&1; then
	list() { git ls-files; }
else
	list() { find . -path ./build -prune -o -path ./.git -prune -o -type f -print | sed 's|^\./||'; }
fi

checked=0
missing=0
for f in $(list); do
	case "$f" in
	# data, no comment possible: a test's deadline in seconds (build-aux/run-tests)
	*.timeout) continue ;;
	tests/fuzz/corpus/*|tests/bridgectl/cases/*|*.json|*.md|*.gitignore|LICENSE) continue ;;
	debian/changelog|debian/control|debian/copyright|debian/source/format|debian/tests/control) continue ;;
	debian/*.docs|debian/*.install) continue ;;
	build/*|debian/.debhelper/*|debian/bridged/*|debian/bridged-syncd/*|debian/tmp/*) continue ;;
	debian/files|debian/*.substvars|debian/*.log|debian/debhelper-build-stamp) continue ;;
	esac
	checked=$((checked + 1))
	head -n 3 "$f" | grep -q 'SPDX-License-Identifier: MIT' && continue
	echo "$f: no SPDX-License-Identifier: MIT line at the top"
	missing=$((missing + 1))
done

if [ $fail -ne 0 ] || [ $missing -ne 0 ]; then
	echo "FAIL: $missing of $checked files without the line"
	exit 1
fi
echo "ok: $checked checked"
