/* SPDX-License-Identifier: MIT */
/* syncd, the reference sync server of the sync API (docs/protocol.md): the command line over
 * the configuration file, the pieces put together, the one event loop
 * (libmicrohttpd's epoll fd, the parked long polls' hang-up epoll fd, a
 * signalfd, the deadlines of long polls and connections and systemd's
 * watchdog; before each libmicrohttpd run, long polls shed when the
 * connection limit is near; after it, the group commit of the writes that
 * run collected), the reload on SIGHUP between two turns, and --backup.
 * Must never print a token, and never stop without answering or closing
 * every parked request first. */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "accesslog.h"
#include "backup.h"
#include "cleanup.h"
#include "conf.h"
#include "devices.h"
#include "faults.h"
#include "group.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "monitor.h"
#include "notify.h"
#include "now.h"
#include "ratelimit.h"
#include "settings.h"
#include "sync.h"
#include "tlscert.h"
#include "tokens.h"

#define SYNCD_STOP_GRACE_MS 2000
/* Descriptors kept for all but connections: the database and its journals,
 * the listening socket, the epoll and signal fds, stdio. */
#define SYNCD_FD_RESERVE 64u

/* Exit statuses besides 0 and 1. */
#define SYNCD_EXIT_USAGE 2
#define SYNCD_EXIT_CONFIG 78            /* EX_CONFIG: the configuration file is wrong */

/* The names of the systemd credentials that stand in for --key and --tokens. */
#define SYNCD_CREDENTIAL_KEY "key"
#define SYNCD_CREDENTIAL_TOKENS "tokens"

#define SYNCD_OPT_CONFIG 256
#define SYNCD_OPT_BACKUP 257
#define SYNCD_OPT_NO_ACCESS_LOG 258
#define SYNCD_OPT_KEY 512               /* getopt value of settings_keys[0] */

/* The command line as given: applied over the configuration file's. */
struct syncd_args {
        const char *config;
        const char *backup;             /* --backup FILE: copy the database there and exit */
        bool no_access_log;
        const char *given[SETTINGS_KEYS_MAX];   /* settings_keys[i]'s value, NULL when not given */
};

static void syncd_help(void) {
        printf("Usage: syncd --listen ADDR:PORT --cert FILE --key FILE --db FILE --tokens FILE\n"
               "             [--config FILE] [--max-skew-sec N] [--max-replay-kib N] [--max-pushes-per-minute N]\n"
               "             [--max-devices N] [--max-connections N] [--max-connections-per-ip N]\n"
               "             [--max-waits-per-account N] [--max-waits-per-ip N]\n"
               "             [--header-timeout-sec N] [--body-timeout-sec N] [--idle-timeout-sec N]\n"
               "             [--metrics ADDR:PORT] [--no-access-log]\n"
               "       syncd --backup FILE (--db FILE | --config FILE)\n"
               "\n"
               "The reference sync server of bridged: serves the sync API (docs: server/README.md)\n"
               "over HTTPS and keeps every account's data in one SQLite file.\n"
               "\n"
               "  --config FILE        configuration file (syncd.conf in syncd(8)); the options\n"
               "                       given here win over its settings\n"
               "  --listen ADDR:PORT   address to listen on, e.g. 127.0.0.1:8443 or [::1]:8443;\n"
               "                       PORT 0 picks a free port (the listening line shows it)\n"
               "  --cert FILE          server certificate chain, PEM\n"
               "  --key FILE           its private key, PEM (default: the systemd credential \"key\")\n"
               "  --db FILE            SQLite database, created when missing\n"
               "  --tokens FILE        lines \"TOKEN ACCOUNT\"; '#' starts a comment (default: the\n"
               "                       systemd credential \"tokens\")\n"
               "  --max-skew-sec N     reject stamps more than N s ahead of this clock (default 300)\n"
               "  --max-replay-kib N   push answers kept for replays, per account, in KiB; beyond it\n"
               "                       the oldest go first (default 8192)\n"
               "  --max-pushes-per-minute N\n"
               "                       pushes an account may make: N at once, then one every 60/N s;\n"
               "                       beyond it 429 with Retry-After (default 120; 0: no limit)\n"
               "  --max-devices N      devices an account keeps (1..1000); a new one beyond it\n"
               "                       replaces the one seen longest ago (default 64)\n"
               "  --max-connections N  connections held at once (default 1000; fewer if the\n"
               "                       open-file limit does not allow them)\n"
               "  --max-connections-per-ip N\n"
               "                       connections from one address (default 128; 0: no limit)\n"
               "  --max-waits-per-account N\n"
               "                       long polls parked for one account (default 112; 0: no limit)\n"
               "  --max-waits-per-ip N long polls parked from one address (default 112; 0: no limit)\n"
               "  --header-timeout-sec N\n"
               "                       TLS handshake and request headers, from accept (default 10)\n"
               "  --body-timeout-sec N a request's body, and then its answer, each (default 30)\n"
               "  --idle-timeout-sec N a kept-alive connection's next request headers, from the\n"
               "                       previous answer (default 30)\n"
               "  --metrics ADDR:PORT  serve /metrics, /healthz and /readyz over plain HTTP there\n"
               "                       (no TLS, no token: loopback or a private network only)\n"
               "  --no-access-log      no line (or journal entry) per request\n"
               "  --backup FILE        copy the database to FILE (a new file), consistent even\n"
               "                       while another syncd serves it, and exit\n"
               "  --help               show this and exit\n"
               "  --version            show the version and exit\n"
               "\n"
               "Prints \"syncd: listening on ADDR:PORT\" once ready; SIGTERM or SIGINT stops it.\n"
               "SYNCD_TEST_FAULTS=1 in the environment enables the test fault hooks (never in\n"
               "production).\n");
}

