# SPDX-License-Identifier: MIT
# tests/common/: the helpers of common/ (backoff, Buds address, random, error messages),
# linking libcommon.a alone.
TESTS += $(B)/tests/common/test-common

$(B)/tests/common/test-common: $(B)/tests/common/test-common.o $(B)/libcommon.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pkglibs,cmocka)
