/* SPDX-License-Identifier: MIT */
/* Tests of syncd's limits and start-up checks, each found by a red-team run:
 * what a rejected record's result may repeat, the cap on stored push answers,
 * the push rate limit, the device cap and paging, the database files it
 * refuses (a newer schema, a damaged page, not a database, a missing
 * directory) with SQLite's own words and without writing to them, and the
 * warning about a tokens or key file others can read. Starts the built
 * binary (BRIDGED_BUILD) on 127.0.0.1 port 0, each test on its own database. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <sqlite3.h>

#include "common/cleanup.h"
#include "tests/lib/harness.h"

#define DEV_HDR "Device-Id: 00a1b2c3d4e5f607"

static struct harness_syncd D;          /* certificates and tokens; no server of its own */

/* Helpers */

/* A whole file, malloc'd, and its length. */
static char *slurp(const char *path, size_t *ret_len) {
        FILE *f = fopen(path, "re");
        char *buf = NULL;
        long n;

        assert_non_null(f);
        assert_int_equal(fseek(f, 0, SEEK_END), 0);
        n = ftell(f);
        assert_true(n >= 0);
        rewind(f);
        buf = malloc((size_t) n + 1);
        assert_non_null(buf);
        assert_int_equal(fread(buf, 1, (size_t) n, f), (size_t) n);
        fclose(f);
        buf[n] = '\0';
        *ret_len = (size_t) n;
        return buf;
}

static void put_bytes(const char *path, long offset, const void *data, size_t n) {
        int fd = open(path, O_WRONLY | O_CLOEXEC);

        assert_true(fd >= 0);
        assert_int_equal(pwrite(fd, data, n, offset), (ssize_t) n);
        close(fd);
}

static void write_text(const char *path, const char *text) {
        FILE *f = fopen(path, "we");

        assert_non_null(f);
        fputs(text, f);
        assert_int_equal(fclose(f), 0);
}

static int count_lines(const char *text) {
        int n = 0;

        for (; *text; text++)
                n += *text == '\n';
        return n;
}

/* A server on the shared certificates with its own database DIR/NAME. */
static void start_on(struct harness_syncd *s, const char *name, const char *const *extra) {
        *s = D;
        s->pid = -1;
        s->pidfd = -1;
        s->port = 0;
        snprintf(s->db, sizeof(s->db), "%s/%s", D.dir, name);
        assert_int_equal(harness_start(s, false, extra), 0);
}

static void stop(struct harness_syncd *s) {
        assert_int_equal(harness_stop(s), 0);
}

/* Runs syncd on db to its end (a start it must refuse): its exit status and
 * what it printed. */
static int run_on(const char *db, char *out, size_t size) {
        char cert[160], key[160], tokens[160];

        snprintf(cert, sizeof(cert), "%s/server.pem", D.dir);
        snprintf(key, sizeof(key), "%s/server.key", D.dir);
        snprintf(tokens, sizeof(tokens), "%s/tokens", D.dir);
        return harness_run_syncd((const char *[]) { "syncd", "--listen", "127.0.0.1:0", "--cert", cert, "--key", key,
                                                    "--db", db, "--tokens", tokens, NULL }, out, size);
}

static void push_raw(const struct harness_syncd *s, const char *token, const char *key, const char *body,
                     struct harness_resp *resp) {
        char hdr[80];
        const char *headers[] = { hdr, DEV_HDR, NULL };

        snprintf(hdr, sizeof(hdr), "Idempotency-Key: %s", key);
        assert_int_equal(harness_request(s, "POST", "/v1/sync/push", token, body, headers, resp), 0);
}

/* {"schema": 1, "records": [...]} of n copies of one record (malloc'd). */
static char *push_of(const char *record, int n) {
        size_t len = strlen(record);
        char *body = malloc(64 + (len + 2) * (size_t) n), *p = body;

        assert_non_null(body);
        p += sprintf(p, "{\"schema\": 1, \"records\": [");
        for (int i = 0; i < n; i++)
                p += sprintf(p, "%s%s", i ? ", " : "", record);
        strcpy(p, "]}");
        return body;
}

