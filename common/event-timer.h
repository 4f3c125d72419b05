/* SPDX-License-Identifier: MIT */
/* A one-shot timer on sd-event that is armed again rather than made anew,
 * after systemd's event_reset_time(): the first call adds the source, later
 * calls move its time and enable it once more. The source stays the caller's
 * (free it with sd_event_source_disable_unref). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <systemd/sd-event.h>

/* Fires callback once at usec (absolute, on clock). accuracy 0 means
 * sd-event's default (250 ms). 0 or -errno. */
int event_reset_time(sd_event *e, sd_event_source **s, clockid_t clock, uint64_t usec, uint64_t accuracy,
                     sd_event_time_handler_t callback, void *userdata);

/* The same, usec from now. */
int event_reset_time_relative(sd_event *e, sd_event_source **s, clockid_t clock, uint64_t usec,
                              uint64_t accuracy, sd_event_time_handler_t callback, void *userdata);

/* Whether *s is armed (exists and not off). */
bool event_source_is_armed(sd_event_source *s);
