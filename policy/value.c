/* SPDX-License-Identifier: MIT */
/* Names, initialisation, equality and range checks of Shared Data values.
 * Pure: never does I/O, never clamps (an out-of-range value is an error). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "value.h"

int value_errf(struct value_err *e, int r, const char *fmt, ...) {
        va_list ap;

        if (!e || e->msg[0])
                return r;
        va_start(ap, fmt);
        (void) vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
        va_end(ap);
        return r;
}

void value_err_prefix(struct value_err *e, const char *fmt, ...) {
        char joined[VALUE_ERR_MAX];
        va_list ap;
        int n;

        if (!e || !e->msg[0])
                return;
        va_start(ap, fmt);
        n = vsnprintf(joined, sizeof(joined), fmt, ap);
        va_end(ap);
        if (n < 0 || (size_t) n >= sizeof(joined))
                return;
        /* the message keeps its tail: the prefix plus as much of it as fits */
        memcpy(joined + n, e->msg, strnlen(e->msg, sizeof(joined) - (size_t) n - 1));
        joined[n + (int) strnlen(e->msg, sizeof(joined) - (size_t) n - 1)] = '\0';
        memcpy(e->msg, joined, sizeof(e->msg));
}

static const char *name_of(const char *const *names, size_t n, unsigned v) {
        return v < n ? names[v] : NULL;
}

static int index_of(const char *const *names, size_t n, const char *s) {
        if (!s)
                return -EINVAL;
        for (size_t i = 0; i < n; i++)
                if (names[i] && strcmp(names[i], s) == 0)
                        return (int) i;
        return -EINVAL;
}

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

static const char *const key_names[] = { NULL, "profile", "eq.custom", "eq.active" };
static const char *const family_names[] = { "any", "standard", "pro" };
static const char *const noise_names[] = { "off", "anc", "ambient" };
static const char *const touch_names[] = { "none", "play_pause", "next", "previous",
                                           "noise_control", "voice_assistant" };
static const char *const band_names[] = { "peak", "low_shelf", "high_shelf" };
static const char *const preset_names[] = { "flat", "bass_boost", "voice", "treble" };

const char *key_name(enum key k) { return name_of(key_names, ELEMENTSOF(key_names), (unsigned) k); }
const char *family_name(enum family f) { return name_of(family_names, ELEMENTSOF(family_names), (unsigned) f); }
const char *noise_control_name(unsigned v) { return name_of(noise_names, ELEMENTSOF(noise_names), v); }
const char *touch_action_name(unsigned v) { return name_of(touch_names, ELEMENTSOF(touch_names), v); }
const char *band_type_name(unsigned v) { return name_of(band_names, ELEMENTSOF(band_names), v); }

const char *preset_name(unsigned v) {
        if (v == PRESET_CUSTOM)
                return "custom";
        return name_of(preset_names, ELEMENTSOF(preset_names), v);
}

int key_from_name(const char *s, enum key *ret) {
        int i = index_of(key_names, ELEMENTSOF(key_names), s);
        if (i < 0)
                return i;
        *ret = (enum key) i;
        return 0;
}

int family_from_name(const char *s, enum family *ret) {
        int i = index_of(family_names, ELEMENTSOF(family_names), s);
        if (i < 0)
                return i;
        *ret = (enum family) i;
        return 0;
}

static int u8_from(const char *const *names, size_t n, const char *s, uint8_t *ret) {
        int i = index_of(names, n, s);
        if (i < 0)
                return i;
        *ret = (uint8_t) i;
        return 0;
}

int noise_control_from_name(const char *s, uint8_t *ret) { return u8_from(noise_names, ELEMENTSOF(noise_names), s, ret); }
int touch_action_from_name(const char *s, uint8_t *ret) { return u8_from(touch_names, ELEMENTSOF(touch_names), s, ret); }
int band_type_from_name(const char *s, uint8_t *ret) { return u8_from(band_names, ELEMENTSOF(band_names), s, ret); }

int preset_from_name(const char *s, uint8_t *ret) {
        if (s && strcmp(s, "custom") == 0) {
                *ret = PRESET_CUSTOM;
                return 0;
        }
        return u8_from(preset_names, ELEMENTSOF(preset_names), s, ret);
}

