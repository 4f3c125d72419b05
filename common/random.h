/* SPDX-License-Identifier: MIT */
/* Random numbers, two kinds and never mixed up: random_bytes() for what must
 * be unpredictable (node ids, Idempotency-Keys), from the kernel; and a
 * xorshift64* generator for jitter, which is cheap and never used for
 * anything secret. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Fills buf from getrandom(2), waiting for the pool if it must. 0 or -errno. */
int random_bytes(void *buf, size_t n);

/* A non-zero seed for random_jitter(): from the kernel when it has one at
 * once, else from the time, the pid and salt. */
uint64_t random_seed(uintptr_t salt);

/* The next number of the xorshift64* sequence in *state (non-zero). */
uint64_t random_jitter(uint64_t *state);
