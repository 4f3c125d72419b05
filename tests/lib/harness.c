/* SPDX-License-Identifier: MIT */
/* The shared test harness of tests/server (see harness.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define HARNESS_START_DEADLINE_MS 15000
#define HARNESS_STOP_DEADLINE_MS 10000
#define HARNESS_LOG_PIPE_SIZE (1024 * 1024)     /* syncd never blocks on its log between reads */

struct harness_easy_priv {
        struct curl_slist *headers;
};

uint64_t harness_now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000u + (uint64_t) ts.tv_nsec / 1000000u;
}

uint64_t harness_wall_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * 1000u + (uint64_t) ts.tv_nsec / 1000000u;
}

void harness_new_uuid(char buf[static 37]) {
        static unsigned n;
        unsigned char b[16];

        if (getrandom(b, sizeof(b), 0) != (ssize_t) sizeof(b))
                abort();
        b[0] ^= (unsigned char) n++;
        snprintf(buf, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

/* $BRIDGED_BUILD/server/syncd; without it (make bench), found beside this
 * program: BUILD/tests/server/NAME -> BUILD/server/syncd. */
static const char *harness_syncd_path(char *buf, size_t size) {
        const char *b = getenv("BRIDGED_BUILD");
        char exe[PATH_MAX];
        ssize_t n;

        if (b && *b) {
                snprintf(buf, size, "%s/server/syncd", b);
                return buf;
        }
        n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        exe[n > 0 ? n : 0] = '\0';
        for (int i = 0; i < 3; i++) {
                char *slash = strrchr(exe, '/');

                if (slash)
                        *slash = '\0';
        }
        if (!exe[0] || strlen(exe) + sizeof("/server/syncd") > size)
                strcpy(exe, "build");
        strcpy(buf, exe);
        strcat(buf, "/server/syncd");
        return buf;
}

const char *harness_pg(void) {
        const char *dir = getenv("SYNCD_TEST_PG");

        return dir && *dir ? dir : NULL;
}

/* With SYNCD_TEST_PG: a database of its own on that server, named for the
 * directory, as syncd's default --db. */
static int harness_pg_db(struct harness_syncd *s) {
        const char *name = strrchr(s->dir, '/') + 1;
        char cmd[256];

        snprintf(cmd, sizeof(cmd), "createdb -h '%s' -U syncd '%s'", harness_pg(), name);
        if (system(cmd) != 0)
                return -EIO;
        snprintf(s->db, sizeof(s->db), "postgresql:///%s?host=%s&user=syncd", name, harness_pg());
        return 0;
}

int harness_pg_ctl(const char *action) {
        char cmd[256];

        snprintf(cmd, sizeof(cmd), "tests/server/pg-harness %s '%s'", action, harness_pg());
        return system(cmd) == 0 ? 0 : -EIO;
}

int harness_dir(struct harness_syncd *s) {
        char cmd[256];
        FILE *f;

        memset(s, 0, sizeof(*s));
        s->pid = -1;
        s->pidfd = -1;
        strcpy(s->dir, "/tmp/syncd-test-XXXXXX");
        if (!mkdtemp(s->dir))
                return -errno;
        if (harness_pg() && harness_pg_db(s) < 0)
                return -EIO;
        snprintf(cmd, sizeof(cmd), "tests/lib/mkcerts.sh '%s'", s->dir);
        if (system(cmd) != 0)
                return -EIO;
        snprintf(s->ca, sizeof(s->ca), "%s/ca.pem", s->dir);
        snprintf(cmd, sizeof(cmd), "%s/tokens", s->dir);
        f = fopen(cmd, "we");
        if (!f)
                return -errno;
        fprintf(f, "# test tokens\n%s alice\n%s bob   # the other account\n", HARNESS_TOKEN_A, HARNESS_TOKEN_B);
        if (fclose(f) != 0)
                return -EIO;
        return chmod(cmd, 0600) < 0 ? -errno : 0;       /* else syncd warns that others can read it */
}

int harness_tokens_add(const struct harness_syncd *s, const char *token, const char *account) {
        char path[128];
        FILE *f;

        snprintf(path, sizeof(path), "%s/tokens", s->dir);
        f = fopen(path, "ae");
        if (!f)
                return -errno;
        fprintf(f, "%s %s\n", token, account);
        return fclose(f) == 0 ? 0 : -EIO;
}

/* Reads one line from fd before the deadline. */
static int harness_read_line(int fd, char *buf, size_t size, uint64_t deadline) {
        size_t n = 0;

        while (n + 1 < size) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                uint64_t now = harness_now_ms();
                ssize_t k;

                if (now >= deadline || poll(&p, 1, (int) (deadline - now)) <= 0)
                        return -ETIMEDOUT;
                k = read(fd, buf + n, 1);
                if (k <= 0)
                        return -EPIPE;
                if (buf[n] == '\n')
                        break;
                n++;
        }
        buf[n] = '\0';
        return 0;
}

static void harness_exec(const struct harness_syncd *s, bool faults, const char *const *extra, int out, int err) {
        char bin[256], cert[128], key[128], db[128], tokens[128], listen[32];
        const char *argv[40] = { "syncd", "--listen", listen, "--cert", cert, "--key", key,
                                 "--db", db, "--tokens", tokens };
        size_t n = 11;

        if (s->config[0] && s->config_only)
                n = 1;
        if (s->config[0]) {
                argv[n++] = "--config";
                argv[n++] = s->config;
        }
        for (const char *const *e = s->env; e && *e; e++)
                (void) putenv((char *) *e);
        if (s->notify_path[0])
                setenv("NOTIFY_SOCKET", s->notify_path, 1);

        /* a restart keeps the port, so clients configured with it find it again */
        snprintf(listen, sizeof(listen), "127.0.0.1:%d", s->port > 0 ? s->port : 0);
        snprintf(cert, sizeof(cert), "%s/%s.pem", s->dir, s->cert ? s->cert : "server");
        snprintf(key, sizeof(key), "%s/%s.key", s->dir, s->cert ? s->cert : "server");
        if (s->db[0])
                snprintf(db, sizeof(db), "%s", s->db);
        else
                snprintf(db, sizeof(db), "%s/db", s->dir);
        snprintf(tokens, sizeof(tokens), "%s/tokens", s->dir);
        if (s->metrics) {
                argv[n++] = "--metrics";
                argv[n++] = "127.0.0.1:0";
        }
        if (!s->access_log && err < 0 && !s->quiet && !s->log_path[0])
                argv[n++] = "--no-access-log";
        for (; extra && *extra && n < 38; extra++)
                argv[n++] = *extra;
        argv[n] = NULL;
        (void) prctl(PR_SET_PDEATHSIG, SIGTERM);       /* a crashed test leaves no server behind */
        dup2(out, STDOUT_FILENO);
        if (err >= 0)
                dup2(err, STDERR_FILENO);
        if (s->nofile_hard)
                (void) setrlimit(RLIMIT_NOFILE, &(struct rlimit) { s->nofile_soft, s->nofile_hard });
        if (err < 0 && (s->quiet || s->log_path[0])) {
                int fd = s->log_path[0] ? open(s->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600) :
                        open("/dev/null", O_WRONLY | O_CLOEXEC);

                if (fd >= 0)
                        dup2(fd, STDERR_FILENO);
        }
        if (s->journal_stream) {
                struct stat st;
                char v[64];

                if (fstat(STDERR_FILENO, &st) == 0) {
                        snprintf(v, sizeof(v), "%ju:%ju", (uintmax_t) st.st_dev, (uintmax_t) st.st_ino);
                        setenv("JOURNAL_STREAM", v, 1);
                }
        } else
                unsetenv("JOURNAL_STREAM");     /* the test's own journal is not syncd's stderr */
        if (faults)
                setenv("SYNCD_TEST_FAULTS", "1", 1);
        else
                unsetenv("SYNCD_TEST_FAULTS");
        execv(harness_syncd_path(bin, sizeof(bin)), (char **) argv);
        _exit(127);
}

/* A pipe for syncd's stderr, large enough that it never waits for us. */
static int harness_log_pipe(struct harness_syncd *s) {
        int p[2];

        if (pipe2(p, O_CLOEXEC) < 0)
                return -errno;
        (void) fcntl(p[0], F_SETPIPE_SZ, HARNESS_LOG_PIPE_SIZE);
        (void) fcntl(p[0], F_SETFL, O_NONBLOCK);
        if (s->log_fd > 0)
                close(s->log_fd);
        s->log_fd = p[0];
        return p[1];
}

int harness_start(struct harness_syncd *s, bool faults, const char *const *extra) {
        char line[256];
        int p[2], r, err = -1;

        if (pipe2(p, O_CLOEXEC) < 0)
                return -errno;
        if (s->capture_log && (err = harness_log_pipe(s)) < 0)
                return err;
        s->pid = fork();
        if (s->pid < 0)
                return -errno;
        if (s->pid == 0)
                harness_exec(s, faults, extra, p[1], err);
        close(p[1]);
        if (err >= 0)
                close(err);
        s->pidfd = (int) pidfd_open(s->pid, 0);
        r = harness_read_line(p[0], line, sizeof(line), harness_now_ms() + HARNESS_START_DEADLINE_MS);
        if (r >= 0 && (sscanf(line, "syncd: listening on 127.0.0.1:%d", &s->port) != 1 || s->port <= 0))
                r = -EPROTO;
        if (r >= 0 && s->metrics) {     /* the second line, with --metrics */
                r = harness_read_line(p[0], line, sizeof(line), harness_now_ms() + HARNESS_START_DEADLINE_MS);
                if (r >= 0 && (sscanf(line, "syncd: metrics on 127.0.0.1:%d", &s->metrics_port) != 1 ||
                               s->metrics_port <= 0))
                        r = -EPROTO;
                snprintf(s->metrics_base, sizeof(s->metrics_base), "http://127.0.0.1:%d", s->metrics_port);
        }
        close(p[0]);
        if (r < 0)
                return r;
        snprintf(s->base, sizeof(s->base), "https://127.0.0.1:%d", s->port);
        return 0;
}

static int harness_wait_exit(pid_t pid, int pidfd, int deadline_ms) {
        struct pollfd p = { .fd = pidfd, .events = POLLIN };
        int status;

        if (pidfd >= 0 && poll(&p, 1, deadline_ms) <= 0)
                return -1;
        if (waitpid(pid, &status, 0) != pid)
                return -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int harness_stop(struct harness_syncd *s) {
        int r;

        if (s->pid <= 0)
                return -1;
        kill(s->pid, SIGTERM);
        r = harness_wait_exit(s->pid, s->pidfd, HARNESS_STOP_DEADLINE_MS);
        if (r < 0) {
                kill(s->pid, SIGKILL);
                (void) waitpid(s->pid, NULL, 0);
        }
        if (s->pidfd >= 0)
                close(s->pidfd);
        s->pid = -1;
        s->pidfd = -1;
        return r;
}

static int harness_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) st;
        (void) flag;
        (void) ftw;
        return remove(path);
}

