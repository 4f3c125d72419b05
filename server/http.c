/* SPDX-License-Identifier: MIT */
/* libmicrohttpd glue. A request is taken in three steps: its headers (the
 * framing checks, fault rule, route, bearer token, body size, the endpoint's
 * begin hook), its body (kept up to HTTP_BODY_MAX, or discarded once an answer
 * is already decided), its end (the endpoint's handler, then the reply). Every
 * connection's step is told to conns.c, which holds it to that step's deadline.
 * Must never answer before the handler has returned, and never leave a request
 * without calling its route's done hook. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <gnutls/abstract.h>

#include "gzip.h"
#include "http.h"
#include "idempotency.h"
#include "log.h"
#include "now.h"
#include "ratelog.h"

/* A backstop only: conns.c's deadlines are shorter for every step. */
#define HTTP_INACTIVITY_TIMEOUT_SEC 120u
#define HTTP_DISCARD_MAX (64ull * 1024 * 1024)
/* TLS 1.2 and 1.3 only: 1.0 and 1.1 are deprecated (RFC 8996). */
#define HTTP_TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"
#define HTTP_LOG_INTERVAL_MS 10000u
#define HTTP_SHOWN_MAX 80               /* bytes of a client's path or method quoted back */
#define HTTP_METHOD_SHOWN_MAX 24        /* bytes of a client's method in the report of a request */

/* libmicrohttpd's lines, each kind limited on its own: what a client can
 * cause at will must not drown the rest. */
enum http_log_kind {
        HTTP_LOG_HANDSHAKE,
        HTTP_LOG_REFUSED,
        HTTP_LOG_OTHER,
        HTTP_LOG_KIND_MAX,
};

struct http {
        struct MHD_Daemon *daemon;
        struct http_config cfg;
        struct tlscert *cert;           /* for the next connection accepted */
        struct conns *conns;
        struct ratelog logs[HTTP_LOG_KIND_MAX];
};

struct http_ctx {
        struct http *h;
        struct http_request req;
        const struct http_route *route;
        struct reply pending;           /* decided before the body was read */
        struct faults_hit fault;
        char *body;
        size_t body_len, body_cap;
        bool begun, target_bad, too_large, oom, answered;
        char allow[64];
        /* for the report once it ends */
        uint64_t start_us;
        unsigned status;
        size_t bytes;
        bool accepts_gzip, gzip, replay;
        bool has_key;
        char method[HTTP_METHOD_SHOWN_MAX];
        char key[IDEMPOTENCY_KEY_LEN + 1];      /* normalized, or "invalid" */
};

struct http_truncated {
        size_t declared, sent;
        char text[];
};

static bool http_path_matches(const struct http_route *rt, const char *url, const char **ret_arg) {
        size_t n = strlen(rt->path);

        if (!rt->with_arg)
                return strcmp(rt->path, url) == 0;
        if (strncmp(rt->path, url, n) != 0 || url[n] == '\0' || strchr(url + n, '/'))
                return false;
        *ret_arg = url + n;
        return true;
}

/* Finds the route; 404 for an unknown path, 405 (with Allow) for a known path
 * and another method. */
static int http_route_find(struct http *h, struct http_ctx *x, const char *url, const char *method) {
        char shown[HTTP_SHOWN_MAX];
        bool path_known = false;
        int r;

        for (size_t i = 0; i < h->cfg.n_routes; i++) {
                const struct http_route *rt = &h->cfg.routes[i];
                const char *arg = NULL;

                if (!http_path_matches(rt, url, &arg))
                        continue;
                if (strcmp(rt->method, method) == 0) {
                        x->route = rt;
                        x->req.path_arg = arg;
                        return 0;
                }
                if (strlen(x->allow) + strlen(rt->method) + 3 < sizeof(x->allow)) {
                        if (path_known)
                                strcat(x->allow, ", ");
                        strcat(x->allow, rt->method);
                }
                path_known = true;
        }
        if (!path_known)
                return reply_error(&x->pending, 404, "not_found", "no such resource: %s",
                                   reply_printable(url, shown, sizeof(shown)));
        r = reply_error(&x->pending, 405, "method_not_allowed", "%s is not allowed here (allowed: %s)",
                        reply_printable(method, shown, sizeof(shown)), x->allow);
        x->pending.allow = x->allow;
        return r;
}

