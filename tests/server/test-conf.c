/* SPDX-License-Identifier: MIT */
/* syncd's configuration file: server/conf.c on its own (the shipped
 * systemd/syncd.conf, every key, the comment and line rules, and each kind
 * of bad file refused with the one line "FILE:LINE: what"), then the built
 * syncd with --config: a file alone is enough to serve, the command line
 * wins over the file, a bad file stops the start with exit status 78 and that
 * line, and the key and tokens come from systemd's credentials when neither
 * names them. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "server/conf.h"
#include "tests/lib/harness.h"

static struct harness_syncd D;          /* certificates and tokens; no server of its own */

static const char *conf_path(void) {
        static char path[100];

        snprintf(path, sizeof(path), "%s/syncd.conf", D.dir);
        return path;
}

static void write_conf(const char *text) {
        FILE *f = fopen(conf_path(), "we");

        assert_non_null(f);
        fputs(text, f);
        assert_int_equal(fclose(f), 0);
}

/* The shipped file: the unit's paths, the limits at their defaults. */
static void test_shipped(void **state) {
        struct settings s = {}, def = SETTINGS_DEFAULT;
        char *error = NULL;

        (void) state;
        assert_int_equal(conf_load("systemd/syncd.conf", &s, &error), 0);    /* the suites run from the top */
        assert_null(error);
        assert_string_equal(s.listen, "0.0.0.0:8443");
        assert_string_equal(s.cert, "/etc/bridged/syncd.pem");
        assert_null(s.key);
        assert_null(s.tokens);
        assert_string_equal(s.db, "/var/lib/syncd/syncd.db");
        for (size_t i = 0; i < settings_n_keys; i++)
                if (settings_keys[i].kind == SETTINGS_NUMBER)
                        assert_int_equal(*settings_number(&s, &settings_keys[i]),
                                         *settings_number(&def, &settings_keys[i]));
        settings_done(&s);
}

/* Every key, sections repeated, comments and blanks wherever the rules
 * allow them, a byte-order mark and CRLF line ends. */
static void test_every_key(void **state) {
        struct settings s = {};
        char *error = NULL;

        (void) state;
        write_conf("\xef\xbb\xbf# syncd\r\n"
                   "[Server]\r\n"
                   "  Listen=[::1]:8443   # indented, and a comment after\n"
                   "Certificate=/etc/c.pem ; a ';' comment\n"
                   "Key=/etc/k.pem\n"
                   "Tokens=/etc/tokens\n"
                   "\n"
                   "[Limits]\n"
                   "MaxSkewSec=0\n"
                   "MaxReplayKiB=1048576\n"
                   "MaxPushesPerMinute=0\n"
                   "MaxDevices=1000\n"
                   "MaxConnections=5\n"
                   "MaxConnectionsPerIP=0\n"
                   "MaxWaitsPerAccount=7\n"
                   "MaxWaitsPerIP=8\n"
                   "HeaderTimeoutSec=1\n"
                   "BodyTimeoutSec=3600\n"
                   "IdleTimeoutSec=2\n"
                   "[Server]\n"
                   "Database=/var/db\n");
        assert_int_equal(conf_load(conf_path(), &s, &error), 0);
        assert_string_equal(s.listen, "[::1]:8443");
        assert_string_equal(s.cert, "/etc/c.pem");
        assert_string_equal(s.key, "/etc/k.pem");
        assert_string_equal(s.tokens, "/etc/tokens");
        assert_string_equal(s.db, "/var/db");
        assert_int_equal(s.max_skew_sec, 0);
        assert_int_equal(s.max_replay_kib, 1048576);
        assert_int_equal(s.max_pushes_per_minute, 0);
        assert_int_equal(s.max_devices, 1000);
        assert_int_equal(s.max_connections, 5);
        assert_int_equal(s.max_connections_per_ip, 0);
        assert_int_equal(s.max_waits_per_account, 7);
        assert_int_equal(s.max_waits_per_ip, 8);
        assert_int_equal(s.header_timeout_sec, 1);
        assert_int_equal(s.body_timeout_sec, 3600);
        assert_int_equal(s.idle_timeout_sec, 2);
        settings_done(&s);
        /* an empty path is unset, an empty file all defaults */
        write_conf("[Server]\nKey=\n");
        assert_int_equal(conf_load(conf_path(), &s, &error), 0);
        assert_null(s.key);
        assert_int_equal(s.max_devices, SETTINGS_DEVICES_DEFAULT);
        settings_done(&s);
}

/* Each bad file: -EINVAL and exactly "FILE:LINE: what"; nothing written to
 * the settings. */
