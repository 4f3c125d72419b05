/* SPDX-License-Identifier: MIT */
/* syncd's reload (SIGHUP): the tokens, the certificate and the key read again
 * while connections and parked long polls stay. Long polls parked before
 * the reload are answered after it (those of an account the new file drops
 * too); a new token works at once and a dropped one no longer does; a bad
 * tokens file changes nothing and logs one line naming FILE:LINE; a renewed
 * certificate is served to new connections while a connection made before
 * keeps going, and a key that does not match is refused with one line; the
 * fresh copies of systemd credentials that syncd.service's ExecReload= leaves
 * are the ones read; and what systemd is told (READY=1, RELOADING=1, STATUS=,
 * WATCHDOG=1, STOPPING=1). Every wait is on an event (the reload's log line, a
 * 429 that says the long polls are parked, a transfer's end) with a
 * deadline. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>
#include <curl/curl.h>

#include "tests/lib/harness.h"

#define DEV_HDR "Device-Id: 00a1b2c3d4e5f607"
#define TOKEN_C "token-carol"
#define MAX_WAITS 16
#define RELOAD_DEADLINE_MS 10000

static struct harness_syncd base;       /* the certificates every server here uses */

/* Servers: each its own directory (tokens, certificate and key files that a
 * test rewrites), database and captured log. */

static void copy(const char *from_dir, const char *from, const char *to_dir, const char *to) {
        char cmd[512];

        snprintf(cmd, sizeof(cmd), "cp '%s/%s' '%s/%s' && chmod 600 '%s/%s'", from_dir, from, to_dir, to, to_dir, to);
        assert_int_equal(system(cmd), 0);
}

static void write_file(const struct harness_syncd *s, const char *name, const char *text) {
        char path[192], tmp[200];
        FILE *f;

        /* written beside and renamed, as a careful administrator (or certbot) does */
        snprintf(path, sizeof(path), "%s/%s", s->dir, name);
        snprintf(tmp, sizeof(tmp), "%s.new", path);
        f = fopen(tmp, "we");
        assert_non_null(f);
        fputs(text, f);
        assert_int_equal(fclose(f), 0);
        assert_int_equal(chmod(tmp, 0600), 0);
        assert_int_equal(rename(tmp, path), 0);
}

/* A server in a directory of its own with live.pem and live.key (copies of
 * server.pem and .key) and the base's tokens. */
static void prepare(struct harness_syncd *s) {
        memset(s, 0, sizeof(*s));
        s->pid = -1;
        s->pidfd = -1;
        strcpy(s->dir, "/tmp/syncd-reload-XXXXXX");
        assert_non_null(mkdtemp(s->dir));
        strcpy(s->ca, base.ca);
        copy(base.dir, "server.pem", s->dir, "live.pem");
        copy(base.dir, "server.key", s->dir, "live.key");
        copy(base.dir, "tokens", s->dir, "tokens");
        s->cert = "live";
        s->capture_log = true;
}

static void start(struct harness_syncd *s, const char *const *extra) {
        prepare(s);
        assert_int_equal(harness_start(s, false, extra), 0);
}

static void finish(struct harness_syncd *s) {
        assert_int_equal(harness_stop(s), 0);
        harness_cleanup(s);
}

/* SIGHUP, then syncd's closing line of that reload (the n-th such line);
 * the milliseconds it took. */
static uint64_t reload(struct harness_syncd *s, const char *closing, size_t n) {
        uint64_t t0 = harness_now_ms();

        assert_int_equal(kill(s->pid, SIGHUP), 0);
        assert_true(harness_log_wait_count(s, closing, n, t0 + RELOAD_DEADLINE_MS));
        return harness_now_ms() - t0;
}

/* Requests */

static long request(const struct harness_syncd *s, const char *method, const char *path, const char *token,
                    const char *body, const char *const *headers) {
        struct harness_resp r;
        long status;

        if (harness_request(s, method, path, token, body, headers, &r) < 0)
                r.status = 0;
        status = r.status;
        harness_resp_clear(&r);
        return status;
}

static long status_of(const struct harness_syncd *s, const char *token) {
        return request(s, "GET", "/v1/sync/status", token, NULL, NULL);
}