void harness_cleanup(struct harness_syncd *s) {
        if (s->pid > 0)
                (void) harness_stop(s);
        if (s->capture_log && s->log_fd > 0)
                close(s->log_fd);
        s->log_fd = 0;
        if (s->notify_path[0] && s->notify_fd > 0)
                close(s->notify_fd);
        s->notify_fd = 0;
        free(s->log);
        s->log = NULL;
        s->log_len = 0;
        if (s->dir[0])
                (void) nftw(s->dir, harness_rm, 16, FTW_DEPTH | FTW_PHYS);
}

int harness_run_syncd(const char *const *argv, char *out, size_t size) {
        char bin[256];
        size_t n = 0;
        int p[2], r, pidfd;
        pid_t pid;

        if (pipe2(p, O_CLOEXEC) < 0)
                return -1;
        pid = fork();
        if (pid == 0) {
                dup2(p[1], STDOUT_FILENO);
                dup2(p[1], STDERR_FILENO);
                execv(harness_syncd_path(bin, sizeof(bin)), (char **) argv);
                _exit(127);
        }
        close(p[1]);
        for (;;) {
                struct pollfd pf = { .fd = p[0], .events = POLLIN };
                ssize_t k;

                if (poll(&pf, 1, HARNESS_STOP_DEADLINE_MS) <= 0)
                        break;
                k = read(p[0], out + n, size - 1 - n);
                if (k <= 0)
                        break;
                n += (size_t) k;
        }
        out[n] = '\0';
        close(p[0]);
        pidfd = (int) pidfd_open(pid, 0);
        r = harness_wait_exit(pid, pidfd, HARNESS_STOP_DEADLINE_MS);
        if (r < 0) {                    /* still running: a start that should have failed did not */
                kill(pid, SIGKILL);
                (void) waitpid(pid, NULL, 0);
        }
        if (pidfd >= 0)
                close(pidfd);
        return r;
}

