/* SPDX-License-Identifier: MIT */
/* bridged against a server that lies in well-formed JSON (syncd's test fault
 * action "answer" puts words in its mouth): a pull that says "more" for
 * ever, a long poll that says "changed" at once for ever, push answers for
 * other records or older than what was pushed, a stamp decades ahead. Each
 * time: a clear error (Sync's, LastError), bounded work (the server's count
 * of the requests that met a rule, read after a deadline-based wait), and
 * nothing stored lost (the intent, the outbox, the server's copy). Same
 * harness as test-scenarios.c. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "codec/recjson.h"
#include "e2e.h"
#include "tests/lib/values.h"

#define E2E_FIXTURE_PAIRED true
#include "e2e-fixture.h"

#define FAKE_CURSOR "ffffffffffffffffffffffffffffffff"
#define OTHER_CURSOR "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"

static struct value profile(const char *name) { return test_profile(name); }

static int set_profile(const struct value *v) { return e2e_set(&E, v, NULL, NULL); }

/* A record of the profile as JSON (malloc'd), stamped ms/origin. */
static char *profile_json(const char *name, uint64_t ms, uint64_t origin) {
        struct record r = { .value = profile(name), .stamp = { stamp_pack(ms, 0), origin } };
        char *s = recjson_record_print(&r);

        assert_non_null(s);
        return s;
}

static void faults_post(const char *rules) {
        struct harness_resp resp = { 0 };

        assert_int_equal(harness_request(&E.server, "POST", "/test/faults", NULL, rules, NULL, &resp), 0);
        if (resp.status != 200)
                fail_msg("POST /test/faults: %ld %s", (long) resp.status, resp.body ? resp.body : "");
        harness_resp_clear(&resp);
}

/* One rule, in place of any before it (and the hits cleared) at once: path
 * answered with body (JSON text), count times. */
static void lie(const char *path, const char *body, unsigned count) {
        struct harness_resp resp = { 0 };
        char *rule = NULL;

        assert_true(asprintf(&rule, "[{\"path\":\"%s\",\"count\":%u,\"action\":\"answer\",\"body\":%s}]", path,
                             count, body) > 0);
        assert_int_equal(harness_request(&E.server, "PUT", "/test/faults", NULL, rule, NULL, &resp), 0);
        if (resp.status != 200)
                fail_msg("PUT /test/faults: %ld %s", (long) resp.status, resp.body ? resp.body : "");
        harness_resp_clear(&resp);
        free(rule);
}

/* Requests that met a rule since the last clear. */
static unsigned faults_hits(void) {
        struct harness_resp resp = { 0 };
        unsigned hits = 0;
        cJSON *doc;

        assert_int_equal(harness_request(&E.server, "POST", "/test/faults", NULL, "[]", NULL, &resp), 0);
        assert_int_equal(resp.status, 200);
        doc = cJSON_Parse(resp.body);
        assert_non_null(doc);
        hits = (unsigned) cJSON_GetNumberValue(cJSON_GetObjectItem(doc, "hits"));
        cJSON_Delete(doc);
        harness_resp_clear(&resp);
        return hits;
}

static void faults_clear(void) {
        struct harness_resp resp = { 0 };

        assert_int_equal(harness_request(&E.server, "DELETE", "/test/faults", NULL, NULL, NULL, &resp), 0);
        assert_int_equal(resp.status, 200);
        harness_resp_clear(&resp);
}

static bool cond_last_error(struct e2e *e, void *userdata) {
        char *status = NULL;
        cJSON *doc;
        const char *last;
        bool r;

        if (e2e_call(e, "Status", &status, NULL, NULL) < 0)
                return false;
        doc = cJSON_Parse(status);
        last = cJSON_GetStringValue(cJSON_GetObjectItem(doc, "last_error"));
        r = last && strstr(last, userdata);
        cJSON_Delete(doc);
        free(status);
        return r;
}

/* Sync() fails, its message holding want; Status' last_error too (a pull
 * that succeeds in between clears it until the lie is met again). */
