# SPDX-License-Identifier: MIT
# tests/bridged/: the daemon's base pieces (libbridged-base.a): configuration,
# token and command line (test-conf), and the log (test-log).
BRIDGED_TEST_NAMES := test-conf test-log
TESTS += $(BRIDGED_TEST_NAMES:%=$(B)/tests/bridged/%)

$(B)/tests/bridged/test-%: $(B)/tests/bridged/test-%.o $(B)/libbridged-base.a $(B)/libuplink.a $(B)/libcodec.a \
		$(B)/libcommon.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pkglibs,cmocka) $(BRIDGED_BASE_LIBS) $(CODEC_LIBS)

# test-sync-loop: the sync loop's decision (bridged/sync-loop.c), pure.
TESTS += $(B)/tests/bridged/test-sync-loop

$(B)/tests/bridged/test-sync-loop: $(B)/tests/bridged/test-sync-loop.o $(B)/bridged/sync-loop.o
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pkglibs,cmocka)

# test-access: who may call what on the control API (bridged/access.c), pure.
TESTS += $(B)/tests/bridged/test-access

$(B)/tests/bridged/test-access: $(B)/tests/bridged/test-access.o $(B)/bridged/access.o
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pkglibs,cmocka)

# test-control-watch: the watchers the Changed signal goes to
# (bridged/control-watch.c), on a private dbus-daemon.
TESTS += $(B)/tests/bridged/test-control-watch

$(B)/tests/bridged/test-control-watch: $(B)/tests/bridged/test-control-watch.o $(B)/bridged/control-watch.o \
		$(B)/tests/lib/testbus.o
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pkglibs,cmocka libsystemd)