static const char *http_bearer_account(struct http *h, struct MHD_Connection *c) {
        const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);

        if (!v || strncasecmp(v, "Bearer ", 7) != 0)
                return NULL;
        v += 7;
        while (*v == ' ')
                v++;
        return tokens_account(h->cfg.tokens, v);
}

/* A declared body so large that reading it to answer politely is not worth
 * it: answered at once, and libmicrohttpd closes the connection (a client
 * still sending may miss the answer). Smaller excess is read and dropped, so
 * the 413 arrives reliably on a connection that stays open. */
static bool http_body_far_too_large(struct MHD_Connection *c) {
        const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        char *end;
        unsigned long long n;

        if (!v)
                return false;
        errno = 0;
        n = strtoull(v, &end, 10);
        return errno == ERANGE || (*end == '\0' && n > HTTP_DISCARD_MAX);
}

static struct conns_entry *http_entry(struct MHD_Connection *c) {
        const union MHD_ConnectionInfo *info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

        return info ? info->socket_context : NULL;
}

static void http_step(struct http *h, struct MHD_Connection *c, enum conns_step step) {
        conns_step(h->conns, http_entry(c), step, now_ms(CLOCK_MONOTONIC));
}

/* What the framing checks look at, gathered in one pass over the headers. */
struct http_framing {
        unsigned hosts, lengths, codings;
        const char *length;
        bool lengths_differ, not_chunked, nul;
};

static enum MHD_Result http_framing_value(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
                                          const char *value, size_t value_size) {
        struct http_framing *f = cls;

        if (strlen(key) != key_size || (value && strlen(value) != value_size))
                f->nul = true;
        if (kind != MHD_HEADER_KIND || !value)
                return MHD_YES;
        if (strcasecmp(key, MHD_HTTP_HEADER_HOST) == 0)
                f->hosts++;
        else if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
                if (f->lengths++ == 0)
                        f->length = value;
                else if (strcmp(f->length, value) != 0)
                        f->lengths_differ = true;
        } else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
                f->codings++;
                f->not_chunked |= strcasecmp(value, "chunked") != 0;
        }
        return MHD_YES;
}

/* RFC 9112. Framing that two readers could take differently (two lengths, a
 * length and a transfer coding, a coding we do not read) is how requests are
 * smuggled past a proxy in front of us; an HTTP/1.1 request without exactly
 * one Host is malformed; a NUL byte, decoded from %00 or sent as is, would
 * end a C string early, so one thing would be checked and another used.
 * NULL: nothing wrong. */
static const char *http_framing_fault(const struct http_ctx *x, struct MHD_Connection *c, const char *version) {
        struct http_framing f = {};

        if (x->target_bad)
                return "the request target must be printable ASCII, without %00";
        (void) MHD_get_connection_values_n(c, (enum MHD_ValueKind) (MHD_HEADER_KIND | MHD_GET_ARGUMENT_KIND),
                                           http_framing_value, &f);
        if (f.nul)
                return "a header or query argument holds a NUL byte";
        if (f.hosts > 1 || (f.hosts == 0 && strcmp(version, MHD_HTTP_VERSION_1_0) != 0))
                return "an HTTP/1.1 request needs exactly one Host header";
        if (f.lengths_differ)
                return "Content-Length is given more than once, with different values";
        if (f.codings && f.lengths)
                return "Transfer-Encoding and Content-Length are both given";
        if (f.codings > 1 || f.not_chunked)
                return "the only transfer coding taken is chunked";
        return NULL;
}

static void http_add_headers(struct MHD_Response *resp, const struct reply *rp, bool gzip) {
        char num[16];

        if (rp->body) {
                (void) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                                               rp->content_type ?: "application/json");
                /* whether it is compressed depends on Accept-Encoding, even when it was not */
                (void) MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, MHD_HTTP_HEADER_ACCEPT_ENCODING);
        }
        if (gzip)
                (void) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
        if (rp->replay)
                (void) MHD_add_response_header(resp, "Idempotent-Replay", "true");
        if (rp->retry_after) {
                (void) snprintf(num, sizeof(num), "%u", rp->retry_after);
                (void) MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, num);
        }
        if (rp->allow)
                (void) MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, rp->allow);
        if (rp->status == 401)
                (void) MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
        if (rp->close)
                (void) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
        (void) MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
}

/* The body gzipped in place when the client takes it and it is worth it;
 * as it is otherwise (also when compressing fails: the answer matters more). */
