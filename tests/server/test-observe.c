/* SPDX-License-Identifier: MIT */
/* Tests of what syncd lets an operator see: the access log's fields (route
 * templates, statuses, the account's hash, the Idempotency-Key) and that no
 * token, account name or record value reaches it; its journal fields when
 * stderr is the journal (a private mount namespace with our own journal
 * socket; skipped when one cannot be made); /metrics checked by a strict
 * parser of the text format on every scrape, by promtool when installed,
 * and its numbers asserted to move with the requests made; /healthz and
 * /readyz with the database file taken away under a running syncd; gzip
 * answers and Accept-Encoding's q-values; the command line. Starts the
 * built binary (BRIDGED_BUILD) on 127.0.0.1 port 0, one per test. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <zlib.h>

#include "tests/lib/harness.h"

#define DEV_HDR "Device-Id: 00a1b2c3d4e5f607"
#define ORIGIN "00a1b2c3d4e5f607"
#define ALICE_HASH "2bd806c9"           /* printf %s alice | sha256sum | cut -c1-8 */
#define MARKER "Zq7-record-marker"      /* a profile name: a record's value */
#define DEADLINE_MS 10000
#define ACCESS "syncd: access "

/* Helpers: servers, records, requests */

static void start(struct harness_syncd *s, bool metrics, const char *const *extra) {
        assert_int_equal(harness_dir(s), 0);
        s->capture_log = true;
        s->access_log = true;
        s->metrics = metrics;
        assert_int_equal(harness_start(s, false, extra), 0);
}

static void uuid_n(unsigned n, char buf[static 37]) {
        snprintf(buf, 37, "%08x-0000-4000-8000-%012llx", n, (unsigned long long) (harness_wall_ms() & 0xffffffffffffull));
}

/* The largest values each item can hold: what a pull of a full account costs. */
static const char *value_of(const char *key, const char *family) {
        if (strcmp(key, "profile") == 0)
                return "{\"hearing\": {\"enabled\": true, \"left_db\": [0, 0.5, 1, 1.5, 2, 2.5], "
                       "\"right_db\": [3, 3.5, 4, 4.5, 5, 5.5]}, \"noise_control\": \"anc\", \"ambient_level\": 3, "
                       "\"touch\": {\"left\": \"play_pause\", \"right\": \"next\"}, \"name\": \"" MARKER "\"}";
        if (strcmp(family, "standard") == 0)
                return strcmp(key, "eq.custom") == 0 ? "{\"bands_db\": [0, 1.5, -2, 0, 3]}" :
                        "{\"preset\": \"bass_boost\"}";
        if (strcmp(key, "eq.custom") == 0)
                return "{\"preamp_db\": -2.0, \"bands\": ["
                       "{\"type\": \"low_shelf\", \"freq_hz\": 60, \"gain_db\": 3.5, \"q\": 0.71}, "
                       "{\"type\": \"peak\", \"freq_hz\": 120, \"gain_db\": 2, \"q\": 1.2}, "
                       "{\"type\": \"peak\", \"freq_hz\": 250, \"gain_db\": -1.5, \"q\": 1.4}, "
                       "{\"type\": \"peak\", \"freq_hz\": 500, \"gain_db\": 1, \"q\": 0.9}, "
                       "{\"type\": \"peak\", \"freq_hz\": 1000, \"gain_db\": -2, \"q\": 1.1}, "
                       "{\"type\": \"peak\", \"freq_hz\": 2000, \"gain_db\": 2.5, \"q\": 1.3}, "
                       "{\"type\": \"peak\", \"freq_hz\": 4000, \"gain_db\": -3, \"q\": 2}, "
                       "{\"type\": \"peak\", \"freq_hz\": 8000, \"gain_db\": 1.5, \"q\": 1.7}, "
                       "{\"type\": \"peak\", \"freq_hz\": 12000, \"gain_db\": -1, \"q\": 0.8}, "
                       "{\"type\": \"high_shelf\", \"freq_hz\": 16000, \"gain_db\": 4, \"q\": 0.71}]}";
        return "{\"preset\": \"voice\"}";
}

/* One record as JSON text (malloc'd); value NULL: value_of's. */
static char *rec(const char *key, const char *family, uint64_t ms, unsigned c, const char *value) {
        char *s;

        assert_true(asprintf(&s, "{\"key\": \"%s\", \"family\": \"%s\", \"stamp\": {\"ms\": %llu, \"c\": %u, "
                             "\"origin\": \"" ORIGIN "\"}, \"derived\": false, \"value\": %s}", key, family,
                             (unsigned long long) ms, c, value ?: value_of(key, family)) > 0);
        return s;
}

/* {"schema": 1, "records": [r]} (r freed). */
static char *push_body1(char *r) {
        char *body;

        assert_true(asprintf(&body, "{\"schema\": 1, \"records\": [%s]}", r) > 0);
        free(r);
        return body;
}

/* Pushes body (freed) under key; returns the status. */
static long push(const struct harness_syncd *s, const char *key, char *body) {
        struct harness_resp r;
        char hdr[80];
        const char *headers[] = { hdr, DEV_HDR, NULL };
        long status;

        snprintf(hdr, sizeof(hdr), "Idempotency-Key: %s", key);
        assert_int_equal(harness_request(s, "POST", "/v1/sync/push", HARNESS_TOKEN_A, body, headers, &r), 0);
        free(body);
        status = r.status;
        harness_resp_clear(&r);
        return status;
}

/* Every item of alice's account at its largest. */
static void fill_account(const struct harness_syncd *s) {
        static const char *const items[][2] = { { "profile", "any" }, { "eq.custom", "standard" },
                                                { "eq.custom", "pro" }, { "eq.active", "standard" },
                                                { "eq.active", "pro" } };
        char *body = strdup("{\"schema\": 1, \"records\": [");
        char key[37];

        for (size_t i = 0; i < 5; i++) {
                char *r = rec(items[i][0], items[i][1], harness_wall_ms() - 1000, 0, NULL), *next;

                assert_true(asprintf(&next, "%s%s%s", body, i ? ", " : "", r) > 0);
                free(body);
                free(r);
                body = next;
        }
        body = realloc(body, strlen(body) + 3);
        strcat(body, "]}");
        uuid_n(0xf111, key);
        assert_int_equal(push(s, key, body), 200);
}

/* Helpers: the access log */

/* The last access line holding needle, waited for; into buf. */
static const char *access_line(struct harness_syncd *s, const char *needle, char *buf, size_t size) {
        const char *found = NULL;

        assert_true(harness_log_wait(s, needle, harness_now_ms() + DEADLINE_MS));
        for (const char *l = s->log; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
                size_t n = strcspn(l, "\n");
                const char *hit = strstr(l, needle);

                if (strncmp(l, ACCESS, strlen(ACCESS)) == 0 && hit && hit < l + n) {
                        snprintf(buf, size, "%.*s", (int) n, l);
                        found = buf;
                }
        }
        if (!found)
                fail_msg("no access line with '%s' in:\n%s", needle, s->log);
        return found;
}

