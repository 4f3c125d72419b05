/* SPDX-License-Identifier: MIT */
/* The JSON form of records and values (the sync API's): a reader on top of
 * the strict JSON reader (json-strict.c) and a printer whose numbers read back
 * to the same value. Ranges
 * are those of policy/value.h, checked once more by value_check; nothing here
 * is ever clamped, and this file never does I/O or keeps state. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "codec/json-strict.h"
#include "codec/recjson.h"
#include "common/cleanup.h"

#define MS_MAX             ((INT64_C(1) << 48) - 1)
#define COUNTER_MAX        0xffff

DEFINE_TRIVIAL_CLEANUP_FUNC(cJSON *, cJSON_Delete)

/* ---- Messages ----
 * A message is "path: text". A reader that has no path of its own writes
 * ": text"; each caller puts the member name or index in front, so the path
 * grows from the inside out ("q: ..." -> "[2].q: ..." -> "bands[2].q: ..."). */

static void err_within(struct value_err *e, const char *member) {
        if (!e || !e->msg[0])
                return;
        if (e->msg[0] == ':' || e->msg[0] == '[')
                value_err_prefix(e, "%s", member);
        else
                value_err_prefix(e, "%s.", member);
}

static int within(int r, struct value_err *e, const char *member) {
        if (r < 0)
                err_within(e, member);
        return r;
}

static int within_index(int r, struct value_err *e, unsigned i) {
        char idx[16];

        (void) snprintf(idx, sizeof(idx), "[%u]", i);
        return within(r, e, idx);
}

/* The shortest form of x that reads back as x. */
static const char *fmt_num(double x, char buf[static 32]) {
        (void) snprintf(buf, 32, "%.15g", x);
        if (strtod(buf, NULL) != x)
                (void) snprintf(buf, 32, "%.17g", x);
        return buf;
}

/* "a|b|c" from a name table, for "is not one of" messages. */
static const char *names_list(const char *(*name)(unsigned v), char *buf, size_t size) {
        size_t n = 0;

        buf[0] = '\0';
        for (unsigned v = 0; v < 256; v++) {
                const char *s = name(v);
                if (s && n < size)
                        n += (size_t) snprintf(buf + n, size - n, "%s%s", n ? "|" : "", s);
        }
        return buf;
}

/* json_strict_check_members, with the message in the ": text" form of this file. */
static int object_members(const cJSON *obj, const char *const *names, struct value_err *e) {
        int r = json_strict_check_members(obj, names, e);

        if (r < 0)
                value_err_prefix(e, ": ");
        return r;
}

static int member(const cJSON *obj, const char *name, const cJSON **ret, struct value_err *e) {
        const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, name);

        if (!j)
                return value_errf(e, -EINVAL, ": missing member \"%s\"", name);
        *ret = j;
        return 0;
}

/* ---- Numbers ---- */

/* A quantity: the JSON number times per is the wire integer. */
struct unit {
        double per;
        int64_t min, max;       /* wire units */
};

static const struct unit unit_profile_gain = { 2, PROFILE_GAIN_MIN, PROFILE_GAIN_MAX };
static const struct unit unit_std_gain = { 2, STD_GAIN_MIN, STD_GAIN_MAX };
static const struct unit unit_preamp = { 10, PRO_PREAMP_MIN, PRO_PREAMP_MAX };
static const struct unit unit_freq = { 1, PRO_FREQ_MIN, PRO_FREQ_MAX };
static const struct unit unit_pro_gain = { 10, PRO_GAIN_MIN, PRO_GAIN_MAX };
static const struct unit unit_q = { 100, PRO_Q_MIN, PRO_Q_MAX };
static const struct unit unit_ambient = { 1, 0, AMBIENT_LEVEL_MAX };
static const struct unit unit_ms = { 1, 0, MS_MAX };
static const struct unit unit_counter = { 1, 0, COUNTER_MAX };

/* Exact for correctly rounded decimal input: "3.5" passes 0.5 dB, "3.50000000001"
 * does not. -0 is 0. The range is tested first, so a huge number is called out
 * of range rather than inexact. */
