/* SPDX-License-Identifier: MIT */
/* syncd against hostile and careless clients. Each test is one attack that
 * worked on an earlier syncd, run against a fresh server, with what the other
 * clients see meanwhile. Raw TCP and GnuTLS clients (tests/lib/rawclient.c)
 * do what libcurl will not; other clients come from other loopback addresses
 * (127.0.0.2...), as syncd's limits count per address. Starts the built
 * binary (BRIDGED_BUILD) on 127.0.0.1 port 0. Every wait has a deadline. */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>
#include <curl/curl.h>

#include "tests/lib/harness.h"
#include "tests/lib/rawclient.h"

#define DEV_HDR "Device-Id: 00a1b2c3d4e5f607"
#define AUTH_A "Authorization: Bearer " HARNESS_TOKEN_A "\r\n"
#define MAX_WAITS 64

static struct harness_syncd base;       /* the certificates and tokens every server here uses */

/* Servers */

/* A server of its own (database and log) on the shared certificates, with
 * RLIMIT_NOFILE soft and hard when hard is not 0. */
static void start_limited(struct harness_syncd *s, bool capture_log, unsigned nofile_soft, unsigned nofile_hard,
                          const char *const *extra) {
        static unsigned n;

        memset(s, 0, sizeof(*s));
        s->nofile_soft = nofile_soft;
        s->nofile_hard = nofile_hard;
        s->pid = -1;
        s->pidfd = -1;
        strcpy(s->dir, base.dir);
        strcpy(s->ca, base.ca);
        snprintf(s->db, sizeof(s->db), "%s/db-%u", base.dir, n++);
        s->capture_log = capture_log;
        assert_int_equal(harness_start(s, false, extra), 0);
}

static void start(struct harness_syncd *s, bool capture_log, const char *const *extra) {
        start_limited(s, capture_log, 0, 0, extra);
}

static void stop(struct harness_syncd *s) {
        assert_int_equal(harness_stop(s), 0);
        if (s->capture_log && s->log_fd > 0)
                close(s->log_fd);
        free(s->log);
        s->log = NULL;
}

/* Requests */

/* One request from address src (NULL: 127.0.0.1) with a timeout; the status,
 * or 0 when the transfer failed. */
static long request_from(const struct harness_syncd *s, const char *src, const char *method, const char *path,
                         const char *token, const char *body, const char *const *headers, long timeout_ms,
                         struct harness_resp *r) {
        char iface[32];
        CURL *e = harness_easy(s, method, path, token, body, headers, r);

        if (src) {
                snprintf(iface, sizeof(iface), "host!%s", src);
                curl_easy_setopt(e, CURLOPT_INTERFACE, iface);
        }
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
        r->curl_code = (int) curl_easy_perform(e);
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &r->status);
        harness_easy_free(e);
        return r->curl_code == CURLE_OK ? r->status : 0;
}

static long status_from(const struct harness_syncd *s, const char *src, long timeout_ms) {
        struct harness_resp r;
        long status = request_from(s, src, "GET", "/v1/sync/status", HARNESS_TOKEN_A, NULL, NULL, timeout_ms, &r);

        harness_resp_clear(&r);
        return status;
}

static char *cursor_now(const struct harness_syncd *s, const char *token) {
        struct harness_resp r;
        cJSON *j;
        char *c;

        assert_int_equal(request_from(s, NULL, "GET", "/v1/sync/status", token, NULL, NULL, 10000, &r), 200);
        j = cJSON_Parse(r.body);
        c = strdup(cJSON_GetObjectItem(j, "cursor")->valuestring);
        cJSON_Delete(j);
        harness_resp_clear(&r);
        return c;
}

/* A push of one new record for the account of token; its status. */
static long push(const struct harness_syncd *s, const char *token, long timeout_ms) {
        static unsigned c;
        char body[320], key[80];
        const char *headers[] = { key, DEV_HDR, NULL };
        struct harness_resp r;
        long status;

        snprintf(key, sizeof(key), "Idempotency-Key: 6b1e6a52-2f0a-4c36-9d0b-%012x", ++c);
        snprintf(body, sizeof(body), "{\"schema\": 1, \"records\": [{\"key\": \"eq.active\", \"family\": \"pro\", "
                 "\"stamp\": {\"ms\": %llu, \"c\": %u, \"origin\": \"00a1b2c3d4e5f607\"}, \"derived\": false, "
                 "\"value\": {\"preset\": \"flat\"}}]}", (unsigned long long) harness_wall_ms(), c);
        status = request_from(s, NULL, "POST", "/v1/sync/push", token, body, headers, timeout_ms, &r);
        harness_resp_clear(&r);
        return status;
}

/* Long polls on a curl multi handle, each on its own connection. */
struct waits {
        CURLM *m;
        CURL *e[MAX_WAITS];
        struct harness_resp r[MAX_WAITS];
        bool done[MAX_WAITS];
        int n, n_done;
};

