/* SPDX-License-Identifier: MIT */
/* Unit tests of policy/arbitrate.c: the shared vectors (docs/vectors/
 * arbitration.json), then properties over many random inputs: newer never
 * loses to older, every push carries the intent, nothing a person made is
 * dropped without a conflict log entry. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "policy/arbitrate.h"
#include "tests/lib/vectors.h"

#define VECTORS "docs/vectors/arbitration.json"

static struct stamp named_stamp(const cJSON *stamps, const char *name) {
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(stamps, name);
        const char *origin;

        if (!s)
                fail_msg("unknown stamp name %s", name);
        origin = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(s, "origin"));
        assert_non_null(origin);
        return (struct stamp) {
                stamp_pack((uint64_t) cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(s, "ms")),
                           (uint16_t) cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(s, "c"))),
                strtoull(origin, NULL, 16),
        };
}

/* "A" or {"stamp": "A", "derived": true} */
static struct arb_copy parse_copy(const cJSON *stamps, const cJSON *j) {
        struct arb_copy c = { .present = true };

        if (cJSON_IsString(j)) {
                c.stamp = named_stamp(stamps, j->valuestring);
                return c;
        }
        c.stamp = named_stamp(stamps, cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "stamp")));
        c.derived = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "derived"));
        return c;
}

static enum family family_of(const char *name) {
        enum family f;

        assert_int_equal(family_from_name(name, &f), 0);
        return f;
}

static void parse_side(const cJSON *stamps, const cJSON *side, struct arb_copy out[FAMILY_COUNT]) {
        const cJSON *it;

        cJSON_ArrayForEach(it, side)
                out[family_of(it->string)] = parse_copy(stamps, it);
}

static void parse_input(const cJSON *stamps, const cJSON *c, struct arb_input *in) {
        const cJSON *buds = cJSON_GetObjectItemCaseSensitive(c, "buds");
        const cJSON *base;

        memset(in, 0, sizeof(*in));
        assert_int_equal(key_from_name(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "key")), &in->key), 0);
        if (buds) {
                in->buds_present = true;
                in->buds_family = family_of(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(buds, "family")));
                in->buds = parse_copy(stamps, cJSON_GetObjectItemCaseSensitive(buds, "copy"));
                in->buds_dirty = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(buds, "dirty"));
                base = cJSON_GetObjectItemCaseSensitive(buds, "base");
                if (base)
                        in->buds_base = named_stamp(stamps, base->valuestring);
        }
        parse_side(stamps, cJSON_GetObjectItemCaseSensitive(c, "server"), in->server);
        parse_side(stamps, cJSON_GetObjectItemCaseSensitive(c, "cache"), in->cache);
        cJSON_ArrayForEach(base, cJSON_GetObjectItemCaseSensitive(c, "pending"))
                in->pending[family_of(base->valuestring)] = true;
}

static void check_family(const char *name, enum family f, const cJSON *exp, const struct arb_decision *d) {
        const struct arb_family *got = &d->family[f];
        const cJSON *lost = cJSON_GetObjectItemCaseSensitive(exp, "lost"), *it;
        bool lost_cache = false, lost_buds = false;

        cJSON_ArrayForEach(it, lost) {
                lost_cache |= strcmp(it->valuestring, "cache") == 0;
                lost_buds |= strcmp(it->valuestring, "buds") == 0;
        }
        if (strcmp(arb_adopt_name(got->adopt), cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(exp, "adopt"))) ||
            got->push != cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(exp, "push")) ||
            got->lost_cache != lost_cache || got->lost_buds != lost_buds)
                fail_msg("%s, family %s: got adopt=%s push=%d lost_cache=%d lost_buds=%d", name, family_name(f),
                         arb_adopt_name(got->adopt), got->push, got->lost_cache, got->lost_buds);
}

static void check_case(const cJSON *stamps, const cJSON *c) {
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "name"));
        const cJSON *exp = cJSON_GetObjectItemCaseSensitive(c, "expect");
        const cJSON *intent = cJSON_GetObjectItemCaseSensitive(exp, "intent"), *fam;
        struct arb_input in;
        struct arb_decision d;

        parse_input(stamps, c, &in);
        arbitrate(&in, &d);
        if (cJSON_IsNull(intent)) {
                if (d.has_intent)
                        fail_msg("%s: expected no intent", name);
        } else {
                struct stamp want = named_stamp(stamps, intent->valuestring);
                if (!d.has_intent || !stamp_eq(d.intent, want) ||
                    d.intent_family != family_of(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(exp, "intent_family"))))
                        fail_msg("%s: wrong intent (family %s)", name, family_name(d.intent_family));
        }
        if (d.write_buds != cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(exp, "write_buds")))
                fail_msg("%s: write_buds %d", name, d.write_buds);
        cJSON_ArrayForEach(fam, cJSON_GetObjectItemCaseSensitive(exp, "families"))
                check_family(name, family_of(fam->string), fam, &d);
}

