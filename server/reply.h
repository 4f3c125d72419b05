/* SPDX-License-Identifier: MIT */
/* What syncd answers to one request before it becomes HTTP: a status, a JSON
 * body and the few headers the API defines. Every error body of the sync API is
 * built here, so the error codes live in one place. Knows nothing of
 * libmicrohttpd, the store or the accounts. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#define REPLY_REQUIRED_SCHEMA 1
#define REPLY_UNAVAILABLE_RETRY_SEC 1   /* Retry-After of a 503 for a database out of reach */

struct reply {
        unsigned status;                /* 0: nothing decided yet */
        char *body;                     /* malloc'd, NUL-terminated; NULL: no body */
        const char *content_type;       /* NULL: application/json */
        const char *allow;              /* Allow: of a 405 */
        unsigned retry_after;           /* seconds; 0: no Retry-After */
        bool replay;                    /* Idempotent-Replay: true */
        bool close;                     /* Connection: close, then close it */
};

void reply_clear(struct reply *r);

/* Each returns 0 with *r filled, or -ENOMEM. reply_json takes body in any case. */
int reply_json(struct reply *r, unsigned status, cJSON *body);
int reply_text(struct reply *r, unsigned status, const char *content_type, const char *text);
int reply_empty(struct reply *r, unsigned status);
int reply_error(struct reply *r, unsigned status, const char *code, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
int reply_schema_mismatch(struct reply *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The answer to a request that failed with the negative errno error: 503
 * unavailable with Retry-After for -ENOTCONN (what the store says when its
 * database is out of reach: the same request will work later), else 500
 * internal. */
int reply_failure(struct reply *r, int error);

/* The error code the API uses for a status ("internal" for any other 5xx). */
const char *reply_code_for_status(unsigned status);

/* text as a client sent it, fit to quote in a message: printable ASCII kept,
 * '%' and every other byte as %XX, cut to fit buf with "..." at the end.
 * Returns buf. */
const char *reply_printable(const char *text, char *buf, size_t size);