static int waits_add(struct waits *w, const struct harness_syncd *s, const char *token, const char *cursor,
                     const char *src, unsigned timeout_sec) {
        char path[160], iface[32];
        int i = w->n++;

        assert_true(i < MAX_WAITS);
        if (!w->m)
                w->m = curl_multi_init();
        snprintf(path, sizeof(path), "/v1/sync/wait?cursor=%s&timeout=%u", cursor, timeout_sec);
        w->e[i] = harness_easy(s, "GET", path, token, NULL, NULL, &w->r[i]);
        curl_easy_setopt(w->e[i], CURLOPT_TIMEOUT_MS, 65000L);
        curl_easy_setopt(w->e[i], CURLOPT_FORBID_REUSE, 1L);
        if (src) {
                snprintf(iface, sizeof(iface), "host!%s", src);
                curl_easy_setopt(w->e[i], CURLOPT_INTERFACE, iface);
        }
        curl_multi_add_handle(w->m, w->e[i]);
        return i;
}

/* Drives the transfers until at least want are done or deadline passes;
 * returns how many are done. */
static int waits_run(struct waits *w, int want, uint64_t deadline) {
        int running;

        for (;;) {
                CURLMsg *msg;
                int left;

                curl_multi_perform(w->m, &running);
                while ((msg = curl_multi_info_read(w->m, &left)))
                        for (int i = 0; msg->msg == CURLMSG_DONE && i < w->n; i++)
                                if (w->e[i] == msg->easy_handle && !w->done[i]) {
                                        w->done[i] = true;
                                        w->n_done++;
                                        w->r[i].curl_code = (int) msg->data.result;
                                        curl_easy_getinfo(w->e[i], CURLINFO_RESPONSE_CODE, &w->r[i].status);
                                }
                if (w->n_done >= want || harness_now_ms() >= deadline)
                        return w->n_done;
                curl_multi_poll(w->m, NULL, 0, 20, NULL);
        }
}

/* Until every request is on the wire; then a round trip on another
 * connection (keep's, or a new one), after which the server has read them
 * all. */
static void waits_sent(struct waits *w, const struct harness_syncd *s, CURL *keep) {
        uint64_t deadline = harness_now_ms() + 20000;
        int sent = 0;

        while (sent < w->n && harness_now_ms() < deadline) {
                sent = 0;
                waits_run(w, w->n + 1, harness_now_ms() + 20);
                for (int i = 0; i < w->n; i++) {
                        long size = 0;

                        curl_easy_getinfo(w->e[i], CURLINFO_REQUEST_SIZE, &size);
                        sent += size > 0 || w->done[i];
                }
        }
        assert_int_equal(sent, w->n);
        if (keep)
                assert_int_equal(curl_easy_perform(keep), CURLE_OK);
        else
                assert_int_equal(status_from(s, NULL, 10000), 200);
        waits_run(w, w->n + 1, harness_now_ms() + 50);
}

static void waits_free(struct waits *w) {
        for (int i = 0; i < w->n; i++) {
                curl_multi_remove_handle(w->m, w->e[i]);
                harness_easy_free(w->e[i]);
                harness_resp_clear(&w->r[i]);
        }
        curl_multi_cleanup(w->m);
        memset(w, 0, sizeof(*w));
}

/* Sockets */

/* How many of fds the server has closed by deadline, waiting until want. */
static int count_closed(const int *fds, int n, int want, uint64_t deadline) {
        struct pollfd *p = calloc((size_t) n, sizeof(*p));
        int closed = 0;

        for (int i = 0; i < n; i++)
                p[i] = (struct pollfd) { .fd = fds[i], .events = POLLRDHUP };
        while (closed < want && harness_now_ms() < deadline) {
                if (poll(p, (nfds_t) n, (int) (deadline - harness_now_ms())) <= 0)
                        break;
                for (int i = 0; i < n; i++)
                        if (p[i].revents && p[i].fd >= 0) {
                                p[i].fd = -1;
                                closed++;
                        }
        }
        free(p);
        return closed;
}

static void close_all(int *fds, int n) {
        for (int i = 0; i < n; i++)
                if (fds[i] >= 0)
                        close(fds[i]);
}

static void tls_open(struct rawclient_tls *t, const struct harness_syncd *s, const char *src) {
        int r = rawclient_tls_open(t, src, s->port, s->ca, RAWCLIENT_TLS_MODERN, harness_now_ms() + 10000);

        if (r < 0)
                fprintf(stderr, "TLS connection from %s: %s\n", src ? src : "127.0.0.1", strerror(-r));
        assert_int_equal(r, 0);
}

/* Sends one request as raw bytes on a new TLS connection and reads the
 * answer; *ret_closed: the server closed the connection after it. */
