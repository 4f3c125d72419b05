/* SPDX-License-Identifier: MIT */
/* The token buckets (see ratelimit.h). An account's entry holds when its
 * bucket will be full again; a request at t is allowed when that time is at
 * most t + the whole bucket less one request, and moves it on by one
 * request's interval. A refused request moves nothing, so a client that
 * retries too early is not punished twice. Must never keep a pointer it was
 * not given for the server's lifetime: account names are the tokens table's. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ratelimit.h"

struct ratelimit_entry {
        struct ratelimit_entry *next;
        const char *account;
        uint64_t full_ms;               /* when the bucket holds every token again */
};

struct ratelimit {
        uint64_t interval_ms;           /* one token's worth: 60 s / per_minute */
        uint64_t burst_ms;              /* the bucket less one token: (per_minute - 1) intervals */
        struct ratelimit_entry *entries;
};

int ratelimit_new(unsigned per_minute, struct ratelimit **ret) {
        struct ratelimit *rl = calloc(1, sizeof(*rl));

        if (!rl)
                return -ENOMEM;
        if (per_minute > 0) {
                rl->interval_ms = 60000u / per_minute ?: 1;
                rl->burst_ms = rl->interval_ms * (per_minute - 1);
        }
        *ret = rl;
        return 0;
}

struct ratelimit *ratelimit_free(struct ratelimit *rl) {
        if (!rl)
                return NULL;
        while (rl->entries) {
                struct ratelimit_entry *e = rl->entries;

                rl->entries = e->next;
                free(e);
        }
        free(rl);
        return NULL;
}

static struct ratelimit_entry *ratelimit_entry(struct ratelimit *rl, const char *account) {
        struct ratelimit_entry *e;

        for (e = rl->entries; e; e = e->next)
                if (strcmp(e->account, account) == 0)
                        return e;
        e = calloc(1, sizeof(*e));
        if (!e)
                return NULL;
        e->account = account;
        e->next = rl->entries;
        rl->entries = e;
        return e;
}

int ratelimit_take(struct ratelimit *rl, const char *account, uint64_t now_ms, unsigned *ret_wait_sec) {
        struct ratelimit_entry *e;
        uint64_t full;

        if (rl->interval_ms == 0)
                return 0;
        e = ratelimit_entry(rl, account);
        if (!e)
                return -ENOMEM;
        full = e->full_ms > now_ms ? e->full_ms : now_ms;
        if (full - now_ms > rl->burst_ms) {
                *ret_wait_sec = (unsigned) ((full - now_ms - rl->burst_ms + 999) / 1000);
                return -EAGAIN;
        }
        e->full_ms = full + rl->interval_ms;
        return 0;
}
