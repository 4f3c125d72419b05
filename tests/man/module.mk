# SPDX-License-Identifier: MIT
# tests/man/: the manual pages (check-man.sh): man --warnings lint of each,
# and each program's --help held against its page. It runs the built programs.
TESTS += tests/man/check-man.sh

tests/man/check-man.sh: $(B)/bridged/bridged $(B)/bridged/bridgectl $(B)/server/syncd
