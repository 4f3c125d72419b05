/* SPDX-License-Identifier: MIT */
/* The parametric EQ text (codec/parametric.c): files as AutoEq and REW write
 * them, what is read liberally, what is rounded (exact decimal halves away
 * from zero) and said so, every refusal with its line and class, and print
 * -> parse -> print giving the same text and value. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "codec/parametric.h"

static struct eq_band band(enum band_type type, uint16_t freq_hz, int16_t gain, uint16_t q100) {
        return (struct eq_band) { .type = type, .freq_hz = freq_hz, .gain = gain, .q100 = q100 };
}

/* Field by field: the padding of a band is no part of it. */
static bool band_equal(const struct eq_band *a, const struct eq_band *b) {
        return a->type == b->type && a->freq_hz == b->freq_hz && a->gain == b->gain && a->q100 == b->q100;
}

static bool eq_equal(const struct eq_pro *a, const struct eq_pro *b) {
        if (a->preamp != b->preamp || a->count != b->count)
                return false;
        for (unsigned i = 0; i < a->count; i++)
                if (!band_equal(&a->band[i], &b->band[i]))
                        return false;
        return true;
}

/* Parses text, which must be accepted; the notes in *notes (may be NULL). */
static struct eq_pro parse_ok(const char *text, struct parametric_notes *notes) {
        struct parametric_err e = { 0 };
        struct eq_pro p;

        if (parametric_parse(text, strlen(text), &p, notes, &e) < 0)
                fail_msg("refused at line %u (%s): %s\n%s", e.line, parametric_fault_name(e.fault), e.msg, text);
        return p;
}

static void assert_print(const struct eq_pro *p, const char *want) {
        char *got = parametric_print(p);

        assert_non_null(got);
        assert_string_equal(got, want);
        free(got);
}

/* ---- what AutoEq and REW write ---- */

/* AutoEq's ParametricEQ.txt (Sony WH-1000XM4, oratory1990): LF, one space,
 * Fc in Hz, Gain in 0.1 dB, Q in 0.01 — our own form, so it prints back as is. */
static const char autoeq[] =
        "Preamp: -6.1 dB\n"
        "Filter 1: ON LSC Fc 105 Hz Gain -4.2 dB Q 0.70\n"
        "Filter 2: ON PK Fc 143 Hz Gain -5.2 dB Q 1.10\n"
        "Filter 3: ON PK Fc 2289 Hz Gain 6.1 dB Q 1.57\n"
        "Filter 4: ON PK Fc 5404 Hz Gain -3.3 dB Q 4.76\n"
        "Filter 5: ON PK Fc 7885 Hz Gain 3.8 dB Q 2.00\n"
        "Filter 6: ON HSC Fc 10000 Hz Gain -1.0 dB Q 0.70\n";

static void test_autoeq(void **state) {
        struct parametric_notes notes;
        struct eq_pro p = parse_ok(autoeq, &notes);

        (void) state;
        assert_int_equal(p.preamp, -61);
        assert_int_equal(p.count, 6);
        assert_true(band_equal(&p.band[0], &(struct eq_band) { BAND_LOW_SHELF, 105, -42, 70 }));
        assert_int_equal(p.band[1].type, BAND_PEAK);
        assert_int_equal(p.band[2].freq_hz, 2289);
        assert_int_equal(p.band[3].gain, -33);
        assert_int_equal(p.band[4].q100, 200);
        assert_int_equal(p.band[5].type, BAND_HIGH_SHELF);
        assert_int_equal(notes.n, 0);
        assert_print(&p, autoeq);
}

/* REW's "Export filter settings as text": a header, CRLF, padding, unused
 * slots (None, OFF), Fc with four significant digits and Q with three
 * decimals, which are rounded and said so. */
