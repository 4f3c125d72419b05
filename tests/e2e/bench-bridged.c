/* SPDX-License-Identifier: MIT */
/* make bench: bridged's own figures on the real parts (PushDebounceMs=0):
 * a change on the Buds to its copy on the server, a change on the server to
 * its copy on the Buds (median, 99th percentile), that latency divided by
 * one raw D-Bus read + one raw D-Bus write + one raw HTTPS request measured
 * in the same run, start to READY=1, resident memory and wake-ups when idle.
 * Printed, never asserted. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "codec/recjson.h"
#include "codec/wire.h"
#include "tests/e2e/e2e.h"

#define ADDR "AA:BB:CC:DD:EE:01"
#define ROUNDS 200

static struct e2e E;

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return (x > y) - (x < y);
}

static uint64_t quantile(uint64_t *v, size_t n, unsigned q) {
        size_t i = (q * n + 99) / 100;

        qsort(v, n, sizeof(*v), cmp_u64);
        return v[i ? i - 1 : 0];
}

static uint64_t wall_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

static struct value profile(unsigned i) {
        struct value v;

        value_init(&v, KEY_PROFILE, FAMILY_ANY);
        v.profile.name_len = (uint8_t) snprintf(v.profile.name, sizeof(v.profile.name), "bench %u", i);
        v.profile.ambient_level = (uint8_t) (i % 11);
        return v;
}

struct expect {
        struct value v;
        bool on_server;         /* else on the Buds */
};

static size_t collect(char *p, size_t s, size_t n, void *u) {
        char **buf = u;
        size_t old = *buf ? strlen(*buf) : 0;
        char *nb = realloc(*buf, old + s * n + 1);

        if (!nb)
                return 0;
        memcpy(nb + old, p, s * n);
        nb[old + s * n] = '\0';
        *buf = nb;
        return s * n;
}

/* The server's profile through one kept-alive connection, so that checking
 * costs a request, not a handshake. */
static bool server_has(const struct value *v) {
        static CURL *c;
        static struct curl_slist *h;
        char url[128], *body = NULL, *want = recjson_value_print(v);
        bool ok;

        if (!c) {
                c = curl_easy_init();
                h = curl_slist_append(curl_slist_append(NULL, "Authorization: Bearer " HARNESS_TOKEN_A),
                                      "Content-Type: application/json");
                (void) snprintf(url, sizeof(url), "%s/v1/sync/pull", E.server.base);
                curl_easy_setopt(c, CURLOPT_URL, url);
                curl_easy_setopt(c, CURLOPT_CAINFO, E.server.ca);
                curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
                curl_easy_setopt(c, CURLOPT_POSTFIELDS, "{\"cursor\":null,\"limit\":1000}");
                curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
        }
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
        ok = curl_easy_perform(c) == CURLE_OK && body && want && strstr(body, want + 1);
        free(body);
        free(want);
        return ok;
}

static bool cond_arrived(struct e2e *e, void *userdata) {
        const struct expect *x = userdata;
        struct record r;

        if (x->on_server)
                return server_has(&x->v);
        return e2e_sim_record(e, ADDR, KEY_PROFILE, &r) == 0 && value_equal(&r.value, &x->v) &&
               !(r.flags & RECORD_DIRTY);
}

/* The object path of the Buds' characteristic uuid (BlueZ numbers them at random). */
static int find_chrc(const char *uuid, char *ret, size_t size) {
        sd_bus_message *reply = NULL;
        const char *path, *iface, *prop;
        int r = sd_bus_call_method(E.bus, "org.bluez", "/", "org.freedesktop.DBus.ObjectManager", "GetManagedObjects",
                                   NULL, &reply, NULL);

        if (r < 0)
                return r;
        r = -ENOENT;
        (void) sd_bus_message_enter_container(reply, 'a', "{oa{sa{sv}}}");
        while (sd_bus_message_enter_container(reply, 'e', "oa{sa{sv}}") > 0) {
                (void) sd_bus_message_read(reply, "o", &path);
                (void) sd_bus_message_enter_container(reply, 'a', "{sa{sv}}");
                while (sd_bus_message_enter_container(reply, 'e', "sa{sv}") > 0) {
                        (void) sd_bus_message_read(reply, "s", &iface);
                        (void) sd_bus_message_enter_container(reply, 'a', "{sv}");
                        while (sd_bus_message_enter_container(reply, 'e', "sv") > 0) {
                                const char *u = NULL;
                                (void) sd_bus_message_read(reply, "s", &prop);
                                if (strcmp(iface, "org.bluez.GattCharacteristic1") == 0 && strcmp(prop, "UUID") == 0 &&
                                    sd_bus_message_read(reply, "v", "s", &u) >= 0 && strcmp(u, uuid) == 0 &&
                                    strstr(path, "dev_AA_BB_CC_DD_EE_01")) {
                                        (void) snprintf(ret, size, "%s", path);
                                        r = 0;
                                } else if (!u) {
                                        (void) sd_bus_message_skip(reply, "v");
                                }
                                (void) sd_bus_message_exit_container(reply);
                        }
                        (void) sd_bus_message_exit_container(reply);
                        (void) sd_bus_message_exit_container(reply);
                }
                (void) sd_bus_message_exit_container(reply);
                (void) sd_bus_message_exit_container(reply);
        }
        sd_bus_message_unref(reply);
        return r;
}

