/* SPDX-License-Identifier: MIT */
/* syncd --backup (backup.h). The source is opened read-only, so nothing here
 * can write to the database a server is using; the copy is made under a
 * temporary name, so a backup that fails or is killed never leaves a file
 * under the name asked for that looks like a backup. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "backup.h"
#include "cleanup.h"
#include "common/errmsg.h"
#include "now.h"

/* How long a lock of the server's may hold the copy up (it takes a few ms). */
#define BACKUP_BUSY_TIMEOUT_MS 10000

static void backup_closep(sqlite3 **db) {
        if (*db)
                (void) sqlite3_close(*db);
}

/* SQLite's words, with the system's when a system call failed. */
static int backup_sqlite_error(sqlite3 *db, int rc, const char *path, char **ret_error) {
        int sys = db ? sqlite3_system_errno(db) : 0;
        const char *msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);

        if (sys > 0 && (rc & 0xff) != SQLITE_CORRUPT && (rc & 0xff) != SQLITE_NOTADB)
                return errmsg_setf(ret_error, -EIO, "%s: %s (%s)", path, msg, strerror(sys));
        return errmsg_setf(ret_error, (rc & 0xff) == SQLITE_NOMEM ? -ENOMEM : -EIO, "%s: %s", path, msg);
}

static int backup_open(const char *path, int flags, sqlite3 **ret, char **ret_error) {
        int rc = sqlite3_open_v2(path, ret, flags | SQLITE_OPEN_NOMUTEX, NULL);

        if (rc == SQLITE_OK)
                rc = sqlite3_busy_timeout(*ret, BACKUP_BUSY_TIMEOUT_MS);
        return rc == SQLITE_OK ? 0 : backup_sqlite_error(*ret, rc, path, ret_error);
}

static int backup_count(sqlite3 *db, const char *table, uint64_t *ret) {
        _cleanup_(freep) char *sql = NULL;
        sqlite3_stmt *st = NULL;
        int rc;

        if (asprintf(&sql, "SELECT count(*) FROM %s", table) < 0)
                return SQLITE_NOMEM;
        rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
        if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
                *ret = (uint64_t) sqlite3_column_int64(st, 0);
                rc = SQLITE_OK;
        }
        sqlite3_finalize(st);
        return rc;
}

/* The copy is read back whole before it gets its name: a backup that
 * cannot be used must fail now, not on the day it is restored. */
static int backup_check(sqlite3 *db, const char *db_path, struct backup_stats *s, char **ret_error) {
        sqlite3_stmt *st = NULL;
        const char *verdict;
        int rc;

        rc = backup_count(db, "accounts", &s->accounts);
        if (rc == SQLITE_OK)
                rc = backup_count(db, "records", &s->records);
        if (rc == SQLITE_OK)
                rc = backup_count(db, "devices", &s->devices);
        if (rc == SQLITE_ERROR)
                return errmsg_setf(ret_error, -EINVAL, "%s is not a syncd database: %s", db_path,
                                   sqlite3_errmsg(db));
        if (rc != SQLITE_OK)
                return backup_sqlite_error(db, rc, db_path, ret_error);
        rc = sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &st, NULL);
        if (rc == SQLITE_OK)
                rc = sqlite3_step(st);
        verdict = rc == SQLITE_ROW ? (const char *) sqlite3_column_text(st, 0) : NULL;
        if (!verdict || strcmp(verdict, "ok") != 0) {
                int r = errmsg_setf(ret_error, -EUCLEAN, "the copy of %s fails PRAGMA quick_check: %s", db_path,
                                    verdict ?: sqlite3_errmsg(db));

                sqlite3_finalize(st);
                return r;
        }
        sqlite3_finalize(st);
        return 0;
}

/* A file that is not a database (or a damaged one) is named as such here:
 * once the copy has begun, SQLite reports on the copy's connection. */
static int backup_probe(sqlite3 *src, const char *db_path, char **ret_error) {
        int rc = sqlite3_exec(src, "SELECT count(*) FROM sqlite_schema", NULL, NULL, NULL);

        return rc == SQLITE_OK ? 0 : backup_sqlite_error(src, rc, db_path, ret_error);
}

/* Every page in one step: one read transaction of the source, so the copy
 * is one moment of it, and in WAL mode the server's commits go on. */
