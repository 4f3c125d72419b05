/* SPDX-License-Identifier: MIT */
/* make demo: the four scenarios end to end, narrated, on the same real
 * parts as the tests (a private D-Bus, the Buds simulator, the reference
 * server over TLS with a CA made just now, and bridged). Exit 0 when every
 * scenario converged. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec/describe.h"
#include "codec/recjson.h"
#include "tests/e2e/e2e.h"

#define LEFT "AA:BB:CC:DD:EE:01"
#define NEW_PRO "AA:BB:CC:DD:EE:02"
#define STD "AA:BB:CC:DD:EE:03"
#define PRO_AGAIN "AA:BB:CC:DD:EE:04"

static struct e2e E;
static unsigned converged, scenarios;

static uint64_t wall_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        putchar('\n');
        fflush(stdout);
}

static void describe_stamp(struct stamp s, char *buf, size_t size) {
        time_t t = (time_t) (stamp_ms(s) / 1000);
        struct tm tm;
        char when[16] = "factory";

        if (!stamp_is_factory(s) && localtime_r(&t, &tm))
                (void) strftime(when, sizeof(when), "%H:%M:%S", &tm);
        (void) snprintf(buf, size, "%s.%03u by %016llx", when, (unsigned) (stamp_ms(s) % 1000),
                        (unsigned long long) s.origin);
}

static void show(const char *who, int r, const struct record *rec) {
        char v[512], s[64];

        if (r < 0) {
                say("      %-9s nothing", who);
                return;
        }
        (void) value_describe(&rec->value, v, sizeof(v));
        describe_stamp(rec->stamp, s, sizeof(s));
        say("      %-9s %s%s [%s]", who, v, rec->flags & RECORD_DERIVED ? " (derived)" : "", s);
}

/* What the Buds, the server and the cache hold for key. */
static void show_all(const char *address, enum key key) {
        struct record buds, server, cache;
        int rb = e2e_sim_record(&E, address, key, &buds);
        int rs = rb < 0 ? rb : e2e_server_record(&E, key, buds.value.family, &server);
        int rc = e2e_intent(&E, key, &cache);

        say("    %s:", key_name(key));
        show("Buds", rb, &buds);
        show("server", rs, &server);
        show("cache", rc, &cache);
}

struct want {
        const char *address;
        enum key key;
        const struct record *rec;
};

static bool cond_converged(struct e2e *e, void *userdata) {
        const struct want *w = userdata;
        return e2e_converged(e, w->address, w->key, w->rec);
}

static bool wait_converged(const char *address, enum key key, const struct record *rec) {
        struct want w = { address, key, rec };
        bool ok = e2e_wait(&E, cond_converged, &w, E2E_DEADLINE_USEC);

        show_all(address, key);
        say("    %s", ok ? "=> converged: Buds, server and cache agree." : "=> NOT converged in time.");
        return ok;
}

static bool buds_arrive(const char *address, const char *name, enum family f, uint64_t id) {
        say("  %s Buds \"%s\" (%s) come into range.", family_name(f), name, address);
        if (e2e_sim_add_buds(&E, address, name, f, id) < 0 || !e2e_wait_buds_ready(&E, address, E2E_DEADLINE_USEC)) {
                say("    bridged did not connect them.");
                return false;
        }
        say("    bridged connected them and read their Manifest.");
        return true;
}

static struct value profile(const char *name, uint8_t noise, uint8_t ambient) {
        struct value v;

        value_init(&v, KEY_PROFILE, FAMILY_ANY);
        v.profile.name_len = (uint8_t) strlen(name);
        memcpy(v.profile.name, name, v.profile.name_len);
        v.profile.noise_control = noise;
        v.profile.ambient_level = ambient;
        v.profile.touch_left = TOUCH_PLAY_PAUSE;
        v.profile.touch_right = TOUCH_NOISE_CONTROL;
        return v;
}

static struct value pro_custom(int16_t bass) {
        struct value v;

        value_init(&v, KEY_EQ_CUSTOM, FAMILY_PRO);
        v.custom.pro.preamp = -20;
        v.custom.pro.count = 3;
        v.custom.pro.band[0] = (struct eq_band) { BAND_LOW_SHELF, 105, bass, 71 };
        v.custom.pro.band[1] = (struct eq_band) { BAND_PEAK, 2500, -35, 141 };
        v.custom.pro.band[2] = (struct eq_band) { BAND_HIGH_SHELF, 9000, 25, 70 };
        return v;
}

static int set(const struct value *v, struct record *ret) {
        char *json = recjson_value_print(v), *ans = NULL;
        sd_bus_error err = SD_BUS_ERROR_NULL;
        int r = e2e_call(&E, "Set", &ans, &err, "sss", key_name(v->key),
                         v->key == KEY_PROFILE ? "" : family_name(v->family), json);

        if (r < 0)
                say("    Set failed: %s", err.message ? err.message : strerror(-r));
        else
                r = recjson_record_parse(ans, strlen(ans), ret, NULL);
        free(json);
        free(ans);
        sd_bus_error_free(&err);
        return r;
}

static void scenario(const char *title, bool (*run)(void)) {
        uint64_t t0 = e2e_now_usec();
        bool ok;

        scenarios++;
        say("\n== %u. %s", scenarios, title);
        ok = run();
        converged += ok;
        say("  (%s in %.1f s)", ok ? "done" : "FAILED", (double) (e2e_now_usec() - t0) / 1e6);
}