__attribute__((format(printf, 1, 2)))
static int syncd_usage_error(const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        fputs("syncd: ", stderr);
        vfprintf(stderr, fmt, ap);
        fputs(" (see syncd --help)\n", stderr);
        va_end(ap);
        return SYNCD_EXIT_USAGE;
}

/* An option's value, checked now, where the words can name the option, and
 * applied later, over the file's: 0, or the exit status. */
static int syncd_take_value(struct syncd_args *a, const struct settings_key *k, const char *value) {
        struct settings check = SETTINGS_DEFAULT;
        int r = settings_set(&check, k, value);

        settings_done(&check);
        if (r == -ENOMEM)
                return log_msg("out of memory"), 1;
        if (r < 0 && k->kind == SETTINGS_NUMBER)
                return syncd_usage_error("--%s: '%s' is not a number %u..%u", k->option, value, k->min, k->max);
        if (r < 0)
                return syncd_usage_error("--%s: '%s' is not ADDR:PORT", k->option, value);
        a->given[k - settings_keys] = value;
        return 0;
}

/* The command line into a: 0 to go on, or the exit status (0 after
 * --help/--version, 2 on a usage error). */
static int syncd_parse_args(int argc, char **argv, struct syncd_args *a, bool *ret_exit) {
        struct option opts[SETTINGS_KEYS_MAX + 8] = {
                { "config", required_argument, NULL, SYNCD_OPT_CONFIG },
                { "backup", required_argument, NULL, SYNCD_OPT_BACKUP },
                { "no-access-log", no_argument, NULL, SYNCD_OPT_NO_ACCESS_LOG },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
        };
        int c, r;

        for (size_t i = 0; i < settings_n_keys; i++)
                opts[5 + i] = (struct option) { settings_keys[i].option, required_argument, NULL,
                                                SYNCD_OPT_KEY + (int) i };
        *ret_exit = false;
        opterr = 0;
        while ((c = getopt_long(argc, argv, ":", opts, NULL)) >= 0)
                switch (c) {
                case SYNCD_OPT_CONFIG:
                        if (!*optarg)
                                return syncd_usage_error("--config needs a file name, not ''");
                        a->config = optarg;
                        break;
                case SYNCD_OPT_BACKUP:
                        if (!*optarg)
                                return syncd_usage_error("--backup needs a file name, not ''");
                        a->backup = optarg;
                        break;
                case SYNCD_OPT_NO_ACCESS_LOG:
                        a->no_access_log = true;
                        break;
                case 'h':
                        syncd_help();
                        *ret_exit = true;
                        return 0;
                case 'V':
                        printf("syncd %s (sync API schema %d)\n", BRIDGED_VERSION, SYNC_SCHEMA);
                        *ret_exit = true;
                        return 0;
                case ':':
                        return syncd_usage_error("%s needs an argument", argv[optind - 1]);
                default:
                        if (c < SYNCD_OPT_KEY || (size_t) (c - SYNCD_OPT_KEY) >= settings_n_keys)
                                return syncd_usage_error("unknown option '%s'", argv[optind - 1]);
                        r = syncd_take_value(a, &settings_keys[c - SYNCD_OPT_KEY], optarg);
                        if (r != 0)
                                return r;
                }
        if (optind < argc)
                return syncd_usage_error("unexpected argument '%s'", argv[optind]);
        return 0;
}

