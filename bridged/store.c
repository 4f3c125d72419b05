/* SPDX-License-Identifier: MIT */
/* SQLite store of the bridge (see store.h). Owns the database handle and its
 * prepared statements; knows the schema and its migrations. Never interprets
 * a value, never decides anything: the sync engine does. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common/cleanup.h"
#include "common/errmsg.h"
#include "store.h"

enum stmt {
        ST_NODE_GET, ST_NODE_PUT, ST_PAST_NODE_ADD, ST_PAST_NODE_HAS, ST_SHARED_NODE_ADD, ST_SHARED_NODE_HAS,
        ST_SUPERSEDED_ADD, ST_SUPERSEDED_TRIM,
        ST_SUPERSEDED_HAS,
        ST_SUPERSEDED_COVERS,
        ST_ITEM_GET, ST_ITEM_PUT, ST_PENDING_COUNT,
        ST_CURSOR_GET, ST_CURSOR_PUT, ST_LAST_SYNC_PUT,
        ST_PUSH_GET, ST_PUSH_PUT, ST_PUSH_CLEAR,
        ST_CONFLICT_ADD, ST_CONFLICT_FIND, ST_CONFLICT_TRIM, ST_CONFLICT_GET, ST_CONFLICT_LIST, ST_CONFLICT_COUNT,
        ST_CONFLICT_RESTORED, ST_CONFLICT_DISMISS, ST_CONFLICT_DISMISS_ALL,
        ST_BUDS_PUT, ST_BUDS_GET, ST_BUDS_LIST,
        ST_BUDS_ITEM_GET, ST_BUDS_ITEM_PUT, ST_BUDS_ITEM_FORGET,
        _ST_MAX,
};

#define CONFLICT_COLS "id, key, kept_family, kept_hlc, kept_origin, kept_derived, kept_value, kept_source, " \
        "lost_family, lost_hlc, lost_origin, lost_derived, lost_value, lost_source, at_ms, restored_ms"
#define BUDS_COLS "address, buds_id, family, name, manufacturer, model, serial, firmware, battery, last_seen_ms"

static const char *const stmt_sql[_ST_MAX] = {
        [ST_NODE_GET] = "SELECT node_id, clock_last, clock_issued FROM node",
        [ST_NODE_PUT] = "INSERT OR REPLACE INTO node (one, node_id, clock_last, clock_issued) VALUES (1, ?, ?, ?)",
        [ST_PAST_NODE_ADD] = "INSERT OR IGNORE INTO past_nodes (node_id) VALUES (?)",
        [ST_PAST_NODE_HAS] = "SELECT 1 FROM past_nodes WHERE node_id = ?",
        [ST_SHARED_NODE_ADD] = "INSERT OR IGNORE INTO shared_nodes (node_id) VALUES (?)",
        [ST_SHARED_NODE_HAS] = "SELECT 1 FROM shared_nodes WHERE node_id = ?",
        [ST_SUPERSEDED_ADD] = "INSERT OR IGNORE INTO superseded (hlc, origin) VALUES (?, ?)",
        [ST_SUPERSEDED_TRIM] = "DELETE FROM superseded WHERE rowid <= (SELECT MAX(rowid) FROM superseded) - 1024",
        [ST_SUPERSEDED_HAS] = "SELECT 1 FROM superseded WHERE hlc = ? AND origin = ?",
        [ST_SUPERSEDED_COVERS] = "SELECT 1 FROM superseded WHERE hlc >= ? AND origin = ? LIMIT 1",
        [ST_ITEM_GET] = "SELECT cache_hlc, cache_origin, cache_derived, cache_value, pending, "
                        "server_hlc, server_origin, server_derived, server_value, adopted, refused_hlc, refused_origin "
                        "FROM items WHERE key = ? AND family = ?",
        [ST_ITEM_PUT] = "INSERT OR REPLACE INTO items (key, family, cache_hlc, cache_origin, cache_derived, cache_value, "
                        "pending, server_hlc, server_origin, server_derived, server_value, adopted, refused_hlc, "
                        "refused_origin) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [ST_PENDING_COUNT] = "SELECT count(*) FROM items WHERE pending != 0",
        [ST_CURSOR_GET] = "SELECT cursor, last_sync_ms FROM sync",
        [ST_CURSOR_PUT] = "INSERT INTO sync (one, cursor) VALUES (1, ?) "
                          "ON CONFLICT (one) DO UPDATE SET cursor = excluded.cursor",
        [ST_LAST_SYNC_PUT] = "INSERT INTO sync (one, last_sync_ms) VALUES (1, ?) "
                             "ON CONFLICT (one) DO UPDATE SET last_sync_ms = excluded.last_sync_ms",
        [ST_PUSH_GET] = "SELECT idem_key, body FROM push",
        [ST_PUSH_PUT] = "INSERT OR REPLACE INTO push (one, idem_key, body) VALUES (1, ?, ?)",
        [ST_PUSH_CLEAR] = "DELETE FROM push",
        [ST_CONFLICT_ADD] = "INSERT INTO conflicts (key, kept_family, kept_hlc, kept_origin, kept_derived, kept_value, "
                            "kept_source, lost_family, lost_hlc, lost_origin, lost_derived, lost_value, lost_source, at_ms) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [ST_CONFLICT_FIND] = "SELECT id FROM conflicts WHERE key = ? AND lost_family = ? AND lost_hlc = ? AND "
                             "lost_origin = ? AND lost_source = ?",
        [ST_CONFLICT_TRIM] = "DELETE FROM conflicts WHERE key = ?1 AND id NOT IN "
                             "(SELECT id FROM conflicts WHERE key = ?1 ORDER BY id DESC LIMIT ?2)",
        [ST_CONFLICT_GET] = "SELECT " CONFLICT_COLS " FROM conflicts WHERE id = ?",
        [ST_CONFLICT_LIST] = "SELECT " CONFLICT_COLS " FROM conflicts ORDER BY id",
        [ST_CONFLICT_COUNT] = "SELECT count(*) FROM conflicts WHERE restored_ms = 0",
        [ST_CONFLICT_RESTORED] = "UPDATE conflicts SET restored_ms = ? WHERE id = ?",
        [ST_CONFLICT_DISMISS] = "DELETE FROM conflicts WHERE id = ?",
        [ST_CONFLICT_DISMISS_ALL] = "DELETE FROM conflicts",
        [ST_BUDS_PUT] = "INSERT OR REPLACE INTO buds (" BUDS_COLS ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [ST_BUDS_GET] = "SELECT " BUDS_COLS " FROM buds WHERE address = ?",
        [ST_BUDS_LIST] = "SELECT " BUDS_COLS " FROM buds ORDER BY last_seen_ms DESC, address",
        [ST_BUDS_ITEM_GET] = "SELECT revision, flags, hlc, origin, derived, value, assigned_hlc, assigned_origin, "
                             "known FROM buds_items WHERE address = ? AND key = ?",
        [ST_BUDS_ITEM_FORGET] = "DELETE FROM buds_items WHERE address = ? AND key = ?",
        [ST_BUDS_ITEM_PUT] = "INSERT OR REPLACE INTO buds_items (address, key, revision, flags, hlc, origin, derived, "
                             "value, assigned_hlc, assigned_origin, known) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
};

/* migrations[i] takes the schema from version i to i + 1 */
static const char *const migrations[] = {
        "CREATE TABLE schema (version INTEGER NOT NULL);"
        "INSERT INTO schema (version) VALUES (0);"
        "CREATE TABLE node (one INTEGER PRIMARY KEY CHECK (one = 1), node_id INTEGER NOT NULL,"
        "  clock_last INTEGER NOT NULL, clock_issued INTEGER NOT NULL);"
        "CREATE TABLE items (key INTEGER NOT NULL, family INTEGER NOT NULL,"
        "  cache_hlc INTEGER, cache_origin INTEGER, cache_derived INTEGER NOT NULL DEFAULT 0, cache_value BLOB,"
        "  pending INTEGER NOT NULL DEFAULT 0,"
        "  server_hlc INTEGER, server_origin INTEGER, server_derived INTEGER NOT NULL DEFAULT 0, server_value BLOB,"
        "  adopted INTEGER NOT NULL DEFAULT 0, refused_hlc INTEGER NOT NULL DEFAULT 0,"
        "  refused_origin INTEGER NOT NULL DEFAULT 0,"
        "  PRIMARY KEY (key, family));"
        "CREATE TABLE sync (one INTEGER PRIMARY KEY CHECK (one = 1), cursor TEXT,"
        "  last_sync_ms INTEGER NOT NULL DEFAULT 0);"
        "CREATE TABLE push (one INTEGER PRIMARY KEY CHECK (one = 1), idem_key TEXT NOT NULL, body TEXT NOT NULL);"
        "CREATE TABLE conflicts (id INTEGER PRIMARY KEY AUTOINCREMENT, key INTEGER NOT NULL,"
        "  kept_family INTEGER NOT NULL, kept_hlc INTEGER NOT NULL, kept_origin INTEGER NOT NULL,"
        "  kept_derived INTEGER NOT NULL, kept_value BLOB NOT NULL, kept_source TEXT NOT NULL,"
        "  lost_family INTEGER NOT NULL, lost_hlc INTEGER NOT NULL, lost_origin INTEGER NOT NULL,"
        "  lost_derived INTEGER NOT NULL, lost_value BLOB NOT NULL, lost_source TEXT NOT NULL,"
        "  at_ms INTEGER NOT NULL);"
        "CREATE INDEX conflicts_key ON conflicts (key, id);"
        "CREATE TABLE buds (address TEXT PRIMARY KEY, buds_id INTEGER NOT NULL, family INTEGER NOT NULL,"
        "  name TEXT NOT NULL, manufacturer TEXT NOT NULL, model TEXT NOT NULL, serial TEXT NOT NULL,"
        "  firmware TEXT NOT NULL, battery INTEGER NOT NULL, last_seen_ms INTEGER NOT NULL);"
        "CREATE TABLE buds_items (address TEXT NOT NULL, key INTEGER NOT NULL, revision INTEGER NOT NULL,"
        "  flags INTEGER NOT NULL, hlc INTEGER NOT NULL, origin INTEGER NOT NULL, derived INTEGER NOT NULL,"
        "  value BLOB NOT NULL, assigned_hlc INTEGER NOT NULL, assigned_origin INTEGER NOT NULL,"
        "  PRIMARY KEY (address, key));",
        /* 1 -> 2: a Buds copy this host already knew is no lost change of its
         * own; a restored conflict is marked, not removed */
        "ALTER TABLE buds_items ADD COLUMN known INTEGER NOT NULL DEFAULT 0;"
        "ALTER TABLE conflicts ADD COLUMN restored_ms INTEGER NOT NULL DEFAULT 0;",
        /* 2 -> 3: the node ids this host gave up when its clock was found
         * ahead: copies stamped under them are its own */
        "CREATE TABLE past_nodes (node_id INTEGER PRIMARY KEY);",
        /* 3 -> 4: the stamps changes made on the Buds were made on (their
         * bases): a copy under one was replaced where it was seen */
        "CREATE TABLE superseded (hlc INTEGER NOT NULL, origin INTEGER NOT NULL, PRIMARY KEY (hlc, origin));",
        /* 4 -> 5: the node ids this host gave up when it found a copy of its
         * state directory: both halves stamped under them */
        "CREATE TABLE shared_nodes (node_id INTEGER PRIMARY KEY);",
};

