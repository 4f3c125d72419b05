/* SPDX-License-Identifier: MIT */
/* Unit tests of codec/wire.c, with the bytes written out: every valid form of
 * each value and family, round trips both ways, and every rejection with its
 * error class (-EMSGSIZE for lengths, -EINVAL for the rest) and its message. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "codec/wire.h"

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

/* Records: header, then payload */

static const uint8_t rec_profile[] = {
        0x01, 0x01, 0x00, 0x00,                         /* version 1, profile, family any, flags 0 */
        0x07, 0x00, 0x00, 0x00,                         /* revision 7 */
        0x03, 0x00, 0x10, 0x4a, 0x5e, 0x2d, 0x8c, 0x01, /* hlc: ms 0x018c2d5e4a10, counter 3 */
        0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, /* origin 0x1122334455667788 */
        0x16, 0x00,                                     /* payload length 22 */
        0x01,                                           /* hearing enabled */
        0xfa, 0xfc, 0x00, 0x04, 0x08, 0x18,             /* left: -6 -4 0 4 8 24 */
        0xe8, 0xff, 0x01, 0x02, 0x03, 0x04,             /* right: -24 -1 1 2 3 4 */
        0x02, 0x0a,                                     /* ambient, level 10 */
        0x01, 0x05,                                     /* play_pause, voice_assistant */
        0x04, 'B', 'u', 'd', 's',                       /* name "Buds" */
};

static const uint8_t rec_profile_factory[] = {
        0x01, 0x01, 0x00, 0x01,                         /* flags DIRTY */
        0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* factory stamp */
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x12, 0x00,                                     /* payload length 18 */
        0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00,
        0x00,                                           /* empty name */
};

static const uint8_t rec_profile_long_name[] = {
        0x01, 0x01, 0x00, 0x03,                         /* flags DIRTY | DERIVED */
        0xff, 0xff, 0xff, 0xff,                         /* revision 2^32 - 1 */
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0x32, 0x00,                                     /* payload length 50 */
        0x00,
        0xe8, 0xe8, 0xe8, 0xe8, 0xe8, 0xe8,             /* -24 everywhere */
        0x18, 0x18, 0x18, 0x18, 0x18, 0x18,             /* 24 everywhere */
        0x01, 0x00, 0x00, 0x00,
        0x20,                                           /* 32 bytes: "🎧é" + a..z */
        0xf0, 0x9f, 0x8e, 0xa7, 0xc3, 0xa9,
        'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm',
        'n', 'o', 'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z',
};

static const uint8_t rec_custom_std[] = {
        0x01, 0x02, 0x01, 0x02,                         /* eq.custom, standard, DERIVED */
        0x2a, 0x00, 0x00, 0x00,                         /* revision 42 */
        0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, /* hlc: ms 65536, counter 0 */
        0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* origin 1 */
        0x05, 0x00,
        0xe8, 0xf4, 0x00, 0x0c, 0x18,                   /* -24 -12 0 12 24 */
};

static const uint8_t rec_custom_pro_1[] = {
        0x01, 0x02, 0x02, 0x00,                         /* eq.custom, pro */
        0x01, 0x02, 0x03, 0x04,                         /* revision 0x04030201 */
        0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,
        0x10, 0x0f, 0x0e, 0x0d, 0x0c, 0x0b, 0x0a, 0x09,
        0x0a, 0x00,                                     /* 3 + 7 */
        0x88, 0xff, 0x01,                               /* preamp -120, 1 band */
        0x00, 0x14, 0x00, 0x88, 0xff, 0x0a, 0x00,       /* peak, 20 Hz, -120, q 10 */
};

#define PRO_10_BANDS                                                            \
        0xbf, 0xff, 0x0a,                               /* preamp -65, 10 bands */ \
        0x01, 0x14, 0x00, 0x78, 0x00, 0x0a, 0x00,       /* low_shelf 20 Hz 120 q 10 */ \
        0x00, 0x3c, 0x00, 0x88, 0xff, 0xe8, 0x03,       /* 60 Hz -120 q 1000 */ \
        0x00, 0xfa, 0x00, 0x1e, 0x00, 0x46, 0x00,       /* 250 Hz 30 q 70 */    \
        0x00, 0xf4, 0x01, 0xe2, 0xff, 0x64, 0x00,       /* 500 Hz -30 q 100 */  \
        0x00, 0xe8, 0x03, 0x00, 0x00, 0x8d, 0x00,       /* 1 kHz 0 q 141 */     \
        0x00, 0xd0, 0x07, 0x0a, 0x00, 0xc8, 0x00,       /* 2 kHz 10 q 200 */    \
        0x00, 0xa0, 0x0f, 0xf6, 0xff, 0x2c, 0x01,       /* 4 kHz -10 q 300 */   \
        0x00, 0x40, 0x1f, 0x32, 0x00, 0x90, 0x01,       /* 8 kHz 50 q 400 */    \
        0x00, 0x80, 0x3e, 0xce, 0xff, 0x58, 0x02,       /* 16 kHz -50 q 600 */  \
        0x02, 0x20, 0x4e, 0x64, 0x00, 0x32, 0x00        /* high_shelf 20 kHz 100 q 50 */

static const uint8_t rec_custom_pro_10[] = {
        0x01, 0x02, 0x02, 0x01,                         /* eq.custom, pro, DIRTY */
        0x05, 0x00, 0x00, 0x00,
        0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x49, 0x00,                                     /* 3 + 70 */
        PRO_10_BANDS,
};

static const uint8_t rec_active_std_custom[] = {
        0x01, 0x03, 0x01, 0x00,                         /* eq.active, standard */
        0x02, 0x00, 0x00, 0x00,
        0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x0a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x06, 0x00,
        0xff,                                           /* custom */
        0x18, 0x00, 0xfe, 0x02, 0xe8,                   /* 24 0 -2 2 -24 */
};

static const uint8_t rec_active_pro_custom[] = {
        0x01, 0x03, 0x02, 0x00,                         /* eq.active, pro */
        0x03, 0x00, 0x00, 0x00,
        0x0b, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x0c, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x4a, 0x00,                                     /* 1 + 73: the largest record */
        0xff,
        PRO_10_BANDS,
};

static const uint8_t rec_active_pro_voice[] = {
        0x01, 0x03, 0x02, 0x02,                         /* eq.active, pro, DERIVED */
        0x04, 0x00, 0x00, 0x00,
        0x0d, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x0e, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x01, 0x00,
        0x02,                                           /* voice */
};

static const uint8_t pay_profile[] = {
        0x01,
        0xfa, 0xfc, 0x00, 0x04, 0x08, 0x18,
        0xe8, 0xff, 0x01, 0x02, 0x03, 0x04,
        0x02, 0x0a, 0x01, 0x05,
        0x04, 'B', 'u', 'd', 's',
};

static const uint8_t pay_std[] = { 0xe8, 0xf4, 0x00, 0x0c, 0x18 };
static const uint8_t pay_pro_10[] = { PRO_10_BANDS };

static const struct {
        const char *name;
        const uint8_t *buf;
        size_t len;
} valid_records[] = {
#define V(a) { #a, a, sizeof(a) }
        V(rec_profile), V(rec_profile_factory), V(rec_profile_long_name), V(rec_custom_std),
        V(rec_custom_pro_1), V(rec_custom_pro_10), V(rec_active_std_custom),
        V(rec_active_pro_custom), V(rec_active_pro_voice),
#undef V
};

/* Helpers. Each takes the caller's line so that a failure says which case. */

static size_t mkrec(uint8_t *out, unsigned key, unsigned family, unsigned flags,
                    const uint8_t *payload, size_t n) {
        const uint8_t header[] = {
                0x01, (uint8_t) key, (uint8_t) family, (uint8_t) flags,
                0x01, 0x00, 0x00, 0x00,
                0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                (uint8_t) n, (uint8_t) (n >> 8),
        };

        memcpy(out, header, sizeof(header));
        if (n > 0)
                memcpy(out + sizeof(header), payload, n);
        return sizeof(header) + n;
}

static void check_err(int line, int got, int code, const struct value_err *e, const char *msg) {
        if (got != code)
                fail_msg("line %d: returned %d, expected %d (\"%s\")", line, got, code, e->msg);
        if (code < 0 && e->msg[0] == '\0')
                fail_msg("line %d: rejected without a message", line);
        if (msg && strcmp(e->msg, msg) != 0)
                fail_msg("line %d: message \"%s\", expected \"%s\"", line, e->msg, msg);
}

#define EXPECT_RECORD(buf, len, code, msg) expect_record(__LINE__, buf, len, code, msg)
static void expect_record(int line, const uint8_t *buf, size_t len, int code, const char *msg) {
        struct record r, before;
        struct value_err e = { { 0 } };
        int got;

        memset(&r, 0x5a, sizeof(r));
        memcpy(&before, &r, sizeof(r));
        got = wire_record_decode(buf, len, &r, &e);
        check_err(line, got, code, &e, msg);
        if (code < 0 && memcmp(&r, &before, sizeof(r)) != 0)
                fail_msg("line %d: ret written although rejected", line);
}

/* The payload alone (wire_value_decode) and inside a record (with "payload."). */
#define EXPECT_PAYLOAD(k, f, buf, len, code, msg) expect_payload(__LINE__, k, f, buf, len, code, msg)
static void expect_payload(int line, enum key k, enum family f, const uint8_t *buf, size_t len,
                           int code, const char *msg) {
        uint8_t rec[WIRE_RECORD_HEADER_SIZE + 300];
        struct value_err e = { { 0 } };
        char full[VALUE_ERR_MAX];
        struct value v;

        assert_true(len <= 300);
        check_err(line, wire_value_decode(k, f, buf, len, &v, &e), code, &e, msg);
        (void) snprintf(full, sizeof(full), "payload.%s", msg ? msg : "");
        expect_record(line, rec, mkrec(rec, k, f, 0, buf, len), code, msg ? full : NULL);
}

#define ROUNDTRIP(buf, len) roundtrip(__LINE__, buf, len)
static void roundtrip(int line, const uint8_t *buf, size_t len) {
        uint8_t out[WIRE_RECORD_MAX + 8];
        struct value_err e = { { 0 } };
        struct record r, r2;
        struct value v;
        int n;

        n = wire_record_decode(buf, len, &r, &e);
        if (n != 0)
                fail_msg("line %d: rejected: %d %s", line, n, e.msg);
        assert_int_equal(value_check(&r.value, NULL), 0);
        memset(out, 0xcc, sizeof(out));
        assert_int_equal(wire_record_encode(&r, out, sizeof(out)), (int) len);
        assert_memory_equal(out, buf, len);
        assert_int_equal(out[len], 0xcc);                       /* nothing written past */
        assert_int_equal(wire_record_encode(&r, out, len), (int) len);
        assert_int_equal(wire_record_encode(&r, out, len - 1), -ENOBUFS);
        assert_int_equal(wire_record_decode(out, len, &r2, NULL), 0);
        assert_true(value_equal(&r.value, &r2.value));
        assert_true(stamp_eq(r.stamp, r2.stamp));

        /* the payload alone */
        assert_int_equal(wire_value_decode(r.value.key, r.value.family, buf + WIRE_RECORD_HEADER_SIZE,
                                           len - WIRE_RECORD_HEADER_SIZE, &v, NULL), 0);
        assert_true(value_equal(&v, &r.value));
        assert_int_equal(wire_value_encode(&v, out, sizeof(out)), (int) (len - WIRE_RECORD_HEADER_SIZE));
        assert_memory_equal(out, buf + WIRE_RECORD_HEADER_SIZE, len - WIRE_RECORD_HEADER_SIZE);
        assert_int_equal(wire_value_encode(&v, out, len - WIRE_RECORD_HEADER_SIZE - 1), -ENOBUFS);
}