static int read_units(const cJSON *j, const struct unit *u, int64_t *ret, struct value_err *e) {
        char a[32], b[32], c[32];
        double x, n;

        if (!cJSON_IsNumber(j))
                return value_errf(e, -EINVAL, ": must be a number");
        x = j->valuedouble;
        if (!isfinite(x))
                return value_errf(e, -EINVAL, ": must be a finite number");
        n = x * u->per;
        if (n < (double) u->min || n > (double) u->max)
                return value_errf(e, -EINVAL, ": %s is outside %s..%s", fmt_num(x, a),
                                  fmt_num((double) u->min / u->per, b), fmt_num((double) u->max / u->per, c));
        if (x != round(n) / u->per) {
                if (u->per == 1)
                        return value_errf(e, -EINVAL, ": %s is not an integer", fmt_num(x, a));
                return value_errf(e, -EINVAL, ": %s is not a multiple of %s", fmt_num(x, a), fmt_num(1 / u->per, b));
        }
        *ret = (int64_t) round(n);
        return 0;
}

static int member_units(const cJSON *obj, const char *name, const struct unit *u, int64_t *ret, struct value_err *e) {
        const cJSON *j = NULL;
        int r = member(obj, name, &j, e);

        if (r == 0)
                r = within(read_units(j, u, ret, e), e, name);
        return r;
}

static int read_gains(const cJSON *j, unsigned n, const struct unit *u, int8_t *out, struct value_err *e) {
        const cJSON *item = NULL;
        unsigned i = 0;

        if (!cJSON_IsArray(j) || cJSON_GetArraySize(j) != (int) n)
                return value_errf(e, -EINVAL, ": must be an array of %u numbers", n);
        cJSON_ArrayForEach(item, j) {
                int64_t g = 0;
                int r = read_units(item, u, &g, e);
                if (r < 0)
                        return within_index(r, e, i);
                out[i++] = (int8_t) g;
        }
        return 0;
}

static int member_gains(const cJSON *obj, const char *name, unsigned n, const struct unit *u, int8_t *out,
                        struct value_err *e) {
        const cJSON *j = NULL;
        int r = member(obj, name, &j, e);

        if (r == 0)
                r = within(read_gains(j, n, u, out, e), e, name);
        return r;
}

/* ---- Strings, names, booleans ---- */

static int member_string(const cJSON *obj, const char *name, const char **ret, struct value_err *e) {
        const cJSON *j = NULL;
        int r = member(obj, name, &j, e);

        if (r == 0 && (!cJSON_IsString(j) || !j->valuestring))
                r = within(value_errf(e, -EINVAL, ": must be a string"), e, name);
        if (r == 0)
                *ret = j->valuestring;
        return r;
}

static int member_enum(const cJSON *obj, const char *name, int (*from_name)(const char *s, uint8_t *ret),
                       const char *(*name_of)(unsigned v), uint8_t *ret, struct value_err *e) {
        char buf[JSON_STRICT_QUOTE_MAX + 4], list[96];
        const char *s = NULL;
        int r = member_string(obj, name, &s, e);

        if (r == 0 && from_name(s, ret) < 0)
                r = within(value_errf(e, -EINVAL, ": \"%s\" is not one of %s", json_strict_quote(s, buf),
                                      names_list(name_of, list, sizeof(list))), e, name);
        return r;
}

static int member_bool(const cJSON *obj, const char *name, bool *ret, struct value_err *e) {
        const cJSON *j = NULL;
        int r = member(obj, name, &j, e);

        if (r == 0 && !cJSON_IsBool(j))
                r = within(value_errf(e, -EINVAL, ": must be true or false"), e, name);
        if (r == 0)
                *ret = cJSON_IsTrue(j);
        return r;
}

static int member_name(const cJSON *obj, struct profile *p, struct value_err *e) {
        const char *s = NULL;
        size_t n;
        int r = member_string(obj, "name", &s, e);

        if (r < 0)
                return r;
        n = strlen(s);
        if (n > PROFILE_NAME_MAX)
                return value_errf(e, -EINVAL, "name: %zu bytes is longer than %d", n, PROFILE_NAME_MAX);
        memcpy(p->name, s, n + 1);
        p->name_len = (uint8_t) n;      /* UTF-8 validity: value_check */
        return 0;
}

/* ---- Values ---- */

static const char *const profile_members[] = { "hearing", "noise_control", "ambient_level", "touch", "name", NULL };
static const char *const hearing_members[] = { "enabled", "left_db", "right_db", NULL };
static const char *const touch_members[] = { "left", "right", NULL };
static const char *const standard_members[] = { "bands_db", NULL };
static const char *const pro_members[] = { "preamp_db", "bands", NULL };
static const char *const band_members[] = { "type", "freq_hz", "gain_db", "q", NULL };
static const char *const active_members[] = { "preset", "eq", NULL };
static const char *const stamp_members[] = { "ms", "c", "origin", NULL };
static const char *const record_members[] = { "key", "family", "stamp", "derived", "value", NULL };