/* A record of eq.active with this stamp. */
static char *active(uint64_t ms, unsigned c) {
        char *r;

        assert_true(asprintf(&r, "{\"key\": \"eq.active\", \"family\": \"pro\", \"stamp\": {\"ms\": %llu, "
                             "\"c\": %u, \"origin\": \"00a1b2c3d4e5f607\"}, \"derived\": false, "
                             "\"value\": {\"preset\": \"voice\"}}", (unsigned long long) ms, c) > 0);
        return r;
}

/* Pushes body under a new key (returned in key when not NULL); the status. */
static long push_new(const struct harness_syncd *s, const char *token, const char *body, char *key,
                     struct harness_resp *resp) {
        char k[37];

        harness_new_uuid(k);
        if (key)
                strcpy(key, k);
        push_raw(s, token, k, body, resp);
        return resp->status;
}

/* What syncd keeps of account's push answers: how many, and their bytes. */
static long long stored_answers(const char *db_path, const char *account, long long *ret_bytes) {
        sqlite3 *db = NULL;
        sqlite3_stmt *st = NULL;
        long long n;

        assert_int_equal(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_busy_timeout(db, 5000), SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*), coalesce(sum(length(CAST(body AS BLOB))), 0) "
                                            "FROM idempotency WHERE account = ?1", -1, &st, NULL), SQLITE_OK);
        sqlite3_bind_text(st, 1, account, -1, SQLITE_STATIC);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        n = sqlite3_column_int64(st, 0);
        *ret_bytes = sqlite3_column_int64(st, 1);
        sqlite3_finalize(st);
        sqlite3_close(db);
        return n;
}

static long long file_size(const char *path) {
        struct stat st;

        return stat(path, &st) == 0 ? (long long) st.st_size : 0;
}

/* The database and its write-ahead log. */
static long long db_size(const char *path) {
        char wal[200];

        snprintf(wal, sizeof(wal), "%s-wal", path);
        return file_size(path) + file_size(wal);
}

static const char *result_member(const cJSON *res, int i, const char *name) {
        const cJSON *m = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(res, "results"), i), name);

        assert_true(cJSON_IsString(m));
        return m->valuestring;
}

/* A database made by syncd itself, with a record and a device in it. */
static void make_db(const char *name, char *ret_path, size_t size) {
        struct harness_syncd s;
        struct harness_resp r;
        char body[512];

        start_on(&s, name, NULL);
        snprintf(body, sizeof(body), "{\"schema\": 1, \"records\": [{\"key\": \"eq.active\", \"family\": \"pro\", "
                 "\"stamp\": {\"ms\": 1700000000000, \"c\": 0, \"origin\": \"00a1b2c3d4e5f607\"}, "
                 "\"derived\": false, \"value\": {\"preset\": \"voice\"}}]}");
        push_raw(&s, HARNESS_TOKEN_A, "0f000000-0000-4000-8000-000000000001", body, &r);
        assert_int_equal(r.status, 200);
        harness_resp_clear(&r);
        assert_int_equal(harness_request(&s, "PUT", "/v1/devices/00a1b2c3d4e5f607", HARNESS_TOKEN_A,
                                         "{\"kind\": \"host\", \"last_seen_ms\": 1}", NULL, &r), 0);
        assert_int_equal(r.status, 200);
        harness_resp_clear(&r);
        stop(&s);
        snprintf(ret_path, size, "%s", s.db);
}

/* Starts syncd on path, which it must refuse with exit status 1 and one line
 * holding the path and every string of want, none of unwanted (when not
 * NULL); the file must be as it was. */
static void assert_refused(const char *path, const char *const *want, const char *unwanted) {
        char out[4096];
        size_t before_len = 0, after_len = 0;
        char *before = access(path, F_OK) == 0 ? slurp(path, &before_len) : NULL;
        char *after;
        int status = run_on(path, out, sizeof(out));

        if (status != 1)
                fprintf(stderr, "exit status %d, output: %s\n", status, out);
        assert_int_equal(status, 1);
        assert_int_equal(count_lines(out), 1);
        assert_non_null(strstr(out, path));
        for (; *want; want++) {
                if (!strstr(out, *want))
                        fprintf(stderr, "'%s' not in: %s", *want, out);
                assert_non_null(strstr(out, *want));
        }
        assert_true(!unwanted || !strstr(out, unwanted));
        if (!before)
                return;
        after = slurp(path, &after_len);
        assert_int_equal(after_len, before_len);
        assert_memory_equal(after, before, before_len);
        free(before);
        free(after);
}

