/* SPDX-License-Identifier: MIT */
/* The sync server as a phone sees it, for the end-to-end suites (tests/e2e,
 * tests/demo, tests/hil): the record a pull holds for a key and family, and
 * one record pushed as the phone (Device-Id 00000000000000fe). Works on a
 * local syncd (tests/lib/harness.h) or on any server whose base URL and
 * CA (empty: the system's store) are filled in a struct harness_syncd. */
#pragma once

#include <stddef.h>

#include "policy/value.h"
#include "tests/lib/harness.h"

/* 0, -ENOENT when the server holds no record for key and family, -EIO when
 * the pull was not answered 200. */
int phone_pull_record(const struct harness_syncd *s, const char *token, enum key key, enum family family,
                        struct record *ret);
/* 0 and the record's result in ret_status ("applied", "stale", ...); -EIO
 * when the push was not answered 200 (ret_status then says "HTTP N BODY"),
 * -ENOMEM ("out of memory"). */
int phone_push_record(const struct harness_syncd *s, const char *token, const struct record *rec, char *ret_status,
               size_t size);
