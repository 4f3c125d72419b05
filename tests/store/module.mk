# SPDX-License-Identifier: MIT
# The store's tests on real SQLite files. (The store's object joins the
# daemon's library in bridged/module.mk; until then it is built here.)
STORE_TEST := $(B)/tests/store/test-store
TESTS += $(STORE_TEST)

$(STORE_TEST): $(B)/tests/store/test-store.o $(B)/bridged/store.o $(B)/libcommon.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pkglibs,cmocka sqlite3)
