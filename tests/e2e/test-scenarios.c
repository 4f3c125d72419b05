/* SPDX-License-Identifier: MIT */
/* The four scenarios end to end — bridged, budsim, syncd and a "phone"
 * pushing to the server — plus the conflict log, kill -9 at random points,
 * a failing server, malformed values, and bad D-Bus and command-line input. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "e2e.h"
#include "bridged/conf.h"
#include "bridged/control-watch.h"
#include "codec/recjson.h"
#include "tests/lib/testbus.h"
#include "tests/lib/values.h"

#define A "AA:BB:CC:DD:EE:01"
#define B "AA:BB:CC:DD:EE:02"
#define C "AA:BB:CC:DD:EE:03"

#define E2E_FIXTURE_PAIRED false
#include "e2e-fixture.h"

/* Set over D-Bus; the record the bridge acknowledged. */
static struct record set(const struct value *v) {
        sd_bus_error err = SD_BUS_ERROR_NULL;
        struct record r;

        if (e2e_set(&E, v, &err, &r) < 0)
                fail_msg("Set failed: %s", err.message ? err.message : "(no message)");
        return r;
}

struct want {
        const char *address;
        enum key key;
        const struct record *rec;
};

static bool cond_converged(struct e2e *e, void *userdata) {
        const struct want *w = userdata;

        return e2e_converged(e, w->address, w->key, w->rec);
}

static void wait_converged(const char *address, enum key key, const struct record *rec) {
        struct want w = { address, key, rec };

        if (!e2e_wait(&E, cond_converged, &w, E2E_DEADLINE_USEC))
                fail_msg("%s did not converge on %s in time", key_name(key), address);
}

static void wait_buds_ready(const char *address) {
        if (!e2e_wait_buds_ready(&E, address, E2E_DEADLINE_USEC))
                fail_msg("Buds %s did not get ready", address);
}

static void add_buds(const char *address, enum family f, uint64_t id) {
        assert_int_equal(e2e_sim_add_buds(&E, address, "Buds", f, id), 0);
        wait_buds_ready(address);
}

static bool same(const struct record *a, const struct record *b) {
        return stamp_eq(a->stamp, b->stamp) && value_equal(&a->value, &b->value);
}

/* ---- online ---- */

struct value_want {
        const char *address;
        struct value v;
};

static bool cond_value_everywhere(struct e2e *e, void *userdata) {
        const struct value_want *w = userdata;
        struct record buds, server;

        return e2e_converged(e, w->address, w->v.key, NULL) && e2e_sim_record(e, w->address, w->v.key, &buds) == 0 &&
               value_equal(&buds.value, &w->v) && e2e_server_record(e, w->v.key, w->v.family, &server) == 0 &&
               value_equal(&server.value, &w->v);
}

static void test_online(void **state) {
        struct value_want w = { A, test_profile("touched on the Buds") };
        struct record r, buds;
        char status[32];

        (void) state;
        add_buds(A, FAMILY_PRO, 0x0101);
        /* a host edit goes to the Buds and the server */
        struct value v = test_pro_eq(KEY_EQ_CUSTOM, 60);
        r = set(&v);
        wait_converged(A, KEY_EQ_CUSTOM, &r);
        /* a change on the Buds is stamped, written back and pushed */
        assert_int_equal(e2e_sim_touch(&E, A, &w.v), 0);
        if (!e2e_wait(&E, cond_value_everywhere, &w, E2E_DEADLINE_USEC))
                fail_msg("the change on the Buds did not reach the server");
        assert_int_equal(e2e_sim_record(&E, A, KEY_PROFILE, &buds), 0);
        assert_true(buds.stamp.origin != 0 && !(buds.flags & RECORD_DIRTY));
        /* a newer value from a phone reaches the Buds */
        r = (struct record) { .value = test_pro_eq(KEY_EQ_ACTIVE, -45),
                              .stamp = { stamp_pack(test_wall_ms() + 1000, 0), E2E_PHONE } };
        assert_int_equal(e2e_phone_push(&E, &r, status, sizeof(status)), 0);
        assert_string_equal(status, "applied");
        wait_converged(A, KEY_EQ_ACTIVE, &r);
}

/* ---- offline, through a restart ---- */

static void test_offline_restart(void **state) {
        struct record r1, r2, buds;
        struct value_want w = { A, test_pro_eq(KEY_EQ_ACTIVE, 33) };

        (void) state;
        add_buds(A, FAMILY_PRO, 0x0101);
        assert_int_equal(e2e_server_stop(&E), 0);
        struct value p = test_profile("edited offline"), c = test_pro_eq(KEY_EQ_CUSTOM, -70);
        r1 = set(&p);
        r2 = set(&c);
        /* the Buds are kept in sync locally while the server is away */
        assert_int_equal(e2e_sim_record(&E, A, KEY_PROFILE, &buds), 0);
        /* (the write may still be in flight; the restart below must not lose it either) */
        assert_int_equal(WEXITSTATUS(e2e_bridged_stop(&E, SIGTERM)), 0);
        assert_int_equal(e2e_bridged_start(&E, false), 0);
        wait_buds_ready(A);
        assert_int_equal(e2e_sim_touch(&E, A, &w.v), 0);
        /* back online: everything queued arrives */
        assert_int_equal(e2e_server_start(&E), 0);
        wait_converged(A, KEY_PROFILE, &r1);
        wait_converged(A, KEY_EQ_CUSTOM, &r2);
        if (!e2e_wait(&E, cond_value_everywhere, &w, E2E_DEADLINE_USEC))
                fail_msg("the offline change on the Buds did not reach the server");
}

static bool cond_converged_buds_only(struct e2e *e, void *userdata) {
        const struct record *want = userdata;
        struct record buds;

        return e2e_sim_record(e, A, want->value.key, &buds) == 0 && same(&buds, want) && !(buds.flags & RECORD_DIRTY);
}

/* ---- phone switch, both ways ---- */

static void test_phone_switch(void **state) {
        struct record old, mine, theirs, buds;
        char status[32];

        (void) state;
        add_buds(A, FAMILY_STANDARD, 0x0202);
        struct value p1 = test_profile("first"), p2 = test_profile("never reached the server");
        old = set(&p1);
        wait_converged(A, KEY_PROFILE, &old);
        /* the old host writes the Buds but never reaches the server, then is gone */
        assert_int_equal(e2e_server_stop(&E), 0);
        mine = set(&p2);
        assert_true(e2e_wait(&E, cond_converged_buds_only, &mine, E2E_DEADLINE_USEC));
        (void) e2e_bridged_stop(&E, SIGKILL);
        assert_int_equal(e2e_server_start(&E), 0);
        /* a new host with an empty cache: the Buds carry the newest stamp, it goes to the server */
        assert_int_equal(e2e_bridged_start(&E, true), 0);
        wait_converged(A, KEY_PROFILE, &mine);

        /* the other way: a phone's newer edit while no bridge runs, then another new host */
        (void) e2e_bridged_stop(&E, SIGTERM);
        theirs = (struct record) { .value = test_profile("from the phone"),
                                   .stamp = { stamp_pack(test_wall_ms() + 500, 0), E2E_PHONE } };
        assert_int_equal(e2e_phone_push(&E, &theirs, status, sizeof(status)), 0);
        assert_string_equal(status, "applied");
        assert_int_equal(e2e_bridged_start(&E, true), 0);
        wait_converged(A, KEY_PROFILE, &theirs);
        assert_int_equal(e2e_sim_record(&E, A, KEY_PROFILE, &buds), 0);
        assert_true(same(&buds, &theirs));
}

/* ---- Buds switch: pro -> standard -> pro loses nothing ---- */

static void test_buds_switch(void **state) {
        struct record p, std, pro_again, server;

        (void) state;
        add_buds(A, FAMILY_PRO, 0x0a0a);
        struct value v = test_pro_eq(KEY_EQ_CUSTOM, 87);
        p = set(&v);
        wait_converged(A, KEY_EQ_CUSTOM, &p);
        assert_int_equal(e2e_sim(&E, "RemoveBuds", NULL, "s", A), 0);

        /* standard Buds from the factory: the intent converted, DERIVED, with the intent's stamp */
        add_buds(B, FAMILY_STANDARD, 0x0b0b);
        wait_converged(B, KEY_EQ_CUSTOM, NULL);
        assert_int_equal(e2e_sim_record(&E, B, KEY_EQ_CUSTOM, &std), 0);
        assert_int_equal(std.value.family, FAMILY_STANDARD);
        assert_true(std.flags & RECORD_DERIVED);
        assert_true(stamp_eq(std.stamp, p.stamp));
        assert_int_equal(e2e_server_record(&E, KEY_EQ_CUSTOM, FAMILY_STANDARD, &server), 0);
        assert_true(server.flags & RECORD_DERIVED);
        assert_int_equal(e2e_sim(&E, "RemoveBuds", NULL, "s", B), 0);

        /* back to (other, factory) pro Buds: the pro parameters come back exactly */
        add_buds(C, FAMILY_PRO, 0x0c0c);
        wait_converged(C, KEY_EQ_CUSTOM, &p);
        assert_int_equal(e2e_sim_record(&E, C, KEY_EQ_CUSTOM, &pro_again), 0);
        assert_true(value_equal(&pro_again.value, &v));
        assert_false(pro_again.flags & RECORD_DERIVED);
}