/* UUIDs */

static void test_uuids(void **state) {
        (void) state;
        assert_string_equal(wire_key_uuid(KEY_PROFILE), BUDS_PROFILE_UUID);
        assert_string_equal(wire_key_uuid(KEY_EQ_CUSTOM), "4ba70011-795a-4b18-9d7e-be6cf3ffab40");
        assert_string_equal(wire_key_uuid(KEY_EQ_ACTIVE), BUDS_EQ_ACTIVE_UUID);
        assert_null(wire_key_uuid(0));
        assert_null(wire_key_uuid(4));
        assert_int_equal(wire_key_from_uuid(BUDS_PROFILE_UUID), KEY_PROFILE);
        assert_int_equal(wire_key_from_uuid("4ba70011-795a-4b18-9d7e-be6cf3ffab40"), KEY_EQ_CUSTOM);
        assert_int_equal(wire_key_from_uuid("4BA70012-795A-4B18-9D7E-BE6CF3FFAB40"), KEY_EQ_ACTIVE);
        assert_int_equal(wire_key_from_uuid("4Ba70010-795a-4B18-9d7e-be6cf3ffAB40"), KEY_PROFILE);
        assert_int_equal(wire_key_from_uuid(BUDS_MANIFEST_UUID), 0);
        assert_int_equal(wire_key_from_uuid(BUDS_SYNC_SERVICE_UUID), 0);
        assert_int_equal(wire_key_from_uuid("4ba70010-795a-4b18-9d7e-be6cf3ffab4"), 0);
        assert_int_equal(wire_key_from_uuid("4ba70010-795a-4b18-9d7e-be6cf3ffab400"), 0);
        assert_int_equal(wire_key_from_uuid(""), 0);
        assert_int_equal(wire_key_from_uuid(NULL), 0);
}

/* Records: valid forms */

static void test_record_profile(void **state) {
        struct record r;

        (void) state;
        assert_int_equal(wire_record_decode(rec_profile, sizeof(rec_profile), &r, NULL), 0);
        assert_int_equal(r.value.key, KEY_PROFILE);
        assert_int_equal(r.value.family, FAMILY_ANY);
        assert_int_equal(r.flags, 0);
        assert_int_equal(r.revision, 7);
        assert_true(r.stamp.hlc == 0x018c2d5e4a100003ull);
        assert_true(stamp_ms(r.stamp) == 0x018c2d5e4a10ull);
        assert_int_equal(stamp_counter(r.stamp), 3);
        assert_true(r.stamp.origin == 0x1122334455667788ull);
        assert_true(r.value.profile.hearing_enabled);
        assert_int_equal(r.value.profile.left[0], -6);
        assert_int_equal(r.value.profile.left[5], 24);
        assert_int_equal(r.value.profile.right[0], -24);
        assert_int_equal(r.value.profile.right[1], -1);
        assert_int_equal(r.value.profile.noise_control, NOISE_AMBIENT);
        assert_int_equal(r.value.profile.ambient_level, 10);
        assert_int_equal(r.value.profile.touch_left, TOUCH_PLAY_PAUSE);
        assert_int_equal(r.value.profile.touch_right, TOUCH_VOICE_ASSISTANT);
        assert_int_equal(r.value.profile.name_len, 4);
        assert_string_equal(r.value.profile.name, "Buds");
        ROUNDTRIP(rec_profile, sizeof(rec_profile));
}

static void test_record_profile_edges(void **state) {
        struct record r;

        (void) state;
        assert_int_equal(wire_record_decode(rec_profile_factory, sizeof(rec_profile_factory), &r, NULL), 0);
        assert_true(stamp_is_factory(r.stamp));
        assert_int_equal(r.flags, RECORD_DIRTY);
        assert_false(r.value.profile.hearing_enabled);
        assert_int_equal(r.value.profile.name_len, 0);
        assert_string_equal(r.value.profile.name, "");
        ROUNDTRIP(rec_profile_factory, sizeof(rec_profile_factory));

        assert_int_equal(wire_record_decode(rec_profile_long_name, sizeof(rec_profile_long_name), &r, NULL), 0);
        assert_int_equal(r.flags, RECORD_DIRTY | RECORD_DERIVED);
        assert_true(r.revision == 0xffffffffu);
        assert_true(r.stamp.hlc == UINT64_MAX && r.stamp.origin == UINT64_MAX);
        assert_int_equal(r.value.profile.name_len, 32);
        assert_string_equal(r.value.profile.name, "\xf0\x9f\x8e\xa7\xc3\xa9" "abcdefghijklmnopqrstuvwxyz");
        assert_int_equal(r.value.profile.noise_control, NOISE_ANC);
        ROUNDTRIP(rec_profile_long_name, sizeof(rec_profile_long_name));
}

static void test_record_profile_enums(void **state) {
        uint8_t p[sizeof(pay_profile)], rec[64];

        (void) state;
        /* every noise control, ambient level and touch action */
        for (unsigned nc = 0; nc <= 2; nc++)
                for (unsigned lvl = 0; lvl <= 10; lvl++)
                        for (unsigned t = 0; t <= 5; t++) {
                                memcpy(p, pay_profile, sizeof(p));
                                p[13] = (uint8_t) nc;
                                p[14] = (uint8_t) lvl;
                                p[15] = (uint8_t) t;
                                p[16] = (uint8_t) (5 - t);
                                ROUNDTRIP(rec, mkrec(rec, KEY_PROFILE, FAMILY_ANY, 0, p, sizeof(p)));
                        }
        /* every gain at every position */
        for (int g = -24; g <= 24; g++)
                for (unsigned i = 1; i <= 12; i++) {
                        memcpy(p, pay_profile, sizeof(p));
                        p[i] = (uint8_t) (int8_t) g;
                        ROUNDTRIP(rec, mkrec(rec, KEY_PROFILE, FAMILY_ANY, 0, p, sizeof(p)));
                }
}

static void test_record_custom(void **state) {
        struct record r;

        (void) state;
        assert_int_equal(wire_record_decode(rec_custom_std, sizeof(rec_custom_std), &r, NULL), 0);
        assert_int_equal(r.value.key, KEY_EQ_CUSTOM);
        assert_int_equal(r.value.family, FAMILY_STANDARD);
        assert_int_equal(r.flags, RECORD_DERIVED);
        assert_int_equal(r.revision, 42);
        assert_true(stamp_ms(r.stamp) == 65536 && stamp_counter(r.stamp) == 0 && r.stamp.origin == 1);
        assert_int_equal(r.value.custom.std.gain[0], -24);
        assert_int_equal(r.value.custom.std.gain[1], -12);
        assert_int_equal(r.value.custom.std.gain[4], 24);
        ROUNDTRIP(rec_custom_std, sizeof(rec_custom_std));

        assert_int_equal(wire_record_decode(rec_custom_pro_1, sizeof(rec_custom_pro_1), &r, NULL), 0);
        assert_int_equal(r.value.family, FAMILY_PRO);
        assert_true(r.revision == 0x04030201u);
        assert_true(r.stamp.hlc == 0x0102030405060708ull);
        assert_true(r.stamp.origin == 0x090a0b0c0d0e0f10ull);
        assert_int_equal(r.value.custom.pro.preamp, -120);
        assert_int_equal(r.value.custom.pro.count, 1);
        assert_int_equal(r.value.custom.pro.band[0].type, BAND_PEAK);
        assert_int_equal(r.value.custom.pro.band[0].freq_hz, 20);
        assert_int_equal(r.value.custom.pro.band[0].gain, -120);
        assert_int_equal(r.value.custom.pro.band[0].q100, 10);
        ROUNDTRIP(rec_custom_pro_1, sizeof(rec_custom_pro_1));

        assert_int_equal(wire_record_decode(rec_custom_pro_10, sizeof(rec_custom_pro_10), &r, NULL), 0);
        assert_int_equal(r.flags, RECORD_DIRTY);
        assert_int_equal(r.value.custom.pro.preamp, -65);
        assert_int_equal(r.value.custom.pro.count, 10);
        assert_int_equal(r.value.custom.pro.band[0].type, BAND_LOW_SHELF);
        assert_int_equal(r.value.custom.pro.band[0].gain, 120);
        assert_int_equal(r.value.custom.pro.band[1].q100, 1000);
        assert_int_equal(r.value.custom.pro.band[4].q100, 141);
        assert_int_equal(r.value.custom.pro.band[8].freq_hz, 16000);
        assert_int_equal(r.value.custom.pro.band[8].gain, -50);
        assert_int_equal(r.value.custom.pro.band[9].type, BAND_HIGH_SHELF);
        assert_int_equal(r.value.custom.pro.band[9].freq_hz, 20000);
        ROUNDTRIP(rec_custom_pro_10, sizeof(rec_custom_pro_10));
}

static void test_record_pro_counts(void **state) {
        uint8_t p[sizeof(pay_pro_10)], rec[WIRE_RECORD_MAX];
        struct value v;

        (void) state;
        /* every band count, in eq.custom and in eq.active */
        for (unsigned n = 1; n <= 10; n++) {
                memcpy(p, pay_pro_10, sizeof(p));
                p[2] = (uint8_t) n;
                ROUNDTRIP(rec, mkrec(rec, KEY_EQ_CUSTOM, FAMILY_PRO, 0, p, 3 + 7 * n));
                assert_int_equal(wire_value_decode(KEY_EQ_CUSTOM, FAMILY_PRO, p, 3 + 7 * n, &v, NULL), 0);
                assert_int_equal(v.custom.pro.count, n);
                for (unsigned i = n; i < PRO_BANDS_MAX; i++)            /* unused bands stay zero */
                        assert_int_equal(v.custom.pro.band[i].freq_hz, 0);
                uint8_t a[1 + sizeof(p)] = { PRESET_CUSTOM };
                memcpy(a + 1, p, 3 + 7 * n);
                ROUNDTRIP(rec, mkrec(rec, KEY_EQ_ACTIVE, FAMILY_PRO, 0, a, 4 + 7 * n));
        }
        /* every band type */
        for (unsigned t = 0; t <= 2; t++) {
                memcpy(p, pay_pro_10, sizeof(p));
                p[3 + 7 * 5] = (uint8_t) t;
                ROUNDTRIP(rec, mkrec(rec, KEY_EQ_CUSTOM, FAMILY_PRO, 0, p, sizeof(p)));
        }
}

static void test_record_active(void **state) {
        const uint8_t presets[] = { PRESET_FLAT, PRESET_BASS_BOOST, PRESET_VOICE, PRESET_TREBLE };
        uint8_t rec[64];
        struct record r;

        (void) state;
        for (unsigned f = FAMILY_STANDARD; f <= FAMILY_PRO; f++)
                for (unsigned i = 0; i < ELEMENTSOF(presets); i++) {
                        size_t n = mkrec(rec, KEY_EQ_ACTIVE, f, 0, &presets[i], 1);

                        assert_int_equal(wire_record_decode(rec, n, &r, NULL), 0);
                        assert_int_equal(r.value.active.preset, presets[i]);
                        ROUNDTRIP(rec, n);
                }

        assert_int_equal(wire_record_decode(rec_active_std_custom, sizeof(rec_active_std_custom), &r, NULL), 0);
        assert_int_equal(r.value.key, KEY_EQ_ACTIVE);
        assert_int_equal(r.value.active.preset, PRESET_CUSTOM);
        assert_int_equal(r.value.active.eq.std.gain[0], 24);
        assert_int_equal(r.value.active.eq.std.gain[2], -2);
        assert_int_equal(r.value.active.eq.std.gain[4], -24);
        ROUNDTRIP(rec_active_std_custom, sizeof(rec_active_std_custom));

        assert_int_equal(sizeof(rec_active_pro_custom), WIRE_RECORD_MAX);
        assert_int_equal(wire_record_decode(rec_active_pro_custom, sizeof(rec_active_pro_custom), &r, NULL), 0);
        assert_int_equal(r.value.active.eq.pro.count, 10);
        assert_int_equal(r.value.active.eq.pro.band[9].freq_hz, 20000);
        ROUNDTRIP(rec_active_pro_custom, sizeof(rec_active_pro_custom));

        assert_int_equal(wire_record_decode(rec_active_pro_voice, sizeof(rec_active_pro_voice), &r, NULL), 0);
        assert_int_equal(r.value.active.preset, PRESET_VOICE);
        assert_int_equal(r.flags, RECORD_DERIVED);
        ROUNDTRIP(rec_active_pro_voice, sizeof(rec_active_pro_voice));
}

