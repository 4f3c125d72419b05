/* SPDX-License-Identifier: MIT */
/* The shared parametric EQ vectors (docs/vectors/parametric-eq.json, also
 * handed to the phone app team) against codec/parametric.c: each valid text
 * reads as its value with a rounding note on exactly the lines listed, the
 * value prints as the given text, and that text reads back as the value with
 * nothing rounded; each invalid text is refused at its line with its class.
 * Run from the top of the tree. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "codec/parametric.h"
#include "codec/recjson.h"
#include "tests/lib/vectors.h"

#define VECTORS_PATH "docs/vectors/parametric-eq.json"

static int setup(void **state) {
        *state = vectors_load(VECTORS_PATH);
        return 0;
}

static int teardown(void **state) {
        cJSON_Delete(*state);
        return 0;
}

/* The case's "value" as a pro eq.custom value. */
static struct value expected_value(const cJSON *c, const char *name) {
        struct value_err e = { { 0 } };
        struct value v;

        if (recjson_value_from(cJSON_GetObjectItemCaseSensitive(c, "value"), KEY_EQ_CUSTOM, FAMILY_PRO, &v, &e) < 0)
                fail_msg("%s: the vector's value is not a pro EQ: %s", name, e.msg);
        return v;
}

/* Whether the notes are on exactly the lines of "rounded", in order. */
static bool notes_on(const struct parametric_notes *notes, const cJSON *lines) {
        const cJSON *l;
        unsigned i = 0;

        cJSON_ArrayForEach(l, lines)
                if (i >= notes->n || !cJSON_IsNumber(l) || notes->note[i++].line != (unsigned) l->valueint)
                        return false;
        return i == notes->n;
}

static struct value as_value(const struct eq_pro *p) {
        struct value v;

        value_init(&v, KEY_EQ_CUSTOM, FAMILY_PRO);
        v.custom.pro = *p;
        return v;
}

/* The printed text reads back as want, with nothing rounded. */
static bool reads_back(const char *print, const struct value *want) {
        struct parametric_notes notes;
        struct value got;
        struct eq_pro p;

        if (parametric_parse(print, strlen(print), &p, &notes, NULL) < 0)
                return false;
        got = as_value(&p);
        return value_equal(&got, want) && notes.n == 0;
}

/* 0, or 1 after saying what is wrong with the case */
static int check_valid(const cJSON *c) {
        const char *name = vectors_string(c, "name"), *text = vectors_string(c, "text");
        const char *print = vectors_string(c, "print");
        struct value want = expected_value(c, name), got;
        struct parametric_err e = { 0 };
        struct parametric_notes notes;
        struct eq_pro p;
        char *printed;
        int bad = 0;

        if (parametric_parse(text, strlen(text), &p, &notes, &e) < 0)
                return vectors_complain("%s: refused at line %u: %s\n", name, e.line, e.msg);
        got = as_value(&p);
        if (!value_equal(&got, &want))
                bad |= vectors_complain("%s: reads as another value\n", name);
        if (!notes_on(&notes, cJSON_GetObjectItemCaseSensitive(c, "rounded")))
                bad |= vectors_complain("%s: %u rounding notes, not on the lines listed\n", name, notes.n);
        printed = parametric_print(&want.custom.pro);
        if (!printed || strcmp(printed, print) != 0)
                bad |= vectors_complain("%s: prints as\n%s  want\n%s", name, printed ? printed : "(NULL)\n", print);
        free(printed);
        if (!reads_back(print, &want))
                bad |= vectors_complain("%s: the printed text does not read back as the value, unrounded\n", name);
        return bad;
}

static void test_valid(void **state) {
        const cJSON *c;
        int failed = 0;

        cJSON_ArrayForEach(c, vectors_cases(*state, "valid", 10))
                failed += check_valid(c);
        assert_int_equal(failed, 0);
}

static int check_invalid(const cJSON *c) {
        const char *name = vectors_string(c, "name"), *text = vectors_string(c, "text");
        const char *error = vectors_string(c, "error");
        const cJSON *line = cJSON_GetObjectItemCaseSensitive(c, "line");
        struct parametric_err e = { 0 };
        struct eq_pro p;
        int r = parametric_parse(text, strlen(text), &p, NULL, &e);

        assert_true(cJSON_IsNumber(line));
        if (r != -EINVAL || e.line != (unsigned) line->valueint || !parametric_fault_name(e.fault) ||
            strcmp(parametric_fault_name(e.fault), error) != 0 || !e.msg[0])
                return vectors_complain("%s: returned %d, line %u, %s (%s); want line %d, %s\n", name, r, e.line,
                                parametric_fault_name(e.fault) ?: "?", e.msg, line->valueint, error);
        return 0;
}

static void test_invalid(void **state) {
        const cJSON *c;
        int failed = 0;

        cJSON_ArrayForEach(c, vectors_cases(*state, "invalid", 30))
                failed += check_invalid(c);
        assert_int_equal(failed, 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_valid),
                cmocka_unit_test(test_invalid),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
