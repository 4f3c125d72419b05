/* SPDX-License-Identifier: MIT */
/* The strict JSON reader under every JSON input from outside (HTTP bodies,
 * D-Bus arguments, the command line). cJSON on its own accepts more than JSON
 * (leading zeros, control characters, a BOM, "\u0000" that silently cuts a
 * string, a bad \u escape read as NUL) and keeps duplicate members, so every
 * text is scanned before cJSON sees it and checked for duplicates after. Knows
 * nothing of records; never does I/O or keeps state. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "codec/json-strict.h"
#include "common/cleanup.h"

#define JSON_STRICT_DEPTH_MAX 16
#define NUMBER_TEXT_MAX 63              /* cJSON reads no more of a number */

DEFINE_TRIVIAL_CLEANUP_FUNC(cJSON *, cJSON_Delete)

/* A piece of input fit to quote in a message: at most JSON_STRICT_QUOTE_MAX bytes, cut on
 * a character boundary, and nothing that would need escaping. */
const char *json_strict_quote(const char *s, char buf[static JSON_STRICT_QUOTE_MAX + 4]) {
        size_t n = 0;

        if (!s)
                return "(null)";
        for (; s[n] && n < JSON_STRICT_QUOTE_MAX; n++) {
                unsigned char c = (unsigned char) s[n];
                buf[n] = c < 0x20 || c == 0x7f || c == '"' || c == '\\' ? '?' : (char) c;
        }
        if (!s[n]) {
                buf[n] = '\0';
                return buf;
        }
        while (n > 0 && ((unsigned char) s[n] & 0xc0) == 0x80)
                n--;
        memcpy(buf + n, "...", 4);
        return buf;
}

/* ---- The scan before cJSON ---- */

struct scan {
        const unsigned char *p;
        size_t len;
        size_t i;
        unsigned depth;
};

