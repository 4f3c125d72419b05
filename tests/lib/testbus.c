/* SPDX-License-Identifier: MIT */
/* A private dbus-daemon for tests and the programs run against it
 * (testbus.h). Fork/exec, pipes and deadlines only; it must never sleep a
 * fixed time or leave a daemon or a directory behind. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testbus.h"

#define START_TIMEOUT_USEC (5 * 1000000ull)

struct testbus {
        pid_t pid;
        char dir[64];
        char address[256];
};

static uint64_t now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

/* Reads one line (without the newline) before deadline. */
static int read_line(int fd, char *buf, size_t size, uint64_t deadline) {
        size_t n = 0;

        for (;;) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                uint64_t now = now_usec();
                ssize_t k;
                int r;

                if (now >= deadline)
                        return -ETIMEDOUT;
                r = poll(&p, 1, (int) ((deadline - now) / 1000) + 1);
                if (r < 0 && errno != EINTR)
                        return -errno;
                if (r <= 0)
                        continue;
                k = read(fd, buf + n, 1);
                if (k < 0 && errno != EINTR)
                        return -errno;
                if (k == 0)
                        return -EPIPE;
                if (k < 0)
                        continue;
                if (buf[n] == '\n' || n + 1 == size - 1) {
                        buf[buf[n] == '\n' ? n : n + 1] = '\0';
                        return 0;
                }
                n++;
        }
}

static int write_config(const struct testbus *tb, char *path, size_t size) {
        FILE *f;

        snprintf(path, size, "%s/bus.conf", tb->dir);
        f = fopen(path, "we");
        if (!f)
                return -errno;
        fprintf(f, "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
                   " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
                   "<busconfig>\n"
                   "  <type>session</type>\n"
                   "  <listen>unix:path=%s/bus</listen>\n"
                   "  <auth>EXTERNAL</auth>\n"
                   "  <policy context=\"default\">\n"
                   "    <allow user=\"*\"/>\n"
                   "    <allow own=\"*\"/>\n"
                   "    <allow send_destination=\"*\" eavesdrop=\"true\"/>\n"
                   "    <allow eavesdrop=\"true\"/>\n"
                   "  </policy>\n"
                   "</busconfig>\n", tb->dir);
        return fclose(f) == 0 ? 0 : -errno;
}

/* Forks; the child has stdout on a pipe and dies with its parent. */
static pid_t fork_piped(int *ret_fd) {
        int p[2];
        pid_t pid;

        if (pipe2(p, O_CLOEXEC) < 0)
                return -errno;
        pid = fork();
        if (pid < 0) {
                close(p[0]);
                close(p[1]);
                return -errno;
        }
        if (pid == 0) {
                (void) prctl(PR_SET_PDEATHSIG, SIGTERM);
                if (dup2(p[1], STDOUT_FILENO) < 0)
                        _exit(127);
                return 0;
        }
        close(p[1]);
        *ret_fd = p[0];
        return pid;
}

static int wait_ready(pid_t pid, int fd, const char *line, char *buf, size_t size, uint64_t deadline) {
        int r;

        do
                r = read_line(fd, buf, size, deadline);
        while (r == 0 && line && strcmp(buf, line) != 0);
        close(fd);
        if (r < 0)
                (void) testbus_kill(pid);
        return r;
}

