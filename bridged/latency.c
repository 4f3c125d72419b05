/* SPDX-License-Identifier: MIT */
/* Latency window: the newest LATENCY_WINDOW samples, quantiles by sorting a
 * copy (cheap at this size, and only when Stats() is called). */
#include <stdlib.h>
#include <string.h>

#include "latency.h"

void latency_add(struct latency *l, uint32_t ms) {
        l->sample[l->next] = ms;
        l->next = (l->next + 1) % LATENCY_WINDOW;
        if (l->n < LATENCY_WINDOW)
                l->n++;
        l->total++;
}

static int cmp_u32(const void *a, const void *b) {
        uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;
        return (x > y) - (x < y);
}

uint32_t latency_quantile(const struct latency *l, unsigned q) {
        uint32_t sorted[LATENCY_WINDOW];
        unsigned i;

        if (l->n == 0)
                return 0;
        memcpy(sorted, l->sample, l->n * sizeof(sorted[0]));
        qsort(sorted, l->n, sizeof(sorted[0]), cmp_u32);
        /* nearest rank */
        i = (q * l->n + 99) / 100;
        return sorted[i ? i - 1 : 0];
}
