/* SPDX-License-Identifier: MIT */
/* Benchmark of syncd: single-record pushes per second from one client over
 * one keep-alive TLS connection; the same from N clients at once (N
 * keep-alive TLS connections driven by one curl multi handle, each sending
 * its next push as soon as the previous answer arrived), with the latency
 * percentiles; and the long-poll wake-up latency (push started -> waiter
 * answered), for one waiter and for 100. Each answer follows the COMMIT
 * (synchronous=FULL) of the group its push was in: one client waiting for
 * each answer makes every push its own group, so its rate is bounded by the
 * disk's fdatasync latency, while N clients share each fdatasync. Every
 * figure is given with the database on the test directory's disk and on
 * tmpfs (/dev/shm, where fdatasync is free), the second showing what the
 * server itself costs; under SYNCD_TEST_PG (bench-syncd-pg.sh) every figure
 * once more with the database on that PostgreSQL server, then 16 clients
 * spread over 2 and 4 syncd on one database, and the wake-up across two.
 * Prints figures; asserts nothing about them. */
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "tests/lib/harness.h"

#define PUSHES 3000
#define CONCURRENT_PUSHES 8000        /* per figure, after each connection's warm-up push */
static const unsigned CONNECTIONS[] = { 16, 64 };
#define ROUNDS 30
#define BENCH_PG "postgresql"           /* bench_run: the database harness_dir made under SYNCD_TEST_PG */

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

/* Sets up push i (stamp ms) on the reused handle e; *h is the header list
 * to free once the transfer is done. */
static void push_prepare(CURL *e, unsigned i, uint64_t ms, struct harness_resp *r, struct curl_slist **h) {
        char body[512], key[80];

        snprintf(body, sizeof(body), "{\"schema\": 1, \"records\": [{\"key\": \"eq.active\", \"family\": \"pro\", "
                 "\"stamp\": {\"ms\": %llu, \"c\": %u, \"origin\": \"00a1b2c3d4e5f607\"}, \"derived\": false, "
                 "\"value\": {\"preset\": \"flat\"}}]}", (unsigned long long) ms, i & 0xffff);
        snprintf(key, sizeof(key), "Idempotency-Key: %08x-0000-4000-8000-%012llx", i,
                 (unsigned long long) (ms & 0xffffffffffffull));
        *h = curl_slist_append(NULL, key);
        *h = curl_slist_append(*h, "Device-Id: 00a1b2c3d4e5f607");
        *h = curl_slist_append(*h, "Authorization: Bearer " HARNESS_TOKEN_A);
        *h = curl_slist_append(*h, "Content-Type: application/json");
        *h = curl_slist_append(*h, "Expect:");
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, *h);
        curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, body);
        r->len = 0;
}

/* One push on the reused handle e; returns the HTTP status. */
static long push(CURL *e, unsigned i, uint64_t ms, struct harness_resp *r) {
        struct curl_slist *h;
        long status = 0;

        push_prepare(e, i, ms, r, &h);
        if (curl_easy_perform(e) == CURLE_OK)
                curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
        curl_slist_free_all(h);
        return status;
}

static CURL *push_handle(const struct harness_syncd *s, struct harness_resp *r) {
        char url[128];
        CURL *e = curl_easy_init();

        snprintf(url, sizeof(url), "%s/v1/sync/push", s->base);
        curl_easy_setopt(e, CURLOPT_URL, url);
        curl_easy_setopt(e, CURLOPT_CAINFO, s->ca);
        curl_easy_setopt(e, CURLOPT_CAPATH, NULL);      /* the test CA alone (tests/lib/harness.c) */
        curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long) CURL_HTTP_VERSION_1_1);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, sink);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        return e;
}

