/* SPDX-License-Identifier: MIT */
/* bridgectl eq import and eq export end to end, on the harness of
 * test-scenarios.c (a private bus, budsim, syncd, bridged): an AutoEq file
 * lands on pro Buds exactly and exports as it was; a REW file is rounded
 * and says so; a refused file names its line and changes nothing; a
 * standard intent exports as its conversion to pro, which imports back. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "codec/parametric.h"
#include "codec/recjson.h"
#include "e2e.h"
#include "policy/eqconv.h"

#define A "AA:BB:CC:DD:EE:01"

#define E2E_FIXTURE_PAIRED false
#include "e2e-fixture.h"

/* A path in the test's directory. */
static const char *path(const char *name, char buf[static 160]) {
        (void) snprintf(buf, 160, "%s/%s", E.dir, name);
        return buf;
}

static void write_file(const char *name, const char *text) {
        char p[160];
        FILE *f = fopen(path(name, p), "we");

        assert_non_null(f);
        assert_true(fputs(text, f) >= 0);
        assert_int_equal(fclose(f), 0);
}

/* The file's text (malloc'd). */
static char *read_file(const char *file) {
        char *text = calloc(1, 65536);
        FILE *f = fopen(file, "re");

        assert_non_null(text);
        assert_non_null(f);
        (void) fread(text, 1, 65535, f);
        fclose(f);
        return text;
}

/* The built bridgectl, as an absolute path: ctl() runs it elsewhere. */
static const char *bridgectl(char buf[static 512]) {
        const char *build = getenv("BRIDGED_BUILD") ?: "build";
        char cwd[256];

        if (build[0] == '/')
                (void) snprintf(buf, 512, "%s/bridged/bridgectl", build);
        else
                (void) snprintf(buf, 512, "%s/%s/bridged/bridgectl", getcwd(cwd, sizeof(cwd)) ?: ".", build);
        return buf;
}

/* Runs bridgectl with args (a shell fragment) against the test's bus, in
 * the test's directory: its standard output and error (malloc'd, may be
 * NULL) and its exit status. */
static int ctl(const char *args, char **ret_out, char **ret_err) {
        char cmd[1024], err[160], bin[512], *out = calloc(1, 65536);
        int status;

        assert_non_null(out);
        (void) snprintf(cmd, sizeof(cmd), "cd '%s' && DBUS_SYSTEM_BUS_ADDRESS='%s' '%s' %s 2>'%s'", E.dir,
                        e2e_bus_address(&E), bridgectl(bin), args, path("stderr", err));
        /* e2e_run: bridged's notify socket is drained while bridgectl runs */
        status = e2e_run(&E, cmd, out, 65536);
        assert_true(status >= 0 && status < 128);
        if (ret_out)
                *ret_out = out;
        else
                free(out);
        if (ret_err)
                *ret_err = read_file(err);
        return status;
}

static void wait_buds_ready(const char *address) {
        if (!e2e_wait_buds_ready(&E, address, E2E_DEADLINE_USEC))
                fail_msg("Buds %s did not get ready", address);
}

static bool cond_converged(struct e2e *e, void *userdata) {
        return e2e_converged(e, A, KEY_EQ_CUSTOM, userdata);
}

static struct value pro_value(const struct eq_pro *p) {
        struct value v;

        value_init(&v, KEY_EQ_CUSTOM, FAMILY_PRO);
        v.custom.pro = *p;
        return v;
}

static struct record intent(void) {
        struct record r;

        assert_int_equal(e2e_intent(&E, KEY_EQ_CUSTOM, &r), 0);
        return r;
}

/* AutoEq's ParametricEQ.txt for the Sony WH-1000XM4 (oratory1990). */
static const char autoeq[] =
        "Preamp: -6.1 dB\n"
        "Filter 1: ON LSC Fc 105 Hz Gain -4.2 dB Q 0.70\n"
        "Filter 2: ON PK Fc 143 Hz Gain -5.2 dB Q 1.10\n"
        "Filter 3: ON PK Fc 2289 Hz Gain 6.1 dB Q 1.57\n"
        "Filter 4: ON PK Fc 5404 Hz Gain -3.3 dB Q 4.76\n"
        "Filter 5: ON PK Fc 7885 Hz Gain 3.8 dB Q 2.00\n"
        "Filter 6: ON HSC Fc 10000 Hz Gain -1.0 dB Q 0.70\n";