bool key_is_valid(int k) { return k >= KEY_MIN && k <= KEY_MAX; }

bool key_family_is_valid(int k, int f) {
        if (k == KEY_PROFILE)
                return f == FAMILY_ANY;
        return key_is_valid(k) && (f == FAMILY_STANDARD || f == FAMILY_PRO);
}

void value_init(struct value *v, enum key key, enum family family) {
        memset(v, 0, sizeof(*v));
        v->key = key;
        v->family = family;
}

bool utf8_is_valid(const char *s, size_t n) {
        const unsigned char *p = (const unsigned char *) s;
        size_t i = 0;

        while (i < n) {
                unsigned c = p[i], len;
                uint32_t cp;

                if (c == 0)
                        return false;
                if (c < 0x80) {
                        i++;
                        continue;
                }
                if (c >= 0xc2 && c <= 0xdf)
                        len = 2, cp = c & 0x1f;
                else if (c >= 0xe0 && c <= 0xef)
                        len = 3, cp = c & 0x0f;
                else if (c >= 0xf0 && c <= 0xf4)
                        len = 4, cp = c & 0x07;
                else
                        return false;
                if (n - i < len)
                        return false;
                for (unsigned k = 1; k < len; k++) {
                        if ((p[i + k] & 0xc0) != 0x80)
                                return false;
                        cp = (cp << 6) | (p[i + k] & 0x3f);
                }
                if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
                    (cp >= 0xd800 && cp <= 0xdfff))
                        return false;
                i += len;
        }
        return true;
}

static int check_range(struct value_err *e, const char *field, long v, long min, long max) {
        if (v < min || v > max)
                return value_errf(e, -EINVAL, "%s: %ld is outside %ld..%ld", field, v, min, max);
        return 0;
}

static int check_profile(const struct profile *p, struct value_err *e) {
        char field[32];
        int r = 0;

        for (unsigned i = 0; i < PROFILE_BANDS && r == 0; i++) {
                (void) snprintf(field, sizeof(field), "hearing.left_db[%u]", i);
                r = check_range(e, field, p->left[i], PROFILE_GAIN_MIN, PROFILE_GAIN_MAX);
                if (r == 0) {
                        (void) snprintf(field, sizeof(field), "hearing.right_db[%u]", i);
                        r = check_range(e, field, p->right[i], PROFILE_GAIN_MIN, PROFILE_GAIN_MAX);
                }
        }
        if (r == 0)
                r = check_range(e, "noise_control", p->noise_control, NOISE_OFF, NOISE_AMBIENT);
        if (r == 0)
                r = check_range(e, "ambient_level", p->ambient_level, 0, AMBIENT_LEVEL_MAX);
        if (r == 0)
                r = check_range(e, "touch.left", p->touch_left, TOUCH_NONE, TOUCH_VOICE_ASSISTANT);
        if (r == 0)
                r = check_range(e, "touch.right", p->touch_right, TOUCH_NONE, TOUCH_VOICE_ASSISTANT);
        if (r == 0)
                r = check_range(e, "name", p->name_len, 0, PROFILE_NAME_MAX);
        if (r == 0 && !utf8_is_valid(p->name, p->name_len))
                r = value_errf(e, -EINVAL, "name: not valid UTF-8 or contains NUL");
        if (r == 0 && p->name[p->name_len] != '\0')
                r = value_errf(e, -EINVAL, "name: length %u does not match the text", p->name_len);
        return r;
}

