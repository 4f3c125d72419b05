/* SPDX-License-Identifier: MIT */
/* The HTTPS client of the sync API. A call is one API operation across its
 * attempts: each attempt is one curl easy handle on the shared multi handle
 * (so connections are kept alive and reused), its answer is classified by the
 * error table of the sync API, and the call either ends (one callback), waits
 * for a retry (backoff with jitter or Retry-After, same key, same body) or,
 * for a push the server found too large, goes on with the two halves under
 * derived keys. TLS is always verified; there is no switch to turn it off.
 * The token goes only into the Authorization header: never into a message,
 * never into curl's verbose output (which is never on). */
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <systemd/sd-event.h>

#include "codec/recjson.h"
#include "common/backoff.h"
#include "common/cleanup.h"
#include "common/errmsg.h"
#include "common/random.h"
#include "curl-loop.h"
#include "uplink-error.h"
#include "uplink-json.h"
#include "uplink-key.h"
#include "uplink-url.h"
#include "uplink.h"

#define USEC_PER_SEC UINT64_C(1000000)
#define USEC_PER_MSEC UINT64_C(1000)
#define UPLINK_BACKOFF_MIN (1 * USEC_PER_SEC)
#define UPLINK_BACKOFF_MAX (300 * USEC_PER_SEC)
#define UPLINK_TIMEOUT (20 * USEC_PER_SEC)
#define UPLINK_CONNECT_TIMEOUT_MAX (10 * USEC_PER_SEC)
#define UPLINK_TOKEN_MAX 4096
#define UPLINK_SEGMENTS_MAX 24                  /* log2(UPLINK_PUSH_MAX) + a margin */
#define LIBSSH2_INIT_NO_CRYPTO 0x0001           /* libssh2.h's, whose header bridged does not build with */

DEFINE_TRIVIAL_CLEANUP_FUNC(cJSON *, cJSON_Delete)

enum uplink_op {
        UPLINK_OP_STATUS,
        UPLINK_OP_PULL,
        UPLINK_OP_PUSH,
        UPLINK_OP_WAIT,
        UPLINK_OP_PUT_DEVICE,
        UPLINK_OP_LIST_DEVICES,
};

/* What an attempt's easy handle said, read before the handle goes. */
struct uplink_answer {
        CURLcode result;
        long status;
        int64_t retry_after_usec;       /* -1: no Retry-After */
        bool replay;
};

/* A push is sent as a stack of segments: the whole batch, or after a 413
 * its halves, each with its own derived key, the leftmost on top. */
struct uplink_segment {
        size_t lo, hi;
        char key[UPLINK_KEY_LEN + 1];
};

struct uplink_push_job {
        struct record *records;
        size_t n;
        struct uplink_push_result *results;
        struct uplink_segment seg[UPLINK_SEGMENTS_MAX];
        size_t n_seg;
        char device[17];
        char *cursor;
        bool replayed;
};

struct uplink_devices_reply {
        const struct uplink_device *devices;
        size_t n;
};

struct uplink_call {
        struct uplink *uplink;
        struct uplink_call *prev, *next;
        uint64_t id;
        enum uplink_op op;
        unsigned flags;
        bool finished;
        const char *method;
        char endpoint[64];              /* "POST /v1/sync/push", for messages */
        char *url;
        char *body;                     /* NULL: none */
        uint64_t timeout_usec;
        CURL *easy;                     /* while an attempt runs */
        struct curl_slist *headers;
        char *answer;
        size_t answer_len, answer_size;
        bool answer_too_big;
        char errbuf[CURL_ERROR_SIZE];
        sd_event_source *retry;         /* while waiting to retry */
        unsigned failures;              /* in a row, for the backoff */
        unsigned limit;                 /* pull */
        char *cursor;                   /* pull, wait: the cursor given (pull: NULL for none) */
        struct uplink_push_job *push;
        union {
                uplink_status_fn status;
                uplink_pull_fn pull;
                uplink_push_fn push;
                uplink_wait_fn wait;
                uplink_done_fn done;
                uplink_devices_fn devices;
        } cb;
        void *userdata;
};

struct uplink {
        sd_event *event;
        struct curl_loop *loop;
        CURLSH *share;
        char *base_url, *ca_file, *pin, *token;
        uint64_t backoff_min, backoff_max, timeout;
        unsigned schema;
        struct uplink_ops ops;
        void *userdata;
        struct uplink_call *calls;      /* pending */
        struct uplink_call *finished;   /* ended while busy; freed when it is not */
        uint64_t next_id;               /* only grows: an id is never handed out twice */
        uint64_t rng;
        struct uplink_stats stats;
        bool reported, online;
        int last_r;
        unsigned busy;                  /* nesting of our code around callbacks */
        bool dead;                      /* uplink_free ran while busy */
};

/* ---- Small helpers ---- */

static bool uplink_token_is_valid(const char *t) {
        size_t n = t ? strlen(t) : 0;

        if (n == 0 || n > UPLINK_TOKEN_MAX)
                return false;
        for (size_t i = 0; i < n; i++)
                if (t[i] < 0x21 || t[i] > 0x7e)
                        return false;
        return true;
}

static void free_secret(char *s) {
        if (!s)
                return;
        explicit_bzero(s, strlen(s));
        free(s);
}