static void test_record_flags(void **state) {
        uint8_t rec[64];

        (void) state;
        for (unsigned f = 0; f <= 3; f++)
                ROUNDTRIP(rec, mkrec(rec, KEY_EQ_CUSTOM, FAMILY_STANDARD, f, pay_std, sizeof(pay_std)));
}

/* Records: rejections of the header */

static void test_record_short(void **state) {
        uint8_t rec[64];

        (void) state;
        for (size_t n = 0; n < WIRE_RECORD_HEADER_SIZE; n++)
                EXPECT_RECORD(rec_custom_std, n, -EMSGSIZE, NULL);
        EXPECT_RECORD(rec_custom_std, 0, -EMSGSIZE, "record.length: 0 bytes but the header needs 26");
        EXPECT_RECORD(rec_custom_std, 25, -EMSGSIZE, "record.length: 25 bytes but the header needs 26");
        EXPECT_RECORD(NULL, 0, -EMSGSIZE, NULL);
        /* a header alone, saying no payload: the payload is then too short */
        EXPECT_RECORD(rec, mkrec(rec, KEY_EQ_CUSTOM, FAMILY_STANDARD, 0, NULL, 0), -EMSGSIZE,
                      "payload.length: 0 bytes but standard EQ needs 5");
        EXPECT_RECORD(rec, mkrec(rec, KEY_PROFILE, FAMILY_ANY, 0, NULL, 0), -EMSGSIZE,
                      "payload.length: 0 bytes but a profile needs at least 18");
        EXPECT_RECORD(rec, mkrec(rec, KEY_EQ_ACTIVE, FAMILY_PRO, 0, NULL, 0), -EMSGSIZE,
                      "payload.length: 0 bytes but the preset needs 1");
}

static void test_record_payload_length(void **state) {
        uint8_t rec[WIRE_RECORD_MAX + 2];

        (void) state;
        /* every truncation of every valid record */
        for (unsigned i = 0; i < ELEMENTSOF(valid_records); i++)
                for (size_t n = 0; n < valid_records[i].len; n++)
                        EXPECT_RECORD(valid_records[i].buf, n, -EMSGSIZE, NULL);
        EXPECT_RECORD(rec_profile, sizeof(rec_profile) - 1, -EMSGSIZE,
                      "record.payload_length: 22 but 21 bytes follow");
        EXPECT_RECORD(rec_custom_std, WIRE_RECORD_HEADER_SIZE, -EMSGSIZE,
                      "record.payload_length: 5 but 0 bytes follow");

        /* a trailing byte after every valid record */
        for (unsigned i = 0; i < ELEMENTSOF(valid_records); i++) {
                memcpy(rec, valid_records[i].buf, valid_records[i].len);
                rec[valid_records[i].len] = 0;
                EXPECT_RECORD(rec, valid_records[i].len + 1, -EMSGSIZE, NULL);
        }
        memcpy(rec, rec_custom_std, sizeof(rec_custom_std));
        rec[sizeof(rec_custom_std)] = 0;
        EXPECT_RECORD(rec, sizeof(rec_custom_std) + 1, -EMSGSIZE, "record.payload_length: 5 but 6 bytes follow");

        /* payload length too large, too small, its high byte */
        memcpy(rec, rec_custom_std, sizeof(rec_custom_std));
        rec[24] = 6;
        EXPECT_RECORD(rec, sizeof(rec_custom_std), -EMSGSIZE, "record.payload_length: 6 but 5 bytes follow");
        rec[24] = 4;
        EXPECT_RECORD(rec, sizeof(rec_custom_std), -EMSGSIZE, "record.payload_length: 4 but 5 bytes follow");
        rec[24] = 5;
        rec[25] = 1;
        EXPECT_RECORD(rec, sizeof(rec_custom_std), -EMSGSIZE, "record.payload_length: 261 but 5 bytes follow");
        rec[24] = 0xff;
        rec[25] = 0xff;
        EXPECT_RECORD(rec, sizeof(rec_custom_std), -EMSGSIZE, "record.payload_length: 65535 but 5 bytes follow");
}

static void test_record_version(void **state) {
        const uint8_t bad[] = { 0x00, 0x02, 0x7f, 0x80, 0xff };
        uint8_t rec[sizeof(rec_profile)];

        (void) state;
        memcpy(rec, rec_profile, sizeof(rec));
        for (unsigned i = 0; i < ELEMENTSOF(bad); i++) {
                rec[0] = bad[i];
                EXPECT_RECORD(rec, sizeof(rec), -EINVAL, NULL);
        }
        rec[0] = 2;
        EXPECT_RECORD(rec, sizeof(rec), -EINVAL, "record.version: 2 is not 1");
        rec[0] = 0;
        EXPECT_RECORD(rec, sizeof(rec), -EINVAL, "record.version: 0 is not 1");
}

static void test_record_key(void **state) {
        const uint8_t bad[] = { 0x00, 0x04, 0x05, 0x10, 0xff };
        uint8_t rec[sizeof(rec_custom_std)];

        (void) state;
        memcpy(rec, rec_custom_std, sizeof(rec));
        for (unsigned i = 0; i < ELEMENTSOF(bad); i++) {
                rec[1] = bad[i];
                EXPECT_RECORD(rec, sizeof(rec), -EINVAL, NULL);
        }
        rec[1] = 0;
        EXPECT_RECORD(rec, sizeof(rec), -EINVAL, "record.key: 0 is not profile, eq.custom or eq.active");
        rec[1] = 4;
        EXPECT_RECORD(rec, sizeof(rec), -EINVAL, "record.key: 4 is not profile, eq.custom or eq.active");
        /* a standard EQ payload under the profile key: the profile's layout applies */
        rec[1] = KEY_PROFILE;
        rec[2] = FAMILY_ANY;
        EXPECT_RECORD(rec, sizeof(rec), -EMSGSIZE, "payload.length: 5 bytes but a profile needs at least 18");
        /* and under eq.active it is preset 232 */
        rec[1] = KEY_EQ_ACTIVE;
        rec[2] = FAMILY_STANDARD;
        EXPECT_RECORD(rec, sizeof(rec), -EINVAL, "payload.preset: 232 is not 0..3 or 255");
}

static void test_record_family(void **state) {
        uint8_t rec[WIRE_RECORD_MAX];

        (void) state;
        memcpy(rec, rec_profile, sizeof(rec_profile));
        for (unsigned f = 1; f <= 255; f++) {
                rec[2] = (uint8_t) f;
                EXPECT_RECORD(rec, sizeof(rec_profile), -EINVAL, NULL);
        }
        rec[2] = 1;
        EXPECT_RECORD(rec, sizeof(rec_profile), -EINVAL, "record.family: 1 is not valid for profile");
        rec[2] = 2;
        EXPECT_RECORD(rec, sizeof(rec_profile), -EINVAL, "record.family: 2 is not valid for profile");

        memcpy(rec, rec_custom_std, sizeof(rec_custom_std));
        for (unsigned f = 0; f <= 255; f++) {
                rec[2] = (uint8_t) f;
                if (f != FAMILY_STANDARD && f != FAMILY_PRO)
                        EXPECT_RECORD(rec, sizeof(rec_custom_std), -EINVAL, NULL);
        }
        rec[2] = 0;
        EXPECT_RECORD(rec, sizeof(rec_custom_std), -EINVAL, "record.family: 0 is not valid for eq.custom");
        rec[2] = 3;
        EXPECT_RECORD(rec, sizeof(rec_custom_std), -EINVAL, "record.family: 3 is not valid for eq.custom");

        memcpy(rec, rec_active_pro_voice, sizeof(rec_active_pro_voice));
        rec[2] = 0;
        EXPECT_RECORD(rec, sizeof(rec_active_pro_voice), -EINVAL, "record.family: 0 is not valid for eq.active");

        /* the other family's layout: a standard payload read as pro, and back */
        memcpy(rec, rec_custom_std, sizeof(rec_custom_std));
        rec[2] = FAMILY_PRO;
        EXPECT_RECORD(rec, sizeof(rec_custom_std), -EINVAL, "payload.band count: 0 is outside 1..10");
        memcpy(rec, rec_custom_pro_1, sizeof(rec_custom_pro_1));
        rec[2] = FAMILY_STANDARD;
        EXPECT_RECORD(rec, sizeof(rec_custom_pro_1), -EMSGSIZE, "payload.length: 10 bytes but standard EQ needs 5");
}

static void test_record_reserved_flags(void **state) {
        uint8_t rec[sizeof(rec_custom_pro_1)];

        (void) state;
        memcpy(rec, rec_custom_pro_1, sizeof(rec));
        for (unsigned f = 4; f <= 255; f++) {
                rec[3] = (uint8_t) f;
                EXPECT_RECORD(rec, sizeof(rec), -EINVAL, NULL);
        }
        rec[3] = 0x04;
        EXPECT_RECORD(rec, sizeof(rec), -EINVAL, "record.flags: 0x04 is reserved");
        rec[3] = 0x81;
        EXPECT_RECORD(rec, sizeof(rec), -EINVAL, "record.flags: 0x80 is reserved");
        rec[3] = 0xff;
        EXPECT_RECORD(rec, sizeof(rec), -EINVAL, "record.flags: 0xfc is reserved");
}

/* The order of checks: lengths first (-EMSGSIZE), except the fields a length
 * is computed from, whose range comes before the length (-EINVAL). */
