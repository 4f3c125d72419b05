/* SPDX-License-Identifier: MIT */
/* End-to-end harness (see e2e.h). */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "e2e.h"
#include "codec/recjson.h"
#include "codec/wire.h"
#include "tests/lib/testbus.h"
#include "tests/lib/phone.h"

#define SIM_NAME "org.bridged.test.Budsim"
#define SIM_PATH "/org/bridged/test"
#define SIM_IFACE "org.bridged.test.Budsim1"

uint64_t e2e_now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

static const char *build_dir(void) {
        const char *b = getenv("BRIDGED_BUILD");
        return b && *b ? b : "build";
}

static int write_file(const char *path, const char *text) {
        FILE *f = fopen(path, "we");

        if (!f)
                return -errno;
        fputs(text, f);
        return fclose(f) == 0 ? 0 : -errno;
}

static int write_conf(struct e2e *e) {
        char text[1024], path[160];
        int r;

        (void) snprintf(path, sizeof(path), "%s/token", e->dir);
        r = write_file(path, HARNESS_TOKEN_A "\n");
        if (r == 0 && chmod(path, 0600) < 0)   /* as an admin would: no warning */
                r = -errno;
        if (r < 0)
                return r;
        (void) snprintf(text, sizeof(text),
                        "[Server]\nUrl=%s\nTokenFile=%s\nCAFile=%s\nLongPoll=%s\n\n"
                        "[Sync]\nPushDebounceMs=%u\n",
                        e->url[0] ? e->url : e->server.base, path, e->server.ca, e->long_poll ? "yes" : "no",
                        e->push_debounce_ms);
        return write_file(e->conf, text);
}

/* The notify socket bridged reports READY=1 to, as systemd's would. */
static int notify_socket(struct e2e *e) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };

        (void) snprintf(e->notify, sizeof(e->notify), "%s/notify", e->dir);
        if (strlen(e->notify) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, e->notify, strlen(e->notify) + 1);
        e->notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (e->notify_fd < 0)
                return -errno;
        if (bind(e->notify_fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return -errno;
        return 0;
}

static int connect_bus(struct e2e *e) {
        int r = sd_bus_new(&e->bus);

        if (r >= 0)
                r = sd_bus_set_address(e->bus, testbus_address(e->tb));
        if (r >= 0)
                r = sd_bus_set_bus_client(e->bus, 1);
        if (r >= 0)
                r = sd_bus_start(e->bus);
        /* every broadcast signal wakes e2e_wait */
        if (r >= 0)
                r = sd_bus_add_match(e->bus, NULL, "type='signal'", NULL, NULL);
        return r < 0 ? r : 0;
}

/* A free port on 127.0.0.1 for HAProxy (taken back at once: HAProxy binds
 * it next). */
static int free_port(void) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(sa);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = -1;

        if (fd >= 0 && bind(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0 &&
            getsockname(fd, (struct sockaddr *) &sa, &len) == 0)
                port = ntohs(sa.sin_port);
        if (fd >= 0)
                close(fd);
        return port;
}

/* HAProxy in master-worker mode under a notify socket of ours: its READY=1
 * says the listener is bound (the event waited for, under a deadline). */
static int haproxy_start(struct e2e *e, int port) {
        char cfg[160], text[768], ready[128], buf[256];
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        uint64_t deadline = harness_now_ms() + 15000;
        int fd, r = -ETIMEDOUT;

        (void) snprintf(cfg, sizeof(cfg), "%s/haproxy.cfg", e->dir);
        (void) snprintf(text, sizeof(text),
                        "global\n  maxconn 2000\n"
                        "defaults\n  mode tcp\n  timeout connect 5s\n  timeout client 120s\n"
                        "  timeout server 120s\n"
                        "frontend sync\n  bind 127.0.0.1:%d\n  default_backend syncd\n"
                        "backend syncd\n  balance roundrobin\n"
                        "  server a 127.0.0.1:%d\n  server b 127.0.0.1:%d\n",
                        port, e->server.port, e->server2.port);
        if (write_file(cfg, text) < 0)
                return -EIO;
        (void) snprintf(ready, sizeof(ready), "%s/haproxy-notify", e->dir);
        memcpy(sa.sun_path, ready, strlen(ready) + 1);
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return -errno;
        e->haproxy = fork();
        if (e->haproxy == 0) {
                (void) prctl(PR_SET_PDEATHSIG, SIGTERM);
                (void) setenv("NOTIFY_SOCKET", ready, 1);
                execlp("haproxy", "haproxy", "-Ws", "-q", "-f", cfg, (char *) NULL);
                _exit(127);
        }
        while (e->haproxy > 0 && harness_now_ms() < deadline) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                ssize_t n;

                if (poll(&p, 1, (int) (deadline - harness_now_ms())) <= 0)
                        break;
                n = recv(fd, buf, sizeof(buf) - 1, 0);
                buf[n > 0 ? n : 0] = '\0';
                if (strstr(buf, "READY=1")) {
                        r = 0;
                        break;
                }
        }
        close(fd);
        return r;
}

