/* SPDX-License-Identifier: MIT */
/* Benchmark of syncd, and of how it scales out over several instances on
 * one PostgreSQL database: single-record pushes per second, with each push's
 * latency (p50, p99), from one keep-alive TLS connection and from 64 at once
 * (one curl multi handle; each connection sends its next push as soon as
 * its previous answer arrived; with several syncd the connections go to
 * them round robin, as a load balancer would), the 64 all pushing to one
 * account or each to an account of its own; and the long-poll wake-up (push
 * sent -> the parked waiter answered), on the same syncd and across two.
 * Each answer follows its group's COMMIT: on SQLite a group of concurrent
 * pushes shares one fdatasync, so the figures are given on the disk of the
 * test directory and on tmpfs (/dev/shm, fdatasync free: what the server
 * itself costs). Under SYNCD_TEST_PG (bench-syncd-pg.sh) the same on 1, 2
 * and 4 syncd sharing that PostgreSQL server's database; every figure is
 * printed once more in one table at the end, beside the load of the
 * machine. Prints figures; fails only when a push or a wake-up fails, never
 * on a figure. */
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "tests/lib/harness.h"

/* Counts chosen to keep bench-syncd-pg.sh within about four minutes on a
 * loaded 2-core machine: PostgreSQL with fsync on takes a few hundred
 * pushes a second there. */
#define PUSHES_SQLITE 2000              /* one connection, after its warm-up push */
#define PUSHES_PG 1000
#define CONCURRENT_PUSHES 4000          /* per 64-connection figure, after each connection's warm-up push */
#define CONNECTIONS 64
#define INSTANCES_MAX 4
#define WAKE_ROUNDS 200                 /* one waiter, one push: enough for a p99 */
#define WAITERS 100                     /* the crowd one push wakes */
#define DEADLINE_MS 120000              /* one figure's pushes */
#define WAKE_DEADLINE_MS 20000          /* one wake-up round */
#define ROWS_MAX 16

enum bench_backend {
        BENCH_SQLITE_DISK,
        BENCH_SQLITE_TMPFS,
        BENCH_PG,
};

static const char *const bench_backend_name[] = {
        [BENCH_SQLITE_DISK] = "SQLite disk",
        [BENCH_SQLITE_TMPFS] = "SQLite tmpfs",
        [BENCH_PG] = "PostgreSQL",
};

/* One line of the final table. */
struct bench_row {
        enum bench_backend backend;
        unsigned instances, connections, pushes;
        bool spread;                    /* each connection its own account, else all alice */
        double rate, p50_ms, p99_ms;
};

struct bench_wake_row {
        enum bench_backend backend;
        const char *where;
        unsigned rounds;
        double p50_ms, p99_ms, max_ms;
};

static struct bench_row bench_rows[ROWS_MAX];
static unsigned bench_n_rows;
static struct bench_wake_row bench_wake_rows[ROWS_MAX];
static unsigned bench_n_wake_rows;
static char bench_tmpfs[64] = "/dev/shm/syncd-bench-XXXXXX";
static unsigned bench_keys = 1000000;   /* idempotency keys, unique per run */
static char bench_tokens[CONNECTIONS][32];      /* the spread accounts' tokens: connection i's */

static uint64_t bench_now_us(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

static size_t sink(char *data, size_t size, size_t n, void *userdata) {
        struct harness_resp *r = userdata;
        char *p = realloc(r->body, r->len + size * n + 1);

        if (!p)
                return 0;
        memcpy(p + r->len, data, size * n);
        r->len += size * n;
        p[r->len] = '\0';
        r->body = p;
        return size * n;
}

/* A handle on s's path, kept alive across requests, verified against the
 * test CA alone (tests/lib/harness.c says why). */
static CURL *bench_handle(const struct harness_syncd *s, const char *path, struct harness_resp *r) {
        char url[160];
        CURL *e = curl_easy_init();

        snprintf(url, sizeof(url), "%s%s", s->base, path);
        curl_easy_setopt(e, CURLOPT_URL, url);
        curl_easy_setopt(e, CURLOPT_CAINFO, s->ca);
        curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
        curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long) CURL_HTTP_VERSION_1_1);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, sink);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 60000L);
        return e;
}