/* $CREDENTIALS_DIRECTORY/NAME, for a key or tokens file given nowhere:
 * syncd.service hands them over as systemd credentials (LoadCredential=),
 * read by systemd as root, so the files can stay root's. */
static int syncd_credential(struct settings *o, const struct settings_key *k, const char *name) {
        const char *dir = getenv("CREDENTIALS_DIRECTORY");
        char **field = settings_string(o, k);

        if (*field || !dir || !*dir)
                return 0;
        return asprintf(field, "%s/%s", dir, name) < 0 ? (*field = NULL, -ENOMEM) : 1;
}

/* The file's settings (or the defaults), then the command line's over
 * them, then what is required: 0, or the exit status. */
static int syncd_settings(const struct syncd_args *a, struct settings *o, bool ret_credential[static 2]) {
        _cleanup_(freep) char *error = NULL;
        int r;

        if (a->config && conf_load(a->config, o, &error) < 0)
                return log_msg("%s", error ?: "out of memory"), SYNCD_EXIT_CONFIG;
        for (size_t i = 0; i < settings_n_keys; i++)
                if (a->given[i] && settings_set(o, &settings_keys[i], a->given[i]) < 0)
                        return log_msg("out of memory"), 1;
        ret_credential[0] = (r = syncd_credential(o, settings_key_by_option("key"), SYNCD_CREDENTIAL_KEY)) > 0;
        if (r >= 0)
                ret_credential[1] = (r = syncd_credential(o, settings_key_by_option("tokens"),
                                                          SYNCD_CREDENTIAL_TOKENS)) > 0;
        if (r < 0)
                return log_msg("out of memory"), 1;
        for (size_t i = 0; i < settings_n_keys; i++) {
                const struct settings_key *k = &settings_keys[i];

                if (k->kind == SETTINGS_NUMBER || k->optional || *settings_string(o, k) ||
                    (a->backup && strcmp(k->option, "db")))
                        continue;
                if (a->config)
                        return syncd_usage_error("--%s is required (or %s= in [%s] of %s)", k->option, k->name,
                                                 k->section, a->config);
                return syncd_usage_error("--%s is required", k->option);
        }
        return 0;
}

/* The tokens and the key are secrets: say so when others may read or write
 * them, as OpenSSH does for keys. A warning, not a refusal: a key shared
 * with a group on purpose (a certificate manager's) must not stop the
 * server, and a refusal on upgrade would stop servers that ran fine. */
static void syncd_check_secret_mode(const char *what, const char *path) {
        struct stat st;
        mode_t m;

        if (stat(path, &st) < 0)
                return;                 /* it was just read; a race is not worth a second message */
        m = st.st_mode & 0066;
        if (m == 0)
                return;
        log_msg("warning: %s %s has mode %04o: %s can %s it, and it holds secrets (chmod go-rw %s); going on",
                what, path, (unsigned) (st.st_mode & 07777), m & 0006 ? "others" : "its group",
                (m & 0044) && (m & 0022) ? "read and write" : m & 0044 ? "read" : "write", path);
}

struct syncd {
        struct tokens *tokens;
        struct store *store;
        struct idempotency *idempotency;
        struct longpoll *longpoll;
        struct faults *faults;
        struct group *group;
        struct ratelimit *pushes;
        struct sync_ctx sync;
        struct devices_ctx devices;
        struct http *http;
        struct http_config http_cfg;
        struct http_route routes[10];
        struct counters counters;
        unsigned max_connections;
        struct tlscert *cert;
        const struct settings *settings;
        bool from_credentials[2];       /* the key, the tokens: $CREDENTIALS_DIRECTORY's */
        struct notify *notify;
        char reload_note[128];          /* the status line's start after a refused reload */
        bool no_access_log;
        struct accesslog *accesslog;    /* NULL: --no-access-log */
        struct metrics *metrics;
        struct monitor *monitor;        /* NULL: no --metrics */
        struct monitor_config monitor_cfg;
};

static void syncd_free(struct syncd *d) {
        d->http = http_free(d->http);
        d->group = group_free(d->group);
        d->pushes = ratelimit_free(d->pushes);
        d->longpoll = longpoll_free(d->longpoll);
        d->faults = faults_free(d->faults);
        d->idempotency = idempotency_free(d->idempotency);
        d->store = store_free(d->store);
        d->tokens = tokens_free(d->tokens);
        d->cert = tlscert_unref(d->cert);
        d->notify = notify_free(d->notify);
        d->monitor = monitor_free(d->monitor);
        d->accesslog = accesslog_free(d->accesslog);
        d->metrics = metrics_free(d->metrics);
}

