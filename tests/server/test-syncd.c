/* SPDX-License-Identifier: MIT */
/* Tests of syncd over HTTPS: every endpoint and error of the sync API, the
 * arbitration order, idempotency (replay, 409 while the first body is still
 * uploading, 422), account isolation, long polls (100 woken by one push, 204
 * on timeout, none answered by what brought nothing newer than its cursor:
 * another account's push, stale and rejected records, a replay, and on
 * PostgreSQL another syncd's notifications), restart on the same database,
 * group commit (concurrent pushes
 * to one item, replays within a group, restart after a group), the command
 * line, and the test fault hooks; with SYNCD_TEST_PG (tests/server/pg-harness)
 * all of it on PostgreSQL, and the database stopped and started under
 * syncd. Starts the built binary (BRIDGED_BUILD) on 127.0.0.1 port 0. */
#include <errno.h>
#include <setjmp.h>
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
#define ORIGIN_A "00a1b2c3d4e5f607"
#define ORIGIN_B "00a1b2c3d4e5f608"

static struct harness_syncd S;          /* the server most tests share */

/* Helpers */

static const char *value_of(const char *key, const char *family) {
        if (strcmp(key, "profile") == 0)
                return "{\"hearing\": {\"enabled\": true, \"left_db\": [0, 0.5, 1, 0, 0, 0], "
                       "\"right_db\": [0, 0, 0, 0, 0, 0]}, \"noise_control\": \"anc\", \"ambient_level\": 3, "
                       "\"touch\": {\"left\": \"play_pause\", \"right\": \"next\"}, \"name\": \"Test\"}";
        if (strcmp(key, "eq.custom") == 0 && strcmp(family, "standard") == 0)
                return "{\"bands_db\": [0, 1.5, -2, 0, 3]}";
        if (strcmp(key, "eq.custom") == 0)
                return "{\"preamp_db\": -2.0, \"bands\": [{\"type\": \"peak\", \"freq_hz\": 100, "
                       "\"gain_db\": 3.5, \"q\": 0.71}]}";
        return "{\"preset\": \"flat\"}";
}

/* A record as JSON text (malloc'd). */
static char *rec(const char *key, const char *family, uint64_t ms, unsigned c, const char *origin,
                 const char *value) {
        char *s;

        assert_true(asprintf(&s, "{\"key\": \"%s\", \"family\": \"%s\", \"stamp\": {\"ms\": %llu, \"c\": %u, "
                             "\"origin\": \"%s\"}, \"derived\": false, \"value\": %s}", key, family,
                             (unsigned long long) ms, c, origin, value ?: value_of(key, family)) > 0);
        return s;
}

/* {"schema": 1, "records": [r...]} from n records, freeing them. */
static char *push_body(int n, ...) {
        char *body = strdup("{\"schema\": 1, \"records\": [");
        va_list ap;

        va_start(ap, n);
        for (int i = 0; i < n; i++) {
                char *r = va_arg(ap, char *), *next;

                assert_true(asprintf(&next, "%s%s%s", body, i ? ", " : "", r) > 0);
                free(body);
                free(r);
                body = next;
        }
        va_end(ap);
        body = realloc(body, strlen(body) + 3);
        strcat(body, "]}");
        return body;
}

static void push_with_key(const struct harness_syncd *s, const char *token, const char *key, const char *body,
                          struct harness_resp *resp) {
        char hdr[80];
        const char *headers[] = { hdr, DEV_HDR, NULL };

        snprintf(hdr, sizeof(hdr), "Idempotency-Key: %s", key);
        assert_int_equal(harness_request(s, "POST", "/v1/sync/push", token, body, headers, resp), 0);
}

/* Pushes body (freed) with a new key; returns the parsed response (status 200 asserted). */
static cJSON *push_ok(const struct harness_syncd *s, const char *token, char *body) {
        struct harness_resp r;
        char key[37];
        cJSON *j;

        harness_new_uuid(key);
        push_with_key(s, token, key, body, &r);
        free(body);
        if (r.status != 200)
                fprintf(stderr, "push: %ld %s\n", r.status, r.body ?: "");
        assert_int_equal(r.status, 200);
        j = cJSON_Parse(r.body);
        assert_non_null(j);
        harness_resp_clear(&r);
        return j;
}

static const char *result_status(const cJSON *res, int i) {
        return cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(res, "results"), i), "status")->valuestring;
}

static const char *str_of(const cJSON *j, const char *name) {
        const cJSON *m = cJSON_GetObjectItem(j, name);

        assert_true(cJSON_IsString(m));
        return m->valuestring;
}

/* Asserts an error reply: status, {"error": {"code", "message"}}. */
static void assert_error(const struct harness_resp *r, long status, const char *code) {
        cJSON *j = cJSON_Parse(r->body), *err;

        if (r->status != status)
                fprintf(stderr, "expected %ld %s, got %ld %s\n", status, code, r->status, r->body ?: "");
        assert_int_equal(r->status, status);
        assert_non_null(j);
        err = cJSON_GetObjectItem(j, "error");
        assert_non_null(err);
        assert_string_equal(str_of(err, "code"), code);
        assert_true(strlen(str_of(err, "message")) > 0);
        cJSON_Delete(j);
}

static cJSON *get_ok(const struct harness_syncd *s, const char *token, const char *method, const char *path,
                     const char *body) {
        struct harness_resp r;
        cJSON *j;

        assert_int_equal(harness_request(s, method, path, token, body, NULL, &r), 0);
        if (r.status != 200)
                fprintf(stderr, "%s %s: %ld %s\n", method, path, r.status, r.body ?: "");
        assert_int_equal(r.status, 200);
        j = cJSON_Parse(r.body);
        assert_non_null(j);
        harness_resp_clear(&r);
        return j;
}

static char *cursor_now(const struct harness_syncd *s, const char *token) {
        cJSON *j = get_ok(s, token, "GET", "/v1/sync/status", NULL);
        char *c = strdup(str_of(j, "cursor"));

        cJSON_Delete(j);
        return c;
}

static cJSON *pull(const struct harness_syncd *s, const char *token, const char *cursor, int limit) {
        char body[128];

        if (cursor)
                snprintf(body, sizeof(body), "{\"cursor\": \"%s\", \"limit\": %d}", cursor, limit);
        else
                snprintf(body, sizeof(body), "{\"cursor\": null, \"limit\": %d}", limit);
        return get_ok(s, token, "POST", "/v1/sync/pull", body);
}

static void request_expect_error(const char *method, const char *path, const char *token, const char *body,
                                 const char *const *headers, long status, const char *code) {
        struct harness_resp r;

        assert_int_equal(harness_request(&S, method, path, token, body, headers, &r), 0);
        assert_error(&r, status, code);
        harness_resp_clear(&r);
}

/* Tests */

static void test_status(void **state) {
        cJSON *j = get_ok(&S, HARNESS_TOKEN_A, "GET", "/v1/sync/status", NULL);
        double t = cJSON_GetObjectItem(j, "server_time_ms")->valuedouble;

        (void) state;
        assert_true(t > (double) harness_wall_ms() - 60000 && t < (double) harness_wall_ms() + 60000);
        assert_int_equal(strlen(str_of(j, "cursor")), 32);
        assert_int_equal(cJSON_GetObjectItem(j, "schema")->valueint, 1);
        assert_int_equal(cJSON_GetArraySize(j), 3);
        cJSON_Delete(j);
}

static void test_auth(void **state) {
        const char *basic[] = { "Authorization: Basic dXNlcjpwYXNz", NULL };

        (void) state;
        request_expect_error("GET", "/v1/sync/status", NULL, NULL, NULL, 401, "unauthorized");
        request_expect_error("GET", "/v1/sync/status", "no-such-token", NULL, NULL, 401, "unauthorized");
        request_expect_error("GET", "/v1/sync/status", NULL, NULL, basic, 401, "unauthorized");
        request_expect_error("POST", "/v1/sync/pull", "bad", "{\"cursor\": null, \"limit\": 1}", NULL, 401,
                             "unauthorized");
        request_expect_error("GET", "/v1/devices", NULL, NULL, NULL, 401, "unauthorized");
}

static void test_not_found_and_method(void **state) {
        struct harness_resp r;
        char buf[64];

        (void) state;
        request_expect_error("GET", "/v1/sync/nothing", HARNESS_TOKEN_A, NULL, NULL, 404, "not_found");
        request_expect_error("GET", "/", HARNESS_TOKEN_A, NULL, NULL, 404, "not_found");
        request_expect_error("PUT", "/v1/devices/0011223344556677/x", HARNESS_TOKEN_A, "{}", NULL, 404, "not_found");
        request_expect_error("POST", "/test/faults", NULL, "[]", NULL, 404, "not_found");     /* not enabled */
        assert_int_equal(harness_request(&S, "DELETE", "/v1/sync/push", HARNESS_TOKEN_A, NULL, NULL, &r), 0);
        assert_error(&r, 405, "method_not_allowed");
        assert_non_null(harness_header(&r, "Allow", buf, sizeof(buf)));
        assert_string_equal(buf, "POST");
        harness_resp_clear(&r);
        request_expect_error("GET", "/v1/sync/pull", HARNESS_TOKEN_A, NULL, NULL, 405, "method_not_allowed");
}