/* No message leaves with the token in it, whoever wrote it. */
static void scrub_token(const struct uplink *u, char *msg) {
        size_t n = strlen(u->token);
        char *p;

        while ((p = strstr(msg, u->token)))
                memset(p, '*', n);
}

/* ---- Calls: allocation and the one final callback ---- */

static void headers_free(struct curl_slist *h) {
        for (struct curl_slist *i = h; i; i = i->next)
                explicit_bzero(i->data, strlen(i->data));       /* one of them holds the token */
        curl_slist_free_all(h);
}

static void call_stop(struct uplink_call *c) {
        if (c->easy) {
                curl_loop_remove(c->uplink->loop, c->easy);
                curl_easy_cleanup(c->easy);
                c->easy = NULL;
        }
        headers_free(c->headers);
        c->headers = NULL;
        c->retry = sd_event_source_disable_unref(c->retry);
}

static void push_job_free(struct uplink_push_job *job) {
        if (!job)
                return;
        free(job->records);
        free(job->results);
        free(job->cursor);
        free(job);
}

static void call_free(struct uplink_call *c) {
        call_stop(c);
        free(c->url);
        free(c->body);
        free(c->answer);
        free(c->cursor);
        push_job_free(c->push);
        free(c);
}

static void call_unlink(struct uplink_call *c) {
        struct uplink *u = c->uplink;

        if (c->prev)
                c->prev->next = c->next;
        else
                u->calls = c->next;
        if (c->next)
                c->next->prev = c->prev;
        c->prev = NULL;
        c->next = u->finished;
        u->finished = c;
}

static void call_invoke(struct uplink_call *c, int r, const char *msg, const void *result) {
        struct uplink *u = c->uplink;
        const struct uplink_devices_reply *devs = result;

        switch (c->op) {
        case UPLINK_OP_STATUS:
                c->cb.status(u, r, msg, result, c->userdata);
                break;
        case UPLINK_OP_PULL:
                c->cb.pull(u, r, msg, result, c->userdata);
                break;
        case UPLINK_OP_PUSH:
                c->cb.push(u, r, msg, result, c->userdata);
                break;
        case UPLINK_OP_WAIT:
                c->cb.wait(u, r, msg, result, c->userdata);
                break;
        case UPLINK_OP_PUT_DEVICE:
                c->cb.done(u, r, msg, c->userdata);
                break;
        case UPLINK_OP_LIST_DEVICES:
                c->cb.devices(u, r, msg, devs ? devs->devices : NULL, devs ? devs->n : 0, c->userdata);
                break;
        }
}

static void uplink_destroy(struct uplink *u);

/* Every entry from outside (a public function, an event) holds the uplink
 * busy, so nothing is freed under a callback's feet. */
static void uplink_hold(struct uplink *u) {
        u->busy++;
}

static void uplink_release(struct uplink *u) {
        if (--u->busy > 0)
                return;
        while (u->finished) {
                struct uplink_call *c = u->finished;

                u->finished = c->next;
                call_free(c);
        }
        if (u->dead)
                uplink_destroy(u);
}

/* The end of a call: stops it and runs its callback once. The call's memory
 * stays until the uplink is no longer busy. */
static void call_finish(struct uplink_call *c, int r, const char *msg, const void *result) {
        struct uplink *u = c->uplink;

        if (c->finished)
                return;
        c->finished = true;
        call_stop(c);
        call_unlink(c);
        uplink_hold(u);
        call_invoke(c, r, msg, result);
        uplink_release(u);
}

/* The end of a call without its callback (uplink_cancel, uplink_free): the
 * caller that ends a call already knows, and a callback from inside its own
 * cancel would be a reentrancy every caller has to guard against. */
static void call_drop(struct uplink_call *c) {
        struct uplink *u = c->uplink;

        c->finished = true;
        uplink_hold(u);
        call_stop(c);
        call_unlink(c);
        uplink_release(u);
}

static __attribute__((format(printf, 3, 4))) void call_fail(struct uplink_call *c, int r, const char *fmt, ...) {
        char msg[UPLINK_MESSAGE_MAX];
        va_list ap;

        va_start(ap, fmt);
        (void) vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        scrub_token(c->uplink, msg);
        call_finish(c, r, msg, NULL);
}

/* ---- One attempt ---- */

static size_t call_on_data(char *data, size_t size, size_t nmemb, void *userdata) {
        struct uplink_call *c = userdata;
        size_t n = size * nmemb, want;
        char *p;

        if (c->answer_len + n > UPLINK_ANSWER_MAX) {
                c->answer_too_big = true;
                return 0;
        }
        if (c->answer_len + n + 1 > c->answer_size) {
                want = c->answer_size ? c->answer_size : 4096;
                while (want < c->answer_len + n + 1)
                        want *= 2;
                p = realloc(c->answer, want);
                if (!p)
                        return 0;
                c->answer = p;
                c->answer_size = want;
        }
        memcpy(c->answer + c->answer_len, data, n);
        c->answer_len += n;
        c->answer[c->answer_len] = '\0';
        return n;
}

static int headers_add(struct curl_slist **list, const char *fmt, const char *value) {
        _cleanup_(freep) char *line = NULL;
        struct curl_slist *l;

        if (asprintf(&line, fmt, value) < 0)
                return -ENOMEM;
        l = curl_slist_append(*list, line);
        explicit_bzero(line, strlen(line));
        if (!l)
                return -ENOMEM;
        *list = l;
        return 0;
}