/* Tests */

/* Records whose key or family is not one of the five items are rejected
 * without their strings in the answer: the result names no item ("" for
 * both), so the stored answer of a push stays small whatever it sent. */
static void test_push_unknown_names_not_echoed(void **state) {
        static const char *const bad[] = { "{\"key\": \"%s\", \"family\": \"any\"}",
                                           "{\"key\": \"profile\", \"family\": \"%s\"}" };
        _cleanup_(freep) char *name = malloc(1001), *rec = NULL, *body = NULL, *ok = active(1700000000000, 0);
        struct harness_syncd s;
        struct harness_resp r;
        cJSON *res;

        (void) state;
        memset(name, 'k', 1000);
        name[1000] = '\0';
        start_on(&s, "names.db", NULL);
        assert_true(asprintf(&body, "{\"schema\": 1, \"records\": [{\"key\": \"%s\", \"family\": \"any\"}, "
                             "{\"key\": \"profile\", \"family\": \"%s\"}, "
                             "{\"key\": \"profile\", \"family\": \"pro\"}, %s, "
                             "{\"key\": \"eq.custom\", \"family\": \"standard\", \"value\": 1}]}",
                             name, name, ok) > 0);
        assert_int_equal(push_new(&s, HARNESS_TOKEN_A, body, NULL, &r), 200);
        res = cJSON_Parse(r.body);
        assert_non_null(res);
        assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(res, "results")), 5);  /* one per record, in order */
        for (int i = 0; i < 3; i++) {
                assert_string_equal(result_member(res, i, "status"), "rejected");
                assert_string_equal(result_member(res, i, "reason"), "invalid_value");
                assert_string_equal(result_member(res, i, "key"), "");
                assert_string_equal(result_member(res, i, "family"), "");
        }
        assert_string_equal(result_member(res, 3, "status"), "applied");
        assert_string_equal(result_member(res, 4, "status"), "rejected");     /* a known item, a bad record */
        assert_string_equal(result_member(res, 4, "key"), "eq.custom");
        assert_string_equal(result_member(res, 4, "family"), "standard");
        assert_null(strstr(r.body, "kkkk"));
        cJSON_Delete(res);
        harness_resp_clear(&r);

        /* the largest such push answers in little: 1000 records of 1000-byte names */
        for (int i = 0; i < 2; i++) {
                free(rec);
                assert_true(asprintf(&rec, bad[i], name) > 0);
                free(body);
                body = push_of(rec, 1000);
                assert_int_equal(push_new(&s, HARNESS_TOKEN_A, body, NULL, &r), 200);
                assert_true(r.len < 80 * 1000);
                harness_resp_clear(&r);
        }
        stop(&s);
}

/* The red team's run: 50 pushes of 1000 records with 1000-byte unknown keys
 * (1 MB each) grew the database by 56 MB in 0.9 s. */
static void test_push_rejected_growth(void **state) {
        _cleanup_(freep) char *name = malloc(1001), *rec = NULL, *body = NULL;
        struct harness_syncd s;
        struct harness_resp r;
        long long before, n, bytes;

        (void) state;
        memset(name, 'k', 1000);
        name[1000] = '\0';
        assert_true(asprintf(&rec, "{\"key\": \"%s\", \"family\": \"any\"}", name) > 0);
        body = push_of(rec, 1000);
        start_on(&s, "growth.db", NULL);
        before = db_size(s.db);
        for (int i = 0; i < 50; i++) {
                assert_int_equal(push_new(&s, HARNESS_TOKEN_A, body, NULL, &r), 200);
                harness_resp_clear(&r);
        }
        n = stored_answers(s.db, "alice", &bytes);
        fprintf(stderr, "50 all-rejected pushes of %zu bytes: %lld answers of %lld bytes stored, "
                "database and WAL grew by %lld bytes\n", strlen(body), n, bytes, db_size(s.db) - before);
        assert_int_equal(n, 50);
        assert_true(bytes < 50 * 80 * 1000);
        stop(&s);
}

