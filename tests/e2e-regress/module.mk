# tests/e2e-regress/: end-to-end regression tests of bugs found on the real
# stack (tests/hil), on the same harness as tests/e2e.
E2E_REGRESS_OBJS := $(B)/tests/e2e/e2e.o $(B)/tests/server/harness.o $(B)/tests/server/phone.o $(B)/tests/lib/testbus.o
TESTS += $(B)/tests/e2e/test-regress

$(B)/tests/e2e/test-regress: $(B)/tests/e2e/test-regress.o $(E2E_REGRESS_OBJS) $(B)/libcodec.a \
		| $(B)/bridged/bridged $(B)/tests/budsim/budsim $(B)/server/syncd
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pkglibs,cmocka libsystemd libcurl sqlite3) $(CODEC_LIBS)
