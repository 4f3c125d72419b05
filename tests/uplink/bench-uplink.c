/* SPDX-License-Identifier: MIT */
/* Request latency of the uplink on loopback over one kept-alive TLS
 * connection to the real syncd: pull (10 records) and push (1 record, a new
 * key each time), from the call to its callback, through the sd-event loop.
 * Prints median and p99 and the connections opened; asserts nothing. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <systemd/sd-event.h>

#include "uplink/uplink.h"
#include "syncd-harness.h"

#define ROUNDS 1000
#define ORIGIN UINT64_C(0x00a1b2c3d4e5f607)

struct bench {
        sd_event *event;
        struct uplink *u;
        bool done;
        int r;
};

static uint64_t now_usec(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

static void on_pull(struct uplink *u, int r, const char *error, const struct uplink_pull_reply *p, void *userdata) {
        struct bench *b = userdata;

        (void) u;
        (void) p;
        if (r < 0)
                fprintf(stderr, "pull: %s\n", error);
        b->r = r;
        b->done = true;
}

static void on_push(struct uplink *u, int r, const char *error, const struct uplink_push_reply *p, void *userdata) {
        struct bench *b = userdata;

        (void) u;
        (void) p;
        if (r < 0)
                fprintf(stderr, "push: %s\n", error);
        b->r = r;
        b->done = true;
}

static int wait_done(struct bench *b) {
        uint64_t deadline = now_usec() + 10 * 1000000u;

        while (!b->done) {
                if (now_usec() > deadline || sd_event_run(b->event, 1000000) < 0)
                        return -ETIMEDOUT;
        }
        b->done = false;
        return b->r;
}

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

        return x < y ? -1 : x > y;
}

static void report(const char *what, uint64_t *lat, size_t n) {
        qsort(lat, n, sizeof(*lat), cmp_u64);
        printf("%-28s median %6.3f ms   p99 %6.3f ms   (n=%zu)\n", what, lat[n / 2] / 1000.0,
               lat[n * 99 / 100] / 1000.0, n);
}

static struct record record_at(uint64_t ms, unsigned i) {
        struct record r = { .stamp = { stamp_pack(ms, (uint16_t) i), ORIGIN } };

        value_init(&r.value, KEY_EQ_CUSTOM, FAMILY_STANDARD);
        r.value.custom.std.gain[i % STD_BANDS] = (int8_t) (i % 24);
        return r;
}

static int bench_push(struct bench *b, uint64_t *lat) {
        struct timespec ts;
        char key[40];
        int r;

        (void) clock_gettime(CLOCK_REALTIME, &ts);
        for (unsigned i = 0; i < ROUNDS; i++) {
                struct record rec = record_at((uint64_t) ts.tv_sec * 1000u, i);
                uint64_t t0 = now_usec();

                (void) snprintf(key, sizeof(key), "5e5e5e5e-0000-4000-8000-%012u", i);
                if (uplink_push(b->u, key, ORIGIN, &rec, 1, 0, on_push, b, NULL) < 0 || (r = wait_done(b)) < 0)
                        return -EIO;
                lat[i] = now_usec() - t0;
        }
        return 0;
}

static int bench_pull(struct bench *b, uint64_t *lat) {
        for (unsigned i = 0; i < ROUNDS; i++) {
                uint64_t t0 = now_usec();

                if (uplink_pull(b->u, NULL, 10, 0, on_pull, b, NULL) < 0 || wait_done(b) < 0)
                        return -EIO;
                lat[i] = now_usec() - t0;
        }
        return 0;
}

int main(void) {
        static uint64_t push_lat[ROUNDS], pull_lat[ROUNDS];
        struct bench b = {};
        struct syncd s = {};
        struct uplink_stats st;
        struct uplink_config cfg;
        char *error = NULL, ca[256];
        int r = 1;

        if (!syncd_certs() || syncd_start(&s, "server") < 0) {
                fprintf(stderr, "cannot start syncd\n");
                return 1;
        }
        (void) snprintf(ca, sizeof(ca), "%s", syncd_cert_path("ca.pem"));
        cfg = (struct uplink_config) { .url = s.url, .token = SYNCD_TOKEN_A, .ca_file = ca };
        if (sd_event_new(&b.event) < 0 || uplink_new(b.event, &cfg, NULL, NULL, &b.u, &error) < 0) {
                fprintf(stderr, "uplink: %s\n", error ? error : "cannot start");
                goto out;
        }
        if (bench_push(&b, push_lat) < 0 || bench_pull(&b, pull_lat) < 0)
                goto out;
        uplink_get_stats(b.u, &st);
        printf("uplink over keep-alive TLS to syncd on 127.0.0.1, libcurl multi on sd-event:\n");
        report("push (1 record, new key)", push_lat, ROUNDS);
        report("pull (from start, limit 10)", pull_lat, ROUNDS);
        printf("%" PRIu64 " requests, %" PRIu64 " connection(s) opened (TLS handshakes)\n", st.requests, st.connects);
        r = 0;
out:
        b.u = uplink_free(b.u);
        sd_event_unref(b.event);
        free(error);
        (void) syncd_stop(&s);
        syncd_certs_cleanup();
        return r;
}
