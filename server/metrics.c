/* SPDX-License-Identifier: MIT */
/* The numbers of /metrics and their text (see metrics.h). The exposition
 * format (Prometheus 0.0.4: "# HELP", "# TYPE", one "name{labels} value" line
 * per sample, a histogram's cumulative "_bucket{le=...}", "_sum" and
 * "_count") is written here by hand: it is a page of printf, where a client
 * library would be syncd's only dependency for it. Label values are the
 * server's own words (route templates, status numbers), never a client's
 * bytes, so no scrape can be made to grow by sending odd requests. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

/* Seconds: a commit is one fdatasync on a good disk (a few ms), far more on
 * a slow or failing one. */
static const double metrics_commit_bounds[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                0.5, 1, 2.5 };
/* Members per transaction, up to GROUP_MAX. */
static const double metrics_size_bounds[] = { 1, 2, 4, 8, 16, 32, 64, 128, 256 };

#define METRICS_BUCKETS_MAX 16

struct metrics_histogram {
        const double *bounds;
        size_t n;
        uint64_t buckets[METRICS_BUCKETS_MAX];  /* not cumulative; [n] is +Inf */
        uint64_t count;
        double sum;
};

/* Requests of one route (NULL: none matched) with one status (0: none). */
struct metrics_requests {
        const struct http_route *route;
        unsigned status;
        uint64_t n;
};

struct metrics {
        struct metrics_requests *requests;
        size_t n_requests, cap_requests;
        uint64_t replays;
        uint64_t commits_failed;
        struct metrics_histogram commit_seconds, commit_size;
};

int metrics_new(struct metrics **ret) {
        struct metrics *m = calloc(1, sizeof(*m));

        if (!m)
                return -ENOMEM;
        m->commit_seconds = (struct metrics_histogram) {
                .bounds = metrics_commit_bounds,
                .n = sizeof(metrics_commit_bounds) / sizeof(metrics_commit_bounds[0]),
        };
        m->commit_size = (struct metrics_histogram) {
                .bounds = metrics_size_bounds,
                .n = sizeof(metrics_size_bounds) / sizeof(metrics_size_bounds[0]),
        };
        *ret = m;
        return 0;
}

struct metrics *metrics_free(struct metrics *m) {
        if (!m)
                return NULL;
        free(m->requests);
        free(m);
        return NULL;
}

static void metrics_observe(struct metrics_histogram *h, double v) {
        size_t i = 0;

        while (i < h->n && v > h->bounds[i])
                i++;
        h->buckets[i]++;
        h->count++;
        h->sum += v;
}

/* A few routes times the statuses they answer: a short list, searched. */
static struct metrics_requests *metrics_requests_of(struct metrics *m, const struct http_route *route,
                                                    unsigned status) {
        for (size_t i = 0; i < m->n_requests; i++)
                if (m->requests[i].route == route && m->requests[i].status == status)
                        return &m->requests[i];
        if (m->n_requests == m->cap_requests) {
                size_t cap = m->cap_requests ? m->cap_requests * 2 : 32;
                struct metrics_requests *p = realloc(m->requests, cap * sizeof(*p));

                if (!p)
                        return NULL;    /* not counted: a metric is not worth failing a request for */
                m->requests = p;
                m->cap_requests = cap;
        }
        m->requests[m->n_requests] = (struct metrics_requests) { route, status, 0 };
        return &m->requests[m->n_requests++];
}

void metrics_request(struct metrics *m, const struct http_done *d) {
        struct metrics_requests *r = metrics_requests_of(m, d->route, d->status);

        if (r)
                r->n++;
        if (d->replay)
                m->replays++;
}

void metrics_commit(struct metrics *m, size_t members, uint64_t took_us, int result) {
        metrics_observe(&m->commit_seconds, (double) took_us / 1e6);
        metrics_observe(&m->commit_size, (double) members);
        if (result < 0)
                m->commits_failed++;
}