static size_t syncd_routes(struct syncd *d) {
        struct http_route *rt = d->routes;
        size_t n = 0;

        rt[n++] = (struct http_route) { "GET", "/v1/sync/status", .handle = sync_handle_status,
                                        .userdata = &d->sync };
        rt[n++] = (struct http_route) { "POST", "/v1/sync/pull", .handle = sync_handle_pull, .userdata = &d->sync };
        rt[n++] = (struct http_route) { "POST", "/v1/sync/push", .begin = sync_push_begin,
                                        .handle = sync_push_handle, .done = sync_push_done, .userdata = &d->sync };
        rt[n++] = (struct http_route) { "GET", "/v1/sync/wait", .handle = sync_handle_wait, .userdata = &d->sync };
        rt[n++] = (struct http_route) { "GET", "/v1/devices", .handle = devices_handle_list,
                                        .userdata = &d->devices };
        rt[n++] = (struct http_route) { "PUT", "/v1/devices/", .with_arg = true, .handle = devices_handle_put,
                                        .done = devices_put_done, .userdata = &d->devices };
        if (d->faults) {
                rt[n++] = (struct http_route) { "POST", "/test/faults", .public = true,
                                                .handle = faults_handle_post, .userdata = d->faults };
                rt[n++] = (struct http_route) { "PUT", "/test/faults", .public = true,
                                                .handle = faults_handle_put, .userdata = d->faults };
                rt[n++] = (struct http_route) { "DELETE", "/test/faults", .public = true,
                                                .handle = faults_handle_delete, .userdata = d->faults };
        }
        return n;
}

static int syncd_load(struct syncd *d, const struct settings *o) {
        _cleanup_(freep) char *error = NULL;
        unsigned line = 0;
        int r;

        r = tokens_load(o->tokens, &d->tokens, &line);
        if (r == -EINVAL || r == -EEXIST)
                return log_msg("%s:%u: %s", o->tokens, line,
                               r == -EEXIST ? "this token is already given above" : "expected \"TOKEN ACCOUNT\""), 1;
        if (r < 0)
                return log_msg("cannot read tokens file %s: %s", o->tokens, strerror(-r)), 1;
        r = tlscert_load(o->cert, o->key, &d->cert, &error);
        if (r < 0)
                return log_msg("%s", error ?: strerror(-r)), 1;
        error = mfree(error);
        syncd_check_secret_mode("tokens file", o->tokens);
        syncd_check_secret_mode("key", o->key);
        (void) store_count_errors(&d->counters.database_errors);       /* fails only if SQLite ran before */
        r = store_open(o->db, &d->store, &error);
        if (r < 0)
                return log_msg("cannot use database %s: %s", o->db, error ?: strerror(-r)), 1;
        return 0;
}

/* Every connection holds a descriptor: the soft limit is raised to the hard
 * one, and the connection limit kept within it. */
static int syncd_fit_fd_limit(unsigned *max_connections) {
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
                return -errno;
        if (rl.rlim_cur < rl.rlim_max) {
                struct rlimit raised = { rl.rlim_max, rl.rlim_max };

                /* a system call filter may refuse (syncd.service's ~@resources
                 * does; its LimitNOFILE= sets both): then the soft one it is */
                if (setrlimit(RLIMIT_NOFILE, &raised) == 0)
                        rl = raised;
        }
        if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= (rlim_t) *max_connections + SYNCD_FD_RESERVE)
                return 0;
        if (rl.rlim_cur <= SYNCD_FD_RESERVE)
                return -EMFILE;
        log_msg("--max-connections lowered from %u to %llu: the open-file limit is %llu and %u descriptors are kept "
                "for the rest", *max_connections, (unsigned long long) (rl.rlim_cur - SYNCD_FD_RESERVE),
                (unsigned long long) rl.rlim_cur, SYNCD_FD_RESERVE);
        *max_connections = (unsigned) (rl.rlim_cur - SYNCD_FD_RESERVE);
        return 0;
}

static void syncd_request_done(void *userdata, const struct http_done *done) {
        struct syncd *d = userdata;

        if (d->accesslog)
                accesslog_write(d->accesslog, done);
        metrics_request(d->metrics, done);
}

static void syncd_commit_done(void *userdata, size_t members, uint64_t took_us, int result) {
        struct syncd *d = userdata;

        metrics_commit(d->metrics, members, took_us, result);
}

static int syncd_scrape(void *userdata, FILE *f) {
        struct syncd *d = userdata;
        struct metrics_gauges g = {
                .connections = http_connections(d->http),
                .waits_parked = longpoll_parked(d->longpoll),
        };

        return metrics_write(d->metrics, &d->counters, &g, f);
}