static size_t harness_append(char **buf, size_t *len, const char *data, size_t n) {
        char *p = realloc(*buf, *len + n + 1);

        if (!p)
                return 0;
        memcpy(p + *len, data, n);
        *len += n;
        p[*len] = '\0';
        *buf = p;
        return n;
}

static size_t harness_on_body(char *data, size_t size, size_t n, void *userdata) {
        struct harness_resp *r = userdata;

        return harness_append(&r->body, &r->len, data, size * n);
}

static size_t harness_on_header(char *data, size_t size, size_t n, void *userdata) {
        struct harness_resp *r = userdata;

        return harness_append(&r->headers, &r->headers_len, data, size * n);
}

CURL *harness_easy(const struct harness_syncd *s, const char *method, const char *path, const char *token,
                   const char *body, const char *const *headers, struct harness_resp *resp) {
        struct curl_slist *list = NULL;
        char url[512], auth[256];
        CURL *e = curl_easy_init();

        memset(resp, 0, sizeof(*resp));
        snprintf(url, sizeof(url), "%s%s", s->base, path);
        curl_easy_setopt(e, CURLOPT_URL, url);
        /* the test CA alone: not also libcurl's built-in CA path, which the
         * GnuTLS flavour reads whole at every handshake (seconds for a
         * hundred connections) */
        if (s->ca[0]) {
                curl_easy_setopt(e, CURLOPT_CAINFO, s->ca);
                curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
        }
        curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long) CURL_HTTP_VERSION_1_1);
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, harness_on_body);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, resp);
        curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, harness_on_header);
        curl_easy_setopt(e, CURLOPT_HEADERDATA, resp);
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 30000L);
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        if (body) {
                curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
                curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long) strlen(body));
                list = curl_slist_append(list, "Content-Type: application/json");
        }
        if (token) {
                snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
                list = curl_slist_append(list, auth);
        }
        for (; headers && *headers; headers++)
                list = curl_slist_append(list, *headers);
        if (body)
                list = curl_slist_append(list, "Expect:");
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, list);
        curl_easy_setopt(e, CURLOPT_PRIVATE, list);
        return e;
}

