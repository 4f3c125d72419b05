/* SPDX-License-Identifier: MIT */
/* The SQLite side of syncd. Statements are prepared once and reused (a push
 * is a handful of them); hlc and origin are stored as the bit patterns of
 * signed 64-bit integers and compared in C with stamp_cmp, never in SQL. Must
 * never answer from an uncommitted state: the caller commits, then replies. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <sqlite3.h>

#include "cleanup.h"
#include "common/errmsg.h"
#include "settings.h"
#include "store-pg.h"
#include "store.h"

#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)

enum store_query {
        Q_BEGIN,
        Q_COMMIT,
        Q_ROLLBACK,
        Q_SEQ,
        Q_SEQ_NEXT,
        Q_RECORD_GET,
        Q_RECORD_PUT,
        Q_RECORDS_SINCE,
        Q_IDEM_GET,
        Q_IDEM_PUT,
        Q_IDEM_USAGE,
        Q_IDEM_DROP_OLDEST,
        Q_IDEM_PURGE,
        Q_DEVICE_PUT,
        Q_DEVICES_TRIM,
        Q_DEVICES_LIST,
        _Q_MAX,
};

static const char *const store_sql[_Q_MAX] = {
        [Q_BEGIN] = "BEGIN IMMEDIATE",
        [Q_COMMIT] = "COMMIT",
        [Q_ROLLBACK] = "ROLLBACK",
        [Q_SEQ] = "SELECT seq FROM accounts WHERE account = ?1",
        [Q_SEQ_NEXT] = "INSERT INTO accounts (account, seq) VALUES (?1, 1) "
                       "ON CONFLICT (account) DO UPDATE SET seq = seq + 1 RETURNING seq",
        [Q_RECORD_GET] = "SELECT hlc, origin, json FROM records WHERE account = ?1 AND key = ?2 AND family = ?3",
        [Q_RECORD_PUT] = "INSERT INTO records (account, key, family, seq, hlc, origin, device, json) "
                         "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (account, key, family) DO UPDATE "
                         "SET seq = excluded.seq, hlc = excluded.hlc, origin = excluded.origin, "
                         "device = excluded.device, json = excluded.json",
        [Q_RECORDS_SINCE] = "SELECT seq, json FROM records WHERE account = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
        [Q_IDEM_GET] = "SELECT digest, status, body FROM idempotency "
                       "WHERE account = ?1 AND key = ?2 AND created_ms >= ?3",
        /* not INSERT OR REPLACE: the rows it deletes would not fire the usage trigger */
        [Q_IDEM_PUT] = "INSERT INTO idempotency (account, key, digest, status, body, created_ms) "
                       "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (account, key) DO UPDATE "
                       "SET digest = excluded.digest, status = excluded.status, body = excluded.body, "
                       "created_ms = excluded.created_ms",
        [Q_IDEM_USAGE] = "SELECT bytes FROM idempotency_usage WHERE account = ?1",
        [Q_IDEM_DROP_OLDEST] = "DELETE FROM idempotency WHERE account = ?1 AND key = (SELECT key FROM idempotency "
                               "WHERE account = ?1 AND key <> ?2 ORDER BY created_ms, key LIMIT 1)",
        [Q_IDEM_PURGE] = "DELETE FROM idempotency WHERE created_ms < ?1",
        [Q_DEVICE_PUT] = "INSERT INTO devices (account, id, json) VALUES (?1, ?2, ?3) "
                         "ON CONFLICT (account, id) DO UPDATE SET json = excluded.json",
        /* a last-seen cache: the ones seen longest ago go, never ?2 (just written) */
        [Q_DEVICES_TRIM] = "DELETE FROM devices WHERE account = ?1 AND id IN (SELECT id FROM devices "
                           "WHERE account = ?1 AND id <> ?2 ORDER BY json_extract(json, '$.last_seen_ms') DESC, "
                           "id DESC LIMIT -1 OFFSET ?3)",
        [Q_DEVICES_LIST] = "SELECT id, json FROM devices WHERE account = ?1 AND id > ?2 ORDER BY id LIMIT ?3",
};

