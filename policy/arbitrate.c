/* SPDX-License-Identifier: MIT */
/* Arbitration of one item: the intent is the newest stamp over every copy of
 * both families; each family's cache copy becomes the copy carrying the intent
 * (or the intent converted, for the connected Buds' family), and changes a
 * person made that lose are named for the conflict log. Compares stamps only:
 * never looks at values, never stamps, never does I/O. */
#include "arbitrate.h"

unsigned arb_families(enum key key, enum family ret[static 2]) {
        if (key == KEY_PROFILE) {
                ret[0] = FAMILY_ANY;
                return 1;
        }
        ret[0] = FAMILY_STANDARD;
        ret[1] = FAMILY_PRO;
        return 2;
}

enum family arb_buds_item_family(enum key key, enum family buds_family) {
        return key == KEY_PROFILE ? FAMILY_ANY : buds_family;
}

/* a is a better source than b: a newer stamp; on a tie, not derived. */
static bool better(const struct arb_copy *a, const struct arb_copy *b) {
        int c;

        if (!a->present)
                return false;
        if (!b->present)
                return true;
        c = stamp_cmp(a->stamp, b->stamp);
        return c > 0 || (c == 0 && b->derived && !a->derived);
}

static bool above(const struct arb_copy *a, const struct arb_copy *b) {
        return a->present && (!b->present || stamp_cmp(a->stamp, b->stamp) > 0);
}

static bool made_by_person(const struct arb_copy *x) {
        return x->present && !x->derived && !stamp_is_factory(x->stamp);
}

/* A change a person made that the server never got: the cache's pending edit,
 * or a Buds copy above the server's copy of its family. */
static bool unpushed_cache(const struct arb_input *in, enum family f) {
        return in->pending[f] && made_by_person(&in->cache[f]);
}

static bool unpushed_buds(const struct arb_copy *buds, const struct arb_copy *server) {
        return made_by_person(buds) && above(buds, server);
}

/* A clean Buds copy was written there by the bridge that stamped it; when
 * the intent carries the same origin, that bridge stamped it later, over
 * what its cache held: its own line of changes, and its own cache answers
 * for the earlier one (logged there if it lost while still to send). */
static bool superseded_at_origin(const struct arb_input *in, const struct arb_copy *buds,
                                 const struct arb_decision *d) {
        return !in->buds_dirty && buds->stamp.origin == d->intent.origin;
}

static const struct arb_copy *buds_copy(const struct arb_input *in, enum family f) {
        static const struct arb_copy none;

        if (in->buds_present && in->buds.present && arb_buds_item_family(in->key, in->buds_family) == f)
                return &in->buds;
        return &none;
}

static void find_intent(const struct arb_input *in, struct arb_decision *d) {
        enum family fams[2];
        unsigned n = arb_families(in->key, fams);
        struct arb_copy best = { 0 };

        for (unsigned i = 0; i < n; i++) {
                enum family f = fams[i];
                const struct arb_copy *cands[] = { &in->cache[f], &in->server[f], buds_copy(in, f) };

                for (unsigned k = 0; k < 3; k++)
                        if (better(cands[k], &best)) {
                                best = *cands[k];
                                d->intent_family = f;
                        }
        }
        d->has_intent = best.present;
        d->intent = best.stamp;
}

/* The best of a family's copies: the newest, a non-derived one on a tie, and
 * on a full tie the first (the cache's own, so nothing changes needlessly). */
static unsigned best_of(const struct arb_copy *const cands[static 3]) {
        unsigned best = 0;

        for (unsigned k = 1; k < 3; k++)
                if (better(cands[k], cands[best]))
                        best = k;
        return best;
}

static const enum arb_adopt adopt_of[3] = { ARB_KEEP, ARB_FROM_SERVER, ARB_FROM_BUDS };

static enum arb_adopt choose(const struct arb_input *in, const struct arb_decision *d, enum family f) {
        static const struct arb_copy none;
        const struct arb_copy *cache = &in->cache[f], *server = &in->server[f];
        const struct arb_copy *cands[3] = { cache, server, buds_copy(in, f) };
        unsigned best = best_of(cands);

        if (cands[best]->present && stamp_eq(cands[best]->stamp, d->intent))
                return adopt_of[best];
        if (cands[2]->present)
                return ARB_CONVERT;     /* connected Buds of f, nothing of f carries the intent */

        /* Nothing of f carries the intent: the cache settles on the newest copy
         * that is not a lost change (those go to the conflict log instead). */
        if (unpushed_cache(in, f))
                cands[0] = &none;
        best = best_of(cands);
        if (cands[best]->present)
                return adopt_of[best];
        return cache->present ? ARB_DROP : ARB_KEEP;
}

static struct arb_copy result_of(const struct arb_input *in, const struct arb_decision *d, enum family f,
                                 enum arb_adopt a) {
        switch (a) {
        case ARB_KEEP:
                return in->cache[f];
        case ARB_FROM_BUDS:
                return *buds_copy(in, f);
        case ARB_FROM_SERVER:
                return in->server[f];
        case ARB_CONVERT:
                return (struct arb_copy) { .present = true, .stamp = d->intent, .derived = true };
        case ARB_DROP:
                break;
        }
        return (struct arb_copy) { 0 };
}

static void decide_family(const struct arb_input *in, struct arb_decision *d, enum family f) {
        const struct arb_copy *buds = buds_copy(in, f);
        const struct arb_copy *cache = &in->cache[f], *server = &in->server[f];
        struct arb_family *out = &d->family[f];
        struct arb_copy result;

        out->adopt = choose(in, d, f);
        result = result_of(in, d, f, out->adopt);
        out->push = result.present && !stamp_is_factory(result.stamp) &&
                    stamp_eq(result.stamp, d->intent) && above(&result, server);
        out->lost_cache = unpushed_cache(in, f) && stamp_cmp(cache->stamp, d->intent) < 0 &&
                          !(in->buds_dirty && stamp_eq(cache->stamp, in->buds_base));
        out->lost_buds = !in->buds_known && unpushed_buds(buds, server) && stamp_cmp(buds->stamp, d->intent) < 0 &&
                         !(out->lost_cache && stamp_eq(cache->stamp, buds->stamp)) &&
                         !superseded_at_origin(in, buds, d);
}

void arbitrate(const struct arb_input *in, struct arb_decision *ret) {
        struct arb_decision d = { 0 };
        enum family fams[2];
        unsigned n = arb_families(in->key, fams);

        find_intent(in, &d);
        if (d.has_intent)
                for (unsigned i = 0; i < n; i++)
                        decide_family(in, &d, fams[i]);

        if (d.has_intent && in->buds_present && in->buds.present) {
                enum family bf = arb_buds_item_family(in->key, in->buds_family);
                struct arb_copy target = result_of(in, &d, bf, d.family[bf].adopt);

                /* also when the Buds hold a conversion and the intent in their
                 * own family came since under the same stamp (converted from
                 * the other family before its original arrived) */
                d.write_buds = target.present &&
                               (in->buds_dirty || !stamp_eq(target.stamp, in->buds.stamp) ||
                                (in->buds.derived && !target.derived));
        }
        *ret = d;
}

const char *arb_adopt_name(enum arb_adopt a) {
        switch (a) {
        case ARB_KEEP:
                return "keep";
        case ARB_FROM_BUDS:
                return "buds";
        case ARB_FROM_SERVER:
                return "server";
        case ARB_CONVERT:
                return "convert";
        case ARB_DROP:
                return "drop";
        }
        return "?";
}
