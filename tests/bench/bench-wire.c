/* SPDX-License-Identifier: MIT */
/* Throughput of the record codec (codec/wire.c): decodes and encodes per
 * second for a few representative records, each timed with CLOCK_MONOTONIC
 * for at least half a second. Prints figures; never asserts on them (a loaded
 * CI machine must not fail the build). The target is above 5 million/s. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "codec/wire.h"

#define MIN_SECONDS 0.5
#define BATCH 10000

static double now(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* The compiler must not drop the work: results feed this. */
static volatile unsigned sink;

static double bench_decode(const uint8_t *buf, size_t len) {
        double start = now(), elapsed;
        unsigned long runs = 0;
        struct record r;

        do {
                for (unsigned i = 0; i < BATCH; i++) {
                        sink += (unsigned) wire_record_decode(buf, len, &r, NULL);
                        sink += r.revision;
                }
                runs += BATCH;
                elapsed = now() - start;
        } while (elapsed < MIN_SECONDS);
        return (double) runs / elapsed;
}

static double bench_encode(const struct record *r) {
        uint8_t out[WIRE_RECORD_MAX];
        double start = now(), elapsed;
        unsigned long runs = 0;

        do {
                for (unsigned i = 0; i < BATCH; i++) {
                        sink += (unsigned) wire_record_encode(r, out, sizeof(out));
                        sink += out[WIRE_RECORD_HEADER_SIZE];
                }
                runs += BATCH;
                elapsed = now() - start;
        } while (elapsed < MIN_SECONDS);
        return (double) runs / elapsed;
}

static void record_init(struct record *r, enum key key, enum family family) {
        *r = (struct record) {
                .stamp = { .hlc = stamp_pack(1700000000000ull, 3), .origin = 0x1122334455667788ull },
                .flags = RECORD_DERIVED,
                .revision = 42,
        };
        value_init(&r->value, key, family);
}

static void make_pro(struct record *r) {
        record_init(r, KEY_EQ_ACTIVE, FAMILY_PRO);
        r->value.active.preset = PRESET_CUSTOM;
        r->value.active.eq.pro.preamp = -60;
        r->value.active.eq.pro.count = PRO_BANDS_MAX;
        for (unsigned i = 0; i < PRO_BANDS_MAX; i++)
                r->value.active.eq.pro.band[i] = (struct eq_band) {
                        .type = (uint8_t) (i % 3),
                        .freq_hz = (uint16_t) (31 << (i < 9 ? i : 9)),
                        .gain = (int16_t) (i * 20 - 100),
                        .q100 = (uint16_t) (70 + 10 * i),
                };
}

static void make_standard(struct record *r) {
        static const int8_t gains[STD_BANDS] = { 6, 3, 0, -3, 12 };

        record_init(r, KEY_EQ_CUSTOM, FAMILY_STANDARD);
        for (unsigned i = 0; i < STD_BANDS; i++)
                r->value.custom.std.gain[i] = gains[i];
}

static void make_profile(struct record *r) {
        static const char name[] = "Ada's Buds \xf0\x9f\x8e\xa7";
        struct profile *p = &r->value.profile;

        record_init(r, KEY_PROFILE, FAMILY_ANY);
        p->hearing_enabled = true;
        for (unsigned i = 0; i < PROFILE_BANDS; i++) {
                p->left[i] = (int8_t) (2 * i);
                p->right[i] = (int8_t) (-3 * (int) i);
        }
        p->noise_control = NOISE_AMBIENT;
        p->ambient_level = 7;
        p->touch_left = TOUCH_PLAY_PAUSE;
        p->touch_right = TOUCH_NOISE_CONTROL;
        p->name_len = sizeof(name) - 1;
        for (unsigned i = 0; i < p->name_len; i++)
                p->name[i] = name[i];
}

static int run(const char *what, void (*make)(struct record *)) {
        uint8_t buf[WIRE_RECORD_MAX];
        struct record r;
        int n;

        make(&r);
        n = wire_record_encode(&r, buf, sizeof(buf));
        if (n < 0) {
                fprintf(stderr, "%s: the benchmark record is invalid (%d)\n", what, n);
                return -1;
        }
        printf("%-26s %3d bytes  decode %6.2f M/s  encode %6.2f M/s\n", what, n,
               bench_decode(buf, (size_t) n) / 1e6, bench_encode(&r) / 1e6);
        return 0;
}

int main(void) {
        if (run("eq.active pro, 10 bands", make_pro) < 0 ||
            run("eq.custom standard", make_standard) < 0 ||
            run("profile, 15-byte name", make_profile) < 0)
                return EXIT_FAILURE;
        printf("(target: above 5 M/s each way)\n");
        return EXIT_SUCCESS;
}