void harness_easy_free(CURL *e) {
        struct curl_slist *list = NULL;

        if (!e)
                return;
        curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **) &list);
        curl_slist_free_all(list);
        curl_easy_cleanup(e);
}

int harness_request(const struct harness_syncd *s, const char *method, const char *path, const char *token,
                    const char *body, const char *const *headers, struct harness_resp *resp) {
        CURL *e = harness_easy(s, method, path, token, body, headers, resp);

        resp->curl_code = (int) curl_easy_perform(e);
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &resp->status);
        harness_easy_free(e);
        return resp->curl_code == CURLE_OK ? 0 : -EIO;
}

int harness_metrics_get(const struct harness_syncd *s, const char *method, const char *path,
                        const char *const *headers, struct harness_resp *resp) {
        struct harness_syncd plain = *s;
        CURL *e;

        snprintf(plain.base, sizeof(plain.base), "%s", s->metrics_base);
        plain.ca[0] = '\0';
        e = harness_easy(&plain, method, path, NULL, NULL, headers, resp);
        if (strcmp(method, "HEAD") == 0)
                curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
        resp->curl_code = (int) curl_easy_perform(e);
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &resp->status);
        harness_easy_free(e);
        return resp->curl_code == CURLE_OK ? 0 : -EIO;
}

double harness_metric(const char *text, const char *series) {
        size_t n = strlen(series);

        for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
                if (strncmp(l, series, n) == 0 && l[n] == ' ')
                        return strtod(l + n + 1, NULL);
        return 0;
}