struct store {
        sqlite3 *db;
        char *path;
        int lock_fd;
        bool in_transaction;
        bool relaxed;                   /* this transaction commits with synchronous=NORMAL */
        int wal_frames;                 /* in the WAL after the last commit (SQLite's WAL hook) */
        uint64_t last_commit_usec;      /* how long the last synchronous=FULL COMMIT took */
        sqlite3_stmt *stmt[_ST_MAX];
};

static int errno_of(int rc) {
        switch (rc & 0xff) {
        case SQLITE_OK:
        case SQLITE_ROW:
        case SQLITE_DONE:
                return 0;
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
                return -EBUSY;
        case SQLITE_NOMEM:
                return -ENOMEM;
        case SQLITE_READONLY:
        case SQLITE_PERM:
        case SQLITE_AUTH:
                return -EACCES;
        case SQLITE_FULL:
                return -ENOSPC;
        case SQLITE_CANTOPEN:
                return -ENOENT;
        case SQLITE_NOTADB:
        case SQLITE_CORRUPT:
                return -EBADMSG;
        case SQLITE_CONSTRAINT:
        case SQLITE_MISMATCH:
        case SQLITE_TOOBIG:
                return -EINVAL;
        }
        return -EIO;
}

static sqlite3_stmt *prepare(struct store *s, enum stmt id) {
        if (!s->stmt[id] &&
            sqlite3_prepare_v3(s->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &s->stmt[id], NULL) != SQLITE_OK)
                return NULL;
        (void) sqlite3_reset(s->stmt[id]);
        (void) sqlite3_clear_bindings(s->stmt[id]);
        return s->stmt[id];
}

