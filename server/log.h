/* SPDX-License-Identifier: MIT */
/* syncd's log: one line on stderr per event, "syncd: ...". The layer that
 * decides what to do logs, once. Never given a bearer token or a whole record. */
#pragma once

#include <stdarg.h>
#include <stdio.h>

__attribute__((format(printf, 1, 2)))
static inline void log_msg(const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        fputs("syncd: ", stderr);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
}
