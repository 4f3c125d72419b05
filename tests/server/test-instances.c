/* SPDX-License-Identifier: MIT */
/* Two syncd on one PostgreSQL database (SYNCD_TEST_PG, from
 * tests/server/pg-harness; without it the suite skips, exit 77), each with
 * its own certificate and port, seen by a client as one server: a push
 * answered by A is replayed by B, a cursor of A is valid on B, and the same
 * push sent to A and B at once is applied once, the other answer being its
 * replay (or 409 while it is in progress), a push on A wakes a long poll
 * parked on B, B's LISTEN connection cut has every long poll on B read its
 * account again (and stay parked with nothing newer), and a
 * push A committed but never answered (A killed) is replayed by B; a
 * database of a newer schema is refused at start. And what PostgreSQL does
 * differently from SQLite inside syncd: a statement sent in a pipeline that
 * fails fails its whole transaction, and the stored answers' cap. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>
#include <curl/curl.h>

#include "tests/lib/harness.h"

#define DEV_HDR "Device-Id: 00a1b2c3d4e5f607"
#define ROUNDS 24
#define UNLIMITED ((const char *const[]) { "--max-pushes-per-minute", "0", NULL })

static struct harness_syncd A, B;

/* A push of one eq.custom record stamped ms (malloc'd). */
static uint64_t newest_ms;              /* the newest stamp any test pushed */

static char *push_body(uint64_t ms) {
        char *s;

        if (ms > newest_ms)
                newest_ms = ms;
        assert_true(asprintf(&s, "{\"schema\": 1, \"records\": [{\"key\": \"eq.custom\", \"family\": \"standard\", "
                             "\"stamp\": {\"ms\": %llu, \"c\": 0, \"origin\": \"00a1b2c3d4e5f607\"}, "
                             "\"derived\": false, \"value\": {\"bands_db\": [0, 1.5, -2, 0, 3]}}]}",
                             (unsigned long long) ms) > 0);
        return s;
}

static CURL *push_easy(const struct harness_syncd *s, const char *key, const char *body, struct harness_resp *r,
                       char hdr[static 80]) {
        snprintf(hdr, 80, "Idempotency-Key: %.36s", key);
        return harness_easy(s, "POST", "/v1/sync/push", HARNESS_TOKEN_A, body,
                            (const char *[]) { hdr, DEV_HDR, NULL }, r);
}

static cJSON *get_ok(const struct harness_syncd *s, const char *method, const char *path, const char *body) {
        struct harness_resp r;
        cJSON *j;

        assert_int_equal(harness_request(s, method, path, HARNESS_TOKEN_A, body, NULL, &r), 0);
        if (r.status != 200)
                fprintf(stderr, "%s %s: %ld %s\n", method, path, r.status, r.body ?: "");
        assert_int_equal(r.status, 200);
        j = cJSON_Parse(r.body);
        assert_non_null(j);
        harness_resp_clear(&r);
        return j;
}

/* The account's sequence number in a cursor (its first 16 hex digits). */
static uint64_t seq_of(const struct harness_syncd *s) {
        cJSON *j = get_ok(s, "GET", "/v1/sync/status", NULL);
        char hex[17];

        snprintf(hex, sizeof(hex), "%.16s", cJSON_GetObjectItem(j, "cursor")->valuestring);
        cJSON_Delete(j);
        return strtoull(hex, NULL, 16);
}

static bool is_replay(const struct harness_resp *r) {
        char buf[16];

        return harness_header(r, "Idempotent-Replay", buf, sizeof(buf)) && strcmp(buf, "true") == 0;
}

static void perform(CURL *e, struct harness_resp *r) {
        assert_int_equal(curl_easy_perform(e), CURLE_OK);
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &r->status);
        harness_easy_free(e);
}

/* The transfer's own result, whatever it is. */
static void e_perform_raw(CURL *e, struct harness_resp *r) {
        r->curl_code = (int) curl_easy_perform(e);
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &r->status);
        harness_easy_free(e);
}

