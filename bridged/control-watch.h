/* SPDX-License-Identifier: MIT */
/* The watchers of the control API: the peers that called bridged, each with
 * the user and groups the bus daemon gave for its connection, held until it
 * leaves the bus. A signal sent through here goes to each watcher on its
 * own, addressed to it, and only when a check asked at that moment lets it:
 * the Changed signal carries records of the Shared Data, and a broadcast
 * would reach whoever the bus policy lets receive it, which cannot say "the
 * user at the active seat". Never broadcasts. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <systemd/sd-bus.h>

#include "access.h"

/* Each watcher costs one match rule of bridged's connection (the bus tells
 * it when the watcher leaves); dbus-daemon lets a connection hold 512 on the
 * system bus, and bridged has its own. */
#define CONTROL_WATCH_MAX 256
/* One user may hold 256 connections on the system bus, as many as there are
 * watchers: anyone may call Status, so one user's connections (nobody's,
 * who may not even read the records) would leave the person at the machine
 * without the signal. Each user has this share instead; it takes 16 users
 * at their share to fill the set. A person's applet, monitors and commands
 * running at once fit in it. */
#define CONTROL_WATCH_PER_USER 16

struct control_watch;

/* May this watcher receive the signal now? Asked per watcher per send. */
typedef bool (*control_watch_check_t)(const struct access_caller *caller, void *userdata);

/* At most max watchers, and max_per_user of one user (uid). */
int control_watch_new(sd_bus *bus, size_t max, size_t max_per_user, struct control_watch **ret);
struct control_watch *control_watch_free(struct control_watch *w);

/* name (a unique name) watches from now until it leaves the bus, with
 * caller's credentials (copied). 1 when added, 0 when it watches already,
 * -EUSERS when max watch already, -EDQUOT when max_per_user of caller's
 * user do, another negative errno when it could not (-ENXIO and the like:
 * the name left the bus already). Asks the bus whether the name is still
 * there: one round trip. */
int control_watch_add(struct control_watch *w, const char *name, const struct access_caller *caller);
/* The credentials a watcher was added with; NULL for a name that is none. */
const struct access_caller *control_watch_find(const struct control_watch *w, const char *name);
size_t control_watch_count(const struct control_watch *w);

/* The signal, with the arguments of types, sent to each watcher check lets
 * (the message's destination is the watcher). How many it went to, or the
 * first error (the rest are not sent then). */
int control_watch_signal(struct control_watch *w, control_watch_check_t check, void *userdata, const char *path,
                         const char *interface, const char *member, const char *types, ...);
