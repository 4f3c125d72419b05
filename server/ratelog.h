/* SPDX-License-Identifier: MIT */
/* A log line that anyone on the network can cause at will (a failed TLS
 * handshake, a refused connection): printed at most once per interval, the
 * events in between counted and summed up in the next line. Decides only;
 * the caller prints, so the line says what the caller knows. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct ratelog {
        uint64_t interval_ms;
        uint64_t last_ms;               /* when a line was last printed */
        uint64_t held;                  /* events since then that were not */
        bool printed;
};

/* true: print this event now, mentioning *ret_held earlier ones not printed;
 * false: it was only counted. */
bool ratelog_event(struct ratelog *rl, uint64_t now_ms, uint64_t *ret_held);
/* How many held events are due for a summary line now (0: none); the caller
 * prints that line. */
uint64_t ratelog_due(struct ratelog *rl, uint64_t now_ms);
/* Milliseconds until a summary is due, -1 when nothing is held. */
int ratelog_timeout_ms(const struct ratelog *rl, uint64_t now_ms);