static void test_push_applied_stale_rejected(void **state) {
        uint64_t t = harness_wall_ms() - 60000;
        cJSON *res, *cur;

        (void) state;
        res = push_ok(&S, HARNESS_TOKEN_A, push_body(3,
                        rec("eq.custom", "pro", t, 1, ORIGIN_A, NULL),
                        rec("eq.custom", "pro", t, 0, ORIGIN_A, NULL),          /* older: stale */
                        rec("eq.custom", "pro", t, 1, ORIGIN_A, NULL)));        /* equal: stale */
        assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(res, "results")), 3);
        assert_string_equal(result_status(res, 0), "applied");
        assert_string_equal(result_status(res, 1), "stale");
        assert_string_equal(result_status(res, 2), "stale");
        cur = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(res, "results"), 1), "current");
        assert_non_null(cur);
        assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(cur, "stamp"), "c")->valueint, 1);
        assert_string_equal(str_of(cJSON_GetArrayItem(cJSON_GetObjectItem(res, "results"), 1), "key"), "eq.custom");
        assert_string_equal(str_of(cJSON_GetArrayItem(cJSON_GetObjectItem(res, "results"), 1), "family"), "pro");
        assert_null(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(res, "results"), 0), "current"));
        assert_int_equal(strlen(str_of(res, "cursor")), 32);
        cJSON_Delete(res);

        /* ties: same hlc, higher origin wins; lower origin is stale */
        res = push_ok(&S, HARNESS_TOKEN_A, push_body(2,
                        rec("eq.custom", "pro", t, 1, ORIGIN_B, NULL),
                        rec("eq.custom", "pro", t, 1, ORIGIN_A, NULL)));
        assert_string_equal(result_status(res, 0), "applied");
        assert_string_equal(result_status(res, 1), "stale");
        cur = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(res, "results"), 1), "current");
        assert_string_equal(str_of(cJSON_GetObjectItem(cur, "stamp"), "origin"), ORIGIN_B);
        cJSON_Delete(res);

        /* the other family of the same key is another item */
        res = push_ok(&S, HARNESS_TOKEN_A, push_body(1, rec("eq.custom", "standard", 1, 0, ORIGIN_A, NULL)));
        assert_string_equal(result_status(res, 0), "applied");
        cJSON_Delete(res);

        /* rejected: invalid values (q not a multiple of 0.01, gain out of range, unknown member, bad key) and
         * future stamps; nothing stored */
        res = push_ok(&S, HARNESS_TOKEN_A, push_body(6,
                        rec("eq.custom", "pro", t + 1000, 0, ORIGIN_A,
                            "{\"preamp_db\": 0, \"bands\": [{\"type\": \"peak\", \"freq_hz\": 100, "
                            "\"gain_db\": 1, \"q\": 0.715}]}"),
                        rec("eq.custom", "standard", t + 1000, 0, ORIGIN_A, "{\"bands_db\": [0, 0, 0, 0, 99]}"),
                        rec("eq.active", "pro", t + 1000, 0, ORIGIN_A, "{\"preset\": \"flat\", \"x\": 1}"),
                        strdup("{\"key\": \"volume\", \"family\": \"any\"}"),
                        rec("eq.active", "pro", harness_wall_ms() + 400000, 0, ORIGIN_A, NULL),
                        rec("eq.active", "standard", harness_wall_ms() + 100000, 0, ORIGIN_A, NULL)));
        for (int i = 0; i < 5; i++) {
                cJSON *r = cJSON_GetArrayItem(cJSON_GetObjectItem(res, "results"), i);

                assert_string_equal(str_of(r, "status"), "rejected");
                assert_string_equal(str_of(r, "reason"), i < 4 ? "invalid_value" : "future_stamp");
        }
        assert_string_equal(str_of(cJSON_GetArrayItem(cJSON_GetObjectItem(res, "results"), 3), "key"), "");
        assert_string_equal(result_status(res, 5), "applied");  /* 100 s ahead: within the 300 s skew */
        cJSON_Delete(res);
        res = push_ok(&S, HARNESS_TOKEN_A, push_body(1, rec("eq.custom", "pro", t + 500, 0, ORIGIN_A, NULL)));
        assert_string_equal(result_status(res, 0), "applied");  /* the rejected t + 1000 was not stored */
        cJSON_Delete(res);
}

static void test_push_bad_requests(void **state) {
        char key[37], hdr[80], *body, *big;
        const char *no_key[] = { DEV_HDR, NULL };
        const char *bad_key[] = { "Idempotency-Key: not-a-uuid", DEV_HDR, NULL };
        const char *no_dev[] = { hdr, NULL };
        const char *bad_dev[] = { hdr, "Device-Id: 00A1B2C3D4E5F607", NULL };
        const char *ok[] = { hdr, DEV_HDR, NULL };
        char *before = cursor_now(&S, HARNESS_TOKEN_A), *after;
        struct harness_resp r;
        cJSON *j;

        (void) state;
        harness_new_uuid(key);
        snprintf(hdr, sizeof(hdr), "Idempotency-Key: %s", key);
        body = push_body(1, rec("profile", "any", 5, 0, ORIGIN_A, NULL));
        request_expect_error("POST", "/v1/sync/push", HARNESS_TOKEN_A, body, no_key, 400, "bad_request");
        request_expect_error("POST", "/v1/sync/push", HARNESS_TOKEN_A, body, bad_key, 400, "bad_request");
        request_expect_error("POST", "/v1/sync/push", HARNESS_TOKEN_A, body, no_dev, 400, "bad_request");
        request_expect_error("POST", "/v1/sync/push", HARNESS_TOKEN_A, body, bad_dev, 400, "bad_request");
        free(body);
        static const char *const bad[] = {
                "", "{", "nonsense", "[]", "{\"schema\": 1, \"records\": []}", "{\"schema\": \"1\", \"records\": []}",
                "{\"schema\": 1}", "{\"schema\": 1, \"records\": {}}", "{\"schema\": 1, \"records\": [1]}",
                "{\"schema\": 1, \"records\": [{\"key\": 1, \"family\": \"any\"}]}",
                "{\"schema\": 1, \"records\": [{\"key\": \"profile\"}], \"extra\": true}",
                "{\"schema\": 1, \"schema\": 1, \"records\": [{\"key\": \"profile\", \"family\": \"any\"}]}",
                "{\"schema\": 1, \"records\": [{\"key\": \"profile\", \"family\": \"any\"}]} trailing",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                harness_new_uuid(key);
                snprintf(hdr, sizeof(hdr), "Idempotency-Key: %s", key);
                request_expect_error("POST", "/v1/sync/push", HARNESS_TOKEN_A, bad[i], ok, 400, "bad_request");
        }
        /* schema mismatch, with required_schema */
        harness_new_uuid(key);
        snprintf(hdr, sizeof(hdr), "Idempotency-Key: %s", key);
        assert_int_equal(harness_request(&S, "POST", "/v1/sync/push", HARNESS_TOKEN_A,
                                         "{\"schema\": 2, \"records\": [], \"future\": 1}", ok, &r), 0);
        assert_error(&r, 400, "schema_mismatch");
        j = cJSON_Parse(r.body);
        assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "error"), "required_schema")->valueint, 1);
        cJSON_Delete(j);
        harness_resp_clear(&r);
        /* more than 1000 records: 413, the client splits */
        big = strdup("{\"schema\": 1, \"records\": [");
        for (int i = 0; i < 1001; i++) {
                char *r1 = rec("profile", "any", 7, 0, ORIGIN_A, "{}"), *n;

                assert_true(asprintf(&n, "%s%s%s", big, i ? "," : "", r1) > 0);
                free(big);
                free(r1);
                big = n;
        }
        big = realloc(big, strlen(big) + 3);
        strcat(big, "]}");
        harness_new_uuid(key);
        snprintf(hdr, sizeof(hdr), "Idempotency-Key: %s", key);
        request_expect_error("POST", "/v1/sync/push", HARNESS_TOKEN_A, big, ok, 413, "too_large");
        free(big);
        /* a body over 1 MiB: 413 */
        big = malloc(1100000);
        memset(big, ' ', 1099999);
        big[1099999] = '\0';
        big[0] = '{';
        big[1099998] = '}';
        harness_new_uuid(key);
        snprintf(hdr, sizeof(hdr), "Idempotency-Key: %s", key);
        request_expect_error("POST", "/v1/sync/push", HARNESS_TOKEN_A, big, ok, 413, "too_large");
        request_expect_error("POST", "/v1/sync/pull", HARNESS_TOKEN_A, big, NULL, 413, "too_large");
        free(big);
        /* nothing was stored by any of them */
        after = cursor_now(&S, HARNESS_TOKEN_A);
        assert_string_equal(before, after);
        free(before);
        free(after);
}

static void test_pull_paging(void **state) {
        static const char *const items[][2] = {
                { "profile", "any" }, { "eq.custom", "standard" }, { "eq.custom", "pro" },
                { "eq.active", "standard" }, { "eq.active", "pro" },
        };
        uint64_t t = harness_wall_ms() - 30000;
        char *cursor = NULL, *c2;
        cJSON *j, *res;
        int seen = 0;

        (void) state;
        for (int i = 0; i < 5; i++)     /* bob's account: a clean sequence */
                cJSON_Delete(push_ok(&S, HARNESS_TOKEN_B,
                                     push_body(1, rec(items[i][0], items[i][1], t + (uint64_t) i, 0, ORIGIN_A, NULL))));
        for (int page = 0; page < 3; page++) {
                j = pull(&S, HARNESS_TOKEN_B, cursor, 2);
                for (int i = 0; i < cJSON_GetArraySize(cJSON_GetObjectItem(j, "records")); i++, seen++) {
                        cJSON *r = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "records"), i);

                        assert_string_equal(str_of(r, "key"), items[seen][0]);      /* apply order */
                        assert_string_equal(str_of(r, "family"), items[seen][1]);
                }
                assert_int_equal(cJSON_IsTrue(cJSON_GetObjectItem(j, "more")), page < 2);
                free(cursor);
                cursor = strdup(str_of(j, "cursor"));
                cJSON_Delete(j);
        }
        assert_int_equal(seen, 5);
        /* nothing new: empty page, same cursor */
        j = pull(&S, HARNESS_TOKEN_B, cursor, 1000);
        assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "records")), 0);
        assert_false(cJSON_IsTrue(cJSON_GetObjectItem(j, "more")));
        assert_string_equal(str_of(j, "cursor"), cursor);
        cJSON_Delete(j);
        /* one item changes twice: only its newest copy, once */
        cJSON_Delete(push_ok(&S, HARNESS_TOKEN_B, push_body(1, rec("eq.custom", "standard", t + 10, 0, ORIGIN_A, NULL))));
        res = push_ok(&S, HARNESS_TOKEN_B, push_body(1, rec("eq.custom", "standard", t + 11, 0, ORIGIN_A, NULL)));
        j = pull(&S, HARNESS_TOKEN_B, cursor, 10);
        assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "records")), 1);
        assert_int_equal((uint64_t) cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetArrayItem(
                cJSON_GetObjectItem(j, "records"), 0), "stamp"), "ms")->valuedouble, t + 11);
        assert_string_equal(str_of(j, "cursor"), str_of(res, "cursor"));   /* push's cursor = pull's */
        cJSON_Delete(j);
        cJSON_Delete(res);
        /* full pull from null: the 5 items, the changed one last */
        j = pull(&S, HARNESS_TOKEN_B, NULL, 1000);
        assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "records")), 5);
        assert_string_equal(str_of(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "records"), 4), "family"), "standard");
        cJSON_Delete(j);
        /* malformed and foreign cursors, bad limits */
        c2 = cursor_now(&S, HARNESS_TOKEN_A);
        char body[160];
        snprintf(body, sizeof(body), "{\"cursor\": \"%s\", \"limit\": 5}", c2);
        request_expect_error("POST", "/v1/sync/pull", HARNESS_TOKEN_B, body, NULL, 400, "bad_request");
        cursor[31] = cursor[31] == '0' ? '1' : '0';
        snprintf(body, sizeof(body), "{\"cursor\": \"%s\", \"limit\": 5}", cursor);
        request_expect_error("POST", "/v1/sync/pull", HARNESS_TOKEN_B, body, NULL, 400, "bad_request");
        static const char *const bad[] = {
                "{\"cursor\": \"xyz\", \"limit\": 5}", "{\"cursor\": null, \"limit\": 0}",
                "{\"cursor\": null, \"limit\": 1001}", "{\"cursor\": null, \"limit\": 1.5}",
                "{\"cursor\": null}", "{\"limit\": 5}", "{\"cursor\": 5, \"limit\": 5}",
                "{\"cursor\": null, \"limit\": \"5\"}", "{\"cursor\": null, \"limit\": 5, \"x\": 1}", "[", "",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                request_expect_error("POST", "/v1/sync/pull", HARNESS_TOKEN_B, bad[i], NULL, 400, "bad_request");
        free(c2);
        free(cursor);
}

