/* SPDX-License-Identifier: MIT */
/* The PostgreSQL side of the store (store.h), for store.c alone: the same
 * operations with the same meanings, on one libpq connection. Nothing else
 * includes this header; the rest of syncd sees struct store only. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "store.h"

#define STORE_PG_SCHEMA_VERSION 1       /* the row of schema_version; a database with a higher one is refused */

struct store_pg;

/* errors (or NULL) counts the statements that failed other than for a lost
 * connection. */
int store_pg_open(const char *uri, uint64_t *errors, struct store_pg **ret, char **ret_error);
struct store_pg *store_pg_free(struct store_pg *p);
int store_pg_ping(struct store_pg *p);
const uint8_t *store_pg_secret(const struct store_pg *p);

int store_pg_begin(struct store_pg *p);
int store_pg_commit(struct store_pg *p);
void store_pg_rollback(struct store_pg *p);
int store_pg_account_lock(struct store_pg *p, const char *account);

int store_pg_seq(struct store_pg *p, const char *account, uint64_t *ret);
int store_pg_record_get(struct store_pg *p, const char *account, const char *key, const char *family,
                        struct stamp *ret_stamp, char **ret_json);
int store_pg_record_put(struct store_pg *p, const char *account, const char *key, const char *family,
                        struct stamp stamp, const char *device, const char *json, uint64_t *ret_seq);
int store_pg_records_since(struct store_pg *p, const char *account, uint64_t since, unsigned limit,
                           store_record_fn fn, void *userdata);

int store_pg_idem_get(struct store_pg *p, const char *account, const char *key, uint64_t not_before_ms,
                      uint8_t ret_digest[static STORE_DIGEST_SIZE], unsigned *ret_status, char **ret_body);
int store_pg_idem_put(struct store_pg *p, const char *account, const char *key,
                      const uint8_t digest[static STORE_DIGEST_SIZE], unsigned status, const char *body,
                      uint64_t now_ms);
int store_pg_idem_trim(struct store_pg *p, const char *account, const char *keep_key, uint64_t max_bytes);
int store_pg_idem_purge(struct store_pg *p, uint64_t before_ms);

int store_pg_device_put(struct store_pg *p, const char *account, const char *id, const char *json);
int store_pg_devices_trim(struct store_pg *p, const char *account, const char *keep_id, unsigned max);
int store_pg_devices_list(struct store_pg *p, const char *account, const char *after, unsigned limit,
                          store_device_fn fn, void *userdata);

int store_pg_notify(struct store_pg *p, const char *account);
int store_pg_changes_fd(const struct store_pg *p);
int store_pg_changes_timeout_ms(const struct store_pg *p, uint64_t now_ms);
void store_pg_changes_process(struct store_pg *p, uint64_t now_ms, store_change_fn fn, void *userdata);
int store_pg_idem_claim(struct store_pg *p, const char *account, const char *key);
void store_pg_idem_release(struct store_pg *p, const char *account, const char *key);
