/* SPDX-License-Identifier: MIT */
/* bridged's command line (bridged(8)):
 *   bridged [--config FILE] [--state-dir DIR] [--log-level err|warning|info|debug] [--version] [--help]
 *   bridged --check-config [--config FILE]
 * Parsing only: what to do with the result is main's. Prints --help, --version
 * and usage errors itself, so main only has to leave with the status given. */
#pragma once

#include <stdbool.h>

#include "conf.h"

#ifndef BRIDGED_VERSION
#define BRIDGED_VERSION "0.1"           /* the build may override it */
#endif

#define OPTIONS_STATE_DIR_DEFAULT "/var/lib/bridged"
#define OPTIONS_EXIT_USAGE 2

struct options {
        const char *config_path;        /* --config, else CONF_DEFAULT_PATH; points into argv */
        char *state_dir;                /* the first path of $STATE_DIRECTORY, else --state-dir,
                                         * else OPTIONS_STATE_DIR_DEFAULT; owned */
        int log_level;                  /* LOG_ERR, LOG_WARNING, LOG_INFO (default), LOG_DEBUG */
        bool check_config;              /* --check-config: load, say, exit */
        int exit_status;                /* when options_parse() returned > 0 */
};

/* 0: run with *ret. > 0: exit now with ret->exit_status (0 after --help or
 * --version, OPTIONS_EXIT_USAGE after a usage error, which printed one line on
 * stderr naming the bad argument). -ENOMEM otherwise. Resets getopt (optind = 0)
 * first, so it may be called more than once. Release with options_done(). */
int options_parse(int argc, char *argv[], struct options *ret);

void options_done(struct options *o);
