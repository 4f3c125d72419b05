/* SPDX-License-Identifier: MIT */
/* Content coding of syncd's answers: whether a request's Accept-Encoding
 * takes gzip (RFC 9110 12.5.3, with its q-values), and a body compressed in
 * one call of zlib. Knows nothing of HTTP libraries; never compresses what
 * would not come out smaller. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Smaller bodies go as they are: a gzip member costs 18 bytes of framing and
 * a few of tables, and an error or a status answer is a few hundred bytes. */
#define GZIP_MIN_BYTES 1024u

/* What the Accept-Encoding field lines said so far: each coding's weight in
 * thousandths, -1 while not named. */
struct gzip_accept {
        int gzip;                       /* "gzip" or its alias "x-gzip" */
        int any;                        /* "*" */
};

#define GZIP_ACCEPT_INIT { .gzip = -1, .any = -1 }

/* Reads one Accept-Encoding field value into a (call once per field line:
 * several lines are one list). An element that does not parse is ignored. */
void gzip_accept_parse(struct gzip_accept *a, const char *value);
/* gzip named with q > 0, or not named and "*" with q > 0. */
bool gzip_accept_ok(const struct gzip_accept *a);

/* The gzip member of in[0..len) in *ret (malloc'd, *ret_len bytes). -E2BIG
 * when it would not be smaller than len, -ENOMEM, -EIO. */
int gzip_compress(const void *in, size_t len, void **ret, size_t *ret_len);