/* The stored answers of an account are capped: beyond --max-replay-kib the
 * oldest go first, so the newest keys still replay; a key whose answer went
 * is processed again (its records are now stale, nothing acknowledged is
 * lost); another account's answers stay; an answer larger than the cap by
 * itself is still kept. */
static void test_replay_cap(void **state) {
        _cleanup_(freep) char *filler = push_of("{\"key\": \"volume\", \"family\": \"any\"}", 20);
        _cleanup_(freep) char *big = push_of("{\"key\": \"volume\", \"family\": \"any\"}", 1000);
        _cleanup_(freep) char *rec = active(1700000000000, 7), *first = NULL, *newest_body = NULL;
        char k0[37], kb[37], kn[37], hdr[16];
        struct harness_syncd s;
        struct harness_resp r;
        long long n, bytes;
        cJSON *res;

        (void) state;
        first = push_of(rec, 1);
        start_on(&s, "cap.db", (const char *[]) { "--max-replay-kib", "16", NULL });
        assert_int_equal(push_new(&s, HARNESS_TOKEN_A, first, k0, &r), 200);
        harness_resp_clear(&r);
        assert_int_equal(push_new(&s, HARNESS_TOKEN_B, first, kb, &r), 200);
        harness_resp_clear(&r);
        for (int i = 0; i < 40; i++) {
                assert_int_equal(push_new(&s, HARNESS_TOKEN_A, filler, kn, &r), 200);
                free(newest_body);
                newest_body = strdup(r.body);
                harness_resp_clear(&r);
        }
        n = stored_answers(s.db, "alice", &bytes);
        fprintf(stderr, "41 pushes under a 16 KiB cap: %lld answers of %lld bytes kept\n", n, bytes);
        assert_true(bytes <= 16 * 1024);
        assert_true(n > 1 && n < 41);

        /* the newest replays exactly */
        push_raw(&s, HARNESS_TOKEN_A, kn, filler, &r);
        assert_int_equal(r.status, 200);
        assert_non_null(harness_header(&r, "Idempotent-Replay", hdr, sizeof(hdr)));
        assert_string_equal(r.body, newest_body);
        harness_resp_clear(&r);

        /* the oldest is processed again: the record it applied is there, so now stale */
        push_raw(&s, HARNESS_TOKEN_A, k0, first, &r);
        assert_int_equal(r.status, 200);
        assert_null(harness_header(&r, "Idempotent-Replay", hdr, sizeof(hdr)));
        res = cJSON_Parse(r.body);
        assert_string_equal(result_member(res, 0, "status"), "stale");
        assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetArrayItem(
                cJSON_GetObjectItem(res, "results"), 0), "current"), "stamp"), "c")->valueint, 7);
        cJSON_Delete(res);
        harness_resp_clear(&r);

        /* bob's answer did not pay for alice's */
        push_raw(&s, HARNESS_TOKEN_B, kb, first, &r);
        assert_non_null(harness_header(&r, "Idempotent-Replay", hdr, sizeof(hdr)));
        harness_resp_clear(&r);

        /* one answer over the cap by itself: kept, alone */
        assert_int_equal(push_new(&s, HARNESS_TOKEN_A, big, kn, &r), 200);
        assert_true(r.len > 16 * 1024);
        harness_resp_clear(&r);
        push_raw(&s, HARNESS_TOKEN_A, kn, big, &r);
        assert_non_null(harness_header(&r, "Idempotent-Replay", hdr, sizeof(hdr)));
        harness_resp_clear(&r);
        assert_int_equal(stored_answers(s.db, "alice", &bytes), 1);
        stop(&s);
}

/* One statement's integer on the database at path (read-only). */
static long long db_int(const char *path, const char *sql) {
        sqlite3 *db = NULL;
        sqlite3_stmt *st = NULL;
        long long v;

        assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        sqlite3_close(db);
        return v;
}

/* A version-1 file (before the answers were counted) is upgraded: the
 * count is made from what is stored. */