static char *cursor_now(const struct harness_syncd *s, const char *token) {
        struct harness_resp r;
        cJSON *j;
        char *c;

        assert_int_equal(harness_request(s, "GET", "/v1/sync/status", token, NULL, NULL, &r), 0);
        assert_int_equal(r.status, 200);
        j = cJSON_Parse(r.body);
        c = strdup(cJSON_GetObjectItem(j, "cursor")->valuestring);
        cJSON_Delete(j);
        harness_resp_clear(&r);
        return c;
}

static long push(const struct harness_syncd *s, const char *token) {
        static unsigned c;
        char body[320], key[80];
        const char *headers[] = { key, DEV_HDR, NULL };

        snprintf(key, sizeof(key), "Idempotency-Key: 7c2f7b63-3a1b-4d47-8e1c-%012x", ++c);
        snprintf(body, sizeof(body), "{\"schema\": 1, \"records\": [{\"key\": \"eq.active\", \"family\": \"pro\", "
                 "\"stamp\": {\"ms\": %llu, \"c\": %u, \"origin\": \"00a1b2c3d4e5f607\"}, \"derived\": false, "
                 "\"value\": {\"preset\": \"flat\"}}]}", (unsigned long long) harness_wall_ms(), c);
        return request(s, "POST", "/v1/sync/push", token, body, headers);
}

/* Long polls on a curl multi handle, each on its own connection. */
struct waits {
        CURLM *m;
        CURL *e[MAX_WAITS];
        struct harness_resp r[MAX_WAITS];
        bool done[MAX_WAITS];
        int n, n_done;
};

static void waits_add(struct waits *w, const struct harness_syncd *s, const char *token, const char *cursor,
                      unsigned timeout_sec) {
        char path[160];
        int i = w->n++;

        assert_true(i < MAX_WAITS);
        if (!w->m)
                w->m = curl_multi_init();
        snprintf(path, sizeof(path), "/v1/sync/wait?cursor=%s&timeout=%u", cursor, timeout_sec);
        w->e[i] = harness_easy(s, "GET", path, token, NULL, NULL, &w->r[i]);
        curl_easy_setopt(w->e[i], CURLOPT_TIMEOUT_MS, 65000L);
        curl_easy_setopt(w->e[i], CURLOPT_FORBID_REUSE, 1L);
        curl_multi_add_handle(w->m, w->e[i]);
}

/* Drives the transfers until at least want are done or deadline passes;
 * how many are done. */
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

/* Until every long poll is on the wire; then one more of each account in
 * tokens must be refused 429: the account's limit is reached, so each one
 * sent is parked. (The probe's own TLS handshake takes the server through
 * its loop more than once, and the long polls were in its sockets before.) */