static const char store_schema[] =
        "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value BLOB NOT NULL);"
        "CREATE TABLE IF NOT EXISTS accounts (account TEXT PRIMARY KEY, seq INTEGER NOT NULL);"
        "CREATE TABLE IF NOT EXISTS records (account TEXT NOT NULL, key TEXT NOT NULL, family TEXT NOT NULL,"
        " seq INTEGER NOT NULL, hlc INTEGER NOT NULL, origin INTEGER NOT NULL, device TEXT NOT NULL,"
        " json TEXT NOT NULL, PRIMARY KEY (account, key, family)) WITHOUT ROWID;"
        "CREATE INDEX IF NOT EXISTS records_by_seq ON records (account, seq);"
        "CREATE TABLE IF NOT EXISTS idempotency (account TEXT NOT NULL, key TEXT NOT NULL,"
        " digest BLOB NOT NULL, status INTEGER NOT NULL, body TEXT NOT NULL, created_ms INTEGER NOT NULL,"
        " PRIMARY KEY (account, key)) WITHOUT ROWID;"
        "CREATE INDEX IF NOT EXISTS idempotency_by_age ON idempotency (created_ms);"
        "CREATE TABLE IF NOT EXISTS devices (account TEXT NOT NULL, id TEXT NOT NULL, json TEXT NOT NULL,"
        " PRIMARY KEY (account, id)) WITHOUT ROWID;"
        /* version 2: the bytes of each account's stored answers, kept by triggers so that no statement
         * can forget them, and an index to find an account's oldest answers */
        "CREATE INDEX IF NOT EXISTS idempotency_by_account_age ON idempotency (account, created_ms);"
        "CREATE TABLE IF NOT EXISTS idempotency_usage (account TEXT PRIMARY KEY, bytes INTEGER NOT NULL)"
        " WITHOUT ROWID;"
        "CREATE TRIGGER IF NOT EXISTS idempotency_usage_insert AFTER INSERT ON idempotency BEGIN"
        " INSERT INTO idempotency_usage (account, bytes) VALUES (new.account, length(CAST(new.body AS BLOB)))"
        " ON CONFLICT (account) DO UPDATE SET bytes = bytes + excluded.bytes; END;"
        "CREATE TRIGGER IF NOT EXISTS idempotency_usage_update AFTER UPDATE OF body ON idempotency BEGIN"
        " UPDATE idempotency_usage SET bytes = bytes - length(CAST(old.body AS BLOB))"
        " + length(CAST(new.body AS BLOB)) WHERE account = new.account; END;"
        "CREATE TRIGGER IF NOT EXISTS idempotency_usage_delete AFTER DELETE ON idempotency BEGIN"
        " UPDATE idempotency_usage SET bytes = bytes - length(CAST(old.body AS BLOB))"
        " WHERE account = old.account; END;";

/* Run on a file of an older version: the counts made from what is stored
 * (a version-1 syncd that opened a version-2 file since kept the tables but
 * counted wrongly: its INSERT OR REPLACE fired only the insert trigger). */
static const char store_upgrade[] =
        "DELETE FROM idempotency_usage;"
        "INSERT INTO idempotency_usage (account, bytes)"
        " SELECT account, sum(length(CAST(body AS BLOB))) FROM idempotency GROUP BY account;"
        "PRAGMA user_version = " STRINGIFY(STORE_SCHEMA_VERSION) ";";

static uint64_t *store_error_counter;   /* for PostgreSQL's failed statements */

struct store {
        struct store_pg *pg;            /* PostgreSQL: every operation goes there (store-pg.c) */
        char *path;
        sqlite3 *db;
        sqlite3_stmt *stmt[_Q_MAX];
        uint8_t secret[CURSOR_SECRET_SIZE];
};

struct store *store_free(struct store *s) {
        if (!s)
                return NULL;
        store_pg_free(s->pg);
        for (size_t i = 0; i < _Q_MAX; i++)
                sqlite3_finalize(s->stmt[i]);
        (void) sqlite3_close(s->db);
        free(s->path);
        free(s);
        return NULL;
}

static void store_freep(struct store **s) {
        store_free(*s);
}