static int syncd_ready(void *userdata) {
        struct syncd *d = userdata;

        return store_ping(d->store);
}

/* The monitoring listener, after the HTTPS one: a scraper finds nothing
 * before syncd serves. */
static int syncd_start_monitor(struct syncd *d, const struct settings *o) {
        int r;

        if (settings_parse_listen(o->metrics, &d->monitor_cfg.addr, &d->monitor_cfg.addr_len) < 0)
                return log_msg("cannot serve the metrics on %s: not an address of this host", o->metrics), 1;
        d->monitor_cfg.scrape = syncd_scrape;
        d->monitor_cfg.ready = syncd_ready;
        d->monitor_cfg.userdata = d;
        r = monitor_new(&d->monitor_cfg, &d->monitor);
        if (r < 0)
                return log_msg("cannot serve the metrics on %s: %s", o->metrics, strerror(-r)), 1;
        return 0;
}

static int syncd_start(struct syncd *d, const struct settings *o) {
        const char *faults_env = getenv("SYNCD_TEST_FAULTS");
        struct longpoll_limits waits = { o->max_waits_per_account, o->max_waits_per_ip };
        int r;

        if (settings_parse_listen(o->listen, &d->http_cfg.addr, &d->http_cfg.addr_len) < 0)
                return log_msg("cannot listen on %s: not an address of this host", o->listen), 1;
        d->max_connections = o->max_connections;
        r = syncd_fit_fd_limit(&d->max_connections);
        if (r < 0)
                return log_msg("the open-file limit (RLIMIT_NOFILE) leaves no descriptor for connections: %s",
                               strerror(-r)), 1;
        r = syncd_load(d, o);
        if (r != 0)
                return r;
        if (notify_new(&d->notify) < 0 || idempotency_new(&d->idempotency) < 0 || longpoll_new(&waits, &d->counters, &d->longpoll) < 0 ||
            group_new(d->store, &d->group) < 0 || ratelimit_new(o->max_pushes_per_minute, &d->pushes) < 0 ||
            (faults_env && strcmp(faults_env, "1") == 0 && faults_new(&d->faults) < 0) ||
            (!d->no_access_log && accesslog_new(&d->accesslog) < 0) || metrics_new(&d->metrics) < 0)
                return log_msg("out of memory"), 1;
        if (d->faults)
                log_msg("test fault hooks enabled (SYNCD_TEST_FAULTS=1): never use this in production");
        d->sync = (struct sync_ctx) {
                .store = d->store,
                .longpoll = d->longpoll,
                .idempotency = d->idempotency,
                .group = d->group,
                .max_skew_ms = o->max_skew_sec * 1000ull,
                .max_replay_bytes = o->max_replay_kib * 1024ull,
                .pushes = d->pushes,
                .max_pushes_per_minute = o->max_pushes_per_minute,
                .counters = &d->counters,
        };
        group_set_observer(d->group, syncd_commit_done, d);
        d->devices = (struct devices_ctx) { d->store, d->group, o->max_devices };
        d->http_cfg.cert = d->cert;
        d->http_cfg.routes = d->routes;
        d->http_cfg.n_routes = syncd_routes(d);
        d->http_cfg.tokens = d->tokens;
        d->http_cfg.longpoll = d->longpoll;
        d->http_cfg.faults = d->faults;
        d->http_cfg.counters = &d->counters;
        d->http_cfg.done = syncd_request_done;
        d->http_cfg.done_userdata = d;
        d->http_cfg.max_connections = d->max_connections;
        d->http_cfg.max_connections_per_address = o->max_connections_per_ip;
        d->http_cfg.timeouts = (struct conns_timeouts) {
                .headers_ms = o->header_timeout_sec * 1000ull,
                .transfer_ms = o->body_timeout_sec * 1000ull,
                .idle_ms = o->idle_timeout_sec * 1000ull,
        };
        r = http_new(&d->http_cfg, &d->http);
        if (r < 0)
                return log_msg("cannot serve HTTPS on %s (address, certificate and key as given): %s",
                               o->listen, strerror(-r)), 1;
        return o->metrics ? syncd_start_monitor(d, o) : 0;
}

/* "127.0.0.1:8443", "[::1]:8443": the address listened on, the real port. */
static const char *syncd_address(const struct syncd *d, char buf[static NI_MAXHOST + 16]) {
        char host[NI_MAXHOST] = "?";

        (void) getnameinfo((const struct sockaddr *) &d->http_cfg.addr, d->http_cfg.addr_len, host, sizeof(host),
                           NULL, 0, NI_NUMERICHOST);
        snprintf(buf, NI_MAXHOST + 16, d->http_cfg.addr.ss_family == AF_INET6 ? "[%s]:%d" : "%s:%d", host,
                 http_local_port(d->http));
        return buf;
}

