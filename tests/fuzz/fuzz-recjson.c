/* SPDX-License-Identifier: MIT */
/* libFuzzer target for codec/recjson.c: any input either is rejected with a
 * message or is a record whose printed form parses back to the same record
 * and prints to the same text. Built with ASan and UBSan, so an over-read of
 * text that has no NUL at its end is caught too. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec/recjson.h"

static bool record_equal(const struct record *a, const struct record *b) {
        return value_equal(&a->value, &b->value) && stamp_eq(a->stamp, b->stamp) &&
               a->flags == b->flags && a->revision == b->revision;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct value_err e = { { 0 } };
        struct record r, back;
        char *text, *again;

        if (recjson_record_parse((const char *) data, size, &r, &e) < 0) {
                if (!e.msg[0])
                        abort();        /* every rejection says why */
                return 0;
        }
        text = recjson_record_print(&r);
        if (!text || recjson_record_parse(text, strlen(text), &back, NULL) < 0 || !record_equal(&r, &back))
                abort();
        again = recjson_record_print(&back);
        if (!again || strcmp(text, again) != 0)
                abort();
        free(again);
        free(text);
        return 0;
}
