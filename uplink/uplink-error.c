/* SPDX-License-Identifier: MIT */
/* What a failed attempt means (the sync API's error table, docs/protocol.md). A TLS verification
 * failure is a failure like any other transport error: it is reported as one
 * and retried under the same verification; nothing here can loosen it. A
 * server's own words go into messages only as quoted printable ASCII. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "common/cleanup.h"
#include "uplink-error.h"
#include "uplink-json.h"

#define SERVER_TEXT_MAX 200             /* bytes of a server's message we quote */
#define USEC_PER_SEC INT64_C(1000000)

DEFINE_TRIVIAL_CLEANUP_FUNC(cJSON *, cJSON_Delete)

void uplink_outcome_set(struct uplink_outcome *o, int r, const char *fmt, ...) {
        va_list ap;

        o->r = r;
        va_start(ap, fmt);
        (void) vsnprintf(o->message, sizeof(o->message), fmt, ap);
        va_end(ap);
}

static bool curl_is_tls_verification(CURLcode k) {
        return k == CURLE_PEER_FAILED_VERIFICATION || k == CURLE_SSL_PINNEDPUBKEYNOTMATCH ||
                k == CURLE_SSL_CACERT_BADFILE || k == CURLE_SSL_CERTPROBLEM || k == CURLE_SSL_ISSUER_ERROR ||
                k == CURLE_SSL_INVALIDCERTSTATUS;
}

static int curl_errno(CURLcode k) {
        if (curl_is_tls_verification(k))
                return -EKEYREJECTED;
        switch (k) {
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
                return -EHOSTUNREACH;
        case CURLE_COULDNT_CONNECT:
                return -ECONNREFUSED;
        case CURLE_OPERATION_TIMEDOUT:
                return -ETIMEDOUT;
        case CURLE_PARTIAL_FILE:
        case CURLE_WRITE_ERROR:
        case CURLE_BAD_CONTENT_ENCODING:
        case CURLE_WEIRD_SERVER_REPLY:
                return -EPROTO;
        case CURLE_OUT_OF_MEMORY:
                return -ENOMEM;
        case CURLE_UNSUPPORTED_PROTOCOL:
        case CURLE_URL_MALFORMAT:
        case CURLE_NOT_BUILT_IN:
        case CURLE_BAD_FUNCTION_ARGUMENT:
        case CURLE_UNKNOWN_OPTION:
                return -EINVAL;
        default:
                return -ECONNRESET;
        }
}

/* Local mistakes: another attempt would fail the same way. */
static bool curl_is_local(CURLcode k) {
        return k == CURLE_OUT_OF_MEMORY || k == CURLE_UNSUPPORTED_PROTOCOL || k == CURLE_URL_MALFORMAT ||
                k == CURLE_NOT_BUILT_IN || k == CURLE_BAD_FUNCTION_ARGUMENT || k == CURLE_UNKNOWN_OPTION;
}

void uplink_error_transport(struct uplink_outcome *o, const char *endpoint, CURLcode k, const char *errbuf,
                            bool too_big) {
        const char *why = errbuf && errbuf[0] ? errbuf : curl_easy_strerror(k);

        o->next = curl_is_local(k) ? UPLINK_NEXT_DONE : UPLINK_NEXT_RETRY;
        o->link = UPLINK_LINK_DOWN;
        if (too_big)
                uplink_outcome_set(o, -EPROTO, "%s: malformed answer: larger than %u bytes", endpoint,
                                   UPLINK_ANSWER_MAX);
        else if (curl_is_tls_verification(k))
                uplink_outcome_set(o, -EKEYREJECTED, "%s: TLS verification failed: %s", endpoint, why);
        else if (k == CURLE_PARTIAL_FILE)
                uplink_outcome_set(o, -EPROTO, "%s: malformed answer: truncated (%s)", endpoint, why);
        else
                uplink_outcome_set(o, curl_errno(k), "%s: %s", endpoint, why);
}