/* The listening line first and alone without --metrics: what waits for it
 * reads one line. */
static void syncd_print_listening(const struct syncd *d) {
        char address[NI_MAXHOST + 16], host[NI_MAXHOST] = "?";

        printf("syncd: listening on %s\n", syncd_address(d, address));
        if (d->monitor) {
                (void) getnameinfo((const struct sockaddr *) &d->monitor_cfg.addr, d->monitor_cfg.addr_len, host,
                                   sizeof(host), NULL, 0, NI_NUMERICHOST);
                printf(d->monitor_cfg.addr.ss_family == AF_INET6 ? "syncd: metrics on [%s]:%d\n" :
                       "syncd: metrics on %s:%d\n", host, monitor_local_port(d->monitor));
        }
        fflush(stdout);
}

static int syncd_min_timeout(int a, int b) {
        if (a < 0)
                return b;
        if (b < 0)
                return a;
        return a < b ? a : b;
}

/* Commits the writes collected so far in one transaction and runs
 * libmicrohttpd again to answer them (which may collect the next group). */
static void syncd_commit(struct syncd *d) {
        int r;

        if (group_empty(d->group))
                return;
        r = group_commit(d->group);
        if (r < 0 && r != -ENOTCONN)    /* a database out of reach: the store said so once */
                log_msg("group commit failed: %s; its pushes and device PUTs are answered 500, nothing stored",
                        strerror(-r));
        (void) http_run(d->http);       /* only a run sees the connections resumed outside one */
}

/* Near the connection limit, parked long polls give up their places, oldest
 * first: a wait is the one request that loses nothing by being answered early
 * (204 is what its timeout would say), and a push must find a place. An
 * eighth of the places is kept free this way. */
static void syncd_shed(struct syncd *d) {
        size_t live = http_connections(d->http);
        size_t keep = d->max_connections / 8 ? d->max_connections / 8 : 1;

        if (live + keep > d->max_connections)
                (void) longpoll_shed(d->longpoll, live + keep - d->max_connections);
}

/* "2026-03-01 12:00 UTC" */
static const char *syncd_date(time_t t, char buf[static 32]) {
        struct tm tm;

        if (!gmtime_r(&t, &tm) || strftime(buf, 32, "%Y-%m-%d %H:%M UTC", &tm) == 0)
                snprintf(buf, 32, "?");
        return buf;
}

/* systemctl status's line: what it serves, to how many, until when, and
 * whether the last reload was refused. */
static const char *syncd_status(const struct syncd *d, char buf[static 512]) {
        char address[NI_MAXHOST + 16], date[32];
        size_t conns = http_connections(d->http), waits = longpoll_waiters(d->longpoll);

        snprintf(buf, 512, "%sServing on %s: %zu connection%s, %zu long poll%s parked; %zu tokens; "
                 "certificate valid until %s", d->reload_note, syncd_address(d, address), conns,
                 conns == 1 ? "" : "s", waits, waits == 1 ? "" : "s", tokens_count(d->tokens),
                 syncd_date(tlscert_expires(d->cert), date));
        return buf;
}

/* The file a reload reads: for a credential, the fresh copy syncd.service's
 * ExecReload= left in $SYNCD_RELOAD_DIRECTORY when there is one (systemd 252
 * loads credentials at start only, so the reload copies them as root), else
 * the file read at start. NULL when out of memory. */
static char *syncd_reload_path(const char *path, bool from_credentials, const char *name) {
        const char *dir = getenv("SYNCD_RELOAD_DIRECTORY");
        char *p;

        if (from_credentials && dir && *dir && asprintf(&p, "%s/%s", dir, name) >= 0) {
                if (access(p, F_OK) == 0)
                        return p;
                free(p);
        }
        return strdup(path);
}

static bool syncd_reload_tokens(struct syncd *d, const char *path) {
        unsigned line = 0;
        int r = path ? tokens_reload(d->tokens, path, &line) : -ENOMEM;

        if (r == -EINVAL || r == -EEXIST)
                log_msg("reload: %s:%u: %s; keeping the %zu tokens in use", path, line,
                        r == -EEXIST ? "this token is already given above" : "expected \"TOKEN ACCOUNT\"",
                        tokens_count(d->tokens));
        else if (r < 0)
                log_msg("reload: cannot read tokens file %s: %s; keeping the %zu tokens in use", path ?: "",
                        strerror(-r), tokens_count(d->tokens));
        else
                syncd_check_secret_mode("tokens file", path);
        return r >= 0;
}