static void test_replay_and_cursor_across(void **state) {
        struct harness_resp ra, rb;
        char key[37], hdr[80], *body = push_body(harness_wall_ms() - 1000), path[160];
        cJSON *j, *status;

        (void) state;
        harness_new_uuid(key);
        perform(push_easy(&A, key, body, &ra, hdr), &ra);
        assert_int_equal(ra.status, 200);
        assert_non_null(strstr(ra.body, "\"applied\""));
        assert_false(is_replay(&ra));
        perform(push_easy(&B, key, body, &rb, hdr), &rb);
        assert_int_equal(rb.status, 200);
        assert_true(is_replay(&rb));
        assert_string_equal(ra.body, rb.body);
        /* A's cursor, from its answer, pulls on B */
        j = cJSON_Parse(ra.body);
        snprintf(path, sizeof(path), "{\"cursor\": \"%s\", \"limit\": 10}",
                 cJSON_GetObjectItem(j, "cursor")->valuestring);
        cJSON_Delete(j);
        j = get_ok(&B, "POST", "/v1/sync/pull", path);
        assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "records")), 0);
        cJSON_Delete(j);
        status = get_ok(&B, "GET", "/v1/sync/status", NULL);
        assert_int_equal(seq_of(&A), seq_of(&B));
        cJSON_Delete(status);
        harness_resp_clear(&ra);
        harness_resp_clear(&rb);
        free(body);
}

/* One push sent to both at once, ROUNDS times: each applied once. */
static void test_same_push_at_once(void **state) {
        uint64_t seq0 = seq_of(&A), ms = harness_wall_ms() - 500;
        unsigned replays = 0, conflicts = 0;
        CURLM *m = curl_multi_init();

        (void) state;
        for (int round = 0; round < ROUNDS; round++) {
                struct harness_resp r[2];
                char key[37], hdr[2][80], *body = push_body(ms + (uint64_t) round);
                CURL *e[2];
                uint64_t deadline = harness_now_ms() + 30000;
                int running = 1, fresh = 0;

                harness_new_uuid(key);
                e[0] = push_easy(&A, key, body, &r[0], hdr[0]);
                e[1] = push_easy(&B, key, body, &r[1], hdr[1]);
                curl_multi_add_handle(m, e[0]);
                curl_multi_add_handle(m, e[1]);
                while (running && harness_now_ms() < deadline) {
                        curl_multi_perform(m, &running);
                        if (running)
                                curl_multi_poll(m, NULL, 0, 50, NULL);
                }
                assert_int_equal(running, 0);
                for (int i = 0; i < 2; i++) {
                        curl_easy_getinfo(e[i], CURLINFO_RESPONSE_CODE, &r[i].status);
                        curl_multi_remove_handle(m, e[i]);
                        harness_easy_free(e[i]);
                        if (r[i].status == 409) {
                                conflicts++;
                                continue;
                        }
                        assert_int_equal(r[i].status, 200);
                        if (is_replay(&r[i]))
                                replays++;
                        else
                                fresh++;
                }
                assert_int_equal(fresh, 1);
                if (r[0].status == 200 && r[1].status == 200)
                        assert_string_equal(r[0].body, r[1].body);
                harness_resp_clear(&r[0]);
                harness_resp_clear(&r[1]);
                free(body);
        }
        curl_multi_cleanup(m);
        assert_int_equal(seq_of(&B), seq0 + ROUNDS);    /* each round's record applied once */
        printf("instances: %d pushes sent to two syncd at once: %u replayed, %u answered 409\n", ROUNDS,
               replays, conflicts);
}

/* A long poll parked on s (a round trip after it on another connection:
 * it is parked by then), for cursor, 25 s: only a wake-up answers it 200
 * before curl's own 30 s. */
static CURL *wait_parked(CURLM *m, const struct harness_syncd *s, const char *cursor, struct harness_resp *r) {
        char path[160];
        CURL *e;
        int running;

        snprintf(path, sizeof(path), "/v1/sync/wait?cursor=%s&timeout=25", cursor);
        e = harness_easy(s, "GET", path, HARNESS_TOKEN_A, NULL, NULL, r);
        curl_multi_add_handle(m, e);
        for (uint64_t deadline = harness_now_ms() + 10000; harness_now_ms() < deadline;) {
                long n = 0;

                curl_multi_perform(m, &running);
                curl_easy_getinfo(e, CURLINFO_REQUEST_SIZE, &n);
                if (n > 0)
                        break;
                curl_multi_poll(m, NULL, 0, 20, NULL);
        }
        cJSON_Delete(get_ok(s, "GET", "/v1/sync/status", NULL));
        return e;
}

