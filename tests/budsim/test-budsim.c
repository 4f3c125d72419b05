/* SPDX-License-Identifier: MIT */
/* Tests of budsim: (a) the pure Buds model (buds.c) with the bytes written
 * out: compare-and-set, stale, ranges, DIRTY/DERIVED, revisions, Manifest,
 * notifies, factory reset, families; (b) the budsim program on a private
 * dbus-daemon, driven with raw sd-bus calls as the bridge's BlueZ client will
 * be: object tree, errors, in-flight operations, notifications, cache modes
 * and the control interface. Every wait has a deadline. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <systemd/sd-bus.h>

#include "codec/wire.h"
#include "tests/budsim/buds.h"
#include "tests/lib/testbus.h"

/* ---- (a) the model ---- */

struct notes {
        unsigned n;
        uint8_t last[WIRE_NOTIFY_SIZE];
        unsigned battery;
};

static void on_item(struct buds *b, const uint8_t notify[WIRE_NOTIFY_SIZE], void *userdata) {
        struct notes *n = userdata;

        (void) b;
        n->n++;
        memcpy(n->last, notify, WIRE_NOTIFY_SIZE);
}

static void on_battery(struct buds *b, uint8_t level, void *userdata) {
        struct notes *n = userdata;

        (void) b;
        n->battery = level + 1000u;
}

static struct buds *new_buds(enum family f, struct notes *n) {
        struct buds *b = NULL;

        assert_int_equal(buds_new(f, 0x1122334455667788ull, &b), 0);
        memset(n, 0, sizeof(*n));
        buds_set_callbacks(b, on_item, on_battery, n);
        return b;
}

static size_t encode(const struct record *r, uint8_t *buf) {
        int len = wire_record_encode(r, buf, WIRE_RECORD_MAX);

        assert_true(len > 0);
        return (size_t) len;
}

/* A write of the current item with a new stamp and changed field. */
static struct record next_profile(struct buds *b) {
        struct record r;

        assert_int_equal(buds_get_record(b, KEY_PROFILE, &r), 0);
        r.stamp = (struct stamp) { .hlc = 0x1234560000ull, .origin = 7 };
        r.value.profile.ambient_level = 5;
        r.flags = 0;
        return r;
}

static void test_fresh(void **state) {
        uint8_t buf[BUDS_VALUE_MAX];
        struct notes n;
        struct buds *b = new_buds(FAMILY_STANDARD, &n);
        struct record r;

        (void) state;
        for (int k = KEY_MIN; k <= KEY_MAX; k++) {
                assert_int_equal(buds_get_record(b, (enum key) k, &r), 0);
                assert_int_equal(r.revision, 1);
                assert_int_equal(r.flags, 0);
                assert_true(stamp_is_factory(r.stamp));
                assert_int_equal(value_check(&r.value, NULL), 0);
        }
        /* eq.active flat, standard: header then one byte preset 0 */
        assert_int_equal(buds_read(b, BUDS_ATTR_EQ_ACTIVE, buf, sizeof(buf)), 27);
        assert_memory_equal(buf, ((uint8_t[]) { 1, 3, 1, 0, 1, 0, 0, 0 }), 8);
        assert_int_equal(buf[24], 1);
        assert_int_equal(buf[26], PRESET_FLAT);
        /* Manifest: version, family, count, reserved, then key 1 entry */
        assert_int_equal(buds_read(b, BUDS_ATTR_MANIFEST, buf, sizeof(buf)), 4 + 3 * 22);
        assert_memory_equal(buf, ((uint8_t[]) { 1, 1, 3, 0, 1, 0, 1, 0, 0, 0 }), 10);
        assert_int_equal(buf[4 + 22], 2);
        assert_int_equal(buf[4 + 44], 3);
        assert_int_equal(n.n, 0);
        buds_free(b);
}

static void test_cas_write(void **state) {
        uint8_t buf[WIRE_RECORD_MAX];
        struct notes n;
        struct buds *b = new_buds(FAMILY_STANDARD, &n);
        struct record w = next_profile(b), r;

        (void) state;
        w.flags = RECORD_DERIVED;
        assert_int_equal(buds_write(b, KEY_PROFILE, buf, encode(&w, buf), NULL), 0);
        assert_int_equal(buds_get_record(b, KEY_PROFILE, &r), 0);
        assert_int_equal(r.revision, 2);
        assert_int_equal(r.flags, RECORD_DERIVED);
        assert_true(stamp_eq(r.stamp, w.stamp));
        assert_int_equal(r.value.profile.ambient_level, 5);
        assert_int_equal(n.n, 1);
        assert_memory_equal(n.last, ((uint8_t[]) { 1, RECORD_DERIVED, 2, 0, 0, 0 }), 6);
        /* the same bytes again: revision 1 is stale now */
        assert_int_equal(buds_write(b, KEY_PROFILE, buf, encode(&w, buf), NULL), -ESTALE);
        assert_int_equal(buds_att_ecode(-ESTALE), 0x80);
        assert_int_equal(n.n, 1);
        /* with the current revision, the same value is a change again */
        w.revision = 2;
        w.flags = 0;
        assert_int_equal(buds_write(b, KEY_PROFILE, buf, encode(&w, buf), NULL), 0);
        assert_int_equal(buds_get_record(b, KEY_PROFILE, &r), 0);
        assert_int_equal(r.revision, 3);
        assert_int_equal(r.flags, 0);
        assert_int_equal(n.n, 2);
        buds_free(b);
}

