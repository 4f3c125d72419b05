/* SPDX-License-Identifier: MIT */
/* The sync engine's core (see engine.h): every step reads the copies from the
 * store, asks policy/ what to do, and writes the result back in the same
 * transaction, clock included. Never does I/O beyond the store, never blocks
 * on anything but SQLite, never logs: the manager reports what it returns. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "engine.h"
#include "codec/recjson.h"
#include "codec/wire.h"
#include "common/buds-address.h"
#include "common/errmsg.h"
#include "common/random.h"
#include "policy/arbitrate.h"
#include "policy/eqconv.h"

struct engine {
        struct store *store;
        struct engine_config cfg;
        struct hlc clock;
        struct engine_counters counters;
        unsigned n_buds;
        struct store_buds buds[ENGINE_MAX_BUDS];
        uint64_t shared_node;   /* given up for a copy, kept with the next commit */
};

static uint64_t now(struct engine *e) { return e->cfg.now_ms(e->cfg.userdata); }

static int fill_random(struct engine *e, void *buf, size_t n) {
        return e->cfg.random ? e->cfg.random(buf, n, e->cfg.userdata) : random_bytes(buf, n);
}

static int random_node(struct engine *e, uint64_t *ret) {
        uint64_t v = 0;
        int r;

        do {
                r = fill_random(e, &v, sizeof(v));
                if (r < 0)
                        return r;
        } while (v == 0);       /* 0 is the factory origin */
        *ret = v;
        return 0;
}

int engine_copy_to_record(enum key key, enum family family, const struct store_copy *c, struct record *ret) {
        struct record r = { .stamp = c->stamp, .flags = c->derived ? RECORD_DERIVED : 0 };
        int k;

        if (!c->present)
                return -ENOENT;
        k = wire_value_decode(key, family, c->value, c->len, &r.value, NULL);
        if (k < 0)
                return k;
        *ret = r;
        return 0;
}

int engine_copy_from_record(const struct record *r, struct store_copy *ret) {
        struct store_copy c = { .present = true, .stamp = r->stamp, .derived = (r->flags & RECORD_DERIVED) != 0 };
        int n = wire_value_encode(&r->value, c.value, sizeof(c.value));

        if (n < 0)
                return n;
        c.len = (size_t) n;
        *ret = c;
        return 0;
}

/* Every step that arbitrates commits durably against a power cut: it may
 * acknowledge something (a host edit, a Buds change stamped before its
 * write-back), log a conflict for a value that is about to be overwritten on
 * the Buds, or issue a stamp. Steps that only record what can be learned
 * again (a Buds snapshot after our write, the push in flight) need only
 * survive a crash of the process. */
static int begin(struct engine *e) { return store_begin(e->store); }
static int begin_relaxed(struct engine *e) { return store_begin_relaxed(e->store); }

/* The clock is saved with everything it stamped, and a node id given up
 * for a copy of the state directory with the clock that left it. */
static int commit(struct engine *e) {
        int r = store_node_put(e->store, e->clock.node, e->clock.last, e->clock.issued);

        if (r == 0 && e->shared_node)
                r = store_shared_node_add(e->store, e->shared_node);
        if (r == 0)
                r = store_commit(e->store);
        else
                store_rollback(e->store);
        if (r == 0)
                e->shared_node = 0;
        return r;
}

static int fail(struct engine *e, int r) {
        store_rollback(e->store);
        return r;
}

int engine_new(struct store *s, const struct engine_config *cfg, struct engine **ret, char **ret_error) {
        struct engine *e = calloc(1, sizeof(*e));
        uint64_t node, last = 0, issued = 0;
        int r;

        *ret_error = NULL;
        if (!e)
                return -ENOMEM;
        e->store = s;
        e->cfg = *cfg;
        r = store_node_get(s, &node, &last, &issued);
        if (r == -ENOENT) {
                r = random_node(e, &node);
                if (r == 0)
                        r = store_node_put(s, node, 0, 0);
        }
        if (r < 0) {
                (void) errmsg_setf(ret_error, r, "%s: cannot read or make the node id: %s", store_path(s),
                                   strerror(-r));
                free(e);
                return r;
        }
        hlc_init(&e->clock, node, last, issued, cfg->max_clock_skew_sec);
        *ret = e;
        return 0;
}

struct engine *engine_free(struct engine *e) {
        free(e);
        return NULL;
}

uint64_t engine_node_id(const struct engine *e) { return e->clock.node; }

void engine_set_limits(struct engine *e, uint32_t max_clock_skew_sec, uint32_t conflict_log_limit) {
        e->cfg.max_clock_skew_sec = max_clock_skew_sec;
        e->cfg.conflict_log_limit = conflict_log_limit;
        e->clock.max_skew_ms = (uint64_t) max_clock_skew_sec * 1000;
}
const struct engine_counters *engine_counters(const struct engine *e) { return &e->counters; }

void engine_outcome_reset(struct engine_outcome *o) { memset(o, 0, sizeof(*o)); }

static int fresh_stamp(struct engine *e, struct stamp *ret) { return hlc_now(&e->clock, now(e), ret); }

/* A copy of the state directory was found: a node id of our own. The one
 * given up is kept (commit) as shared with the copy. */
static void renew_node(struct engine *e, struct engine_outcome *o) {
        uint64_t node;

        if (random_node(e, &node) == 0) {
                o->node_renewed = true;
                o->old_node = e->clock.node;
                e->shared_node = e->clock.node;
                hlc_renew_node(&e->clock, node);
        }
}

/* A stamp from elsewhere moves the clock; a copied state directory renews the
 * node id. Returns the verdict (HLC_SUSPECT_FUTURE: the caller re-stamps). */
static enum hlc_verdict receive(struct engine *e, struct stamp s, struct engine_outcome *o) {
        enum hlc_verdict v = hlc_receive(&e->clock, s, now(e));

        if (v == HLC_CLONED)
                renew_node(e, o);
        return v;
}

static struct arb_copy arb_of(const struct store_copy *c) {
        return (struct arb_copy) { .present = c->present, .stamp = c->stamp, .derived = c->derived };
}

/* The intent over the families of key, from the cache. */
static int intent_of(struct engine *e, enum key key, struct record *ret) {
        enum family fams[2];
        unsigned n = arb_families(key, fams);
        struct store_item best = { 0 }, it;
        enum family best_f = FAMILY_ANY;

        for (unsigned i = 0; i < n; i++) {
                int r = store_item_get(e->store, key, fams[i], &it);
                if (r < 0)
                        return r;
                if (!it.cache.present)
                        continue;
                if (!best.cache.present || stamp_cmp(it.cache.stamp, best.cache.stamp) > 0 ||
                    (stamp_eq(it.cache.stamp, best.cache.stamp) && best.cache.derived && !it.cache.derived)) {
                        best = it;
                        best_f = fams[i];
                }
        }
        if (!best.cache.present)
                return -ENOENT;
        return engine_copy_to_record(key, best_f, &best.cache, ret);
}

int engine_intent(struct engine *e, enum key key, struct record *ret) { return intent_of(e, key, ret); }