/* The value of " name=" in an access line. */
static const char *field(const char *line, const char *name, char *buf, size_t size) {
        char pat[32];
        const char *p;

        snprintf(pat, sizeof(pat), " %s=", name);
        p = strstr(line, pat);
        if (!p)
                fail_msg("no field %s in '%s'", name, line);
        p += strlen(pat);
        snprintf(buf, size, "%.*s", (int) strcspn(p, " "), p);
        return buf;
}

static void assert_field(const char *line, const char *name, const char *want) {
        char v[128];

        if (strcmp(field(line, name, v, sizeof(v)), want) != 0)
                fail_msg("%s=%s, expected %s, in '%s'", name, v, want, line);
}

/* Helpers: the exposition format */

struct expo_family {
        char name[128];
        char type[16];
        bool help, sampled, closed;
        /* histograms */
        double last_le;
        double last_bucket, inf_bucket;
        bool has_inf;
};

struct expo {
        struct expo_family fam[96];
        size_t n;
        char **series;
        size_t n_series;
        const char *family_open;        /* the family whose samples came last */
};

static bool expo_name_ok(const char *s, size_t n, bool metric) {
        if (n == 0)
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = s[i];
                bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (metric && c == ':') ||
                        (i > 0 && c >= '0' && c <= '9');

                if (!ok)
                        return false;
        }
        return true;
}

static struct expo_family *expo_find(struct expo *x, const char *name, size_t n) {
        for (size_t i = 0; i < x->n; i++)
                if (strlen(x->fam[i].name) == n && strncmp(x->fam[i].name, name, n) == 0)
                        return &x->fam[i];
        return NULL;
}

static struct expo_family *expo_family(struct expo *x, const char *name, size_t n) {
        struct expo_family *f = expo_find(x, name, n);

        if (f || x->n == sizeof(x->fam) / sizeof(x->fam[0]) || n >= sizeof(f->name))
                return f;
        f = &x->fam[x->n++];
        memset(f, 0, sizeof(*f));
        snprintf(f->name, sizeof(f->name), "%.*s", (int) n, name);
        f->last_le = -INFINITY;
        return f;
}

/* A float as the format writes them: Go's ParseFloat, plus +Inf, -Inf, NaN. */
static bool expo_value(const char *s, size_t n, double *ret) {
        char buf[64], *end;

        if (n == 0 || n >= sizeof(buf))
                return false;
        memcpy(buf, s, n);
        buf[n] = '\0';
        if (strcmp(buf, "+Inf") == 0 || strcmp(buf, "-Inf") == 0 || strcmp(buf, "NaN") == 0) {
                *ret = buf[0] == '-' ? -INFINITY : buf[0] == '+' ? INFINITY : NAN;
                return true;
        }
        if (strspn(buf, "0123456789+-.eE") != n)
                return false;
        errno = 0;
        *ret = strtod(buf, &end);
        return *end == '\0' && errno == 0;
}

/* Labels "{a="x",b="y"}" from *p; le's value returned when there is one. */
static const char *expo_labels(const char *p, const char *eol, double *ret_le, bool *ret_has_le) {
        *ret_has_le = false;
        if (*p != '{')
                return p;
        p++;
        while (p < eol && *p != '}') {
                const char *name = p, *value;
                size_t n = strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789");

                if (!expo_name_ok(name, n, false) || p[n] != '=' || p[n + 1] != '"')
                        return NULL;
                p += n + 2;
                value = p;
                while (p < eol && *p != '"') {
                        if (*p == '\\' && (p[1] == '\\' || p[1] == '"' || p[1] == 'n'))
                                p++;
                        else if (*p == '\\')
                                return NULL;
                        p++;
                }
                if (p >= eol)
                        return NULL;
                if (n == 2 && strncmp(name, "le", 2) == 0) {
                        if (!expo_value(value, (size_t) (p - value), ret_le))
                                return NULL;
                        *ret_has_le = true;
                }
                p++;
                if (*p == ',')
                        p++;
                else if (*p != '}')
                        return NULL;
        }
        return p < eol ? p + 1 : NULL;
}

static int expo_fail(char *why, size_t size, const char *line, const char *eol, const char *what) {
        snprintf(why, size, "%s: '%.*s'", what, (int) (eol - line), line);
        return -1;
}

/* The family a sample belongs to: its own name, or a histogram's. */
static struct expo_family *expo_sample_family(struct expo *x, const char *name, size_t n, const char **ret_part) {
        static const char *const parts[] = { "_bucket", "_sum", "_count" };
        struct expo_family *f = expo_find(x, name, n);

        *ret_part = "";
        if (f && f->type[0])
                return f;
        for (size_t i = 0; i < 3; i++) {
                size_t k = strlen(parts[i]);

                if (n > k && strncmp(name + n - k, parts[i], k) == 0 && (f = expo_find(x, name, n - k)) &&
                    (strcmp(f->type, "histogram") == 0 || strcmp(f->type, "summary") == 0)) {
                        *ret_part = parts[i];
                        return f;
                }
        }
        return NULL;
}

static int expo_comment(struct expo *x, const char *line, const char *eol, char *why, size_t size) {
        bool help = strncmp(line, "# HELP ", 7) == 0, type = strncmp(line, "# TYPE ", 7) == 0;
        const char *name = line + 7, *rest;
        struct expo_family *f;
        size_t n;

        if (!help && !type)
                return expo_fail(why, size, line, eol, "a comment that is neither HELP nor TYPE");
        n = strcspn(name, " \n");
        rest = name + n;
        if (!expo_name_ok(name, n, true) || *rest != ' ')
                return expo_fail(why, size, line, eol, "a bad metric name");
        f = expo_family(x, name, n);
        if (!f)
                return expo_fail(why, size, line, eol, "too many families");
        if (f->sampled)
                return expo_fail(why, size, line, eol, "HELP or TYPE after the family's samples");
        if (help) {
                if (f->help)
                        return expo_fail(why, size, line, eol, "a second HELP");
                f->help = true;
                return 0;
        }
        rest++;
        if (f->type[0] || (size_t) (eol - rest) >= sizeof(f->type))
                return expo_fail(why, size, line, eol, "a second or bad TYPE");
        snprintf(f->type, sizeof(f->type), "%.*s", (int) (eol - rest), rest);
        if (strcmp(f->type, "counter") && strcmp(f->type, "gauge") && strcmp(f->type, "histogram") &&
            strcmp(f->type, "summary") && strcmp(f->type, "untyped"))
                return expo_fail(why, size, line, eol, "an unknown TYPE");
        return 0;
}

static int expo_histogram(struct expo_family *f, const char *part, bool has_le, double le, double v,
                          const char *line, const char *eol, char *why, size_t size) {
        if (strcmp(part, "_bucket") == 0) {
                if (!has_le || le <= f->last_le || v < f->last_bucket)
                        return expo_fail(why, size, line, eol, "buckets not in order of le, or not cumulative");
                f->last_le = le;
                f->last_bucket = v;
                if (isinf(le)) {
                        f->has_inf = true;
                        f->inf_bucket = v;
                }
        } else if (strcmp(part, "_count") == 0 && (!f->has_inf || f->inf_bucket != v))
                return expo_fail(why, size, line, eol, "_count differs from the +Inf bucket");
        return 0;
}

