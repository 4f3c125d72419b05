/* SPDX-License-Identifier: MIT */
/* The monitoring listener (see monitor.h). Small on purpose: three GET
 * routes, answers made at once (a scrape is a few KB), a handful of
 * connections each held for seconds at most. Scrapes and probes are not in
 * the access log: a scraper every 15 s would be most of it. Must never serve
 * anything of the sync API, and never run the event loop itself. */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <microhttpd.h>

#include "gzip.h"
#include "log.h"
#include "metrics.h"
#include "monitor.h"
#include "now.h"
#include "ratelog.h"

#define MONITOR_CONNECTIONS_MAX 16u     /* a scraper, a supervisor, a person with curl */
#define MONITOR_TIMEOUT_SEC 10u
#define MONITOR_LOG_INTERVAL_MS 10000u

struct monitor {
        struct MHD_Daemon *daemon;
        struct monitor_config cfg;
        struct ratelog log;
};

/* The body (malloc'd, taken in any case) as the answer; text/plain unless told. */
static enum MHD_Result monitor_answer(struct MHD_Connection *c, unsigned status, const char *type, char *body,
                                      size_t len, bool gzip) {
        struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
        enum MHD_Result ret;

        if (!resp) {
                free(body);
                return MHD_NO;
        }
        (void) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type ?: "text/plain; charset=utf-8");
        (void) MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
        if (status == 405)
                (void) MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
        if (gzip)
                (void) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
        ret = MHD_queue_response(c, status, resp);
        MHD_destroy_response(resp);
        return ret;
}

static enum MHD_Result monitor_text(struct MHD_Connection *c, unsigned status, const char *text) {
        char *body = strdup(text);

        return body ? monitor_answer(c, status, NULL, body, strlen(body), false) : MHD_NO;
}

static enum MHD_Result monitor_accept_encoding(void *cls, enum MHD_ValueKind kind, const char *key,
                                               const char *value) {
        (void) kind;
        if (value && strcasecmp(key, MHD_HTTP_HEADER_ACCEPT_ENCODING) == 0)
                gzip_accept_parse(cls, value);
        return MHD_YES;
}

/* Prometheus asks for gzip; a scrape of a busy server is worth it. */
static enum MHD_Result monitor_metrics(struct monitor *m, struct MHD_Connection *c) {
        struct gzip_accept accept = GZIP_ACCEPT_INIT;
        char *text = NULL;
        size_t len = 0, zlen;
        void *z;
        FILE *f = open_memstream(&text, &len);
        int r;

        if (!f)
                return MHD_NO;
        r = m->cfg.scrape(m->cfg.userdata, f);
        if (fclose(f) != 0 || r < 0) {
                free(text);
                return monitor_text(c, 500, "the metrics could not be written\n");
        }
        (void) MHD_get_connection_values(c, MHD_HEADER_KIND, monitor_accept_encoding, &accept);
        if (gzip_accept_ok(&accept) && len >= GZIP_MIN_BYTES && gzip_compress(text, len, &z, &zlen) >= 0) {
                free(text);
                return monitor_answer(c, 200, METRICS_CONTENT_TYPE, z, zlen, true);
        }
        return monitor_answer(c, 200, METRICS_CONTENT_TYPE, text, len, false);
}

static enum MHD_Result monitor_ready(struct monitor *m, struct MHD_Connection *c) {
        char *text;
        int r = m->cfg.ready(m->cfg.userdata);

        if (r >= 0)
                return monitor_text(c, 200, "ready\n");
        if (asprintf(&text, "not ready: the database does not answer: %s\n", strerror(-r)) < 0)
                return MHD_NO;
        return monitor_answer(c, 503, NULL, text, strlen(text), false);
}

static enum MHD_Result monitor_on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                          const char *version, const char *upload_data, size_t *upload_data_size,
                                          void **con_cls) {
        static int headers_seen;
        struct monitor *m = cls;
        bool known = strcmp(url, "/metrics") == 0 || strcmp(url, "/healthz") == 0 || strcmp(url, "/readyz") == 0;

        (void) version;
        (void) upload_data;
        if (!*con_cls) {                /* the headers: answer once the body, if any, is read */
                *con_cls = &headers_seen;
                return MHD_YES;
        }
        if (*upload_data_size > 0) {
                *upload_data_size = 0;
                return MHD_YES;
        }
        if (!known)
                return monitor_text(c, 404, "not found: /metrics, /healthz and /readyz are served here\n");
        if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
                return monitor_text(c, 405, "method not allowed: GET or HEAD\n");
        if (strcmp(url, "/metrics") == 0)
                return monitor_metrics(m, c);
        if (strcmp(url, "/readyz") == 0)
                return monitor_ready(m, c);
        return monitor_text(c, 200, "ok\n");    /* answered at all: the loop runs */
}

static void monitor_on_log(void *cls, const char *fmt, va_list ap) {
        struct monitor *m = cls;
        char msg[256];
        uint64_t held = 0;

        (void) vsnprintf(msg, sizeof(msg), fmt, ap);
        msg[strcspn(msg, "\r\n")] = '\0';
        if (!ratelog_event(&m->log, now_ms(CLOCK_MONOTONIC), &held))
                return;
        if (held)
                log_msg("metrics listener: libmicrohttpd: %s (and %llu more lines since the last)", msg,
                        (unsigned long long) held);
        else
                log_msg("metrics listener: libmicrohttpd: %s", msg);
}

int monitor_new(const struct monitor_config *cfg, struct monitor **ret) {
        unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
        struct monitor *m = calloc(1, sizeof(*m));

        if (!m)
                return -ENOMEM;
        m->cfg = *cfg;
        m->log.interval_ms = MONITOR_LOG_INTERVAL_MS;
        if (cfg->addr.ss_family == AF_INET6)
                flags |= MHD_USE_IPv6;
        errno = 0;
        m->daemon = MHD_start_daemon(flags, 0, NULL, NULL, monitor_on_request, m,
                                     MHD_OPTION_EXTERNAL_LOGGER, monitor_on_log, m,
                                     MHD_OPTION_SOCK_ADDR, (const struct sockaddr *) &m->cfg.addr,
                                     MHD_OPTION_CONNECTION_LIMIT, MONITOR_CONNECTIONS_MAX,
                                     MHD_OPTION_CONNECTION_TIMEOUT, MONITOR_TIMEOUT_SEC,
                                     MHD_OPTION_END);
        if (!m->daemon) {
                int r = errno > 0 ? -errno : -EIO;

                free(m);
                return r;
        }
        *ret = m;
        return 0;
}

struct monitor *monitor_free(struct monitor *m) {
        if (!m)
                return NULL;
        MHD_stop_daemon(m->daemon);
        free(m);
        return NULL;
}

int monitor_local_port(const struct monitor *m) {
        const union MHD_DaemonInfo *info = MHD_get_daemon_info(m->daemon, MHD_DAEMON_INFO_BIND_PORT);

        return info ? info->port : -EIO;
}

int monitor_epoll_fd(const struct monitor *m) {
        const union MHD_DaemonInfo *info = MHD_get_daemon_info(m->daemon, MHD_DAEMON_INFO_EPOLL_FD);

        return info ? info->epoll_fd : -EIO;
}

int monitor_timeout_ms(const struct monitor *m) {
        MHD_UNSIGNED_LONG_LONG t;

        if (MHD_get_timeout(m->daemon, &t) != MHD_YES)
                return -1;
        return t > INT_MAX ? INT_MAX : (int) t;
}

int monitor_run(struct monitor *m) {
        return MHD_run(m->daemon) == MHD_YES ? 0 : -EIO;
}
