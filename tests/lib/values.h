/* SPDX-License-Identifier: MIT */
/* The values the end-to-end scenarios make (tests/e2e, tests/hil): a
 * profile named NAME and a three-band pro EQ whose low shelf has GAIN, so
 * that two calls with other arguments give different values, and the wall
 * clock in ms for stamps a "phone" makes. Test-only. */
#pragma once

#include <stdint.h>

#include "policy/value.h"

/* noise control anc, touch left play_pause, left gain 2 at +2.5 dB */
struct value test_profile(const char *name);
/* KEY_EQ_CUSTOM, or KEY_EQ_ACTIVE with the custom preset */
struct value test_pro_eq(enum key key, int16_t gain);
uint64_t test_wall_ms(void);
/* A value no other n gives (for n below 49^5 in standard, 19981 * 241 in
 * pro): n spread over its fields; a profile is named "PREFIX n". The
 * simulation and the soak trace every copy back to the edit that made it. */
struct value test_unique_value(enum key key, enum family family, const char *prefix, unsigned n);