static void test_rejections(void **state) {
        uint8_t buf[WIRE_RECORD_MAX];
        struct notes n;
        struct buds *b = new_buds(FAMILY_STANDARD, &n);
        struct record w = next_profile(b), r;
        size_t len;

        (void) state;
        /* encode refuses an invalid value: patch the byte by hand */
        len = encode(&w, buf);
        buf[26 + 1] = 25;                                       /* left gain out of range */
        assert_int_equal(buds_write(b, KEY_PROFILE, buf, len, NULL), -EINVAL);
        buf[26 + 1] = 0;
        assert_int_equal(buds_write(b, KEY_PROFILE, buf, len - 1, NULL), -EMSGSIZE);
        assert_int_equal(buds_att_ecode(-EMSGSIZE), 0x0d);
        assert_int_equal(buds_write(b, KEY_EQ_CUSTOM, buf, len, NULL), -EINVAL);   /* key */
        buf[3] = RECORD_DIRTY;
        assert_int_equal(buds_write(b, KEY_PROFILE, buf, len, NULL), -EINVAL);     /* flags */
        buf[3] = 0x04;
        assert_int_equal(buds_write(b, KEY_PROFILE, buf, len, NULL), -EINVAL);     /* reserved */
        buf[3] = 0;
        buf[0] = 2;
        assert_int_equal(buds_write(b, KEY_PROFILE, buf, len, NULL), -EINVAL);     /* version */
        assert_int_equal(buds_att_ecode(-EINVAL), 0x13);
        assert_int_equal(buds_get_record(b, KEY_PROFILE, &r), 0);
        assert_int_equal(r.revision, 1);
        assert_int_equal(r.value.profile.ambient_level, 0);
        assert_int_equal(n.n, 0);
        buds_free(b);
}

static void test_family(void **state) {
        uint8_t buf[WIRE_RECORD_MAX];
        struct notes n;
        struct buds *b = new_buds(FAMILY_PRO, &n);
        struct record r;

        (void) state;
        assert_int_equal(buds_get_record(b, KEY_EQ_CUSTOM, &r), 0);
        assert_int_equal(r.value.family, FAMILY_PRO);
        assert_int_equal(r.value.custom.pro.count, 1);
        assert_int_equal(r.value.custom.pro.band[0].freq_hz, 1000);
        /* a standard-family EQ on pro Buds is 0x13 */
        value_init(&r.value, KEY_EQ_CUSTOM, FAMILY_STANDARD);
        assert_int_equal(buds_write(b, KEY_EQ_CUSTOM, buf, encode(&r, buf), NULL), -EINVAL);
        assert_int_equal(buds_read(b, BUDS_ATTR_INFO, buf, sizeof(buf)), 11);
        assert_memory_equal(buf, ((uint8_t[]) { 1, 2, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 0 }), 11);
        assert_int_equal(buds_read(b, BUDS_ATTR_MANIFEST, buf, sizeof(buf)), 70);
        assert_int_equal(buf[1], FAMILY_PRO);
        assert_int_equal(buds_new(FAMILY_ANY, 1, &b), -EINVAL);
        buds_free(b);
}

static void test_touch(void **state) {
        uint8_t buf[WIRE_RECORD_MAX];
        struct notes n;
        struct buds *b = new_buds(FAMILY_STANDARD, &n);
        struct record w = next_profile(b), r;
        uint8_t eq[] = { PRESET_CUSTOM, 2, 4, 0, 0xfe, 24 };

        (void) state;
        w.flags = RECORD_DERIVED;
        assert_int_equal(buds_write(b, KEY_PROFILE, buf, encode(&w, buf), NULL), 0);
        assert_int_equal(buds_touch(b, KEY_EQ_ACTIVE, eq, sizeof(eq), NULL), 0);
        assert_int_equal(buds_get_record(b, KEY_EQ_ACTIVE, &r), 0);
        assert_int_equal(r.flags, RECORD_DIRTY);
        assert_int_equal(r.revision, 2);
        assert_int_equal(r.value.active.eq.std.gain[3], -2);
        assert_memory_equal(n.last, ((uint8_t[]) { 3, RECORD_DIRTY, 2, 0, 0, 0 }), 6);
        /* touch keeps the stamp, clears DERIVED */
        assert_int_equal(buds_touch(b, KEY_PROFILE, buf + 26, 18, NULL), 0);
        assert_int_equal(buds_get_record(b, KEY_PROFILE, &r), 0);
        assert_true(stamp_eq(r.stamp, w.stamp));
        assert_int_equal(r.flags, RECORD_DIRTY);
        assert_int_equal(r.revision, 3);
        eq[5] = 25;
        assert_int_equal(buds_touch(b, KEY_EQ_ACTIVE, eq, sizeof(eq), NULL), -EINVAL);
        assert_int_equal(buds_touch(b, KEY_EQ_ACTIVE, eq, 3, NULL), -EMSGSIZE);
        assert_int_equal(n.n, 3);
        /* the bridge writes the DIRTY change back stamped: DIRTY clears */
        w = r;
        w.flags = 0;
        w.stamp.hlc++;
        assert_int_equal(buds_write(b, KEY_PROFILE, buf, encode(&w, buf), NULL), 0);
        assert_int_equal(buds_get_record(b, KEY_PROFILE, &r), 0);
        assert_int_equal(r.flags, 0);
        assert_int_equal(r.revision, 4);
        buds_free(b);
}

