/* SPDX-License-Identifier: MIT */
/* The fixture of a cmocka test of the e2e rig: one rig per test, E, started
 * in setup and stopped in teardown; a rig that cannot start for want of a
 * program (-ENOENT) skips the test. Define E2E_FIXTURE_PAIRED (true or
 * false, e2e_start's paired) and include after e2e.h and cmocka.h. */
#pragma once

static struct e2e E;

static int setup(void **state) {
        int r = e2e_start(&E, E2E_FIXTURE_PAIRED);

        (void) state;
        if (r == -ENOENT)
                skip();
        assert_int_equal(r, 0);
        return 0;
}

static int teardown(void **state) {
        (void) state;
        e2e_stop(&E);
        return 0;
}