/* Runs a statement that returns no rows; resets it. */
static int finish(sqlite3_stmt *st) {
        int rc = sqlite3_step(st);

        (void) sqlite3_reset(st);
        return rc == SQLITE_DONE ? 0 : errno_of(rc) ?: -EIO;
}

static void bind_u64(sqlite3_stmt *st, int i, uint64_t v) { (void) sqlite3_bind_int64(st, i, (sqlite3_int64) v); }
static uint64_t col_u64(sqlite3_stmt *st, int i) { return (uint64_t) sqlite3_column_int64(st, i); }

static void bind_text(sqlite3_stmt *st, int i, const char *v) {
        (void) sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
}

static void col_text(sqlite3_stmt *st, int i, char *buf, size_t size) {
        const unsigned char *t = sqlite3_column_text(st, i);

        (void) snprintf(buf, size, "%s", t ? (const char *) t : "");
}

/* Binds a copy as (hlc, origin, derived, value); NULLs when absent. */
static void bind_copy(sqlite3_stmt *st, int i, const struct store_copy *c) {
        if (!c->present) {
                for (int k = 0; k < 4; k++)
                        (void) sqlite3_bind_null(st, i + k);
                return;
        }
        bind_u64(st, i, c->stamp.hlc);
        bind_u64(st, i + 1, c->stamp.origin);
        (void) sqlite3_bind_int(st, i + 2, c->derived);
        (void) sqlite3_bind_blob(st, i + 3, c->len ? (const void *) c->value : "", (int) c->len, SQLITE_TRANSIENT);
}

static int col_copy(sqlite3_stmt *st, int i, struct store_copy *c) {
        int n;

        memset(c, 0, sizeof(*c));
        if (sqlite3_column_type(st, i + 3) == SQLITE_NULL)
                return 0;
        n = sqlite3_column_bytes(st, i + 3);
        if (n < 0 || (size_t) n > sizeof(c->value))
                return -EBADMSG;
        c->present = true;
        c->stamp = (struct stamp) { col_u64(st, i), col_u64(st, i + 1) };
        c->derived = sqlite3_column_int(st, i + 2) != 0;
        c->len = (size_t) n;
        if (n > 0)
                memcpy(c->value, sqlite3_column_blob(st, i + 3), (size_t) n);
        return 0;
}

static int exec(struct store *s, const char *sql) {
        return errno_of(sqlite3_exec(s->db, sql, NULL, NULL, NULL));
}

static int schema_version(struct store *s, int *ret) {
        sqlite3_stmt *st = NULL;
        int rc;

        rc = sqlite3_prepare_v2(s->db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema'",
                                -1, &st, NULL);
        if (rc != SQLITE_OK)
                return errno_of(rc) ?: -EIO;
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW && sqlite3_column_int(st, 0) == 0) {
                sqlite3_finalize(st);
                *ret = 0;
                return 0;
        }
        sqlite3_finalize(st);
        if (rc != SQLITE_ROW)
                return errno_of(rc) ?: -EIO;
        rc = sqlite3_prepare_v2(s->db, "SELECT version FROM schema", -1, &st, NULL);
        if (rc != SQLITE_OK)
                return errno_of(rc) ?: -EIO;
        rc = sqlite3_step(st);
        *ret = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
        sqlite3_finalize(st);
        return *ret < 0 ? -EBADMSG : 0;
}

static int migrate(struct store *s, char **ret_error) {
        int version = 0, r;

        r = exec(s, "BEGIN IMMEDIATE");
        if (r == 0)
                r = schema_version(s, &version);
        if (r < 0) {
                (void) exec(s, "ROLLBACK");
                return errmsg_setf(ret_error, r, "%s: cannot read the schema: %s (%s)", s->path,
                                   sqlite3_errmsg(s->db), strerror(-r));
        }
        if (version > STORE_SCHEMA_VERSION) {
                (void) exec(s, "ROLLBACK");
                return errmsg_setf(ret_error, -EPROTONOSUPPORT,
                                   "%s: schema version %d is newer than this bridged understands (%d); "
                                   "refusing to touch it (was the state directory used by a newer version?)",
                                   s->path, version, STORE_SCHEMA_VERSION);
        }
        for (int v = version; v < STORE_SCHEMA_VERSION; v++) {
                char bump[64];

                (void) snprintf(bump, sizeof(bump), "UPDATE schema SET version = %d", v + 1);
                r = exec(s, migrations[v]);
                if (r == 0)
                        r = exec(s, bump);
                if (r < 0) {
                        (void) errmsg_setf(ret_error, r, "%s: upgrading the schema from version %d failed: %s (%s)",
                                           s->path, v, sqlite3_errmsg(s->db), strerror(-r));
                        (void) exec(s, "ROLLBACK");
                        return r;
                }
        }
        r = exec(s, "COMMIT");
        if (r < 0)
                return errmsg_setf(ret_error, r, "%s: %s (%s)", s->path, sqlite3_errmsg(s->db), strerror(-r));
        return 0;
}

