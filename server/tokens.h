/* SPDX-License-Identifier: MIT */
/* The bearer tokens of syncd: a file of lines "TOKEN ACCOUNT", '#' starting a
 * comment, read once at start. Maps a token to the account it names; never
 * prints a token. */
#pragma once

struct tokens;

/* -EINVAL (a malformed line) or -EEXIST (a token given twice) with *ret_line
 * set to the line's number; -errno when the file cannot be read. */
int tokens_load(const char *path, struct tokens **ret, unsigned *ret_line);
struct tokens *tokens_free(struct tokens *t);

/* The account a token names, owned by t; NULL for an unknown token. */
const char *tokens_account(const struct tokens *t, const char *token);