static int call_headers(struct uplink_call *c, struct curl_slist **ret) {
        struct curl_slist *h = NULL;
        int r;

        r = headers_add(&h, "Authorization: Bearer %s", c->uplink->token);
        if (r >= 0)
                r = headers_add(&h, "Accept: %s", "application/json");
        if (r >= 0 && c->body)
                r = headers_add(&h, "Content-Type: %s", "application/json");
        if (r >= 0 && c->body)
                r = headers_add(&h, "Expect:%s", "");   /* no 100-continue round trip */
        if (r >= 0 && c->push)
                r = headers_add(&h, "Idempotency-Key: %s", c->push->seg[c->push->n_seg - 1].key);
        if (r >= 0 && c->push)
                r = headers_add(&h, "Device-Id: %s", c->push->device);
        if (r < 0) {
                headers_free(h);
                return r;
        }
        *ret = h;
        return 0;
}

#define SETOPT(k, e, opt, val) ((k) = (k) != CURLE_OK ? (k) : curl_easy_setopt((e), (opt), (val)))

/* The options of every attempt: TLS verified, https only, no redirects. */
static CURLcode call_easy_common(struct uplink_call *c, CURL *e) {
        struct uplink *u = c->uplink;
        uint64_t connect = c->timeout_usec < UPLINK_CONNECT_TIMEOUT_MAX ? c->timeout_usec : UPLINK_CONNECT_TIMEOUT_MAX;
        CURLcode k = CURLE_OK;

        SETOPT(k, e, CURLOPT_URL, c->url);
        SETOPT(k, e, CURLOPT_PRIVATE, c);
        SETOPT(k, e, CURLOPT_SHARE, u->share);
        SETOPT(k, e, CURLOPT_PROTOCOLS_STR, "https");
        SETOPT(k, e, CURLOPT_REDIR_PROTOCOLS_STR, "https");
        SETOPT(k, e, CURLOPT_FOLLOWLOCATION, 0L);
        SETOPT(k, e, CURLOPT_SSL_VERIFYPEER, 1L);
        SETOPT(k, e, CURLOPT_SSL_VERIFYHOST, 2L);
        SETOPT(k, e, CURLOPT_SSLVERSION, (long) CURL_SSLVERSION_TLSv1_2);
        /* CAFile= is the one source of trust, instead of the system's store:
         * never also libcurl's built-in CA path (Debian's is /etc/ssl/certs),
         * which GnuTLS would read whole, certificate by certificate, at every
         * new connection */
        if (u->ca_file) {
                SETOPT(k, e, CURLOPT_CAINFO, u->ca_file);
                SETOPT(k, e, CURLOPT_CAPATH, NULL);
        }
        if (u->pin)
                SETOPT(k, e, CURLOPT_PINNEDPUBLICKEY, u->pin);
        SETOPT(k, e, CURLOPT_ACCEPT_ENCODING, "");
        SETOPT(k, e, CURLOPT_NOSIGNAL, 1L);
        SETOPT(k, e, CURLOPT_TCP_KEEPALIVE, 1L);
        SETOPT(k, e, CURLOPT_TIMEOUT_MS, (long) (c->timeout_usec / USEC_PER_MSEC));
        SETOPT(k, e, CURLOPT_CONNECTTIMEOUT_MS, (long) (connect / USEC_PER_MSEC));
        SETOPT(k, e, CURLOPT_ERRORBUFFER, c->errbuf);
        SETOPT(k, e, CURLOPT_WRITEFUNCTION, call_on_data);
        SETOPT(k, e, CURLOPT_WRITEDATA, c);
        SETOPT(k, e, CURLOPT_USERAGENT, "bridged");
        /* libcurl's smallest upload buffer (its default is 64 KiB per
         * transfer, held as long as the long poll is parked); the bodies
         * are small and leave from memory */
        SETOPT(k, e, CURLOPT_UPLOAD_BUFFERSIZE, 16384L);
        return k;
}

static CURLcode call_easy_method(struct uplink_call *c, CURL *e) {
        CURLcode k = CURLE_OK;

        if (!c->body)
                return curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
        if (strcmp(c->method, "POST") != 0)
                SETOPT(k, e, CURLOPT_CUSTOMREQUEST, c->method);
        SETOPT(k, e, CURLOPT_POSTFIELDS, c->body);
        SETOPT(k, e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) strlen(c->body));
        return k;
}

static int call_start_attempt(struct uplink_call *c) {
        struct uplink *u = c->uplink;
        CURLcode k;
        int r;

        c->answer_len = 0;
        c->answer_too_big = false;
        c->errbuf[0] = '\0';
        r = call_headers(c, &c->headers);
        if (r < 0)
                return r;
        c->easy = curl_easy_init();
        if (!c->easy)
                return -ENOMEM;
        k = call_easy_common(c, c->easy);
        if (k == CURLE_OK)
                k = call_easy_method(c, c->easy);
        if (k == CURLE_OK)
                k = curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, c->headers);
        if (k != CURLE_OK)
                return k == CURLE_OUT_OF_MEMORY ? -ENOMEM : -EIO;
        r = curl_loop_add(u->loop, c->easy);
        if (r < 0)
                return r;
        u->stats.requests++;
        return 0;
}

/* ---- Reading an answer ---- */

static int64_t answer_retry_after(CURL *easy) {
        struct curl_header *h;

        if (curl_easy_header(easy, "Retry-After", 0, CURLH_HEADER, -1, &h) != CURLHE_OK)
                return -1;
        return uplink_error_retry_after(h->value, time(NULL));
}