/* Everything one arbitration of (key, Buds) needs, read from the store. */
struct round {
        enum key key;
        const struct store_buds *buds;
        bool have_buds;
        struct store_buds_item snap;
        struct store_item items[FAMILY_COUNT];
        struct arb_input in;
        struct arb_decision d;
};

static int load_round(struct engine *e, struct round *rd) {
        enum family fams[2];
        unsigned n = arb_families(rd->key, fams);
        int r;

        rd->in = (struct arb_input) { .key = rd->key };
        for (unsigned i = 0; i < n; i++) {
                enum family f = fams[i];
                r = store_item_get(e->store, rd->key, f, &rd->items[f]);
                if (r < 0)
                        return r;
                rd->in.cache[f] = arb_of(&rd->items[f].cache);
                /* a copy taken from the Buds as they held it was not made here: for the
                 * conflict log it counts as the Buds' (above the server's copy), not ours */
                rd->in.pending[f] = rd->items[f].pending && !rd->items[f].adopted;
                rd->in.server[f] = arb_of(&rd->items[f].server);
        }
        if (!rd->buds)
                return 0;
        r = store_buds_item_get(e->store, rd->buds->address, rd->key, &rd->snap);
        if (r == -ENOENT)
                return 0;       /* not read yet: these Buds take no part */
        if (r < 0)
                return r;
        rd->have_buds = true;
        rd->in.buds_present = true;
        rd->in.buds_family = rd->buds->family;
        rd->in.buds = arb_of(&rd->snap.copy);
        rd->in.buds_known = rd->snap.known;
        if (!rd->snap.known && stamp_is_factory(rd->snap.assigned) && !stamp_is_factory(rd->snap.copy.stamp)) {
                /* a copy a change on the Buds was made on: replaced where seen;
                 * or an earlier copy of the bridge that stamped that one, which
                 * replaced it there in its own cache and answers for it (as
                 * when the intent itself carries its origin) */
                r = store_superseded_covers(e->store, rd->snap.copy.stamp);
                if (r < 0)
                        return r;
                rd->in.buds_known = r > 0;
        }
        if (!stamp_is_factory(rd->snap.assigned)) {
                /* a DIRTY (or suspect) record: the content carries the stamp we gave it */
                rd->in.buds_dirty = true;
                rd->in.buds_base = rd->snap.copy.stamp;
                rd->in.buds.stamp = rd->snap.assigned;
                rd->in.buds.derived = false;
        }
        return 0;
}

static struct store_copy buds_copy(const struct round *rd) {
        struct store_copy c = rd->snap.copy;

        c.stamp = rd->in.buds.stamp;
        c.derived = rd->in.buds.derived;
        return c;
}

static int convert_into(struct round *rd, enum family to) {
        enum family from = rd->d.intent_family;
        struct record src, dst = { .stamp = rd->d.intent, .flags = RECORD_DERIVED };
        int r = engine_copy_to_record(rd->key, from, &rd->items[from].cache, &src);

        if (r < 0)
                return r;
        r = eqconv_value(&src.value, to, &dst.value);
        if (r < 0)
                return r;
        return engine_copy_from_record(&dst, &rd->items[to].cache);
}

static bool same_value(const struct store_copy *a, const struct store_copy *b) {
        return a->present && b->present && a->len == b->len && memcmp(a->value, b->value, a->len) == 0;
}

static int log_conflict(struct engine *e, struct round *rd, enum family lost_f, const struct store_copy *lost,
                        const char *lost_source, const char *kept_source, struct engine_outcome *o) {
        enum family kf = rd->d.intent_family;
        struct store_conflict c = { .key = rd->key, .kept_family = kf, .lost_family = lost_f,
                                    .kept = rd->items[kf].cache, .lost = *lost, .at_ms = now(e) };
        int r;

        /* the same value under another stamp (one change stamped twice: a
         * Buds copy stamped again after a clock step): nothing is lost */
        if (kf == lost_f && same_value(&c.kept, lost))
                return 0;

        (void) snprintf(c.kept_source, sizeof(c.kept_source), "%s", kept_source);
        (void) snprintf(c.lost_source, sizeof(c.lost_source), "%s", lost_source);
        r = store_conflict_add(e->store, &c, e->cfg.conflict_log_limit, NULL);
        if (r > 0) {
                o->conflicts_logged++;
                e->counters.conflicts_logged++;
        }
        return r < 0 ? r : 0;
}

static const char *source_name(enum arb_adopt a) {
        switch (a) {
        case ARB_FROM_BUDS:
                return "buds";
        case ARB_FROM_SERVER:
                return "server";
        case ARB_KEEP:
        case ARB_CONVERT:
        case ARB_DROP:
                break;
        }
        return "bridge";
}

/* Applies one family's decision to rd->items[f]. The intent's family goes
 * first, so a conversion reads the settled intent. */
static int apply_family(struct engine *e, struct round *rd, enum family f, struct engine_outcome *o) {
        const struct arb_family *a = &rd->d.family[f];
        struct store_copy old_cache = rd->items[f].cache;
        int r = 0;

        switch (a->adopt) {
        case ARB_KEEP:
                break;
        case ARB_FROM_BUDS:
                rd->items[f].cache = buds_copy(rd);
                rd->items[f].adopted = !rd->in.buds_dirty;
                break;
        case ARB_FROM_SERVER:
                rd->items[f].cache = rd->items[f].server;
                rd->items[f].adopted = false;
                break;
        case ARB_CONVERT:
                r = convert_into(rd, f);
                rd->items[f].adopted = false;
                break;
        case ARB_DROP:
                rd->items[f].cache = (struct store_copy) { 0 };
                rd->items[f].adopted = false;
                break;
        }
        if (r < 0)
                return r;
        /* what the server refused is kept here but not offered again */
        rd->items[f].pending = a->push && !stamp_eq(rd->items[f].cache.stamp, rd->items[f].refused);
        if (a->lost_cache)
                r = log_conflict(e, rd, f, &old_cache, "bridge",
                                 source_name(rd->d.family[rd->d.intent_family].adopt), o);
        if (r == 0 && a->lost_buds)
                r = log_conflict(e, rd, f, &rd->snap.copy, "buds",
                                 source_name(rd->d.family[rd->d.intent_family].adopt), o);
        if (r == 0)
                r = store_item_put(e->store, rd->key, f, &rd->items[f]);
        if (r == 0 && rd->items[f].pending)
                o->push = true;
        return r;
}

static int queue_write(struct round *rd, struct engine_outcome *o) {
        enum family bf = arb_buds_item_family(rd->key, rd->buds->family);
        struct engine_write *w;
        int r;

        if (o->n_writes >= sizeof(o->writes) / sizeof(o->writes[0]))
                return -ENOBUFS;
        w = &o->writes[o->n_writes];
        r = engine_copy_to_record(rd->key, bf, &rd->items[bf].cache, &w->rec);
        if (r < 0)
                return r;
        w->rec.revision = rd->snap.revision;
        (void) snprintf(w->address, sizeof(w->address), "%s", rd->buds->address);
        /* the same key for the same Buds: the newer decision replaces the older */
        for (unsigned i = 0; i < o->n_writes; i++)
                if (buds_address_equal(o->writes[i].address, w->address) && o->writes[i].rec.value.key == rd->key) {
                        o->writes[i] = *w;
                        return 0;
                }
        o->n_writes++;
        return 0;
}