/* Sets up push i (stamp ms) with token on the reused handle e; *h is the
 * header list to free once the transfer is done. */
static void push_prepare(CURL *e, const char *token, unsigned i, uint64_t ms, struct harness_resp *r,
                         struct curl_slist **h) {
        char body[512], key[80], auth[96];

        snprintf(body, sizeof(body), "{\"schema\": 1, \"records\": [{\"key\": \"eq.active\", \"family\": \"pro\", "
                 "\"stamp\": {\"ms\": %llu, \"c\": %u, \"origin\": \"00a1b2c3d4e5f607\"}, \"derived\": false, "
                 "\"value\": {\"preset\": \"flat\"}}]}", (unsigned long long) ms, i & 0xffff);
        snprintf(key, sizeof(key), "Idempotency-Key: %08x-0000-4000-8000-%012llx", i,
                 (unsigned long long) (ms & 0xffffffffffffull));
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
        *h = curl_slist_append(NULL, key);
        *h = curl_slist_append(*h, "Device-Id: 00a1b2c3d4e5f607");
        *h = curl_slist_append(*h, auth);
        *h = curl_slist_append(*h, "Content-Type: application/json");
        *h = curl_slist_append(*h, "Expect:");
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, *h);
        curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, body);
        r->len = 0;
}

struct bench_conn {
        CURL *e;
        const char *token;
        struct curl_slist *h;
        struct harness_resp r;
};

struct bench_multi {
        CURLM *m;
        struct bench_conn *c;
        unsigned n;                     /* connections */
        unsigned next, done, failed;    /* pushes of this drive started, answered, failed */
        unsigned serial;                /* pushes of this run: their stamps */
        uint64_t base_ms;
        long *lat_us;                   /* NULL: not measuring */
        long connects;                  /* new connections while measuring */
};

static void bench_multi_start(struct bench_multi *b, struct bench_conn *c) {
        push_prepare(c->e, c->token, bench_keys++, b->base_ms + b->serial++, &c->r, &c->h);
        b->next++;
        curl_multi_add_handle(b->m, c->e);
}

static void bench_multi_finished(struct bench_multi *b, CURLMsg *msg, unsigned total) {
        struct bench_conn *c = NULL;
        curl_off_t us = 0;
        long status = 0, connects = 0;

        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **) &c);
        curl_easy_getinfo(c->e, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_getinfo(c->e, CURLINFO_TOTAL_TIME_T, &us);
        curl_easy_getinfo(c->e, CURLINFO_NUM_CONNECTS, &connects);
        if (msg->data.result != CURLE_OK || status != 200) {
                if (b->failed++ == 0)
                        fprintf(stderr, "bench-syncd: a push failed (HTTP %ld, %s): %s\n", status,
                                curl_easy_strerror(msg->data.result), c->r.body ? c->r.body : "");
        }
        curl_multi_remove_handle(b->m, c->e);
        curl_slist_free_all(c->h);
        c->h = NULL;
        if (b->lat_us) {
                b->lat_us[b->done] = (long) us;
                b->connects += connects;
        }
        b->done++;
        if (b->next < total)
                bench_multi_start(b, c);
}

/* Starts one push per connection, then one more on each connection as its
 * answer arrives, until total have been answered (or the deadline). */
static int bench_multi_drive(struct bench_multi *b, unsigned total) {
        uint64_t deadline = harness_now_ms() + DEADLINE_MS;
        int running;

        b->next = b->done = 0;
        for (unsigned i = 0; i < b->n && i < total; i++)
                bench_multi_start(b, &b->c[i]);
        while (b->done < total && harness_now_ms() < deadline) {
                CURLMsg *msg;
                int left;

                curl_multi_perform(b->m, &running);
                while ((msg = curl_multi_info_read(b->m, &left)))
                        if (msg->msg == CURLMSG_DONE)
                                bench_multi_finished(b, msg, total);
                if (b->done < total)
                        curl_multi_poll(b->m, NULL, 0, 100, NULL);
        }
        return b->done == total && b->failed == 0 ? 0 : -1;
}

