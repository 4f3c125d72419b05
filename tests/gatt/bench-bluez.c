/* SPDX-License-Identifier: MIT */
/* Benchmark of the BlueZ client against budsim on a private bus: the GATT
 * operations and wall time of a "nothing changed" reconnect (the engine
 * knows the Buds: exactly one Manifest read is the target), and the round
 * trip of a record read and of a write through D-Bus (median, p99).
 * Prints figures; never asserts timing. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gatt/bluez.h"
#include "tests/gatt/fixture.h"

#define ROUNDS 200
#define RECONNECTS 20

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

        return x < y ? -1 : x > y;
}

static void print_stats(const char *what, uint64_t *v, size_t n) {
        qsort(v, n, sizeof(*v), cmp_u64);
        printf("%-40s n=%zu median %7.3f ms  p99 %7.3f ms  max %7.3f ms\n", what, n,
               (double) v[n / 2] / 1000.0, (double) v[(n * 99) / 100] / 1000.0, (double) v[n - 1] / 1000.0);
}

static void bench_reconnect(struct fix *f) {
        static uint64_t t[RECONNECTS];
        uint64_t reads0 = fix_counter(f, FIX_ADDR1, "read"), info0 = fix_counter(f, FIX_ADDR1, "read:info");
        uint64_t man0 = fix_counter(f, FIX_ADDR1, "read:manifest");
        uint64_t sn0 = fix_counter(f, FIX_ADDR1, "start-notify"), wr0 = fix_counter(f, FIX_ADDR1, "write");

        for (unsigned i = 0; i < RECONNECTS; i++) {
                unsigned want = f->n_ready + 1;
                uint64_t t0 = fix_now();

                fix_call(f, "LinkLoss", "s", FIX_ADDR1);
                if (!FIX_WAIT(f, f->n_ready >= want)) {
                        fprintf(stderr, "reconnect %u: not ready in time\n", i);
                        exit(1);
                }
                t[i] = fix_now() - t0;
        }
        printf("reconnect, nothing changed (%d times, cache yes, backoff min 1 ms):\n", RECONNECTS);
        printf("  GATT ops per reconnect: reads %.2f (Manifest %.2f, Buds Info %.2f), "
               "StartNotify %.2f, writes %.2f\n",
               (double) (fix_counter(f, FIX_ADDR1, "read") - reads0) / RECONNECTS,
               (double) (fix_counter(f, FIX_ADDR1, "read:manifest") - man0) / RECONNECTS,
               (double) (fix_counter(f, FIX_ADDR1, "read:info") - info0) / RECONNECTS,
               (double) (fix_counter(f, FIX_ADDR1, "start-notify") - sn0) / RECONNECTS,
               (double) (fix_counter(f, FIX_ADDR1, "write") - wr0) / RECONNECTS);
        print_stats("  LinkLoss -> buds_ready (connect 10 ms + resolve 10 ms simulated)", t, RECONNECTS);
}

static void bench_round_trips(struct fix *f, struct bluez_buds *b) {
        static uint64_t rd[ROUNDS], wr[ROUNDS];
        struct record rec;

        for (unsigned i = 0; i < ROUNDS; i++) {
                uint64_t t0 = fix_now();

                if (fix_read(f, b, KEY_EQ_ACTIVE, &rec) < 0)
                        exit(1);
                rd[i] = fix_now() - t0;
                t0 = fix_now();
                if (fix_write(f, b, &rec) < 0)
                        exit(1);
                wr[i] = fix_now() - t0;
        }
        printf("round trips through D-Bus (budsim gatt-delay-ms 0):\n");
        print_stats("  read eq.active", rd, ROUNDS);
        print_stats("  write eq.active (request)", wr, ROUNDS);
}

int main(void) {
        static struct fix f;
        struct buds_info info = { .protocol = 1, .family = FAMILY_PRO, .buds_id = 0x1122334455667788ULL };
        struct bluez_buds *b;
        int r;

        r = fix_start(&f, (const char *[]) { "--buds", FIX_ADDR1 ",pro,Bench,0x1122334455667788", NULL });
        if (r != 0) {
                printf("bench-bluez: no dbus-daemon, skipped\n");
                return r == 77 ? 0 : 1;
        }
        f.cfg.backoff_min_usec = 1000;
        f.cfg.backoff_max_usec = 10000;
        if (fix_client(&f) < 0)
                return 1;
        /* the engine has these Buds in its cache */
        (void) bluez_remember_buds(f.bz, FIX_ADDR1, &info);
        if (!FIX_WAIT(&f, (b = bluez_buds_find(f.bz, FIX_ADDR1)) && bluez_buds_ready(b)))
                return 1;
        fix_option_u(&f, "gatt-delay-ms", 0);
        bench_reconnect(&f);
        bench_round_trips(&f, bluez_buds_find(f.bz, FIX_ADDR1));
        fix_stop(&f);
        return 0;
}
