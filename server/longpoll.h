/* SPDX-License-Identifier: MIT */
/* Parked connections: requests that wait for a change of their account (a
 * long poll) or for a deadline (a stalled test fault), suspended in
 * libmicrohttpd and resumed all at once when the account changes, when their
 * deadline passes, when their client hangs up, when the server needs their
 * connections for others, or when it stops. No thread per waiter: the event
 * loop asks for the next deadline, polls longpoll_fd for hang-ups and calls
 * longpoll_expire and longpoll_hangups. Never answers a request itself; the
 * resumed handler does. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <microhttpd.h>

#include "counters.h"

enum longpoll_state {
        LONGPOLL_WAITING,
        LONGPOLL_CHANGED,       /* the account applied a record */
        LONGPOLL_TIMED_OUT,
        LONGPOLL_SHED,          /* answered early: the server is near its connection limit */
        LONGPOLL_GONE,          /* the client hung up: close, answer nothing */
        LONGPOLL_STOPPING,      /* the server is shutting down */
};

/* Long polls (waiters with an account) parked at once; 0: no limit. */
struct longpoll_limits {
        unsigned per_account, per_address;
};

enum longpoll_admission {
        LONGPOLL_ADMITTED,
        LONGPOLL_ACCOUNT_FULL,
        LONGPOLL_ADDRESS_FULL,
        LONGPOLL_CLOSING,       /* after longpoll_stop_all: the server is shutting down */
};

struct longpoll;
struct longpoll_waiter;

int longpoll_new(const struct longpoll_limits *limits, struct counters *counters, struct longpoll **ret);
struct longpoll *longpoll_free(struct longpoll *lp);

/* Whether c may park one more long poll of account; when not (counted as
 * refused), *ret_retry_sec (1..60) is when the first of the waits that fill
 * its place ends. */
enum longpoll_admission longpoll_admit(struct longpoll *lp, struct MHD_Connection *c, const char *account,
                                       uint64_t now_ms, unsigned *ret_retry_sec);
/* Suspends c until a change of account (NULL: none ever wakes it) or until
 * deadline_ms (CLOCK_MONOTONIC). The waiter is the caller's to free once the
 * resumed request has answered. */
int longpoll_park(struct longpoll *lp, struct MHD_Connection *c, const char *account, uint64_t deadline_ms,
                  struct longpoll_waiter **ret);
enum longpoll_state longpoll_waiter_state(const struct longpoll_waiter *w);
/* Accepts NULL. Must not be called while the connection is still suspended. */
void longpoll_waiter_free(struct longpoll *lp, struct longpoll_waiter *w);

void longpoll_wake(struct longpoll *lp, const char *account);
/* Every account's waiters, as if each had changed: when changes may have
 * been missed (another syncd's, while their notifications were down). */
void longpoll_wake_all(struct longpoll *lp);
void longpoll_expire(struct longpoll *lp, uint64_t now_ms);
void longpoll_stop_all(struct longpoll *lp);
/* Resumes up to n of the oldest parked long polls as LONGPOLL_SHED; returns
 * how many. */
size_t longpoll_shed(struct longpoll *lp, size_t n);

/* Readable when a parked client may have hung up: then call longpoll_hangups,
 * which resumes those as LONGPOLL_GONE. */
int longpoll_fd(const struct longpoll *lp);
void longpoll_hangups(struct longpoll *lp);

/* Milliseconds until the next deadline, -1 when nothing waits. */
int longpoll_timeout_ms(const struct longpoll *lp, uint64_t now_ms);
/* How many connections are still suspended. */
size_t longpoll_parked(const struct longpoll *lp);
/* How many waiters exist: suspended, or resumed and not yet answered. */
size_t longpoll_waiters(const struct longpoll *lp);
