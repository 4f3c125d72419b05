/* SPDX-License-Identifier: MIT */
/* Unit tests of policy/eqconv.c: single-band responses against values worked
 * out by hand from the RBJ cookbook (direct complex evaluation of H(e^jw)),
 * rounding and clamping, the standard → pro → standard round trip on a large
 * deterministic sample (tests/bench/bench-eqconv --exhaustive covers all 49^5),
 * eqconv_value(), and every case of docs/vectors/conversion.json, read from the
 * repository top where the tests run. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "policy/eqconv.h"
#include "policy/value.h"
#include "tests/lib/vectors.h"

#define VECTORS "docs/vectors/conversion.json"
#define TOLERANCE_DB 0.05
#define EXACT_DB 1e-11

/* cmocka 1.1.5 (Debian 12) has no assert_double_equal */
#define assert_near(got, want, eps) check_near((got), (want), (eps), #got, __LINE__)

static void check_near(double got, double want, double eps, const char *what, int line) {
        if (!(fabs(got - want) <= eps))
                fail_msg("line %d: %s = %.12g, want %.12g within %g", line, what, got, want, eps);
}

static struct eq_pro one_band(uint8_t type, uint16_t freq_hz, int16_t gain, uint16_t q100) {
        return (struct eq_pro) { .preamp = 0, .count = 1, .band = { { type, freq_hz, gain, q100 } } };
}

static double response(uint8_t type, uint16_t freq_hz, int16_t gain, uint16_t q100, double at_hz) {
        struct eq_pro p = one_band(type, freq_hz, gain, q100);

        return eqconv_pro_response_db(&p, at_hz);
}

static void test_peak(void **state) {
        (void) state;
        /* at its centre a peak is exactly its gain, whatever Q and frequency */
        for (int g = PRO_GAIN_MIN; g <= PRO_GAIN_MAX; g += 15)
                for (unsigned f = PRO_FREQ_MIN; f <= PRO_FREQ_MAX; f = f * 3 + 7)
                        for (unsigned q = PRO_Q_MIN; q <= PRO_Q_MAX; q += 198)
                                assert_near(response(BAND_PEAK, (uint16_t) f, (int16_t) g, (uint16_t) q, f),
                                                    g / 10.0, EXACT_DB);
        assert_near(response(BAND_PEAK, 1000, 60, 100, 2000), 1.8659910369475474, EXACT_DB);
        assert_near(response(BAND_PEAK, 250, -120, 71, 60), -1.6576935103321153, EXACT_DB);
        assert_near(response(BAND_PEAK, 4000, 120, 1000, 5000), 0.6513106463397228, EXACT_DB);
        assert_true(response(BAND_PEAK, 1000, 0, 10, 1000.5) == 0.0);
}

static void test_shelves(void **state) {
        (void) state;
        assert_near(response(BAND_LOW_SHELF, 1000, 60, 71, 20), 6.000018821395326, EXACT_DB);
        assert_near(response(BAND_LOW_SHELF, 1000, 60, 71, 1000), 3.0, EXACT_DB);   /* half the gain at f0 */
        assert_near(response(BAND_LOW_SHELF, 1000, 60, 71, 20000), -1.4735420891857842e-05, EXACT_DB);
        assert_near(response(BAND_HIGH_SHELF, 1000, -90, 100, 20000), -9.001450376823598, EXACT_DB);
        assert_near(response(BAND_HIGH_SHELF, 1000, -90, 100, 20), 0.0018753892387113934, EXACT_DB);
        assert_near(response(BAND_HIGH_SHELF, 1000, -90, 100, 1000), -4.5, EXACT_DB);
        /* far ends: the full gain on the shelf side, nothing on the other */
        assert_near(response(BAND_LOW_SHELF, 2000, -120, 71, 20), -12.0, 1e-3);
        assert_near(response(BAND_LOW_SHELF, 200, 120, 71, 20000), 0.0, 1e-3);
        assert_near(response(BAND_HIGH_SHELF, 200, 120, 71, 20000), 12.0, 1e-3);
        assert_near(response(BAND_HIGH_SHELF, 2000, -120, 71, 20), 0.0, 1e-3);
}

