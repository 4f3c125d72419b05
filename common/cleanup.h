/* SPDX-License-Identifier: MIT */
/* Scope-bound cleanup, systemd's idiom: a variable marked _cleanup_(f) is
 * handed to f when it goes out of scope, and TAKE_PTR() moves ownership out
 * of it. Header only, libc only: every library of the house may use it, and it
 * must never grow a dependency on one of them (a library that wants a cleanup
 * for its own type writes it with DEFINE_TRIVIAL_CLEANUP_FUNC next to it). */
#pragma once

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((__cleanup__(f)))
#define _cleanup_free_ _cleanup_(freep)

/* Moves the pointer out of p and leaves NULL behind. */
#define TAKE_PTR(p) ({                          \
                __typeof__(p) _take_p_ = (p);   \
                (p) = NULL;                     \
                _take_p_;                       \
        })

/* Moves the descriptor out of fd and leaves -1 behind. */
#define TAKE_FD(fd) ({                          \
                int _take_fd_ = (fd);           \
                (fd) = -1;                      \
                _take_fd_;                      \
        })

/* static inline void funcp(type *p): calls func(*p) unless *p is NULL. */
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)         \
        static inline void func##p(type *p) {           \
                if (*p)                                 \
                        func(*p);                       \
        }

/* free() that returns NULL: p = mfree(p). */
static inline void *mfree(void *p) {
        free(p);
        return NULL;
}

static inline void freep(void *p) {
        free(*(void **) p);
}

static inline void closep(int *fd) {
        if (*fd >= 0)
                (void) close(*fd);
}

static inline void fclosep(FILE **f) {
        if (*f)
                (void) fclose(*f);
}