/* Drives m until e ends (under curl's deadline); its status. */
static long wait_answer(CURLM *m, CURL *e, struct harness_resp *r) {
        int running = 1;
        CURLMsg *msg;
        int left;

        for (bool done = false; !done && running;) {
                curl_multi_perform(m, &running);
                while ((msg = curl_multi_info_read(m, &left)))
                        done |= msg->msg == CURLMSG_DONE && msg->easy_handle == e;
                if (!done && running)
                        curl_multi_poll(m, NULL, 0, 50, NULL);
        }
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &r->status);
        curl_multi_remove_handle(m, e);
        harness_easy_free(e);
        return r->status;
}

static char *cursor_of(const struct harness_syncd *s) {
        cJSON *j = get_ok(s, "GET", "/v1/sync/status", NULL);
        char *c = strdup(cJSON_GetObjectItem(j, "cursor")->valuestring);

        cJSON_Delete(j);
        return c;
}

/* The wait's answer names the cursor the push's answer gave. */
static void assert_same_cursor(const struct harness_resp *wait, const struct harness_resp *push) {
        cJSON *j = cJSON_Parse(wait->body), *jr = cJSON_Parse(push->body);

        assert_non_null(j);
        assert_non_null(jr);
        assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(j, "cursor")),
                            cJSON_GetStringValue(cJSON_GetObjectItem(jr, "cursor")));
        cJSON_Delete(j);
        cJSON_Delete(jr);
}

/* A push on A wakes a long poll parked on B (LISTEN/NOTIFY). */
static void test_wake_across(void **state) {
        CURLM *m = curl_multi_init();
        struct harness_resp w, r;
        char *cursor = cursor_of(&B), key[37], hdr[80], *body = push_body(harness_wall_ms());
        uint64_t t0;
        CURL *e;

        (void) state;
        e = wait_parked(m, &B, cursor, &w);
        harness_new_uuid(key);
        t0 = harness_now_ms();
        perform(push_easy(&A, key, body, &r, hdr), &r);
        assert_int_equal(r.status, 200);
        assert_int_equal(wait_answer(m, e, &w), 200);
        printf("FIGURE long poll on B woken by a push on A: %llu ms from the push sent to the wait answered\n",
               (unsigned long long) (harness_now_ms() - t0));
        assert_same_cursor(&w, &r);             /* the cursor after the push */
        harness_resp_clear(&w);
        harness_resp_clear(&r);
        curl_multi_cleanup(m);
        free(cursor);
        free(body);
}

/* The value of one series of s's /metrics; 0 when absent. */
static double metric_of(const struct harness_syncd *s, const char *series) {
        double v = 0;

        assert_int_equal(harness_metric_get(s, series, &v), 0);
        return v;
}

/* B's LISTEN connection cut by the server: when it is back, every long
 * poll parked on B reads its account's sequence again (a change may have
 * been missed meanwhile); with nothing newer it stays parked (not a 200
 * with the cursor it sent), and the next push, on A, answers it with that
 * push's cursor. */
