/* SPDX-License-Identifier: MIT */
/* syncd's notifications to systemd (notify.h). libsystemd's sd_notify, not
 * a datagram written here: the house depends on libsystemd already (bridged,
 * bridgectl), Debian installs it wherever systemd runs, and sd_notify knows
 * the forms of $NOTIFY_SOCKET (a path, an abstract socket, vsock) and
 * sd_watchdog_enabled the WATCHDOG_PID and WATCHDOG_USEC rules, which a
 * hand-written copy would have to follow by hand. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-daemon.h>

#include "notify.h"
#include "now.h"

/* The status line's numbers (connections, long polls) change all the time:
 * sent at most this often, and only when they changed. */
#define NOTIFY_STATUS_INTERVAL_MS 5000u

struct notify {
        bool enabled;
        uint64_t watchdog_ms;           /* half of WatchdogSec=; 0: no watchdog */
        uint64_t watchdog_due, status_due;
        char *status;                   /* the last STATUS= sent */
};

int notify_new(struct notify **ret) {
        struct notify *n = calloc(1, sizeof(*n));
        const char *socket = getenv("NOTIFY_SOCKET");
        uint64_t usec = 0;

        if (!n)
                return -ENOMEM;
        n->enabled = socket && *socket;
        if (n->enabled && sd_watchdog_enabled(0, &usec) > 0)
                n->watchdog_ms = usec / 2000 ? usec / 2000 : 1;
        *ret = n;
        return 0;
}

struct notify *notify_free(struct notify *n) {
        if (!n)
                return NULL;
        free(n->status);
        free(n);
        return NULL;
}

bool notify_enabled(const struct notify *n) {
        return n->enabled;
}

void notify_status(struct notify *n, const char *status) {
        if (!n->enabled || !status || (n->status && strcmp(n->status, status) == 0))
                return;
        free(n->status);
        n->status = strdup(status);
        (void) sd_notifyf(0, "STATUS=%s", status);
}

void notify_ready(struct notify *n, const char *status) {
        if (!n->enabled)
                return;
        (void) sd_notify(0, "READY=1");
        notify_status(n, status);
}

/* With the time systemd's Type=notify-reload wants (253 and later; 252
 * takes RELOADING=1 alone). */
void notify_reloading(struct notify *n) {
        if (n->enabled)
                (void) sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu",
                                  (unsigned long long) now_us(CLOCK_MONOTONIC));
}

/* The status line stays as said here: no refresh while stopping. */
void notify_stopping(struct notify *n) {
        if (!n->enabled)
                return;
        (void) sd_notify(0, "STOPPING=1\nSTATUS=Stopping: answering what is parked, then closing.");
        n->status_due = UINT64_MAX;
}

static int notify_until(uint64_t due, uint64_t now_ms) {
        if (due <= now_ms)
                return 0;
        return due - now_ms > 60000 ? 60000 : (int) (due - now_ms);
}

int notify_timeout_ms(const struct notify *n, uint64_t now_ms) {
        int t;

        if (!n->enabled)
                return -1;
        t = notify_until(n->status_due, now_ms);
        if (n->watchdog_ms && notify_until(n->watchdog_due, now_ms) < t)
                t = notify_until(n->watchdog_due, now_ms);
        return t;
}

bool notify_tick(struct notify *n, uint64_t now_ms) {
        if (!n->enabled)
                return false;
        if (n->watchdog_ms && now_ms >= n->watchdog_due) {
                (void) sd_notify(0, "WATCHDOG=1");
                n->watchdog_due = now_ms + n->watchdog_ms;
        }
        if (now_ms < n->status_due)
                return false;
        n->status_due = now_ms + NOTIFY_STATUS_INTERVAL_MS;
        return true;
}
