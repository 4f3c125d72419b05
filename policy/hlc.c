/* SPDX-License-Identifier: MIT */
/* Hybrid logical clock: local events and receives per Kulkarni et al., with
 * the bridge's rules for suspect future stamps and cloned node ids. Never
 * reads a clock itself and never goes backwards, even when the counter runs
 * out (the physical part is then advanced by one millisecond). */
#include <errno.h>

#include "hlc.h"

void hlc_init(struct hlc *c, uint64_t node, uint64_t last, uint64_t issued, uint32_t max_skew_sec) {
        c->node = node;
        c->last = last > issued ? last : issued;
        c->issued = issued;
        c->max_skew_ms = (uint64_t) max_skew_sec * 1000;
}

static uint64_t max3(uint64_t a, uint64_t b, uint64_t c) {
        uint64_t m = a > b ? a : b;
        return m > c ? m : c;
}

/* The next (l, c) after l_old/c_old given the physical candidates; 0 on
 * exhaustion. The counter rolls into the physical part rather than wrap. */
static uint64_t advance(uint64_t l, uint64_t counter) {
        if (counter > 0xffff) {
                if (l >= HLC_MS_MAX)
                        return 0;
                l++;
                counter = 0;
        }
        return stamp_pack(l, (uint16_t) counter);
}

int hlc_now(struct hlc *c, uint64_t wall_ms, struct stamp *ret) {
        uint64_t l_old = c->last >> 16, c_old = c->last & 0xffff;
        uint64_t pt = wall_ms > HLC_MS_MAX ? HLC_MS_MAX : wall_ms;
        uint64_t l = l_old > pt ? l_old : pt;
        uint64_t next = advance(l, l == l_old ? c_old + 1 : 0);

        if (next == 0)
                return -EOVERFLOW;
        c->last = c->issued = next;
        *ret = (struct stamp) { next, c->node };
        return 0;
}

bool hlc_is_suspect(const struct hlc *c, struct stamp s, uint64_t wall_ms) {
        return stamp_ms(s) > wall_ms && stamp_ms(s) - wall_ms > c->max_skew_ms;
}

enum hlc_verdict hlc_receive(struct hlc *c, struct stamp s, uint64_t wall_ms) {
        uint64_t l_old = c->last >> 16, c_old = c->last & 0xffff;
        uint64_t l_m = stamp_ms(s), c_m = stamp_counter(s);
        uint64_t pt = wall_ms > HLC_MS_MAX ? HLC_MS_MAX : wall_ms;
        bool cloned;
        uint64_t l, counter, next;

        if (stamp_is_factory(s))
                return HLC_ACCEPTED;
        if (hlc_is_suspect(c, s, wall_ms))
                return HLC_SUSPECT_FUTURE;
        cloned = s.origin == c->node && s.hlc > c->issued;

        l = max3(l_old, l_m, pt);
        if (l == l_old && l == l_m)
                counter = (c_old > c_m ? c_old : c_m) + 1;
        else if (l == l_old)
                counter = c_old + 1;
        else if (l == l_m)
                counter = c_m + 1;
        else
                counter = 0;
        next = advance(l, counter);
        if (next != 0)
                c->last = next;
        else if (s.hlc > c->last)
                c->last = s.hlc;        /* exhausted: at least never below what we saw */

        return cloned ? HLC_CLONED : HLC_ACCEPTED;
}

void hlc_renew_node(struct hlc *c, uint64_t node) {
        c->node = node;
        c->issued = c->last;
}

bool hlc_is_ahead(const struct hlc *c, uint64_t wall_ms) {
        uint64_t l = c->last >> 16;

        return l > wall_ms && l - wall_ms > c->max_skew_ms;
}

void hlc_restart(struct hlc *c, uint64_t node) {
        c->node = node;
        c->last = c->issued = 0;
}