/* Arbitration compares stamps only. One stamp on two values (a copied
 * state directory's halves stamping at one instant, take_twin) leaves Buds
 * holding the loser under the winner's stamp: written too. */
static bool buds_twin(const struct round *rd) {
        enum family bf = arb_buds_item_family(rd->key, rd->buds->family);
        const struct store_copy *target = &rd->items[bf].cache;
        struct store_copy buds = buds_copy(rd);

        return !rd->in.buds_dirty && target->present && !target->derived && !buds.derived &&
               stamp_eq(target->stamp, buds.stamp) && !same_value(target, &buds);
}

static int reconcile_with(struct engine *e, enum key key, const struct store_buds *buds, struct engine_outcome *o) {
        struct round rd = { .key = key, .buds = buds };
        enum family fams[2];
        unsigned n = arb_families(key, fams);
        int r = load_round(e, &rd);

        if (r < 0)
                return r;
        arbitrate(&rd.in, &rd.d);
        if (!rd.d.has_intent)
                return 0;
        r = apply_family(e, &rd, rd.d.intent_family, o);
        for (unsigned i = 0; r == 0 && i < n; i++)
                if (fams[i] != rd.d.intent_family)
                        r = apply_family(e, &rd, fams[i], o);
        if (r == 0 && rd.have_buds && (rd.d.write_buds || buds_twin(&rd)))
                r = queue_write(&rd, o);
        return r;
}

/* The intent before a step, to tell afterwards whether it changed. */
struct before {
        bool had;
        struct record intent;
};

static struct before before_of(struct engine *e, enum key key) {
        struct before b = { 0 };

        b.had = intent_of(e, key, &b.intent) == 0;
        return b;
}

static void befores_of(struct engine *e, struct before b[static KEY_MAX + 1]) {
        for (int k = KEY_MIN; k <= KEY_MAX; k++)
                b[k] = before_of(e, (enum key) k);
}

static void note_change(struct engine *e, enum key key, const struct before *b, struct engine_outcome *o) {
        struct record after;

        if (intent_of(e, key, &after) == 0 &&
            (!b->had || !stamp_eq(b->intent.stamp, after.stamp) || b->intent.value.family != after.value.family))
                o->changed[key] = true;
}

/* Arbitrates key against every connected Buds (or none), from a state whose
 * intent before the step was b. */
static int reconcile_since(struct engine *e, enum key key, const struct before *b, struct engine_outcome *o) {
        struct before mid;
        int r = 0;

        if (e->n_buds == 0)
                r = reconcile_with(e, key, NULL, o);
        for (unsigned pass = 0; r == 0 && pass < 2 && e->n_buds > 0; pass++) {
                mid = before_of(e, key);
                for (unsigned i = 0; r == 0 && i < e->n_buds; i++)
                        r = reconcile_with(e, key, &e->buds[i], o);
                /* one pass suffices unless a later Buds (a DIRTY change on them) moved
                 * the intent after an earlier one was decided */
                if (e->n_buds == 1 || (before_of(e, key).had == mid.had &&
                                       stamp_eq(before_of(e, key).intent.stamp, mid.intent.stamp)))
                        break;
        }
        if (r == 0)
                note_change(e, key, b, o);
        return r;
}

static int reconcile(struct engine *e, enum key key, struct engine_outcome *o) {
        struct before b = before_of(e, key);

        return reconcile_since(e, key, &b, o);
}

/* A new edit here supersedes everything of key this host knows now: the
 * connected Buds' copies as last read, and the other family's pending copy.
 * A person's edits in a row, or an edit over a change of the Buds this host
 * took in, are one line of edits, not conflicts. */
static int supersede_known(struct engine *e, enum key key, enum family edited) {
        enum family fams[2];
        unsigned n = arb_families(key, fams);
        int r = 0;

        for (unsigned i = 0; r == 0 && i < e->n_buds; i++) {
                struct store_buds_item snap;

                r = store_buds_item_get(e->store, e->buds[i].address, key, &snap);
                if (r == -ENOENT) {
                        r = 0;
                        continue;
                }
                if (r == 0 && !snap.known) {
                        snap.known = true;
                        r = store_buds_item_put(e->store, e->buds[i].address, key, &snap);
                }
        }
        for (unsigned i = 0; r == 0 && i < n; i++) {
                struct store_item it;

                if (fams[i] == edited)
                        continue;
                r = store_item_get(e->store, key, fams[i], &it);
                if (r == 0 && it.pending) {
                        it.pending = false;     /* converted from the new edit instead */
                        r = store_item_put(e->store, key, fams[i], &it);
                }
        }
        return r;
}

int engine_set(struct engine *e, const struct value *v, struct record *ret, struct engine_outcome *o) {
        struct record rec = { .value = *v };
        struct store_item it;
        struct before b;
        int r = value_check(v, NULL);

        if (r == 0)
                r = engine_check_clock(e, o);
        if (r < 0)
                return r;
        r = begin(e);
        if (r < 0)
                return r;
        b = before_of(e, v->key);
        r = fresh_stamp(e, &rec.stamp);
        if (r == 0)
                r = store_item_get(e->store, v->key, v->family, &it);
        if (r == 0)
                r = engine_copy_from_record(&rec, &it.cache);
        if (r == 0) {
                it.pending = true;      /* a newer pending edit replaces an older one */
                it.adopted = false;     /* made here */
                r = store_item_put(e->store, v->key, v->family, &it);
        }
        if (r == 0)
                r = supersede_known(e, v->key, v->family);
        if (r == 0)
                r = reconcile_since(e, v->key, &b, o);
        if (r < 0)
                return fail(e, r);
        r = commit(e);
        if (r == 0 && ret)
                *ret = rec;
        return r;
}

int engine_buds_connected(struct engine *e, const struct store_buds *b) {
        for (unsigned i = 0; i < e->n_buds; i++)
                if (buds_address_equal(e->buds[i].address, b->address)) {
                        e->buds[i] = *b;
                        return 0;
                }
        if (e->n_buds >= ENGINE_MAX_BUDS)
                return -ENOBUFS;
        e->buds[e->n_buds++] = *b;
        return store_buds_put(e->store, b);
}

void engine_buds_gone(struct engine *e, const char *address) {
        for (unsigned i = 0; i < e->n_buds; i++)
                if (buds_address_equal(e->buds[i].address, address)) {
                        e->buds[i] = e->buds[--e->n_buds];
                        return;
                }
}

static const struct store_buds *find_buds(struct engine *e, const char *address) {
        for (unsigned i = 0; i < e->n_buds; i++)
                if (buds_address_equal(e->buds[i].address, address))
                        return &e->buds[i];
        return NULL;
}

/* 1 when this host issued stamps under s's origin: its node id, or one it
 * gave up when it restarted its clock (their stamps are its own as much). */