static void test_upgrade_from_version_1(void **state) {
        struct harness_syncd s;
        sqlite3 *db = NULL;
        char path[160];

        (void) state;
        make_db("v1.db", path, sizeof(path));
        assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_exec(db, "DROP TRIGGER idempotency_usage_insert; DROP TRIGGER idempotency_usage_update;"
                                      "DROP TRIGGER idempotency_usage_delete; DROP TABLE idempotency_usage;"
                                      "DROP INDEX idempotency_by_account_age; PRAGMA user_version = 1;",
                                      NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);
        start_on(&s, "v1.db", NULL);
        stop(&s);
        assert_int_equal(db_int(path, "PRAGMA user_version"), 2);
        assert_true(db_int(path, "SELECT bytes FROM idempotency_usage WHERE account = 'alice'") > 0);
        assert_int_equal(db_int(path, "SELECT bytes FROM idempotency_usage WHERE account = 'alice'"),
                         db_int(path, "SELECT sum(length(CAST(body AS BLOB))) FROM idempotency"));
}

/* Pushes of one small record by token until the first 429 (at most max);
 * how many were answered 200 before it, and the 429 in *ret. */
static int push_until_limited(const struct harness_syncd *s, const char *token, int max, struct harness_resp *ret) {
        _cleanup_(freep) char *rec = active(1700000000000, 1), *body = push_of(rec, 1);
        int ok = 0;

        for (int i = 0; i < max; i++) {
                if (push_new(s, token, body, NULL, ret) != 200)
                        return ok;
                harness_resp_clear(ret);
                ok++;
        }
        return ok;
}

static int retry_after(const struct harness_resp *r) {
        char buf[16];

        assert_non_null(harness_header(r, "Retry-After", buf, sizeof(buf)));
        return atoi(buf);
}

static void assert_rate_limited(const struct harness_resp *r) {
        cJSON *j = cJSON_Parse(r->body);

        assert_int_equal(r->status, 429);
        assert_non_null(j);
        assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "error"), "code")->valuestring, "rate_limited");
        cJSON_Delete(j);
}

/* Pushes per account are limited: a burst of N, then one every 60/N s; the
 * 429 says when to come back, the push refused was not processed (the same
 * key then applies), and another account is not held back. By default the
 * burst is 120: a bridge pushes a handful a minute. */
static void test_push_rate_limit(void **state) {
        _cleanup_(freep) char *rec = active(1700000000001, 0), *body = push_of(rec, 1);
        struct harness_syncd s;
        struct harness_resp r;
        uint64_t t0;
        char key[37];
        int ok, wait;
        cJSON *j;

        (void) state;
        start_on(&s, "rate-default.db", NULL);
        t0 = harness_now_ms();
        ok = push_until_limited(&s, HARNESS_TOKEN_A, 400, &r);
        assert_true(ok >= 120 && (uint64_t) ok <= 120 + 2 * (harness_now_ms() - t0) / 1000 + 1);
        assert_rate_limited(&r);
        assert_true(retry_after(&r) >= 1);
        harness_resp_clear(&r);
        stop(&s);

        start_on(&s, "rate.db", (const char *[]) { "--max-pushes-per-minute", "60", NULL });
        t0 = harness_now_ms();
        ok = push_until_limited(&s, HARNESS_TOKEN_A, 200, &r);
        /* 60 at once, and one more for each second the loop took */
        fprintf(stderr, "--max-pushes-per-minute 60: %d pushes in %llu ms before the first 429\n", ok,
                (unsigned long long) (harness_now_ms() - t0));
        assert_true(ok >= 60 && (uint64_t) ok <= 60 + (harness_now_ms() - t0) / 1000 + 1);
        assert_rate_limited(&r);
        wait = retry_after(&r);
        assert_int_equal(wait, 1);
        harness_resp_clear(&r);

        assert_int_equal(push_new(&s, HARNESS_TOKEN_B, body, NULL, &r), 200);   /* bob has his own bucket */
        harness_resp_clear(&r);
        assert_int_equal(push_new(&s, HARNESS_TOKEN_A, body, key, &r), 429);
        wait = retry_after(&r);
        harness_resp_clear(&r);
        sleep((unsigned) wait);         /* what the server asked for: then it must take the push */
        push_raw(&s, HARNESS_TOKEN_A, key, body, &r);
        assert_int_equal(r.status, 200);
        j = cJSON_Parse(r.body);
        assert_string_equal(result_member(j, 0, "status"), "applied");     /* not processed the first time */
        cJSON_Delete(j);
        harness_resp_clear(&r);
        stop(&s);

}