static int read_hearing(const cJSON *j, struct profile *p, struct value_err *e) {
        int r = object_members(j, hearing_members, e);

        if (r == 0)
                r = member_bool(j, "enabled", &p->hearing_enabled, e);
        if (r == 0)
                r = member_gains(j, "left_db", PROFILE_BANDS, &unit_profile_gain, p->left, e);
        if (r == 0)
                r = member_gains(j, "right_db", PROFILE_BANDS, &unit_profile_gain, p->right, e);
        return r;
}

static int read_touch(const cJSON *j, struct profile *p, struct value_err *e) {
        int r = object_members(j, touch_members, e);

        if (r == 0)
                r = member_enum(j, "left", touch_action_from_name, touch_action_name, &p->touch_left, e);
        if (r == 0)
                r = member_enum(j, "right", touch_action_from_name, touch_action_name, &p->touch_right, e);
        return r;
}

static int read_profile(const cJSON *j, struct profile *p, struct value_err *e) {
        const cJSON *m = NULL;
        int64_t level = 0;
        int r = object_members(j, profile_members, e);

        if (r == 0)
                r = member(j, "hearing", &m, e);
        if (r == 0)
                r = within(read_hearing(m, p, e), e, "hearing");
        if (r == 0)
                r = member_enum(j, "noise_control", noise_control_from_name, noise_control_name, &p->noise_control, e);
        if (r == 0)
                r = member_units(j, "ambient_level", &unit_ambient, &level, e);
        if (r == 0) {
                p->ambient_level = (uint8_t) level;
                r = member(j, "touch", &m, e);
        }
        if (r == 0)
                r = within(read_touch(m, p, e), e, "touch");
        if (r == 0)
                r = member_name(j, p, e);
        return r;
}

static int read_standard(const cJSON *j, struct eq_standard *s, struct value_err *e) {
        int r = object_members(j, standard_members, e);

        if (r == 0)
                r = member_gains(j, "bands_db", STD_BANDS, &unit_std_gain, s->gain, e);
        return r;
}

static int read_band(const cJSON *j, struct eq_band *b, struct value_err *e) {
        int64_t f = 0, g = 0, q = 0;
        int r = object_members(j, band_members, e);

        if (r == 0)
                r = member_enum(j, "type", band_type_from_name, band_type_name, &b->type, e);
        if (r == 0)
                r = member_units(j, "freq_hz", &unit_freq, &f, e);
        if (r == 0)
                r = member_units(j, "gain_db", &unit_pro_gain, &g, e);
        if (r == 0)
                r = member_units(j, "q", &unit_q, &q, e);
        if (r == 0) {
                b->freq_hz = (uint16_t) f;
                b->gain = (int16_t) g;
                b->q100 = (uint16_t) q;
        }
        return r;
}

static int read_bands(const cJSON *j, struct eq_pro *p, struct value_err *e) {
        const cJSON *item = NULL;
        int n;

        if (!cJSON_IsArray(j))
                return value_errf(e, -EINVAL, ": must be an array");
        n = cJSON_GetArraySize(j);
        if (n < 1 || n > PRO_BANDS_MAX)
                return value_errf(e, -EINVAL, ": has %d bands, must have 1..%d", n, PRO_BANDS_MAX);
        p->count = 0;
        cJSON_ArrayForEach(item, j) {
                int r = read_band(item, &p->band[p->count], e);
                if (r < 0)
                        return within_index(r, e, p->count);
                p->count++;
        }
        return 0;
}

static int read_pro(const cJSON *j, struct eq_pro *p, struct value_err *e) {
        const cJSON *m = NULL;
        int64_t preamp = 0;
        int r = object_members(j, pro_members, e);

        if (r == 0)
                r = member_units(j, "preamp_db", &unit_preamp, &preamp, e);
        if (r == 0) {
                p->preamp = (int16_t) preamp;
                r = member(j, "bands", &m, e);
        }
        if (r == 0)
                r = within(read_bands(m, p, e), e, "bands");
        return r;
}

static int read_eq(const cJSON *j, enum family f, union eq_params *eq, struct value_err *e) {
        return f == FAMILY_STANDARD ? read_standard(j, &eq->std, e) : read_pro(j, &eq->pro, e);
}