static int raw_request(const struct harness_syncd *s, const char *req, size_t len, char *buf, size_t size,
                       bool *ret_closed) {
        struct rawclient_tls t;
        char rest[256];
        int status;

        tls_open(&t, s, NULL);
        assert_int_equal(rawclient_tls_send(&t, req, len), 0);
        status = rawclient_tls_answer(&t, buf, size, harness_now_ms() + 10000);
        if (ret_closed)
                (void) rawclient_tls_read(&t, rest, sizeof(rest), harness_now_ms() + 3000, ret_closed);
        rawclient_tls_close(&t);
        return status;
}

/* Trickles one byte of text each time it is called, from *pos on. */
static void trickle(struct rawclient_tls *t, const char *text, size_t *pos) {
        if (text[*pos] && rawclient_tls_send(t, text + *pos, 1) == 0)
                (*pos)++;
}

/* Tests */

/* TLS 1.0 and 1.1 are refused; 1.2 and 1.3 serve. */
static void test_tls_versions(void **state) {
        static const struct {
                const char *priority;
                int version;            /* 0: must fail */
        } cases[] = {
                { "NORMAL:-VERS-ALL:+VERS-TLS1.0", 0 },
                { "NORMAL:-VERS-ALL:+VERS-TLS1.1", 0 },
                { "NORMAL:-VERS-ALL:+VERS-TLS1.2", GNUTLS_TLS1_2 },
                { "NORMAL:-VERS-ALL:+VERS-TLS1.3", GNUTLS_TLS1_3 },
        };
        static const char req[] = "GET /v1/sync/status HTTP/1.1\r\nHost: localhost\r\n" AUTH_A "\r\n";
        struct harness_syncd s;
        char buf[4096];

        (void) state;
        start(&s, false, NULL);
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                struct rawclient_tls t;
                int r = rawclient_tls_open(&t, NULL, s.port, s.ca, cases[i].priority, harness_now_ms() + 10000);

                if (!cases[i].version) {
                        if (r == 0)
                                fprintf(stderr, "%s: the handshake succeeded\n", cases[i].priority);
                        assert_int_equal(r, -EPROTO);
                        continue;
                }
                assert_int_equal(r, 0);
                assert_int_equal(gnutls_protocol_get_version(t.session), cases[i].version);
                assert_int_equal(rawclient_tls_send(&t, req, strlen(req)), 0);
                assert_int_equal(rawclient_tls_answer(&t, buf, sizeof(buf), harness_now_ms() + 10000), 200);
                rawclient_tls_close(&t);
        }
        stop(&s);
}

#define FLOOD 1100

/* 1,100 connections from one address that never speak: the address gets its
 * share (default 128), the rest is refused at once, and a client from
 * another address is served as if nothing happened. */
static void test_flood_one_address(void **state) {
        struct harness_syncd s;
        static int fds[FLOOD];
        uint64_t t0;
        int closed;

        (void) state;
        start(&s, false, NULL);
        for (int i = 0; i < FLOOD; i++) {
                fds[i] = rawclient_tcp("127.0.0.2", s.port, harness_now_ms() + 5000);
                assert_true(fds[i] >= 0);
        }
        t0 = harness_now_ms();
        assert_int_equal(status_from(&s, NULL, 5000), 200);
        printf("FIGURE flood of %d silent connections from one address: another client served in %llu ms\n",
               FLOOD, (unsigned long long) (harness_now_ms() - t0));
        closed = count_closed(fds, FLOOD, FLOOD - 128, harness_now_ms() + 5000);
        assert_true(closed >= FLOOD - 128);
        assert_true(closed < FLOOD);            /* the address's share is held, for now */
        close_all(fds, FLOOD);
        stop(&s);
}

#define SPREAD_ADDRS 8
#define SPREAD_PER_ADDR 128

/* Every place taken (1,024 silent connections from 8 addresses, 2 more
 * trickling a TLS ClientHello a byte at a time): the handshake-and-headers
 * deadline (default 10 s from accept, not moved by bytes) frees the places,
 * and a client waiting behind them is served within it. */