static bool syncd_reload_cert(struct syncd *d, const char *key_path) {
        _cleanup_(freep) char *error = NULL;
        struct tlscert *c = NULL;
        char date[32];
        int r = key_path ? tlscert_load(d->settings->cert, key_path, &c, &error) : -ENOMEM;

        if (r < 0) {
                log_msg("reload: %s; keeping the certificate in use (valid until %s)",
                        error ?: strerror(-r), syncd_date(tlscert_expires(d->cert), date));
                return false;
        }
        syncd_check_secret_mode("key", key_path);
        http_set_cert(d->http, c);
        tlscert_unref(d->cert);
        d->cert = c;
        return true;
}

/* SIGHUP: the tokens, the certificate and the key read again, each kept as
 * it was when its new file is bad. Between two turns of the loop, so no
 * request sees half of it; connections and parked requests stay. */
static void syncd_reload(struct syncd *d) {
        const struct settings *o = d->settings;
        _cleanup_(freep) char *tokens_path = syncd_reload_path(o->tokens, d->from_credentials[1],
                                                               SYNCD_CREDENTIAL_TOKENS);
        _cleanup_(freep) char *key_path = syncd_reload_path(o->key, d->from_credentials[0], SYNCD_CREDENTIAL_KEY);
        uint64_t t0 = now_us(CLOCK_MONOTONIC);
        bool tokens, cert;
        char what[1024] = "", date[32], status[512];
        size_t n = 0;

        notify_reloading(d->notify);
        tokens = syncd_reload_tokens(d, tokens_path);
        cert = syncd_reload_cert(d, key_path);
        d->reload_note[0] = '\0';
        if (!tokens || !cert)
                snprintf(d->reload_note, sizeof(d->reload_note), "The reload at %s kept the %s in use (see the "
                         "log). ", syncd_date(time(NULL), date), !tokens && !cert ? "tokens and the certificate" :
                         !tokens ? "tokens" : "certificate");

        if (tokens)
                n += (size_t) snprintf(what, sizeof(what), "%zu tokens from %s", tokens_count(d->tokens),
                                       tokens_path);
        if (cert && n < sizeof(what))
                (void) snprintf(what + n, sizeof(what) - n, "%scertificate %s (sha256//%s), valid until %s",
                                n ? "; " : "", o->cert, tlscert_pin(d->cert),
                                syncd_date(tlscert_expires(d->cert), date));
        if (tokens || cert)
                log_msg("reloaded in %.1f ms: %s", (double) (now_us(CLOCK_MONOTONIC) - t0) / 1000.0, what);
        else
                log_msg("reload changed nothing");
        notify_ready(d->notify, syncd_status(d, status));
}

static int syncd_head(const char *account, uint64_t *ret_head, void *userdata) {
        struct syncd *d = userdata;

        return store_seq(d->store, account, ret_head);
}

/* Another syncd on the database changed account (NULL: any account may
 * have changed): the account's sequence is read again, once, and only its
 * waiters that it passed are answered. A notification is a hint: late,
 * doubled, or for a change a waiter has already seen, it must not answer a
 * long poll with the cursor the client sent. */
static void syncd_changed(const char *account, void *userdata) {
        struct syncd *d = userdata;

        longpoll_check(d->longpoll, account, syncd_head, d);
}

/* One turn of the loop: sleep until the daemon, a hang-up, a deadline, the
 * group commit or a signal wants us, let libmicrohttpd take what is ready,
 * commit the group when it is due. Returns 1 when a signal asks to stop. */