static bool answer_replay(CURL *easy) {
        struct curl_header *h;

        return curl_easy_header(easy, "Idempotent-Replay", 0, CURLH_HEADER, -1, &h) == CURLHE_OK &&
                strcasecmp(h->value, "true") == 0;
}

/* Reads what the attempt's handle knows and lets the handle go. */
static void call_collect(struct uplink_call *c, CURLcode result, struct uplink_answer *ret) {
        struct uplink *u = c->uplink;
        long connects = 0;

        *ret = (struct uplink_answer) { .result = result, .retry_after_usec = -1 };
        (void) curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &ret->status);
        (void) curl_easy_getinfo(c->easy, CURLINFO_NUM_CONNECTS, &connects);
        u->stats.connects += (uint64_t) (connects > 0 ? connects : 0);
        if (result == CURLE_OK) {
                ret->retry_after_usec = answer_retry_after(c->easy);
                ret->replay = answer_replay(c->easy);
        }
        curl_easy_cleanup(c->easy);     /* already out of the multi handle */
        c->easy = NULL;
        headers_free(c->headers);
        c->headers = NULL;
}

/* ---- The link's state ---- */

static void uplink_report(struct uplink *u, enum uplink_link link, int r, const char *msg) {
        bool online = link == UPLINK_LINK_UP;

        if (link == UPLINK_LINK_SAME)
                return;
        if (u->reported && online == u->online && (online || r == u->last_r))
                return;
        u->reported = true;
        u->online = online;
        u->last_r = online ? 0 : r;
        if (u->ops.state)
                u->ops.state(u, online, online ? NULL : msg, u->userdata);
}

/* ---- Retries ---- */

static uint64_t uplink_backoff(struct uplink *u, unsigned failures) {
        return backoff_delay(u->backoff_min, u->backoff_max, failures, random_jitter(&u->rng));
}

static int call_on_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        struct uplink_call *c = userdata;
        struct uplink *u = c->uplink;
        int r;

        (void) s;
        (void) usec;
        c->retry = sd_event_source_disable_unref(c->retry);
        uplink_hold(u);
        u->stats.retries++;
        r = call_start_attempt(c);
        if (r < 0)
                call_fail(c, r, "%s: cannot start a retry: %s", c->endpoint, strerror(-r));
        uplink_release(u);
        return 0;
}

static void call_schedule_retry(struct uplink_call *c, int64_t retry_after_usec, const struct uplink_outcome *o) {
        struct uplink *u = c->uplink;
        uint64_t delay = retry_after_usec >= 0 ? (uint64_t) retry_after_usec : uplink_backoff(u, c->failures);
        int r;

        c->failures++;
        r = sd_event_add_time_relative(u->event, &c->retry, CLOCK_MONOTONIC, delay, USEC_PER_MSEC, call_on_retry, c);
        if (r < 0) {
                call_fail(c, r, "%s (and cannot schedule a retry: %s)", o->message, strerror(-r));
                return;
        }
        (void) sd_event_source_set_description(c->retry, "uplink-retry");
}

/* ---- Pushing in segments ---- */

static int push_segment_start(struct uplink_call *c) {
        struct uplink_push_job *job = c->push;
        const struct uplink_segment *s = &job->seg[job->n_seg - 1];

        free(c->body);
        c->body = recjson_push_body_print(c->uplink->schema, job->records + s->lo, s->hi - s->lo);
        if (!c->body)
                return -ENOMEM;
        c->failures = 0;
        return call_start_attempt(c);
}

static void push_split(struct uplink_call *c) {
        struct uplink_push_job *job = c->push;
        struct uplink_segment top = job->seg[--job->n_seg];
        size_t mid = top.lo + (top.hi - top.lo) / 2;
        int r;

        /* depth is bounded by log2(UPLINK_PUSH_MAX), below UPLINK_SEGMENTS_MAX */
        job->seg[job->n_seg] = (struct uplink_segment) { .lo = mid, .hi = top.hi };
        uplink_key_derive(top.key, 1, job->seg[job->n_seg++].key);
        job->seg[job->n_seg] = (struct uplink_segment) { .lo = top.lo, .hi = mid };
        uplink_key_derive(top.key, 0, job->seg[job->n_seg++].key);
        r = push_segment_start(c);
        if (r < 0)
                call_fail(c, r, "%s: cannot send the split batch: %s", c->endpoint, strerror(-r));
}

/* ---- Delivering a good answer ---- */

/* The server answered as the API says, so the link is up. false when the
 * state callback ended this call meanwhile. */
static bool call_answered(struct uplink_call *c) {
        uplink_report(c->uplink, UPLINK_LINK_UP, 0, NULL);
        return !c->finished;
}

/* 1 when the answer was delivered (or the push went on), 0 with o filled
 * when it was malformed, a negative errno on OOM. */
static int deliver_status(struct uplink_call *c, const cJSON *root, struct value_err *e) {
        struct uplink_status s;
        int r = uplink_json_status(root, &s, e);

        if (r < 0)
                return r;
        if (call_answered(c))
                call_finish(c, 0, NULL, &s);
        return 1;
}