static void test_vectors(void **state) {
        cJSON *doc = vectors_load(VECTORS), *c;
        const cJSON *stamps = vectors_member(doc, "stamps");
        int n = 0;

        (void) state;
        cJSON_ArrayForEach(c, vectors_cases(doc, "cases", 25)) {
                check_case(stamps, c);
                n++;
        }
        assert_true(n >= 25);
        cJSON_Delete(doc);
}

/* xorshift64*: deterministic, so a failure repeats */
static uint64_t rnd(uint64_t *s) {
        *s ^= *s >> 12;
        *s ^= *s << 25;
        *s ^= *s >> 27;
        return *s * UINT64_C(2685821657736338717);
}

static struct arb_copy random_copy(uint64_t *s) {
        struct arb_copy c = { 0 };
        uint64_t r = rnd(s);

        if (r % 4 == 0)
                return c;
        c.present = true;
        c.derived = (r >> 8) % 4 == 0;
        if ((r >> 12) % 8 != 0)         /* else factory */
                c.stamp = (struct stamp) { stamp_pack(1000 + (r >> 16) % 5, (r >> 24) % 2), 1 + (r >> 32) % 3 };
        return c;
}

static bool person(const struct arb_copy *x) {
        return x->present && !x->derived && !stamp_is_factory(x->stamp);
}

static bool unpushed(const struct arb_copy *x, const struct arb_copy *server) {
        return person(x) && (!server->present || stamp_cmp(x->stamp, server->stamp) > 0);
}

static struct arb_copy after(const struct arb_input *in, const struct arb_decision *d, enum family f) {
        switch (d->family[f].adopt) {
        case ARB_KEEP:
                return in->cache[f];
        case ARB_FROM_BUDS:
                return in->buds;
        case ARB_FROM_SERVER:
                return in->server[f];
        case ARB_CONVERT:
                return (struct arb_copy) { true, d->intent, true };
        case ARB_DROP:
                break;
        }
        return (struct arb_copy) { 0 };
}

static void check_properties(const struct arb_input *in, const struct arb_decision *d) {
        enum family fams[2], bf = arb_buds_item_family(in->key, in->buds_family);
        unsigned n = arb_families(in->key, fams);

        for (unsigned i = 0; i < n; i++) {
                enum family f = fams[i];
                const struct arb_family *a = &d->family[f];
                struct arb_copy r = after(in, d, f);
                bool buds_here = in->buds_present && in->buds.present && bf == f;

                /* newer never loses: nothing present is above the intent */
                if (in->cache[f].present)
                        assert_true(stamp_cmp(in->cache[f].stamp, d->intent) <= 0);
                if (in->server[f].present)
                        assert_true(stamp_cmp(in->server[f].stamp, d->intent) <= 0);
                /* the cache never falls below what the server is known to hold */
                if (in->server[f].present)
                        assert_true(r.present && stamp_cmp(r.stamp, in->server[f].stamp) >= 0);
                /* adopting only from a party that has the copy */
                if (a->adopt == ARB_FROM_BUDS)
                        assert_true(buds_here);
                /* a push carries the intent and is above the server */
                if (a->push)
                        assert_true(r.present && stamp_eq(r.stamp, d->intent) && !stamp_is_factory(r.stamp) &&
                                    (!in->server[f].present || stamp_cmp(r.stamp, in->server[f].stamp) > 0));
                /* the connected Buds' family always ends up with the intent */
                if (buds_here)
                        assert_true(r.present && stamp_eq(r.stamp, d->intent));
                /* nothing a person made is dropped silently */
                if (in->pending[f] && person(&in->cache[f]) && stamp_cmp(in->cache[f].stamp, d->intent) < 0 &&
                    !(in->buds_dirty && stamp_eq(in->cache[f].stamp, in->buds_base)))
                        assert_true(a->lost_cache);
                /* (a clean Buds copy under the intent's origin: that origin's
                 * own line, its cache answers for it) */
                if (buds_here && unpushed(&in->buds, &in->server[f]) && stamp_cmp(in->buds.stamp, d->intent) < 0 &&
                    (in->buds_dirty || in->buds.stamp.origin != d->intent.origin))
                        assert_true(a->lost_buds ||
                                    (a->lost_cache && stamp_eq(in->cache[f].stamp, in->buds.stamp)));
                /* and only such copies are logged */
                if (a->lost_cache)
                        assert_true(in->pending[f] && person(&in->cache[f]) &&
                                    stamp_cmp(in->cache[f].stamp, d->intent) < 0);
                if (a->lost_buds)
                        assert_true(buds_here && unpushed(&in->buds, &in->server[f]));
        }
        if (d->write_buds)
                assert_true(in->buds_present && in->buds.present);
}