static size_t http_compress(struct http_ctx *x, struct reply *rp) {
        size_t len = rp->body ? strlen(rp->body) : 0, zlen;
        void *z;

        if (!x->accepts_gzip || len < GZIP_MIN_BYTES || gzip_compress(rp->body, len, &z, &zlen) < 0)
                return len;
        free(rp->body);
        rp->body = z;                   /* no longer a string: its length is returned */
        x->gzip = true;
        return zlen;
}

static enum MHD_Result http_send(struct http_ctx *x, struct reply *rp) {
        struct MHD_Response *resp;
        enum MHD_Result ret;
        size_t len = http_compress(x, rp);

        resp = MHD_create_response_from_buffer(len, rp->body,
                                               rp->body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
        if (!resp)
                return MHD_NO;
        http_add_headers(resp, rp, x->gzip);
        ret = MHD_queue_response(x->req.connection, rp->status, resp);
        MHD_destroy_response(resp);
        rp->body = NULL;                /* the response owns it now */
        x->answered = true;
        x->status = rp->status;
        x->bytes = len;
        x->replay = rp->replay;
        /* a connection that closes after this answer no longer counts */
        http_step(x->h, x->req.connection, rp->close ? CONNS_CLOSING : CONNS_TRANSFER);
        return ret;
}

static enum MHD_Result http_send_error(struct http_ctx *x, unsigned status, const char *fmt, const char *arg) {
        struct reply rp = {};

        if (reply_error(&rp, status, reply_code_for_status(status), fmt, arg) < 0)
                return MHD_NO;
        return http_send(x, &rp);
}

/* Answered at once, and the connection closed: after a request we cannot
 * trust, the next bytes cannot be trusted to start the next one either. */
static enum MHD_Result http_send_malformed(struct http_ctx *x, const char *fault) {
        struct reply rp = {};

        x->h->cfg.counters->requests_malformed++;
        if (reply_error(&rp, 400, "bad_request", "%s", fault) < 0)
                return MHD_NO;
        rp.close = true;
        return http_send(x, &rp);
}

static enum MHD_Result http_accept_encoding(void *cls, enum MHD_ValueKind kind, const char *key,
                                            const char *value) {
        (void) kind;
        if (value && strcasecmp(key, MHD_HTTP_HEADER_ACCEPT_ENCODING) == 0)
                gzip_accept_parse(cls, value);
        return MHD_YES;
}

/* What the report of the request needs from its headers, copied: only a
 * well-formed Idempotency-Key is ever repeated (a client's header could hold
 * anything, a token pasted by mistake included). */
static void http_note_request(struct http_ctx *x, struct MHD_Connection *c, const char *method) {
        struct gzip_accept accept = GZIP_ACCEPT_INIT;
        const char *key = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Idempotency-Key");

        (void) reply_printable(method, x->method, sizeof(x->method));
        (void) MHD_get_connection_values(c, MHD_HEADER_KIND, http_accept_encoding, &accept);
        x->accepts_gzip = gzip_accept_ok(&accept);
        x->has_key = key != NULL;
        if (key && idempotency_key_normalize(key, x->key) < 0)
                strcpy(x->key, "invalid");
}

static enum MHD_Result http_begin(struct http *h, struct http_ctx *x, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version) {
        const char *fault;
        int r = 0;

