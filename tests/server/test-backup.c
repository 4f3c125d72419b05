/* SPDX-License-Identifier: MIT */
/* syncd --backup: a copy of a sizeable database (55 MB of other accounts'
 * devices) taken while the server serving it takes pushes from eight
 * clients at once, then restored as docs/operations.md says and served by
 * a new syncd: every push acknowledged before the backup began is there
 * (each account's record at least as new as its last such push, and one
 * that some push brought, never a torn one), so are the devices and the
 * stored answers of idempotent pushes (a replay is answered from the copy),
 * and the server that was copied never missed a beat. Then what --backup
 * refuses: an existing file, a file that is not a database or not syncd's,
 * one that does not exist, no --db. The backup runs in a process of its
 * own; every wait is on that process's end or a transfer's, with a
 * deadline. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <sqlite3.h>

#include "tests/lib/harness.h"

#define DEV_HDR "Device-Id: 00a1b2c3d4e5f607"
#define FILLER_DEVICES 12000            /* of other accounts, 1 KB of JSON each: a 55 MB database */
#define PUSHERS 8                       /* pushes in flight at once */
#define PUSHES_MAX 4096
#define DEVICES 30                      /* alice's, PUT before the backup */

extern char **environ;

static struct harness_syncd D;          /* certificates and tokens */

/* The server's database, made sizeable: syncd makes the schema, then
 * FILLER_DEVICES devices of other accounts go in straight through SQLite. */