static void test_idempotent_replay(void **state) {
        char key[37], buf[16], *body, *other, *before, *after;
        struct harness_resp r1, r2;
        cJSON *j;

        (void) state;
        harness_new_uuid(key);
        body = push_body(1, rec("eq.active", "standard", harness_wall_ms() - 1000, 0, ORIGIN_A, NULL));
        push_with_key(&S, HARNESS_TOKEN_A, key, body, &r1);
        assert_int_equal(r1.status, 200);
        assert_null(harness_header(&r1, "Idempotent-Replay", buf, sizeof(buf)));
        before = cursor_now(&S, HARNESS_TOKEN_A);
        push_with_key(&S, HARNESS_TOKEN_A, key, body, &r2);
        assert_int_equal(r2.status, 200);
        assert_string_equal(r1.body, r2.body);
        assert_non_null(harness_header(&r2, "Idempotent-Replay", buf, sizeof(buf)));
        assert_string_equal(buf, "true");
        after = cursor_now(&S, HARNESS_TOKEN_A);
        assert_string_equal(before, after);                      /* nothing changed */
        harness_resp_clear(&r2);
        /* the same key in upper case is the same key */
        for (char *p = key; *p; p++)
                *p = (char) (*p >= 'a' && *p <= 'f' ? *p - 32 : *p);
        push_with_key(&S, HARNESS_TOKEN_A, key, body, &r2);
        assert_string_equal(r1.body, r2.body);
        harness_resp_clear(&r2);
        /* same key, another body: 422 */
        other = push_body(1, rec("eq.active", "standard", harness_wall_ms() - 500, 0, ORIGIN_A, NULL));
        push_with_key(&S, HARNESS_TOKEN_A, key, other, &r2);
        assert_error(&r2, 422, "idempotency_key_reused");
        harness_resp_clear(&r2);
        push_with_key(&S, HARNESS_TOKEN_A, key, "not even json", &r2);
        assert_error(&r2, 422, "idempotency_key_reused");
        harness_resp_clear(&r2);
        /* keys are per account: bob may use alice's key */
        push_with_key(&S, HARNESS_TOKEN_B, key, other, &r2);
        assert_int_equal(r2.status, 200);
        assert_null(harness_header(&r2, "Idempotent-Replay", buf, sizeof(buf)));
        j = cJSON_Parse(r2.body);
        assert_string_equal(result_status(j, 0), "applied");
        cJSON_Delete(j);
        harness_resp_clear(&r2);
        free(after);
        after = cursor_now(&S, HARNESS_TOKEN_A);
        assert_string_equal(before, after);
        harness_resp_clear(&r1);
        free(body);
        free(other);
        free(before);
        free(after);
}

struct slow_body {
        const char *data;
        size_t len, pos;
        bool asked;
};

/* Pauses at its first call, which curl makes only after the server's
 * "100 Continue": by then syncd has seen the headers and claimed the key. */
static size_t slow_read(char *buf, size_t size, size_t n, void *userdata) {
        struct slow_body *b = userdata;
        size_t k = size * n < b->len - b->pos ? size * n : b->len - b->pos;

        if (!b->asked) {
                b->asked = true;
                return CURL_READFUNC_PAUSE;
        }
        memcpy(buf, b->data + b->pos, k);
        b->pos += k;
        return k;
}

static void multi_drive_until(CURLM *m, bool *flag, int *running) {
        uint64_t deadline = harness_now_ms() + 15000;

        while (!*flag && *running && harness_now_ms() < deadline) {
                curl_multi_perform(m, running);
                if (!*flag && *running)
                        curl_multi_poll(m, NULL, 0, 50, NULL);
        }
}

static void test_in_progress_409(void **state) {
        char key[37], hdr[80], *body = push_body(1, rec("profile", "any", harness_wall_ms() - 2000, 0, ORIGIN_A, NULL));
        const char *headers[] = { hdr, DEV_HDR, "Expect: 100-continue", "Content-Type: application/json", NULL };
        struct slow_body sb = { .data = body, .len = strlen(body) };
        struct harness_resp ra, rb;
        bool done = false;
        CURLM *m = curl_multi_init();
        CURL *a;
        int running = 1;
        char buf[16];

        (void) state;
        harness_new_uuid(key);
        snprintf(hdr, sizeof(hdr), "Idempotency-Key: %s", key);
        a = harness_easy(&S, "POST", "/v1/sync/push", HARNESS_TOKEN_A, NULL, headers, &ra);
        curl_easy_setopt(a, CURLOPT_POST, 1L);
        curl_easy_setopt(a, CURLOPT_READFUNCTION, slow_read);
        curl_easy_setopt(a, CURLOPT_READDATA, &sb);
        curl_easy_setopt(a, CURLOPT_POSTFIELDSIZE, (long) sb.len);
        curl_easy_setopt(a, CURLOPT_EXPECT_100_TIMEOUT_MS, 60000L);
        curl_multi_add_handle(m, a);
        multi_drive_until(m, &sb.asked, &running);
        assert_true(sb.asked);
        /* the first body is still uploading: the same key gets 409, whatever its body */
        push_with_key(&S, HARNESS_TOKEN_A, key, body, &rb);
        assert_error(&rb, 409, "in_progress");
        harness_resp_clear(&rb);
        push_with_key(&S, HARNESS_TOKEN_A, key, "{}", &rb);
        assert_error(&rb, 409, "in_progress");
        harness_resp_clear(&rb);
        /* another account's same key is not in progress */
        push_with_key(&S, HARNESS_TOKEN_B, key, body, &rb);
        assert_int_equal(rb.status, 200);
        harness_resp_clear(&rb);
        /* let the first finish: 200; the retry is a replay */
        curl_easy_pause(a, CURLPAUSE_CONT);
        while (!done) {
                CURLMsg *msg;
                int left;

                multi_drive_until(m, &done, &running);
                while ((msg = curl_multi_info_read(m, &left)))
                        if (msg->msg == CURLMSG_DONE)
                                done = true;
                if (!running)
                        done = true;
        }
        curl_easy_getinfo(a, CURLINFO_RESPONSE_CODE, &ra.status);
        assert_int_equal(ra.status, 200);
        push_with_key(&S, HARNESS_TOKEN_A, key, body, &rb);
        assert_int_equal(rb.status, 200);
        assert_non_null(harness_header(&rb, "Idempotent-Replay", buf, sizeof(buf)));
        assert_string_equal(rb.body, ra.body);
        harness_resp_clear(&rb);
        curl_multi_remove_handle(m, a);
        harness_easy_free(a);
        curl_multi_cleanup(m);
        harness_resp_clear(&ra);
        free(body);
}

static void test_accounts_isolated(void **state) {
        const char *dev = "{\"kind\": \"host\", \"name\": \"alice's laptop\", \"last_seen_ms\": 1}";
        char *bob_cursor = cursor_now(&S, HARNESS_TOKEN_B), *bob_after;
        cJSON *j;

        (void) state;
        cJSON_Delete(push_ok(&S, HARNESS_TOKEN_A, push_body(1, rec("eq.active", "pro", harness_wall_ms(), 7, ORIGIN_A, NULL))));
        cJSON_Delete(get_ok(&S, HARNESS_TOKEN_A, "PUT", "/v1/devices/aaaaaaaaaaaaaaaa", dev));
        bob_after = cursor_now(&S, HARNESS_TOKEN_B);
        assert_string_equal(bob_cursor, bob_after);
        j = pull(&S, HARNESS_TOKEN_B, bob_cursor, 1000);
        assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "records")), 0);
        cJSON_Delete(j);
        j = pull(&S, HARNESS_TOKEN_B, NULL, 1000);
        for (int i = 0; i < cJSON_GetArraySize(cJSON_GetObjectItem(j, "records")); i++)
                assert_int_not_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetArrayItem(
                        cJSON_GetObjectItem(j, "records"), i), "stamp"), "c")->valueint, 7);
        cJSON_Delete(j);
        j = get_ok(&S, HARNESS_TOKEN_B, "GET", "/v1/devices", NULL);
        for (int i = 0; i < cJSON_GetArraySize(cJSON_GetObjectItem(j, "devices")); i++)
                assert_string_not_equal(str_of(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "devices"), i), "id"),
                                        "aaaaaaaaaaaaaaaa");
        cJSON_Delete(j);
        free(bob_cursor);
        free(bob_after);
}