/* One bridged per state directory: a second one would interleave clocks. */
static int lock_dir(struct store *s, const char *dir, char **ret_error) {
        _cleanup_free_ char *lock = NULL;

        if (asprintf(&lock, "%s/bridged.lock", dir) < 0)
                return -ENOMEM;
        s->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (s->lock_fd < 0)
                return errmsg_setf(ret_error, -errno, "%s: %m", lock);
        if (flock(s->lock_fd, LOCK_EX | LOCK_NB) < 0) {
                if (errno == EWOULDBLOCK)
                        return errmsg_setf(ret_error, -EBUSY, "%s: the state directory is in use by another bridged",
                                           lock);
                return errmsg_setf(ret_error, -errno, "%s: %m", lock);
        }
        return 0;
}

static int check_dir(const char *dir, char **ret_error) {
        struct stat st;

        if (stat(dir, &st) < 0) {
                int r = -errno;
                return errmsg_setf(ret_error, r, "state directory %s: %s", dir, strerror(-r));
        }
        if (!S_ISDIR(st.st_mode)) {
                return errmsg_setf(ret_error, -ENOTDIR, "state directory %s: not a directory", dir);
        }
        if (access(dir, R_OK | W_OK | X_OK) < 0) {
                int r = -errno;
                return errmsg_setf(ret_error, r, "state directory %s: %s", dir, strerror(-r));
        }
        return 0;
}

/* SQLite's automatic checkpoint runs inside the COMMIT that takes the WAL
 * past 1,000 pages: an engine step then waits for the copy into the
 * database and its fsync, and the next step for the fsync of the WAL's new
 * header. bridged checkpoints when a sync cycle ends instead
 * (store_checkpoint); inside a commit only past STORE_WAL_FRAMES_MAX, when
 * no cycle has ended for that long. */
#define STORE_WAL_FRAMES_IDLE 1000
#define STORE_WAL_FRAMES_MAX 8000

static int on_wal_commit(void *userdata, sqlite3 *db, const char *name, int frames) {
        struct store *s = userdata;

        s->wal_frames = frames;
        if (frames >= STORE_WAL_FRAMES_MAX)
                (void) sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        return SQLITE_OK;
}

static int open_db(struct store *s, char **ret_error) {
        int rc;

        /* No page cache slab up front: SQLite's default is a bulk of 20
         * pages (87 KiB) per cache, every page of it written at once, and
         * there are two (the main database and the temporary one that
         * PRAGMA quick_check builds), while the cache holds a few pages.
         * Pages then come one by one. A no-op (SQLITE_MISUSE) once SQLite
         * is initialized, as in a process that opened a store before. */
        (void) sqlite3_config(SQLITE_CONFIG_PAGECACHE, NULL, 0, 0);
        rc = sqlite3_open_v2(s->path, &s->db,
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOFOLLOW |
                                         SQLITE_OPEN_EXRESCODE, NULL);
        if (rc != SQLITE_OK) {
                int r = errno_of(rc) ?: -EIO;
                return errmsg_setf(ret_error, r, "%s: %s (%s)", s->path,
                                   s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc), strerror(-r));
        }
        (void) sqlite3_busy_timeout(s->db, 5000);
        (void) sqlite3_extended_result_codes(s->db, 1);
        /* WAL with synchronous=FULL: nothing acknowledged is lost to a power cut */
        rc = sqlite3_exec(s->db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; "
                                 "PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON; "
                                 "PRAGMA journal_size_limit = 4194304;", NULL, NULL, NULL);
        if (rc != SQLITE_OK) {
                int r = errno_of(rc) ?: -EIO;
                return errmsg_setf(ret_error, r, "%s: %s (%s)", s->path, sqlite3_errmsg(s->db), strerror(-r));
        }
        (void) sqlite3_wal_hook(s->db, on_wal_commit, s);      /* in place of wal_autocheckpoint's */
        return 0;
}

/* The cache as bridged left it: SQLite finds no damage (quick_check) and
 * every table is there. A cache that fails either is refused at open with
 * what is wrong, rather than found out by every Get and Set later. */
int store_check(struct store *s, char **ret_error) {
        static const char *const tables[] = { "schema", "node", "items", "sync", "push", "conflicts", "buds",
                                               "buds_items", "past_nodes", "superseded", "shared_nodes" };
        sqlite3_stmt *st = NULL;
        int rc, r = 0;

        rc = sqlite3_prepare_v2(s->db, "PRAGMA quick_check", -1, &st, NULL);
        if (rc == SQLITE_OK)
                rc = sqlite3_step(st);
        if (rc == SQLITE_ROW && strcmp((const char *) sqlite3_column_text(st, 0), "ok") != 0)
                r = errmsg_setf(ret_error, -EBADMSG, "%s: the cache is damaged (%s); move it away and start again: "
                                "the server and the Buds hold what was synced",
                                s->path, (const char *) sqlite3_column_text(st, 0));
        else if (rc != SQLITE_ROW)
                r = errmsg_setf(ret_error, errno_of(rc) ?: -EIO, "%s: checking the cache failed: %s (%s)", s->path,
                                sqlite3_errmsg(s->db), strerror(-(errno_of(rc) ?: -EIO)));
        sqlite3_finalize(st);
        for (size_t i = 0; r == 0 && i < sizeof(tables) / sizeof(tables[0]); i++) {
                rc = sqlite3_table_column_metadata(s->db, NULL, tables[i], NULL, NULL, NULL, NULL, NULL, NULL);
                if (rc != SQLITE_OK)
                        r = errmsg_setf(ret_error, -EBADMSG, "%s: the cache is damaged (table %s is missing); "
                                        "move it away and start again: the server and the Buds hold what was "
                                        "synced", s->path, tables[i]);
        }
        return r;
}

bool store_error_is_lasting(int r) {
        switch (r) {
        case -ENOSPC:   /* space can be freed */
        case -EIO:
        case -EBUSY:    /* another bridged, or a lock, may go away */
        case -ENOMEM:
        case -EAGAIN:
        case -EINTR:
                return false;
        default:
                return true;
        }
}