static void test_factory_reset(void **state) {
        uint8_t buf[WIRE_RECORD_MAX];
        struct notes n;
        struct buds *b = new_buds(FAMILY_STANDARD, &n);
        struct record w = next_profile(b), r;

        (void) state;
        assert_int_equal(buds_write(b, KEY_PROFILE, buf, encode(&w, buf), NULL), 0);
        buds_factory_reset(b, false);
        assert_int_equal(n.n, 4);
        assert_int_equal(buds_get_record(b, KEY_PROFILE, &r), 0);
        assert_int_equal(r.revision, 3);
        assert_int_equal(r.flags, RECORD_DIRTY);
        assert_true(stamp_eq(r.stamp, w.stamp));                /* kept, as the spec says */
        assert_int_equal(r.value.profile.ambient_level, 0);
        assert_int_equal(r.value.profile.touch_right, TOUCH_NOISE_CONTROL);
        buds_factory_reset(b, true);
        assert_int_equal(buds_get_record(b, KEY_PROFILE, &r), 0);
        assert_int_equal(r.revision, 4);
        assert_int_equal(r.flags, 0);
        assert_true(stamp_is_factory(r.stamp));
        assert_memory_equal(n.last, ((uint8_t[]) { 3, 0, 3, 0, 0, 0 }), 6);
        buds_free(b);
}

static void test_set_record_and_dis(void **state) {
        uint8_t buf[WIRE_RECORD_MAX];
        struct notes n;
        struct buds *b = new_buds(FAMILY_STANDARD, &n);
        struct record r;

        (void) state;
        assert_int_equal(buds_get_record(b, KEY_EQ_CUSTOM, &r), 0);
        r.revision = 41;
        r.flags = RECORD_DIRTY | RECORD_DERIVED;
        r.value.custom.std.gain[0] = -24;
        assert_int_equal(buds_set_record(b, KEY_EQ_CUSTOM, buf, encode(&r, buf), NULL), 0);
        assert_int_equal(n.n, 0);                               /* setup: no notify */
        assert_int_equal(buds_get_record(b, KEY_EQ_CUSTOM, &r), 0);
        assert_int_equal(r.revision, 41);
        r.revision = 0;
        assert_int_equal(buds_set_record(b, KEY_EQ_CUSTOM, buf, encode(&r, buf), NULL), -EINVAL);
        assert_int_equal(buds_read(b, BUDS_ATTR_SERIAL, buf, sizeof(buf)), 16);
        assert_memory_equal(buf, "1122334455667788", 16);
        assert_int_equal(buds_read(b, BUDS_ATTR_MODEL, buf, sizeof(buf)), 13);
        assert_int_equal(buds_read(b, BUDS_ATTR_BATTERY, buf, sizeof(buf)), 1);
        assert_int_equal(buf[0], 100);
        assert_int_equal(buds_set_battery(b, 42), 0);
        assert_int_equal(n.battery, 1042);
        assert_int_equal(buds_set_battery(b, 101), -EINVAL);
        assert_int_equal(buds_read(b, BUDS_ATTR_BATTERY, buf, sizeof(buf)), 1);
        assert_int_equal(buf[0], 42);
        buds_free(b);
}

/* ---- (b) budsim on a private bus ---- */

#define ADDR "AA:BB:CC:DD:EE:01"
#define DEV "/org/bluez/hci0/dev_AA_BB_CC_DD_EE_01"
#define CTL "org.bridged.test.Budsim", "/org/bridged/test", "org.bridged.test.Budsim1"
#define CHRC "org.bluez.GattCharacteristic1"
#define SEC 1000000ull

struct fix {
        struct testbus *tb;
        pid_t pid;
        sd_bus *bus;
        /* signals seen */
        unsigned added, removed, value_changes, resolved_true, resolved_false, owner_changes;
        unsigned connected_false, connected_false_at_reply, replies;
        uint8_t value[128];
        size_t value_len;
        char value_path[160];
};

static uint64_t now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * SEC + (uint64_t) ts.tv_nsec / 1000;
}

static int on_added(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        (void) m;
        (void) error;
        ((struct fix *) userdata)->added++;
        return 0;
}

static int on_owner(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        (void) m;
        (void) error;
        ((struct fix *) userdata)->owner_changes++;
        return 0;
}

static int on_removed(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        (void) m;
        (void) error;
        ((struct fix *) userdata)->removed++;
        return 0;
}