static void test_sum(void **state) {
        struct eq_pro p = { .preamp = -35, .count = PRO_BANDS_MAX };
        double sum = -3.5;

        (void) state;
        for (unsigned i = 0; i < PRO_BANDS_MAX; i++) {
                p.band[i] = (struct eq_band) { (uint8_t) (i % 3), (uint16_t) (50 + 1700 * i), (int16_t) (25 * i - 110),
                                               (uint16_t) (40 + 90 * i) };
                sum += response(p.band[i].type, p.band[i].freq_hz, p.band[i].gain, p.band[i].q100, 777);
        }
        assert_near(eqconv_pro_response_db(&p, 777), sum, EXACT_DB);
        p.count = 1;
        assert_near(eqconv_pro_response_db(&p, 777), -3.5 + response(p.band[0].type, p.band[0].freq_hz,
                            p.band[0].gain, p.band[0].q100, 777), EXACT_DB);
}

static void test_rounding(void **state) {
        (void) state;
        assert_int_equal(eqconv_std_gain_from_db(0.0), 0);
        assert_int_equal(eqconv_std_gain_from_db(0.2499), 0);
        assert_int_equal(eqconv_std_gain_from_db(0.25), 1);            /* halves away from zero */
        assert_int_equal(eqconv_std_gain_from_db(-0.25), -1);
        assert_int_equal(eqconv_std_gain_from_db(0.75), 2);
        assert_int_equal(eqconv_std_gain_from_db(-0.75), -2);
        assert_int_equal(eqconv_std_gain_from_db(0.25 - 1e-11), 1);    /* floating noise below a half */
        assert_int_equal(eqconv_std_gain_from_db(-0.75 + 1e-11), -2);
        assert_int_equal(eqconv_std_gain_from_db(0.2499995), 0);       /* beyond the snap: a real difference */
        assert_int_equal(eqconv_std_gain_from_db(-0.2499995), 0);
        assert_int_equal(eqconv_std_gain_from_db(5.74), 11);
        assert_int_equal(eqconv_std_gain_from_db(-5.76), -12);
        assert_int_equal(eqconv_std_gain_from_db(11.75), 24);
        assert_int_equal(eqconv_std_gain_from_db(12.3), 24);           /* clamped */
        assert_int_equal(eqconv_std_gain_from_db(-23.9), -24);
        assert_int_equal(eqconv_std_gain_from_db(INFINITY), 24);
        assert_int_equal(eqconv_std_gain_from_db(-INFINITY), -24);
        assert_int_equal(eqconv_std_gain_from_db(NAN), 0);
}

static void test_pro_to_standard(void **state) {
        struct eq_pro p = one_band(BAND_PEAK, 1000, 120, 100);
        struct eq_standard s;

        (void) state;
        p.count = 2;
        p.band[1] = p.band[0];          /* +24 dB at 1 kHz */
        eqconv_pro_to_standard(&p, &s);
        assert_int_equal(s.gain[2], 24);
        p = one_band(BAND_LOW_SHELF, 1000, -120, 71);
        p.preamp = -120;                /* -24 dB below 1 kHz, -12 above */
        eqconv_pro_to_standard(&p, &s);
        assert_memory_equal(s.gain, ((int8_t[]) { -24, -24, -24, -24, -24 }), STD_BANDS);
        p = one_band(BAND_PEAK, 1000, -60, 100);
        p.preamp = -3;                  /* -6.3 dB → -6.5 */
        eqconv_pro_to_standard(&p, &s);
        assert_int_equal(s.gain[2], -13);
        assert_int_equal(s.gain[4], -1);        /* the preamp counts everywhere: -0.31 dB */
}

static void test_standard_to_pro(void **state) {
        const struct eq_standard s = { { -24, -1, 0, 7, 24 } };
        struct value v;

        (void) state;
        value_init(&v, KEY_EQ_CUSTOM, FAMILY_PRO);
        eqconv_standard_to_pro(&s, &v.custom.pro);
        assert_int_equal(value_check(&v, NULL), 0);
        assert_int_equal(v.custom.pro.preamp, 0);
        assert_int_equal(v.custom.pro.count, STD_BANDS);
        for (unsigned i = 0; i < STD_BANDS; i++) {
                assert_int_equal(v.custom.pro.band[i].type, BAND_PEAK);
                assert_int_equal(v.custom.pro.band[i].freq_hz, eqconv_centre_hz[i]);
                assert_int_equal(v.custom.pro.band[i].gain, s.gain[i] * 5);
                assert_int_equal(v.custom.pro.band[i].q100, EQCONV_STD_Q100);
        }
}

struct sample {
        unsigned long checked;
        double worst_db;
};

