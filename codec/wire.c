/* SPDX-License-Identifier: MIT */
/* Binary codecs of the Buds GATT profile (docs/protocol.md): Buds Info, the
 * Manifest and its notification, records and their payloads, and the UUIDs
 * of the characteristics that carry them. Pure: no I/O, no allocation, no
 * state but const tables. It must never clamp or repair a value: it accepts
 * the bytes whole or rejects them naming the field and why.
 *
 * Every decoder checks in two phases, so that the error class is what a peer
 * answers (ATT 0x0D or 0x13):
 *  1. the layout: short input, the record's payload length against the bytes
 *     that follow, the payload's size against its own counts, trailing bytes;
 *     -EMSGSIZE. A field that a size is computed from (the record's key and
 *     family, the manifest count, name_len, the band count, the preset) is
 *     range-checked just before it is used, -EINVAL: an out-of-range count is
 *     -EINVAL even when the length is wrong as well.
 *  2. every other field, the header's before the payload's (the payload's
 *     reserved bits, then its ranges in value_check()'s order); -EINVAL.
 * So -EMSGSIZE comes back exactly when the lengths do not add up. Out-params
 * are written only on success. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "wire.h"

#define FLAGS_VALID            (RECORD_DIRTY | RECORD_DERIVED)
#define PROFILE_HEARING_BIT    0x01u
#define PROFILE_FIXED_SIZE     18
#define PRO_HEADER_SIZE        3
#define PRO_BAND_SIZE          7

static const char *const key_uuids[] = {
        [KEY_PROFILE] = BUDS_PROFILE_UUID,
        [KEY_EQ_CUSTOM] = BUDS_EQ_CUSTOM_UUID,
        [KEY_EQ_ACTIVE] = BUDS_EQ_ACTIVE_UUID,
};

const char *wire_key_uuid(enum key k) {
        if (!key_is_valid((int) k))
                return NULL;
        return key_uuids[k];
}

int wire_key_from_uuid(const char *uuid) {
        if (!uuid)
                return 0;
        for (int k = KEY_MIN; k <= KEY_MAX; k++)
                if (strcasecmp(uuid, key_uuids[k]) == 0)
                        return k;
        return 0;
}

static uint16_t get_le16(const uint8_t *p) {
        return (uint16_t) (p[0] | p[1] << 8);
}

static uint32_t get_le32(const uint8_t *p) {
        return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

static uint64_t get_le64(const uint8_t *p) {
        return (uint64_t) get_le32(p) | (uint64_t) get_le32(p + 4) << 32;
}

static void put_le16(uint8_t *p, uint16_t v) {
        p[0] = (uint8_t) v;
        p[1] = (uint8_t) (v >> 8);
}

static void put_le32(uint8_t *p, uint32_t v) {
        put_le16(p, (uint16_t) v);
        put_le16(p + 2, (uint16_t) (v >> 16));
}

static void put_le64(uint8_t *p, uint64_t v) {
        put_le32(p, (uint32_t) v);
        put_le32(p + 4, (uint32_t) (v >> 32));
}

static bool family_is_device(unsigned f) {
        return f == FAMILY_STANDARD || f == FAMILY_PRO;
}

/* value_check formats a field name for every field it looks at, too slow for
 * a codec meant to run millions of times a second. value_ok applies the same
 * rules without formatting; value_check runs only to name what failed. */
static bool in_range(long v, long min, long max) {
        return v >= min && v <= max;
}

static bool profile_ok(const struct profile *p) {
        for (unsigned i = 0; i < PROFILE_BANDS; i++)
                if (!in_range(p->left[i], PROFILE_GAIN_MIN, PROFILE_GAIN_MAX) ||
                    !in_range(p->right[i], PROFILE_GAIN_MIN, PROFILE_GAIN_MAX))
                        return false;
        return p->noise_control <= NOISE_AMBIENT && p->ambient_level <= AMBIENT_LEVEL_MAX &&
               p->touch_left <= TOUCH_VOICE_ASSISTANT && p->touch_right <= TOUCH_VOICE_ASSISTANT &&
               p->name_len <= PROFILE_NAME_MAX && utf8_is_valid(p->name, p->name_len) &&
               p->name[p->name_len] == '\0';
}

static bool standard_ok(const struct eq_standard *s) {
        for (unsigned i = 0; i < STD_BANDS; i++)
                if (!in_range(s->gain[i], STD_GAIN_MIN, STD_GAIN_MAX))
                        return false;
        return true;
}

