/* SPDX-License-Identifier: MIT */
/* One list per step. Every connection in a timed step got there at or after
 * every connection before it in the same list, and a step's timeout is the
 * same for all, so each list is in deadline order: the next deadline is at a
 * list's head, and expiring pops heads. O(1) for every step change. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "conns.h"

struct conns_entry {
        struct conns_entry *prev, *next;
        enum conns_step step;
        uint64_t since_ms;
        int fd;
        void *data;
};

struct conns_list {
        struct conns_entry *head, *tail;
        size_t n;
};

struct conns {
        struct conns_list lists[CONNS_STEP_MAX];
        uint64_t timeout_ms[CONNS_STEP_MAX];    /* 0: untimed */
        struct counters *counters;
};

int conns_new(const struct conns_timeouts *t, struct counters *counters, struct conns **ret) {
        struct conns *cs = calloc(1, sizeof(*cs));

        if (!cs)
                return -ENOMEM;
        cs->timeout_ms[CONNS_HEADERS] = t->headers_ms;
        cs->timeout_ms[CONNS_TRANSFER] = t->transfer_ms;
        cs->timeout_ms[CONNS_IDLE] = t->idle_ms;
        cs->counters = counters;
        *ret = cs;
        return 0;
}

struct conns *conns_free(struct conns *cs) {
        if (!cs)
                return NULL;
        for (size_t i = 0; i < CONNS_STEP_MAX; i++)
                while (cs->lists[i].head)
                        conns_remove(cs, cs->lists[i].head);
        free(cs);
        return NULL;
}

static void conns_unlink(struct conns *cs, struct conns_entry *e) {
        struct conns_list *l = &cs->lists[e->step];

        if (e->prev)
                e->prev->next = e->next;
        else
                l->head = e->next;
        if (e->next)
                e->next->prev = e->prev;
        else
                l->tail = e->prev;
        e->prev = e->next = NULL;
        l->n--;
}

static void conns_append(struct conns *cs, struct conns_entry *e, enum conns_step step, uint64_t now_ms) {
        struct conns_list *l = &cs->lists[step];

        e->step = step;
        e->since_ms = now_ms;
        e->prev = l->tail;
        if (l->tail)
                l->tail->next = e;
        else
                l->head = e;
        l->tail = e;
        l->n++;
}

int conns_add(struct conns *cs, int fd, uint64_t now_ms, struct conns_entry **ret) {
        struct conns_entry *e = calloc(1, sizeof(*e));

        if (!e)
                return -ENOMEM;
        e->fd = fd;
        conns_append(cs, e, CONNS_HEADERS, now_ms);
        *ret = e;
        return 0;
}

void conns_remove(struct conns *cs, struct conns_entry *e) {
        if (!e)
                return;
        conns_unlink(cs, e);
        free(e);
}

void conns_step(struct conns *cs, struct conns_entry *e, enum conns_step step, uint64_t now_ms) {
        if (!e || e->step == CONNS_CLOSING)
                return;
        conns_unlink(cs, e);
        conns_append(cs, e, step, now_ms);
}

int conns_timeout_ms(const struct conns *cs, uint64_t now_ms) {
        uint64_t next = UINT64_MAX;

        for (size_t i = 0; i < CONNS_STEP_MAX; i++)
                if (cs->timeout_ms[i] && cs->lists[i].head && cs->lists[i].head->since_ms + cs->timeout_ms[i] < next)
                        next = cs->lists[i].head->since_ms + cs->timeout_ms[i];
        if (next == UINT64_MAX)
                return -1;
        return next <= now_ms ? 0 : (int) (next - now_ms);
}

/* Both ways: a reader sees the end of its stream, a writer an error, so
 * libmicrohttpd closes the connection whatever it was doing. */
static void conns_cut(struct conns *cs, struct conns_entry *e, uint64_t now_ms) {
        if (e->step == CONNS_IDLE)
                cs->counters->idle_closed++;
        else
                cs->counters->deadlines_cut++;
        (void) shutdown(e->fd, SHUT_RDWR);
        conns_step(cs, e, CONNS_CLOSING, now_ms);
}

void conns_expire(struct conns *cs, uint64_t now_ms) {
        for (size_t i = 0; i < CONNS_STEP_MAX; i++) {
                struct conns_list *l = &cs->lists[i];

                while (cs->timeout_ms[i] && l->head && l->head->since_ms + cs->timeout_ms[i] <= now_ms)
                        conns_cut(cs, l->head, now_ms);
        }
}

size_t conns_live(const struct conns *cs) {
        size_t n = 0;

        for (size_t i = 0; i < CONNS_STEP_MAX; i++)
                if (i != CONNS_CLOSING)
                        n += cs->lists[i].n;
        return n;
}

void conns_entry_set_data(struct conns_entry *e, void *data) {
        e->data = data;
}

void *conns_entry_data(const struct conns_entry *e) {
        return e->data;
}
