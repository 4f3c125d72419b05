# Scenario tests of the sync engine's core on real SQLite files. The engine
# writes its push body with uplink-json (libuplink.a: that object alone).
ENGINE_TEST := $(B)/tests/engine/test-engine
TESTS += $(ENGINE_TEST)

$(ENGINE_TEST): $(B)/tests/engine/test-engine.o $(B)/bridged/engine.o $(B)/bridged/store.o \
		$(B)/libuplink.a $(B)/libcodec.a $(B)/libcommon.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pkglibs,cmocka sqlite3) $(CODEC_LIBS)