static bool band_ok(const struct eq_band *b) {
        return b->type <= BAND_HIGH_SHELF && in_range(b->freq_hz, PRO_FREQ_MIN, PRO_FREQ_MAX) &&
               in_range(b->gain, PRO_GAIN_MIN, PRO_GAIN_MAX) && in_range(b->q100, PRO_Q_MIN, PRO_Q_MAX);
}

static bool pro_ok(const struct eq_pro *p) {
        if (!in_range(p->preamp, PRO_PREAMP_MIN, PRO_PREAMP_MAX) || !in_range(p->count, 1, PRO_BANDS_MAX))
                return false;
        for (unsigned i = 0; i < p->count; i++)
                if (!band_ok(&p->band[i]))
                        return false;
        return true;
}

static bool eq_ok(const union eq_params *eq, enum family f) {
        return f == FAMILY_STANDARD ? standard_ok(&eq->std) : pro_ok(&eq->pro);
}

static bool value_ok(const struct value *v) {
        if (!key_family_is_valid((int) v->key, (int) v->family))
                return false;
        switch (v->key) {
        case KEY_PROFILE:
                return profile_ok(&v->profile);
        case KEY_EQ_CUSTOM:
                return eq_ok(&v->custom, v->family);
        case KEY_EQ_ACTIVE:
                if (v->active.preset == PRESET_CUSTOM)
                        return eq_ok(&v->active.eq, v->family);
                return v->active.preset <= PRESET_TREBLE;
        }
        return false;
}

static int value_validate(const struct value *v, struct value_err *e) {
        int r;

        if (value_ok(v))
                return 0;
        r = value_check(v, e);
        if (r == 0)     /* the two rule sets disagree: never accept */
                r = value_errf(e, -EINVAL, "value: rejected");
        return r;
}

/* Layout of the payloads. off is the number of payload bytes before the EQ
 * parameters (the preset of eq.active), so that messages give the lengths of
 * the whole payload. */
static int standard_layout(size_t len, size_t off, struct value_err *e) {
        if (len != STD_BANDS)
                return value_errf(e, -EMSGSIZE, "length: %zu bytes but standard EQ needs %zu",
                                  off + len, off + STD_BANDS);
        return 0;
}

static int pro_layout(const uint8_t *buf, size_t len, size_t off, struct value_err *e) {
        size_t need;
        unsigned n;

        if (len < PRO_HEADER_SIZE)
                return value_errf(e, -EMSGSIZE, "length: %zu bytes but pro EQ needs at least %zu",
                                  off + len, off + PRO_HEADER_SIZE);
        n = buf[2];
        if (n < 1 || n > PRO_BANDS_MAX)
                return value_errf(e, -EINVAL, "band count: %u is outside 1..%u", n, PRO_BANDS_MAX);
        need = PRO_HEADER_SIZE + (size_t) PRO_BAND_SIZE * n;
        if (len != need)
                return value_errf(e, -EMSGSIZE, "length: %zu bytes but band count %u needs %zu",
                                  off + len, n, off + need);
        return 0;
}

static int eq_layout(enum family f, const uint8_t *buf, size_t len, size_t off, struct value_err *e) {
        return f == FAMILY_STANDARD ? standard_layout(len, off, e) : pro_layout(buf, len, off, e);
}

static int profile_layout(const uint8_t *buf, size_t len, struct value_err *e) {
        unsigned n;

        if (len < PROFILE_FIXED_SIZE)
                return value_errf(e, -EMSGSIZE, "length: %zu bytes but a profile needs at least %u",
                                  len, PROFILE_FIXED_SIZE);
        n = buf[17];
        if (n > PROFILE_NAME_MAX)
                return value_errf(e, -EINVAL, "name_len: %u is outside 0..%u", n, PROFILE_NAME_MAX);
        if (len != PROFILE_FIXED_SIZE + n)
                return value_errf(e, -EMSGSIZE, "length: %zu bytes but name_len %u needs %u",
                                  len, n, PROFILE_FIXED_SIZE + n);
        return 0;
}

static int active_layout(enum family f, const uint8_t *buf, size_t len, struct value_err *e) {
        if (len < 1)
                return value_errf(e, -EMSGSIZE, "length: 0 bytes but the preset needs 1");
        if (buf[0] == PRESET_CUSTOM)
                return eq_layout(f, buf + 1, len - 1, 1, e);
        if (buf[0] > PRESET_TREBLE)
                return value_errf(e, -EINVAL, "preset: %u is not 0..3 or 255", buf[0]);
        if (len != 1)
                return value_errf(e, -EMSGSIZE, "length: %zu bytes but preset %u needs 1", len, buf[0]);
        return 0;
}