static int expo_sample(struct expo *x, const char *line, const char *eol, char *why, size_t size) {
        size_t n = strspn(line, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_:0123456789");
        const char *p, *part, *value;
        struct expo_family *f;
        bool has_le;
        double le = 0, v;

        if (!expo_name_ok(line, n, true))
                return expo_fail(why, size, line, eol, "a bad metric name");
        f = expo_sample_family(x, line, n, &part);
        if (!f)
                return expo_fail(why, size, line, eol, "a sample without a TYPE");
        if (f->closed || (x->family_open && x->family_open != f->name && f->sampled))
                return expo_fail(why, size, line, eol, "a family's samples not together");
        if (x->family_open && x->family_open != f->name)
                expo_find(x, x->family_open, strlen(x->family_open))->closed = true;
        x->family_open = f->name;
        f->sampled = true;
        p = expo_labels(line + n, eol, &le, &has_le);
        if (!p || *p != ' ')
                return expo_fail(why, size, line, eol, "bad labels");
        value = p + 1;
        if (!expo_value(value, strcspn(value, " \n"), &v))
                return expo_fail(why, size, line, eol, "a bad value");
        if (value[strcspn(value, " \n")] != '\n')
                return expo_fail(why, size, line, eol, "a timestamp or trailing text (syncd writes none)");
        if (strcmp(f->type, "counter") == 0 && !(v >= 0))
                return expo_fail(why, size, line, eol, "a counter below 0");
        for (size_t i = 0; i < x->n_series; i++)
                if (strlen(x->series[i]) == (size_t) (p - line) && strncmp(x->series[i], line, p - line) == 0)
                        return expo_fail(why, size, line, eol, "a series given twice");
        x->series = realloc(x->series, (x->n_series + 1) * sizeof(*x->series));
        x->series[x->n_series++] = strndup(line, (size_t) (p - line));
        if (strcmp(f->type, "histogram") == 0)
                return expo_histogram(f, part, has_le, le, v, line, eol, why, size);
        return 0;
}

/* The text format 0.0.4, strictly: every family HELP and TYPE before its
 * samples, its samples together, no series twice, histograms whole. */
static int expo_check(const char *text, char *why, size_t size) {
        struct expo *x = calloc(1, sizeof(*x));
        int r = 0;

        assert_non_null(x);
        if (!*text || text[strlen(text) - 1] != '\n') {
                snprintf(why, size, "the text does not end with a line feed");
                r = -1;
        }
        for (const char *l = text; r == 0 && *l; l = strchr(l, '\n') + 1) {
                const char *eol = strchr(l, '\n');

                if (!eol)
                        break;
                if (eol == l)
                        r = expo_fail(why, size, l, eol, "an empty line");
                else if (*l == '#')
                        r = expo_comment(x, l, eol, why, size);
                else
                        r = expo_sample(x, l, eol, why, size);
        }
        for (size_t i = 0; r == 0 && i < x->n; i++)
                if (!x->fam[i].help || !x->fam[i].type[0] ||
                    (strcmp(x->fam[i].type, "histogram") == 0 && !x->fam[i].has_inf)) {
                        snprintf(why, size, "family %s without HELP, TYPE or +Inf bucket", x->fam[i].name);
                        r = -1;
                }
        for (size_t i = 0; i < x->n_series; i++)
                free(x->series[i]);
        free(x->series);
        free(x);
        return r;
}

/* GET /metrics, checked; the body (malloc'd). */
static char *scrape(const struct harness_syncd *s) {
        struct harness_resp r;
        char type[128], why[512];
        char *body;

        assert_int_equal(harness_metrics_get(s, "GET", "/metrics", NULL, &r), 0);
        assert_int_equal(r.status, 200);
        assert_non_null(harness_header(&r, "Content-Type", type, sizeof(type)));
        assert_string_equal(type, "text/plain; version=0.0.4; charset=utf-8");
        if (expo_check(r.body, why, sizeof(why)) < 0)
                fail_msg("/metrics: %s", why);
        body = r.body;
        r.body = NULL;
        harness_resp_clear(&r);
        return body;
}

static double scrape_one(const struct harness_syncd *s, const char *series) {
        char *text = scrape(s);
        double v = harness_metric(text, series);

        free(text);
        return v;
}

/* Drives m (NULL: nothing) for at most ms. */
static void drive(CURLM *m, int ms) {
        int running;

        if (!m)
                return;
        curl_multi_perform(m, &running);
        curl_multi_poll(m, NULL, 0, ms, NULL);
        curl_multi_perform(m, &running);
}

/* Scrapes until series is at least want (a request's numbers are counted as
 * it ends, which may be just after its client has its answer). */
static double wait_metric(const struct harness_syncd *s, const char *series, double want, CURLM *m) {
        uint64_t deadline = harness_now_ms() + DEADLINE_MS;
        double v;

        while ((v = scrape_one(s, series)) < want && harness_now_ms() < deadline)
                drive(m, 20);
        if (v < want)
                fail_msg("%s is %g, expected at least %g", series, v, want);
        return v;
}

/* Tests: the access log */

static void test_access_log_fields(void **state) {
        struct harness_syncd s;
        char line[1024], key[37], v[64];
        const char *hdrs[] = { "Authorization: Bearer nobody-knows-this", NULL };
        struct harness_resp r;

        (void) state;
        start(&s, false, NULL);
        assert_int_equal(harness_request(&s, "GET", "/v1/nothing/00a1b2c3d4e5f607", NULL, NULL, NULL, &r), 0);
        harness_resp_clear(&r);
        access_line(&s, "status=404", line, sizeof(line));
        assert_field(line, "method", "GET");
        assert_field(line, "route", "-");       /* never the path as sent */
        assert_null(strstr(line, "00a1b2c3d4e5f607"));
        assert_field(line, "account", "-");
        assert_field(line, "idem", "-");
        assert_field(line, "end", "ok");
        assert_true(atoi(field(line, "bytes", v, sizeof(v))) > 0);
        assert_non_null(strchr(field(line, "ms", v, sizeof(v)), '.'));

        assert_int_equal(harness_request(&s, "GET", "/v1/sync/status", NULL, NULL, hdrs, &r), 0);
        assert_int_equal(r.status, 401);
        harness_resp_clear(&r);
        access_line(&s, "status=401", line, sizeof(line));
        assert_field(line, "route", "/v1/sync/status");
        assert_field(line, "account", "-");
        assert_null(strstr(s.log, "nobody-knows-this"));

        uuid_n(0xabc, key);
        assert_int_equal(push(&s, key, push_body1(rec("eq.active", "pro", harness_wall_ms(), 0, NULL))), 200);
        access_line(&s, key, line, sizeof(line));
        assert_field(line, "method", "POST");
        assert_field(line, "route", "/v1/sync/push");
        assert_field(line, "status", "200");
        assert_field(line, "account", ALICE_HASH);
        assert_field(line, "idem", key);
        assert_field(line, "replay", "no");
        /* the key again with another body (another stamp): 422, and the key logged again */
        assert_int_equal(push(&s, key, push_body1(rec("eq.active", "pro", harness_wall_ms(), 0, NULL))), 422);
        assert_true(harness_log_wait_count(&s, key, 2, harness_now_ms() + DEADLINE_MS));

        assert_int_equal(harness_request(&s, "PUT", "/v1/devices/00a1b2c3d4e5f607", HARNESS_TOKEN_A,
                                         "{\"kind\": \"host\", \"last_seen_ms\": 5}", NULL, &r), 0);
        assert_int_equal(r.status, 200);
        harness_resp_clear(&r);
        access_line(&s, "method=PUT", line, sizeof(line));
        assert_field(line, "route", "/v1/devices/{id}");
        assert_field(line, "status", "200");
        assert_null(strstr(line, "00a1b2c3d4e5f607"));
        harness_cleanup(&s);
}

/* A replay is flagged; a key that is not a UUID is never repeated. */
static void test_access_log_replay_and_bad_key(void **state) {
        struct harness_syncd s;
        char line[1024], key[37], *body;
        const char *bad[] = { "Idempotency-Key: " HARNESS_TOKEN_B, DEV_HDR, NULL };
        struct harness_resp r;

        (void) state;
        start(&s, false, NULL);
        uuid_n(0xdef, key);
        body = push_body1(rec("eq.active", "pro", harness_wall_ms(), 0, NULL));
        assert_int_equal(push(&s, key, strdup(body)), 200);
        assert_int_equal(push(&s, key, body), 200);
        assert_true(harness_log_wait_count(&s, key, 2, harness_now_ms() + DEADLINE_MS));
        access_line(&s, key, line, sizeof(line));
        assert_field(line, "replay", "yes");

        assert_int_equal(harness_request(&s, "POST", "/v1/sync/push", HARNESS_TOKEN_A, "{}", bad, &r), 0);
        assert_int_equal(r.status, 400);
        harness_resp_clear(&r);
        access_line(&s, "idem=invalid", line, sizeof(line));
        assert_field(line, "status", "400");
        assert_null(strstr(s.log, HARNESS_TOKEN_B));
        harness_cleanup(&s);
}

/* 48 pushes at once, each with a record holding MARKER: the log holds one
 * line per push and none of a token, the account's name or a record. */
static void test_access_log_no_secrets(void **state) {
        enum { N = 48 };
        struct harness_syncd s;
        struct harness_resp resp[N];
        char *bodies[N], keys[N][37], hdrs[N][80];
        const char *headers[N][3];
        CURLM *m = curl_multi_init();
        CURL *e[N];
        int running = 1;
        uint64_t deadline;

        (void) state;
        start(&s, false, NULL);
        for (int i = 0; i < N; i++) {
                uuid_n(0x100 + (unsigned) i, keys[i]);
                snprintf(hdrs[i], sizeof(hdrs[i]), "Idempotency-Key: %.36s", keys[i]);
                headers[i][0] = hdrs[i];
                headers[i][1] = DEV_HDR;
                headers[i][2] = NULL;
                bodies[i] = push_body1(rec("profile", "any", harness_wall_ms() + (uint64_t) i, (unsigned) i, NULL));
                e[i] = harness_easy(&s, "POST", "/v1/sync/push", HARNESS_TOKEN_A, bodies[i], headers[i], &resp[i]);
                curl_multi_add_handle(m, e[i]);
        }
        deadline = harness_now_ms() + 30000;
        while (running && harness_now_ms() < deadline) {
                curl_multi_perform(m, &running);
                if (running)
                        curl_multi_poll(m, NULL, 0, 100, NULL);
        }
        assert_int_equal(running, 0);
        for (int i = 0; i < N; i++) {
                long status = 0;

                curl_easy_getinfo(e[i], CURLINFO_RESPONSE_CODE, &status);
                assert_int_equal(status, 200);
                curl_multi_remove_handle(m, e[i]);
                harness_easy_free(e[i]);
                harness_resp_clear(&resp[i]);
                free(bodies[i]);
        }
        curl_multi_cleanup(m);
        assert_true(harness_log_wait_count(&s, "route=/v1/sync/push status=200", N, harness_now_ms() + DEADLINE_MS));
        for (int i = 0; i < N; i++)
                assert_int_equal(harness_log_count(&s, keys[i]), 1);
        assert_int_equal(harness_stop(&s), 0);
        (void) harness_log_wait(&s, "\x01", harness_now_ms() + DEADLINE_MS);   /* read to the end */
        assert_null(strstr(s.log, HARNESS_TOKEN_A));
        assert_null(strstr(s.log, "Bearer"));
        assert_null(strstr(s.log, "alice"));
        assert_null(strstr(s.log, MARKER));
        assert_null(strstr(s.log, "left_db"));
        assert_null(strstr(s.log, "\"stamp\""));
        harness_cleanup(&s);
}

/* The journal's native protocol: "NAME=value\n" per field (ours hold no line feed). */
static bool journal_has(const char *dgram, const char *field_line) {
        size_t n = strlen(field_line);

        for (const char *l = dgram; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
                if (strncmp(l, field_line, n) == 0 && (l[n] == '\n' || l[n] == '\0'))
                        return true;
        return false;
}

#define CHILD_CHECK(cond) do { \
                if (!(cond)) { \
                        fprintf(stderr, "journal: %s failed (line %d)\n", #cond, __LINE__); \
                        goto out; \
                } \
        } while (0)

/* In a private mount namespace, our socket stands at the journal's path. 77:
 * no namespace could be made (not root). */
static int journal_child(void) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX, .sun_path = "/run/systemd/journal/socket" };
        struct harness_syncd s = {};
        struct harness_resp r = {};
        struct pollfd p;
        char dgram[65536];
        ssize_t n;
        int fd, rc = 1;

        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
            mount("tmpfs", "/run", "tmpfs", 0, "mode=0755") < 0)
                return 77;
        if (mkdir("/run/systemd", 0755) < 0 || mkdir("/run/systemd/journal", 0755) < 0)
                return 1;
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return 1;
        CHILD_CHECK(harness_dir(&s) == 0);
        s.capture_log = s.access_log = s.journal_stream = true;
        CHILD_CHECK(harness_start(&s, false, NULL) == 0);
        CHILD_CHECK(harness_request(&s, "GET", "/v1/sync/status", HARNESS_TOKEN_A, NULL, NULL, &r) == 0);
        p = (struct pollfd) { .fd = fd, .events = POLLIN };
        CHILD_CHECK(poll(&p, 1, DEADLINE_MS) == 1);
        n = recv(fd, dgram, sizeof(dgram) - 1, 0);
        CHILD_CHECK(n > 0);
        dgram[n] = '\0';
        CHILD_CHECK(journal_has(dgram, "MESSAGE_ID=1e061da959ba470abeddc80e463906d5"));
        CHILD_CHECK(journal_has(dgram, "SYSLOG_IDENTIFIER=syncd"));
        CHILD_CHECK(journal_has(dgram, "PRIORITY=6"));
        CHILD_CHECK(journal_has(dgram, "HTTP_METHOD=GET"));
        CHILD_CHECK(journal_has(dgram, "HTTP_ROUTE=/v1/sync/status"));
        CHILD_CHECK(journal_has(dgram, "HTTP_STATUS=200"));
        CHILD_CHECK(journal_has(dgram, "ACCOUNT_HASH=" ALICE_HASH));
        CHILD_CHECK(journal_has(dgram, "IDEMPOTENCY_KEY=-"));
        CHILD_CHECK(journal_has(dgram, "CONTENT_ENCODING=identity"));
        CHILD_CHECK(journal_has(dgram, "REQUEST_END=ok"));
        CHILD_CHECK(strstr(dgram, "\nDURATION_USEC=") && strstr(dgram, "\nBYTES_SENT="));
        CHILD_CHECK(strstr(dgram, "MESSAGE=access method=GET route=/v1/sync/status status=200"));
        CHILD_CHECK(!strstr(dgram, HARNESS_TOKEN_A) && !strstr(dgram, "alice"));
        /* the entry went to the journal instead of stderr, not as well */
        CHILD_CHECK(harness_stop(&s) == 0);
        (void) harness_log_wait(&s, "\x01", harness_now_ms() + DEADLINE_MS);
        CHILD_CHECK(!s.log || !strstr(s.log, ACCESS));
        rc = 0;
