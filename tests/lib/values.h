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
