# SPDX-License-Identifier: MIT
# server/: syncd, the reference sync server (docs/protocol.md): libmicrohttpd with
# GnuTLS, SQLite, zlib, cJSON, inih (the configuration file), libcodec, and
# of libsystemd sd-journal and sd_notify only (no sd-bus, no sd-event). Its
# tests and benchmark live in tests/server/ and start the built binary.
SYNCD_SRCS := $(sort $(wildcard server/*.c))
SYNCD_OBJS := $(SYNCD_SRCS:%.c=$(B)/%.o)
SYNCD_LIBS = $(call pkglibs,libmicrohttpd gnutls sqlite3 zlib inih libsystemd) $(CODEC_LIBS)
SYNCD_TEST_LIBS = $(call pkglibs,libcurl)

PROGRAMS += $(B)/server/syncd
INSTALLED_PROGRAMS += $(B)/server/syncd

$(B)/server/syncd: $(SYNCD_OBJS) $(B)/common/errmsg.o $(B)/common/ini-file.o $(B)/common/ini-line.o $(B)/libcodec.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(SYNCD_LIBS)

# The suites drive the binary over HTTPS with libcurl (certificates from
# tests/lib/mkcerts.sh); the binary is an order-only prerequisite.
TESTS += $(B)/tests/server/test-syncd $(B)/tests/server/test-limits $(B)/tests/server/test-hostile \
	$(B)/tests/server/test-observe $(B)/tests/server/test-conf $(B)/tests/server/test-reload \
	$(B)/tests/server/test-backup
# test-syncd once more with every syncd on PostgreSQL (tests/server/pg-harness),
# two syncd on one PostgreSQL database (test-instances-pg.sh), and the other
# suites that reach the store (test-more-pg.sh).
TESTS += tests/server/test-syncd-pg.sh tests/server/test-instances-pg.sh tests/server/test-more-pg.sh
tests/server/test-more-pg.sh: $(B)/tests/server/test-limits $(B)/tests/server/test-observe \
	$(B)/tests/server/test-reload $(B)/tests/e2e/test-regress
tests/server/test-syncd-pg.sh: $(B)/tests/server/test-syncd
tests/server/test-instances-pg.sh: $(B)/tests/server/test-instances

$(B)/tests/server/test-instances: $(B)/tests/server/test-instances.o $(B)/tests/lib/harness.o | $(B)/server/syncd
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pkglibs,cmocka libcjson) $(SYNCD_TEST_LIBS)
# syncd's figures: bench-syncd once, through the script that gives it a
# PostgreSQL of its own (SQLite and PostgreSQL in one table; SQLite alone,
# saying why, where PostgreSQL is missing)
BENCHES += tests/server/bench-syncd-pg.sh
tests/server/bench-syncd-pg.sh: $(B)/tests/server/bench-syncd

$(B)/tests/server/test-syncd: $(B)/tests/server/test-syncd.o $(B)/tests/lib/harness.o | $(B)/server/syncd
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pkglibs,cmocka libcjson) $(SYNCD_TEST_LIBS)

# The limits and start-up checks; reads and damages database files with sqlite3.
$(B)/tests/server/test-limits: $(B)/tests/server/test-limits.o $(B)/tests/lib/harness.o | $(B)/server/syncd
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pkglibs,cmocka libcjson sqlite3) $(SYNCD_TEST_LIBS)

# Hostile clients: raw TCP and GnuTLS sessions where libcurl cannot misbehave enough.
$(B)/tests/server/test-hostile: $(B)/tests/server/test-hostile.o $(B)/tests/lib/harness.o $(B)/tests/lib/rawclient.o \
		| $(B)/server/syncd
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pkglibs,cmocka libcjson gnutls) $(SYNCD_TEST_LIBS)

# The access log, /metrics (with promtool when installed), health and gzip;
# zlib to inflate the answers.
$(B)/tests/server/test-observe: $(B)/tests/server/test-observe.o $(B)/tests/lib/harness.o | $(B)/server/syncd
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pkglibs,cmocka zlib) $(SYNCD_TEST_LIBS)

# The configuration file: conf.c and settings.c on their own, then the binary
# started with --config.
$(B)/tests/server/test-conf: $(B)/tests/server/test-conf.o $(B)/server/conf.o $(B)/server/settings.o $(B)/common/ini-file.o $(B)/common/ini-line.o \
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

# promtool, Prometheus's own parser of the text format, for test-observe:
# unpacked from Debian's prometheus package into the build directory, not
# installed (installing the package would start a Prometheus server). The
# sanitizer pass copies the normal pass's. When the package cannot be had,
# test-observe says so and skips that one test.
PROMTOOL_DIR := $(B)/promtool
CHECK_DEPS += $(PROMTOOL_DIR)/usr/bin/promtool

$(PROMTOOL_DIR)/usr/bin/promtool:
	@mkdir -p $(PROMTOOL_DIR)
	@if [ -x build/promtool/usr/bin/promtool ] && [ "$(PROMTOOL_DIR)" != build/promtool ]; then \
		cp -a build/promtool/. $(PROMTOOL_DIR)/; \
	else \
		cd $(PROMTOOL_DIR) && { apt-get download prometheus >/dev/null 2>&1 || \
			{ [ "$$(id -u)" -eq 0 ] && apt-get update -qq >/dev/null 2>&1 && \
			  apt-get download prometheus >/dev/null 2>&1; }; } && \
		dpkg-deb -x prometheus_*.deb . && rm -f prometheus_*.deb || \
		echo "promtool: Debian's prometheus package could not be had; test-observe skips its check"; \
	fi