static int store_errno(int rc) {
        switch (rc & 0xff) {
        case SQLITE_OK:
        case SQLITE_ROW:
        case SQLITE_DONE:
                return 0;
        case SQLITE_NOMEM:
                return -ENOMEM;
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
                return -EBUSY;
        case SQLITE_FULL:
                return -ENOSPC;
        case SQLITE_CANTOPEN:
        case SQLITE_PERM:
        case SQLITE_READONLY:
                return -EACCES;
        case SQLITE_CONSTRAINT:
                return -EEXIST;
        case SQLITE_CORRUPT:
        case SQLITE_NOTADB:
                return -EUCLEAN;        /* "Structure needs cleaning" says more than "Input/output error" */
        }
        return -EIO;
}

/* A prepared statement, reset and with its bindings cleared. */
static sqlite3_stmt *store_q(struct store *s, enum store_query q) {
        sqlite3_reset(s->stmt[q]);
        sqlite3_clear_bindings(s->stmt[q]);
        return s->stmt[q];
}

static int store_step_done(sqlite3_stmt *st) {
        int rc = sqlite3_step(st);
        int r = rc == SQLITE_DONE ? 0 : store_errno(rc) ?: -EIO;

        sqlite3_reset(st);
        return r;
}

static int store_load_secret(struct store *s) {
        sqlite3_stmt *st = NULL;
        int rc, r = 0;

        rc = sqlite3_prepare_v2(s->db, "SELECT value FROM meta WHERE name = 'cursor_secret'", -1, &st, NULL);
        if (rc != SQLITE_OK)
                return store_errno(rc);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW && sqlite3_column_bytes(st, 0) == CURSOR_SECRET_SIZE)
                memcpy(s->secret, sqlite3_column_blob(st, 0), CURSOR_SECRET_SIZE);
        else if (rc == SQLITE_DONE)
                r = -ENOENT;
        else
                r = -EIO;
        sqlite3_finalize(st);
        return r;
}

static int store_make_secret(struct store *s) {
        sqlite3_stmt *st = NULL;
        int rc, r;

        if (getrandom(s->secret, sizeof(s->secret), 0) != sizeof(s->secret))
                return -EIO;
        rc = sqlite3_prepare_v2(s->db, "INSERT INTO meta (name, value) VALUES ('cursor_secret', ?1)",
                                -1, &st, NULL);
        if (rc != SQLITE_OK)
                return store_errno(rc);
        sqlite3_bind_blob(st, 1, s->secret, sizeof(s->secret), SQLITE_STATIC);
        r = store_step_done(st);
        sqlite3_finalize(st);
        return r;
}

/* SQLite's own words for what failed, with the system's when a system call
 * failed (SQLite says "unable to open database file" both for a missing
 * directory and for one we may not write). */
static int store_sqlite_error(struct store *s, int rc, char **ret_error) {
        int r = store_errno(rc) ?: -EIO, sys = s->db ? sqlite3_system_errno(s->db) : 0;

        switch (rc & 0xff) {
        case SQLITE_CANTOPEN:
        case SQLITE_IOERR:
        case SQLITE_PERM:
        case SQLITE_READONLY:
        case SQLITE_FULL:
                if (sys > 0)
                        return errmsg_setf(ret_error, r, "%s (%s)", sqlite3_errmsg(s->db), strerror(sys));
        }
        return errmsg_setf(ret_error, r, "%s", s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
}

/* One integer of a PRAGMA that reads. */
static int store_pragma_int(struct store *s, const char *sql, int *ret, char **ret_error) {
        sqlite3_stmt *st = NULL;
        int rc;

        rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
        if (rc == SQLITE_OK) {
                rc = sqlite3_step(st);
                if (rc == SQLITE_ROW)
                        *ret = sqlite3_column_int(st, 0);
        }
        if (rc != SQLITE_ROW) {
                int r = store_sqlite_error(s, rc, ret_error);

                sqlite3_finalize(st);
                return r;
        }
        sqlite3_finalize(st);
        return 0;
}

/* A file written by a newer syncd may hold what this one would misread or
 * silently drop: refused before anything is written to it. */
static int store_check_version(struct store *s, int *ret_version, char **ret_error) {
        int v = 0, r;

        r = store_pragma_int(s, "PRAGMA user_version", &v, ret_error);
        if (r < 0)
                return r;
        if (v > STORE_SCHEMA_VERSION)
                return errmsg_setf(ret_error, -EPROTONOSUPPORT,
                                   "its schema version %d is newer than this syncd's %d (a newer syncd wrote it); "
                                   "refusing to use it, nothing was written to it", v, STORE_SCHEMA_VERSION);
        *ret_version = v;
        return 0;
}

/* PRAGMA quick_check's first complaint on one line ("*** in database main
 * ***\nPage 6: ..." comes as two), or SQLite's error when the check itself
 * fails. A damaged file would otherwise start fine and fail every request
 * that reads the bad page, for ever. */
static int store_quick_check(struct store *s, char **ret_error) {
        _cleanup_(freep) char *first = NULL;
        sqlite3_stmt *st = NULL;
        int rc;

        rc = sqlite3_prepare_v2(s->db, "PRAGMA quick_check", -1, &st, NULL);
        if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
                const char *t = (const char *) sqlite3_column_text(st, 0);

                first = strdup(t ?: "?");
                if (!first)
                        rc = SQLITE_NOMEM;
        }
        if (!first) {
                int r = errmsg_setf(ret_error, store_errno(rc) ?: -EIO, "PRAGMA quick_check failed: %s",
                                    sqlite3_errmsg(s->db));

                sqlite3_finalize(st);
                return r;
        }
        sqlite3_finalize(st);
        if (strcmp(first, "ok") == 0)
                return 0;
        for (char *p = first; *p; p++)
                if (*p == '\n' || *p == '\r')
                        *p = ' ';
        return errmsg_setf(ret_error, -EUCLEAN, "PRAGMA quick_check failed: %s; restore it from a backup",
                           first);
}