static void sync_fails_with(const char *want) {
        sd_bus_error err = SD_BUS_ERROR_NULL;
        char *ans = NULL;

        assert_true(e2e_call(&E, "Sync", &ans, &err, NULL) < 0);
        if (!err.message || !strstr(err.message, want))
                fail_msg("Sync failed with \"%s\", not with \"%s\"", err.message ? err.message : "", want);
        sd_bus_error_free(&err);
        if (!e2e_wait(&E, cond_last_error, (void *) want, E2E_DEADLINE_USEC))
                fail_msg("Status' last_error never said \"%s\"", want);
}

static void sync_ok(void) {
        sd_bus_error err = SD_BUS_ERROR_NULL;
        char *ans = NULL;

        if (e2e_call(&E, "Sync", &ans, &err, NULL) < 0)
                fail_msg("Sync failed: %s", err.message ? err.message : "(no message)");
        free(ans);
}

/* Every pull answered with rec alone (and a cursor of no account) until
 * the rules are cleared, and a Sync that takes it. */
static void pull_shows(const char *rec) {
        char *body = NULL;

        assert_true(asprintf(&body, "{\"records\":[%s],\"cursor\":\"" FAKE_CURSOR "\",\"more\":false}", rec) > 0);
        lie("/v1/sync/pull", body, 1000);
        sync_ok();
        free(body);
}

static bool cond_on_server(struct e2e *e, void *userdata) {
        const struct value *v = userdata;
        struct record server;

        return e2e_server_record(e, KEY_PROFILE, FAMILY_ANY, &server) == 0 && value_equal(&server.value, v);
}

static bool cond_never(struct e2e *e, void *userdata) {
        (void) e;
        (void) userdata;
        return false;
}

static bool cond_hit(struct e2e *e, void *userdata) {
        (void) e;
        (void) userdata;
        return faults_hits() > 0;
}

/* The intent is still v, and the server holds it (once the lies stop). */
static void assert_kept(const struct value *v) {
        struct record intent;

        faults_clear();
        sync_ok();
        assert_int_equal(e2e_intent(&E, KEY_PROFILE, &intent), 0);
        assert_true(value_equal(&intent.value, v));
        assert_true(e2e_wait(&E, cond_on_server, (void *) v, E2E_DEADLINE_USEC));
}

/* A fresh bridged whose profile v reached the server. */
static void start_with(const struct value *v) {
        assert_int_equal(e2e_bridged_start(&E, true), 0);
        assert_int_equal(set_profile(v), 0);
        assert_true(e2e_wait(&E, cond_on_server, (void *) v, E2E_DEADLINE_USEC));
}

/* "more": true with the cursor bridged sent: the next page is this one. A
 * Sync pulled it for ever (and never answered); it fails at the second page. */
static void test_pull_more_same_cursor(void **state) {
        struct value mine = profile("kept through lies");
        char *rec = profile_json("an old lie", 1, E2E_PHONE), *body = NULL;
        unsigned hits;

        (void) state;
        start_with(&mine);
        assert_true(asprintf(&body, "{\"records\":[%s],\"cursor\":\"" FAKE_CURSOR "\",\"more\":true}", rec) > 0);
        lie("/v1/sync/pull", body, 1000);
        sync_fails_with("more: true, but the cursor is the one sent");
        /* two pages for the Sync, then the background's pull retried with
         * backoff (0.5-1 s, then doubling): a handful in 3 s, not a loop */
        (void) e2e_wait(&E, cond_never, NULL, 3 * UINT64_C(1000000));
        hits = faults_hits();
        print_message("pulls that met the lie, Sync and 3 s after: %u\n", hits);
        if (hits > 8)
                fail_msg("%u pulls in 3 s", hits);
        assert_kept(&mine);
        free(body);
        free(rec);
}

/* "more": true on every page, each with a new cursor: a Sync pulled until
 * the lies ran out. It stops after a bounded number of pages. */