static void test_wake_after_listen_lost(void **state) {
        CURLM *m = curl_multi_init();
        struct harness_resp w, r;
        char *cursor = cursor_of(&B), cmd[512], key[37], hdr[80], *body = push_body(harness_wall_ms());
        double kept = metric_of(&B, "syncd_longpoll_kept_total");
        bool done = false;
        uint64_t deadline;
        CURL *e;

        (void) state;
        e = wait_parked(m, &B, cursor, &w);
        snprintf(cmd, sizeof(cmd), "psql -q -h '%s' -U syncd -d postgres -Atc "
                 "\"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                 "WHERE application_name = 'syncd listen'\" >/dev/null", harness_pg());
        assert_int_equal(system(cmd), 0);
        deadline = harness_now_ms() + 10000;    /* B's reconnection: the first retry is at once */
        while (!done && metric_of(&B, "syncd_longpoll_kept_total") <= kept && harness_now_ms() < deadline) {
                CURLMsg *msg;
                int running, left;

                curl_multi_perform(m, &running);
                while ((msg = curl_multi_info_read(m, &left)))
                        done |= msg->msg == CURLMSG_DONE && msg->easy_handle == e;
                if (!done)
                        curl_multi_poll(m, NULL, 0, 20, NULL);
        }
        if (done) {
                curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &w.status);
                fail_msg("the long poll was answered %ld (%s) when B's notifications came back", w.status,
                         w.body ?: "");
        }
        assert_true(metric_of(&B, "syncd_longpoll_kept_total") > kept);
        harness_new_uuid(key);
        perform(push_easy(&A, key, body, &r, hdr), &r);
        assert_int_equal(r.status, 200);
        assert_int_equal(wait_answer(m, e, &w), 200);
        assert_same_cursor(&w, &r);
        harness_resp_clear(&w);
        harness_resp_clear(&r);
        curl_multi_cleanup(m);
        free(cursor);
        free(body);
}

#define LOAD_CLIENTS 8
#define LOAD_PUSHES 240

/* One client of the load: its push in flight, sent again as it is (same key,
 * same body) after a 503 or a broken connection, as a bridge does. */
struct load_client {
        CURL *e;
        struct harness_resp r;
        char key[37], hdr[80], *body;
};

static void load_send(CURLM *m, struct load_client *c, const struct harness_syncd *s) {
        c->e = push_easy(s, c->key, c->body, &c->r, c->hdr);
        curl_multi_add_handle(m, c->e);
}

static void load_next(CURLM *m, struct load_client *c, const struct harness_syncd *s, uint64_t ms) {
        free(c->body);
        c->body = push_body(ms);
        harness_new_uuid(c->key);
        load_send(m, c, s);
}

/* PostgreSQL stopped and started again while 8 clients push through A and
 * B: 503s meanwhile, then every push answered 200, and the account's
 * sequence moved by exactly the number of answers that say "applied" (a push
 * committed just before its connection went, answered 503, gets its replay
 * on the retry: nothing applied twice, nothing acknowledged lost). */
static void test_database_restart_under_load(void **state) {
        struct load_client c[LOAD_CLIENTS] = {};
        uint64_t seq0 = seq_of(&B), ms = harness_wall_ms() + 1000, deadline = harness_now_ms() + 120000;
        unsigned answered = 0, applied = 0, unavailable = 0, sent = 0;
        enum { RUNNING, STOPPED, RESTARTED } db = RUNNING;
        CURLM *m = curl_multi_init();
        int running;

        (void) state;
        for (unsigned i = 0; i < LOAD_CLIENTS; i++)
                load_next(m, &c[i], i % 2 ? &B : &A, ms + sent++);
        while (answered < LOAD_PUSHES && harness_now_ms() < deadline) {
                CURLMsg *msg;
                int left;

                curl_multi_perform(m, &running);
                while ((msg = curl_multi_info_read(m, &left))) {
                        struct load_client *lc = NULL;
                        const struct harness_syncd *s;

                        if (msg->msg != CURLMSG_DONE)
                                continue;
                        for (unsigned i = 0; i < LOAD_CLIENTS; i++)      /* CURLOPT_PRIVATE is the harness's */
                                if (c[i].e == msg->easy_handle)
                                        lc = &c[i];
                        assert_non_null(lc);
                        curl_easy_getinfo(lc->e, CURLINFO_RESPONSE_CODE, &lc->r.status);
                        curl_multi_remove_handle(m, lc->e);
                        harness_easy_free(lc->e);
                        s = (lc - c) % 2 ? &B : &A;
                        if (lc->r.status == 200) {
                                answered++;
                                applied += strstr(lc->r.body, "\"applied\"") != NULL;
                                harness_resp_clear(&lc->r);
                                if (sent < LOAD_PUSHES)
                                        load_next(m, lc, s, ms + sent++);
                                continue;
                        }
                        if (lc->r.status != 503 && lc->r.status != 0)
                                fprintf(stderr, "load: %ld %s\n", lc->r.status, lc->r.body ?: "");
                        assert_true(lc->r.status == 503 || lc->r.status == 0);
                        unavailable++;
                        harness_resp_clear(&lc->r);
                        load_send(m, lc, s);
                }
                if (db == RUNNING && answered >= LOAD_PUSHES / 3) {
                        assert_int_equal(harness_pg_ctl("stop"), 0);
                        db = STOPPED;
                } else if (db == STOPPED && unavailable >= 2 * LOAD_CLIENTS) {
                        assert_int_equal(harness_pg_ctl("start"), 0);
                        db = RESTARTED;
                }
                if (answered < LOAD_PUSHES)
                        curl_multi_poll(m, NULL, 0, 50, NULL);
        }
        assert_int_equal(db, RESTARTED);
        assert_int_equal(answered, LOAD_PUSHES);
        assert_int_equal(seq_of(&B) - seq0, applied);
        printf("restart under load: %u pushes answered 200 (%u applied, the rest stale), %u answers 503 or "
               "broken and sent again\n", answered, applied, unavailable);
        for (unsigned i = 0; i < LOAD_CLIENTS; i++)
                free(c[i].body);
        curl_multi_cleanup(m);
}

