/* SPDX-License-Identifier: MIT */
/* The two clocks syncd reads: the wall clock for server_time_ms and the
 * future_stamp rule, the monotonic clock for every deadline and duration.
 * Never used to order stamps: that is policy/stamp.h's job alone. */
#pragma once

#include <stdint.h>
#include <time.h>

static inline uint64_t now_ms(clockid_t clock) {
        struct timespec ts;

        (void) clock_gettime(clock, &ts);
        return (uint64_t) ts.tv_sec * 1000u + (uint64_t) ts.tv_nsec / 1000000u;
}

static inline uint64_t now_us(clockid_t clock) {
        struct timespec ts;

        (void) clock_gettime(clock, &ts);
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}