int testbus_start(struct testbus **ret) {
        char conf[128], arg[160];
        struct testbus *tb;
        int fd, r;

        if (access("/usr/bin/dbus-daemon", X_OK) < 0)
                return -ENOENT;
        tb = calloc(1, sizeof(*tb));
        if (!tb)
                return -ENOMEM;
        snprintf(tb->dir, sizeof(tb->dir), "/tmp/testbus-XXXXXX");
        r = mkdtemp(tb->dir) ? write_config(tb, conf, sizeof(conf)) : -errno;
        if (r < 0)
                goto fail;
        snprintf(arg, sizeof(arg), "--config-file=%s", conf);
        tb->pid = fork_piped(&fd);
        if (tb->pid == 0) {
                /* its stderr to a file: as root it warns on every start that it
                 * may not raise its fd limit, which is noise to a test */
                char log[128];
                int lfd;

                snprintf(log, sizeof(log), "%s/bus.log", tb->dir);
                lfd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
                if (lfd >= 0)
                        (void) dup2(lfd, STDERR_FILENO);
                execl("/usr/bin/dbus-daemon", "dbus-daemon", arg, "--print-address", "--nofork", "--nopidfile",
                      (char *) NULL);
                _exit(127);
        }
        r = tb->pid < 0 ? tb->pid : wait_ready(tb->pid, fd, NULL, tb->address, sizeof(tb->address),
                                               now_usec() + START_TIMEOUT_USEC);
        if (r < 0) {
                char log[128], line[256];
                FILE *f;

                snprintf(log, sizeof(log), "%s/bus.log", tb->dir);
                f = fopen(log, "re");
                while (f && fgets(line, sizeof(line), f))
                        fprintf(stderr, "dbus-daemon: %s", line);
                if (f)
                        fclose(f);
                goto fail;
        }
        *ret = tb;
        return 0;
fail:
        tb->pid = 0;
        testbus_stop(tb);
        return r;
}

const char *testbus_address(const struct testbus *tb) {
        return tb->address;
}

int testbus_open_to_others(struct testbus *tb) {
        char path[128];

        snprintf(path, sizeof(path), "%s/bus", tb->dir);
        if (chmod(tb->dir, 0711) < 0 || chmod(path, 0666) < 0)
                return -errno;
        return 0;
}

struct testbus *testbus_stop(struct testbus *tb) {
        char path[128];

        if (!tb)
                return NULL;
        if (tb->pid > 0)
                (void) testbus_kill(tb->pid);
        if (tb->dir[0] && strcmp(tb->dir, "/tmp/testbus-XXXXXX") != 0) {
                snprintf(path, sizeof(path), "%s/bus", tb->dir);
                (void) unlink(path);
                snprintf(path, sizeof(path), "%s/bus.conf", tb->dir);
                (void) unlink(path);
                snprintf(path, sizeof(path), "%s/bus.log", tb->dir);
                (void) unlink(path);
                (void) rmdir(tb->dir);
        }
        free(tb);
        return NULL;
}

int testbus_spawn(struct testbus *tb, char *const argv[], const char *ready_line, uint64_t timeout_usec,
                  pid_t *ret_pid) {
        char line[256];
        pid_t pid;
        int fd, r;

        pid = fork_piped(&fd);
        if (pid < 0)
                return pid;
        if (pid == 0) {
                setenv("DBUS_SYSTEM_BUS_ADDRESS", tb->address, 1);
                setenv("DBUS_SESSION_BUS_ADDRESS", tb->address, 1);
                execv(argv[0], argv);
                _exit(127);
        }
        r = wait_ready(pid, fd, ready_line, line, sizeof(line), now_usec() + timeout_usec);
        if (r < 0)
                return r;
        *ret_pid = pid;
        return 0;
}

/* Waits for pid to become reapable: pidfd when the kernel has it, else 1 ms polls. */
static void wait_exit(pid_t pid, uint64_t deadline) {
        int fd = (int) syscall(SYS_pidfd_open, pid, 0);
        uint64_t now = now_usec();
        struct pollfd p = { .fd = fd, .events = POLLIN };

        if (fd < 0) {
                (void) poll(NULL, 0, 1);
                return;
        }
        if (now < deadline)
                (void) poll(&p, 1, (int) ((deadline - now) / 1000) + 1);
        close(fd);
}

int testbus_wait(pid_t pid, uint64_t timeout_usec) {
        uint64_t deadline = now_usec() + timeout_usec;
        int status;

        for (;;) {
                pid_t r = waitpid(pid, &status, WNOHANG);

                if (r == pid)
                        return status;
                if (r < 0)
                        return -errno;
                if (now_usec() >= deadline)
                        return -ETIMEDOUT;
                wait_exit(pid, deadline);
        }
}

int testbus_kill(pid_t pid) {
        int r;

        if (kill(pid, SIGTERM) < 0 && errno != ESRCH)
                return -errno;
        r = testbus_wait(pid, START_TIMEOUT_USEC);
        if (r == -ETIMEDOUT) {
                (void) kill(pid, SIGKILL);
                r = testbus_wait(pid, START_TIMEOUT_USEC);
        }
        return r;
}
