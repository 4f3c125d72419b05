/* SPDX-License-Identifier: MIT */
/* Tests of bridged/store.c on real SQLite files: creation and migration,
 * refusals with clear messages, one daemon per directory, every table's
 * round trip, the bounded conflict log, transactions, and checkpoints
 * kept out of them. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "bridged/store.h"

struct fixture {
        char dir[64];
        struct store *s;
};

static int setup(void **state) {
        struct fixture *f = calloc(1, sizeof(*f));
        char *err = NULL;

        strcpy(f->dir, "/tmp/test-store.XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        assert_int_equal(store_open(f->dir, &f->s, &err), 0);
        assert_null(err);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        struct fixture *f = *state;
        char cmd[128];

        store_close(f->s);
        (void) snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
        assert_int_equal(system(cmd), 0);
        free(f);
        return 0;
}

static struct store_copy copy_of(uint64_t hlc, uint64_t origin, bool derived, const char *bytes) {
        struct store_copy c = { .present = true, .stamp = { hlc, origin }, .derived = derived };

        c.len = strlen(bytes);
        memcpy(c.value, bytes, c.len);
        return c;
}

static void test_items(void **state) {
        struct fixture *f = *state;
        struct store_item it = { 0 }, got;

        assert_int_equal(store_item_get(f->s, KEY_EQ_CUSTOM, FAMILY_PRO, &got), 0);
        assert_false(got.cache.present || got.server.present || got.pending);

        it.cache = copy_of(UINT64_MAX, 0x8000000000000001ull, false, "\x01\x02\x05\x03");
        it.pending = true;
        assert_int_equal(store_item_put(f->s, KEY_EQ_CUSTOM, FAMILY_PRO, &it), 0);
        assert_int_equal(store_item_get(f->s, KEY_EQ_CUSTOM, FAMILY_PRO, &got), 0);
        assert_true(got.cache.present && got.pending && !got.server.present);
        assert_true(got.cache.stamp.hlc == UINT64_MAX && got.cache.stamp.origin == 0x8000000000000001ull);
        assert_int_equal(got.cache.len, 4);
        assert_memory_equal(got.cache.value, "\x01\x02\x05\x03", 4);
        assert_int_equal(store_pending_count(f->s), 1);

        it.pending = false;
        it.server = copy_of(7, 8, true, "");
        assert_int_equal(store_item_put(f->s, KEY_EQ_CUSTOM, FAMILY_PRO, &it), 0);
        assert_int_equal(store_item_get(f->s, KEY_EQ_CUSTOM, FAMILY_PRO, &got), 0);
        assert_true(got.server.present && got.server.derived && got.server.len == 0);
        assert_int_equal(store_pending_count(f->s), 0);
        /* other families untouched */
        assert_int_equal(store_item_get(f->s, KEY_EQ_CUSTOM, FAMILY_STANDARD, &got), 0);
        assert_false(got.cache.present);
}

static void test_node_cursor_push(void **state) {
        struct fixture *f = *state;
        uint64_t node, last, issued, ms;
        char *cursor, *key, *body;

        assert_int_equal(store_node_get(f->s, &node, &last, &issued), -ENOENT);
        assert_int_equal(store_node_put(f->s, 0xfeedfacecafebeefull, 10, 9), 0);
        assert_int_equal(store_node_get(f->s, &node, &last, &issued), 0);
        assert_true(node == 0xfeedfacecafebeefull && last == 10 && issued == 9);

        assert_int_equal(store_cursor_get(f->s, &cursor), 0);
        assert_null(cursor);
        assert_int_equal(store_last_sync_put(f->s, 1234), 0);
        assert_int_equal(store_cursor_put(f->s, "c42"), 0);
        assert_int_equal(store_cursor_get(f->s, &cursor), 0);
        assert_string_equal(cursor, "c42");
        free(cursor);
        assert_int_equal(store_last_sync_get(f->s, &ms), 0);
        assert_true(ms == 1234);

        assert_int_equal(store_push_get(f->s, &key, &body), -ENOENT);
        assert_int_equal(store_push_put(f->s, "uuid-1", "{\"schema\":1}"), 0);
        assert_int_equal(store_push_get(f->s, &key, &body), 0);
        assert_string_equal(key, "uuid-1");
        assert_string_equal(body, "{\"schema\":1}");
        free(key);
        free(body);
        assert_int_equal(store_push_clear(f->s), 0);
        assert_int_equal(store_push_get(f->s, &key, &body), -ENOENT);
}