/* PropertiesChanged: count Value changes (keep the last) and ServicesResolved. */
static int on_changed(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct fix *f = userdata;
        const char *iface, *name;
        const void *p;
        size_t len;
        int b;

        (void) error;
        assert_true(sd_bus_message_read(m, "s", &iface) > 0);
        assert_true(sd_bus_message_enter_container(m, 'a', "{sv}") > 0);
        while (sd_bus_message_enter_container(m, 'e', "sv") > 0) {
                assert_true(sd_bus_message_read(m, "s", &name) > 0);
                if (strcmp(name, "Value") == 0 && strcmp(iface, CHRC) == 0) {
                        assert_true(sd_bus_message_enter_container(m, 'v', "ay") > 0);
                        assert_true(sd_bus_message_read_array(m, 'y', &p, &len) >= 0);
                        assert_true(sd_bus_message_exit_container(m) > 0);
                        f->value_changes++;
                        f->value_len = len < sizeof(f->value) ? len : sizeof(f->value);
                        memcpy(f->value, p, f->value_len);
                        snprintf(f->value_path, sizeof(f->value_path), "%s", sd_bus_message_get_path(m));
                } else if (strcmp(name, "ServicesResolved") == 0) {
                        assert_true(sd_bus_message_read(m, "v", "b", &b) > 0);
                        *(b ? &f->resolved_true : &f->resolved_false) += 1;
                } else if (strcmp(name, "Connected") == 0) {
                        assert_true(sd_bus_message_read(m, "v", "b", &b) > 0);
                        f->connected_false += !b;
                } else
                        assert_true(sd_bus_message_skip(m, "v") >= 0);
                assert_true(sd_bus_message_exit_container(m) > 0);
        }
        return 0;
}

/* Runs the bus until *counter reaches want, or fails after 5 s. */
static void wait_for(struct fix *f, unsigned *counter, unsigned want) {
        uint64_t deadline = now_usec() + 5 * SEC;

        while (*counter < want) {
                int r = sd_bus_process(f->bus, NULL);

                assert_true(r >= 0);
                if (r > 0)
                        continue;
                assert_true(now_usec() < deadline);
                assert_true(sd_bus_wait(f->bus, deadline - now_usec()) >= 0);
        }
}

static int setup_sim(void **state) {
        const char *build = getenv("BRIDGED_BUILD");
        char prog[256];
        struct fix *f = calloc(1, sizeof(*f));
        int r;

        assert_non_null(f);
        snprintf(prog, sizeof(prog), "%s/tests/budsim/budsim", build ? build : "build");
        r = testbus_start(&f->tb);
        if (r == -ENOENT)
                skip();
        assert_int_equal(r, 0);
        assert_int_equal(testbus_spawn(f->tb, (char *[]) { prog, "--buds", ADDR ",standard,Left Buds", NULL },
                                       "budsim: ready", 10 * SEC, &f->pid), 0);
        assert_true(sd_bus_new(&f->bus) >= 0);
        assert_true(sd_bus_set_address(f->bus, testbus_address(f->tb)) >= 0);
        assert_true(sd_bus_set_bus_client(f->bus, 1) >= 0);
        assert_true(sd_bus_start(f->bus) >= 0);
        assert_true(sd_bus_set_method_call_timeout(f->bus, 5 * SEC) >= 0);
        /* matches before the calls that trigger them */
        assert_true(sd_bus_match_signal(f->bus, NULL, "org.bluez", NULL, "org.freedesktop.DBus.ObjectManager",
                                        "InterfacesAdded", on_added, f) >= 0);
        assert_true(sd_bus_match_signal(f->bus, NULL, "org.bluez", NULL, "org.freedesktop.DBus.ObjectManager",
                                        "InterfacesRemoved", on_removed, f) >= 0);
        assert_true(sd_bus_match_signal(f->bus, NULL, "org.bluez", NULL, "org.freedesktop.DBus.Properties",
                                        "PropertiesChanged", on_changed, f) >= 0);
        assert_true(sd_bus_add_match(f->bus, NULL, "type='signal',sender='org.freedesktop.DBus',"
                                     "member='NameOwnerChanged',arg0='org.bluez'", on_owner, f) >= 0);
        *state = f;
        return 0;
}

static int teardown_sim(void **state) {
        struct fix *f = *state;

        if (!f)
                return 0;
        sd_bus_flush_close_unref(f->bus);
        if (f->pid > 0)
                (void) testbus_kill(f->pid);
        testbus_stop(f->tb);
        free(f);
        return 0;
}

/* The object path under DEV whose `iface` has UUID uuid, by GetManagedObjects. */
static void find_by_uuid(struct fix *f, const char *iface, const char *uuid, char *ret, size_t size) {
        sd_bus_message *reply = NULL;
        const char *path, *name, *u;

        ret[0] = '\0';
        assert_true(sd_bus_call_method(f->bus, "org.bluez", "/", "org.freedesktop.DBus.ObjectManager",
                                       "GetManagedObjects", NULL, &reply, NULL) >= 0);
        assert_true(sd_bus_message_enter_container(reply, 'a', "{oa{sa{sv}}}") > 0);
        while (sd_bus_message_enter_container(reply, 'e', "oa{sa{sv}}") > 0) {
                assert_true(sd_bus_message_read(reply, "o", &path) > 0);
                assert_true(sd_bus_message_enter_container(reply, 'a', "{sa{sv}}") > 0);
                while (sd_bus_message_enter_container(reply, 'e', "sa{sv}") > 0) {
                        assert_true(sd_bus_message_read(reply, "s", &name) > 0);
                        assert_true(sd_bus_message_enter_container(reply, 'a', "{sv}") > 0);
                        while (sd_bus_message_enter_container(reply, 'e', "sv") > 0) {
                                const char *prop;

                                assert_true(sd_bus_message_read(reply, "s", &prop) > 0);
                                if (strcmp(prop, "UUID") == 0 && strcmp(name, iface) == 0) {
                                        assert_true(sd_bus_message_read(reply, "v", "s", &u) > 0);
                                        if (strcmp(u, uuid) == 0)
                                                snprintf(ret, size, "%s", path);
                                } else
                                        assert_true(sd_bus_message_skip(reply, "v") >= 0);
                                assert_true(sd_bus_message_exit_container(reply) > 0);
                        }
                        assert_true(sd_bus_message_exit_container(reply) > 0);
                        assert_true(sd_bus_message_exit_container(reply) > 0);
                }
                assert_true(sd_bus_message_exit_container(reply) > 0);
                assert_true(sd_bus_message_exit_container(reply) > 0);
        }
        sd_bus_message_unref(reply);
}

