/* SPDX-License-Identifier: MIT */
/* Keys in progress are a short list: one entry per push being received or
 * processed right now, so a linear search is the honest structure. An entry
 * must never outlive its request: http.c's completion hook releases it however
 * the request ends. */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>

#include "idempotency.h"

struct idempotency_claim {
        struct idempotency_claim *next;
        const char *account;            /* the tokens table's, lives as long as the server */
        char key[IDEMPOTENCY_KEY_LEN + 1];
};

struct idempotency {
        struct idempotency_claim *claims;
};

int idempotency_new(struct idempotency **ret) {
        struct idempotency *i = calloc(1, sizeof(*i));

        if (!i)
                return -ENOMEM;
        *ret = i;
        return 0;
}

struct idempotency *idempotency_free(struct idempotency *i) {
        if (!i)
                return NULL;
        while (i->claims)
                idempotency_release(i, i->claims);
        free(i);
        return NULL;
}

int idempotency_key_normalize(const char *key, char ret[static IDEMPOTENCY_KEY_LEN + 1]) {
        if (strlen(key) != IDEMPOTENCY_KEY_LEN)
                return -EINVAL;
        for (size_t n = 0; n < IDEMPOTENCY_KEY_LEN; n++) {
                bool dash = n == 8 || n == 13 || n == 18 || n == 23;

                if (dash ? key[n] != '-' : !isxdigit((unsigned char) key[n]))
                        return -EINVAL;
                ret[n] = (char) tolower((unsigned char) key[n]);
        }
        ret[IDEMPOTENCY_KEY_LEN] = '\0';
        return 0;
}

int idempotency_claim(struct idempotency *i, const char *account, const char *key,
                      struct idempotency_claim **ret) {
        struct idempotency_claim *c;

        for (c = i->claims; c; c = c->next)
                if (strcmp(c->key, key) == 0 && strcmp(c->account, account) == 0)
                        return -EBUSY;
        if (strlen(key) > IDEMPOTENCY_KEY_LEN)
                return -EINVAL;
        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->account = account;
        strcpy(c->key, key);
        c->next = i->claims;
        i->claims = c;
        *ret = c;
        return 0;
}

void idempotency_release(struct idempotency *i, struct idempotency_claim *c) {
        if (!c)
                return;
        for (struct idempotency_claim **p = &i->claims; *p; p = &(*p)->next)
                if (*p == c) {
                        *p = c->next;
                        break;
                }
        free(c);
}

const char *idempotency_claim_key(const struct idempotency_claim *c) {
        return c->key;
}

int idempotency_digest(const void *body, size_t len, uint8_t ret[static IDEMPOTENCY_DIGEST_SIZE]) {
        return gnutls_hash_fast(GNUTLS_DIG_SHA256, body, len, ret) < 0 ? -EIO : 0;
}