static void test_record_check_order(void **state) {
        uint8_t rec[WIRE_RECORD_MAX + 8], p[64];

        (void) state;
        /* a bad version, bad flags, a bad payload field: the length wins */
        memcpy(rec, rec_custom_std, sizeof(rec_custom_std));
        rec[0] = 9;
        rec[3] = 0xf0;
        rec[WIRE_RECORD_HEADER_SIZE] = 0x7f;
        EXPECT_RECORD(rec, sizeof(rec_custom_std) - 1, -EMSGSIZE, "record.payload_length: 5 but 4 bytes follow");
        EXPECT_RECORD(rec, sizeof(rec_custom_std), -EINVAL, "record.version: 9 is not 1");
        rec[0] = 1;
        EXPECT_RECORD(rec, sizeof(rec_custom_std), -EINVAL, "record.flags: 0xf0 is reserved");
        rec[3] = 0;
        EXPECT_RECORD(rec, sizeof(rec_custom_std), -EINVAL, "payload.bands_db[0]: 127 is outside -24..24");

        /* a bad key with a payload length that does not add up: the length */
        memcpy(rec, rec_custom_std, sizeof(rec_custom_std));
        rec[1] = 7;
        rec[24] = 4;
        EXPECT_RECORD(rec, sizeof(rec_custom_std), -EMSGSIZE, "record.payload_length: 4 but 5 bytes follow");

        /* a bad version with a payload that does not match its own count */
        memcpy(p, pay_pro_10, 3 + 7 * 2);
        p[2] = 3;                                       /* says 3 bands, carries 2 */
        mkrec(rec, KEY_EQ_CUSTOM, FAMILY_PRO, 0xff, p, 3 + 7 * 2);
        rec[0] = 0;
        EXPECT_RECORD(rec, WIRE_RECORD_HEADER_SIZE + 3 + 7 * 2, -EMSGSIZE,
                      "payload.length: 17 bytes but band count 3 needs 24");

        /* a band count out of range with a length that fits no count: the count */
        p[2] = 11;
        EXPECT_PAYLOAD(KEY_EQ_CUSTOM, FAMILY_PRO, p, 3 + 7 * 2, -EINVAL, "band count: 11 is outside 1..10");
        p[2] = 0;
        EXPECT_PAYLOAD(KEY_EQ_CUSTOM, FAMILY_PRO, p, 3 + 7 * 2, -EINVAL, "band count: 0 is outside 1..10");

        /* a name length out of range with a short payload: the count */
        memcpy(p, pay_profile, sizeof(pay_profile));
        p[17] = 33;
        EXPECT_PAYLOAD(KEY_PROFILE, FAMILY_ANY, p, sizeof(pay_profile), -EINVAL, "name_len: 33 is outside 0..32");
        /* a name length that is fine, with a payload that is not: the length,
         * even with reserved bits and out-of-range gains before it */
        p[0] = 0xff;
        p[1] = 100;
        p[17] = 5;
        EXPECT_PAYLOAD(KEY_PROFILE, FAMILY_ANY, p, sizeof(pay_profile), -EMSGSIZE,
                       "length: 22 bytes but name_len 5 needs 23");

        /* an unknown preset with EQ parameters after it: the preset */
        p[0] = 4;
        memcpy(p + 1, pay_std, sizeof(pay_std));
        EXPECT_PAYLOAD(KEY_EQ_ACTIVE, FAMILY_STANDARD, p, 6, -EINVAL, "preset: 4 is not 0..3 or 255");
        /* a known preset with them: the length */
        p[0] = 3;
        EXPECT_PAYLOAD(KEY_EQ_ACTIVE, FAMILY_STANDARD, p, 6, -EMSGSIZE, "length: 6 bytes but preset 3 needs 1");
}

/* Payloads: rejections */

static void test_profile_bad_fields(void **state) {
        uint8_t p[sizeof(pay_profile)];
        char msg[64];

        (void) state;
        for (unsigned bit = 1; bit < 8; bit++) {
                memcpy(p, pay_profile, sizeof(p));
                p[0] = (uint8_t) (1u << bit);
                (void) snprintf(msg, sizeof(msg), "hearing.enabled: 0x%02x is reserved", 1u << bit);
                EXPECT_PAYLOAD(KEY_PROFILE, FAMILY_ANY, p, sizeof(p), -EINVAL, msg);
        }
        p[0] = 0xff;
        EXPECT_PAYLOAD(KEY_PROFILE, FAMILY_ANY, p, sizeof(p), -EINVAL, "hearing.enabled: 0xfe is reserved");

        for (unsigned i = 0; i < PROFILE_BANDS; i++) {
                const int bad[] = { 25, -25, 127, -128 };

                for (unsigned j = 0; j < ELEMENTSOF(bad); j++) {
                        memcpy(p, pay_profile, sizeof(p));
                        p[1 + i] = (uint8_t) (int8_t) bad[j];
                        (void) snprintf(msg, sizeof(msg), "hearing.left_db[%u]: %d is outside -24..24", i, bad[j]);
                        EXPECT_PAYLOAD(KEY_PROFILE, FAMILY_ANY, p, sizeof(p), -EINVAL, msg);
                        memcpy(p, pay_profile, sizeof(p));
                        p[7 + i] = (uint8_t) (int8_t) bad[j];
                        (void) snprintf(msg, sizeof(msg), "hearing.right_db[%u]: %d is outside -24..24", i, bad[j]);
                        EXPECT_PAYLOAD(KEY_PROFILE, FAMILY_ANY, p, sizeof(p), -EINVAL, msg);
                }
        }

        memcpy(p, pay_profile, sizeof(p));
        p[13] = 3;
        EXPECT_PAYLOAD(KEY_PROFILE, FAMILY_ANY, p, sizeof(p), -EINVAL, "noise_control: 3 is outside 0..2");
        p[13] = 0xff;
        EXPECT_PAYLOAD(KEY_PROFILE, FAMILY_ANY, p, sizeof(p), -EINVAL, "noise_control: 255 is outside 0..2");
        memcpy(p, pay_profile, sizeof(p));
        p[14] = 11;
        EXPECT_PAYLOAD(KEY_PROFILE, FAMILY_ANY, p, sizeof(p), -EINVAL, "ambient_level: 11 is outside 0..10");
        p[14] = 0x80;
        EXPECT_PAYLOAD(KEY_PROFILE, FAMILY_ANY, p, sizeof(p), -EINVAL, "ambient_level: 128 is outside 0..10");
        memcpy(p, pay_profile, sizeof(p));
        p[15] = 6;
        EXPECT_PAYLOAD(KEY_PROFILE, FAMILY_ANY, p, sizeof(p), -EINVAL, "touch.left: 6 is outside 0..5");
        memcpy(p, pay_profile, sizeof(p));
        p[16] = 6;
        EXPECT_PAYLOAD(KEY_PROFILE, FAMILY_ANY, p, sizeof(p), -EINVAL, "touch.right: 6 is outside 0..5");
        p[16] = 0xff;
        EXPECT_PAYLOAD(KEY_PROFILE, FAMILY_ANY, p, sizeof(p), -EINVAL, "touch.right: 255 is outside 0..5");
}

static void test_profile_name(void **state) {
        static const struct {
                const char *bytes;
                size_t n;
        } bad[] = {
                { "Bu\0s", 4 },                         /* NUL */
                { "\0uds", 4 },
                { "Bud\xff", 4 },                       /* never UTF-8 */
                { "\xc0\xaf" "ds", 4 },                 /* overlong */
                { "\xed\xa0\x80" "s", 4 },              /* surrogate */
                { "\xf4\x90\x80\x80", 4 },              /* above U+10FFFF */
                { "Bu\xe2\x82", 4 },                    /* truncated sequence */
                { "\x80uds", 4 },                       /* lone continuation */
        };
        uint8_t p[18 + 33 + 1];

        (void) state;
        for (unsigned i = 0; i < ELEMENTSOF(bad); i++) {
                memcpy(p, pay_profile, 18);
                p[17] = (uint8_t) bad[i].n;
                memcpy(p + 18, bad[i].bytes, bad[i].n);
                EXPECT_PAYLOAD(KEY_PROFILE, FAMILY_ANY, p, 18 + bad[i].n, -EINVAL,
                               "name: not valid UTF-8 or contains NUL");
        }

        /* name length: 33 and 255 are out of range whatever follows */
        memcpy(p, pay_profile, 18);
        memset(p + 18, 'a', 33);
        p[17] = 33;
        EXPECT_PAYLOAD(KEY_PROFILE, FAMILY_ANY, p, 18 + 33, -EINVAL, "name_len: 33 is outside 0..32");
        EXPECT_PAYLOAD(KEY_PROFILE, FAMILY_ANY, p, 18 + 32, -EINVAL, "name_len: 33 is outside 0..32");
        EXPECT_PAYLOAD(KEY_PROFILE, FAMILY_ANY, p, 18, -EINVAL, "name_len: 33 is outside 0..32");
        p[17] = 255;
        EXPECT_PAYLOAD(KEY_PROFILE, FAMILY_ANY, p, 18 + 33, -EINVAL, "name_len: 255 is outside 0..32");
        /* 32 fits; the bytes must match it exactly */
        p[17] = 32;
        EXPECT_PAYLOAD(KEY_PROFILE, FAMILY_ANY, p, 18 + 32, 0, NULL);
        EXPECT_PAYLOAD(KEY_PROFILE, FAMILY_ANY, p, 18 + 31, -EMSGSIZE, "length: 49 bytes but name_len 32 needs 50");
        EXPECT_PAYLOAD(KEY_PROFILE, FAMILY_ANY, p, 18 + 33, -EMSGSIZE, "length: 51 bytes but name_len 32 needs 50");
        p[17] = 0;
        EXPECT_PAYLOAD(KEY_PROFILE, FAMILY_ANY, p, 18, 0, NULL);
        EXPECT_PAYLOAD(KEY_PROFILE, FAMILY_ANY, p, 19, -EMSGSIZE, "length: 19 bytes but name_len 0 needs 18");
}

static void test_profile_lengths(void **state) {
        (void) state;
        for (size_t n = 0; n < 18; n++)
                EXPECT_PAYLOAD(KEY_PROFILE, FAMILY_ANY, pay_profile, n, -EMSGSIZE, NULL);
        EXPECT_PAYLOAD(KEY_PROFILE, FAMILY_ANY, pay_profile, 17, -EMSGSIZE,
                       "length: 17 bytes but a profile needs at least 18");
        for (size_t n = 18; n < sizeof(pay_profile); n++)
                EXPECT_PAYLOAD(KEY_PROFILE, FAMILY_ANY, pay_profile, n, -EMSGSIZE, NULL);
        EXPECT_PAYLOAD(KEY_PROFILE, FAMILY_ANY, pay_profile, 21, -EMSGSIZE, "length: 21 bytes but name_len 4 needs 22");
        EXPECT_PAYLOAD(KEY_PROFILE, FAMILY_ANY, pay_profile, sizeof(pay_profile), 0, NULL);
}

static void test_standard_bad(void **state) {
        uint8_t p[8], a[8];
        char msg[64];

        (void) state;
        for (unsigned i = 0; i < STD_BANDS; i++) {
                const int bad[] = { 25, -25, 127, -128 };

                for (unsigned j = 0; j < ELEMENTSOF(bad); j++) {
                        memcpy(p, pay_std, sizeof(pay_std));
                        p[i] = (uint8_t) (int8_t) bad[j];
                        (void) snprintf(msg, sizeof(msg), "bands_db[%u]: %d is outside -24..24", i, bad[j]);
                        EXPECT_PAYLOAD(KEY_EQ_CUSTOM, FAMILY_STANDARD, p, STD_BANDS, -EINVAL, msg);
                        a[0] = PRESET_CUSTOM;
                        memcpy(a + 1, p, STD_BANDS);
                        EXPECT_PAYLOAD(KEY_EQ_ACTIVE, FAMILY_STANDARD, a, 1 + STD_BANDS, -EINVAL, msg);
                }
        }
        memset(p, 0, sizeof(p));
        for (size_t n = 0; n <= sizeof(p); n++)
                EXPECT_PAYLOAD(KEY_EQ_CUSTOM, FAMILY_STANDARD, p, n, n == STD_BANDS ? 0 : -EMSGSIZE, NULL);
        EXPECT_PAYLOAD(KEY_EQ_CUSTOM, FAMILY_STANDARD, p, 4, -EMSGSIZE, "length: 4 bytes but standard EQ needs 5");
        EXPECT_PAYLOAD(KEY_EQ_CUSTOM, FAMILY_STANDARD, p, 6, -EMSGSIZE, "length: 6 bytes but standard EQ needs 5");
        a[0] = PRESET_CUSTOM;
        memset(a + 1, 0, 7);
        for (size_t n = 1; n <= sizeof(a); n++)
                EXPECT_PAYLOAD(KEY_EQ_ACTIVE, FAMILY_STANDARD, a, n, n == 1 + STD_BANDS ? 0 : -EMSGSIZE, NULL);
        EXPECT_PAYLOAD(KEY_EQ_ACTIVE, FAMILY_STANDARD, a, 1, -EMSGSIZE, "length: 1 bytes but standard EQ needs 6");
        EXPECT_PAYLOAD(KEY_EQ_ACTIVE, FAMILY_STANDARD, a, 7, -EMSGSIZE, "length: 7 bytes but standard EQ needs 6");
}

