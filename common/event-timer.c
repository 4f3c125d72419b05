/* SPDX-License-Identifier: MIT */
/* The re-armed one-shot timer (see event-timer.h). Knows sd-event and nothing
 * else; it never frees a source the caller holds. */
#include <errno.h>

#include "event-timer.h"

int event_reset_time(sd_event *e, sd_event_source **s, clockid_t clock, uint64_t usec, uint64_t accuracy,
                     sd_event_time_handler_t callback, void *userdata) {
        int r;

        if (!*s)
                return sd_event_add_time(e, s, clock, usec, accuracy, callback, userdata);
        r = sd_event_source_set_time(*s, usec);
        if (r < 0)
                return r;
        return sd_event_source_set_enabled(*s, SD_EVENT_ONESHOT);
}

int event_reset_time_relative(sd_event *e, sd_event_source **s, clockid_t clock, uint64_t usec,
                              uint64_t accuracy, sd_event_time_handler_t callback, void *userdata) {
        int r;

        if (!*s)
                return sd_event_add_time_relative(e, s, clock, usec, accuracy, callback, userdata);
        r = sd_event_source_set_time_relative(*s, usec);
        if (r < 0)
                return r;
        return sd_event_source_set_enabled(*s, SD_EVENT_ONESHOT);
}

bool event_source_is_armed(sd_event_source *s) {
        int enabled = SD_EVENT_OFF;

        return s && sd_event_source_get_enabled(s, &enabled) >= 0 && enabled != SD_EVENT_OFF;
}