static int cmp_long(const void *a, const void *b) {
        long x = *(const long *) a, y = *(const long *) b;

        return (x > y) - (x < y);
}

static void bench_row_add(const struct bench_row *row) {
        if (bench_n_rows < ROWS_MAX)
                bench_rows[bench_n_rows++] = *row;
        printf("push: %s, %u syncd, %u connection%s, %s: %u single-record pushes, %.0f pushes/s, "
               "latency p50 %.1f ms, p99 %.1f ms\n", bench_backend_name[row->backend], row->instances,
               row->connections, row->connections == 1 ? "" : "s",
               row->spread ? "each its own account" : "one account", row->pushes, row->rate, row->p50_ms,
               row->p99_ms);
}

static void bench_multi_free(struct bench_multi *b) {
        for (unsigned i = 0; i < b->n; i++) {
                curl_easy_cleanup(b->c[i].e);
                curl_slist_free_all(b->c[i].h);
                free(b->c[i].r.body);
        }
        curl_multi_cleanup(b->m);
        free(b->c);
        free(b->lat_us);
}

/* n keep-alive TLS connections pushing at once, connection i to s[i % ns]
 * with spread's token i or alice's: a warm-up round (the n handshakes, each
 * account's first push), then total measured pushes, one row of the table. */
static int bench_pushes(enum bench_backend backend, const struct harness_syncd *s, unsigned ns, unsigned n,
                        bool spread, unsigned total) {
        struct bench_multi b = { .m = curl_multi_init(), .n = n, .base_ms = harness_wall_ms() - 60000 };
        struct bench_row row = { .backend = backend, .instances = ns, .connections = n, .pushes = total,
                                 .spread = spread };
        uint64_t t0;
        double secs;
        int r;

        b.c = calloc(n, sizeof(*b.c));
        curl_multi_setopt(b.m, CURLMOPT_MAXCONNECTS, (long) n);
        for (unsigned i = 0; i < n; i++) {
                b.c[i].e = bench_handle(&s[i % ns], "/v1/sync/push", &b.c[i].r);
                b.c[i].token = spread ? bench_tokens[i] : HARNESS_TOKEN_A;
                curl_easy_setopt(b.c[i].e, CURLOPT_PRIVATE, &b.c[i]);
        }
        r = bench_multi_drive(&b, n);
        b.lat_us = calloc(total, sizeof(long));
        t0 = bench_now_us();
        if (r == 0)
                r = bench_multi_drive(&b, total);
        secs = (double) (bench_now_us() - t0) / 1e6;
        if (r == 0) {
                qsort(b.lat_us, b.done, sizeof(long), cmp_long);
                row.rate = b.done / secs;
                row.p50_ms = b.lat_us[b.done / 2] / 1000.0;
                row.p99_ms = b.lat_us[(size_t) b.done * 99 / 100] / 1000.0;
                bench_row_add(&row);
                if (b.connects)
                        printf("  (%ld new connections while measuring: keep-alive was not kept)\n", b.connects);
        } else
                fprintf(stderr, "bench-syncd: %u of %u pushes failed over %u connections\n", b.failed, b.done, n);
        bench_multi_free(&b);
        return r;
}

/* syncd_longpoll_parked of s's /metrics, or -1. */
static long bench_parked(const struct harness_syncd *s) {
        struct harness_resp r;
        const char *p;
        long n = -1;

        if (harness_metrics_get(s, "GET", "/metrics", NULL, &r) == 0 && r.body &&
            (p = strstr(r.body, "\nsyncd_longpoll_parked ")))
                n = strtol(p + strlen("\nsyncd_longpoll_parked "), NULL, 10);
        harness_resp_clear(&r);
        return n;
}

/* n waiters for alice on waits_on, each on its kept-alive connection, woken
 * by pushes on pushes_on (the same syncd or another on the same database). */
