/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "tests/lib/values.h"

struct value test_profile(const char *name) {
        struct value v;

        value_init(&v, KEY_PROFILE, FAMILY_ANY);
        /* a longer name would make an invalid value on purpose: cut it */
        v.profile.name_len = (uint8_t) strnlen(name, PROFILE_NAME_MAX);
        memcpy(v.profile.name, name, v.profile.name_len);
        v.profile.noise_control = NOISE_ANC;
        v.profile.touch_left = TOUCH_PLAY_PAUSE;
        v.profile.left[2] = 5;
        return v;
}

struct value test_pro_eq(enum key key, int16_t gain) {
        struct value v;
        union eq_params *eq;

        value_init(&v, key, FAMILY_PRO);
        eq = key == KEY_EQ_ACTIVE ? &v.active.eq : &v.custom;
        if (key == KEY_EQ_ACTIVE)
                v.active.preset = PRESET_CUSTOM;
        eq->pro.preamp = -20;
        eq->pro.count = 3;
        eq->pro.band[0] = (struct eq_band) { BAND_LOW_SHELF, 105, gain, 71 };
        eq->pro.band[1] = (struct eq_band) { BAND_PEAK, 2500, -35, 141 };
        eq->pro.band[2] = (struct eq_band) { BAND_HIGH_SHELF, 9000, 25, 70 };
        return v;
}

uint64_t test_wall_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

struct value test_unique_value(enum key key, enum family family, const char *prefix, unsigned n) {
        struct value v;

        value_init(&v, key, key == KEY_PROFILE ? FAMILY_ANY : family);
        if (key == KEY_PROFILE) {
                v.profile.name_len = (uint8_t) snprintf(v.profile.name, sizeof(v.profile.name), "%s %u", prefix, n);
                v.profile.touch_left = TOUCH_PLAY_PAUSE;
                return v;
        }
        union eq_params *p = key == KEY_EQ_CUSTOM ? &v.custom : &v.active.eq;

        if (key == KEY_EQ_ACTIVE)
                v.active.preset = PRESET_CUSTOM;
        if (family == FAMILY_STANDARD) {
                unsigned x = n;

                for (int i = 0; i < STD_BANDS; i++, x /= 49)
                        p->std.gain[i] = (int8_t) ((int) (x % 49) - 24);
        } else {
                p->pro.preamp = -10;
                p->pro.count = 1;
                p->pro.band[0] = (struct eq_band) { BAND_PEAK, (uint16_t) (20 + n % 19981),
                                                    (int16_t) ((int) ((n / 19981) % 241) - 120), 71 };
        }
        return v;
}