int harness_metric_get(const struct harness_syncd *s, const char *series, double *ret) {
        struct harness_resp r = { 0 };
        int rc = harness_metrics_get(s, "GET", "/metrics", NULL, &r);

        if (rc == 0 && r.status != 200)
                rc = -EIO;
        if (rc == 0)
                *ret = harness_metric(r.body, series);
        harness_resp_clear(&r);
        return rc;
}

void harness_resp_clear(struct harness_resp *r) {
        free(r->body);
        free(r->headers);
        memset(r, 0, sizeof(*r));
}

const char *harness_header(const struct harness_resp *r, const char *name, char *buf, size_t size) {
        size_t n = strlen(name);

        for (const char *l = r->headers; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
                const char *v, *end;

                if (strncasecmp(l, name, n) != 0 || l[n] != ':')
                        continue;
                v = l + n + 1;
                while (*v == ' ')
                        v++;
                end = v + strcspn(v, "\r\n");
                snprintf(buf, size, "%.*s", (int) (end - v), v);
                return buf;
        }
        return NULL;
}

/* Appends what the pipe holds now; false once it is at its end. */
static bool harness_log_read(struct harness_syncd *s) {
        char buf[4096];
        ssize_t n;

        while ((n = read(s->log_fd, buf, sizeof(buf))) > 0)
                harness_append(&s->log, &s->log_len, buf, (size_t) n);
        return n < 0 && errno == EAGAIN;
}

bool harness_log_wait(struct harness_syncd *s, const char *needle, uint64_t deadline_ms) {
        for (;;) {
                struct pollfd p = { .fd = s->log_fd, .events = POLLIN };
                uint64_t now = harness_now_ms();
                bool open = s->capture_log && s->log_fd > 0 && harness_log_read(s);

                if (s->log && strstr(s->log, needle))
                        return true;
                if (!open || now >= deadline_ms)
                        return false;
                (void) poll(&p, 1, (int) (deadline_ms - now));
        }
}

bool harness_log_wait_count(struct harness_syncd *s, const char *needle, size_t n, uint64_t deadline_ms) {
        for (;;) {
                struct pollfd p = { .fd = s->log_fd, .events = POLLIN };
                uint64_t now = harness_now_ms();

                if (harness_log_count(s, needle) >= n)
                        return true;
                if (!s->capture_log || s->log_fd <= 0 || now >= deadline_ms)
                        return false;
                if (poll(&p, 1, (int) (deadline_ms - now)) > 0 && (p.revents & POLLHUP) && !(p.revents & POLLIN))
                        return harness_log_count(s, needle) >= n;       /* syncd is gone */
        }
}

size_t harness_log_count(struct harness_syncd *s, const char *needle) {
        size_t n = 0;

        if (s->capture_log && s->log_fd > 0)
                (void) harness_log_read(s);
        for (const char *l = s->log; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
                const char *hit = strstr(l, needle), *end = strchr(l, '\n');

                n += hit && (!end || hit < end);
        }
        return n;
}

int harness_notify_open(struct harness_syncd *s) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

        if (fd < 0)
                return -errno;
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/notify", s->dir);
        snprintf(s->notify_path, sizeof(s->notify_path), "%s", sa.sun_path);
        (void) unlink(sa.sun_path);
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                int r = -errno;

                close(fd);
                s->notify_path[0] = '\0';
                return r;
        }
        s->notify_fd = fd;
        return 0;
}

bool harness_notify_wait(struct harness_syncd *s, const char *needle, uint64_t deadline_ms, char *buf, size_t size) {
        char msg[4096];

        for (;;) {
                struct pollfd p = { .fd = s->notify_fd, .events = POLLIN };
                uint64_t now = harness_now_ms();
                ssize_t n = recv(s->notify_fd, msg, sizeof(msg) - 1, 0);

                if (n >= 0) {
                        msg[n] = '\0';
                        if (strstr(msg, needle)) {
                                if (buf)
                                        snprintf(buf, size, "%s", msg);
                                return true;
                        }
                        continue;
                }
                if (errno != EAGAIN || now >= deadline_ms)
                        return false;
                (void) poll(&p, 1, (int) (deadline_ms - now));
        }
}
