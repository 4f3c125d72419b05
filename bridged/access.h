/* SPDX-License-Identifier: MIT */
/* Who may call what on the control API, decided from a caller's user and
 * groups. The D-Bus policy (org.bridged.conf) says the same; this is the
 * second lock, for a bus whose policy was changed or never installed.
 * Pure: the control API gathers the caller's credentials and asks. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define ACCESS_GROUP "bridged"

enum access_need {
        ACCESS_READ_SHARED,     /* Get, ListConflicts: the person's data, health data among it */
        ACCESS_CHANGE,          /* Set, Patch, Sync, Restore, DismissConflicts */
};

/* Who is trusted: root always; self (the daemon's own user) as the owner of
 * the data; members of group (when has_group) for both; a user active on a
 * seat to read only (the person at the machine). */
struct access_rules {
        uid_t self;
        gid_t group;
        bool has_group;
};

struct access_caller {
        uid_t uid;
        const gid_t *gids;      /* primary and supplementary */
        size_t n_gids;
        bool on_active_seat;
};

bool access_allowed(const struct access_rules *rules, const struct access_caller *caller, enum access_need need);

/* The refusal, for a person: who may. */
const char *access_refusal(enum access_need need);
