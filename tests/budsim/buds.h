/* SPDX-License-Identifier: MIT */
/* The Buds of the GATT profile as a pure state machine: the three items with
 * revision, flags and stamp, compare-and-set writes, changes made on the Buds,
 * factory reset, the Manifest, Buds Info, Device Information and battery.
 * Used by budsim's D-Bus front (and later by a GATT peripheral front); it
 * must never do I/O or know D-Bus: changes are reported through a callback. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec/wire.h"
#include "policy/value.h"

/* Every readable attribute of the Buds. */
enum buds_attr {
        BUDS_ATTR_MANUFACTURER,
        BUDS_ATTR_MODEL,
        BUDS_ATTR_SERIAL,
        BUDS_ATTR_FIRMWARE,
        BUDS_ATTR_BATTERY,
        BUDS_ATTR_INFO,
        BUDS_ATTR_MANIFEST,
        BUDS_ATTR_PROFILE,
        BUDS_ATTR_EQ_CUSTOM,
        BUDS_ATTR_EQ_ACTIVE,
        _BUDS_ATTR_MAX,
};

/* Largest value of any attribute. */
#define BUDS_VALUE_MAX 128

struct buds;

/* An item changed (whoever changed it): notify holds the Manifest notify
 * form (key, flags, revision). */
typedef void (*buds_item_changed_func_t)(struct buds *b, const uint8_t notify[WIRE_NOTIFY_SIZE],
                                         void *userdata);
/* The battery level changed. */
typedef void (*buds_battery_changed_func_t)(struct buds *b, uint8_t level, void *userdata);

/* family: FAMILY_STANDARD or FAMILY_PRO. -EINVAL otherwise. */
int buds_new(enum family family, uint64_t buds_id, struct buds **ret);
struct buds *buds_free(struct buds *b);

void buds_set_callbacks(struct buds *b, buds_item_changed_func_t item_changed,
                        buds_battery_changed_func_t battery_changed, void *userdata);

enum family buds_family(const struct buds *b);
uint64_t buds_id(const struct buds *b);

/* The attribute's value as a read returns it. Returns the length or -ENOBUFS. */
int buds_read(const struct buds *b, enum buds_attr attr, uint8_t *buf, size_t size);

/* A write request of value to the item characteristic key. Returns 0 or the
 * rejection: -EMSGSIZE (ATT 0x0d), -EINVAL (0x13), -ESTALE (0x80);
 * -EOPNOTSUPP when key is not an item. e (may be NULL) says why. */
int buds_write(struct buds *b, enum key key, const uint8_t *value, size_t len, struct value_err *e);

/* A change made on the Buds (touch controls): payload in wire form for the
 * item's family. DIRTY set, DERIVED cleared, revision+1, stamp kept. */
int buds_touch(struct buds *b, enum key key, const uint8_t *payload, size_t len, struct value_err *e);

/* pristine=false: every item to factory values as a change on the Buds
 * (DIRTY, revision+1, stamp kept). pristine=true: as new Buds (stamp 0,
 * flags 0, revision+1). Notifies every item. */
void buds_factory_reset(struct buds *b, bool pristine);

/* Test setup: the record (well-formed, this key, the Buds' family, revision
 * >= 1, flags DIRTY|DERIVED only) replaces the item as is. No notify. */
int buds_set_record(struct buds *b, enum key key, const uint8_t *rec, size_t len, struct value_err *e);
int buds_get_record(const struct buds *b, enum key key, struct record *ret);

/* 0..100, else -EINVAL. Reports through battery_changed every time. */
int buds_set_battery(struct buds *b, uint8_t level);

/* Maps a buds_write() rejection to its ATT error code (0 for 0). */
uint8_t buds_att_ecode(int r);

/* The attribute carrying key, and back (-EINVAL if none). */
enum buds_attr buds_attr_from_key(enum key key);
int buds_attr_to_key(enum buds_attr attr);

/* "manufacturer", "model", ..., "profile", "eq.custom", "eq.active"; and back. */
const char *buds_attr_name(enum buds_attr attr);
int buds_attr_from_name(const char *name, enum buds_attr *ret);
