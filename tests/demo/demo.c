/* SPDX-License-Identifier: MIT */
/* make demo: the four scenarios end to end, narrated, on the same real
 * parts as the tests (a private D-Bus, the Buds simulator, the reference
 * server over TLS with a CA made just now, and bridged), and a conflict kept
 * and restored. A person's edits go through bridgectl, shown as typed, with
 * what it printed. Exit 0 when every scenario converged.
 *
 * demo --shell (make demo-shell): then keeps everything running and says how
 * to reach it, until Ctrl-C. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <unistd.h>

#include "codec/describe.h"
#include "codec/recjson.h"
#include "tests/e2e/e2e.h"
#include "tests/lib/testbus.h"

#define LEFT "AA:BB:CC:DD:EE:01"
#define NEW_PRO "AA:BB:CC:DD:EE:02"
#define STD "AA:BB:CC:DD:EE:03"
#define PRO_AGAIN "AA:BB:CC:DD:EE:04"

static struct e2e E;
static unsigned converged, scenarios;

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

/* bridgectl ARGS as a person types it: the line, then what it printed. */
static int ctl(const char *args) {
        char cmd[1024], out[8192];
        int r;

        say("    $ bridgectl %s", args);
        (void) snprintf(cmd, sizeof(cmd), "DBUS_SYSTEM_BUS_ADDRESS='%s' %s/bridged/bridgectl %s 2>&1",
                        testbus_address(E.tb), getenv("BRIDGED_BUILD") ?: "build", args);
        r = e2e_run(&E, cmd, out, sizeof(out));
        for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n"))
                say("      %s", line);
        if (r != 0)
                say("    (bridgectl exited %d)", r);
        return r == 0 ? 0 : -EIO;
}

