/* End-to-end regressions of bugs the real stack showed (tests/hil): each
 * test names the bug it keeps fixed. Same harness as test-scenarios.c. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "e2e.h"

#define A "AA:BB:CC:DD:EE:01"

static struct e2e E;

static int setup(void **state) {
        int r = e2e_start(&E, true);

        (void) state;
        if (r == -ENOENT)
                skip();
        assert_int_equal(r, 0);
        return 0;
}

static int teardown(void **state) {
        (void) state;
        e2e_stop(&E);
        return 0;
}

static struct value profile(const char *name) {
        struct value v;

        value_init(&v, KEY_PROFILE, FAMILY_ANY);
        v.profile.name_len = (uint8_t) strlen(name);
        memcpy(v.profile.name, name, v.profile.name_len);
        return v;
}

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

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_change_before_ready_is_measured, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
