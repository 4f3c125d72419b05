/* SPDX-License-Identifier: MIT */
/* The monitoring listener (--metrics): plain HTTP, no token, for a scraper
 * and a supervisor on loopback or a private network: GET /metrics (the
 * exposition the caller writes), GET /healthz (200 whenever the event loop
 * answers at all) and GET /readyz (200 when the caller's check passes, else
 * 503). A second libmicrohttpd daemon driven by the caller's event loop, like
 * http.h's: never a thread. Knows no account, no token, no record. */
#pragma once

#include <stdio.h>
#include <sys/socket.h>

struct monitor_config {
        struct sockaddr_storage addr;
        socklen_t addr_len;
        int (*scrape)(void *userdata, FILE *f);         /* writes the exposition; < 0: 500 */
        int (*ready)(void *userdata);                   /* 0: ready; -errno: why not */
        void *userdata;
};

struct monitor;

int monitor_new(const struct monitor_config *cfg, struct monitor **ret);
struct monitor *monitor_free(struct monitor *m);

int monitor_local_port(const struct monitor *m);
int monitor_epoll_fd(const struct monitor *m);
/* Milliseconds the loop may sleep before monitor_run must be called; -1: no limit. */
int monitor_timeout_ms(const struct monitor *m);
int monitor_run(struct monitor *m);
