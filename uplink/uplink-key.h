/* SPDX-License-Identifier: MIT */
/* Idempotency keys of the sync API: UUIDs in their 36-character text form.
 * When a push is split (413), each half needs a key of its own that is the
 * same every time the same push is split, so a repeated split replays instead
 * of applying twice: the halves get the name-based (version 5, SHA-1) UUIDs
 * of "split/0" and "split/1" in the namespace of the parent key. Pure. */
#pragma once

#include <stdbool.h>

#define UPLINK_KEY_LEN 36

/* 8-4-4-4-12 hex digits, either case. */
bool uplink_key_is_valid(const char *key);

/* The key of half (0 or 1) of a push sent under parent; lower-case. parent
 * must be valid. */
void uplink_key_derive(const char *parent, unsigned half, char ret[static UPLINK_KEY_LEN + 1]);
