/* SPDX-License-Identifier: MIT */
/* Stamps: the (hlc, origin) pair that orders every copy of Shared Data.
 * Pure value type; never does I/O. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct stamp {
        uint64_t hlc;           /* (unix_ms << 16) | counter */
        uint64_t origin;        /* node id of the writer */
};

#define STAMP_FACTORY ((struct stamp) { 0, 0 })

static inline uint64_t stamp_ms(struct stamp s) { return s.hlc >> 16; }
static inline uint16_t stamp_counter(struct stamp s) { return (uint16_t) (s.hlc & 0xffff); }
static inline uint64_t stamp_pack(uint64_t ms, uint16_t counter) { return (ms << 16) | counter; }
static inline bool stamp_is_factory(struct stamp s) { return s.hlc == 0 && s.origin == 0; }

/* Total order of the arbitration rules: hlc, then origin, as unsigned integers. */
static inline int stamp_cmp(struct stamp a, struct stamp b) {
        if (a.hlc != b.hlc)
                return a.hlc < b.hlc ? -1 : 1;
        if (a.origin != b.origin)
                return a.origin < b.origin ? -1 : 1;
        return 0;
}

static inline bool stamp_eq(struct stamp a, struct stamp b) { return stamp_cmp(a, b) == 0; }