static const struct eq_pro autoeq_pro = {
        .preamp = -61,
        .count = 6,
        .band = {
                { BAND_LOW_SHELF, 105, -42, 70 },
                { BAND_PEAK, 143, -52, 110 },
                { BAND_PEAK, 2289, 61, 157 },
                { BAND_PEAK, 5404, -33, 476 },
                { BAND_PEAK, 7885, 38, 200 },
                { BAND_HIGH_SHELF, 10000, -10, 70 },
        },
};

/* The file's values reach the pro Buds' Custom EQ exactly; the export is
 * the file again, to standard output and to a file, and goes round. */
static void test_autoeq_to_buds(void **state) {
        struct value want = pro_value(&autoeq_pro);
        struct record r, buds;
        char *out, *err, p[160], *text;

        (void) state;
        assert_int_equal(e2e_sim_add_buds(&E, A, "Buds", FAMILY_PRO, 0x0101), 0);
        wait_buds_ready(A);
        write_file("ParametricEQ.txt", autoeq);
        assert_int_equal(ctl("eq import ParametricEQ.txt", &out, &err), 0);
        assert_string_equal(err, "");
        assert_non_null(strstr(out, "Value:      pro, preamp "));  /* the new record, as set prints it */
        free(out);
        free(err);
        r = intent();
        assert_int_equal(r.value.family, FAMILY_PRO);
        assert_true(value_equal(&r.value, &want));
        if (!e2e_wait(&E, cond_converged, &r, E2E_DEADLINE_USEC))
                fail_msg("the imported EQ did not reach the Buds and the server");
        assert_int_equal(e2e_sim_record(&E, A, KEY_EQ_CUSTOM, &buds), 0);
        assert_true(value_equal(&buds.value, &want));

        assert_int_equal(ctl("eq export", &out, &err), 0);
        assert_string_equal(out, autoeq);
        assert_string_equal(err, "");
        free(out);
        free(err);
        assert_int_equal(ctl("eq export exported.txt", &out, NULL), 0);
        assert_string_equal(out, "");
        free(out);
        text = read_file(path("exported.txt", p));
        assert_string_equal(text, autoeq);
        free(text);
        /* export -> import (from standard input) -> export: the same text, a new edit */
        assert_int_equal(ctl("eq import - < exported.txt", NULL, NULL), 0);
        assert_false(stamp_eq(intent().stamp, r.stamp));
        assert_int_equal(ctl("eq export -", &out, NULL), 0);
        assert_string_equal(out, autoeq);
        free(out);
}

/* REW's export: its header, CRLF, unused slots; Fc and Q finer than the
 * wire's steps are rounded, line by line on standard error. */
static void test_rew_rounded(void **state) {
        static const char rew[] =
                "Filter Settings file\r\n"
                "\r\n"
                "Room EQ V5.20\r\n"
                "Dated: 19-Aug-2021 16:29:40\r\n"
                "\r\n"
                "Notes:\r\n"
                "\r\n"
                "Equaliser: Generic\r\n"
                "Average 1\r\n"
                "Filter  1: ON  PK       Fc   92.60 Hz  Gain  -2.50 dB  Q  4.882\r\n"
                "Filter  2: ON  None\r\n"
                "Filter  3: OFF PK       Fc   1000 Hz  Gain   0.00 dB  Q  1.000\r\n"
                "Filter  4: ON  HSC      Fc   11674 Hz  Gain   1.50 dB  Q  0.700\r\n";
        const struct eq_pro want_pro = {
                .count = 2,
                .band = { { BAND_PEAK, 93, -25, 488 }, { BAND_HIGH_SHELF, 11674, 15, 70 } },
        };
        struct value want = pro_value(&want_pro);
        struct record r;
        char *out, *err;

        (void) state;
        write_file("rew.txt", rew);
        assert_int_equal(ctl("eq import rew.txt", NULL, &err), 0);
        assert_string_equal(err, "bridgectl: rew.txt:10: rounded Fc 92.60 Hz to 93 Hz, Q 4.882 to 4.88\n");
        free(err);
        r = intent();
        assert_true(value_equal(&r.value, &want));
        assert_int_equal(ctl("eq export", &out, NULL), 0);
        assert_string_equal(out, "Preamp: 0.0 dB\n"
                                 "Filter 1: ON PK Fc 93 Hz Gain -2.5 dB Q 4.88\n"
                                 "Filter 2: ON HSC Fc 11674 Hz Gain 1.5 dB Q 0.70\n");
        free(out);
}