static void test_pull_more_forever(void **state) {
        struct value mine = profile("kept through pages");
        char *rec = profile_json("an old lie", 1, E2E_PHONE);
        size_t size = 300 * (strlen(rec) + 200) + 16, len = 0;
        char *rules = malloc(size);

        (void) state;
        assert_non_null(rules);
        start_with(&mine);
        len += (size_t) snprintf(rules + len, size - len, "[");
        for (unsigned i = 0; i < 300; i++)
                len += (size_t) snprintf(rules + len, size - len,
                                         "%s{\"path\":\"/v1/sync/pull\",\"action\":\"answer\",\"body\":"
                                         "{\"records\":[%s],\"cursor\":\"%032x\",\"more\":true}}",
                                         i ? "," : "", rec, i + 1);
        (void) snprintf(rules + len, size - len, "]");
        faults_post(rules);
        sync_fails_with("pages in a row");
        print_message("pages pulled: %u\n", faults_hits());
        assert_true(faults_hits() <= 70);
        assert_kept(&mine);
        free(rules);
        free(rec);
}

/* rule: the long poll's fault, used from the next one on; at most max
 * requests meet the rules in 3 s */
static void wait_at_once(const char *rule, unsigned max) {
        struct value mine = profile("kept through polls");
        struct record phone = { .value = profile("from a phone") };
        char status[32];
        unsigned hits;

        start_with(&mine);
        phone.stamp = (struct stamp) { stamp_pack(harness_wall_ms() + 1000, 0), E2E_PHONE };
        faults_post(rule);
        /* the long poll in flight ends with the phone's change; the next meet the rule */
        assert_int_equal(e2e_phone_push(&E, &phone, status, sizeof(status)), 0);
        assert_string_equal(status, "applied");
        assert_true(e2e_wait(&E, cond_hit, NULL, E2E_DEADLINE_USEC));
        (void) e2e_wait(&E, cond_never, NULL, 3 * UINT64_C(1000000));
        hits = faults_hits();
        print_message("long polls that met the rule in 3 s: %u\n", hits);
        if (hits > max)
                fail_msg("%u requests met the rules in 3 s", hits);
        mine = phone.value;
        assert_kept(&mine);
}

/* A long poll answered 200 at once, for ever: bridged went round wait, pull,
 * wait as fast as the server answered (956 long polls in 3 s). The long
 * poll is paced. */
static void test_wait_at_once_for_ever(void **state) {
        (void) state;
        wait_at_once("[{\"path\":\"/v1/sync/wait\",\"count\":100000,\"action\":\"answer\","
                     "\"body\":{\"cursor\":\"" FAKE_CURSOR "\"}}]", 12);
}

/* The same with 204 (the API's "nothing changed, poll again") at once. */
static void test_wait_204_at_once_for_ever(void **state) {
        (void) state;
        wait_at_once("[{\"path\":\"/v1/sync/wait\",\"count\":100000,\"action\":\"status\",\"status\":204}]",
                     12);
}

/* The same with 200 and the cursor bridged sent (what a server may answer
 * when it wakes every long poll, not knowing which account changed; syncd
 * did, before a wake-up read the account's sequence): nothing changed after
 * that cursor, as a 204 says; not an error, and bridged stays online. */
static void test_wait_200_same_cursor(void **state) {
        struct harness_resp resp = { 0 };
        char *rules = NULL, *status = NULL;
        unsigned hits;
        cJSON *doc;

        (void) state;
        /* the account's cursor before bridged's first pull: the one its long polls send */
        assert_int_equal(harness_request(&E.server, "GET", "/v1/sync/status", HARNESS_TOKEN_A, NULL, NULL, &resp), 0);
        doc = cJSON_Parse(resp.body);
        assert_true(asprintf(&rules, "[{\"path\":\"/v1/sync/wait\",\"count\":100000,\"action\":\"answer\","
                             "\"body\":{\"cursor\":\"%s\"}}]",
                             cJSON_GetStringValue(cJSON_GetObjectItem(doc, "cursor"))) > 0);
        cJSON_Delete(doc);
        harness_resp_clear(&resp);
        faults_post(rules);
        assert_int_equal(e2e_bridged_start(&E, true), 0);
        assert_true(e2e_wait(&E, cond_hit, NULL, E2E_DEADLINE_USEC));
        (void) e2e_wait(&E, cond_never, NULL, 3 * UINT64_C(1000000));
        hits = faults_hits();
        print_message("long polls answered 200 with their own cursor in 3 s: %u\n", hits);
        if (hits > 12)
                fail_msg("%u long polls in 3 s", hits);
        assert_int_equal(e2e_call(&E, "Status", &status, NULL, NULL), 0);
        assert_non_null(strstr(status, "\"online\":true"));
        assert_non_null(strstr(status, "\"last_error\":null"));
        free(status);
        free(rules);
}