/* ---- the conflict log and restore ---- */

static void test_conflict_and_restore(void **state) {
        struct record mine, theirs, restored;
        char status[32], *list = NULL, *ans = NULL;
        cJSON *doc;
        uint64_t id;

        (void) state;
        add_buds(A, FAMILY_PRO, 0x0101);
        assert_int_equal(e2e_server_stop(&E), 0);
        struct value v = test_profile("mine, made offline");
        mine = set(&v);
        /* the bridge is away (its edit waits in its outbox) while a phone makes a newer edit */
        assert_int_equal(WEXITSTATUS(e2e_bridged_stop(&E, SIGTERM)), 0);
        assert_int_equal(e2e_server_start(&E), 0);
        theirs = (struct record) { .value = test_profile("theirs, newer"), .stamp = { stamp_pack(test_wall_ms() + 2000, 0),
                                                                                 E2E_PHONE } };
        assert_int_equal(e2e_phone_push(&E, &theirs, status, sizeof(status)), 0);
        assert_string_equal(status, "applied");
        /* back: pull first, arbitrate — the pending edit lost and is logged — then push what still wins */
        assert_int_equal(e2e_bridged_start(&E, false), 0);
        wait_converged(A, KEY_PROFILE, &theirs);
        assert_int_equal(e2e_call(&E, "ListConflicts", &list, NULL, NULL), 0);
        doc = cJSON_Parse(list);
        assert_int_equal(cJSON_GetArraySize(doc), 1);
        id = (uint64_t) cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetArrayItem(doc, 0), "id"));
        assert_non_null(strstr(list, "mine, made offline"));
        cJSON_Delete(doc);
        free(list);
        /* restore: the lost value again, as a new edit that wins everywhere */
        assert_int_equal(e2e_call(&E, "Restore", &ans, NULL, "t", id), 0);
        assert_int_equal(recjson_record_parse(ans, strlen(ans), &restored, NULL), 0);
        free(ans);
        assert_true(value_equal(&restored.value, &mine.value));
        assert_true(stamp_cmp(restored.stamp, theirs.stamp) > 0);
        wait_converged(A, KEY_PROFILE, &restored);
        /* the entry stays, marked restored, and no longer counts; dismissed, it goes */
        assert_int_equal(e2e_call(&E, "ListConflicts", &list, NULL, NULL), 0);
        doc = cJSON_Parse(list);
        assert_int_equal(cJSON_GetArraySize(doc), 1);
        assert_true(cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetArrayItem(doc, 0), "restored_ms")) > 0);
        cJSON_Delete(doc);
        free(list);
        assert_int_equal(e2e_call(&E, "Status", &ans, NULL, NULL), 0);
        assert_non_null(strstr(ans, "\"conflicts\":0"));
        free(ans);
        assert_int_equal(e2e_dismiss_conflicts(&E, &id, 1), 1);
        assert_int_equal(e2e_dismiss_conflicts(&E, &id, 1), 0);
        assert_int_equal(e2e_call(&E, "ListConflicts", &list, NULL, NULL), 0);
        assert_string_equal(list, "[]");
        free(list);
}

/* ---- kill -9 at random points: every acknowledged edit arrives, once ---- */

static void test_kill9_rounds(void **state) {
        unsigned seed = (unsigned) time(NULL), rounds = getenv("E2E_KILL_ROUNDS") ? (unsigned) atoi(getenv("E2E_KILL_ROUNDS")) : 50;
        struct record acked = { 0 };
        char name[33];

        (void) state;
        print_message("kill -9 rounds: %u, seed %u\n", rounds, seed);
        srand(seed);
        add_buds(A, FAMILY_PRO, 0x0101);
        for (unsigned i = 0; i < rounds; i++) {
                unsigned edits = 1 + (unsigned) rand() % 3;
                for (unsigned k = 0; k < edits; k++) {
                        (void) snprintf(name, sizeof(name), "round %u edit %u", i, k);
                        struct value v = test_profile(name);
                        acked = set(&v);
                }
                /* somewhere in the write to the Buds, the push, or the answer */
                if (rand() % 4)
                        usleep((useconds_t) (rand() % 20000));
                (void) e2e_bridged_stop(&E, SIGKILL);
                assert_int_equal(e2e_bridged_start(&E, false), 0);
                wait_converged(A, KEY_PROFILE, &acked);
        }
}

/* ---- a server failing in each way of the spec's table ---- */

static void faults(const char *rules) {
        struct harness_resp resp = { 0 };

        assert_int_equal(harness_request(&E.server, "POST", "/test/faults", NULL, rules, NULL, &resp), 0);
        assert_int_equal(resp.status, 200);
        harness_resp_clear(&resp);
}

static void test_server_failures(void **state) {
        static const char *const rules[] = {
                "[{\"path\":\"/v1/sync/push\",\"count\":2,\"action\":\"status\",\"status\":503}]",
                "[{\"path\":\"/v1/sync/push\",\"count\":1,\"action\":\"status\",\"status\":429,\"retry_after\":1}]",
                "[{\"path\":\"/v1/sync/push\",\"count\":1,\"action\":\"status\",\"status\":409}]",
                "[{\"path\":\"/v1/sync/push\",\"count\":1,\"action\":\"garbage\"}]",
                "[{\"path\":\"/v1/sync/push\",\"count\":1,\"action\":\"truncate\"}]",
                "[{\"path\":\"/v1/sync/push\",\"count\":1,\"action\":\"apply_then_drop\"}]",
                "[{\"path\":\"/v1/sync/pull\",\"count\":1,\"action\":\"garbage\"},"
                " {\"path\":\"/v1/sync/push\",\"count\":1,\"action\":\"status\",\"status\":500}]",
        };
        char name[33];

        (void) state;
        add_buds(A, FAMILY_STANDARD, 0x0303);
        for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
                struct record r;
                faults(rules[i]);
                (void) snprintf(name, sizeof(name), "through fault %zu", i);
                struct value v = test_profile(name);
                r = set(&v);
                wait_converged(A, KEY_PROFILE, &r);
        }
}

/* ---- malformed values from the Buds: refused, nothing stored changes ---- */

static void test_malformed_buds_value(void **state) {
        struct record before, after;
        struct value_want w = { A, test_profile("after the bad read") };
        sd_bus_message *m = NULL;

        (void) state;
        add_buds(A, FAMILY_PRO, 0x0101);
        struct value v = test_profile("good");
        before = set(&v);
        wait_converged(A, KEY_PROFILE, &before);
        /* the next read of the profile returns a broken record */
        assert_int_equal(sd_bus_message_new_method_call(E.bus, &m, "org.bridged.test.Budsim", "/org/bridged/test",
                                                        "org.bridged.test.Budsim1", "InjectFault"), 0);
        assert_true(sd_bus_message_append(m, "sss", A, "profile", "malformed") >= 0);
        assert_true(sd_bus_message_append(m, "a{sv}", 2, "count", "u", 1, "how", "s", "trailing") >= 0);
        assert_true(sd_bus_call(E.bus, m, 5000000, NULL, NULL) >= 0);
        sd_bus_message_unref(m);
        struct value bad_touch = test_profile("read back broken");
        assert_int_equal(e2e_sim_touch(&E, A, &bad_touch), 0);
        /* nothing the bridge holds moves on a malformed value */
        assert_int_equal(e2e_intent(&E, KEY_PROFILE, &after), 0);
        assert_true(same(&after, &before) || value_equal(&after.value, &bad_touch));
        /* the next change reads fine and flows */
        assert_int_equal(e2e_sim_touch(&E, A, &w.v), 0);
        if (!e2e_wait(&E, cond_value_everywhere, &w, E2E_DEADLINE_USEC))
                fail_msg("the change after the malformed read did not flow");
}