static void chrc_path(struct fix *f, const char *uuid, char *ret, size_t size) {
        find_by_uuid(f, CHRC, uuid, ret, size);
        assert_true(ret[0] != '\0');
}

static void connect_dev(struct fix *f) {
        unsigned want = f->resolved_true + 1;

        assert_true(sd_bus_call_method(f->bus, "org.bluez", DEV, "org.bluez.Device1", "Connect",
                                       NULL, NULL, NULL) >= 0);
        wait_for(f, &f->resolved_true, want);
}

/* ReadValue; returns the length or the negative errno with *error filled. */
static int read_value(struct fix *f, const char *path, uint8_t *buf, size_t size, sd_bus_error *error) {
        sd_bus_message *reply = NULL;
        const void *p;
        size_t len;
        int r;

        r = sd_bus_call_method(f->bus, "org.bluez", path, CHRC, "ReadValue", error, &reply, "a{sv}", 0);
        if (r < 0)
                return r;
        assert_true(sd_bus_message_read_array(reply, 'y', &p, &len) >= 0);
        assert_true(len <= size);
        memcpy(buf, p, len);
        sd_bus_message_unref(reply);
        return (int) len;
}

static sd_bus_message *write_msg(struct fix *f, const char *path, const uint8_t *buf, size_t len) {
        sd_bus_message *m = NULL;

        assert_true(sd_bus_message_new_method_call(f->bus, &m, "org.bluez", path, CHRC, "WriteValue") >= 0);
        assert_true(sd_bus_message_append_array(m, 'y', buf, len) >= 0);
        assert_true(sd_bus_message_append(m, "a{sv}", 1, "type", "s", "request") >= 0);
        return m;
}

static int write_value(struct fix *f, const char *path, const uint8_t *buf, size_t len, sd_bus_error *error) {
        sd_bus_message *m = write_msg(f, path, buf, len);
        int r = sd_bus_call(f->bus, m, 0, error, NULL);

        sd_bus_message_unref(m);
        return r;
}

static uint64_t counter(struct fix *f, const char *name) {
        sd_bus_message *reply = NULL;
        const char *k;
        uint64_t v, found = 0;

        assert_true(sd_bus_call_method(f->bus, CTL, "GetCounters", NULL, &reply, "s", "") >= 0);
        assert_true(sd_bus_message_enter_container(reply, 'a', "{st}") > 0);
        while (sd_bus_message_read(reply, "{st}", &k, &v) > 0)
                if (strcmp(k, name) == 0)
                        found = v;
        sd_bus_message_unref(reply);
        return found;
}

static void test_sim_tree(void **state) {
        struct fix *f = *state;
        char path[160], svc[160];
        sd_bus_error e = SD_BUS_ERROR_NULL;
        char *s = NULL;
        int b;

        find_by_uuid(f, "org.bluez.GattService1", BUDS_SYNC_SERVICE_UUID, svc, sizeof(svc));
        assert_true(strncmp(svc, DEV "/service", strlen(DEV "/service")) == 0);
        chrc_path(f, BUDS_PROFILE_UUID, path, sizeof(path));
        assert_true(strncmp(path, svc, strlen(svc)) == 0);
        assert_true(strstr(path, "/char") != NULL);
        assert_true(sd_bus_get_property_string(f->bus, "org.bluez", DEV, "org.bluez.Device1", "Address",
                                               NULL, &s) >= 0);
        assert_string_equal(s, ADDR);
        free(s);
        assert_true(sd_bus_get_property_trivial(f->bus, "org.bluez", "/org/bluez/hci0", "org.bluez.Adapter1",
                                                "Powered", NULL, 'b', &b) >= 0);
        assert_true(b);
        /* cached objects, no link: BlueZ's "Not connected" */
        assert_int_equal(read_value(f, path, (uint8_t[128]) { 0 }, 128, &e), -EIO);
        assert_string_equal(e.name, "org.bluez.Error.Failed");
        assert_string_equal(e.message, "Not connected");
        sd_bus_error_free(&e);
        assert_int_equal(counter(f, "not-connected"), 1);
}