static void test_devices(void **state) {
        const char *full = "{\"kind\": \"buds\", \"family\": \"pro\", \"model\": \"X2\", \"firmware\": \"1.2.3\", "
                           "\"serial\": \"SN1\", \"name\": \"Bl\\u00e5 buds\", \"battery\": 80, "
                           "\"last_seen_ms\": 1763700000000}";
        cJSON *j, *d;

        (void) state;
        j = get_ok(&S, HARNESS_TOKEN_B, "PUT", "/v1/devices/0123456789abcdef", full);
        assert_string_equal(str_of(j, "id"), "0123456789abcdef");
        cJSON_Delete(j);
        cJSON_Delete(get_ok(&S, HARNESS_TOKEN_B, "PUT", "/v1/devices/00a1b2c3d4e5f607",
                            "{\"kind\": \"host\", \"last_seen_ms\": 5}"));
        /* a PUT replaces the device */
        cJSON_Delete(get_ok(&S, HARNESS_TOKEN_B, "PUT", "/v1/devices/00a1b2c3d4e5f607",
                            "{\"kind\": \"host\", \"name\": \"desk\", \"last_seen_ms\": 6}"));
        j = get_ok(&S, HARNESS_TOKEN_B, "GET", "/v1/devices", NULL);
        assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "devices")), 2);
        d = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "devices"), 0);
        assert_string_equal(str_of(d, "id"), "00a1b2c3d4e5f607");
        assert_string_equal(str_of(d, "name"), "desk");
        assert_int_equal(cJSON_GetObjectItem(d, "last_seen_ms")->valueint, 6);
        d = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "devices"), 1);
        assert_string_equal(str_of(d, "name"), "Bl\xc3\xa5 buds");
        assert_int_equal(cJSON_GetObjectItem(d, "battery")->valueint, 80);
        assert_string_equal(str_of(d, "family"), "pro");
        cJSON_Delete(j);
        static const char *const bad[] = {
                "{\"kind\": \"phone\", \"last_seen_ms\": 1}", "{\"last_seen_ms\": 1}", "{\"kind\": \"buds\"}",
                "{\"kind\": \"buds\", \"last_seen_ms\": -1}", "{\"kind\": \"buds\", \"last_seen_ms\": 1.5}",
                "{\"kind\": \"buds\", \"last_seen_ms\": \"1\"}", "{\"kind\": \"buds\", \"last_seen_ms\": 1, \"battery\": 101}",
                "{\"kind\": \"buds\", \"last_seen_ms\": 1, \"battery\": null}",
                "{\"kind\": \"buds\", \"last_seen_ms\": 1, \"family\": \"any\"}",
                "{\"kind\": \"buds\", \"last_seen_ms\": 1, \"name\": 5}",
                "{\"kind\": \"buds\", \"last_seen_ms\": 1, \"name\": "
                "\"01234567890123456789012345678901234567890123456789012345678901234\"}",
                "{\"kind\": \"buds\", \"last_seen_ms\": 1, \"color\": \"red\"}",
                "{\"kind\": \"buds\", \"last_seen_ms\": 1, \"id\": \"0123456789abcdef\"}",
                "{\"kind\": \"buds\", \"last_seen_ms\": 1, \"name\": \"\\ud800\"}",
                "[]", "{", "",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                request_expect_error("PUT", "/v1/devices/0123456789abcdef", HARNESS_TOKEN_B, bad[i], NULL, 400,
                                     "bad_request");
        request_expect_error("PUT", "/v1/devices/0123456789ABCDEF", HARNESS_TOKEN_B,
                             "{\"kind\": \"buds\", \"last_seen_ms\": 1}", NULL, 400, "bad_request");
        request_expect_error("PUT", "/v1/devices/0123", HARNESS_TOKEN_B,
                             "{\"kind\": \"buds\", \"last_seen_ms\": 1}", NULL, 400, "bad_request");
        /* nothing of the rejected ones was stored */
        j = get_ok(&S, HARNESS_TOKEN_B, "GET", "/v1/devices", NULL);
        d = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "devices"), 1);
        assert_int_equal(cJSON_GetObjectItem(d, "battery")->valueint, 80);
        assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "devices")), 2);
        cJSON_Delete(j);
}

static void test_longpoll_timeout(void **state) {
        char *cursor = cursor_now(&S, HARNESS_TOKEN_A), path[160];
        struct harness_resp r;
        uint64_t t0;
        cJSON *j;

        (void) state;
        snprintf(path, sizeof(path), "/v1/sync/wait?cursor=%s&timeout=1", cursor);
        t0 = harness_now_ms();
        assert_int_equal(harness_request(&S, "GET", path, HARNESS_TOKEN_A, NULL, NULL, &r), 0);
        assert_int_equal(r.status, 204);
        assert_int_equal(r.len, 0);
        assert_true(harness_now_ms() - t0 >= 900);
        assert_true(harness_now_ms() - t0 < 5000);
        harness_resp_clear(&r);
        /* already changed after an old cursor: 200 at once */
        j = pull(&S, HARNESS_TOKEN_A, NULL, 1);
        assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "more")));
        snprintf(path, sizeof(path), "/v1/sync/wait?cursor=%s&timeout=60", str_of(j, "cursor"));
        cJSON_Delete(j);
        t0 = harness_now_ms();
        j = get_ok(&S, HARNESS_TOKEN_A, "GET", path, NULL);
        assert_true(harness_now_ms() - t0 < 5000);
        assert_string_equal(str_of(j, "cursor"), cursor);
        cJSON_Delete(j);
        static const char *const bad[] = {
                "/v1/sync/wait", "/v1/sync/wait?timeout=1", "/v1/sync/wait?cursor=abc&timeout=1",
                "/v1/sync/wait?cursor=%s&timeout=0", "/v1/sync/wait?cursor=%s&timeout=61",
                "/v1/sync/wait?cursor=%s", "/v1/sync/wait?cursor=%s&timeout=1x",
                "/v1/sync/wait?cursor=%s&timeout=1&x=2",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                snprintf(path, sizeof(path), bad[i], cursor);
                request_expect_error("GET", path, HARNESS_TOKEN_A, NULL, NULL, 400, "bad_request");
        }
        free(cursor);
}

#define WAITERS 100

static void test_longpoll_wakes_all(void **state) {
        char *cursor = cursor_now(&S, HARNESS_TOKEN_A), path[160];
        struct harness_resp resp[WAITERS], bob;
        CURL *e[WAITERS], *eb;
        CURLM *m = curl_multi_init();
        uint64_t t0, last = 0, deadline;
        int running = 0, done = 0, sent = 0;
        cJSON *res;
        bool all_sent = false;

        (void) state;
        snprintf(path, sizeof(path), "/v1/sync/wait?cursor=%s&timeout=30", cursor);
        for (int i = 0; i < WAITERS; i++) {
                e[i] = harness_easy(&S, "GET", path, HARNESS_TOKEN_A, NULL, NULL, &resp[i]);
                curl_multi_add_handle(m, e[i]);
        }
        /* bob waits too, and must not be woken by alice's push */
        free(cursor);
        cursor = cursor_now(&S, HARNESS_TOKEN_B);
        snprintf(path, sizeof(path), "/v1/sync/wait?cursor=%s&timeout=2", cursor);
        eb = harness_easy(&S, "GET", path, HARNESS_TOKEN_B, NULL, NULL, &bob);
        curl_multi_add_handle(m, eb);
        deadline = harness_now_ms() + 20000;
        while (!all_sent && harness_now_ms() < deadline) {     /* every request on the wire */
                curl_multi_perform(m, &running);
                sent = 0;
                for (int i = 0; i < WAITERS; i++) {
                        long n = 0;

                        curl_easy_getinfo(e[i], CURLINFO_REQUEST_SIZE, &n);
                        sent += n > 0;
                }
                all_sent = sent == WAITERS;
                if (!all_sent)
                        curl_multi_poll(m, NULL, 0, 20, NULL);
        }
        assert_int_equal(sent, WAITERS);
        /* a round trip on another connection: the waits before it are parked by now */
        free(cursor);
        cursor = cursor_now(&S, HARNESS_TOKEN_A);
        curl_multi_perform(m, &running);
        t0 = harness_now_ms();
        res = push_ok(&S, HARNESS_TOKEN_A, push_body(1, rec("eq.active", "pro", harness_wall_ms(), 9, ORIGIN_B, NULL)));
        while (done < WAITERS && harness_now_ms() < t0 + 10000) {
                CURLMsg *msg;
                int left;

                curl_multi_perform(m, &running);
                while ((msg = curl_multi_info_read(m, &left)))
                        if (msg->msg == CURLMSG_DONE && msg->easy_handle != eb) {
                                done++;
                                last = harness_now_ms();
                        }
                if (done < WAITERS)
                        curl_multi_poll(m, NULL, 0, 20, NULL);
        }
        assert_int_equal(done, WAITERS);
        printf("long poll: %d waiters woken by one push, last answer %llu ms after the push started\n", WAITERS,
               (unsigned long long) (last - t0));
        for (int i = 0; i < WAITERS; i++) {
                cJSON *j;

                curl_easy_getinfo(e[i], CURLINFO_RESPONSE_CODE, &resp[i].status);
                assert_int_equal(resp[i].status, 200);
                j = cJSON_Parse(resp[i].body);
                assert_string_equal(str_of(j, "cursor"), str_of(res, "cursor"));
                cJSON_Delete(j);
                curl_multi_remove_handle(m, e[i]);
                harness_easy_free(e[i]);
                harness_resp_clear(&resp[i]);
        }
        /* bob's wait times out (204): alice's push did not wake it */
        deadline = harness_now_ms() + 10000;
        while (running && harness_now_ms() < deadline) {
                curl_multi_perform(m, &running);
                if (running)
                        curl_multi_poll(m, NULL, 0, 50, NULL);
        }
        curl_easy_getinfo(eb, CURLINFO_RESPONSE_CODE, &bob.status);
        assert_int_equal(bob.status, 204);
        curl_multi_remove_handle(m, eb);
        harness_easy_free(eb);
        harness_resp_clear(&bob);
        curl_multi_cleanup(m);
        cJSON_Delete(res);
        free(cursor);
}

/* Long polls that nothing answers early: a few waiters driven together, each
 * read back once it ends, and /metrics to know what syncd did meanwhile. */