/* The same with a pull that brings the same record every time (and a cursor
 * other than the long poll's): records, but no news, so still a loop. */
static void test_wait_at_once_same_records(void **state) {
        char *rec = profile_json("the same old news", 1000, E2E_PHONE), *rules = NULL;

        (void) state;
        assert_true(asprintf(&rules, "[{\"path\":\"/v1/sync/wait\",\"count\":100000,\"action\":\"answer\","
                             "\"body\":{\"cursor\":\"" OTHER_CURSOR "\"}},{\"path\":\"/v1/sync/pull\","
                             "\"count\":100000,\"action\":\"answer\",\"body\":{\"records\":[%s],"
                             "\"cursor\":\"" FAKE_CURSOR "\",\"more\":false}}]", rec) > 0);
        wait_at_once(rules, 24);        /* a long poll and a pull each round */
        free(rules);
        free(rec);
}

/* Long polls answered at once and every pull bringing the item stamped a
 * step newer: news every round, so the spacing never doubles, but the
 * rounds are still half a second apart (they went as fast as the server
 * answered). The newest lie is the intent afterwards: it was newer. */
static void test_wait_at_once_news_each_time(void **state) {
        struct value mine = profile("kept through polls"), news = profile("news, again");
        struct record phone = { .value = profile("from a phone") };
        size_t size = 1000 * 512 + 256, len = 0;
        char *rules = malloc(size), status[32];
        uint64_t base;
        unsigned hits;

        (void) state;
        assert_non_null(rules);
        start_with(&mine);
        base = harness_wall_ms() + 1000;
        len += (size_t) snprintf(rules + len, size - len, "[{\"path\":\"/v1/sync/wait\",\"count\":100000,"
                                 "\"action\":\"answer\",\"body\":{\"cursor\":\"" OTHER_CURSOR "\"}}");
        for (unsigned i = 0; i < 1000; i++) {
                char *rec = profile_json("news, again", base + i, E2E_PHONE);

                len += (size_t) snprintf(rules + len, size - len,
                                         ",{\"path\":\"/v1/sync/pull\",\"action\":\"answer\",\"body\":"
                                         "{\"records\":[%s],\"cursor\":\"%032x\",\"more\":false}}", rec, i + 1);
                free(rec);
        }
        (void) snprintf(rules + len, size - len, "]");
        assert_true(len < size - 1);
        faults_post(rules);
        /* the long poll in flight ends with the phone's change; the next meet the rules */
        phone.stamp = (struct stamp) { stamp_pack(base - 500, 0), E2E_PHONE };
        assert_int_equal(e2e_phone_push(&E, &phone, status, sizeof(status)), 0);
        assert_true(e2e_wait(&E, cond_hit, NULL, E2E_DEADLINE_USEC));
        (void) e2e_wait(&E, cond_never, NULL, 3 * UINT64_C(1000000));
        hits = faults_hits();
        print_message("long polls and pulls with news each time in 3 s: %u\n", hits);
        if (hits > 30)
                fail_msg("%u requests met the rules in 3 s", hits);
        assert_kept(&news);
        free(rules);
}

/* A server that refuses every cursor it gives: a page that says more, then
 * a 400 for its cursor, for ever. bridged starts over once (the server may
 * have been restored from a backup); the second refusal in the same round is
 * an error with a cool-down, where it forgot and pulled again as fast as the
 * server answered. */