static void test_flood_many_addresses(void **state) {
        static const char hello[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"
                                    "trickled-bytes-of-a-client-hello-that-never-ends-0123456789abcdef";
        static int fds[SPREAD_ADDRS * SPREAD_PER_ADDR];
        int trickler[2];
        size_t pos[2] = {};
        struct harness_syncd s;
        struct harness_resp r;
        uint64_t t0, next = 0;
        CURLM *m = curl_multi_init();
        CURL *e;
        int running = 1, closed;

        (void) state;
        start(&s, false, NULL);
        t0 = harness_now_ms();
        for (int i = 0; i < 2; i++)
                assert_true((trickler[i] = rawclient_tcp("127.0.0.10", s.port, t0 + 5000)) >= 0);
        for (int a = 0; a < SPREAD_ADDRS; a++) {
                char src[24];

                snprintf(src, sizeof(src), "127.0.0.%d", 2 + a);
                for (int i = 0; i < SPREAD_PER_ADDR; i++) {
                        int fd = rawclient_tcp(src, s.port, harness_now_ms() + 5000);

                        assert_true(fd >= 0);
                        fds[a * SPREAD_PER_ADDR + i] = fd;
                }
        }
        e = harness_easy(&s, "GET", "/v1/sync/status", HARNESS_TOKEN_A, NULL, NULL, &r);
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 15000L);
        curl_multi_add_handle(m, e);
        while (running) {
                if (harness_now_ms() >= next) {         /* a byte every 500 ms on each trickler */
                        for (int i = 0; i < 2; i++)
                                if (pos[i] < sizeof(hello) - 1 &&
                                    send(trickler[i], hello + pos[i], 1, MSG_NOSIGNAL) == 1)
                                        pos[i]++;
                        next = harness_now_ms() + 500;
                }
                curl_multi_perform(m, &running);
                if (running)
                        curl_multi_poll(m, NULL, 0, 50, NULL);
        }
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &r.status);
        printf("FIGURE every place taken by %d silent connections from %d addresses: "
               "a waiting client served after %llu ms\n", SPREAD_ADDRS * SPREAD_PER_ADDR, SPREAD_ADDRS,
               (unsigned long long) (harness_now_ms() - t0));
        assert_int_equal(r.status, 200);
        assert_true(harness_now_ms() - t0 < 13000);
        assert_true(pos[0] > 10);               /* they did trickle all along */
        assert_int_equal(count_closed(trickler, 2, 2, t0 + 13000), 2);
        closed = count_closed(fds, SPREAD_ADDRS * SPREAD_PER_ADDR, 990, t0 + 13000);
        assert_true(closed >= 990);
        curl_multi_remove_handle(m, e);
        harness_easy_free(e);
        harness_resp_clear(&r);
        curl_multi_cleanup(m);
        close_all(trickler, 2);
        close_all(fds, SPREAD_ADDRS * SPREAD_PER_ADDR);
        stop(&s);
}

/* Whether fd's peer closed before deadline; reads nothing. */
static bool peer_closed(int fd, uint64_t deadline) {
        struct pollfd p = { .fd = fd, .events = POLLRDHUP };

        return poll(&p, 1, (int) (deadline > harness_now_ms() ? deadline - harness_now_ms() : 0)) == 1;
}

/* Trickles text a byte every 200 ms on t until the server closes; returns
 * how long that took, from the call. */
static uint64_t trickle_until_closed(struct rawclient_tls *t, const char *text, uint64_t deadline) {
        uint64_t t0 = harness_now_ms();
        size_t pos = 0;

        while (!peer_closed(t->fd, harness_now_ms() + 200) && harness_now_ms() < deadline)
                trickle(t, text, &pos);
        assert_true(harness_now_ms() < deadline);
        assert_true(pos > 3);
        return harness_now_ms() - t0;
}

/* With 2 s deadlines: a body trickled is cut 2 s after the headers, the next
 * request trickled on a kept-alive connection 2 s after the answer before
 * it; curl's kept-alive connection closed for idleness is replaced without
 * a word; a parked long poll outlives every deadline. */
static void test_deadlines(void **state) {
        static const char *const extra[] = { "--header-timeout-sec", "2", "--body-timeout-sec", "2",
                                             "--idle-timeout-sec", "2", NULL };
        static const char pull[] = "POST /v1/sync/pull HTTP/1.1\r\nHost: localhost\r\n" AUTH_A
                                   "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n";
        static const char status[] = "GET /v1/sync/status HTTP/1.1\r\nHost: localhost\r\n" AUTH_A "\r\n";
        struct harness_syncd s;
        struct rawclient_tls t;
        struct harness_resp r;
        char buf[4096], *cursor, path[160];
        curl_socket_t sock = CURL_SOCKET_BAD;
        uint64_t took;
        long conns = 0;
        CURL *e;

        (void) state;
        start(&s, false, extra);
        /* the body */
        tls_open(&t, &s, NULL);
        assert_int_equal(rawclient_tls_send(&t, pull, strlen(pull)), 0);
        took = trickle_until_closed(&t, "{\"cursor\": null, \"limit\": 1, \"and\": \"more to come, slowly\"}",
                                    harness_now_ms() + 6000);
        assert_true(took >= 1500 && took < 4000);
        rawclient_tls_close(&t);
        /* the next request on a kept-alive connection */
        tls_open(&t, &s, NULL);
        assert_int_equal(rawclient_tls_send(&t, status, strlen(status)), 0);
        assert_int_equal(rawclient_tls_answer(&t, buf, sizeof(buf), harness_now_ms() + 5000), 200);
        took = trickle_until_closed(&t, status, harness_now_ms() + 6000);
        assert_true(took >= 1500 && took < 4000);
        rawclient_tls_close(&t);
        /* curl: its idle connection closed, the next request on a new one */
        e = harness_easy(&s, "GET", "/v1/sync/status", HARNESS_TOKEN_A, NULL, NULL, &r);
        assert_int_equal(curl_easy_perform(e), CURLE_OK);
        assert_int_equal(curl_easy_getinfo(e, CURLINFO_ACTIVESOCKET, &sock), CURLE_OK);
        assert_true(sock != CURL_SOCKET_BAD);
        assert_true(peer_closed(sock, harness_now_ms() + 5000));
        harness_resp_clear(&r);
        assert_int_equal(curl_easy_perform(e), CURLE_OK);
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &r.status);
        curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &conns);
        assert_int_equal(r.status, 200);
        assert_int_equal(conns, 1);
        /* a long poll of 5 s on that same connection: parked, no deadline cuts it */
        cursor = cursor_now(&s, HARNESS_TOKEN_A);
        snprintf(path, sizeof(path), "%s/v1/sync/wait?cursor=%s&timeout=5", s.base, cursor);
        curl_easy_setopt(e, CURLOPT_URL, path);
        harness_resp_clear(&r);
        took = harness_now_ms();
        assert_int_equal(curl_easy_perform(e), CURLE_OK);
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &r.status);
        assert_int_equal(r.status, 204);
        assert_true(harness_now_ms() - took >= 4500);
        harness_easy_free(e);
        harness_resp_clear(&r);
        free(cursor);
        stop(&s);
}

