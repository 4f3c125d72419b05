# tests/e2e/: the scenarios end to end on real parts — a private
# dbus-daemon, budsim, syncd over TLS and bridged itself.
E2E_OBJS := $(B)/tests/e2e/e2e.o $(B)/tests/server/harness.o $(B)/tests/server/phone.o $(B)/tests/lib/testbus.o $(B)/tests/lib/values.o
TESTS += $(B)/tests/e2e/test-scenarios

$(B)/tests/e2e/test-scenarios: $(B)/tests/e2e/test-scenarios.o $(E2E_OBJS) $(B)/libcodec.a \
		| $(B)/bridged/bridged $(B)/bridged/bridgectl $(B)/tests/budsim/budsim $(B)/server/syncd
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pkglibs,cmocka libsystemd libcurl) $(CODEC_LIBS)

BENCHES += $(B)/tests/e2e/bench-bridged

$(B)/tests/e2e/bench-bridged: $(B)/tests/e2e/bench-bridged.o $(E2E_OBJS) $(B)/libcodec.a \
		| $(B)/bridged/bridged $(B)/tests/budsim/budsim $(B)/server/syncd
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pkglibs,libsystemd libcurl) $(CODEC_LIBS)
