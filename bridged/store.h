/* SPDX-License-Identifier: MIT */
/* The bridge's cache: one SQLite file in the state directory (WAL,
 * synchronous=FULL), holding per item and family the cache's copy, whether it
 * is pending (the outbox) and the server's last known copy; the push in
 * flight with its Idempotency-Key; the conflict log; the node id and the
 * clock; the server cursor; the Buds seen and what each last held.
 *
 * Values are opaque blobs here (the engine stores the wire payload); the store
 * knows stamps and keys, never a codec. Every engine step that changes state
 * runs between store_begin() and store_commit(), so a crash at any instant
 * leaves the previous step or the next, never half of one. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buds-address.h"
#include "policy/stamp.h"
#include "policy/value.h"

#define STORE_SCHEMA_VERSION 5
#define STORE_VALUE_MAX 128
#define STORE_FILE "bridged.db"

struct store;

struct store_copy {
        bool present;
        struct stamp stamp;
        bool derived;
        size_t len;
        uint8_t value[STORE_VALUE_MAX];
};

struct store_item {
        struct store_copy cache;
        bool pending;                   /* the cache's copy is in the outbox */
        bool adopted;                   /* the cache's copy was taken from the Buds as they held it,
                                         * not made here (nor stamped here as a DIRTY change) */
        struct stamp refused;           /* the server will not take the cache copy with this stamp
                                         * (invalid, or it holds the value under another stamp):
                                         * not offered again; (0, 0) when none */
        struct store_copy server;       /* the newest copy the server is known to hold */
};

struct store_conflict {
        uint64_t id;
        enum key key;
        enum family kept_family, lost_family;
        struct store_copy kept, lost;
        char kept_source[16];           /* "server", "buds", "bridge" (made or stamped here) */
        char lost_source[16];
        uint64_t at_ms;
        uint64_t restored_ms;           /* when Restore applied it again; 0: not */
};

struct store_buds {
        char address[BUDS_ADDRESS_SIZE]; /* AA:BB:CC:DD:EE:FF, normalised (common/buds-address.h) */
        uint64_t buds_id;
        enum family family;
        char name[249];                 /* Device1.Name is at most 248 bytes */
        char manufacturer[65], model[65], serial[65], firmware[65];
        int battery;                    /* -1: unknown */
        uint64_t last_seen_ms;
};

/* What one Buds last held for one item, as read or written by the bridge, so
 * a reconnect with nothing changed costs one Manifest read. assigned: the stamp
 * the bridge gave this record's DIRTY content (so the same change keeps the
 * same stamp however often it is read). */
struct store_buds_item {
        uint32_t revision;
        uint8_t flags;                  /* the record's, and bits of engine.c's own (never sent) */
        struct store_copy copy;         /* stamp as on the Buds */
        struct stamp assigned;
        bool known;                     /* not news to this host (engine.c) */
};

/* Opens (creating, or upgrading an older schema) dir/bridged.db. A newer
 * schema, a file that is not a database or a directory that cannot be used
 * gives a negative errno and a message naming the file (free it). */
int store_open(const char *dir, struct store **ret, char **ret_error);
/* Whether a store_open() error lasts until a person acts (a damaged or
 * newer cache, a directory that cannot be used): false for what may pass
 * by itself (no space, I/O, a lock held by another bridged), after which a
 * restart is worth it. */
bool store_error_is_lasting(int r);
/* PRAGMA quick_check and every table there: 0, or -EBADMSG with what is
 * wrong (store_open runs it; the daemon again when a step failed). */
int store_check(struct store *s, char **ret_error);
/* Gives back the page cache's unused pages (nothing is pending: called
 * when the bridge is idle). */
void store_release_memory(struct store *s);
/* Copies the WAL into the database once it holds 1,000 pages or more, and
 * starts it over: for idle time (a sync cycle ended), so that no commit
 * an engine step waits for carries a checkpoint. 1 when done, 0 when not due
 * (or a reader elsewhere holds part of the WAL). */
int store_checkpoint(struct store *s);
struct store *store_close(struct store *s);
const char *store_path(const struct store *s);
/* How long the last durable (synchronous=FULL) COMMIT took, in µs: the
 * path profile of Stats() (path_usec). */
uint64_t store_last_commit_usec(const struct store *s);