static void test_cursor_refused_each_round(void **state) {
        struct value mine = profile("kept through refusals");
        char *rec = profile_json("an old page", 1, E2E_PHONE);
        size_t size = 200 * (strlen(rec) + 256) + 16, len = 0;
        char *rules = malloc(size);
        unsigned hits;

        (void) state;
        assert_non_null(rules);
        start_with(&mine);
        len += (size_t) snprintf(rules + len, size - len, "[");
        for (unsigned i = 0; i < 200; i++)
                len += (size_t) snprintf(rules + len, size - len,
                                         "%s{\"path\":\"/v1/sync/pull\",\"action\":\"answer\",\"body\":"
                                         "{\"records\":[%s],\"cursor\":\"%032x\",\"more\":true}},"
                                         "{\"path\":\"/v1/sync/pull\",\"action\":\"status\",\"status\":400}",
                                         i ? "," : "", rec, i + 1);
        (void) snprintf(rules + len, size - len, "]");
        assert_true(len < size - 1);
        faults_post(rules);
        sync_fails_with("400");
        (void) e2e_wait(&E, cond_never, NULL, 3 * UINT64_C(1000000));
        hits = faults_hits();
        print_message("pulls that met the rules, Sync and 3 s after: %u\n", hits);
        if (hits > 12)
                fail_msg("%u pulls in 3 s", hits);
        assert_kept(&mine);
        free(rules);
        free(rec);
}

/* Push answers that do not match what was pushed: each a Sync's error, the
 * edit still pending, pushed once the server answers truly. */
static void test_push_lies(void **state) {
        struct value first = profile("before the lies"), mine = profile("pushed through lies");
        static const char *const why[5] = { "0 results for 1 pushed records", "results[0].key",
                                            "older than the pushed record", "current: missing",
                                            "is not applied, stale or rejected" };
        char *older = profile_json("older than pushed", 1, E2E_PHONE), *bodies[5];

        (void) state;
        start_with(&first);
        assert_true(asprintf(&bodies[0], "{\"results\":[],\"cursor\":\"" FAKE_CURSOR "\"}") > 0);
        assert_true(asprintf(&bodies[1], "{\"results\":[{\"key\":\"eq.active\",\"family\":\"pro\",\"status\":"
                             "\"applied\"}],\"cursor\":\"" FAKE_CURSOR "\"}") > 0);
        assert_true(asprintf(&bodies[2], "{\"results\":[{\"key\":\"profile\",\"family\":\"any\",\"status\":"
                             "\"stale\",\"current\":%s}],\"cursor\":\"" FAKE_CURSOR "\"}", older) > 0);
        assert_true(asprintf(&bodies[3], "{\"results\":[{\"key\":\"profile\",\"family\":\"any\",\"status\":"
                             "\"stale\"}],\"cursor\":\"" FAKE_CURSOR "\"}") > 0);
        assert_true(asprintf(&bodies[4], "{\"results\":[{\"key\":\"profile\",\"family\":\"any\",\"status\":"
                             "\"merged\"}],\"cursor\":\"" FAKE_CURSOR "\"}") > 0);
        for (unsigned i = 0; i < 5; i++) {
                char *status = NULL;

                lie("/v1/sync/push", bodies[i], 1000);  /* no gap for a retry to reach the server */
                if (i == 0)
                        assert_int_equal(set_profile(&mine), 0);
                sync_fails_with(why[i]);
                assert_int_equal(e2e_call(&E, "Status", &status, NULL, NULL), 0);
                assert_non_null(strstr(status, "\"pending\":1"));
                free(status);
                free(bodies[i]);
        }
        assert_true(cond_on_server(&E, &first));
        assert_kept(&mine);
        free(older);
}

/* A record stamped 30 years ahead: its value is taken and stamped here; the
 * clock does not follow it, so an edit after it is stamped now and wins. */
