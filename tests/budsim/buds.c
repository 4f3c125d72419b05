/* SPDX-License-Identifier: MIT */
/* The simulated Buds: items, compare-and-set, changes on the Buds, Manifest
 * and the SIG services, exactly as the GATT profile says. Pure: no I/O, no
 * D-Bus, no clock; the only way out is the change callbacks. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buds.h"

#define BUDS_ITEMS (KEY_MAX + 1)

struct buds {
        enum family family;
        uint64_t buds_id;
        uint8_t battery;
        struct record item[BUDS_ITEMS];         /* by enum key; [0] unused */
        buds_item_changed_func_t item_changed;
        buds_battery_changed_func_t battery_changed;
        void *userdata;
};

static const char *const attr_names[_BUDS_ATTR_MAX] = {
        [BUDS_ATTR_MANUFACTURER] = "manufacturer",
        [BUDS_ATTR_MODEL] = "model",
        [BUDS_ATTR_SERIAL] = "serial",
        [BUDS_ATTR_FIRMWARE] = "firmware",
        [BUDS_ATTR_BATTERY] = "battery",
        [BUDS_ATTR_INFO] = "info",
        [BUDS_ATTR_MANIFEST] = "manifest",
        [BUDS_ATTR_PROFILE] = "profile",
        [BUDS_ATTR_EQ_CUSTOM] = "eq.custom",
        [BUDS_ATTR_EQ_ACTIVE] = "eq.active",
};

const char *buds_attr_name(enum buds_attr attr) {
        if ((unsigned) attr >= _BUDS_ATTR_MAX)
                return NULL;
        return attr_names[attr];
}

int buds_attr_from_name(const char *name, enum buds_attr *ret) {
        for (unsigned i = 0; name && i < _BUDS_ATTR_MAX; i++)
                if (strcmp(name, attr_names[i]) == 0) {
                        *ret = (enum buds_attr) i;
                        return 0;
                }
        return -EINVAL;
}

enum buds_attr buds_attr_from_key(enum key key) {
        return (enum buds_attr) (BUDS_ATTR_PROFILE + (key - KEY_PROFILE));
}

int buds_attr_to_key(enum buds_attr attr) {
        if (attr < BUDS_ATTR_PROFILE || attr > BUDS_ATTR_EQ_ACTIVE)
                return -EINVAL;
        return KEY_PROFILE + (int) (attr - BUDS_ATTR_PROFILE);
}

static void factory_eq(union eq_params *eq, enum family family) {
        if (family == FAMILY_PRO) {
                eq->pro.preamp = 0;
                eq->pro.count = 1;
                eq->pro.band[0] = (struct eq_band) {
                        .type = BAND_PEAK, .freq_hz = 1000, .gain = 0, .q100 = 71,
                };
        }
        /* standard: value_init's zero gains are flat already */
}

static void factory_value(struct value *v, enum key key, enum family family) {
        value_init(v, key, key == KEY_PROFILE ? FAMILY_ANY : family);
        switch (key) {
        case KEY_PROFILE:
                v->profile.touch_left = TOUCH_PLAY_PAUSE;
                v->profile.touch_right = TOUCH_NOISE_CONTROL;
                break;
        case KEY_EQ_CUSTOM:
                factory_eq(&v->custom, family);
                break;
        case KEY_EQ_ACTIVE:
                v->active.preset = PRESET_FLAT;
                break;
        }
}

int buds_new(enum family family, uint64_t id, struct buds **ret) {
        struct buds *b;

        if (family != FAMILY_STANDARD && family != FAMILY_PRO)
                return -EINVAL;
        b = calloc(1, sizeof(*b));
        if (!b)
                return -ENOMEM;
        b->family = family;
        b->buds_id = id;
        b->battery = 100;
        for (int k = KEY_MIN; k <= KEY_MAX; k++) {
                factory_value(&b->item[k].value, (enum key) k, family);
                b->item[k].revision = 1;
        }
        *ret = b;
        return 0;
}

struct buds *buds_free(struct buds *b) {
        free(b);
        return NULL;
}

void buds_set_callbacks(struct buds *b, buds_item_changed_func_t item_changed,
                        buds_battery_changed_func_t battery_changed, void *userdata) {
        b->item_changed = item_changed;
        b->battery_changed = battery_changed;
        b->userdata = userdata;
}

enum family buds_family(const struct buds *b) {
        return b->family;
}

uint64_t buds_id(const struct buds *b) {
        return b->buds_id;
}

static int read_string(const char *s, uint8_t *buf, size_t size) {
        size_t n = strlen(s);

        if (n > size)
                return -ENOBUFS;
        memcpy(buf, s, n);
        return (int) n;
}

static int read_info(const struct buds *b, uint8_t *buf, size_t size) {
        struct buds_info bi = {
                .protocol = WIRE_PROTOCOL_VERSION, .family = (uint8_t) b->family,
                .buds_id = b->buds_id, .features = 0,
        };
        int r;

        if (size < WIRE_BUDS_INFO_SIZE)
                return -ENOBUFS;
        r = wire_buds_info_encode(&bi, buf);
        return r < 0 ? r : WIRE_BUDS_INFO_SIZE;
}

static int read_manifest(const struct buds *b, uint8_t *buf, size_t size) {
        struct manifest m = { .family = (uint8_t) b->family, .count = KEY_MAX };

        for (int k = KEY_MIN; k <= KEY_MAX; k++)
                m.entry[k - KEY_MIN] = (struct manifest_entry) {
                        .key = (uint8_t) k, .flags = b->item[k].flags,
                        .revision = b->item[k].revision, .stamp = b->item[k].stamp,
                };
        return wire_manifest_encode(&m, buf, size);
}

