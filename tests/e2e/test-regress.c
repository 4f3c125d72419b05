/* SPDX-License-Identifier: MIT */
/* End-to-end regressions of bugs the real stack showed (tests/hil): each
 * test names the bug it keeps fixed. Same harness as test-scenarios.c. */
#include <errno.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <cmocka.h>
#include <sqlite3.h>

#include "codec/recjson.h"
#include "e2e.h"
#include "tests/lib/values.h"

#define A "AA:BB:CC:DD:EE:01"

#define E2E_FIXTURE_PAIRED true
#include "e2e-fixture.h"

static struct value profile(const char *name) { return test_profile(name); }

/* Set(profile) through the control API: 0, or the D-Bus error in err. */
static int set_profile(const struct value *v, sd_bus_error *err) { return e2e_set(&E, v, err, NULL); }

static bool cond_on_server(struct e2e *e, void *userdata) {
        const struct value *v = userdata;
        struct record server;

        return e2e_converged(e, A, v->key, NULL) && e2e_server_record(e, v->key, v->family, &server) == 0 &&
               value_equal(&server.value, v);
}

static double stats_buds_to_server_n(struct e2e *e) {
        char *stats = NULL;
        cJSON *doc;
        double n;

        assert_int_equal(e2e_call(e, "Stats", &stats, NULL, NULL), 0);
        doc = cJSON_Parse(stats);
        assert_non_null(doc);
        n = cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "latency_ms"),
                                                                         "buds_to_server"), "n"));
        cJSON_Delete(doc);
        free(stats);
        return n;
}

/* HIL latency scenario: n=9 for ten changes. A change made on the Buds
 * before bridged had them ready (no notification ever told of it) reached
 * the server through the read at connect, and its latency was never
 * measured. Every change that reaches the server is a sample. */
static void test_change_before_ready_is_measured(void **state) {
        struct value first = profile("made before ready"), next = profile("made after ready");

        (void) state;
        assert_int_equal(e2e_sim_add_buds(&E, A, "Buds", FAMILY_PRO, 0x0101), 0);
        assert_int_equal(e2e_sim_touch(&E, A, &first), 0);
        assert_int_equal(e2e_bridged_start(&E, true), 0);
        assert_true(e2e_wait(&E, cond_on_server, &first, E2E_DEADLINE_USEC));
        assert_true(stats_buds_to_server_n(&E) == 1);
        assert_int_equal(e2e_sim_touch(&E, A, &next), 0);
        assert_true(e2e_wait(&E, cond_on_server, &next, E2E_DEADLINE_USEC));
        assert_true(stats_buds_to_server_n(&E) == 2);
}

/* The item's state in the Buds' entry of Status ("synced", "pending",
 * "failing" with a reason in "errors"); "" when the Buds are not connected. */
static void item_state(struct e2e *e, const char *key, char *buf, size_t size) {
        char *status = NULL;
        cJSON *doc, *b;

        buf[0] = '\0';
        if (e2e_call(e, "Status", &status, NULL, NULL) < 0)
                return;
        doc = cJSON_Parse(status);
        cJSON_ArrayForEach(b, cJSON_GetObjectItem(doc, "buds")) {
                const char *s = cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(b, "items"), key));

                if (s && (strcmp(s, "failing") != 0 || cJSON_GetObjectItem(cJSON_GetObjectItem(b, "errors"), key)))
                        (void) snprintf(buf, size, "%s", s);
        }
        cJSON_Delete(doc);
        free(status);
}

static bool item_failing(struct e2e *e, const char *key) {
        char s[16];

        item_state(e, key, s, sizeof(s));
        return strcmp(s, "failing") == 0;
}

static bool cond_profile_synced(struct e2e *e, void *userdata) {
        char s[16];

        (void) userdata;
        item_state(e, "profile", s, sizeof(s));
        return strcmp(s, "synced") == 0;
}

static bool cond_profile_failing(struct e2e *e, void *userdata) {
        (void) userdata;
        return item_failing(e, "profile");
}

static bool cond_profile_recovered(struct e2e *e, void *userdata) {
        return !item_failing(e, "profile") && cond_on_server(e, userdata);
}

