/* SPDX-License-Identifier: MIT */
/* Binary codecs for every value of the Buds GATT profile (docs/protocol.md):
 * Buds Info, the Manifest (read and notify forms), records and their payloads.
 * Pure: no I/O, no allocation; links alone (syncd and fuzzers use it without
 * sd-bus). Every rejection names the field and why in a struct value_err.
 *
 * Return values of decoders: 0, -EMSGSIZE when the lengths do not add up
 * (a peer answers ATT 0x0D), -EINVAL for any other malformed or out-of-range
 * field (ATT 0x13). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "policy/value.h"

#define WIRE_PROTOCOL_VERSION 1
#define WIRE_RECORD_VERSION   1
#define WIRE_MANIFEST_VERSION 1

#define WIRE_BUDS_INFO_SIZE        11
#define WIRE_RECORD_HEADER_SIZE    26
#define WIRE_PAYLOAD_MAX           74   /* eq.active, pro, 10 bands: 1 + 3 + 70 */
#define WIRE_RECORD_MAX            (WIRE_RECORD_HEADER_SIZE + WIRE_PAYLOAD_MAX)
#define WIRE_MANIFEST_HEADER_SIZE  4
#define WIRE_MANIFEST_ENTRY_SIZE   22
#define WIRE_MANIFEST_MAX_ENTRIES  3    /* one per key; a key appears at most once */
#define WIRE_MANIFEST_MAX          (WIRE_MANIFEST_HEADER_SIZE + WIRE_MANIFEST_MAX_ENTRIES * WIRE_MANIFEST_ENTRY_SIZE)
#define WIRE_NOTIFY_SIZE           6

/* Buds Sync UUIDs (lower case, as BlueZ shows them) */
#define BUDS_SYNC_SERVICE_UUID  "4ba70001-795a-4b18-9d7e-be6cf3ffab40"
#define BUDS_INFO_UUID          "4ba70002-795a-4b18-9d7e-be6cf3ffab40"
#define BUDS_MANIFEST_UUID      "4ba70003-795a-4b18-9d7e-be6cf3ffab40"
#define BUDS_PROFILE_UUID       "4ba70010-795a-4b18-9d7e-be6cf3ffab40"
#define BUDS_EQ_CUSTOM_UUID     "4ba70011-795a-4b18-9d7e-be6cf3ffab40"
#define BUDS_EQ_ACTIVE_UUID     "4ba70012-795a-4b18-9d7e-be6cf3ffab40"
#define DIS_SERVICE_UUID        "0000180a-0000-1000-8000-00805f9b34fb"
#define DIS_MANUFACTURER_UUID   "00002a29-0000-1000-8000-00805f9b34fb"
#define DIS_MODEL_UUID          "00002a24-0000-1000-8000-00805f9b34fb"
#define DIS_SERIAL_UUID         "00002a25-0000-1000-8000-00805f9b34fb"
#define DIS_FIRMWARE_UUID       "00002a26-0000-1000-8000-00805f9b34fb"
#define BATTERY_SERVICE_UUID    "0000180f-0000-1000-8000-00805f9b34fb"
#define BATTERY_LEVEL_UUID      "00002a19-0000-1000-8000-00805f9b34fb"

/* ATT error codes the profile uses */
#define ATT_ECODE_INVALID_LENGTH  0x0d
#define ATT_ECODE_UNLIKELY        0x0e
#define ATT_ECODE_VALUE_NOT_ALLOWED 0x13
#define ATT_ECODE_STALE           0x80

struct buds_info {
        uint8_t protocol;       /* must be 1 */
        uint8_t family;         /* FAMILY_STANDARD or FAMILY_PRO */
        uint64_t buds_id;
        uint8_t features;       /* 0 in version 1 */
};

struct manifest_entry {
        uint8_t key;            /* enum key */
        uint8_t flags;          /* RECORD_DIRTY | RECORD_DERIVED */
        uint32_t revision;
        struct stamp stamp;
};

struct manifest {
        uint8_t family;
        uint8_t count;
        struct manifest_entry entry[WIRE_MANIFEST_MAX_ENTRIES];
};

struct manifest_notify {
        uint8_t key;
        uint8_t flags;
        uint32_t revision;
};

/* The UUID of the characteristic carrying key k, or NULL. */
const char *wire_key_uuid(enum key k);
/* The key carried by characteristic uuid (case-insensitive), or 0. */
int wire_key_from_uuid(const char *uuid);

int wire_buds_info_decode(const uint8_t *buf, size_t len, struct buds_info *ret, struct value_err *e);
/* Writes WIRE_BUDS_INFO_SIZE bytes. -EINVAL if bi is not valid. */
int wire_buds_info_encode(const struct buds_info *bi, uint8_t out[WIRE_BUDS_INFO_SIZE]);

int wire_manifest_decode(const uint8_t *buf, size_t len, struct manifest *ret, struct value_err *e);
/* Returns the encoded length (>0) or -EINVAL / -ENOBUFS. */
int wire_manifest_encode(const struct manifest *m, uint8_t *buf, size_t size);

int wire_notify_decode(const uint8_t *buf, size_t len, struct manifest_notify *ret, struct value_err *e);
int wire_notify_encode(const struct manifest_notify *n, uint8_t out[WIRE_NOTIFY_SIZE]);

/* Payload only, for a known key and family: the value's fields in wire units. */
int wire_value_decode(enum key key, enum family family, const uint8_t *buf, size_t len,
                      struct value *ret, struct value_err *e);
/* Returns the encoded length or -EINVAL (value_check fails) / -ENOBUFS. */
int wire_value_encode(const struct value *v, uint8_t *buf, size_t size);

/* Whole record (header and payload). The decoder checks the version, key,
 * family for the key, reserved flag bits, the payload length against len, and
 * the payload. It does not know which characteristic it came from: the caller
 * compares ret->value.key with it. */
int wire_record_decode(const uint8_t *buf, size_t len, struct record *ret, struct value_err *e);
/* Returns the encoded length or -EINVAL / -ENOBUFS. flags are written as given
 * (a bridge writes only RECORD_DERIVED; the Buds may report RECORD_DIRTY). */
int wire_record_encode(const struct record *r, uint8_t *buf, size_t size);
