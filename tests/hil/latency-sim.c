/* SPDX-License-Identifier: MIT */
/* hil-latency-sim: the Buds-change-to-server latency of hil-scenarios'
 * "latency" scenario, measured the same way on the simulator: budsim on a
 * private bus, syncd over TLS and bridged (tests/e2e's harness), ten
 * changes on the Buds each awaited on the server, then bridged's own
 * figure from Stats (latency_ms.buds_to_server). Prints one FIGURE line;
 * exit 0, or 1 with a reason. Run from the top of the tree. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "tests/e2e/e2e.h"

#define ADDRESS "AA:BB:CC:DD:EE:01"

struct want {
        struct value v;
};

static bool cond_ready(struct e2e *e, void *userdata) {
        char *status = NULL;
        bool ok;

        (void) userdata;
        if (e2e_call(e, "Status", &status, NULL, NULL) < 0)
                return false;
        ok = strstr(status, "\"connected\":true") != NULL;
        free(status);
        return ok;
}

static bool cond_on_server(struct e2e *e, void *userdata) {
        const struct want *w = userdata;
        struct record server;

        return e2e_converged(e, ADDRESS, w->v.key, NULL) &&
               e2e_server_record(e, w->v.key, w->v.family, &server) == 0 && value_equal(&server.value, &w->v);
}

static int measure(struct e2e *e) {
        char *stats = NULL;
        cJSON *doc, *l;

        if (e2e_sim_add_buds(e, ADDRESS, "Buds", FAMILY_PRO, 0x0101) < 0 ||
            !e2e_wait(e, cond_ready, NULL, E2E_DEADLINE_USEC))
                return fprintf(stderr, "hil-latency-sim: the Buds did not get ready\n"), 1;
        for (unsigned i = 0; i < 10; i++) {
                struct want w;

                value_init(&w.v, KEY_PROFILE, FAMILY_ANY);
                w.v.profile.name_len = (uint8_t) snprintf(w.v.profile.name, sizeof(w.v.profile.name),
                                                          "latency %u", i);
                if (e2e_sim_touch(e, ADDRESS, &w.v) < 0 || !e2e_wait(e, cond_on_server, &w, E2E_DEADLINE_USEC))
                        return fprintf(stderr, "hil-latency-sim: change %u did not reach the server\n", i), 1;
        }
        if (e2e_call(e, "Stats", &stats, NULL, NULL) < 0)
                return fprintf(stderr, "hil-latency-sim: Stats failed\n"), 1;
        doc = cJSON_Parse(stats);
        l = cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "latency_ms"), "buds_to_server");
        printf("FIGURE latency buds_to_server simulator p50=%.0f ms p99=%.0f ms n=%.0f (bridged Stats)\n",
               cJSON_GetNumberValue(cJSON_GetObjectItem(l, "p50")), cJSON_GetNumberValue(cJSON_GetObjectItem(l, "p99")),
               cJSON_GetNumberValue(cJSON_GetObjectItem(l, "n")));
        cJSON_Delete(doc);
        free(stats);
        return 0;
}

int main(void) {
        struct e2e e;
        int r = e2e_start(&e, false);

        if (r < 0) {
                fprintf(stderr, "hil-latency-sim: cannot start the simulated rig: %s\n", strerror(-r));
                e2e_stop(&e);
                return 1;
        }
        r = measure(&e);
        e2e_stop(&e);
        return r;
}