static int bench_pushes(const struct harness_syncd *s) {
        struct harness_resp r = {};
        CURL *e = push_handle(s, &r);
        uint64_t base = harness_wall_ms() - 100000, t0;
        double secs;

        if (push(e, 0, base, &r) != 200)        /* warm up: the one TLS handshake */
                return -1;
        t0 = harness_now_ms();
        for (unsigned i = 1; i <= PUSHES; i++)
                if (push(e, i, base + i, &r) != 200) {
                        fprintf(stderr, "push %u failed: %s\n", i, r.body ?: "");
                        return -1;
                }
        secs = (double) (harness_now_ms() - t0) / 1000.0;
        printf("push, 1 connection: %d single-record pushes in %.2f s over one keep-alive TLS connection: "
               "%.0f pushes/s\n", PUSHES, secs, PUSHES / secs);
        printf("  (one client waits for each answer, so each push is a group of one: one fdatasync per push)\n");
        curl_easy_cleanup(e);
        free(r.body);
        return 0;
}

struct bench_conn {
        CURL *e;
        struct curl_slist *h;
        struct harness_resp r;
};

struct bench_multi {
        CURLM *m;
        struct bench_conn *c;
        unsigned n;                     /* connections */
        unsigned next, done, failed;    /* pushes of this drive started, answered, failed */
        unsigned serial;                /* pushes of this run: their keys and stamps */
        uint64_t base_ms;
        long *lat_us;                   /* NULL: not measuring */
        long connects;                  /* new connections while measuring */
};

static unsigned bench_keys = 1000000;   /* above the single connection's keys, unique per server */

