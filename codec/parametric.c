/* SPDX-License-Identifier: MIT */
/* The parametric EQ text (parametric.h): a line scanner for Equalizer APO's
 * Preamp:/Filter: lines as AutoEq and Room EQ Wizard write them, numbers
 * read as decimal text so that rounding to the wire's steps is exact (0.705
 * is a half, not 0.70499...), and a printer whose text reads back to the
 * same value. It never guesses what a filter means: what does not map
 * exactly onto the pro EQ is refused, naming the line. No I/O, no state. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "codec/parametric.h"

#define QUOTE_MAX 32                    /* bytes of the text quoted in a message */
#define WHOLE_MAX UINT64_C(1000000000)  /* far above every range; larger is "outside" */

/* A quantity of the pro EQ: the file's number times 10^digits is the wire integer. */
struct quantity {
        const char *name;               /* as the file writes it */
        const char *unit;               /* "" for Q */
        unsigned digits;
        int64_t min, max;               /* wire units */
};

static const struct quantity q_preamp = { "Preamp", "dB", 1, PRO_PREAMP_MIN, PRO_PREAMP_MAX };
static const struct quantity q_freq = { "Fc", "Hz", 0, PRO_FREQ_MIN, PRO_FREQ_MAX };
static const struct quantity q_gain = { "Gain", "dB", 1, PRO_GAIN_MIN, PRO_GAIN_MAX };
static const struct quantity q_q = { "Q", "", 2, PRO_Q_MIN, PRO_Q_MAX };

/* Equalizer APO commands that change what the filters mean (which channel,
 * which device, more files, conditions) or are no parametric filter. */
static const char *const apo_commands[] = {
        "Channel", "Device", "Include", "Copy", "Stage", "If", "ElseIf", "Else", "EndIf", "Eval",
        "GraphicEQ", "Convolution", "Delay", "LoudnessCorrection", "VSTPlugin",
};

/* One line of the text, without its LF (and a CR before it). */
struct cursor {
        const char *p, *end;
};

struct parser {
        bool comma;                     /* decimal commas; a point groups thousands */
        bool body;                      /* a Preamp: or Filter: line seen: the header is over */
        unsigned line;
        unsigned preamp_line;
        struct eq_pro eq;
        struct parametric_notes notes;
        char rounded[PARAMETRIC_MSG_MAX];       /* this line's "Fc ... to ..." list */
        struct parametric_err *e;
};

/* ---- Messages ---- */

__attribute__((format(printf, 4, 5)))
static int fail(struct parser *ps, unsigned line, enum parametric_fault fault, const char *fmt, ...) {
        va_list ap;

        if (!ps->e)
                return -EINVAL;
        ps->e->line = line;
        ps->e->fault = fault;
        va_start(ap, fmt);
        (void) vsnprintf(ps->e->msg, sizeof(ps->e->msg), fmt, ap);
        va_end(ap);
        return -EINVAL;
}

/* A piece of the text fit for a message: at most QUOTE_MAX bytes, anything
 * but printable ASCII as '?' (the text may be in any encoding). */