static void make_sizeable(struct harness_syncd *s) {
        char json[1100], pad[1001];
        sqlite3_stmt *st;
        sqlite3 *db;

        assert_int_equal(harness_start(s, false, NULL), 0);
        assert_int_equal(harness_stop(s), 0);
        s->port = 0;
        memset(pad, 'x', sizeof(pad) - 1);
        pad[sizeof(pad) - 1] = '\0';
        assert_int_equal(sqlite3_open(s->db, &db), SQLITE_OK);
        assert_int_equal(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(db, "INSERT INTO devices (account, id, json) VALUES (?1, ?2, ?3)", -1,
                                            &st, NULL), SQLITE_OK);
        for (int i = 0; i < FILLER_DEVICES; i++) {
                char account[32], id[17];

                snprintf(account, sizeof(account), "filler-%d", i / 1000);
                snprintf(id, sizeof(id), "%016x", i);
                snprintf(json, sizeof(json), "{\"id\": \"%s\", \"kind\": \"buds\", \"last_seen_ms\": %d, "
                         "\"name\": \"%.*s\"}", id, i, 1000, pad);
                sqlite3_bind_text(st, 1, account, -1, SQLITE_TRANSIENT);
                sqlite3_bind_text(st, 2, id, -1, SQLITE_TRANSIENT);
                sqlite3_bind_text(st, 3, json, -1, SQLITE_TRANSIENT);
                assert_int_equal(sqlite3_step(st), SQLITE_DONE);
                sqlite3_reset(st);
        }
        sqlite3_finalize(st);
        assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

/* Pushes */

struct push {
        CURL *e;
        struct harness_resp r;
        char key[80], body[400];
        int account;                    /* 0 alice, 1 bob */
        uint64_t stamp_ms;
        uint64_t done_at;               /* harness_now_ms() when answered; 0 while in flight */
        long status;
};

struct pushes {
        CURLM *m;
        struct push p[PUSHES_MAX];
        int n, in_flight;
        uint64_t next_ms;               /* stamps: strictly rising */
};

static const char *const tokens[] = { HARNESS_TOKEN_A, HARNESS_TOKEN_B };

static void push_start(struct pushes *ps, const struct harness_syncd *s) {
        struct push *p = &ps->p[ps->n];
        const char *headers[] = { p->key, DEV_HDR, NULL };

        p->account = ps->n % 2;
        p->stamp_ms = ps->next_ms = ps->next_ms > harness_wall_ms() ? ps->next_ms + 1 : harness_wall_ms();
        snprintf(p->key, sizeof(p->key), "Idempotency-Key: 5d3e8c41-6b2a-4f19-a7c3-%012x", ps->n);
        snprintf(p->body, sizeof(p->body), "{\"schema\": 1, \"records\": [{\"key\": \"eq.active\", \"family\": "
                 "\"pro\", \"stamp\": {\"ms\": %llu, \"c\": 0, \"origin\": \"00a1b2c3d4e5f607\"}, "
                 "\"derived\": false, \"value\": {\"preset\": \"flat\"}}]}", (unsigned long long) p->stamp_ms);
        p->e = harness_easy(s, "POST", "/v1/sync/push", tokens[p->account], p->body, headers, &p->r);
        curl_easy_setopt(p->e, CURLOPT_TIMEOUT_MS, 30000L);
        curl_multi_add_handle(ps->m, p->e);
        ps->n++;
        ps->in_flight++;
}

/* Drives the pushes for up to max_ms, keeping `keep` of them in flight;
 * returns early when fd (>= 0) becomes readable. */
static void pushes_run(struct pushes *ps, const struct harness_syncd *s, int keep, int fd, int max_ms) {
        uint64_t deadline = harness_now_ms() + (uint64_t) max_ms;

        do {
                struct curl_waitfd w = { .fd = fd, .events = CURL_WAIT_POLLIN };
                CURLMsg *msg;
                int running, left;

                while (ps->in_flight < keep && ps->n < PUSHES_MAX)
                        push_start(ps, s);
                curl_multi_perform(ps->m, &running);
                while ((msg = curl_multi_info_read(ps->m, &left)))
                        for (int i = 0; msg->msg == CURLMSG_DONE && i < ps->n; i++) {
                                struct push *p = &ps->p[i];

                                if (p->e != msg->easy_handle || p->done_at)
                                        continue;
                                p->done_at = harness_now_ms();
                                curl_easy_getinfo(p->e, CURLINFO_RESPONSE_CODE, &p->status);
                                assert_int_equal(msg->data.result, CURLE_OK);
                                ps->in_flight--;
                        }
                if (fd >= 0 && poll(&(struct pollfd) { .fd = fd, .events = POLLIN }, 1, 0) > 0)
                        return;
                curl_multi_poll(ps->m, fd >= 0 ? &w : NULL, fd >= 0 ? 1 : 0, 20, NULL);
        } while (harness_now_ms() < deadline && (keep > 0 || ps->in_flight > 0));
}

/* Whether a push of each account has been answered 200. */
static bool pushes_acked_both(const struct pushes *ps) {
        bool acked[2] = { false, false };

        for (int i = 0; i < ps->n; i++)
                acked[ps->p[i].account] |= ps->p[i].done_at && ps->p[i].status == 200;
        return acked[0] && acked[1];
}

static void pushes_free(struct pushes *ps) {
        for (int i = 0; i < ps->n; i++) {
                curl_multi_remove_handle(ps->m, ps->p[i].e);
                harness_easy_free(ps->p[i].e);
                harness_resp_clear(&ps->p[i].r);
        }
        curl_multi_cleanup(ps->m);
}

/* The backup, in a process of its own: its pidfd, and its stdout+stderr
 * through out_fd. */
static pid_t backup_spawn(const char *db, const char *dest, int *ret_pidfd, int *ret_out) {
        const char *b = getenv("BRIDGED_BUILD");
        char bin[256];
        const char *argv[] = { "syncd", "--backup", dest, "--db", db, NULL };
        posix_spawn_file_actions_t fa;
        int p[2];
        pid_t pid;

        snprintf(bin, sizeof(bin), "%s/server/syncd", b && *b ? b : "build");
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, p[1], STDOUT_FILENO);
        posix_spawn_file_actions_adddup2(&fa, p[1], STDERR_FILENO);
        assert_int_equal(posix_spawn(&pid, bin, &fa, NULL, (char **) argv, environ), 0);
        posix_spawn_file_actions_destroy(&fa);
        close(p[1]);
        *ret_pidfd = (int) pidfd_open(pid, 0);
        assert_true(*ret_pidfd >= 0);
        *ret_out = p[0];
        return pid;
}

/* The restored server */

static cJSON *get_json(const struct harness_syncd *s, const char *token, const char *method, const char *path,
                       const char *body) {
        struct harness_resp r;
        cJSON *j;

        assert_int_equal(harness_request(s, method, path, token, body, NULL, &r), 0);
        assert_int_equal(r.status, 200);
        j = cJSON_Parse(r.body);
        assert_non_null(j);
        harness_resp_clear(&r);
        return j;
}

/* The account's eq.active/pro stamp on s: one that some push brought, and
 * none older than the last push acknowledged before the backup began. */