/* Pro Buds at A, a fresh bridged, the Buds ready and their profile synced. */
static void start_with_buds_synced(void) {
        assert_int_equal(e2e_sim_add_buds(&E, A, "Buds", FAMILY_PRO, 0x0101), 0);
        assert_int_equal(e2e_bridged_start(&E, true), 0);
        assert_true(e2e_wait_buds_ready(&E, A, E2E_DEADLINE_USEC));
        assert_true(e2e_wait(&E, cond_profile_synced, NULL, E2E_DEADLINE_USEC));
}

static void inject(struct e2e *e, const char *key, const char *kind, uint32_t count) {
        sd_bus_message *m = NULL;

        assert_int_equal(sd_bus_message_new_method_call(e->bus, &m, "org.bridged.test.Budsim", "/org/bridged/test",
                                                        "org.bridged.test.Budsim1", "InjectFault"), 0);
        assert_true(sd_bus_message_append(m, "sss", A, key, kind) >= 0);
        assert_true(sd_bus_message_append(m, "a{sv}", 2, "count", "u", count, "how", "s", "truncate") >= 0);
        assert_true(sd_bus_call(e->bus, m, 5000000, NULL, NULL) >= 0);
        sd_bus_message_unref(m);
}

/* A change on the Buds was stranded after one failed read: the read of the
 * change returned a truncated record, bridged logged it and never read the
 * item again while the Buds stayed connected (no later notification came).
 * A failed read is retried with backoff; meanwhile Status shows the item
 * failing, with the reason; a success clears it. */
static void test_failed_read_is_retried(void **state) {
        struct value v = profile("first read broken");

        (void) state;
        /* synced: the reads at connect are over (one in flight would take
         * the change with it, unbroken) */
        start_with_buds_synced();
        inject(&E, "profile", "malformed", 2);
        assert_int_equal(e2e_sim_touch(&E, A, &v), 0);
        assert_true(e2e_wait(&E, cond_profile_failing, NULL, E2E_DEADLINE_USEC));
        /* no other change on the Buds: the retries alone carry it */
        assert_true(e2e_wait(&E, cond_profile_recovered, &v, E2E_DEADLINE_USEC));
}

static bool cond_no_conflict_and_on_server(struct e2e *e, void *userdata) {
        char *status = NULL;
        bool none;

        if (!cond_on_server(e, userdata) || e2e_call(e, "Status", &status, NULL, NULL) < 0)
                return false;
        none = strstr(status, "\"conflicts\":0") != NULL;
        free(status);
        return none;
}

/* `bridgectl set eq.active flat; bridgectl set eq.active voice` within the
 * push debounce logged "kept voice, lost flat", both made here. A person's
 * own edits in a row are one line of edits: nothing in the conflict log. */
static void test_own_edits_in_a_row(void **state) {
        struct value flat = profile("flat"), voice = profile("voice");
        char *list = NULL;

        (void) state;
        E.push_debounce_ms = 2000;
        assert_int_equal(e2e_sim_add_buds(&E, A, "Buds", FAMILY_PRO, 0x0101), 0);
        assert_int_equal(e2e_bridged_start(&E, true), 0);
        assert_true(e2e_wait_buds_ready(&E, A, E2E_DEADLINE_USEC));
        assert_int_equal(set_profile(&flat, NULL), 0);
        assert_int_equal(set_profile(&voice, NULL), 0);
        assert_true(e2e_wait(&E, cond_no_conflict_and_on_server, &voice, E2E_DEADLINE_USEC));
        assert_int_equal(e2e_call(&E, "ListConflicts", &list, NULL, NULL), 0);
        assert_string_equal(list, "[]");
        free(list);
}

static bool cond_intent_is(struct e2e *e, void *userdata) {
        const struct record *want = userdata;
        struct record got;

        return e2e_intent(e, want->value.key, &got) == 0 && stamp_eq(got.stamp, want->stamp);
}

/* One `bridgectl sync` with this host's clock ahead of the server's: every
 * push was answered future_stamp, the cool-down did not apply to a Sync and
 * did not end it, so it pushed ~950 times a second, each under a new
 * Idempotency-Key, and never returned ("a sync is already running" ever
 * after). A Sync ends with the first failure that is not retried. */
