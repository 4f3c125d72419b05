/* SPDX-License-Identifier: MIT */
/* A token bucket per account: up to N requests at once, then one every
 * 60/N s (kept as the time the bucket is full again, the "virtual
 * scheduling" form, so one integer per account and no timer). Accounts come
 * from the tokens file, so the table is as small as it is. Never sleeps and
 * never reads a clock itself: the caller passes the monotonic time. */
#pragma once

#include <stdint.h>

struct ratelimit;

/* per_minute 0: no limit. */
int ratelimit_new(unsigned per_minute, struct ratelimit **ret);
struct ratelimit *ratelimit_free(struct ratelimit *rl);

/* 0 when account may go on now (and it is counted), -EAGAIN with the whole
 * seconds to wait in *ret_wait_sec (at least 1) when its bucket is empty. */
int ratelimit_take(struct ratelimit *rl, const char *account, uint64_t now_ms, unsigned *ret_wait_sec);