/* A commits a push and dies before its answer leaves (apply_then_drop,
 * then kill -9): the client's retry on B gets A's answer as a replay, and
 * the record was applied once. Last: A stays dead. */
static void test_retry_on_b_after_a_died(void **state) {
        struct harness_resp r;
        char key[37], hdr[80], rules[] = "[{\"path\": \"/v1/sync/push\", \"action\": \"apply_then_drop\"}]";
        /* newer than every push before, the load's (stamped ahead) included */
        char *body = push_body((harness_wall_ms() > newest_ms ? harness_wall_ms() : newest_ms) + 1);
        uint64_t seq0 = seq_of(&B);

        (void) state;
        assert_int_equal(harness_request(&A, "POST", "/test/faults", NULL, rules, NULL, &r), 0);
        assert_int_equal(r.status, 200);
        harness_resp_clear(&r);
        harness_new_uuid(key);
        e_perform_raw(push_easy(&A, key, body, &r, hdr), &r);
        assert_int_equal(r.curl_code, CURLE_GOT_NOTHING);
        harness_resp_clear(&r);
        assert_int_equal(kill(A.pid, SIGKILL), 0);
        perform(push_easy(&B, key, body, &r, hdr), &r);
        assert_int_equal(r.status, 200);
        assert_true(is_replay(&r));
        assert_non_null(strstr(r.body, "\"applied\""));
        assert_int_equal(seq_of(&B), seq0 + 1);
        harness_resp_clear(&r);
        free(body);
}

/* Runs sql on s's database with psql: its one value as a number, or -1. */
static long long pg_value(const struct harness_syncd *s, const char *sql) {
        char cmd[1024], out[64] = "";
        FILE *f;

        snprintf(cmd, sizeof(cmd), "psql -q -h '%s' -U syncd -d '%s' -Atc \"%s\"", harness_pg(),
                 strrchr(s->dir, '/') + 1, sql);
        f = popen(cmd, "r");
        assert_non_null(f);
        if (!fgets(out, sizeof(out), f))
                out[0] = '\0';
        assert_int_equal(pclose(f), 0);
        return out[0] ? atoll(out) : -1;
}

/* A statement whose result nothing waits for (here the stored answer, sent
 * with the COMMIT after the record's write) fails on the server: the whole
 * transaction is rolled back, the push answered as failed, and nothing of it
 * is stored (no record, no sequence number, no answer); the same push sent
 * again once the fault is gone is processed as new. */