/* key and family are valid here */
static int payload_layout(enum key key, enum family f, const uint8_t *buf, size_t len, struct value_err *e) {
        switch (key) {
        case KEY_PROFILE:
                return profile_layout(buf, len, e);
        case KEY_EQ_CUSTOM:
                return eq_layout(f, buf, len, 0, e);
        case KEY_EQ_ACTIVE:
                return active_layout(f, buf, len, e);
        }
        return value_errf(e, -EINVAL, "key: %d is not profile, eq.custom or eq.active", (int) key);
}

/* Fields of the payloads, once the layout is known to be right. */
static int profile_parse(const uint8_t *buf, struct profile *p, struct value_err *e) {
        if (buf[0] & ~PROFILE_HEARING_BIT)
                return value_errf(e, -EINVAL, "hearing.enabled: 0x%02x is reserved",
                                  buf[0] & ~PROFILE_HEARING_BIT);
        p->hearing_enabled = buf[0] & PROFILE_HEARING_BIT;
        for (unsigned i = 0; i < PROFILE_BANDS; i++) {
                p->left[i] = (int8_t) buf[1 + i];
                p->right[i] = (int8_t) buf[1 + PROFILE_BANDS + i];
        }
        p->noise_control = buf[13];
        p->ambient_level = buf[14];
        p->touch_left = buf[15];
        p->touch_right = buf[16];
        p->name_len = buf[17];
        memcpy(p->name, buf + PROFILE_FIXED_SIZE, p->name_len);
        p->name[p->name_len] = '\0';
        return 0;
}

static void pro_parse(const uint8_t *buf, struct eq_pro *p) {
        p->preamp = (int16_t) get_le16(buf);
        p->count = buf[2];
        for (unsigned i = 0; i < p->count; i++) {
                const uint8_t *b = buf + PRO_HEADER_SIZE + PRO_BAND_SIZE * i;

                p->band[i].type = b[0];
                p->band[i].freq_hz = get_le16(b + 1);
                p->band[i].gain = (int16_t) get_le16(b + 3);
                p->band[i].q100 = get_le16(b + 5);
        }
}

static void eq_parse(enum family f, const uint8_t *buf, union eq_params *eq) {
        if (f == FAMILY_STANDARD)
                for (unsigned i = 0; i < STD_BANDS; i++)
                        eq->std.gain[i] = (int8_t) buf[i];
        else
                pro_parse(buf, &eq->pro);
}

static int payload_parse(enum key key, enum family f, const uint8_t *buf, struct value *v,
                         struct value_err *e) {
        int r = 0;

        value_init(v, key, f);
        switch (key) {
        case KEY_PROFILE:
                r = profile_parse(buf, &v->profile, e);
                break;
        case KEY_EQ_CUSTOM:
                eq_parse(f, buf, &v->custom);
                break;
        case KEY_EQ_ACTIVE:
                v->active.preset = buf[0];
                if (buf[0] == PRESET_CUSTOM)
                        eq_parse(f, buf + 1, &v->active.eq);
                break;
        }
        if (r < 0)
                return r;
        return value_validate(v, e);
}

int wire_value_decode(enum key key, enum family family, const uint8_t *buf, size_t len,
                      struct value *ret, struct value_err *e) {
        struct value v;
        int r;

        if (!key_is_valid((int) key))
                return value_errf(e, -EINVAL, "key: %d is not profile, eq.custom or eq.active", (int) key);
        if (!key_family_is_valid((int) key, (int) family))
                return value_errf(e, -EINVAL, "family: %d is not valid for %s", (int) family, key_name(key));
        r = payload_layout(key, family, buf, len, e);
        if (r < 0)
                return r;
        r = payload_parse(key, family, buf, &v, e);
        if (r < 0)
                return r;
        *ret = v;
        return 0;
}

static size_t eq_size(enum family f, const union eq_params *eq) {
        return f == FAMILY_STANDARD ? STD_BANDS : PRO_HEADER_SIZE + (size_t) PRO_BAND_SIZE * eq->pro.count;
}