int store_open(const char *dir, struct store **ret, char **ret_error) {
        struct store *s;
        int r;

        *ret_error = NULL;
        r = check_dir(dir, ret_error);
        if (r < 0)
                return r;
        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->lock_fd = -1;
        if (asprintf(&s->path, "%s/%s", dir, STORE_FILE) < 0) {
                s->path = NULL;
                store_close(s);
                return -ENOMEM;
        }
        r = lock_dir(s, dir, ret_error);
        if (r == 0)
                r = open_db(s, ret_error);
        if (r == 0)
                r = migrate(s, ret_error);
        if (r == 0)
                r = store_check(s, ret_error);
        if (r < 0) {
                store_close(s);
                return r;
        }
        *ret = s;
        return 0;
}

void store_release_memory(struct store *s) {
        if (s && s->db)
                (void) sqlite3_db_release_memory(s->db);
}

/* A write that changes nothing: user_version set to the value it has. */
static int write_nothing(struct store *s) {
        sqlite3_stmt *st = NULL;
        char sql[64];
        int rc, r = exec(s, "BEGIN IMMEDIATE");

        if (r < 0)
                return r;
        rc = sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL);
        if (rc == SQLITE_OK)
                rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
                (void) snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", sqlite3_column_int(st, 0));
                r = exec(s, sql);
        } else
                r = errno_of(rc) ?: -EIO;
        sqlite3_finalize(st);
        if (r == 0)
                r = exec(s, "COMMIT");
        if (r < 0)
                (void) exec(s, "ROLLBACK");
        return r;
}

/* The WAL copied into the database (PASSIVE: bridged is its only writer,
 * and a reader elsewhere is not waited for), then started over by a write
 * that changes nothing: the first write after a complete checkpoint begins
 * the WAL anew and syncs its header, an fsync more in that commit. Both
 * here, when nothing waits for a commit. Durability is the WAL's either
 * way: a checkpoint only copies what it holds, and a crash in the middle
 * leaves the WAL to replay. */
int store_checkpoint(struct store *s) {
        int logged = 0, copied = 0, rc, r;

        if (!s || !s->db || s->in_transaction || s->wal_frames < STORE_WAL_FRAMES_IDLE)
                return 0;
        rc = sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &logged, &copied);
        if (rc != SQLITE_OK)
                return errno_of(rc) ?: -EIO;
        if (logged != copied)
                return 0;       /* a reader elsewhere holds the rest: the next idle time */
        r = write_nothing(s);
        return r < 0 ? r : 1;
}

struct store *store_close(struct store *s) {
        if (!s)
                return NULL;
        for (int i = 0; i < _ST_MAX; i++)
                sqlite3_finalize(s->stmt[i]);
        sqlite3_close(s->db);
        if (s->lock_fd >= 0)
                close(s->lock_fd);
        free(s->path);
        free(s);
        return NULL;
}

const char *store_path(const struct store *s) { return s->path; }
uint64_t store_last_commit_usec(const struct store *s) { return s->last_commit_usec; }

static int begin_with(struct store *s, bool full) {
        int r;

        if (s->in_transaction)
                return -EBUSY;
        /* the level applies to the next commit; FULL is the connection's default */
        if (!full) {
                r = exec(s, "PRAGMA synchronous = NORMAL");
                if (r < 0)
                        return r;
        }
        r = exec(s, "BEGIN IMMEDIATE");
        if (r == 0) {
                s->in_transaction = true;
                s->relaxed = !full;
        } else if (!full) {
                (void) exec(s, "PRAGMA synchronous = FULL");
        }
        return r;
}

int store_begin(struct store *s) { return begin_with(s, true); }
int store_begin_relaxed(struct store *s) { return begin_with(s, false); }

static void end_transaction(struct store *s) {
        if (s->relaxed)
                (void) exec(s, "PRAGMA synchronous = FULL");
        s->relaxed = false;
        s->in_transaction = false;
}