/* ---- bad D-Bus calls and bad command lines: one clear error, nothing changes ---- */

static void expect_error(const char *name, const char *member, const char *types, ...) {
        sd_bus_message *m = NULL;
        sd_bus_error err = SD_BUS_ERROR_NULL;
        va_list ap;
        int r;

        assert_int_equal(sd_bus_message_new_method_call(E.bus, &m, "org.bridged", "/org/bridged",
                                                        "org.bridged.Manager1", member), 0);
        va_start(ap, types);
        if (types)
                assert_true(sd_bus_message_appendv(m, types, ap) >= 0);
        va_end(ap);
        r = sd_bus_call(E.bus, m, 10000000, &err, NULL);
        if (r >= 0 || !sd_bus_error_has_name(&err, name))
                fail_msg("%s: expected %s, got %s: %s", member, name, err.name ? err.name : "success",
                         err.message ? err.message : "");
        assert_non_null(err.message);
        assert_true(strlen(err.message) > 10);
        sd_bus_error_free(&err);
        sd_bus_message_unref(m);
}

static int run_ctl(const char *const *args, char *err, size_t size) {
        char bin[160], cmd[1024] = "";
        int n = 0;

        (void) snprintf(bin, sizeof(bin), "%s/bridged/bridgectl", getenv("BRIDGED_BUILD") ?: "build");
        n = snprintf(cmd, sizeof(cmd), "DBUS_SYSTEM_BUS_ADDRESS='%s' %s", testbus_address(E.tb), bin);
        for (; *args; args++)
                n += snprintf(cmd + n, sizeof(cmd) - (size_t) n, " '%s'", *args);
        n += snprintf(cmd + n, sizeof(cmd) - (size_t) n, " 2>&1 >/dev/null");
        return e2e_run(&E, cmd, err, size);
}

static void test_bad_input(void **state) {
        char before[4096], *after = NULL, *status = NULL, out[1024];
        struct record r;

        (void) state;
        struct value v = test_profile("unchanged");
        r = set(&v);
        (void) r;
        assert_int_equal(e2e_call(&E, "Get", &status, NULL, "s", "profile"), 0);
        (void) snprintf(before, sizeof(before), "%s", status);
        free(status);

        expect_error("org.bridged.Error.InvalidArgument", "Get", "s", "volume");
        expect_error("org.bridged.Error.InvalidArgument", "Set", "sss", "profile", "", "{not json");
        expect_error("org.bridged.Error.InvalidArgument", "Set", "sss", "profile", "pro", "{}");
        expect_error("org.bridged.Error.InvalidArgument", "Set", "sss", "eq.custom", "pro",
                     "{\"preamp_db\": 0, \"bands\": [{\"type\": \"peak\", \"freq_hz\": 100, "
                     "\"gain_db\": 12.5, \"q\": 1}]}");
        expect_error("org.bridged.Error.InvalidArgument", "Set", "sss", "eq.custom", "standard",
                     "{\"bands_db\": [0, 0, 0, 0, 0.3]}");
        expect_error("org.bridged.Error.InvalidArgument", "Set", "sss", "eq.active", "standard",
                     "{\"preset\": \"flat\", \"eq\": {\"bands_db\": [0, 0, 0, 0, 0]}}");
        expect_error("org.bridged.Error.NotConnected", "Set", "sss", "eq.custom", "", "{\"bands_db\": [0, 0, 0, 0, 0]}");
        expect_error("org.bridged.Error.NotFound", "Restore", "t", (uint64_t) 4242);
        expect_error("org.freedesktop.DBus.Error.InvalidArgs", "Set", "s", "profile");
        /* ids out of any range, a patch that is no object or too deep, no key */
        expect_error("org.bridged.Error.NotFound", "Restore", "t", UINT64_MAX);
        expect_error("org.bridged.Error.NotFound", "Restore", "t", (uint64_t) INT64_MAX + 1);
        expect_error("org.freedesktop.DBus.Error.InvalidArgs", "Restore", "s", "1");
        expect_error("org.freedesktop.DBus.Error.InvalidArgs", "DismissConflicts", "as", 1, "1");
        expect_error("org.bridged.Error.InvalidArgument", "Patch", "sss", "profile", "", "null");
        expect_error("org.bridged.Error.InvalidArgument", "Patch", "sss", "profile", "", "[]");
        expect_error("org.bridged.Error.InvalidArgument", "Patch", "sss", "profile", "", "{\"zzz\": 1}");
        expect_error("org.bridged.Error.InvalidArgument", "Patch", "sss", "profile", "",
                     "{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":"
                     "{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":1}}}}}}}}}}}}}}}}}");
        expect_error("org.bridged.Error.InvalidArgument", "Patch", "sss", "eq.active", "bogus", "{}");
        expect_error("org.bridged.Error.InvalidArgument", "Get", "s", "");

        /* A huge argument is not echoed back: the message quotes a short
         * excerpt of it, whatever the argument. */
        {
                size_t big_len = 1024 * 1024;
                char *big = malloc(big_len + 1);
                static const char *const forms[][3] = {
                        { NULL, "", "{}" }, { "profile", NULL, "{}" }, { "eq.custom", NULL, "{}" },
                        { "profile", "", NULL }, { "eq.custom", "pro", NULL },
                };

                assert_non_null(big);
                memset(big, 'k', big_len);
                big[big_len] = '\0';
                for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
                        sd_bus_error err = SD_BUS_ERROR_NULL;

                        assert_true(e2e_call(&E, "Set", NULL, &err, "sss", forms[i][0] ?: big, forms[i][1] ?: big,
                                             forms[i][2] ?: big) < 0);
                        assert_true(sd_bus_error_has_name(&err, "org.bridged.Error.InvalidArgument"));
                        if (strlen(err.message) > 300)
                                fail_msg("form %zu: a %zu-byte error message", i, strlen(err.message));
                        sd_bus_error_free(&err);
                }
                {
                        sd_bus_error err = SD_BUS_ERROR_NULL;

                        assert_true(e2e_call(&E, "Get", NULL, &err, "s", big) < 0);
                        assert_true(strlen(err.message) <= 300);
                        sd_bus_error_free(&err);
                }
                free(big);
        }

        /* more ids than the conflict log can hold: refused at once, not
         * one statement each while the loop waits */
        {
                size_t n = CONF_CONFLICT_LOG_MAX + 1;
                uint64_t *ids = calloc(n, sizeof(*ids));
                sd_bus_message *m = NULL;
                sd_bus_error err = SD_BUS_ERROR_NULL;

                assert_non_null(ids);
                assert_int_equal(sd_bus_message_new_method_call(E.bus, &m, "org.bridged", "/org/bridged",
                                                                "org.bridged.Manager1", "DismissConflicts"), 0);
                assert_true(sd_bus_message_append_array(m, 't', ids, n * sizeof(*ids)) >= 0);
                assert_true(sd_bus_call(E.bus, m, 10000000, &err, NULL) < 0);
                assert_true(sd_bus_error_has_name(&err, "org.bridged.Error.InvalidArgument"));
                assert_non_null(strstr(err.message, "10001 ids, at most 10000"));
                sd_bus_error_free(&err);
                sd_bus_message_unref(m);
                assert_int_equal(e2e_dismiss_conflicts(&E, ids, CONF_CONFLICT_LOG_MAX), 0);
                free(ids);
        }

        assert_int_equal(run_ctl((const char *[]) { "frobnicate", NULL }, out, sizeof(out)), 2);
        assert_non_null(strstr(out, "unknown command"));
        assert_int_equal(run_ctl((const char *[]) { "get", "volume", NULL }, out, sizeof(out)), 2);
        assert_int_equal(run_ctl((const char *[]) { "restore", "-1", NULL }, out, sizeof(out)), 2);
        assert_int_equal(run_ctl((const char *[]) { "set", "profile", "{\"name\": 1}", NULL }, out, sizeof(out)), 1);
        assert_non_null(strstr(out, "bridgectl: set: "));
        assert_null(strchr(strchr(out, '\n') + 1, '\n'));     /* one line */
        assert_int_equal(run_ctl((const char *[]) { "--json", "get", "profile", NULL }, out, sizeof(out)), 0);

        /* nothing stored changed */
        assert_int_equal(e2e_call(&E, "Get", &after, NULL, "s", "profile"), 0);
        assert_string_equal(before, after);
        free(after);
        assert_int_equal(e2e_call(&E, "ListConflicts", &after, NULL, NULL), 0);
        assert_string_equal(after, "[]");
        free(after);
}