        x->begun = true;
        x->req.connection = c;
        x->req.method = method;
        http_step(h, c, CONNS_TRANSFER);
        http_note_request(x, c, method);
        fault = http_framing_fault(x, c, version);
        if (fault)
                return http_send_malformed(x, fault);
        if (h->cfg.faults)
                x->fault = faults_take(h->cfg.faults, method, url);
        if (x->fault.action != FAULTS_NONE && x->fault.action != FAULTS_APPLY_THEN_DROP)
                return MHD_YES;
        r = http_route_find(h, x, url, method);
        if (r >= 0 && x->route && !x->route->public) {
                x->req.account = http_bearer_account(h, c);
                if (!x->req.account)
                        r = reply_error(&x->pending, 401, "unauthorized", "a known bearer token is required");
        }
        if (r >= 0 && !x->pending.status && x->route->begin)
                r = x->route->begin(x->route->userdata, &x->req, &x->pending);
        if (r < 0)
                r = reply_failure(&x->pending, r);
        if (r < 0)
                return MHD_NO;
        if (http_body_far_too_large(c))
                return x->pending.status ? http_send(x, &x->pending) :
                        http_send_error(x, 413, "the body is larger than %s bytes", "1048576");
        return MHD_YES;
}

static void http_take_body(struct http_ctx *x, const char *data, size_t n) {
        if (x->pending.status || x->too_large || x->oom ||
            (x->fault.action != FAULTS_NONE && x->fault.action != FAULTS_APPLY_THEN_DROP))
                return;
        if (x->body_len + n > HTTP_BODY_MAX) {
                x->too_large = true;
                return;
        }
        if (x->body_len + n + 1 > x->body_cap) {
                size_t cap = x->body_cap ? x->body_cap : 4096;
                char *p;

                while (cap < x->body_len + n + 1)
                        cap *= 2;
                p = realloc(x->body, cap);
                if (!p) {
                        x->oom = true;
                        return;
                }
                x->body = p;
                x->body_cap = cap;
        }
        memcpy(x->body + x->body_len, data, n);
        x->body_len += n;
        x->body[x->body_len] = '\0';
}

static ssize_t http_truncated_read(void *cls, uint64_t pos, char *buf, size_t max) {
        struct http_truncated *t = cls;
        size_t n;

        if (pos >= t->sent)
                return MHD_CONTENT_READER_END_WITH_ERROR;
        n = t->sent - (size_t) pos < max ? t->sent - (size_t) pos : max;
        memcpy(buf, t->text + pos, n);
        return (ssize_t) n;
}

/* 200 with a Content-Length of the whole JSON text but only half of it sent. */
static enum MHD_Result http_send_truncated(struct http_ctx *x) {
        static const char text[] = "{\"records\": [], \"cursor\": \"0000000000000000000000000000000\", "
                                   "\"more\": false, \"note\": \"this body is cut short on purpose\"}";
        struct http_truncated *t = malloc(sizeof(*t) + sizeof(text));
        struct MHD_Response *resp;
        enum MHD_Result ret;

        if (!t)
                return MHD_NO;
        memcpy(t->text, text, sizeof(text));
        t->declared = sizeof(text) - 1;
        t->sent = t->declared / 2;
        resp = MHD_create_response_from_callback(t->declared, 1024, http_truncated_read, t, free);
        if (!resp) {
                free(t);
                return MHD_NO;
        }
        (void) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
        ret = MHD_queue_response(x->req.connection, 200, resp);
        MHD_destroy_response(resp);
        x->answered = true;
        x->status = 200;
        x->bytes = t->sent;
        http_step(x->h, x->req.connection, CONNS_TRANSFER);
        return ret;
}

static enum MHD_Result http_fault(struct http *h, struct http_ctx *x) {
        struct reply rp = {};
        int r = 0;

        switch (x->fault.action) {
        case FAULTS_STATUS:
                r = reply_error(&rp, x->fault.status, reply_code_for_status(x->fault.status),
                                "injected fault: status %u", x->fault.status);
                rp.retry_after = x->fault.retry_after;
                break;
        case FAULTS_GARBAGE:
                r = reply_text(&rp, 200, "application/json", "<html>injected fault: this is not JSON\n");
                break;
        case FAULTS_ANSWER:
                r = x->fault.body ? reply_text(&rp, x->fault.status, "application/json", x->fault.body) :
                                    reply_failure(&rp, -ENOMEM);
                break;
        case FAULTS_TRUNCATE:
                return http_send_truncated(x);
        case FAULTS_STALL:
                r = longpoll_park(h->cfg.longpoll, x->req.connection, NULL, 0,
                                  now_ms(CLOCK_MONOTONIC) + FAULTS_STALL_CAP_MS, &x->req.waiter);
                return r < 0 ? MHD_NO : MHD_YES;
        case FAULTS_NONE:
        case FAULTS_APPLY_THEN_DROP:
                break;
        }
        if (r < 0)
                return MHD_NO;
        return http_send(x, &rp);
}

static enum MHD_Result http_reply(struct http_ctx *x, int r, struct reply *rp) {
        if (r == HTTP_PARKED)
                return MHD_YES;
        if (r < 0) {
                if (r != -ENOTCONN)     /* the store said so once */
                        log_msg("%s %s failed: %s", x->req.method, x->route->path, strerror(-r));
                if (reply_failure(rp, r) < 0)
                        return MHD_NO;
        }
        if (x->fault.action == FAULTS_APPLY_THEN_DROP) {
                reply_clear(rp);
                return MHD_NO;          /* stored, but the client never hears of it */
        }
        return http_send(x, rp);
}

static enum MHD_Result http_resumed(struct http *h, struct http_ctx *x) {
        enum longpoll_state state = longpoll_waiter_state(x->req.waiter);
        struct reply rp = {};
        int r;

