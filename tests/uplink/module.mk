# SPDX-License-Identifier: MIT
# tests/uplink/: the HTTPS client of the sync API (uplink/*.c),
# its tests and its benchmark.

# test-uplink-json, test-uplink-error: the pure parts (bodies, answer readers,
# keys, the error table), bytes written out.
# test-uplink: the client against the real syncd over TLS (certificates from
# tests/lib/mkcerts.sh); syncd is an order-only prerequisite.
TESTS += $(B)/tests/uplink/test-uplink-json $(B)/tests/uplink/test-uplink-error $(B)/tests/uplink/test-uplink
BENCHES += $(B)/tests/uplink/bench-uplink

$(B)/tests/uplink/test-uplink-json $(B)/tests/uplink/test-uplink-error: $(B)/tests/uplink/%: \
		$(B)/tests/uplink/%.o $(B)/libuplink.a $(B)/libcodec.a $(B)/libcommon.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pkglibs,cmocka) $(UPLINK_LIBS)

$(B)/tests/uplink/test-uplink: $(B)/tests/uplink/test-uplink.o $(B)/tests/uplink/syncd-harness.o $(B)/tests/lib/harness.o \
		$(B)/libuplink.a $(B)/libcodec.a $(B)/libcommon.a | $(B)/server/syncd
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pkglibs,cmocka) $(UPLINK_LIBS)

$(B)/tests/uplink/bench-uplink: $(B)/tests/uplink/bench-uplink.o $(B)/tests/uplink/syncd-harness.o $(B)/tests/lib/harness.o \
		$(B)/libuplink.a $(B)/libcodec.a $(B)/libcommon.a | $(B)/server/syncd
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(UPLINK_LIBS)