/* v is valid here */
static size_t payload_size(const struct value *v) {
        switch (v->key) {
        case KEY_PROFILE:
                return PROFILE_FIXED_SIZE + (size_t) v->profile.name_len;
        case KEY_EQ_CUSTOM:
                return eq_size(v->family, &v->custom);
        case KEY_EQ_ACTIVE:
                return 1 + (v->active.preset == PRESET_CUSTOM ? eq_size(v->family, &v->active.eq) : 0);
        }
        return 0;
}

static void profile_write(const struct profile *p, uint8_t *buf) {
        buf[0] = p->hearing_enabled ? PROFILE_HEARING_BIT : 0;
        for (unsigned i = 0; i < PROFILE_BANDS; i++) {
                buf[1 + i] = (uint8_t) p->left[i];
                buf[1 + PROFILE_BANDS + i] = (uint8_t) p->right[i];
        }
        buf[13] = p->noise_control;
        buf[14] = p->ambient_level;
        buf[15] = p->touch_left;
        buf[16] = p->touch_right;
        buf[17] = p->name_len;
        memcpy(buf + PROFILE_FIXED_SIZE, p->name, p->name_len);
}

static void pro_write(const struct eq_pro *p, uint8_t *buf) {
        put_le16(buf, (uint16_t) p->preamp);
        buf[2] = p->count;
        for (unsigned i = 0; i < p->count; i++) {
                uint8_t *b = buf + PRO_HEADER_SIZE + PRO_BAND_SIZE * i;

                b[0] = p->band[i].type;
                put_le16(b + 1, p->band[i].freq_hz);
                put_le16(b + 3, (uint16_t) p->band[i].gain);
                put_le16(b + 5, p->band[i].q100);
        }
}

static void eq_write(enum family f, const union eq_params *eq, uint8_t *buf) {
        if (f == FAMILY_STANDARD)
                for (unsigned i = 0; i < STD_BANDS; i++)
                        buf[i] = (uint8_t) eq->std.gain[i];
        else
                pro_write(&eq->pro, buf);
}

static void payload_write(const struct value *v, uint8_t *buf) {
        switch (v->key) {
        case KEY_PROFILE:
                profile_write(&v->profile, buf);
                break;
        case KEY_EQ_CUSTOM:
                eq_write(v->family, &v->custom, buf);
                break;
        case KEY_EQ_ACTIVE:
                buf[0] = v->active.preset;
                if (v->active.preset == PRESET_CUSTOM)
                        eq_write(v->family, &v->active.eq, buf + 1);
                break;
        }
}

int wire_value_encode(const struct value *v, uint8_t *buf, size_t size) {
        size_t n;

        if (!v || value_validate(v, NULL) < 0)
                return -EINVAL;
        n = payload_size(v);
        if (size < n)
                return -ENOBUFS;
        payload_write(v, buf);
        return (int) n;
}

static int record_layout(const uint8_t *buf, size_t len, struct value_err *e) {
        unsigned n, key, family;
        int r;

        if (len < WIRE_RECORD_HEADER_SIZE)
                return value_errf(e, -EMSGSIZE, "record.length: %zu bytes but the header needs %u",
                                  len, WIRE_RECORD_HEADER_SIZE);
        n = get_le16(buf + 24);
        if (n != len - WIRE_RECORD_HEADER_SIZE)
                return value_errf(e, -EMSGSIZE, "record.payload_length: %u but %zu bytes follow",
                                  n, len - WIRE_RECORD_HEADER_SIZE);
        key = buf[1];
        family = buf[2];
        if (!key_is_valid((int) key))
                return value_errf(e, -EINVAL, "record.key: %u is not profile, eq.custom or eq.active", key);
        if (!key_family_is_valid((int) key, (int) family))
                return value_errf(e, -EINVAL, "record.family: %u is not valid for %s",
                                  family, key_name((enum key) key));
        r = payload_layout((enum key) key, (enum family) family, buf + WIRE_RECORD_HEADER_SIZE, n, e);
        if (r < 0)
                value_err_prefix(e, "payload.");
        return r;
}

int wire_record_decode(const uint8_t *buf, size_t len, struct record *ret, struct value_err *e) {
        struct record rec;
        int r;

        r = record_layout(buf, len, e);
        if (r < 0)
                return r;
        if (buf[0] != WIRE_RECORD_VERSION)
                return value_errf(e, -EINVAL, "record.version: %u is not %u", buf[0], WIRE_RECORD_VERSION);
        if (buf[3] & ~FLAGS_VALID)
                return value_errf(e, -EINVAL, "record.flags: 0x%02x is reserved", buf[3] & ~FLAGS_VALID);
        r = payload_parse((enum key) buf[1], (enum family) buf[2], buf + WIRE_RECORD_HEADER_SIZE,
                          &rec.value, e);
        if (r < 0) {
                value_err_prefix(e, "payload.");
                return r;
        }
        rec.flags = buf[3];
        rec.revision = get_le32(buf + 4);
        rec.stamp.hlc = get_le64(buf + 8);
        rec.stamp.origin = get_le64(buf + 16);
        *ret = rec;
        return 0;
}

