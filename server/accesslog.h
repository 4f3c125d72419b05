/* SPDX-License-Identifier: MIT */
/* syncd's access log: one entry per request that ended, with what an
 * operator filters on: method, route template (never the path as sent, which
 * holds ids), status, duration, bytes sent, encoding, the account as a short
 * hash, the Idempotency-Key. On stderr as one line of key=value pairs, or,
 * when stderr is the journal, as a journal entry with those as fields. Never
 * given a token or a record: the report it reads (struct http_done) holds
 * neither. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "http.h"

/* The account's pseudonym: the first ACCESSLOG_ACCOUNT_HEX hex digits of
 * SHA-256 of its name, as `printf %s NAME | sha256sum | cut -c1-8` shows. */
#define ACCESSLOG_ACCOUNT_HEX 8

struct accesslog;

/* Looks once whether stderr is the journal ($JOURNAL_STREAM). */
int accesslog_new(struct accesslog **ret);
struct accesslog *accesslog_free(struct accesslog *l);

void accesslog_write(struct accesslog *l, const struct http_done *d);

/* The pseudonym of account in buf (ACCESSLOG_ACCOUNT_HEX + 1 bytes); "-" for NULL. */
const char *accesslog_account_hash(const char *account, char buf[static ACCESSLOG_ACCOUNT_HEX + 1]);