static void test_rew(void **state) {
        static const char rew[] =
                "Filter Settings file\r\n"
                "\r\n"
                "Room EQ V5.20\r\n"
                "Dated: 19-Aug-2021 16:29:40\r\n"
                "\r\n"
                "Notes:left speaker, 1 m\r\n"
                "\r\n"
                "Equaliser: Generic\r\n"
                "Average 1\r\n"
                "Filter  1: ON  PK       Fc   105.0 Hz  Gain   8.70 dB  Q  0.700\r\n"
                "Filter  2: ON  PK       Fc   92.60 Hz  Gain  -2.50 dB  Q  4.882\r\n"
                "Filter  3: ON  LSC      Fc    1083 Hz  Gain   3.00 dB  Q  0.707\r\n"
                "Filter  4: ON  None\r\n"
                "Filter  5: OFF PK       Fc   1000 Hz  Gain   0.00 dB  Q  1.000\r\n"
                "Filter  6: ON  HSC      Fc   11674 Hz  Gain  -1.25 dB  Q  0.500\r\n";
        struct parametric_notes notes;
        struct eq_pro p = parse_ok(rew, &notes);

        (void) state;
        assert_int_equal(p.preamp, 0);
        assert_int_equal(p.count, 4);
        assert_true(band_equal(&p.band[0], &(struct eq_band) { BAND_PEAK, 105, 87, 70 }));
        assert_true(band_equal(&p.band[1], &(struct eq_band) { BAND_PEAK, 93, -25, 488 }));
        assert_true(band_equal(&p.band[2], &(struct eq_band) { BAND_LOW_SHELF, 1083, 30, 71 }));
        assert_true(band_equal(&p.band[3], &(struct eq_band) { BAND_HIGH_SHELF, 11674, -13, 50 }));
        assert_int_equal(notes.n, 3);
        assert_int_equal(notes.note[0].line, 11);
        assert_string_equal(notes.note[0].msg, "rounded Fc 92.60 Hz to 93 Hz, Q 4.882 to 4.88");
        assert_int_equal(notes.note[1].line, 12);
        assert_string_equal(notes.note[1].msg, "rounded Q 0.707 to 0.71");
        assert_int_equal(notes.note[2].line, 15);
        assert_string_equal(notes.note[2].msg, "rounded Gain -1.25 dB to -1.3 dB");
}

/* REW in a language with decimal commas: a point groups thousands. */
static void test_decimal_comma(void **state) {
        struct parametric_notes notes;
        struct eq_pro p = parse_ok("Equaliser: Generic\n"
                                   "Filter  1: ON  PK       Fc   38,50 Hz  Gain  -6,80 dB  Q  6,500\n"
                                   "Filter  2: ON  PK       Fc  12.000 Hz  Gain   1,00 dB  Q  0,707\n"
                                   "Preamp: -3,5 dB\n", &notes);

        (void) state;
        assert_int_equal(p.preamp, -35);
        assert_true(band_equal(&p.band[0], &(struct eq_band) { BAND_PEAK, 39, -68, 650 }));
        assert_true(band_equal(&p.band[1], &(struct eq_band) { BAND_PEAK, 12000, 10, 71 }));
        assert_int_equal(notes.n, 2);
        assert_string_equal(notes.note[0].msg, "rounded Fc 38,50 Hz to 39 Hz");
}

