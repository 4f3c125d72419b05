/* SPDX-License-Identifier: MIT */
/* bridged: main. Reads the command line and the configuration (a bad one
 * ends it at once with exit 78 and one line naming file, line and what),
 * opens the cache, owns org.bridged on the system bus, tells systemd it is
 * ready, and runs the event loop until SIGTERM; SIGHUP re-reads the
 * configuration and keeps the old one when the new one is bad. */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sysexits.h>
#include <unistd.h>

#include <systemd/sd-bus.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "conf.h"
#include "control.h"
#include "log.h"
#include "manager.h"
#include "options.h"

struct daemon {
        struct options opts;
        sd_event *event;
        sd_bus *bus;
        struct control *control;
        struct manager *manager;
        char status[160];               /* the STATUS= last sent */
        bool idle;                      /* nothing was in flight after the last turn */
};

/* Configuration and token, or exit 78 with the reason. */
static int load(const struct options *o, struct conf **ret_conf, char **ret_token) {
        struct conf *conf = NULL;
        char *error = NULL, *token = NULL, *warning = NULL;
        int r = conf_load(o->config_path, &conf, &error);

        if (r == 0)
                r = conf_load_token(conf, &token, &error, &warning);
        if (warning)
                log_warning("%s", warning);
        free(warning);
        if (r < 0) {
                log_error("%s", error ? error : strerror(-r));
                free(error);
                conf_free(conf);
                return r;
        }
        *ret_conf = conf;
        *ret_token = token;
        return 0;
}

static void notify_status(struct daemon *d) {
        const char *line = manager_status_line(d->manager);

        if (strcmp(line, d->status) == 0)
                return;
        (void) snprintf(d->status, sizeof(d->status), "%s", line);
        (void) sd_notifyf(false, "STATUS=%s", line);
}

static int on_sighup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        struct daemon *d = userdata;
        struct conf *conf = NULL;
        char *token = NULL, *error = NULL;
        int r;

        (void) s;
        (void) si;
        (void) sd_notify(false, "RELOADING=1");
        log_info("Reloading the configuration from %s.", d->opts.config_path);
        if (load(&d->opts, &conf, &token) < 0) {
                log_warning("Keeping the configuration in use.");
        } else {
                r = manager_reload(d->manager, conf, token, &error);
                if (r < 0)
                        log_error("Reloading failed, keeping the configuration in use: %s",
                                  error ? error : strerror(-r));
                free(error);
                conf_free(conf);
                conf_token_free(token);
        }
        (void) sd_notify(false, "READY=1");
        notify_status(d);
        return 0;
}

/* Once per sync cycle, when it ends (and after start-up): the heap keeps
 * the free pages a cycle left between its live blocks (answers, JSON, TLS
 * records) and SQLite its cache's spare pages; both go back, so that the
 * private memory is what bridged holds, not what it once held. The store's
 * WAL is checkpointed here too, when due, rather than in a commit that a
 * change waits for. */
static void release_memory(struct daemon *d) {
        /* offline or stopped by an error counts too: edits made offline fill
         * the WAL as well, and no sync cycle ends there */
        bool idle = manager_state(d->manager) != MANAGER_SYNCING;

        if (idle && !d->idle) {
                manager_tidy(d->manager);
                (void) malloc_trim(0);
        }
        d->idle = idle;
}

/* After each turn of the loop: STATUS= when the line changed. */
static int on_post(sd_event_source *s, void *userdata) {
        struct daemon *d = userdata;

        (void) s;
        if (d->manager) {
                notify_status(d);
                release_memory(d);
        }
        return 0;
}

static int setup_loop(struct daemon *d) {
        sigset_t mask;
        int r;

        (void) sigemptyset(&mask);
        (void) sigaddset(&mask, SIGTERM);
        (void) sigaddset(&mask, SIGINT);
        (void) sigaddset(&mask, SIGHUP);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return -errno;
        r = sd_event_default(&d->event);
        if (r >= 0)
                r = sd_event_add_signal(d->event, NULL, SIGTERM, NULL, NULL);
        if (r >= 0)
                r = sd_event_add_signal(d->event, NULL, SIGINT, NULL, NULL);
        if (r >= 0)
                r = sd_event_add_signal(d->event, NULL, SIGHUP, on_sighup, d);
        if (r >= 0)
                r = sd_event_set_watchdog(d->event, true);      /* WATCHDOG=1 when WatchdogSec= is set */
        if (r >= 0)
                r = sd_event_add_post(d->event, NULL, on_post, d);
        return r < 0 ? r : 0;
}

static int setup_bus(struct daemon *d) {
        int r = sd_bus_open_system(&d->bus);

        if (r < 0)
                return log_error_errno(r, "Cannot connect to the system bus: %m");
        r = sd_bus_attach_event(d->bus, d->event, SD_EVENT_PRIORITY_NORMAL);
        /* sd-bus would close the connection as the loop exits, before
         * daemon_done(): the manager's last answers (a Sync() under way
         * gets "bridged is stopping") would go nowhere, and its caller
         * have the bus's NoReply instead */
        if (r >= 0)
                r = sd_bus_set_close_on_exit(d->bus, 0);
        if (r >= 0)
                r = control_new(d->bus, &d->control);
        if (r < 0)
                return log_error_errno(r, "Cannot set up the control API: %m");
        return 0;
}

static int own_name(struct daemon *d) {
        int r = sd_bus_request_name(d->bus, CONTROL_NAME, 0);

        if (r == -EEXIST || r == -EALREADY)
                return log_error_errno(r, "%s is owned by another process: is bridged already running?", CONTROL_NAME);
        if (r < 0)
                return log_error_errno(r, "Cannot own %s on the system bus (see the D-Bus policy "
                                       "org.bridged.conf): %m", CONTROL_NAME);
        return 0;
}