static void test_queued_failure_stores_nothing(void **state) {
        uint64_t seq0 = seq_of(&A), ms = harness_wall_ms() - 200;
        char key[37], hdr[80], sql[256], *body = push_body(ms);
        struct harness_resp r;

        (void) state;
        harness_new_uuid(key);
        pg_value(&A, "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
                     "\\$\\$ BEGIN RAISE EXCEPTION 'refused by the test'; END \\$\\$; "
                     "CREATE TRIGGER refuse BEFORE INSERT ON idempotency FOR EACH ROW EXECUTE FUNCTION refuse()");
        perform(push_easy(&A, key, body, &r, hdr), &r);
        assert_int_equal(r.status, 500);
        harness_resp_clear(&r);
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM records WHERE json LIKE '%%%llu%%'", (unsigned long long) ms);
        assert_int_equal(pg_value(&A, sql), 0);
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM idempotency WHERE key = '%s'", key);
        assert_int_equal(pg_value(&A, sql), 0);
        assert_int_equal(seq_of(&A), seq0);
        assert_int_equal(seq_of(&B), seq0);
        pg_value(&A, "DROP TRIGGER refuse ON idempotency; DROP FUNCTION refuse()");
        perform(push_easy(&B, key, body, &r, hdr), &r);
        assert_int_equal(r.status, 200);
        assert_false(is_replay(&r));
        assert_non_null(strstr(r.body, "\"applied\""));
        harness_resp_clear(&r);
        assert_int_equal(seq_of(&A), seq0 + 1);
        free(body);
}

/* The connections serving A and B cut by the server while idle: a device
 * PUT, whose first round trip is its transaction's (BEGIN and the account's
 * lock in one pipeline), finds its connection dead, and that transaction is
 * sent again on a new one, since nothing of it was answered: 200, not 503,
 * and the device is stored. */
static void test_idle_connection_cut(void **state) {
        struct harness_resp r;

        (void) state;
        assert_true(pg_value(&A, "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity "
                                 "WHERE application_name = 'syncd'") >= 2);
        assert_int_equal(harness_request(&A, "PUT", "/v1/devices/00c0ffee00c0ffee", HARNESS_TOKEN_A,
                                         "{\"kind\": \"host\", \"last_seen_ms\": 1}", NULL, &r), 0);
        assert_int_equal(r.status, 200);
        harness_resp_clear(&r);
        assert_int_equal(pg_value(&A, "SELECT count(*) FROM devices WHERE id = '00c0ffee00c0ffee'"), 1);
}

/* The cap of stored answers (--max-replay-kib), trimmed by one statement
 * sent with the COMMIT: the oldest go, the newest replays, the oldest is
 * processed again, one answer over the cap by itself is kept alone. */
static void test_replay_cap(void **state) {
        char key[37], first[37], hdr[80], sql[128], *body;
        struct harness_syncd c;
        struct harness_resp r;
        long long n, bytes;

        (void) state;
        assert_int_equal(harness_dir(&c), 0);
        assert_int_equal(harness_start(&c, false, (const char *const[]) { "--max-replay-kib", "4",
                                                                           "--max-pushes-per-minute", "0", NULL }), 0);
        for (int i = 0; i < 40; i++) {
                body = push_body(harness_wall_ms() - 1000 + (uint64_t) i);
                harness_new_uuid(key);
                if (i == 0)
                        memcpy(first, key, sizeof(first));
                perform(push_easy(&c, key, body, &r, hdr), &r);
                assert_int_equal(r.status, 200);
                harness_resp_clear(&r);
                free(body);
        }
        n = pg_value(&c, "SELECT count(*) FROM idempotency");
        bytes = pg_value(&c, "SELECT sum(octet_length(body)) FROM idempotency");
        fprintf(stderr, "40 pushes under a 4 KiB cap: %lld answers of %lld bytes kept\n", n, bytes);
        assert_true(n > 1 && n < 40);
        assert_true(bytes <= 4 * 1024);
        assert_int_equal(pg_value(&c, "SELECT bytes FROM idempotency_usage"), bytes);
        perform(push_easy(&c, key, "{}", &r, hdr), &r);         /* the newest is kept: another body under its key */
        assert_int_equal(r.status, 422);
        harness_resp_clear(&r);
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM idempotency WHERE key = '%s'", first);
        assert_int_equal(pg_value(&c, sql), 0);
        assert_int_equal(harness_stop(&c), 0);
        harness_cleanup(&c);
}

