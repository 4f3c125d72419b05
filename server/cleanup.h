/* The _cleanup_ helpers of syncd (systemd's idiom, the few we need): a
 * variable released when it goes out of scope, and TAKE_PTR to hand it on.
 * Only inline definitions; no state. */
#pragma once

#include <stdio.h>
#include <stdlib.h>

#include <cjson/cJSON.h>

#define _cleanup_(f) __attribute__((cleanup(f)))

#define TAKE_PTR(p) ({                          \
                __typeof__(p) _p_ = (p);        \
                (p) = NULL;                     \
                _p_;                            \
        })

static inline void freep(void *p) {
        free(*(void **) p);
}

static inline void fclosep(FILE **f) {
        if (*f)
                (void) fclose(*f);
}

static inline void cJSON_Deletep(cJSON **j) {
        cJSON_Delete(*j);
}