/* ---- partial edits: Patch, FIELD=VALUE, -, and what get --json prints ---- */

static struct record get_record(const char *key) {
        char *ans = NULL;
        struct record r;

        assert_int_equal(e2e_call(&E, "Get", &ans, NULL, "s", key), 0);
        assert_int_equal(recjson_record_parse(ans, strlen(ans), &r, NULL), 0);
        free(ans);
        return r;
}

/* bridgectl ARGS with standard input from the file in; stdout in out. */
static int run_ctl_stdin(const char *args, const char *in, char *out, size_t size) {
        char cmd[1024];

        (void) snprintf(cmd, sizeof(cmd), "DBUS_SYSTEM_BUS_ADDRESS='%s' %s/bridged/bridgectl %s <'%s' 2>&1",
                        testbus_address(E.tb), getenv("BRIDGED_BUILD") ?: "build", args, in);
        return e2e_run(&E, cmd, out, size);
}

static void test_partial_edits(void **state) {
        struct value p = test_profile("partial"), c = test_pro_eq(KEY_EQ_CUSTOM, 40);
        char out[4096], path[] = "/tmp/e2e-set-XXXXXX", *ans = NULL;
        struct record r, before;
        int fd;

        (void) state;
        (void) set(&p);
        (void) set(&c);

        /* field edits: the rest of the value stays */
        assert_int_equal(run_ctl((const char *[]) { "set", "profile", "noise_control=ambient", "ambient_level=3",
                                                    "touch.right=next", NULL }, out, sizeof(out)), 0);
        r = get_record("profile");
        assert_int_equal(r.value.profile.noise_control, NOISE_AMBIENT);
        assert_int_equal(r.value.profile.ambient_level, 3);
        assert_int_equal(r.value.profile.touch_right, TOUCH_NEXT);
        assert_int_equal(r.value.profile.touch_left, p.profile.touch_left);
        assert_memory_equal(r.value.profile.name, "partial", 7);
        assert_int_equal(r.value.profile.left[2], p.profile.left[2]);

        /* a bad field: refused, nothing changed */
        before = r;
        assert_int_equal(run_ctl((const char *[]) { "set", "profile", "noise_control=loud", NULL }, out,
                                 sizeof(out)), 1);
        assert_non_null(strstr(out, "noise_control"));
        assert_int_equal(run_ctl((const char *[]) { "set", "profile", "=3", NULL }, out, sizeof(out)), 2);
        r = get_record("profile");
        assert_true(stamp_cmp(r.stamp, before.stamp) == 0);

        /* another preset drops the parameters; custom without them takes the Custom EQ's */
        assert_int_equal(run_ctl((const char *[]) { "set", "eq.active", "--family", "pro", "preset=voice", NULL },
                                 out, sizeof(out)), 0);
        r = get_record("eq.active");
        assert_int_equal(r.value.family, FAMILY_PRO);
        assert_int_equal(r.value.active.preset, PRESET_VOICE);
        assert_int_equal(run_ctl((const char *[]) { "set", "eq.active", "--family", "pro", "preset=custom", NULL },
                                 out, sizeof(out)), 0);
        r = get_record("eq.active");
        assert_int_equal(r.value.active.preset, PRESET_CUSTOM);
        assert_memory_equal(&r.value.active.eq.pro, &c.custom.pro, sizeof(c.custom.pro));

        /* exactly what get --json prints, from standard input, is taken back */
        assert_int_equal(e2e_call(&E, "Get", &ans, NULL, "s", "profile"), 0);
        fd = mkstemp(path);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, ans, strlen(ans)), (ssize_t) strlen(ans));
        (void) close(fd);
        free(ans);
        before = get_record("profile");
        assert_int_equal(run_ctl_stdin("set profile -", path, out, sizeof(out)), 0);
        r = get_record("profile");
        assert_true(value_equal(&r.value, &before.value));
        assert_true(stamp_cmp(r.stamp, before.stamp) > 0);      /* a new edit */
        (void) unlink(path);

        /* Patch itself: a JSON Merge Patch, null removing a member */
        assert_int_equal(e2e_call(&E, "Patch", &ans, NULL, "sss", "eq.custom", "pro",
                                  "{\"preamp_db\": -4.0, \"bands\": [{\"type\": \"peak\", \"freq_hz\": 1000, "
                                  "\"gain_db\": 2.0, \"q\": 1.0}]}"), 0);
        free(ans);
        r = get_record("eq.custom");
        assert_int_equal(r.value.custom.pro.preamp, -40);
        assert_int_equal(r.value.custom.pro.count, 1);
        expect_error("org.bridged.Error.InvalidArgument", "Patch", "sss", "profile", "", "{\"name\": null}");
        expect_error("org.bridged.Error.InvalidArgument", "Patch", "sss", "profile", "", "{not json");
}

/* ---- the Buds objects: for applets and status bars ---- */

#define BUDS_PATH_A "/org/bridged/buds/AA_BB_CC_DD_EE_01"

struct buds_watch {
        unsigned added, changed, removed;
        bool battery, connected;        /* a PropertiesChanged named it */
};

static int on_buds_signal(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        struct buds_watch *w = userdata;
        const char *member = sd_bus_message_get_member(m), *iface, *name;

        (void) ret_error;
        if (strcmp(member, "InterfacesAdded") == 0) {
                w->added++;
                return 0;
        }
        if (strcmp(member, "InterfacesRemoved") == 0) {
                w->removed++;
                return 0;
        }
        if (strcmp(sd_bus_message_get_path(m), BUDS_PATH_A) != 0 ||
            sd_bus_message_read(m, "s", &iface) < 0 || strcmp(iface, "org.bridged.Buds1") != 0)
                return 0;
        w->changed++;
        if (sd_bus_message_enter_container(m, 'a', "{sv}") < 0)
                return 0;
        while (sd_bus_message_enter_container(m, 'e', "sv") > 0) {
                if (sd_bus_message_read(m, "s", &name) < 0 || sd_bus_message_skip(m, "v") < 0)
                        break;
                (void) sd_bus_message_exit_container(m);
                w->battery |= strcmp(name, "Battery") == 0;
                w->connected |= strcmp(name, "Connected") == 0;
        }
        return 0;
}

static uint8_t buds_battery(void) {
        uint8_t v = 0;

        (void) sd_bus_get_property_trivial(E.bus, "org.bridged", BUDS_PATH_A, "org.bridged.Buds1", "Battery",
                                           NULL, 'y', &v);
        return v;
}

/* The signal first, then the property it announced. */
static bool battery_announced(struct e2e *e, void *userdata) {
        (void) e;
        return ((struct buds_watch *) userdata)->battery && buds_battery() == 42;
}

static bool disconnect_announced(struct e2e *e, void *userdata) {
        int v = 1;

        (void) e;
        if (!((struct buds_watch *) userdata)->connected)
                return false;
        (void) sd_bus_get_property_trivial(E.bus, "org.bridged", BUDS_PATH_A, "org.bridged.Buds1", "Connected",
                                           NULL, 'b', &v);
        return !v;
}

static bool watch_added(struct e2e *e, void *userdata) {
        (void) e;
        return ((struct buds_watch *) userdata)->added > 0;
}

