/* SPDX-License-Identifier: MIT */
/* The Idempotency-Key rules of push that live in memory: the key's form (a
 * UUID), the digest a body is compared by (SHA-256, GnuTLS), and the keys in
 * progress: claimed from the moment a push's headers arrive until its response
 * is stored, so a second request with the key sees 409 meanwhile. The stored
 * first responses are the store's; this never touches disk. Keys are per
 * account. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define IDEMPOTENCY_KEY_LEN 36
#define IDEMPOTENCY_DIGEST_SIZE 32
#define IDEMPOTENCY_TTL_MS (24ull * 3600 * 1000)

struct idempotency;
struct idempotency_claim;

int idempotency_new(struct idempotency **ret);
struct idempotency *idempotency_free(struct idempotency *i);

/* A UUID (8-4-4-4-12 hex digits, either case) written in lower case into ret;
 * -EINVAL for anything else. */
int idempotency_key_normalize(const char *key, char ret[static IDEMPOTENCY_KEY_LEN + 1]);

/* -EBUSY while another request of the account holds the key. */
int idempotency_claim(struct idempotency *i, const char *account, const char *key,
                      struct idempotency_claim **ret);
/* Accepts NULL. */
void idempotency_release(struct idempotency *i, struct idempotency_claim *c);
const char *idempotency_claim_key(const struct idempotency_claim *c);

int idempotency_digest(const void *body, size_t len, uint8_t ret[static IDEMPOTENCY_DIGEST_SIZE]);
