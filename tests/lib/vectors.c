/* SPDX-License-Identifier: MIT */
/* Reading the shared vectors in a cmocka test (vectors.h). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vectors.h"

cJSON *vectors_load(const char *path) {
        FILE *f = fopen(path, "re");
        char *text = NULL;
        size_t size = 0, n;
        cJSON *j;

        if (!f)
                fail_msg("cannot open %s (tests run from the top of the tree): %s", path, strerror(errno));
        do {
                text = realloc(text, size + 65536);
                assert_non_null(text);
                n = fread(text + size, 1, 65536, f);
                size += n;
        } while (n > 0);
        (void) fclose(f);
        j = cJSON_ParseWithLength(text, size);
        free(text);
        if (!j)
                fail_msg("%s is not valid JSON", path);
        return j;
}

const cJSON *vectors_member(const cJSON *obj, const char *name) {
        const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, name);

        if (!j)
                fail_msg("no member \"%s\"%s%s", name, obj && obj->string ? " in " : "",
                         obj && obj->string ? obj->string : "");
        return j;
}

const char *vectors_string(const cJSON *obj, const char *name) {
        const char *s = cJSON_GetStringValue(vectors_member(obj, name));

        if (!s)
                fail_msg("member \"%s\" is not a string", name);
        return s;
}

const cJSON *vectors_cases(const cJSON *obj, const char *name, int at_least) {
        const cJSON *a = vectors_member(obj, name);

        if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) < at_least)
                fail_msg("\"%s\" is not a list of at least %d cases", name, at_least);
        return a;
}

int vectors_complain(const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        vprint_error(fmt, ap);
        va_end(ap);
        return 1;
}
