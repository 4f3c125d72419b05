/* SPDX-License-Identifier: MIT */
/* At most one line per interval, whether it tells of one event or sums up
 * those held back: a flood costs the log one line per interval. */
#include "ratelog.h"

static bool ratelog_quiet(const struct ratelog *rl, uint64_t now_ms) {
        return rl->printed && now_ms < rl->last_ms + rl->interval_ms;
}

bool ratelog_event(struct ratelog *rl, uint64_t now_ms, uint64_t *ret_held) {
        if (ratelog_quiet(rl, now_ms)) {
                rl->held++;
                return false;
        }
        *ret_held = rl->held;
        rl->held = 0;
        rl->last_ms = now_ms;
        rl->printed = true;
        return true;
}

uint64_t ratelog_due(struct ratelog *rl, uint64_t now_ms) {
        uint64_t n = rl->held;

        if (n == 0 || ratelog_quiet(rl, now_ms))
                return 0;
        rl->held = 0;
        rl->last_ms = now_ms;
        return n;
}

int ratelog_timeout_ms(const struct ratelog *rl, uint64_t now_ms) {
        if (rl->held == 0)
                return -1;
        return ratelog_quiet(rl, now_ms) ? (int) (rl->last_ms + rl->interval_ms - now_ms) : 0;
}
