/* SPDX-License-Identifier: MIT */
/* A value in one line for a person: what bridgectl prints by default and
 * the demo narrates. Never parsed back (the JSON form is for that). */
#pragma once

#include <stddef.h>

#include "policy/value.h"

/* "\"Kitchen\", noise control anc, ambient 3, touch play_pause / next,
 * hearing on (left +0.0 +0.0 +2.5 ... dB)", "preset voice",
 * "standard +1.0 +0.5 +0.0 -1.0 +2.0 dB",
 * "pro, preamp -2.0 dB, low_shelf 105 Hz +8.7 dB Q 0.71, ...".
 * Cut to size (NUL-terminated); returns what snprintf would. */
int value_describe(const struct value *v, char *buf, size_t size);