/* The whole contract of standard → pro for one input. */
static void check_std(const struct eq_standard *s, struct sample *st) {
        struct value v;
        struct eq_standard back;

        value_init(&v, KEY_EQ_CUSTOM, FAMILY_PRO);
        eqconv_standard_to_pro(s, &v.custom.pro);
        if (value_check(&v, NULL) < 0 || v.custom.pro.preamp != 0)
                fail_msg("%d %d %d %d %d: invalid pro output", s->gain[0], s->gain[1], s->gain[2], s->gain[3], s->gain[4]);
        for (unsigned i = 0; i < STD_BANDS; i++) {
                double err = fabs(eqconv_pro_response_db(&v.custom.pro, eqconv_centre_hz[i]) - s->gain[i] / 2.0);
                if (err > TOLERANCE_DB)
                        fail_msg("%d %d %d %d %d: %.4f dB off at %u Hz", s->gain[0], s->gain[1], s->gain[2],
                                 s->gain[3], s->gain[4], err, eqconv_centre_hz[i]);
                st->worst_db = fmax(st->worst_db, err);
        }
        eqconv_pro_to_standard(&v.custom.pro, &back);
        if (memcmp(&back, s, sizeof(back)) != 0)
                fail_msg("%d %d %d %d %d: round trip gives %d %d %d %d %d", s->gain[0], s->gain[1], s->gain[2],
                         s->gain[3], s->gain[4], back.gain[0], back.gain[1], back.gain[2], back.gain[3], back.gain[4]);
        st->checked++;
}

/* Every combination of `values` on the five bands. */
static void check_grid(const int8_t *values, unsigned n, struct sample *st) {
        unsigned long total = (unsigned long) n * n * n * n * n;

        for (unsigned long k = 0; k < total; k++) {
                struct eq_standard s;
                unsigned long r = k;

                for (unsigned i = 0; i < STD_BANDS; i++, r /= n)
                        s.gain[i] = values[r % n];
                check_std(&s, st);
        }
}

static uint64_t xorshift(uint64_t *x) {
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        return *x;
}

static void test_round_trip(void **state) {
        static const int8_t extremes[] = { STD_GAIN_MIN, 0, STD_GAIN_MAX };
        static const int8_t coarse[] = { -24, -18, -12, -6, 0, 6, 12, 18, 24 };
        struct sample st = { 0 };
        uint64_t x = 0x9e3779b97f4a7c15u;

        (void) state;
        for (unsigned i = 0; i < STD_BANDS; i++)
                for (int g = STD_GAIN_MIN; g <= STD_GAIN_MAX; g++) {
                        struct eq_standard s = { { 0 } };
                        s.gain[i] = (int8_t) g;
                        check_std(&s, &st);
                }
        check_grid(extremes, 3, &st);   /* includes every alternation of +-12 dB */
        check_grid(coarse, 9, &st);
        for (unsigned k = 0; k < 200000; k++) {
                struct eq_standard s;
                uint64_t r = xorshift(&x);
                for (unsigned i = 0; i < STD_BANDS; i++, r >>= 8)
                        s.gain[i] = (int8_t) (STD_GAIN_MIN + (int) ((r & 0xff) % 49));
                check_std(&s, &st);
        }
        print_message("round trip: %lu inputs, worst centre error %.6f dB\n", st.checked, st.worst_db);
        assert_true(st.worst_db < 0.0234);
}

static void test_value_custom(void **state) {
        struct value std, pro, back;

        (void) state;
        value_init(&std, KEY_EQ_CUSTOM, FAMILY_STANDARD);
        std.custom.std = (struct eq_standard) { { 3, -24, 24, 0, -7 } };
        assert_int_equal(eqconv_value(&std, FAMILY_PRO, &pro), 1);
        assert_int_equal(pro.key, KEY_EQ_CUSTOM);
        assert_int_equal(pro.family, FAMILY_PRO);
        assert_int_equal(value_check(&pro, NULL), 0);
        assert_int_equal(pro.custom.pro.band[1].gain, -120);
        assert_int_equal(eqconv_value(&pro, FAMILY_STANDARD, &back), 1);
        assert_true(value_equal(&back, &std));
        assert_int_equal(eqconv_value(&std, FAMILY_STANDARD, &back), 0);        /* same family: a copy */
        assert_true(value_equal(&back, &std));
}