struct waiter {
        CURL *e;
        struct harness_resp r;
        bool done;
};

/* The value of one series of s's /metrics; 0 when absent. */
static double metric_of(const struct harness_syncd *s, const char *series) {
        double v = 0;

        assert_int_equal(harness_metric_get(s, series, &v), 0);
        return v;
}

static void waiter_start(CURLM *m, const struct harness_syncd *s, const char *token, const char *cursor,
                         unsigned timeout, struct waiter *w) {
        char path[160];

        snprintf(path, sizeof(path), "/v1/sync/wait?cursor=%s&timeout=%u", cursor, timeout);
        *w = (struct waiter) {};
        w->e = harness_easy(s, "GET", path, token, NULL, NULL, &w->r);
        curl_multi_add_handle(m, w->e);
}

/* Runs m for at most ms; a waiter that ended is marked done, its status read. */
static void waiters_drive(CURLM *m, struct waiter *w, size_t n, int ms) {
        CURLMsg *msg;
        int running, left;

        curl_multi_perform(m, &running);
        curl_multi_poll(m, NULL, 0, ms, NULL);
        curl_multi_perform(m, &running);
        while ((msg = curl_multi_info_read(m, &left)))
                for (size_t i = 0; i < n; i++)
                        if (msg->msg == CURLMSG_DONE && msg->easy_handle == w[i].e) {
                                w[i].done = true;
                                curl_easy_getinfo(w[i].e, CURLINFO_RESPONSE_CODE, &w[i].r.status);
                        }
}

/* How many ended with status (0: any). */
static size_t waiters_done(const struct waiter *w, size_t n, long status) {
        size_t k = 0;

        for (size_t i = 0; i < n; i++)
                k += w[i].done && (!status || w[i].r.status == status);
        return k;
}

/* Drives m until s has want long polls parked. */
static void waiters_parked(CURLM *m, const struct harness_syncd *s, struct waiter *w, size_t n, double want) {
        uint64_t deadline = harness_now_ms() + 10000;
        double v;

        while ((v = metric_of(s, "syncd_longpoll_parked")) < want && harness_now_ms() < deadline)
                waiters_drive(m, w, n, 20);
        if (v < want)
                fail_msg("%g long polls parked, expected %g", v, want);
}

/* Drives m until w ends; its status. */
static long waiter_answer(CURLM *m, struct waiter *w) {
        uint64_t deadline = harness_now_ms() + 35000;          /* beyond curl's own 30 s */

        while (!w->done && harness_now_ms() < deadline)
                waiters_drive(m, w, 1, 50);
        assert_true(w->done);
        return w->r.status;
}

static void waiter_free(CURLM *m, struct waiter *w) {
        curl_multi_remove_handle(m, w->e);
        harness_easy_free(w->e);
        harness_resp_clear(&w->r);
        *w = (struct waiter) {};
}

/* The cursor of a 200's body; fails on any other answer. */
static void assert_answered_cursor(const struct waiter *w, const char *cursor) {
        cJSON *j;

        assert_true(w->done);
        if (w->r.status != 200)
                fail_msg("long poll answered %ld, expected 200", w->r.status);
        j = cJSON_Parse(w->r.body);
        assert_non_null(j);
        assert_string_equal(str_of(j, "cursor"), cursor);
        cJSON_Delete(j);
}

/* Sends each NOTIFY of payloads (NULL-terminated; "": no account) on s's
 * database, each in a transaction of its own, from a session that is not
 * syncd's: as another syncd on the database would. */
static void pg_notify(const struct harness_syncd *s, const char *const *payloads) {
        char cmd[2048];
        size_t n;

        n = (size_t) snprintf(cmd, sizeof(cmd), "psql -q -h '%s' -U syncd -d '%s'", harness_pg(),
                              strrchr(s->dir, '/') + 1);
        for (; *payloads && n < sizeof(cmd); payloads++)
                n += (size_t) snprintf(cmd + n, sizeof(cmd) - n, " -c \"SELECT pg_notify('syncd_changes', '%s')\"",
                                       *payloads);
        assert_true(n + 20 < sizeof(cmd));
        strcat(cmd, " >/dev/null");
        assert_int_equal(system(cmd), 0);
}

/* What happened to parked long polls and did not change their account
 * leaves them parked with their deadline: a push of another account, a push
 * whose records were all stale or rejected, the replay of a push, and on
 * PostgreSQL notifications as another syncd's would come (for this account
 * with nothing newer, as a late one for a change already seen; for another
 * account; without an account). The short wait is then answered 204 when it
 * ends; the long one 200 by the first push that applies, with that push's
 * cursor: a wake-up for nothing would have answered the cursor it sent. */
static void test_longpoll_no_news(void **state) {
        uint64_t t = harness_wall_ms() - 60000, deadline, t0;
        struct waiter w[2];             /* 25 s, and 5 s */
        CURLM *m = curl_multi_init();
        char key[37], buf[16], *first, *cursor;
        struct harness_syncd s;
        struct harness_resp r;
        double kept = 0;
        cJSON *res;

        (void) state;
        assert_int_equal(harness_dir(&s), 0);
        s.metrics = true;
        assert_int_equal(harness_start(&s, false, NULL), 0);
        harness_new_uuid(key);
        first = push_body(1, rec("eq.custom", "pro", t, 1, ORIGIN_A, NULL));
        push_with_key(&s, HARNESS_TOKEN_A, key, first, &r);
        assert_int_equal(r.status, 200);
        harness_resp_clear(&r);
        cursor = cursor_now(&s, HARNESS_TOKEN_A);
        waiter_start(m, &s, HARNESS_TOKEN_A, cursor, 25, &w[0]);
        waiter_start(m, &s, HARNESS_TOKEN_A, cursor, 5, &w[1]);
        waiters_parked(m, &s, w, 2, 2);
        t0 = harness_now_ms();
        cJSON_Delete(push_ok(&s, HARNESS_TOKEN_B, push_body(1, rec("eq.active", "pro", t, 1, ORIGIN_A, NULL))));
        res = push_ok(&s, HARNESS_TOKEN_A, push_body(2, rec("eq.custom", "pro", t, 0, ORIGIN_A, NULL),
                                                     rec("eq.active", "pro", harness_wall_ms() + 3600000, 0,
                                                         ORIGIN_A, NULL)));
        assert_string_equal(result_status(res, 0), "stale");
        assert_string_equal(result_status(res, 1), "rejected");
        assert_string_equal(str_of(res, "cursor"), cursor);
        cJSON_Delete(res);
        push_with_key(&s, HARNESS_TOKEN_A, key, first, &r);
        assert_non_null(harness_header(&r, "Idempotent-Replay", buf, sizeof(buf)));
        harness_resp_clear(&r);
        if (harness_pg()) {
                /* processed once both alice waiters were kept twice (or the short one's time was up) */
                pg_notify(&s, (const char *[]) { "alice", "bob", "", "alice", NULL });
                deadline = harness_now_ms() + 10000;
                while (waiters_done(w, 2, 200) == 0 && harness_now_ms() < deadline &&
                       (kept = metric_of(&s, "syncd_longpoll_kept_total")) < (w[1].done ? 2 : 4))
                        waiters_drive(m, w, 2, 20);
                if (waiters_done(w, 2, 200) > 0)
                        fail_msg("a notification with nothing new for it answered a long poll 200 (%s)",
                                 w[0].done ? w[0].r.body : w[1].r.body);
                assert_true(kept >= 2);
        }
        assert_false(w[0].done);
        assert_int_equal(waiter_answer(m, &w[1]), 204);
        printf("long poll: 5 s wait answered 204 %llu ms after the first event that changed nothing for it "
               "(%g kept parked by a notification)\n", (unsigned long long) (harness_now_ms() - t0), kept);
        assert_false(w[0].done);
        res = push_ok(&s, HARNESS_TOKEN_A, push_body(1, rec("eq.custom", "pro", t, 2, ORIGIN_A, NULL)));
        waiter_answer(m, &w[0]);
        assert_answered_cursor(&w[0], str_of(res, "cursor"));
        assert_int_equal(metric_of(&s, "syncd_longpoll_wakeups_total"), 1);
        cJSON_Delete(res);
        waiter_free(m, &w[0]);
        waiter_free(m, &w[1]);
        curl_multi_cleanup(m);
        free(first);
        free(cursor);
        assert_int_equal(harness_stop(&s), 0);
        harness_cleanup(&s);
}

#define NOTIFY_WAITERS 8
#define NOTIFY_ROUNDS 12

/* PostgreSQL: notifications for an account whose long polls have seen
 * everything, one at a time, each while all of its waiters are parked (a
 * waiter answered is sent again, as a bridge would): how many were answered
 * 200 (each with the very cursor it sent), and how many kept parked. */
static void test_longpoll_notify_count(void **state) {
        struct waiter w[NOTIFY_WAITERS];
        CURLM *m;
        unsigned answered = 0, timed_out = 0;
        struct harness_syncd s;
        char *cursor;

        (void) state;
        if (!harness_pg())
                skip();
        assert_int_equal(harness_dir(&s), 0);
        s.metrics = true;
        assert_int_equal(harness_start(&s, false, NULL), 0);
        m = curl_multi_init();
        cursor = cursor_now(&s, HARNESS_TOKEN_A);
        for (size_t i = 0; i < NOTIFY_WAITERS; i++)
                waiter_start(m, &s, HARNESS_TOKEN_A, cursor, 25, &w[i]);
        for (unsigned round = 0; round < NOTIFY_ROUNDS; round++) {
                double base, seen = 0;
                uint64_t deadline;

                waiters_parked(m, &s, w, NOTIFY_WAITERS, NOTIFY_WAITERS);
                base = metric_of(&s, "syncd_longpoll_kept_total");
                pg_notify(&s, (const char *[]) { "alice", NULL });
                /* every waiter kept, or its answer here (200, or 204 on a machine slow beyond its 25 s) */
                deadline = harness_now_ms() + 10000;
                while (harness_now_ms() < deadline &&
                       (seen = metric_of(&s, "syncd_longpoll_kept_total") - base +
                               (double) waiters_done(w, NOTIFY_WAITERS, 0)) < NOTIFY_WAITERS)
                        waiters_drive(m, w, NOTIFY_WAITERS, 20);
                assert_true(seen >= NOTIFY_WAITERS);
                for (size_t i = 0; i < NOTIFY_WAITERS; i++) {
                        if (!w[i].done)
                                continue;
                        if (w[i].r.status == 200) {
                                assert_answered_cursor(&w[i], cursor);
                                answered++;
                        } else {
                                assert_int_equal(w[i].r.status, 204);
                                timed_out++;
                        }
                        waiter_free(m, &w[i]);
                        waiter_start(m, &s, HARNESS_TOKEN_A, cursor, 25, &w[i]);
                }
        }
        printf("long poll: %d notifications for an account with nothing new, %d waiters parked at each: "
               "%u answered 200 with the cursor they sent, %g kept parked (%u timed out)\n", NOTIFY_ROUNDS,
               NOTIFY_WAITERS, answered, metric_of(&s, "syncd_longpoll_kept_total"), timed_out);
        assert_int_equal(answered, 0);
        for (size_t i = 0; i < NOTIFY_WAITERS; i++)
                waiter_free(m, &w[i]);
        curl_multi_cleanup(m);
        free(cursor);
        assert_int_equal(harness_stop(&s), 0);
        harness_cleanup(&s);
}