/* What real files vary in, all read the same way. */
static void test_liberal(void **state) {
        static const char *const same[] = {
                "Preamp: -6.2 dB\nFilter 1: ON PK Fc 105 Hz Gain 8.7 dB Q 0.70\n",
                "\xef\xbb\xbfPreamp: -6.2 dB\r\nFilter 1: ON PK Fc 105 Hz Gain 8.7 dB Q 0.70\r\n",
                "Preamp: -6.2 dB\nFilter 1: ON PK Fc 105 Hz Gain 8.7 dB Q 0.70",                /* no final LF */
                "\n# from AutoEq\n\nPreamp: -6.2 dB\n\n\nFilter 1: ON PK Fc 105 Hz Gain 8.7 dB Q 0.70\n\n",
                "\tPreamp:\t-6.20 dB  \nFilter\t1 :\tON\tPK\tFc 105.0 Hz\tGain 8.70 dB\tQ 0.700\t\n",
                "preamp: -6.2 db\nfilter 1: on pk fc 105 hz gain 8.7 db q 0.70\n",
                "Filter: ON PEQ Fc 0.105 kHz Gain +8.7 dB Q .7\nPreamp: -6.2 dB\n",
                "Filter 7: ON PK Q 0.70 Gain 8.7dB Fc 105Hz\nPreamp: -6.2dB\n",
                "Filter 1: OFF whatever\nPreamp: -6.2 dB\nFilter 2: ON None\nFilter 3: ON PK Fc 105 Hz Gain 8.7 dB Q 0.70\n",
        };
        struct eq_pro want = { .preamp = -62, .count = 1, .band = { band(BAND_PEAK, 105, 87, 70) } };

        (void) state;
        for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
                struct parametric_notes notes;
                struct eq_pro p = parse_ok(same[i], &notes);
                if (!eq_equal(&p, &want) || notes.n != 0)
                        fail_msg("case %zu read differently (%u notes): %s", i, notes.n, same[i]);
        }
        /* no Preamp: line is 0 dB; -0.0 (AutoEq writes it) is 0 too */
        assert_int_equal(parse_ok("Filter 1: ON PK Fc 105 Hz Gain 8.7 dB Q 0.70\n", NULL).preamp, 0);
        assert_int_equal(parse_ok("Preamp: -0.0 dB\nFilter 1: ON PK Fc 105 Hz Gain 8.7 dB Q 0.70\n", NULL).preamp, 0);
}

/* A value between two steps goes to the nearer; an exact decimal half away
 * from zero, whatever binary floating point would make of it. */
static void test_rounding(void **state) {
        static const struct {
                const char *text;
                struct eq_band band;
                const char *note;
        } cases[] = {
                { "Fc 99.5 Hz Gain 3.55 dB Q 0.705", { BAND_PEAK, 100, 36, 71 },
                  "rounded Fc 99.5 Hz to 100 Hz, Gain 3.55 dB to 3.6 dB, Q 0.705 to 0.71" },
                { "Fc 99.49 Hz Gain -3.55 dB Q 0.7049", { BAND_PEAK, 99, -36, 70 },
                  "rounded Fc 99.49 Hz to 99 Hz, Gain -3.55 dB to -3.6 dB, Q 0.7049 to 0.70" },
                { "Fc 1.0005 kHz Gain 0.04 dB Q 1.0050", { BAND_PEAK, 1001, 0, 101 },
                  "rounded Fc 1.0005 kHz to 1001 Hz, Gain 0.04 dB to 0.0 dB, Q 1.0050 to 1.01" },
                { "Fc 20000.4 Hz Gain -12.04 dB Q 10.004", { BAND_PEAK, 20000, -120, 1000 },
                  "rounded Fc 20000.4 Hz to 20000 Hz, Gain -12.04 dB to -12.0 dB, Q 10.004 to 10.00" },
                { "Fc 19.5 Hz Gain 12.049 dB Q 0.095", { BAND_PEAK, 20, 120, 10 },
                  "rounded Fc 19.5 Hz to 20 Hz, Gain 12.049 dB to 12.0 dB, Q 0.095 to 0.10" },
                { "Fc 105.000 Hz Gain 8.700 dB Q 0.7000", { BAND_PEAK, 105, 87, 70 }, NULL },
        };

        (void) state;
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                char text[160];
                struct parametric_notes notes;
                struct eq_pro p;

                (void) snprintf(text, sizeof(text), "Preamp: -1.23 dB\nFilter 1: ON PK %s\n", cases[i].text);
                p = parse_ok(text, &notes);
                assert_int_equal(p.preamp, -12);
                assert_true(band_equal(&p.band[0], &cases[i].band));
                assert_int_equal(notes.n, cases[i].note ? 2 : 1);
                assert_int_equal(notes.note[0].line, 1);
                assert_string_equal(notes.note[0].msg, "rounded Preamp -1.23 dB to -1.2 dB");
                if (cases[i].note) {
                        assert_int_equal(notes.note[1].line, 2);
                        assert_string_equal(notes.note[1].msg, cases[i].note);
                }
        }
}