/* The second syncd (same directory, certificate and database) and HAProxy
 * in front of both. */
static int balancer_start(struct e2e *e) {
        int port = free_port(), r;

        memset(&e->server2, 0, sizeof(e->server2));
        e->server2.pid = e->server2.pidfd = -1;
        memcpy(e->server2.dir, e->server.dir, sizeof(e->server.dir));
        memcpy(e->server2.ca, e->server.ca, sizeof(e->server.ca));
        memcpy(e->server2.db, e->server.db, sizeof(e->server.db));
        r = harness_start(&e->server2, !e->server_no_faults, e->server_args);
        if (r < 0 || port <= 0)
                return r < 0 ? r : -EADDRNOTAVAIL;
        r = haproxy_start(e, port);
        if (r < 0)
                return r;
        (void) snprintf(e->url, sizeof(e->url), "https://127.0.0.1:%d", port);
        return 0;
}

static void balancer_stop(struct e2e *e) {
        if (e->haproxy > 0) {
                (void) kill(e->haproxy, SIGTERM);
                (void) waitpid(e->haproxy, NULL, 0);
        }
        e->haproxy = 0;
        if (e->server2.pid > 0)
                (void) harness_stop(&e->server2);
}

static int start(struct e2e *e, const struct e2e *owner, bool no_bridged, bool no_faults,
                 const char *const *server_args) {
        char budsim[160];
        int r;

        memset(e, 0, sizeof(*e));
        e->server_no_faults = no_faults;
        e->server_args = server_args;
        e->notify_fd = -1;
        e->long_poll = true;
        strcpy(e->dir, "/tmp/e2e.XXXXXX");
        if (!mkdtemp(e->dir))
                return -errno;
        (void) snprintf(e->conf, sizeof(e->conf), "%s/bridged.conf", e->dir);
        (void) snprintf(e->state, sizeof(e->state), "%s/state", e->dir);
        r = testbus_start(&e->tb);
        if (r < 0)
                return r;
        r = connect_bus(e);
        if (r < 0)
                return r;
        (void) snprintf(budsim, sizeof(budsim), "%s/tests/budsim/budsim", build_dir());
        r = testbus_spawn(e->tb, (char *[]) { budsim, NULL }, "budsim: ready", 10 * 1000000, &e->budsim);
        if (r < 0)
                return r;
        if (owner) {
                e->server = owner->server;
                memcpy(e->url, owner->url, sizeof(e->url));
                e->server_shared = true;
        } else {
                r = harness_dir(&e->server);
                if (r == 0)
                        r = harness_start(&e->server, !e->server_no_faults, e->server_args);
                if (r == 0 && getenv("E2E_HAPROXY") && harness_pg())
                        r = balancer_start(e);
                if (r < 0)
                        return r;
        }
        r = notify_socket(e);
        if (r < 0 || no_bridged)
                return r;
        return e2e_bridged_start(e, true);
}

int e2e_start(struct e2e *e, bool no_bridged) {
        return start(e, NULL, no_bridged, false, NULL);
}

int e2e_start_host(struct e2e *e, const struct e2e *owner, bool no_bridged) {
        return start(e, owner, no_bridged, false, NULL);
}

int e2e_start_without_faults(struct e2e *e, bool no_bridged) {
        return start(e, NULL, no_bridged, true, NULL);
}

