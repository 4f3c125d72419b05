# SPDX-License-Identifier: MIT
# tests/codec/: one cmocka test per codec of codec/ (wire, recjson,
# parametric) and the shared vectors of docs/vectors that concern them
# (test-vectors-codec, test-vectors-parametric), linking libcodec.a alone.
CODEC_TEST_SRCS := $(sort $(wildcard tests/codec/test-*.c))
TESTS += $(CODEC_TEST_SRCS:%.c=$(B)/%)

$(B)/tests/codec/test-%: $(B)/tests/codec/test-%.o $(B)/libcodec.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pkglibs,cmocka) $(CODEC_LIBS)

$(B)/tests/codec/test-vectors-codec $(B)/tests/codec/test-vectors-parametric: $(B)/tests/lib/vectors.o
