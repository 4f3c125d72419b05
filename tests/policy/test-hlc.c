/* SPDX-License-Identifier: MIT */
/* Unit tests of policy/hlc.c: local events, receives, skew, clones, overflow,
 * persistence. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "policy/hlc.h"

#define NODE UINT64_C(0x00a1b2c3d4e5f607)
#define OTHER UINT64_C(0x1111111111111111)
#define T0 UINT64_C(1763700000000)

static struct stamp st(uint64_t ms, uint16_t c, uint64_t origin) {
        return (struct stamp) { stamp_pack(ms, c), origin };
}

static void test_local_events(void **state) {
        struct hlc c;
        struct stamp a, b, x;

        (void) state;
        hlc_init(&c, NODE, 0, 0, 300);
        assert_int_equal(hlc_now(&c, T0, &a), 0);
        assert_int_equal(stamp_ms(a), T0);
        assert_int_equal(stamp_counter(a), 0);
        assert_true(a.origin == NODE);
        /* same millisecond: the counter moves */
        assert_int_equal(hlc_now(&c, T0, &b), 0);
        assert_true(b.hlc == stamp_pack(T0, 1));
        /* wall clock stepped backwards: never below what was issued */
        assert_int_equal(hlc_now(&c, T0 - 60000, &x), 0);
        assert_true(x.hlc == stamp_pack(T0, 2));
        /* wall clock moves on: counter resets */
        assert_int_equal(hlc_now(&c, T0 + 5, &x), 0);
        assert_true(x.hlc == stamp_pack(T0 + 5, 0));
}

static void test_receive_rules(void **state) {
        struct hlc c;
        struct stamp x;

        (void) state;
        hlc_init(&c, NODE, stamp_pack(T0, 4), stamp_pack(T0, 4), 300);
        /* l == l_old == l_m: max counter + 1 */
        assert_int_equal(hlc_receive(&c, st(T0, 9, OTHER), T0 - 10), HLC_ACCEPTED);
        assert_true(c.last == stamp_pack(T0, 10));
        /* l == l_m > l_old: c_m + 1 */
        assert_int_equal(hlc_receive(&c, st(T0 + 100, 7, OTHER), T0), HLC_ACCEPTED);
        assert_true(c.last == stamp_pack(T0 + 100, 8));
        /* l == l_old > l_m, pt: c_old + 1 */
        assert_int_equal(hlc_receive(&c, st(T0 + 50, 70, OTHER), T0), HLC_ACCEPTED);
        assert_true(c.last == stamp_pack(T0 + 100, 9));
        /* physical time ahead of both: counter 0 */
        assert_int_equal(hlc_receive(&c, st(T0 + 150, 3, OTHER), T0 + 200), HLC_ACCEPTED);
        assert_true(c.last == stamp_pack(T0 + 200, 0));
        /* the next local stamp is above everything received */
        assert_int_equal(hlc_now(&c, T0, &x), 0);
        assert_true(x.hlc == stamp_pack(T0 + 200, 1));
        /* factory stamps do not move the clock */
        assert_int_equal(hlc_receive(&c, STAMP_FACTORY, T0 + 999999), HLC_ACCEPTED);
        assert_true(c.last == stamp_pack(T0 + 200, 1));
}

static void test_suspect_future(void **state) {
        struct hlc c;
        uint64_t before;

        (void) state;
        hlc_init(&c, NODE, 0, 0, 300);
        /* exactly MaxClockSkewSec ahead is still fine */
        assert_int_equal(hlc_receive(&c, st(T0 + 300000, 0, OTHER), T0), HLC_ACCEPTED);
        before = c.last;
        assert_true(hlc_is_suspect(&c, st(T0 + 300001, 0, OTHER), T0));
        assert_int_equal(hlc_receive(&c, st(T0 + 300001, 0, OTHER), T0), HLC_SUSPECT_FUTURE);
        assert_true(c.last == before);  /* the clock did not jump */
        assert_int_equal(hlc_receive(&c, st(UINT64_C(0xffffffffffff), 0xffff, OTHER), T0), HLC_SUSPECT_FUTURE);
        assert_true(c.last == before);
        /* a stamp in the past is never suspect */
        assert_false(hlc_is_suspect(&c, st(1, 0, OTHER), T0));
}