static void test_bad_files(void **state) {
        static const struct {
                const char *text;
                unsigned line;
                const char *what;
        } cases[] = {
                { "[Server]\n[Sync]\n", 2, "unknown section [Sync] (syncd knows [Server] and [Limits])" },
                { "[Server]\nPort=8443\n", 2, "unknown key Port= in [Server]" },
                { "[Server]\nMaxDevices=3\n", 2, "unknown key MaxDevices= in [Server] (it belongs in [Limits])" },
                { "Listen=127.0.0.1:8443\n", 1, "Listen= comes before any [Section]" },
                { "[Limits]\nMaxDevices=3\n\nMaxDevices=4\n", 4, "MaxDevices= is already set on line 2" },
                { "[Limits]\nMaxDevices=1001\n", 2, "MaxDevices=1001 is not a number 1..1000 (decimal digits only)" },
                { "[Limits]\nMaxSkewSec=-1\n", 2, "MaxSkewSec=-1 is not a number 0..86400 (decimal digits only)" },
                { "[Limits]\nMaxSkewSec=0x10\n", 2, "MaxSkewSec=0x10 is not a number 0..86400 (decimal digits only)" },
                { "[Limits]\nMaxConnections=99999999999999999999\n", 2,
                  "MaxConnections=99999999999999999999 is not a number 1..1000000 (decimal digits only)" },
                { "[Limits]\nIdleTimeoutSec=\n", 2, "IdleTimeoutSec= is empty; it takes a number 1..3600" },
                { "[Server]\nTokens=tokens\n", 2, "Tokens=tokens is not an absolute path" },
                { "[Server]\nListen=8443\n", 2,
                  "Listen=8443 is not ADDR:PORT (127.0.0.1:8443, [::1]:8443, host:8443) of this host" },
                { "[Server]\nListen=127.0.0.1:65536\n", 2,
                  "Listen=127.0.0.1:65536 is not ADDR:PORT (127.0.0.1:8443, [::1]:8443, host:8443) of this host" },
                { "[Server]\nthis is not a setting\n", 2, "expected [Section], Key=Value or a comment" },
                { "[Server\n", 1, "expected a section header like [Server]" },
                { "[Server]\nKey=/a\x01" "b\n", 2, "contains a control character" },
        };
        char *error = NULL, want[512];

        (void) state;
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                struct settings s = { .max_devices = 12345 };

                write_conf(cases[i].text);
                assert_int_equal(conf_load(conf_path(), &s, &error), -EINVAL);
                snprintf(want, sizeof(want), "%s:%u: %s", conf_path(), cases[i].line, cases[i].what);
                assert_non_null(error);
                if (strcmp(error, want) != 0)
                        fail_msg("case %zu: \"%s\", expected \"%s\"", i, error, want);
                assert_int_equal(s.max_devices, 12345);
                free(error);
                error = NULL;
        }
}

static void test_long_line_and_missing_file(void **state) {
        struct settings s = {};
        char *error = NULL, line[300], want[512];

        (void) state;
        memset(line, 'a', sizeof(line));
        memcpy(line, "[Server]\nKey=/", 14);
        strcpy(line + 250, "\n");
        write_conf(line);
        assert_int_equal(conf_load(conf_path(), &s, &error), -EINVAL);
        snprintf(want, sizeof(want), "%s:2: line is longer than 198 characters", conf_path());
        assert_string_equal(error, want);
        free(error);
        error = NULL;
        assert_int_equal(unlink(conf_path()), 0);
        assert_int_equal(conf_load(conf_path(), &s, &error), -ENOENT);
        snprintf(want, sizeof(want), "%s: cannot open: No such file or directory", conf_path());
        assert_string_equal(error, want);
        free(error);
}

/* The file alone: syncd serves with only --config on its command line. */
static void test_file_alone(void **state) {
        struct harness_syncd s = D;
        struct harness_resp r;
        char text[1024];

        (void) state;
        snprintf(text, sizeof(text),
                 "[Server]\nListen=127.0.0.1:0\nCertificate=%s/server.pem\nKey=%s/server.key\n"
                 "Tokens=%s/tokens\nDatabase=%s/alone.db\n", D.dir, D.dir, D.dir, D.dir);
        write_conf(text);
        snprintf(s.config, sizeof(s.config), "%s", conf_path());
        s.config_only = true;
        assert_int_equal(harness_start(&s, false, NULL), 0);
        assert_int_equal(harness_request(&s, "GET", "/v1/sync/status", HARNESS_TOKEN_A, NULL, NULL, &r), 0);
        assert_int_equal(r.status, 200);
        harness_resp_clear(&r);
        assert_int_equal(harness_stop(&s), 0);
}

static long put_device(const struct harness_syncd *s, int i) {
        struct harness_resp r;
        char path[64], body[128];
        long status;

        snprintf(path, sizeof(path), "/v1/devices/00000000000000%02x", i);
        snprintf(body, sizeof(body), "{\"kind\": \"buds\", \"last_seen_ms\": %d}", 1000 + i);
        assert_int_equal(harness_request(s, "PUT", path, HARNESS_TOKEN_A, body, NULL, &r), 0);
        status = r.status;
        harness_resp_clear(&r);
        return status;
}

