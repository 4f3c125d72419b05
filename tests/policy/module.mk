# SPDX-License-Identifier: MIT
# tests/policy/: one cmocka test per module of policy/ (value, hlc, arbitrate,
# eqconv), bytes and numbers written out, against the shared vectors where
# docs/vectors has them. Linked with libcodec.a, which carries policy's objects.
POLICY_TEST_SRCS := $(sort $(wildcard tests/policy/test-*.c))
TESTS += $(POLICY_TEST_SRCS:%.c=$(B)/%)

$(B)/tests/policy/test-%: $(B)/tests/policy/test-%.o $(B)/libcodec.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pkglibs,cmocka) $(CODEC_LIBS)

$(B)/tests/policy/test-arbitrate $(B)/tests/policy/test-eqconv: $(B)/tests/lib/vectors.o
