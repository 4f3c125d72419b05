/* SPDX-License-Identifier: MIT */
/* Unit tests of policy/value.c: names, ranges, UTF-8, equality. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "policy/value.h"

static void test_names(void **state) {
        enum key k;
        enum family f;
        uint8_t u;

        (void) state;
        assert_string_equal(key_name(KEY_EQ_ACTIVE), "eq.active");
        assert_null(key_name(0));
        assert_null(key_name(4));
        assert_int_equal(key_from_name("eq.custom", &k), 0);
        assert_int_equal(k, KEY_EQ_CUSTOM);
        assert_int_equal(key_from_name("EQ.custom", &k), -EINVAL);
        assert_int_equal(key_from_name(NULL, &k), -EINVAL);
        assert_int_equal(family_from_name("pro", &f), 0);
        assert_int_equal(f, FAMILY_PRO);
        assert_int_equal(preset_from_name("custom", &u), 0);
        assert_int_equal(u, PRESET_CUSTOM);
        assert_string_equal(preset_name(255), "custom");
        assert_null(preset_name(4));
        assert_int_equal(touch_action_from_name("voice_assistant", &u), 0);
        assert_int_equal(u, TOUCH_VOICE_ASSISTANT);
        assert_int_equal(band_type_from_name("shelf", &u), -EINVAL);
        assert_true(key_family_is_valid(KEY_PROFILE, FAMILY_ANY));
        assert_false(key_family_is_valid(KEY_PROFILE, FAMILY_PRO));
        assert_false(key_family_is_valid(KEY_EQ_ACTIVE, FAMILY_ANY));
        assert_false(key_family_is_valid(KEY_EQ_ACTIVE, 3));
}

static void test_utf8(void **state) {
        (void) state;
        assert_true(utf8_is_valid("h\xc3\xa9llo", 6));
        assert_true(utf8_is_valid("\xf0\x9f\x8e\xa7", 4));
        assert_false(utf8_is_valid("\xc0\xaf", 2));             /* overlong */
        assert_false(utf8_is_valid("\xed\xa0\x80", 3));         /* surrogate */
        assert_false(utf8_is_valid("\xf4\x90\x80\x80", 4));     /* > U+10FFFF */
        assert_false(utf8_is_valid("\xe2\x82", 2));             /* truncated */
        assert_false(utf8_is_valid("a\0b", 3));                 /* NUL */
        assert_true(utf8_is_valid("", 0));
}

static void test_profile_ranges(void **state) {
        struct value v;
        struct value_err e = { { 0 } };

        (void) state;
        value_init(&v, KEY_PROFILE, FAMILY_ANY);
        assert_int_equal(value_check(&v, &e), 0);
        v.profile.right[3] = 25;
        assert_int_equal(value_check(&v, &e), -EINVAL);
        assert_string_equal(e.msg, "hearing.right_db[3]: 25 is outside -24..24");
        v.profile.right[3] = -24;
        v.profile.touch_left = 6;
        memset(&e, 0, sizeof(e));
        assert_int_equal(value_check(&v, &e), -EINVAL);
        assert_string_equal(e.msg, "touch.left: 6 is outside 0..5");
        v.profile.touch_left = 5;
        memcpy(v.profile.name, "Buds", 5);
        v.profile.name_len = 3;
        memset(&e, 0, sizeof(e));
        assert_int_equal(value_check(&v, &e), -EINVAL);
        v.profile.name_len = 4;
        assert_int_equal(value_check(&v, NULL), 0);
}

static void test_eq_ranges(void **state) {
        struct value v;
        struct value_err e = { { 0 } };

        (void) state;
        value_init(&v, KEY_EQ_CUSTOM, FAMILY_PRO);
        assert_int_equal(value_check(&v, &e), -EINVAL);         /* zero bands */
        assert_string_equal(e.msg, "band count: 0 is outside 1..10");
        v.custom.pro.count = 1;
        v.custom.pro.band[0] = (struct eq_band) { BAND_PEAK, 1000, 120, 1001 };
        memset(&e, 0, sizeof(e));
        assert_int_equal(value_check(&v, &e), -EINVAL);
        assert_string_equal(e.msg, "bands[0].q: 1001 is outside 10..1000");
        v.custom.pro.band[0].q100 = 1000;
        assert_int_equal(value_check(&v, NULL), 0);
        v.custom.pro.preamp = 1;
        assert_int_equal(value_check(&v, NULL), -EINVAL);

        value_init(&v, KEY_EQ_ACTIVE, FAMILY_STANDARD);
        v.active.preset = 4;
        assert_int_equal(value_check(&v, NULL), -EINVAL);
        v.active.preset = PRESET_CUSTOM;
        v.active.eq.std.gain[4] = -25;
        assert_int_equal(value_check(&v, NULL), -EINVAL);
        v.active.eq.std.gain[4] = -24;
        assert_int_equal(value_check(&v, NULL), 0);
}

static void test_equal(void **state) {
        struct value a, b;

        (void) state;
        value_init(&a, KEY_EQ_ACTIVE, FAMILY_STANDARD);
        value_init(&b, KEY_EQ_ACTIVE, FAMILY_STANDARD);
        a.active.preset = b.active.preset = PRESET_VOICE;
        a.active.eq.std.gain[0] = 3;    /* ignored: not custom */
        assert_true(value_equal(&a, &b));
        a.active.preset = b.active.preset = PRESET_CUSTOM;
        assert_false(value_equal(&a, &b));
        b.family = FAMILY_PRO;
        assert_false(value_equal(&a, &b));
}

static void test_err_prefix(void **state) {
        struct value_err e = { { 0 } };

        (void) state;
        assert_int_equal(value_errf(&e, -EINVAL, "q: %d", 5), -EINVAL);
        assert_int_equal(value_errf(&e, -EMSGSIZE, "outer"), -EMSGSIZE);     /* first message kept */
        value_err_prefix(&e, "value.eq.");
        assert_string_equal(e.msg, "value.eq.q: 5");
        assert_int_equal(value_errf(NULL, -EINVAL, "x"), -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_names),
                cmocka_unit_test(test_utf8),
                cmocka_unit_test(test_profile_ranges),
                cmocka_unit_test(test_eq_ranges),
                cmocka_unit_test(test_equal),
                cmocka_unit_test(test_err_prefix),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