static void test_buds_objects(void **state) {
        struct buds_watch w = {};
        sd_bus_message *reply = NULL;
        sd_bus_slot *s1 = NULL, *s2 = NULL;
        char *name = NULL, *family = NULL;
        int connected = 0;
        const char *s;

        (void) state;
        assert_true(sd_bus_match_signal(E.bus, &s1, "org.bridged", NULL, "org.freedesktop.DBus.ObjectManager", NULL,
                                        on_buds_signal, &w) >= 0);
        assert_true(sd_bus_match_signal(E.bus, &s2, "org.bridged", NULL, "org.freedesktop.DBus.Properties",
                                        "PropertiesChanged", on_buds_signal, &w) >= 0);
        add_buds(A, FAMILY_PRO, 0x0101);
        assert_true(e2e_wait(&E, watch_added, &w, E2E_DEADLINE_USEC));

        assert_true(sd_bus_get_property_string(E.bus, "org.bridged", BUDS_PATH_A, "org.bridged.Buds1", "Family",
                                               NULL, &family) >= 0);
        assert_string_equal(family, "pro");
        assert_true(sd_bus_get_property_string(E.bus, "org.bridged", BUDS_PATH_A, "org.bridged.Buds1", "Name",
                                               NULL, &name) >= 0);
        assert_string_equal(name, "Buds");
        assert_true(sd_bus_get_property_trivial(E.bus, "org.bridged", BUDS_PATH_A, "org.bridged.Buds1",
                                                "Connected", NULL, 'b', &connected) >= 0);
        assert_true(connected);

        /* the ObjectManager lists it */
        assert_true(sd_bus_call_method(E.bus, "org.bridged", "/org/bridged", "org.freedesktop.DBus.ObjectManager",
                                       "GetManagedObjects", NULL, &reply, NULL) >= 0);
        assert_true(sd_bus_message_enter_container(reply, 'a', "{oa{sa{sv}}}") > 0);
        assert_true(sd_bus_message_enter_container(reply, 'e', "oa{sa{sv}}") > 0);
        assert_true(sd_bus_message_read(reply, "o", &s) > 0);
        assert_string_equal(s, BUDS_PATH_A);
        sd_bus_message_unref(reply);

        /* a battery change and a lost link are announced */
        assert_int_equal(e2e_sim(&E, "SetBattery", NULL, "sy", A, (uint8_t) 42), 0);
        assert_true(e2e_wait(&E, battery_announced, &w, E2E_DEADLINE_USEC));
        w.connected = false;
        assert_int_equal(e2e_sim(&E, "LinkLoss", NULL, "s", A), 0);
        assert_true(e2e_wait(&E, disconnect_announced, &w, E2E_DEADLINE_USEC));
        assert_true(w.changed >= 2);
        assert_int_equal(w.removed, 0);         /* remembered while away */

        free(name);
        free(family);
        sd_bus_slot_unref(s1);
        sd_bus_slot_unref(s2);
}

/* ---- bridgectl monitor: every event, and bridged's restart followed ---- */

static void test_monitor(void **state) {
        char cmd[512], out[16384] = "";
        struct value p = test_profile("watched");
        pid_t pid;
        int fd;

        (void) state;
        /* not running: a clear line at once */
        (void) snprintf(cmd, sizeof(cmd), "exec env DBUS_SYSTEM_BUS_ADDRESS='%s' %s/bridged/bridgectl monitor 2>&1",
                        testbus_address(E.tb), getenv("BRIDGED_BUILD") ?: "build");
        assert_int_equal(e2e_bridged_stop(&E, SIGTERM), 0);
        assert_int_equal(e2e_run(&E, cmd, out, sizeof(out)), 1);
        assert_non_null(strstr(out, "bridged is not running"));
        assert_int_equal(e2e_bridged_start(&E, false), 0);

        out[0] = '\0';
        assert_int_equal(e2e_spawn(&E, cmd, &pid, &fd), 0);
        assert_true(e2e_read_until(&E, fd, "Watching bridged", out, sizeof(out), E2E_DEADLINE_USEC));
        add_buds(A, FAMILY_PRO, 0x0101);
        if (!e2e_read_until(&E, fd, "Buds AA:BB:CC:DD:EE:01 seen for the first time", out, sizeof(out),
                            E2E_DEADLINE_USEC))
                fail_msg("monitor printed: %s", out);
        assert_int_equal(e2e_sim(&E, "SetBattery", NULL, "sy", A, (uint8_t) 37), 0);
        assert_true(e2e_read_until(&E, fd, "Buds AA:BB:CC:DD:EE:01 Battery: 37", out, sizeof(out),
                                   E2E_DEADLINE_USEC));
        /* bluetoothd goes and comes back */
        assert_int_equal(e2e_sim(&E, "RestartBluez", NULL, "u", (uint32_t) 200), 0);
        assert_true(e2e_read_until(&E, fd, "Bluetoothd: no", out, sizeof(out), E2E_DEADLINE_USEC));
        assert_true(e2e_read_until(&E, fd, "Bluetoothd: yes", out, sizeof(out), E2E_DEADLINE_USEC));
        wait_buds_ready(A);
        (void) set(&p);
        assert_true(e2e_read_until(&E, fd, "profile: \"watched\"", out, sizeof(out), E2E_DEADLINE_USEC));
        /* a restart is followed: the same monitor sees the new bridged */
        assert_int_equal(e2e_bridged_stop(&E, SIGTERM), 0);
        assert_true(e2e_read_until(&E, fd, "bridged stopped", out, sizeof(out), E2E_DEADLINE_USEC));
        assert_int_equal(e2e_bridged_start(&E, false), 0);
        assert_true(e2e_read_until(&E, fd, "bridged is running again", out, sizeof(out), E2E_DEADLINE_USEC));
        wait_buds_ready(A);
        p = test_profile("after restart");
        (void) set(&p);
        assert_true(e2e_read_until(&E, fd, "profile: \"after restart\"", out, sizeof(out), E2E_DEADLINE_USEC));
        (void) kill(pid, SIGINT);
        assert_int_equal(testbus_wait(pid, E2E_DEADLINE_USEC), 0);
        (void) close(fd);
}

/* ---- who may: the daemon's own check, with a bus whose policy allows all ---- */

/* Copies bridgectl into dir (a mkdtemp template) where user nobody can run
 * it (the build directory may be closed to others) and opens the test bus
 * to others; false when this test cannot change user. */
static bool bridgectl_for_nobody(char *dir) {
        char cmd[512];

        if (geteuid() != 0 || system("command -v setpriv >/dev/null 2>&1") != 0)
                return false;
        assert_non_null(mkdtemp(dir));
        assert_int_equal(chmod(dir, 0755), 0);
        (void) snprintf(cmd, sizeof(cmd), "install -m 0755 '%s/bridged/bridgectl' '%s/'",
                        getenv("BRIDGED_BUILD") ?: "build", dir);
        assert_int_equal(system(cmd), 0);
        assert_int_equal(testbus_open_to_others(E.tb), 0);
        return true;
}

/* Runs bridgectl ARGS as user nobody (no groups) against the test bus; its
 * stderr in err, its exit status returned. */
static int run_ctl_as_nobody(const char *dir, const char *args, char *err, size_t size) {
        char cmd[1024];

        (void) snprintf(cmd, sizeof(cmd), "setpriv --reuid=65534 --regid=65534 --clear-groups "
                        "env DBUS_SYSTEM_BUS_ADDRESS='%s' %s/bridgectl %s 2>&1 >/dev/null",
                        testbus_address(E.tb), dir, args);
        return e2e_run(&E, cmd, err, size);
}

/* Another local user may see the state, never the Shared Data (health data
 * among it) and never change anything, even when the bus lets the call
 * through: the daemon checks the caller's credentials itself. */
static void test_access_others(void **state) {
        char dir[] = "/tmp/e2e-access-XXXXXX", cmd[512], out[2048];
        struct value v = test_profile("mine");

        (void) state;
        if (!bridgectl_for_nobody(dir))
                skip();
        (void) set(&v);

        assert_int_equal(run_ctl_as_nobody(dir, "--json status", out, sizeof(out)), 0);
        assert_int_equal(run_ctl_as_nobody(dir, "get profile", out, sizeof(out)), 1);
        if (!strstr(out, "reading the Shared Data"))
                fail_msg("get profile as nobody: %s", out);
        assert_null(strstr(out, "mine"));
        assert_int_equal(run_ctl_as_nobody(dir, "conflicts", out, sizeof(out)), 1);
        assert_non_null(strstr(out, "reading the Shared Data"));
        assert_int_equal(run_ctl_as_nobody(dir, "set eq.active --family pro '{\"preset\": \"voice\"}'", out,
                                           sizeof(out)), 1);
        assert_non_null(strstr(out, "is for root and members of group bridged"));
        assert_int_equal(run_ctl_as_nobody(dir, "sync", out, sizeof(out)), 1);
        assert_non_null(strstr(out, "is for root and members of group bridged"));
        assert_int_equal(run_ctl_as_nobody(dir, "restore 1", out, sizeof(out)), 1);
        assert_int_equal(run_ctl_as_nobody(dir, "conflicts dismiss --all", out, sizeof(out)), 1);
        assert_non_null(strstr(out, "is for root and members of group bridged"));

        (void) snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        assert_int_equal(system(cmd), 0);
}

/* ---- Changed: addressed to each client that called bridged and may read ---- */

/* Another connection to the test bus, as another client. */
struct client {
        sd_bus *bus;
        unsigned changed, battery;      /* Changed; a Buds PropertiesChanged naming Battery */
};

