/* SPDX-License-Identifier: MIT */
/* make bench: arbitration decisions and clock stamps per second on one core.
 * Figures are printed, never asserted. */
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "policy/arbitrate.h"
#include "policy/hlc.h"

static double now_s(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* A mix of the scenarios: a few fixed inputs, varied by the loop counter so
 * the compiler cannot fold the work away. */
static void fill(struct arb_input *in, uint64_t i) {
        struct stamp a = { stamp_pack(1000 + (i & 7), 0), 1 }, b = { stamp_pack(1000 + ((i >> 3) & 7), 1), 2 };

        *in = (struct arb_input) { .key = (enum key) (KEY_MIN + i % 3), .buds_present = i & 1,
                                   .buds_family = (i >> 1) & 1 ? FAMILY_PRO : FAMILY_STANDARD };
        in->buds = (struct arb_copy) { true, (i >> 2) & 1 ? a : STAMP_FACTORY, false };
        for (enum family f = FAMILY_ANY; f <= FAMILY_PRO; f++) {
                in->server[f] = (struct arb_copy) { (i >> (f + 4)) & 1, b, false };
                in->cache[f] = (struct arb_copy) { true, a, (i >> 7) & 1 };
                in->pending[f] = (i >> 8) & 1;
        }
}

static void bench_arbitrate(void) {
        struct arb_input inputs[512];
        struct arb_decision d;
        uint64_t n = 0, sink = 0;
        double t0 = now_s(), t;

        for (unsigned i = 0; i < 512; i++)
                fill(&inputs[i], i);
        do {
                for (unsigned i = 0; i < 512; i++) {
                        arbitrate(&inputs[i], &d);
                        sink += d.write_buds + d.family[FAMILY_PRO].push;
                }
                n += 512;
                t = now_s() - t0;
        } while (t < 1.0);
        printf("arbitration: %.1f million decisions/s (target > 10) [%llu]\n", (double) n / t / 1e6,
               (unsigned long long) (sink & 1));
}

static void bench_hlc(void) {
        struct hlc c;
        struct stamp s;
        uint64_t n = 0, wall = UINT64_C(1763700000000);
        double t0 = now_s(), t;

        hlc_init(&c, 0x1234, 0, 0, 300);
        do {
                for (unsigned i = 0; i < 4096; i++) {
                        (void) hlc_now(&c, wall + (i >> 6), &s);
                        (void) hlc_receive(&c, (struct stamp) { s.hlc + 1, 7 }, wall + (i >> 6));
                }
                n += 4096;
                wall += 64;
                t = now_s() - t0;
        } while (t < 0.5);
        printf("hlc: %.1f million stamp+receive pairs/s\n", (double) n / t / 1e6);
}

int main(void) {
        bench_arbitrate();
        bench_hlc();
        return 0;
}
