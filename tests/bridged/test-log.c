/* SPDX-License-Identifier: MIT */
/* Tests of bridged's log (log.c) on stderr: levels, the negative errno it
 * returns, "%m", the "<N>" and "name: " forms, how it picks its target from
 * $JOURNAL_STREAM, and that structured fields stay out of stderr lines. The
 * journal itself is not written to: stderr goes to a file here. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "bridged/log.h"

static char err_path[PATH_MAX];
static int err_fd = -1, saved_stderr = -1;

static int setup(void **state) {
        (void) state;
        snprintf(err_path, sizeof(err_path), "%s/test-log.XXXXXX", getenv("TMPDIR") ?: "/tmp");
        err_fd = mkstemp(err_path);
        if (err_fd < 0)
                return -1;
        (void) unsetenv("JOURNAL_STREAM");
        log_set_target(LOG_TARGET_PREFIXED);
        log_set_max_level(LOG_INFO);
        return 0;
}

static int teardown(void **state) {
        (void) state;
        (void) close(err_fd);
        (void) unlink(err_path);
        (void) unsetenv("JOURNAL_STREAM");
        log_set_target(LOG_TARGET_AUTO);
        return 0;
}

/* stderr into the file between begin() and end(), so cmocka's own messages
 * about a failed assertion (on stderr) are not caught too. */
static void begin(void) {
        assert_int_equal(ftruncate(err_fd, 0), 0);
        saved_stderr = dup(STDERR_FILENO);
        assert_true(saved_stderr >= 0);
        assert_int_equal(dup2(err_fd, STDERR_FILENO), STDERR_FILENO);
}

static const char *end(void) {
        static char buf[8192];
        ssize_t n = pread(err_fd, buf, sizeof(buf) - 1, 0);

        (void) dup2(saved_stderr, STDERR_FILENO);
        (void) close(saved_stderr);
        buf[n > 0 ? n : 0] = '\0';
        return buf;
}

static void test_level_names(void **state) {
        static const char *const bad[] = { "ERR", "error", "warn", "notice", "", "debug ", "7" };

        (void) state;
        assert_int_equal(log_level_from_string("err"), LOG_ERR);
        assert_int_equal(log_level_from_string("warning"), LOG_WARNING);
        assert_int_equal(log_level_from_string("info"), LOG_INFO);
        assert_int_equal(log_level_from_string("debug"), LOG_DEBUG);
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                assert_int_equal(log_level_from_string(bad[i]), -EINVAL);
        assert_int_equal(log_level_from_string(NULL), -EINVAL);
        assert_string_equal(log_level_to_string(LOG_WARNING), "warning");
        assert_null(log_level_to_string(LOG_NOTICE));
        assert_null(log_level_to_string(-1));
        assert_null(log_level_to_string(99));
}

static void test_errno_return(void **state) {
        int r[4];

        (void) state;
        begin();
        r[0] = log_error_errno(EIO, "a");
        r[1] = log_error_errno(-EIO, "b");
        r[2] = log_debug_errno(-ENOENT, "dropped");
        r[3] = log_warning_errno(0, "zero");
        assert_string_equal(end(), "<3>a\n<3>b\n<4>zero\n");
        assert_int_equal(r[0], -EIO);
        assert_int_equal(r[1], -EIO);
        assert_int_equal(r[2], -ENOENT);
        assert_int_equal(r[3], 0);
}

static void test_percent_m(void **state) {
        int r, e1, e2;

        (void) state;
        begin();
        errno = EAGAIN;
        r = log_error_errno(-ENOENT, "Failed to open %s: %m", "/x");
        e1 = errno;                             /* left as it was */
        log_warning("plain: %m");               /* the caller's errno */
        e2 = errno;
        assert_int_equal(r, -ENOENT);
        assert_int_equal(e1, EAGAIN);
        assert_int_equal(e2, EAGAIN);
        assert_string_equal(end(), "<3>Failed to open /x: No such file or directory\n"
                                       "<4>plain: Resource temporarily unavailable\n");
}

static void test_max_level(void **state) {
        (void) state;
        begin();
        log_debug("not shown");
        log_info("shown %d", 1);
        log_set_max_level(LOG_DEBUG);
        log_debug("now shown");
        log_set_max_level(LOG_ERR);
        log_warning("not shown");
        log_error("error %s", "shown");
        log_set_max_level(42);                  /* ignored */
        assert_string_equal(end(), "<6>shown 1\n<7>now shown\n<3>error shown\n");
        assert_int_equal(log_get_max_level(), LOG_ERR);
}