static int read_active(const cJSON *j, enum family f, struct eq_active *a, struct value_err *e) {
        const cJSON *eq = NULL;
        int r = object_members(j, active_members, e);

        if (r == 0)
                r = member_enum(j, "preset", preset_from_name, preset_name, &a->preset, e);
        if (r < 0)
                return r;
        eq = cJSON_GetObjectItemCaseSensitive(j, "eq");
        if (a->preset != PRESET_CUSTOM)
                return eq ? value_errf(e, -EINVAL, "eq: must be absent unless the preset is custom") : 0;
        if (!eq)
                return value_errf(e, -EINVAL, ": missing member \"eq\" (the preset is custom)");
        return within(read_eq(eq, f, &a->eq, e), e, "eq");
}

static int read_value(const cJSON *j, struct value *v, struct value_err *e) {
        switch (v->key) {
        case KEY_PROFILE:
                return read_profile(j, &v->profile, e);
        case KEY_EQ_CUSTOM:
                return read_eq(j, v->family, &v->custom, e);
        case KEY_EQ_ACTIVE:
                return read_active(j, v->family, &v->active, e);
        }
        return value_errf(e, -EINVAL, ": unknown key");
}

int recjson_value_from(const cJSON *j, enum key key, enum family family, struct value *ret, struct value_err *e) {
        struct value v;
        int r;

        if (!key_family_is_valid((int) key, (int) family))
                return value_errf(e, -EINVAL, "value: key %d and family %d do not make an item", (int) key, (int) family);
        value_init(&v, key, family);
        r = read_value(j, &v, e);
        if (r == 0)
                r = value_check(&v, e);         /* the last word on ranges and UTF-8 */
        if (r < 0)
                return within(r, e, "value");
        *ret = v;
        return 0;
}

/* ---- Stamps and records ---- */

static int hex_digit(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        return -1;
}

int recjson_origin_parse(const char *s, uint64_t *ret) {
        uint64_t v = 0;

        if (!s || strnlen(s, 17) != 16)
                return -EINVAL;
        for (unsigned i = 0; i < 16; i++) {
                int d = hex_digit(s[i]);
                if (d < 0)
                        return -EINVAL;
                v = v << 4 | (uint64_t) d;
        }
        *ret = v;
        return 0;
}

void recjson_origin_format(uint64_t origin, char buf[static 17]) {
        (void) snprintf(buf, 17, "%016" PRIx64, origin);
}

static int read_stamp(const cJSON *j, struct stamp *s, struct value_err *e) {
        const char *origin = NULL;
        int64_t ms = 0, c = 0;
        int r = object_members(j, stamp_members, e);

        if (r == 0)
                r = member_units(j, "ms", &unit_ms, &ms, e);
        if (r == 0)
                r = member_units(j, "c", &unit_counter, &c, e);
        if (r == 0)
                r = member_string(j, "origin", &origin, e);
        if (r == 0 && recjson_origin_parse(origin, &s->origin) < 0)
                r = value_errf(e, -EINVAL, "origin: must be 16 lower-case hex digits");
        if (r == 0)
                s->hlc = stamp_pack((uint64_t) ms, (uint16_t) c);
        return r;
}

int recjson_stamp_from(const cJSON *j, struct stamp *ret, struct value_err *e) {
        struct stamp s;
        int r = read_stamp(j, &s, e);

        if (r < 0)
                return within(r, e, "stamp");
        *ret = s;
        return 0;
}

static int read_key_family(const cJSON *j, enum key *k, enum family *f, struct value_err *e) {
        char buf[JSON_STRICT_QUOTE_MAX + 4];
        const char *s = NULL;
        int r = member_string(j, "key", &s, e);

        if (r == 0 && key_from_name(s, k) < 0)
                r = value_errf(e, -EINVAL, "key: \"%s\" is not one of profile|eq.custom|eq.active", json_strict_quote(s, buf));
        if (r == 0)
                r = member_string(j, "family", &s, e);
        if (r == 0 && family_from_name(s, f) < 0)
                r = value_errf(e, -EINVAL, "family: \"%s\" is not one of any|standard|pro", json_strict_quote(s, buf));
        if (r == 0 && !key_family_is_valid((int) *k, (int) *f))
                r = value_errf(e, -EINVAL, "family: %s does not fit key %s (profile is any, EQ items standard or pro)",
                               family_name(*f), key_name(*k));
        return r;
}

/* "derived" may be left out and means false: the one lenient member, so that
 * a writer with nothing derived need not say so. */
static int read_derived(const cJSON *j, bool *ret, struct value_err *e) {
        if (!cJSON_GetObjectItemCaseSensitive(j, "derived")) {
                *ret = false;
                return 0;
        }
        return member_bool(j, "derived", ret, e);
}