/* A long poll whose client hangs up gives its place back at once: with one
 * long poll allowed per account, the next one is parked (204 after its 1 s)
 * right after the hang-up, not 429 for the rest of the first one's 60 s; and
 * with 16 connections, 40 clients that send a long poll and hang up never
 * lock the server. */
static void test_hangup_while_parked(void **state) {
        static const char *const extra[] = { "--max-waits-per-account", "1", "--max-connections", "16", NULL };
        struct harness_syncd s;
        struct rawclient_tls t;
        struct harness_resp r;
        char *cursor, req[256], path[160], buf[2048];
        uint64_t deadline, t0;
        long status = 0;

        (void) state;
        start(&s, false, extra);
        cursor = cursor_now(&s, HARNESS_TOKEN_A);
        snprintf(path, sizeof(path), "/v1/sync/wait?cursor=%s&timeout=1", cursor);
        snprintf(req, sizeof(req), "GET /v1/sync/wait?cursor=%s&timeout=60 HTTP/1.1\r\nHost: localhost\r\n"
                 AUTH_A "\r\n", cursor);
        tls_open(&t, &s, NULL);
        assert_int_equal(rawclient_tls_send(&t, req, strlen(req)), 0);
        deadline = harness_now_ms() + 10000;
        while (status != 429 && harness_now_ms() < deadline) {  /* until it is parked */
                status = request_from(&s, NULL, "GET", path, HARNESS_TOKEN_A, NULL, NULL, 5000, &r);
                harness_resp_clear(&r);
                /* the probe came first and parked, so the long poll was refused: again */
                if (status != 429 && rawclient_tls_answer(&t, buf, sizeof(buf), harness_now_ms()) == 429)
                        assert_int_equal(rawclient_tls_send(&t, req, strlen(req)), 0);
        }
        assert_int_equal(status, 429);
        t0 = harness_now_ms();
        rawclient_tls_close(&t);
        while (status != 204 && harness_now_ms() < t0 + 5000) {
                status = request_from(&s, NULL, "GET", path, HARNESS_TOKEN_A, NULL, NULL, 5000, &r);
                harness_resp_clear(&r);
        }
        assert_int_equal(status, 204);
        printf("FIGURE a parked long poll's place back %llu ms after its client hung up (incl. a 1 s wait)\n",
               (unsigned long long) (harness_now_ms() - t0));
        /* 40 send-and-hang-up long polls through 16 places, one after another */
        free(cursor);
        cursor = cursor_now(&s, HARNESS_TOKEN_B);
        snprintf(req, sizeof(req), "GET /v1/sync/wait?cursor=%s&timeout=60 HTTP/1.1\r\nHost: localhost\r\n"
                 "Authorization: Bearer " HARNESS_TOKEN_B "\r\n\r\n", cursor);
        for (int i = 0; i < 40; i++) {
                tls_open(&t, &s, NULL);
                assert_int_equal(rawclient_tls_send(&t, req, strlen(req)), 0);
                rawclient_tls_close(&t);
        }
        assert_int_equal(status_from(&s, NULL, 5000), 200);
        free(cursor);
        stop(&s);
}

/* At most 3 long polls per account and 4 per address: the 4th of an
 * account and the 5th of an address get 429 rate_limited with Retry-After
 * (when the first of them ends); another address is not held to the first
 * one's share. */
