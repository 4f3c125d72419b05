/* SPDX-License-Identifier: MIT */
/* Tests of control-watch.c on a private dbus-daemon: a signal reaches the
 * watchers the check lets and no one else, a watcher that leaves the bus is
 * dropped, the set stays within its bound. Absence is shown by order: the
 * bus keeps one sender's messages in order for each receiver, so a peer
 * that has the broadcast sent after the signal would have had the signal. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <systemd/sd-bus.h>

#include "bridged/control-watch.h"
#include "tests/lib/testbus.h"

#define PATH "/org/bridged"
#define IFACE "org.bridged.Manager1"
#define DEADLINE_USEC (10 * UINT64_C(1000000))
#define REFUSED_UID 1234

struct peer {
        sd_bus *bus;
        char name[64];          /* a copy: the bus's own goes with it */
        unsigned changed, markers;
};

static struct testbus *tb;

static uint64_t now_usec(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

static sd_bus *connect_bus(void) {
        sd_bus *bus = NULL;

        assert_true(sd_bus_new(&bus) >= 0);
        assert_true(sd_bus_set_address(bus, testbus_address(tb)) >= 0);
        assert_true(sd_bus_set_bus_client(bus, 1) >= 0);
        assert_true(sd_bus_start(bus) >= 0);
        return bus;
}

static int on_signal(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        struct peer *p = userdata;

        (void) ret_error;
        if (strcmp(sd_bus_message_get_member(m), "Changed") == 0)
                p->changed++;
        else
                p->markers++;
        return 0;
}

static void peer_connect(struct peer *p) {
        const char *name;

        *p = (struct peer) { .bus = connect_bus() };
        assert_true(sd_bus_get_unique_name(p->bus, &name) >= 0);
        assert_true(strlen(name) < sizeof(p->name));
        strcpy(p->name, name);
        assert_true(sd_bus_match_signal(p->bus, NULL, NULL, PATH, IFACE, NULL, on_signal, p) >= 0);
}

/* Runs bus until done(userdata) holds; false at the deadline. */
static bool pump(sd_bus *bus, bool (*done)(const void *userdata, size_t want), const void *userdata, size_t want) {
        uint64_t end = now_usec() + DEADLINE_USEC;

        while (!done(userdata, want)) {
                int r = sd_bus_process(bus, NULL);

                assert_true(r >= 0);
                if (r > 0)
                        continue;
                if (now_usec() >= end)
                        return false;
                assert_true(sd_bus_wait(bus, end - now_usec()) >= 0);
        }
        return true;
}

static bool count_reached(const void *count, size_t want) {
        return *(const unsigned *) count >= want;
}

static bool watchers_are(const void *w, size_t want) {
        return control_watch_count(w) == want;
}

/* Runs bus until *count reaches want; false at the deadline. */
static bool pump_until(sd_bus *bus, const unsigned *count, unsigned want) {
        return pump(bus, count_reached, count, want);
}

static bool pump_until_count(sd_bus *bus, struct control_watch *w, size_t want) {
        return pump(bus, watchers_are, w, want);
}

static bool let_all_but_refused(const struct access_caller *caller, void *userdata) {
        unsigned *asked = userdata;

        (*asked)++;
        return caller->uid != REFUSED_UID;
}

static int setup(void **state) {
        int r = testbus_start(&tb);

        (void) state;
        if (r == -ENOENT)
                skip();
        assert_int_equal(r, 0);
        return 0;
}

static int teardown(void **state) {
        (void) state;
        tb = testbus_stop(tb);
        return 0;
}

/* A watcher the check lets gets the signal; a peer that never called and a
 * watcher the check refuses get the broadcast sent after it, and nothing
 * before it. */
static void test_addressed(void **state) {
        sd_bus *bridged = connect_bus();
        struct control_watch *w = NULL;
        struct peer watcher, silent, refused;
        const struct access_caller root = { 0, NULL, 0, false }, other = { REFUSED_UID, NULL, 0, false };
        unsigned asked = 0;

        (void) state;
        peer_connect(&watcher);
        peer_connect(&silent);
        peer_connect(&refused);
        assert_int_equal(control_watch_new(bridged, 8, 8, &w), 0);
        assert_int_equal(control_watch_add(w, watcher.name, &root), 1);
        assert_int_equal(control_watch_add(w, refused.name, &other), 1);

        assert_int_equal(control_watch_signal(w, let_all_but_refused, &asked, PATH, IFACE, "Changed", "ss",
                                              "profile", "{\"name\": \"mine\"}"), 1);
        assert_int_equal(asked, 2);     /* each watcher, at the send */
        assert_true(sd_bus_emit_signal(bridged, PATH, IFACE, "Marker", "") >= 0);
        assert_true(sd_bus_flush(bridged) >= 0);

        assert_true(pump_until(watcher.bus, &watcher.markers, 1));
        assert_int_equal(watcher.changed, 1);
        assert_true(pump_until(silent.bus, &silent.markers, 1));
        assert_int_equal(silent.changed, 0);
        assert_true(pump_until(refused.bus, &refused.markers, 1));
        assert_int_equal(refused.changed, 0);

        w = control_watch_free(w);
        sd_bus_flush_close_unref(watcher.bus);
        sd_bus_flush_close_unref(silent.bus);
        sd_bus_flush_close_unref(refused.bus);
        sd_bus_flush_close_unref(bridged);
}

/* A watcher that leaves the bus is dropped (its slot free again); the
 * next signal goes to the others without an error. */
static void test_leaving(void **state) {
        sd_bus *bridged = connect_bus();
        struct control_watch *w = NULL;
        struct peer gone, staying;
        const struct access_caller root = { 0, NULL, 0, false };
        unsigned asked = 0;

        (void) state;
        peer_connect(&gone);
        peer_connect(&staying);
        assert_int_equal(control_watch_new(bridged, 8, 8, &w), 0);
        assert_int_equal(control_watch_add(w, gone.name, &root), 1);
        assert_int_equal(control_watch_add(w, staying.name, &root), 1);
        sd_bus_flush_close_unref(gone.bus);
        assert_true(pump_until_count(bridged, w, 1));
        assert_null(control_watch_find(w, gone.name));
        assert_non_null(control_watch_find(w, staying.name));

        assert_int_equal(control_watch_signal(w, let_all_but_refused, &asked, PATH, IFACE, "Changed", "ss",
                                              "profile", "{}"), 1);
        assert_true(pump_until(staying.bus, &staying.changed, 1));

        /* a name that left before it could be added: never kept */
        assert_true(control_watch_add(w, ":1.4242", &root) < 0);
        assert_int_equal(control_watch_count(w), 1);

        w = control_watch_free(w);
        sd_bus_flush_close_unref(staying.bus);
        sd_bus_flush_close_unref(bridged);
}

/* Bounded: one more than max is refused with -EUSERS (and counted once
 * however often it calls); the credentials are the watcher's own copy. */
static void test_bound_and_copy(void **state) {
        sd_bus *bridged = connect_bus();
        struct control_watch *w = NULL;
        struct peer a, b, c;
        gid_t gids[] = { 100, 130 };
        struct access_caller user = { 1000, gids, 2, true };
        const struct access_caller *found;

        (void) state;
        peer_connect(&a);
        peer_connect(&b);
        peer_connect(&c);
        assert_int_equal(control_watch_new(bridged, 2, 2, &w), 0);
        assert_int_equal(control_watch_add(w, a.name, &user), 1);
        assert_int_equal(control_watch_add(w, a.name, &user), 0);
        assert_int_equal(control_watch_add(w, b.name, &user), 1);
        assert_int_equal(control_watch_add(w, c.name, &user), -EUSERS);
        assert_int_equal(control_watch_count(w), 2);

        gids[1] = 999;
        found = control_watch_find(w, a.name);
        assert_non_null(found);
        assert_int_equal(found->uid, 1000);
        assert_int_equal(found->n_gids, 2);
        assert_int_equal(found->gids[1], 130);
        assert_false(found->on_active_seat);    /* the seat is asked at each send, never kept */

        /* room again once one leaves */
        sd_bus_flush_close_unref(a.bus);
        assert_true(pump_until_count(bridged, w, 1));
        assert_int_equal(control_watch_add(w, c.name, &user), 1);

        w = control_watch_free(w);
        sd_bus_flush_close_unref(b.bus);
        sd_bus_flush_close_unref(c.bus);
        sd_bus_flush_close_unref(bridged);
}

/* Each user has a share: one more of a user at its share is refused with
 * -EDQUOT, while another user's is added; the share frees as one leaves. */
static void test_share_per_user(void **state) {
        sd_bus *bridged = connect_bus();
        struct control_watch *w = NULL;
        struct peer a, b, c, d;
        const struct access_caller root = { 0, NULL, 0, false }, other = { REFUSED_UID, NULL, 0, false };

        (void) state;
        peer_connect(&a);
        peer_connect(&b);
        peer_connect(&c);
        peer_connect(&d);
        assert_int_equal(control_watch_new(bridged, 3, 2, &w), 0);
        assert_int_equal(control_watch_add(w, a.name, &other), 1);
        assert_int_equal(control_watch_add(w, b.name, &other), 1);
        assert_int_equal(control_watch_add(w, c.name, &other), -EDQUOT);
        assert_int_equal(control_watch_add(w, c.name, &root), 1);
        assert_int_equal(control_watch_add(w, d.name, &root), -EUSERS);        /* the whole set is full */
        assert_int_equal(control_watch_count(w), 3);

        sd_bus_flush_close_unref(a.bus);
        assert_true(pump_until_count(bridged, w, 2));
        assert_int_equal(control_watch_add(w, d.name, &other), 1);

        w = control_watch_free(w);
        sd_bus_flush_close_unref(b.bus);
        sd_bus_flush_close_unref(c.bus);
        sd_bus_flush_close_unref(d.bus);
        sd_bus_flush_close_unref(bridged);
}

/* A watcher that left before bridged heard of it: the signal addressed to
 * it is no error (the bus drops it), it goes once the bus says so, and a
 * set freed while such news waits unread frees everything (the sanitizer
 * build says so). */
static void test_left_unheard(void **state) {
        sd_bus *bridged = connect_bus();
        struct control_watch *w = NULL;
        struct peer gone, staying, later;
        const struct access_caller root = { 0, NULL, 0, false };
        unsigned asked = 0;

        (void) state;
        peer_connect(&gone);
        peer_connect(&staying);
        peer_connect(&later);
        assert_int_equal(control_watch_new(bridged, 8, 8, &w), 0);
        assert_int_equal(control_watch_add(w, gone.name, &root), 1);
        assert_int_equal(control_watch_add(w, staying.name, &root), 1);
        sd_bus_flush_close_unref(gone.bus);
        assert_int_equal(control_watch_signal(w, let_all_but_refused, &asked, PATH, IFACE, "Changed", "ss",
                                              "profile", "{}"), 2);
        assert_true(pump_until(staying.bus, &staying.changed, 1));
        assert_true(pump_until_count(bridged, w, 1));

        /* left, its news not read yet when the set goes */
        assert_int_equal(control_watch_add(w, later.name, &root), 1);
        sd_bus_flush_close_unref(later.bus);
        sd_bus_flush_close_unref(staying.bus);
        w = control_watch_free(w);
        sd_bus_flush_close_unref(bridged);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_addressed, setup, teardown),
                cmocka_unit_test_setup_teardown(test_leaving, setup, teardown),
                cmocka_unit_test_setup_teardown(test_bound_and_copy, setup, teardown),
                cmocka_unit_test_setup_teardown(test_share_per_user, setup, teardown),
                cmocka_unit_test_setup_teardown(test_left_unheard, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
