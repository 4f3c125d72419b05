# SPDX-License-Identifier: MIT
# tests/: what is not one module's: fuzzers and benchmarks of the pure
# modules. Each module's tests live in tests/MODULE/ with their own module.mk
# (tests/policy, tests/codec, tests/common, tests/gatt, tests/uplink, ...);
# the helpers several suites share live in tests/lib/.
FUZZERS += $(patsubst tests/fuzz/fuzz-%.c,%,$(sort $(wildcard tests/fuzz/fuzz-*.c)))

PURE_BENCH_SRCS := $(sort $(wildcard tests/bench/bench-*.c))
BENCHES += $(PURE_BENCH_SRCS:tests/bench/%.c=$(B)/tests/bench/%)

$(B)/tests/bench/bench-%: $(B)/tests/bench/bench-%.o $(B)/libcodec.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(CODEC_LIBS)