int e2e_start_with_server_args(struct e2e *e, bool no_bridged, const char *const *server_args) {
        return start(e, NULL, no_bridged, false, server_args);
}

static void remove_tree(const char *dir) {
        char cmd[160];

        (void) snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        if (dir[0] == '/' && strncmp(dir, "/tmp/", 5) == 0)
                (void) !system(cmd);
}

void e2e_stop(struct e2e *e) {
        if (e->bridged > 0)
                (void) e2e_bridged_stop(e, SIGTERM);
        if (e->budsim > 0)
                (void) testbus_kill(e->budsim);
        e->budsim = 0;
        if (!e->server_shared) {
                balancer_stop(e);
                if (e->server.pid > 0)
                        (void) harness_stop(&e->server);
                harness_cleanup(&e->server);
        }
        e->bus = sd_bus_flush_close_unref(e->bus);
        e->tb = testbus_stop(e->tb);
        if (e->notify_fd >= 0)
                close(e->notify_fd);
        e->notify_fd = -1;
        remove_tree(e->dir);
}

static pid_t spawn_bridged(struct e2e *e) {
        char bin[160];
        pid_t pid;

        (void) snprintf(bin, sizeof(bin), "%s/bridged/bridged", build_dir());
        pid = fork();
        if (pid != 0)
                return pid;
        (void) prctl(PR_SET_PDEATHSIG, SIGTERM);
        (void) setenv("DBUS_SYSTEM_BUS_ADDRESS", testbus_address(e->tb), 1);
        (void) setenv("NOTIFY_SOCKET", e->notify, 1);
        (void) unsetenv("STATE_DIRECTORY");
        execv(bin, (char *[]) { bin, "--config", e->conf, "--state-dir", e->state, "--log-level",
                                getenv("E2E_DEBUG") ? "debug" : "warning", NULL });
        _exit(127);
}

/* READY=1 on the notify socket, or the child's death, or the deadline. */
static int wait_ready(struct e2e *e, uint64_t deadline) {
        char buf[4096];

        for (;;) {
                uint64_t now = e2e_now_usec();
                struct pollfd p = { .fd = e->notify_fd, .events = POLLIN };
                ssize_t n;
                int status;

                if (now >= deadline)
                        return -ETIMEDOUT;
                if (waitpid(e->bridged, &status, WNOHANG) == e->bridged) {
                        e->bridged = 0;
                        return -ECHILD;
                }
                if (poll(&p, 1, (int) ((deadline - now) / 1000 > 100 ? 100 : (deadline - now) / 1000 + 1)) <= 0)
                        continue;
                n = recv(e->notify_fd, buf, sizeof(buf) - 1, 0);
                if (n <= 0)
                        continue;
                buf[n] = '\0';
                if (strstr(buf, "READY=1"))
                        return 0;
        }
}

int e2e_bridged_start(struct e2e *e, bool fresh_state) {
        uint64_t t0;
        int r;

        if (fresh_state)
                remove_tree(e->state);
        if (mkdir(e->state, 0700) < 0 && errno != EEXIST)
                return -errno;
        r = write_conf(e);
        if (r < 0)
                return r;
        t0 = e2e_now_usec();
        e->bridged = spawn_bridged(e);
        if (e->bridged < 0)
                return -errno;
        r = wait_ready(e, t0 + E2E_DEADLINE_USEC);
        e->ready_usec = e2e_now_usec() - t0;
        return r;
}

/* Reads (and forgets) what bridged sent to the notify socket: like
 * systemd, the harness must drain it, or bridged blocks in sd_notify(). */