static void test_sim_read_write(void **state) {
        struct fix *f = *state;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        uint8_t buf[128];
        char path[160];
        int len;

        connect_dev(f);
        chrc_path(f, BUDS_PROFILE_UUID, path, sizeof(path));
        len = read_value(f, path, buf, sizeof(buf), NULL);
        assert_int_equal(len, 26 + 18);
        assert_int_equal(buf[4], 1);                            /* revision 1 */
        buf[26 + 14] = 7;                                       /* ambient level */
        buf[8] = 0x42;                                          /* hlc */
        assert_true(write_value(f, path, buf, (size_t) len, NULL) >= 0);
        /* same revision again: stale */
        assert_true(write_value(f, path, buf, (size_t) len, &e) < 0);
        assert_string_equal(e.name, "org.bluez.Error.Failed");
        assert_string_equal(e.message, "Operation failed with ATT error: 0x80");
        sd_bus_error_free(&e);
        buf[4] = 2;
        buf[26 + 14] = 11;                                      /* out of range */
        assert_true(write_value(f, path, buf, (size_t) len, &e) < 0);
        assert_string_equal(e.message, "Operation failed with ATT error: 0x13");
        sd_bus_error_free(&e);
        buf[26 + 14] = 7;
        assert_true(write_value(f, path, buf, (size_t) len - 1, &e) < 0);
        assert_string_equal(e.name, "org.bluez.Error.InvalidArguments");
        assert_string_equal(e.message, "Invalid Length");
        sd_bus_error_free(&e);
        len = read_value(f, path, buf, sizeof(buf), NULL);
        assert_int_equal(buf[4], 2);
        assert_int_equal(buf[8], 0x42);
        assert_int_equal(buf[26 + 14], 7);
        assert_int_equal(counter(f, "stale"), 1);
        assert_int_equal(counter(f, "rejected"), 2);
        assert_int_equal(counter(f, "write-ok"), 1);
}

static int on_reply(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        unsigned *n = userdata;

        (void) error;
        *n += sd_bus_message_is_method_error(m, NULL) ? 100 : 1;
        return 0;
}

static void test_sim_in_progress(void **state) {
        struct fix *f = *state;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *m;
        unsigned replies = 0;
        uint8_t buf[128];
        char path[160];
        int len;

        connect_dev(f);
        chrc_path(f, BUDS_EQ_ACTIVE_UUID, path, sizeof(path));
        len = read_value(f, path, buf, sizeof(buf), NULL);
        assert_true(sd_bus_call_method(f->bus, CTL, "InjectFault", NULL, NULL, "sssa{sv}", ADDR, "eq.active",
                                       "delay", 1, "ms", "u", 300) >= 0);
        m = write_msg(f, path, buf, (size_t) len);
        assert_true(sd_bus_call_async(f->bus, NULL, m, on_reply, &replies, 0) >= 0);
        sd_bus_message_unref(m);
        assert_true(sd_bus_flush(f->bus) >= 0);
        assert_true(write_value(f, path, buf, (size_t) len, &e) < 0);
        assert_string_equal(e.name, "org.bluez.Error.InProgress");
        assert_string_equal(e.message, "In Progress");
        sd_bus_error_free(&e);
        wait_for(f, &replies, 1);
        assert_int_equal(replies, 1);                           /* the first write succeeded */
        assert_int_equal(counter(f, "in-progress"), 1);
}

static void test_sim_notify(void **state) {
        struct fix *f = *state;
        char path[160];
        int b;

        chrc_path(f, BUDS_MANIFEST_UUID, path, sizeof(path));
        /* StartNotify while disconnected succeeds and arms on connect */
        assert_true(sd_bus_call_method(f->bus, "org.bluez", path, CHRC, "StartNotify", NULL, NULL, NULL) >= 0);
        assert_true(sd_bus_get_property_trivial(f->bus, "org.bluez", path, CHRC, "Notifying", NULL, 'b', &b) >= 0);
        assert_false(b);
        connect_dev(f);
        assert_true(sd_bus_get_property_trivial(f->bus, "org.bluez", path, CHRC, "Notifying", NULL, 'b', &b) >= 0);
        assert_true(b);
        for (unsigned i = 1; i <= 2; i++) {
                unsigned want = f->value_changes + 1;

                assert_true(sd_bus_call_method(f->bus, CTL, "Touch", NULL, NULL, "syay", ADDR, 3, 1,
                                               PRESET_VOICE) >= 0);
                wait_for(f, &f->value_changes, want);
                assert_string_equal(f->value_path, path);
                assert_int_equal(f->value_len, 6);
                assert_memory_equal(f->value, ((uint8_t[]) { 3, RECORD_DIRTY, 1 + i, 0, 0, 0 }), 6);
        }
        /* a read of the Manifest shows up as a Value change too, as in BlueZ */
        {
                unsigned want = f->value_changes + 1;
                uint8_t buf[128];

                assert_int_equal(read_value(f, path, buf, sizeof(buf), NULL), 70);
                wait_for(f, &f->value_changes, want);
                assert_int_equal(f->value_len, 70);
        }
        assert_true(sd_bus_call_method(f->bus, "org.bluez", path, CHRC, "StopNotify", NULL, NULL, NULL) >= 0);
        assert_true(sd_bus_call_method(f->bus, "org.bluez", path, CHRC, "StopNotify", NULL, NULL, NULL) < 0);
        assert_int_equal(counter(f, "notify:manifest"), 2);
}

static void test_sim_cache_no(void **state) {
        struct fix *f = *state;
        char path[160];
        unsigned removed, added;

        assert_true(sd_bus_call_method(f->bus, CTL, "SetOption", NULL, NULL, "sv", "cache", "s", "no") >= 0);
        connect_dev(f);
        removed = f->removed;
        assert_true(sd_bus_call_method(f->bus, "org.bluez", DEV, "org.bluez.Device1", "Disconnect",
                                       NULL, NULL, NULL) >= 0);
        /* 4 services, 11 characteristics, 3 CCC descriptors */
        wait_for(f, &f->removed, removed + 18);
        find_by_uuid(f, CHRC, BUDS_PROFILE_UUID, path, sizeof(path));
        assert_string_equal(path, "");
        added = f->added;
        connect_dev(f);
        assert_true(f->added >= added + 18);
        chrc_path(f, BUDS_PROFILE_UUID, path, sizeof(path));
}

