/* SPDX-License-Identifier: MIT */
/* A small window of latency samples (ms) with its median and 99th
 * percentile, for Stats(). Pure, fixed size, no allocation. */
#pragma once

#include <stdint.h>

#define LATENCY_WINDOW 512

struct latency {
        uint32_t sample[LATENCY_WINDOW];
        unsigned n;             /* samples kept, up to LATENCY_WINDOW */
        unsigned next;
        uint64_t total;         /* samples ever added */
};

void latency_add(struct latency *l, uint32_t ms);
/* q in 0..100; 0 when there are no samples */
uint32_t latency_quantile(const struct latency *l, unsigned q);