static void waits_parked(struct waits *w, const struct harness_syncd *s, const char *const *tokens,
                         const char *const *cursors) {
        uint64_t deadline = harness_now_ms() + 20000;
        char path[160];
        int sent = 0;

        while (sent < w->n && harness_now_ms() < deadline) {
                sent = 0;
                waits_run(w, w->n + 1, harness_now_ms() + 20);
                for (int i = 0; i < w->n; i++) {
                        long size = 0;

                        curl_easy_getinfo(w->e[i], CURLINFO_REQUEST_SIZE, &size);
                        sent += size > 0;
                }
        }
        assert_int_equal(sent, w->n);
        for (; *tokens; tokens++, cursors++) {
                snprintf(path, sizeof(path), "/v1/sync/wait?cursor=%s&timeout=1", *cursors);
                assert_int_equal(request(s, "GET", path, *tokens, NULL, NULL), 429);
        }
        assert_int_equal(waits_run(w, 1, harness_now_ms()), 0);
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

/* Tests */

/* Four long polls of alice (60 s) and four of bob (3 s) parked; the new
 * tokens file drops bob and brings carol. Carol is served at once and bob
 * is 401; none of the long polls ended with the reload; a push of alice's
 * answers hers 200, and bob's end 204 at their timeout, answered for an
 * account the table no longer names. */
static void test_parked_long_polls_survive(void **state) {
        static const char *const extra[] = { "--max-waits-per-account", "4", NULL };
        struct harness_syncd s;
        struct waits w = {};
        char *ca, *cb;
        uint64_t ms;

        (void) state;
        start(&s, extra);
        ca = cursor_now(&s, HARNESS_TOKEN_A);
        cb = cursor_now(&s, HARNESS_TOKEN_B);
        for (int i = 0; i < 4; i++)
                waits_add(&w, &s, HARNESS_TOKEN_A, ca, 60);
        for (int i = 0; i < 4; i++)
                waits_add(&w, &s, HARNESS_TOKEN_B, cb, 3);
        waits_parked(&w, &s, (const char *const[]) { HARNESS_TOKEN_A, HARNESS_TOKEN_B, NULL },
                     (const char *const[]) { ca, cb, NULL });
        assert_int_equal(status_of(&s, TOKEN_C), 401);
        write_file(&s, "tokens", HARNESS_TOKEN_A " alice\n" TOKEN_C " carol\n");
        ms = reload(&s, "reloaded in", 1);
        printf("FIGURE reload with 8 long polls parked: %llu ms from SIGHUP to its log line\n",
               (unsigned long long) ms);
        assert_int_equal(status_of(&s, TOKEN_C), 200);
        assert_int_equal(status_of(&s, HARNESS_TOKEN_B), 401);
        assert_int_equal(status_of(&s, HARNESS_TOKEN_A), 200);
        assert_int_equal(waits_run(&w, 1, harness_now_ms() + 50), 0);
        assert_int_equal(push(&s, HARNESS_TOKEN_A), 200);
        assert_int_equal(waits_run(&w, w.n, harness_now_ms() + 15000), w.n);
        for (int i = 0; i < w.n; i++) {
                assert_int_equal(w.r[i].curl_code, CURLE_OK);
                assert_int_equal(w.r[i].status, i < 4 ? 200 : 204);
        }
        assert_int_equal(harness_log_count(&s, "reload:"), 0);
        waits_free(&w);
        free(ca);
        free(cb);
        finish(&s);
}

/* A bad tokens file (a malformed line, a token given twice, no file at all)
 * changes nothing: the old tokens work, the new file's do not, and each time
 * exactly one line names the file and what is wrong. */
static void test_bad_tokens_file(void **state) {
        static const struct {
                const char *text;       /* NULL: the file removed */
                const char *what;
        } cases[] = {
                { TOKEN_C " carol\nthis line has four fields\n", "tokens:2: expected \"TOKEN ACCOUNT\"" },
                { TOKEN_C " carol\n" TOKEN_C " dave\n", "tokens:2: this token is already given above" },
                { NULL, "cannot read tokens file" },
        };
        struct harness_syncd s;
        char path[160];

        (void) state;
        start(&s, NULL);
        snprintf(path, sizeof(path), "%s/tokens", s.dir);
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                if (cases[i].text)
                        write_file(&s, "tokens", cases[i].text);
                else
                        assert_int_equal(unlink(path), 0);
                reload(&s, "reloaded in", i + 1);       /* the certificate was read again */
                assert_int_equal(harness_log_count(&s, path), i + 1);
                assert_int_equal(harness_log_count(&s, cases[i].what), 1);
                assert_int_equal(harness_log_count(&s, "keeping the 2 tokens in use"), i + 1);
                assert_int_equal(status_of(&s, HARNESS_TOKEN_A), 200);
                assert_int_equal(status_of(&s, HARNESS_TOKEN_B), 200);
                assert_int_equal(status_of(&s, TOKEN_C), 401);
        }
        /* a good file again is taken */
        write_file(&s, "tokens", TOKEN_C " carol\n");
        reload(&s, "reloaded in", 4);
        assert_int_equal(status_of(&s, TOKEN_C), 200);
        assert_int_equal(status_of(&s, HARNESS_TOKEN_A), 401);
        finish(&s);
}

/* A connection made with the pin of key; its status. */
static long status_pinned(const struct harness_syncd *s, CURL *e, const char *pin_name, int *ret_curl) {
        char pin[128], path[192];
        struct harness_resp r;
        CURL *own = e ? NULL : harness_easy(s, "GET", "/v1/sync/status", HARNESS_TOKEN_A, NULL, NULL, &r);
        FILE *f;
        long status = 0;

        snprintf(path, sizeof(path), "%s/%s", base.dir, pin_name);
        f = fopen(path, "re");
        assert_non_null(f);
        assert_non_null(fgets(pin, sizeof(pin), f));
        fclose(f);
        pin[strcspn(pin, "\n")] = '\0';
        if (!e)
                e = own;
        else
                memset(&r, 0, sizeof(r));
        curl_easy_setopt(e, CURLOPT_WRITEDATA, &r);
        curl_easy_setopt(e, CURLOPT_HEADERDATA, &r);
        curl_easy_setopt(e, CURLOPT_PINNEDPUBLICKEY, pin);
        *ret_curl = (int) curl_easy_perform(e);
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
        harness_resp_clear(&r);
        harness_easy_free(own);
        return *ret_curl == CURLE_OK ? status : 0;
}

