/* SPDX-License-Identifier: MIT */
/* Parked connections: requests that wait for a change of their account (a
 * long poll) or for a deadline (a stalled test fault), suspended in
 * libmicrohttpd and resumed all at once when the account changes, when their
 * deadline passes, or when the server stops. No thread per waiter: the event
 * loop asks for the next deadline and calls longpoll_expire. Never answers a
 * request itself; the resumed handler does. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <microhttpd.h>

enum longpoll_state {
        LONGPOLL_WAITING,
        LONGPOLL_CHANGED,       /* the account applied a record */
        LONGPOLL_TIMED_OUT,
        LONGPOLL_STOPPING,      /* the server is shutting down */
};

struct longpoll;
struct longpoll_waiter;

int longpoll_new(struct longpoll **ret);
struct longpoll *longpoll_free(struct longpoll *lp);

/* Suspends c until a change of account (NULL: none ever wakes it) or until
 * deadline_ms (CLOCK_MONOTONIC). The waiter is the caller's to free once the
 * resumed request has answered. */
int longpoll_park(struct longpoll *lp, struct MHD_Connection *c, const char *account, uint64_t deadline_ms,
                  struct longpoll_waiter **ret);
enum longpoll_state longpoll_waiter_state(const struct longpoll_waiter *w);
/* Accepts NULL. Must not be called while the connection is still suspended. */
void longpoll_waiter_free(struct longpoll *lp, struct longpoll_waiter *w);

void longpoll_wake(struct longpoll *lp, const char *account);
void longpoll_expire(struct longpoll *lp, uint64_t now_ms);
void longpoll_stop_all(struct longpoll *lp);

/* Milliseconds until the next deadline, -1 when nothing waits. */
int longpoll_timeout_ms(const struct longpoll *lp, uint64_t now_ms);
/* How many connections are still suspended. */
size_t longpoll_parked(const struct longpoll *lp);
/* How many waiters exist: suspended, or resumed and not yet answered. */
size_t longpoll_waiters(const struct longpoll *lp);
