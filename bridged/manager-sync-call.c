/* SPDX-License-Identifier: MIT */
/* The one-shot Sync(): push and pull now without retrying, and answer once
 * the server part is done and the Buds writes it caused have landed. It
 * borrows the sync loop (manager-sync.c) and hands it back. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "manager-private.h"

void manager_sync_free(struct sync_call *s) {
        if (s) {
                free(s->message);
                free(s);
        }
}

/* Ends the Sync() call once the server part is done and the Buds writes it
 * caused have landed. */
void manager_sync_finish(struct manager *m) {
        struct sync_call *s = m->sync;
        char json[128];

        if (!s || m->pull_id || m->push_id)
                return;
        if (!s->error && (m->pull_wanted || (m->push_wanted && !m->halted)) && !m->halted)
                return;
        if (s->writes_pending > 0 && !s->error)
                return;
        m->sync = NULL;
        if (m->halted && !s->error)
                s->error = -EACCES;
        (void) snprintf(json, sizeof(json), "{\"pushed\":%u,\"pulled\":%u,\"written_to_buds\":%u}", s->pushed,
                        s->pulled, s->written);
        if (s->error)
                s->done(s->error, NULL, s->message ? s->message : m->halted ? m->halted : "failed", s->userdata);
        else
                s->done(0, json, NULL, s->userdata);
        manager_sync_free(s);
        manager_kick(m);                        /* back to the background loop */
}

void manager_sync_write_done(struct manager *m, bool ok) {
        if (!m->sync || m->sync->writes_pending == 0)
                return;
        m->sync->writes_pending--;
        m->sync->written += ok;
        manager_sync_finish(m);
}

static bool offline_error(int r) {
        return r == -ECONNREFUSED || r == -EHOSTUNREACH || r == -ECONNRESET || r == -ETIMEDOUT ||
               r == -EKEYREJECTED || r == -EIO || r == -EAGAIN || r == -EBUSY || r == -EPROTO || r == -ENETDOWN;
}

static void on_sync_done_map(int r, const char *json, const char *error, void *userdata) {
        struct sync_call *outer = userdata;

        outer->done(r < 0 && offline_error(r) ? -ENETDOWN : r, json, error, outer->userdata);
        free(outer);
}

/* The background calls may be retrying for minutes: a one-shot replaces
 * them. Cancelling runs no callback, so this clears their ids; the pull and
 * the push both go again in this Sync() (pull_wanted and push_wanted are
 * set), the push under the same Idempotency-Key and body (the engine keeps
 * the push in flight), so a push the server had already applied is only
 * answered again. */
static void sync_replace_background(struct manager *m) {
        if (m->pull_id) {
                (void) uplink_cancel(m->uplink, m->pull_id);
                m->pull_id = 0;
        }
        if (m->push_id) {
                (void) uplink_cancel(m->uplink, m->push_id);
                m->push_id = 0;
        }
}

int manager_sync(struct manager *m, manager_sync_fn done, void *userdata) {
        struct sync_call *s, *outer;

        if (m->sync)
                return -EBUSY;
        if (m->halted)
                return -EPERM;
        s = calloc(1, sizeof(*s));
        outer = calloc(1, sizeof(*outer));
        if (!s || !outer) {
                free(s);
                free(outer);
                return -ENOMEM;
        }
        outer->done = done;
        outer->userdata = userdata;
        s->done = on_sync_done_map;
        s->userdata = outer;
        m->sync = s;
        m->pull_wanted = true;
        m->push_wanted = true;
        if (m->debounce)
                (void) sd_event_source_set_enabled(m->debounce, SD_EVENT_OFF);
        if (m->cooldown)
                (void) sd_event_source_set_enabled(m->cooldown, SD_EVENT_OFF);
        sync_replace_background(m);
        manager_kick(m);                        /* with m->sync set: one-shot calls */
        return 0;
}