static void put_device(const struct harness_syncd *s, const char *token, unsigned id, uint64_t last_seen_ms) {
        struct harness_resp r;
        char path[64], body[128];

        snprintf(path, sizeof(path), "/v1/devices/%016x", id);
        snprintf(body, sizeof(body), "{\"kind\": \"host\", \"name\": \"host %u\", \"last_seen_ms\": %llu}", id,
                 (unsigned long long) last_seen_ms);
        assert_int_equal(harness_request(s, "PUT", path, token, body, NULL, &r), 0);
        if (r.status != 200)
                fprintf(stderr, "PUT %s: %ld %s\n", path, r.status, r.body ?: "");
        assert_int_equal(r.status, 200);
        harness_resp_clear(&r);
}

/* GET path: the ids listed, as one string "1,2,3" (each id's last digits,
 * in hex), and the answer's "next" ("" when absent). */
static void list_devices(const struct harness_syncd *s, const char *token, const char *path, char *ids, size_t size,
                         char *next, size_t next_size) {
        struct harness_resp r;
        const cJSON *d, *n;
        cJSON *j;

        assert_int_equal(harness_request(s, "GET", path, token, NULL, NULL, &r), 0);
        assert_int_equal(r.status, 200);
        j = cJSON_Parse(r.body);
        assert_non_null(j);
        ids[0] = '\0';
        cJSON_ArrayForEach(d, cJSON_GetObjectItem(j, "devices")) {
                const char *id = cJSON_GetObjectItem(d, "id")->valuestring;

                while (*id == '0' && id[1])
                        id++;
                snprintf(ids + strlen(ids), size - strlen(ids), "%s%s", ids[0] ? "," : "", id);
        }
        n = cJSON_GetObjectItem(j, "next");
        snprintf(next, next_size, "%s", cJSON_IsString(n) ? n->valuestring : "");
        cJSON_Delete(j);
        harness_resp_clear(&r);
}

static void assert_devices(const struct harness_syncd *s, const char *token, const char *want) {
        char ids[1024], next[32];

        list_devices(s, token, "/v1/devices", ids, sizeof(ids), next, sizeof(next));
        if (strcmp(ids, want) != 0)
                fprintf(stderr, "devices %s, want %s\n", ids, want);
        assert_string_equal(ids, want);
        assert_string_equal(next, "");
}

/* An account keeps at most --max-devices: a new device beyond it replaces
 * the one seen longest ago (never itself, however old its last_seen_ms);
 * replacing a known device drops none; other accounts are apart. */
static void test_devices_limit(void **state) {
        struct harness_syncd s;
        char want[1024] = "";

        (void) state;
        /* by default 64: the red team registered 200,000 */
        start_on(&s, "devices-default.db", NULL);
        for (unsigned i = 1; i <= 70; i++)
                put_device(&s, HARNESS_TOKEN_A, i, 1000 + i);
        for (unsigned i = 7; i <= 70; i++)
                snprintf(want + strlen(want), sizeof(want) - strlen(want), "%s%x", i > 7 ? "," : "", i);
        assert_devices(&s, HARNESS_TOKEN_A, want);
        stop(&s);

        start_on(&s, "devices.db", (const char *[]) { "--max-devices", "4", NULL });
        for (unsigned i = 1; i <= 6; i++)
                put_device(&s, HARNESS_TOKEN_A, i, 1000 + i);
        assert_devices(&s, HARNESS_TOKEN_A, "3,4,5,6");
        put_device(&s, HARNESS_TOKEN_A, 7, 1);                 /* the oldest of all, but the newest written */
        assert_devices(&s, HARNESS_TOKEN_A, "4,5,6,7");
        put_device(&s, HARNESS_TOKEN_A, 4, 2000);
        assert_devices(&s, HARNESS_TOKEN_A, "4,5,6,7");
        put_device(&s, HARNESS_TOKEN_B, 1, 1);
        assert_devices(&s, HARNESS_TOKEN_B, "1");
        assert_devices(&s, HARNESS_TOKEN_A, "4,5,6,7");
        put_device(&s, HARNESS_TOKEN_A, 8, 1500);              /* 7 (last seen at 1) makes room */
        assert_devices(&s, HARNESS_TOKEN_A, "4,5,6,8");
        stop(&s);
}