        if (x->fault.action == FAULTS_STALL || state == LONGPOLL_GONE) {
                longpoll_waiter_free(h->cfg.longpoll, x->req.waiter);
                x->req.waiter = NULL;
                return MHD_NO;          /* closed without an answer */
        }
        if (state == LONGPOLL_STOPPING)
                r = reply_error(&rp, 503, "unavailable", "the server is stopping");
        else
                r = x->route->handle(x->route->userdata, &x->req, &rp);
        longpoll_waiter_free(h->cfg.longpoll, x->req.waiter);
        x->req.waiter = NULL;
        return http_reply(x, r, &rp);
}

static enum MHD_Result http_finish(struct http *h, struct http_ctx *x) {
        struct reply rp = {};

        if (x->answered)
                return MHD_YES;
        http_step(h, x->req.connection, CONNS_WORKING);
        if (x->req.waiter)
                return http_resumed(h, x);
        if (x->fault.action != FAULTS_NONE && x->fault.action != FAULTS_APPLY_THEN_DROP)
                return http_fault(h, x);
        if (x->pending.status)
                return http_send(x, &x->pending);
        if (x->too_large)
                return http_send_error(x, 413, "the body is larger than %s bytes", "1048576");
        if (x->oom)
                return http_send_error(x, 500, "%s", "out of memory");
        x->req.body = x->body;
        x->req.body_len = x->body_len;
        return http_reply(x, x->route->handle(x->route->userdata, &x->req, &rp), &rp);
}

static enum MHD_Result http_on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                       const char *version, const char *upload_data, size_t *upload_data_size,
                                       void **con_cls) {
        struct http_ctx *x = *con_cls;

        if (!x)
                return MHD_NO;          /* no memory for it when its request line came */
        if (!x->begun)
                return http_begin(cls, x, c, url, method, version);
        if (*upload_data_size > 0) {
                http_take_body(x, upload_data, *upload_data_size);
                *upload_data_size = 0;
                return MHD_YES;
        }
        return http_finish(cls, x);
}

static void http_report(struct http *h, const struct http_ctx *x, enum MHD_RequestTerminationCode toe) {
        struct http_done d = {
                .method = x->method,
                .route = x->route,
                .account = x->req.account,
                .idempotency_key = x->has_key ? x->key : NULL,
                .status = x->status,
                .duration_us = now_us(CLOCK_MONOTONIC) - x->start_us,
                .bytes = x->bytes,
                .gzip = x->gzip,
                .replay = x->replay,
                .end = toe,
        };

        h->cfg.done(h->cfg.done_userdata, &d);
}

static void http_on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                              enum MHD_RequestTerminationCode toe) {
        struct http *h = cls;
        struct http_ctx *x = *con_cls;

        http_step(h, c, CONNS_IDLE);
        if (!x)
                return;
        if (x->begun && h->cfg.done)    /* one whose headers never came in is not a request */
                http_report(h, x, toe);
        if (x->route && x->route->done)
                x->route->done(x->route->userdata, &x->req);
        longpoll_waiter_free(h->cfg.longpoll, x->req.waiter);
        reply_clear(&x->pending);
        free(x->fault.body);
        free(x->body);
        free(x);
        *con_cls = NULL;
}

/* The request target as sent, before libmicrohttpd decodes it in place: the
 * last moment a %00 can be told from the end of the path. The request's
 * context starts here. */
static void *http_on_uri(void *cls, const char *uri, struct MHD_Connection *c) {
        struct http_ctx *x = calloc(1, sizeof(*x));

        (void) c;
        if (!x)
                return NULL;
        x->h = cls;
        x->start_us = now_us(CLOCK_MONOTONIC);
        x->target_bad = !uri || strstr(uri, "%00");
        for (const char *p = uri; p && *p && !x->target_bad; p++)
                x->target_bad = (unsigned char) *p <= ' ' || (unsigned char) *p >= 0x7f;
        return x;
}

