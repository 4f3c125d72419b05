/* SPDX-License-Identifier: MIT */
/* What bridgectl's files share: bridgectl.c (the command line, the calls),
 * bridgectl-show.c (the answers as text a person reads) and
 * bridgectl-monitor.c (every event, one line each). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>
#include <systemd/sd-bus.h>

#define SERVICE "org.bridged"
#define PATH "/org/bridged"
#define IFACE "org.bridged.Manager1"

extern bool arg_json;           /* --json: the API's JSON, not text */
extern sd_bus *arg_bus;         /* the connection once open */

/* One line on stderr naming the command (not the method) and why; EXIT_FAILURE. */
int fail_bus(const char *member, const sd_bus_error *error, int r);
/* A member of j, or dflt when absent or of another type. */
const char *str_or(const cJSON *j, const char *name, const char *dflt);
double num_or(const cJSON *j, const char *name, double dflt);

/* bridgectl-show.c: each answer as Key: value lines; EXIT_SUCCESS or EXIT_FAILURE. */
int show_record(const cJSON *j);
int show_status(const cJSON *j);
int show_stats(const cJSON *j);
int show_conflicts(const cJSON *j);
int show_sync(const cJSON *j);
/* "this host (00a1…)", "the factory" or "host 1111…". */
void origin_words(const char *origin, char *buf, size_t size);

/* bridgectl-monitor.c: until SIGINT or SIGTERM. */
int monitor(sd_bus *bus);
