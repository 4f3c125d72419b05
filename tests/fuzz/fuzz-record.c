/* SPDX-License-Identifier: MIT */
/* libFuzzer harness of the record codec (codec/wire.c): whatever the bytes,
 * wire_record_decode either rejects them with -EMSGSIZE or -EINVAL and a
 * message, or accepts a valid value that encodes back to the very same bytes,
 * and any shorter or longer input is then a length error. The first byte
 * also picks a key and family for the payload-only decoder of the rest.
 * Every broken invariant aborts. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_rejection(int r, const struct value_err *e) {
        if (r != -EMSGSIZE && r != -EINVAL)
                abort();
        if (e->msg[0] == '\0' || strnlen(e->msg, sizeof(e->msg)) == sizeof(e->msg))
                abort();
}

static void check_record(const uint8_t *data, size_t size) {
        uint8_t out[WIRE_RECORD_MAX + 1];
        struct value_err e = { { 0 } };
        struct record r, back;
        int n;

        n = wire_record_decode(data, size, &r, &e);
        if (n < 0) {
                check_rejection(n, &e);
                return;
        }
        if (n != 0 || size > WIRE_RECORD_MAX || value_check(&r.value, NULL) < 0 || (r.flags & ~3u))
                abort();
        n = wire_record_encode(&r, out, sizeof(out));
        if (n < 0 || (size_t) n != size || memcmp(out, data, size) != 0)
                abort();
        if (wire_record_encode(&r, out, size - 1) != -ENOBUFS)
                abort();
        if (wire_record_decode(out, size, &back, NULL) != 0 || !value_equal(&r.value, &back.value) ||
            !stamp_eq(r.stamp, back.stamp) || r.flags != back.flags || r.revision != back.revision)
                abort();
        /* one byte less or more never adds up */
        if (wire_record_decode(data, size - 1, &back, NULL) != -EMSGSIZE)
                abort();
        out[size] = data[size - 1];
        if (wire_record_decode(out, size + 1, &back, NULL) != -EMSGSIZE)
                abort();
}

static void check_payload(const uint8_t *data, size_t size) {
        uint8_t out[WIRE_PAYLOAD_MAX];
        struct value_err e = { { 0 } };
        enum key key = (enum key) (data[0] & 3);
        enum family family = (enum family) (data[0] >> 2 & 3);
        struct value v;
        int n;

        n = wire_value_decode(key, family, data + 1, size - 1, &v, &e);
        if (n < 0) {
                check_rejection(n, &e);
                return;
        }
        if (n != 0 || v.key != key || v.family != family || value_check(&v, NULL) < 0)
                abort();
        n = wire_value_encode(&v, out, sizeof(out));
        if (n < 0 || (size_t) n != size - 1 || memcmp(out, data + 1, size - 1) != 0)
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        check_record(data, size);
        if (size >= 1)
                check_payload(data, size);
        return 0;
}