out:
        harness_resp_clear(&r);
        harness_cleanup(&s);
        return rc;
}

static void test_access_log_journal(void **state) {
        pid_t pid;
        int pidfd, status = 0;
        struct pollfd p;

        (void) state;
        fflush(NULL);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
                _exit(journal_child());
        pidfd = (int) pidfd_open(pid, 0);
        assert_true(pidfd >= 0);
        p = (struct pollfd) { .fd = pidfd, .events = POLLIN };
        if (poll(&p, 1, 60000) != 1) {
                kill(pid, SIGKILL);
                (void) waitpid(pid, NULL, 0);
                fail_msg("the journal check did not end in time");
        }
        close(pidfd);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (WIFEXITED(status) && WEXITSTATUS(status) == 77) {
                fprintf(stderr, "skipped: no private mount namespace for a journal socket (needs root)\n");
                skip();
        }
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
}

/* Tests: /metrics, /healthz, /readyz */

/* The build directory's (server/module.mk unpacks it there), else PATH's. */
static const char *promtool_path(char *buf, size_t size) {
        const char *path = getenv("PATH");
        char *copy, *save = NULL;
        const char *found = NULL;

        snprintf(buf, size, "%s/promtool/usr/bin/promtool", getenv("BRIDGED_BUILD") ?: "build");
        if (access(buf, X_OK) == 0)
                return buf;
        copy = strdup(path ? path : "/usr/bin:/bin");

        assert_non_null(copy);
        for (char *dir = strtok_r(copy, ":", &save); dir && !found; dir = strtok_r(NULL, ":", &save)) {
                snprintf(buf, size, "%s/promtool", dir);
                if (access(buf, X_OK) == 0)
                        found = buf;
        }
        free(copy);
        return found;
}