static void test_pro_bad_fields(void **state) {
        static const struct {
                unsigned off;           /* in the band */
                unsigned size;
                int value;
                const char *field;
                const char *range;
        } bad[] = {
                { 0, 1, 3, "type", "0..2" },
                { 0, 1, 255, "type", "0..2" },
                { 1, 2, 19, "freq_hz", "20..20000" },
                { 1, 2, 0, "freq_hz", "20..20000" },
                { 1, 2, 20001, "freq_hz", "20..20000" },
                { 1, 2, 65535, "freq_hz", "20..20000" },
                { 3, 2, 121, "gain", "-120..120" },
                { 3, 2, -121, "gain", "-120..120" },
                { 3, 2, 32767, "gain", "-120..120" },
                { 3, 2, -32768, "gain", "-120..120" },
                { 5, 2, 9, "q", "10..1000" },
                { 5, 2, 0, "q", "10..1000" },
                { 5, 2, 1001, "q", "10..1000" },
                { 5, 2, 65535, "q", "10..1000" },
        };
        uint8_t p[sizeof(pay_pro_10)], a[1 + sizeof(pay_pro_10)];
        char msg[64];

        (void) state;
        for (unsigned band = 0; band < PRO_BANDS_MAX; band++)
                for (unsigned i = 0; i < ELEMENTSOF(bad); i++) {
                        uint8_t *b = p + 3 + 7 * band + bad[i].off;

                        memcpy(p, pay_pro_10, sizeof(p));
                        b[0] = (uint8_t) bad[i].value;
                        if (bad[i].size == 2)
                                b[1] = (uint8_t) ((unsigned) bad[i].value >> 8);
                        (void) snprintf(msg, sizeof(msg), "bands[%u].%s: %d is outside %s",
                                        band, bad[i].field, bad[i].value, bad[i].range);
                        EXPECT_PAYLOAD(KEY_EQ_CUSTOM, FAMILY_PRO, p, sizeof(p), -EINVAL, msg);
                        a[0] = PRESET_CUSTOM;
                        memcpy(a + 1, p, sizeof(p));
                        EXPECT_PAYLOAD(KEY_EQ_ACTIVE, FAMILY_PRO, a, sizeof(a), -EINVAL, msg);
                }

        memcpy(p, pay_pro_10, sizeof(p));
        p[0] = 0x01;
        p[1] = 0x00;
        EXPECT_PAYLOAD(KEY_EQ_CUSTOM, FAMILY_PRO, p, sizeof(p), -EINVAL, "preamp: 1 is outside -120..0");
        p[0] = 0x87;
        p[1] = 0xff;
        EXPECT_PAYLOAD(KEY_EQ_CUSTOM, FAMILY_PRO, p, sizeof(p), -EINVAL, "preamp: -121 is outside -120..0");
        p[0] = 0x00;
        p[1] = 0x80;
        EXPECT_PAYLOAD(KEY_EQ_CUSTOM, FAMILY_PRO, p, sizeof(p), -EINVAL, "preamp: -32768 is outside -120..0");
        p[0] = 0x00;
        p[1] = 0x01;
        EXPECT_PAYLOAD(KEY_EQ_CUSTOM, FAMILY_PRO, p, sizeof(p), -EINVAL, "preamp: 256 is outside -120..0");
        p[0] = 0x88;
        p[1] = 0xff;
        EXPECT_PAYLOAD(KEY_EQ_CUSTOM, FAMILY_PRO, p, sizeof(p), 0, NULL);

        /* a band past the count is not looked at: there are no bytes for it */
        memcpy(p, pay_pro_10, sizeof(p));
        p[2] = 1;
        p[3 + 7 + 5] = 0xff;
        EXPECT_PAYLOAD(KEY_EQ_CUSTOM, FAMILY_PRO, p, 10, 0, NULL);
}

static void test_pro_lengths(void **state) {
        uint8_t p[sizeof(pay_pro_10) + 8], a[sizeof(p) + 1];

        (void) state;
        memset(p, 0, sizeof(p));
        memcpy(p, pay_pro_10, sizeof(pay_pro_10));
        for (unsigned count = 1; count <= PRO_BANDS_MAX; count++) {
                p[2] = (uint8_t) count;
                a[0] = PRESET_CUSTOM;
                memcpy(a + 1, p, sizeof(p));
                for (size_t n = 0; n <= sizeof(p); n++) {
                        int want = n == 3 + 7 * count ? 0 : -EMSGSIZE;

                        EXPECT_PAYLOAD(KEY_EQ_CUSTOM, FAMILY_PRO, p, n, want, NULL);
                        EXPECT_PAYLOAD(KEY_EQ_ACTIVE, FAMILY_PRO, a, n + 1, want, NULL);
                }
        }
        EXPECT_PAYLOAD(KEY_EQ_CUSTOM, FAMILY_PRO, p, 2, -EMSGSIZE, "length: 2 bytes but pro EQ needs at least 3");
        EXPECT_PAYLOAD(KEY_EQ_ACTIVE, FAMILY_PRO, a, 3, -EMSGSIZE, "length: 3 bytes but pro EQ needs at least 4");
        p[2] = 2;
        a[3] = 2;
        EXPECT_PAYLOAD(KEY_EQ_CUSTOM, FAMILY_PRO, p, 10, -EMSGSIZE, "length: 10 bytes but band count 2 needs 17");
        EXPECT_PAYLOAD(KEY_EQ_CUSTOM, FAMILY_PRO, p, 18, -EMSGSIZE, "length: 18 bytes but band count 2 needs 17");
        EXPECT_PAYLOAD(KEY_EQ_ACTIVE, FAMILY_PRO, a, 11, -EMSGSIZE, "length: 11 bytes but band count 2 needs 18");
        EXPECT_PAYLOAD(KEY_EQ_ACTIVE, FAMILY_PRO, a, 1, -EMSGSIZE, "length: 1 bytes but pro EQ needs at least 4");

        /* out-of-range counts, each with several lengths */
        const uint8_t counts[] = { 0, 11, 12, 255 };
        for (unsigned i = 0; i < ELEMENTSOF(counts); i++)
                for (size_t n = 3; n <= sizeof(p); n += 7) {
                        p[2] = counts[i];
                        a[3] = counts[i];
                        EXPECT_PAYLOAD(KEY_EQ_CUSTOM, FAMILY_PRO, p, n, -EINVAL, NULL);
                        EXPECT_PAYLOAD(KEY_EQ_ACTIVE, FAMILY_PRO, a, n + 1, -EINVAL, NULL);
                }
        p[2] = 11;
        EXPECT_PAYLOAD(KEY_EQ_CUSTOM, FAMILY_PRO, p, 3 + 7 * 11, -EINVAL, "band count: 11 is outside 1..10");
        a[3] = 0;
        EXPECT_PAYLOAD(KEY_EQ_ACTIVE, FAMILY_PRO, a, 4, -EINVAL, "band count: 0 is outside 1..10");
}

static void test_active_bad(void **state) {
        uint8_t a[8] = { 0 };
        char msg[64];

        (void) state;
        for (unsigned preset = 4; preset < 255; preset++) {
                a[0] = (uint8_t) preset;
                (void) snprintf(msg, sizeof(msg), "preset: %u is not 0..3 or 255", preset);
                EXPECT_PAYLOAD(KEY_EQ_ACTIVE, FAMILY_STANDARD, a, 1, -EINVAL, msg);
                EXPECT_PAYLOAD(KEY_EQ_ACTIVE, FAMILY_PRO, a, 1, -EINVAL, msg);
        }
        a[0] = 254;
        EXPECT_PAYLOAD(KEY_EQ_ACTIVE, FAMILY_STANDARD, a, 6, -EINVAL, "preset: 254 is not 0..3 or 255");
        EXPECT_PAYLOAD(KEY_EQ_ACTIVE, FAMILY_PRO, a, 0, -EMSGSIZE, "length: 0 bytes but the preset needs 1");
        EXPECT_PAYLOAD(KEY_EQ_ACTIVE, FAMILY_STANDARD, NULL, 0, -EMSGSIZE, "length: 0 bytes but the preset needs 1");
        for (unsigned preset = 0; preset <= 3; preset++) {
                a[0] = (uint8_t) preset;
                for (size_t n = 2; n <= sizeof(a); n++) {
                        EXPECT_PAYLOAD(KEY_EQ_ACTIVE, FAMILY_STANDARD, a, n, -EMSGSIZE, NULL);
                        EXPECT_PAYLOAD(KEY_EQ_ACTIVE, FAMILY_PRO, a, n, -EMSGSIZE, NULL);
                }
        }
        a[0] = 1;
        EXPECT_PAYLOAD(KEY_EQ_ACTIVE, FAMILY_PRO, a, 2, -EMSGSIZE, "length: 2 bytes but preset 1 needs 1");
}

static void test_value_decode_key_family(void **state) {
        struct value_err e = { { 0 } };
        struct value v;

        (void) state;
        assert_int_equal(wire_value_decode(0, FAMILY_ANY, pay_profile, sizeof(pay_profile), &v, &e), -EINVAL);
        assert_string_equal(e.msg, "key: 0 is not profile, eq.custom or eq.active");
        memset(&e, 0, sizeof(e));
        assert_int_equal(wire_value_decode(4, FAMILY_PRO, pay_pro_10, sizeof(pay_pro_10), &v, &e), -EINVAL);
        assert_string_equal(e.msg, "key: 4 is not profile, eq.custom or eq.active");
        memset(&e, 0, sizeof(e));
        assert_int_equal(wire_value_decode(KEY_PROFILE, FAMILY_STANDARD, pay_profile, sizeof(pay_profile), &v, &e),
                         -EINVAL);
        assert_string_equal(e.msg, "family: 1 is not valid for profile");
        memset(&e, 0, sizeof(e));
        assert_int_equal(wire_value_decode(KEY_EQ_CUSTOM, FAMILY_ANY, pay_std, sizeof(pay_std), &v, &e), -EINVAL);
        assert_string_equal(e.msg, "family: 0 is not valid for eq.custom");
        memset(&e, 0, sizeof(e));
        assert_int_equal(wire_value_decode(KEY_EQ_ACTIVE, 3, pay_std, sizeof(pay_std), &v, &e), -EINVAL);
        assert_string_equal(e.msg, "family: 3 is not valid for eq.active");
        /* NULL e is fine */
        assert_int_equal(wire_value_decode(KEY_EQ_ACTIVE, 3, pay_std, sizeof(pay_std), &v, NULL), -EINVAL);
        assert_int_equal(wire_value_decode(KEY_EQ_CUSTOM, FAMILY_STANDARD, pay_std, 4, &v, NULL), -EMSGSIZE);
}

/* Encoders */