/* A database whose schema_version is newer than this syncd's is refused
 * at start, with the line that says so, and left as it was; one out of
 * reach stops the start with libpq's words. */
static void test_newer_schema_refused(void **state) {
        struct harness_syncd n;
        char cmd[512], out[2048], cert[128], key[128], tokens[128], db[160];

        (void) state;
        assert_int_equal(harness_dir(&n), 0);
        assert_int_equal(harness_start(&n, false, NULL), 0);    /* makes the tables */
        assert_int_equal(harness_stop(&n), 0);
        snprintf(cmd, sizeof(cmd), "psql -q -h '%s' -U syncd -d '%s' -c 'UPDATE schema_version SET version = 7'",
                 harness_pg(), strrchr(n.dir, '/') + 1);
        assert_int_equal(system(cmd), 0);
        snprintf(cert, sizeof(cert), "%s/server.pem", n.dir);
        snprintf(key, sizeof(key), "%s/server.key", n.dir);
        snprintf(tokens, sizeof(tokens), "%s/tokens", n.dir);
        assert_int_equal(harness_run_syncd((const char *[]) { "syncd", "--listen", "127.0.0.1:0", "--cert", cert,
                                           "--key", key, "--db", n.db, "--tokens", tokens, NULL }, out,
                                           sizeof(out)), 1);
        assert_non_null(strstr(out, "its schema version 7 is newer than this syncd's 1"));
        assert_int_equal(harness_run_syncd((const char *[]) { "syncd", "--listen", "127.0.0.1:0", "--cert", cert,
                                           "--key", key, "--db", n.db, "--tokens", tokens, NULL }, out,
                                           sizeof(out)), 1);       /* refused again: nothing was changed */
        assert_non_null(strstr(out, "its schema version 7 is newer"));
        snprintf(db, sizeof(db), "postgresql:///nonexistent?host=%s&user=syncd", harness_pg());
        assert_int_equal(harness_run_syncd((const char *[]) { "syncd", "--listen", "127.0.0.1:0", "--cert", cert,
                                           "--key", key, "--db", db, "--tokens", tokens, NULL }, out,
                                           sizeof(out)), 1);
        assert_non_null(strstr(out, "cannot use database postgresql:///nonexistent"));
        assert_non_null(strstr(out, "does not exist"));
        harness_cleanup(&n);
}

static int setup(void **state) {
        (void) state;
        if (!harness_pg()) {
                printf("test-instances: needs SYNCD_TEST_PG (tests/server/pg-harness run ...)\n");
                exit(77);
        }
        curl_global_init(CURL_GLOBAL_DEFAULT);
        if (harness_dir(&A) < 0 || harness_dir(&B) < 0)
                return -1;
        memcpy(B.db, A.db, sizeof(B.db));       /* one database */
        B.metrics = true;                       /* what B did with a wake-up */
        /* no rate limit: the load test pushes hundreds a minute to one account */
        if (harness_start(&A, true, UNLIMITED) < 0 || harness_start(&B, false, UNLIMITED) < 0) {
                fprintf(stderr, "cannot start syncd\n");
                return -1;
        }
        return 0;
}

static int teardown(void **state) {
        int r = 0;

        (void) state;
        (void) harness_stop(&A);        /* killed by the last test */
        r |= harness_stop(&B);
        harness_cleanup(&A);
        harness_cleanup(&B);
        curl_global_cleanup();
        return r == 0 ? 0 : -1;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_replay_and_cursor_across),
                cmocka_unit_test(test_same_push_at_once),
                cmocka_unit_test(test_newer_schema_refused),
                cmocka_unit_test(test_queued_failure_stores_nothing),
                cmocka_unit_test(test_replay_cap),
                cmocka_unit_test(test_idle_connection_cut),
                cmocka_unit_test(test_wake_across),
                cmocka_unit_test(test_wake_after_listen_lost),
                cmocka_unit_test(test_database_restart_under_load),
                cmocka_unit_test(test_retry_on_b_after_a_died),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
