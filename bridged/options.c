/* SPDX-License-Identifier: MIT */
/* bridged's command line with getopt_long (options.h). It only parses: it
 * opens nothing, and the one decision it makes is where the state lives, in
 * bridged(8)'s order: $STATE_DIRECTORY (systemd's StateDirectory=) wins over
 * --state-dir, which wins over /var/lib/bridged. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "options.h"

enum {
        OPTIONS_ARG_CONFIG = 0x100,     /* above any char, so optopt tells long from short */
        OPTIONS_ARG_STATE_DIR,
        OPTIONS_ARG_LOG_LEVEL,
        OPTIONS_ARG_VERSION,
        OPTIONS_ARG_HELP,
        OPTIONS_ARG_CHECK_CONFIG,
};

static void options_help(void) {
        printf("Usage: bridged [--config FILE] [--state-dir DIR] [--log-level err|warning|info|debug] [--version] [--help]\n"
               "       bridged --check-config [--config FILE]\n"
               "\n"
               "Keeps BLE earbuds (through BlueZ) and their account's sync server in agreement.\n"
               "\n"
               "  --config FILE      configuration file (default: %s)\n"
               "  --state-dir DIR    state directory when $STATE_DIRECTORY is not set\n"
               "                     (default: %s; under systemd, StateDirectory= wins)\n"
               "  --log-level LEVEL  err, warning, info or debug (default: info)\n"
               "  --check-config     check the configuration and the token as a start does,\n"
               "                     then exit: 0 when good, 78 with the same message when not\n"
               "  --version          show the version and exit\n"
               "  --help             show this help and exit\n"
               "\n"
               "SIGHUP re-reads the configuration; SIGTERM stops.\n",
               CONF_DEFAULT_PATH, OPTIONS_STATE_DIR_DEFAULT);
}

static int options_exit(struct options *ret, int status) {
        *ret = (struct options) { .config_path = CONF_DEFAULT_PATH, .log_level = LOG_INFO, .exit_status = status };
        return 1;
}

__attribute__((format(printf, 2, 3)))
static int options_usage_error(struct options *ret, const char *format, ...) {
        va_list ap;

        fputs("bridged: ", stderr);
        va_start(ap, format);
        vfprintf(stderr, format, ap);
        va_end(ap);
        fputs(" (see bridged --help)\n", stderr);
        return options_exit(ret, OPTIONS_EXIT_USAGE);
}

/* getopt_long said '?': an unknown option, or an argument given to one that
 * takes none ("--help=x"). optopt is that option's value then. */
static int options_bad_option(struct options *ret, const char *arg) {
        if (optopt >= OPTIONS_ARG_CONFIG)
                return options_usage_error(ret, "option '%s' takes no argument", arg);
        if (optopt > 0)
                return options_usage_error(ret, "unknown option '-%c'", optopt);
        return options_usage_error(ret, "unknown option '%s'", arg);
}

/* $STATE_DIRECTORY may list several directories, separated by ':'. */
static int options_state_dir(const char *arg, char **ret) {
        const char *env = getenv("STATE_DIRECTORY");
        char *s;

        if (env && *env && *env != ':')
                s = strndup(env, strcspn(env, ":"));
        else
                s = strdup(arg ? arg : OPTIONS_STATE_DIR_DEFAULT);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

int options_parse(int argc, char *argv[], struct options *ret) {
        static const struct option longopts[] = {
                { "config", required_argument, NULL, OPTIONS_ARG_CONFIG },
                { "state-dir", required_argument, NULL, OPTIONS_ARG_STATE_DIR },
                { "log-level", required_argument, NULL, OPTIONS_ARG_LOG_LEVEL },
                { "version", no_argument, NULL, OPTIONS_ARG_VERSION },
                { "help", no_argument, NULL, OPTIONS_ARG_HELP },
                { "check-config", no_argument, NULL, OPTIONS_ARG_CHECK_CONFIG },
                {}
        };
        struct options o = { .config_path = CONF_DEFAULT_PATH, .log_level = LOG_INFO };
        const char *state_dir = NULL;
        int c, r;

        optind = 0;
        opterr = 0;
        while ((c = getopt_long(argc, argv, ":", longopts, NULL)) >= 0)
                switch (c) {
                case OPTIONS_ARG_CONFIG:
                        if (!*optarg)
                                return options_usage_error(ret, "--config needs a file name, not ''");
                        o.config_path = optarg;
                        break;
                case OPTIONS_ARG_STATE_DIR:
                        if (!*optarg)
                                return options_usage_error(ret, "--state-dir needs a directory, not ''");
                        state_dir = optarg;
                        break;
                case OPTIONS_ARG_LOG_LEVEL:
                        r = log_level_from_string(optarg);
                        if (r < 0)
                                return options_usage_error(ret, "--log-level: '%s' is not err, warning, info or debug",
                                                           optarg);
                        o.log_level = r;
                        break;
                case OPTIONS_ARG_VERSION:
                        printf("bridged %s\n", BRIDGED_VERSION);
                        return options_exit(ret, 0);
                case OPTIONS_ARG_HELP:
                        options_help();
                        return options_exit(ret, 0);
                case OPTIONS_ARG_CHECK_CONFIG:
                        o.check_config = true;
                        break;
                case ':':
                        return options_usage_error(ret, "option '%s' needs an argument", argv[optind - 1]);
                default:
                        return options_bad_option(ret, argv[optind - 1]);
                }
        if (optind < argc)
                return options_usage_error(ret, "unexpected argument '%s'", argv[optind]);
        r = options_state_dir(state_dir, &o.state_dir);
        if (r < 0)
                return r;
        *ret = o;
        return 0;
}

void options_done(struct options *o) {
        if (!o)
                return;
        free(o->state_dir);
        o->state_dir = NULL;
}
