/* SPDX-License-Identifier: MIT */
/* Jittered exponential backoff, the one rule both clients (BlueZ and HTTPS)
 * retry by: the minimum doubling per failure up to the maximum, then "equal
 * jitter" (half of it fixed, half random) so that the doubling still shows
 * and many bridges do not retry in step. Pure: the caller brings the random
 * number (common/random.h). */
#pragma once

#include <stdint.h>

/* The delay before the retry that follows `failures` failures in a row (0:
 * the first retry). max below min counts as min. */
uint64_t backoff_delay(uint64_t min_usec, uint64_t max_usec, unsigned failures, uint64_t random);
