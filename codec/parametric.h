/* SPDX-License-Identifier: MIT */
/* The parametric EQ text that AutoEq ("ParametricEQ.txt") and Room EQ
 * Wizard ("Export filter settings as text") write, in Equalizer APO's
 * Preamp:/Filter: lines, read into the pro Custom EQ's parameters and
 * printed from them. Reading takes what maps exactly onto the pro EQ (peak,
 * and shelves given by centre frequency and Q), rounds a value that falls
 * between the wire's steps to the nearest step and says so, and refuses
 * everything else naming the line; the rules are in docs/protocol.md
 * ("The program"), the cases in docs/vectors/parametric-eq.json. Pure: no
 * I/O; the printed text is the one allocation. */
#pragma once

#include <stddef.h>

#include "policy/value.h"

#define PARAMETRIC_MSG_MAX 160

/* Why a text is refused; each has a name in the vectors. */
enum parametric_fault {
        PARAMETRIC_SYNTAX = 1,          /* not the format: a line, a number, a unit, a parameter */
        PARAMETRIC_UNSUPPORTED,         /* the format, but nothing the pro EQ has (a filter type, BW, Channel:) */
        PARAMETRIC_RANGE,               /* a value outside the pro EQ's range, after rounding */
        PARAMETRIC_COUNT,               /* more than 10 filters that are ON, or none */
};

struct parametric_err {
        unsigned line;                  /* 1-based; 0: the text as a whole */
        enum parametric_fault fault;
        char msg[PARAMETRIC_MSG_MAX];   /* without the line: "Q 12 is outside 0.1..10" */
};

/* A line whose values were rounded to the wire's steps, and which. */
struct parametric_note {
        unsigned line;
        char msg[PARAMETRIC_MSG_MAX];   /* "rounded Fc 92.60 Hz to 93 Hz, Q 4.882 to 4.88" */
};

struct parametric_notes {
        unsigned n;
        struct parametric_note note[PRO_BANDS_MAX + 1];   /* the preamp's line and each band's */
};

/* Reads text (len bytes, NUL not needed) into *ret, which then passes
 * value_check as a pro eq.custom; *ret_notes (may be NULL) says what was
 * rounded. 0, or -EINVAL with *e (may be NULL) saying where and why; the
 * ret_ arguments are written only on success. */
int parametric_parse(const char *text, size_t len, struct eq_pro *ret, struct parametric_notes *ret_notes,
                     struct parametric_err *e);

/* "syntax", "unsupported", "range", "count"; NULL if invalid */
const char *parametric_fault_name(enum parametric_fault f);

/* The text of p, as AutoEq writes it: "Preamp: -6.2 dB", then per band
 * "Filter 1: ON PK Fc 105 Hz Gain 8.7 dB Q 0.70" (PK, LSC or HSC), each line
 * ending in LF. Reading it back gives p, printing that gives the same text.
 * malloc'd; NULL on OOM or when p fails value_check. */
char *parametric_print(const struct eq_pro *p);