struct bench_wake {
        const struct harness_syncd *waits_on;
        CURLM *m;
        CURL *status;                   /* alice's cursor, on waits_on */
        struct harness_resp st;
        struct curl_slist *auth;        /* alice's, for status and the waiters */
        struct bench_conn pusher;
        struct bench_conn *waiters;
        unsigned n;
};

static void bench_wake_open(struct bench_wake *w, const struct harness_syncd *waits_on,
                            const struct harness_syncd *pushes_on, unsigned n) {
        *w = (struct bench_wake) { .waits_on = waits_on, .m = curl_multi_init(), .n = n };
        w->auth = curl_slist_append(NULL, "Authorization: Bearer " HARNESS_TOKEN_A);
        w->status = bench_handle(waits_on, "/v1/sync/status", &w->st);
        curl_easy_setopt(w->status, CURLOPT_HTTPHEADER, w->auth);
        w->pusher.e = bench_handle(pushes_on, "/v1/sync/push", &w->pusher.r);
        w->pusher.token = HARNESS_TOKEN_A;
        w->waiters = calloc(n, sizeof(*w->waiters));
        for (unsigned i = 0; i < n; i++) {
                w->waiters[i].e = bench_handle(waits_on, "/v1/sync/wait", &w->waiters[i].r);
                curl_easy_setopt(w->waiters[i].e, CURLOPT_HTTPHEADER, w->auth);
        }
        curl_multi_setopt(w->m, CURLMOPT_MAXCONNECTS, (long) n + 1);
}

static void bench_wake_close(struct bench_wake *w) {
        for (unsigned i = 0; i < w->n; i++) {
                curl_multi_remove_handle(w->m, w->waiters[i].e);
                curl_easy_cleanup(w->waiters[i].e);
                free(w->waiters[i].r.body);
        }
        curl_multi_remove_handle(w->m, w->pusher.e);
        curl_easy_cleanup(w->pusher.e);
        curl_slist_free_all(w->pusher.h);
        free(w->pusher.r.body);
        curl_easy_cleanup(w->status);
        free(w->st.body);
        curl_slist_free_all(w->auth);
        curl_multi_cleanup(w->m);
        free(w->waiters);
}

/* Parks the waiters on alice's cursor and waits until waits_on counts them
 * all parked (its /metrics), so the push cannot overtake a request. */
static int bench_wake_park(struct bench_wake *w) {
        uint64_t deadline = harness_now_ms() + WAKE_DEADLINE_MS;
        char url[224];
        const char *c;
        int running;

        w->st.len = 0;
        if (curl_easy_perform(w->status) != CURLE_OK || !w->st.body ||
            !(c = strstr(w->st.body, "\"cursor\":\"")))
                return -1;
        c += strlen("\"cursor\":\"");
        snprintf(url, sizeof(url), "%s/v1/sync/wait?cursor=%.*s&timeout=30", w->waits_on->base,
                 (int) strcspn(c, "\""), c);
        for (unsigned i = 0; i < w->n; i++) {
                w->waiters[i].r.len = 0;
                curl_easy_setopt(w->waiters[i].e, CURLOPT_URL, url);
                curl_multi_add_handle(w->m, w->waiters[i].e);
        }
        while (harness_now_ms() < deadline) {
                curl_multi_perform(w->m, &running);
                if (bench_parked(w->waits_on) >= (long) w->n)
                        return 0;
                curl_multi_poll(w->m, NULL, 0, 2, NULL);
        }
        return -1;
}

/* One round: the waiters parked, then one push; the time from the push's
 * start to the last waiter's answer, in µs, or -1. */