/* The checker itself: what it must refuse (else its passes prove nothing). */
static void test_expo_checker(void **state) {
        static const char *const bad[] = {
                "a_total 1\n",                                         /* no TYPE */
                "# HELP a_total x\n# TYPE a_total counter\na_total 1",  /* no final line feed */
                "# HELP a_total x\n# TYPE a_total counter\na_total -1\n",
                "# HELP a_total x\n# TYPE a_total counter\na_total{x=\"1} 1\n",
                "# HELP a_total x\n# TYPE a_total counter\na_total{x=\"1\"} 1\na_total{x=\"1\"} 2\n",
                "# HELP a_total x\n# TYPE a_total counter\na_total 1 1700000000\n",
                "# HELP a_total x\n# TYPE a_total counter\na_total one\n",
                "# HELP a x\n# TYPE a gauge\n# HELP b x\n# TYPE b gauge\na 1\nb 1\na{x=\"y\"} 1\n",
                "# HELP h x\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\n"
                "h_count 1\n",
                "# HELP h x\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\n"
                "h_count 3\n",
                "# HELP h x\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n",
                "# TYPE a gauge\na 1\n",                               /* no HELP */
                "# HELP a x\n# TYPE a gauge\n# TYPE a gauge\na 1\n",
                "# HELP a x\n# TYPE a meter\na 1\n",
                "# HELP a x\n# TYPE a gauge\na 1\n\n",
                "# just a comment\n",
        };
        char why[256];

        (void) state;
        assert_int_equal(expo_check("# HELP a_total x\n# TYPE a_total counter\na_total{x=\"a\\\"b\"} 1\n"
                                    "# HELP h x\n# TYPE h histogram\nh_bucket{le=\"0.5\"} 1\n"
                                    "h_bucket{le=\"+Inf\"} 2\nh_sum 1.5e-05\nh_count 2\n", why, sizeof(why)), 0);
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                if (expo_check(bad[i], why, sizeof(why)) == 0)
                        fail_msg("the checker took bad text %zu:\n%s", i, bad[i]);
}

/* Prometheus's own parser and linter of the text format. */
static void test_metrics_promtool(void **state) {
        struct harness_syncd s;
        char tool[512], file[160], cmd[1024], out[4096] = "";
        char *text;
        size_t n;
        FILE *f;
        int rc;

        (void) state;
        start(&s, true, NULL);
        fill_account(&s);
        assert_int_equal(push(&s, "not-a-uuid", push_body1(rec("eq.active", "pro", 1, 0, NULL))), 400);
        text = scrape(&s);
        printf("FIGURE /metrics after a few requests: %zu bytes\n", strlen(text));
        if (!promtool_path(tool, sizeof(tool))) {
                free(text);
                harness_cleanup(&s);
                fprintf(stderr, "skipped: promtool is not there (Debian's prometheus package, unpacked into "
                                "the build directory by make check)\n");
                skip();
        }
        snprintf(file, sizeof(file), "%s/metrics.txt", s.dir);
        f = fopen(file, "we");
        assert_non_null(f);
        assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
        assert_int_equal(fclose(f), 0);
        snprintf(cmd, sizeof(cmd), "'%s' check metrics < '%s' 2>&1", tool, file);
        f = popen(cmd, "r");
        assert_non_null(f);
        n = fread(out, 1, sizeof(out) - 1, f);
        out[n] = '\0';
        rc = pclose(f);
        if (rc != 0)
                fail_msg("promtool check metrics: exit %d: %s\n%s", rc, out, text);
        free(text);
        harness_cleanup(&s);
}

