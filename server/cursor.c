/* SPDX-License-Identifier: MIT */
/* Cursor text: "%016x" of the sequence number, then the first 8 bytes of
 * SHA-256(secret || account || NUL || seq big-endian) in hex. The secret is
 * made once per database (store.c), so cursors survive restarts. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <gnutls/crypto.h>

#include "cursor.h"

static int cursor_mac(const uint8_t *secret, const char *account, uint64_t seq, uint64_t *ret) {
        size_t alen = strlen(account);
        uint8_t buf[CURSOR_SECRET_SIZE + 256 + 1 + 8], digest[32];
        uint64_t mac = 0;

        if (alen > 256)
                return -EINVAL;
        memcpy(buf, secret, CURSOR_SECRET_SIZE);
        memcpy(buf + CURSOR_SECRET_SIZE, account, alen + 1);
        for (int i = 0; i < 8; i++)
                buf[CURSOR_SECRET_SIZE + alen + 1 + i] = (uint8_t) (seq >> (56 - 8 * i));
        if (gnutls_hash_fast(GNUTLS_DIG_SHA256, buf, CURSOR_SECRET_SIZE + alen + 9, digest) < 0)
                return -EIO;
        for (int i = 0; i < 8; i++)
                mac = (mac << 8) | digest[i];
        *ret = mac;
        return 0;
}

int cursor_format(const uint8_t secret[static CURSOR_SECRET_SIZE], const char *account, uint64_t seq,
                  char buf[static CURSOR_LEN + 1]) {
        uint64_t mac;
        int r;

        r = cursor_mac(secret, account, seq, &mac);
        if (r < 0)
                return r;
        (void) snprintf(buf, CURSOR_LEN + 1, "%016llx%016llx", (unsigned long long) seq,
                        (unsigned long long) mac);
        return 0;
}

static int cursor_hex64(const char *s, uint64_t *ret) {
        uint64_t v = 0;

        for (int i = 0; i < 16; i++) {
                char c = s[i];

                if (c >= '0' && c <= '9')
                        v = (v << 4) | (uint64_t) (c - '0');
                else if (c >= 'a' && c <= 'f')
                        v = (v << 4) | (uint64_t) (c - 'a' + 10);
                else
                        return -EINVAL;
        }
        *ret = v;
        return 0;
}

int cursor_parse(const uint8_t secret[static CURSOR_SECRET_SIZE], const char *account, const char *text,
                 uint64_t *ret_seq) {
        uint64_t seq, mac, want;
        int r;

        if (strlen(text) != CURSOR_LEN || cursor_hex64(text, &seq) < 0 || cursor_hex64(text + 16, &mac) < 0)
                return -EINVAL;
        r = cursor_mac(secret, account, seq, &want);
        if (r < 0)
                return r;
        if (mac != want)
                return -EINVAL;
        *ret_seq = seq;
        return 0;
}
