/* SPDX-License-Identifier: MIT */
/* EQ family conversion, exactly as docs/protocol.md's arbitration rules say; it must
 * never depend on anything but its inputs (every bridge and the phone app
 * compute the same result from the same value), and never converts a profile.
 *
 * Readings of the spec this file commits to:
 *
 * - Response: RBJ Audio EQ Cookbook peakingEQ, lowShelf and highShelf with the
 *   Q form for all three (alpha = sin(w0) / (2 Q), also for shelves), sample
 *   rate 48 kHz, |H| evaluated in the cookbook's phi = sin^2(w / 2) form,
 *   regrouped so that low frequencies lose no precision (struct side).
 *
 * - Rounding to 0.5 dB: nearest step, an exact half (±0.25, ±0.75 dB, ...)
 *   away from zero. The response is first snapped to a grid of 1e-6 half-dB
 *   (5e-7 dB), far above the ~1e-14 dB noise of the evaluation below, so a
 *   response that is a half in exact arithmetic rounds away from zero whatever
 *   its last bits say; only a response within 2.5e-7 dB of a half is treated
 *   as the half itself.
 *
 * - Standard → pro: five peak bands at the centres, all with Q = 10.00 (the
 *   highest Q the pro family holds), band gain = the standard gain, preamp 0.
 *   Every input must convert, and the alternating extremes (+12 dB between two
 *   -12 dB neighbours, band gains capped at ±12 dB) leave no room to correct
 *   for neighbour skirts, so the skirts themselves must stay under the 0.05 dB
 *   tolerance: that needs Q >= ~7. At Q = 10 the four other bands move a
 *   centre by at most 0.0233 dB together (60 Hz gets 0.0105 from 250 Hz, 1 kHz
 *   0.0115 + 0.0110 from its neighbours at ±12 dB), which is less than half a
 *   0.1 dB step: the standard gain itself is the nearest 0.1 dB grid point to
 *   the exact solution, so no correction step could improve it.
 *   tests/bench/bench-eqconv --exhaustive checks all 49^5 inputs.
 *
 * - Headroom: the preamp can only attenuate (-12..0 dB) and counts in the
 *   response at every centre, so a negative preamp must be paid back by
 *   raising every band by as much; it can never make room for a boost. The
 *   only case it could serve is a cut band that the skirts of boosted (positive)
 *   neighbours would push below -12 dB. With Q = 10 those skirts never reach
 *   half a 0.1 dB step (the band stays at -12 dB, 0.0225 dB off at worst), so
 *   the preamp is always 0; the exhaustive check confirms that every input
 *   meets the tolerance with it.
 *
 * - eqconv_value() on a value already in the target family copies it and
 *   returns 0, so a caller can ask "this value in family F" without a branch
 *   and still tell from the result whether to set DERIVED. */
#include <errno.h>
#include <math.h>

#include "eqconv.h"

#define SNAP_PER_HALF_DB 1e6    /* snap grid, steps per 0.5 dB */

const uint16_t eqconv_centre_hz[STD_BANDS] = { 60, 250, 1000, 4000, 16000 };

/* One side of a cookbook biquad, x0 + x1 z^-1 + x2 z^-2, held as sum = x0 + x1 +
 * x2, u = x0 + x2 and v = x0 - x2. The cookbook's phi form of |H|^2 then reads
 * |P(e^jw)|^2 = (sum - 2 u phi)^2 + 4 v^2 phi (1 - phi), phi = sin^2(w / 2);
 * written with s0 = sin^2(w0 / 2) instead of cos(w0) = 1 - 2 s0, sum has no
 * cancellation at low frequencies, and a peak at its own centre gives its gain
 * to the last bit instead of to ~1e-8 dB. Same coefficients, same response. */
struct side {
        double sum, u, v;
};

struct biquad {
        struct side b, a;
};

static void peak_biquad(double A, double s0, double alpha, struct biquad *ret) {
        *ret = (struct biquad) {
                .b = { 4 * s0, 2, 2 * alpha * A },
                .a = { 4 * s0, 2, 2 * alpha / A },
        };
}

static void low_shelf_biquad(double A, double s0, double alpha, struct biquad *ret) {
        double s = 2 * sqrt(A) * alpha;

        *ret = (struct biquad) {
                .b = { 8 * A * A * s0, 4 * A * (1 + (A - 1) * s0), 2 * A * s },
                .a = { 8 * s0, 4 * (A - (A - 1) * s0), 2 * s },
        };
}