static void test_properties(void **state) {
        uint64_t seed = UINT64_C(0x9e3779b97f4a7c15);

        (void) state;
        for (int i = 0; i < 200000; i++) {
                struct arb_input in = { 0 };
                struct arb_decision d, again;

                in.key = (enum key) (KEY_MIN + rnd(&seed) % 3);
                in.buds_present = rnd(&seed) % 3 != 0;
                in.buds_family = rnd(&seed) % 2 ? FAMILY_STANDARD : FAMILY_PRO;
                if (in.buds_present)
                        in.buds = random_copy(&seed);
                for (enum family f = FAMILY_ANY; f <= FAMILY_PRO; f++) {
                        if (!key_family_is_valid((int) in.key, (int) f))
                                continue;
                        in.server[f] = random_copy(&seed);
                        in.cache[f] = random_copy(&seed);
                        in.pending[f] = in.cache[f].present && rnd(&seed) % 2;
                }
                if (in.buds_present && in.buds.present && rnd(&seed) % 4 == 0) {
                        /* a DIRTY change: freshly stamped, above everything */
                        in.buds_dirty = true;
                        in.buds_base = in.buds.stamp;
                        in.buds.stamp = (struct stamp) { stamp_pack(2000, 0), 9 };
                        in.buds.derived = false;
                }
                arbitrate(&in, &d);
                arbitrate(&in, &again);
                assert_memory_equal(&d, &again, sizeof(d));
                if (d.has_intent)
                        check_properties(&in, &d);
                if (in.buds_dirty)
                        assert_true(d.write_buds && stamp_eq(d.intent, in.buds.stamp));
        }
}

/* The soak under a push limit of 30 (seed 1796225030): host A's edit,
 * written to Buds that then moved to host B before A wrote its next edit
 * there (the first never sent: the next replaced it in A's outbox); B,
 * holding A's next edit (from other Buds) but not knowing the server had
 * it, logged the first as lost to the next: A's own edits in a row. */
static void test_buds_copy_superseded_at_its_origin(void **state) {
        struct arb_input in = { .key = KEY_EQ_CUSTOM, .buds_present = true, .buds_family = FAMILY_PRO };
        struct stamp first = { stamp_pack(5000, 0), 7 }, next = { stamp_pack(5003, 0), 7 },
                     other = { stamp_pack(5003, 0), 8 }, old = { stamp_pack(4000, 0), 9 };
        struct arb_decision d;

        (void) state;
        in.buds = (struct arb_copy) { true, first, false };
        in.server[FAMILY_PRO] = (struct arb_copy) { true, old, false };
        in.cache[FAMILY_PRO] = (struct arb_copy) { true, next, false };
        arbitrate(&in, &d);
        assert_true(d.write_buds && stamp_eq(d.intent, next));
        assert_false(d.family[FAMILY_PRO].lost_buds);
        /* beaten by another origin's edit, it is a change lost */
        in.cache[FAMILY_PRO].stamp = other;
        arbitrate(&in, &d);
        assert_true(d.family[FAMILY_PRO].lost_buds);
}

static void test_converged_is_quiet(void **state) {
        /* once every party holds the decision, arbitrating again does nothing */
        struct arb_input in = { .key = KEY_EQ_CUSTOM, .buds_present = true, .buds_family = FAMILY_STANDARD };
        struct arb_decision d;
        struct stamp s = { stamp_pack(5000, 0), 7 };

        (void) state;
        in.buds = (struct arb_copy) { true, s, true };
        in.server[FAMILY_PRO] = in.cache[FAMILY_PRO] = (struct arb_copy) { true, s, false };
        in.server[FAMILY_STANDARD] = in.cache[FAMILY_STANDARD] = (struct arb_copy) { true, s, true };
        arbitrate(&in, &d);
        assert_true(d.has_intent && d.intent_family == FAMILY_PRO);
        assert_false(d.write_buds);
        for (enum family f = FAMILY_STANDARD; f <= FAMILY_PRO; f++) {
                assert_int_equal(d.family[f].adopt, ARB_KEEP);
                assert_false(d.family[f].push);
                assert_false(d.family[f].lost_cache || d.family[f].lost_buds);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_vectors),
                cmocka_unit_test(test_properties),
                cmocka_unit_test(test_converged_is_quiet),
                cmocka_unit_test(test_buds_copy_superseded_at_its_origin),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
