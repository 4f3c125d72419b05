/* SPDX-License-Identifier: MIT */
/* value_describe() (describe.h): wire units to display units, as the sync
 * API's JSON has them (0.5 dB, 0.1 dB, Q x100), in words a person reads. */
#include <stdarg.h>
#include <stdio.h>

#include "describe.h"

/* Appends to buf at *n, keeping *n what snprintf would have written. */
__attribute__((format(printf, 4, 5)))
static void describe_add(char *buf, size_t size, size_t *n, const char *fmt, ...) {
        va_list ap;
        int k;

        va_start(ap, fmt);
        k = vsnprintf(*n < size ? buf + *n : NULL, *n < size ? size - *n : 0, fmt, ap);
        va_end(ap);
        if (k > 0)
                *n += (size_t) k;
}

static void describe_ear(char *buf, size_t size, size_t *n, const char *ear, const int8_t *g) {
        describe_add(buf, size, n, "%s", ear);
        for (unsigned i = 0; i < PROFILE_BANDS; i++)
                describe_add(buf, size, n, " %+.1f", g[i] / 2.0);
}

static void describe_profile(const struct profile *p, char *buf, size_t size, size_t *n) {
        describe_add(buf, size, n, "\"%.*s\", noise control %s", (int) p->name_len, p->name,
                     noise_control_name(p->noise_control));
        if (p->noise_control == NOISE_AMBIENT)
                describe_add(buf, size, n, " (level %u)", p->ambient_level);
        describe_add(buf, size, n, ", touch %s / %s, hearing ", touch_action_name(p->touch_left),
                     touch_action_name(p->touch_right));
        if (!p->hearing_enabled) {
                describe_add(buf, size, n, "off");
                return;
        }
        describe_ear(buf, size, n, "on (left", p->left);
        describe_ear(buf, size, n, ", right", p->right);
        describe_add(buf, size, n, " dB)");
}

static void describe_eq(enum family f, const union eq_params *eq, char *buf, size_t size, size_t *n) {
        if (f == FAMILY_STANDARD) {
                describe_add(buf, size, n, "standard");
                for (unsigned i = 0; i < STD_BANDS; i++)
                        describe_add(buf, size, n, " %+.1f", eq->std.gain[i] / 2.0);
                describe_add(buf, size, n, " dB");
                return;
        }
        describe_add(buf, size, n, "pro, preamp %.1f dB", eq->pro.preamp / 10.0);
        for (unsigned i = 0; i < eq->pro.count && i < PRO_BANDS_MAX; i++)
                describe_add(buf, size, n, ", %s %u Hz %+.1f dB Q %.2f", band_type_name(eq->pro.band[i].type),
                             eq->pro.band[i].freq_hz, eq->pro.band[i].gain / 10.0, eq->pro.band[i].q100 / 100.0);
}

int value_describe(const struct value *v, char *buf, size_t size) {
        size_t n = 0;

        if (size > 0)
                buf[0] = '\0';
        switch (v->key) {
        case KEY_PROFILE:
                describe_profile(&v->profile, buf, size, &n);
                break;
        case KEY_EQ_CUSTOM:
                describe_eq(v->family, &v->custom, buf, size, &n);
                break;
        case KEY_EQ_ACTIVE:
                describe_add(buf, size, &n, "preset %s", preset_name(v->active.preset));
                if (v->active.preset == PRESET_CUSTOM) {
                        describe_add(buf, size, &n, ": ");
                        describe_eq(v->family, &v->active.eq, buf, size, &n);
                }
                break;
        }
        return (int) n;
}
