/* SPDX-License-Identifier: MIT */
/* The sync loop's decision (see sync-loop.h). Pull before push: a push waits
 * for the first complete pull after the server came back (or for a Sync()
 * call, which pulls first itself), so that only what still wins is offered. */
#include "sync-loop.h"

enum sync_loop_step sync_loop_next(const struct sync_loop_state *s) {
        if (s->stopping)
                return SYNC_LOOP_NOTHING;
        if (s->halted || s->pulling || s->pushing || (s->sync_call && s->sync_call_failed) ||
            (!s->sync_call && s->cooling))
                return SYNC_LOOP_BUSY;
        if (s->pull_wanted)
                return SYNC_LOOP_PULL;
        if (s->push_wanted && (s->pulled_since_online || s->sync_call) && !s->debouncing)
                return SYNC_LOOP_PUSH;
        return SYNC_LOOP_IDLE;
}

bool sync_loop_should_wait(const struct sync_loop_state *s) {
        return s->long_poll && !s->waiting && !s->sync_call && s->pulled_since_online;
}