/* BEGIN IMMEDIATE / COMMIT / ROLLBACK. Nested use is a bug (-EBUSY).
 * store_begin: the commit is durable against a power cut (synchronous=FULL),
 * for steps that acknowledge something. store_begin_relaxed: durable against
 * a crash of the process but not a power cut (synchronous=NORMAL in WAL),
 * for steps whose loss only means learning the same thing again. */
int store_begin(struct store *s);
int store_begin_relaxed(struct store *s);
int store_commit(struct store *s);
void store_rollback(struct store *s);

/* Node id and clock. -ENOENT on a fresh store. */
int store_node_get(struct store *s, uint64_t *ret_node, uint64_t *ret_last, uint64_t *ret_issued);
int store_node_put(struct store *s, uint64_t node, uint64_t last, uint64_t issued);
/* Node ids this host gave up when it restarted its clock (not a clone's:
 * that id is the other copy's now). has: 1 if node is one, 0 if not. */
int store_past_node_add(struct store *s, uint64_t node);
int store_past_node_has(struct store *s, uint64_t node);
/* Node ids this host gave up when it found a copy of its state directory:
 * stamps under them are its own or the copy's. has: 1 if node is one, 0 if
 * not. */
int store_shared_node_add(struct store *s, uint64_t node);
int store_shared_node_has(struct store *s, uint64_t node);
/* Stamps a change made on the Buds was made on (its base), the newest 1024:
 * a copy under one was replaced by a person where it was seen. has: 1 if
 * stamp is one, 0 if not. covers: 1 if one of them has stamp's origin and
 * is at least as new (the same, or that origin's later stamp), 0 if not. */
int store_superseded_add(struct store *s, struct stamp stamp);
int store_superseded_has(struct store *s, struct stamp stamp);
int store_superseded_covers(struct store *s, struct stamp stamp);

/* An item in one family: absent parts come back with present = false. */
int store_item_get(struct store *s, enum key key, enum family family, struct store_item *ret);
int store_item_put(struct store *s, enum key key, enum family family, const struct store_item *item);
unsigned store_pending_count(struct store *s);

/* The server cursor (NULL: none yet) and when a sync last succeeded (0: never). */
int store_cursor_get(struct store *s, char **ret_cursor);
int store_cursor_put(struct store *s, const char *cursor);
int store_last_sync_get(struct store *s, uint64_t *ret_ms);
int store_last_sync_put(struct store *s, uint64_t ms);

/* The push in flight: its Idempotency-Key and exact body, stored before it is
 * sent so a retry (even after a restart) repeats it byte for byte. */
int store_push_get(struct store *s, char **ret_key, char **ret_body);
int store_push_put(struct store *s, const char *key, const char *body);
int store_push_clear(struct store *s);

/* The conflict log, at most limit entries per item (oldest dropped first). An
 * entry whose lost side (family, stamp, source) is already logged for the key
 * is not added twice: *ret_id is then the existing entry's. 1 when added, 0
 * when it was there already. */
int store_conflict_add(struct store *s, const struct store_conflict *c, unsigned limit, uint64_t *ret_id);
int store_conflict_get(struct store *s, uint64_t id, struct store_conflict *ret);
/* All entries, oldest first; *ret is malloc'd (free it). */
int store_conflict_list(struct store *s, struct store_conflict **ret, size_t *ret_n);
/* The entries not restored yet (what awaits a person). */
unsigned store_conflict_count(struct store *s);
/* Marks entry id restored at at_ms; -ENOENT when there is none. */
int store_conflict_restored(struct store *s, uint64_t id, uint64_t at_ms);
/* Removes the entries ids[0..n) (every entry when n is 0); ids not in the
 * log are skipped. *ret_removed: how many went. */
int store_conflict_dismiss(struct store *s, const uint64_t *ids, size_t n, unsigned *ret_removed);

int store_buds_put(struct store *s, const struct store_buds *b);
int store_buds_get(struct store *s, const char *address, struct store_buds *ret);
int store_buds_list(struct store *s, struct store_buds **ret, size_t *ret_n);
int store_buds_item_get(struct store *s, const char *address, enum key key, struct store_buds_item *ret);
int store_buds_item_put(struct store *s, const char *address, enum key key, const struct store_buds_item *it);
/* Forgets the snapshot: the item is read from the Buds again. */
int store_buds_item_forget(struct store *s, const char *address, enum key key);