static bool online(void) {
        struct record r;
        struct value v = pro_custom(60), touched = profile("Commute", NOISE_AMBIENT, 6);
        char status[32];

        if (!buds_arrive(LEFT, "Left Buds", FAMILY_PRO, 0x1001))
                return false;
        say("  On this host you set the Custom EQ (bridgectl set eq.custom ...).");
        if (set(&v, &r) < 0 || !wait_converged(LEFT, KEY_EQ_CUSTOM, &r))
                return false;
        say("  On the Buds themselves, a touch switches to ambient sound: the Buds mark it DIRTY.");
        if (e2e_sim_touch(&E, LEFT, &touched) < 0 || !wait_converged(LEFT, KEY_PROFILE, NULL))
                return false;
        say("  bridged stamped the change, wrote it back with DIRTY clear, and pushed it.");
        say("  A phone edits the profile on the server a moment later.");
        r = (struct record) { .value = profile("Phone's profile", NOISE_ANC, 0),
                              .stamp = { stamp_pack(wall_ms() + 100, 0), E2E_PHONE } };
        if (e2e_phone_push(&E, &r, status, sizeof(status)) < 0)
                return false;
        return wait_converged(LEFT, KEY_PROFILE, &r);
}

static bool offline(void) {
        struct record r;
        struct value v = profile("Edited offline", NOISE_OFF, 0);

        say("  The server goes away (connection refused).");
        if (e2e_server_stop(&E) < 0)
                return false;
        say("  You edit the profile here: stored, written to the Buds, queued in the outbox.");
        if (set(&v, &r) < 0)
                return false;
        say("  bridged restarts while offline; the outbox survives in its SQLite cache.");
        (void) e2e_bridged_stop(&E, SIGTERM);
        if (e2e_bridged_start(&E, false) < 0 || !e2e_wait_buds_ready(&E, LEFT, E2E_DEADLINE_USEC))
                return false;
        say("  The server comes back: bridged pulls first, arbitrates, then pushes what still wins.");
        if (e2e_server_start(&E) < 0)
                return false;
        return wait_converged(LEFT, KEY_PROFILE, &r);
}

static bool phone_switch(void) {
        struct record r;
        struct value v = profile("Written by the old host", NOISE_ANC, 3);

        say("  The old host writes the Buds but never reaches the server, then is gone.");
        if (e2e_server_stop(&E) < 0 || set(&v, &r) < 0)
                return false;
        (void) e2e_wait_buds_ready(&E, LEFT, E2E_DEADLINE_USEC);
        (void) e2e_bridged_stop(&E, SIGKILL);
        if (e2e_server_start(&E) < 0)
                return false;
        say("  A new host (an empty cache) meets Buds and a server that disagree.");
        if (e2e_bridged_start(&E, true) < 0)
                return false;
        say("  The Buds carry the newest stamp, so it goes to the server; nothing newer is overwritten.");
        return wait_converged(LEFT, KEY_PROFILE, &r);
}

static bool buds_switch(void) {
        struct record pro, std;
        struct value v = pro_custom(87);

        if (set(&v, &pro) < 0 || !wait_converged(LEFT, KEY_EQ_CUSTOM, &pro))
                return false;
        say("  The pro Buds go; standard Buds from the factory come.");
        (void) e2e_sim(&E, "RemoveBuds", NULL, "s", LEFT);
        if (!buds_arrive(STD, "Standard Buds", FAMILY_STANDARD, 0x2002))
                return false;
        say("  Their factory values (stamp 0) lose; the pro intent is converted to five bands, DERIVED.");
        if (!wait_converged(STD, KEY_EQ_CUSTOM, NULL) || e2e_sim_record(&E, STD, KEY_EQ_CUSTOM, &std) < 0 ||
            !stamp_eq(std.stamp, pro.stamp))
                return false;
        say("  Back to (other) pro Buds: the pro parameters come back exactly, not a round trip.");
        (void) e2e_sim(&E, "RemoveBuds", NULL, "s", STD);
        if (!buds_arrive(PRO_AGAIN, "New Pro Buds", FAMILY_PRO, 0x3003))
                return false;
        return wait_converged(PRO_AGAIN, KEY_EQ_CUSTOM, &pro);
}

int main(void) {
        uint64_t t0 = e2e_now_usec();
        int r;

        setvbuf(stdout, NULL, _IOLBF, 0);
        say("bridged demo: the four scenarios on the Buds simulator and the reference server.");
        say("Starting a private D-Bus, budsim (as bluetoothd), syncd over TLS with a CA made just now, and bridged...");
        r = e2e_start(&E, false);
        if (r < 0) {
                fprintf(stderr, "demo: cannot start the parts: %s\n", strerror(-r));
                e2e_stop(&E);
                return EXIT_FAILURE;
        }
        say("  server %s; bridged READY=1 after %.0f ms.", E.server.base, (double) E.ready_usec / 1000);
        scenario("Online: edits here, on the Buds and on a phone all meet", online);
        scenario("Offline: edits queue, survive a restart, and sync on return", offline);
        scenario("Phone switch: a new host with an empty cache", phone_switch);
        scenario("Buds switch: pro -> standard (converted) -> pro (exact)", buds_switch);
        e2e_stop(&E);
        say("\nSummary: %u of %u scenarios converged in %.1f s.", converged, scenarios,
            (double) (e2e_now_usec() - t0) / 1e6);
        return converged == scenarios ? EXIT_SUCCESS : EXIT_FAILURE;
}
