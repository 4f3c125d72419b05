/* SPDX-License-Identifier: MIT */
/* syncd's store, on SQLite (a file, the default) or on PostgreSQL (a
 * --db that is a libpq URI, store-pg.c; nothing above this header knows
 * which): per account, the newest record of every (key,
 * family), the account's change sequence, the stored first responses of
 * idempotent pushes, and the device registry. SQLite runs WAL,
 * synchronous=FULL: a commit is on disk when it returns, so syncd answers
 * only after store_commit(). On PostgreSQL every operation may fail
 * -ENOTCONN: the server is unreachable (answer 503 and retry later; the
 * store reconnects by itself, with backoff), and a write transaction may
 * fail -EDEADLK: the server ended a deadlock with another syncd by failing
 * it, and it may be run again. PostgreSQL, inside a transaction: a write
 * whose result is only whether it worked (a record, a stored response and
 * its trim, a device and its trim, a NOTIFY) is sent with the next call that
 * reads, or with the COMMIT, so its failure may be returned by that later
 * call; it fails the transaction all the same, and the counts of the trims
 * are not known (0).
 * Every query is keyed by account; nothing here crosses accounts. Knows no
 * HTTP and no JSON beyond storing texts it is given. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "../policy/stamp.h"
#include "cursor.h"

#define STORE_DIGEST_SIZE 32
#define STORE_PING_BUSY_MS 100
#define STORE_SCHEMA_VERSION 2          /* PRAGMA user_version; a file with a higher one is refused */

struct store;

/* Opens or creates the database: a PostgreSQL database when path starts
 * with postgresql:// or postgres:// (a libpq URI, its query parameters
 * included), else an SQLite file. A file of a newer schema (-EPROTONOSUPPORT),
 * one that fails PRAGMA quick_check (-EUCLEAN), or one SQLite cannot use is
 * refused, with SQLite's own words in *ret_error (malloc'd; see
 * common/errmsg.h); the checks run before anything is written to the file.
 * PostgreSQL: the tables are made on first use (under an advisory lock, so
 * several syncd may start at once); a database whose schema_version is newer
 * is refused (-EPROTONOSUPPORT), one out of reach at start is -ENOTCONN with
 * libpq's words. */
int store_open(const char *path, struct store **ret, char **ret_error);
/* Counts SQLite's error reports into *counter from now on (SQLite's error
 * log: a failed statement, and for an I/O error also the system call, so one
 * failure may count twice). Process-wide; must come before store_open. */
int store_count_errors(uint64_t *counter);
/* Whether the database answers a trivial query, both on the connection that
 * serves and on a new read-only one opened by its path (as a restart would
 * find it: a file removed or made unreadable under a running syncd fails here). Waits
 * at most STORE_PING_BUSY_MS for a lock. */
int store_ping(struct store *s);
struct store *store_free(struct store *s);

/* The per-database secret that cursors are bound to (made on first open). */
const uint8_t *store_secret(const struct store *s);

int store_begin(struct store *s);
/* Inside a transaction, before reading what a write of the account is
 * arbitrated against: holds the account against every other writer until
 * the transaction ends (PostgreSQL: its row, SELECT ... FOR UPDATE; SQLite's
 * BEGIN IMMEDIATE already holds the whole file). Take several accounts in
 * one order (group.c sorts them), or two syncd may deadlock. */
int store_account_lock(struct store *s, const char *account);
int store_commit(struct store *s);
void store_rollback(struct store *s);

/* The account's sequence number: how many records it ever applied (0: none). */
int store_seq(struct store *s, const char *account, uint64_t *ret);

/* The server's copy of (key, family): its stamp and its JSON text (malloc'd).
 * -ENOENT when there is none. */
int store_record_get(struct store *s, const char *account, const char *key, const char *family,
                     struct stamp *ret_stamp, char **ret_json);
/* Replaces the copy and gives it the account's next sequence number. */
int store_record_put(struct store *s, const char *account, const char *key, const char *family,
                     struct stamp stamp, const char *device, const char *json, uint64_t *ret_seq);

/* Calls fn for each record changed after since, in sequence order, at most
 * limit of them; fn returning < 0 stops with that value. */
typedef int (*store_record_fn)(uint64_t seq, const char *json, void *userdata);
int store_records_since(struct store *s, const char *account, uint64_t since, unsigned limit,
                        store_record_fn fn, void *userdata);

/* The stored first response for (account, key), if made at or after
 * not_before_ms; -ENOENT otherwise. *ret_body is malloc'd. */
int store_idem_get(struct store *s, const char *account, const char *key, uint64_t not_before_ms,
                   uint8_t ret_digest[static STORE_DIGEST_SIZE], unsigned *ret_status, char **ret_body);
int store_idem_put(struct store *s, const char *account, const char *key,
                   const uint8_t digest[static STORE_DIGEST_SIZE], unsigned status, const char *body,
                   uint64_t now_ms);
/* Marks (account, key) in progress for every syncd on the database until
 * store_idem_release, or until this syncd's connection to it ends (one that
 * died holds nothing): -EBUSY while another syncd holds it. On SQLite there
 * is one syncd, whose own claims (idempotency.c) suffice: always 0. */
int store_idem_claim(struct store *s, const char *account, const char *key);
void store_idem_release(struct store *s, const char *account, const char *key);
/* Drops the account's oldest stored responses, never keep_key's, until they
 * take at most max_bytes (keep_key's alone may take more). Returns how many
 * went (PostgreSQL, in a transaction: 0; see the top of this file). */
int store_idem_trim(struct store *s, const char *account, const char *keep_key, uint64_t max_bytes);
int store_idem_purge(struct store *s, uint64_t before_ms);

int store_device_put(struct store *s, const char *account, const char *id, const char *json);
/* Drops the account's devices with the oldest "last_seen_ms" (then the
 * lowest id), never keep_id, until at most max remain. Returns how many went
 * (PostgreSQL, in a transaction: 0). */
int store_devices_trim(struct store *s, const char *account, const char *keep_id, unsigned max);
/* Calls fn for the account's devices with an id above after (NULL or "":
 * from the first), in id order, at most limit of them. */
typedef int (*store_device_fn)(const char *id, const char *json, void *userdata);
int store_devices_list(struct store *s, const char *account, const char *after, unsigned limit,
                       store_device_fn fn, void *userdata);

/* The other syncd on the same database (PostgreSQL; on SQLite there are
 * none: -1, -1, nothing). A change is only a hint that the account's
 * sequence may have moved: the account's sequence is read again, and only
 * the waiters it passed are woken. */
typedef void (*store_change_fn)(const char *account, void *userdata);
/* In a write transaction: tells the other syncd, at its COMMIT, that the
 * account changed (once per account and transaction). */
int store_notify(struct store *s, const char *account);
/* The descriptor to poll for their changes, or -1 (none, or that
 * connection is down: then store_changes_timeout_ms says when to retry). */
int store_changes_fd(const struct store *s);
int store_changes_timeout_ms(const struct store *s, uint64_t now_ms);
/* Calls fn for each account another syncd changed, or once with NULL when
 * any may have (the connection came back after a gap); reconnects when due.
 * Never waits. */
void store_changes_process(struct store *s, uint64_t now_ms, store_change_fn fn, void *userdata);