static long bench_wake_round(struct bench_wake *w) {
        uint64_t deadline = harness_now_ms() + WAKE_DEADLINE_MS, t0, last = 0;
        unsigned woken = 0, failed = 0;
        bool pushed = false;
        int running;

        if (bench_wake_park(w) < 0) {
                fprintf(stderr, "bench-syncd: the long polls were not parked in time\n");
                return -1;
        }
        t0 = bench_now_us();
        push_prepare(w->pusher.e, w->pusher.token, bench_keys++, harness_wall_ms(), &w->pusher.r, &w->pusher.h);
        curl_multi_add_handle(w->m, w->pusher.e);
        while ((woken < w->n || !pushed) && harness_now_ms() < deadline) {
                CURLMsg *msg;
                int left;

                curl_multi_perform(w->m, &running);
                while ((msg = curl_multi_info_read(w->m, &left))) {
                        CURL *e = msg->easy_handle;
                        CURLcode result = msg->data.result;
                        long status = 0;

                        if (msg->msg != CURLMSG_DONE)
                                continue;
                        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
                        failed += result != CURLE_OK || status != 200;
                        if (e == w->pusher.e)
                                pushed = true;
                        else {
                                woken++;
                                last = bench_now_us();
                        }
                        curl_multi_remove_handle(w->m, e);
                }
                if (woken < w->n || !pushed)
                        curl_multi_poll(w->m, NULL, 0, 5, NULL);
        }
        curl_slist_free_all(w->pusher.h);
        w->pusher.h = NULL;
        if (woken < w->n || !pushed || failed) {
                fprintf(stderr, "bench-syncd: wake-up round: %u of %u waiters answered, push %s, %u failed\n",
                        woken, w->n, pushed ? "answered" : "not answered", failed);
                for (unsigned i = 0; i < w->n; i++)
                        curl_multi_remove_handle(w->m, w->waiters[i].e);
                curl_multi_remove_handle(w->m, w->pusher.e);
                return -1;
        }
        return (long) (last - t0);
}

/* One waiter on waits_on woken by a push on pushes_on, WAKE_ROUNDS times:
 * one row of the wake-up table. */
static int bench_wake_rounds(enum bench_backend backend, const char *where, const struct harness_syncd *waits_on,
                             const struct harness_syncd *pushes_on) {
        struct bench_wake_row row = { .backend = backend, .where = where, .rounds = WAKE_ROUNDS };
        long lat[WAKE_ROUNDS];
        struct bench_wake w;
        int r = 0;

        bench_wake_open(&w, waits_on, pushes_on, 1);
        for (unsigned i = 0; r == 0 && i < WAKE_ROUNDS; i++)
                if ((lat[i] = bench_wake_round(&w)) < 0)
                        r = -1;
        bench_wake_close(&w);
        if (r < 0)
                return r;
        qsort(lat, WAKE_ROUNDS, sizeof(lat[0]), cmp_long);
        row.p50_ms = lat[WAKE_ROUNDS / 2] / 1000.0;
        row.p99_ms = lat[WAKE_ROUNDS * 99 / 100] / 1000.0;
        row.max_ms = lat[WAKE_ROUNDS - 1] / 1000.0;
        if (bench_n_wake_rows < ROWS_MAX)
                bench_wake_rows[bench_n_wake_rows++] = row;
        printf("long poll: %s, wake-up %s, push sent -> waiter answered: p50 %.1f ms, p99 %.1f ms, max %.1f ms "
               "(%u rounds)\n", bench_backend_name[backend], where, row.p50_ms, row.p99_ms, row.max_ms, WAKE_ROUNDS);
        return 0;
}

/* WAITERS waiters on s woken by one push on s. */
static int bench_wake_crowd(const struct harness_syncd *s) {
        struct bench_wake w;
        long us;

        bench_wake_open(&w, s, s, WAITERS);
        us = bench_wake_round(&w);
        bench_wake_close(&w);
        if (us >= 0)
                printf("long poll: %d waiters woken by one push: the last answered after %.1f ms\n", WAITERS,
                       us / 1000.0);
        return us < 0 ? -1 : 0;
}

static void bench_fdatasync(const char *dir) {
        char path[160], block[4096] = {};
        uint64_t t0;
        int fd;

        snprintf(path, sizeof(path), "%s/fdatasync-probe", dir);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
                return;
        t0 = bench_now_us();
        for (int i = 0; i < 200; i++)
                if (write(fd, block, sizeof(block)) < 0 || fdatasync(fd) < 0)
                        break;
        printf("disk: append 4 KiB + fdatasync in %s: %.2f ms each\n", dir, (bench_now_us() - t0) / 200.0 / 1000.0);
        close(fd);
        unlink(path);
}

