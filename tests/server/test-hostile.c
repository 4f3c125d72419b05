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
#include <sys/time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>
#include <curl/curl.h>

#include "tests/lib/harness.h"
#include "tests/lib/rawclient.h"

#define AUTH_A "Authorization: Bearer " HARNESS_TOKEN_A "\r\n"
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
                cmocka_unit_test(test_handshake_log_flood),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
