/* SPDX-License-Identifier: MIT */
/* Jittered exponential backoff (see backoff.h). Pure arithmetic: no clock, no
 * random source of its own, so it is tested with the numbers written out. */
#include "backoff.h"

uint64_t backoff_delay(uint64_t min_usec, uint64_t max_usec, unsigned failures, uint64_t random) {
        uint64_t d = min_usec;

        for (unsigned i = 0; i < failures && d < max_usec; i++)
                d *= 2;
        if (d > max_usec)
                d = max_usec;
        return d / 2 + random % (d / 2 + 1);
}