/* The bases of changes made on the Buds: kept, the newest 1024 of them. */
static void test_superseded_bounded(void **state) {
        struct fixture *f = *state;

        assert_int_equal(store_superseded_has(f->s, (struct stamp) { 1, 2 }), 0);
        for (uint64_t i = 1; i <= 1100; i++)
                assert_int_equal(store_superseded_add(f->s, (struct stamp) { i, 2 }), 0);
        assert_int_equal(store_superseded_add(f->s, (struct stamp) { 1100, 2 }), 0);     /* again: once */
        assert_int_equal(store_superseded_has(f->s, (struct stamp) { 1100, 2 }), 1);
        assert_int_equal(store_superseded_has(f->s, (struct stamp) { 1100, 3 }), 0);
        assert_int_equal(store_superseded_has(f->s, (struct stamp) { 77, 2 }), 1);
        assert_int_equal(store_superseded_has(f->s, (struct stamp) { 76, 2 }), 0);
}

static void test_conflicts_bounded(void **state) {
        struct fixture *f = *state;
        struct store_conflict c = { .key = KEY_PROFILE, .kept_family = FAMILY_ANY, .lost_family = FAMILY_ANY }, got, *all;
        size_t n;
        uint64_t id = 0, first = 0;

        strcpy(c.kept_source, "server");
        strcpy(c.lost_source, "host");
        for (unsigned i = 0; i < 5; i++) {
                c.kept = copy_of(100 + i, 1, false, "kept");
                c.lost = copy_of(50 + i, 2, false, "lost");
                c.at_ms = 1000 + i;
                assert_int_equal(store_conflict_add(f->s, &c, 3, &id), 1);
                if (i == 0)
                        first = id;
        }
        /* the same lost copy again (a re-read, a reconnect) is the same entry */
        uint64_t again = 0;
        assert_int_equal(store_conflict_add(f->s, &c, 3, &again), 0);
        assert_true(again == id);
        c.key = KEY_EQ_ACTIVE;
        assert_int_equal(store_conflict_add(f->s, &c, 3, NULL), 1);
        /* three per item, oldest dropped first; the other item keeps its own */
        assert_int_equal(store_conflict_count(f->s), 4);
        assert_int_equal(store_conflict_get(f->s, first, &got), -ENOENT);
        assert_int_equal(store_conflict_get(f->s, id, &got), 0);
        assert_true(got.lost.stamp.hlc == 54 && got.kept.stamp.hlc == 104 && got.at_ms == 1004);
        assert_string_equal(got.lost_source, "host");
        assert_memory_equal(got.lost.value, "lost", 4);
        assert_int_equal(store_conflict_list(f->s, &all, &n), 0);
        assert_int_equal(n, 4);
        assert_true(all[0].id < all[1].id && all[3].key == KEY_EQ_ACTIVE);
        free(all);
        assert_int_equal(store_conflict_add(f->s, &c, 0, NULL), -EINVAL);
}