static int deliver_pull(struct uplink_call *c, const cJSON *root, struct value_err *e) {
        struct uplink_pull_reply p;
        int r = uplink_json_pull(root, c->limit, c->cursor, &p, e);

        if (r < 0)
                return r;
        if (call_answered(c))
                call_finish(c, 0, NULL, &p);
        free((void *) p.records);
        return 1;
}

static int deliver_wait(struct uplink_call *c, const cJSON *root, struct value_err *e) {
        struct uplink_wait_reply w = { .changed = true };
        int r = uplink_json_wait(root, &w.cursor, e);

        if (r < 0)
                return r;
        /* nothing after the cursor given: what a 204 says (a server that wakes
         * every long poll when it cannot tell which account changed answers so) */
        w.changed = strcmp(w.cursor, c->cursor) != 0;
        if (call_answered(c))
                call_finish(c, 0, NULL, &w);
        return 1;
}

static int deliver_devices(struct uplink_call *c, const cJSON *root, struct value_err *e) {
        struct uplink_devices_reply d = {};
        struct uplink_device *devs = NULL;
        int r = uplink_json_devices(root, &devs, &d.n, e);

        if (r < 0)
                return r;
        d.devices = devs;
        if (call_answered(c))
                call_finish(c, 0, NULL, &d);
        free(devs);
        return 1;
}

static int deliver_push(struct uplink_call *c, const cJSON *root, bool replay, struct value_err *e) {
        struct uplink_push_job *job = c->push;
        const struct uplink_segment *s = &job->seg[job->n_seg - 1];
        struct uplink_push_reply p;
        const char *cursor;
        int r;

        r = uplink_json_push(root, job->records + s->lo, s->hi - s->lo, job->results + s->lo, &cursor, e);
        if (r < 0)
                return r;
        free(job->cursor);
        job->cursor = strdup(cursor);
        if (!job->cursor)
                return -ENOMEM;
        job->replayed |= replay;
        if (!call_answered(c))
                return 1;
        if (--job->n_seg > 0) {
                r = push_segment_start(c);
                if (r < 0)
                        call_fail(c, r, "%s: cannot send the next part: %s", c->endpoint, strerror(-r));
                return 1;
        }
        p = (struct uplink_push_reply) { job->results, job->n, job->cursor, job->replayed };
        call_finish(c, 0, NULL, &p);
        return 1;
}

static int deliver_parsed(struct uplink_call *c, const cJSON *root, bool replay, struct value_err *e) {
        switch (c->op) {
        case UPLINK_OP_STATUS:
                return deliver_status(c, root, e);
        case UPLINK_OP_PULL:
                return deliver_pull(c, root, e);
        case UPLINK_OP_PUSH:
                return deliver_push(c, root, replay, e);
        case UPLINK_OP_WAIT:
                return deliver_wait(c, root, e);
        case UPLINK_OP_PUT_DEVICE:
                if (call_answered(c))
                        call_finish(c, 0, NULL, NULL);
                return 1;
        case UPLINK_OP_LIST_DEVICES:
                return deliver_devices(c, root, e);
        }
        return -EINVAL;
}

/* A 2xx the endpoint defines: parse and deliver, or say what was wrong. */
static int call_deliver(struct uplink_call *c, const struct uplink_answer *a, struct uplink_outcome *o) {
        _cleanup_(cJSON_Deletep) cJSON *root = NULL;
        struct value_err e = {};
        int r;

        if (c->op == UPLINK_OP_WAIT && a->status == 204) {
                if (call_answered(c))
                        call_finish(c, 0, NULL, &(struct uplink_wait_reply) { .cursor = c->cursor });
                return 1;
        }
        if (c->op == UPLINK_OP_PUT_DEVICE && c->answer_len == 0)
                r = 0;          /* a bare 200 is all the API promises */
        else
                r = uplink_json_parse(c->answer ? c->answer : "", c->answer_len, &root, &e);
        if (r >= 0)
                r = deliver_parsed(c, root, a->replay, &e);
        if (r > 0 || r == -ENOMEM)
                return r;
        *o = (struct uplink_outcome) { .next = UPLINK_NEXT_RETRY, .link = UPLINK_LINK_DOWN };
        uplink_outcome_set(o, -EPROTO, "%s: malformed answer: %s", c->endpoint, e.msg[0] ? e.msg : "unreadable");
        return 0;
}

static bool call_can_split(const struct uplink_call *c) {
        return c->push && c->push->seg[c->push->n_seg - 1].hi - c->push->seg[c->push->n_seg - 1].lo > 1;
}

static bool answer_is_success(const struct uplink_call *c, long status) {
        return status == 200 || (status == 204 && c->op == UPLINK_OP_WAIT);
}

/* What to do after a failed attempt. */
static void call_after(struct uplink_call *c, const struct uplink_answer *a, struct uplink_outcome *o) {
        scrub_token(c->uplink, o->message);
        uplink_report(c->uplink, o->link, o->r, o->message);
        if (c->finished)
                return;
        if (o->next == UPLINK_NEXT_SPLIT)
                push_split(c);
        else if (o->next == UPLINK_NEXT_RETRY && !(c->flags & UPLINK_NO_RETRY))
                call_schedule_retry(c, a->retry_after_usec, o);
        else
                call_finish(c, o->r, o->message, NULL);
}