/* The certificate renewed (a new key with it): new connections get the new
 * one (its pin passes, the old one's fails) while a kept-alive connection
 * made before goes on without a new handshake. Then a certificate with a key
 * that is not its own is refused with one line, and the renewed one stays. */
static void test_renewed_certificate(void **state) {
        struct harness_syncd s;
        struct harness_resp r;
        CURL *old;
        long connects = -1;
        int rc;

        (void) state;
        start(&s, NULL);
        old = harness_easy(&s, "GET", "/v1/sync/status", HARNESS_TOKEN_A, NULL, NULL, &r);
        assert_int_equal(status_pinned(&s, old, "server.pin", &rc), 200);
        copy(base.dir, "renewed.key", s.dir, "live.key");
        copy(base.dir, "renewed.pem", s.dir, "live.pem");
        reload(&s, "reloaded in", 1);
        assert_int_equal(harness_log_count(&s, "certificate"), 1);
        assert_int_equal(status_pinned(&s, NULL, "renewed.pin", &rc), 200);
        assert_int_equal(status_pinned(&s, NULL, "server.pin", &rc), 0);
        assert_int_equal(rc, CURLE_SSL_PINNEDPUBKEYNOTMATCH);
        assert_int_equal(status_pinned(&s, old, "server.pin", &rc), 200);
        curl_easy_getinfo(old, CURLINFO_NUM_CONNECTS, &connects);
        assert_int_equal(connects, 0);                  /* the connection of before, reused */
        harness_easy_free(old);
        /* the old certificate with the new key: refused, the renewed one stays */
        copy(base.dir, "server.pem", s.dir, "live.pem");
        reload(&s, "reloaded in", 2);                   /* the tokens were read again */
        assert_int_equal(harness_log_count(&s, "is not the key of certificate"), 1);
        assert_int_equal(harness_log_count(&s, "keeping the certificate in use"), 1);
        assert_int_equal(status_pinned(&s, NULL, "renewed.pin", &rc), 200);
        finish(&s);
}

/* Under syncd.service the key and the tokens are credentials, copied by
 * systemd at start; its ExecReload= leaves fresh copies in
 * $SYNCD_RELOAD_DIRECTORY, and those are what a reload reads. */
static void test_reloaded_credentials(void **state) {
        struct harness_syncd s;
        char conf[512], creds[160], reloaded[160], env_creds[200], env_reload[200];
        int rc;

        (void) state;
        prepare(&s);
        snprintf(creds, sizeof(creds), "%s/creds", s.dir);
        snprintf(reloaded, sizeof(reloaded), "%s/reload", s.dir);
        assert_int_equal(mkdir(creds, 0700), 0);
        assert_int_equal(mkdir(reloaded, 0700), 0);
        copy(base.dir, "server.key", creds, "key");
        copy(base.dir, "tokens", creds, "tokens");
        snprintf(conf, sizeof(conf), "[Server]\nListen=127.0.0.1:0\nCertificate=%s/live.pem\nDatabase=%s/db\n",
                 s.dir, s.dir);
        write_file(&s, "syncd.conf", conf);
        snprintf(s.config, sizeof(s.config), "%s/syncd.conf", s.dir);
        s.config_only = true;
        snprintf(env_creds, sizeof(env_creds), "CREDENTIALS_DIRECTORY=%s", creds);
        snprintf(env_reload, sizeof(env_reload), "SYNCD_RELOAD_DIRECTORY=%s", reloaded);
        s.env = (const char *const[]) { env_creds, env_reload, NULL };
        assert_int_equal(harness_start(&s, false, NULL), 0);
        /* nothing left in the reload directory: the credentials again */
        reload(&s, "reloaded in", 1);
        assert_int_equal(harness_log_count(&s, creds), 1);
        /* the renewal: certificate in place, key and tokens as ExecReload= copies them */
        copy(base.dir, "renewed.pem", s.dir, "live.pem");
        copy(base.dir, "renewed.key", reloaded, "key");
        write_file(&s, "reload/tokens", TOKEN_C " carol\n");
        reload(&s, "reloaded in", 2);
        assert_int_equal(harness_log_count(&s, reloaded), 1);
        assert_int_equal(status_of(&s, TOKEN_C), 200);
        assert_int_equal(status_of(&s, HARNESS_TOKEN_A), 401);
        assert_int_equal(status_pinned(&s, NULL, "renewed.pin", &rc), 401);    /* alice's token: gone */
        assert_int_equal(rc, CURLE_OK);
        finish(&s);
}

