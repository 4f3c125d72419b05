/* SPDX-License-Identifier: MIT */
/* A FIFO of suspended writes, and when to commit it. Must never resume a
 * member before the transaction that holds its write has ended, and never
 * leave one suspended once group_commit returns: libmicrohttpd cannot stop
 * with a connection still suspended. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "group.h"
#include "now.h"

struct group_member {
        struct group_member *next;
        struct MHD_Connection *connection;
        struct group_write w;
};

struct group {
        struct store *store;
        struct group_member *head, **tail;
        size_t n;
        size_t expect;                  /* the last group's size */
        uint64_t first_us;              /* when the first member joined */
        uint64_t wait_us;               /* half the last commit's duration, capped */
        group_observe_fn observe;
        void *observe_userdata;
};

int group_new(struct store *store, struct group **ret) {
        struct group *g = calloc(1, sizeof(*g));

        if (!g)
                return -ENOMEM;
        g->store = store;
        g->tail = &g->head;
        *ret = g;
        return 0;
}

struct group *group_free(struct group *g) {
        if (!g)
                return NULL;
        while (g->head) {
                struct group_member *m = g->head;

                g->head = m->next;
                free(m);
        }
        free(g);
        return NULL;
}

int group_join(struct group *g, struct MHD_Connection *c, const struct group_write *w) {
        struct group_member *m = calloc(1, sizeof(*m));

        if (!m)
                return -ENOMEM;
        m->connection = c;
        m->w = *w;
        if (!g->head)
                g->first_us = now_us(CLOCK_MONOTONIC);
        *g->tail = m;
        g->tail = &m->next;
        g->n++;
        MHD_suspend_connection(c);
        return 0;
}

void group_set_observer(struct group *g, group_observe_fn fn, void *userdata) {
        g->observe = fn;
        g->observe_userdata = userdata;
}

bool group_empty(const struct group *g) {
        return !g->head;
}

int group_timeout_ms(const struct group *g) {
        uint64_t now = now_us(CLOCK_MONOTONIC);

        if (!g->head)
                return -1;
        if (g->n >= g->expect || now >= g->first_us + g->wait_us)
                return 0;
        return (int) ((g->first_us + g->wait_us - now + 999) / 1000);
}

static int group_account_cmp(const void *a, const void *b) {
        return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* Every member's account, each once, in byte order: two syncd on one
 * database whose groups share accounts take them in the same order, so
 * neither waits for the other in a cycle. */
static int group_lock_accounts(struct group *g, size_t n) {
        const char *accounts[GROUP_MAX];
        struct group_member *m = g->head;
        int r = 0;

        for (size_t i = 0; i < n; i++, m = m->next)
                accounts[i] = m->w.account;
        qsort(accounts, n, sizeof(accounts[0]), group_account_cmp);
        for (size_t i = 0; r >= 0 && i < n; i++)
                if (i == 0 || strcmp(accounts[i], accounts[i - 1]) != 0)
                        r = store_account_lock(g->store, accounts[i]);
        return r;
}

/* One transaction for the first n members. */
static int group_apply(struct group *g, size_t n) {
        struct group_member *m = g->head;
        int r;

        r = store_begin(g->store);
        if (r >= 0)
                r = group_lock_accounts(g, n);
        for (; r >= 0 && n > 0; n--, m = m->next)
                r = m->w.apply(m->w.userdata);
        if (r >= 0)
                r = store_commit(g->store);
        if (r < 0)
                store_rollback(g->store);
        return r;
}

static int group_commit_some(struct group *g) {
        size_t n = g->n < GROUP_MAX ? g->n : GROUP_MAX;
        uint64_t t0 = now_us(CLOCK_MONOTONIC), took;
        int r;

        r = group_apply(g, n);
        if (r == -EDEADLK)      /* PostgreSQL chose this transaction to end a deadlock: once more */
                r = group_apply(g, n);
        took = now_us(CLOCK_MONOTONIC) - t0;
        g->wait_us = took / 2 < GROUP_WAIT_MAX_US ? took / 2 : GROUP_WAIT_MAX_US;
        g->expect = n;
        if (g->observe)
                g->observe(g->observe_userdata, n, took, r);
        g->n -= n;
        for (; n > 0; n--) {
                struct group_member *m = g->head;

                g->head = m->next;
                m->w.done(m->w.userdata, r);
                MHD_resume_connection(m->connection);
                free(m);
        }
        if (!g->head)
                g->tail = &g->head;
        return r;
}

int group_commit(struct group *g) {
        int r = 0;

        while (g->head) {
                int k = group_commit_some(g);

                if (k < 0 && r == 0)
                        r = k;
        }
        return r;
}
