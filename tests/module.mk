# tests/: unit tests (cmocka, one per pure module), fuzzers, benchmarks of the
# pure modules. Integration suites add themselves from their own module.mk.
UNIT_SRCS := $(sort $(wildcard tests/unit/test-*.c))
UNIT_TESTS := $(UNIT_SRCS:tests/unit/%.c=$(B)/tests/unit/%)
TESTS += $(UNIT_TESTS)

$(B)/tests/unit/test-%: $(B)/tests/unit/test-%.o $(B)/libcodec.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pkglibs,cmocka) $(CODEC_LIBS)

FUZZERS += $(patsubst tests/fuzz/fuzz-%.c,%,$(sort $(wildcard tests/fuzz/fuzz-*.c)))

PURE_BENCH_SRCS := $(sort $(wildcard tests/bench/bench-*.c))
BENCHES += $(PURE_BENCH_SRCS:tests/bench/%.c=$(B)/tests/bench/%)

$(B)/tests/bench/bench-%: $(B)/tests/bench/bench-%.o $(B)/libcodec.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(CODEC_LIBS)
