/* SPDX-License-Identifier: MIT */
/* The sync engine's core: what happens to the cache when a copy arrives from
 * the Buds or the server, when a person edits here, when a push completes.
 * Drives the clock and arbitration (policy/) over the store, one transaction
 * per step, and says what must be done next (write these Buds, push, tell
 * D-Bus listeners) without doing any I/O itself: the manager carries it out.
 *
 * Values are stored as their wire payloads; records handed in are valid
 * (decoded by the codecs), records handed out are too. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buds-address.h"
#include "policy/hlc.h"
#include "policy/value.h"
#include "store.h"

#define ENGINE_MAX_BUDS 8

struct engine;

struct engine_config {
        uint32_t max_clock_skew_sec;
        uint32_t conflict_log_limit;
        /* wall clock in ms since the epoch; tests pass their own */
        uint64_t (*now_ms)(void *userdata);
        /* node ids and Idempotency-Keys: NULL for the kernel's (random_bytes);
         * a simulation passes its seeded generator, to replay a run exactly */
        int (*random)(void *buf, size_t n, void *userdata);
        void *userdata;
};

struct engine_write {
        char address[BUDS_ADDRESS_SIZE];
        struct record rec;              /* flags: DERIVED only; revision: the CAS revision */
};

/* What a step asks of the manager. Accumulates over calls until reset. */
struct engine_outcome {
        unsigned n_writes;
        struct engine_write writes[ENGINE_MAX_BUDS * KEY_MAX];
        bool push;                      /* the outbox is not empty: push (after the debounce) */
        bool changed[KEY_MAX + 1];      /* the key's intent changed: signal Changed */
        unsigned conflicts_logged;
        unsigned restamped_future;
        bool node_renewed;              /* a cloned state directory was detected */
        bool clock_restarted;           /* the clock was ahead of the wall clock: new node, copies re-stamped */
        uint64_t old_node;              /* with either: the node id before */
        unsigned restamped_ahead;       /* with clock_restarted: copies of this cache stamped again */
        unsigned server_news;           /* server records newer than the server's copy known here */
};

struct engine_counters {
        uint64_t conflicts_logged, restamped_future, pushed, pulled, rejected, clock_restarts;
};

int engine_new(struct store *s, const struct engine_config *cfg, struct engine **ret, char **ret_error);
struct engine *engine_free(struct engine *e);

uint64_t engine_node_id(const struct engine *e);
/* SIGHUP: MaxClockSkewSec and ConflictLogLimit from a new configuration. */
void engine_set_limits(struct engine *e, uint32_t max_clock_skew_sec, uint32_t conflict_log_limit);
const struct engine_counters *engine_counters(const struct engine *e);
void engine_outcome_reset(struct engine_outcome *o);

/* The clock ahead of the wall clock by more than MaxClockSkewSec (the wall
 * clock was stepped forward, stamped with, then corrected): take a new node
 * id with its clock from the wall clock, and stamp again every copy in the
 * cache stamped that far ahead, so that nothing waits for the future to win
 * and nothing is lost (a newer copy from elsewhere it then beats goes to the
 * conflict log). Every step that stamps does this first; bridged calls it at
 * start too. 0 when the clock was fine. */
int engine_check_clock(struct engine *e, struct engine_outcome *o);

/* The item's intent: the newest copy over both families. -ENOENT if none. */
int engine_intent(struct engine *e, enum key key, struct record *ret);

/* A host edit (control API Set, or Restore): validated, stamped, stored
 * (durably, before this returns), queued, and reconciled with the connected
 * Buds. ret: the stored record. */
int engine_set(struct engine *e, const struct value *v, struct record *ret, struct engine_outcome *o);

/* Connected Buds, as the manager learns of them (at most ENGINE_MAX_BUDS). */
int engine_buds_connected(struct engine *e, const struct store_buds *b);
void engine_buds_gone(struct engine *e, const char *address);

/* The Buds' record of key was read (or, rec == NULL, the Manifest says the
 * revision is still revision and the stored snapshot holds): reconcile the key.
 * -ESTALE when rec == NULL but the snapshot is not at that revision (the
 * manager must read the record). */
int engine_buds_record(struct engine *e, const char *address, enum key key, const struct record *rec,
                       uint32_t revision, struct engine_outcome *o);
/* What the Buds hold of key is in doubt (a write they acknowledged and never
 * announced): the snapshot is forgotten, so the next check reads it; the
 * snapshot of a write-back of a DIRTY change becomes that change again, as
 * stamped here, at the revision before (so that a change made on top of it
 * has it as base), and the next check reads or writes it again. */
int engine_buds_doubt(struct engine *e, const char *address, enum key key);
/* The Buds announce (Manifest, notification) the item at revision with
 * flags. DIRTY is a change made on the Buds: a snapshot at that revision
 * that is not one (our write acknowledged, then dropped, and the person's
 * change took the revision our write would have) is dealt with as a
 * doubted one (engine_buds_doubt), so the next check reads it. */
int engine_buds_announced(struct engine *e, const char *address, enum key key, uint32_t revision, uint8_t flags);
/* A write the engine asked for succeeded: the Buds now hold rec at new_revision. */
int engine_buds_written(struct engine *e, const char *address, const struct record *rec, uint32_t new_revision);

/* The server refused the cursor (restored from a backup, a new database):
 * what it holds is unknown until a pull from the start, so the cursor and
 * the server's copies are forgotten and every item is decided again; what
 * that pull does not bring back is pending, offered again. */
int engine_server_forget(struct engine *e, struct engine_outcome *o);
/* A record the server sent (pull, long poll, or a push's `stale` current). */
int engine_server_records(struct engine *e, const struct record *recs, size_t n, const char *cursor,
                          struct engine_outcome *o);

/* The push to send: the one in flight (the same key and records after a
 * restart), or a new one made of every pending copy, stored before it is
 * returned. -ENOENT when nothing is pending. The key and the array are
 * malloc'd. The stored body is {"schema": 1, "records": [...]} printed as
 * the HTTPS client prints it, so a repeat is byte for byte the same. */
int engine_push_next(struct engine *e, char **ret_key, struct record **ret_records, size_t *ret_n);

enum engine_push_status {
        ENGINE_PUSH_APPLIED,
        ENGINE_PUSH_STALE,
        ENGINE_PUSH_REJECTED_INVALID,
        ENGINE_PUSH_REJECTED_FUTURE,
};

struct engine_push_result {
        enum key key;
        enum family family;
        enum engine_push_status status;
        struct record current;          /* with STALE */
};

/* The push in flight was answered. Records the server's copies, clears what
 * was acknowledged, re-arbitrates what came back stale. */
int engine_push_done(struct engine *e, const struct engine_push_result *res, size_t n, struct engine_outcome *o);
/* The server refused the push's key (422): forget the push in flight, so the
 * next one gets a new key. */
int engine_push_forget(struct engine *e);

/* Conflict log: restore applies the lost value again as a new edit and marks
 * the entry restored (-ENOENT: no such entry); dismiss removes entries (all
 * when n is 0). */
int engine_restore(struct engine *e, uint64_t id, struct record *ret, struct engine_outcome *o);
int engine_dismiss_conflicts(struct engine *e, const uint64_t *ids, size_t n, unsigned *ret_removed);

/* store_copy <-> record helpers (the value as its wire payload) */
int engine_copy_to_record(enum key key, enum family family, const struct store_copy *c, struct record *ret);
int engine_copy_from_record(const struct record *r, struct store_copy *ret);