/* The certificate is set on each connection's TLS session as it starts,
 * before its handshake, and the connection holds it until it closes: a
 * reload changes what new connections get without touching a session whose
 * handshake may be half done. (libmicrohttpd cannot swap
 * MHD_OPTION_HTTPS_MEM_CERT, and the GnuTLS callback of
 * MHD_OPTION_HTTPS_CERT_CALLBACK takes no user data and hands GnuTLS a
 * chain it keeps without a reference until the handshake ends.) */
static int http_tls_start(struct http *h, struct MHD_Connection *c, struct conns_entry *e) {
        const union MHD_ConnectionInfo *tls = MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);

        if (!tls || gnutls_credentials_set(tls->tls_session, GNUTLS_CRD_CERTIFICATE,
                                           tlscert_credentials(h->cert)) < 0)
                return -EIO;
        conns_entry_set_data(e, tlscert_ref(h->cert));
        return 0;
}

static void http_on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                               enum MHD_ConnectionNotificationCode code) {
        const union MHD_ConnectionInfo *info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        struct http *h = cls;

        if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
                if (*socket_context)
                        tlscert_unref(conns_entry_data(*socket_context));
                conns_remove(h->conns, *socket_context);
                *socket_context = NULL;
                return;
        }
        /* one that cannot be held to a deadline, or given the certificate, is not served */
        if (info && (conns_add(h->conns, info->connect_fd, now_ms(CLOCK_MONOTONIC),
                               (struct conns_entry **) socket_context) < 0 ||
                     http_tls_start(h, c, *socket_context) < 0))
                (void) shutdown(info->connect_fd, SHUT_RDWR);
}

/* libmicrohttpd's own credentials, which every session has until
 * http_tls_start replaces them: a session that missed that fails its
 * handshake here rather than be served a certificate that may be stale. */
static int http_no_cert(gnutls_session_t session, const gnutls_datum_t *req_ca_dn, int n_req_ca_dn,
                        const gnutls_pk_algorithm_t *pk_algos, int n_pk_algos, gnutls_pcert_st **ret_chain,
                        unsigned *ret_n_chain, gnutls_privkey_t *ret_key) {
        (void) session, (void) req_ca_dn, (void) n_req_ca_dn, (void) pk_algos, (void) n_pk_algos;
        (void) ret_chain, (void) ret_n_chain, (void) ret_key;
        return -1;
}

static enum http_log_kind http_log_kind(struct http *h, const char *msg) {
        if (strstr(msg, "handshake")) {
                h->cfg.counters->tls_handshakes_failed++;
                return HTTP_LOG_HANDSHAKE;
        }
        if (strstr(msg, "connection limit")) {
                h->cfg.counters->connections_refused++;
                return HTTP_LOG_REFUSED;
        }
        return HTTP_LOG_OTHER;
}

/* libmicrohttpd's own lines: one per failed TLS handshake, one per refused
 * connection, so anyone could fill the log. Each kind gets at most one line
 * per HTTP_LOG_INTERVAL_MS; the rest are counted. */
static void http_on_log(void *cls, const char *fmt, va_list ap) {
        struct http *h = cls;
        char msg[256];
        uint64_t held = 0;

        (void) vsnprintf(msg, sizeof(msg), fmt, ap);
        msg[strcspn(msg, "\r\n")] = '\0';
        if (!ratelog_event(&h->logs[http_log_kind(h, msg)], now_ms(CLOCK_MONOTONIC), &held)) {
                h->cfg.counters->log_lines_held++;
                return;
        }
        if (held)
                log_msg("libmicrohttpd: %s (and %llu more like it since the last such line)", msg,
                        (unsigned long long) held);
        else
                log_msg("libmicrohttpd: %s", msg);
}

static void http_log_flush(struct http *h, uint64_t now) {
        static const char *const what[HTTP_LOG_KIND_MAX] = {
                [HTTP_LOG_HANDSHAKE] = "TLS handshakes failed",
                [HTTP_LOG_REFUSED] = "connections were refused at the connection limits",
                [HTTP_LOG_OTHER] = "lines of libmicrohttpd were held back",
        };

        for (size_t i = 0; i < HTTP_LOG_KIND_MAX; i++) {
                uint64_t n = ratelog_due(&h->logs[i], now);

                if (n)
                        log_msg("%llu more %s in the last %u s (at most one line per %u s)", (unsigned long long) n,
                                what[i], HTTP_LOG_INTERVAL_MS / 1000, HTTP_LOG_INTERVAL_MS / 1000);
        }
}

