/* SPDX-License-Identifier: MIT */
/* Pull cursors: an account's sequence number, opaque to the client, bound to
 * the account and to this database by a MAC, so a cursor of another account
 * or another server is refused instead of silently meaning something else.
 * Pure apart from hashing; never touches the store. */
#pragma once

#include <stdint.h>

#define CURSOR_LEN 32                   /* 16 hex digits of sequence + 16 of MAC */
#define CURSOR_SECRET_SIZE 32

int cursor_format(const uint8_t secret[static CURSOR_SECRET_SIZE], const char *account, uint64_t seq,
                  char buf[static CURSOR_LEN + 1]);
/* -EINVAL for anything that this server did not issue to this account. */
int cursor_parse(const uint8_t secret[static CURSOR_SECRET_SIZE], const char *account, const char *text,
                 uint64_t *ret_seq);