static void test_sync_ends_on_future_stamp(void **state) {
        static const char *const strict[] = { "--max-skew-sec", "60", NULL };
        struct value mine = profile("ahead of the server");
        struct record ahead = { .value = profile("phone, 200 s ahead"),
                                .stamp = { stamp_pack(harness_wall_ms() + 200000, 0), E2E_PHONE } };
        sd_bus_error err = SD_BUS_ERROR_NULL;
        char status[32], *ans = NULL;

        (void) state;
        /* a phone's stamp 200 s ahead, within the server's 300 s: taken, and
         * bridged's clock follows it (within its MaxClockSkewSec) */
        assert_int_equal(e2e_bridged_start(&E, true), 0);
        assert_int_equal(e2e_phone_push(&E, &ahead, status, sizeof(status)), 0);
        assert_string_equal(status, "applied");
        assert_true(e2e_wait(&E, cond_intent_is, &ahead, E2E_DEADLINE_USEC));
        /* a server that allows 60 s: bridged's next stamp is 200 s ahead of it */
        assert_int_equal(e2e_server_stop(&E), 0);
        assert_int_equal(e2e_server_start_with(&E, strict), 0);
        assert_int_equal(set_profile(&mine, NULL), 0);
        /* Sync ends, with the reason, and the next one is not refused as running */
        for (int i = 0; i < 2; i++) {
                assert_true(e2e_call(&E, "Sync", &ans, &err, NULL) < 0);
                assert_non_null(err.message);
                assert_true(strstr(err.message, "future") || strstr(err.message, "offline") ||
                            strstr(err.message, "reached"));
                assert_null(strstr(err.message, "already running"));
                sd_bus_error_free(&err);
        }
}

/* A damaged cache (a table dropped under a running bridged): Status said
 * "idle" while every Set failed. The state is error, with the cache named;
 * a new start refuses the cache at once (exit 78, the table named) rather
 * than serving errors. */
