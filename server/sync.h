/* SPDX-License-Identifier: MIT */
/* The /v1/sync endpoints: status, pull, push and the long poll. Turns
 * requests into store operations under the arbitration order of
 * policy/stamp.h, and wakes the account's long polls after a push applied
 * anything and its group committed. Never answers before the store has
 * committed. */
#pragma once

#include <stdint.h>

#include "group.h"
#include "http.h"
#include "idempotency.h"
#include "longpoll.h"
#include "ratelimit.h"
#include "store.h"

#define SYNC_SCHEMA 1
#define SYNC_LIMIT_MAX 1000
#define SYNC_WAIT_MAX_SEC 60

struct sync_ctx {
        struct store *store;
        struct longpoll *longpoll;
        struct idempotency *idempotency;
        struct group *group;
        uint64_t max_skew_ms;
        uint64_t max_replay_bytes;      /* per account; beyond it the oldest stored answers go */
        struct ratelimit *pushes;       /* per account */
        unsigned max_pushes_per_minute; /* for the 429's message */
        struct counters *counters;      /* the push results */
        uint64_t last_purge_ms;
};

int sync_handle_status(void *userdata, struct http_request *req, struct reply *ret);
int sync_handle_pull(void *userdata, struct http_request *req, struct reply *ret);
int sync_handle_wait(void *userdata, struct http_request *req, struct reply *ret);

/* push.c */
int sync_push_begin(void *userdata, struct http_request *req, struct reply *ret);
int sync_push_handle(void *userdata, struct http_request *req, struct reply *ret);
void sync_push_done(void *userdata, struct http_request *req);

/* The account's cursor for seq, as the API shows it. */
int sync_cursor_json(struct sync_ctx *s, const char *account, uint64_t seq, cJSON *obj);