static void test_wait_limits(void **state) {
        static const char *const extra[] = { "--max-waits-per-account", "3", "--max-waits-per-ip", "4", NULL };
        struct harness_syncd s;
        struct harness_resp r;
        struct waits w = {};
        char *ca, *cb, path[160], buf[16];
        cJSON *j;

        (void) state;
        start(&s, false, extra);
        ca = cursor_now(&s, HARNESS_TOKEN_A);
        cb = cursor_now(&s, HARNESS_TOKEN_B);
        for (int i = 0; i < 3; i++)
                waits_add(&w, &s, HARNESS_TOKEN_A, ca, NULL, 30);
        waits_add(&w, &s, HARNESS_TOKEN_B, cb, NULL, 30);
        waits_add(&w, &s, HARNESS_TOKEN_B, cb, "127.0.0.2", 30);
        waits_sent(&w, &s, NULL);
        assert_int_equal(w.n_done, 0);
        /* alice's 4th, from a third address */
        snprintf(path, sizeof(path), "/v1/sync/wait?cursor=%s&timeout=30", ca);
        assert_int_equal(request_from(&s, "127.0.0.3", "GET", path, HARNESS_TOKEN_A, NULL, NULL, 5000, &r), 429);
        j = cJSON_Parse(r.body);
        assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "error"), "code")->valuestring,
                            "rate_limited");
        cJSON_Delete(j);
        assert_non_null(strstr(r.body, "account"));
        assert_non_null(harness_header(&r, "Retry-After", buf, sizeof(buf)));
        assert_true(atoi(buf) >= 25 && atoi(buf) <= 30);
        harness_resp_clear(&r);
        /* bob's 3rd, the 5th from 127.0.0.1 */
        snprintf(path, sizeof(path), "/v1/sync/wait?cursor=%s&timeout=30", cb);
        assert_int_equal(request_from(&s, NULL, "GET", path, HARNESS_TOKEN_B, NULL, NULL, 5000, &r), 429);
        assert_non_null(strstr(r.body, "address"));
        assert_non_null(harness_header(&r, "Retry-After", buf, sizeof(buf)));
        harness_resp_clear(&r);
        /* a push of each account wakes its waits, the other address's too */
        assert_int_equal(push(&s, HARNESS_TOKEN_A, 5000), 200);
        assert_int_equal(push(&s, HARNESS_TOKEN_B, 5000), 200);
        assert_int_equal(waits_run(&w, w.n, harness_now_ms() + 5000), w.n);
        for (int i = 0; i < w.n; i++)
                assert_int_equal(w.r[i].status, 200);
        waits_free(&w);
        free(ca);
        free(cb);
        stop(&s);
}

/* 16 places, two kept free: when a 15th connection comes, the oldest parked
 * long poll is answered 204 at once and its connection closed; the others
 * stay parked, and a push still gets through. */
static void test_shed_oldest_first(void **state) {
        static const char *const extra[] = { "--max-connections", "16", NULL };
        struct harness_syncd s;
        struct harness_resp kr;
        struct waits w = {};
        char *cursor;
        CURL *keep;
        cJSON *j;

        (void) state;
        start(&s, false, extra);
        /* one kept-alive connection for the cursor and the round trips: 1 place */
        keep = harness_easy(&s, "GET", "/v1/sync/status", HARNESS_TOKEN_A, NULL, NULL, &kr);
        assert_int_equal(curl_easy_perform(keep), CURLE_OK);
        j = cJSON_Parse(kr.body);
        cursor = strdup(cJSON_GetObjectItem(j, "cursor")->valuestring);
        cJSON_Delete(j);
        harness_resp_clear(&kr);
        waits_add(&w, &s, HARNESS_TOKEN_A, cursor, NULL, 60);
        waits_sent(&w, &s, keep);
        for (int i = 1; i < 13; i++)            /* 13 waits + 1 = 14 places: none shed */
                waits_add(&w, &s, HARNESS_TOKEN_A, cursor, NULL, 60);
        waits_sent(&w, &s, keep);
        assert_int_equal(w.n_done, 0);
        waits_add(&w, &s, HARNESS_TOKEN_A, cursor, NULL, 60);   /* the 15th */
        assert_int_equal(waits_run(&w, 1, harness_now_ms() + 5000), 1);
        assert_true(w.done[0]);
        assert_int_equal(w.r[0].curl_code, CURLE_OK);
        assert_int_equal(w.r[0].status, 204);
        waits_sent(&w, &s, keep);
        assert_int_equal(w.n_done, 1);
        /* a push (a new connection: one more shed) wakes the rest */
        assert_int_equal(push(&s, HARNESS_TOKEN_A, 5000), 200);
        assert_int_equal(waits_run(&w, w.n, harness_now_ms() + 5000), w.n);
        for (int i = 1; i < w.n; i++)
                assert_true(w.r[i].status == 200 || w.r[i].status == 204);
        harness_easy_free(keep);
        harness_resp_clear(&kr);
        waits_free(&w);
        free(cursor);
        stop(&s);
}

/* 48 genuine long polls of one account from 3 addresses on a server of 16
 * places: another account's push is answered at once, every long poll ends
 * in 200 or 204, none in a transport error. */
