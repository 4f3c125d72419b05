/* SPDX-License-Identifier: MIT */
/* control-watch.h's set. One sd_bus_track per watcher: its handler runs when
 * that one name leaves the bus, which drops the watcher and its match. A
 * few watchers (a monitor, an applet, a command running): a linear pass is
 * the whole cost of a lookup. Knows nothing of who may: the check is the
 * caller's. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "control-watch.h"

struct watcher {
        struct control_watch *w;
        sd_bus_track *track;
        char *name;
        struct access_caller caller;    /* its gids: a copy, owned */
};

struct control_watch {
        sd_bus *bus;
        size_t max, max_per_user, n;
        struct watcher **all;
};

static struct watcher *watcher_free(struct watcher *p) {
        if (!p)
                return NULL;
        sd_bus_track_unref(p->track);
        free((gid_t *) p->caller.gids);
        free(p->name);
        free(p);
        return NULL;
}

static size_t watch_index(const struct control_watch *w, const char *name) {
        size_t i = 0;

        while (i < w->n && strcmp(w->all[i]->name, name) != 0)
                i++;
        return i;
}

/* The name left the bus (or the connection closed). */
static int on_left(sd_bus_track *track, void *userdata) {
        struct watcher *p = userdata;
        struct control_watch *w = p->w;
        size_t i = watch_index(w, p->name);

        (void) track;
        if (i < w->n)
                w->all[i] = w->all[--w->n];
        watcher_free(p);
        return 0;
}

int control_watch_new(sd_bus *bus, size_t max, size_t max_per_user, struct control_watch **ret) {
        struct control_watch *w = calloc(1, sizeof(*w));

        if (!w)
                return -ENOMEM;
        w->all = calloc(max ? max : 1, sizeof(*w->all));
        if (!w->all) {
                free(w);
                return -ENOMEM;
        }
        w->bus = sd_bus_ref(bus);
        w->max = max;
        w->max_per_user = max_per_user;
        *ret = w;
        return 0;
}

struct control_watch *control_watch_free(struct control_watch *w) {
        if (!w)
                return NULL;
        for (size_t i = 0; i < w->n; i++)
                watcher_free(w->all[i]);
        free(w->all);
        sd_bus_unref(w->bus);
        free(w);
        return NULL;
}

static int watcher_new(struct control_watch *w, const char *name, const struct access_caller *caller,
                       struct watcher **ret) {
        struct watcher *p = calloc(1, sizeof(*p));
        gid_t *gids = caller->n_gids ? calloc(caller->n_gids, sizeof(gid_t)) : NULL;

        if (!p || (caller->n_gids && !gids) || !(p->name = strdup(name))) {
                free(gids);
                watcher_free(p);
                return -ENOMEM;
        }
        if (gids)
                memcpy(gids, caller->gids, caller->n_gids * sizeof(gid_t));
        p->w = w;
        p->caller = *caller;
        p->caller.gids = gids;
        p->caller.on_active_seat = false;       /* asked at each send, never kept */
        *ret = p;
        return 0;
}

static size_t watch_count_user(const struct control_watch *w, uid_t uid) {
        size_t n = 0;

        for (size_t i = 0; i < w->n; i++)
                n += w->all[i]->caller.uid == uid;
        return n;
}

int control_watch_add(struct control_watch *w, const char *name, const struct access_caller *caller) {
        struct watcher *p = NULL;
        int r;

        if (watch_index(w, name) < w->n)
                return 0;
        if (w->n >= w->max)
                return -EUSERS;
        if (watch_count_user(w, caller->uid) >= w->max_per_user)
                return -EDQUOT;
        r = watcher_new(w, name, caller, &p);
        if (r < 0)
                return r;
        r = sd_bus_track_new(w->bus, &p->track, on_left, p);
        /* asks the bus whether the name is still there: one that left
         * before the match was in place would never be seen leaving */
        if (r >= 0)
                r = sd_bus_track_add_name(p->track, name);
        if (r < 0) {
                watcher_free(p);
                return r;
        }
        w->all[w->n++] = p;
        return 1;
}

const struct access_caller *control_watch_find(const struct control_watch *w, const char *name) {
        size_t i = watch_index(w, name);

        return i < w->n ? &w->all[i]->caller : NULL;
}

size_t control_watch_count(const struct control_watch *w) {
        return w->n;
}

static int watch_send(struct control_watch *w, const char *destination, const char *path, const char *interface,
                      const char *member, const char *types, va_list ap) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r = sd_bus_message_new_signal(w->bus, &m, path, interface, member);

        if (r >= 0)
                r = sd_bus_message_set_destination(m, destination);
        if (r >= 0)
                r = sd_bus_message_appendv(m, types, ap);
        if (r >= 0)
                r = sd_bus_send(w->bus, m, NULL);
        return r;
}

int control_watch_signal(struct control_watch *w, control_watch_check_t check, void *userdata, const char *path,
                         const char *interface, const char *member, const char *types, ...) {
        int r, sent = 0;

        /* neither the check nor sd_bus_send dispatches the bus: no
         * watcher leaves during the pass */
        for (size_t i = 0; i < w->n; i++) {
                va_list ap;

                if (!check(&w->all[i]->caller, userdata))
                        continue;
                va_start(ap, types);
                r = watch_send(w, w->all[i]->name, path, interface, member, types, ap);
                va_end(ap);
                if (r < 0)
                        return r;
                sent++;
        }
        return sent;
}