/* The tables, and the upgrade from an older version, in one transaction. */
static int store_make_schema(struct store *s, bool upgrade, char **ret_error) {
        int rc, r;

        rc = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
        if (rc == SQLITE_OK)
                rc = sqlite3_exec(s->db, store_schema, NULL, NULL, NULL);
        if (rc == SQLITE_OK && upgrade)
                rc = sqlite3_exec(s->db, store_upgrade, NULL, NULL, NULL);
        if (rc == SQLITE_OK)
                rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
        if (rc == SQLITE_OK)
                return 0;
        r = store_sqlite_error(s, rc, ret_error);
        if (!sqlite3_get_autocommit(s->db))
                (void) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return r;
}

static int store_setup(struct store *s, char **ret_error) {
        int rc, r, version = 0;

        rc = sqlite3_busy_timeout(s->db, 5000);
        if (rc != SQLITE_OK)
                return store_sqlite_error(s, rc, ret_error);
        r = store_check_version(s, &version, ret_error);
        if (r >= 0)
                r = store_quick_check(s, ret_error);
        if (r < 0)
                return r;
        rc = sqlite3_exec(s->db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;", NULL, NULL, NULL);
        if (rc != SQLITE_OK)
                return store_sqlite_error(s, rc, ret_error);
        r = store_make_schema(s, version < STORE_SCHEMA_VERSION, ret_error);
        if (r < 0)
                return r;
        r = store_load_secret(s);
        if (r == -ENOENT)
                r = store_make_secret(s);
        if (r < 0)
                return errmsg_setf(ret_error, r, "cannot read or make the cursor secret: %s", strerror(-r));
        return 0;
}

int store_open(const char *path, struct store **ret, char **ret_error) {
        _cleanup_(store_freep) struct store *s = calloc(1, sizeof(*s));
        int rc, r;

        if (!s || !(s->path = strdup(path)))
                return errmsg_setf(ret_error, -ENOMEM, "out of memory");
        if (settings_database_is_uri(path)) {
                r = store_pg_open(path, store_error_counter, &s->pg, ret_error);
                if (r < 0)
                        return r;
                *ret = TAKE_PTR(s);
                return 0;
        }
        rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
        if (rc != SQLITE_OK)
                return store_sqlite_error(s, rc, ret_error);
        r = store_setup(s, ret_error);
        if (r < 0)
                return r;
        for (size_t i = 0; i < _Q_MAX; i++) {
                rc = sqlite3_prepare_v3(s->db, store_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->stmt[i], NULL);
                if (rc != SQLITE_OK)
                        return store_sqlite_error(s, rc, ret_error);
        }
        *ret = TAKE_PTR(s);
        return 0;
}

/* Notices and warnings are not failures ("recovered N frames from the WAL"),
 * and SQLITE_SCHEMA is retried by SQLite itself. */
static void store_on_log(void *userdata, int rc, const char *msg) {
        uint64_t *counter = userdata;

        (void) msg;
        switch (rc & 0xff) {
        case SQLITE_OK:
        case SQLITE_NOTICE:
        case SQLITE_WARNING:
        case SQLITE_SCHEMA:
        case SQLITE_ROW:
        case SQLITE_DONE:
                return;
        }
        (*counter)++;
}

int store_count_errors(uint64_t *counter) {
        store_error_counter = counter;
        return sqlite3_config(SQLITE_CONFIG_LOG, store_on_log, counter) == SQLITE_OK ? 0 : -EBUSY;
}

static int store_ping_query(sqlite3 *db) {
        sqlite3_stmt *st = NULL;
        int rc;

        rc = sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master", -1, &st, NULL);
        if (rc == SQLITE_OK)
                rc = sqlite3_step(st);
        sqlite3_finalize(st);
        return rc == SQLITE_ROW ? 0 : store_errno(rc) ?: -EIO;
}

int store_ping(struct store *s) {
        if (s->pg)
                return store_pg_ping(s->pg);
        sqlite3 *db = NULL;
        int rc, r;

        r = store_ping_query(s->db);
        if (r < 0)
                return r;
        rc = sqlite3_open_v2(s->path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
        if (rc == SQLITE_OK)
                rc = sqlite3_busy_timeout(db, STORE_PING_BUSY_MS);
        if (rc == SQLITE_OK)
                r = store_ping_query(db);
        else    /* the system's word says more: a file that is gone is ENOENT, not EACCES */
                r = db && sqlite3_system_errno(db) > 0 ? -sqlite3_system_errno(db) : store_errno(rc) ?: -EIO;
        (void) sqlite3_close(db);
        return r;
}

const uint8_t *store_secret(const struct store *s) {
        if (s->pg)
                return store_pg_secret(s->pg);
        return s->secret;
}

int store_begin(struct store *s) {
        if (s->pg)
                return store_pg_begin(s->pg);
        return store_step_done(store_q(s, Q_BEGIN));
}

int store_commit(struct store *s) {
        if (s->pg)
                return store_pg_commit(s->pg);
        return store_step_done(store_q(s, Q_COMMIT));
}

void store_rollback(struct store *s) {
        if (s->pg) {
                store_pg_rollback(s->pg);
                return;
        }
        if (!sqlite3_get_autocommit(s->db))
                (void) store_step_done(store_q(s, Q_ROLLBACK));
}

/* SQLite: BEGIN IMMEDIATE already holds the whole file for one writer. */
int store_account_lock(struct store *s, const char *account) {
        return s->pg ? store_pg_account_lock(s->pg, account) : 0;
}

static int store_step_u64(sqlite3_stmt *st, uint64_t *ret) {
        int rc = sqlite3_step(st);

        if (rc == SQLITE_ROW)
                *ret = (uint64_t) sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
        if (rc == SQLITE_DONE)
                return -ENOENT;
        return rc == SQLITE_ROW ? 0 : store_errno(rc) ?: -EIO;
}

int store_seq(struct store *s, const char *account, uint64_t *ret) {
        if (s->pg)
                return store_pg_seq(s->pg, account, ret);
        sqlite3_stmt *st = store_q(s, Q_SEQ);
        int r;

        sqlite3_bind_text(st, 1, account, -1, SQLITE_STATIC);
        r = store_step_u64(st, ret);
        if (r == -ENOENT) {
                *ret = 0;
                return 0;
        }
        return r;
}

static char *store_column_strdup(sqlite3_stmt *st, int col) {
        const unsigned char *t = sqlite3_column_text(st, col);

        return t ? strdup((const char *) t) : NULL;
}

int store_record_get(struct store *s, const char *account, const char *key, const char *family,
                     struct stamp *ret_stamp, char **ret_json) {
        if (s->pg)
                return store_pg_record_get(s->pg, account, key, family, ret_stamp, ret_json);
        sqlite3_stmt *st = store_q(s, Q_RECORD_GET);
        struct stamp stamp;
        char *json = NULL;
        int rc;

        sqlite3_bind_text(st, 1, account, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, family, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
                stamp.hlc = (uint64_t) sqlite3_column_int64(st, 0);
                stamp.origin = (uint64_t) sqlite3_column_int64(st, 1);
                json = store_column_strdup(st, 2);
        }
        sqlite3_reset(st);
        if (rc == SQLITE_DONE)
                return -ENOENT;
        if (rc != SQLITE_ROW)
                return store_errno(rc) ?: -EIO;
        if (!json)
                return -ENOMEM;
        *ret_stamp = stamp;
        *ret_json = json;
        return 0;
}

int store_record_put(struct store *s, const char *account, const char *key, const char *family,
                     struct stamp stamp, const char *device, const char *json, uint64_t *ret_seq) {
        if (s->pg)
                return store_pg_record_put(s->pg, account, key, family, stamp, device, json, ret_seq);
        sqlite3_stmt *st = store_q(s, Q_SEQ_NEXT);
        uint64_t seq;
        int r;

        sqlite3_bind_text(st, 1, account, -1, SQLITE_STATIC);
        r = store_step_u64(st, &seq);
        if (r < 0)
                return r == -ENOENT ? -EIO : r;
        st = store_q(s, Q_RECORD_PUT);
        sqlite3_bind_text(st, 1, account, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, family, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, (sqlite3_int64) seq);
        sqlite3_bind_int64(st, 5, (sqlite3_int64) stamp.hlc);
        sqlite3_bind_int64(st, 6, (sqlite3_int64) stamp.origin);
        sqlite3_bind_text(st, 7, device, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 8, json, -1, SQLITE_STATIC);
        r = store_step_done(st);
        if (r < 0)
                return r;
        *ret_seq = seq;
        return 0;
}

int store_records_since(struct store *s, const char *account, uint64_t since, unsigned limit,
                        store_record_fn fn, void *userdata) {
        if (s->pg)
                return store_pg_records_since(s->pg, account, since, limit, fn, userdata);
        sqlite3_stmt *st = store_q(s, Q_RECORDS_SINCE);
        int rc, r = 0;

        sqlite3_bind_text(st, 1, account, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, (sqlite3_int64) since);
        sqlite3_bind_int64(st, 3, limit);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                r = fn((uint64_t) sqlite3_column_int64(st, 0), (const char *) sqlite3_column_text(st, 1),
                       userdata);
                if (r < 0)
                        break;
        }
        sqlite3_reset(st);
        if (r < 0)
                return r;
        return rc == SQLITE_DONE ? 0 : store_errno(rc) ?: -EIO;
}

int store_idem_get(struct store *s, const char *account, const char *key, uint64_t not_before_ms,
                   uint8_t ret_digest[static STORE_DIGEST_SIZE], unsigned *ret_status, char **ret_body) {
        if (s->pg)
                return store_pg_idem_get(s->pg, account, key, not_before_ms, ret_digest, ret_status, ret_body);
        sqlite3_stmt *st = store_q(s, Q_IDEM_GET);
        char *body = NULL;
        int rc;

        sqlite3_bind_text(st, 1, account, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, (sqlite3_int64) not_before_ms);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW && sqlite3_column_bytes(st, 0) == STORE_DIGEST_SIZE) {
                memcpy(ret_digest, sqlite3_column_blob(st, 0), STORE_DIGEST_SIZE);
                *ret_status = (unsigned) sqlite3_column_int(st, 1);
                body = store_column_strdup(st, 2);
        } else if (rc == SQLITE_ROW)
                rc = SQLITE_CORRUPT;
        sqlite3_reset(st);
        if (rc == SQLITE_DONE)
                return -ENOENT;
        if (rc != SQLITE_ROW)
                return store_errno(rc) ?: -EIO;
        if (!body)
                return -ENOMEM;
        *ret_body = body;
        return 0;
}