static void test_genuine_waits_flood(void **state) {
        static const char *const extra[] = { "--max-connections", "16", NULL };
        struct harness_syncd s;
        struct waits w = {};
        char *cursor;
        uint64_t t0;
        int ok = 0;

        (void) state;
        start(&s, false, extra);
        cursor = cursor_now(&s, HARNESS_TOKEN_A);
        for (int i = 0; i < 48; i++)
                waits_add(&w, &s, HARNESS_TOKEN_A, cursor, (const char *[]) { NULL, "127.0.0.2", "127.0.0.3" }[i % 3],
                          20);
        waits_run(&w, w.n, harness_now_ms() + 1000);
        t0 = harness_now_ms();
        assert_int_equal(push(&s, HARNESS_TOKEN_B, 5000), 200);
        printf("FIGURE 48 long polls on 16 places: another account's push answered in %llu ms\n",
               (unsigned long long) (harness_now_ms() - t0));
        assert_int_equal(push(&s, HARNESS_TOKEN_A, 5000), 200);        /* wakes those still parked */
        assert_int_equal(waits_run(&w, w.n, harness_now_ms() + 30000), w.n);
        for (int i = 0; i < w.n; i++) {
                if (w.r[i].curl_code != CURLE_OK)
                        fprintf(stderr, "long poll %d: %s\n", i, curl_easy_strerror(w.r[i].curl_code));
                assert_int_equal(w.r[i].curl_code, CURLE_OK);
                assert_true(w.r[i].status == 200 || w.r[i].status == 204);
                ok++;
        }
        assert_int_equal(ok, 48);
        waits_free(&w);
        free(cursor);
        stop(&s);
}

static bool valid_utf8_printable(const char *s) {
        const unsigned char *p = (const unsigned char *) s;

        while (*p) {
                int n = *p < 0x80 ? 0 : (*p & 0xe0) == 0xc0 ? 1 : (*p & 0xf0) == 0xe0 ? 2 : (*p & 0xf8) == 0xf0 ? 3 : -1;

                if (n < 0 || (n == 0 && *p < 0x20))
                        return false;
                for (p++; n > 0; n--, p++)
                        if ((*p & 0xc0) != 0x80)
                                return false;
        }
        return true;
}

/* A raw request's answer: status, and whether the server then closed. */
static void expect_raw(const struct harness_syncd *s, const char *req, size_t len, int status, bool closes) {
        char buf[8192];
        bool closed = false;
        int got = raw_request(s, req, len, buf, sizeof(buf), &closed);

        if (got != status || closed != closes)
                fprintf(stderr, "for %.60s...: %d%s\n%s\n", req, got, closed ? " (closed)" : "", buf);
        assert_int_equal(got, status);
        assert_int_equal(closed, closes);
        if (status == 400)
                assert_non_null(strstr(buf, "\"bad_request\""));
}

#define RAW(s) s, sizeof(s) - 1

/* RFC 9112 framing and the request target: two different Content-Lengths, a
 * length with a transfer coding, no Host or two: 400 and closed. %00, a raw
 * NUL or a non-ASCII byte in the target: 400 (a device id is not cut short
 * and stored). A 404 quotes the path as printable ASCII, shortened. */
static void test_strict_http(void **state) {
        static const char dev_body[] = "{\"kind\": \"host\", \"last_seen_ms\": 1}";
        struct harness_syncd s;
        struct harness_resp r;
        char req[4096], buf[8192], *p;
        cJSON *j;
        const char *msg;

        (void) state;
        start(&s, false, NULL);
        expect_raw(&s, RAW("POST /v1/sync/pull HTTP/1.1\r\nHost: localhost\r\n" AUTH_A "Content-Length: 28\r\n"
                           "Content-Length: 5\r\n\r\n{\"cursor\": null, \"limit\": 1}"), 400, true);
        expect_raw(&s, RAW("POST /v1/sync/pull HTTP/1.1\r\nHost: localhost\r\n" AUTH_A "Content-Length: 28\r\n"
                           "Transfer-Encoding: chunked\r\n\r\n1c\r\n{\"cursor\": null, \"limit\": 1}\r\n0\r\n\r\n"),
                   400, true);
        expect_raw(&s, RAW("POST /v1/sync/pull HTTP/1.1\r\nHost: localhost\r\n" AUTH_A "Content-Length: 28\r\n"
                           "Content-Length: 28\r\n\r\n{\"cursor\": null, \"limit\": 1}"), 200, false);
        expect_raw(&s, RAW("GET /v1/sync/status HTTP/1.1\r\n" AUTH_A "\r\n"), 400, true);
        expect_raw(&s, RAW("GET /v1/sync/status HTTP/1.1\r\nHost: localhost\r\nHost: other\r\n" AUTH_A "\r\n"),
                   400, true);
        expect_raw(&s, RAW("GET /v1/sync/status HTTP/1.0\r\n" AUTH_A "\r\n"), 200, true);     /* 1.0: no Host */
        /* the device id cut short by %00 would be a valid one */
        snprintf(req, sizeof(req), "PUT /v1/devices/00a1b2c3d4e5f607%%00junk HTTP/1.1\r\nHost: localhost\r\n" AUTH_A
                 "Content-Length: %zu\r\n\r\n%s", strlen(dev_body), dev_body);
        expect_raw(&s, req, strlen(req), 400, true);
        expect_raw(&s, RAW("GET /v1/sync/wait?cursor=%00&timeout=1 HTTP/1.1\r\nHost: localhost\r\n" AUTH_A "\r\n"),
                   400, true);
        expect_raw(&s, RAW("GET /v1/sync/st\xff" "atus HTTP/1.1\r\nHost: localhost\r\n" AUTH_A "\r\n"), 400, true);
        assert_int_equal(request_from(&s, NULL, "GET", "/v1/devices", HARNESS_TOKEN_A, NULL, NULL, 5000, &r), 200);
        assert_null(strstr(r.body, "00a1b2c3d4e5f607"));
        harness_resp_clear(&r);
        /* a 404 of invalid UTF-8, control bytes and 600 more bytes: printable, short */
        p = req + sprintf(req, "GET /v1/%%C3%%28%%01%%FF%%0A\"");
        memset(p, 'x', 600);
        sprintf(p + 600, " HTTP/1.1\r\nHost: localhost\r\n" AUTH_A "\r\n");
        assert_int_equal(raw_request(&s, req, strlen(req), buf, sizeof(buf), NULL), 404);
        j = cJSON_Parse(strstr(buf, "\r\n\r\n") + 4);
        assert_non_null(j);
        msg = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "error"), "message")->valuestring;
        assert_true(valid_utf8_printable(strstr(buf, "\r\n\r\n") + 4));
        assert_true(valid_utf8_printable(msg));
        assert_true(strlen(msg) < 200);
        assert_non_null(strstr(msg, "/v1/%C3(%01%FF%0A\"xxx"));
        cJSON_Delete(j);
        stop(&s);
}

