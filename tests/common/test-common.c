/* SPDX-License-Identifier: MIT */
/* Unit tests of common/: the backoff rule with the numbers written out, the
 * jitter generator, the error-message helper. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/backoff.h"
#include "common/buds-address.h"
#include "common/cleanup.h"
#include "common/errmsg.h"
#include "common/random.h"

#define SEC UINT64_C(1000000)

static void test_backoff_doubles_then_caps(void **state) {
        (void) state;
        /* random 0: the fixed half only */
        assert_true(backoff_delay(1 * SEC, 300 * SEC, 0, 0) == SEC / 2);
        assert_true(backoff_delay(1 * SEC, 300 * SEC, 1, 0) == SEC);
        assert_true(backoff_delay(1 * SEC, 300 * SEC, 3, 0) == 4 * SEC);
        assert_true(backoff_delay(1 * SEC, 300 * SEC, 20, 0) == 150 * SEC);
        assert_true(backoff_delay(1 * SEC, 300 * SEC, 1000, 0) == 150 * SEC);
}

static void test_backoff_jitter_stays_in_the_upper_half(void **state) {
        uint64_t rng = random_seed(1);

        (void) state;
        for (unsigned f = 0; f < 12; f++)
                for (int i = 0; i < 100; i++) {
                        uint64_t d = backoff_delay(SEC, 60 * SEC, f, random_jitter(&rng));
                        uint64_t full = (SEC << f) > 60 * SEC ? 60 * SEC : SEC << f;
                        assert_true(d >= full / 2 && d <= full);
                }
        /* the largest random lands on the full delay at most */
        assert_true(backoff_delay(SEC, SEC, 0, SEC / 2) == SEC);
}

static void test_buds_address(void **state) {
        static const char *const bad[] = { "AA:BB:CC:DD:EE", "AA:BB:CC:DD:EE:FF:00", "AA-BB-CC-DD-EE-FF",
                                           "GG:BB:CC:DD:EE:FF", "hci0", "" };
        char a[BUDS_ADDRESS_SIZE] = "unchanged";

        (void) state;
        assert_int_equal(buds_address_normalise("aa:bB:0c:DD:ee:f1", a), 0);
        assert_string_equal(a, "AA:BB:0C:DD:EE:F1");
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                assert_false(buds_address_valid(bad[i]));
                assert_int_equal(buds_address_normalise(bad[i], a), -EINVAL);
                assert_string_equal(a, "AA:BB:0C:DD:EE:F1");
        }
        assert_false(buds_address_valid(NULL));
        assert_true(buds_address_equal(a, "AA:BB:0C:DD:EE:F1"));
        assert_false(buds_address_equal(a, "aa:bb:0c:dd:ee:f1"));
        assert_false(buds_address_equal(a, NULL));
        assert_false(buds_address_equal(NULL, NULL));
}

static void test_random(void **state) {
        uint64_t a = 7, b = 7, buf[2] = { 0, 0 };

        (void) state;
        assert_true(random_jitter(&a) == random_jitter(&b));    /* a sequence, not a source */
        assert_true(a != 7);
        assert_true(random_seed(0) & 1);
        assert_int_equal(random_bytes(buf, sizeof(buf)), 0);
        assert_true(buf[0] != 0 || buf[1] != 0);
}

static void test_errmsg(void **state) {
        _cleanup_free_ char *m = NULL;

        (void) state;
        assert_int_equal(errmsg_setf(&m, -ENOENT, "no %s %d", "key", 3), -ENOENT);
        assert_string_equal(m, "no key 3");
        assert_int_equal(errmsg_setf(NULL, -EIO, "dropped"), -EIO);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_backoff_doubles_then_caps),
                cmocka_unit_test(test_backoff_jitter_stays_in_the_upper_half),
                cmocka_unit_test(test_buds_address),
                cmocka_unit_test(test_random),
                cmocka_unit_test(test_errmsg),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