static void test_restart_keeps_everything(void **state) {
        struct harness_syncd s2;
        char key[37], *body, *cursor, *c2;
        struct harness_resp r1, r2;
        char buf[16];
        cJSON *j;

        (void) state;
        assert_int_equal(harness_dir(&s2), 0);
        assert_int_equal(harness_start(&s2, false, NULL), 0);
        harness_new_uuid(key);
        body = push_body(2, rec("profile", "any", harness_wall_ms() - 10, 0, ORIGIN_A, NULL),
                         rec("eq.custom", "pro", harness_wall_ms() - 10, 0, ORIGIN_A, NULL));
        push_with_key(&s2, HARNESS_TOKEN_A, key, body, &r1);
        assert_int_equal(r1.status, 200);
        cJSON_Delete(get_ok(&s2, HARNESS_TOKEN_A, "PUT", "/v1/devices/1111111111111111",
                            "{\"kind\": \"buds\", \"last_seen_ms\": 3}"));
        cursor = cursor_now(&s2, HARNESS_TOKEN_A);
        assert_int_equal(harness_stop(&s2), 0);                 /* SIGTERM: clean exit */
        assert_int_equal(harness_start(&s2, false, NULL), 0);   /* same database */
        c2 = cursor_now(&s2, HARNESS_TOKEN_A);
        assert_string_equal(cursor, c2);
        j = pull(&s2, HARNESS_TOKEN_A, NULL, 1000);
        assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "records")), 2);
        cJSON_Delete(j);
        j = pull(&s2, HARNESS_TOKEN_A, cursor, 1000);            /* old cursors stay valid */
        assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "records")), 0);
        cJSON_Delete(j);
        push_with_key(&s2, HARNESS_TOKEN_A, key, body, &r2);    /* the stored response survived */
        assert_int_equal(r2.status, 200);
        assert_string_equal(r1.body, r2.body);
        assert_non_null(harness_header(&r2, "Idempotent-Replay", buf, sizeof(buf)));
        j = get_ok(&s2, HARNESS_TOKEN_A, "GET", "/v1/devices", NULL);
        assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "devices")), 1);
        cJSON_Delete(j);
        assert_int_equal(harness_stop(&s2), 0);
        harness_cleanup(&s2);
        harness_resp_clear(&r1);
        harness_resp_clear(&r2);
        free(body);
        free(cursor);
        free(c2);
}

/* Group commit: requests on many connections at once. */

#define GROUP_CONNS 32

/* Drives every handle to its end under a deadline; fills each status. */
static void multi_all(CURLM *m, CURL **e, struct harness_resp *resp, int n) {
        uint64_t deadline = harness_now_ms() + 30000;
        int running = 1;

        for (int i = 0; i < n; i++)
                curl_multi_add_handle(m, e[i]);
        while (running && harness_now_ms() < deadline) {
                curl_multi_perform(m, &running);
                if (running)
                        curl_multi_poll(m, NULL, 0, 50, NULL);
        }
        assert_int_equal(running, 0);
        for (int i = 0; i < n; i++) {
                curl_easy_getinfo(e[i], CURLINFO_RESPONSE_CODE, &resp[i].status);
                curl_multi_remove_handle(m, e[i]);
        }
}

/* GROUP_CONNS keep-alive connections, opened first (a status each) so the
 * requests that follow leave at once and meet in the same group. */
static CURLM *multi_warm(const struct harness_syncd *s) {
        CURLM *m = curl_multi_init();
        struct harness_resp r[GROUP_CONNS];
        CURL *e[GROUP_CONNS];

        curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, (long) GROUP_CONNS);
        for (int i = 0; i < GROUP_CONNS; i++)
                e[i] = harness_easy(s, "GET", "/v1/sync/status", HARNESS_TOKEN_A, NULL, NULL, &r[i]);
        multi_all(m, e, r, GROUP_CONNS);
        for (int i = 0; i < GROUP_CONNS; i++) {
                assert_int_equal(r[i].status, 200);
                harness_easy_free(e[i]);
                harness_resp_clear(&r[i]);
        }
        return m;
}

static CURL *push_easy(const struct harness_syncd *s, const char *key, const char *body, struct harness_resp *r,
                       char hdr[static 80]) {
        snprintf(hdr, 80, "Idempotency-Key: %.36s", key);
        return harness_easy(s, "POST", "/v1/sync/push", HARNESS_TOKEN_A, body,
                            (const char *[]) { hdr, DEV_HDR, NULL }, r);
}

/* The account's sequence number a cursor of this server names (cursor.c:
 * its first 16 hex digits). */
static uint64_t cursor_seq(const char *cursor) {
        char hex[17];

        snprintf(hex, sizeof(hex), "%.16s", cursor);
        return strtoull(hex, NULL, 16);
}

static uint64_t stamp_ms_of(const cJSON *rec) {
        return (uint64_t) cJSON_GetObjectItem(cJSON_GetObjectItem(rec, "stamp"), "ms")->valuedouble;
}

/* Every answer of a concurrent push to one item agrees with one order of
 * application: the applied ones in cursor order have rising stamps, a stale
 * one saw the copy applied just before it, higher than its own stamp. */
static void assert_one_order(cJSON **res, const uint64_t *ms, int n, uint64_t top) {
        uint64_t at_seq[GROUP_CONNS + 1] = {}, seq;

        for (int i = 0; i < n; i++) {
                seq = cursor_seq(str_of(res[i], "cursor"));
                assert_true(seq >= 1 && seq <= GROUP_CONNS);
                if (strcmp(result_status(res[i], 0), "applied") == 0) {
                        assert_int_equal(at_seq[seq], 0);          /* one record per sequence number */
                        at_seq[seq] = ms[i];
                }
        }
        for (uint64_t q = 1, last = 0; q <= GROUP_CONNS; q++)
                if (at_seq[q]) {
                        assert_true(at_seq[q] > last);
                        last = at_seq[q];
                }
        for (int i = 0; i < n; i++) {
                const cJSON *r0 = cJSON_GetArrayItem(cJSON_GetObjectItem(res[i], "results"), 0);

                if (strcmp(str_of(r0, "status"), "stale") != 0)
                        continue;
                seq = cursor_seq(str_of(res[i], "cursor"));
                assert_int_equal(stamp_ms_of(cJSON_GetObjectItem(r0, "current")), at_seq[seq]);
                assert_true(at_seq[seq] > ms[i]);
        }
        for (int i = 0; i < n; i++)             /* nothing outranks the highest stamp */
                if (ms[i] == top)
                        assert_string_equal(result_status(res[i], 0), "applied");
}

/* GROUP_CONNS device PUTs on the warm connections at once, all 200. */
static void put_devices_at_once(const struct harness_syncd *s, CURLM *m) {
        struct harness_resp r[GROUP_CONNS];
        CURL *e[GROUP_CONNS];
        char path[64];

        for (int i = 0; i < GROUP_CONNS; i++) {
                snprintf(path, sizeof(path), "/v1/devices/%016x", 0xd0 + i);
                e[i] = harness_easy(s, "PUT", path, HARNESS_TOKEN_A, "{\"kind\": \"buds\", \"last_seen_ms\": 1}",
                                    NULL, &r[i]);
        }
        multi_all(m, e, r, GROUP_CONNS);
        for (int i = 0; i < GROUP_CONNS; i++) {
                assert_int_equal(r[i].status, 200);
                harness_easy_free(e[i]);
                harness_resp_clear(&r[i]);
        }
}

/* GROUP_CONNS pushes to one (key, family) with shuffled stamps on as many
 * connections at once, then as many device PUTs; the answers agree with one
 * order, the highest stamp is stored, and after a restart every
 * acknowledged push replays its answer and every device is there. */