/* The item's intent after an edit through bridgectl: what convergence waits for. */
static int intent(enum key key, struct record *ret) {
        return e2e_intent(&E, key, ret);
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

static char eq_path[128], eq_import_args[160];

/* An AutoEq "ParametricEQ.txt", as people download them. */
static int write_eq_file(void) {
        FILE *f;

        (void) snprintf(eq_path, sizeof(eq_path), "%s/ParametricEQ.txt", E.dir);
        (void) snprintf(eq_import_args, sizeof(eq_import_args), "eq import %s", eq_path);
        f = fopen(eq_path, "we");
        if (!f)
                return -errno;
        fputs("Preamp: -2.0 dB\n"
              "Filter 1: ON LSC Fc 105 Hz Gain 6.0 dB Q 0.71\n"
              "Filter 2: ON PK Fc 2500 Hz Gain -3.5 dB Q 1.41\n"
              "Filter 3: ON HSC Fc 9000 Hz Gain 2.5 dB Q 0.70\n", f);
        return fclose(f) == 0 ? 0 : -errno;
}

static bool online(void) {
        struct record r;
        struct value v = pro_custom(60), touched = profile("Commute", NOISE_AMBIENT, 6);
        char status[32];

        if (!buds_arrive(LEFT, "Left Buds", FAMILY_PRO, 0x1001))
                return false;
        say("  On this host you load an EQ tuned with AutoEq into the Custom EQ:");
        if (write_eq_file() < 0 || ctl(eq_import_args) < 0 || intent(KEY_EQ_CUSTOM, &r) < 0 ||
            !wait_converged(LEFT, KEY_EQ_CUSTOM, &r))
                return false;
        (void) v;
        say("  On the Buds themselves, a touch switches to ambient sound: the Buds mark it DIRTY.");
        if (e2e_sim_touch(&E, LEFT, &touched) < 0 || !wait_converged(LEFT, KEY_PROFILE, NULL))
                return false;
        say("  bridged stamped the change, wrote it back with DIRTY clear, and pushed it.");
        say("  A phone edits the profile on the server a moment later.");
        r = (struct record) { .value = profile("Phone's profile", NOISE_ANC, 0),
                              .stamp = { stamp_pack(harness_wall_ms() + 100, 0), E2E_PHONE } };
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
        if (ctl("set profile 'name=Edited offline' noise_control=off") < 0 || intent(KEY_PROFILE, &r) < 0)
                return false;
        (void) v;
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
        say("  The cache keeps the pro value as the intent while these Buds hold the derived standard");
        say("  one: both carry the same stamp, and the intent is the newest stamp over both families.");
        say("  Five bands cannot hold a ten-band pro EQ, so keeping the original is what lets it come back.");
        (void) ctl("get eq.custom");
        say("  Back to (other) pro Buds: the pro parameters come back exactly, not a round trip.");
        (void) e2e_sim(&E, "RemoveBuds", NULL, "s", STD);
        if (!buds_arrive(PRO_AGAIN, "New Pro Buds", FAMILY_PRO, 0x3003))
                return false;
        return wait_converged(PRO_AGAIN, KEY_EQ_CUSTOM, &pro);
}

/* The id of the newest entry of the conflict log (0 when empty). */
static uint64_t newest_conflict(void) {
        char *list = NULL;
        uint64_t id = 0;
        cJSON *doc, *c;

        if (e2e_call(&E, "ListConflicts", &list, NULL, NULL) < 0)
                return 0;
        doc = cJSON_Parse(list);
        cJSON_ArrayForEach(c, doc) {
                double v = cJSON_GetNumberValue(cJSON_GetObjectItem(c, "id"));

                if (v > (double) id)
                        id = (uint64_t) v;
        }
        cJSON_Delete(doc);
        free(list);
        return id;
}

static bool conflict(void) {
        struct record theirs, restored;
        char status[32], args[64];

        say("  The server goes away; you change the profile here. The edit waits in the outbox.");
        if (e2e_server_stop(&E) < 0 || ctl("set profile 'name=Mine, made offline' noise_control=ambient ambient_level=4") < 0)
                return false;
        say("  This host goes away too; the server comes back and a phone makes a newer edit.");
        (void) e2e_bridged_stop(&E, SIGTERM);
        if (e2e_server_start(&E) < 0)
                return false;
        theirs = (struct record) { .value = profile("The phone's, newer", NOISE_ANC, 0),
                                   .stamp = { stamp_pack(harness_wall_ms() + 2000, 0), E2E_PHONE } };
        if (e2e_phone_push(&E, &theirs, status, sizeof(status)) < 0)
                return false;
        say("  This host returns: it pulls first, the phone's newer edit wins, and yours is not lost:");
        if (e2e_bridged_start(&E, false) < 0 || !e2e_wait_buds_ready(&E, PRO_AGAIN, E2E_DEADLINE_USEC) ||
            !wait_converged(PRO_AGAIN, KEY_PROFILE, &theirs))
                return false;
        if (ctl("conflicts") < 0)
                return false;
        say("  You want yours back:");
        (void) snprintf(args, sizeof(args), "restore %llu", (unsigned long long) newest_conflict());
        if (ctl(args) < 0 || intent(KEY_PROFILE, &restored) < 0)
                return false;
        return wait_converged(PRO_AGAIN, KEY_PROFILE, &restored);
}

/* demo --shell: everything stays up for a person to try. */
static void shell(void) {
        struct pollfd p = { .fd = STDIN_FILENO, .events = POLLIN };
        char *build = realpath(getenv("BRIDGED_BUILD") ?: "build", NULL);
        sigset_t mask;

        say("\nThe sandbox keeps running. In another terminal:");
        say("  export DBUS_SYSTEM_BUS_ADDRESS='%s'", testbus_address(E.tb));
        say("  alias bridgectl='%s/bridged/bridgectl'", build ? build : "build");
        say("  bridgectl; bridgectl monitor; bridgectl set eq.active preset=voice");
        say("Ctrl-C (or Ctrl-D here) stops it all.");
        free(build);
        (void) sigemptyset(&mask);
        (void) sigaddset(&mask, SIGINT);
        (void) sigaddset(&mask, SIGTERM);
        (void) sigprocmask(SIG_BLOCK, &mask, NULL);
        for (;;) {
                struct timespec zero = { 0, 0 };
                char buf[256];

                if (sigtimedwait(&mask, NULL, &zero) >= 0)
                        break;
                e2e_idle(&E, 200 * 1000);       /* bridged's notify socket and the bus */
                if (poll(&p, 1, 0) > 0 && read(STDIN_FILENO, buf, sizeof(buf)) <= 0)
                        break;
        }
}

int main(int argc, char **argv) {
        bool keep = argc > 1 && strcmp(argv[1], "--shell") == 0;
        uint64_t t0 = e2e_now_usec();
        int r;

        setvbuf(stdout, NULL, _IOLBF, 0);
        say("bridged demo: the four scenarios, and a conflict restored, on the Buds simulator and the");
        say("reference server.");
        say("Starting a private D-Bus, budsim (as bluetoothd), syncd over TLS with a CA made just now, and bridged...");
        r = e2e_start_without_faults(&E, false);
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
        scenario("A conflict: your edit lost to a newer one, kept, and restored", conflict);
        if (keep)
                shell();
        e2e_stop(&E);
        say("\nSummary: %u of %u scenarios converged in %.1f s.", converged, scenarios,
            (double) (e2e_now_usec() - t0) / 1e6);
        return converged == scenarios ? EXIT_SUCCESS : EXIT_FAILURE;
}
