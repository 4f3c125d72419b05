/* Starting and stopping syncd for the uplink tests, and its fault hooks.
 * Blocking is fine here: the uplink under test runs on its own loop only
 * while none of these run. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "syncd-harness.h"

#define START_DEADLINE_MS 10000
#define STOP_DEADLINE_MS 10000

static char certs_dir[64];
static unsigned db_counter;

static int64_t now_ms(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int write_file(const char *path, const char *text) {
        FILE *f = fopen(path, "we");

        if (!f)
                return -errno;
        (void) fputs(text, f);
        return fclose(f) == 0 ? 0 : -EIO;
}

const char *syncd_certs(void) {
        char cmd[256], path[128];

        if (certs_dir[0])
                return certs_dir;
        strcpy(certs_dir, "/tmp/uplink-test-XXXXXX");
        if (!mkdtemp(certs_dir))
                goto fail;
        (void) snprintf(cmd, sizeof(cmd), "sh tests/lib/mkcerts.sh %s", certs_dir);
        if (system(cmd) != 0)
                goto fail;
        (void) snprintf(path, sizeof(path), "%s/tokens", certs_dir);
        if (write_file(path, SYNCD_TOKEN_A " alice\n" SYNCD_TOKEN_B " bob\n") < 0)
                goto fail;
        return certs_dir;
fail:
        certs_dir[0] = '\0';
        return NULL;
}

const char *syncd_cert_path(const char *name) {
        static char buf[192];

        (void) snprintf(buf, sizeof(buf), "%s/%s", syncd_certs(), name);
        return buf;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) st;
        (void) flag;
        (void) ftw;
        return remove(path);
}

void syncd_certs_cleanup(void) {
        if (certs_dir[0])
                (void) nftw(certs_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
        certs_dir[0] = '\0';
}

static void syncd_exec(const char *cert, const char *db, int out_fd) {
        const char *build = getenv("BRIDGED_BUILD");
        char bin[256], certp[192], keyp[192], tokens[192];

        (void) snprintf(bin, sizeof(bin), "%s/server/syncd", build ? build : "build");
        (void) snprintf(certp, sizeof(certp), "%s/%s.pem", certs_dir, cert);
        (void) snprintf(keyp, sizeof(keyp), "%s/%s.key", certs_dir, cert);
        (void) snprintf(tokens, sizeof(tokens), "%s/tokens", certs_dir);
        (void) prctl(PR_SET_PDEATHSIG, SIGTERM);       /* a crashed test leaves no server behind */
        (void) dup2(out_fd, STDOUT_FILENO);
        (void) setenv("SYNCD_TEST_FAULTS", "1", 1);
        if (!getenv("UPLINK_TEST_VERBOSE")) {
                int null = open("/dev/null", O_WRONLY | O_CLOEXEC);

                (void) dup2(null, STDERR_FILENO);
        }
        execl(bin, bin, "--listen", "127.0.0.1:0", "--cert", certp, "--key", keyp, "--db", db, "--tokens", tokens,
              (char *) NULL);
        _exit(127);
}

/* Reads "syncd: listening on 127.0.0.1:PORT" under the deadline. */
static int read_port(int fd) {
        int64_t deadline = now_ms() + START_DEADLINE_MS;
        char buf[256];
        size_t n = 0;
        char *nl, *colon;

        while (!(nl = memchr(buf, '\n', n))) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                int64_t left = deadline - now_ms();
                ssize_t k;

                if (left <= 0 || poll(&p, 1, (int) left) <= 0)
                        return -ETIMEDOUT;
                k = read(fd, buf + n, sizeof(buf) - 1 - n);
                if (k <= 0)
                        return -EIO;
                n += (size_t) k;
        }
        *nl = '\0';
        colon = strrchr(buf, ':');
        if (!strstr(buf, "listening on") || !colon)
                return -EIO;
        return atoi(colon + 1);
}

int syncd_start(struct syncd *s, const char *cert) {
        int pipefd[2], port;

        if (!syncd_certs())
                return -EIO;
        (void) snprintf(s->db, sizeof(s->db), "%s/db-%u-%s", certs_dir, db_counter++, cert);
        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return -errno;
        s->pid = fork();
        if (s->pid < 0)
                return -errno;
        if (s->pid == 0)
                syncd_exec(cert, s->db, pipefd[1]);
        (void) close(pipefd[1]);
        port = read_port(pipefd[0]);
        (void) close(pipefd[0]);
        if (port <= 0) {
                (void) syncd_stop(s);
                return port < 0 ? port : -EIO;
        }
        s->port = port;
        (void) snprintf(s->url, sizeof(s->url), "https://127.0.0.1:%d", port);
        return 0;
}

int syncd_stop(struct syncd *s) {
        struct pollfd p = { .events = POLLIN };
        int status;

        if (s->pid <= 0)
                return 0;
        p.fd = pidfd_open(s->pid, 0);
        (void) kill(s->pid, SIGTERM);
        if (p.fd < 0 || poll(&p, 1, STOP_DEADLINE_MS) <= 0)
                (void) kill(s->pid, SIGKILL);
        if (p.fd >= 0)
                (void) close(p.fd);
        (void) waitpid(s->pid, &status, 0);
        s->pid = 0;
        return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

static size_t discard(char *p, size_t size, size_t n, void *ud) {
        (void) p;
        (void) ud;
        return size * n;
}

int syncd_faults(const struct syncd *s, const char *rules) {
        char url[128];
        long status = 0;
        CURL *e = curl_easy_init();
        CURLcode k;

        if (!e)
                return -ENOMEM;
        (void) snprintf(url, sizeof(url), "%s/test/faults", s->url);
        (void) curl_easy_setopt(e, CURLOPT_URL, url);
        (void) curl_easy_setopt(e, CURLOPT_CAINFO, syncd_cert_path("ca.pem"));
        (void) curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
        if (rules)
                (void) curl_easy_setopt(e, CURLOPT_POSTFIELDS, rules);
        else
                (void) curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "DELETE");
        k = curl_easy_perform(e);
        (void) curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_cleanup(e);
        return k == CURLE_OK && status == 200 ? 0 : -EIO;
}