static int on_client_signal(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        struct client *cl = userdata;
        struct buds_watch w = {};

        if (strcmp(sd_bus_message_get_member(m), "Changed") == 0) {
                cl->changed++;
                return 0;
        }
        (void) on_buds_signal(m, &w, ret_error);
        cl->battery += w.battery;
        return 0;
}

static void client_connect(struct client *cl) {
        *cl = (struct client) {};
        assert_true(sd_bus_new(&cl->bus) >= 0);
        assert_true(sd_bus_set_address(cl->bus, testbus_address(E.tb)) >= 0);
        assert_true(sd_bus_set_bus_client(cl->bus, 1) >= 0);
        assert_true(sd_bus_start(cl->bus) >= 0);
        assert_true(sd_bus_match_signal(cl->bus, NULL, "org.bridged", "/org/bridged", "org.bridged.Manager1",
                                        "Changed", on_client_signal, cl) >= 0);
        assert_true(sd_bus_match_signal(cl->bus, NULL, "org.bridged", BUDS_PATH_A, "org.freedesktop.DBus.Properties",
                                        "PropertiesChanged", on_client_signal, cl) >= 0);
}

/* Both clients have had the Battery change (their signals read meanwhile). */
static bool clients_have_battery(struct e2e *e, void *userdata) {
        struct client *cl = userdata;

        (void) e;
        for (int i = 0; i < 3; i++)
                while (cl[i].bus && sd_bus_process(cl[i].bus, NULL) > 0)
                        ;
        return cl[0].battery && cl[1].battery && cl[2].battery;
}

/* Starts bridgectl's monitor as nobody (bridgectl_for_nobody); false when
 * this test cannot change user. */
static bool monitor_as_nobody(char *dir, pid_t *ret_pid, int *ret_fd, char *out, size_t size) {
        char cmd[1024];

        if (!bridgectl_for_nobody(dir))
                return false;
        (void) snprintf(cmd, sizeof(cmd), "exec setpriv --reuid=65534 --regid=65534 --clear-groups "
                        "env DBUS_SYSTEM_BUS_ADDRESS='%s' %s/bridgectl monitor 2>&1", testbus_address(E.tb), dir);
        assert_int_equal(e2e_spawn(&E, cmd, ret_pid, ret_fd), 0);
        if (!e2e_read_until(&E, *ret_fd, "Watching bridged", out, size, E2E_DEADLINE_USEC))
                fail_msg("monitor as nobody printed: %s", out);
        return true;
}

/* bridged never broadcasts Changed: it addresses it to each client that
 * called a method on its objects (Status, a property) and may read the
 * Shared Data at the moment of sending. A client that only listens, and
 * user nobody's monitor (which calls Status, but may not read), have the
 * Buds' Battery change that bridged sends after the edit's Changed, and no
 * Changed before it: the bus keeps bridged's messages in order for each. */
static void test_changed_addressed(void **state) {
        char dir[] = "/tmp/e2e-changed-XXXXXX", cmd[512], out[16384] = "";
        struct value v = test_profile("for watchers");
        struct client cl[3];    /* called Status, read a property, never called */
        sd_bus_message *reply = NULL;
        char *s = NULL;
        bool nobody;
        pid_t pid = 0;
        int fd = -1;

        (void) state;
        add_buds(A, FAMILY_PRO, 0x0101);
        for (int i = 0; i < 3; i++)
                client_connect(&cl[i]);
        assert_true(sd_bus_call_method(cl[0].bus, "org.bridged", "/org/bridged", "org.bridged.Manager1", "Status",
                                       NULL, &reply, NULL) >= 0);
        reply = sd_bus_message_unref(reply);
        assert_true(sd_bus_get_property_string(cl[1].bus, "org.bridged", "/org/bridged", "org.bridged.Manager1",
                                               "State", NULL, &s) >= 0);
        free(s);
        nobody = monitor_as_nobody(dir, &pid, &fd, out, sizeof(out));

        (void) set(&v);
        assert_int_equal(e2e_sim(&E, "SetBattery", NULL, "sy", A, (uint8_t) 42), 0);
        assert_true(e2e_wait(&E, clients_have_battery, cl, E2E_DEADLINE_USEC));
        /* at least the edit's (the Buds' first reading may still announce theirs) */
        assert_true(cl[0].changed >= 1);
        assert_true(cl[1].changed >= 1);
        assert_int_equal(cl[2].changed, 0);
        if (nobody) {
                if (!e2e_read_until(&E, fd, "Battery: 42", out, sizeof(out), E2E_DEADLINE_USEC))
                        fail_msg("monitor as nobody printed: %s", out);
                if (strstr(out, "for watchers"))
                        fail_msg("nobody's monitor shows the record: %s", out);
                (void) kill(pid, SIGINT);
                assert_int_equal(testbus_wait(pid, E2E_DEADLINE_USEC), 0);
                (void) close(fd);
                (void) snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
                assert_int_equal(system(cmd), 0);
        }

        /* one leaves; the next edit still reaches the other */
        cl[0].bus = sd_bus_flush_close_unref(cl[0].bus);
        cl[0].battery = 1;      /* no more to wait for */
        cl[1].changed = 0;
        v = test_profile("after one left");
        (void) set(&v);
        assert_int_equal(e2e_sim(&E, "SetBattery", NULL, "sy", A, (uint8_t) 43), 0);
        cl[1].battery = cl[2].battery = 0;
        assert_true(e2e_wait(&E, clients_have_battery, cl, E2E_DEADLINE_USEC));
        assert_true(cl[1].changed >= 1);
        assert_int_equal(cl[2].changed, 0);
        for (int i = 1; i < 3; i++)
                sd_bus_flush_close_unref(cl[i].bus);
        if (!nobody)
                skip();         /* the rest passed; nobody's part needs root and setpriv */
}

/* ---- the watchers: one user's many connections, clients that come and go ---- */

#define CROWD_MAX 300

/* In a child, as user nobody: connections to the bus, each calling Status
 * (a watcher of bridged each), until CROWD_MAX or the bus refuses one (it
 * lets one user hold 256), then "crowd: N" on fd, and they stay until the
 * child is killed. */
static _Noreturn void crowd_child(int fd) {
        char line[32];
        int n = 0;

        if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0)
                _exit(1);
        while (n < CROWD_MAX) {
                sd_bus *bus = NULL;

                if (sd_bus_new(&bus) < 0 || sd_bus_set_address(bus, testbus_address(E.tb)) < 0 ||
                    sd_bus_set_bus_client(bus, 1) < 0 || sd_bus_start(bus) < 0 ||
                    sd_bus_call_method(bus, "org.bridged", "/org/bridged", "org.bridged.Manager1", "Status", NULL,
                                       NULL, NULL) < 0) {
                        sd_bus_unref(bus);
                        break;
                }
                n++;            /* bus held, never unreferenced */
        }
        (void) snprintf(line, sizeof(line), "crowd: %d\n", n);
        if (write(fd, line, strlen(line)) < 0)
                _exit(1);
        for (;;)
                pause();
}

/* The crowd, in place: its pid, and how many connections it holds. */
static pid_t crowd_start(int *ret_n) {
        char out[64] = "";
        int fds[2];
        pid_t pid;

        assert_int_equal(testbus_open_to_others(E.tb), 0);
        assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                close(fds[0]);
                crowd_child(fds[1]);
        }
        close(fds[1]);
        if (!e2e_read_until(&E, fds[0], "\n", out, sizeof(out), E2E_DEADLINE_USEC) ||
            sscanf(out, "crowd: %d", ret_n) != 1)
                fail_msg("the crowd said: %s", out);
        close(fds[0]);
        return pid;
}

static bool client_has_changed(struct e2e *e, void *userdata) {
        struct client *cl = userdata;

        (void) e;
        while (sd_bus_process(cl->bus, NULL) > 0)
                ;
        return cl->changed > 0;
}

static void client_call_status(struct client *cl) {
        sd_bus_message *reply = NULL;

        assert_true(sd_bus_call_method(cl->bus, "org.bridged", "/org/bridged", "org.bridged.Manager1", "Status", NULL,
                                       &reply, NULL) >= 0);
        sd_bus_message_unref(reply);
}

/* One user who holds as many connections to bridged as the bus lets it
 * (user nobody here, who may not even read the records) does not keep
 * another user's client from the Changed signal: each user has a share of
 * the watchers, not all of them. */
