/* SPDX-License-Identifier: MIT */
/* Tests of access.c: every kind of caller against both needs, with and
 * without a group "bridged" on the machine. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "bridged/access.h"

#define SELF 120
#define GROUP 130
#define USER 1000
#define OTHER_GROUP 100

static void test_table(void **state) {
        static const gid_t member[] = { USER, OTHER_GROUP, GROUP }, plain[] = { USER, OTHER_GROUP };
        static const struct {
                const char *who;
                struct access_caller caller;
                bool read, change;      /* with the group present */
                bool read_no_group, change_no_group;
        } cases[] = {
                { "root", { 0, NULL, 0, false }, true, true, true, true },
                { "the daemon's own user", { SELF, NULL, 0, false }, true, true, true, true },
                { "a member of group bridged", { USER, member, 3, false }, true, true, false, false },
                { "a user at the active seat", { USER, plain, 2, true }, true, false, true, false },
                { "a member at the seat", { USER, member, 3, true }, true, true, true, false },
                { "any other user", { USER, plain, 2, false }, false, false, false, false },
                { "nobody without groups", { 65534, NULL, 0, false }, false, false, false, false },
        };
        const struct access_rules with = { SELF, GROUP, true }, without = { SELF, GROUP, false };

        (void) state;
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                const struct access_caller *c = &cases[i].caller;

                print_message("%s\n", cases[i].who);
                assert_int_equal(access_allowed(&with, c, ACCESS_READ_SHARED), cases[i].read);
                assert_int_equal(access_allowed(&with, c, ACCESS_CHANGE), cases[i].change);
                assert_int_equal(access_allowed(&without, c, ACCESS_READ_SHARED), cases[i].read_no_group);
                assert_int_equal(access_allowed(&without, c, ACCESS_CHANGE), cases[i].change_no_group);
        }
}

static void test_refusals_say_who_may(void **state) {
        (void) state;
        assert_non_null(strstr(access_refusal(ACCESS_READ_SHARED), "group bridged"));
        assert_non_null(strstr(access_refusal(ACCESS_READ_SHARED), "active seat"));
        assert_non_null(strstr(access_refusal(ACCESS_CHANGE), "usermod -aG bridged"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_table),
                cmocka_unit_test(test_refusals_say_who_may),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