static void test_buds(void **state) {
        struct fixture *f = *state;
        struct store_buds b = { .buds_id = 0x0102030405060708ull, .family = FAMILY_PRO, .battery = 80,
                                .last_seen_ms = 99 }, got, *all;
        struct store_buds_item it = { .revision = 7, .flags = RECORD_DIRTY }, gi;
        size_t n;

        strcpy(b.address, "AA:BB:CC:DD:EE:01");
        strcpy(b.name, "Left \xc3\xa9");
        strcpy(b.firmware, "1.0.0");
        assert_int_equal(store_buds_get(f->s, b.address, &got), -ENOENT);
        assert_int_equal(store_buds_put(f->s, &b), 0);
        assert_int_equal(store_buds_get(f->s, b.address, &got), 0);
        assert_true(got.buds_id == b.buds_id && got.family == FAMILY_PRO && got.battery == 80);
        assert_string_equal(got.name, b.name);
        assert_string_equal(got.firmware, "1.0.0");
        assert_int_equal(store_buds_list(f->s, &all, &n), 0);
        assert_int_equal(n, 1);
        free(all);

        it.copy = copy_of(5, 6, false, "payload");
        it.assigned = (struct stamp) { 11, 12 };
        assert_int_equal(store_buds_item_get(f->s, b.address, KEY_PROFILE, &gi), -ENOENT);
        assert_int_equal(store_buds_item_put(f->s, b.address, KEY_PROFILE, &it), 0);
        assert_int_equal(store_buds_item_get(f->s, b.address, KEY_PROFILE, &gi), 0);
        assert_true(gi.revision == 7 && gi.flags == RECORD_DIRTY && gi.assigned.hlc == 11 && gi.copy.len == 7);
}

static void test_transactions(void **state) {
        struct fixture *f = *state;
        struct store_item it = { .cache = copy_of(1, 1, false, "x"), .pending = true }, got;

        assert_int_equal(store_begin(f->s), 0);
        assert_int_equal(store_begin(f->s), -EBUSY);
        assert_int_equal(store_item_put(f->s, KEY_PROFILE, FAMILY_ANY, &it), 0);
        store_rollback(f->s);
        assert_int_equal(store_item_get(f->s, KEY_PROFILE, FAMILY_ANY, &got), 0);
        assert_false(got.cache.present);
        assert_int_equal(store_begin(f->s), 0);
        assert_int_equal(store_item_put(f->s, KEY_PROFILE, FAMILY_ANY, &it), 0);
        assert_int_equal(store_commit(f->s), 0);
        assert_int_equal(store_item_get(f->s, KEY_PROFILE, FAMILY_ANY, &got), 0);
        assert_true(got.cache.present);
}

static void test_relaxed_transactions(void **state) {
        struct fixture *f = *state;
        struct store_item it = { .cache = copy_of(9, 9, false, "r") }, got;

        assert_int_equal(store_begin_relaxed(f->s), 0);
        assert_int_equal(store_begin(f->s), -EBUSY);
        assert_int_equal(store_item_put(f->s, KEY_EQ_ACTIVE, FAMILY_PRO, &it), 0);
        assert_int_equal(store_commit(f->s), 0);
        assert_int_equal(store_item_get(f->s, KEY_EQ_ACTIVE, FAMILY_PRO, &got), 0);
        assert_true(got.cache.present && got.cache.stamp.hlc == 9);
        assert_int_equal(store_begin_relaxed(f->s), 0);
        store_rollback(f->s);
        /* back to full durability for the next ordinary transaction */
        assert_int_equal(store_begin(f->s), 0);
        assert_int_equal(store_commit(f->s), 0);
}

/* Frames in the WAL now, asked through a connection of the test's own
 * (a PASSIVE checkpoint's "log" column). */
static int wal_frames_of(const char *dir) {
        char path[128];
        sqlite3 *db = NULL;
        sqlite3_stmt *st = NULL;
        int n;

        (void) snprintf(path, sizeof(path), "%s/bridged.db", dir);
        assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA wal_checkpoint(PASSIVE)", -1, &st, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        n = sqlite3_column_int(st, 1);
        sqlite3_finalize(st);
        sqlite3_close(db);
        return n;
}

/* No checkpoint inside a commit at SQLite's 1,000 pages: the WAL grows past
 * them until store_checkpoint(), which copies it and starts it over. */