static void test_value_active(void **state) {
        struct value a, b, expect;

        (void) state;
        value_init(&a, KEY_EQ_ACTIVE, FAMILY_PRO);
        a.active.preset = PRESET_CUSTOM;
        a.active.eq.pro = one_band(BAND_HIGH_SHELF, 4000, 60, 71);
        assert_int_equal(eqconv_value(&a, FAMILY_STANDARD, &b), 1);
        assert_int_equal(b.family, FAMILY_STANDARD);
        assert_int_equal(b.active.preset, PRESET_CUSTOM);
        assert_int_equal(value_check(&b, NULL), 0);
        assert_memory_equal(b.active.eq.std.gain, ((int8_t[]) { 0, 0, 0, 6, 12 }), STD_BANDS);

        for (unsigned preset = PRESET_FLAT; preset <= PRESET_TREBLE; preset++) {
                a.active.preset = (uint8_t) preset;     /* the custom parameters above are ignored */
                assert_int_equal(eqconv_value(&a, FAMILY_STANDARD, &b), 1);
                value_init(&expect, KEY_EQ_ACTIVE, FAMILY_STANDARD);
                expect.active.preset = (uint8_t) preset;
                assert_true(value_equal(&b, &expect));
                assert_memory_equal(b.active.eq.std.gain, expect.active.eq.std.gain, STD_BANDS); /* none carried */
                assert_int_equal(eqconv_value(&b, FAMILY_PRO, &a), 1);
                assert_int_equal(a.active.preset, preset);
                assert_int_equal(a.active.eq.pro.count, 0);
        }
}

static void test_value_errors(void **state) {
        uint8_t untouched[sizeof(struct value)];
        struct value v, ret;

        (void) state;
        memset(&ret, 0xa5, sizeof(ret));
        memset(untouched, 0xa5, sizeof(untouched));
        value_init(&v, KEY_PROFILE, FAMILY_ANY);
        assert_int_equal(eqconv_value(&v, FAMILY_PRO, &ret), -EINVAL);
        assert_int_equal(eqconv_value(&v, FAMILY_ANY, &ret), -EINVAL);
        value_init(&v, KEY_EQ_CUSTOM, FAMILY_STANDARD);
        assert_int_equal(eqconv_value(&v, FAMILY_ANY, &ret), -EINVAL);
        assert_int_equal(eqconv_value(&v, (enum family) 3, &ret), -EINVAL);
        v.custom.std.gain[2] = 25;
        assert_int_equal(eqconv_value(&v, FAMILY_PRO, &ret), -EINVAL);
        value_init(&v, KEY_EQ_CUSTOM, FAMILY_PRO);      /* zero bands */
        assert_int_equal(eqconv_value(&v, FAMILY_STANDARD, &ret), -EINVAL);
        value_init(&v, KEY_EQ_ACTIVE, FAMILY_PRO);
        v.active.preset = 4;
        assert_int_equal(eqconv_value(&v, FAMILY_STANDARD, &ret), -EINVAL);
        value_init(&v, KEY_EQ_ACTIVE, FAMILY_ANY);
        assert_int_equal(eqconv_value(&v, FAMILY_STANDARD, &ret), -EINVAL);
        value_init(&v, (enum key) 0, FAMILY_STANDARD);
        assert_int_equal(eqconv_value(&v, FAMILY_PRO, &ret), -EINVAL);
        assert_memory_equal(&ret, untouched, sizeof(ret));
}

/* docs/vectors/conversion.json */

/* A number that must be an exact multiple of 1/per units, as an integer. */
static long units(const cJSON *j, double per) {
        double x;

        assert_true(cJSON_IsNumber(j));
        x = j->valuedouble * per;
        assert_near(x, round(x), 1e-6);
        return lround(x);
}

static void parse_standard(const cJSON *j, struct eq_standard *ret) {
        const cJSON *bands = vectors_member(j, "bands_db");

        assert_int_equal(cJSON_GetArraySize(bands), STD_BANDS);
        for (int i = 0; i < STD_BANDS; i++)
                ret->gain[i] = (int8_t) units(cJSON_GetArrayItem(bands, i), 2);
}

static void parse_band(const cJSON *j, struct eq_band *ret) {
        const cJSON *type = vectors_member(j, "type");

        assert_true(cJSON_IsString(type));
        assert_int_equal(band_type_from_name(type->valuestring, &ret->type), 0);
        ret->freq_hz = (uint16_t) units(vectors_member(j, "freq_hz"), 1);
        ret->gain = (int16_t) units(vectors_member(j, "gain_db"), 10);
        ret->q100 = (uint16_t) units(vectors_member(j, "q"), 100);
}