static void test_metrics_move(void **state) {
        static const char *const wait_extra[] = { "--max-waits-per-account", "1", NULL };
        static const char *status200 = "syncd_http_requests_total{method=\"GET\",route=\"/v1/sync/status\",status=\"200\"}";
        static const char *push200 = "syncd_http_requests_total{method=\"POST\",route=\"/v1/sync/push\",status=\"200\"}";
        struct harness_syncd s;
        struct harness_resp r, wr;
        char *before, *after, key[37], url[256], cursor[64];
        uint64_t ms = harness_wall_ms();
        CURLM *m = curl_multi_init();
        CURL *wait;
        int running = 1;
        uint64_t deadline;

        (void) state;
        start(&s, true, wait_extra);
        before = scrape(&s);
        for (int i = 0; i < 3; i++) {
                assert_int_equal(harness_request(&s, "GET", "/v1/sync/status", HARNESS_TOKEN_A, NULL, NULL, &r), 0);
                harness_resp_clear(&r);
        }
        assert_int_equal(wait_metric(&s, status200, harness_metric(before, status200) + 3, NULL),
                         harness_metric(before, status200) + 3);

        /* applied, stale, rejected, each in a push (each its own group) */
        uuid_n(1, key);
        assert_int_equal(push(&s, key, push_body1(rec("eq.active", "pro", ms, 5, NULL))), 200);
        uuid_n(2, key);
        assert_int_equal(push(&s, key, push_body1(rec("eq.active", "pro", ms, 4, NULL))), 200);
        uuid_n(3, key);
        assert_int_equal(push(&s, key, push_body1(rec("eq.active", "pro", ms, 6, "{\"preset\": \"loud\"}"))), 200);
        /* the same key and body: a replay */
        assert_int_equal(push(&s, key, push_body1(rec("eq.active", "pro", ms, 6, "{\"preset\": \"loud\"}"))), 200);
        wait_metric(&s, push200, harness_metric(before, push200) + 4, NULL);
        after = scrape(&s);
        assert_int_equal(harness_metric(after, "syncd_push_results_total{status=\"applied\"}"), 1);
        assert_int_equal(harness_metric(after, "syncd_push_results_total{status=\"stale\"}"), 1);
        assert_int_equal(harness_metric(after, "syncd_push_results_total{status=\"rejected\"}"), 1);
        assert_int_equal(harness_metric(after, "syncd_records_applied_total"), 1);
        assert_int_equal(harness_metric(after, "syncd_idempotent_replays_total"), 1);
        assert_int_equal(harness_metric(after, "syncd_commit_duration_seconds_count") -
                         harness_metric(before, "syncd_commit_duration_seconds_count"), 3);
        assert_int_equal(harness_metric(after, "syncd_commit_group_size_sum") - harness_metric(before, "syncd_commit_group_size_sum"), 3);
        assert_int_equal(harness_metric(after, "syncd_commit_group_size_bucket{le=\"1\"}") -
                         harness_metric(before, "syncd_commit_group_size_bucket{le=\"1\"}"), 3);
        assert_true(harness_metric(after, "syncd_commit_duration_seconds_sum") > 0);
        assert_int_equal(harness_metric(after, "syncd_database_errors_total"), 0);
        free(after);

        /* a long poll parks (gauge 1); a second one of the account is refused (429); a push wakes the first */
        assert_int_equal(harness_request(&s, "GET", "/v1/sync/status", HARNESS_TOKEN_A, NULL, NULL, &r), 0);
        assert_non_null(strstr(r.body, "\"cursor\":\""));
        snprintf(cursor, sizeof(cursor), "%s", strstr(r.body, "\"cursor\":\"") + 10);
        cursor[strcspn(cursor, "\"")] = '\0';
        harness_resp_clear(&r);
        snprintf(url, sizeof(url), "/v1/sync/wait?cursor=%s&timeout=30", cursor);
        wait = harness_easy(&s, "GET", url, HARNESS_TOKEN_A, NULL, NULL, &wr);
        curl_multi_add_handle(m, wait);
        wait_metric(&s, "syncd_longpoll_parked", 1, m);
        assert_int_equal(harness_request(&s, "GET", url, HARNESS_TOKEN_A, NULL, NULL, &r), 0);
        assert_int_equal(r.status, 429);
        harness_resp_clear(&r);
        wait_metric(&s, "syncd_http_rate_limited_total{method=\"GET\",route=\"/v1/sync/wait\"}", 1, m);
        assert_int_equal(scrape_one(&s, "syncd_longpoll_refused_total"), 1);
        uuid_n(4, key);
        assert_int_equal(push(&s, key, push_body1(rec("eq.active", "pro", ms, 9, NULL))), 200);
        deadline = harness_now_ms() + DEADLINE_MS;
        while (running && harness_now_ms() < deadline) {
                drive(m, 50);
                curl_multi_perform(m, &running);
        }
        assert_int_equal(running, 0);
        curl_multi_remove_handle(m, wait);
        curl_easy_getinfo(wait, CURLINFO_RESPONSE_CODE, &wr.status);
        assert_int_equal(wr.status, 200);
        harness_easy_free(wait);
        harness_resp_clear(&wr);
        curl_multi_cleanup(m);
        assert_int_equal(wait_metric(&s, "syncd_longpoll_wakeups_total", 1, NULL), 1);
        assert_int_equal(scrape_one(&s, "syncd_longpoll_parked"), 0);
        free(before);
        harness_cleanup(&s);
}

