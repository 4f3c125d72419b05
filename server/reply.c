/* SPDX-License-Identifier: MIT */
/* The replies of syncd and the sync API's error table: every error is
 * {"error": {"code", "message"}}, schema_mismatch adds "required_schema".
 * Must never put a token or a record into a message. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "reply.h"

void reply_clear(struct reply *r) {
        free(r->body);
        *r = (struct reply) {};
}

int reply_json(struct reply *r, unsigned status, cJSON *body) {
        char *text;

        text = body ? cJSON_PrintUnformatted(body) : NULL;
        cJSON_Delete(body);
        if (!text)
                return -ENOMEM;
        reply_clear(r);
        r->status = status;
        r->body = text;
        return 0;
}

int reply_text(struct reply *r, unsigned status, const char *content_type, const char *text) {
        char *copy = strdup(text);

        if (!copy)
                return -ENOMEM;
        reply_clear(r);
        r->status = status;
        r->body = copy;
        r->content_type = content_type;
        return 0;
}

int reply_empty(struct reply *r, unsigned status) {
        reply_clear(r);
        r->status = status;
        return 0;
}

const char *reply_code_for_status(unsigned status) {
        switch (status) {
        case 400: return "bad_request";
        case 401: return "unauthorized";
        case 404: return "not_found";
        case 405: return "method_not_allowed";
        case 409: return "in_progress";
        case 413: return "too_large";
        case 422: return "idempotency_key_reused";
        case 429: return "rate_limited";
        case 503: return "unavailable";
        }
        return status >= 500 ? "internal" : "bad_request";
}

/* A path is the client's bytes, decoded: anything, invalid UTF-8 and control
 * bytes included. Percent-encoding them again keeps every message valid
 * UTF-8 and one line, and still shows what arrived. */
const char *reply_printable(const char *text, char *buf, size_t size) {
        static const char hex[] = "0123456789ABCDEF";
        size_t n = 0;

        for (const unsigned char *p = (const unsigned char *) text; *p; p++) {
                bool plain = *p > ' ' && *p < 0x7f && *p != '%';

                if (n + (plain ? 1 : 3) + 4 > size) {
                        memcpy(buf + n, "...", 4);
                        return buf;
                }
                if (plain)
                        buf[n++] = (char) *p;
                else {
                        buf[n++] = '%';
                        buf[n++] = hex[*p >> 4];
                        buf[n++] = hex[*p & 0xf];
                }
        }
        buf[n] = '\0';
        return buf;
}

static int reply_verror(struct reply *r, unsigned status, const char *code, int required_schema,
                        const char *fmt, va_list ap) {
        _cleanup_(cJSON_Deletep) cJSON *root = cJSON_CreateObject();
        _cleanup_(freep) char *msg = NULL;
        cJSON *err;

        if (vasprintf(&msg, fmt, ap) < 0)
                return -ENOMEM;
        err = cJSON_AddObjectToObject(root, "error");
        if (!err || !cJSON_AddStringToObject(err, "code", code) ||
            !cJSON_AddStringToObject(err, "message", msg))
                return -ENOMEM;
        if (required_schema > 0 && !cJSON_AddNumberToObject(err, "required_schema", required_schema))
                return -ENOMEM;
        return reply_json(r, status, TAKE_PTR(root));
}

int reply_error(struct reply *r, unsigned status, const char *code, const char *fmt, ...) {
        va_list ap;
        int k;

        va_start(ap, fmt);
        k = reply_verror(r, status, code, 0, fmt, ap);
        va_end(ap);
        return k;
}

int reply_schema_mismatch(struct reply *r, const char *fmt, ...) {
        va_list ap;
        int k;

        va_start(ap, fmt);
        k = reply_verror(r, 400, "schema_mismatch", REPLY_REQUIRED_SCHEMA, fmt, ap);
        va_end(ap);
        return k;
}

int reply_failure(struct reply *r, int error) {
        int k;

        if (error != -ENOTCONN)
                return reply_error(r, 500, "internal", "internal error: %s", strerror(-error));
        k = reply_error(r, 503, "unavailable", "the database is out of reach; retry later");
        r->retry_after = REPLY_UNAVAILABLE_RETRY_SEC;
        return k;
}