static void check_record(const struct harness_syncd *s, const struct pushes *ps, int account, uint64_t began) {
        cJSON *j = get_json(s, tokens[account], "POST", "/v1/sync/pull", "{\"cursor\": null, \"limit\": 1000}");
        cJSON *records = cJSON_GetObjectItem(j, "records"), *rec;
        uint64_t ms, last_before = 0;
        bool brought = false;

        assert_int_equal(cJSON_GetArraySize(records), 1);
        rec = cJSON_GetArrayItem(records, 0);
        ms = (uint64_t) cJSON_GetObjectItem(cJSON_GetObjectItem(rec, "stamp"), "ms")->valuedouble;
        for (int i = 0; i < ps->n; i++) {
                const struct push *p = &ps->p[i];

                if (p->account != account || p->status != 200)
                        continue;
                brought |= p->stamp_ms == ms;
                if (p->done_at < began && p->stamp_ms > last_before)
                        last_before = p->stamp_ms;
        }
        assert_true(last_before > 0);
        assert_true(brought);
        assert_true(ms >= last_before);
        cJSON_Delete(j);
}

static void put_devices(const struct harness_syncd *s) {
        for (int i = 0; i < DEVICES; i++) {
                struct harness_resp r;
                char path[64], body[128];

                snprintf(path, sizeof(path), "/v1/devices/a1a1a1a1a1a1a1%02x", i);
                snprintf(body, sizeof(body), "{\"kind\": \"host\", \"last_seen_ms\": %d, \"name\": \"d%d\"}", i, i);
                assert_int_equal(harness_request(s, "PUT", path, HARNESS_TOKEN_A, body, NULL, &r), 0);
                assert_int_equal(r.status, 200);
                harness_resp_clear(&r);
        }
}

static void check_devices(const struct harness_syncd *s) {
        cJSON *j = get_json(s, HARNESS_TOKEN_A, "GET", "/v1/devices", NULL);
        cJSON *devices = cJSON_GetObjectItem(j, "devices");

        assert_int_equal(cJSON_GetArraySize(devices), DEVICES);
        for (int i = 0; i < DEVICES; i++) {
                char name[16];

                snprintf(name, sizeof(name), "d%d", i);
                assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(devices, i), "name")->valuestring, name);
        }
        cJSON_Delete(j);
}

/* The first push again, same key and body: the copy's stored answer. */
static void check_replay(const struct harness_syncd *s, const struct push *p) {
        const char *headers[] = { p->key, DEV_HDR, NULL };
        struct harness_resp r;
        char buf[16];

        assert_int_equal(harness_request(s, "POST", "/v1/sync/push", tokens[p->account], p->body, headers, &r), 0);
        assert_int_equal(r.status, 200);
        assert_non_null(harness_header(&r, "Idempotent-Replay", buf, sizeof(buf)));
        harness_resp_clear(&r);
}

/* docs/operations.md's restore: the copy installed under the database's
 * name, with no -wal or -shm of another file beside it. */
static void restore(const char *backup, const char *db) {
        char cmd[1024];

        snprintf(cmd, sizeof(cmd), "install -m 0600 '%s' '%s.restore' && rm -f '%s-wal' '%s-shm' && "
                 "mv '%s.restore' '%s'", backup, db, db, db, db, db);
        assert_int_equal(system(cmd), 0);
}

static void test_backup_during_pushes(void **state) {
        struct harness_syncd s = D, r = D;
        struct pushes *ps = calloc(1, sizeof(*ps));
        char backup[160], out[1024] = "";
        uint64_t began, ended;
        int pidfd, outfd, status, during = 0, before = 0;
        pid_t pid;
        ssize_t n;

        (void) state;
        snprintf(s.db, sizeof(s.db), "%s/serving.db", D.dir);
        snprintf(backup, sizeof(backup), "%s/backup.db", D.dir);
        make_sizeable(&s);
        assert_int_equal(harness_start(&s, false, (const char *const[]) { "--max-pushes-per-minute", "0", NULL }), 0);
        ps->m = curl_multi_init();
        put_devices(&s);
        pushes_run(ps, &s, PUSHERS, -1, 300);
        /* the backup begins once each account has a push answered (every
         * push opens a TLS connection: slow under the sanitizers), within 30 s */
        for (uint64_t until = harness_now_ms() + 30000; !pushes_acked_both(ps) && harness_now_ms() < until;)
                pushes_run(ps, &s, PUSHERS, -1, 100);
        began = harness_now_ms();
        pid = backup_spawn(s.db, backup, &pidfd, &outfd);
        while (poll(&(struct pollfd) { .fd = pidfd, .events = POLLIN }, 1, 0) == 0 && harness_now_ms() < began + 60000)
                pushes_run(ps, &s, PUSHERS, pidfd, 60000);
        ended = harness_now_ms();
        assert_int_equal(waitpid(pid, &status, 0), pid);
        n = read(outfd, out, sizeof(out) - 1);
        out[n > 0 ? n : 0] = '\0';
        close(outfd);
        close(pidfd);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                fail_msg("syncd --backup: %s", out);
        pushes_run(ps, &s, 0, -1, 30000);               /* the last ones answered */
        assert_int_equal(ps->in_flight, 0);
        for (int i = 0; i < ps->n; i++) {
                assert_int_equal(ps->p[i].status, 200);
                before += ps->p[i].done_at < began;
                during += ps->p[i].done_at >= began && ps->p[i].done_at < ended;
        }
        out[strcspn(out, "\n")] = '\0';
        printf("FIGURE %s\n", out);
        printf("FIGURE %d pushes acknowledged before the backup, %d while it ran (%llu ms)\n", before, during,
               (unsigned long long) (ended - began));
        assert_non_null(strstr(out, "records, 12030 devices"));
        /* the server that was copied goes on */
        assert_int_equal(harness_stop(&s), 0);
        /* restored, and served by a new syncd */
        snprintf(r.db, sizeof(r.db), "%s/restored.db", D.dir);
        restore(backup, r.db);
        assert_int_equal(harness_start(&r, false, NULL), 0);
        check_record(&r, ps, 0, began);
        check_record(&r, ps, 1, began);
        check_devices(&r);
        check_replay(&r, &ps->p[0]);
        assert_int_equal(harness_stop(&r), 0);
        pushes_free(ps);
        free(ps);
}