/* Under systemd (Type=notify, WatchdogSec=): READY=1 with a status line
 * once it listens, RELOADING=1 then READY=1 around a reload (a refused one
 * says so in the status line), WATCHDOG=1 at half the watchdog time, and
 * STOPPING=1 on SIGTERM. NOTIFY_SOCKET is a socket of the test's, as
 * systemd's would be. */
static void test_systemd_notify(void **state) {
        struct harness_syncd s;
        char msg[4096], want[128];
        uint64_t t0;

        (void) state;
        prepare(&s);
        assert_int_equal(harness_notify_open(&s), 0);
        s.env = (const char *const[]) { "WATCHDOG_USEC=400000", NULL };
        assert_int_equal(harness_start(&s, false, NULL), 0);
        assert_true(harness_notify_wait(&s, "READY=1", harness_now_ms() + 10000, msg, sizeof(msg)));
        snprintf(want, sizeof(want), "STATUS=Serving on 127.0.0.1:%d: ", s.port);
        if (!strstr(msg, want))
                assert_true(harness_notify_wait(&s, want, harness_now_ms() + 10000, msg, sizeof(msg)));
        assert_non_null(strstr(msg, "2 tokens; certificate valid until 20"));
        /* 0.4 s of watchdog: WATCHDOG=1 at least every 0.2 s; two in a row within 2 s */
        t0 = harness_now_ms();
        assert_true(harness_notify_wait(&s, "WATCHDOG=1", t0 + 2000, NULL, 0));
        assert_true(harness_notify_wait(&s, "WATCHDOG=1", t0 + 2000, NULL, 0));
        /* a reload; then one with a bad tokens file, which the status line tells */
        assert_int_equal(kill(s.pid, SIGHUP), 0);
        assert_true(harness_notify_wait(&s, "RELOADING=1", harness_now_ms() + RELOAD_DEADLINE_MS, msg, sizeof(msg)));
        assert_non_null(strstr(msg, "MONOTONIC_USEC="));
        assert_true(harness_notify_wait(&s, "READY=1", harness_now_ms() + RELOAD_DEADLINE_MS, NULL, 0));
        write_file(&s, "tokens", "not a tokens file\n");
        assert_int_equal(kill(s.pid, SIGHUP), 0);
        assert_true(harness_notify_wait(&s, "RELOADING=1", harness_now_ms() + RELOAD_DEADLINE_MS, NULL, 0));
        assert_true(harness_notify_wait(&s, "STATUS=The reload at ", harness_now_ms() + RELOAD_DEADLINE_MS, msg,
                                        sizeof(msg)));
        assert_non_null(strstr(msg, "kept the tokens in use (see the log). Serving on"));
        assert_int_equal(kill(s.pid, SIGTERM), 0);
        assert_true(harness_notify_wait(&s, "STOPPING=1", harness_now_ms() + 10000, NULL, 0));
        finish(&s);
}

static int setup(void **state) {
        (void) state;
        curl_global_init(CURL_GLOBAL_DEFAULT);
        return harness_dir(&base);
}

static int teardown(void **state) {
        (void) state;
        harness_cleanup(&base);
        curl_global_cleanup();
        return 0;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parked_long_polls_survive),
                cmocka_unit_test(test_bad_tokens_file),
                cmocka_unit_test(test_renewed_certificate),
                cmocka_unit_test(test_reloaded_credentials),
                cmocka_unit_test(test_systemd_notify),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
