/* SPDX-License-Identifier: MIT */
/* What /metrics shows: the requests by route and status, the 429s and
 * idempotent replays among them, the group commits' durations and sizes as
 * histograms, the plain numbers of struct counters, and the gauges the loop
 * reads when asked; written in Prometheus's text exposition format 0.0.4.
 * Holds numbers only: it is told of events, never asks for them, and knows
 * nothing of sockets. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "counters.h"
#include "http.h"

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Read from their modules at the moment of a scrape. */
struct metrics_gauges {
        size_t connections;
        size_t waits_parked;
};

struct metrics;

int metrics_new(struct metrics **ret);
struct metrics *metrics_free(struct metrics *m);

/* A request that ended (http.h's report). */
void metrics_request(struct metrics *m, const struct http_done *d);
/* A group commit's transaction that ended (group.h's report). */
void metrics_commit(struct metrics *m, size_t members, uint64_t took_us, int result);

/* The exposition; -errno when f failed. */
int metrics_write(const struct metrics *m, const struct counters *c, const struct metrics_gauges *g, FILE *f);