static void test_sim_resolve_before(void **state) {
        struct fix *f = *state;
        unsigned base;
        char path[160];

        assert_true(sd_bus_call_method(f->bus, CTL, "SetOption", NULL, NULL, "sv", "cache", "s", "no") >= 0);
        connect_dev(f);
        assert_true(sd_bus_call_method(f->bus, "org.bluez", DEV, "org.bluez.Device1", "Disconnect",
                                       NULL, NULL, NULL) >= 0);
        wait_for(f, &f->removed, 18);
        assert_true(sd_bus_call_method(f->bus, CTL, "SetOption", NULL, NULL, "sv", "resolve-order", "s",
                                       "before") >= 0);
        base = f->added;
        connect_dev(f);
        /* at ServicesResolved, Buds Sync (1 service, 5 characteristics, 1 CCC) is not there yet */
        assert_int_equal(f->added, base + 11);
        wait_for(f, &f->added, base + 18);
        chrc_path(f, BUDS_MANIFEST_UUID, path, sizeof(path));
}

static int on_disconnect_reply(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct fix *f = userdata;

        (void) error;
        assert_false(sd_bus_message_is_method_error(m, NULL));
        f->connected_false_at_reply = f->connected_false;
        f->replies++;
        return 0;
}

/* Disconnect; returns how many Connected=false came before its reply. */
static unsigned disconnect_dev(struct fix *f) {
        unsigned want = f->connected_false + 1, replies = f->replies + 1, before = f->connected_false;

        assert_true(sd_bus_call_method_async(f->bus, NULL, "org.bluez", DEV, "org.bluez.Device1", "Disconnect",
                                             on_disconnect_reply, f, NULL) >= 0);
        wait_for(f, &f->replies, replies);
        wait_for(f, &f->connected_false, want);
        return f->connected_false_at_reply - before;
}

/* The order of Disconnect's reply and Connected=false is BlueZ's choice:
 * 5.82 signals first (the default), 5.66 answers first. */
static void test_sim_disconnect_order(void **state) {
        struct fix *f = *state;

        connect_dev(f);
        assert_int_equal(disconnect_dev(f), 1);
        assert_true(sd_bus_call_method(f->bus, CTL, "SetOption", NULL, NULL, "sv", "disconnect-reply-first",
                                       "b", 1) >= 0);
        connect_dev(f);
        assert_int_equal(disconnect_dev(f), 0);
        assert_int_equal(f->resolved_false, 2);
}

static void test_sim_control(void **state) {
        struct fix *f = *state;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        const char *o;

        assert_true(sd_bus_call_method(f->bus, CTL, "AddBuds", NULL, &reply, "ssyt", "AA:BB:CC:DD:EE:02",
                                       "Right", 2, (uint64_t) 9) >= 0);
        assert_true(sd_bus_message_read(reply, "o", &o) > 0);
        assert_string_equal(o, "/org/bluez/hci0/dev_AA_BB_CC_DD_EE_02");
        sd_bus_message_unref(reply);
        assert_true(sd_bus_call_method(f->bus, CTL, "AddBuds", &e, NULL, "ssyt", "AA:BB:CC:DD:EE:02",
                                       "Right", 2, (uint64_t) 9) < 0);
        assert_string_equal(e.name, "org.bridged.test.Error.Exists");
        sd_bus_error_free(&e);
        assert_true(sd_bus_call_method(f->bus, CTL, "SetBattery", &e, NULL, "sy", "AA:BB:CC:DD:EE:09", 5) < 0);
        assert_string_equal(e.name, "org.bridged.test.Error.NotFound");
        sd_bus_error_free(&e);
        /* unreachable Buds: Connect fails as 5.66 does */
        assert_true(sd_bus_call_method(f->bus, CTL, "SetOption", NULL, NULL, "sv", "connect-timeout-ms", "u",
                                       50) >= 0);
        assert_true(sd_bus_call_method(f->bus, CTL, "SetReachable", NULL, NULL, "sb", ADDR, 0) >= 0);
        assert_true(sd_bus_call_method(f->bus, "org.bluez", DEV, "org.bluez.Device1", "Connect", &e, NULL,
                                       NULL) < 0);
        assert_string_equal(e.name, "org.bluez.Error.Failed");
        assert_string_equal(e.message, "le-connection-abort-by-local");
        sd_bus_error_free(&e);
        assert_int_equal(counter(f, "connect-failed"), 1);
        assert_true(sd_bus_call_method(f->bus, CTL, "ResetCounters", NULL, NULL, NULL) >= 0);
        assert_int_equal(counter(f, "connect-failed"), 0);
        /* a record forced by SetRecord reads back as set */
        {
                sd_bus_message *r2 = NULL;
                const void *p;
                size_t len;
                uint8_t rec[64];

                assert_true(sd_bus_call_method(f->bus, CTL, "GetRecord", NULL, &r2, "sy", ADDR, 2) >= 0);
                assert_true(sd_bus_message_read_array(r2, 'y', &p, &len) >= 0);
                assert_int_equal(len, 26 + 5);
                memcpy(rec, p, len);
                sd_bus_message_unref(r2);
                rec[3] = RECORD_DIRTY;
                rec[4] = 9;
                assert_true(sd_bus_call_method(f->bus, CTL, "SetRecord", NULL, NULL, "syay", ADDR, 2,
                                               (size_t) len, rec[0], rec[1], rec[2], rec[3], rec[4], rec[5],
                                               rec[6], rec[7], rec[8], rec[9], rec[10], rec[11], rec[12],
                                               rec[13], rec[14], rec[15], rec[16], rec[17], rec[18], rec[19],
                                               rec[20], rec[21], rec[22], rec[23], rec[24], rec[25], rec[26],
                                               rec[27], rec[28], rec[29], rec[30]) >= 0);
                assert_true(sd_bus_call_method(f->bus, CTL, "GetRecord", NULL, &r2, "sy", ADDR, 2) >= 0);
                assert_true(sd_bus_message_read_array(r2, 'y', &p, &len) >= 0);
                assert_memory_equal(p, rec, 8);
                sd_bus_message_unref(r2);
        }
}