static void call_attempt_done(struct uplink_call *c, CURLcode result) {
        struct uplink_outcome o = {};
        struct uplink_answer a;
        int r;

        call_collect(c, result, &a);
        if (result != CURLE_OK)
                uplink_error_transport(&o, c->endpoint, result, c->errbuf, c->answer_too_big);
        else if (!answer_is_success(c, a.status))
                uplink_error_http(&o, c->endpoint, a.status, c->answer, c->answer_len, call_can_split(c),
                                  c->uplink->schema);
        else {
                r = call_deliver(c, &a, &o);
                if (r > 0)
                        return;
                if (r < 0) {
                        call_fail(c, r, "%s: cannot read the answer: %s", c->endpoint, strerror(-r));
                        return;
                }
        }
        call_after(c, &a, &o);
}

static void uplink_on_done(struct curl_loop *l, CURL *easy, CURLcode result, void *userdata) {
        struct uplink *u = userdata;
        struct uplink_call *c = NULL;

        (void) l;
        (void) curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **) &c);
        uplink_hold(u);
        call_attempt_done(c, result);
        uplink_release(u);
}

/* ---- Creating calls ---- */

static int call_new(struct uplink *u, enum uplink_op op, unsigned flags, const char *method, const char *path,
                    void *userdata, struct uplink_call **ret) {
        _cleanup_(freep) struct uplink_call *c = calloc(1, sizeof(*c));

        if (!c)
                return -ENOMEM;
        if (asprintf(&c->url, "%s%s", u->base_url, path) < 0)
                return -ENOMEM;
        c->uplink = u;
        c->op = op;
        c->flags = flags;
        c->method = method;
        c->timeout_usec = u->timeout;
        c->userdata = userdata;
        (void) snprintf(c->endpoint, sizeof(c->endpoint), "%s %.50s", method, path);
        *ret = TAKE_PTR(c);
        return 0;
}

/* Starts the first attempt and files the call, or frees it. Starting only
 * hands the transfer to curl (which arms a timer): a callback runs only from
 * curl's sources and the retry timer, so never before the caller has its id,
 * and there is nothing to defer. */
static int call_submit(struct uplink_call *c, uint64_t *ret_id) {
        struct uplink *u = c->uplink;
        int r;

        r = c->push ? push_segment_start(c) : call_start_attempt(c);
        if (r < 0) {
                call_free(c);
                return r;
        }
        c->id = ++u->next_id;
        c->next = u->calls;
        if (u->calls)
                u->calls->prev = c;
        u->calls = c;
        if (ret_id)
                *ret_id = c->id;
        return 0;
}

static int uplink_check_usable(const struct uplink *u, const void *cb) {
        if (!u || !cb)
                return -EINVAL;
        return u->dead ? -ESHUTDOWN : 0;
}

int uplink_status(struct uplink *u, unsigned flags, uplink_status_fn cb, void *userdata, uint64_t *ret_id) {
        struct uplink_call *c;
        int r;

        if ((r = uplink_check_usable(u, cb)) < 0)
                return r;
        r = call_new(u, UPLINK_OP_STATUS, flags, "GET", "/v1/sync/status", userdata, &c);
        if (r < 0)
                return r;
        c->cb.status = cb;
        return call_submit(c, ret_id);
}

int uplink_pull(struct uplink *u, const char *cursor, unsigned limit, unsigned flags, uplink_pull_fn cb,
                void *userdata, uint64_t *ret_id) {
        struct uplink_call *c;
        int r;

        if ((r = uplink_check_usable(u, cb)) < 0)
                return r;
        if (limit < 1 || limit > UPLINK_PULL_LIMIT_MAX)
                return -EINVAL;
        r = call_new(u, UPLINK_OP_PULL, flags, "POST", "/v1/sync/pull", userdata, &c);
        if (r < 0)
                return r;
        c->cb.pull = cb;
        c->limit = limit;
        c->body = uplink_json_pull_body(cursor, limit);
        c->cursor = cursor ? strdup(cursor) : NULL;
        if (!c->body || (cursor && !c->cursor)) {
                call_free(c);
                return -ENOMEM;
        }
        return call_submit(c, ret_id);
}

static int push_job_new(const char *key, uint64_t device_id, const struct record *records, size_t n,
                        struct uplink_push_job **ret) {
        struct uplink_push_job *job = calloc(1, sizeof(*job));

        if (!job)
                return -ENOMEM;
        job->records = malloc(n * sizeof(*records));
        job->results = calloc(n, sizeof(*job->results));
        if (!job->records || !job->results) {
                push_job_free(job);
                return -ENOMEM;
        }
        memcpy(job->records, records, n * sizeof(*records));
        job->n = n;
        job->seg[0] = (struct uplink_segment) { .lo = 0, .hi = n };
        memcpy(job->seg[0].key, key, UPLINK_KEY_LEN + 1);
        job->n_seg = 1;
        recjson_origin_format(device_id, job->device);
        *ret = job;
        return 0;
}

int uplink_push(struct uplink *u, const char *idem_key, uint64_t device_id, const struct record *records,
                size_t n, unsigned flags, uplink_push_fn cb, void *userdata, uint64_t *ret_id) {
        struct uplink_call *c;
        int r;

        if ((r = uplink_check_usable(u, cb)) < 0)
                return r;
        if (!uplink_key_is_valid(idem_key) || !records || n < 1 || n > UPLINK_PUSH_MAX)
                return -EINVAL;
        for (size_t i = 0; i < n; i++)
                if (uplink_json_check_record(&records[i], NULL) < 0)
                        return -EINVAL;
        r = call_new(u, UPLINK_OP_PUSH, flags, "POST", "/v1/sync/push", userdata, &c);
        if (r < 0)
                return r;
        c->cb.push = cb;
        r = push_job_new(idem_key, device_id, records, n, &c->push);
        if (r < 0) {
                call_free(c);
                return r;
        }
        return call_submit(c, ret_id);
}