static int issued_here(struct engine *e, struct stamp s) {
        if (stamp_is_factory(s))
                return 0;
        if (s.origin == e->clock.node)
                return 1;
        return store_past_node_has(e->store, s.origin);
}

/* The snapshot of a record just read. A DIRTY (or suspect) content gets a
 * stamp of its own, kept while the same revision is read again; a change on
 * top of an earlier one we stamped has that stamp as its base. */
static int snapshot_of(struct engine *e, const char *address, const struct record *rec,
                       struct store_buds_item *ret, struct engine_outcome *o) {
        struct store_buds_item prev, snap = { .revision = rec->revision, .flags = rec->flags };
        bool have_prev = store_buds_item_get(e->store, address, rec->value.key, &prev) == 0;
        enum hlc_verdict v = receive(e, rec->stamp, o);
        int r = engine_copy_from_record(rec, &snap.copy);

        if (r < 0)
                return r;
        if (!(rec->flags & RECORD_DIRTY) && v != HLC_SUSPECT_FUTURE) {
                /* the same copy read again stays as known as it was; a copy
                 * under a stamp this host issued (under its node id, or one
                 * it gave up at a clock restart) went through its cache (an
                 * edit here, or a Buds change it took in, written back): its
                 * fate is the cache copy's, as for a write seen to land, also
                 * when the write was never announced and the snapshot doubted,
                 * or its answer never came */
                int own = v == HLC_ACCEPTED ? issued_here(e, rec->stamp) : 0;

                if (own < 0)
                        return own;
                snap.known = (have_prev && stamp_is_factory(prev.assigned) && stamp_eq(prev.copy.stamp, rec->stamp) &&
                              prev.known) ||
                             own > 0;
                *ret = snap;
                return 0;
        }
        if (have_prev && prev.revision == rec->revision && !stamp_is_factory(prev.assigned)) {
                *ret = prev;    /* the same change, read again */
                return 0;
        }
        if (have_prev && !stamp_is_factory(prev.assigned)) {
                snap.copy.stamp = prev.assigned;        /* base: our stamp of the change before */
                /* a stamp on the Buds newer than ours was written there after
                 * we stamped that change, by another host while the Buds were
                 * away (which took the change in, or wrote over it): this
                 * change was made on that copy, replaced where seen as well */
                if ((rec->flags & RECORD_DIRTY) && stamp_cmp(rec->stamp, prev.assigned) > 0) {
                        r = store_superseded_add(e->store, rec->stamp);
                        if (r < 0)
                                return r;
                }
        }
        if (v == HLC_SUSPECT_FUTURE && !(rec->flags & RECORD_DIRTY)) {
                o->restamped_future++;
                e->counters.restamped_future++;
        }
        /* what the change was made on, the person replaced where they saw
         * it: a copy of it that other Buds bring later is no lost change */
        if ((rec->flags & RECORD_DIRTY) && !stamp_is_factory(snap.copy.stamp)) {
                r = store_superseded_add(e->store, snap.copy.stamp);
                if (r < 0)
                        return r;
        }
        r = fresh_stamp(e, &snap.assigned);
        if (r == 0)
                *ret = snap;
        return r;
}

int engine_buds_record(struct engine *e, const char *address, enum key key, const struct record *rec,
                       uint32_t revision, struct engine_outcome *o) {
        const struct store_buds *b = find_buds(e, address);
        struct store_buds_item snap;
        int r;

        if (!b)
                return -ENOENT;
        if (rec && rec->value.key != key)
                return -EINVAL;
        r = rec ? engine_check_clock(e, o) : 0;
        if (r >= 0)
                r = begin(e);
        if (r < 0)
                return r;
        if (!rec) {
                r = store_buds_item_get(e->store, address, key, &snap);
                if (r == 0 && snap.revision != revision)
                        r = -ESTALE;
                if (r == -ENOENT)
                        r = -ESTALE;
        } else {
                r = snapshot_of(e, address, rec, &snap, o);
                if (r == 0)
                        r = store_buds_item_put(e->store, address, key, &snap);
        }
        if (r == 0)
                r = reconcile(e, key, o);
        if (r < 0)
                return fail(e, r);
        return commit(e);
}

/* In a snapshot's flags (never sent): the snapshot is our write-back of the
 * DIRTY change the Buds held at the revision before, under the stamp we
 * gave it. Should the write prove dropped, the Buds still hold that change
 * (or one made on top of it), and the stamp is its base. */
#define SNAP_WRITTEN_BACK 0x80u
/* In a snapshot's flags (never sent): a change on the Buds was announced
 * at a revision above this snapshot's while a write sent at it was still
 * unanswered. The Buds had moved on before the write came: an answer that
 * it landed is not to be trusted (firmware that acknowledges a write and
 * drops it). */
#define SNAP_DIRTY_ABOVE 0x40u

/* A write of ours in doubt (never announced) or found dropped: the
 * snapshot it left is not what the Buds hold. A write-back of a DIRTY
 * change puts back the change as we stamped it, at the revision it had, so
 * that a change made on top of it (the person pressing twice) has its
 * stamp as base, not a conflict with it; any other write's snapshot is
 * forgotten. Either way the item is read or written again. The change put
 * back is known: our cache took it in and answers for it (logged there if
 * it loses while pending). What it was made on is not known any more: no
 * base (a cache copy that was its base was replaced by it long since). */
static int undo_written(struct engine *e, const char *address, enum key key) {
        struct store_buds_item snap;
        int r = store_buds_item_get(e->store, address, key, &snap);

        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        if (!(snap.flags & SNAP_WRITTEN_BACK) || snap.revision == 0)
                return store_buds_item_forget(e->store, address, key);
        snap = (struct store_buds_item) { .revision = snap.revision - 1, .flags = RECORD_DIRTY, .copy = snap.copy,
                                          .assigned = snap.copy.stamp, .known = true };
        snap.copy.stamp = (struct stamp) { 0 };
        snap.copy.derived = false;
        return store_buds_item_put(e->store, address, key, &snap);
}

int engine_buds_doubt(struct engine *e, const char *address, enum key key) {
        int r = begin_relaxed(e);

        if (r == 0)
                r = undo_written(e, address, key);
        if (r < 0)
                return fail(e, r);
        return commit(e);
}

static int mark_dirty_above(struct engine *e, const char *address, enum key key, struct store_buds_item *snap) {
        int r = begin_relaxed(e);

        snap->flags |= SNAP_DIRTY_ABOVE;
        if (r == 0)
                r = store_buds_item_put(e->store, address, key, snap);
        if (r < 0)
                return fail(e, r);
        return commit(e);
}

int engine_buds_announced(struct engine *e, const char *address, enum key key, uint32_t revision, uint8_t flags) {
        struct store_buds_item snap;
        int r;

        if (!(flags & RECORD_DIRTY))
                return 0;
        r = store_buds_item_get(e->store, address, key, &snap);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        /* announced before the answer of a write sent at our snapshot: the
         * change is what that revision holds, whatever the answer says */
        if (revision > snap.revision && !(snap.flags & SNAP_DIRTY_ABOVE))
                return mark_dirty_above(e, address, key, &snap);
        if (snap.revision != revision || (snap.flags & RECORD_DIRTY))
                return 0;
        return engine_buds_doubt(e, address, key);
}

