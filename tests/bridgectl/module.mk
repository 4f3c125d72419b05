# SPDX-License-Identifier: MIT
# tests/bridgectl/: bridgectl's text output against golden files
# (check-output.sh), with fake-bridged answering from canned JSON on a
# private bus: what a person reads, kept the same on purpose.
TESTS += tests/bridgectl/check-output.sh
CHECK_DEPS += $(B)/tests/bridgectl/fake-bridged

tests/bridgectl/check-output.sh: $(B)/bridged/bridgectl $(B)/tests/bridgectl/fake-bridged

$(B)/tests/bridgectl/fake-bridged: $(B)/tests/bridgectl/fake-bridged.o
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pkglibs,libsystemd)