static void test_clone_detection(void **state) {
        struct hlc c;
        struct stamp a, b;

        (void) state;
        hlc_init(&c, NODE, 0, 0, 300);
        assert_int_equal(hlc_now(&c, T0, &a), 0);
        /* our own stamp coming back is normal */
        assert_int_equal(hlc_receive(&c, a, T0 + 1), HLC_ACCEPTED);
        /* another node's stamps move last but not issued */
        assert_int_equal(hlc_receive(&c, st(T0 + 50, 0, OTHER), T0 + 1), HLC_ACCEPTED);
        /* our origin above anything we issued: a copied state directory */
        assert_int_equal(hlc_receive(&c, st(T0 + 40, 0, NODE), T0 + 1), HLC_CLONED);
        assert_true(c.last >= stamp_pack(T0 + 50, 0));
        hlc_renew_node(&c, OTHER + 1);
        assert_int_equal(hlc_now(&c, T0 + 2, &b), 0);
        assert_true(b.origin == OTHER + 1);
        assert_true(stamp_cmp(b, st(T0 + 50, 0, NODE)) > 0);
        /* the old node id's stamps are no longer ours */
        assert_int_equal(hlc_receive(&c, st(T0 + 60, 0, NODE), T0 + 2), HLC_ACCEPTED);
}

static void test_counter_overflow(void **state) {
        struct hlc c;
        struct stamp x, prev = { 0, 0 };

        (void) state;
        hlc_init(&c, NODE, stamp_pack(T0, 0xfffe), stamp_pack(T0, 0xfffe), 300);
        for (int i = 0; i < 4; i++) {
                assert_int_equal(hlc_now(&c, T0, &x), 0);
                assert_true(stamp_cmp(x, prev) > 0);
                prev = x;
        }
        /* 0xffff, then the physical part moved on by one ms */
        assert_true(x.hlc == stamp_pack(T0 + 1, 2));
        /* receive overflow too */
        hlc_init(&c, NODE, stamp_pack(T0, 0xffff), 0, 300);
        assert_int_equal(hlc_receive(&c, st(T0, 0xffff, OTHER), T0), HLC_ACCEPTED);
        assert_true(c.last == stamp_pack(T0 + 1, 0));
        /* the end of the 48-bit physical part: an error, never a wrap */
        hlc_init(&c, NODE, stamp_pack(HLC_MS_MAX, 0xffff), 0, 300);
        assert_int_equal(hlc_now(&c, T0, &x), -EOVERFLOW);
        assert_true(c.last == stamp_pack(HLC_MS_MAX, 0xffff));
}

static void test_persistence(void **state) {
        struct hlc c, restored;
        struct stamp a, b;

        (void) state;
        hlc_init(&c, NODE, 0, 0, 300);
        assert_int_equal(hlc_now(&c, T0, &a), 0);
        assert_int_equal(hlc_now(&c, T0, &a), 0);
        /* restart with the stored state and a wall clock an hour behind */
        hlc_init(&restored, c.node, c.last, c.issued, 300);
        assert_int_equal(hlc_now(&restored, T0 - 3600000, &b), 0);
        assert_true(stamp_cmp(b, a) > 0);
        /* last below issued in storage (an older writer): issued wins */
        hlc_init(&restored, NODE, 5, stamp_pack(T0, 3), 300);
        assert_true(restored.last == stamp_pack(T0, 3));
}

/* The wall clock stepped a day forward, a stamp issued, the wall clock set
 * back: the clock itself is ahead (beyond MaxClockSkewSec), and a restart
 * under a new node takes the wall clock again. */
static void test_ahead_and_restart(void **state) {
        struct hlc c;
        struct stamp a;

        (void) state;
        hlc_init(&c, NODE, 0, 0, 300);
        assert_int_equal(hlc_now(&c, T0 + 86400000, &a), 0);
        assert_false(hlc_is_ahead(&c, T0 + 86400000));
        assert_false(hlc_is_ahead(&c, T0 + 86400000 - 300000));        /* exactly the skew: fine */
        assert_true(hlc_is_ahead(&c, T0 + 86400000 - 300001));
        assert_true(hlc_is_ahead(&c, T0));
        hlc_restart(&c, OTHER);
        assert_false(hlc_is_ahead(&c, T0));
        assert_int_equal(hlc_now(&c, T0, &a), 0);
        assert_true(a.hlc == stamp_pack(T0, 0) && a.origin == OTHER);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_ahead_and_restart),
                cmocka_unit_test(test_local_events),
                cmocka_unit_test(test_receive_rules),
                cmocka_unit_test(test_suspect_future),
                cmocka_unit_test(test_clone_detection),
                cmocka_unit_test(test_counter_overflow),
                cmocka_unit_test(test_persistence),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
