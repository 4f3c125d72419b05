/* SPDX-License-Identifier: MIT */
/* syncd --backup: a consistent copy of syncd's database, safe while another
 * syncd serves it. SQLite's online backup API copies every page under one
 * read transaction of the source (in WAL mode the server's writes go on
 * meanwhile; the copy is the database as of that transaction's start),
 * into a new file beside the destination that is checked (PRAGMA
 * quick_check), synced, and then renamed into place. Never writes to the
 * source and never replaces an existing file. */
#pragma once

#include <stdint.h>

struct backup_stats {
        uint64_t bytes;                 /* of the copy */
        uint64_t accounts, records, devices;
        uint64_t usec;                  /* the copy, the check and the sync */
};

/* 0, or a negative errno and, in *ret_error (malloc'd), one sentence naming
 * the file at fault; nothing is left behind on failure. */
int backup_run(const char *db_path, const char *dest_path, struct backup_stats *ret, char **ret_error);