static void test_damaged_cache_is_an_error(void **state) {
        struct value v = profile("after the damage");
        sqlite3_stmt *st;
        char path[160], *status = NULL;
        sd_bus_error err = SD_BUS_ERROR_NULL;
        sqlite3 *db;

        (void) state;
        assert_int_equal(e2e_bridged_start(&E, true), 0);
        (void) snprintf(path, sizeof(path), "%s/bridged.db", E.state);
        assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
        /* bridged may be inside a transaction (its first sync's): wait for
         * the lock, with a deadline, as another writer of the file would */
        assert_int_equal(sqlite3_busy_timeout(db, 30000), SQLITE_OK);
        assert_int_equal(sqlite3_exec(db, "DROP TABLE items;", NULL, NULL, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA wal_checkpoint", -1, &st, NULL), SQLITE_OK);
        (void) sqlite3_step(st);
        sqlite3_finalize(st);
        sqlite3_close(db);
        assert_true(set_profile(&v, &err) < 0);
        sd_bus_error_free(&err);
        assert_int_equal(e2e_call(&E, "Status", &status, NULL, NULL), 0);
        assert_non_null(strstr(status, "\"state\":\"error\""));
        assert_non_null(strstr(status, "the cache is damaged (table items is missing)"));
        free(status);
        assert_int_equal(WEXITSTATUS(e2e_bridged_stop(&E, SIGTERM)), 0);
        assert_int_equal(e2e_bridged_start(&E, false), -ECHILD);
}

static bool cond_buds_hold(struct e2e *e, void *userdata) {
        const struct value *v = userdata;
        struct record r;

        return e2e_sim_record(e, A, v->key, &r) == 0 && value_equal(&r.value, v);
}

/* Buds firmware that acknowledges a write and ignores it (or drops a
 * custom EQ on a power cycle) was repaired only at the next reconnect: a
 * person heard the wrong EQ for hours. An acknowledged write whose Manifest
 * notification does not come is read back and applied again, without a
 * reconnect, and is no conflict. */
static void test_acknowledged_write_not_applied(void **state) {
        struct value v = profile("dropped once"), w = profile("notify lost");
        char *list = NULL;

        (void) state;
        start_with_buds_synced();
        inject(&E, "profile", "ignore-write", 1);
        assert_int_equal(set_profile(&v, NULL), 0);
        assert_true(e2e_wait(&E, cond_buds_hold, &v, E2E_DEADLINE_USEC));
        assert_true(e2e_wait(&E, cond_on_server, &v, E2E_DEADLINE_USEC));
        assert_int_equal(e2e_call(&E, "ListConflicts", &list, NULL, NULL), 0);
        assert_string_equal(list, "[]");
        free(list);
        /* a write applied whose notification alone was lost: read back, found
         * applied, and the item is not left failing */
        assert_true(e2e_wait(&E, cond_profile_synced, NULL, E2E_DEADLINE_USEC));
        inject(&E, "manifest", "drop-notify", 1);
        assert_int_equal(set_profile(&w, NULL), 0);
        assert_true(e2e_wait(&E, cond_buds_hold, &w, E2E_DEADLINE_USEC));
        assert_true(e2e_wait(&E, cond_profile_failing, NULL, E2E_DEADLINE_USEC));
        assert_true(e2e_wait(&E, cond_profile_synced, NULL, E2E_DEADLINE_USEC));
}

static uint64_t sim_counter(struct e2e *e, const char *name) {
        sd_bus_message *reply = NULL;
        const char *n;
        uint64_t v, found = 0;

        if (e2e_sim(e, "GetCounters", &reply, "s", A) < 0)
                return 0;
        if (sd_bus_message_enter_container(reply, 'a', "{st}") > 0)
                while (sd_bus_message_read(reply, "{st}", &n, &v) > 0)
                        if (strcmp(n, name) == 0)
                                found = v;
        sd_bus_message_unref(reply);
        return found;
}

static bool cond_write_ignored(struct e2e *e, void *userdata) {
        (void) userdata;
        return sim_counter(e, "write-ignored") >= 1;
}

/* Found by the soak (tests/e2e/soak.c): Buds acknowledge a write and drop
 * it; the person then changes the item on the Buds, which takes the
 * revision the write would have had. The notification (DIRTY, that
 * revision) passed for the write's confirmation: the change was never read
 * while the Buds stayed connected. */
static void test_change_at_dropped_write_revision(void **state) {
        struct value v = profile("written, dropped"), t = profile("pressed on the Buds");

        (void) state;
        start_with_buds_synced();
        inject(&E, "profile", "ignore-write", 1);
        assert_int_equal(set_profile(&v, NULL), 0);
        assert_true(e2e_wait(&E, cond_write_ignored, NULL, E2E_DEADLINE_USEC));
        assert_int_equal(e2e_sim_touch(&E, A, &t), 0);
        assert_true(e2e_wait(&E, cond_on_server, &t, E2E_DEADLINE_USEC));
        assert_true(e2e_wait(&E, cond_buds_hold, &t, E2E_DEADLINE_USEC));
}

static bool cond_profile_converged(struct e2e *e, void *userdata) {
        (void) userdata;
        return e2e_converged(e, A, KEY_PROFILE, NULL);
}

static bool cond_change_seen(struct e2e *e, void *userdata) {
        const struct value *t = userdata;
        char name[sizeof(t->profile.name) + 1], *list = NULL;
        struct record server;
        bool seen;

        if (e2e_server_record(e, KEY_PROFILE, FAMILY_ANY, &server) == 0 && value_equal(&server.value, t))
                return true;
        (void) snprintf(name, sizeof(name), "%.*s", (int) t->profile.name_len, t->profile.name);
        if (e2e_call(e, "ListConflicts", &list, NULL, NULL) < 0)
                return false;
        seen = strstr(list, name) != NULL;
        free(list);
        return seen;
}

/* Found by the simulation (sim --flow, seeds 88 and 37): Buds acknowledge
 * a write and drop it; the person changes the item on them, which takes
 * the revision the write would have had, and its announcement is late
 * (here: lost); a host edit written at that revision, only assumed from
 * the answer, passed the compare-and-set and the change was gone without
 * a trace. The edit waits for the announcement, or the doubt and its
 * read: the change is read, and wins or is in the conflict log. */
static void test_write_at_assumed_revision_waits(void **state) {
        struct value v = profile("written, dropped"), t = profile("pressed, unannounced"),
                     w = profile("edited after");

        (void) state;
        start_with_buds_synced();
        inject(&E, "profile", "ignore-write", 1);
        assert_int_equal(set_profile(&v, NULL), 0);
        assert_true(e2e_wait(&E, cond_write_ignored, NULL, E2E_DEADLINE_USEC));
        inject(&E, "manifest", "drop-notify", 1);
        assert_int_equal(e2e_sim_touch(&E, A, &t), 0);
        assert_int_equal(set_profile(&w, NULL), 0);
        assert_true(e2e_wait(&E, cond_change_seen, &t, E2E_DEADLINE_USEC));
        /* and whichever won, the Buds, the bridge and the server agree */
        assert_true(e2e_wait(&E, cond_profile_converged, NULL, E2E_DEADLINE_USEC));
}

/* The push met the 429 and waits to retry: the fault rule is used up (an
 * empty POST answers how many rules are left) and the edit still pending.
 * The bridge stays online: the server answered. */
static bool cond_push_retrying(struct e2e *e, void *userdata) {
        struct harness_resp resp = { 0 };
        char *status = NULL;
        bool r;

        (void) userdata;
        if (harness_request(&e->server, "POST", "/test/faults", NULL, "[]", NULL, &resp) < 0)
                return false;
        r = resp.status == 200 && resp.body && strstr(resp.body, "\"rules\":0");
        harness_resp_clear(&resp);
        if (!r || e2e_call(e, "Status", &status, NULL, NULL) < 0)
                return false;
        r = strstr(status, "\"pending\":1") && strstr(status, "\"online\":true");
        free(status);
        return r;
}

static bool cond_profile_on_server(struct e2e *e, void *userdata) {
        const struct value *v = userdata;
        struct record server;

        return e2e_server_record(e, KEY_PROFILE, FAMILY_ANY, &server) == 0 && value_equal(&server.value, v);
}

/* Found when the HTTPS client took the BlueZ client's async contract: a
 * Sync() replaces the background calls, and when it cancelled a push that
 * was waiting to retry (here: 429, Retry-After 30 s) it also dropped the
 * wish to push, so that Sync pushed nothing and the edit waited for the
 * next one. Sync pushes once, as the contract says. */
static void test_sync_pushes_what_a_retry_held(void **state) {
        static const char *const rule =
                "[{\"path\":\"/v1/sync/push\",\"count\":1,\"action\":\"status\",\"status\":429,\"retry_after\":30}]";
        struct value v = profile("held by a retry");
        struct harness_resp resp = { 0 };
        sd_bus_error err = SD_BUS_ERROR_NULL;
        char *ans = NULL;

        (void) state;
        assert_int_equal(e2e_bridged_start(&E, true), 0);
        assert_int_equal(harness_request(&E.server, "POST", "/test/faults", NULL, rule, NULL, &resp), 0);
        assert_int_equal(resp.status, 200);
        harness_resp_clear(&resp);
        assert_int_equal(set_profile(&v, NULL), 0);
        assert_true(e2e_wait(&E, cond_push_retrying, NULL, E2E_DEADLINE_USEC));
        assert_int_equal(e2e_call(&E, "Sync", &ans, &err, NULL), 0);
        assert_non_null(strstr(ans, "\"pushed\":1"));
        free(ans);
        assert_true(cond_profile_on_server(&E, &v));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_acknowledged_write_not_applied, setup, teardown),
                cmocka_unit_test_setup_teardown(test_change_at_dropped_write_revision, setup, teardown),
                cmocka_unit_test_setup_teardown(test_write_at_assumed_revision_waits, setup, teardown),
                cmocka_unit_test_setup_teardown(test_sync_pushes_what_a_retry_held, setup, teardown),
                cmocka_unit_test_setup_teardown(test_damaged_cache_is_an_error, setup, teardown),
                cmocka_unit_test_setup_teardown(test_sync_ends_on_future_stamp, setup, teardown),
                cmocka_unit_test_setup_teardown(test_own_edits_in_a_row, setup, teardown),
                cmocka_unit_test_setup_teardown(test_change_before_ready_is_measured, setup, teardown),
                cmocka_unit_test_setup_teardown(test_failed_read_is_retried, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
