/* SPDX-License-Identifier: MIT */
/* Group commit: the writes (pushes, device PUTs) that arrive together, from
 * any number of connections, applied in arrival order inside one BEGIN
 * IMMEDIATE ... COMMIT, so that one fdatasync covers them all. A request's
 * connection is suspended when it joins and resumed only after its group's
 * COMMIT (or ROLLBACK): nothing is answered before it is on disk. A group
 * commits whole or not at all; one failure fails every member. No threads:
 * the event loop asks group_timeout_ms when the group is due and then calls
 * group_commit. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <microhttpd.h>

#include "store.h"

#define GROUP_MAX 256                   /* members per transaction; more wait for the next one */
#define GROUP_WAIT_MAX_US 5000          /* the longest a group waits for its expected members */

/* apply runs inside the transaction and sees every earlier member's writes;
 * < 0 fails the whole group. It may run twice: a transaction that failed
 * -EDEADLK (PostgreSQL ended a deadlock another syncd on the database took
 * part in) is rolled back and run once more. done runs once the outcome is known, before the
 * connection is resumed: result 0 after the COMMIT, < 0 after the ROLLBACK.
 * account is the one the write changes: the transaction holds every member's
 * account (store_account_lock, in one order) before the first apply. */
struct group_write {
        int (*apply)(void *userdata);
        void (*done)(void *userdata, int result);
        void *userdata;
        const char *account;
};

/* Told of every transaction once it ended: its members, how long BEGIN to
 * COMMIT (or ROLLBACK) took, and its result (for the metrics). */
typedef void (*group_observe_fn)(void *userdata, size_t members, uint64_t took_us, int result);

struct group;

int group_new(struct store *store, struct group **ret);
void group_set_observer(struct group *g, group_observe_fn fn, void *userdata);
/* The group must be empty (group_commit empties it). */
struct group *group_free(struct group *g);

/* Suspends c until its group's outcome is known; the request's handler is
 * then called again. In external polling, libmicrohttpd sees a connection
 * resumed outside its run only in its next run: the loop runs it again after
 * group_commit. */
int group_join(struct group *g, struct MHD_Connection *c, const struct group_write *w);
bool group_empty(const struct group *g);
/* -1: nothing waits; 0: commit now; else how many ms the group may still
 * wait for the writers the last group had (they are likely answering their
 * answers), at most half the last commit's duration: waiting a little costs
 * less than a whole fdatasync for the ones that would come just too late. */
int group_timeout_ms(const struct group *g);
/* Applies and commits every member, GROUP_MAX per transaction, calls their
 * done hooks and resumes them. Returns 0, or the first failure (whose
 * members were answered as failed). */
int group_commit(struct group *g);
