/* SPDX-License-Identifier: MIT */
/* What the sync loop does next, given its state: the decision of the
 * manager's sync loop (manager-sync.c) as a pure function, so it can be
 * tested with the states written out. No I/O, no clock, no manager. */
#pragma once

#include <stdbool.h>

struct sync_loop_state {
        bool stopping;                  /* the manager is going away */
        bool halted;                    /* syncing stopped until a reload */
        bool pulling, pushing;          /* a call is in flight */
        bool sync_call;                 /* a one-shot Sync() is running */
        bool sync_call_failed;          /* ... and one of its calls failed */
        bool cooling;                   /* after an error: waiting before trying again */
        bool debouncing;                /* a push waits for more changes */
        bool pull_wanted, push_wanted;
        bool pulled_since_online;       /* pushes wait for the first full pull */
        bool long_poll, waiting;        /* LongPoll=yes; a long poll is in flight */
};

enum sync_loop_step {
        SYNC_LOOP_NOTHING,              /* stopping: start nothing, end nothing */
        SYNC_LOOP_BUSY,                 /* a call is in flight or the loop must not start one */
        SYNC_LOOP_PULL,
        SYNC_LOOP_PUSH,
        SYNC_LOOP_IDLE,                 /* nothing to send: end a Sync() call, then maybe wait */
};

enum sync_loop_step sync_loop_next(const struct sync_loop_state *s);

/* Once idle: whether to start the long poll. */
bool sync_loop_should_wait(const struct sync_loop_state *s);