static void test_stamp_decades_ahead(void **state) {
        struct value mine = profile("before the future"), next = profile("after the future");
        struct value future = profile("from 2056");
        char *rec = profile_json("from 2056", harness_wall_ms() + UINT64_C(30) * 365 * 86400 * 1000, E2E_PHONE);
        struct record intent;

        (void) state;
        start_with(&mine);
        pull_shows(rec);
        assert_int_equal(e2e_intent(&E, KEY_PROFILE, &intent), 0);
        assert_true(value_equal(&intent.value, &future));
        assert_true(stamp_ms(intent.stamp) < harness_wall_ms() + 86400 * 1000);
        faults_clear();
        assert_int_equal(set_profile(&next), 0);
        assert_int_equal(e2e_intent(&E, KEY_PROFILE, &intent), 0);
        assert_true(stamp_ms(intent.stamp) < harness_wall_ms() + 86400 * 1000);
        assert_kept(&next);
        free(rec);
}

static bool cond_intent(struct e2e *e, void *userdata) {
        const struct value *v = userdata;
        struct record intent;

        return e2e_intent(e, KEY_PROFILE, &intent) == 0 && value_equal(&intent.value, v);
}

/* A cursor the server refuses (given by a server since restored from a
 * backup; here by a lie): the pull starts over, but the long poll only
 * cooled down and polled again with it, for ever, and nothing changed on
 * the server reached bridged. A refused long poll pulls. */
static void test_wait_cursor_refused(void **state) {
        struct value mine = profile("before the restore");
        struct record first = { .value = profile("before the restore, elsewhere") };
        struct record phone = { .value = profile("after the restore") };
        char status[32];

        (void) state;
        start_with(&mine);
        /* the long poll in flight ends with a phone's change; the pull after
         * it meets the lie and keeps its cursor */
        lie("/v1/sync/pull", "{\"records\":[],\"cursor\":\"" FAKE_CURSOR "\",\"more\":false}", 1);
        first.stamp = (struct stamp) { stamp_pack(harness_wall_ms() + 1000, 0), E2E_PHONE };
        assert_int_equal(e2e_phone_push(&E, &first, status, sizeof(status)), 0);
        assert_string_equal(status, "applied");
        assert_true(e2e_wait(&E, cond_hit, NULL, E2E_DEADLINE_USEC));
        phone.stamp = (struct stamp) { stamp_pack(harness_wall_ms() + 2000, 0), E2E_PHONE };
        assert_int_equal(e2e_phone_push(&E, &phone, status, sizeof(status)), 0);
        assert_string_equal(status, "applied");
        assert_true(e2e_wait(&E, cond_intent, &phone.value, E2E_DEADLINE_USEC));
}

/* A server restored from an old backup (here: a new, empty database): it
 * refuses the cursor, and bridged pulled everything again, but its copies
 * of what the server held were still the ones acknowledged, so what the
 * server had lost was never offered again. The server's copies are
 * forgotten with the cursor: what it lacks is pushed. */
static void test_server_restored(void **state) {
        struct value mine = profile("lost by the server");
        char path[192];

        (void) state;
        if (E.server.db[0])
                skip();                 /* PostgreSQL: no file to lose */
        start_with(&mine);
        assert_int_equal(e2e_server_stop(&E), 0);
        for (unsigned i = 0; i < 3; i++) {
                static const char *const suffix[] = { "", "-wal", "-shm" };

                (void) snprintf(path, sizeof(path), "%s/db%s", E.server.dir, suffix[i]);
                assert_true(unlink(path) == 0 || (errno == ENOENT && i > 0));
        }
        assert_int_equal(e2e_server_start(&E), 0);
        assert_true(e2e_wait(&E, cond_on_server, &mine, E2E_DEADLINE_USEC));
}

/* A cursor of 900 KB (the API's are 32 bytes): refused as a malformed answer
 * before anything of the page is taken, so the stored cursor stays usable. */
static void test_cursor_of_megabytes(void **state) {
        struct value mine = profile("kept under a big cursor");
        char *rec = profile_json("with a big cursor", harness_wall_ms() + 1000, E2E_PHONE);
        size_t n = 900 * 1000, len = strlen(rec) + n + 64;
        char *body = malloc(len);
        struct record intent;
        int at;

        (void) state;
        assert_non_null(body);
        start_with(&mine);
        at = snprintf(body, len, "{\"records\":[%s],\"more\":false,\"cursor\":\"", rec);
        memset(body + at, 'a', n);
        (void) snprintf(body + at + n, len - (size_t) at - n, "\"}");
        lie("/v1/sync/pull", body, 1000);
        sync_fails_with("cursor: 900000 bytes, more than a cursor may have");
        assert_int_equal(e2e_intent(&E, KEY_PROFILE, &intent), 0);
        assert_true(value_equal(&intent.value, &mine));
        assert_kept(&mine);
        free(body);
        free(rec);
}