#define HANDSHAKES 200

/* 200 failed TLS handshakes (plain HTTP on the TLS port) make one log line,
 * and one more 10 s later that counts the other 199. */
static void test_handshake_log_flood(void **state) {
        static const char plain[] = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
        struct harness_syncd s;
        size_t lines;

        (void) state;
        start(&s, true, NULL);
        for (int i = 0; i < HANDSHAKES; i++) {
                int fd = rawclient_tcp(NULL, s.port, harness_now_ms() + 5000);

                assert_true(fd >= 0);
                assert_int_equal(send(fd, plain, sizeof(plain) - 1, MSG_NOSIGNAL), (ssize_t) sizeof(plain) - 1);
                assert_true(rawclient_closed(fd, harness_now_ms() + 5000));
                close(fd);
        }
        assert_int_equal(status_from(&s, NULL, 5000), 200);
        lines = harness_log_count(&s, "handshake");
        if (lines != 1)
                fprintf(stderr, "%s", s.log ?: "");
        assert_int_equal(lines, 1);
        assert_true(harness_log_wait(&s, "199 more TLS handshakes failed", harness_now_ms() + 13000));
        stop(&s);
}

/* An open-file limit of 200 (soft 100): syncd raises the soft limit to 200
 * and says in one line that it lowers --max-connections to fit. */
static void test_fd_limit(void **state) {
        struct harness_syncd s;
        char path[64], line[256];
        unsigned soft = 0, hard = 0;
        FILE *f;

        (void) state;
        start_limited(&s, true, 100, 200, NULL);
        assert_true(harness_log_wait(&s, "--max-connections lowered from 1000 to 136", harness_now_ms() + 5000));
        snprintf(path, sizeof(path), "/proc/%d/limits", (int) s.pid);
        f = fopen(path, "re");
        assert_non_null(f);
        while (fgets(line, sizeof(line), f))
                if (strncmp(line, "Max open files", 14) == 0)
                        assert_int_equal(sscanf(line + 14, "%u %u", &soft, &hard), 2);
        fclose(f);
        assert_int_equal(soft, 200);
        assert_int_equal(hard, 200);
        assert_int_equal(status_from(&s, NULL, 5000), 200);
        assert_int_equal(harness_log_count(&s, "lowered"), 1);
        stop(&s);
}

static int setup(void **state) {
        (void) state;
        curl_global_init(CURL_GLOBAL_DEFAULT);
        gnutls_global_init();
        if (harness_dir(&base) < 0) {
                fprintf(stderr, "cannot make certificates\n");
                return -1;
        }
        return 0;
}

static int teardown(void **state) {
        (void) state;
        harness_cleanup(&base);
        gnutls_global_deinit();
        curl_global_cleanup();
        return 0;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_tls_versions),
                cmocka_unit_test(test_flood_one_address),
                cmocka_unit_test(test_flood_many_addresses),
                cmocka_unit_test(test_deadlines),
                cmocka_unit_test(test_hangup_while_parked),
                cmocka_unit_test(test_wait_limits),
                cmocka_unit_test(test_shed_oldest_first),
                cmocka_unit_test(test_genuine_waits_flood),
                cmocka_unit_test(test_strict_http),
                cmocka_unit_test(test_handshake_log_flood),
                cmocka_unit_test(test_fd_limit),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