/* The write of rec, sent at the revision of snapshot prev, writes back the
 * DIRTY change prev holds, under the stamp we gave it. */
static bool writes_back(const struct store_buds_item *prev, const struct record *rec) {
        return prev->revision == rec->revision && !stamp_is_factory(prev->assigned) &&
               stamp_eq(prev->assigned, rec->stamp);
}

int engine_buds_written(struct engine *e, const char *address, const struct record *rec, uint32_t new_revision) {
        /* what we wrote came from our cache: its fate is the cache copy's */
        struct store_buds_item prev, snap = { .revision = new_revision, .flags = rec->flags & RECORD_DERIVED,
                                              .known = true };
        int r = engine_copy_from_record(rec, &snap.copy);
        bool above;

        if (r < 0)
                return r;
        r = begin_relaxed(e);
        /* a write sent before the clock was found ahead and restarted lands
         * with a stamp now suspect: not a snapshot to trust; the next check
         * reads it, and the read stamps it anew */
        if (r == 0 && hlc_is_suspect(&e->clock, rec->stamp, now(e)))
                r = store_buds_item_forget(e->store, address, rec->value.key);
        else if (r == 0) {
                r = store_buds_item_get(e->store, address, rec->value.key, &prev);
                if (r == 0 && writes_back(&prev, rec))
                        snap.flags |= SNAP_WRITTEN_BACK;
                above = r == 0 && (prev.flags & SNAP_DIRTY_ABOVE);
                r = r == -ENOENT ? 0 : r;
                if (r == 0)
                        r = store_buds_item_put(e->store, address, rec->value.key, &snap);
                /* a change announced above the revision it was sent at came
                 * first: the write was dropped, as one found dropped later */
                if (r == 0 && above)
                        r = undo_written(e, address, rec->value.key);
        }
        if (r < 0)
                return fail(e, r);
        return commit(e);
}

static int log_conflict_between(struct engine *e, enum key key, enum family lost_f, const struct store_copy *lost,
                                const char *lost_source, enum family kept_f, const struct store_copy *kept,
                                const char *kept_source, struct engine_outcome *o) {
        struct store_conflict c = { .key = key, .kept_family = kept_f, .lost_family = lost_f, .kept = *kept,
                                    .lost = *lost, .at_ms = now(e) };
        int r;

        /* one change stamped twice (a clock restart's re-stamp against
         * another host's re-stamp of the same suspect value): nothing lost */
        if (kept_f == lost_f && same_value(kept, lost))
                return 0;
        (void) snprintf(c.kept_source, sizeof(c.kept_source), "%s", kept_source);
        (void) snprintf(c.lost_source, sizeof(c.lost_source), "%s", lost_source);
        r = store_conflict_add(e->store, &c, e->cfg.conflict_log_limit, NULL);
        if (r > 0) {
                o->conflicts_logged++;
                e->counters.conflicts_logged++;
        }
        return r < 0 ? r : 0;
}

static int log_conflict_of(struct engine *e, enum key key, enum family f, const struct store_copy *lost,
                           const char *lost_source, const struct store_copy *kept, const char *kept_source,
                           struct engine_outcome *o) {
        return log_conflict_between(e, key, f, lost, lost_source, f, kept, kept_source, o);
}

static int log_suspect_conflict(struct engine *e, enum key key, enum family f, const struct store_copy *lost,
                                const struct store_copy *kept, struct engine_outcome *o) {
        return log_conflict_of(e, key, f, lost, "bridge", kept, "server", o);
}

/* ---- the clock ahead of the wall clock ---- */

/* One family's cache copy stamped ahead: stamped again now, pending. A copy
 * converted from it is dropped (the conversion is made again from the
 * re-stamped intent); a newer copy from elsewhere on the server that the
 * re-stamp now beats goes to the conflict log. */
static bool restamp_wanted(struct engine *e, const struct store_item *it) {
        return it->cache.present && !stamp_is_factory(it->cache.stamp) &&
               hlc_is_suspect(&e->clock, it->cache.stamp, now(e));
}

/* One copy stamped anew. last: the newest of the key's copies stamped ahead,
 * so the intent: it is offered (pending) whatever it was; an older one stays
 * as pending as it was (an edit of ours it superseded is not revived). A
 * server copy the intent now beats goes to the conflict log, unless it is
 * our own: stamped by this node before the restart, or by a node this host
 * gave up at an earlier one. */
static int restamp_copy(struct engine *e, enum key key, enum family f, struct store_item *it, bool last,
                        struct engine_outcome *o) {
        struct store_copy c = it->cache;
        int r = fresh_stamp(e, &c.stamp);

        if (r < 0)
                return r;
        if (last && it->server.present && !it->server.derived && !stamp_is_factory(it->server.stamp) &&
            !hlc_is_suspect(&e->clock, it->server.stamp, now(e)) && it->server.stamp.origin != o->old_node) {
                r = store_past_node_has(e->store, it->server.stamp.origin);
                if (r == 0)
                        r = log_conflict_of(e, key, f, &it->server, "server", &c, "bridge", o);
                if (r < 0)
                        return r;
        }
        it->cache = c;
        it->pending = it->pending || last;
        it->adopted = false;
        o->restamped_ahead++;
        return store_item_put(e->store, key, f, it);
}

/* fn on the snapshot of every item of every Buds the store knows (items
 * never read are skipped); stops at the first error. */
static int each_buds_snapshot(struct engine *e, int (*fn)(struct engine *e, const struct store_buds *b, enum key key,
                                                           struct store_buds_item *snap)) {
        struct store_buds *all = NULL;
        size_t n = 0;
        int r = store_buds_list(e->store, &all, &n);

        for (size_t i = 0; r == 0 && i < n; i++)
                for (int k = KEY_MIN; r == 0 && k <= KEY_MAX; k++) {
                        struct store_buds_item snap;

                        r = store_buds_item_get(e->store, all[i].address, (enum key) k, &snap);
                        if (r == 0)
                                r = fn(e, &all[i], (enum key) k, &snap);
                        else if (r == -ENOENT)
                                r = 0;
                }
        free(all);
        return r;
}

static void absorb(struct engine *e, struct stamp st) {
        if (!stamp_is_factory(st) && !hlc_is_suspect(&e->clock, st, now(e)))
                (void) hlc_receive(&e->clock, st, now(e));
}

/* A restarted clock starts from the wall clock, which may be behind stamps
 * the cache rightly holds (a host or the server within MaxClockSkewSec
 * ahead): it takes them in first, so that what is stamped from now on (the
 * copies stamped anew, a person's next edit) is newer than all of them. */
static int absorb_snapshot(struct engine *e, const struct store_buds *b, enum key key, struct store_buds_item *snap) {
        (void) b, (void) key;
        absorb(e, snap->copy.stamp);
        absorb(e, snap->assigned);
        return 0;
}

