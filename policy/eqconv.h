/* SPDX-License-Identifier: MIT */
/* Conversion of EQ parameters between the two Buds families (docs/protocol.md,
 * "Families" and "Conversion"): the magnitude response of a pro curve, pro to
 * standard by sampling it at the five standard centres, standard to pro by five
 * peak bands that reproduce the standard gains at those centres, so that
 * standard → pro → standard is exact for every input. Pure: libm only, no I/O,
 * no state; it never converts a profile. The phone app implements the same
 * rules and checks itself against docs/vectors/conversion.json. */
#pragma once

#include <stdint.h>

#include "value.h"

#define EQCONV_SAMPLE_RATE 48000        /* Hz, of the cookbook biquads */
#define EQCONV_STD_Q100    1000         /* Q x 100 of the peak bands standard → pro writes */

/* The standard centres, Hz: 60, 250, 1000, 4000, 16000. */
extern const uint16_t eqconv_centre_hz[STD_BANDS];

/* Response of p at freq_hz (0 < freq_hz < EQCONV_SAMPLE_RATE / 2), in dB: the
 * preamp plus the sum of every band's RBJ cookbook biquad response. p must pass
 * value_check. */
double eqconv_pro_response_db(const struct eq_pro *p, double freq_hz);

/* dB to a standard gain in 0.5 dB units: the nearest step, an exact half (a
 * response of ±0.25, ±0.75, ... dB) away from zero, clamped to -24..24. NaN
 * gives 0. */
int eqconv_std_gain_from_db(double db);

/* Both take parameters that pass value_check and write parameters that do. */
void eqconv_pro_to_standard(const struct eq_pro *p, struct eq_standard *ret);
void eqconv_standard_to_pro(const struct eq_standard *s, struct eq_pro *ret);

/* Converts an eq.custom or eq.active value into family `to`; an eq.active
 * keeps its preset, and only a custom preset carries (converted) parameters.
 * Returns 1 when it converted (the caller marks the copy DERIVED), 0 when
 * from is already of family `to` (a plain copy), -EINVAL for a profile, a
 * value that fails value_check, or a `to` that is neither standard nor pro.
 * *ret is written only on success. */
int eqconv_value(const struct value *from, enum family to, struct value *ret);
