/* SPDX-License-Identifier: MIT */
/* One list of waiters, oldest first; a push wakes every waiter of its account
 * in one pass, resuming each connection whose sequence it passed
 * (libmicrohttpd then calls the request's handler again, which reads the
 * state). A waiter left parked keeps its place in the list, so shedding still
 * takes the oldest first, and its deadline. A waiter is resumed at most
 * once: the state leaves LONGPOLL_WAITING exactly when MHD_resume_connection
 * is called. libmicrohttpd does not poll a suspended connection, so it would
 * never notice its client hang up: each parked connection's descriptor sits
 * in an epoll set of our own, watched for the peer's end of stream
 * (EPOLLRDHUP) until it is resumed. */
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "longpoll.h"

#define LONGPOLL_HANGUPS_BATCH 64

/* The client's address without its port: what the per-address limit counts. */
struct longpoll_addr {
        sa_family_t family;
        unsigned char bytes[16];
};

struct longpoll_waiter {
        struct longpoll_waiter *prev, *next;
        struct MHD_Connection *connection;
        const char *account;
        uint64_t since;                 /* the sequence number the client has seen */
        uint64_t deadline_ms;
        enum longpoll_state state;
        uint64_t pass;                  /* the longpoll_check that last settled it */
        struct longpoll_addr addr;
        int fd;                         /* watched for hang-up while parked; -1: not */
};

struct longpoll {
        struct longpoll_waiter *head, *tail;
        size_t parked;
        size_t n;
        struct longpoll_limits limits;
        struct counters *counters;
        int epoll_fd;
        uint64_t pass;                  /* never wraps: 0 is "not settled yet" */
        bool stopping;                  /* no more parking: a kept-alive client's next wait would outlive the stop */
};

int longpoll_new(const struct longpoll_limits *limits, struct counters *counters, struct longpoll **ret) {
        struct longpoll *lp = calloc(1, sizeof(*lp));

        if (!lp)
                return -ENOMEM;
        lp->limits = *limits;
        lp->counters = counters;
        lp->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
        if (lp->epoll_fd < 0) {
                int r = -errno;

                free(lp);
                return r;
        }
        *ret = lp;
        return 0;
}

struct longpoll *longpoll_free(struct longpoll *lp) {
        if (!lp)
                return NULL;
        while (lp->head)
                longpoll_waiter_free(lp, lp->head);
        (void) close(lp->epoll_fd);
        free(lp);
        return NULL;
}

static void longpoll_addr_of(struct MHD_Connection *c, struct longpoll_addr *ret) {
        const union MHD_ConnectionInfo *info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        const struct sockaddr *sa = info ? info->client_addr : NULL;

        *ret = (struct longpoll_addr) {};
        if (sa && sa->sa_family == AF_INET) {
                ret->family = AF_INET;
                memcpy(ret->bytes, &((const struct sockaddr_in *) sa)->sin_addr, 4);
        } else if (sa && sa->sa_family == AF_INET6) {
                ret->family = AF_INET6;
                memcpy(ret->bytes, &((const struct sockaddr_in6 *) sa)->sin6_addr, 16);
        }
}

static bool longpoll_addr_equal(const struct longpoll_addr *a, const struct longpoll_addr *b) {
        return a->family == b->family && memcmp(a->bytes, b->bytes, sizeof(a->bytes)) == 0;
}

static unsigned longpoll_retry_sec(uint64_t first_end_ms, uint64_t now_ms) {
        uint64_t s = first_end_ms > now_ms ? (first_end_ms - now_ms + 999) / 1000 : 1;

        return s < 1 ? 1 : s > 60 ? 60 : (unsigned) s;
}

enum longpoll_admission longpoll_admit(struct longpoll *lp, struct MHD_Connection *c, const char *account,
                                       uint64_t now_ms, unsigned *ret_retry_sec) {
        uint64_t first_account = UINT64_MAX, first_address = UINT64_MAX;
        unsigned n_account = 0, n_address = 0;
        struct longpoll_addr a;

        if (lp->stopping)
                return LONGPOLL_CLOSING;
        longpoll_addr_of(c, &a);
        for (const struct longpoll_waiter *w = lp->head; w; w = w->next) {
                if (w->state != LONGPOLL_WAITING || !w->account)
                        continue;
                if (strcmp(w->account, account) == 0) {
                        n_account++;
                        first_account = w->deadline_ms < first_account ? w->deadline_ms : first_account;
                }
                if (longpoll_addr_equal(&w->addr, &a)) {
                        n_address++;
                        first_address = w->deadline_ms < first_address ? w->deadline_ms : first_address;
                }
        }
        if (lp->limits.per_account && n_account >= lp->limits.per_account) {
                lp->counters->waits_refused++;
                *ret_retry_sec = longpoll_retry_sec(first_account, now_ms);
                return LONGPOLL_ACCOUNT_FULL;
        }
        if (lp->limits.per_address && n_address >= lp->limits.per_address) {
                lp->counters->waits_refused++;
                *ret_retry_sec = longpoll_retry_sec(first_address, now_ms);
                return LONGPOLL_ADDRESS_FULL;
        }
        return LONGPOLL_ADMITTED;
}

/* Level-triggered and without EPOLLIN: a client that sends its next request
 * early is no hang-up; EPOLLHUP and EPOLLERR are always reported. */
static int longpoll_watch(struct longpoll *lp, struct longpoll_waiter *w) {
        const union MHD_ConnectionInfo *info = MHD_get_connection_info(w->connection,
                                                                       MHD_CONNECTION_INFO_CONNECTION_FD);
        struct epoll_event ev = { .events = EPOLLRDHUP, .data.ptr = w };

        if (!info)
                return -EBADF;
        if (epoll_ctl(lp->epoll_fd, EPOLL_CTL_ADD, info->connect_fd, &ev) < 0)
                return -errno;
        w->fd = info->connect_fd;
        return 0;
}