static void drain_notify(struct e2e *e) {
        char buf[4096];

        while (e->notify_fd >= 0 && recv(e->notify_fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
                ;
}

int e2e_bridged_stop(struct e2e *e, int sig) {
        uint64_t deadline = e2e_now_usec() + E2E_DEADLINE_USEC;
        int status = 0;

        if (e->bridged <= 0)
                return -ESRCH;
        (void) kill(e->bridged, sig);
        for (;;) {
                struct pollfd p = { .fd = e->notify_fd, .events = POLLIN };
                pid_t w;

                drain_notify(e);
                w = waitpid(e->bridged, &status, WNOHANG);
                if (w == e->bridged || w < 0)
                        break;
                if (e2e_now_usec() >= deadline) {
                        fprintf(stderr, "bridged did not stop in time; killing it\n");
                        (void) kill(e->bridged, SIGKILL);
                        (void) waitpid(e->bridged, &status, 0);
                        status = -ETIMEDOUT;
                        break;
                }
                (void) poll(&p, 1, 50);
        }
        e->bridged = 0;
        return status;
}

int e2e_server_stop(struct e2e *e) {
        int r = harness_stop(&e->server);

        if (e->server2.pid > 0 && harness_stop(&e->server2) != 0)     /* behind HAProxy: the whole service */
                r = -1;
        e->server.pid = 0;
        if (r != 0)
                fprintf(stderr, "syncd stop: %d\n", r);
        return r < 0 ? -EIO : 0;
}

int e2e_server_start_with(struct e2e *e, const char *const *extra) {
        /* the same port, so bridged's Url= (or HAProxy) still points at it */
        int r = harness_start(&e->server, !e->server_no_faults, extra);

        if (r == 0 && e->haproxy > 0)
                r = harness_start(&e->server2, !e->server_no_faults, extra);
        return r;
}

int e2e_server_start(struct e2e *e) {
        return e2e_server_start_with(e, e->server_args);
}

struct vcall_result {
        sd_bus_message *reply;
        bool done;
};

static int vcall_on_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        struct vcall_result *v = userdata;

        (void) ret_error;
        v->reply = sd_bus_message_ref(m);
        v->done = true;
        return 0;
}

/* Waits for the bus, the notify socket or the timeout; drains the notify
 * socket, so that bridged never blocks in sd_notify() while it serves what
 * the test waits for. */
static void wait_bus_or_notify(struct e2e *e, uint64_t timeout_usec) {
        struct pollfd p[2] = { { .fd = sd_bus_get_fd(e->bus), .events = (short) sd_bus_get_events(e->bus) },
                               { .fd = e->notify_fd, .events = POLLIN } };

        (void) poll(p, e->notify_fd >= 0 ? 2 : 1, (int) (timeout_usec / 1000) + 1);
        drain_notify(e);
}

/* sd_bus_call(), except that the notify socket is drained while waiting. */
static int vcall(struct e2e *e, const char *dest, const char *path, const char *iface, const char *member,
                 sd_bus_message **ret_reply, sd_bus_error *err, const char *types, va_list ap) {
        uint64_t deadline = e2e_now_usec() + 30 * 1000000ull;
        struct vcall_result res = {};
        sd_bus_message *m = NULL;
        sd_bus_slot *slot = NULL;
        int r = sd_bus_message_new_method_call(e->bus, &m, dest, path, iface, member);

        if (r >= 0 && types)
                r = sd_bus_message_appendv(m, types, ap);
        if (r >= 0)
                r = sd_bus_call_async(e->bus, &slot, m, vcall_on_reply, &res, 30 * 1000000ull);
        sd_bus_message_unref(m);
        while (r >= 0 && !res.done) {
                uint64_t now = e2e_now_usec();

                r = sd_bus_process(e->bus, NULL);
                if (r != 0 || res.done)
                        continue;
                if (now >= deadline)
                        r = -ETIMEDOUT;
                else
                        wait_bus_or_notify(e, deadline - now < 50000 ? deadline - now : 50000);
        }
        sd_bus_slot_unref(slot);
        if (r >= 0 && sd_bus_message_is_method_error(res.reply, NULL)) {
                r = -sd_bus_error_get_errno(sd_bus_message_get_error(res.reply));
                (void) sd_bus_error_copy(err, sd_bus_message_get_error(res.reply));
        }
        if (r >= 0 && ret_reply)
                *ret_reply = sd_bus_message_ref(res.reply);
        sd_bus_message_unref(res.reply);
        return r < 0 ? r : 0;
}

int e2e_spawn(struct e2e *e, const char *cmd, pid_t *ret_pid, int *ret_fd) {
        int fds[2];
        pid_t pid;

        (void) e;
        if (pipe2(fds, O_CLOEXEC) < 0)
                return -errno;
        pid = fork();
        if (pid < 0) {
                close(fds[0]);
                close(fds[1]);
                return -errno;
        }
        if (pid == 0) {
                (void) prctl(PR_SET_PDEATHSIG, SIGTERM);
                if (dup2(fds[1], STDOUT_FILENO) < 0)
                        _exit(127);
                execl("/bin/sh", "sh", "-c", cmd, (char *) NULL);
                _exit(127);
        }
        close(fds[1]);
        *ret_pid = pid;
        *ret_fd = fds[0];
        return 0;
}

bool e2e_read_until(struct e2e *e, int fd, const char *needle, char *buf, size_t size, uint64_t timeout_usec) {
        uint64_t deadline = e2e_now_usec() + timeout_usec;
        size_t len = strlen(buf);

        for (;;) {
                struct pollfd p[2] = { { .fd = fd, .events = POLLIN }, { .fd = e->notify_fd, .events = POLLIN } };
                uint64_t now = e2e_now_usec();
                ssize_t n;

                if (strstr(buf, needle))
                        return true;
                if (now >= deadline || len + 1 >= size)
                        return false;
                while (sd_bus_process(e->bus, NULL) > 0)
                        ;
                (void) poll(p, e->notify_fd >= 0 ? 2 : 1, 50);
                drain_notify(e);
                if (!p[0].revents)
                        continue;
                n = read(fd, buf + len, size - 1 - len);
                if (n <= 0)
                        return strstr(buf, needle) != NULL;
                len += (size_t) n;
                buf[len] = '\0';
        }
}

void e2e_idle(struct e2e *e, uint64_t usec) {
        uint64_t deadline = e2e_now_usec() + usec;

        for (uint64_t now = e2e_now_usec(); now < deadline; now = e2e_now_usec()) {
                while (sd_bus_process(e->bus, NULL) > 0)
                        ;
                wait_bus_or_notify(e, deadline - now < 50000 ? deadline - now : 50000);
        }
}

int e2e_run(struct e2e *e, const char *cmd, char *out, size_t size) {
        uint64_t deadline = e2e_now_usec() + 60 * 1000000ull;
        size_t len = 0;
        int fds[2], status = 0;
        pid_t pid;

        if (pipe2(fds, O_CLOEXEC) < 0)
                return -errno;
        pid = fork();
        if (pid < 0) {
                close(fds[0]);
                close(fds[1]);
                return -errno;
        }
        if (pid == 0) {
                if (dup2(fds[1], STDOUT_FILENO) < 0)
                        _exit(127);
                execl("/bin/sh", "sh", "-c", cmd, (char *) NULL);
                _exit(127);
        }
        close(fds[1]);
        for (;;) {
                struct pollfd p[2] = { { .fd = fds[0], .events = POLLIN }, { .fd = e->notify_fd, .events = POLLIN } };
                uint64_t now = e2e_now_usec();
                ssize_t n;

                if (now >= deadline) {
                        (void) kill(pid, SIGKILL);
                        break;
                }
                (void) poll(p, e->notify_fd >= 0 ? 2 : 1, (int) ((deadline - now) / 1000) + 1);
                drain_notify(e);
                if (!p[0].revents)
                        continue;
                n = read(fds[0], out + len, size - 1 - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                len += (size_t) n;
                if (len == size - 1)            /* the rest is not wanted */
                        break;
        }
        out[len] = '\0';
        close(fds[0]);                          /* a writer still at it gets EPIPE */
        if (waitpid(pid, &status, 0) < 0)
                return -errno;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int e2e_call(struct e2e *e, const char *member, char **ret_json, sd_bus_error *err, const char *types, ...) {
        sd_bus_message *reply = NULL;
        sd_bus_error local = SD_BUS_ERROR_NULL;
        const char *s;
        va_list ap;
        int r;

        va_start(ap, types);
        r = vcall(e, "org.bridged", "/org/bridged", "org.bridged.Manager1", member, &reply, err ? err : &local,
                  types, ap);
        va_end(ap);
        if (r >= 0)
                r = sd_bus_message_read(reply, "s", &s);
        if (r >= 0 && ret_json)
                *ret_json = strdup(s);
        sd_bus_message_unref(reply);
        sd_bus_error_free(&local);
        return r < 0 ? r : 0;
}

int e2e_sim(struct e2e *e, const char *member, sd_bus_message **ret_reply, const char *types, ...) {
        sd_bus_error err = SD_BUS_ERROR_NULL;
        va_list ap;
        int r;

        va_start(ap, types);
        r = vcall(e, SIM_NAME, SIM_PATH, SIM_IFACE, member, ret_reply, &err, types, ap);
        va_end(ap);
        if (r < 0)
                fprintf(stderr, "budsim %s: %s\n", member, err.message ? err.message : strerror(-r));
        sd_bus_error_free(&err);
        return r < 0 ? r : 0;
}

int e2e_sim_add_buds(struct e2e *e, const char *address, const char *name, enum family f, uint64_t id) {
        return e2e_sim(e, "AddBuds", NULL, "ssyt", address, name, (uint8_t) f, id);
}

int e2e_dismiss_conflicts(struct e2e *e, const uint64_t *ids, size_t n) {
        sd_bus_message *m = NULL, *reply = NULL;
        uint32_t removed = 0;
        int r = sd_bus_message_new_method_call(e->bus, &m, "org.bridged", "/org/bridged", "org.bridged.Manager1",
                                               "DismissConflicts");

        if (r >= 0)
                r = sd_bus_message_append_array(m, 't', ids, n * sizeof(*ids));
        if (r >= 0)
                r = sd_bus_call(e->bus, m, 10 * 1000000, NULL, &reply);
        if (r >= 0)
                r = sd_bus_message_read(reply, "u", &removed);
        sd_bus_message_unref(m);
        sd_bus_message_unref(reply);
        return r < 0 ? r : (int) removed;
}

int e2e_sim_touch(struct e2e *e, const char *address, const struct value *v) {
        uint8_t buf[WIRE_PAYLOAD_MAX];
        sd_bus_message *m = NULL;
        sd_bus_error err = SD_BUS_ERROR_NULL;
        int n = wire_value_encode(v, buf, sizeof(buf)), r;

        if (n < 0)
                return n;
        r = sd_bus_message_new_method_call(e->bus, &m, SIM_NAME, SIM_PATH, SIM_IFACE, "Touch");
        if (r >= 0)
                r = sd_bus_message_append(m, "sy", address, (uint8_t) v->key);
        if (r >= 0)
                r = sd_bus_message_append_array(m, 'y', buf, (size_t) n);
        if (r >= 0)
                r = sd_bus_call(e->bus, m, 10 * 1000000, &err, NULL);
        if (r < 0)
                fprintf(stderr, "budsim Touch: %s\n", err.message ? err.message : strerror(-r));
        sd_bus_error_free(&err);
        sd_bus_message_unref(m);
        return r < 0 ? r : 0;
}

int e2e_sim_record(struct e2e *e, const char *address, enum key key, struct record *ret) {
        sd_bus_message *reply = NULL;
        const void *p;
        size_t n;
        int r = e2e_sim(e, "GetRecord", &reply, "sy", address, (uint8_t) key);

        if (r >= 0)
                r = sd_bus_message_read_array(reply, 'y', &p, &n);
        if (r >= 0)
                r = wire_record_decode(p, n, ret, NULL);
        sd_bus_message_unref(reply);
        return r < 0 ? r : 0;
}

int e2e_sim_set_record(struct e2e *e, const char *address, const struct record *rec) {
        uint8_t buf[WIRE_RECORD_MAX];
        sd_bus_message *m = NULL;
        int n = wire_record_encode(rec, buf, sizeof(buf)), r;

        if (n < 0)
                return n;
        r = sd_bus_message_new_method_call(e->bus, &m, SIM_NAME, SIM_PATH, SIM_IFACE, "SetRecord");
        if (r >= 0)
                r = sd_bus_message_append(m, "sy", address, (uint8_t) rec->value.key);
        if (r >= 0)
                r = sd_bus_message_append_array(m, 'y', buf, (size_t) n);
        if (r >= 0)
                r = sd_bus_call(e->bus, m, 10 * 1000000, NULL, NULL);
        sd_bus_message_unref(m);
        return r < 0 ? r : 0;
}

const char *e2e_bus_address(const struct e2e *e) {
        return testbus_address(e->tb);
}

int e2e_server_record(struct e2e *e, enum key key, enum family family, struct record *ret) {
        return phone_pull_record(&e->server, HARNESS_TOKEN_A, key, family, ret);
}

int e2e_phone_push(struct e2e *e, const struct record *rec, char *ret_status, size_t size) {
        return phone_push_record(&e->server, HARNESS_TOKEN_A, rec, ret_status, size);
}

int e2e_set(struct e2e *e, const struct value *v, sd_bus_error *err, struct record *ret) {
        char *json = recjson_value_print(v), *ans = NULL;
        struct record r;
        int rc;

        if (!json)
                return -ENOMEM;
        rc = e2e_call(e, "Set", &ans, err, "sss", key_name(v->key), v->key == KEY_PROFILE ? "" : family_name(v->family),
                      json);
        if (rc >= 0)
                rc = recjson_record_parse(ans, strlen(ans), &r, NULL);
        if (rc >= 0 && ret)
                *ret = r;
        free(json);
        free(ans);
        return rc < 0 ? rc : 0;
}

int e2e_intent(struct e2e *e, enum key key, struct record *ret) {
        sd_bus_error err = SD_BUS_ERROR_NULL;
        char *json = NULL;
        int r = e2e_call(e, "Get", &json, &err, "s", key_name(key));

        if (r < 0)
                r = sd_bus_error_has_name(&err, "org.bridged.Error.NotFound") ? -ENOENT : r;
        else
                r = recjson_record_parse(json, strlen(json), ret, NULL);
        free(json);
        sd_bus_error_free(&err);
        return r;
}

bool e2e_wait(struct e2e *e, bool (*cond)(struct e2e *e, void *userdata), void *userdata, uint64_t timeout_usec) {
        uint64_t deadline = e2e_now_usec() + timeout_usec;

        for (;;) {
                uint64_t now;
                int r;

                while ((r = sd_bus_process(e->bus, NULL)) > 0)
                        ;
                drain_notify(e);
                if (cond(e, userdata))
                        return true;
                now = e2e_now_usec();
                if (now >= deadline)
                        return false;
                /* a bus message wakes us; a state with no signal is re-checked within 50 ms */
                (void) sd_bus_wait(e->bus, deadline - now < 50000 ? deadline - now : 50000);
        }
}

static bool same_record(const struct record *a, const struct record *b) {
        return stamp_eq(a->stamp, b->stamp) && value_equal(&a->value, &b->value);
}

bool e2e_converged(struct e2e *e, const char *address, enum key key, const struct record *want) {
        struct record buds, server, intent;
        char *status = NULL;
        bool ok;

        if (e2e_sim_record(e, address, key, &buds) < 0 || (buds.flags & RECORD_DIRTY))
                return false;
        if (want && !same_record(&buds, want))
                return false;
        if (e2e_server_record(e, key, buds.value.family, &server) < 0 || !same_record(&buds, &server))
                return false;
        if (e2e_intent(e, key, &intent) < 0 || !stamp_eq(intent.stamp, buds.stamp))
                return false;
        if (e2e_call(e, "Status", &status, NULL, NULL) < 0)
                return false;
        ok = strstr(status, "\"pending\":0") != NULL;
        free(status);
        return ok;
}

static bool cond_buds_ready(struct e2e *e, void *userdata) {
        char *status = NULL, needle[64];
        const char *at;
        bool ok;

        if (e2e_call(e, "Status", &status, NULL, NULL) < 0)
                return false;
        (void) snprintf(needle, sizeof(needle), "\"address\":\"%s\"", (const char *) userdata);
        at = strstr(status, needle);
        ok = at && strstr(at, "\"connected\":true") && (!strchr(at, '}') || strstr(at, "\"connected\":true") < strchr(at, '}'));
        free(status);
        return ok;
}

bool e2e_wait_buds_ready(struct e2e *e, const char *address, uint64_t timeout_usec) {
        return e2e_wait(e, cond_buds_ready, (void *) address, timeout_usec);
}

int e2e_bridged_reload(struct e2e *e, const char *text) {
        int r = text ? write_file(e->conf, text) : write_conf(e);

        if (r < 0)
                return r;
        return kill(e->bridged, SIGHUP) < 0 ? -errno : 0;
}
