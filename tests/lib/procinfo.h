/* SPDX-License-Identifier: MIT */
/* What /proc says of a running process, for the tests and benches that judge
 * bridged and syncd as a distribution would: which shared objects are mapped
 * (/proc/PID/maps), what memory it costs (/proc/PID/smaps_rollup, and smaps by
 * mapping) and how often
 * it wakes (/proc/PID/status). Reads only; never changes the process. Test-only. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct procinfo_memory {
        long rss_kib;
        long pss_kib;
        long private_dirty_kib;
        long private_kib;               /* clean and dirty */
};

/* Whether a file whose base name starts with prefix ("libssl.so") is mapped;
 * its path in ret_path when ret_path is not NULL. 1, 0, or a negative errno. */
int procinfo_mapped(pid_t pid, const char *prefix, char *ret_path, size_t size);
/* smaps_rollup's totals. 0 or a negative errno. */
int procinfo_memory(pid_t pid, struct procinfo_memory *ret);
/* Each mapping of /proc/PID/smaps, in order: its permissions ("r-xp"), its
 * name (a path, "[heap]", or "" for an anonymous map) and its figures.
 * 0 or a negative errno. */
typedef void (*procinfo_mapping_fn)(const char *perms, const char *name, const struct procinfo_memory *m,
                                    void *userdata);
int procinfo_mappings(pid_t pid, procinfo_mapping_fn fn, void *userdata);
/* A number field of /proc/PID/status ("voluntary_ctxt_switches"), or -1. */
long procinfo_status(pid_t pid, const char *field);
