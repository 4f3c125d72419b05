/* SPDX-License-Identifier: MIT */
/* Timestamp arbitration of one item (docs/protocol.md): given the copies the
 * Buds, the server and the cache hold, per family, which copy is the item's
 * intent and what each party must do. A pure function of its input, so every
 * bridge (and the server, for one family) picks the same winner.
 *
 * What the caller does first, with the clock (hlc.h):
 * - a DIRTY Buds copy is stamped with a fresh local stamp (buds.stamp is that
 *   stamp, buds_dirty is true);
 * - a received copy whose stamp is suspect (too far in the future) is stamped
 *   again with a fresh local stamp, and enters here with that stamp (a Buds
 *   copy as a DIRTY one, so that it is written back with the new stamp);
 * so that here, stamps are only compared. Fresh stamps come after every
 * stamp of the input was received by the clock, so they are the newest. */
#pragma once

#include <stdbool.h>

#include "stamp.h"
#include "value.h"

struct arb_copy {
        bool present;
        struct stamp stamp;
        bool derived;           /* converted from the other family's value */
};

struct arb_input {
        enum key key;
        /* The connected Buds' copy (family: FAMILY_ANY for profile, else
         * buds_family). buds_dirty: it holds a change made on the Buds that the
         * caller has just stamped; it must be written back with DIRTY clear. */
        bool buds_present;
        enum family buds_family;        /* the Buds' EQ family: standard or pro */
        struct arb_copy buds;
        bool buds_dirty;
        /* With buds_dirty: the stamp the Buds' record still carried, i.e. the
         * copy the change on the Buds was made on. A pending copy with this
         * stamp is the change's predecessor, not a conflict. */
        struct stamp buds_base;
        /* The Buds' copy is one this host already knew when its intent was
         * made here, or one it wrote itself: not news, so never a lost change
         * of its own (the cache's copy answers for it). */
        bool buds_known;
        /* The newest copy the server is known to hold, per family: the last one
         * pulled, pushed and applied, or returned as `current`. Known state, not
         * a live read: offline, it is what was last learned. */
        struct arb_copy server[FAMILY_COUNT];
        /* The cache's copy per family; pending: it is in the outbox, a change
         * not yet acknowledged by the server. */
        struct arb_copy cache[FAMILY_COUNT];
        bool pending[FAMILY_COUNT];
};

enum arb_adopt {
        ARB_KEEP = 0,           /* the cache keeps its copy of this family */
        ARB_FROM_BUDS,          /* the cache takes the Buds' copy */
        ARB_FROM_SERVER,        /* the cache takes the server's copy */
        ARB_CONVERT,            /* the cache takes the intent converted into this
                                 * family: intent's stamp, DERIVED set */
        ARB_DROP,               /* the cache forgets its copy (a lost change, now
                                 * in the conflict log, with nothing to replace it) */
};

struct arb_family {
        enum arb_adopt adopt;
        /* The cache's copy (after adopt) carries the intent and is above the
         * server's: push it (it is, or goes, in the outbox). When false, any
         * outbox entry of this family is done with. */
        bool push;
        /* Lost changes to put in the conflict log: a copy a person made (not
         * derived, not factory) that never reached the server and loses to the
         * intent, unless it is the base of the DIRTY change that beats it. For
         * the cache, "never reached" is its pending flag; for the Buds, being
         * above the server's copy of its family (the server keeps the highest
         * stamp, so such a copy cannot have reached it) and not buds_known. When
         * the cache and the Buds hold the same lost stamp, only the cache's is
         * named. */
        bool lost_cache;
        bool lost_buds;
};

struct arb_decision {
        bool has_intent;                /* false: no copy anywhere */
        struct stamp intent;            /* the newest stamp over both families */
        enum family intent_family;
        struct arb_family family[FAMILY_COUNT];
        /* Write the cache's copy of the Buds' family (after adopt) to the Buds:
         * it differs from theirs, or theirs is DIRTY. */
        bool write_buds;
};

/* The families an item has: {FAMILY_ANY} for profile, {STANDARD, PRO} for EQ. */
unsigned arb_families(enum key key, enum family ret[static 2]);

/* The family the Buds' copy of key is in. */
enum family arb_buds_item_family(enum key key, enum family buds_family);

void arbitrate(const struct arb_input *in, struct arb_decision *ret);

const char *arb_adopt_name(enum arb_adopt a);