static bool is_ws(unsigned char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool is_digit(unsigned char c) {
        return c >= '0' && c <= '9';
}

static bool is_in(unsigned char c, const char *set) {
        return c && strchr(set, c);
}

static bool is_hex4(const unsigned char *p) {
        for (unsigned k = 0; k < 4; k++)
                if (!is_digit(p[k]) && !is_in(p[k] | 0x20, "abcdef"))
                        return false;
        return true;
}

static int scan_escape(struct scan *s, struct value_err *e) {
        size_t at = s->i;
        unsigned char c = at + 1 < s->len ? s->p[at + 1] : 0;

        if (is_in(c, "\"\\/bfnrt")) {
                s->i += 2;
                return 0;
        }
        if (c != 'u' || s->len - at < 6 || !is_hex4(s->p + at + 2))
                return value_errf(e, -EINVAL, "json: invalid escape at byte %zu", at);
        if (memcmp(s->p + at + 2, "0000", 4) == 0)
                return value_errf(e, -EINVAL, "json: \\u0000 at byte %zu is not allowed", at);
        s->i += 6;
        return 0;
}

static int scan_char(struct scan *s, struct value_err *e) {
        unsigned char c = s->p[s->i];
        size_t n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;

        if (c < 0x20)
                return value_errf(e, -EINVAL, "json: control character in a string at byte %zu", s->i);
        if (n > s->len - s->i || !utf8_is_valid((const char *) s->p + s->i, n))
                return value_errf(e, -EINVAL, "json: invalid UTF-8 at byte %zu", s->i);
        s->i += n;
        return 0;
}

static int scan_string(struct scan *s, struct value_err *e) {
        size_t start = s->i++;

        while (s->i < s->len) {
                int r;

                if (s->p[s->i] == '"') {
                        s->i++;
                        return 0;
                }
                r = s->p[s->i] == '\\' ? scan_escape(s, e) : scan_char(s, e);
                if (r < 0)
                        return r;
        }
        return value_errf(e, -EINVAL, "json: unterminated string at byte %zu", start);
}

static bool scan_accept(struct scan *s, const char *set) {
        if (s->i < s->len && is_in(s->p[s->i], set)) {
                s->i++;
                return true;
        }
        return false;
}

static bool scan_digits(struct scan *s) {
        size_t start = s->i;

        while (s->i < s->len && is_digit(s->p[s->i]))
                s->i++;
        return s->i > start;
}

/* RFC 8259 numbers only: cJSON takes "01", "1." and "1.e5" through strtod. */
static int scan_number(struct scan *s, struct value_err *e) {
        size_t start = s->i;
        bool ok;

        (void) scan_accept(s, "-");
        ok = scan_accept(s, "0") || scan_digits(s);
        if (ok && scan_accept(s, "."))
                ok = scan_digits(s);
        if (ok && scan_accept(s, "eE")) {
                (void) scan_accept(s, "+-");
                ok = scan_digits(s);
        }
        if (ok && s->i < s->len && is_in(s->p[s->i], "0123456789+-.eE"))
                ok = false;
        if (!ok)
                return value_errf(e, -EINVAL, "json: invalid number at byte %zu", start);
        if (s->i - start > NUMBER_TEXT_MAX)
                return value_errf(e, -EINVAL, "json: number at byte %zu is longer than %d characters",
                                  start, NUMBER_TEXT_MAX);
        return 0;
}

static int scan_token(struct scan *s, struct value_err *e) {
        unsigned char c = s->p[s->i];

        if (c == '"')
                return scan_string(s, e);
        if (c == '-' || is_digit(c))
                return scan_number(s, e);
        if ((c == '{' || c == '[') && ++s->depth > JSON_STRICT_DEPTH_MAX)
                return value_errf(e, -EINVAL, "json: nesting deeper than %d at byte %zu", JSON_STRICT_DEPTH_MAX, s->i);
        if ((c == '}' || c == ']') && s->depth > 0)
                s->depth--;
        if (c < 0x20 && !is_ws(c))
                return value_errf(e, -EINVAL, "json: control character at byte %zu", s->i);
        if (c >= 0x80)          /* a byte order mark too: RFC 8259 8.1 */
                return value_errf(e, -EINVAL, "json: unexpected data at byte %zu", s->i);
        s->i++;
        return 0;
}

/* Lexical rules only; cJSON then checks the grammar. */
static int scan_text(const char *text, size_t len, struct value_err *e) {
        struct scan s = { (const unsigned char *) text, len, 0, 0 };

        while (s.i < s.len) {
                int r = scan_token(&s, e);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* ---- Duplicate members ---- */

static int cmp_names(const void *a, const void *b) {
        return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* 1 and *ret set when two members share a name, 0 when none do. */
static int find_duplicate(const cJSON *obj, const char **ret) {
        _cleanup_(freep) const char **names = NULL;
        size_t n = 0, i = 0;

        for (const cJSON *c = obj->child; c; c = c->next)
                n++;
        if (n <= 16) {          /* the common case: no allocation */
                for (const cJSON *a = obj->child; a; a = a->next)
                        for (const cJSON *b = a->next; b; b = b->next)
                                if (strcmp(a->string, b->string) == 0) {
                                        *ret = a->string;
                                        return 1;
                                }
                return 0;
        }
        names = malloc(n * sizeof(*names));
        if (!names)
                return -ENOMEM;
        for (const cJSON *c = obj->child; c; c = c->next)
                names[i++] = c->string;
        qsort(names, n, sizeof(*names), cmp_names);
        for (i = 1; i < n; i++)
                if (strcmp(names[i - 1], names[i]) == 0) {
                        *ret = names[i];
                        return 1;
                }
        return 0;
}

static int check_duplicates(const cJSON *j, struct value_err *e) {
        char buf[JSON_STRICT_QUOTE_MAX + 4];
        const char *name;
        int r;

        if (cJSON_IsObject(j)) {
                r = find_duplicate(j, &name);
                if (r < 0)
                        return r;
                if (r > 0)
                        return value_errf(e, -EINVAL, "json: duplicate member \"%s\"", json_strict_quote(name, buf));
        }
        for (const cJSON *c = j->child; c; c = c->next) {
                r = check_duplicates(c, e);
                if (r < 0)
                        return r;
        }
        return 0;
}

int json_strict_parse(const char *text, size_t len, cJSON **ret, struct value_err *e) {
        _cleanup_(cJSON_Deletep) cJSON *j = NULL;
        const char *end = NULL;
        size_t pos;
        int r;

        if (!text && len > 0)
                return -EINVAL;
        if (!text)
                text = "";
        r = scan_text(text, len, e);
        if (r < 0)
                return r;
        /* Not require_null_terminated: text need not end in a NUL, and cJSON
         * would then fail a complete document; trailing bytes are ours to find. */
        j = cJSON_ParseWithLengthOpts(text, len, &end, false);
        if (!j)
                return value_errf(e, -EINVAL, "json: syntax error at byte %zu", end ? (size_t) (end - text) : 0);
        for (pos = (size_t) (end - text); pos < len && is_ws((unsigned char) text[pos]); pos++)
                ;
        if (pos < len)
                return value_errf(e, -EINVAL, "json: unexpected data at byte %zu", pos);
        r = check_duplicates(j, e);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(j);
        return 0;
}

/* ---- Unknown members ---- */

static bool name_in(const char *s, const char *const *names) {
        for (; s && *names; names++)
                if (strcmp(s, *names) == 0)
                        return true;
        return false;
}

int json_strict_check_members(const cJSON *obj, const char *const *names, struct value_err *e) {
        char buf[JSON_STRICT_QUOTE_MAX + 4];

        if (!cJSON_IsObject(obj))
                return value_errf(e, -EINVAL, "must be an object");
        for (const cJSON *c = obj->child; c; c = c->next)
                if (!name_in(c->string, names))
                        return value_errf(e, -EINVAL, "unknown member \"%s\"", json_strict_quote(c->string, buf));
        return 0;
}