/* s, its database as backend wants (first: the one the others share), with
 * the spread accounts' tokens and its /metrics, started without a push rate
 * limit (thousands a second from one account). */
static int bench_start(struct harness_syncd *s, enum bench_backend backend, const struct harness_syncd *first) {
        int r = harness_dir(s);

        for (unsigned i = 0; r == 0 && i < CONNECTIONS; i++) {
                char account[32];

                snprintf(account, sizeof(account), "bench%02u", i);
                r = harness_tokens_add(s, bench_tokens[i], account);
        }
        if (r < 0)
                return r;
        if (first)
                memcpy(s->db, first->db, sizeof(s->db));
        else if (backend == BENCH_SQLITE_DISK)
                s->db[0] = '\0';        /* DIR/db, also under SYNCD_TEST_PG */
        else if (backend == BENCH_SQLITE_TMPFS)
                snprintf(s->db, sizeof(s->db), "%s/db", bench_tmpfs);
        s->metrics = true;
        return harness_start(s, false, (const char *const[]) { "--max-pushes-per-minute", "0", NULL });
}

/* n syncd on one database: with one, a single connection's figure; the 64
 * connections on one account, then each on its own; with one, the wake-up
 * on the same syncd (and the crowd's on disk and on PostgreSQL); with two,
 * the wake-up across them. */
static int bench_set(enum bench_backend backend, unsigned n) {
        struct harness_syncd s[INSTANCES_MAX] = {};
        unsigned started = 0;
        int r = 0;

        printf("== %s, %u syncd\n", bench_backend_name[backend], n);
        for (; r == 0 && started < n; started++)
                if ((r = bench_start(&s[started], backend, started > 0 ? &s[0] : NULL)) < 0)
                        fprintf(stderr, "bench-syncd: cannot start syncd %u of %u (%s)\n", started + 1, n,
                                strerror(-r));
        if (r == 0 && backend == BENCH_SQLITE_DISK)
                bench_fdatasync(s[0].dir);
        if (r == 0 && n == 1)
                r = bench_pushes(backend, s, 1, 1, false, backend == BENCH_PG ? PUSHES_PG : PUSHES_SQLITE);
        if (r == 0)
                r = bench_pushes(backend, s, n, CONNECTIONS, false, CONCURRENT_PUSHES);
        if (r == 0)
                r = bench_pushes(backend, s, n, CONNECTIONS, true, CONCURRENT_PUSHES);
        if (r == 0 && n == 1 && backend != BENCH_SQLITE_TMPFS)
                r = bench_wake_rounds(backend, "on the same syncd", &s[0], &s[0]);
        if (r == 0 && n == 1 && backend != BENCH_SQLITE_TMPFS)
                r = bench_wake_crowd(&s[0]);
        if (r == 0 && n == 2)
                r = bench_wake_rounds(backend, "across two syncd", &s[1], &s[0]);
        while (started > 0)
                harness_cleanup(&s[--started]);
        return r;
}

static void bench_tmpfs_remove(void) {
        static const char *const files[] = { "db", "db-wal", "db-shm" };
        char p[128];

        for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
                snprintf(p, sizeof(p), "%s/%s", bench_tmpfs, files[i]);
                unlink(p);
        }
        rmdir(bench_tmpfs);
}

/* The 1, 5 and 15 minute load averages. */
static void bench_loadavg(char *buf, size_t size) {
        FILE *f = fopen("/proc/loadavg", "re");
        double l[3];

        if (f && fscanf(f, "%lf %lf %lf", &l[0], &l[1], &l[2]) == 3)
                snprintf(buf, size, "%.2f %.2f %.2f", l[0], l[1], l[2]);
        else
                snprintf(buf, size, "unknown");
        if (f)
                fclose(f);
}