/* --check-config: what a start would say of the configuration and the token,
 * and nothing else (no bus, no state). The unit's ExecReload= runs it first,
 * so that systemctl reload fails visibly on a file SIGHUP would refuse. */
static int check_config(const struct options *o) {
        struct conf *conf = NULL;
        char *token = NULL;

        if (load(o, &conf, &token) < 0)
                return EX_CONFIG;
        printf("%s: good\n", o->config_path);
        conf_free(conf);
        conf_token_free(token);
        return EXIT_SUCCESS;
}

static struct daemon *daemon_done(struct daemon *d) {
        d->manager = manager_free(d->manager);
        d->control = control_free(d->control);
        d->bus = sd_bus_flush_close_unref(d->bus);
        d->event = sd_event_unref(d->event);
        options_done(&d->opts);
        return NULL;
}

static int run(struct daemon *d) {
        struct conf *conf = NULL;
        char *token = NULL, *error = NULL;
        bool config_error = false;
        int r;

        if (load(&d->opts, &conf, &token) < 0)
                return EX_CONFIG;
        r = setup_loop(d);
        if (r < 0) {
                log_error_errno(r, "Cannot set up the event loop: %m");
                goto out;
        }
        r = setup_bus(d);
        if (r < 0)
                goto out;
        r = manager_new(d->event, d->bus, d->opts.state_dir, conf, token, NULL, &control_manager_ops, d->control,
                        &d->manager, &error, &config_error);
        if (r < 0) {
                log_error("%s", error ? error : strerror(-r));
                if (config_error)
                        r = EX_CONFIG;  /* the state directory or the server settings: fix them, no restart */
                goto out;
        }
        control_set_manager(d->control, d->manager);
        r = own_name(d);
        if (r < 0)
                goto out;
        (void) sd_notify(false, "READY=1");
        notify_status(d);
        log_info("bridged " BRIDGED_VERSION " started; node id in bridgectl status.");
        r = sd_event_loop(d->event);
        (void) sd_notify(false, "STOPPING=1");
        if (r < 0)
                log_error_errno(r, "The event loop failed: %m");
out:
        free(error);
        conf_free(conf);
        conf_token_free(token);
        if (r == EX_CONFIG)
                return EX_CONFIG;
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

#ifndef __SANITIZE_ADDRESS__
/* envp's value of name, or NULL. */
static const char *env_get(char **envp, const char *name) {
        size_t len = strlen(name);

        for (size_t i = 0; envp[i]; i++)
                if (strncmp(envp[i], name, len) == 0 && envp[i][len] == '=')
                        return envp[i] + len + 1;
        return NULL;
}

/* envp with NAME=... replaced by entry; NULL without memory. */
static char **env_with(char **envp, const char *name, char *entry) {
        size_t n = 0, k = 0, len = strlen(name);
        char **env;

        while (envp[n])
                n++;
        env = calloc(n + 2, sizeof(char *));
        if (!env)
                return NULL;
        for (size_t i = 0; i < n; i++)
                if (strncmp(envp[i], name, len) != 0 || envp[i][len] != '=')
                        env[k++] = envp[i];
        env[k] = entry;
        return env;
}

/* glibc keeps up to seven freed blocks of each size to 1 KiB in a cache of
 * the thread (tcache), out of its free lists: they merge with no neighbour,
 * and malloc_trim() cannot give back the pages they sit on. In bridged's
 * heap that was most of the growth over 1,000 syncs (+96 and +136 KiB with
 * it, +24 and +32 without) and some 50 KiB after start. The cache can be turned off only by
 * GLIBC_TUNABLES, which ld.so reads as the process starts: bridged adds
 * that setting and executes itself again, once. It does so before the
 * libraries' constructors run (GnuTLS's initialization among them), from
 * the program's pre-initialization, so the first image costs ld.so's
 * loading only. Where GLIBC_TUNABLES already names the cache (a unit may
 * set it, and spare the exec), or the exec fails, it goes on as it is.
 * Not under AddressSanitizer, whose allocator has no such cache. */
static void exec_without_tcache(int argc, char **argv, char **envp) {
        const char *t = env_get(envp, "GLIBC_TUNABLES");      /* environ is not set yet */
        char *entry = NULL, **env;

        (void) argc;
        /* in secure-execution mode (set-user-ID, file capabilities) ld.so
         * drops the setting, and bridged would execute itself forever */
        if (getauxval(AT_SECURE) || (t && strstr(t, "glibc.malloc.tcache_count")))
                return;
        if (asprintf(&entry, "GLIBC_TUNABLES=%s%sglibc.malloc.tcache_count=0", t ?: "", t ? ":" : "") < 0)
                return;
        env = env_with(envp, "GLIBC_TUNABLES", entry);
        if (env)
                (void) execve("/proc/self/exe", argv, env);
        free(env);
        free(entry);
}

__attribute__((section(".preinit_array"), used))
static void (*const preinit_exec_without_tcache)(int, char **, char **) = exec_without_tcache;
#endif

int main(int argc, char *argv[]) {
        struct daemon d = { 0 };
        int r = options_parse(argc, argv, &d.opts);

        if (r > 0)
                return d.opts.exit_status;
        if (r < 0) {
                log_oom();
                return EXIT_FAILURE;
        }
        log_set_max_level(d.opts.log_level);
        if (d.opts.check_config)
                r = check_config(&d.opts);
        else
                r = run(&d);
        daemon_done(&d);
        return r;
}