static int absorb_held_stamps(struct engine *e) {
        int r = 0;

        for (int k = KEY_MIN; r == 0 && k <= KEY_MAX; k++) {
                enum family fams[2];
                unsigned nf = arb_families((enum key) k, fams);

                for (unsigned i = 0; r == 0 && i < nf; i++) {
                        struct store_item it;

                        r = store_item_get(e->store, (enum key) k, fams[i], &it);
                        if (r < 0)
                                break;
                        if (it.cache.present)
                                absorb(e, it.cache.stamp);
                        if (it.server.present)
                                absorb(e, it.server.stamp);
                }
        }
        return r < 0 ? r : each_buds_snapshot(e, absorb_snapshot);
}

/* The key's copies stamped ahead, stamped anew oldest first, so that their
 * order (which edit came last) survives; copies converted from them are
 * dropped, to be converted again from the intent. */
static int restamp_key(struct engine *e, enum key key, struct engine_outcome *o) {
        struct store_item items[FAMILY_COUNT];
        enum family fams[2], order[2];
        unsigned n = arb_families(key, fams), m = 0;
        int r = 0;

        for (unsigned i = 0; r == 0 && i < n; i++) {
                struct store_item *it = &items[fams[i]];

                r = store_item_get(e->store, key, fams[i], it);
                if (r < 0 || !restamp_wanted(e, it))
                        continue;
                if (it->cache.derived) {
                        it->cache = (struct store_copy) { 0 };
                        it->pending = false;
                        r = store_item_put(e->store, key, fams[i], it);
                } else
                        order[m++] = fams[i];
        }
        if (m == 2 && stamp_cmp(items[order[0]].cache.stamp, items[order[1]].cache.stamp) > 0) {
                enum family t = order[0];

                order[0] = order[1];
                order[1] = t;
        }
        for (unsigned j = 0; r == 0 && j < m; j++)
                r = restamp_copy(e, key, order[j], &items[order[j]], j == m - 1, o);
        return r;
}

/* A DIRTY change we stamped ahead and have just stamped anew in the cache,
 * or a copy of ours written there under a stamp ahead (the write landed):
 * the snapshot takes the new stamp, so that the same change read again
 * keeps it and a change made on top of it (still carrying the old stamp)
 * has it as its base (a person pressing twice is no conflict); a copy
 * written there is written again under it. 1 when so, 0 when the snapshot
 * is to be forgotten (read again). */
static int restamp_snapshot(struct engine *e, const struct store_buds *b, enum key key, struct store_buds_item *snap) {
        bool written = stamp_is_factory(snap->assigned);
        struct store_item it;
        int r;

        if (written ? !hlc_is_suspect(&e->clock, snap->copy.stamp, now(e)) || snap->copy.derived
                    : hlc_is_suspect(&e->clock, snap->copy.stamp, now(e)))
                return 0;
        r = store_item_get(e->store, key, arb_buds_item_family(key, b->family), &it);
        if (r < 0)
                return r;
        if (!it.cache.present || it.cache.derived || !same_value(&it.cache, &snap->copy) ||
            hlc_is_suspect(&e->clock, it.cache.stamp, now(e)))
                return 0;
        snap->assigned = it.cache.stamp;
        snap->flags &= ~SNAP_WRITTEN_BACK;      /* its stamp ahead is no base to put back */
        return 1;
}

/* Buds snapshots stamped ahead are read again (and, still ahead, stamped
 * again as suspect there). */
static int forget_snapshot_ahead(struct engine *e, const struct store_buds *b, enum key key,
                                 struct store_buds_item *snap) {
        int r;

        if (!hlc_is_suspect(&e->clock, snap->copy.stamp, now(e)) && !hlc_is_suspect(&e->clock, snap->assigned, now(e)))
                return 0;
        r = restamp_snapshot(e, b, key, snap);
        if (r == 0)
                return store_buds_item_forget(e->store, b->address, key);
        if (r > 0)
                return store_buds_item_put(e->store, b->address, key, snap);
        return r;
}

static int forget_buds_ahead(struct engine *e) {
        return each_buds_snapshot(e, forget_snapshot_ahead);
}

int engine_check_clock(struct engine *e, struct engine_outcome *o) {
        struct hlc before = e->clock;
        uint64_t node;
        int r;

        if (!hlc_is_ahead(&e->clock, now(e)))
                return 0;
        r = random_node(e, &node);
        if (r == 0)
                r = begin(e);
        if (r < 0)
                return r;
        o->clock_restarted = true;
        o->old_node = e->clock.node;
        hlc_restart(&e->clock, node);
        r = store_past_node_add(e->store, o->old_node);
        if (r == 0)
                r = absorb_held_stamps(e);
        for (int k = KEY_MIN; r == 0 && k <= KEY_MAX; k++)
                r = restamp_key(e, (enum key) k, o);
        if (r == 0)
                r = forget_buds_ahead(e);
        if (r == 0)
                r = store_push_clear(e->store);      /* it carried the stamps ahead: made anew */
        for (int k = KEY_MIN; r == 0 && k <= KEY_MAX; k++) {
                struct before b = { 0 };

                r = reconcile_since(e, (enum key) k, &b, o);
        }
        if (r == 0)
                r = commit(e);
        if (r < 0) {
                store_rollback(e->store);
                e->clock = before;
                o->clock_restarted = false;
                return r;
        }
        e->counters.clock_restarts++;
        return 1;
}

/* One stamp on two values: only a copy of this state directory, both
 * halves stamping under the same node id at the same instant, makes that.
 * The server's came first and stays; ours goes to the conflict log (if it
 * was an edit still to send) and we take a node id of our own. */
static int take_twin(struct engine *e, enum key key, enum family f, struct store_item *it, const struct store_copy *c,
                     struct engine_outcome *o) {
        int r = 0;

        if (it->pending && !it->adopted)
                r = log_conflict_of(e, key, f, &it->cache, "bridge", c, "server", o);
        if (r < 0)
                return r;
        it->cache = *c;
        it->pending = false;
        it->adopted = false;
        if (c->stamp.origin == e->clock.node)
                renew_node(e, o);
        return 0;
}

/* A stamp under a node id this host stamps or stamped under, a copy of its
 * state directory's included (the node id it gave up for the copy, which
 * both halves stamped under). */
static int stamped_by_us_or_copy(struct engine *e, struct stamp s) {
        int r = issued_here(e, s);

        if (r != 0 || stamp_is_factory(s))
                return r;
        if (s.origin == e->shared_node)
                return 1;
        return store_shared_node_has(e->store, s.origin);
}

/* One stamp of ours on originals of both families, neither converted from
 * the other: a single bridge never stamps two families' originals at once
 * (an edit is of one family; the other gets a DERIVED conversion), so the
 * halves of a copied state directory each made one at the same instant.
 * Each is the intent of its family under one stamp, so Buds of each family
 * would keep their own for ever. The first family (standard) wins, as
 * arbitration's tie between families has it: this bridge stamps its value
 * again, newer than both, so that the other family gets its conversion; a
 * loser that was this bridge's own edit goes to the conflict log; and a
 * half still under that node id takes one of its own. Both halves do the
 * same when they see it: the value is one, so the newer re-stamp simply
 * replaces the other. "Ours" includes the node id a half gave up when it
 * found the copy (a twin of another item first, take_twin): it may be the
 * only one holding both originals (the server refused its own as stale
 * against a conversion of the other). c (family f) is what the server
 * sent. */