static int syncd_turn(struct syncd *d, int sfd, int max_ms) {
        char status[512];
        struct pollfd p[5] = {
                { .fd = http_epoll_fd(d->http), .events = POLLIN },
                { .fd = longpoll_fd(d->longpoll), .events = POLLIN },
                { .fd = sfd, .events = POLLIN },
                { .fd = d->monitor ? monitor_epoll_fd(d->monitor) : -1, .events = POLLIN },
                { .fd = store_changes_fd(d->store), .events = POLLIN },
        };
        int timeout = syncd_min_timeout(http_timeout_ms(d->http),
                                        longpoll_timeout_ms(d->longpoll, now_ms(CLOCK_MONOTONIC)));

        timeout = syncd_min_timeout(timeout, group_timeout_ms(d->group));
        timeout = syncd_min_timeout(timeout, store_changes_timeout_ms(d->store, now_ms(CLOCK_MONOTONIC)));
        timeout = syncd_min_timeout(timeout, notify_timeout_ms(d->notify, now_ms(CLOCK_MONOTONIC)));
        timeout = syncd_min_timeout(timeout, d->monitor ? monitor_timeout_ms(d->monitor) : -1);
        timeout = syncd_min_timeout(timeout, max_ms);
        if (poll(p, 5, timeout) < 0 && errno != EINTR)       /* a descriptor of -1 is not polled */
                return -errno;
        if (sfd >= 0 && p[2].revents) {
                struct signalfd_siginfo si;

                if (read(sfd, &si, sizeof(si)) == (ssize_t) sizeof(si) && si.ssi_signo != SIGHUP)
                        return 1;
                syncd_reload(d);
        }
        if (d->monitor)
                (void) monitor_run(d->monitor);
        if (p[1].revents)
                longpoll_hangups(d->longpoll);
        if (p[4].revents || p[4].fd < 0)        /* down: it reconnects when due */
                store_changes_process(d->store, now_ms(CLOCK_MONOTONIC), syncd_changed, d);
        longpoll_expire(d->longpoll, now_ms(CLOCK_MONOTONIC));
        syncd_shed(d);
        (void) http_run(d->http);
        if (group_timeout_ms(d->group) == 0)
                syncd_commit(d);
        if (notify_tick(d->notify, now_ms(CLOCK_MONOTONIC)))
                notify_status(d->notify, syncd_status(d, status));
        return 0;
}

/* Stop accepting, let every parked request answer (503) or close, then go. */
static void syncd_stop(struct syncd *d) {
        uint64_t deadline = now_ms(CLOCK_MONOTONIC) + SYNCD_STOP_GRACE_MS;

        http_quiesce(d->http);
        (void) syncd_turn(d, -1, 0);
        while ((longpoll_waiters(d->longpoll) > 0 || !group_empty(d->group)) &&
               now_ms(CLOCK_MONOTONIC) < deadline)
                (void) syncd_turn(d, -1, 20);
        for (int i = 0; i < 3; i++)
                (void) syncd_turn(d, -1, 0);
        syncd_commit(d);                /* nothing may stay suspended */
}

static int syncd_signalfd(void) {
        sigset_t mask;

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return -errno;
        (void) signal(SIGPIPE, SIG_IGN);
        return signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
}

/* --backup FILE: one line on stdout saying what was copied, 0; or one line
 * on stderr saying what failed, 1. */
static int syncd_backup(const char *db, const char *dest) {
        _cleanup_(freep) char *error = NULL;
        struct backup_stats s;
        int r;

        if (settings_database_is_uri(db))
                return log_msg("--backup copies SQLite files; a PostgreSQL database is backed up with pg_dump "
                               "(docs/operations.md)"), 1;
        r = backup_run(db, dest, &s, &error);
        if (r < 0)
                return log_msg("backup of %s failed: %s", db, error ?: strerror(-r)), 1;
        printf("syncd: backup of %s to %s: %.1f MiB, %llu accounts, %llu records, %llu devices, in %.2f s; "
               "quick_check ok\n", db, dest, (double) s.bytes / (1024.0 * 1024.0), (unsigned long long) s.accounts,
               (unsigned long long) s.records, (unsigned long long) s.devices, (double) s.usec / 1e6);
        return 0;
}

int main(int argc, char **argv) {
        _cleanup_(settings_done) struct settings o = SETTINGS_DEFAULT;
        struct syncd_args a = {};
        struct syncd d = {};
        bool done, credential[2];
        int r, sfd;

        r = syncd_parse_args(argc, argv, &a, &done);
        if (r != 0 || done)
                return r;
        r = syncd_settings(&a, &o, credential);
        if (r != 0)
                return r;
        if (a.backup)
                return syncd_backup(o.db, a.backup);
        sfd = syncd_signalfd();
        if (sfd < 0)
                return log_msg("cannot set up signals: %m"), 1;
        d.settings = &o;
        d.no_access_log = a.no_access_log;
        memcpy(d.from_credentials, credential, sizeof(credential));
        r = syncd_start(&d, &o);
        if (r == 0) {
                char status[512];

                syncd_print_listening(&d);
                notify_ready(d.notify, syncd_status(&d, status));
                while ((r = syncd_turn(&d, sfd, -1)) == 0)
                        ;
                if (r < 0)
                        log_msg("event loop failed: %s", strerror(-r));
                notify_stopping(d.notify);
                syncd_stop(&d);
                r = r < 0 ? 1 : 0;
        }
        syncd_free(&d);
        (void) close(sfd);
        return r;
}
