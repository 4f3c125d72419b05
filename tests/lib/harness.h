/* SPDX-License-Identifier: MIT */
/* What the syncd suites and the benchmark share: a temporary directory with
 * certificates (tests/lib/mkcerts.sh) and a tokens file, syncd started on
 * 127.0.0.1 port 0 with its listening line read through a pipe under a
 * deadline, stopped with SIGTERM under a deadline, and libcurl requests
 * verified against the test CA. Never sleeps to wait for anything. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <curl/curl.h>

#define HARNESS_TOKEN_A "token-alice"
#define HARNESS_TOKEN_B "token-bob"

struct harness_syncd {
        pid_t pid;
        int pidfd;
        int port;
        char dir[64];
        char base[64];                  /* "https://127.0.0.1:PORT" */
        char ca[128];                   /* "": the system's trust store */
        char db[128];                   /* "": DIR/db (harness_dir sets a PostgreSQL URI under SYNCD_TEST_PG) */
        const char *cert;               /* the certificate in DIR: NULL for "server" (mkcerts.sh) */
        bool quiet;                     /* syncd's stderr to /dev/null */
        char log_path[128];             /* "": stderr as the test's; else appended to this file */
        bool capture_log;               /* syncd's stderr kept in log (harness_log_wait) */
        unsigned nofile_soft, nofile_hard;  /* syncd's RLIMIT_NOFILE when not 0 */
        char config[128];               /* "": no --config; else --config config before the rest */
        bool config_only;               /* with config: no other option but extra's */
        const char *const *env;         /* "NAME=VALUE" more in syncd's environment, or NULL */
        char notify_path[128];          /* with harness_notify_open: syncd's $NOTIFY_SOCKET */
        int notify_fd;                  /* its datagram socket, while open */
        int log_fd;                     /* the pipe's read end, while capture_log */
        char *log;                      /* what syncd wrote on stderr so far */
        size_t log_len;
        /* Off unless set when syncd's stderr is the test's own (not quiet,
         * no log_path, no capture_log): a failing suite's tail then shows
         * its assertions, not a page of requests. */
        bool access_log;
        bool journal_stream;            /* $JOURNAL_STREAM names syncd's stderr, as systemd's would */
        bool metrics;                   /* --metrics 127.0.0.1:0, its line read at start */
        int metrics_port;
        char metrics_base[64];          /* "http://127.0.0.1:PORT" */
};

struct harness_resp {
        long status;
        int curl_code;                  /* CURLE_OK or the transfer's error */
        char *body;
        size_t len;
        char *headers;                  /* all response header lines */
        size_t headers_len;
};

/* A fresh directory with certificates and tokens (alice, bob; mode 0600, as
 * syncd wants a file of secrets). */
int harness_dir(struct harness_syncd *s);
/* One more "TOKEN ACCOUNT" line in s->dir's tokens file (after harness_dir,
 * before harness_start, or followed by a SIGHUP): accounts beyond alice and
 * bob. 0 or a negative errno. */
int harness_tokens_add(const struct harness_syncd *s, const char *token, const char *account);
/* $SYNCD_TEST_PG: the socket directory of the PostgreSQL that
 * tests/server/pg-harness started for this run (each harness_dir then makes
 * a database there for its syncd), or NULL: SQLite files. */
const char *harness_pg(void);
/* tests/server/pg-harness stop or start on that server: the database goes
 * away under a running syncd, or comes back (ready when this returns). */
int harness_pg_ctl(const char *action);
/* Starts syncd in s->dir (db s->dir/db) on s->port when set (a restart), else
 * on a free port; extra: more arguments or NULL. */
int harness_start(struct harness_syncd *s, bool faults, const char *const *extra);
/* SIGTERM; returns the exit status, or -1 when it did not exit in time. */
int harness_stop(struct harness_syncd *s);
void harness_cleanup(struct harness_syncd *s);

/* Runs syncd with argv (argv[0] ignored) to its end; returns its exit
 * status and its stdout+stderr in out, or -1 when it did not end within the
 * deadline (it is then killed). */
int harness_run_syncd(const char *const *argv, char *out, size_t size);

/* An easy handle for one request; headers (NULL-terminated) may be NULL. The
 * handle and its header list are freed by harness_easy_free. */
CURL *harness_easy(const struct harness_syncd *s, const char *method, const char *path, const char *token,
                   const char *body, const char *const *headers, struct harness_resp *resp);
void harness_easy_free(CURL *e);
/* One plain HTTP request to the --metrics listener (path: "/metrics" ...). */
int harness_metrics_get(const struct harness_syncd *s, const char *method, const char *path,
                        const char *const *headers, struct harness_resp *resp);
/* The value of one series ("name{labels}" exactly as written) in a
 * /metrics text; 0 when absent. */
double harness_metric(const char *text, const char *series);
/* GET /metrics from s's --metrics listener, and one series' value in it
 * (0 when absent); -EIO when the scrape fails or is not a 200. */
int harness_metric_get(const struct harness_syncd *s, const char *series, double *ret);
/* One whole request. */
int harness_request(const struct harness_syncd *s, const char *method, const char *path, const char *token,
                    const char *body, const char *const *headers, struct harness_resp *resp);
void harness_resp_clear(struct harness_resp *r);
/* The value of a response header (case-insensitive name), in buf; NULL if absent. */
const char *harness_header(const struct harness_resp *r, const char *name, char *buf, size_t size);

uint64_t harness_now_ms(void);
/* The wall clock in ms since the epoch, as stamps carry it. */
uint64_t harness_wall_ms(void);
/* A random UUID text (an idempotency key), different at each call. */
void harness_new_uuid(char buf[static 37]);

/* With capture_log: reads what syncd logged until a line holds needle or
 * deadline (harness_now_ms) passes; true when found. */
bool harness_log_wait(struct harness_syncd *s, const char *needle, uint64_t deadline_ms);
/* How many lines logged so far hold needle (after reading what is there). */
size_t harness_log_count(struct harness_syncd *s, const char *needle);
/* With capture_log: reads what syncd logs until n lines hold needle or
 * deadline passes; true when there are n. */
bool harness_log_wait_count(struct harness_syncd *s, const char *needle, size_t n, uint64_t deadline_ms);

/* A datagram socket in s->dir that the next harness_start gives syncd as
 * $NOTIFY_SOCKET, as systemd would for Type=notify. 0 or a negative errno. */
int harness_notify_open(struct harness_syncd *s);
/* Reads syncd's notifications until one holds needle ("READY=1") or
 * deadline (harness_now_ms) passes; true when found. The datagram is copied
 * to buf (NUL-terminated) when buf is not NULL. */
bool harness_notify_wait(struct harness_syncd *s, const char *needle, uint64_t deadline_ms, char *buf, size_t size);
