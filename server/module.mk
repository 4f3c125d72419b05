# SPDX-License-Identifier: MIT
# server/: syncd, the reference sync server (docs/protocol.md): libmicrohttpd with
# GnuTLS, SQLite, cJSON, inih (the configuration file), libcodec, and
# libsystemd for sd_notify only (no sd-bus, no sd-event). Its tests and
# benchmark live in tests/server/ and start the built binary.
SYNCD_SRCS := $(sort $(wildcard server/*.c))
SYNCD_OBJS := $(SYNCD_SRCS:%.c=$(B)/%.o)
SYNCD_LIBS = $(call pkglibs,libmicrohttpd gnutls sqlite3 inih libsystemd) $(CODEC_LIBS)
SYNCD_TEST_LIBS = $(call pkglibs,libcurl)

PROGRAMS += $(B)/server/syncd

$(B)/server/syncd: $(SYNCD_OBJS) $(B)/common/errmsg.o $(B)/libcodec.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(SYNCD_LIBS)

# The suites drive the binary over HTTPS with libcurl (certificates from
# tests/lib/mkcerts.sh); the binary is an order-only prerequisite.
TESTS += $(B)/tests/server/test-syncd $(B)/tests/server/test-limits $(B)/tests/server/test-hostile \
	$(B)/tests/server/test-conf $(B)/tests/server/test-reload $(B)/tests/server/test-backup
BENCHES += $(B)/tests/server/bench-syncd

$(B)/tests/server/test-syncd: $(B)/tests/server/test-syncd.o $(B)/tests/lib/harness.o | $(B)/server/syncd
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pkglibs,cmocka libcjson) $(SYNCD_TEST_LIBS)

# The limits and start-up checks; reads and damages database files with sqlite3.
$(B)/tests/server/test-limits: $(B)/tests/server/test-limits.o $(B)/tests/lib/harness.o | $(B)/server/syncd
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pkglibs,cmocka libcjson sqlite3) $(SYNCD_TEST_LIBS)

# Hostile clients: raw TCP and GnuTLS sessions where libcurl cannot misbehave enough.
$(B)/tests/server/test-hostile: $(B)/tests/server/test-hostile.o $(B)/tests/lib/harness.o $(B)/tests/lib/rawclient.o \
		| $(B)/server/syncd
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pkglibs,cmocka libcjson gnutls) $(SYNCD_TEST_LIBS)

# The configuration file: conf.c and settings.c on their own, then the binary
# started with --config.
$(B)/tests/server/test-conf: $(B)/tests/server/test-conf.o $(B)/server/conf.o $(B)/server/settings.o \
		$(B)/tests/lib/harness.o | $(B)/server/syncd
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pkglibs,cmocka inih) $(SYNCD_TEST_LIBS)

# Reloads under load: long polls parked across SIGHUP, tokens and
# certificates replaced, bad files refused.
$(B)/tests/server/test-reload: $(B)/tests/server/test-reload.o $(B)/tests/lib/harness.o | $(B)/server/syncd
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pkglibs,cmocka libcjson) $(SYNCD_TEST_LIBS)

# syncd --backup during pushes, the copy restored and served; makes its
# sizeable database with sqlite3.
$(B)/tests/server/test-backup: $(B)/tests/server/test-backup.o $(B)/tests/lib/harness.o | $(B)/server/syncd
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pkglibs,cmocka libcjson sqlite3) $(SYNCD_TEST_LIBS)

$(B)/tests/server/bench-syncd: $(B)/tests/server/bench-syncd.o $(B)/tests/lib/harness.o | $(B)/server/syncd
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(SYNCD_TEST_LIBS)

INSTALL_RULES += install-syncd

install-syncd: $(B)/server/syncd
	install -D -m 0755 $(B)/server/syncd $(DESTDIR)$(SBINDIR)/syncd

.PHONY: install-syncd