static void test_checkpoint_when_idle(void **state) {
        struct fixture *f = *state;
        uint64_t node, last, issued;
        char wal[128];
        struct stat st;

        assert_int_equal(store_checkpoint(f->s), 0);    /* not due */
        for (unsigned i = 1; i <= 1100; i++) {          /* a page each: the clock */
                assert_int_equal(store_begin_relaxed(f->s), 0);
                assert_int_equal(store_node_put(f->s, 7, i, i), 0);
                assert_int_equal(store_commit(f->s), 0);
        }
        (void) snprintf(wal, sizeof(wal), "%s/bridged.db-wal", f->dir);
        assert_int_equal(stat(wal, &st), 0);
        assert_true(st.st_size >= 1100 * (4096 + 24));
        assert_int_equal(store_checkpoint(f->s), 1);
        assert_int_equal(store_checkpoint(f->s), 0);    /* done: not due again */
        assert_int_equal(store_begin(f->s), 0);
        assert_int_equal(store_node_put(f->s, 7, 1101, 1101), 0);
        assert_int_equal(store_commit(f->s), 0);
        /* started over by store_checkpoint's own write, before this commit */
        assert_int_equal(wal_frames_of(f->dir), 2);
        assert_int_equal(store_node_get(f->s, &node, &last, &issued), 0);
        assert_true(node == 7 && last == 1101 && issued == 1101);
}

static void test_reopen_and_lock(void **state) {
        struct fixture *f = *state;
        struct store *other = NULL;
        struct store_item it = { .cache = copy_of(3, 4, false, "v") }, got;
        char *err = NULL;

        assert_int_equal(store_item_put(f->s, KEY_PROFILE, FAMILY_ANY, &it), 0);
        /* a second bridged on the same directory is refused */
        assert_int_equal(store_open(f->dir, &other, &err), -EBUSY);
        assert_non_null(strstr(err, "in use by another bridged"));
        free(err);
        f->s = store_close(f->s);
        assert_int_equal(store_open(f->dir, &f->s, &err), 0);
        assert_int_equal(store_item_get(f->s, KEY_PROFILE, FAMILY_ANY, &got), 0);
        assert_true(got.cache.present && got.cache.stamp.hlc == 3);
}

static void test_refusals(void **state) {
        struct fixture *f = *state;
        struct store *s = NULL;
        char *err = NULL, dir[96], path[128];
        sqlite3 *db;
        int fd;

        (void) state;
        /* no such directory */
        assert_int_equal(store_open("/nonexistent/bridged", &s, &err), -ENOENT);
        assert_string_equal(err, "state directory /nonexistent/bridged: No such file or directory");
        free(err);

        /* a newer schema is refused, and left as it is */
        (void) snprintf(dir, sizeof(dir), "%s/newer", f->dir);
        assert_int_equal(mkdir(dir, 0700), 0);
        (void) snprintf(path, sizeof(path), "%s/bridged.db", dir);
        assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
        assert_int_equal(sqlite3_exec(db, "CREATE TABLE schema (version INTEGER); INSERT INTO schema VALUES (9);",
                                      NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);
        assert_int_equal(store_open(dir, &s, &err), -EPROTONOSUPPORT);
        assert_non_null(strstr(err, "schema version 9 is newer than this bridged understands (5)"));
        free(err);

        /* not a database */
        (void) snprintf(dir, sizeof(dir), "%s/garbage", f->dir);
        assert_int_equal(mkdir(dir, 0700), 0);
        (void) snprintf(path, sizeof(path), "%s/bridged.db", dir);
        fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, "this is not a database, not at all, really", 42), 42);
        close(fd);
        assert_true(store_open(dir, &s, &err) < 0);
        assert_non_null(strstr(err, path));
        free(err);

        /* a file where the directory should be */
        assert_int_equal(store_open(path, &s, &err), -ENOTDIR);
        free(err);
}

