/* SPDX-License-Identifier: MIT */
/* Parked connections: requests that wait for a change of their account (a
 * long poll) or for a deadline (a stalled test fault), suspended in
 * libmicrohttpd and resumed all at once when the account's sequence passes
 * the one each waiter was given, when their deadline passes, when their
 * client hangs up, when the server needs their connections for others, or
 * when it stops. A wake-up that brought a waiter nothing newer leaves it
 * parked with its deadline. No thread per waiter: the event loop asks for
 * the next deadline, polls longpoll_fd for hang-ups and calls longpoll_expire
 * and longpoll_hangups. Never answers a request itself, and never reads the
 * store: the resumed handler answers, and the account's sequence comes from
 * the caller. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <microhttpd.h>

#include "counters.h"

enum longpoll_state {
        LONGPOLL_WAITING,
        LONGPOLL_CHANGED,       /* the account's sequence passed the waiter's (or could not be read) */
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

/* The account's sequence number now (its head), read once per account a
 * wake-up may concern; 0 or a negative errno. */
typedef int (*longpoll_head_fn)(const char *account, uint64_t *ret_head, void *userdata);

int longpoll_new(const struct longpoll_limits *limits, struct counters *counters, struct longpoll **ret);
struct longpoll *longpoll_free(struct longpoll *lp);

/* Whether c may park one more long poll of account; when not (counted as
 * refused), *ret_retry_sec (1..60) is when the first of the waits that fill
 * its place ends. */
enum longpoll_admission longpoll_admit(struct longpoll *lp, struct MHD_Connection *c, const char *account,
                                       uint64_t now_ms, unsigned *ret_retry_sec);
/* Suspends c until account's sequence passes since (account NULL: nothing
 * ever wakes it) or until deadline_ms (CLOCK_MONOTONIC). The waiter is the
 * caller's to free once the resumed request has answered. */
int longpoll_park(struct longpoll *lp, struct MHD_Connection *c, const char *account, uint64_t since,
                  uint64_t deadline_ms, struct longpoll_waiter **ret);
enum longpoll_state longpoll_waiter_state(const struct longpoll_waiter *w);
uint64_t longpoll_waiter_since(const struct longpoll_waiter *w);
/* Accepts NULL. Must not be called while the connection is still suspended. */
void longpoll_waiter_free(struct longpoll *lp, struct longpoll_waiter *w);

/* account's sequence is now head: its waiters given an older one are
 * resumed as LONGPOLL_CHANGED, the others stay parked (counted as kept). */
void longpoll_wake(struct longpoll *lp, const char *account, uint64_t head);
/* account (NULL: any account) may have changed, as another syncd's
 * notification says, or when changes may have been missed (while those
 * notifications were down): each account with waiters has its head read once
 * through fn and is woken as longpoll_wake does; none, no read. An account
 * whose head cannot be read has its waiters resumed, for the handler to read
 * again and answer what it finds. */
void longpoll_check(struct longpoll *lp, const char *account, longpoll_head_fn fn, void *userdata);
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