int store_idem_put(struct store *s, const char *account, const char *key,
                   const uint8_t digest[static STORE_DIGEST_SIZE], unsigned status, const char *body,
                   uint64_t now_ms) {
        if (s->pg)
                return store_pg_idem_put(s->pg, account, key, digest, status, body, now_ms);
        sqlite3_stmt *st = store_q(s, Q_IDEM_PUT);

        sqlite3_bind_text(st, 1, account, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
        sqlite3_bind_blob(st, 3, digest, STORE_DIGEST_SIZE, SQLITE_STATIC);
        sqlite3_bind_int(st, 4, (int) status);
        sqlite3_bind_text(st, 5, body, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 6, (sqlite3_int64) now_ms);
        return store_step_done(st);
}

int store_idem_trim(struct store *s, const char *account, const char *keep_key, uint64_t max_bytes) {
        if (s->pg)
                return store_pg_idem_trim(s->pg, account, keep_key, max_bytes);
        int dropped = 0, r;

        for (;;) {
                sqlite3_stmt *st = store_q(s, Q_IDEM_USAGE);
                uint64_t bytes;

                sqlite3_bind_text(st, 1, account, -1, SQLITE_STATIC);
                r = store_step_u64(st, &bytes);
                if (r == -ENOENT || (r == 0 && bytes <= max_bytes))
                        return dropped;
                if (r < 0)
                        return r;
                st = store_q(s, Q_IDEM_DROP_OLDEST);
                sqlite3_bind_text(st, 1, account, -1, SQLITE_STATIC);
                sqlite3_bind_text(st, 2, keep_key, -1, SQLITE_STATIC);
                r = store_step_done(st);
                if (r < 0)
                        return r;
                if (sqlite3_changes(s->db) == 0)
                        return dropped;         /* keep_key's answer alone is over max_bytes */
                dropped++;
        }
}

int store_idem_purge(struct store *s, uint64_t before_ms) {
        if (s->pg)
                return store_pg_idem_purge(s->pg, before_ms);
        sqlite3_stmt *st = store_q(s, Q_IDEM_PURGE);

        sqlite3_bind_int64(st, 1, (sqlite3_int64) before_ms);
        return store_step_done(st);
}

int store_device_put(struct store *s, const char *account, const char *id, const char *json) {
        if (s->pg)
                return store_pg_device_put(s->pg, account, id, json);
        sqlite3_stmt *st = store_q(s, Q_DEVICE_PUT);

        sqlite3_bind_text(st, 1, account, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, json, -1, SQLITE_STATIC);
        return store_step_done(st);
}

int store_devices_trim(struct store *s, const char *account, const char *keep_id, unsigned max) {
        if (s->pg)
                return store_pg_devices_trim(s->pg, account, keep_id, max);
        sqlite3_stmt *st = store_q(s, Q_DEVICES_TRIM);
        int r;

        sqlite3_bind_text(st, 1, account, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, keep_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, max > 0 ? max - 1 : 0);
        r = store_step_done(st);
        return r < 0 ? r : sqlite3_changes(s->db);
}

int store_devices_list(struct store *s, const char *account, const char *after, unsigned limit,
                       store_device_fn fn, void *userdata) {
        if (s->pg)
                return store_pg_devices_list(s->pg, account, after, limit, fn, userdata);
        sqlite3_stmt *st = store_q(s, Q_DEVICES_LIST);
        int rc, r = 0;

        sqlite3_bind_text(st, 1, account, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, after ?: "", -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, limit);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                r = fn((const char *) sqlite3_column_text(st, 0), (const char *) sqlite3_column_text(st, 1),
                       userdata);
                if (r < 0)
                        break;
        }
        sqlite3_reset(st);
        if (r < 0)
                return r;
        return rc == SQLITE_DONE ? 0 : store_errno(rc) ?: -EIO;
}

int store_notify(struct store *s, const char *account) {
        return s->pg ? store_pg_notify(s->pg, account) : 0;
}

int store_changes_fd(const struct store *s) {
        return s->pg ? store_pg_changes_fd(s->pg) : -1;
}

int store_changes_timeout_ms(const struct store *s, uint64_t now_ms) {
        return s->pg ? store_pg_changes_timeout_ms(s->pg, now_ms) : -1;
}

void store_changes_process(struct store *s, uint64_t now_ms, store_change_fn fn, void *userdata) {
        if (s->pg)
                store_pg_changes_process(s->pg, now_ms, fn, userdata);
}

int store_idem_claim(struct store *s, const char *account, const char *key) {
        return s->pg ? store_pg_idem_claim(s->pg, account, key) : 0;
}

void store_idem_release(struct store *s, const char *account, const char *key) {
        if (s->pg)
                store_pg_idem_release(s->pg, account, key);
}