static void test_upgrade_from_empty(void **state) {
        struct fixture *f = *state;
        struct store *s = NULL;
        char *err = NULL, dir[96], path[128];
        sqlite3 *db;
        sqlite3_stmt *st;

        /* an existing database from before the schema table (version 0) is upgraded in place */
        (void) snprintf(dir, sizeof(dir), "%s/old", f->dir);
        assert_int_equal(mkdir(dir, 0700), 0);
        (void) snprintf(path, sizeof(path), "%s/bridged.db", dir);
        assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
        assert_int_equal(sqlite3_exec(db, "CREATE TABLE unrelated (x);", NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);
        assert_int_equal(store_open(dir, &s, &err), 0);
        store_close(s);
        assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(db, "SELECT version FROM schema", -1, &st, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        assert_int_equal(sqlite3_column_int(st, 0), STORE_SCHEMA_VERSION);
        sqlite3_finalize(st);
        assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        assert_string_equal((const char *) sqlite3_column_text(st, 0), "wal");
        sqlite3_finalize(st);
        sqlite3_close(db);
}

/* Issue: a dropped table or a damaged page, and bridged started and said
 * "idle" while every Get and Set failed. Both are refused at open, saying
 * what is wrong; and whether an open error lasts (exit 78) or may pass by
 * itself (exit 1, restarted): a full disk must not stop bridged for good. */
static void test_damaged_cache(void **state) {
        struct fixture *f = *state;
        struct store *s = NULL;
        char *err = NULL, dir[96], path[128];
        uint8_t page[4096];
        sqlite3 *db;
        int fd;

        /* a table dropped */
        (void) snprintf(dir, sizeof(dir), "%s/dropped", f->dir);
        assert_int_equal(mkdir(dir, 0700), 0);
        assert_int_equal(store_open(dir, &s, &err), 0);
        store_close(s);
        (void) snprintf(path, sizeof(path), "%s/bridged.db", dir);
        assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
        assert_int_equal(sqlite3_exec(db, "DROP TABLE items;", NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);
        assert_int_equal(store_open(dir, &s, &err), -EBADMSG);
        assert_non_null(strstr(err, "the cache is damaged (table items is missing)"));
        assert_true(store_error_is_lasting(-EBADMSG));
        free(err);

        /* a page overwritten (the second: the first table's b-tree) */
        (void) snprintf(dir, sizeof(dir), "%s/damaged", f->dir);
        assert_int_equal(mkdir(dir, 0700), 0);
        assert_int_equal(store_open(dir, &s, &err), 0);
        store_close(s);
        (void) snprintf(path, sizeof(path), "%s/bridged.db", dir);
        assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
        assert_int_equal(sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE);", NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);
        memset(page, 0xa5, sizeof(page));
        fd = open(path, O_WRONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(pwrite(fd, page, sizeof(page), 4096), (ssize_t) sizeof(page));
        close(fd);
        assert_int_equal(store_open(dir, &s, &err), -EBADMSG);
        assert_non_null(strstr(err, path));
        assert_non_null(strstr(err, "damaged") ? err : strstr(err, "malformed"));
        free(err);

        /* what may pass by itself */
        assert_false(store_error_is_lasting(-ENOSPC));
        assert_false(store_error_is_lasting(-EIO));
        assert_false(store_error_is_lasting(-EBUSY));
        assert_true(store_error_is_lasting(-EACCES));
        assert_true(store_error_is_lasting(-EPROTONOSUPPORT));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_items, setup, teardown),
                cmocka_unit_test_setup_teardown(test_node_cursor_push, setup, teardown),
                cmocka_unit_test_setup_teardown(test_conflicts_bounded, setup, teardown),
                cmocka_unit_test_setup_teardown(test_superseded_bounded, setup, teardown),
                cmocka_unit_test_setup_teardown(test_buds, setup, teardown),
                cmocka_unit_test_setup_teardown(test_transactions, setup, teardown),
                cmocka_unit_test_setup_teardown(test_relaxed_transactions, setup, teardown),
                cmocka_unit_test_setup_teardown(test_checkpoint_when_idle, setup, teardown),
                cmocka_unit_test_setup_teardown(test_reopen_and_lock, setup, teardown),
                cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
                cmocka_unit_test_setup_teardown(test_upgrade_from_empty, setup, teardown),
                cmocka_unit_test_setup_teardown(test_damaged_cache, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