/* ---- refusals: each names its line and class ---- */

#define PK1 "Filter 1: ON PK Fc 105 Hz Gain 8.7 dB Q 0.70\n"
#define PK10 PK1 PK1 PK1 PK1 PK1 PK1 PK1 PK1 PK1 PK1

static const struct {
        const char *text;
        size_t len;                     /* 0: strlen */
        unsigned line;
        enum parametric_fault fault;
        const char *msg;
} refused[] = {
        /* not the format */
        { "Preamp: -6.2 dB\nPreamp: -1 dB\n" PK1, 0, 2, PARAMETRIC_SYNTAX, "a second Preamp: line (the first is line 1)" },
        { "Preamp: -6.2\n" PK1, 0, 1, PARAMETRIC_SYNTAX, "Preamp -6.2 needs its unit, dB" },
        { "Preamp: six dB\n" PK1, 0, 1, PARAMETRIC_SYNTAX, "Preamp: \"six\" is not a number" },
        { "Preamp: -6.2 dB please\n" PK1, 0, 1, PARAMETRIC_SYNTAX, "unexpected \"please\"" },
        { PK1 "Filter 2: PK Fc 105 Hz Gain 8.7 dB Q 0.70\n", 0, 2, PARAMETRIC_SYNTAX,
          "expected ON or OFF after \"Filter:\", not \"PK\"" },
        { PK1 "Filter 2: ON\n", 0, 2, PARAMETRIC_SYNTAX, "no filter type after ON" },
        { PK1 "Filter 2: ON Fc 105 Hz Gain 8.7 dB Q 0.70\n", 0, 2, PARAMETRIC_SYNTAX, "no filter type after ON" },
        { "Filter 1: ON PK Fc 105 Hz Gain 8.7 dB\n", 0, 1, PARAMETRIC_SYNTAX, "no Q: a filter needs Fc, Gain and Q" },
        { "Filter 1: ON PK Gain 8.7 dB Q 0.7\n", 0, 1, PARAMETRIC_SYNTAX, "no Fc: a filter needs Fc, Gain and Q" },
        { "Filter 1: ON PK Fc 105 Hz Q 0.7\n", 0, 1, PARAMETRIC_SYNTAX, "no Gain: a filter needs Fc, Gain and Q" },
        { "Filter 1: ON PK Fc 105 Hz Gain 8.7 dB Q 0.7 Fc 106 Hz\n", 0, 1, PARAMETRIC_SYNTAX, "Fc given twice" },
        { "Filter 1: ON PK Fc 105 Hz Gain 8.7 dB Q 0.7 T60 100 ms\n", 0, 1, PARAMETRIC_SYNTAX, "unexpected \"T60\"" },
        { "Filter 1: ON PK Fc 105 Gain 8.7 dB Q 0.7\n", 0, 1, PARAMETRIC_SYNTAX, "Fc 105 needs its unit, Hz or kHz" },
        { "Filter 1: ON PK Fc 105 Hz Gain 8.7 Q 0.7\n", 0, 1, PARAMETRIC_SYNTAX, "Gain 8.7 needs its unit, dB" },
        { "Filter 1: ON PK Fc 1.0.5 Hz Gain 8.7 dB Q 0.7\n", 0, 1, PARAMETRIC_SYNTAX, "Fc: \"1.0.5\" is not a number" },
        { "Filter 1: ON PK Fc 105 Hz Gain 8,7 dB Q 0.7\n", 0, 1, PARAMETRIC_SYNTAX,
          "Q: \"0.7\" is not a number (this text writes decimal commas)" },
        { "Filter 1: ON PK Fc 105 Hz Gain - dB Q 0.7\n", 0, 1, PARAMETRIC_SYNTAX, "Gain: \"-\" is not a number" },
        { "Filter 1: ON PK Fc 105 Hz Gain 1e1 dB Q 0.7\n", 0, 1, PARAMETRIC_SYNTAX, "Gain 1 needs its unit, dB" },
        { PK1 "Equaliser: Generic\n", 0, 2, PARAMETRIC_SYNTAX, "\"Equaliser: Generic\" is not a Preamp: or Filter: line" },
        { "Filtre 1: ON PK Fc 105 Hz Gain 8.7 dB Q 0.70\n" PK1, 0, 1, PARAMETRIC_SYNTAX,
          "\"Filtre 1: ON PK Fc 105 Hz Gain 8...\" is not a Preamp: or Filter: line" },
        { PK1 "Filter 2: ON PK Fc 105 Hz\0 Gain 8.7 dB Q 0.70\n",
          sizeof(PK1 "Filter 2: ON PK Fc 105 Hz\0 Gain 8.7 dB Q 0.70\n") - 1, 2, PARAMETRIC_SYNTAX,
          "a NUL byte: this is not a text file" },
        /* the format, but nothing the Buds have */
        { "Filter 1: ON LS Fc 105 Hz Gain 8.7 dB\n", 0, 1, PARAMETRIC_UNSUPPORTED,
          "filter type \"LS\" is no shelf the Buds have: theirs are LSC and HSC (by centre frequency and Q)" },
        { "Filter 1: ON  HS 12dB  Fc  315.0 Hz  Gain   2.00 dB\n", 0, 1, PARAMETRIC_UNSUPPORTED,
          "filter type \"HS 12dB\" is no shelf the Buds have: theirs are LSC and HSC (by centre frequency and Q)" },
        { "Filter 1: ON  LS Q     Fc   500.0 Hz  Gain   0.00 dB Q  0.707\n", 0, 1, PARAMETRIC_UNSUPPORTED,
          "filter type \"LS Q\" is no shelf the Buds have: theirs are LSC and HSC (by centre frequency and Q)" },
        { "Filter 1: ON LSC 12dB Fc 105 Hz Gain 8.7 dB\n", 0, 1, PARAMETRIC_UNSUPPORTED,
          "filter type \"LSC 12dB\" is no shelf the Buds have: theirs are LSC and HSC (by centre frequency and Q)" },
        { "Filter 1: ON  HP Q     Fc   100.0 Hz  Q  0.707\n", 0, 1, PARAMETRIC_UNSUPPORTED,
          "filter type \"HP Q\" is not supported: only PK (peak), LSC (low shelf) and HSC (high shelf) are" },
        { "Filter 1: ON  All pass  Fc   100.0 Hz  Q  0.707\n", 0, 1, PARAMETRIC_UNSUPPORTED,
          "filter type \"All pass\" is not supported: only PK (peak), LSC (low shelf) and HSC (high shelf) are" },
        { "Filter 1: ON  Modal    Fc   100 Hz  Gain   3.0 dB  Q  5.41  T60 target   100 ms\n", 0, 1,
          PARAMETRIC_UNSUPPORTED,
          "filter type \"Modal\" is not supported: only PK (peak), LSC (low shelf) and HSC (high shelf) are" },
        { "Filter 1: ON PEQ Fc 2000 Hz Gain 4 dB BW Oct 0.5\n", 0, 1, PARAMETRIC_UNSUPPORTED,
          "a bandwidth (BW) is not supported: give the filter's Q" },
        { "Channel: L\n" PK1, 0, 1, PARAMETRIC_UNSUPPORTED,
          "Equalizer APO's \"Channel:\" is not supported: only Preamp: and Filter: lines are" },
        { PK1 "Include: other.txt\n", 0, 2, PARAMETRIC_UNSUPPORTED,
          "Equalizer APO's \"Include:\" is not supported: only Preamp: and Filter: lines are" },
        { "GraphicEQ: 20 -6.2; 21 -6.2\n", 0, 1, PARAMETRIC_UNSUPPORTED,
          "Equalizer APO's \"GraphicEQ:\" is not supported: only Preamp: and Filter: lines are" },
        /* values outside the pro EQ, after rounding */
        { "Preamp: 1.5 dB\n" PK1, 0, 1, PARAMETRIC_RANGE, "Preamp 1.5 dB is outside -12..0 dB" },
        { "Preamp: -12.05 dB\n" PK1, 0, 1, PARAMETRIC_RANGE, "Preamp -12.05 dB rounds to -12.1 dB, outside -12..0 dB" },
        { "Filter 1: ON PK Fc 19.4 Hz Gain 8.7 dB Q 0.70\n", 0, 1, PARAMETRIC_RANGE,
          "Fc 19.4 Hz rounds to 19 Hz, outside 20..20000 Hz" },
        { "Filter 1: ON PK Fc 25 kHz Gain 8.7 dB Q 0.70\n", 0, 1, PARAMETRIC_RANGE, "Fc 25 kHz is outside 20..20000 Hz" },
        { "Filter 1: ON PK Fc 123456789012345 Hz Gain 8.7 dB Q 0.70\n", 0, 1, PARAMETRIC_RANGE,
          "Fc 123456789012345 Hz is outside 20..20000 Hz" },
        { "Filter 1: ON PK Fc 105 Hz Gain 13.3 dB Q 0.70\n", 0, 1, PARAMETRIC_RANGE, "Gain 13.3 dB is outside -12..12 dB" },
        { "Filter 1: ON PK Fc 105 Hz Gain -12.05 dB Q 0.70\n", 0, 1, PARAMETRIC_RANGE,
          "Gain -12.05 dB rounds to -12.1 dB, outside -12..12 dB" },
        { "Filter 1: ON PK Fc 105 Hz Gain 8.7 dB Q 0.09\n", 0, 1, PARAMETRIC_RANGE, "Q 0.09 is outside 0.1..10" },
        { "Filter 1: ON PK Fc 105 Hz Gain 8.7 dB Q 10.005\n", 0, 1, PARAMETRIC_RANGE,
          "Q 10.005 rounds to 10.01, outside 0.1..10" },
        /* how many */
        { PK10 "Filter 11: ON PK Fc 105 Hz Gain 8.7 dB Q 0.70\n", 0, 11, PARAMETRIC_COUNT,
          "a filter beyond the 10th that is ON: the pro Custom EQ takes at most 10" },
        { "", 0, 0, PARAMETRIC_COUNT, "no filter that is ON: the pro Custom EQ takes 1 to 10" },
        { "Preamp: -6.2 dB\nFilter 1: OFF PK Fc 105 Hz Gain 8.7 dB Q 0.70\nFilter 2: ON None\n", 0, 0,
          PARAMETRIC_COUNT, "no filter that is ON: the pro Custom EQ takes 1 to 10" },
        { "Filter Settings file\n\nRoom EQ V5.20\n", 0, 0, PARAMETRIC_COUNT,
          "no filter that is ON: the pro Custom EQ takes 1 to 10" },
};

