/* SPDX-License-Identifier: MIT */
/* libFuzzer target for codec/parametric.c: any text is either refused with
 * a fault and a message, or read into pro EQ parameters that pass
 * value_check, print to a text that reads back to the same parameters, and
 * print the same again. Built with ASan and UBSan: the parser gets no NUL at
 * the end of its input, so an over-read shows. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec/parametric.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct parametric_err e = { 0 };
        struct parametric_notes notes;
        struct eq_pro p, back;
        struct value v;
        char *text, *again;

        if (parametric_parse((const char *) data, size, &p, &notes, &e) < 0) {
                if (!e.msg[0] || !parametric_fault_name(e.fault))
                        abort();        /* every refusal says why, in a named class */
                return 0;
        }
        value_init(&v, KEY_EQ_CUSTOM, FAMILY_PRO);
        v.custom.pro = p;
        if (value_check(&v, NULL) < 0)
                abort();
        text = parametric_print(&p);
        if (!text || parametric_parse(text, strlen(text), &back, NULL, NULL) < 0 ||
            memcmp(&p, &back, sizeof(p)) != 0)
                abort();
        again = parametric_print(&back);
        if (!again || strcmp(text, again) != 0)
                abort();
        free(again);
        free(text);
        return 0;
}