static void metrics_head(FILE *f, const char *name, const char *type, const char *help) {
        fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void metrics_one(FILE *f, const char *name, const char *type, const char *help, uint64_t v) {
        metrics_head(f, name, type, help);
        fprintf(f, "%s %" PRIu64 "\n", name, v);
}

/* A label value: backslash, double quote and line feed escaped, as the
 * format wants (ours hold none today; a route added tomorrow might). */
static void metrics_label(FILE *f, const char *v) {
        for (; *v; v++)
                if (*v == '\\' || *v == '"')
                        fprintf(f, "\\%c", *v);
                else if (*v == '\n')
                        fputs("\\n", f);
                else
                        fputc(*v, f);
}

static void metrics_route_labels(FILE *f, const struct http_route *route) {
        char name[64];

        fputs("method=\"", f);
        metrics_label(f, route ? route->method : "-");
        fputs("\",route=\"", f);
        metrics_label(f, route ? http_route_name(route, name, sizeof(name)) : "-");
        fputc('"', f);
}

static void metrics_write_requests(const struct metrics *m, FILE *f) {
        metrics_head(f, "syncd_http_requests_total", "counter",
                     "Requests that ended, by route template and status (\"-\": no route matched, "
                     "or closed without an answer).");
        for (size_t i = 0; i < m->n_requests; i++) {
                const struct metrics_requests *r = &m->requests[i];

                fputs("syncd_http_requests_total{", f);
                metrics_route_labels(f, r->route);
                if (r->status)
                        fprintf(f, ",status=\"%u\"} %" PRIu64 "\n", r->status, r->n);
                else
                        fprintf(f, ",status=\"-\"} %" PRIu64 "\n", r->n);
        }
        metrics_head(f, "syncd_http_rate_limited_total", "counter",
                     "Requests answered 429 (too many pushes, or long polls), by route template.");
        for (size_t i = 0; i < m->n_requests; i++) {
                const struct metrics_requests *r = &m->requests[i];

                if (r->status != 429)
                        continue;
                fputs("syncd_http_rate_limited_total{", f);
                metrics_route_labels(f, r->route);
                fprintf(f, "} %" PRIu64 "\n", r->n);
        }
}

static void metrics_write_histogram(FILE *f, const char *name, const char *help, const struct metrics_histogram *h) {
        uint64_t cumulative = 0;

        metrics_head(f, name, "histogram", help);
        for (size_t i = 0; i < h->n; i++) {
                cumulative += h->buckets[i];
                fprintf(f, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", name, h->bounds[i], cumulative);
        }
        fprintf(f, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name, h->count);
        fprintf(f, "%s_sum %.9g\n%s_count %" PRIu64 "\n", name, h->sum, name, h->count);
}

static void metrics_write_push(const struct counters *c, FILE *f) {
        metrics_head(f, "syncd_push_results_total", "counter",
                     "Records of committed pushes, by their result.");
        fprintf(f, "syncd_push_results_total{status=\"applied\"} %" PRIu64 "\n", c->push_applied);
        fprintf(f, "syncd_push_results_total{status=\"stale\"} %" PRIu64 "\n", c->push_stale);
        fprintf(f, "syncd_push_results_total{status=\"rejected\"} %" PRIu64 "\n", c->push_rejected);
        metrics_one(f, "syncd_records_applied_total", "counter",
                    "Records written to the database by committed pushes.", c->push_applied);
}

static void metrics_write_counters(const struct counters *c, FILE *f) {
        metrics_one(f, "syncd_database_errors_total", "counter",
                    "Errors SQLite reported (one failure may count twice: the statement and the system call).",
                    c->database_errors);
        metrics_one(f, "syncd_tls_handshakes_failed_total", "counter", "TLS handshakes that failed.",
                    c->tls_handshakes_failed);
        metrics_one(f, "syncd_connections_refused_total", "counter",
                    "Connections refused at accept: over the total or the per-address limit.",
                    c->connections_refused);
        metrics_one(f, "syncd_deadlines_cut_total", "counter",
                    "Connections cut at a deadline: handshake and headers, body or answer too slow.",
                    c->deadlines_cut);
        metrics_one(f, "syncd_idle_closed_total", "counter",
                    "Kept-alive connections closed after no next request in time.", c->idle_closed);
        metrics_one(f, "syncd_requests_malformed_total", "counter",
                    "Requests answered 400 before routing: framing, Host, the request target.",
                    c->requests_malformed);
        metrics_one(f, "syncd_longpoll_wakeups_total", "counter",
                    "Parked long polls answered because their account changed.", c->waits_woken);
        metrics_one(f, "syncd_longpoll_kept_total", "counter",
                    "Parked long polls a wake-up found nothing newer for, left parked.", c->waits_kept);
        metrics_one(f, "syncd_longpoll_hung_up_total", "counter",
                    "Parked long polls whose client went away.", c->waits_hung_up);
        metrics_one(f, "syncd_longpoll_shed_total", "counter",
                    "Parked long polls answered early near the connection limit.", c->waits_shed);
        metrics_one(f, "syncd_longpoll_refused_total", "counter",
                    "Long polls refused (429): too many of the account or the address.", c->waits_refused);
        metrics_one(f, "syncd_log_lines_held_total", "counter",
                    "libmicrohttpd's log lines summed up instead of logged.", c->log_lines_held);
}

int metrics_write(const struct metrics *m, const struct counters *c, const struct metrics_gauges *g, FILE *f) {
        metrics_write_requests(m, f);
        metrics_one(f, "syncd_idempotent_replays_total", "counter",
                    "Pushes answered with the stored answer of their Idempotency-Key.", m->replays);
        metrics_write_push(c, f);
        metrics_write_histogram(f, "syncd_commit_duration_seconds",
                                "Group commit transactions, BEGIN to COMMIT (fdatasync included).",
                                &m->commit_seconds);
        metrics_write_histogram(f, "syncd_commit_group_size", "Writes (pushes, device PUTs) per group commit.",
                                &m->commit_size);
        metrics_one(f, "syncd_commits_failed_total", "counter",
                    "Group commits rolled back: every member was answered 500.", m->commits_failed);
        metrics_write_counters(c, f);
        metrics_one(f, "syncd_longpoll_parked", "gauge", "Long polls parked now.", g->waits_parked);
        metrics_one(f, "syncd_connections", "gauge", "HTTPS connections held now (not closing).", g->connections);
        return fflush(f) == 0 && !ferror(f) ? 0 : -EIO;
}