static void test_refused(void **state) {
        int failed = 0;

        (void) state;
        for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
                const char *text = refused[i].text;
                size_t len = refused[i].len ? refused[i].len : strlen(text);
                struct parametric_err e = { 0 };
                struct parametric_notes notes = { .n = 99 };
                struct eq_pro p = { .count = 99 };
                int r = parametric_parse(text, len, &p, &notes, &e);

                if (r != -EINVAL || e.line != refused[i].line || e.fault != refused[i].fault ||
                    strcmp(e.msg, refused[i].msg) != 0 || p.count != 99 || notes.n != 99) {
                        print_error("case %zu: %d, line %u, %s: \"%s\"\n  want line %u, %s: \"%s\"\n", i, r, e.line,
                                    parametric_fault_name(e.fault), e.msg, refused[i].line,
                                    parametric_fault_name(refused[i].fault), refused[i].msg);
                        failed++;
                }
                /* without a place for the error, the same answer */
                if (parametric_parse(text, len, &p, NULL, NULL) != -EINVAL)
                        failed++;
        }
        assert_int_equal(failed, 0);
        assert_null(parametric_fault_name(0));
}

/* ---- printing ---- */

static void test_print(void **state) {
        struct eq_pro p = {
                .preamp = 0,
                .count = 4,
                .band = {
                        band(BAND_PEAK, 20, -120, 10),
                        band(BAND_LOW_SHELF, 20000, 120, 1000),
                        band(BAND_HIGH_SHELF, 1000, -5, 71),
                        band(BAND_PEAK, 105, 0, 100),
                },
        };
        static const char want[] =
                "Preamp: 0.0 dB\n"
                "Filter 1: ON PK Fc 20 Hz Gain -12.0 dB Q 0.10\n"
                "Filter 2: ON LSC Fc 20000 Hz Gain 12.0 dB Q 10.00\n"
                "Filter 3: ON HSC Fc 1000 Hz Gain -0.5 dB Q 0.71\n"
                "Filter 4: ON PK Fc 105 Hz Gain 0.0 dB Q 1.00\n";
        struct eq_pro back;

        (void) state;
        assert_print(&p, want);
        back = parse_ok(want, NULL);
        assert_true(eq_equal(&back, &p));

        p.preamp = -120;
        p.count = 1;
        assert_print(&p, "Preamp: -12.0 dB\nFilter 1: ON PK Fc 20 Hz Gain -12.0 dB Q 0.10\n");
        /* only what value_check takes */
        p.count = 0;
        assert_null(parametric_print(&p));
        p.count = PRO_BANDS_MAX + 1;
        assert_null(parametric_print(&p));
        p.count = 1;
        p.band[0].q100 = PRO_Q_MAX + 1;
        assert_null(parametric_print(&p));
        p.band[0].q100 = 100;
        p.preamp = 1;
        assert_null(parametric_print(&p));
}