static void bench_multi_start(struct bench_multi *b, struct bench_conn *c) {
        push_prepare(c->e, bench_keys++, b->base_ms + b->serial++, &c->r, &c->h);
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
        curl_multi_remove_handle(b->m, c->e);
        curl_slist_free_all(c->h);
        c->h = NULL;
        if (msg->data.result != CURLE_OK || status != 200)
                b->failed++;
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
        uint64_t deadline = harness_now_ms() + 120000;
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

static void bench_multi_report(struct bench_multi *b, double secs) {
        qsort(b->lat_us, b->done, sizeof(long), cmp_long);
        printf("push, %u connections: %u single-record pushes in %.2f s: %.0f pushes/s, latency p50 %.1f ms, "
               "p99 %.1f ms (%ld new connections while measuring)\n", b->n, b->done, secs, b->done / secs,
               b->lat_us[b->done / 2] / 1000.0, b->lat_us[(size_t) b->done * 99 / 100] / 1000.0, b->connects);
}

/* n keep-alive TLS connections pushing at once, connection i to server
 * s[i % ns] (several syncd on one database): a warm-up round (the n
 * handshakes), then CONCURRENT_PUSHES measured pushes. */
static int bench_concurrent(const struct harness_syncd *s, unsigned ns, unsigned n) {
        struct bench_multi b = { .m = curl_multi_init(), .n = n, .base_ms = harness_wall_ms() - 60000 };
        long *lat = calloc(CONCURRENT_PUSHES, sizeof(long));
        uint64_t t0;
        double secs;
        int r;

        b.c = calloc(n, sizeof(*b.c));
        curl_multi_setopt(b.m, CURLMOPT_MAXCONNECTS, (long) n);
        for (unsigned i = 0; i < n; i++) {
                b.c[i].e = push_handle(&s[i % ns], &b.c[i].r);
                curl_easy_setopt(b.c[i].e, CURLOPT_PRIVATE, &b.c[i]);
        }
        r = bench_multi_drive(&b, n);           /* warm up: every connection's handshake */
        b.lat_us = lat;
        t0 = harness_now_ms();
        if (r == 0)
                r = bench_multi_drive(&b, CONCURRENT_PUSHES);
        secs = (double) (harness_now_ms() - t0) / 1000.0;
        if (r == 0 && ns > 1)
                printf("%u syncd on one database: ", ns);
        if (r == 0)
                bench_multi_report(&b, secs);
        else
                fprintf(stderr, "bench-syncd: %u of %u pushes failed over %u connections\n", b.failed, b.done, n);
        for (unsigned i = 0; i < n; i++) {
                curl_easy_cleanup(b.c[i].e);
                free(b.c[i].r.body);
        }
        curl_multi_cleanup(b.m);
        free(b.c);
        free(b.lat_us);
        return r;
}

/* n waiters on the current cursor, then one push; the latency of the last
 * waiter's answer, in ms, or -1. */
/* The waiters on s; pusher may be bound to another syncd on the same
 * database. */
static long bench_wake(const struct harness_syncd *s, CURL *pusher, struct harness_resp *pr, int n, unsigned round) {
        struct harness_resp st, resp[100];
        char path[160], cur[40] = "";
        CURL *e[100];
        CURLM *m = curl_multi_init();
        uint64_t t0, last = 0, deadline = harness_now_ms() + 20000;
        int running, sent = 0, done = 0;
        char *c;

        harness_request(s, "GET", "/v1/sync/status", HARNESS_TOKEN_A, NULL, NULL, &st);
        c = st.body ? strstr(st.body, "\"cursor\":\"") : NULL;
        if (c)
                snprintf(cur, sizeof(cur), "%.32s", c + 10);
        harness_resp_clear(&st);
        snprintf(path, sizeof(path), "/v1/sync/wait?cursor=%s&timeout=30", cur);
        for (int i = 0; i < n; i++) {
                e[i] = harness_easy(s, "GET", path, HARNESS_TOKEN_A, NULL, NULL, &resp[i]);
                curl_multi_add_handle(m, e[i]);
        }
        while (sent < n && harness_now_ms() < deadline) {
                curl_multi_perform(m, &running);
                sent = 0;
                for (int i = 0; i < n; i++) {
                        long k = 0;

                        curl_easy_getinfo(e[i], CURLINFO_REQUEST_SIZE, &k);
                        sent += k > 0;
                }
                curl_multi_poll(m, NULL, 0, 5, NULL);
        }
        harness_request(s, "GET", "/v1/sync/status", HARNESS_TOKEN_A, NULL, NULL, &st);  /* a round trip */
        harness_resp_clear(&st);
        t0 = harness_now_ms();
        push(pusher, 100000 + round, harness_wall_ms(), pr);
        while (done < n && harness_now_ms() < deadline) {
                CURLMsg *msg;
                int left;

                curl_multi_perform(m, &running);
                while ((msg = curl_multi_info_read(m, &left)))
                        if (msg->msg == CURLMSG_DONE) {
                                done++;
                                last = harness_now_ms();
                        }
                if (done < n)
                        curl_multi_poll(m, NULL, 0, 5, NULL);
        }
        for (int i = 0; i < n; i++) {
                curl_multi_remove_handle(m, e[i]);
                harness_easy_free(e[i]);
                harness_resp_clear(&resp[i]);
        }
        curl_multi_cleanup(m);
        return done == n ? (long) (last - t0) : -1;
}

/* One waiter on waiter's syncd, pushes on pusher's, ROUNDS times: the
 * latencies sorted into lat. */
static int bench_wake_rounds(const struct harness_syncd *waiter, const struct harness_syncd *pushes, long *lat) {
        struct harness_resp pr = {};
        CURL *pusher = push_handle(pushes, &pr);
        int r = 0;

        for (unsigned i = 0; r == 0 && i < ROUNDS; i++)
                if ((lat[i] = bench_wake(waiter, pusher, &pr, 1, i)) < 0)
                        r = -1;
        curl_easy_cleanup(pusher);
        free(pr.body);
        if (r == 0)
                qsort(lat, ROUNDS, sizeof(lat[0]), cmp_long);
        return r;
}

static int bench_longpoll(const struct harness_syncd *s) {
        struct harness_resp pr = {};
        long lat[ROUNDS], all;
        CURL *pusher;

        if (bench_wake_rounds(s, s, lat) < 0)
                return -1;
        printf("long poll: wake-up latency, 1 waiter, push started -> answer: median %ld ms, max %ld ms (%d rounds)\n",
               lat[ROUNDS / 2], lat[ROUNDS - 1], ROUNDS);
        pusher = push_handle(s, &pr);
        all = bench_wake(s, pusher, &pr, 100, ROUNDS);
        printf("long poll: 100 waiters woken by one push: last answer after %ld ms\n", all);
        curl_easy_cleanup(pusher);
        free(pr.body);
        return all < 0 ? -1 : 0;
}

static void bench_fdatasync(const char *dir) {
        char path[160], block[4096] = {};
        uint64_t t0;
        int fd;

        snprintf(path, sizeof(path), "%s/fdatasync-probe", dir);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
                return;
        t0 = harness_now_ms();
        for (int i = 0; i < 200; i++)
                if (write(fd, block, sizeof(block)) < 0 || fdatasync(fd) < 0)
                        break;
        printf("disk: append 4 KiB + fdatasync in %s: %.2f ms each\n", dir,
               (double) (harness_now_ms() - t0) / 200.0);
        close(fd);
        unlink(path);
}

/* One server, its database at db (NULL: on disk in its directory;
 * BENCH_PG: the PostgreSQL database harness_dir made under SYNCD_TEST_PG). */
static int bench_run(const char *db, bool longpoll) {
        struct harness_syncd s;
        int r;

        if (harness_dir(&s) < 0)
                return -1;
        if (db && strcmp(db, BENCH_PG) != 0)
                snprintf(s.db, sizeof(s.db), "%s", db);
        else if (!db) {
                s.db[0] = '\0';
                bench_fdatasync(s.dir);
        }
        /* thousands of pushes a second from one account: no rate limit here */
        if (harness_start(&s, false, (const char *const[]) { "--max-pushes-per-minute", "0", NULL }) < 0) {
                fprintf(stderr, "bench-syncd: cannot start syncd\n");
                harness_cleanup(&s);
                return -1;
        }
        printf("== database %s\n", s.db[0] ? s.db : "on disk (the test directory)");
        r = bench_pushes(&s);
        for (size_t i = 0; r == 0 && i < sizeof(CONNECTIONS) / sizeof(CONNECTIONS[0]); i++)
                r = bench_concurrent(&s, 1, CONNECTIONS[i]);
        if (r == 0 && longpoll)
                r = bench_longpoll(&s);
        harness_cleanup(&s);
        return r;
}

/* n syncd on one PostgreSQL database (SYNCD_TEST_PG), 16 connections
 * spread over them; with two, the wake-up of a long poll on one by a push on
 * the other. */
static int bench_instances(unsigned n) {
        struct harness_syncd s[4] = {};
        unsigned started = 0;
        long lat[ROUNDS];
        int r = 0;

        for (; r == 0 && started < n; started++) {
                r = harness_dir(&s[started]);
                if (r == 0 && started > 0)
                        memcpy(s[started].db, s[0].db, sizeof(s[0].db));
                if (r == 0)
                        r = harness_start(&s[started], false,
                                          (const char *const[]) { "--max-pushes-per-minute", "0", NULL });
        }
        if (r == 0)
                r = bench_concurrent(s, n, 16);
        if (r == 0 && n == 2 && (r = bench_wake_rounds(&s[1], &s[0], lat)) == 0)
                printf("long poll: wake-up latency across two syncd (push on one, waiter on the other): "
                       "median %ld ms, max %ld ms (%d rounds)\n", lat[ROUNDS / 2], lat[ROUNDS - 1], ROUNDS);
        while (started > 0)
                harness_cleanup(&s[--started]);
        return r;
}

int main(void) {
        char shm[64] = "/dev/shm/syncd-bench-XXXXXX", db[96];
        int r;

        curl_global_init(CURL_GLOBAL_DEFAULT);
        r = bench_run(NULL, true);
        if (r == 0 && mkdtemp(shm)) {
                snprintf(db, sizeof(db), "%s/db", shm);
                r = bench_run(db, false);
                for (const char *sfx = ""; sfx; sfx = strcmp(sfx, "") == 0 ? "-wal" : strcmp(sfx, "-wal") == 0 ? "-shm" : NULL) {
                        char p[128];

                        snprintf(p, sizeof(p), "%s%s", db, sfx);
                        unlink(p);
                }
                rmdir(shm);
        }
        if (r == 0 && harness_pg())
                r = bench_run(BENCH_PG, true);
        for (unsigned n = 2; r == 0 && harness_pg() && n <= 4; n *= 2)
                r = bench_instances(n);
        curl_global_cleanup();
        return r < 0 ? 1 : 0;
}