static void test_changed_crowded(void **state) {
        struct value v = test_profile("past the crowd");
        struct client cl;
        int n = 0;
        pid_t pid;

        (void) state;
        if (geteuid() != 0)
                skip();         /* the crowd is another user's */
        pid = crowd_start(&n);
        if (n < CONTROL_WATCH_MAX)
                fail_msg("the crowd holds %d connections, fewer than bridged's %d watchers", n, CONTROL_WATCH_MAX);
        client_connect(&cl);
        client_call_status(&cl);
        (void) set(&v);
        if (!e2e_wait(&E, client_has_changed, &cl, E2E_DEADLINE_USEC))
                fail_msg("root's client had no Changed, with %d connections of user nobody watching", n);
        (void) kill(pid, SIGKILL);
        assert_true(testbus_wait(pid, E2E_DEADLINE_USEC) >= 0);
        sd_bus_flush_close_unref(cl.bus);
}

/* How many match rules bridged's connection holds, by the bus's own count
 * (org.freedesktop.DBus.Debug.Stats): one per watcher, and bridged's own.
 * -EOPNOTSUPP from a bus without the statistics. */
static int bridged_match_rules(unsigned *ret) {
        sd_bus_message *reply = NULL;
        const char *owner, *field;
        char *name = NULL;
        int r, found = -ENODATA;

        assert_true(sd_bus_call_method(E.bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                       "GetNameOwner", NULL, &reply, "s", "org.bridged") >= 0);
        assert_true(sd_bus_message_read(reply, "s", &owner) >= 0);
        name = strdup(owner);
        assert_non_null(name);
        reply = sd_bus_message_unref(reply);
        r = sd_bus_call_method(E.bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                               "org.freedesktop.DBus.Debug.Stats", "GetConnectionStats", NULL, &reply, "s", name);
        free(name);
        if (r < 0)
                return -EOPNOTSUPP;
        assert_true(sd_bus_message_enter_container(reply, 'a', "{sv}") >= 0);
        while (sd_bus_message_enter_container(reply, 'e', "sv") > 0) {
                assert_true(sd_bus_message_read(reply, "s", &field) >= 0);
                if (strcmp(field, "MatchRules") == 0) {
                        uint32_t n;

                        assert_true(sd_bus_message_read(reply, "v", "u", &n) >= 0);
                        *ret = n;
                        found = 0;
                } else {
                        assert_true(sd_bus_message_skip(reply, "v") >= 0);
                }
                assert_true(sd_bus_message_exit_container(reply) >= 0);
        }
        sd_bus_message_unref(reply);
        return found;
}

static bool match_rules_back(struct e2e *e, void *userdata) {
        const unsigned *want = userdata;
        unsigned n = 0;

        (void) e;
        return bridged_match_rules(&n) == 0 && n == *want;
}

/* Clients that call and go at once, some before bridged has their
 * credentials, some while it asks the bus whether they are still there,
 * some between a Changed and the next, and Changed sent meanwhile: bridged
 * drops each of them (its match rules, one per watcher, come back to what
 * they were), the client that stays still has Changed, and bridged ends
 * cleanly (under the sanitizers: nothing leaked, nothing used after free). */
static void test_watchers_come_and_go(void **state) {
        struct client keep;
        unsigned before = 0;
        int status;

        (void) state;
        client_connect(&keep);
        client_call_status(&keep);
        assert_int_equal(e2e_call(&E, "Status", NULL, NULL, NULL), 0);   /* the test's own, a watcher too */
        if (bridged_match_rules(&before) < 0)
                skip();         /* a bus without its statistics */
        for (int i = 0; i < 300; i++) {
                struct client cl;

                client_connect(&cl);
                if (i % 3 == 0)
                        client_call_status(&cl);
                else
                        assert_true(sd_bus_call_method_async(cl.bus, NULL, "org.bridged", "/org/bridged",
                                                             "org.bridged.Manager1", i % 3 == 1 ? "Status" : "Get",
                                                             NULL, NULL, i % 3 == 1 ? "" : "s", "profile") >= 0);
                sd_bus_flush_close_unref(cl.bus);
                if (i % 50 == 25) {
                        struct value v = test_profile(i % 100 == 25 ? "while they come" : "while they go");

                        (void) set(&v);
                }
        }
        if (!e2e_wait(&E, match_rules_back, &before, E2E_DEADLINE_USEC)) {
                unsigned after = 0;

                (void) bridged_match_rules(&after);
                fail_msg("bridged holds %u match rules, %u before 300 clients came and went", after, before);
        }
        keep.changed = 0;
        struct value v = test_profile("after they went");
        (void) set(&v);
        assert_true(e2e_wait(&E, client_has_changed, &keep, E2E_DEADLINE_USEC));
        sd_bus_flush_close_unref(keep.bus);
        status = e2e_bridged_stop(&E, SIGTERM);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                fail_msg("bridged ended with status %#x", (unsigned) status);
}

/* ---- Sync() at once from many, and bridged stopping under a Sync() ---- */

/* Every pull, not only the next: bridged's own first pull may still be to
 * come when the rule is set, and a Sync() replaces it with its own. */
#define STALL_PULLS "[{\"path\":\"/v1/sync/pull\",\"count\":1000,\"action\":\"stall\"}]"

static void faults_clear(void) {
        struct harness_resp resp = { 0 };

        assert_int_equal(harness_request(&E.server, "DELETE", "/test/faults", NULL, NULL, NULL, &resp), 0);
        assert_int_equal(resp.status, 200);
        harness_resp_clear(&resp);
}

struct sync_answer {
        bool done;
        char error[128];        /* the D-Bus error's name, "" for a success */
        char message[256];
};

static int on_sync_answer(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        struct sync_answer *a = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);

        (void) ret_error;
        (void) snprintf(a->error, sizeof(a->error), "%s", e ? e->name : "");
        (void) snprintf(a->message, sizeof(a->message), "%s", e && e->message ? e->message : "");
        a->done = true;
        return 0;
}

struct sync_wait {
        struct client *cl;
        struct sync_answer *a;
        size_t n;
};

static bool sync_answered(struct e2e *e, void *userdata) {
        struct sync_wait *w = userdata;

        (void) e;
        for (size_t i = 0; i < w->n; i++) {
                while (sd_bus_process(w->cl[i].bus, NULL) > 0)
                        ;
                if (!w->a[i].done)
                        return false;
        }
        return true;
}

/* One Sync() at a time: while the first waits on a stalled server, 20 more
 * from other clients are each refused at once (no queue for one caller to
 * fill). bridged stopping then answers the first with an error rather than
 * leaving it to its timeout, and ends cleanly. */
static void test_sync_at_stop(void **state) {
        struct client cl[21];
        struct sync_answer a[21] = { { 0 } };
        struct sync_wait w = { cl, a, 1 };
        int status;

        (void) state;
        faults(STALL_PULLS);
        for (size_t i = 0; i < 21; i++) {
                client_connect(&cl[i]);
                assert_true(sd_bus_call_method_async(cl[i].bus, NULL, "org.bridged", "/org/bridged",
                                                     "org.bridged.Manager1", "Sync", on_sync_answer, &a[i], "") >= 0);
                assert_true(sd_bus_flush(cl[i].bus) >= 0);
                if (i == 0)
                        continue;
                /* bridged reads them in order: the first is under way when this one is refused */
                w = (struct sync_wait) { &cl[i], &a[i], 1 };
                assert_true(e2e_wait(&E, sync_answered, &w, E2E_DEADLINE_USEC));
                assert_string_equal(a[i].error, "org.bridged.Error.Failed");
                assert_non_null(strstr(a[i].message, "already running"));
        }
        while (sd_bus_process(cl[0].bus, NULL) > 0)
                ;
        assert_false(a[0].done);
        status = e2e_bridged_stop(&E, SIGTERM);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                fail_msg("bridged ended with status %#x", (unsigned) status);
        w = (struct sync_wait) { cl, a, 1 };
        if (!e2e_wait(&E, sync_answered, &w, E2E_DEADLINE_USEC))
                fail_msg("the Sync() under way had no answer when bridged stopped");
        if (strcmp(a[0].error, "org.bridged.Error.Failed") != 0 || !strstr(a[0].message, "stopping"))
                fail_msg("the Sync() under way had %s: %s", a[0].error, a[0].message);
        for (size_t i = 0; i < 21; i++)
                sd_bus_flush_close_unref(cl[i].bus);
}

/* bridged's Status names the server userdata (the reload is in effect). */
static bool status_names_server(struct e2e *e, void *userdata) {
        char *status = NULL, want[160];
        bool found;

        (void) snprintf(want, sizeof(want), "\"server\":\"%s\"", (const char *) userdata);
        if (e2e_call(e, "Status", &status, NULL, NULL) < 0)
                return false;
        found = strstr(status, want) != NULL;
        free(status);
        return found;
}