/* GET /v1/devices?limit=N&after=ID pages in id order; "next" is there only
 * when there are more, and is the after of the next page. Without a query
 * the first page is the largest (1000), the whole registry within the cap:
 * a client that reads only "devices" sees every device, as before. */
static void test_devices_paging(void **state) {
        static const char *const bad[] = { "?limit=0", "?limit=1001", "?limit=x", "?limit=", "?after=XYZ",
                                           "?after=00000000000000AA", "?limit=2&foo=1", "?limit=2&limit=3", NULL };
        struct harness_syncd s;
        struct harness_resp r;
        char ids[256], next[32], path[96];

        (void) state;
        start_on(&s, "paging.db", NULL);
        for (unsigned i = 1; i <= 5; i++)
                put_device(&s, HARNESS_TOKEN_A, 0xa0 + i, 1000 + i);
        list_devices(&s, HARNESS_TOKEN_A, "/v1/devices?limit=2", ids, sizeof(ids), next, sizeof(next));
        assert_string_equal(ids, "a1,a2");
        assert_string_equal(next, "00000000000000a2");
        snprintf(path, sizeof(path), "/v1/devices?after=%s&limit=2", next);
        list_devices(&s, HARNESS_TOKEN_A, path, ids, sizeof(ids), next, sizeof(next));
        assert_string_equal(ids, "a3,a4");
        snprintf(path, sizeof(path), "/v1/devices?limit=2&after=%s", next);
        list_devices(&s, HARNESS_TOKEN_A, path, ids, sizeof(ids), next, sizeof(next));
        assert_string_equal(ids, "a5");
        assert_string_equal(next, "");
        list_devices(&s, HARNESS_TOKEN_A, "/v1/devices?limit=5", ids, sizeof(ids), next, sizeof(next));
        assert_string_equal(ids, "a1,a2,a3,a4,a5");
        assert_string_equal(next, "");                          /* exactly a page: no next */
        list_devices(&s, HARNESS_TOKEN_A, "/v1/devices?after=00000000000000a5", ids, sizeof(ids), next, sizeof(next));
        assert_string_equal(ids, "");
        assert_devices(&s, HARNESS_TOKEN_A, "a1,a2,a3,a4,a5");
        for (const char *const *b = bad; *b; b++) {
                snprintf(path, sizeof(path), "/v1/devices%s", *b);
                assert_int_equal(harness_request(&s, "GET", path, HARNESS_TOKEN_A, NULL, NULL, &r), 0);
                if (r.status != 400)
                        fprintf(stderr, "GET %s: %ld\n", path, r.status);
                assert_int_equal(r.status, 400);
                harness_resp_clear(&r);
        }
        stop(&s);
}

/* A file a newer syncd wrote is refused, not silently taken back to our
 * schema (it used to be rewritten to user_version 1). */
static void test_db_newer_schema(void **state) {
        static const uint8_t seven[4] = { 0, 0, 0, 7 };        /* user_version, big-endian at offset 60 */
        char path[160];

        (void) state;
        make_db("newer.db", path, sizeof(path));
        put_bytes(path, 60, seven, sizeof(seven));
        assert_refused(path, (const char *[]) { "schema version 7", "this syncd's 2", NULL }, NULL);
}

/* The page number of table's root in the database at path. */
static long root_page(const char *path, const char *table, long *ret_page_size) {
        sqlite3 *db = NULL;
        sqlite3_stmt *st = NULL;
        long page;

        assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(db, "SELECT rootpage, (SELECT page_size FROM pragma_page_size) "
                                            "FROM sqlite_schema WHERE name = ?1", -1, &st, NULL), SQLITE_OK);
        sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        page = sqlite3_column_int64(st, 0);
        *ret_page_size = sqlite3_column_int64(st, 1);
        sqlite3_finalize(st);
        sqlite3_close(db);
        return page;
}

/* A damaged page of the records table: syncd used to start and answer every
 * pull 500 "Input/output error" for ever. */