static void high_shelf_biquad(double A, double s0, double alpha, struct biquad *ret) {
        double s = 2 * sqrt(A) * alpha;

        *ret = (struct biquad) {
                .b = { 8 * A * s0, 4 * A * (A - (A - 1) * s0), 2 * A * s },
                .a = { 8 * A * s0, 4 * (1 + (A - 1) * s0), 2 * s },
        };
}

static void band_biquad(const struct eq_band *b, struct biquad *ret) {
        double A = pow(10.0, b->gain / 400.0);          /* gain is in 0.1 dB */
        double half_w0 = M_PI * b->freq_hz / EQCONV_SAMPLE_RATE;
        double sh = sin(half_w0), ch = cos(half_w0);
        double alpha = 2 * sh * ch / (2 * (b->q100 / 100.0));  /* sin(w0) / (2 Q) */

        *ret = (struct biquad) { { 1, 0, 0 }, { 1, 0, 0 } };     /* H = 1 */
        switch ((enum band_type) b->type) {
        case BAND_PEAK:
                peak_biquad(A, sh * sh, alpha, ret);
                break;
        case BAND_LOW_SHELF:
                low_shelf_biquad(A, sh * sh, alpha, ret);
                break;
        case BAND_HIGH_SHELF:
                high_shelf_biquad(A, sh * sh, alpha, ret);
                break;
        }
}

static double power_at(const struct side *x, double phi, double one_minus_phi) {
        double d = x->sum - 2 * x->u * phi;

        return d * d + 4 * x->v * x->v * phi * one_minus_phi;
}

static double band_response_db(const struct eq_band *b, double phi, double one_minus_phi) {
        struct biquad q;

        if (b->gain == 0)
                return 0;               /* every cookbook form is then H = 1 */
        band_biquad(b, &q);
        return 10 * log10(power_at(&q.b, phi, one_minus_phi) / power_at(&q.a, phi, one_minus_phi));
}

double eqconv_pro_response_db(const struct eq_pro *p, double freq_hz) {
        double s = sin(M_PI * freq_hz / EQCONV_SAMPLE_RATE), c = cos(M_PI * freq_hz / EQCONV_SAMPLE_RATE);
        double db = p->preamp / 10.0;

        for (unsigned i = 0; i < p->count && i < PRO_BANDS_MAX; i++)
                db += band_response_db(&p->band[i], s * s, c * c);
        return db;
}

int eqconv_std_gain_from_db(double db) {
        double halves;

        if (isnan(db))
                return 0;
        halves = round(round(db * 2 * SNAP_PER_HALF_DB) / SNAP_PER_HALF_DB);    /* round(): half away from zero */
        if (halves < STD_GAIN_MIN)
                return STD_GAIN_MIN;
        if (halves > STD_GAIN_MAX)
                return STD_GAIN_MAX;
        return (int) halves;
}

void eqconv_pro_to_standard(const struct eq_pro *p, struct eq_standard *ret) {
        for (unsigned i = 0; i < STD_BANDS; i++)
                ret->gain[i] = (int8_t) eqconv_std_gain_from_db(eqconv_pro_response_db(p, eqconv_centre_hz[i]));
}

void eqconv_standard_to_pro(const struct eq_standard *s, struct eq_pro *ret) {
        *ret = (struct eq_pro) { .preamp = 0, .count = STD_BANDS };
        for (unsigned i = 0; i < STD_BANDS; i++)
                ret->band[i] = (struct eq_band) {
                        .type = BAND_PEAK,
                        .freq_hz = eqconv_centre_hz[i],
                        .gain = (int16_t) (s->gain[i] * 5),     /* 0.5 dB to 0.1 dB */
                        .q100 = EQCONV_STD_Q100,
                };
}

static void convert_params(const union eq_params *from, enum family to, union eq_params *ret) {
        if (to == FAMILY_PRO)
                eqconv_standard_to_pro(&from->std, &ret->pro);
        else
                eqconv_pro_to_standard(&from->pro, &ret->std);
}

int eqconv_value(const struct value *from, enum family to, struct value *ret) {
        struct value v;

        if (from->key == KEY_PROFILE || value_check(from, NULL) < 0)
                return -EINVAL;
        if (to != FAMILY_STANDARD && to != FAMILY_PRO)
                return -EINVAL;
        if (to == from->family) {
                *ret = *from;
                return 0;
        }

        value_init(&v, from->key, to);
        if (from->key == KEY_EQ_CUSTOM)
                convert_params(&from->custom, to, &v.custom);
        else {
                v.active.preset = from->active.preset;
                if (from->active.preset == PRESET_CUSTOM)
                        convert_params(&from->active.eq, to, &v.active.eq);
        }
        *ret = v;
        return 1;
}