int longpoll_park(struct longpoll *lp, struct MHD_Connection *c, const char *account, uint64_t since,
                  uint64_t deadline_ms, struct longpoll_waiter **ret) {
        struct longpoll_waiter *w = calloc(1, sizeof(*w));
        int r;

        if (!w)
                return -ENOMEM;
        *w = (struct longpoll_waiter) {
                .prev = lp->tail,
                .connection = c,
                .account = account,
                .since = since,
                .deadline_ms = deadline_ms,
                .state = LONGPOLL_WAITING,
                .fd = -1,
        };
        longpoll_addr_of(c, &w->addr);
        r = longpoll_watch(lp, w);
        if (r < 0) {
                free(w);
                return r;
        }
        if (lp->tail)
                lp->tail->next = w;
        else
                lp->head = w;
        lp->tail = w;
        lp->parked++;
        lp->n++;
        MHD_suspend_connection(c);
        *ret = w;
        return 0;
}

enum longpoll_state longpoll_waiter_state(const struct longpoll_waiter *w) {
        return w->state;
}

uint64_t longpoll_waiter_since(const struct longpoll_waiter *w) {
        return w->since;
}

static void longpoll_unwatch(struct longpoll *lp, struct longpoll_waiter *w) {
        if (w->fd < 0)
                return;
        (void) epoll_ctl(lp->epoll_fd, EPOLL_CTL_DEL, w->fd, NULL);
        w->fd = -1;
}

void longpoll_waiter_free(struct longpoll *lp, struct longpoll_waiter *w) {
        if (!w)
                return;
        longpoll_unwatch(lp, w);
        if (w->prev)
                w->prev->next = w->next;
        else
                lp->head = w->next;
        if (w->next)
                w->next->prev = w->prev;
        else
                lp->tail = w->prev;
        if (w->state == LONGPOLL_WAITING)
                lp->parked--;
        lp->n--;
        free(w);
}

static void longpoll_resume(struct longpoll *lp, struct longpoll_waiter *w, enum longpoll_state state) {
        longpoll_unwatch(lp, w);
        w->state = state;
        lp->parked--;
        MHD_resume_connection(w->connection);
}

/* From w on, the parked waiters of account: those behind head (all of them
 * when r < 0: it could not be read) resumed, the others left as they are;
 * each marked as settled by this pass. */
static void longpoll_settle(struct longpoll *lp, struct longpoll_waiter *w, const char *account, int r,
                            uint64_t head) {
        for (; w; w = w->next) {
                if (w->state != LONGPOLL_WAITING || !w->account || strcmp(w->account, account) != 0)
                        continue;
                w->pass = lp->pass;
                if (r < 0 || w->since < head) {
                        longpoll_resume(lp, w, LONGPOLL_CHANGED);
                        lp->counters->waits_woken++;
                } else
                        lp->counters->waits_kept++;
        }
}

void longpoll_wake(struct longpoll *lp, const char *account, uint64_t head) {
        lp->pass++;
        longpoll_settle(lp, lp->head, account, 0, head);
}

/* One read per account: the first waiter of each not settled yet in this
 * pass reads it, and settles every waiter of its account after it. A
 * resumed waiter is still in the list (freed once answered), its account
 * text with it. */
void longpoll_check(struct longpoll *lp, const char *account, longpoll_head_fn fn, void *userdata) {
        lp->pass++;
        for (struct longpoll_waiter *w = lp->head; w; w = w->next) {
                uint64_t head = 0;
                int r;

                if (w->state != LONGPOLL_WAITING || !w->account || w->pass == lp->pass ||
                    (account && strcmp(w->account, account) != 0))
                        continue;
                r = fn(w->account, &head, userdata);
                longpoll_settle(lp, w, w->account, r, head);
        }
}

void longpoll_expire(struct longpoll *lp, uint64_t now_ms) {
        for (struct longpoll_waiter *w = lp->head; w; w = w->next)
                if (w->state == LONGPOLL_WAITING && w->deadline_ms <= now_ms)
                        longpoll_resume(lp, w, LONGPOLL_TIMED_OUT);
}

void longpoll_stop_all(struct longpoll *lp) {
        lp->stopping = true;
        for (struct longpoll_waiter *w = lp->head; w; w = w->next)
                if (w->state == LONGPOLL_WAITING)
                        longpoll_resume(lp, w, LONGPOLL_STOPPING);
}

size_t longpoll_shed(struct longpoll *lp, size_t n) {
        size_t k = 0;

        for (struct longpoll_waiter *w = lp->head; w && k < n; w = w->next)
                if (w->state == LONGPOLL_WAITING && w->account) {
                        longpoll_resume(lp, w, LONGPOLL_SHED);
                        lp->counters->waits_shed++;
                        k++;
                }
        return k;
}

int longpoll_fd(const struct longpoll *lp) {
        return lp->epoll_fd;
}

void longpoll_hangups(struct longpoll *lp) {
        struct epoll_event ev[LONGPOLL_HANGUPS_BATCH];
        int n;

        do {
                n = epoll_wait(lp->epoll_fd, ev, LONGPOLL_HANGUPS_BATCH, 0);
                for (int i = 0; i < n; i++) {
                        struct longpoll_waiter *w = ev[i].data.ptr;

                        if (w->state != LONGPOLL_WAITING)
                                continue;
                        longpoll_resume(lp, w, LONGPOLL_GONE);
                        lp->counters->waits_hung_up++;
                }
        } while (n == LONGPOLL_HANGUPS_BATCH);
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