/* A refused file: one line naming it and the line, exit 1, nothing sent. */
static void expect_refused(const char *args, const char *want_err, const struct record *before) {
        struct record after;
        char *err;

        assert_int_equal(ctl(args, NULL, &err), 1);
        assert_string_equal(err, want_err);
        free(err);
        after = intent();
        assert_true(stamp_eq(after.stamp, before->stamp));
        assert_true(value_equal(&after.value, &before->value));
}

static void test_refused(void **state) {
        char eleven[1024] = "Preamp: -3.0 dB\n", *err;
        struct record before;

        (void) state;
        write_file("ParametricEQ.txt", autoeq);
        assert_int_equal(ctl("eq import ParametricEQ.txt", NULL, NULL), 0);
        before = intent();

        for (int i = 1; i <= 11; i++)
                (void) snprintf(eleven + strlen(eleven), sizeof(eleven) - strlen(eleven),
                                "Filter %d: ON PK Fc %d Hz Gain 1.0 dB Q 1.00\n", i, 100 * i);
        write_file("eleven.txt", eleven);
        expect_refused("eq import eleven.txt", "bridgectl: eleven.txt:12: a filter beyond the 10th that is ON: "
                       "the pro Custom EQ takes at most 10\n", &before);
        write_file("shelf.txt", "Preamp: -3.0 dB\nFilter 1: ON LS Fc 105 Hz Gain 3.0 dB\n");
        expect_refused("eq import shelf.txt", "bridgectl: shelf.txt:2: filter type \"LS\" is no shelf the Buds "
                       "have: theirs are LSC and HSC (by centre frequency and Q)\n", &before);
        write_file("loud.txt", "Filter 1: ON PK Fc 105 Hz Gain 13.5 dB Q 0.70\n");
        expect_refused("eq import loud.txt", "bridgectl: loud.txt:1: Gain 13.5 dB is outside -12..12 dB\n", &before);
        write_file("empty.txt", "");
        expect_refused("eq import empty.txt",
                       "bridgectl: empty.txt: no filter that is ON: the pro Custom EQ takes 1 to 10\n", &before);
        expect_refused("eq import missing.txt", "bridgectl: missing.txt: No such file or directory\n", &before);

        /* usage errors, before the bus */
        assert_int_equal(ctl("eq import", NULL, NULL), 2);
        assert_int_equal(ctl("eq import a b", NULL, NULL), 2);
        assert_int_equal(ctl("eq export a b", NULL, NULL), 2);
        assert_int_equal(ctl("eq frobnicate", NULL, NULL), 2);
        assert_int_equal(ctl("--json eq export", NULL, &err), 2);
        assert_non_null(strstr(err, "get eq.custom"));
        free(err);
}

/* Nothing to export yet; then a standard intent exports as the conversion
 * the daemon makes for pro Buds, said on standard error, and that text
 * imports as the same pro EQ. */
static void test_export_standard(void **state) {
        struct value std, conv;
        char *out, *err, *want, *again;
        struct record r;

        (void) state;
        assert_int_equal(ctl("eq export", &out, &err), 1);
        assert_string_equal(out, "");
        assert_non_null(strstr(err, "eq.custom has no value yet"));
        free(out);
        free(err);

        value_init(&std, KEY_EQ_CUSTOM, FAMILY_STANDARD);
        std.custom.std = (struct eq_standard) { { 6, 3, 0, -4, -24 } };
        out = recjson_value_print(&std);
        assert_int_equal(e2e_call(&E, "Set", &err, NULL, "sss", "eq.custom", "standard", out), 0);
        free(out);
        free(err);
        assert_int_equal(eqconv_value(&std, FAMILY_PRO, &conv), 1);
        want = parametric_print(&conv.custom.pro);
        assert_non_null(want);

        assert_int_equal(ctl("eq export", &out, &err), 0);
        assert_string_equal(out, want);
        assert_non_null(strstr(err, "standard family"));
        free(err);
        write_file("converted.txt", out);
        free(out);
        assert_int_equal(ctl("eq import converted.txt", NULL, NULL), 0);
        r = intent();
        assert_int_equal(r.value.family, FAMILY_PRO);
        assert_true(value_equal(&r.value, &conv));
        assert_int_equal(ctl("eq export", &again, &err), 0);
        assert_string_equal(again, want);
        assert_string_equal(err, "");
        free(again);
        free(err);
        free(want);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_autoeq_to_buds, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rew_rounded, setup, teardown),
                cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(test_export_standard, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
