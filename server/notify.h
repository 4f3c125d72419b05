/* SPDX-License-Identifier: MIT */
/* What syncd tells systemd (Type=notify, sd_notify(3)): READY=1 once it
 * listens, RELOADING=1 and READY=1 around a reload, STOPPING=1, a STATUS=
 * line a person reads in systemctl status, and WATCHDOG=1 at half of
 * WatchdogSec= from the event loop itself, so a loop that hangs is restarted.
 * Without $NOTIFY_SOCKET (not under systemd) every call does nothing. Never
 * blocks, and never fails the caller: a lost notification is systemd's to
 * time out on. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct notify;

int notify_new(struct notify **ret);
struct notify *notify_free(struct notify *n);

/* Whether anyone listens: the caller need not make a status line when not. */
bool notify_enabled(const struct notify *n);
/* Each sends its message with status as STATUS= (NULL: none). */
void notify_ready(struct notify *n, const char *status);
void notify_reloading(struct notify *n);
void notify_stopping(struct notify *n);
/* STATUS=status, when it differs from the last one sent. */
void notify_status(struct notify *n, const char *status);

/* Milliseconds until notify_tick has something to do; -1 for never. */
int notify_timeout_ms(const struct notify *n, uint64_t now_ms);
/* Sends WATCHDOG=1 when due; true when the status line is due for a
 * refresh (the caller then makes one and calls notify_status). */
bool notify_tick(struct notify *n, uint64_t now_ms);