static int read_record(const cJSON *j, struct record *rec, struct value_err *e) {
        const cJSON *m = NULL;
        enum key k = KEY_PROFILE;
        enum family f = FAMILY_ANY;
        bool derived = false;
        int r = object_members(j, record_members, e);

        if (r == 0)
                r = read_key_family(j, &k, &f, e);
        if (r == 0)
                r = member(j, "stamp", &m, e);
        if (r == 0)
                r = recjson_stamp_from(m, &rec->stamp, e);
        if (r == 0)
                r = read_derived(j, &derived, e);
        if (r == 0)
                r = member(j, "value", &m, e);
        if (r == 0)
                r = recjson_value_from(m, k, f, &rec->value, e);
        if (r == 0)
                rec->flags = derived ? RECORD_DERIVED : 0;
        return r;
}

int recjson_record_from(const cJSON *j, struct record *ret, struct value_err *e) {
        struct record rec;
        int r;

        memset(&rec, 0, sizeof(rec));
        r = read_record(j, &rec, e);
        if (r < 0) {
                if (e && e->msg[0] == ':')
                        value_err_prefix(e, "record");
                return r;
        }
        *ret = rec;
        return 0;
}

/* ---- Printing ---- */

/* Adds item (NULL after a failed allocation) and owns it either way. Member
 * names are literals, so cJSON need not copy them. */
static bool add(cJSON *obj, const char *name, cJSON *item) {
        if (item && cJSON_AddItemToObjectCS(obj, name, item))
                return true;
        cJSON_Delete(item);
        return false;
}

static cJSON *gains_to(const int8_t *g, unsigned n, double per) {
        _cleanup_(cJSON_Deletep) cJSON *a = cJSON_CreateArray();

        if (!a)
                return NULL;
        for (unsigned i = 0; i < n; i++) {
                cJSON *x = cJSON_CreateNumber(g[i] / per);
                if (!x)
                        return NULL;
                (void) cJSON_AddItemToArray(a, x);
        }
        return TAKE_PTR(a);
}

static cJSON *hearing_to(const struct profile *p) {
        _cleanup_(cJSON_Deletep) cJSON *o = cJSON_CreateObject();

        if (!o || !add(o, "enabled", cJSON_CreateBool(p->hearing_enabled)) ||
            !add(o, "left_db", gains_to(p->left, PROFILE_BANDS, 2)) ||
            !add(o, "right_db", gains_to(p->right, PROFILE_BANDS, 2)))
                return NULL;
        return TAKE_PTR(o);
}

static cJSON *touch_to(const struct profile *p) {
        _cleanup_(cJSON_Deletep) cJSON *o = cJSON_CreateObject();

        if (!o || !add(o, "left", cJSON_CreateString(touch_action_name(p->touch_left))) ||
            !add(o, "right", cJSON_CreateString(touch_action_name(p->touch_right))))
                return NULL;
        return TAKE_PTR(o);
}

static cJSON *profile_to(const struct profile *p) {
        _cleanup_(cJSON_Deletep) cJSON *o = cJSON_CreateObject();

        if (!o || !add(o, "hearing", hearing_to(p)) ||
            !add(o, "noise_control", cJSON_CreateString(noise_control_name(p->noise_control))) ||
            !add(o, "ambient_level", cJSON_CreateNumber(p->ambient_level)) ||
            !add(o, "touch", touch_to(p)) ||
            !add(o, "name", cJSON_CreateString(p->name)))
                return NULL;
        return TAKE_PTR(o);
}

static cJSON *band_to(const struct eq_band *b) {
        _cleanup_(cJSON_Deletep) cJSON *o = cJSON_CreateObject();

        if (!o || !add(o, "type", cJSON_CreateString(band_type_name(b->type))) ||
            !add(o, "freq_hz", cJSON_CreateNumber(b->freq_hz)) ||
            !add(o, "gain_db", cJSON_CreateNumber(b->gain / 10.0)) ||
            !add(o, "q", cJSON_CreateNumber(b->q100 / 100.0)))
                return NULL;
        return TAKE_PTR(o);
}

static cJSON *bands_to(const struct eq_pro *p) {
        _cleanup_(cJSON_Deletep) cJSON *a = cJSON_CreateArray();

        if (!a)
                return NULL;
        for (unsigned i = 0; i < p->count; i++) {
                cJSON *b = band_to(&p->band[i]);
                if (!b)
                        return NULL;
                (void) cJSON_AddItemToArray(a, b);
        }
        return TAKE_PTR(a);
}