static int http_start(struct http *h) {
        unsigned flags = MHD_USE_TLS | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;

        if (h->cfg.addr.ss_family == AF_INET6)
                flags |= MHD_USE_IPv6;
        errno = 0;
        h->daemon = MHD_start_daemon(flags, 0, NULL, NULL, http_on_request, h,
                                     MHD_OPTION_EXTERNAL_LOGGER, http_on_log, h,  /* first: it catches the rest */
                                     MHD_OPTION_SOCK_ADDR, (const struct sockaddr *) &h->cfg.addr,
                                     MHD_OPTION_HTTPS_CERT_CALLBACK, http_no_cert,
                                     MHD_OPTION_HTTPS_PRIORITIES, HTTP_TLS_PRIORITIES,
                                     MHD_OPTION_CONNECTION_LIMIT, h->cfg.max_connections,
                                     MHD_OPTION_PER_IP_CONNECTION_LIMIT, h->cfg.max_connections_per_address,
                                     MHD_OPTION_NOTIFY_CONNECTION, http_on_connection, h,
                                     MHD_OPTION_URI_LOG_CALLBACK, http_on_uri, h,
                                     MHD_OPTION_NOTIFY_COMPLETED, http_on_completed, h,
                                     MHD_OPTION_CONNECTION_TIMEOUT, HTTP_INACTIVITY_TIMEOUT_SEC,
                                     MHD_OPTION_END);
        if (!h->daemon)
                return errno > 0 ? -errno : -EIO;
        return 0;
}

int http_new(const struct http_config *cfg, struct http **ret) {
        struct http *h = calloc(1, sizeof(*h));
        int r;

        if (!h)
                return -ENOMEM;
        h->cfg = *cfg;
        h->cert = tlscert_ref(cfg->cert);
        for (size_t i = 0; i < HTTP_LOG_KIND_MAX; i++)
                h->logs[i].interval_ms = HTTP_LOG_INTERVAL_MS;
        r = conns_new(&cfg->timeouts, cfg->counters, &h->conns);
        if (r >= 0)
                r = http_start(h);
        if (r < 0) {
                http_free(h);
                return r;
        }
        *ret = h;
        return 0;
}

struct http *http_free(struct http *h) {
        if (!h)
                return NULL;
        if (h->daemon)
                MHD_stop_daemon(h->daemon);     /* tells us of every connection closed */
        conns_free(h->conns);
        tlscert_unref(h->cert);
        free(h);
        return NULL;
}

const char *http_route_name(const struct http_route *rt, char *buf, size_t size) {
        (void) snprintf(buf, size, "%s%s", rt->path, rt->with_arg ? "{id}" : "");
        return buf;
}

int http_local_port(const struct http *h) {
        const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);

        return info ? info->port : -EIO;
}

int http_epoll_fd(const struct http *h) {
        const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_EPOLL_FD);

        return info ? info->epoll_fd : -EIO;
}

static int http_min_timeout(int a, int b) {
        if (a < 0)
                return b;
        if (b < 0)
                return a;
        return a < b ? a : b;
}

int http_timeout_ms(const struct http *h) {
        uint64_t now = now_ms(CLOCK_MONOTONIC);
        MHD_UNSIGNED_LONG_LONG t;
        int timeout = -1;

        if (MHD_get_timeout(h->daemon, &t) == MHD_YES)
                timeout = t > INT_MAX ? INT_MAX : (int) t;
        timeout = http_min_timeout(timeout, conns_timeout_ms(h->conns, now));
        for (size_t i = 0; i < HTTP_LOG_KIND_MAX; i++)
                timeout = http_min_timeout(timeout, ratelog_timeout_ms(&h->logs[i], now));
        return timeout;
}

/* Deadlines first: the connections they shut down are closed in this run. */
int http_run(struct http *h) {
        uint64_t now = now_ms(CLOCK_MONOTONIC);
        int r;

        conns_expire(h->conns, now);
        r = MHD_run(h->daemon) == MHD_YES ? 0 : -EIO;
        http_log_flush(h, now);
        return r;
}

size_t http_connections(const struct http *h) {
        return conns_live(h->conns);
}

void http_quiesce(struct http *h) {
        (void) MHD_quiesce_daemon(h->daemon);
        longpoll_stop_all(h->cfg.longpoll);
}

void http_set_cert(struct http *h, struct tlscert *cert) {
        tlscert_ref(cert);
        tlscert_unref(h->cert);
        h->cert = cert;
}