static char *node_id(void) {
        char *status = NULL, *id;
        cJSON *doc;

        assert_int_equal(e2e_call(&E, "Status", &status, NULL, NULL), 0);
        doc = cJSON_Parse(status);
        id = strdup(cJSON_GetStringValue(cJSON_GetObjectItem(doc, "node_id")));
        cJSON_Delete(doc);
        free(status);
        return id;
}

/* A record under this bridge's own origin, above anything it issued: the
 * server claims an edit bridged never made. It is what a copy of the state
 * directory would make, so bridged takes a new node id (once: the record
 * names the old one after that), and its later edits still win. */
static void test_own_origin_claimed(void **state) {
        struct value mine = profile("mine, really"), next = profile("after the claim");
        char *before, *after, *rec;
        uint64_t origin;

        (void) state;
        start_with(&mine);
        before = node_id();
        assert_int_equal(recjson_origin_parse(before, &origin), 0);
        rec = profile_json("claimed to be mine", harness_wall_ms() + 2000, origin);
        pull_shows(rec);
        sync_ok();
        after = node_id();
        assert_string_not_equal(before, after);
        faults_clear();
        free(after);
        sync_ok();
        after = node_id();
        assert_int_equal(set_profile(&next), 0);
        assert_kept(&next);
        free(before);
        before = node_id();
        assert_string_equal(before, after);     /* no second renewal */
        free(before);
        free(after);
        free(rec);
}

/* A push answered applied, then a pull that shows the item older than what
 * was applied (a server that lies; one restored from a backup refuses the
 * cursor instead, test_server_restored): the older copy does not replace
 * the newer one here, nothing goes to the conflict log, nothing is lost. */
static void test_older_after_applied(void **state) {
        struct value mine = profile("applied, then denied");
        char *rec = profile_json("what the server claims", 1000, E2E_PHONE), *status = NULL;
        struct record intent;

        (void) state;
        start_with(&mine);
        pull_shows(rec);
        assert_int_equal(e2e_intent(&E, KEY_PROFILE, &intent), 0);
        assert_true(value_equal(&intent.value, &mine));
        assert_int_equal(e2e_call(&E, "Status", &status, NULL, NULL), 0);
        assert_non_null(strstr(status, "\"conflicts\":0"));
        free(status);
        assert_kept(&mine);
        free(rec);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_pull_more_same_cursor, setup, teardown),
                cmocka_unit_test_setup_teardown(test_pull_more_forever, setup, teardown),
                cmocka_unit_test_setup_teardown(test_wait_at_once_for_ever, setup, teardown),
                cmocka_unit_test_setup_teardown(test_wait_204_at_once_for_ever, setup, teardown),
                cmocka_unit_test_setup_teardown(test_wait_at_once_same_records, setup, teardown),
                cmocka_unit_test_setup_teardown(test_wait_at_once_news_each_time, setup, teardown),
                cmocka_unit_test_setup_teardown(test_cursor_refused_each_round, setup, teardown),
                cmocka_unit_test_setup_teardown(test_wait_200_same_cursor, setup, teardown),
                cmocka_unit_test_setup_teardown(test_push_lies, setup, teardown),
                cmocka_unit_test_setup_teardown(test_stamp_decades_ahead, setup, teardown),
                cmocka_unit_test_setup_teardown(test_wait_cursor_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(test_server_restored, setup, teardown),
                cmocka_unit_test_setup_teardown(test_cursor_of_megabytes, setup, teardown),
                cmocka_unit_test_setup_teardown(test_own_origin_claimed, setup, teardown),
                cmocka_unit_test_setup_teardown(test_older_after_applied, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
