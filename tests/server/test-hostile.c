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
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