/* print -> parse gives the value back, with nothing rounded, and printing it
 * again the same text: over values spread across every range. */
static void test_round_trip(void **state) {
        uint32_t x = 12345;

        (void) state;
        for (unsigned n = 0; n < 5000; n++) {
                struct parametric_notes notes;
                struct eq_pro p = { 0 }, back;
                char *text, *again;

                x = x * 1664525u + 1013904223u;
                p.preamp = (int16_t) (PRO_PREAMP_MIN + (int) (x >> 8) % (PRO_PREAMP_MAX - PRO_PREAMP_MIN + 1));
                p.count = (uint8_t) (1 + n % PRO_BANDS_MAX);
                for (unsigned i = 0; i < p.count; i++) {
                        x = x * 1664525u + 1013904223u;
                        p.band[i] = band((enum band_type) (x % 3),
                                         (uint16_t) (PRO_FREQ_MIN + (x >> 2) % (PRO_FREQ_MAX - PRO_FREQ_MIN + 1)),
                                         (int16_t) (PRO_GAIN_MIN + (int) ((x >> 9) % (PRO_GAIN_MAX - PRO_GAIN_MIN + 1))),
                                         (uint16_t) (PRO_Q_MIN + (x >> 17) % (PRO_Q_MAX - PRO_Q_MIN + 1)));
                }
                text = parametric_print(&p);
                assert_non_null(text);
                back = parse_ok(text, &notes);
                assert_true(eq_equal(&back, &p));
                assert_int_equal(notes.n, 0);
                again = parametric_print(&back);
                assert_string_equal(again, text);
                free(again);
                free(text);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_autoeq),
                cmocka_unit_test(test_rew),
                cmocka_unit_test(test_decimal_comma),
                cmocka_unit_test(test_liberal),
                cmocka_unit_test(test_rounding),
                cmocka_unit_test(test_refused),
                cmocka_unit_test(test_print),
                cmocka_unit_test(test_round_trip),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
