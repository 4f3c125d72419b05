/* SPDX-License-Identifier: MIT */
/* Accept-Encoding and gzip (see gzip.h). The grammar is RFC 9110's:
 *   Accept-Encoding = #( codings [ OWS ";" OWS "q=" qvalue ] )
 *   qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
 * "gzip;q=0" is a refusal, not a preference: a client that says it must get
 * identity, so an element we cannot read counts as not said at all rather
 * than as a yes. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <zlib.h>

#include "gzip.h"

/* zlib's default, the middle between size and time: the answer is
 * compressed on the one event loop, where every other request waits. */
#define GZIP_LEVEL 6

static bool gzip_is_ows(char c) {
        return c == ' ' || c == '\t';
}

static const char *gzip_skip_ows(const char *p) {
        while (gzip_is_ows(*p))
                p++;
        return p;
}

/* RFC 9110's tchar: what a coding name is made of. */
static bool gzip_is_tchar(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* A qvalue at *p, in thousandths; NULL when it is not one. */
static const char *gzip_qvalue(const char *p, int *ret) {
        int q, digits = 0, scale = 100;

        if (*p != '0' && *p != '1')
                return NULL;
        q = (*p++ - '0') * 1000;
        if (*p == '.')
                for (p++; *p >= '0' && *p <= '9' && digits < 3; p++, digits++, scale /= 10)
                        q += (*p - '0') * scale;
        if ((*p >= '0' && *p <= '9') || q > 1000)
                return NULL;
        *ret = q;
        return p;
}

/* One element: its coding in [*ret_name, +*ret_len) and its weight.
 * Returns where the element ends (at ',' or the end), or NULL when it does
 * not parse (the caller skips to the next ','). */
static const char *gzip_element(const char *p, const char **ret_name, size_t *ret_len, int *ret_q) {
        const char *name = p;
        int q = 1000;

        while (gzip_is_tchar(*p))
                p++;
        if (p == name)
                return NULL;
        *ret_name = name;
        *ret_len = (size_t) (p - name);
        p = gzip_skip_ows(p);
        if (*p == ';') {
                p = gzip_skip_ows(p + 1);
                if ((p[0] != 'q' && p[0] != 'Q') || p[1] != '=')
                        return NULL;
                p = gzip_qvalue(p + 2, &q);
                if (!p)
                        return NULL;
                p = gzip_skip_ows(p);
        }
        if (*p && *p != ',')
                return NULL;
        *ret_q = q;
        return p;
}

static bool gzip_name_is(const char *name, size_t len, const char *what) {
        return strlen(what) == len && strncasecmp(name, what, len) == 0;
}

void gzip_accept_parse(struct gzip_accept *a, const char *value) {
        const char *p = value;

        while (p && *p) {
                const char *name, *end;
                size_t len;
                int q;

                p = gzip_skip_ows(p);
                if (*p == ',') {                /* empty list elements are allowed */
                        p++;
                        continue;
                }
                end = gzip_element(p, &name, &len, &q);
                if (!end) {
                        p = strchr(p, ',');
                        continue;
                }
                /* the first mention counts: a second one is a client's mistake */
                if ((gzip_name_is(name, len, "gzip") || gzip_name_is(name, len, "x-gzip")) && a->gzip < 0)
                        a->gzip = q;
                else if (gzip_name_is(name, len, "*") && a->any < 0)
                        a->any = q;
                p = end;
        }
}

bool gzip_accept_ok(const struct gzip_accept *a) {
        if (a->gzip >= 0)
                return a->gzip > 0;
        return a->any > 0;
}

int gzip_compress(const void *in, size_t len, void **ret, size_t *ret_len) {
        z_stream z = {};
        void *out;
        size_t cap;
        int rc;

        if (len >= UINT32_MAX)
                return -E2BIG;          /* one deflate() call; syncd's bodies are a few MB at most */
        if (deflateInit2(&z, GZIP_LEVEL, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
                return -ENOMEM;
        cap = deflateBound(&z, (uLong) len);
        out = cap < UINT32_MAX ? malloc(cap) : NULL;
        if (!out) {
                deflateEnd(&z);
                return -ENOMEM;
        }
        z.next_in = (Bytef *) in;
        z.avail_in = (uInt) len;
        z.next_out = out;
        z.avail_out = (uInt) cap;
        rc = deflate(&z, Z_FINISH);
        deflateEnd(&z);
        if (rc != Z_STREAM_END) {
                free(out);
                return -EIO;
        }
        if (z.total_out >= len) {
                free(out);
                return -E2BIG;
        }
        *ret = out;
        *ret_len = z.total_out;
        return 0;
}