static int take_family_twin(struct engine *e, enum key key, enum family f, const struct store_copy *c,
                            struct engine_outcome *o) {
        enum family fams[2], g, wf, lf;
        struct store_item it[FAMILY_COUNT];
        int r;

        if (arb_families(key, fams) != 2 || c->derived || stamp_is_factory(c->stamp))
                return 0;
        r = stamped_by_us_or_copy(e, c->stamp);
        if (r <= 0)
                return r;
        g = f == fams[0] ? fams[1] : fams[0];
        r = store_item_get(e->store, key, g, &it[g]);
        if (r < 0)
                return r;
        if (!it[g].cache.present || it[g].cache.derived || !stamp_eq(it[g].cache.stamp, c->stamp))
                return 0;
        r = store_item_get(e->store, key, f, &it[f]);
        if (r < 0)
                return r;

        wf = fams[0];
        lf = fams[1];
        /* the winner came: the loser is in our cache, and if made here, a
         * person's edit that goes */
        if (f == wf && !it[lf].adopted) {
                r = log_conflict_between(e, key, lf, &it[lf].cache, "bridge", wf, c, "server", o);
                if (r < 0)
                        return r;
                it[lf].pending = false;
                r = store_item_put(e->store, key, lf, &it[lf]);
                if (r < 0)
                        return r;
        }
        if (c->stamp.origin == e->clock.node)
                renew_node(e, o);
        if (f == wf)
                it[wf].cache = *c;
        r = fresh_stamp(e, &it[wf].cache.stamp);
        if (r < 0)
                return r;
        it[wf].pending = true;
        it[wf].adopted = false;
        return store_item_put(e->store, key, wf, &it[wf]);
}

/* One record from the server into the item's server copy. A suspect future
 * stamp is not followed: the value is taken as the newest intent and stamped
 * here (once: a value we already hold restamped is left alone). */
static int take_server_record(struct engine *e, const struct record *rec, struct engine_outcome *o) {
        enum key key = rec->value.key;
        enum family f = rec->value.family;
        struct store_item it;
        struct store_copy c;
        int r = store_item_get(e->store, key, f, &it);

        if (r == 0)
                r = engine_copy_from_record(rec, &c);
        if (r < 0)
                return r;
        if (receive(e, rec->stamp, o) == HLC_SUSPECT_FUTURE) {
                struct record mine;

                if (engine_copy_to_record(key, f, &it.cache, &mine) == 0 && value_equal(&mine.value, &rec->value)) {
                        /* the server holds this value already (under its stamp): stop offering it */
                        it.refused = it.cache.stamp;
                        it.pending = false;
                        return store_item_put(e->store, key, f, &it);
                }
                o->restamped_future++;
                e->counters.restamped_future++;
                r = fresh_stamp(e, &c.stamp);
                if (r < 0)
                        return r;
                c.derived = false;
                /* taken as the newest intent: a pending edit here loses to it */
                if (it.pending && !it.adopted && it.cache.present && !it.cache.derived) {
                        r = log_suspect_conflict(e, key, f, &it.cache, &c, o);
                        if (r < 0)
                                return r;
                }
                it.cache = c;
                it.adopted = false;
                it.pending = true;
                return store_item_put(e->store, key, f, &it);
        }
        if (it.cache.present && !it.cache.derived && !c.derived && stamp_eq(it.cache.stamp, c.stamp) &&
            !same_value(&it.cache, &c)) {
                r = take_twin(e, key, f, &it, &c, o);
                if (r < 0)
                        return r;
        }
        if (!it.server.present || stamp_cmp(c.stamp, it.server.stamp) > 0) {
                it.server = c;
                o->server_news++;
        }
        r = store_item_put(e->store, key, f, &it);
        if (r < 0)
                return r;
        return take_family_twin(e, key, f, &c, o);
}

static int forget_server_copies(struct engine *e, enum key key) {
        enum family fams[2];
        unsigned n = arb_families(key, fams);
        struct store_item it;
        int r = 0;

        for (unsigned i = 0; r == 0 && i < n; i++) {
                r = store_item_get(e->store, key, fams[i], &it);
                if (r < 0 || !it.server.present)
                        continue;
                it.server = (struct store_copy) { 0 };
                r = store_item_put(e->store, key, fams[i], &it);
        }
        return r;
}

/* Decided again without the Buds: with no server copy, every copy on them
 * would look like a change the server never got, and one older than the
 * intent a lost change (a conflict entry for what was synced long ago).
 * The pull from the start that follows brings the server's copies back and
 * decides with the Buds then. */
int engine_server_forget(struct engine *e, struct engine_outcome *o) {
        int r = begin(e);

        if (r < 0)
                return r;
        for (int k = KEY_MIN; r == 0 && k <= KEY_MAX; k++) {
                struct before b = before_of(e, (enum key) k);

                r = forget_server_copies(e, (enum key) k);
                if (r == 0)
                        r = reconcile_with(e, (enum key) k, NULL, o);
                if (r == 0)
                        note_change(e, (enum key) k, &b, o);
        }
        if (r == 0)
                r = store_cursor_put(e->store, NULL);
        if (r < 0)
                return fail(e, r);
        return commit(e);
}

int engine_server_records(struct engine *e, const struct record *recs, size_t n, const char *cursor,
                          struct engine_outcome *o) {
        bool touched[KEY_MAX + 1] = { false };
        struct before b[KEY_MAX + 1];
        int r = engine_check_clock(e, o);

        if (r >= 0)
                r = begin(e);
        if (r < 0)
                return r;
        befores_of(e, b);
        for (size_t i = 0; r == 0 && i < n; i++) {
                r = take_server_record(e, &recs[i], o);
                touched[recs[i].value.key] = true;
        }
        for (int k = KEY_MIN; r == 0 && k <= KEY_MAX; k++)
                if (touched[k])
                        r = reconcile_since(e, (enum key) k, &b[k], o);
        if (r == 0 && cursor)
                r = store_cursor_put(e->store, cursor);
        if (r == 0)
                r = store_last_sync_put(e->store, now(e));
        if (r < 0)
                return fail(e, r);
        e->counters.pulled += n;
        return commit(e);
}

static int uuid4(struct engine *e, char buf[static 37]) {
        uint8_t u[16];
        int r = fill_random(e, u, sizeof(u));

        if (r < 0)
                return r;
        u[6] = (u[6] & 0x0f) | 0x40;
        u[8] = (u[8] & 0x3f) | 0x80;
        (void) snprintf(buf, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                        u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13],
                        u[14], u[15]);
        return 0;
}

/* {"schema": 1, "records": [every pending copy]}, written by the one writer
 * of push bodies (codec's recjson_push_body_print, which the HTTPS client
 * uses too), so the stored push is byte for byte what the uplink sends. */
