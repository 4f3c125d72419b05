/* SPDX-License-Identifier: MIT */
/* Tests of codec/merge-patch.c: the examples of RFC 7396's Appendix A, each
 * compared as JSON (member order aside), and a patch applied to no document. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "codec/merge-patch.h"

static void check(const char *target, const char *patch, const char *expected) {
        cJSON *t = target ? cJSON_Parse(target) : NULL, *p = cJSON_Parse(patch), *e = cJSON_Parse(expected), *got;

        assert_true(!target || t);
        assert_non_null(p);
        assert_non_null(e);
        got = merge_patch_apply(t, p);
        assert_non_null(got);
        if (!cJSON_Compare(got, e, 1)) {
                char *text = cJSON_PrintUnformatted(got);

                fail_msg("%s + %s: got %s, expected %s", target ? target : "(none)", patch, text, expected);
        }
        cJSON_Delete(got);
        cJSON_Delete(p);
        cJSON_Delete(e);
}

static void test_rfc7396_appendix_a(void **state) {
        static const char *const cases[][3] = {
                { "{\"a\":\"b\"}", "{\"a\":\"c\"}", "{\"a\":\"c\"}" },
                { "{\"a\":\"b\"}", "{\"b\":\"c\"}", "{\"a\":\"b\",\"b\":\"c\"}" },
                { "{\"a\":\"b\"}", "{\"a\":null}", "{}" },
                { "{\"a\":\"b\",\"b\":\"c\"}", "{\"a\":null}", "{\"b\":\"c\"}" },
                { "{\"a\":[\"b\"]}", "{\"a\":\"c\"}", "{\"a\":\"c\"}" },
                { "{\"a\":\"c\"}", "{\"a\":[\"b\"]}", "{\"a\":[\"b\"]}" },
                { "{\"a\":{\"b\":\"c\"}}", "{\"a\":{\"b\":\"d\",\"c\":null}}", "{\"a\":{\"b\":\"d\"}}" },
                { "{\"a\":[{\"b\":\"c\"}]}", "{\"a\":[1]}", "{\"a\":[1]}" },
                { "[\"a\",\"b\"]", "[\"c\",\"d\"]", "[\"c\",\"d\"]" },
                { "{\"a\":\"b\"}", "[\"c\"]", "[\"c\"]" },
                { "{\"a\":\"foo\"}", "null", "null" },
                { "{\"a\":\"foo\"}", "\"bar\"", "\"bar\"" },
                { "{\"e\":null}", "{\"a\":1}", "{\"e\":null,\"a\":1}" },
                { "[1,2]", "{\"a\":\"b\",\"c\":null}", "{\"a\":\"b\"}" },
                { "{}", "{\"a\":{\"bb\":{\"ccc\":null}}}", "{\"a\":{\"bb\":{}}}" },
        };

        (void) state;
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
                check(cases[i][0], cases[i][1], cases[i][2]);
}

/* Patch() on an item that has no value yet starts from nothing. */
static void test_no_target(void **state) {
        (void) state;
        check(NULL, "{\"preset\":\"voice\",\"eq\":null}", "{\"preset\":\"voice\"}");
        check(NULL, "[1]", "[1]");
}

/* The patch is only read: applying it twice gives the same. */
static void test_patch_untouched(void **state) {
        cJSON *p = cJSON_Parse("{\"touch\":{\"left\":\"next\"},\"name\":null}");
        char *before = cJSON_PrintUnformatted(p), *after;
        cJSON *t = cJSON_Parse("{\"touch\":{\"left\":\"none\",\"right\":\"none\"},\"name\":\"x\"}");

        (void) state;
        t = merge_patch_apply(t, p);
        t = merge_patch_apply(t, p);
        assert_non_null(t);
        after = cJSON_PrintUnformatted(p);
        assert_string_equal(before, after);
        free(before);
        free(after);
        cJSON_Delete(t);
        cJSON_Delete(p);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_rfc7396_appendix_a),
                cmocka_unit_test(test_no_target),
                cmocka_unit_test(test_patch_untouched),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
