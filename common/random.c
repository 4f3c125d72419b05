/* SPDX-License-Identifier: MIT */
/* The random sources (see random.h). The jitter generator keeps its state in
 * the caller's object, so two clients never share a sequence. */
#include <errno.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "random.h"

int random_bytes(void *buf, size_t n) {
        ssize_t k = getrandom(buf, n, 0);

        if (k < 0)
                return -errno;
        return (size_t) k == n ? 0 : -EIO;
}

uint64_t random_seed(uintptr_t salt) {
        uint64_t s = 0;

        if (getrandom(&s, sizeof(s), GRND_NONBLOCK) != sizeof(s) || s == 0)
                s = (uint64_t) time(NULL) ^ ((uint64_t) getpid() << 32) ^ salt;
        return s | 1;
}

uint64_t random_jitter(uint64_t *state) {
        /* xorshift64*: jitter only, nothing secret */
        *state ^= *state >> 12;
        *state ^= *state << 25;
        *state ^= *state >> 27;
        return *state * UINT64_C(2685821657736338717);
}