static int push_body(struct engine *e, char **ret) {
        struct record recs[(KEY_MAX - KEY_MIN + 1) * FAMILY_COUNT];
        size_t n = 0;
        int r = 0;

        for (int k = KEY_MIN; r == 0 && k <= KEY_MAX; k++)
                for (int f = FAMILY_ANY; r == 0 && f <= FAMILY_PRO; f++) {
                        struct store_item it;

                        if (!key_family_is_valid(k, f))
                                continue;
                        r = store_item_get(e->store, (enum key) k, (enum family) f, &it);
                        if (r < 0 || !it.pending)
                                continue;
                        r = engine_copy_to_record((enum key) k, (enum family) f, &it.cache, &recs[n]);
                        if (r == 0)
                                n++;
                }
        if (r == 0 && n == 0)
                r = -ENOENT;
        if (r == 0 && !(*ret = recjson_push_body_print(1, recs, n)))
                r = -ENOMEM;
        return r;
}

/* The records of the push in flight, parsed back from its stored body. */
static int pushed_records(struct engine *e, struct record **ret, size_t *ret_n) {
        char *key = NULL, *body = NULL;
        cJSON *doc = NULL, *it;
        struct record *recs = NULL;
        size_t n = 0;
        int r = store_push_get(e->store, &key, &body);

        if (r == 0)
                r = json_strict_parse(body, strlen(body), &doc, NULL);
        if (r == 0) {
                const cJSON *arr = cJSON_GetObjectItemCaseSensitive(doc, "records");
                recs = calloc((size_t) cJSON_GetArraySize(arr) + 1, sizeof(*recs));
                if (!recs)
                        r = -ENOMEM;
                cJSON_ArrayForEach(it, arr)
                        if (r == 0)
                                r = recjson_record_from(it, &recs[n++], NULL);
        }
        cJSON_Delete(doc);
        free(key);
        free(body);
        if (r < 0) {
                free(recs);
                return r;
        }
        *ret = recs;
        *ret_n = n;
        return 0;
}

/* Stores a new push of every pending copy. -ENOENT when nothing is pending. */
static int push_create(struct engine *e) {
        char key[37], *body = NULL;
        int r = begin_relaxed(e);

        if (r < 0)
                return r;
        r = push_body(e, &body);
        if (r == 0)
                r = uuid4(e, key);
        if (r == 0)
                r = store_push_put(e->store, key, body);
        free(body);
        if (r < 0)
                return fail(e, r);
        return commit(e);
}

int engine_push_next(struct engine *e, char **ret_key, struct record **ret_records, size_t *ret_n) {
        char *key = NULL, *body = NULL;
        int r = store_push_get(e->store, &key, &body);

        if (r == -ENOENT) {
                r = push_create(e);
                if (r == 0)
                        r = store_push_get(e->store, &key, &body);
        }
        free(body);
        if (r == 0)
                r = pushed_records(e, ret_records, ret_n);
        if (r < 0) {
                free(key);
                return r;
        }
        *ret_key = key;
        return 0;
}

static int take_result(struct engine *e, const struct record *sent, const struct engine_push_result *res,
                       struct engine_outcome *o) {
        struct store_item it;
        int r;

        if (res->key != sent->value.key || res->family != sent->value.family)
                return -EBADMSG;
        switch (res->status) {
        case ENGINE_PUSH_APPLIED:
                e->counters.pushed++;
                return take_server_record(e, sent, o);
        case ENGINE_PUSH_STALE:
                if (res->current.value.key != res->key || res->current.value.family != res->family)
                        return -EBADMSG;
                return take_server_record(e, &res->current, o);
        case ENGINE_PUSH_REJECTED_INVALID:
                /* the server will never take it: keep the value here, stop offering it */
                e->counters.rejected++;
                r = store_item_get(e->store, res->key, res->family, &it);
                if (r == 0 && it.cache.present && stamp_eq(it.cache.stamp, sent->stamp)) {
                        it.refused = sent->stamp;
                        it.pending = false;
                        r = store_item_put(e->store, res->key, res->family, &it);
                }
                return r;
        case ENGINE_PUSH_REJECTED_FUTURE:
                e->counters.rejected++;
                return 0;       /* stays pending; the manager backs off */
        }
        return -EINVAL;
}

int engine_push_done(struct engine *e, const struct engine_push_result *res, size_t n, struct engine_outcome *o) {
        struct record *sent = NULL;
        size_t n_sent = 0;
        bool future = false;
        bool touched[KEY_MAX + 1] = { false };
        struct before b[KEY_MAX + 1];
        int r = begin(e);

        if (r < 0)
                return r;
        befores_of(e, b);
        r = pushed_records(e, &sent, &n_sent);
        if (r == 0 && n_sent != n)
                r = -EBADMSG;
        for (size_t i = 0; r == 0 && i < n; i++) {
                r = take_result(e, &sent[i], &res[i], o);
                touched[res[i].key] = true;
        }
        if (r == 0)
                r = store_push_clear(e->store);
        for (int k = KEY_MIN; r == 0 && k <= KEY_MAX; k++)
                if (touched[k])
                        r = reconcile_since(e, (enum key) k, &b[k], o);
        if (r == 0)
                r = store_last_sync_put(e->store, now(e));
        for (size_t i = 0; r == 0 && i < n; i++)
                future = future || res[i].status == ENGINE_PUSH_REJECTED_FUTURE;
        free(sent);
        if (r < 0)
                return fail(e, r);
        r = commit(e);
        /* The server finds our stamps in its future. When our own clock is
         * back (a step forward, stamped with, then corrected) and no edit
         * has stamped since, nothing else would notice: the copies would
         * wait, refused, until the future came. Check the clock now. */
        if (r == 0 && future) {
                int c = engine_check_clock(e, o);

                r = c < 0 ? c : 0;
        }
        return r;
}

int engine_push_forget(struct engine *e) {
        int r = begin_relaxed(e);

        if (r == 0)
                r = store_push_clear(e->store);
        if (r < 0)
                return fail(e, r);
        return commit(e);
}

int engine_restore(struct engine *e, uint64_t id, struct record *ret, struct engine_outcome *o) {
        struct store_conflict c;
        struct record lost;
        int r = store_conflict_get(e->store, id, &c);

        if (r == 0)
                r = engine_copy_to_record(c.key, c.lost_family, &c.lost, &lost);
        if (r < 0)
                return r;
        r = engine_set(e, &lost.value, ret, o);
        if (r < 0)
                return r;
        /* the value is restored either way; the mark is what a person sees */
        r = begin(e);
        if (r == 0)
                r = store_conflict_restored(e->store, id, now(e));
        if (r < 0)
                return fail(e, r);
        return commit(e);
}

int engine_dismiss_conflicts(struct engine *e, const uint64_t *ids, size_t n, unsigned *ret_removed) {
        int r = begin(e);

        if (r == 0)
                r = store_conflict_dismiss(e->store, ids, n, ret_removed);
        if (r < 0)
                return fail(e, r);
        return commit(e);
}