static void test_console(void **state) {
        (void) state;
        log_set_target(LOG_TARGET_CONSOLE);
        begin();
        log_info("hello %s", "there");
        log_warning("careful");
        log_error("broken");
        log_debug("not shown");
        assert_string_equal(end(), "test-log: info: hello there\ntest-log: warning: careful\n"
                                   "test-log: error: broken\n");
}

static void test_long_message(void **state) {
        char big[5000];
        const char *out;

        (void) state;
        memset(big, 'x', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        begin();
        log_info("%s", big);
        out = end();
        assert_true(strlen(out) > 1000 && strlen(out) < 2100);
        assert_int_equal(out[strlen(out) - 1], '\n');
        assert_memory_equal(out, "<6>xxx", 6);
}

/* systemd's rule: the journal only if $JOURNAL_STREAM is stderr's dev:ino;
 * anything else (here a file) gets lines a person reads. */
static void test_target_detection(void **state) {
        enum log_target t[4];
        struct stat st;
        char value[64];
        const char *out;

        (void) state;
        assert_int_equal(fstat(err_fd, &st), 0);
        begin();
        log_set_target(LOG_TARGET_AUTO);
        t[0] = log_get_target();                /* a file, not a tty */

        snprintf(value, sizeof(value), "%ju:%ju", (uintmax_t) st.st_dev, (uintmax_t) st.st_ino + 1);
        (void) setenv("JOURNAL_STREAM", value, 1);
        log_set_target(LOG_TARGET_AUTO);
        t[1] = log_get_target();
        (void) setenv("JOURNAL_STREAM", "garbage", 1);
        log_set_target(LOG_TARGET_AUTO);
        t[2] = log_get_target();
        snprintf(value, sizeof(value), "%ju:%ju", (uintmax_t) st.st_dev, (uintmax_t) st.st_ino);
        (void) setenv("JOURNAL_STREAM", value, 1);
        log_set_target(LOG_TARGET_AUTO);
        t[3] = log_get_target();
        /* To the journal, not to stderr (sd-journal drops it quietly when
         * there is no journal socket, as in this test's container). */
        log_info("journal only");
        out = end();
        assert_int_equal(t[0], LOG_TARGET_CONSOLE);
        assert_int_equal(t[1], LOG_TARGET_CONSOLE);
        assert_int_equal(t[2], LOG_TARGET_CONSOLE);
        assert_int_equal(t[3], LOG_TARGET_JOURNAL);
        assert_string_equal(out, "");
}

static void test_struct_fields(void **state) {
        int r[2];

        (void) state;
        begin();
        log_struct(LOG_INFO, LOG_FIELDS("BUDS_ADDRESS", "AA:BB:CC:DD:EE:FF", "ITEM", "active_eq", "ORIGIN", NULL),
                   "Wrote %s to %s", "active_eq", "AA:BB:CC:DD:EE:FF");
        r[0] = log_struct_errno(LOG_WARNING, EPERM, LOG_FIELDS("bad name", "x", "ITEM", "eq"), "Failed: %m");
        r[1] = log_struct_errno(LOG_DEBUG, EPERM, LOG_FIELDS("ITEM", "eq"), "dropped");
        assert_string_equal(end(), "<6>Wrote active_eq to AA:BB:CC:DD:EE:FF\n"
                                       "<4>Failed: Operation not permitted\n");
        assert_int_equal(r[0], -EPERM);
        assert_int_equal(r[1], -EPERM);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_level_names, setup, teardown),
                cmocka_unit_test_setup_teardown(test_errno_return, setup, teardown),
                cmocka_unit_test_setup_teardown(test_percent_m, setup, teardown),
                cmocka_unit_test_setup_teardown(test_max_level, setup, teardown),
                cmocka_unit_test_setup_teardown(test_console, setup, teardown),
                cmocka_unit_test_setup_teardown(test_long_message, setup, teardown),
                cmocka_unit_test_setup_teardown(test_target_detection, setup, teardown),
                cmocka_unit_test_setup_teardown(test_struct_fields, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
