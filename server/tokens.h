/* SPDX-License-Identifier: MIT */
/* The bearer tokens of syncd: a file of lines "TOKEN ACCOUNT", '#' starting a
 * comment, read at start and again on reload. Maps a token to the account it
 * names; never prints a token. */
#pragma once

struct tokens;

/* -EINVAL (a malformed line) or -EEXIST (a token given twice) with *ret_line
 * set to the line's number; -errno when the file cannot be read. */
int tokens_load(const char *path, struct tokens **ret, unsigned *ret_line);
struct tokens *tokens_free(struct tokens *t);
/* Reads path again and, when all of it is good, puts its tokens in place of
 * t's at once; when not, t stays as it was. Errors as tokens_load's. The
 * accounts t named before stay valid: a request authenticated before the
 * reload (a parked long poll, a push in a group commit) keeps its account
 * until it ends, even one the new file no longer names. */
int tokens_reload(struct tokens *t, const char *path, unsigned *ret_line);
size_t tokens_count(const struct tokens *t);

/* The account a token names, owned by t; NULL for an unknown token. */
const char *tokens_account(const struct tokens *t, const char *token);