static void test_sim_link_loss_in_write(void **state) {
        struct fix *f = *state;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        uint8_t buf[128];
        char path[160];
        int len;

        connect_dev(f);
        chrc_path(f, BUDS_EQ_CUSTOM_UUID, path, sizeof(path));
        len = read_value(f, path, buf, sizeof(buf), NULL);
        assert_true(sd_bus_call_method(f->bus, CTL, "InjectFault", NULL, NULL, "sssa{sv}", ADDR, "eq.custom",
                                       "disconnect-in-write", 1, "applied", "b", 1) >= 0);
        assert_true(write_value(f, path, buf, (size_t) len, &e) < 0);
        assert_string_equal(e.message, "Operation failed with ATT error: 0x0e");
        sd_bus_error_free(&e);
        wait_for(f, &f->resolved_false, 1);
        /* it was applied: the revision moved on */
        connect_dev(f);
        assert_int_equal(read_value(f, path, buf, sizeof(buf), NULL), len);
        assert_int_equal(buf[4], 2);
}

static void test_sim_restart(void **state) {
        struct fix *f = *state;
        const char *before, *after;
        char *owner = NULL;
        char path[160];
        int b;

        connect_dev(f);
        {
                sd_bus_creds *c = NULL;

                assert_true(sd_bus_get_name_creds(f->bus, "org.bluez", SD_BUS_CREDS_UNIQUE_NAME, &c) >= 0);
                assert_true(sd_bus_creds_get_unique_name(c, &before) >= 0);
                owner = strdup(before);
                sd_bus_creds_unref(c);
        }
        assert_true(sd_bus_call_method(f->bus, CTL, "RestartBluez", NULL, NULL, "u", 20) >= 0);
        /* org.bluez: lost, then owned by a new connection; no InterfacesRemoved */
        wait_for(f, &f->owner_changes, 2);
        assert_int_equal(f->removed, 0);
        {
                sd_bus_creds *c = NULL;

                assert_true(sd_bus_get_name_creds(f->bus, "org.bluez", SD_BUS_CREDS_UNIQUE_NAME, &c) >= 0);
                assert_true(sd_bus_creds_get_unique_name(c, &after) >= 0);
                assert_string_not_equal(owner, after);
                sd_bus_creds_unref(c);
        }
        free(owner);
        assert_true(sd_bus_get_property_trivial(f->bus, "org.bluez", DEV, "org.bluez.Device1", "Connected",
                                                NULL, 'b', &b) >= 0);
        assert_false(b);
        chrc_path(f, BUDS_PROFILE_UUID, path, sizeof(path));   /* back from the cache */
        connect_dev(f);
        assert_true(read_value(f, path, (uint8_t[128]) { 0 }, 128, NULL) > 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_fresh),
                cmocka_unit_test(test_cas_write),
                cmocka_unit_test(test_rejections),
                cmocka_unit_test(test_family),
                cmocka_unit_test(test_touch),
                cmocka_unit_test(test_factory_reset),
                cmocka_unit_test(test_set_record_and_dis),
                cmocka_unit_test_setup_teardown(test_sim_tree, setup_sim, teardown_sim),
                cmocka_unit_test_setup_teardown(test_sim_read_write, setup_sim, teardown_sim),
                cmocka_unit_test_setup_teardown(test_sim_in_progress, setup_sim, teardown_sim),
                cmocka_unit_test_setup_teardown(test_sim_notify, setup_sim, teardown_sim),
                cmocka_unit_test_setup_teardown(test_sim_cache_no, setup_sim, teardown_sim),
                cmocka_unit_test_setup_teardown(test_sim_resolve_before, setup_sim, teardown_sim),
                cmocka_unit_test_setup_teardown(test_sim_disconnect_order, setup_sim, teardown_sim),
                cmocka_unit_test_setup_teardown(test_sim_control, setup_sim, teardown_sim),
                cmocka_unit_test_setup_teardown(test_sim_link_loss_in_write, setup_sim, teardown_sim),
                cmocka_unit_test_setup_teardown(test_sim_restart, setup_sim, teardown_sim),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