static void test_db_damaged_page(void **state) {
        uint8_t junk[64];
        char path[160];
        long page, page_size;

        (void) state;
        make_db("damaged.db", path, sizeof(path));
        page = root_page(path, "records", &page_size);
        assert_true(page > 1);
        memset(junk, 0x55, sizeof(junk));      /* not a b-tree page type */
        put_bytes(path, (page - 1) * page_size, junk, sizeof(junk));
        assert_refused(path, (const char *[]) { "quick_check", "btreeInitPage", NULL }, NULL);
}

static void test_db_not_a_database(void **state) {
        char path[160];

        (void) state;
        snprintf(path, sizeof(path), "%s/text.db", D.dir);
        write_text(path, "this is a text file that someone gave as --db, long enough to hold a header\n"
                   "of a hundred bytes, so that SQLite reads it and sees it is no database.\n");
        assert_refused(path, (const char *[]) { "file is not a database", NULL }, "Input/output error");
}

static void test_db_missing_directory(void **state) {
        char path[160];

        (void) state;
        snprintf(path, sizeof(path), "%s/no-such-dir/x.db", D.dir);
        assert_refused(path, (const char *[]) { "unable to open database file", "No such file or directory", NULL },
                       "Permission denied");
}

/* Starts syncd with its stderr in DIR/log and returns what it said by the
 * time it listened and stopped. */
static char *start_stop_log(void) {
        struct harness_syncd s = D;
        size_t n;

        s.pid = s.pidfd = -1;
        snprintf(s.db, sizeof(s.db), "%s/perm.db", D.dir);
        snprintf(s.log_path, sizeof(s.log_path), "%s/perm.log", D.dir);
        (void) unlink(s.log_path);
        assert_int_equal(harness_start(&s, false, NULL), 0);
        stop(&s);
        return slurp(s.log_path, &n);
}

/* Others reading the tokens or the key is warned about, with the file and
 * its mode; syncd still starts (see server/README.md for why not refuse). */
static void test_secret_file_modes(void **state) {
        char tokens[160], key[160], want[256], *log;

        (void) state;
        snprintf(tokens, sizeof(tokens), "%s/tokens", D.dir);
        snprintf(key, sizeof(key), "%s/server.key", D.dir);
        assert_int_equal(chmod(tokens, 0644), 0);
        assert_int_equal(chmod(key, 0602), 0);
        log = start_stop_log();
        snprintf(want, sizeof(want), "%s has mode 0644", tokens);
        if (!strstr(log, want))
                fprintf(stderr, "'%s' not in: %s", want, log);
        assert_non_null(strstr(log, want));
        snprintf(want, sizeof(want), "%s has mode 0602", key);
        assert_non_null(strstr(log, want));
        free(log);

        /* group-readable is still told; owner-only is quiet */
        assert_int_equal(chmod(tokens, 0640), 0);
        assert_int_equal(chmod(key, 0600), 0);
        log = start_stop_log();
        snprintf(want, sizeof(want), "%s has mode 0640", tokens);
        assert_non_null(strstr(log, want));
        assert_null(strstr(log, key));
        free(log);
        assert_int_equal(chmod(tokens, 0600), 0);
        log = start_stop_log();
        assert_null(strstr(log, "mode"));
        free(log);
}

static int setup(void **state) {
        (void) state;
        curl_global_init(CURL_GLOBAL_DEFAULT);
        if (harness_dir(&D) < 0) {
                fprintf(stderr, "cannot make the test directory\n");
                return -1;
        }
        return 0;
}

static int teardown(void **state) {
        (void) state;
        harness_cleanup(&D);
        curl_global_cleanup();
        return 0;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_push_unknown_names_not_echoed),
                cmocka_unit_test(test_push_rejected_growth),
                cmocka_unit_test(test_replay_cap),
                cmocka_unit_test(test_upgrade_from_version_1),
                cmocka_unit_test(test_push_rate_limit),
                cmocka_unit_test(test_devices_limit),
                cmocka_unit_test(test_devices_paging),
                cmocka_unit_test(test_db_newer_schema),
                cmocka_unit_test(test_db_damaged_page),
                cmocka_unit_test(test_db_not_a_database),
                cmocka_unit_test(test_db_missing_directory),
                cmocka_unit_test(test_secret_file_modes),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