/* A reload that moves bridged to another server while a Sync() waits on
 * the old one: the Sync() is answered (from the new server, unreachable
 * here), and the next one runs rather than finding one "already running". */
static void test_sync_across_reload(void **state) {
        struct client cl[2];
        struct sync_answer a[2] = { { 0 } };
        struct sync_wait w = { &cl[1], &a[1], 1 };
        char *json = NULL;

        (void) state;
        faults(STALL_PULLS);
        for (size_t i = 0; i < 2; i++) {
                client_connect(&cl[i]);
                assert_true(sd_bus_call_method_async(cl[i].bus, NULL, "org.bridged", "/org/bridged",
                                                     "org.bridged.Manager1", "Sync", on_sync_answer, &a[i], "") >= 0);
                assert_true(sd_bus_flush(cl[i].bus) >= 0);
        }
        assert_true(e2e_wait(&E, sync_answered, &w, E2E_DEADLINE_USEC));
        assert_non_null(strstr(a[1].message, "already running"));     /* the first is under way */

        (void) snprintf(E.url, sizeof(E.url), "https://127.0.0.1:9");  /* discard: nothing listens */
        assert_int_equal(e2e_bridged_reload(&E, NULL), 0);
        assert_true(e2e_wait(&E, status_names_server, E.url, E2E_DEADLINE_USEC));
        w = (struct sync_wait) { cl, a, 1 };
        if (!e2e_wait(&E, sync_answered, &w, E2E_DEADLINE_USEC))
                fail_msg("the Sync() under way had no answer after the reload");
        assert_string_equal(a[0].error, "org.bridged.Error.Offline");

        faults_clear();
        E.url[0] = '\0';
        assert_int_equal(e2e_bridged_reload(&E, NULL), 0);
        assert_true(e2e_wait(&E, status_names_server, E.server.base, E2E_DEADLINE_USEC));
        assert_int_equal(e2e_call(&E, "Sync", &json, NULL, NULL), 0);
        free(json);
        for (size_t i = 0; i < 2; i++)
                sd_bus_flush_close_unref(cl[i].bus);
}

/* ---- bridged --check-config: what a start says, and nothing started ---- */

/* Runs the built bridged with args; stdout and stderr together in out. */
static int run_bridged(const char *args, char *out, size_t size) {
        char cmd[1024];
        FILE *f;
        int status;

        (void) snprintf(cmd, sizeof(cmd), "%s/bridged/bridged %s 2>&1", getenv("BRIDGED_BUILD") ?: "build", args);
        f = popen(cmd, "re");
        assert_non_null(f);
        size_t got = fread(out, 1, size - 1, f);
        out[got] = '\0';
        status = pclose(f);
        return WEXITSTATUS(status);
}

static void test_check_config(void **state) {
        char dir[] = "/tmp/e2e-check-XXXXXX", path[128], token[128], args[300], out[1024], want[300];
        FILE *f;

        (void) state;
        assert_non_null(mkdtemp(dir));
        (void) snprintf(path, sizeof(path), "%s/bridged.conf", dir);
        (void) snprintf(token, sizeof(token), "%s/token", dir);
        f = fopen(token, "we");
        assert_non_null(f);
        fputs("s3cret\n", f);
        assert_int_equal(fclose(f), 0);
        assert_int_equal(chmod(token, 0600), 0);
        (void) snprintf(args, sizeof(args), "--check-config --config %s", path);

        f = fopen(path, "we");
        assert_non_null(f);
        fprintf(f, "[Server]\nUrl=https://sync.example.com\nTokenFile=%s\n", token);
        assert_int_equal(fclose(f), 0);
        assert_int_equal(run_bridged(args, out, sizeof(out)), 0);
        (void) snprintf(want, sizeof(want), "%s: good\n", path);
        assert_string_equal(out, want);

        f = fopen(path, "we");
        assert_non_null(f);
        fprintf(f, "[Server]\nUrl=https://sync.example.com\nPullIntervalSec=2\nTokenFile=%s\n", token);
        assert_int_equal(fclose(f), 0);
        assert_int_equal(run_bridged(args, out, sizeof(out)), 78);
        (void) snprintf(want, sizeof(want), "%s:3: PullIntervalSec=2 is outside 5..86400", path);
        if (!strstr(out, want))
                fail_msg("expected \"%s\" in: %s", want, out);

        /* The token is checked as a start checks it. */
        f = fopen(path, "we");
        assert_non_null(f);
        fprintf(f, "[Server]\nUrl=https://sync.example.com\nTokenFile=%s/none\n", dir);
        assert_int_equal(fclose(f), 0);
        assert_int_equal(run_bridged(args, out, sizeof(out)), 78);
        assert_non_null(strstr(out, "cannot open the token file"));

        (void) snprintf(args, sizeof(args), "rm -rf '%s'", dir);
        assert_int_equal(system(args), 0);
}

/* ---- SIGHUP: a bad configuration keeps the old one, a good one takes effect ---- */

static void test_reload(void **state) {
        struct record r1, r2;
        char *status = NULL;

        (void) state;
        add_buds(A, FAMILY_PRO, 0x0101);
        assert_int_equal(e2e_bridged_reload(&E, "[Server]\nUrl=http://plain.example\n[Sync]\nBogus=1\n"), 0);
        /* still serving, with the old settings */
        struct value v1 = test_profile("after a bad reload");
        r1 = set(&v1);
        wait_converged(A, KEY_PROFILE, &r1);
        assert_int_equal(e2e_call(&E, "Status", &status, NULL, NULL), 0);
        assert_non_null(strstr(status, E.server.base));
        free(status);
        /* a good one: the pull interval instead of the long poll, a debounce */
        E.long_poll = false;
        E.push_debounce_ms = 50;
        assert_int_equal(e2e_bridged_reload(&E, NULL), 0);
        struct value v2 = test_profile("after a good reload");
        r2 = set(&v2);
        wait_converged(A, KEY_PROFILE, &r2);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_online, setup, teardown),
                cmocka_unit_test_setup_teardown(test_offline_restart, setup, teardown),
                cmocka_unit_test_setup_teardown(test_phone_switch, setup, teardown),
                cmocka_unit_test_setup_teardown(test_buds_switch, setup, teardown),
                cmocka_unit_test_setup_teardown(test_conflict_and_restore, setup, teardown),
                cmocka_unit_test_setup_teardown(test_server_failures, setup, teardown),
                cmocka_unit_test_setup_teardown(test_malformed_buds_value, setup, teardown),
                cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
                cmocka_unit_test_setup_teardown(test_partial_edits, setup, teardown),
                cmocka_unit_test_setup_teardown(test_buds_objects, setup, teardown),
                cmocka_unit_test_setup_teardown(test_monitor, setup, teardown),
                cmocka_unit_test_setup_teardown(test_access_others, setup, teardown),
                cmocka_unit_test_setup_teardown(test_changed_addressed, setup, teardown),
                cmocka_unit_test_setup_teardown(test_changed_crowded, setup, teardown),
                cmocka_unit_test_setup_teardown(test_watchers_come_and_go, setup, teardown),
                cmocka_unit_test_setup_teardown(test_sync_at_stop, setup, teardown),
                cmocka_unit_test_setup_teardown(test_sync_across_reload, setup, teardown),
                cmocka_unit_test(test_check_config),
                cmocka_unit_test_setup_teardown(test_reload, setup, teardown),
                cmocka_unit_test_setup_teardown(test_kill9_rounds, setup, teardown),
        };
        /* E2E_HAPROXY=1 (test-scenarios-haproxy.sh): the four scenarios of one
         * service, with bridged through HAProxy to two syncd on one
         * PostgreSQL database; the others drive one syncd's fault hooks */
        const struct CMUnitTest balanced[] = {
                cmocka_unit_test_setup_teardown(test_online, setup, teardown),
                cmocka_unit_test_setup_teardown(test_offline_restart, setup, teardown),
                cmocka_unit_test_setup_teardown(test_phone_switch, setup, teardown),
                cmocka_unit_test_setup_teardown(test_buds_switch, setup, teardown),
        };

        if (getenv("E2E_ONLY"))
                cmocka_set_test_filter(getenv("E2E_ONLY"));    /* e.g. E2E_ONLY=test_online */
        if (getenv("E2E_HAPROXY"))
                return cmocka_run_group_tests_name("through HAProxy to two syncd", balanced, NULL, NULL);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