/* A client that speaks plain HTTP to the TLS port fails its handshake. */
static void test_metrics_tls_failures(void **state) {
        struct harness_syncd s;
        struct sockaddr_in sa = { .sin_family = AF_INET };
        char buf[256];
        int fd;

        (void) state;
        start(&s, true, NULL);
        assert_int_equal(scrape_one(&s, "syncd_tls_handshakes_failed_total"), 0);
        sa.sin_port = htons((uint16_t) s.port);
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        assert_int_equal(connect(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        assert_true(write(fd, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27) == 27);
        for (;;) {                      /* until syncd closes it */
                struct pollfd p = { .fd = fd, .events = POLLIN };

                assert_int_equal(poll(&p, 1, DEADLINE_MS), 1);
                if (read(fd, buf, sizeof(buf)) <= 0)
                        break;
        }
        close(fd);
        wait_metric(&s, "syncd_tls_handshakes_failed_total", 1, NULL);
        harness_cleanup(&s);
}

static void expect_monitor(const struct harness_syncd *s, const char *method, const char *path, long status,
                           const char *body_has) {
        struct harness_resp r;

        assert_int_equal(harness_metrics_get(s, method, path, NULL, &r), 0);
        if (r.status != status || (body_has && (!r.body || !strstr(r.body, body_has))))
                fail_msg("%s %s: %ld '%s', expected %ld '%s'", method, path, r.status, r.body ?: "", status,
                         body_has ?: "");
        harness_resp_clear(&r);
}

static void test_health_ready(void **state) {
        struct harness_syncd s;
        struct harness_resp r;
        char db[160], moved[160];
        uint64_t deadline;
        double errors;
        long status;

        (void) state;
        start(&s, true, NULL);
        expect_monitor(&s, "GET", "/healthz", 200, "ok");
        expect_monitor(&s, "HEAD", "/healthz", 200, NULL);
        expect_monitor(&s, "GET", "/readyz", 200, "ready");
        expect_monitor(&s, "POST", "/metrics", 405, NULL);
        expect_monitor(&s, "GET", "/v1/sync/status", 404, NULL);      /* nothing of the API here */
        errors = scrape_one(&s, "syncd_database_errors_total");

        if (harness_pg()) {
                /* the database server gone: not ready, not dead; back, ready again */
                assert_int_equal(harness_pg_ctl("stop"), 0);
                expect_monitor(&s, "GET", "/readyz", 503, NULL);
                expect_monitor(&s, "GET", "/healthz", 200, "ok");
                assert_int_equal(harness_pg_ctl("start"), 0);
                deadline = harness_now_ms() + 30000;    /* the reconnection's backoff is at most 8 s */
                do {
                        assert_int_equal(harness_metrics_get(&s, "GET", "/readyz", NULL, &r), 0);
                        status = r.status;
                        harness_resp_clear(&r);
                } while (status == 503 && harness_now_ms() < deadline);
                assert_int_equal(status, 200);
                harness_cleanup(&s);
                return;
        }
        /* the file taken away under the running server: what a restart would not find */
        snprintf(moved, sizeof(moved), "%s/db.moved", s.dir);
        snprintf(db, sizeof(db), "%s/db", s.dir);
        assert_int_equal(rename(db, moved), 0);
        expect_monitor(&s, "GET", "/readyz", 503, "No such file or directory");
        expect_monitor(&s, "GET", "/healthz", 200, "ok");
        assert_true(scrape_one(&s, "syncd_database_errors_total") > errors);
        /* the open connection still serves: not ready is not dead */
        assert_int_equal(harness_request(&s, "GET", "/v1/sync/status", HARNESS_TOKEN_A, NULL, NULL, &r), 0);
        assert_int_equal(r.status, 200);
        harness_resp_clear(&r);
        assert_int_equal(rename(moved, db), 0);
        expect_monitor(&s, "GET", "/readyz", 200, "ready");
        harness_cleanup(&s);
}

/* Tests: gzip */

/* The gunzipped body (malloc'd, NUL-terminated). */
static char *gunzip(const char *in, size_t len) {
        z_stream z = {};
        size_t cap = 4096;
        char *out = malloc(cap);
        int rc = Z_OK;

        assert_non_null(out);
        assert_int_equal(inflateInit2(&z, 15 + 16), Z_OK);
        z.next_in = (Bytef *) in;
        z.avail_in = (uInt) len;
        while (rc == Z_OK) {
                if (z.total_out + 1 >= cap) {
                        cap *= 2;
                        out = realloc(out, cap);
                        assert_non_null(out);
                }
                z.next_out = (Bytef *) out + z.total_out;
                z.avail_out = (uInt) (cap - 1 - z.total_out);
                rc = inflate(&z, Z_NO_FLUSH);
        }
        assert_int_equal(rc, Z_STREAM_END);
        assert_int_equal(z.avail_in, 0);        /* one member, nothing after it */
        out[z.total_out] = '\0';
        inflateEnd(&z);
        return out;
}

static const char *const pull_all = "{\"cursor\": null, \"limit\": 1000}";

/* POST /v1/sync/pull with Accept-Encoding ae (NULL: none); the response. */
static void pull(const struct harness_syncd *s, const char *ae, struct harness_resp *r) {
        char hdr[160];
        const char *headers[] = { hdr, NULL };

        snprintf(hdr, sizeof(hdr), "Accept-Encoding: %s", ae ? ae : "");
        assert_int_equal(harness_request(s, "POST", "/v1/sync/pull", HARNESS_TOKEN_A, pull_all,
                                         ae ? headers : NULL, r), 0);
        assert_int_equal(r->status, 200);
}

static bool is_gzip(const struct harness_resp *r) {
        char v[64];

        return harness_header(r, "Content-Encoding", v, sizeof(v)) && strcmp(v, "gzip") == 0;
}

static void test_gzip_round_trip(void **state) {
        struct harness_syncd s;
        struct harness_resp plain, z, err;
        const char *gz[] = { "Accept-Encoding: gzip", NULL };
        char v[64], *inflated;

        (void) state;
        start(&s, false, NULL);
        fill_account(&s);
        pull(&s, NULL, &plain);
        assert_false(is_gzip(&plain));
        assert_non_null(harness_header(&plain, "Vary", v, sizeof(v)));
        assert_string_equal(v, "Accept-Encoding");
        assert_true(plain.len >= 1024);
        pull(&s, "gzip", &z);
        assert_true(is_gzip(&z));
        assert_non_null(harness_header(&z, "Vary", v, sizeof(v)));
        assert_string_equal(v, "Accept-Encoding");
        assert_true(z.len < plain.len);
        inflated = gunzip(z.body, z.len);
        assert_string_equal(inflated, plain.body);
        printf("FIGURE gzip on a full pull of an account with its five items at their largest: %zu -> %zu bytes "
               "(%zu saved, %.0f%%)\n", plain.len, z.len, plain.len - z.len,
               100.0 * (double) (plain.len - z.len) / (double) plain.len);
        free(inflated);
        harness_resp_clear(&plain);
        harness_resp_clear(&z);

        /* a small error is never compressed */
        assert_int_equal(harness_request(&s, "POST", "/v1/sync/pull", NULL, pull_all, gz, &err), 0);
        assert_int_equal(err.status, 401);
        assert_false(is_gzip(&err));
        assert_non_null(strstr(err.body, "unauthorized"));
        harness_resp_clear(&err);
        harness_cleanup(&s);
}

/* The largest answer the API gives: 1000 results, each stale with its current record. */
static void test_gzip_largest_answer(void **state) {
        struct harness_syncd s;
        struct harness_resp plain, z;
        char key[37], hdr[80], *body = NULL, *inflated;
        const char *h_plain[] = { hdr, DEV_HDR, NULL }, *h_gz[] = { hdr, DEV_HDR, "Accept-Encoding: gzip", NULL };
        size_t len = 0;
        FILE *f = open_memstream(&body, &len);

        (void) state;
        start(&s, false, NULL);
        fill_account(&s);
        fputs("{\"schema\": 1, \"records\": [", f);
        for (int i = 0; i < 1000; i++) {
                char *r = rec("profile", "any", 1000 + (uint64_t) i, 0, NULL);

                fprintf(f, "%s%s", i ? ", " : "", r);
                free(r);
        }
        fputs("]}", f);
        assert_int_equal(fclose(f), 0);
        uuid_n(0x1000, key);
        snprintf(hdr, sizeof(hdr), "Idempotency-Key: %s", key);
        assert_int_equal(harness_request(&s, "POST", "/v1/sync/push", HARNESS_TOKEN_A, body, h_plain, &plain), 0);
        assert_int_equal(plain.status, 200);
        assert_false(is_gzip(&plain));
        /* its replay, asked compressed: the stored answer is compressed on the way out */
        assert_int_equal(harness_request(&s, "POST", "/v1/sync/push", HARNESS_TOKEN_A, body, h_gz, &z), 0);
        assert_int_equal(z.status, 200);
        assert_true(is_gzip(&z));
        assert_true(strstr(z.headers, "Idempotent-Replay: true") != NULL);
        inflated = gunzip(z.body, z.len);
        assert_string_equal(inflated, plain.body);
        printf("FIGURE gzip on the largest answer (a 1000-record push, all stale, replayed): %zu -> %zu bytes "
               "(%.0f%% saved)\n", plain.len, z.len, 100.0 * (double) (plain.len - z.len) / (double) plain.len);
        free(inflated);
        free(body);
        harness_resp_clear(&plain);
        harness_resp_clear(&z);
        harness_cleanup(&s);
}

/* Accept-Encoding as RFC 9110 reads it: q=0 refuses, "*" stands for the
 * codings not named, a weight that is not a qvalue makes its element void. */
static void test_gzip_qvalues(void **state) {
        static const struct {
                const char *ae;
                bool gzip;
        } cases[] = {
                { "gzip", true }, { "GZIP", true }, { "x-gzip", true }, { "deflate, gzip;q=0.5", true },
                { "gzip;q=0.001", true }, { "gzip ; q=1.000", true }, { "*", true }, { "br;q=1, *;q=0.1", true },
                { "gzip;Q=0.5", true }, { ", ,gzip", true }, { "identity;q=0, gzip", true },
                { "gzip;q=0", false }, { "gzip;q=0.000", false }, { "gzip ;q=0.0", false }, { "*;q=0", false },
                { "gzip;q=0, *", false }, { "identity", false }, { "deflate, br", false }, { "gzip;q=1.5", false },
                { "gzip;q=0.0001", false }, { "gzip;q=", false }, { "gzip;level=9", false }, { "gzi", false },
                { "", false },
        };
        struct harness_syncd s;

        (void) state;
        start(&s, false, NULL);
        fill_account(&s);
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                struct harness_resp r;

                pull(&s, cases[i].ae, &r);
                if (is_gzip(&r) != cases[i].gzip)
                        fail_msg("Accept-Encoding: %s: gzip %s, expected %s", cases[i].ae,
                                 is_gzip(&r) ? "yes" : "no", cases[i].gzip ? "yes" : "no");
                harness_resp_clear(&r);
        }
        harness_cleanup(&s);
}

/* /metrics compressed for a scraper that asks (Prometheus does). */
static void test_metrics_gzip(void **state) {
        struct harness_syncd s;
        struct harness_resp r;
        const char *gz[] = { "Accept-Encoding: gzip", NULL };
        char *plain, *inflated;

        (void) state;
        start(&s, true, NULL);
        plain = scrape(&s);
        assert_int_equal(harness_metrics_get(&s, "GET", "/metrics", gz, &r), 0);
        assert_int_equal(r.status, 200);
        assert_true(is_gzip(&r));
        inflated = gunzip(r.body, r.len);
        assert_string_equal(inflated, plain);   /* scrapes are not counted: nothing moved between */
        printf("FIGURE /metrics scrape of a fresh syncd: %zu bytes, %zu gzipped\n", strlen(plain), r.len);
        free(inflated);
        free(plain);
        harness_resp_clear(&r);
        harness_cleanup(&s);
}

/* Tests: the command line */

static void test_command_line(void **state) {
        static const char *const no_log[] = { "--no-access-log", NULL };
        char out[8192];
        struct harness_syncd s;
        struct harness_resp r;
        char listen[32], dir_cert[160], dir_key[160], dir_db[160], dir_tokens[160];

        (void) state;
        assert_int_equal(harness_run_syncd((const char *const[]) { "syncd", "--help", NULL }, out, sizeof(out)), 0);
        assert_non_null(strstr(out, "--metrics ADDR:PORT"));
        assert_non_null(strstr(out, "--no-access-log"));

        /* --no-access-log: the request is counted, and not logged */
        start(&s, true, no_log);
        assert_int_equal(harness_request(&s, "GET", "/v1/sync/status", HARNESS_TOKEN_A, NULL, NULL, &r), 0);
        harness_resp_clear(&r);
        wait_metric(&s, "syncd_http_requests_total{method=\"GET\",route=\"/v1/sync/status\",status=\"200\"}", 1,
                    NULL);
        assert_int_equal(harness_log_count(&s, ACCESS), 0);

        /* a bad --metrics, and one whose port is taken */
        snprintf(dir_cert, sizeof(dir_cert), "%s/server.pem", s.dir);
        snprintf(dir_key, sizeof(dir_key), "%s/server.key", s.dir);
        snprintf(dir_db, sizeof(dir_db), "%s/db2", s.dir);
        snprintf(dir_tokens, sizeof(dir_tokens), "%s/tokens", s.dir);
        assert_int_equal(harness_run_syncd((const char *const[]) { "syncd", "--listen", "127.0.0.1:0", "--cert",
                                                                   dir_cert, "--key", dir_key, "--db", dir_db,
                                                                   "--tokens", dir_tokens, "--metrics", "nowhere",
                                                                   NULL }, out, sizeof(out)), 2);
        assert_non_null(strstr(out, "--metrics: 'nowhere' is not ADDR:PORT"));
        snprintf(listen, sizeof(listen), "127.0.0.1:%d", s.metrics_port);
        assert_int_equal(harness_run_syncd((const char *const[]) { "syncd", "--listen", "127.0.0.1:0", "--cert",
                                                                   dir_cert, "--key", dir_key, "--db", dir_db,
                                                                   "--tokens", dir_tokens, "--metrics", listen,
                                                                   NULL }, out, sizeof(out)), 1);
        assert_non_null(strstr(out, "cannot serve the metrics on"));
        harness_cleanup(&s);
}

static int setup(void **state) {
        (void) state;
        curl_global_init(CURL_GLOBAL_DEFAULT);
        return 0;
}

static int teardown(void **state) {
        (void) state;
        curl_global_cleanup();
        return 0;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_access_log_fields),
                cmocka_unit_test(test_access_log_replay_and_bad_key),
                cmocka_unit_test(test_access_log_no_secrets),
                cmocka_unit_test(test_access_log_journal),
                cmocka_unit_test(test_expo_checker),
                cmocka_unit_test(test_metrics_promtool),
                cmocka_unit_test(test_metrics_move),
                cmocka_unit_test(test_metrics_tls_failures),
                cmocka_unit_test(test_health_ready),
                cmocka_unit_test(test_gzip_round_trip),
                cmocka_unit_test(test_gzip_largest_answer),
                cmocka_unit_test(test_gzip_qvalues),
                cmocka_unit_test(test_metrics_gzip),
                cmocka_unit_test(test_command_line),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