static int backup_copy(sqlite3 *src, const char *db_path, sqlite3 *dst, const char *tmp, char **ret_error) {
        sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
        int rc;

        if (!b)
                return backup_sqlite_error(dst, sqlite3_errcode(dst), tmp, ret_error);
        rc = sqlite3_backup_step(b, -1);
        (void) sqlite3_backup_finish(b);
        if (rc == SQLITE_DONE)
                return 0;
        if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED)
                return errmsg_setf(ret_error, -EBUSY, "%s stayed locked for %d s: %s", db_path,
                                   BACKUP_BUSY_TIMEOUT_MS / 1000, sqlite3_errstr(rc));
        return backup_sqlite_error(dst, rc, tmp, ret_error);    /* the copy's side: a full disk */
}

static int backup_fsync_path(const char *path, int flags) {
        _cleanup_(closep) int fd = open(path, flags | O_RDONLY | O_CLOEXEC);

        if (fd < 0 || fsync(fd) < 0)
                return -errno;
        return 0;
}

/* The copy on disk, then its name, then the name on disk; the name is never
 * taken from a file that appeared meanwhile. */
static int backup_publish(const char *tmp, const char *dest, char **ret_error) {
        _cleanup_(freep) char *dir = strdup(dest);
        int r;

        if (!dir)
                return errmsg_setf(ret_error, -ENOMEM, "out of memory");
        r = backup_fsync_path(tmp, 0);
        if (r < 0)
                return errmsg_setf(ret_error, r, "cannot sync %s: %s", tmp, strerror(-r));
        if (renameat2(AT_FDCWD, tmp, AT_FDCWD, dest, RENAME_NOREPLACE) < 0)
                return errmsg_setf(ret_error, -errno, "cannot name the copy %s: %s", dest, strerror(errno));
        r = backup_fsync_path(dirname(dir), O_DIRECTORY);
        if (r < 0)
                return errmsg_setf(ret_error, r, "cannot sync the directory of %s: %s", dest, strerror(-r));
        return 0;
}

/* What SQLite may have left beside a copy that failed. */
static void backup_remove(const char *tmp) {
        static const char *const suffixes[] = { "", "-journal", "-wal", "-shm" };
        char path[PATH_MAX];

        for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++)
                if (snprintf(path, sizeof(path), "%s%s", tmp, suffixes[i]) < (int) sizeof(path))
                        (void) unlink(path);
}

static int backup_make(const char *db_path, const char *tmp, struct backup_stats *s, char **ret_error) {
        _cleanup_(backup_closep) sqlite3 *src = NULL;
        _cleanup_(backup_closep) sqlite3 *dst = NULL;
        struct stat st;
        int r;

        r = backup_open(db_path, SQLITE_OPEN_READONLY, &src, ret_error);
        if (r >= 0)
                r = backup_probe(src, db_path, ret_error);
        if (r >= 0)
                r = backup_open(tmp, SQLITE_OPEN_READWRITE, &dst, ret_error);
        if (r >= 0)
                r = backup_copy(src, db_path, dst, tmp, ret_error);
        if (r >= 0)
                r = backup_check(dst, db_path, s, ret_error);
        if (r < 0)
                return r;
        /* closed before it is synced and named: WAL folded back into the file */
        if (sqlite3_close(TAKE_PTR(dst)) != SQLITE_OK)
                return errmsg_setf(ret_error, -EIO, "cannot close the copy %s", tmp);
        if (stat(tmp, &st) < 0)
                return errmsg_setf(ret_error, -errno, "%s: %s", tmp, strerror(errno));
        s->bytes = (uint64_t) st.st_size;
        return 0;
}

int backup_run(const char *db_path, const char *dest_path, struct backup_stats *ret, char **ret_error) {
        _cleanup_(freep) char *tmp = NULL;
        struct backup_stats s = {};
        uint64_t t0 = now_us(CLOCK_MONOTONIC);
        struct stat st;
        int fd, r;

        if (lstat(dest_path, &st) == 0)
                return errmsg_setf(ret_error, -EEXIST, "%s exists: a backup never replaces a file, give a new name",
                                   dest_path);
        if (errno != ENOENT)
                return errmsg_setf(ret_error, -errno, "cannot use %s: %s", dest_path, strerror(errno));
        if (asprintf(&tmp, "%s.partial-XXXXXX", dest_path) < 0)
                return errmsg_setf(ret_error, -ENOMEM, "out of memory");
        fd = mkostemp(tmp, O_CLOEXEC);          /* 0600, and a name no other backup uses */
        if (fd < 0)
                return errmsg_setf(ret_error, -errno, "cannot make %s: %s", tmp, strerror(errno));
        (void) close(fd);
        r = backup_make(db_path, tmp, &s, ret_error);
        if (r >= 0)
                r = backup_publish(tmp, dest_path, ret_error);
        if (r < 0) {
                backup_remove(tmp);
                return r;
        }
        s.usec = now_us(CLOCK_MONOTONIC) - t0;
        *ret = s;
        return 0;
}
