/* SPDX-License-Identifier: MIT */
/* Throughput of the JSON record form (codec/recjson.c): parses and prints per
 * second of the largest record (eq.active, pro, custom, 10 bands) and of a
 * profile record. Figures only; nothing is asserted. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec/recjson.h"

#define BENCH_MIN_SECONDS 0.5

static double now(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void pro_record(struct record *r) {
        memset(r, 0, sizeof(*r));
        value_init(&r->value, KEY_EQ_ACTIVE, FAMILY_PRO);
        r->stamp = (struct stamp) { stamp_pack(1763700000000ull, 3), 0x00a1b2c3d4e5f607ull };
        r->value.active.preset = PRESET_CUSTOM;
        r->value.active.eq.pro.preamp = -35;
        r->value.active.eq.pro.count = PRO_BANDS_MAX;
        for (unsigned i = 0; i < PRO_BANDS_MAX; i++)
                r->value.active.eq.pro.band[i] = (struct eq_band) { (uint8_t) (i % 3), (uint16_t) (31 << (i % 10)),
                                                                    (int16_t) (35 - 13 * (int) i), (uint16_t) (71 + 37 * i) };
}

static void profile_record(struct record *r) {
        static const int8_t gains[6] = { -24, -7, 0, 3, 17, 24 };

        memset(r, 0, sizeof(*r));
        value_init(&r->value, KEY_PROFILE, FAMILY_ANY);
        r->stamp = (struct stamp) { stamp_pack(1763700000000ull, 3), 0x00a1b2c3d4e5f607ull };
        r->value.profile.hearing_enabled = true;
        memcpy(r->value.profile.left, gains, 6);
        memcpy(r->value.profile.right, gains, 6);
        r->value.profile.noise_control = NOISE_ANC;
        r->value.profile.ambient_level = 7;
        r->value.profile.touch_left = TOUCH_NEXT;
        r->value.profile.touch_right = TOUCH_NOISE_CONTROL;
        strcpy(r->value.profile.name, "Living room B\xc3\xbc" "ds");
        r->value.profile.name_len = (uint8_t) strlen(r->value.profile.name);
}

static void bench_print(const char *what, const struct record *r) {
        double start = now(), t;
        unsigned long n = 0;

        do {
                for (unsigned i = 0; i < 1000; i++, n++)
                        free(recjson_record_print(r));
                t = now() - start;
        } while (t < BENCH_MIN_SECONDS);
        printf("%-28s print %10.0f /s\n", what, (double) n / t);
}

static int bench_parse(const char *what, const struct record *r) {
        char *text = recjson_record_print(r);
        size_t len = text ? strlen(text) : 0;
        double start = now(), t;
        unsigned long n = 0;
        struct record back;

        if (!text)
                return -1;
        do {
                for (unsigned i = 0; i < 1000; i++, n++)
                        if (recjson_record_parse(text, len, &back, NULL) < 0) {
                                free(text);
                                return -1;
                        }
                t = now() - start;
        } while (t < BENCH_MIN_SECONDS);
        printf("%-28s parse %10.0f /s  (%zu bytes)\n", what, (double) n / t, len);
        free(text);
        return 0;
}

int main(void) {
        struct record pro, profile;

        pro_record(&pro);
        profile_record(&profile);
        if (bench_parse("eq.active pro 10 bands", &pro) < 0 || bench_parse("profile", &profile) < 0) {
                fprintf(stderr, "bench-recjson: a record did not round-trip\n");
                return 1;
        }
        bench_print("eq.active pro 10 bands", &pro);
        bench_print("profile", &profile);
        return 0;
}