/* One raw ReadValue and one raw WriteValue of the Buds' profile, through D-Bus. */
static void raw_gatt(uint64_t *ret_read, uint64_t *ret_write) {
        uint64_t reads[ROUNDS], writes[ROUNDS];
        char path[256];
        size_t n = 0;

        if (find_chrc(BUDS_PROFILE_UUID, path, sizeof(path)) < 0) {
                *ret_read = *ret_write = 0;
                return;
        }
        for (unsigned i = 0; i < ROUNDS; i++) {
                sd_bus_message *m = NULL, *reply = NULL;
                const void *p;
                struct record rec;
                uint8_t buf[WIRE_RECORD_MAX];
                uint64_t t0 = e2e_now_usec();
                int len;

                if (sd_bus_call_method(E.bus, "org.bluez", path, "org.bluez.GattCharacteristic1", "ReadValue", NULL,
                                       &reply, "a{sv}", 0) < 0 ||
                    sd_bus_message_read_array(reply, 'y', &p, &n) < 0 || wire_record_decode(p, n, &rec, NULL) < 0)
                        break;
                reads[i] = e2e_now_usec() - t0;
                sd_bus_message_unref(reply);
                rec.flags &= RECORD_DERIVED;
                len = wire_record_encode(&rec, buf, sizeof(buf));
                t0 = e2e_now_usec();
                (void) sd_bus_message_new_method_call(E.bus, &m, "org.bluez", path, "org.bluez.GattCharacteristic1",
                                                      "WriteValue");
                (void) sd_bus_message_append_array(m, 'y', buf, (size_t) len);
                (void) sd_bus_message_append(m, "a{sv}", 1, "type", "s", "request");
                if (sd_bus_call(E.bus, m, 5000000, NULL, NULL) < 0)
                        break;
                writes[i] = e2e_now_usec() - t0;
                sd_bus_message_unref(m);
        }
        *ret_read = quantile(reads, ROUNDS, 50);
        *ret_write = quantile(writes, ROUNDS, 50);
}

static size_t discard(char *p, size_t s, size_t n, void *u) {
        (void) p;
        (void) u;
        return s * n;
}

/* One raw HTTPS request on a kept-alive connection (as bridged's uplink keeps it). */
static uint64_t raw_https(void) {
        uint64_t t[ROUNDS];
        char url[128];
        struct curl_slist *h = curl_slist_append(NULL, "Authorization: Bearer " HARNESS_TOKEN_A);
        CURL *c = curl_easy_init();

        (void) snprintf(url, sizeof(url), "%s/v1/sync/status", E.server.base);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_CAINFO, E.server.ca);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
        (void) curl_easy_perform(c);    /* the handshake, once */
        for (unsigned i = 0; i < ROUNDS; i++) {
                uint64_t t0 = e2e_now_usec();
                (void) curl_easy_perform(c);
                t[i] = e2e_now_usec() - t0;
        }
        curl_easy_cleanup(c);
        curl_slist_free_all(h);
        return quantile(t, ROUNDS, 50);
}

static void latency(const char *what, bool buds_to_server, uint64_t raw_sum) {
        uint64_t t[ROUNDS];
        unsigned ok = 0;

        for (unsigned i = 0; i < ROUNDS; i++) {
                struct expect x = { profile(i + (buds_to_server ? 0 : 1000)), buds_to_server };
                char status[32];
                uint64_t t0 = e2e_now_usec();

                if (buds_to_server) {
                        if (e2e_sim_touch(&E, ADDR, &x.v) < 0)
                                break;
                } else {
                        /* the change is on the server once its push is answered */
                        struct record r = { .value = x.v, .stamp = { stamp_pack(wall_ms(), (uint16_t) i), E2E_PHONE } };
                        if (e2e_phone_push(&E, &r, status, sizeof(status)) < 0)
                                break;
                        t0 = e2e_now_usec();
                }
                if (!e2e_wait(&E, cond_arrived, &x, E2E_DEADLINE_USEC))
                        break;
                t[ok++] = e2e_now_usec() - t0;
        }
        if (ok == 0) {
                printf("%s: no sample\n", what);
                return;
        }
        printf("%s: median %.2f ms, p99 %.2f ms over %u changes (targets 5 and 20 ms); "
               "median / (raw read + write + HTTPS) = %.2f (target < 1.5)\n",
               what, quantile(t, ok, 50) / 1000.0, quantile(t, ok, 99) / 1000.0, ok,
               raw_sum ? (double) quantile(t, ok, 50) / (double) raw_sum : 0.0);
}

