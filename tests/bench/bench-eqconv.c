/* SPDX-License-Identifier: MIT */
/* Benchmark of policy/eqconv.c: conversions per second both ways. With
 * --exhaustive it is also the proof behind standard → pro: every one of the
 * 49^5 standard inputs converts to pro parameters that pass value_check, whose
 * response at each centre is within 0.05 dB of the standard gain, and that
 * convert back to exactly the same gains. It reports the worst error found and
 * exits 1 on any failure. Threads split the inputs; nothing else is shared. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "policy/eqconv.h"

#define TOLERANCE_DB 0.05
#define STEPS (STD_GAIN_MAX - STD_GAIN_MIN + 1)        /* 49 */
#define THREADS_MAX 64

static double now(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void std_from_index(unsigned long n, struct eq_standard *ret) {
        for (unsigned i = STD_BANDS; i-- > 0; n /= STEPS)
                ret->gain[i] = (int8_t) (STD_GAIN_MIN + (int) (n % STEPS));
}

static struct eq_pro sample_pro(unsigned count) {
        static const uint8_t types[] = { BAND_LOW_SHELF, BAND_PEAK, BAND_PEAK, BAND_HIGH_SHELF };
        struct eq_pro p = { .preamp = -35, .count = (uint8_t) count };

        for (unsigned i = 0; i < count; i++)
                p.band[i] = (struct eq_band) { types[i % 4], (uint16_t) (30 + 1900 * i), (int16_t) (23 * i - 100),
                                               (uint16_t) (50 + 97 * i) };
        return p;
}

static void bench_pro_to_standard(unsigned count) {
        struct eq_pro p = sample_pro(count);
        struct eq_standard s;
        unsigned long n = 0;
        double t0 = now(), t;
        volatile int sink = 0;

        do {
                for (unsigned i = 0; i < 10000; i++, n++) {
                        p.band[0].gain = (int16_t) ((n % 241) - 120);
                        eqconv_pro_to_standard(&p, &s);
                        sink += s.gain[2];
                }
                t = now() - t0;
        } while (t < 1.0);
        (void) sink;
        printf("pro -> standard (%2u bands): %12.0f conversions/s\n", count, (double) n / t);
}

static void bench_standard_to_pro(void) {
        struct eq_standard s;
        struct eq_pro p;
        unsigned long n = 0;
        double t0 = now(), t;
        volatile int sink = 0;

        do {
                for (unsigned i = 0; i < 100000; i++, n++) {
                        std_from_index(n * 7919 % 282475249, &s);
                        eqconv_standard_to_pro(&s, &p);
                        sink += p.band[3].gain;
                }
                t = now() - t0;
        } while (t < 1.0);
        (void) sink;
        printf("standard -> pro:            %12.0f conversions/s\n", (double) n / t);
}

struct worker {
        pthread_t thread;
        atomic_uint *next;              /* shared: the next value of the first gain to take */
        unsigned long checked, failed, preamp_nonzero;
        double worst_db;
        struct eq_standard worst;
};

/* Checks one input; returns its worst centre error in dB, or -1 on failure. */
static double prove_one(const struct eq_standard *s, struct worker *w) {
        struct value v;
        struct eq_standard back;
        double worst = 0;

        value_init(&v, KEY_EQ_CUSTOM, FAMILY_PRO);
        eqconv_standard_to_pro(s, &v.custom.pro);
        if (value_check(&v, NULL) < 0)
                return -1;
        w->preamp_nonzero += v.custom.pro.preamp != 0;
        for (unsigned i = 0; i < STD_BANDS; i++) {
                double err = eqconv_pro_response_db(&v.custom.pro, eqconv_centre_hz[i]) - s->gain[i] / 2.0;
                if (err < 0)
                        err = -err;
                if (err > worst)
                        worst = err;
        }
        eqconv_pro_to_standard(&v.custom.pro, &back);
        if (worst > TOLERANCE_DB || memcmp(&back, s, sizeof(back)) != 0)
                return -1;
        return worst;
}

static void *prove_range(void *userdata) {
        struct worker *w = userdata;
        const unsigned long per_first = 282475249ul / STEPS;   /* 49^4 */
        unsigned first;

        while ((first = atomic_fetch_add(w->next, 1)) < STEPS)
                for (unsigned long n = first * per_first; n < (first + 1) * per_first; n++) {
                        struct eq_standard s;
                        double err;

                        std_from_index(n, &s);
                        err = prove_one(&s, w);
                        w->checked++;
                        if (err < 0 && w->failed++ < 5)
                                fprintf(stderr, "FAIL: input %d %d %d %d %d\n",
                                        s.gain[0], s.gain[1], s.gain[2], s.gain[3], s.gain[4]);
                        if (err > w->worst_db) {
                                w->worst_db = err;
                                w->worst = s;
                        }
                }
        return NULL;
}

static void report(const struct worker *ws, unsigned n, double seconds) {
        unsigned long checked = 0, failed = 0, preamp = 0;
        const struct worker *worst = &ws[0];

        for (unsigned i = 0; i < n; i++) {
                checked += ws[i].checked;
                failed += ws[i].failed;
                preamp += ws[i].preamp_nonzero;
                if (ws[i].worst_db > worst->worst_db)
                        worst = &ws[i];
        }
        printf("exhaustive: %lu inputs in %.1f s on %u threads, %lu failed, %lu with a preamp\n",
               checked, seconds, n, failed, preamp);
        printf("exhaustive: worst centre error %.6f dB (tolerance %.2f) at standard gains "
               "%d %d %d %d %d (0.5 dB)\n", worst->worst_db, TOLERANCE_DB,
               worst->worst.gain[0], worst->worst.gain[1], worst->worst.gain[2],
               worst->worst.gain[3], worst->worst.gain[4]);
}

static int exhaustive(void) {
        struct worker ws[THREADS_MAX] = { 0 };
        atomic_uint next = 0;
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        unsigned n = cpus < 1 ? 1 : cpus > THREADS_MAX ? THREADS_MAX : (unsigned) cpus;
        unsigned long failed = 0, checked = 0;
        double t0 = now();

        for (unsigned i = 0; i < n; i++) {
                ws[i].next = &next;
                if (pthread_create(&ws[i].thread, NULL, prove_range, &ws[i]) != 0) {
                        fprintf(stderr, "pthread_create failed\n");
                        return 1;
                }
        }
        for (unsigned i = 0; i < n; i++) {
                (void) pthread_join(ws[i].thread, NULL);
                failed += ws[i].failed;
                checked += ws[i].checked;
        }
        report(ws, n, now() - t0);
        return failed == 0 && checked == 282475249ul ? 0 : 1;
}

int main(int argc, char *argv[]) {
        bool full = argc == 2 && strcmp(argv[1], "--exhaustive") == 0;

        if (argc > 2 || (argc == 2 && !full)) {
                fprintf(stderr, "usage: %s [--exhaustive]\n", argv[0]);
                return 2;
        }
        bench_standard_to_pro();
        bench_pro_to_standard(5);
        bench_pro_to_standard(10);
        return full ? exhaustive() : 0;
}