static uint64_t now_usec(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

int store_commit(struct store *s) {
        uint64_t t0 = now_usec();
        int r = exec(s, "COMMIT");

        if (!s->relaxed)
                s->last_commit_usec = now_usec() - t0;
        if (r < 0) {
                store_rollback(s);
                return r;
        }
        end_transaction(s);
        return 0;
}

void store_rollback(struct store *s) {
        if (sqlite3_get_autocommit(s->db) == 0)
                (void) exec(s, "ROLLBACK");
        end_transaction(s);
}

/* Runs a one-row query; 0 with the row ready, -ENOENT when there is none. */
static int one_row(sqlite3_stmt *st) {
        int rc = sqlite3_step(st);

        if (rc == SQLITE_ROW)
                return 0;
        (void) sqlite3_reset(st);
        return rc == SQLITE_DONE ? -ENOENT : errno_of(rc) ?: -EIO;
}

int store_node_get(struct store *s, uint64_t *ret_node, uint64_t *ret_last, uint64_t *ret_issued) {
        sqlite3_stmt *st = prepare(s, ST_NODE_GET);
        int r;

        if (!st)
                return -EIO;
        r = one_row(st);
        if (r < 0)
                return r;
        *ret_node = col_u64(st, 0);
        *ret_last = col_u64(st, 1);
        *ret_issued = col_u64(st, 2);
        (void) sqlite3_reset(st);
        return 0;
}

int store_node_put(struct store *s, uint64_t node, uint64_t last, uint64_t issued) {
        sqlite3_stmt *st = prepare(s, ST_NODE_PUT);

        if (!st)
                return -EIO;
        bind_u64(st, 1, node);
        bind_u64(st, 2, last);
        bind_u64(st, 3, issued);
        return finish(st);
}

int store_past_node_add(struct store *s, uint64_t node) {
        sqlite3_stmt *st = prepare(s, ST_PAST_NODE_ADD);

        if (!st)
                return -EIO;
        bind_u64(st, 1, node);
        return finish(st);
}

static int node_has(struct store *s, enum stmt which, uint64_t node) {
        sqlite3_stmt *st = prepare(s, which);
        int r;

        if (!st)
                return -EIO;
        bind_u64(st, 1, node);
        r = one_row(st);
        if (r == 0)
                (void) sqlite3_reset(st);
        return r == 0 ? 1 : r == -ENOENT ? 0 : r;
}

int store_past_node_has(struct store *s, uint64_t node) { return node_has(s, ST_PAST_NODE_HAS, node); }

int store_shared_node_add(struct store *s, uint64_t node) {
        sqlite3_stmt *st = prepare(s, ST_SHARED_NODE_ADD);

        if (!st)
                return -EIO;
        bind_u64(st, 1, node);
        return finish(st);
}

int store_shared_node_has(struct store *s, uint64_t node) { return node_has(s, ST_SHARED_NODE_HAS, node); }

int store_superseded_add(struct store *s, struct stamp stamp) {
        sqlite3_stmt *st = prepare(s, ST_SUPERSEDED_ADD);
        int r;

        if (!st)
                return -EIO;
        bind_u64(st, 1, stamp.hlc);
        bind_u64(st, 2, stamp.origin);
        r = finish(st);
        if (r < 0)
                return r;
        st = prepare(s, ST_SUPERSEDED_TRIM);
        return st ? finish(st) : -EIO;
}

static int superseded_find(struct store *s, enum stmt which, struct stamp stamp) {
        sqlite3_stmt *st = prepare(s, which);
        int r;

        if (!st)
                return -EIO;
        bind_u64(st, 1, stamp.hlc);
        bind_u64(st, 2, stamp.origin);
        r = one_row(st);
        if (r == 0)
                (void) sqlite3_reset(st);
        return r == 0 ? 1 : r == -ENOENT ? 0 : r;
}

int store_superseded_has(struct store *s, struct stamp stamp) { return superseded_find(s, ST_SUPERSEDED_HAS, stamp); }

int store_superseded_covers(struct store *s, struct stamp stamp) {
        return superseded_find(s, ST_SUPERSEDED_COVERS, stamp);
}

int store_item_get(struct store *s, enum key key, enum family family, struct store_item *ret) {
        sqlite3_stmt *st = prepare(s, ST_ITEM_GET);
        struct store_item it = { 0 };
        int r;

        if (!st)
                return -EIO;
        (void) sqlite3_bind_int(st, 1, (int) key);
        (void) sqlite3_bind_int(st, 2, (int) family);
        r = one_row(st);
        if (r == -ENOENT) {
                *ret = it;
                return 0;
        }
        if (r < 0)
                return r;
        r = col_copy(st, 0, &it.cache);
        it.pending = sqlite3_column_int(st, 4) != 0 && it.cache.present;
        it.adopted = sqlite3_column_int(st, 9) != 0 && it.cache.present;
        it.refused = (struct stamp) { col_u64(st, 10), col_u64(st, 11) };
        if (r == 0)
                r = col_copy(st, 5, &it.server);
        (void) sqlite3_reset(st);
        if (r == 0)
                *ret = it;
        return r;
}

int store_item_put(struct store *s, enum key key, enum family family, const struct store_item *item) {
        sqlite3_stmt *st = prepare(s, ST_ITEM_PUT);

        if (!st)
                return -EIO;
        if (item->cache.len > STORE_VALUE_MAX || item->server.len > STORE_VALUE_MAX)
                return -EINVAL;
        (void) sqlite3_bind_int(st, 1, (int) key);
        (void) sqlite3_bind_int(st, 2, (int) family);
        bind_copy(st, 3, &item->cache);
        (void) sqlite3_bind_int(st, 5, item->cache.derived);   /* the column is NOT NULL, even when absent */
        (void) sqlite3_bind_int(st, 7, item->pending && item->cache.present);
        bind_copy(st, 8, &item->server);
        (void) sqlite3_bind_int(st, 10, item->server.derived);
        (void) sqlite3_bind_int(st, 12, item->adopted && item->cache.present);
        bind_u64(st, 13, item->refused.hlc);
        bind_u64(st, 14, item->refused.origin);
        return finish(st);
}

static unsigned count(struct store *s, enum stmt id) {
        sqlite3_stmt *st = prepare(s, id);
        unsigned n = 0;

        if (st && one_row(st) == 0) {
                n = (unsigned) sqlite3_column_int(st, 0);
                (void) sqlite3_reset(st);
        }
        return n;
}

unsigned store_pending_count(struct store *s) { return count(s, ST_PENDING_COUNT); }
unsigned store_conflict_count(struct store *s) { return count(s, ST_CONFLICT_COUNT); }

int store_cursor_get(struct store *s, char **ret_cursor) {
        sqlite3_stmt *st = prepare(s, ST_CURSOR_GET);
        const unsigned char *t;
        int r;

        if (!st)
                return -EIO;
        *ret_cursor = NULL;
        r = one_row(st);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        t = sqlite3_column_text(st, 0);
        if (t && !(*ret_cursor = strdup((const char *) t)))
                r = -ENOMEM;
        (void) sqlite3_reset(st);
        return r;
}

int store_cursor_put(struct store *s, const char *cursor) {
        sqlite3_stmt *st = prepare(s, ST_CURSOR_PUT);

        if (!st)
                return -EIO;
        bind_text(st, 1, cursor);
        return finish(st);
}

int store_last_sync_get(struct store *s, uint64_t *ret_ms) {
        sqlite3_stmt *st = prepare(s, ST_CURSOR_GET);
        int r;

        if (!st)
                return -EIO;
        *ret_ms = 0;
        r = one_row(st);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        *ret_ms = col_u64(st, 1);
        (void) sqlite3_reset(st);
        return 0;
}

int store_last_sync_put(struct store *s, uint64_t ms) {
        sqlite3_stmt *st = prepare(s, ST_LAST_SYNC_PUT);

        if (!st)
                return -EIO;
        bind_u64(st, 1, ms);
        return finish(st);
}

int store_push_get(struct store *s, char **ret_key, char **ret_body) {
        sqlite3_stmt *st = prepare(s, ST_PUSH_GET);
        char *key, *body;
        int r;

        if (!st)
                return -EIO;
        r = one_row(st);
        if (r < 0)
                return r;
        key = strdup((const char *) sqlite3_column_text(st, 0));
        body = strdup((const char *) sqlite3_column_text(st, 1));
        (void) sqlite3_reset(st);
        if (!key || !body) {
                free(key);
                free(body);
                return -ENOMEM;
        }
        *ret_key = key;
        *ret_body = body;
        return 0;
}

int store_push_put(struct store *s, const char *key, const char *body) {
        sqlite3_stmt *st = prepare(s, ST_PUSH_PUT);

        if (!st)
                return -EIO;
        bind_text(st, 1, key);
        bind_text(st, 2, body);
        return finish(st);
}

int store_push_clear(struct store *s) {
        sqlite3_stmt *st = prepare(s, ST_PUSH_CLEAR);

        return st ? finish(st) : -EIO;
}

static void bind_side(sqlite3_stmt *st, int i, enum family f, const struct store_copy *c, const char *source) {
        (void) sqlite3_bind_int(st, i, (int) f);
        bind_u64(st, i + 1, c->stamp.hlc);
        bind_u64(st, i + 2, c->stamp.origin);
        (void) sqlite3_bind_int(st, i + 3, c->derived);
        (void) sqlite3_bind_blob(st, i + 4, c->len ? (const void *) c->value : "", (int) c->len, SQLITE_TRANSIENT);
        bind_text(st, i + 5, source);
}

/* The same lost copy logged again (a reconnect, a re-read) is one entry. */
static int conflict_find(struct store *s, const struct store_conflict *c, uint64_t *ret_id) {
        sqlite3_stmt *st = prepare(s, ST_CONFLICT_FIND);
        int r;

        if (!st)
                return -EIO;
        (void) sqlite3_bind_int(st, 1, (int) c->key);
        (void) sqlite3_bind_int(st, 2, (int) c->lost_family);
        bind_u64(st, 3, c->lost.stamp.hlc);
        bind_u64(st, 4, c->lost.stamp.origin);
        bind_text(st, 5, c->lost_source);
        r = one_row(st);
        if (r < 0)
                return r;
        if (ret_id)
                *ret_id = col_u64(st, 0);
        (void) sqlite3_reset(st);
        return 0;
}

int store_conflict_add(struct store *s, const struct store_conflict *c, unsigned limit, uint64_t *ret_id) {
        sqlite3_stmt *st;
        int r;

        if (c->kept.len > STORE_VALUE_MAX || c->lost.len > STORE_VALUE_MAX || limit == 0)
                return -EINVAL;
        r = conflict_find(s, c, ret_id);
        if (r != -ENOENT)
                return r;
        st = prepare(s, ST_CONFLICT_ADD);
        if (!st)
                return -EIO;
        (void) sqlite3_bind_int(st, 1, (int) c->key);
        bind_side(st, 2, c->kept_family, &c->kept, c->kept_source);
        bind_side(st, 8, c->lost_family, &c->lost, c->lost_source);
        bind_u64(st, 14, c->at_ms);
        r = finish(st);
        if (r < 0)
                return r;
        if (ret_id)
                *ret_id = (uint64_t) sqlite3_last_insert_rowid(s->db);
        st = prepare(s, ST_CONFLICT_TRIM);
        if (!st)
                return -EIO;
        (void) sqlite3_bind_int(st, 1, (int) c->key);
        (void) sqlite3_bind_int(st, 2, (int) limit);
        r = finish(st);
        return r < 0 ? r : 1;
}

static int col_side(sqlite3_stmt *st, int i, enum family *f, struct store_copy *c, char *source, size_t size) {
        int n = sqlite3_column_bytes(st, i + 4);

        if (n < 0 || (size_t) n > sizeof(c->value))
                return -EBADMSG;
        *f = (enum family) sqlite3_column_int(st, i);
        *c = (struct store_copy) { .present = true, .derived = sqlite3_column_int(st, i + 3) != 0, .len = (size_t) n,
                                   .stamp = { col_u64(st, i + 1), col_u64(st, i + 2) } };
        if (n > 0)
                memcpy(c->value, sqlite3_column_blob(st, i + 4), (size_t) n);
        col_text(st, i + 5, source, size);
        return 0;
}

static int col_conflict(sqlite3_stmt *st, struct store_conflict *c) {
        int r;

        memset(c, 0, sizeof(*c));
        c->id = col_u64(st, 0);
        c->key = (enum key) sqlite3_column_int(st, 1);
        r = col_side(st, 2, &c->kept_family, &c->kept, c->kept_source, sizeof(c->kept_source));
        if (r == 0)
                r = col_side(st, 8, &c->lost_family, &c->lost, c->lost_source, sizeof(c->lost_source));
        c->at_ms = col_u64(st, 14);
        c->restored_ms = col_u64(st, 15);
        return r;
}

int store_conflict_restored(struct store *s, uint64_t id, uint64_t at_ms) {
        sqlite3_stmt *st = prepare(s, ST_CONFLICT_RESTORED);
        int r;

        if (!st)
                return -EIO;
        bind_u64(st, 1, at_ms);
        bind_u64(st, 2, id);
        r = finish(st);
        if (r == 0 && sqlite3_changes(s->db) == 0)
                r = -ENOENT;
        return r;
}

int store_conflict_dismiss(struct store *s, const uint64_t *ids, size_t n, unsigned *ret_removed) {
        unsigned removed = 0;
        int r = 0;

        for (size_t i = 0; r == 0 && i < n; i++) {
                sqlite3_stmt *st = prepare(s, ST_CONFLICT_DISMISS);

                if (!st) {
                        r = -EIO;
                        break;
                }
                bind_u64(st, 1, ids[i]);
                r = finish(st);
                removed += r == 0 ? (unsigned) sqlite3_changes(s->db) : 0;
        }
        if (r == 0 && n == 0) {
                sqlite3_stmt *st = prepare(s, ST_CONFLICT_DISMISS_ALL);

                r = st ? finish(st) : -EIO;
                removed = r == 0 ? (unsigned) sqlite3_changes(s->db) : 0;
        }
        if (r == 0)
                *ret_removed = removed;
        return r;
}

int store_conflict_get(struct store *s, uint64_t id, struct store_conflict *ret) {
        sqlite3_stmt *st = prepare(s, ST_CONFLICT_GET);
        int r;

        if (!st)
                return -EIO;
        bind_u64(st, 1, id);
        r = one_row(st);
        if (r < 0)
                return r;
        r = col_conflict(st, ret);
        (void) sqlite3_reset(st);
        return r;
}

/* Collects every row of a list query through fill(); *ret is malloc'd. */
static int list_rows(sqlite3_stmt *st, size_t size, int (*fill)(sqlite3_stmt *, void *), void **ret, size_t *ret_n) {
        char *v = NULL;
        size_t n = 0, cap = 0;
        int rc, r = 0;

        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                if (n == cap) {
                        char *nv = reallocarray(v, cap ? cap * 2 : 8, size);
                        if (!nv) {
                                r = -ENOMEM;
                                break;
                        }
                        v = nv;
                        cap = cap ? cap * 2 : 8;
                }
                r = fill(st, v + n * size);
                if (r < 0)
                        break;
                n++;
        }
        if (r == 0 && rc != SQLITE_DONE)
                r = errno_of(rc) ?: -EIO;
        (void) sqlite3_reset(st);
        if (r < 0) {
                free(v);
                return r;
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

static int fill_conflict(sqlite3_stmt *st, void *out) { return col_conflict(st, out); }

int store_conflict_list(struct store *s, struct store_conflict **ret, size_t *ret_n) {
        sqlite3_stmt *st = prepare(s, ST_CONFLICT_LIST);

        if (!st)
                return -EIO;
        return list_rows(st, sizeof(**ret), fill_conflict, (void **) ret, ret_n);
}

int store_buds_put(struct store *s, const struct store_buds *b) {
        sqlite3_stmt *st = prepare(s, ST_BUDS_PUT);

        if (!st)
                return -EIO;
        bind_text(st, 1, b->address);
        bind_u64(st, 2, b->buds_id);
        (void) sqlite3_bind_int(st, 3, (int) b->family);
        bind_text(st, 4, b->name);
        bind_text(st, 5, b->manufacturer);
        bind_text(st, 6, b->model);
        bind_text(st, 7, b->serial);
        bind_text(st, 8, b->firmware);
        (void) sqlite3_bind_int(st, 9, b->battery);
        bind_u64(st, 10, b->last_seen_ms);
        return finish(st);
}

static int fill_buds(sqlite3_stmt *st, void *out) {
        struct store_buds *b = out;

        memset(b, 0, sizeof(*b));
        col_text(st, 0, b->address, sizeof(b->address));
        b->buds_id = col_u64(st, 1);
        b->family = (enum family) sqlite3_column_int(st, 2);
        col_text(st, 3, b->name, sizeof(b->name));
        col_text(st, 4, b->manufacturer, sizeof(b->manufacturer));
        col_text(st, 5, b->model, sizeof(b->model));
        col_text(st, 6, b->serial, sizeof(b->serial));
        col_text(st, 7, b->firmware, sizeof(b->firmware));
        b->battery = sqlite3_column_int(st, 8);
        b->last_seen_ms = col_u64(st, 9);
        return 0;
}

int store_buds_get(struct store *s, const char *address, struct store_buds *ret) {
        sqlite3_stmt *st = prepare(s, ST_BUDS_GET);
        int r;

        if (!st)
                return -EIO;
        bind_text(st, 1, address);
        r = one_row(st);
        if (r < 0)
                return r;
        r = fill_buds(st, ret);
        (void) sqlite3_reset(st);
        return r;
}

int store_buds_list(struct store *s, struct store_buds **ret, size_t *ret_n) {
        sqlite3_stmt *st = prepare(s, ST_BUDS_LIST);

        if (!st)
                return -EIO;
        return list_rows(st, sizeof(**ret), fill_buds, (void **) ret, ret_n);
}

int store_buds_item_get(struct store *s, const char *address, enum key key, struct store_buds_item *ret) {
        sqlite3_stmt *st = prepare(s, ST_BUDS_ITEM_GET);
        struct store_buds_item it = { 0 };
        int n, r;

        if (!st)
                return -EIO;
        bind_text(st, 1, address);
        (void) sqlite3_bind_int(st, 2, (int) key);
        r = one_row(st);
        if (r < 0)
                return r;
        it.revision = (uint32_t) sqlite3_column_int64(st, 0);
        it.flags = (uint8_t) sqlite3_column_int(st, 1);
        n = sqlite3_column_bytes(st, 5);
        if (n < 0 || (size_t) n > sizeof(it.copy.value)) {
                (void) sqlite3_reset(st);
                return -EBADMSG;
        }
        it.copy = (struct store_copy) { .present = true, .stamp = { col_u64(st, 2), col_u64(st, 3) },
                                        .derived = sqlite3_column_int(st, 4) != 0, .len = (size_t) n };
        if (n > 0)
                memcpy(it.copy.value, sqlite3_column_blob(st, 5), (size_t) n);
        it.assigned = (struct stamp) { col_u64(st, 6), col_u64(st, 7) };
        it.known = sqlite3_column_int(st, 8) != 0;
        (void) sqlite3_reset(st);
        *ret = it;
        return 0;
}

int store_buds_item_forget(struct store *s, const char *address, enum key key) {
        sqlite3_stmt *st = prepare(s, ST_BUDS_ITEM_FORGET);

        if (!st)
                return -EIO;
        bind_text(st, 1, address);
        (void) sqlite3_bind_int(st, 2, (int) key);
        return finish(st);
}

int store_buds_item_put(struct store *s, const char *address, enum key key, const struct store_buds_item *it) {
        sqlite3_stmt *st = prepare(s, ST_BUDS_ITEM_PUT);

        if (!st)
                return -EIO;
        if (it->copy.len > STORE_VALUE_MAX)
                return -EINVAL;
        bind_text(st, 1, address);
        (void) sqlite3_bind_int(st, 2, (int) key);
        bind_u64(st, 3, it->revision);
        (void) sqlite3_bind_int(st, 4, it->flags);
        bind_u64(st, 5, it->copy.stamp.hlc);
        bind_u64(st, 6, it->copy.stamp.origin);
        (void) sqlite3_bind_int(st, 7, it->copy.derived);
        (void) sqlite3_bind_blob(st, 8, it->copy.len ? (const void *) it->copy.value : "", (int) it->copy.len,
                                 SQLITE_TRANSIENT);
        bind_u64(st, 9, it->assigned.hlc);
        bind_u64(st, 10, it->assigned.origin);
        (void) sqlite3_bind_int(st, 11, it->known);
        return finish(st);
}