static void test_group_concurrent_same_item(void **state) {
        struct harness_syncd g;
        struct harness_resp resp[GROUP_CONNS], r;
        char keys[GROUP_CONNS][37], hdr[GROUP_CONNS][80], *bodies[GROUP_CONNS], buf[16];
        uint64_t t = harness_wall_ms() - 60000, ms[GROUP_CONNS], top = 0;
        cJSON *res[GROUP_CONNS], *j;
        CURL *e[GROUP_CONNS];
        CURLM *m;

        (void) state;
        assert_int_equal(harness_dir(&g), 0);
        assert_int_equal(harness_start(&g, false, NULL), 0);
        m = multi_warm(&g);
        for (int i = 0; i < GROUP_CONNS; i++) {
                ms[i] = t + (uint64_t) ((i * 13) % GROUP_CONNS);  /* a permutation: arrival order != stamp order */
                top = ms[i] > top ? ms[i] : top;
                harness_new_uuid(keys[i]);
                bodies[i] = push_body(1, rec("eq.custom", "pro", ms[i], 0, ORIGIN_A, NULL));
                e[i] = push_easy(&g, keys[i], bodies[i], &resp[i], hdr[i]);
        }
        multi_all(m, e, resp, GROUP_CONNS);
        for (int i = 0; i < GROUP_CONNS; i++) {
                assert_int_equal(resp[i].status, 200);
                assert_null(harness_header(&resp[i], "Idempotent-Replay", buf, sizeof(buf)));
                res[i] = cJSON_Parse(resp[i].body);
                assert_non_null(res[i]);
                harness_easy_free(e[i]);
        }
        assert_one_order(res, ms, GROUP_CONNS, top);
        put_devices_at_once(&g, m);
        curl_multi_cleanup(m);
        /* restart: everything acknowledged is there */
        assert_int_equal(harness_stop(&g), 0);
        assert_int_equal(harness_start(&g, false, NULL), 0);
        j = pull(&g, HARNESS_TOKEN_A, NULL, 1000);
        assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "records")), 1);
        assert_int_equal(stamp_ms_of(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "records"), 0)), top);
        cJSON_Delete(j);
        for (int i = 0; i < GROUP_CONNS; i++) {
                push_with_key(&g, HARNESS_TOKEN_A, keys[i], bodies[i], &r);
                assert_int_equal(r.status, 200);
                assert_non_null(harness_header(&r, "Idempotent-Replay", buf, sizeof(buf)));
                assert_string_equal(r.body, resp[i].body);
                harness_resp_clear(&r);
                harness_resp_clear(&resp[i]);
                cJSON_Delete(res[i]);
                free(bodies[i]);
        }
        j = get_ok(&g, HARNESS_TOKEN_A, "GET", "/v1/devices", NULL);
        assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "devices")), GROUP_CONNS);
        cJSON_Delete(j);
        assert_int_equal(harness_stop(&g), 0);
        harness_cleanup(&g);
}

/* Each key sent twice at once on two connections: one is processed, the
 * other is in progress (409) until the group commits, or arrives after the
 * commit and is the replay of the first answer; never two fresh answers. */
static void test_group_replay_same_group(void **state) {
        enum { KEYS = GROUP_CONNS / 2 };
        struct harness_resp resp[GROUP_CONNS], r;
        char keys[KEYS][37], hdr[GROUP_CONNS][80], *bodies[KEYS], buf[16];
        CURL *e[GROUP_CONNS];
        CURLM *m = multi_warm(&S);
        int in_progress = 0;

        (void) state;
        for (int k = 0; k < KEYS; k++) {
                harness_new_uuid(keys[k]);
                bodies[k] = push_body(1, rec("eq.active", "standard", harness_wall_ms() - 5000 + (uint64_t) k, 0, ORIGIN_A,
                                             NULL));
                e[2 * k] = push_easy(&S, keys[k], bodies[k], &resp[2 * k], hdr[2 * k]);
                e[2 * k + 1] = push_easy(&S, keys[k], bodies[k], &resp[2 * k + 1], hdr[2 * k + 1]);
        }
        multi_all(m, e, resp, GROUP_CONNS);
        for (int k = 0; k < KEYS; k++) {
                struct harness_resp *a = &resp[2 * k], *b = &resp[2 * k + 1], *fresh, *other;
                bool a_fresh = a->status == 200 && !harness_header(a, "Idempotent-Replay", buf, sizeof(buf));
                bool b_fresh = b->status == 200 && !harness_header(b, "Idempotent-Replay", buf, sizeof(buf));

                assert_true(a_fresh != b_fresh);       /* exactly one was processed */
                fresh = a_fresh ? a : b;
                other = a_fresh ? b : a;
                if (other->status == 409) {
                        assert_error(other, 409, "in_progress");
                        in_progress++;
                } else {
                        assert_int_equal(other->status, 200);
                        assert_string_equal(other->body, fresh->body);
                }
                push_with_key(&S, HARNESS_TOKEN_A, keys[k], bodies[k], &r);   /* after the commit: the replay */
                assert_int_equal(r.status, 200);
                assert_non_null(harness_header(&r, "Idempotent-Replay", buf, sizeof(buf)));
                assert_string_equal(r.body, fresh->body);
                harness_resp_clear(&r);
                free(bodies[k]);
        }
        printf("group: of %d keys sent twice at once, %d seconds were in progress (409), %d replays\n", KEYS,
               in_progress, KEYS - in_progress);
        for (int i = 0; i < GROUP_CONNS; i++) {
                harness_easy_free(e[i]);
                harness_resp_clear(&resp[i]);
        }
        curl_multi_cleanup(m);
}

static void test_faults(void **state) {
        struct harness_syncd f;
        struct harness_resp r;
        char key[37], buf[16], *body;
        const char *none[] = { NULL };
        cJSON *j;
        CURL *e;

        (void) state;
        (void) none;
        assert_int_equal(harness_dir(&f), 0);
        assert_int_equal(harness_start(&f, true, NULL), 0);
        j = get_ok(&f, NULL, "POST", "/test/faults",
                   "[{\"path\": \"/v1/sync/status\", \"action\": \"status\", \"status\": 503, \"retry_after\": 1},"
                   " {\"path\": \"/v1/sync/status\", \"action\": \"status\", \"status\": 429, \"retry_after\": 7},"
                   " {\"path\": \"/v1/sync/status\", \"action\": \"garbage\"},"
                   " {\"path\": \"/v1/sync/status\", \"action\": \"truncate\"},"
                   " {\"path\": \"/v1/sync/status\", \"action\": \"stall\"},"
                   " {\"path\": \"/v1/sync/push\", \"method\": \"POST\", \"action\": \"apply_then_drop\"}]");
        assert_int_equal(cJSON_GetObjectItem(j, "rules")->valueint, 6);
        cJSON_Delete(j);
        assert_int_equal(harness_request(&f, "GET", "/v1/sync/status", HARNESS_TOKEN_A, NULL, NULL, &r), 0);
        assert_error(&r, 503, "unavailable");
        assert_string_equal(harness_header(&r, "Retry-After", buf, sizeof(buf)), "1");
        harness_resp_clear(&r);
        assert_int_equal(harness_request(&f, "GET", "/v1/sync/status", HARNESS_TOKEN_A, NULL, NULL, &r), 0);
        assert_error(&r, 429, "rate_limited");
        assert_string_equal(harness_header(&r, "Retry-After", buf, sizeof(buf)), "7");
        harness_resp_clear(&r);
        assert_int_equal(harness_request(&f, "GET", "/v1/sync/status", HARNESS_TOKEN_A, NULL, NULL, &r), 0);
        assert_int_equal(r.status, 200);
        j = cJSON_Parse(r.body);
        assert_null(j);                                         /* garbage */
        harness_resp_clear(&r);
        harness_request(&f, "GET", "/v1/sync/status", HARNESS_TOKEN_A, NULL, NULL, &r);
        assert_int_equal(r.curl_code, CURLE_PARTIAL_FILE);      /* truncate */
        harness_resp_clear(&r);
        e = harness_easy(&f, "GET", "/v1/sync/status", HARNESS_TOKEN_A, NULL, NULL, &r);
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 1000L);
        assert_int_equal(curl_easy_perform(e), CURLE_OPERATION_TIMEDOUT);   /* stall */
        harness_easy_free(e);
        harness_resp_clear(&r);
        /* the rules are used up: normal again */
        cJSON_Delete(get_ok(&f, HARNESS_TOKEN_A, "GET", "/v1/sync/status", NULL));
        /* apply_then_drop: stored, no answer; the retry with the same key gets the stored response */
        harness_new_uuid(key);
        body = push_body(1, rec("eq.active", "pro", harness_wall_ms(), 0, ORIGIN_A, NULL));
        harness_request(&f, "POST", "/v1/sync/push", HARNESS_TOKEN_A, body, (const char *[]) {
                        "Idempotency-Key: 6b1e6a52-2f0a-4c36-9d0b-6f1f2f3a4b5c", DEV_HDR, NULL }, &r);
        assert_int_equal(r.curl_code, CURLE_GOT_NOTHING);
        harness_resp_clear(&r);
        j = pull(&f, HARNESS_TOKEN_A, NULL, 10);
        assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "records")), 1);
        cJSON_Delete(j);
        push_with_key(&f, HARNESS_TOKEN_A, "6b1e6a52-2f0a-4c36-9d0b-6f1f2f3a4b5c", body, &r);
        assert_int_equal(r.status, 200);
        assert_non_null(harness_header(&r, "Idempotent-Replay", buf, sizeof(buf)));
        j = cJSON_Parse(r.body);
        assert_string_equal(result_status(j, 0), "applied");
        cJSON_Delete(j);
        harness_resp_clear(&r);
        /* DELETE clears; bad rules are a 400 */
        cJSON_Delete(get_ok(&f, NULL, "POST", "/test/faults",
                            "[{\"path\": \"/v1/devices\", \"action\": \"status\", \"status\": 500, \"count\": 5}]"));
        j = get_ok(&f, NULL, "DELETE", "/test/faults", NULL);
        assert_int_equal(cJSON_GetObjectItem(j, "rules")->valueint, 0);
        assert_int_equal(cJSON_GetObjectItem(j, "hits")->valueint, 0);
        cJSON_Delete(j);
        cJSON_Delete(get_ok(&f, HARNESS_TOKEN_A, "GET", "/v1/devices", NULL));
        /* answer: the body as given, twice, the request not processed; the hits counted */
        cJSON_Delete(get_ok(&f, NULL, "POST", "/test/faults",
                            "[{\"path\": \"/v1/sync/pull\", \"action\": \"answer\", \"count\": 2, "
                            "\"body\": {\"records\": [], \"cursor\": \"lie\", \"more\": true}}]"));
        for (int i = 0; i < 2; i++) {
                j = pull(&f, HARNESS_TOKEN_A, NULL, 10);
                assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(j, "cursor")), "lie");
                assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "more")));
                cJSON_Delete(j);
        }
        j = get_ok(&f, NULL, "POST", "/test/faults", "[]");
        assert_int_equal(cJSON_GetObjectItem(j, "rules")->valueint, 0);
        assert_int_equal(cJSON_GetObjectItem(j, "hits")->valueint, 2);
        cJSON_Delete(j);
        /* PUT: the rules replaced and the hits cleared in one step; a bad PUT keeps the old ones */
        cJSON_Delete(get_ok(&f, NULL, "POST", "/test/faults",
                            "[{\"path\": \"/v1/devices\", \"action\": \"status\", \"status\": 500, \"count\": 5}]"));
        j = get_ok(&f, NULL, "PUT", "/test/faults",
                   "[{\"path\": \"/v1/sync/pull\", \"action\": \"answer\", \"count\": 3, "
                   "\"body\": {\"records\": [], \"cursor\": \"put\", \"more\": false}}]");
        assert_int_equal(cJSON_GetObjectItem(j, "rules")->valueint, 1);
        assert_int_equal(cJSON_GetObjectItem(j, "hits")->valueint, 0);
        cJSON_Delete(j);
        cJSON_Delete(get_ok(&f, HARNESS_TOKEN_A, "GET", "/v1/devices", NULL));  /* the 500 rule is gone */
        assert_int_equal(harness_request(&f, "PUT", "/test/faults", NULL, "[{\"path\": \"/x\"}]", NULL, &r), 0);
        assert_error(&r, 400, "bad_request");
        harness_resp_clear(&r);
        j = pull(&f, HARNESS_TOKEN_A, NULL, 10);
        assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(j, "cursor")), "put");
        cJSON_Delete(j);
        j = get_ok(&f, NULL, "DELETE", "/test/faults", NULL);
        assert_int_equal(cJSON_GetObjectItem(j, "rules")->valueint, 0);
        cJSON_Delete(j);
        static const char *const bad[] = {
                "{}", "[{\"path\": \"/x\"}]", "[{\"path\": \"/x\", \"action\": \"explode\"}]",
                "[{\"path\": \"/x\", \"action\": \"status\"}]", "[{\"path\": \"/x\", \"action\": \"stall\", \"y\": 1}]",
                "[{\"path\": \"/x\", \"action\": \"stall\", \"count\": 0}]",
                "[{\"path\": \"/x\", \"action\": \"answer\"}]",
                "[{\"path\": \"/x\", \"action\": \"stall\", \"body\": {}}]",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                assert_int_equal(harness_request(&f, "POST", "/test/faults", NULL, bad[i], NULL, &r), 0);
                assert_error(&r, 400, "bad_request");
                harness_resp_clear(&r);
        }
        /* a stalled request is still parked: SIGTERM must still stop cleanly */
        assert_int_equal(harness_stop(&f), 0);
        harness_cleanup(&f);
        free(body);
}