static long proc_field(pid_t pid, const char *name) {
        char path[64], line[256];
        long v = -1;
        FILE *f;

        (void) snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);
        f = fopen(path, "re");
        if (!f)
                return -1;
        while (fgets(line, sizeof(line), f))
                if (strncmp(line, name, strlen(name)) == 0)
                        v = strtol(line + strlen(name) + 1, NULL, 10);
        fclose(f);
        return v;
}

static bool cond_never(struct e2e *e, void *userdata) {
        (void) e;
        (void) userdata;
        return false;
}

static void idle_figures(unsigned seconds) {
        char path[64], line[256];
        long c0, c1, pss = -1, priv = 0;
        FILE *f;

        /* settle, then count what bridged does on its own */
        (void) e2e_wait(&E, cond_never, NULL, 1000000);
        c0 = proc_field(E.bridged, "voluntary_ctxt_switches") + proc_field(E.bridged, "nonvoluntary_ctxt_switches");
        (void) e2e_wait(&E, cond_never, NULL, (uint64_t) seconds * 1000000);
        c1 = proc_field(E.bridged, "voluntary_ctxt_switches") + proc_field(E.bridged, "nonvoluntary_ctxt_switches");
        (void) snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int) E.bridged);
        f = fopen(path, "re");
        while (f && fgets(line, sizeof(line), f)) {
                if (strncmp(line, "Pss:", 4) == 0)
                        pss = strtol(line + 4, NULL, 10);
                if (strncmp(line, "Private_", 8) == 0)
                        priv += strtol(strchr(line, ':') + 1, NULL, 10);
        }
        if (f)
                fclose(f);
        printf("idle: resident memory %ld KiB RSS, %ld KiB PSS, %ld KiB private (target < 8192; shared libraries "
               "are most of RSS), %.1f wake-ups per minute (over %u s; the long poll renews every 60 s)\n",
               proc_field(E.bridged, "VmRSS"), pss, priv, (double) (c1 - c0) * 60.0 / seconds, seconds);
}

static void start_to_ready(void) {
        uint64_t t[9];

        for (unsigned i = 0; i < 9; i++) {
                (void) e2e_bridged_stop(&E, SIGTERM);
                if (e2e_bridged_start(&E, false) < 0)
                        return;
                t[i] = E.ready_usec;
        }
        printf("start to READY=1: median %.1f ms over 9 starts (target < 50)\n", quantile(t, 9, 50) / 1000.0);
}

static void internal_stats(void) {
        char *stats = NULL;

        if (e2e_call(&E, "Stats", &stats, NULL, NULL) == 0)
                printf("bridged's own Stats(): %s\n", stats);
        free(stats);
}

int main(void) {
        uint64_t raw_read, raw_write, raw_http;
        int r;

        setvbuf(stdout, NULL, _IOLBF, 0);
        r = e2e_start(&E, false);
        if (r < 0 || e2e_sim_add_buds(&E, ADDR, "Bench", FAMILY_PRO, 0x42) < 0) {
                fprintf(stderr, "bench-bridged: cannot start the parts: %s\n", strerror(-r));
                e2e_stop(&E);
                return EXIT_FAILURE;
        }
        start_to_ready();
        {
                struct expect x = { profile(999999), true };
                (void) e2e_sim_touch(&E, ADDR, &x.v);
                (void) e2e_wait(&E, cond_arrived, &x, E2E_DEADLINE_USEC);   /* connected and synced */
        }
        raw_gatt(&raw_read, &raw_write);
        raw_http = raw_https();
        printf("raw, same run: D-Bus ReadValue %.2f ms, WriteValue %.2f ms, HTTPS request (kept alive) %.2f ms\n",
               raw_read / 1000.0, raw_write / 1000.0, raw_http / 1000.0);
        latency("Buds change -> server copy", true, raw_read + raw_write + raw_http);
        latency("server change -> Buds copy", false, raw_read + raw_write + raw_http);
        internal_stats();
        idle_figures(getenv("BENCH_IDLE_SEC") ? (unsigned) atoi(getenv("BENCH_IDLE_SEC")) : 20);
        e2e_stop(&E);
        return EXIT_SUCCESS;
}