/* One setting of the PostgreSQL server the bench runs on, by psql. */
static void bench_pg_show(const char *name, char *buf, size_t size) {
        char cmd[256];
        FILE *p;

        snprintf(buf, size, "unknown");
        snprintf(cmd, sizeof(cmd), "psql -h '%s' -U syncd -d postgres -Atc 'SHOW %s' 2>/dev/null", harness_pg(), name);
        p = popen(cmd, "re");
        if (!p)
                return;
        if (!fgets(buf, (int) size, p))
                snprintf(buf, size, "unknown");
        buf[strcspn(buf, "\n")] = '\0';
        pclose(p);
}

static void bench_facts(char *pg, size_t size) {
        char version[64], fsync[16], commit[16];

        if (!harness_pg()) {
                snprintf(pg, size, "PostgreSQL: none in this run (no SYNCD_TEST_PG; tests/server/bench-syncd-pg.sh starts one "
                         "where PostgreSQL is installed)");
                return;
        }
        bench_pg_show("server_version", version, sizeof(version));
        bench_pg_show("fsync", fsync, sizeof(fsync));
        bench_pg_show("synchronous_commit", commit, sizeof(commit));
        snprintf(pg, size, "PostgreSQL %s on this machine over its Unix socket, fsync %s, synchronous_commit %s",
                 version, fsync, commit);
}

static void bench_table(const char *load_start, const char *pg) {
        char load_end[64];

        bench_loadavg(load_end, sizeof(load_end));
        printf("\n== syncd: single-record pushes over keep-alive TLS connections, round robin over the syncd\n");
        printf("%-13s %9s %-9s %11s %6s %8s %7s %7s\n", "backend", "instances", "accounts", "connections",
               "pushes", "pushes/s", "p50 ms", "p99 ms");
        for (unsigned i = 0; i < bench_n_rows; i++) {
                const struct bench_row *r = &bench_rows[i];

                printf("%-13s %9u %-9s %11u %6u %8.0f %7.1f %7.1f\n", bench_backend_name[r->backend], r->instances,
                       r->spread ? "spread" : "one", r->connections, r->pushes, r->rate, r->p50_ms, r->p99_ms);
        }
        printf("(spread: connection i pushes to account i, %u accounts; one: every connection to one account)\n",
               CONNECTIONS);
        printf("\n== long-poll wake-up: push sent -> the parked waiter answered, one waiter\n");
        printf("%-13s %-18s %6s %7s %7s %7s\n", "backend", "waiter", "rounds", "p50 ms", "p99 ms", "max ms");
        for (unsigned i = 0; i < bench_n_wake_rows; i++) {
                const struct bench_wake_row *w = &bench_wake_rows[i];

                printf("%-13s %-18s %6u %7.1f %7.1f %7.1f\n", bench_backend_name[w->backend], w->where, w->rounds,
                       w->p50_ms, w->p99_ms, w->max_ms);
        }
        printf("\nmachine: %ld CPUs, load average at start %s, at end %s\n", sysconf(_SC_NPROCESSORS_ONLN),
               load_start, load_end);
        printf("%s\n", pg);
}

int main(void) {
        char load[64], pg[192];
        int r;

        bench_loadavg(load, sizeof(load));
        bench_facts(pg, sizeof(pg));
        printf("bench-syncd: load average at start %s; %s\n", load, pg);
        for (unsigned i = 0; i < CONNECTIONS; i++)
                snprintf(bench_tokens[i], sizeof(bench_tokens[i]), "token-bench-%02u", i);
        curl_global_init(CURL_GLOBAL_DEFAULT);
        r = bench_set(BENCH_SQLITE_DISK, 1);
        if (r == 0 && mkdtemp(bench_tmpfs)) {
                r = bench_set(BENCH_SQLITE_TMPFS, 1);
                bench_tmpfs_remove();
        } else if (r == 0)
                printf("== SQLite tmpfs: left out, no directory in /dev/shm (%m)\n");
        for (unsigned n = 1; r == 0 && harness_pg() && n <= INSTANCES_MAX; n *= 2)
                r = bench_set(BENCH_PG, n);
        if (r == 0)
                bench_table(load, pg);
        curl_global_cleanup();
        return r < 0 ? 1 : 0;
}
