/* SPDX-License-Identifier: MIT */
/* libFuzzer harness of the Manifest (read and notify forms) and Buds Info
 * decoders (codec/wire.c): every input is either rejected with -EMSGSIZE or
 * -EINVAL and a message, or accepted and encoded back to the very same bytes;
 * an accepted input one byte shorter or longer is a length error. Every broken
 * invariant aborts. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool rejected(int r, const struct value_err *e) {
        if (r == 0)
                return false;
        if (r != -EMSGSIZE && r != -EINVAL)
                abort();
        if (e->msg[0] == '\0' || strnlen(e->msg, sizeof(e->msg)) == sizeof(e->msg))
                abort();
        return true;
}

static void check_same(int n, const uint8_t *out, const uint8_t *data, size_t size) {
        if (n < 0 || (size_t) n != size || memcmp(out, data, size) != 0)
                abort();
}

static void check_manifest(const uint8_t *data, size_t size) {
        uint8_t out[WIRE_MANIFEST_MAX + 1];
        struct value_err e = { { 0 } };
        struct manifest m, back;
        unsigned seen = 0;

        if (rejected(wire_manifest_decode(data, size, &m, &e), &e))
                return;
        if (m.count > WIRE_MANIFEST_MAX_ENTRIES || (m.family != FAMILY_STANDARD && m.family != FAMILY_PRO))
                abort();
        for (unsigned i = 0; i < m.count; i++) {
                if (!key_is_valid(m.entry[i].key) || (seen & 1u << m.entry[i].key) || (m.entry[i].flags & ~3u))
                        abort();
                seen |= 1u << m.entry[i].key;
        }
        check_same(wire_manifest_encode(&m, out, sizeof(out)), out, data, size);
        if (wire_manifest_encode(&m, out, size - 1) != -ENOBUFS)
                abort();
        if (wire_manifest_decode(data, size - 1, &back, NULL) != -EMSGSIZE)
                abort();
        out[size] = 0;
        if (wire_manifest_decode(out, size + 1, &back, NULL) != -EMSGSIZE)
                abort();
}

static void check_notify(const uint8_t *data, size_t size) {
        uint8_t out[WIRE_NOTIFY_SIZE];
        struct value_err e = { { 0 } };
        struct manifest_notify n;

        if (rejected(wire_notify_decode(data, size, &n, &e), &e))
                return;
        if (!key_is_valid(n.key) || (n.flags & ~3u))
                abort();
        check_same(wire_notify_encode(&n, out), out, data, size);
}

static void check_buds_info(const uint8_t *data, size_t size) {
        uint8_t out[WIRE_BUDS_INFO_SIZE];
        struct value_err e = { { 0 } };
        struct buds_info bi;

        if (rejected(wire_buds_info_decode(data, size, &bi, &e), &e))
                return;
        if (bi.protocol != 1 || bi.features != 0 || (bi.family != FAMILY_STANDARD && bi.family != FAMILY_PRO))
                abort();
        check_same(wire_buds_info_encode(&bi, out), out, data, size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        check_manifest(data, size);
        check_notify(data, size);
        check_buds_info(data, size);
        return 0;
}