static void parse_pro(const cJSON *j, struct eq_pro *ret) {
        const cJSON *bands = vectors_member(j, "bands");
        struct value v;

        value_init(&v, KEY_EQ_CUSTOM, FAMILY_PRO);
        v.custom.pro.preamp = (int16_t) units(vectors_member(j, "preamp_db"), 10);
        assert_in_range(cJSON_GetArraySize(bands), 1, PRO_BANDS_MAX);
        v.custom.pro.count = (uint8_t) cJSON_GetArraySize(bands);
        for (int i = 0; i < v.custom.pro.count; i++)
                parse_band(cJSON_GetArrayItem(bands, i), &v.custom.pro.band[i]);
        assert_int_equal(value_check(&v, NULL), 0);
        *ret = v.custom.pro;
}

static void check_responses(const cJSON *c, const char *name, const struct eq_pro *p) {
        const cJSON *r = vectors_member(c, "response_db");

        assert_int_equal(cJSON_GetArraySize(r), STD_BANDS);
        for (int i = 0; i < STD_BANDS; i++) {
                double got = eqconv_pro_response_db(p, eqconv_centre_hz[i]);
                double want = cJSON_GetArrayItem(r, i)->valuedouble;
                if (fabs(got - want) > 0.00005 + 1e-9)
                        fail_msg("%s: response at %u Hz is %.6f, vector says %.4f", name, eqconv_centre_hz[i], got, want);
        }
}

static void check_pro_case(const cJSON *c) {
        const char *name = vectors_string(c, "name");
        struct eq_pro p;
        struct eq_standard want, got;

        parse_pro(vectors_member(c, "pro"), &p);
        parse_standard(vectors_member(c, "standard"), &want);
        check_responses(c, name, &p);
        eqconv_pro_to_standard(&p, &got);
        for (int i = 0; i < STD_BANDS; i++)
                if (got.gain[i] != want.gain[i])
                        fail_msg("%s: %u Hz gives %.1f dB, vector says %.1f", name, eqconv_centre_hz[i],
                                 got.gain[i] / 2.0, want.gain[i] / 2.0);
}

static void check_std_case(const cJSON *c) {
        const char *name = vectors_string(c, "name");
        struct value want, got;
        struct eq_standard s, back;

        parse_standard(vectors_member(c, "standard"), &s);
        value_init(&want, KEY_EQ_CUSTOM, FAMILY_PRO);
        value_init(&got, KEY_EQ_CUSTOM, FAMILY_PRO);
        parse_pro(vectors_member(c, "pro"), &want.custom.pro);
        eqconv_standard_to_pro(&s, &got.custom.pro);
        if (!value_equal(&got, &want))
                fail_msg("%s: standard → pro differs from the vector", name);
        check_responses(c, name, &got.custom.pro);
        eqconv_pro_to_standard(&got.custom.pro, &back);
        assert_memory_equal(&back, &s, sizeof(s));
}

static void check_vector_header(const cJSON *root) {
        const cJSON *centres = vectors_member(root, "centres_hz");

        assert_int_equal(units(vectors_member(root, "sample_rate"), 1), EQCONV_SAMPLE_RATE);
        assert_int_equal(units(vectors_member(root, "standard_q"), 100), EQCONV_STD_Q100);
        assert_int_equal(cJSON_GetArraySize(centres), STD_BANDS);
        for (int i = 0; i < STD_BANDS; i++)
                assert_int_equal(units(cJSON_GetArrayItem(centres, i), 1), eqconv_centre_hz[i]);
}

static void test_vectors(void **state) {
        cJSON *root = vectors_load(VECTORS);
        const cJSON *c;
        int n_pro = 0, n_std = 0;

        (void) state;
        check_vector_header(root);
        cJSON_ArrayForEach(c, vectors_member(root, "pro_to_standard")) {
                check_pro_case(c);
                n_pro++;
        }
        cJSON_ArrayForEach(c, vectors_member(root, "standard_to_pro")) {
                check_std_case(c);
                n_std++;
        }
        cJSON_Delete(root);
        assert_true(n_pro >= 25);
        assert_true(n_std >= 15);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_peak),
                cmocka_unit_test(test_shelves),
                cmocka_unit_test(test_sum),
                cmocka_unit_test(test_rounding),
                cmocka_unit_test(test_pro_to_standard),
                cmocka_unit_test(test_standard_to_pro),
                cmocka_unit_test(test_round_trip),
                cmocka_unit_test(test_value_custom),
                cmocka_unit_test(test_value_active),
                cmocka_unit_test(test_value_errors),
                cmocka_unit_test(test_vectors),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
