# SPDX-License-Identifier: MIT
# make demo: the four scenarios, narrated (tests/demo/demo.c on the e2e harness).
DEMO := $(B)/tests/demo/demo

$(DEMO): $(B)/tests/demo/demo.o $(B)/tests/e2e/e2e.o $(B)/tests/lib/harness.o $(B)/tests/lib/phone.o $(B)/tests/lib/testbus.o $(B)/libcodec.a \
		| $(B)/bridged/bridged $(B)/bridged/bridgectl $(B)/tests/budsim/budsim $(B)/server/syncd
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pkglibs,libsystemd libcurl) $(CODEC_LIBS)