int wire_record_encode(const struct record *r, uint8_t *buf, size_t size) {
        size_t n;

        if (!r || value_validate(&r->value, NULL) < 0 || (r->flags & ~FLAGS_VALID))
                return -EINVAL;
        n = payload_size(&r->value);
        if (size < WIRE_RECORD_HEADER_SIZE + n)
                return -ENOBUFS;
        buf[0] = WIRE_RECORD_VERSION;
        buf[1] = (uint8_t) r->value.key;
        buf[2] = (uint8_t) r->value.family;
        buf[3] = r->flags;
        put_le32(buf + 4, r->revision);
        put_le64(buf + 8, r->stamp.hlc);
        put_le64(buf + 16, r->stamp.origin);
        put_le16(buf + 24, (uint16_t) n);
        payload_write(&r->value, buf + WIRE_RECORD_HEADER_SIZE);
        return (int) (WIRE_RECORD_HEADER_SIZE + n);
}

int wire_buds_info_decode(const uint8_t *buf, size_t len, struct buds_info *ret, struct value_err *e) {
        if (len != WIRE_BUDS_INFO_SIZE)
                return value_errf(e, -EMSGSIZE, "buds_info.length: %zu bytes but it needs %u",
                                  len, WIRE_BUDS_INFO_SIZE);
        if (buf[0] != WIRE_PROTOCOL_VERSION)
                return value_errf(e, -EINVAL, "buds_info.protocol: %u is not %u", buf[0], WIRE_PROTOCOL_VERSION);
        if (!family_is_device(buf[1]))
                return value_errf(e, -EINVAL, "buds_info.family: %u is not standard or pro", buf[1]);
        if (buf[10] != 0)
                return value_errf(e, -EINVAL, "buds_info.features: 0x%02x is reserved", buf[10]);
        *ret = (struct buds_info) {
                .protocol = buf[0],
                .family = buf[1],
                .buds_id = get_le64(buf + 2),
                .features = buf[10],
        };
        return 0;
}

int wire_buds_info_encode(const struct buds_info *bi, uint8_t out[WIRE_BUDS_INFO_SIZE]) {
        if (!bi || bi->protocol != WIRE_PROTOCOL_VERSION || !family_is_device(bi->family) || bi->features != 0)
                return -EINVAL;
        out[0] = bi->protocol;
        out[1] = bi->family;
        put_le64(out + 2, bi->buds_id);
        out[10] = bi->features;
        return WIRE_BUDS_INFO_SIZE;
}

/* Key and flags of a manifest entry or notification; seen (may be NULL)
 * collects the keys met so far, as bits. */
static int key_flags_check(const char *what, unsigned key, unsigned flags, unsigned *seen,
                           struct value_err *e) {
        if (!key_is_valid((int) key))
                return value_errf(e, -EINVAL, "%s.key: %u is not profile, eq.custom or eq.active", what, key);
        if (seen && (*seen & 1u << key))
                return value_errf(e, -EINVAL, "%s.key: %s appears twice", what, key_name((enum key) key));
        if (flags & ~FLAGS_VALID)
                return value_errf(e, -EINVAL, "%s.flags: 0x%02x is reserved", what, flags & ~FLAGS_VALID);
        if (seen)
                *seen |= 1u << key;
        return 0;
}

static int manifest_layout(const uint8_t *buf, size_t len, struct value_err *e) {
        size_t need;

        if (len < WIRE_MANIFEST_HEADER_SIZE)
                return value_errf(e, -EMSGSIZE, "manifest.length: %zu bytes but the header needs %u",
                                  len, WIRE_MANIFEST_HEADER_SIZE);
        if (buf[2] > WIRE_MANIFEST_MAX_ENTRIES)
                return value_errf(e, -EINVAL, "manifest.count: %u is outside 0..%u",
                                  buf[2], WIRE_MANIFEST_MAX_ENTRIES);
        need = WIRE_MANIFEST_HEADER_SIZE + (size_t) WIRE_MANIFEST_ENTRY_SIZE * buf[2];
        if (len != need)
                return value_errf(e, -EMSGSIZE, "manifest.length: %zu bytes but count %u needs %zu",
                                  len, buf[2], need);
        return 0;
}