static int count_devices(const struct harness_syncd *s) {
        struct harness_resp r;
        int n = 0;

        assert_int_equal(harness_request(s, "GET", "/v1/devices", HARNESS_TOKEN_A, NULL, NULL, &r), 0);
        assert_int_equal(r.status, 200);
        for (const char *p = r.body; (p = strstr(p, "\"id\"")); p++)
                n++;
        harness_resp_clear(&r);
        return n;
}

/* The command line wins: the file's tokens file does not exist and its
 * device cap is 1; the harness's --tokens and an explicit --max-devices 3
 * are what syncd uses. Without --max-devices, the file's 1 holds. */
static void test_command_line_wins(void **state) {
        static const char *const extra[] = { "--max-devices", "3", NULL };
        struct harness_syncd s = D;

        (void) state;
        write_conf("[Server]\nTokens=/nonexistent/tokens\nDatabase=/nonexistent/db\n[Limits]\nMaxDevices=1\n");
        snprintf(s.config, sizeof(s.config), "%s", conf_path());
        snprintf(s.db, sizeof(s.db), "%s/wins.db", D.dir);
        assert_int_equal(harness_start(&s, false, extra), 0);
        for (int i = 0; i < 5; i++)
                assert_int_equal(put_device(&s, i), 200);
        assert_int_equal(count_devices(&s), 3);
        assert_int_equal(harness_stop(&s), 0);
        s.port = 0;
        assert_int_equal(harness_start(&s, false, NULL), 0);
        assert_int_equal(put_device(&s, 9), 200);
        assert_int_equal(count_devices(&s), 1);
        assert_int_equal(harness_stop(&s), 0);
}

/* A bad file stops the start: exit status 78, one line, FILE:LINE. */
static void test_bad_file_stops_start(void **state) {
        char out[2048], want[512];

        (void) state;
        write_conf("[Server]\n\n[Limits]\nMaxDevices=0\n");
        assert_int_equal(harness_run_syncd((const char *[]) { "syncd", "--config", conf_path(), NULL }, out,
                                           sizeof(out)), 78);
        snprintf(want, sizeof(want), "syncd: %s:4: MaxDevices=0 is not a number 1..1000 (decimal digits only)\n",
                 conf_path());
        assert_string_equal(out, want);
        /* a good file without a required setting: the usage error names both places */
        write_conf("[Server]\nListen=127.0.0.1:0\n");
        assert_int_equal(harness_run_syncd((const char *[]) { "syncd", "--config", conf_path(), NULL }, out,
                                           sizeof(out)), 2);
        snprintf(want, sizeof(want), "--cert is required (or Certificate= in [Server] of %s)", conf_path());
        assert_non_null(strstr(out, want));
        assert_int_equal(harness_run_syncd((const char *[]) { "syncd", "--config", "", NULL }, out, sizeof(out)),
                         2);
}

/* Neither the file nor the command line names the key or the tokens:
 * $CREDENTIALS_DIRECTORY/key and /tokens are used, as syncd.service
 * provides them. */
static void test_credentials(void **state) {
        struct harness_syncd s = D;
        struct harness_resp r;
        char text[1024], env[200], cmd[512];

        (void) state;
        snprintf(cmd, sizeof(cmd), "mkdir -p %s/creds && cp %s/server.key %s/creds/key && cp %s/tokens %s/creds/tokens",
                 D.dir, D.dir, D.dir, D.dir, D.dir);
        assert_int_equal(system(cmd), 0);
        snprintf(text, sizeof(text), "[Server]\nListen=127.0.0.1:0\nCertificate=%s/server.pem\nDatabase=%s/cred.db\n",
                 D.dir, D.dir);
        write_conf(text);
        snprintf(env, sizeof(env), "CREDENTIALS_DIRECTORY=%s/creds", D.dir);
        snprintf(s.config, sizeof(s.config), "%s", conf_path());
        s.config_only = true;
        s.env = (const char *const[]) { env, NULL };
        assert_int_equal(harness_start(&s, false, NULL), 0);
        assert_int_equal(harness_request(&s, "GET", "/v1/sync/status", HARNESS_TOKEN_B, NULL, NULL, &r), 0);
        assert_int_equal(r.status, 200);
        harness_resp_clear(&r);
        assert_int_equal(harness_stop(&s), 0);
}

static int setup(void **state) {
        (void) state;
        curl_global_init(CURL_GLOBAL_DEFAULT);
        return harness_dir(&D);
}

static int teardown(void **state) {
        (void) state;
        harness_cleanup(&D);
        curl_global_cleanup();
        return 0;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_shipped),
                cmocka_unit_test(test_every_key),
                cmocka_unit_test(test_bad_files),
                cmocka_unit_test(test_long_line_and_missing_file),
                cmocka_unit_test(test_file_alone),
                cmocka_unit_test(test_command_line_wins),
                cmocka_unit_test(test_bad_file_stops_start),
                cmocka_unit_test(test_credentials),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