static cJSON *eq_to(const union eq_params *eq, enum family f) {
        _cleanup_(cJSON_Deletep) cJSON *o = cJSON_CreateObject();

        if (!o)
                return NULL;
        if (f == FAMILY_STANDARD) {
                if (!add(o, "bands_db", gains_to(eq->std.gain, STD_BANDS, 2)))
                        return NULL;
        } else if (!add(o, "preamp_db", cJSON_CreateNumber(eq->pro.preamp / 10.0)) ||
                   !add(o, "bands", bands_to(&eq->pro)))
                return NULL;
        return TAKE_PTR(o);
}

static cJSON *active_to(const struct eq_active *a, enum family f) {
        _cleanup_(cJSON_Deletep) cJSON *o = cJSON_CreateObject();

        if (!o || !add(o, "preset", cJSON_CreateString(preset_name(a->preset))))
                return NULL;
        if (a->preset == PRESET_CUSTOM && !add(o, "eq", eq_to(&a->eq, f)))
                return NULL;
        return TAKE_PTR(o);
}

cJSON *recjson_value_to(const struct value *v) {
        if (value_check(v, NULL) < 0)
                return NULL;
        switch (v->key) {
        case KEY_PROFILE:
                return profile_to(&v->profile);
        case KEY_EQ_CUSTOM:
                return eq_to(&v->custom, v->family);
        case KEY_EQ_ACTIVE:
                return active_to(&v->active, v->family);
        }
        return NULL;
}

cJSON *recjson_stamp_to(struct stamp s) {
        _cleanup_(cJSON_Deletep) cJSON *o = cJSON_CreateObject();
        char hex[17];

        recjson_origin_format(s.origin, hex);
        if (!o || !add(o, "ms", cJSON_CreateNumber((double) stamp_ms(s))) ||
            !add(o, "c", cJSON_CreateNumber(stamp_counter(s))) ||
            !add(o, "origin", cJSON_CreateString(hex)))
                return NULL;
        return TAKE_PTR(o);
}

/* RECORD_DIRTY and the revision belong to the Buds and have no JSON form. */
cJSON *recjson_record_to(const struct record *r) {
        _cleanup_(cJSON_Deletep) cJSON *o = cJSON_CreateObject();

        if (!o || !add(o, "key", cJSON_CreateString(key_name(r->value.key))) ||
            !add(o, "family", cJSON_CreateString(family_name(r->value.family))) ||
            !add(o, "stamp", recjson_stamp_to(r->stamp)) ||
            !add(o, "derived", cJSON_CreateBool(r->flags & RECORD_DERIVED)) ||
            !add(o, "value", recjson_value_to(&r->value)))
                return NULL;
        return TAKE_PTR(o);
}

/* ---- Text ---- */

int recjson_record_parse(const char *text, size_t len, struct record *ret, struct value_err *e) {
        _cleanup_(cJSON_Deletep) cJSON *j = NULL;
        int r = json_strict_parse(text, len, &j, e);

        if (r < 0)
                return r;
        return recjson_record_from(j, ret, e);
}

char *recjson_push_body_print(unsigned schema, const struct record *records, size_t n) {
        _cleanup_(cJSON_Deletep) cJSON *o = cJSON_CreateObject();
        cJSON *list;

        if (!o || !cJSON_AddNumberToObject(o, "schema", schema) || !(list = cJSON_AddArrayToObject(o, "records")))
                return NULL;
        for (size_t i = 0; i < n; i++) {
                cJSON *rec = recjson_record_to(&records[i]);

                if (!rec)
                        return NULL;
                cJSON_AddItemToArray(list, rec);
        }
        return cJSON_PrintUnformatted(o);
}

char *recjson_record_print(const struct record *r) {
        _cleanup_(cJSON_Deletep) cJSON *j = recjson_record_to(r);

        return j ? cJSON_PrintUnformatted(j) : NULL;
}

int recjson_value_parse(const char *text, size_t len, enum key key, enum family family,
                        struct value *ret, struct value_err *e) {
        _cleanup_(cJSON_Deletep) cJSON *j = NULL;
        int r = json_strict_parse(text, len, &j, e);

        if (r < 0)
                return r;
        return recjson_value_from(j, key, family, ret, e);
}

char *recjson_value_print(const struct value *v) {
        _cleanup_(cJSON_Deletep) cJSON *j = recjson_value_to(v);

        return j ? cJSON_PrintUnformatted(j) : NULL;
}