static const char *quote(const char *s, size_t n, char buf[static QUOTE_MAX + 4]) {
        size_t i;

        for (i = 0; i < n && i < QUOTE_MAX; i++)
                buf[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
        if (i < n)
                buf[i++] = '.', buf[i++] = '.', buf[i++] = '.';
        buf[i] = '\0';
        return buf;
}

/* The wire integer u in the file's units: "93", "-6.2", "0.70". */
static const char *fmt_units(int64_t u, unsigned digits, char buf[static 32]) {
        uint64_t a = u < 0 ? (uint64_t) -u : (uint64_t) u;

        if (digits == 0)
                (void) snprintf(buf, 32, "%s%" PRIu64, u < 0 ? "-" : "", a);
        else if (digits == 1)
                (void) snprintf(buf, 32, "%s%" PRIu64 ".%" PRIu64, u < 0 ? "-" : "", a / 10, a % 10);
        else
                (void) snprintf(buf, 32, "%s%" PRIu64 ".%02" PRIu64, u < 0 ? "-" : "", a / 100, a % 100);
        return buf;
}

/* A range's end, without trailing zeros: "-12", "0.1", "20000". */
static const char *fmt_bound(int64_t u, unsigned digits, char buf[static 32]) {
        size_t n = strlen(fmt_units(u, digits, buf));

        while (digits > 0 && n > 0 && buf[n - 1] == '0')
                buf[--n] = '\0';
        if (n > 0 && buf[n - 1] == '.')
                buf[--n] = '\0';
        return buf;
}

/* ---- Scanning a line ---- */

static bool is_blank(char c) {
        return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static bool is_alpha(char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static bool is_digit(char c) {
        return c >= '0' && c <= '9';
}

static void skip_blanks(struct cursor *c) {
        while (c->p < c->end && is_blank(*c->p))
                c->p++;
}

static bool at_end(struct cursor *c) {
        skip_blanks(c);
        return c->p == c->end;
}

/* The word at the cursor (after blanks) is w, in any case, and no letter
 * follows it: consumes it. */
static bool eat_word(struct cursor *c, const char *w) {
        size_t n = strlen(w);

        skip_blanks(c);
        if ((size_t) (c->end - c->p) < n || strncasecmp(c->p, w, n) != 0)
                return false;
        if (c->p + n < c->end && is_alpha(c->p[n]))
                return false;
        c->p += n;
        return true;
}

static bool eat_char(struct cursor *c, char ch) {
        skip_blanks(c);
        if (c->p == c->end || *c->p != ch)
                return false;
        c->p++;
        return true;
}

/* How long the run of non-blank bytes at the cursor (after blanks) is. */
static size_t token_len(struct cursor *c) {
        size_t n = 0;

        skip_blanks(c);
        while (c->p + n < c->end && !is_blank(c->p[n]))
                n++;
        return n;
}

/* Whether the line has the word w anywhere, in any case. */
static bool has_word(struct cursor line, const char *w) {
        size_t n = strlen(w);

        for (const char *s = line.p; s + n <= line.end; s++)
                if ((s == line.p || !is_alpha(s[-1])) && strncasecmp(s, w, n) == 0 &&
                    (s + n == line.end || !is_alpha(s[n])))
                        return true;
        return false;
}

static int unexpected(struct parser *ps, struct cursor *c) {
        char buf[QUOTE_MAX + 4];
        size_t n = token_len(c);

        return fail(ps, ps->line, PARAMETRIC_SYNTAX, "unexpected \"%s\"", quote(c->p, n, buf));
}

/* ---- Numbers ---- */

/* A number as written: sign, whole part, the fraction's digits. */
struct decimal {
        const char *text;
        size_t len;
        bool negative;
        uint64_t whole;                 /* WHOLE_MAX: that or more */
        const char *frac;
        size_t n_frac;
};

static bool is_number_char(char c) {
        return is_digit(c) || c == '.' || c == ',' || c == '+' || c == '-';
}

/* A point that groups thousands in a decimal-comma text: three digits follow, then no digit. */
static bool is_group_point(const char *s, size_t n, size_t i) {
        return s[i] == '.' && i + 3 < n && is_digit(s[i + 1]) && is_digit(s[i + 2]) && is_digit(s[i + 3]) &&
               (i + 4 == n || !is_digit(s[i + 4]));
}

/* The whole part's digits (and group points, in a decimal-comma text); how
 * many bytes they take. */
static size_t read_whole(const char *s, size_t n, bool comma, uint64_t *ret) {
        uint64_t v = 0;
        size_t i;

        for (i = 0; i < n; i++) {
                if (is_digit(s[i]))
                        v = v < WHOLE_MAX ? v * 10 + (uint64_t) (s[i] - '0') : WHOLE_MAX;
                else if (!(comma && i > 0 && is_group_point(s, n, i)))
                        break;
        }
        *ret = v < WHOLE_MAX ? v : WHOLE_MAX;
        return i;
}

static int read_number(struct parser *ps, struct cursor *c, const struct quantity *q, struct decimal *ret) {
        char buf[QUOTE_MAX + 4];
        struct decimal d = { 0 };
        size_t i = 0, w;

        skip_blanks(c);
        d.text = c->p;
        while (c->p + d.len < c->end && is_number_char(c->p[d.len]))
                d.len++;
        if (i < d.len && (c->p[i] == '-' || c->p[i] == '+'))
                d.negative = c->p[i++] == '-';
        w = read_whole(c->p + i, d.len - i, ps->comma, &d.whole);
        i += w;
        if (i < d.len && c->p[i] == (ps->comma ? ',' : '.')) {
                d.frac = c->p + ++i;
                while (i < d.len && is_digit(c->p[i]))
                        i++, d.n_frac++;
        }
        if (d.len == 0 || i != d.len || w + d.n_frac == 0)
                return fail(ps, ps->line, PARAMETRIC_SYNTAX, "%s: \"%s\" is not a number%s", q->name,
                            quote(c->p, d.len ? d.len : token_len(c), buf),
                            ps->comma ? " (this text writes decimal commas)" : "");
        c->p += d.len;
        *ret = d;
        return 0;
}

/* d times 10^digits, rounded to the nearest integer (a half away from zero);
 * *ret_rounded tells whether that changed the value. */
static int64_t to_units(const struct decimal *d, unsigned digits, bool *ret_rounded) {
        uint64_t v = d->whole;
        bool rounded = false;

        for (unsigned k = 0; k < digits; k++)
                v = v * 10 + (k < d->n_frac ? (uint64_t) (d->frac[k] - '0') : 0);
        for (size_t k = digits; k < d->n_frac; k++)
                rounded |= d->frac[k] != '0';
        if (digits < d->n_frac && d->frac[digits] >= '5')
                v++;
        *ret_rounded = rounded;
        return d->negative ? -(int64_t) v : (int64_t) v;
}

/* ---- Values ---- */

/* The value as the text wrote it, with its unit: "92.60 Hz", "8 kHz", "4.882". */
static const char *as_written(const struct decimal *d, const char *unit, char buf[static QUOTE_MAX + 12]) {
        char q[QUOTE_MAX + 4];

        (void) snprintf(buf, QUOTE_MAX + 12, "%s%s%s", quote(d->text, d->len, q), unit[0] ? " " : "", unit);
        return buf;
}

/* The wire integer of d for q, whose unit in the text is unit (10^scale of
 * q's: 3 for kHz), checked against q's range after rounding. A rounding is
 * added to this line's note. */
static int to_quantity(struct parser *ps, const struct quantity *q, const struct decimal *d, const char *unit,
                       unsigned scale, int64_t *ret) {
        char a[QUOTE_MAX + 12], b[32], lo[32], hi[32];
        const char *sp = q->unit[0] ? " " : "";
        bool rounded = false;
        int64_t v = d->whole >= WHOLE_MAX ? INT64_MAX : to_units(d, q->digits + scale, &rounded);
        size_t n = strlen(ps->rounded);

        if ((v < q->min || v > q->max) && rounded)
                return fail(ps, ps->line, PARAMETRIC_RANGE, "%s %s rounds to %s%s%s, outside %s..%s%s%s", q->name,
                            as_written(d, unit, a), fmt_units(v, q->digits, b), sp, q->unit,
                            fmt_bound(q->min, q->digits, lo), fmt_bound(q->max, q->digits, hi), sp, q->unit);
        if (v < q->min || v > q->max)
                return fail(ps, ps->line, PARAMETRIC_RANGE, "%s %s is outside %s..%s%s%s", q->name,
                            as_written(d, unit, a), fmt_bound(q->min, q->digits, lo),
                            fmt_bound(q->max, q->digits, hi), sp, q->unit);
        if (rounded)
                (void) snprintf(ps->rounded + n, sizeof(ps->rounded) - n, "%s%s %s to %s%s%s",
                                n ? ", " : "rounded ", q->name, as_written(d, unit, a),
                                fmt_units(v, q->digits, b), sp, q->unit);
        *ret = v;
        return 0;
}

/* "NUMBER UNIT" for q: Fc in Hz or kHz, gains in dB, Q without a unit. */
static int read_value(struct parser *ps, struct cursor *c, const struct quantity *q, int64_t *ret) {
        char a[QUOTE_MAX + 12];
        struct decimal d = { 0 };
        const char *unit = q->unit;
        unsigned scale = 0;
        int r = read_number(ps, c, q, &d);

        if (r < 0)
                return r;
        if (q == &q_freq && eat_word(c, "kHz"))
                unit = "kHz", scale = 3;
        else if (unit[0] && !eat_word(c, unit))
                return fail(ps, ps->line, PARAMETRIC_SYNTAX, "%s %s needs its unit, %s%s", q->name,
                            as_written(&d, "", a), unit, q == &q_freq ? " or kHz" : "");
        return to_quantity(ps, q, &d, unit, scale, ret);
}

/* ---- Lines ---- */

/* "Preamp: -6.2 dB" */
static int parse_preamp(struct parser *ps, struct cursor *c) {
        int64_t v = 0;
        int r;

        if (ps->preamp_line)
                return fail(ps, ps->line, PARAMETRIC_SYNTAX, "a second Preamp: line (the first is line %u)",
                            ps->preamp_line);
        r = read_value(ps, c, &q_preamp, &v);
        if (r < 0)
                return r;
        if (!at_end(c))
                return unexpected(ps, c);
        ps->preamp_line = ps->line;
        ps->eq.preamp = (int16_t) v;
        return 0;
}

/* A parameter starts here: Fc, Gain, BW, or a Q with its number ("LS Q" is
 * one of REW's type names). */
static bool at_parameter(const struct cursor *c) {
        struct cursor t = *c;

        if (eat_word(&t, "Fc") || (t = *c, eat_word(&t, "Gain")) || (t = *c, eat_word(&t, "BW")))
                return true;
        t = *c;
        return eat_word(&t, "Q") && !at_end(&t) && is_number_char(*t.p);
}

static bool type_is(const char *s, size_t n, const char *name) {
        return strlen(name) == n && strncasecmp(s, name, n) == 0;
}

/* The types that are the pro EQ's own: RBJ cookbook filters at their centre
 * frequency, with Q (PEQ is Equalizer APO's other name for PK). */
static const struct {
        const char *name;
        uint8_t type;
} band_types[] = {
        { "PK", BAND_PEAK },
        { "PEQ", BAND_PEAK },
        { "LSC", BAND_LOW_SHELF },
        { "HSC", BAND_HIGH_SHELF },
};

/* What the type's words name: 1 and *ret for a band; 0 for None, the unused
 * slot REW writes; a refusal for the rest, which have no exact match (REW's
 * LS and HS are set by corner frequency or a fixed slope). */
static int filter_type(struct parser *ps, const char *s, size_t n, uint8_t *ret) {
        char buf[QUOTE_MAX + 4];

        if (type_is(s, n, "None"))
                return 0;
        for (size_t i = 0; i < sizeof(band_types) / sizeof(band_types[0]); i++)
                if (type_is(s, n, band_types[i].name)) {
                        *ret = band_types[i].type;
                        return 1;
                }
        if (n >= 2 && (strncasecmp(s, "LS", 2) == 0 || strncasecmp(s, "HS", 2) == 0))
                return fail(ps, ps->line, PARAMETRIC_UNSUPPORTED, "filter type \"%s\" is no shelf the Buds have: "
                            "theirs are LSC and HSC (by centre frequency and Q)", quote(s, n, buf));
        return fail(ps, ps->line, PARAMETRIC_UNSUPPORTED, "filter type \"%s\" is not supported: only PK (peak), "
                    "LSC (low shelf) and HSC (high shelf) are", quote(s, n, buf));
}

/* The type: the words up to the first parameter ("PK", "LS 6dB", "All pass"). */
static int read_type(struct parser *ps, struct cursor *c, uint8_t *ret) {
        const char *start, *end;

        skip_blanks(c);
        start = end = c->p;
        while (!at_end(c) && !at_parameter(c)) {
                c->p += token_len(c);
                end = c->p;
        }
        if (end == start)
                return fail(ps, ps->line, PARAMETRIC_SYNTAX, "no filter type after ON");
        return filter_type(ps, start, (size_t) (end - start), ret);
}

/* "Fc 105 Hz Gain 8.7 dB Q 0.70", each once, in any order. */
static int read_parameters(struct parser *ps, struct cursor *c, struct eq_band *b) {
        const struct quantity *const qs[] = { &q_freq, &q_gain, &q_q };
        bool seen[3] = { false };
        int64_t v[3] = { 0 };
        size_t i;
        int r;

        while (!at_end(c)) {
                for (i = 0; i < 3 && !eat_word(c, qs[i]->name); i++)
                        ;
                if (i == 3 && eat_word(c, "BW"))
                        return fail(ps, ps->line, PARAMETRIC_UNSUPPORTED,
                                    "a bandwidth (BW) is not supported: give the filter's Q");
                if (i == 3)
                        return unexpected(ps, c);
                if (seen[i])
                        return fail(ps, ps->line, PARAMETRIC_SYNTAX, "%s given twice", qs[i]->name);
                seen[i] = true;
                r = read_value(ps, c, qs[i], &v[i]);
                if (r < 0)
                        return r;
        }
        for (i = 0; i < 3; i++)
                if (!seen[i])
                        return fail(ps, ps->line, PARAMETRIC_SYNTAX, "no %s: a filter needs Fc, Gain and Q",
                                    qs[i]->name);
        b->freq_hz = (uint16_t) v[0];
        b->gain = (int16_t) v[1];
        b->q100 = (uint16_t) v[2];
        return 0;
}

/* After "Filter N:": OFF (skipped whatever follows, as Equalizer APO does),
 * or ON, the type and, for a band, its parameters. */
static int parse_filter(struct parser *ps, struct cursor *c) {
        char buf[QUOTE_MAX + 4];
        struct eq_band b = { 0 };
        int r;

        if (eat_word(c, "OFF"))
                return 0;
        if (!eat_word(c, "ON"))
                return fail(ps, ps->line, PARAMETRIC_SYNTAX, "expected ON or OFF after \"Filter:\", not \"%s\"",
                            quote(c->p, token_len(c), buf));
        r = read_type(ps, c, &b.type);
        if (r <= 0)
                return r;
        if (ps->eq.count == PRO_BANDS_MAX)
                return fail(ps, ps->line, PARAMETRIC_COUNT, "a filter beyond the %dth that is ON: the pro "
                            "Custom EQ takes at most %d", PRO_BANDS_MAX, PRO_BANDS_MAX);
        r = read_parameters(ps, c, &b);
        if (r < 0)
                return r;
        ps->eq.band[ps->eq.count++] = b;
        return 0;
}

enum line_kind {
        LINE_PREAMP,
        LINE_FILTER,
        LINE_OTHER,
};

/* "Preamp:" or "Filter:", "Filter 3:", "Filter  3:"; the cursor is left
 * after the colon. */
static enum line_kind line_kind(struct cursor *c) {
        struct cursor t = *c;

        if (eat_word(&t, "Preamp") && eat_char(&t, ':')) {
                *c = t;
                return LINE_PREAMP;
        }
        t = *c;
        if (!eat_word(&t, "Filter"))
                return LINE_OTHER;
        skip_blanks(&t);
        while (t.p < t.end && is_digit(*t.p))
                t.p++;
        if (!eat_char(&t, ':'))
                return LINE_OTHER;     /* REW's first line, "Filter Settings file" */
        *c = t;
        return LINE_FILTER;
}

/* Any other line. An Equalizer APO command that changes what the filters
 * mean (Channel: L) is refused. Before the first Preamp: or Filter: line
 * the rest is REW's header (its name, the date, notes, the equaliser, the
 * measurement) and skipped, unless it mentions Fc: a mistyped filter line
 * must not vanish. After it, nothing else may come. */
static int other_line(struct parser *ps, struct cursor c) {
        char buf[QUOTE_MAX + 4];

        for (size_t i = 0; i < sizeof(apo_commands) / sizeof(apo_commands[0]); i++) {
                struct cursor t = c;
                if (eat_word(&t, apo_commands[i]) && eat_char(&t, ':'))
                        return fail(ps, ps->line, PARAMETRIC_UNSUPPORTED, "Equalizer APO's \"%s:\" is not "
                                    "supported: only Preamp: and Filter: lines are", apo_commands[i]);
        }
        if (!ps->body && !has_word(c, "Fc"))
                return 0;
        skip_blanks(&c);
        return fail(ps, ps->line, PARAMETRIC_SYNTAX, "\"%s\" is not a Preamp: or Filter: line",
                    quote(c.p, (size_t) (c.end - c.p), buf));
}

static void add_note(struct parser *ps) {
        struct parametric_note *n;

        if (!ps->rounded[0] || ps->notes.n >= sizeof(ps->notes.note) / sizeof(ps->notes.note[0]))
                return;
        n = &ps->notes.note[ps->notes.n++];
        n->line = ps->line;
        memcpy(n->msg, ps->rounded, sizeof(n->msg));
}

static int parse_line(struct parser *ps, struct cursor c) {
        enum line_kind k;
        int r;

        ps->rounded[0] = '\0';
        if (memchr(c.p, '\0', (size_t) (c.end - c.p)))
                return fail(ps, ps->line, PARAMETRIC_SYNTAX, "a NUL byte: this is not a text file");
        if (at_end(&c) || *c.p == '#')
                return 0;               /* blank, or a comment (Equalizer APO's) */
        k = line_kind(&c);
        if (k == LINE_OTHER)
                return other_line(ps, c);
        ps->body = true;
        r = k == LINE_PREAMP ? parse_preamp(ps, &c) : parse_filter(ps, &c);
        if (r == 0)
                add_note(ps);
        return r;
}

/* The next line of *rest, without its LF; false at the end of the text. */
static bool next_line(struct cursor *rest, struct cursor *ret) {
        const char *nl;

        if (rest->p == rest->end)
                return false;
        nl = memchr(rest->p, '\n', (size_t) (rest->end - rest->p));
        ret->p = rest->p;
        ret->end = nl ? nl : rest->end;
        rest->p = nl ? nl + 1 : rest->end;
        return true;
}

/* Room EQ Wizard writes numbers in its user's language: "38,50 Hz", and
 * "12.000 Hz" for twelve thousand. A text is read that way when one of its
 * Preamp: or Filter: lines has a digit, a comma and a digit. */
static bool uses_decimal_comma(struct cursor text) {
        struct cursor line;

        while (next_line(&text, &line)) {
                if (line_kind(&line) == LINE_OTHER)
                        continue;
                for (const char *s = line.p; s + 2 < line.end; s++)
                        if (is_digit(s[0]) && s[1] == ',' && is_digit(s[2]))
                                return true;
        }
        return false;
}

int parametric_parse(const char *text, size_t len, struct eq_pro *ret, struct parametric_notes *ret_notes,
                     struct parametric_err *e) {
        struct cursor rest = { text, text + len }, line;
        struct parser ps = { .e = e };
        int r;

        if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
                rest.p += 3;            /* a UTF-8 byte-order mark (Windows editors write one) */
        ps.comma = uses_decimal_comma(rest);
        while (next_line(&rest, &line)) {
                ps.line++;
                r = parse_line(&ps, line);
                if (r < 0)
                        return r;
        }
        if (ps.eq.count == 0)
                return fail(&ps, 0, PARAMETRIC_COUNT, "no filter that is ON: the pro Custom EQ takes 1 to %d",
                            PRO_BANDS_MAX);
        *ret = ps.eq;
        if (ret_notes)
                *ret_notes = ps.notes;
        return 0;
}

const char *parametric_fault_name(enum parametric_fault f) {
        switch (f) {
        case PARAMETRIC_SYNTAX:
                return "syntax";
        case PARAMETRIC_UNSUPPORTED:
                return "unsupported";
        case PARAMETRIC_RANGE:
                return "range";
        case PARAMETRIC_COUNT:
                return "count";
        }
        return NULL;
}

/* ---- Printing ---- */

static const char *band_token(uint8_t type) {
        switch ((enum band_type) type) {
        case BAND_PEAK:
                return "PK";
        case BAND_LOW_SHELF:
                return "LSC";
        case BAND_HIGH_SHELF:
                return "HSC";
        }
        return NULL;
}

char *parametric_print(const struct eq_pro *p) {
        char *text, a[32], b[32], c[32];
        size_t size = 32 + PRO_BANDS_MAX * 64, n;
        struct value v;

        value_init(&v, KEY_EQ_CUSTOM, FAMILY_PRO);
        v.custom.pro = *p;
        if (value_check(&v, NULL) < 0 || !(text = malloc(size)))
                return NULL;
        n = (size_t) snprintf(text, size, "Preamp: %s dB\n", fmt_units(p->preamp, q_preamp.digits, a));
        for (unsigned i = 0; i < p->count; i++) {
                const struct eq_band *band = &p->band[i];
                n += (size_t) snprintf(text + n, size - n, "Filter %u: ON %s Fc %s Hz Gain %s dB Q %s\n", i + 1,
                                       band_token(band->type), fmt_units(band->freq_hz, q_freq.digits, a),
                                       fmt_units(band->gain, q_gain.digits, b), fmt_units(band->q100, q_q.digits, c));
        }
        return text;
}
