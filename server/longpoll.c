/* SPDX-License-Identifier: MIT */
/* One list of waiters; a push wakes every waiter of its account in one pass,
 * resuming each connection (libmicrohttpd then calls the request's handler
 * again, which reads the state). A waiter is resumed at most once: the state
 * leaves LONGPOLL_WAITING exactly when MHD_resume_connection is called. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "longpoll.h"

struct longpoll_waiter {
        struct longpoll_waiter *prev, *next;
        struct MHD_Connection *connection;
        const char *account;
        uint64_t deadline_ms;
        enum longpoll_state state;
};

struct longpoll {
        struct longpoll_waiter *head;
        size_t parked;
        size_t n;
};

int longpoll_new(struct longpoll **ret) {
        struct longpoll *lp = calloc(1, sizeof(*lp));

        if (!lp)
                return -ENOMEM;
        *ret = lp;
        return 0;
}

struct longpoll *longpoll_free(struct longpoll *lp) {
        if (!lp)
                return NULL;
        while (lp->head)
                longpoll_waiter_free(lp, lp->head);
        free(lp);
        return NULL;
}

int longpoll_park(struct longpoll *lp, struct MHD_Connection *c, const char *account, uint64_t deadline_ms,
                  struct longpoll_waiter **ret) {
        struct longpoll_waiter *w = calloc(1, sizeof(*w));

        if (!w)
                return -ENOMEM;
        *w = (struct longpoll_waiter) {
                .next = lp->head,
                .connection = c,
                .account = account,
                .deadline_ms = deadline_ms,
                .state = LONGPOLL_WAITING,
        };
        if (lp->head)
                lp->head->prev = w;
        lp->head = w;
        lp->parked++;
        lp->n++;
        MHD_suspend_connection(c);
        *ret = w;
        return 0;
}

enum longpoll_state longpoll_waiter_state(const struct longpoll_waiter *w) {
        return w->state;
}

void longpoll_waiter_free(struct longpoll *lp, struct longpoll_waiter *w) {
        if (!w)
                return;
        if (w->prev)
                w->prev->next = w->next;
        else
                lp->head = w->next;
        if (w->next)
                w->next->prev = w->prev;
        if (w->state == LONGPOLL_WAITING)
                lp->parked--;
        lp->n--;
        free(w);
}

static void longpoll_resume(struct longpoll *lp, struct longpoll_waiter *w, enum longpoll_state state) {
        w->state = state;
        lp->parked--;
        MHD_resume_connection(w->connection);
}

void longpoll_wake(struct longpoll *lp, const char *account) {
        for (struct longpoll_waiter *w = lp->head; w; w = w->next)
                if (w->state == LONGPOLL_WAITING && w->account && strcmp(w->account, account) == 0)
                        longpoll_resume(lp, w, LONGPOLL_CHANGED);
}

void longpoll_expire(struct longpoll *lp, uint64_t now_ms) {
        for (struct longpoll_waiter *w = lp->head; w; w = w->next)
                if (w->state == LONGPOLL_WAITING && w->deadline_ms <= now_ms)
                        longpoll_resume(lp, w, LONGPOLL_TIMED_OUT);
}

void longpoll_stop_all(struct longpoll *lp) {
        for (struct longpoll_waiter *w = lp->head; w; w = w->next)
                if (w->state == LONGPOLL_WAITING)
                        longpoll_resume(lp, w, LONGPOLL_STOPPING);
}

int longpoll_timeout_ms(const struct longpoll *lp, uint64_t now_ms) {
        uint64_t next = UINT64_MAX;

        for (const struct longpoll_waiter *w = lp->head; w; w = w->next)
                if (w->state == LONGPOLL_WAITING && w->deadline_ms < next)
                        next = w->deadline_ms;
        if (next == UINT64_MAX)
                return -1;
        return next <= now_ms ? 0 : (int) (next - now_ms);
}

size_t longpoll_parked(const struct longpoll *lp) {
        return lp->parked;
}

size_t longpoll_waiters(const struct longpoll *lp) {
        return lp->n;
}
