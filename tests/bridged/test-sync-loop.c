/* SPDX-License-Identifier: MIT */
/* Unit tests of bridged/sync-loop.c: what the sync loop does next, for the
 * states that matter, written out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include <cmocka.h>

#include "bridged/sync-loop.h"

/* Online, pulled, nothing wanted, long poll on, nothing in flight. */
static struct sync_loop_state idle(void) {
        return (struct sync_loop_state) { .pulled_since_online = true, .long_poll = true };
}

static void test_stopping_does_nothing(void **state) {
        struct sync_loop_state s = idle();

        (void) state;
        s.stopping = true;
        s.pull_wanted = s.push_wanted = true;
        assert_int_equal(sync_loop_next(&s), SYNC_LOOP_NOTHING);
}

static void test_busy_while_a_call_is_in_flight_or_halted(void **state) {
        struct sync_loop_state s;

        (void) state;
        s = idle(), s.pulling = true, s.push_wanted = true;
        assert_int_equal(sync_loop_next(&s), SYNC_LOOP_BUSY);
        s = idle(), s.pushing = true, s.pull_wanted = true;
        assert_int_equal(sync_loop_next(&s), SYNC_LOOP_BUSY);
        s = idle(), s.halted = true, s.pull_wanted = true;
        assert_int_equal(sync_loop_next(&s), SYNC_LOOP_BUSY);
        s = idle(), s.sync_call = s.sync_call_failed = true, s.pull_wanted = true;
        assert_int_equal(sync_loop_next(&s), SYNC_LOOP_BUSY);
}

static void test_cool_down_holds_the_loop_but_not_a_sync_call(void **state) {
        struct sync_loop_state s = idle();

        (void) state;
        s.cooling = true;
        s.pull_wanted = true;
        assert_int_equal(sync_loop_next(&s), SYNC_LOOP_BUSY);
        s.sync_call = true;
        assert_int_equal(sync_loop_next(&s), SYNC_LOOP_PULL);
}

static void test_pull_before_push(void **state) {
        struct sync_loop_state s = idle();

        (void) state;
        s.pull_wanted = s.push_wanted = true;
        assert_int_equal(sync_loop_next(&s), SYNC_LOOP_PULL);
        s.pull_wanted = false;
        assert_int_equal(sync_loop_next(&s), SYNC_LOOP_PUSH);
}

static void test_push_waits_for_the_first_pull_and_the_debounce(void **state) {
        struct sync_loop_state s = idle();

        (void) state;
        s.push_wanted = true;
        s.pulled_since_online = false;
        assert_int_equal(sync_loop_next(&s), SYNC_LOOP_IDLE);
        s.sync_call = true;             /* Sync() pulled first itself */
        assert_int_equal(sync_loop_next(&s), SYNC_LOOP_PUSH);
        s = idle();
        s.push_wanted = s.debouncing = true;
        assert_int_equal(sync_loop_next(&s), SYNC_LOOP_IDLE);
        s.sync_call = true;             /* still debouncing: the timer ends it */
        assert_int_equal(sync_loop_next(&s), SYNC_LOOP_IDLE);
}

static void test_wait_only_when_idle_in_the_background(void **state) {
        struct sync_loop_state s = idle();

        (void) state;
        assert_int_equal(sync_loop_next(&s), SYNC_LOOP_IDLE);
        assert_true(sync_loop_should_wait(&s));
        s.waiting = true;
        assert_false(sync_loop_should_wait(&s));
        s = idle(), s.long_poll = false;
        assert_false(sync_loop_should_wait(&s));
        s = idle(), s.sync_call = true;
        assert_false(sync_loop_should_wait(&s));
        s = idle(), s.pulled_since_online = false;
        assert_false(sync_loop_should_wait(&s));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_stopping_does_nothing),
                cmocka_unit_test(test_busy_while_a_call_is_in_flight_or_halted),
                cmocka_unit_test(test_cool_down_holds_the_loop_but_not_a_sync_call),
                cmocka_unit_test(test_pull_before_push),
                cmocka_unit_test(test_push_waits_for_the_first_pull_and_the_debounce),
                cmocka_unit_test(test_wait_only_when_idle_in_the_background),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
