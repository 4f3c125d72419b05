/* SPDX-License-Identifier: MIT */
/* The device registry (Server Data): this host and every Buds it knows, put
 * to the server a moment after anything about them changed, one round at a
 * time. Best effort: a failure is logged at debug level and retried by the
 * next change. */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/event-timer.h"
#include "log.h"
#include "manager-private.h"

#define REGISTRY_DELAY_USEC (2 * UINT64_C(1000000))

static void on_registry_done(struct uplink *u, int r, const char *error, void *userdata) {
        struct manager *m = userdata;

        (void) u;
        if (m->registry_busy > 0)
                m->registry_busy--;
        if (r < 0)
                log_debug("Updating the device registry failed: %s", error);
        if (m->registry_busy == 0 && m->registry_dirty)
                manager_registry_touch(m);
}

/* The calls' ids are not kept: none is cancelled alone, and freeing the
 * uplink (reload, stop) drops them all. */
static int put_device(struct manager *m, const struct uplink_device *d) {
        int r = uplink_put_device(m->uplink, d, 0, on_registry_done, m, NULL);

        if (r < 0)
                return r;
        m->registry_busy++;
        return 0;
}

static int on_registry(sd_event_source *s, uint64_t usec, void *userdata) {
        struct manager *m = userdata;
        struct store_buds *all = NULL;
        char host[256] = "";
        size_t n = 0;

        (void) s;
        (void) usec;
        if (m->registry_busy > 0)
                return 0;       /* a round is still retrying: its end runs the next one */
        m->registry_dirty = false;
        (void) gethostname(host, sizeof(host) - 1);
        host[64] = '\0';        /* the registry takes at most 64 bytes */
        (void) put_device(m, &(struct uplink_device) { .id = engine_node_id(m->engine), .kind = UPLINK_DEVICE_HOST,
                                                       .name = host, .battery = -1, .last_seen_ms = manager_wall_ms(NULL) });
        if (store_buds_list(m->store, &all, &n) < 0)
                return 0;
        for (size_t i = 0; i < n; i++) {
                struct store_buds *b = &all[i];
                if (!b->buds_id)
                        continue;
                b->name[64] = '\0';
                (void) put_device(m, &(struct uplink_device) {
                        .id = b->buds_id, .kind = UPLINK_DEVICE_BUDS, .has_family = b->family != FAMILY_ANY,
                        .family = b->family, .model = b->model[0] ? b->model : NULL,
                        .firmware = b->firmware[0] ? b->firmware : NULL, .serial = b->serial[0] ? b->serial : NULL,
                        .name = b->name[0] ? b->name : NULL, .battery = b->battery,
                        .last_seen_ms = manager_find_buds(m, b->address) && manager_find_buds(m, b->address)->ready ?
                                                manager_wall_ms(NULL) : b->last_seen_ms });
        }
        free(all);
        return 0;
}

void manager_registry_touch(struct manager *m) {
        m->registry_dirty = true;
        if (event_source_is_armed(m->registry))
                return;
        (void) event_reset_time(m->event, &m->registry, CLOCK_MONOTONIC, manager_now_usec(m) + REGISTRY_DELAY_USEC, 0,
                                on_registry, m);
}