static void test_command_line(void **state) {
        char out[4096], tokens[160], bad_tokens[160], cert[160], key[160], db[160];
        FILE *fp;

        (void) state;
        snprintf(tokens, sizeof(tokens), "%s/tokens", S.dir);
        snprintf(cert, sizeof(cert), "%s/server.pem", S.dir);
        snprintf(key, sizeof(key), "%s/server.key", S.dir);
        snprintf(db, sizeof(db), "%s/cli.db", S.dir);
        snprintf(bad_tokens, sizeof(bad_tokens), "%s/bad-tokens", S.dir);
        fp = fopen(bad_tokens, "we");
        fputs("# fine\ngood alice\nthree fields here\n", fp);
        fclose(fp);
        assert_int_equal(harness_run_syncd((const char *[]) { "syncd", NULL }, out, sizeof(out)), 2);
        assert_non_null(strstr(out, "--listen is required"));
        assert_int_equal(strchr(out, '\n') - out + 1, (long) strlen(out));      /* one line */
        assert_int_equal(harness_run_syncd((const char *[]) { "syncd", "--bogus", NULL }, out, sizeof(out)), 2);
        assert_non_null(strstr(out, "unknown option '--bogus'"));
        assert_int_equal(harness_run_syncd((const char *[]) { "syncd", "--listen", "127.0.0.1:0", "--cert", cert,
                                           "--key", key, "--db", db, "--tokens", tokens, "--max-skew-sec", "x",
                                           NULL }, out, sizeof(out)), 2);
        assert_non_null(strstr(out, "--max-skew-sec"));
        assert_int_equal(harness_run_syncd((const char *[]) { "syncd", "--listen", "nowhere", "--cert", cert,
                                           "--key", key, "--db", db, "--tokens", tokens, NULL }, out, sizeof(out)), 2);
        assert_int_equal(harness_run_syncd((const char *[]) { "syncd", "--listen", "127.0.0.1:0", "--cert", cert,
                                           "--key", key, "--db", db, "--tokens", tokens, "extra", NULL }, out,
                                           sizeof(out)), 2);
        assert_int_equal(harness_run_syncd((const char *[]) { "syncd", "--help", NULL }, out, sizeof(out)), 0);
        assert_non_null(strstr(out, "Usage: syncd --listen ADDR:PORT"));
        assert_int_equal(harness_run_syncd((const char *[]) { "syncd", "--version", NULL }, out, sizeof(out)), 0);
        assert_non_null(strstr(out, "syncd"));
        assert_int_equal(harness_run_syncd((const char *[]) { "syncd", "--listen", "127.0.0.1:0", "--cert", cert,
                                           "--key", key, "--db", db, "--tokens", bad_tokens, NULL }, out,
                                           sizeof(out)), 1);
        assert_non_null(strstr(out, "bad-tokens:3:"));
        assert_int_equal(harness_run_syncd((const char *[]) { "syncd", "--listen", "127.0.0.1:0", "--cert",
                                           "/nonexistent.pem", "--key", key, "--db", db, "--tokens", tokens, NULL },
                                           out, sizeof(out)), 1);
        assert_non_null(strstr(out, "/nonexistent.pem"));
}

/* PostgreSQL only (SYNCD_TEST_PG): the database stopped under the running
 * syncd and started again. Meanwhile every request is answered at once, 503
 * unavailable with Retry-After (never a hang: each is under curl's deadline),
 * a push included; after the start syncd serves again by itself, with what
 * it acknowledged before and its stored answers. */
static void test_database_away(void **state) {
        struct harness_resp r1, r2, r;
        char key[37], key2[37], *body, *body2, buf[16];
        uint64_t deadline;
        cJSON *j;

        (void) state;
        if (!harness_pg())
                skip();
        harness_new_uuid(key);
        body = push_body(1, rec("profile", "any", harness_wall_ms() - 10, 0, ORIGIN_A, NULL));
        push_with_key(&S, HARNESS_TOKEN_A, key, body, &r1);
        assert_int_equal(r1.status, 200);
        assert_int_equal(harness_pg_ctl("stop"), 0);
        for (int i = 0; i < 3; i++) {
                request_expect_error("GET", "/v1/sync/status", HARNESS_TOKEN_A, NULL, NULL, 503, "unavailable");
                request_expect_error("POST", "/v1/sync/pull", HARNESS_TOKEN_A, "{\"cursor\": null, \"limit\": 10}",
                                     NULL, 503, "unavailable");
        }
        harness_new_uuid(key2);
        body2 = push_body(1, rec("eq.custom", "pro", harness_wall_ms() - 5, 0, ORIGIN_A, NULL));
        push_with_key(&S, HARNESS_TOKEN_A, key2, body2, &r);
        assert_error(&r, 503, "unavailable");
        assert_non_null(harness_header(&r, "Retry-After", buf, sizeof(buf)));
        assert_string_equal(buf, "1");
        harness_resp_clear(&r);
        assert_int_equal(harness_pg_ctl("start"), 0);
        deadline = harness_now_ms() + 30000;    /* the reconnection's backoff is at most 8 s */
        do {
                harness_resp_clear(&r);
                push_with_key(&S, HARNESS_TOKEN_A, key2, body2, &r);
        } while (r.status == 503 && harness_now_ms() < deadline);
        assert_int_equal(r.status, 200);        /* the push refused while away was not stored */
        assert_null(harness_header(&r, "Idempotent-Replay", buf, sizeof(buf)));
        harness_resp_clear(&r);
        push_with_key(&S, HARNESS_TOKEN_A, key, body, &r2);     /* the one acknowledged before is there */
        assert_int_equal(r2.status, 200);
        assert_string_equal(r1.body, r2.body);
        assert_non_null(harness_header(&r2, "Idempotent-Replay", buf, sizeof(buf)));
        j = get_ok(&S, HARNESS_TOKEN_A, "GET", "/v1/sync/status", NULL);
        cJSON_Delete(j);
        harness_resp_clear(&r1);
        harness_resp_clear(&r2);
        free(body);
        free(body2);
}

static void test_tls_verified(void **state) {
        struct harness_resp r;
        CURL *e;
        char other[160];

        (void) state;
        snprintf(other, sizeof(other), "%s/other-ca.pem", S.dir);
        e = harness_easy(&S, "GET", "/v1/sync/status", HARNESS_TOKEN_A, NULL, NULL, &r);
        curl_easy_setopt(e, CURLOPT_CAINFO, other);
        assert_int_equal(curl_easy_perform(e), CURLE_PEER_FAILED_VERIFICATION);
        harness_easy_free(e);
        harness_resp_clear(&r);
}

static int setup(void **state) {
        (void) state;
        curl_global_init(CURL_GLOBAL_DEFAULT);
        if (harness_dir(&S) < 0 || harness_start(&S, false, NULL) < 0) {
                fprintf(stderr, "cannot start syncd\n");
                return -1;
        }
        return 0;
}

static int teardown(void **state) {
        int r;

        (void) state;
        r = harness_stop(&S);
        harness_cleanup(&S);
        curl_global_cleanup();
        return r == 0 ? 0 : -1;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_status),
                cmocka_unit_test(test_auth),
                cmocka_unit_test(test_not_found_and_method),
                cmocka_unit_test(test_push_applied_stale_rejected),
                cmocka_unit_test(test_push_bad_requests),
                cmocka_unit_test(test_pull_paging),
                cmocka_unit_test(test_idempotent_replay),
                cmocka_unit_test(test_in_progress_409),
                cmocka_unit_test(test_accounts_isolated),
                cmocka_unit_test(test_devices),
                cmocka_unit_test(test_longpoll_timeout),
                cmocka_unit_test(test_longpoll_wakes_all),
                cmocka_unit_test(test_longpoll_no_news),
                cmocka_unit_test(test_longpoll_notify_count),
                cmocka_unit_test(test_restart_keeps_everything),
                cmocka_unit_test(test_group_concurrent_same_item),
                cmocka_unit_test(test_group_replay_same_group),
                cmocka_unit_test(test_faults),
                cmocka_unit_test(test_command_line),
                cmocka_unit_test(test_tls_verified),
                cmocka_unit_test(test_database_away),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