static void test_value_encode_invalid(void **state) {
        uint8_t buf[WIRE_RECORD_MAX];
        struct record r = {};
        struct value v;

        (void) state;
        value_init(&v, KEY_PROFILE, FAMILY_ANY);
        assert_int_equal(wire_value_encode(&v, buf, sizeof(buf)), 18);
        assert_int_equal(wire_value_encode(&v, buf, 17), -ENOBUFS);
        assert_int_equal(wire_value_encode(&v, NULL, 0), -ENOBUFS);
        v.profile.left[2] = 25;
        assert_int_equal(wire_value_encode(&v, buf, sizeof(buf)), -EINVAL);
        assert_int_equal(wire_value_encode(&v, buf, 0), -EINVAL);     /* invalid before short */
        v.profile.left[2] = 0;
        memcpy(v.profile.name, "Buds", 5);
        v.profile.name_len = 3;                                         /* does not match the text */
        assert_int_equal(wire_value_encode(&v, buf, sizeof(buf)), -EINVAL);
        v.profile.name_len = 4;
        assert_int_equal(wire_value_encode(&v, buf, sizeof(buf)), 22);
        v.profile.name[1] = '\xff';
        assert_int_equal(wire_value_encode(&v, buf, sizeof(buf)), -EINVAL);
        v.profile.name[1] = 'u';
        v.profile.name_len = 33;
        assert_int_equal(wire_value_encode(&v, buf, sizeof(buf)), -EINVAL);
        v.profile.name_len = 4;
        v.profile.touch_right = 6;
        assert_int_equal(wire_value_encode(&v, buf, sizeof(buf)), -EINVAL);
        v.family = FAMILY_PRO;
        v.profile.touch_right = 0;
        assert_int_equal(wire_value_encode(&v, buf, sizeof(buf)), -EINVAL);
        v.key = 0;
        v.family = FAMILY_ANY;
        assert_int_equal(wire_value_encode(&v, buf, sizeof(buf)), -EINVAL);
        assert_int_equal(wire_value_encode(NULL, buf, sizeof(buf)), -EINVAL);

        value_init(&v, KEY_EQ_CUSTOM, FAMILY_PRO);                     /* zero bands */
        assert_int_equal(wire_value_encode(&v, buf, sizeof(buf)), -EINVAL);
        v.custom.pro.count = 11;
        assert_int_equal(wire_value_encode(&v, buf, sizeof(buf)), -EINVAL);
        v.custom.pro.count = 1;
        v.custom.pro.band[0] = (struct eq_band) { BAND_PEAK, 1000, 0, 70 };
        assert_int_equal(wire_value_encode(&v, buf, sizeof(buf)), 10);
        v.custom.pro.band[0].freq_hz = 20001;
        assert_int_equal(wire_value_encode(&v, buf, sizeof(buf)), -EINVAL);

        value_init(&v, KEY_EQ_ACTIVE, FAMILY_STANDARD);
        v.active.preset = 4;
        assert_int_equal(wire_value_encode(&v, buf, sizeof(buf)), -EINVAL);
        v.active.preset = PRESET_TREBLE;
        v.active.eq.std.gain[0] = 100;                                  /* not custom: ignored */
        assert_int_equal(wire_value_encode(&v, buf, sizeof(buf)), 1);
        assert_int_equal(buf[0], PRESET_TREBLE);
        v.active.preset = PRESET_CUSTOM;
        assert_int_equal(wire_value_encode(&v, buf, sizeof(buf)), -EINVAL);
        v.active.eq.std.gain[0] = -24;
        assert_int_equal(wire_value_encode(&v, buf, sizeof(buf)), 6);
        assert_int_equal(wire_value_encode(&v, buf, 5), -ENOBUFS);

        /* records: the value, the flags */
        r.value = v;
        assert_int_equal(wire_record_encode(&r, buf, sizeof(buf)), 32);
        assert_int_equal(wire_record_encode(&r, buf, 31), -ENOBUFS);
        assert_int_equal(wire_record_encode(&r, buf, 0), -ENOBUFS);
        r.flags = 0x04;
        assert_int_equal(wire_record_encode(&r, buf, sizeof(buf)), -EINVAL);
        assert_int_equal(wire_record_encode(&r, buf, 0), -EINVAL);
        r.flags = RECORD_DIRTY | RECORD_DERIVED;
        assert_int_equal(wire_record_encode(&r, buf, sizeof(buf)), 32);
        r.value.family = FAMILY_ANY;
        assert_int_equal(wire_record_encode(&r, buf, sizeof(buf)), -EINVAL);
        assert_int_equal(wire_record_encode(NULL, buf, sizeof(buf)), -EINVAL);
}

static void test_record_encode_bytes(void **state) {
        static const uint8_t expected[] = {
                0x01, 0x02, 0x02, 0x02,
                0x78, 0x56, 0x34, 0x12,
                0x01, 0x00, 0xef, 0xcd, 0xab, 0x89, 0x67, 0x45,
                0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                0x11, 0x00,
                0xfb, 0xff, 0x02,                               /* preamp -5, 2 bands */
                0x01, 0x64, 0x00, 0x3c, 0x00, 0x46, 0x00,       /* low_shelf 100 Hz +6 dB q 0.7 */
                0x02, 0x10, 0x27, 0xd8, 0xff, 0x64, 0x00,       /* high_shelf 10 kHz -4 dB q 1 */
        };
        uint8_t buf[WIRE_RECORD_MAX];
        struct record r = {
                .stamp = { .hlc = stamp_pack(0x456789abcdefull, 1), .origin = UINT64_MAX - 1 },
                .flags = RECORD_DERIVED,
                .revision = 0x12345678,
        };

        (void) state;
        value_init(&r.value, KEY_EQ_CUSTOM, FAMILY_PRO);
        r.value.custom.pro.preamp = -5;
        r.value.custom.pro.count = 2;
        r.value.custom.pro.band[0] = (struct eq_band) { BAND_LOW_SHELF, 100, 60, 70 };
        r.value.custom.pro.band[1] = (struct eq_band) { BAND_HIGH_SHELF, 10000, -40, 100 };
        assert_int_equal(wire_record_encode(&r, buf, sizeof(buf)), sizeof(expected));
        assert_memory_equal(buf, expected, sizeof(expected));
        ROUNDTRIP(expected, sizeof(expected));
}

/* decode(encode(x)) == x for pseudo-random valid values of every kind */
static uint32_t rnd(uint32_t *s) {
        *s = *s * 1664525u + 1013904223u;
        return *s >> 8;
}

static long rnd_in(uint32_t *s, long min, long max) {
        return min + (long) (rnd(s) % (uint32_t) (max - min + 1));
}

static void random_eq(uint32_t *s, enum family f, union eq_params *eq) {
        if (f == FAMILY_STANDARD) {
                for (unsigned i = 0; i < STD_BANDS; i++)
                        eq->std.gain[i] = (int8_t) rnd_in(s, STD_GAIN_MIN, STD_GAIN_MAX);
                return;
        }
        eq->pro.preamp = (int16_t) rnd_in(s, PRO_PREAMP_MIN, PRO_PREAMP_MAX);
        eq->pro.count = (uint8_t) rnd_in(s, 1, PRO_BANDS_MAX);
        for (unsigned i = 0; i < eq->pro.count; i++)
                eq->pro.band[i] = (struct eq_band) {
                        .type = (uint8_t) rnd_in(s, 0, 2),
                        .freq_hz = (uint16_t) rnd_in(s, PRO_FREQ_MIN, PRO_FREQ_MAX),
                        .gain = (int16_t) rnd_in(s, PRO_GAIN_MIN, PRO_GAIN_MAX),
                        .q100 = (uint16_t) rnd_in(s, PRO_Q_MIN, PRO_Q_MAX),
                };
}

static void random_profile(uint32_t *s, struct profile *p) {
        p->hearing_enabled = rnd(s) & 1;
        for (unsigned i = 0; i < PROFILE_BANDS; i++) {
                p->left[i] = (int8_t) rnd_in(s, PROFILE_GAIN_MIN, PROFILE_GAIN_MAX);
                p->right[i] = (int8_t) rnd_in(s, PROFILE_GAIN_MIN, PROFILE_GAIN_MAX);
        }
        p->noise_control = (uint8_t) rnd_in(s, 0, 2);
        p->ambient_level = (uint8_t) rnd_in(s, 0, AMBIENT_LEVEL_MAX);
        p->touch_left = (uint8_t) rnd_in(s, 0, 5);
        p->touch_right = (uint8_t) rnd_in(s, 0, 5);
        p->name_len = (uint8_t) rnd_in(s, 0, PROFILE_NAME_MAX);
        for (unsigned i = 0; i < p->name_len; i++)
                p->name[i] = (char) rnd_in(s, 0x20, 0x7e);
}

static void random_record(uint32_t *s, struct record *r) {
        enum key k = (enum key) rnd_in(s, KEY_MIN, KEY_MAX);
        enum family f = k == KEY_PROFILE ? FAMILY_ANY : (enum family) rnd_in(s, FAMILY_STANDARD, FAMILY_PRO);

        value_init(&r->value, k, f);
        if (k == KEY_PROFILE)
                random_profile(s, &r->value.profile);
        else if (k == KEY_EQ_CUSTOM)
                random_eq(s, f, &r->value.custom);
        else {
                const uint8_t presets[] = { 0, 1, 2, 3, PRESET_CUSTOM, PRESET_CUSTOM };

                r->value.active.preset = presets[rnd(s) % ELEMENTSOF(presets)];
                if (r->value.active.preset == PRESET_CUSTOM)
                        random_eq(s, f, &r->value.active.eq);
        }
        r->flags = (uint8_t) rnd_in(s, 0, 3);
        r->revision = rnd(s) ^ rnd(s) << 16;
        r->stamp.hlc = (uint64_t) rnd(s) << 40 ^ (uint64_t) rnd(s) << 16 ^ rnd(s);
        r->stamp.origin = (uint64_t) rnd(s) << 40 ^ (uint64_t) rnd(s) << 16 ^ rnd(s);
}

static void test_random_roundtrip(void **state) {
        uint8_t buf[WIRE_RECORD_MAX];
        uint32_t seed = 12345;
        struct record r, back;

        (void) state;
        for (unsigned i = 0; i < 20000; i++) {
                int n;

                random_record(&seed, &r);
                assert_int_equal(value_check(&r.value, NULL), 0);
                n = wire_record_encode(&r, buf, sizeof(buf));
                assert_true(n >= WIRE_RECORD_HEADER_SIZE && n <= WIRE_RECORD_MAX);
                assert_int_equal(wire_record_decode(buf, (size_t) n, &back, NULL), 0);
                assert_true(value_equal(&r.value, &back.value));
                assert_true(stamp_eq(r.stamp, back.stamp));
                assert_int_equal(r.flags, back.flags);
                assert_int_equal(r.revision, back.revision);
                ROUNDTRIP(buf, (size_t) n);
        }
}

/* Every one-byte change of every valid record: accepted and re-encoded to the
 * same bytes, or rejected with -EMSGSIZE / -EINVAL, a message, ret untouched. */
static void test_mutations(void **state) {
        const uint8_t values[] = { 0x00, 0x01, 0x02, 0x03, 0x04, 0x0a, 0x0b, 0x18, 0x19, 0x20, 0x21,
                                   0x7f, 0x80, 0xe7, 0xe8, 0xfe, 0xff };
        uint8_t rec[WIRE_RECORD_MAX], out[WIRE_RECORD_MAX];

        (void) state;
        for (unsigned i = 0; i < ELEMENTSOF(valid_records); i++)
                for (size_t pos = 0; pos < valid_records[i].len; pos++)
                        for (unsigned j = 0; j < ELEMENTSOF(values); j++) {
                                struct value_err e = { { 0 } };
                                size_t len = valid_records[i].len;
                                struct record r;
                                int got;

                                memcpy(rec, valid_records[i].buf, len);
                                rec[pos] = values[j];
                                got = wire_record_decode(rec, len, &r, &e);
                                if (got == 0) {
                                        assert_int_equal(value_check(&r.value, NULL), 0);
                                        assert_int_equal(wire_record_encode(&r, out, sizeof(out)), (int) len);
                                        assert_memory_equal(out, rec, len);
                                        continue;
                                }
                                if (got != -EMSGSIZE && got != -EINVAL)
                                        fail_msg("%s[%zu] = 0x%02x: %d", valid_records[i].name, pos, values[j], got);
                                assert_true(e.msg[0] != '\0');
                                /* the payload length field is the only header byte that can shift lengths */
                                if (pos < WIRE_RECORD_HEADER_SIZE && pos != 24 && pos != 25 &&
                                    pos != 1 && pos != 2)
                                        assert_int_equal(got, -EINVAL);
                        }
}

/* Buds Info */