/* A server's text, quoted: printable ASCII only, cut short. */
static void quote_server_text(const char *s, char *buf, size_t size) {
        size_t n = 0;

        for (; s && *s && n + 1 < size && n < SERVER_TEXT_MAX; s++)
                buf[n++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
        buf[n] = '\0';
}

/* The message, from the API's error object; nothing is decided by its text
 * except schema_mismatch. */
static void error_message(struct uplink_outcome *o, const char *endpoint, long status, const char *body,
                          size_t len, unsigned schema) {
        _cleanup_(cJSON_Deletep) cJSON *root = NULL;
        struct uplink_json_error err = {};
        char text[SERVER_TEXT_MAX + 1];

        if (body && uplink_json_parse(body, len, &root, NULL) >= 0)
                uplink_json_error_read(root, &err);
        quote_server_text(err.message, text, sizeof(text));
        if (status == 400 && err.code && strcmp(err.code, "schema_mismatch") == 0) {
                o->link = UPLINK_LINK_DOWN;     /* syncing stops until the bridge is updated */
                uplink_outcome_set(o, -EPROTONOSUPPORT, "%s: the server requires schema %u, this bridge speaks %u: %s",
                                   endpoint, err.required_schema, schema, text);
        } else if (err.code)
                uplink_outcome_set(o, o->r, "%s: %ld %s: %s", endpoint, status, err.code, text);
        else
                uplink_outcome_set(o, o->r, "%s: %ld, without the API's error body", endpoint, status);
}

void uplink_error_http(struct uplink_outcome *o, const char *endpoint, long status, const char *body, size_t len,
                       bool can_split, unsigned schema) {
        /* anything the API does not define (404, a redirect, ...) ends the call */
        *o = (struct uplink_outcome) { .r = -EREMOTEIO, .next = UPLINK_NEXT_DONE, .link = UPLINK_LINK_DOWN };
        if (status == 400)
                *o = (struct uplink_outcome) { .r = -EBADMSG, .link = UPLINK_LINK_SAME };
        else if (status == 401)
                o->r = -EACCES;
        else if (status == 409)
                *o = (struct uplink_outcome) { .r = -EBUSY, .next = UPLINK_NEXT_RETRY, .link = UPLINK_LINK_UP };
        else if (status == 413)
                *o = (struct uplink_outcome) { .r = -E2BIG, .link = UPLINK_LINK_UP,
                                               .next = can_split ? UPLINK_NEXT_SPLIT : UPLINK_NEXT_DONE };
        else if (status == 422)
                *o = (struct uplink_outcome) { .r = -EEXIST, .link = UPLINK_LINK_UP };
        /* the server answered: it is there, and asks us to wait. Not offline:
         * going offline would make the bridge pull anew and arbitrate on
         * return, a path a rate-limited push has no reason to take */
        else if (status == 429)
                *o = (struct uplink_outcome) { .r = -EAGAIN, .next = UPLINK_NEXT_RETRY, .link = UPLINK_LINK_UP };
        else if (status >= 500 && status <= 599)
                *o = (struct uplink_outcome) { .r = -EIO, .next = UPLINK_NEXT_RETRY, .link = UPLINK_LINK_DOWN };
        error_message(o, endpoint, status, body, len, schema);
}

int64_t uplink_error_retry_after(const char *value, time_t now) {
        long long s;
        char *end;

        if (!value || !value[0])
                return -1;
        if (value[0] >= '0' && value[0] <= '9') {
                errno = 0;
                s = strtoll(value, &end, 10);
                if (errno == ERANGE)
                        s = UPLINK_RETRY_AFTER_MAX;
                else if (errno || *end)
                        return -1;
        } else {
                time_t t = curl_getdate(value, NULL);

                if (t < 0)
                        return -1;
                s = t > now ? (long long) (t - now) : 0;
        }
        if (s > UPLINK_RETRY_AFTER_MAX)
                s = UPLINK_RETRY_AFTER_MAX;
        return (int64_t) s * USEC_PER_SEC;
}
