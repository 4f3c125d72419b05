# SPDX-License-Identifier: MIT
# Scenario tests of the sync engine's core on real SQLite files: the engine,
# the store and the pure libraries, nothing of the clients.
ENGINE_TEST := $(B)/tests/engine/test-engine
TESTS += $(ENGINE_TEST)

$(ENGINE_TEST): $(B)/tests/engine/test-engine.o $(B)/bridged/engine.o $(B)/bridged/store.o \
		$(B)/libcodec.a $(B)/libcommon.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pkglibs,cmocka sqlite3) $(CODEC_LIBS)