int uplink_wait(struct uplink *u, const char *cursor, unsigned timeout_sec, unsigned flags, uplink_wait_fn cb,
                void *userdata, uint64_t *ret_id) {
        _cleanup_(freep) char *path = NULL;
        struct uplink_call *c;
        char *escaped;
        int r;

        if ((r = uplink_check_usable(u, cb)) < 0)
                return r;
        if (!cursor || !cursor[0] || timeout_sec < 1 || timeout_sec > UPLINK_WAIT_MAX_SEC)
                return -EINVAL;
        escaped = curl_easy_escape(NULL, cursor, 0);
        if (!escaped)
                return -ENOMEM;
        r = asprintf(&path, "/v1/sync/wait?cursor=%s&timeout=%u", escaped, timeout_sec);
        curl_free(escaped);
        if (r < 0)
                return -ENOMEM;
        r = call_new(u, UPLINK_OP_WAIT, flags, "GET", path, userdata, &c);
        if (r < 0)
                return r;
        (void) snprintf(c->endpoint, sizeof(c->endpoint), "GET /v1/sync/wait");
        c->cb.wait = cb;
        c->timeout_usec = timeout_sec * USEC_PER_SEC + u->timeout;
        c->cursor = strdup(cursor);
        if (!c->cursor) {
                call_free(c);
                return -ENOMEM;
        }
        return call_submit(c, ret_id);
}

int uplink_put_device(struct uplink *u, const struct uplink_device *d, unsigned flags, uplink_done_fn cb,
                      void *userdata, uint64_t *ret_id) {
        char path[64], hex[17];
        struct uplink_call *c;
        int r;

        if ((r = uplink_check_usable(u, cb)) < 0)
                return r;
        if (!d || uplink_json_check_device(d, NULL) < 0)
                return -EINVAL;
        recjson_origin_format(d->id, hex);
        (void) snprintf(path, sizeof(path), "/v1/devices/%s", hex);
        r = call_new(u, UPLINK_OP_PUT_DEVICE, flags, "PUT", path, userdata, &c);
        if (r < 0)
                return r;
        c->cb.done = cb;
        c->body = uplink_json_device_body(d);
        if (!c->body) {
                call_free(c);
                return -ENOMEM;
        }
        return call_submit(c, ret_id);
}

int uplink_list_devices(struct uplink *u, unsigned flags, uplink_devices_fn cb, void *userdata, uint64_t *ret_id) {
        struct uplink_call *c;
        int r;

        if ((r = uplink_check_usable(u, cb)) < 0)
                return r;
        r = call_new(u, UPLINK_OP_LIST_DEVICES, flags, "GET", "/v1/devices", userdata, &c);
        if (r < 0)
                return r;
        c->cb.devices = cb;
        return call_submit(c, ret_id);
}

int uplink_cancel(struct uplink *u, uint64_t id) {
        struct uplink_call *c;

        if (!u)
                return -EINVAL;
        for (c = u->calls; c && c->id != id; c = c->next)
                ;
        if (!c)
                return -ENOENT;
        call_drop(c);
        return 0;
}

/* ---- The uplink ---- */

/* https://host[:port][/prefix] only, as uplink-url.c checks it for the
 * configuration too; the uplink words its own messages. The base keeps no
 * trailing '/'. */
static int uplink_parse_url(const char *url, char **ret, char **ret_error) {
        switch (uplink_url_check(url, NULL)) {
        case UPLINK_URL_OK:
                return uplink_url_base(url, ret);
        case UPLINK_URL_NO_MEMORY:
                return -ENOMEM;
        case UPLINK_URL_NOT_HTTPS:
                return errmsg_setf(ret_error, -EINVAL,
                                    "Url=%s: only https:// is allowed (the token must never travel in clear)", url);
        case UPLINK_URL_PORT_ZERO:
                return errmsg_setf(ret_error, -EINVAL, "Url=%s: port 0 cannot be connected to", url);
        case UPLINK_URL_USER:
        case UPLINK_URL_PASSWORD:
        case UPLINK_URL_QUERY:
        case UPLINK_URL_FRAGMENT:
                return errmsg_setf(ret_error, -EINVAL, "Url: must not carry a user, password, query or fragment");
        case UPLINK_URL_EMPTY:
        case UPLINK_URL_NO_HOST:
        case UPLINK_URL_UNUSABLE:
                return errmsg_setf(ret_error, -EINVAL, "Url=%s: not a URL", url ? url : "");
        }
        return -EINVAL;
}

static int uplink_check_config(const struct uplink_config *cfg, char **ret_error) {
        if (!uplink_token_is_valid(cfg->token))
                return errmsg_setf(ret_error, -EINVAL, "the token is empty, too long or not printable ASCII");
        if (cfg->ca_file && cfg->ca_file[0] && access(cfg->ca_file, R_OK) < 0)
                return errmsg_setf(ret_error, -errno, "CAFile=%s: %s", cfg->ca_file, strerror(errno));
        if (cfg->backoff_min_usec > 0 && cfg->backoff_max_usec > 0 && cfg->backoff_min_usec > cfg->backoff_max_usec)
                return errmsg_setf(ret_error, -EINVAL, "the backoff minimum is above its maximum");
        return 0;
}