static const uint8_t info_standard[] = {
        0x01, 0x01,                                     /* protocol 1, standard */
        0xef, 0xcd, 0xab, 0x89, 0x67, 0x45, 0x23, 0x01, /* buds id 0x0123456789abcdef */
        0x00,
};

static const uint8_t info_pro[] = {
        0x01, 0x02,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0x00,
};

#define EXPECT_INFO(buf, len, code, msg) do {                                           \
                struct value_err _e = { { 0 } };                                        \
                struct buds_info _bi;                                                   \
                memset(&_bi, 0x5a, sizeof(_bi));                                        \
                check_err(__LINE__, wire_buds_info_decode(buf, len, &_bi, &_e), code, &_e, msg); \
                if ((code) < 0)                                                         \
                        assert_int_equal(_bi.protocol, 0x5a);                           \
        } while (0)

static void test_buds_info(void **state) {
        uint8_t out[WIRE_BUDS_INFO_SIZE];
        struct buds_info bi;

        (void) state;
        assert_int_equal(wire_buds_info_decode(info_standard, sizeof(info_standard), &bi, NULL), 0);
        assert_int_equal(bi.protocol, 1);
        assert_int_equal(bi.family, FAMILY_STANDARD);
        assert_true(bi.buds_id == 0x0123456789abcdefull);
        assert_int_equal(bi.features, 0);
        assert_int_equal(wire_buds_info_encode(&bi, out), WIRE_BUDS_INFO_SIZE);
        assert_memory_equal(out, info_standard, sizeof(out));

        assert_int_equal(wire_buds_info_decode(info_pro, sizeof(info_pro), &bi, NULL), 0);
        assert_int_equal(bi.family, FAMILY_PRO);
        assert_true(bi.buds_id == UINT64_MAX);
        assert_int_equal(wire_buds_info_encode(&bi, out), WIRE_BUDS_INFO_SIZE);
        assert_memory_equal(out, info_pro, sizeof(out));

        bi.protocol = 2;
        assert_int_equal(wire_buds_info_encode(&bi, out), -EINVAL);
        bi.protocol = 1;
        bi.family = FAMILY_ANY;
        assert_int_equal(wire_buds_info_encode(&bi, out), -EINVAL);
        bi.family = 3;
        assert_int_equal(wire_buds_info_encode(&bi, out), -EINVAL);
        bi.family = FAMILY_PRO;
        bi.features = 1;
        assert_int_equal(wire_buds_info_encode(&bi, out), -EINVAL);
        assert_int_equal(wire_buds_info_encode(NULL, out), -EINVAL);
}

static void test_buds_info_bad(void **state) {
        uint8_t b[WIRE_BUDS_INFO_SIZE + 1];

        (void) state;
        for (size_t n = 0; n < sizeof(info_pro); n++)
                EXPECT_INFO(info_pro, n, -EMSGSIZE, NULL);
        EXPECT_INFO(info_pro, 10, -EMSGSIZE, "buds_info.length: 10 bytes but it needs 11");
        EXPECT_INFO(NULL, 0, -EMSGSIZE, "buds_info.length: 0 bytes but it needs 11");
        memcpy(b, info_pro, sizeof(info_pro));
        b[11] = 0;
        EXPECT_INFO(b, 12, -EMSGSIZE, "buds_info.length: 12 bytes but it needs 11");
        b[0] = 2;                                       /* a bad protocol does not change that */
        EXPECT_INFO(b, 12, -EMSGSIZE, "buds_info.length: 12 bytes but it needs 11");

        EXPECT_INFO(b, 11, -EINVAL, "buds_info.protocol: 2 is not 1");
        b[0] = 0;
        EXPECT_INFO(b, 11, -EINVAL, "buds_info.protocol: 0 is not 1");
        b[0] = 0xff;
        EXPECT_INFO(b, 11, -EINVAL, "buds_info.protocol: 255 is not 1");
        b[0] = 1;
        b[1] = 0;
        EXPECT_INFO(b, 11, -EINVAL, "buds_info.family: 0 is not standard or pro");
        b[1] = 3;
        EXPECT_INFO(b, 11, -EINVAL, "buds_info.family: 3 is not standard or pro");
        b[1] = 0xff;
        EXPECT_INFO(b, 11, -EINVAL, "buds_info.family: 255 is not standard or pro");
        b[1] = 1;
        for (unsigned f = 1; f <= 255; f++) {
                char msg[64];

                b[10] = (uint8_t) f;
                (void) snprintf(msg, sizeof(msg), "buds_info.features: 0x%02x is reserved", f);
                EXPECT_INFO(b, 11, -EINVAL, msg);
        }
        b[10] = 0x01;
        EXPECT_INFO(b, 11, -EINVAL, "buds_info.features: 0x01 is reserved");
        b[10] = 0;
        EXPECT_INFO(b, 11, 0, NULL);
}

/* Manifest */

static const uint8_t manifest_empty[] = { 0x01, 0x02, 0x00, 0x00 };

static const uint8_t manifest_one[] = {
        0x01, 0x01, 0x01, 0x00,                         /* version 1, standard, 1 entry */
        0x02, 0x01,                                     /* eq.custom, DIRTY */
        0x09, 0x00, 0x00, 0x00,                         /* revision 9 */
        0x05, 0x00, 0x10, 0x4a, 0x5e, 0x2d, 0x8c, 0x01, /* hlc */
        0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, /* origin */
};

static const uint8_t manifest_three[] = {
        0x01, 0x02, 0x03, 0x00,                         /* pro, 3 entries */
        0x03, 0x02,                                     /* eq.active, DERIVED */
        0x01, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x01, 0x03,                                     /* profile, DIRTY | DERIVED */
        0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0x02, 0x00,                                     /* eq.custom */
        0x04, 0x03, 0x02, 0x01,
        0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,
        0x10, 0x0f, 0x0e, 0x0d, 0x0c, 0x0b, 0x0a, 0x09,
};

#define EXPECT_MANIFEST(buf, len, code, msg) expect_manifest(__LINE__, buf, len, code, msg)
static void expect_manifest(int line, const uint8_t *buf, size_t len, int code, const char *msg) {
        uint8_t out[WIRE_MANIFEST_MAX];
        struct value_err e = { { 0 } };
        struct manifest m, before;

        memset(&m, 0x5a, sizeof(m));
        memcpy(&before, &m, sizeof(m));
        check_err(line, wire_manifest_decode(buf, len, &m, &e), code, &e, msg);
        if (code < 0) {
                if (memcmp(&m, &before, sizeof(m)) != 0)
                        fail_msg("line %d: ret written although rejected", line);
                return;
        }
        assert_int_equal(wire_manifest_encode(&m, out, sizeof(out)), (int) len);
        assert_memory_equal(out, buf, len);
        assert_int_equal(wire_manifest_encode(&m, out, len), (int) len);
        assert_int_equal(wire_manifest_encode(&m, out, len - 1), -ENOBUFS);
}

static void test_manifest(void **state) {
        struct manifest m;

        (void) state;
        EXPECT_MANIFEST(manifest_empty, sizeof(manifest_empty), 0, NULL);
        EXPECT_MANIFEST(manifest_one, sizeof(manifest_one), 0, NULL);
        EXPECT_MANIFEST(manifest_three, sizeof(manifest_three), 0, NULL);
        assert_int_equal(sizeof(manifest_three), WIRE_MANIFEST_MAX);

        assert_int_equal(wire_manifest_decode(manifest_empty, sizeof(manifest_empty), &m, NULL), 0);
        assert_int_equal(m.family, FAMILY_PRO);
        assert_int_equal(m.count, 0);

        assert_int_equal(wire_manifest_decode(manifest_one, sizeof(manifest_one), &m, NULL), 0);
        assert_int_equal(m.family, FAMILY_STANDARD);
        assert_int_equal(m.count, 1);
        assert_int_equal(m.entry[0].key, KEY_EQ_CUSTOM);
        assert_int_equal(m.entry[0].flags, RECORD_DIRTY);
        assert_int_equal(m.entry[0].revision, 9);
        assert_true(m.entry[0].stamp.hlc == 0x018c2d5e4a100005ull);
        assert_true(m.entry[0].stamp.origin == 0x1122334455667788ull);
        assert_int_equal(m.entry[1].key, 0);                           /* unused entries zero */

        assert_int_equal(wire_manifest_decode(manifest_three, sizeof(manifest_three), &m, NULL), 0);
        assert_int_equal(m.count, 3);
        assert_int_equal(m.entry[0].key, KEY_EQ_ACTIVE);
        assert_int_equal(m.entry[0].flags, RECORD_DERIVED);
        assert_true(stamp_is_factory(m.entry[0].stamp));
        assert_int_equal(m.entry[1].key, KEY_PROFILE);
        assert_true(m.entry[1].revision == 0xffffffffu);
        assert_int_equal(m.entry[2].key, KEY_EQ_CUSTOM);
        assert_true(m.entry[2].revision == 0x01020304u);
        assert_true(m.entry[2].stamp.hlc == 0x0102030405060708ull);
        assert_true(m.entry[2].stamp.origin == 0x090a0b0c0d0e0f10ull);

        /* every order of the three keys, every flag */
        const uint8_t orders[6][3] = { { 1, 2, 3 }, { 1, 3, 2 }, { 2, 1, 3 }, { 2, 3, 1 }, { 3, 1, 2 }, { 3, 2, 1 } };
        uint8_t b[WIRE_MANIFEST_MAX];
        for (unsigned o = 0; o < 6; o++)
                for (unsigned f = 0; f <= 3; f++) {
                        memcpy(b, manifest_three, sizeof(b));
                        for (unsigned i = 0; i < 3; i++) {
                                b[4 + 22 * i] = orders[o][i];
                                b[5 + 22 * i] = (uint8_t) f;
                        }
                        EXPECT_MANIFEST(b, sizeof(b), 0, NULL);
                }
}

static void test_manifest_lengths(void **state) {
        uint8_t b[WIRE_MANIFEST_MAX + 22 + 1];

        (void) state;
        for (size_t n = 0; n < WIRE_MANIFEST_HEADER_SIZE; n++)
                EXPECT_MANIFEST(manifest_three, n, -EMSGSIZE, NULL);
        EXPECT_MANIFEST(manifest_three, 3, -EMSGSIZE, "manifest.length: 3 bytes but the header needs 4");
        EXPECT_MANIFEST(NULL, 0, -EMSGSIZE, "manifest.length: 0 bytes but the header needs 4");
        for (size_t n = WIRE_MANIFEST_HEADER_SIZE; n < sizeof(manifest_three); n++)
                EXPECT_MANIFEST(manifest_three, n, -EMSGSIZE, NULL);
        EXPECT_MANIFEST(manifest_three, 4, -EMSGSIZE, "manifest.length: 4 bytes but count 3 needs 70");
        EXPECT_MANIFEST(manifest_three, 69, -EMSGSIZE, "manifest.length: 69 bytes but count 3 needs 70");
        EXPECT_MANIFEST(manifest_one, 25, -EMSGSIZE, "manifest.length: 25 bytes but count 1 needs 26");

        memset(b, 0, sizeof(b));
        memcpy(b, manifest_one, sizeof(manifest_one));
        EXPECT_MANIFEST(b, 27, -EMSGSIZE, "manifest.length: 27 bytes but count 1 needs 26");
        EXPECT_MANIFEST(b, 48, -EMSGSIZE, "manifest.length: 48 bytes but count 1 needs 26");
        memcpy(b, manifest_empty, sizeof(manifest_empty));
        EXPECT_MANIFEST(b, 5, -EMSGSIZE, "manifest.length: 5 bytes but count 0 needs 4");

        /* a count out of range is -EINVAL whatever the length */
        for (unsigned c = 4; c <= 255; c++) {
                b[2] = (uint8_t) c;
                EXPECT_MANIFEST(b, 4, -EINVAL, NULL);
                EXPECT_MANIFEST(b, 4 + 22 * 4, -EINVAL, NULL);
        }
        b[2] = 4;
        EXPECT_MANIFEST(b, 4 + 22 * 4, -EINVAL, "manifest.count: 4 is outside 0..3");
        b[2] = 255;
        EXPECT_MANIFEST(b, 4, -EINVAL, "manifest.count: 255 is outside 0..3");
}

