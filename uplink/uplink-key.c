/* SPDX-License-Identifier: MIT */
/* Idempotency keys: the UUID text check and the version 5 UUIDs of split
 * halves (RFC 9562 section 5.5). SHA-1 is here only because a v5 UUID is
 * defined with it; it protects nothing and must not be used for anything
 * that needs a secure hash. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "uplink-key.h"

struct sha1 {
        uint32_t h[5];
        uint8_t block[64];
        size_t fill;
        uint64_t bytes;
};

static uint32_t rol32(uint32_t x, unsigned n) {
        return (x << n) | (x >> (32 - n));
}

static uint32_t sha1_f(unsigned i, uint32_t b, uint32_t c, uint32_t d) {
        if (i < 20)
                return ((b & c) | (~b & d)) + 0x5a827999u;
        if (i < 40)
                return (b ^ c ^ d) + 0x6ed9eba1u;
        if (i < 60)
                return ((b & c) | (b & d) | (c & d)) + 0x8f1bbcdcu;
        return (b ^ c ^ d) + 0xca62c1d6u;
}

static void sha1_block(struct sha1 *s) {
        uint32_t w[80], a = s->h[0], b = s->h[1], c = s->h[2], d = s->h[3], e = s->h[4];

        for (unsigned i = 0; i < 16; i++)
                w[i] = (uint32_t) s->block[4 * i] << 24 | (uint32_t) s->block[4 * i + 1] << 16 |
                        (uint32_t) s->block[4 * i + 2] << 8 | s->block[4 * i + 3];
        for (unsigned i = 16; i < 80; i++)
                w[i] = rol32(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
        for (unsigned i = 0; i < 80; i++) {
                uint32_t t = rol32(a, 5) + sha1_f(i, b, c, d) + e + w[i];

                e = d;
                d = c;
                c = rol32(b, 30);
                b = a;
                a = t;
        }
        s->h[0] += a;
        s->h[1] += b;
        s->h[2] += c;
        s->h[3] += d;
        s->h[4] += e;
}

static void sha1_update(struct sha1 *s, const void *data, size_t n) {
        const uint8_t *p = data;

        s->bytes += n;
        while (n-- > 0) {
                s->block[s->fill++] = *p++;
                if (s->fill == sizeof(s->block)) {
                        sha1_block(s);
                        s->fill = 0;
                }
        }
}

static void sha1_final(struct sha1 *s, uint8_t out[static 20]) {
        uint64_t bits = s->bytes * 8;
        uint8_t len[8];

        for (unsigned i = 0; i < 8; i++)
                len[i] = (uint8_t) (bits >> (56 - 8 * i));
        sha1_update(s, "\x80", 1);
        while (s->fill != 56)
                sha1_update(s, "", 1);
        sha1_update(s, len, sizeof(len));
        for (unsigned i = 0; i < 20; i++)
                out[i] = (uint8_t) (s->h[i / 4] >> (24 - 8 * (i % 4)));
}

static int hex_value(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

bool uplink_key_is_valid(const char *key) {
        if (!key || strlen(key) != UPLINK_KEY_LEN)
                return false;
        for (unsigned i = 0; i < UPLINK_KEY_LEN; i++) {
                bool dash = i == 8 || i == 13 || i == 18 || i == 23;

                if (dash ? key[i] != '-' : hex_value(key[i]) < 0)
                        return false;
        }
        return true;
}

static void uplink_key_bytes(const char *key, uint8_t ret[static 16]) {
        unsigned n = 0;

        for (unsigned i = 0; i < UPLINK_KEY_LEN; i++) {
                if (key[i] == '-')
                        continue;
                if (n % 2 == 0)
                        ret[n / 2] = (uint8_t) (hex_value(key[i]) << 4);
                else
                        ret[n / 2] |= (uint8_t) hex_value(key[i]);
                n++;
        }
}

void uplink_key_derive(const char *parent, unsigned half, char ret[static UPLINK_KEY_LEN + 1]) {
        struct sha1 s = { .h = { 0x67452301u, 0xefcdab89u, 0x98badcfeu, 0x10325476u, 0xc3d2e1f0u } };
        uint8_t ns[16], digest[20];
        char name[16];

        uplink_key_bytes(parent, ns);
        (void) snprintf(name, sizeof(name), "split/%u", half);
        sha1_update(&s, ns, sizeof(ns));
        sha1_update(&s, name, strlen(name));
        sha1_final(&s, digest);
        digest[6] = (uint8_t) ((digest[6] & 0x0f) | 0x50);
        digest[8] = (uint8_t) ((digest[8] & 0x3f) | 0x80);
        (void) snprintf(ret, UPLINK_KEY_LEN + 1,
                        "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                        digest[0], digest[1], digest[2], digest[3], digest[4], digest[5], digest[6], digest[7],
                        digest[8], digest[9], digest[10], digest[11], digest[12], digest[13], digest[14],
                        digest[15]);
}