static char *strdup_nonempty(const char *s) {
        return s && s[0] ? strdup(s) : NULL;
}

static int uplink_copy_config(struct uplink *u, const struct uplink_config *cfg) {
        u->token = strdup(cfg->token);
        u->ca_file = strdup_nonempty(cfg->ca_file);
        u->pin = strdup_nonempty(cfg->pinned_public_key);
        if (!u->token || (cfg->ca_file && cfg->ca_file[0] && !u->ca_file) ||
            (cfg->pinned_public_key && cfg->pinned_public_key[0] && !u->pin))
                return -ENOMEM;
        u->backoff_min = cfg->backoff_min_usec ? cfg->backoff_min_usec : UPLINK_BACKOFF_MIN;
        u->backoff_max = cfg->backoff_max_usec ? cfg->backoff_max_usec : UPLINK_BACKOFF_MAX;
        if (u->backoff_max < u->backoff_min)
                u->backoff_max = u->backoff_min;
        u->timeout = cfg->timeout_usec ? cfg->timeout_usec : UPLINK_TIMEOUT;
        u->schema = cfg->schema ? cfg->schema : UPLINK_SCHEMA;
        return 0;
}

/* TLS sessions and DNS answers shared by every attempt, so a second
 * connection (a push beside a long poll) resumes instead of a full handshake. */
static int uplink_share_new(CURLSH **ret) {
        CURLSH *s = curl_share_init();

        if (!s || curl_share_setopt(s, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK ||
            curl_share_setopt(s, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) != CURLSHE_OK) {
                if (s)
                        curl_share_cleanup(s);
                return -ENOMEM;
        }
        *ret = s;
        return 0;
}

static void uplink_destroy(struct uplink *u) {
        while (u->calls) {
                struct uplink_call *c = u->calls;

                u->calls = c->next;
                call_free(c);
        }
        while (u->finished) {
                struct uplink_call *c = u->finished;

                u->finished = c->next;
                call_free(c);
        }
        u->loop = curl_loop_free(u->loop);
        if (u->share)
                curl_share_cleanup(u->share);
        free(u->base_url);
        free(u->ca_file);
        free(u->pin);
        free_secret(u->token);
        sd_event_unref(u->event);
        free(u);
        curl_global_cleanup();
}

/* Debian's libcurl links libssh2, and curl_global_init() initializes it
 * whatever its flags say; libssh2 then initializes its crypto library,
 * OpenSSL's libcrypto (its engines, its configuration file, its error
 * strings: 60 KiB of heap and code touched that nothing else here shares),
 * for SSH, which the uplink never speaks (https only). libssh2 does that
 * only at its first initialization, and only when not told otherwise: an
 * initialization of our own first, without crypto and never undone, makes
 * libcurl's a count. Looked up at run time: bridged neither links libssh2
 * nor needs it there (a libcurl built without it, nothing to do). */
static void skip_ssh_crypto(void) {
        static bool done;
        int (*ssh_init)(int);

        if (done)
                return;
        done = true;
        ssh_init = (int (*)(int)) dlsym(RTLD_DEFAULT, "libssh2_init");
        if (ssh_init)
                (void) ssh_init(LIBSSH2_INIT_NO_CRYPTO);
}

int uplink_new(sd_event *event, const struct uplink_config *cfg, const struct uplink_ops *ops, void *userdata,
               struct uplink **ret, char **ret_error) {
        struct uplink *u;
        int r;

        if (!event || !cfg || !ret)
                return -EINVAL;
        r = uplink_check_config(cfg, ret_error);
        if (r < 0)
                return r;
        skip_ssh_crypto();
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
                return errmsg_setf(ret_error, -EIO, "libcurl failed to initialize");
        u = calloc(1, sizeof(*u));
        if (!u) {
                curl_global_cleanup();
                return -ENOMEM;
        }
        u->event = sd_event_ref(event);
        u->ops = ops ? *ops : (struct uplink_ops) {};
        u->userdata = userdata;
        u->rng = random_seed((uintptr_t) u);
        r = uplink_parse_url(cfg->url, &u->base_url, ret_error);
        if (r >= 0)
                r = uplink_copy_config(u, cfg);
        if (r >= 0)
                r = uplink_share_new(&u->share);
        if (r >= 0)
                r = curl_loop_new(event, uplink_on_done, u, &u->loop);
        if (r < 0) {
                uplink_destroy(u);
                return r;
        }
        *ret = u;
        return 0;
}

struct uplink *uplink_free(struct uplink *u) {
        if (!u || u->dead)
                return NULL;
        u->dead = true;
        uplink_hold(u);
        while (u->calls)
                call_drop(u->calls);
        uplink_release(u);
        return NULL;
}

int uplink_set_token(struct uplink *u, const char *token) {
        char *copy;

        if (!u || !uplink_token_is_valid(token))
                return -EINVAL;
        copy = strdup(token);
        if (!copy)
                return -ENOMEM;
        free_secret(u->token);
        u->token = copy;
        return 0;
}

bool uplink_is_online(const struct uplink *u) {
        return u && u->online;
}

void uplink_get_stats(const struct uplink *u, struct uplink_stats *ret) {
        *ret = u->stats;
}
