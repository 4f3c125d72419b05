/* SPDX-License-Identifier: MIT */
/* The bridge's hybrid logical clock (docs/protocol.md; Kulkarni et al. 2014),
 * packed as the GATT profile's hlc: (unix_ms << 16) | counter.
 *
 * Pure: the caller reads the wall clock and passes it in, and stores and
 * restores the state (hlc_state/hlc_init) in the same transaction as anything
 * stamped with it, so a restart or a wall clock stepped backwards never issues
 * a stamp below one already issued. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "stamp.h"

#define HLC_MS_MAX ((UINT64_C(1) << 48) - 1)

struct hlc {
        uint64_t node;          /* this bridge's origin: 64 random bits, never 0 */
        uint64_t last;          /* highest hlc issued or received */
        uint64_t issued;        /* highest hlc issued under this node id */
        uint64_t max_skew_ms;   /* MaxClockSkewSec, in ms */
};

enum hlc_verdict {
        HLC_ACCEPTED,           /* the clock is now above the stamp */
        HLC_SUSPECT_FUTURE,     /* more than max skew ahead of the wall clock: not
                                 * followed; the caller re-stamps the value */
        HLC_CLONED,             /* our own origin, above anything we issued: a copied
                                 * state directory. Followed; the caller logs it and
                                 * calls hlc_renew_node() */
};

void hlc_init(struct hlc *c, uint64_t node, uint64_t last, uint64_t issued, uint32_t max_skew_sec);

/* A local event (an edit here, or stamping a DIRTY change on the Buds): a stamp
 * above every stamp seen or issued. -EOVERFLOW only when the 48-bit physical
 * part is exhausted (year 10889); the clock then stays where it was. */
int hlc_now(struct hlc *c, uint64_t wall_ms, struct stamp *ret);

/* A stamp seen from elsewhere (the server, the Buds). Factory stamps (0, 0)
 * are accepted without moving the clock. */
enum hlc_verdict hlc_receive(struct hlc *c, struct stamp s, uint64_t wall_ms);

/* Whether s is suspect without touching the clock. */
bool hlc_is_suspect(const struct hlc *c, struct stamp s, uint64_t wall_ms);

/* After HLC_CLONED: take a new node id (the caller makes 64 random bits). The
 * clock keeps its value, so the new node's stamps are above the clone's. */
void hlc_renew_node(struct hlc *c, uint64_t node);

/* The clock itself is more than max skew ahead of the wall clock: the wall
 * clock was stepped forward, stamped with, and corrected since. Following
 * the clock would keep every new stamp that far ahead. */
bool hlc_is_ahead(const struct hlc *c, uint64_t wall_ms);

/* After hlc_is_ahead: start again from the wall clock under a new node id
 * (so no stamp of the new node can equal one of the old). The caller
 * re-stamps the copies the old node stamped ahead. */
void hlc_restart(struct hlc *c, uint64_t node);