static int manifest_header_check(const uint8_t *buf, struct value_err *e) {
        if (buf[0] != WIRE_MANIFEST_VERSION)
                return value_errf(e, -EINVAL, "manifest.version: %u is not %u", buf[0], WIRE_MANIFEST_VERSION);
        if (!family_is_device(buf[1]))
                return value_errf(e, -EINVAL, "manifest.family: %u is not standard or pro", buf[1]);
        if (buf[3] != 0)
                return value_errf(e, -EINVAL, "manifest.reserved: 0x%02x is reserved", buf[3]);
        return 0;
}

int wire_manifest_decode(const uint8_t *buf, size_t len, struct manifest *ret, struct value_err *e) {
        struct manifest m = {};
        unsigned seen = 0;
        char what[32];
        int r;

        r = manifest_layout(buf, len, e);
        if (r < 0)
                return r;
        r = manifest_header_check(buf, e);
        if (r < 0)
                return r;
        m.family = buf[1];
        m.count = buf[2];
        for (unsigned i = 0; i < m.count; i++) {
                const uint8_t *p = buf + WIRE_MANIFEST_HEADER_SIZE + WIRE_MANIFEST_ENTRY_SIZE * i;

                /* the field name is formatted only for a rejection */
                if (key_flags_check("", p[0], p[1], &seen, NULL) < 0) {
                        (void) snprintf(what, sizeof(what), "manifest.entry[%u]", i);
                        return key_flags_check(what, p[0], p[1], &seen, e);
                }
                m.entry[i] = (struct manifest_entry) {
                        .key = p[0],
                        .flags = p[1],
                        .revision = get_le32(p + 2),
                        .stamp = { .hlc = get_le64(p + 6), .origin = get_le64(p + 14) },
                };
        }
        *ret = m;
        return 0;
}

static bool manifest_ok(const struct manifest *m) {
        unsigned seen = 0;

        if (!family_is_device(m->family) || m->count > WIRE_MANIFEST_MAX_ENTRIES)
                return false;
        for (unsigned i = 0; i < m->count; i++)
                if (key_flags_check("manifest", m->entry[i].key, m->entry[i].flags, &seen, NULL) < 0)
                        return false;
        return true;
}

int wire_manifest_encode(const struct manifest *m, uint8_t *buf, size_t size) {
        size_t n;

        if (!m || !manifest_ok(m))
                return -EINVAL;
        n = WIRE_MANIFEST_HEADER_SIZE + (size_t) WIRE_MANIFEST_ENTRY_SIZE * m->count;
        if (size < n)
                return -ENOBUFS;
        buf[0] = WIRE_MANIFEST_VERSION;
        buf[1] = m->family;
        buf[2] = m->count;
        buf[3] = 0;
        for (unsigned i = 0; i < m->count; i++) {
                uint8_t *p = buf + WIRE_MANIFEST_HEADER_SIZE + WIRE_MANIFEST_ENTRY_SIZE * i;

                p[0] = m->entry[i].key;
                p[1] = m->entry[i].flags;
                put_le32(p + 2, m->entry[i].revision);
                put_le64(p + 6, m->entry[i].stamp.hlc);
                put_le64(p + 14, m->entry[i].stamp.origin);
        }
        return (int) n;
}

int wire_notify_decode(const uint8_t *buf, size_t len, struct manifest_notify *ret, struct value_err *e) {
        int r;

        if (len != WIRE_NOTIFY_SIZE)
                return value_errf(e, -EMSGSIZE, "notify.length: %zu bytes but it needs %u", len, WIRE_NOTIFY_SIZE);
        r = key_flags_check("notify", buf[0], buf[1], NULL, e);
        if (r < 0)
                return r;
        *ret = (struct manifest_notify) { .key = buf[0], .flags = buf[1], .revision = get_le32(buf + 2) };
        return 0;
}

int wire_notify_encode(const struct manifest_notify *n, uint8_t out[WIRE_NOTIFY_SIZE]) {
        if (!n || key_flags_check("notify", n->key, n->flags, NULL, NULL) < 0)
                return -EINVAL;
        out[0] = n->key;
        out[1] = n->flags;
        put_le32(out + 2, n->revision);
        return WIRE_NOTIFY_SIZE;
}