static int read_text(const struct buds *b, enum buds_attr attr, uint8_t *buf, size_t size) {
        char serial[17];

        switch (attr) {
        case BUDS_ATTR_MANUFACTURER:
                return read_string("Budsim", buf, size);
        case BUDS_ATTR_MODEL:
                return read_string(b->family == FAMILY_PRO ? "Buds Pro" : "Buds Standard", buf, size);
        case BUDS_ATTR_SERIAL:
                snprintf(serial, sizeof(serial), "%016llx", (unsigned long long) b->buds_id);
                return read_string(serial, buf, size);
        default:
                return read_string("1.0.0", buf, size);
        }
}

int buds_read(const struct buds *b, enum buds_attr attr, uint8_t *buf, size_t size) {
        int k = buds_attr_to_key(attr);

        if (k > 0)
                return wire_record_encode(&b->item[k], buf, size);
        switch (attr) {
        case BUDS_ATTR_BATTERY:
                if (size < 1)
                        return -ENOBUFS;
                buf[0] = b->battery;
                return 1;
        case BUDS_ATTR_INFO:
                return read_info(b, buf, size);
        case BUDS_ATTR_MANIFEST:
                return read_manifest(b, buf, size);
        default:
                return read_text(b, attr, buf, size);
        }
}

static void item_changed(struct buds *b, enum key key) {
        struct manifest_notify n = {
                .key = (uint8_t) key, .flags = b->item[key].flags, .revision = b->item[key].revision,
        };
        uint8_t out[WIRE_NOTIFY_SIZE];

        if (wire_notify_encode(&n, out) < 0 || !b->item_changed)
                return;
        b->item_changed(b, out, b->userdata);
}

static enum family item_family(const struct buds *b, enum key key) {
        return key == KEY_PROFILE ? FAMILY_ANY : b->family;
}

/* A decoded record that this characteristic of these Buds may hold. */
static int record_check(const struct buds *b, enum key key, const uint8_t *buf, size_t len,
                        struct record *ret, struct value_err *e) {
        struct record r;
        int q;

        q = wire_record_decode(buf, len, &r, e);
        if (q < 0)
                return q == -EMSGSIZE ? -EMSGSIZE : -EINVAL;
        if (r.value.key != key)
                return value_errf(e, -EINVAL, "key: %u is not %s", r.value.key, key_name(key));
        if (r.value.family != item_family(b, key))
                return value_errf(e, -EINVAL, "family: %u is not %u", r.value.family,
                                  item_family(b, key));
        *ret = r;
        return 0;
}

int buds_write(struct buds *b, enum key key, const uint8_t *value, size_t len, struct value_err *e) {
        struct record r;
        int q;

        if (!key_is_valid((int) key))
                return -EOPNOTSUPP;
        q = record_check(b, key, value, len, &r, e);
        if (q < 0)
                return q;
        if (r.flags & ~RECORD_DERIVED)
                return value_errf(e, -EINVAL, "flags: 0x%02x carries more than DERIVED", r.flags);
        if (r.revision != b->item[key].revision)
                return value_errf(e, -ESTALE, "revision: %u is not the current %u", r.revision,
                                  b->item[key].revision);
        r.revision = b->item[key].revision + 1;
        b->item[key] = r;
        item_changed(b, key);
        return 0;
}

int buds_touch(struct buds *b, enum key key, const uint8_t *payload, size_t len, struct value_err *e) {
        struct value v;
        int r;

        if (!key_is_valid((int) key))
                return value_errf(e, -EINVAL, "key: %u is not an item", (unsigned) key);
        r = wire_value_decode(key, item_family(b, key), payload, len, &v, e);
        if (r < 0)
                return r;
        b->item[key].value = v;
        b->item[key].flags = RECORD_DIRTY;
        b->item[key].revision++;
        item_changed(b, key);
        return 0;
}

void buds_factory_reset(struct buds *b, bool pristine) {
        for (int k = KEY_MIN; k <= KEY_MAX; k++) {
                struct record *r = &b->item[k];

                factory_value(&r->value, (enum key) k, b->family);
                r->flags = pristine ? 0 : RECORD_DIRTY;
                if (pristine)
                        r->stamp = STAMP_FACTORY;
                r->revision++;
        }
        for (int k = KEY_MIN; k <= KEY_MAX; k++)
                item_changed(b, (enum key) k);
}

int buds_set_record(struct buds *b, enum key key, const uint8_t *rec, size_t len, struct value_err *e) {
        struct record r;
        int q;

        if (!key_is_valid((int) key))
                return value_errf(e, -EINVAL, "key: %u is not an item", (unsigned) key);
        q = record_check(b, key, rec, len, &r, e);
        if (q < 0)
                return q;
        if (r.revision == 0)
                return value_errf(e, -EINVAL, "revision: 0 is not a Buds revision");
        b->item[key] = r;
        return 0;
}

int buds_get_record(const struct buds *b, enum key key, struct record *ret) {
        if (!key_is_valid((int) key))
                return -EINVAL;
        *ret = b->item[key];
        return 0;
}

int buds_set_battery(struct buds *b, uint8_t level) {
        if (level > 100)
                return -EINVAL;
        b->battery = level;
        if (b->battery_changed)
                b->battery_changed(b, level, b->userdata);
        return 0;
}

uint8_t buds_att_ecode(int r) {
        switch (r) {
        case 0:
                return 0;
        case -EMSGSIZE:
                return ATT_ECODE_INVALID_LENGTH;
        case -ESTALE:
                return ATT_ECODE_STALE;
        case -EINVAL:
                return ATT_ECODE_VALUE_NOT_ALLOWED;
        default:
                return ATT_ECODE_UNLIKELY;
        }
}