static void test_manifest_bad_fields(void **state) {
        uint8_t b[WIRE_MANIFEST_MAX];

        (void) state;
        memcpy(b, manifest_three, sizeof(b));
        b[0] = 2;
        EXPECT_MANIFEST(b, sizeof(b), -EINVAL, "manifest.version: 2 is not 1");
        EXPECT_MANIFEST(b, sizeof(b) - 1, -EMSGSIZE, NULL);     /* the length first */
        b[0] = 0;
        EXPECT_MANIFEST(b, sizeof(b), -EINVAL, "manifest.version: 0 is not 1");
        b[0] = 1;
        b[1] = 0;
        EXPECT_MANIFEST(b, sizeof(b), -EINVAL, "manifest.family: 0 is not standard or pro");
        b[1] = 3;
        EXPECT_MANIFEST(b, sizeof(b), -EINVAL, "manifest.family: 3 is not standard or pro");
        b[1] = 2;
        for (unsigned r = 1; r <= 255; r++) {
                b[3] = (uint8_t) r;
                EXPECT_MANIFEST(b, sizeof(b), -EINVAL, NULL);
        }
        b[3] = 0x01;
        EXPECT_MANIFEST(b, sizeof(b), -EINVAL, "manifest.reserved: 0x01 is reserved");
        b[3] = 0;

        b[4 + 22] = 0;
        EXPECT_MANIFEST(b, sizeof(b), -EINVAL, "manifest.entry[1].key: 0 is not profile, eq.custom or eq.active");
        b[4 + 22] = 4;
        EXPECT_MANIFEST(b, sizeof(b), -EINVAL, "manifest.entry[1].key: 4 is not profile, eq.custom or eq.active");
        b[4 + 22] = KEY_EQ_ACTIVE;
        EXPECT_MANIFEST(b, sizeof(b), -EINVAL, "manifest.entry[1].key: eq.active appears twice");
        b[4 + 22] = KEY_EQ_CUSTOM;
        EXPECT_MANIFEST(b, sizeof(b), -EINVAL, "manifest.entry[2].key: eq.custom appears twice");
        b[4 + 22] = KEY_PROFILE;
        EXPECT_MANIFEST(b, sizeof(b), 0, NULL);
        for (unsigned i = 0; i < 3; i++)
                for (unsigned f = 4; f <= 255; f++) {
                        b[5 + 22 * i] = (uint8_t) f;
                        EXPECT_MANIFEST(b, sizeof(b), -EINVAL, NULL);
                        b[5 + 22 * i] = 0;
                }
        b[5] = 0x04;
        EXPECT_MANIFEST(b, sizeof(b), -EINVAL, "manifest.entry[0].flags: 0x04 is reserved");
        b[5] = 0;
        b[5 + 44] = 0xff;
        EXPECT_MANIFEST(b, sizeof(b), -EINVAL, "manifest.entry[2].flags: 0xfc is reserved");
}

static void test_manifest_encode_invalid(void **state) {
        uint8_t out[WIRE_MANIFEST_MAX];
        struct manifest m = {
                .family = FAMILY_PRO,
                .count = 2,
                .entry = { { .key = KEY_PROFILE }, { .key = KEY_EQ_ACTIVE, .flags = RECORD_DIRTY } },
        };

        (void) state;
        assert_int_equal(wire_manifest_encode(&m, out, sizeof(out)), 48);
        assert_int_equal(wire_manifest_encode(&m, out, 47), -ENOBUFS);
        m.entry[1].key = KEY_PROFILE;
        assert_int_equal(wire_manifest_encode(&m, out, sizeof(out)), -EINVAL);
        assert_int_equal(wire_manifest_encode(&m, out, 0), -EINVAL);
        m.entry[1].key = 0;
        assert_int_equal(wire_manifest_encode(&m, out, sizeof(out)), -EINVAL);
        m.entry[1].key = 4;
        assert_int_equal(wire_manifest_encode(&m, out, sizeof(out)), -EINVAL);
        m.entry[1].key = KEY_EQ_CUSTOM;
        m.entry[1].flags = 0x04;
        assert_int_equal(wire_manifest_encode(&m, out, sizeof(out)), -EINVAL);
        m.entry[1].flags = 0;
        m.family = FAMILY_ANY;
        assert_int_equal(wire_manifest_encode(&m, out, sizeof(out)), -EINVAL);
        m.family = FAMILY_STANDARD;
        m.count = 4;
        assert_int_equal(wire_manifest_encode(&m, out, sizeof(out)), -EINVAL);
        m.count = 0;
        assert_int_equal(wire_manifest_encode(&m, out, sizeof(out)), 4);
        assert_int_equal(wire_manifest_encode(&m, out, 3), -ENOBUFS);
        assert_int_equal(wire_manifest_encode(NULL, out, sizeof(out)), -EINVAL);
}

/* Manifest notification */

#define EXPECT_NOTIFY(buf, len, code, msg) do {                                         \
                struct value_err _e = { { 0 } };                                        \
                struct manifest_notify _n;                                              \
                memset(&_n, 0x5a, sizeof(_n));                                          \
                check_err(__LINE__, wire_notify_decode(buf, len, &_n, &_e), code, &_e, msg); \
                if ((code) < 0)                                                         \
                        assert_int_equal(_n.key, 0x5a);                                 \
        } while (0)

static void test_notify(void **state) {
        static const uint8_t n1[] = { 0x03, 0x01, 0x2a, 0x00, 0x00, 0x00 };   /* eq.active, DIRTY, 42 */
        uint8_t b[WIRE_NOTIFY_SIZE + 1], out[WIRE_NOTIFY_SIZE];
        struct manifest_notify n;

        (void) state;
        assert_int_equal(wire_notify_decode(n1, sizeof(n1), &n, NULL), 0);
        assert_int_equal(n.key, KEY_EQ_ACTIVE);
        assert_int_equal(n.flags, RECORD_DIRTY);
        assert_int_equal(n.revision, 42);
        assert_int_equal(wire_notify_encode(&n, out), WIRE_NOTIFY_SIZE);
        assert_memory_equal(out, n1, sizeof(n1));

        for (unsigned k = KEY_MIN; k <= KEY_MAX; k++)
                for (unsigned f = 0; f <= 3; f++) {
                        const uint8_t v[] = { (uint8_t) k, (uint8_t) f, 0x78, 0x56, 0x34, 0x12 };

                        assert_int_equal(wire_notify_decode(v, sizeof(v), &n, NULL), 0);
                        assert_true(n.revision == 0x12345678u);
                        assert_int_equal(wire_notify_encode(&n, out), WIRE_NOTIFY_SIZE);
                        assert_memory_equal(out, v, sizeof(v));
                }

        for (size_t len = 0; len < WIRE_NOTIFY_SIZE; len++)
                EXPECT_NOTIFY(n1, len, -EMSGSIZE, NULL);
        EXPECT_NOTIFY(n1, 5, -EMSGSIZE, "notify.length: 5 bytes but it needs 6");
        EXPECT_NOTIFY(NULL, 0, -EMSGSIZE, "notify.length: 0 bytes but it needs 6");
        memcpy(b, n1, sizeof(n1));
        b[6] = 0;
        EXPECT_NOTIFY(b, 7, -EMSGSIZE, "notify.length: 7 bytes but it needs 6");
        b[0] = 0;
        EXPECT_NOTIFY(b, 7, -EMSGSIZE, NULL);
        EXPECT_NOTIFY(b, 6, -EINVAL, "notify.key: 0 is not profile, eq.custom or eq.active");
        b[0] = 4;
        EXPECT_NOTIFY(b, 6, -EINVAL, "notify.key: 4 is not profile, eq.custom or eq.active");
        b[0] = 0xff;
        EXPECT_NOTIFY(b, 6, -EINVAL, "notify.key: 255 is not profile, eq.custom or eq.active");
        b[0] = 1;
        for (unsigned f = 4; f <= 255; f++) {
                b[1] = (uint8_t) f;
                EXPECT_NOTIFY(b, 6, -EINVAL, NULL);
        }
        b[1] = 0x08;
        EXPECT_NOTIFY(b, 6, -EINVAL, "notify.flags: 0x08 is reserved");

        n = (struct manifest_notify) { .key = 0 };
        assert_int_equal(wire_notify_encode(&n, out), -EINVAL);
        n.key = 4;
        assert_int_equal(wire_notify_encode(&n, out), -EINVAL);
        n.key = KEY_PROFILE;
        n.flags = 4;
        assert_int_equal(wire_notify_encode(&n, out), -EINVAL);
        n.flags = 3;
        assert_int_equal(wire_notify_encode(&n, out), WIRE_NOTIFY_SIZE);
        assert_int_equal(wire_notify_encode(NULL, out), -EINVAL);
}

/* Messages keep a caller's earlier message (value_errf) and fit the buffer. */
static void test_messages(void **state) {
        struct value_err e = { { 0 } };
        uint8_t p[sizeof(pay_pro_10)];
        struct record r;
        uint8_t rec[WIRE_RECORD_MAX];

        (void) state;
        memcpy(p, pay_pro_10, sizeof(p));
        p[3 + 7 * 2 + 5] = 0xe9;                        /* q 1001 */
        p[3 + 7 * 2 + 6] = 0x03;
        assert_int_equal(wire_record_decode(rec, mkrec(rec, KEY_EQ_CUSTOM, FAMILY_PRO, 0, p, sizeof(p)), &r, &e),
                         -EINVAL);
        assert_string_equal(e.msg, "payload.bands[2].q: 1001 is outside 10..1000");
        assert_true(strlen(e.msg) < VALUE_ERR_MAX);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_uuids),
                cmocka_unit_test(test_record_profile),
                cmocka_unit_test(test_record_profile_edges),
                cmocka_unit_test(test_record_profile_enums),
                cmocka_unit_test(test_record_custom),
                cmocka_unit_test(test_record_pro_counts),
                cmocka_unit_test(test_record_active),
                cmocka_unit_test(test_record_flags),
                cmocka_unit_test(test_record_short),
                cmocka_unit_test(test_record_payload_length),
                cmocka_unit_test(test_record_version),
                cmocka_unit_test(test_record_key),
                cmocka_unit_test(test_record_family),
                cmocka_unit_test(test_record_reserved_flags),
                cmocka_unit_test(test_record_check_order),
                cmocka_unit_test(test_profile_bad_fields),
                cmocka_unit_test(test_profile_name),
                cmocka_unit_test(test_profile_lengths),
                cmocka_unit_test(test_standard_bad),
                cmocka_unit_test(test_pro_bad_fields),
                cmocka_unit_test(test_pro_lengths),
                cmocka_unit_test(test_active_bad),
                cmocka_unit_test(test_value_decode_key_family),
                cmocka_unit_test(test_value_encode_invalid),
                cmocka_unit_test(test_record_encode_bytes),
                cmocka_unit_test(test_random_roundtrip),
                cmocka_unit_test(test_mutations),
                cmocka_unit_test(test_buds_info),
                cmocka_unit_test(test_buds_info_bad),
                cmocka_unit_test(test_manifest),
                cmocka_unit_test(test_manifest_lengths),
                cmocka_unit_test(test_manifest_bad_fields),
                cmocka_unit_test(test_manifest_encode_invalid),
                cmocka_unit_test(test_notify),
                cmocka_unit_test(test_messages),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
