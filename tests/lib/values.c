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