/* What --backup refuses, with one line and exit status 1 (2 for usage). */
static void test_backup_refusals(void **state) {
        char out[1024], db[160], dest[160], notdb[160], other[160], conf[160], never[160];
        FILE *f;

        (void) state;
        snprintf(db, sizeof(db), "%s/serving.db", D.dir);
        snprintf(dest, sizeof(dest), "%s/backup.db", D.dir);
        snprintf(notdb, sizeof(notdb), "%s/tokens", D.dir);
        snprintf(other, sizeof(other), "%s/other.db", D.dir);
        snprintf(conf, sizeof(conf), "%s/backup.conf", D.dir);
        snprintf(never, sizeof(never), "%s/never.db", D.dir);
        /* an existing file is never replaced, whatever it is */
        assert_int_equal(harness_run_syncd((const char *[]) { "syncd", "--backup", dest, "--db", db, NULL }, out,
                                           sizeof(out)), 1);
        assert_non_null(strstr(out, "exists: a backup never replaces a file"));
        assert_int_equal(harness_run_syncd((const char *[]) { "syncd", "--backup", db, "--db", db, NULL }, out,
                                           sizeof(out)), 1);
        assert_int_equal(harness_run_syncd((const char *[]) { "syncd", "--backup", never, "--db", notdb, NULL },
                                           out, sizeof(out)), 1);
        assert_non_null(strstr(out, "tokens: file is not a database"));
        {
                sqlite3 *o;

                assert_int_equal(sqlite3_open(other, &o), SQLITE_OK);
                assert_int_equal(sqlite3_exec(o, "CREATE TABLE t (a)", NULL, NULL, NULL), SQLITE_OK);
                sqlite3_close(o);
        }
        assert_int_equal(harness_run_syncd((const char *[]) { "syncd", "--backup", never, "--db", other, NULL },
                                           out, sizeof(out)), 1);
        assert_non_null(strstr(out, "is not a syncd database: no such table: accounts"));
        assert_int_equal(access(never, F_OK), -1);                      /* nothing left behind */
        assert_int_equal(harness_run_syncd((const char *[]) { "syncd", "--backup", never, "--db",
                                           "/nonexistent/db", NULL }, out, sizeof(out)), 1);
        assert_non_null(strstr(out, "/nonexistent/db: unable to open database file"));
        assert_int_equal(harness_run_syncd((const char *[]) { "syncd", "--backup", never, NULL }, out,
                                           sizeof(out)), 2);
        assert_non_null(strstr(out, "--db is required"));
        /* the database named by the configuration file */
        f = fopen(conf, "we");
        assert_non_null(f);
        fprintf(f, "[Server]\nDatabase=%s\n", db);
        fclose(f);
        snprintf(dest, sizeof(dest), "%s/backup2.db", D.dir);
        assert_int_equal(harness_run_syncd((const char *[]) { "syncd", "--backup", dest, "--config", conf, NULL },
                                           out, sizeof(out)), 0);
        assert_non_null(strstr(out, "quick_check ok"));
}

static int setup(void **state) {
        (void) state;
        curl_global_init(CURL_GLOBAL_DEFAULT);
        return harness_dir(&D);
}

static int teardown(void **state) {
        (void) state;
        harness_cleanup(&D);
        curl_global_cleanup();
        return 0;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_backup_during_pushes),
                cmocka_unit_test(test_backup_refusals),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
