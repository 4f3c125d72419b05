# SPDX-License-Identifier: MIT
# tests/e2e/: the scenarios end to end on real parts — a private
# dbus-daemon, budsim, syncd over TLS and bridged itself (test-scenarios),
# the regression tests of bugs found on the real stack (tests/hil) on the
# same harness (test-regress), and bridgectl's eq import and export
# (test-eq-import).
E2E_OBJS := $(B)/tests/e2e/e2e.o $(B)/tests/lib/harness.o $(B)/tests/lib/phone.o $(B)/tests/lib/testbus.o $(B)/tests/lib/values.o
TESTS += $(B)/tests/e2e/test-scenarios

$(B)/tests/e2e/test-scenarios: $(B)/tests/e2e/test-scenarios.o $(E2E_OBJS) $(B)/libcodec.a \
		| $(B)/bridged/bridged $(B)/bridged/bridgectl $(B)/tests/budsim/budsim $(B)/server/syncd
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pkglibs,cmocka libsystemd libcurl) $(CODEC_LIBS)

# The same scenarios with syncd on PostgreSQL (tests/server/pg-harness), and
# the four of one service with bridged through HAProxy to two syncd on one
# database (test-scenarios-haproxy.sh).
TESTS += tests/e2e/test-scenarios-pg.sh tests/e2e/test-scenarios-haproxy.sh
tests/e2e/test-scenarios-pg.sh tests/e2e/test-scenarios-haproxy.sh: $(B)/tests/e2e/test-scenarios

# bridgectl eq import and eq export (test-eq-import), on the same harness.
TESTS += $(B)/tests/e2e/test-eq-import

$(B)/tests/e2e/test-eq-import: $(B)/tests/e2e/test-eq-import.o $(E2E_OBJS) $(B)/libcodec.a \
		| $(B)/bridged/bridged $(B)/bridged/bridgectl $(B)/tests/budsim/budsim $(B)/server/syncd
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pkglibs,cmocka libsystemd libcurl) $(CODEC_LIBS)

# One TLS library (test-libraries): GnuTLS in bridged and syncd, never
# OpenSSL's libssl, read from /proc/PID/maps of the running processes.
TESTS += $(B)/tests/e2e/test-libraries

$(B)/tests/e2e/test-libraries: $(B)/tests/e2e/test-libraries.o $(E2E_OBJS) $(B)/tests/lib/procinfo.o $(B)/libcodec.a \
		| $(B)/bridged/bridged $(B)/tests/budsim/budsim $(B)/server/syncd
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pkglibs,cmocka libsystemd libcurl) $(CODEC_LIBS)

BENCHES += $(B)/tests/e2e/bench-bridged

$(B)/tests/e2e/bench-bridged: $(B)/tests/e2e/bench-bridged.o $(E2E_OBJS) $(B)/tests/lib/procinfo.o $(B)/libcodec.a \
		| $(B)/bridged/bridged $(B)/tests/budsim/budsim $(B)/server/syncd
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pkglibs,libsystemd libcurl sqlite3) $(CODEC_LIBS)

E2E_REGRESS_OBJS := $(B)/tests/e2e/e2e.o $(B)/tests/lib/harness.o $(B)/tests/lib/phone.o $(B)/tests/lib/testbus.o
TESTS += $(B)/tests/e2e/test-regress

$(B)/tests/e2e/test-regress: $(B)/tests/e2e/test-regress.o $(E2E_REGRESS_OBJS) $(B)/tests/lib/values.o $(B)/libcodec.a \
		| $(B)/bridged/bridged $(B)/tests/budsim/budsim $(B)/server/syncd
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pkglibs,cmocka libsystemd libcurl sqlite3) $(CODEC_LIBS)

# bridged against a server that lies in well-formed JSON (syncd's fault
# action "answer"): bounded work, a clear error, nothing stored lost.
TESTS += $(B)/tests/e2e/test-liar

$(B)/tests/e2e/test-liar: $(B)/tests/e2e/test-liar.o $(E2E_REGRESS_OBJS) $(B)/tests/lib/values.o $(B)/libcodec.a \
		| $(B)/bridged/bridged $(B)/tests/budsim/budsim $(B)/server/syncd
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pkglibs,cmocka libsystemd libcurl) $(CODEC_LIBS)

# The chaos soak (soak.c): three bridged, one syncd, Buds moving, kill -9
# and faults for SOAK_SECONDS (default 60), then the invariants at
# quiescence. In make check with its default length; `make soak
# SOAK_SECONDS=N [SOAK_SEED=N] [SOAK_PUSH_LIMIT=N]` runs it alone.
SOAK := $(B)/tests/e2e/soak
TESTS += $(SOAK)

$(SOAK): $(B)/tests/e2e/soak.o $(E2E_REGRESS_OBJS) $(B)/tests/lib/values.o $(B)/libcodec.a $(B)/libcommon.a \
		| $(B)/bridged/bridged $(B)/bridged/bridgectl $(B)/tests/budsim/budsim $(B)/server/syncd
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pkglibs,libsystemd libcurl) $(CODEC_LIBS)

soak: $(SOAK)
	@BRIDGED_BUILD=$(B) $(SOAK)

.PHONY: soak