static int check_standard(const struct eq_standard *s, struct value_err *e) {
        char field[32];

        for (unsigned i = 0; i < STD_BANDS; i++) {
                (void) snprintf(field, sizeof(field), "bands_db[%u]", i);
                int r = check_range(e, field, s->gain[i], STD_GAIN_MIN, STD_GAIN_MAX);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int check_band(const struct eq_band *b, unsigned i, struct value_err *e) {
        char field[32];
        int r;

        (void) snprintf(field, sizeof(field), "bands[%u].type", i);
        r = check_range(e, field, b->type, BAND_PEAK, BAND_HIGH_SHELF);
        if (r == 0) {
                (void) snprintf(field, sizeof(field), "bands[%u].freq_hz", i);
                r = check_range(e, field, b->freq_hz, PRO_FREQ_MIN, PRO_FREQ_MAX);
        }
        if (r == 0) {
                (void) snprintf(field, sizeof(field), "bands[%u].gain", i);
                r = check_range(e, field, b->gain, PRO_GAIN_MIN, PRO_GAIN_MAX);
        }
        if (r == 0) {
                (void) snprintf(field, sizeof(field), "bands[%u].q", i);
                r = check_range(e, field, b->q100, PRO_Q_MIN, PRO_Q_MAX);
        }
        return r;
}

static int check_pro(const struct eq_pro *p, struct value_err *e) {
        int r = check_range(e, "preamp", p->preamp, PRO_PREAMP_MIN, PRO_PREAMP_MAX);
        if (r == 0)
                r = check_range(e, "band count", p->count, 1, PRO_BANDS_MAX);
        for (unsigned i = 0; r == 0 && i < p->count; i++)
                r = check_band(&p->band[i], i, e);
        return r;
}

static int check_eq(const union eq_params *eq, enum family f, struct value_err *e) {
        return f == FAMILY_STANDARD ? check_standard(&eq->std, e) : check_pro(&eq->pro, e);
}

int value_check(const struct value *v, struct value_err *e) {
        if (!key_is_valid((int) v->key))
                return value_errf(e, -EINVAL, "key: %d is not profile, eq.custom or eq.active", (int) v->key);
        if (!key_family_is_valid((int) v->key, (int) v->family))
                return value_errf(e, -EINVAL, "family: %d is not valid for %s", (int) v->family, key_name(v->key));

        switch (v->key) {
        case KEY_PROFILE:
                return check_profile(&v->profile, e);
        case KEY_EQ_CUSTOM:
                return check_eq(&v->custom, v->family, e);
        case KEY_EQ_ACTIVE:
                if (v->active.preset == PRESET_CUSTOM)
                        return check_eq(&v->active.eq, v->family, e);
                if (v->active.preset > PRESET_TREBLE)
                        return value_errf(e, -EINVAL, "preset: %u is not 0..3 or 255", v->active.preset);
                return 0;
        }
        return value_errf(e, -EINVAL, "key: unknown");
}

static bool eq_equal(const union eq_params *a, const union eq_params *b, enum family f) {
        if (f == FAMILY_STANDARD)
                return memcmp(a->std.gain, b->std.gain, sizeof(a->std.gain)) == 0;
        if (a->pro.preamp != b->pro.preamp || a->pro.count != b->pro.count)
                return false;
        for (unsigned i = 0; i < a->pro.count && i < PRO_BANDS_MAX; i++) {
                const struct eq_band *x = &a->pro.band[i], *y = &b->pro.band[i];
                if (x->type != y->type || x->freq_hz != y->freq_hz || x->gain != y->gain || x->q100 != y->q100)
                        return false;
        }
        return true;
}

static bool profile_equal(const struct profile *a, const struct profile *b) {
        return a->hearing_enabled == b->hearing_enabled &&
               memcmp(a->left, b->left, sizeof(a->left)) == 0 &&
               memcmp(a->right, b->right, sizeof(a->right)) == 0 &&
               a->noise_control == b->noise_control && a->ambient_level == b->ambient_level &&
               a->touch_left == b->touch_left && a->touch_right == b->touch_right &&
               a->name_len == b->name_len && memcmp(a->name, b->name, a->name_len) == 0;
}

bool value_equal(const struct value *a, const struct value *b) {
        if (a->key != b->key || a->family != b->family)
                return false;
        switch (a->key) {
        case KEY_PROFILE:
                return profile_equal(&a->profile, &b->profile);
        case KEY_EQ_CUSTOM:
                return eq_equal(&a->custom, &b->custom, a->family);
        case KEY_EQ_ACTIVE:
                return a->active.preset == b->active.preset &&
                       (a->active.preset != PRESET_CUSTOM || eq_equal(&a->active.eq, &b->active.eq, a->family));
        }
        return false;
}
