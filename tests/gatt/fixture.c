/* SPDX-License-Identifier: MIT */
/* The BlueZ client's test bench (fixture.h). Test-only. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "tests/gatt/fixture.h"
#include "tests/lib/testbus.h"

#define SIM_IFACE "org.bridged.test.Budsim1"
#define SIM_NAME "org.bridged.test.Budsim"
#define SIM_PATH "/org/bridged/test"

uint64_t fix_now(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000;
}

static void on_ready(struct bluez_buds *b, const struct buds_info *info, const struct manifest *m, void *ud) {
        struct fix *f = ud;

        f->n_ready++;
        f->ready_buds = b;
        f->info = *info;
        f->manifest = *m;
}

static void on_gone(struct bluez_buds *b, enum bluez_gone_reason reason, void *ud) {
        struct fix *f = ud;

        (void) b;
        f->n_gone++;
        f->gone_reason = reason;
}

static void on_manifest_changed(struct bluez_buds *b, const struct manifest_notify *n, void *ud) {
        struct fix *f = ud;

        (void) b;
        f->n_notify++;
        f->notify = *n;
}

static void on_battery(struct bluez_buds *b, uint8_t level, void *ud) {
        struct fix *f = ud;

        (void) b;
        f->n_battery++;
        f->battery = level;
}

static void on_error(struct bluez_buds *b, int error, const char *message, void *ud) {
        struct fix *f = ud;

        (void) b;
        (void) error;
        f->n_error++;
        snprintf(f->error, sizeof(f->error), "%s", message);
        if (getenv("FIX_VERBOSE"))
                fprintf(stderr, "buds_error: %s\n", message);
}

static void on_unreachable(struct bluez_buds *b, const char *message, void *ud) {
        struct fix *f = ud;

        (void) b;
        f->n_unreachable++;
        snprintf(f->unreachable, sizeof(f->unreachable), "%s", message);
}

static const struct bluez_ops fix_ops = {
        .buds_ready = on_ready,
        .buds_gone = on_gone,
        .manifest_changed = on_manifest_changed,
        .battery_changed = on_battery,
        .buds_error = on_error,
        .buds_unreachable = on_unreachable,
};

static const char *budsim_path(void) {
        static char path[512];
        const char *b = getenv("BRIDGED_BUILD");

        snprintf(path, sizeof(path), "%s/tests/budsim/budsim", b && *b ? b : "build");
        return path;
}

int fix_sim_start(struct fix *f, const char *const *args) {
        char *argv[32] = { (char *) budsim_path() };
        size_t n = 1;

        for (; args && *args && n < 30; args++)
                argv[n++] = (char *) *args;
        argv[n] = NULL;
        return testbus_spawn(f->tb, argv, "budsim: ready", FIX_DEADLINE_USEC, &f->sim);
}

void fix_sim_stop(struct fix *f) {
        if (f->sim > 0)
                (void) testbus_kill(f->sim);
        f->sim = 0;
}

static int bus_open(struct fix *f, sd_bus **ret) {
        sd_bus *bus = NULL;
        int r;

        r = sd_bus_new(&bus);
        if (r >= 0)
                r = sd_bus_set_address(bus, testbus_address(f->tb));
        if (r >= 0)
                r = sd_bus_set_bus_client(bus, 1);
        if (r >= 0)
                r = sd_bus_start(bus);
        if (r < 0) {
                sd_bus_unref(bus);
                return r;
        }
        *ret = bus;
        return 0;
}

int fix_start(struct fix *f, const char *const *args) {
        int r;

        memset(f, 0, sizeof(*f));
        f->cfg = (struct bluez_config) {
                .connect_timeout_usec = 3 * 1000000ULL,
                .call_timeout_usec = 3 * 1000000ULL,
                .backoff_min_usec = 20000,
                .backoff_max_usec = 200000,
                .resolve_grace_usec = 300000,
        };
        r = testbus_start(&f->tb);
        if (r < 0)
                return 77;
        assert_int_equal(sd_event_new(&f->event), 0);
        assert_int_equal(bus_open(f, &f->bus), 0);
        assert_int_equal(sd_bus_attach_event(f->bus, f->event, 0), 0);
        assert_int_equal(bus_open(f, &f->ctl), 0);
        if (args)
                assert_int_equal(fix_sim_start(f, args), 0);
        return 0;
}

int fix_client(struct fix *f) {
        return bluez_new(f->bus, f->event, &f->cfg, &fix_ops, f, &f->bz);
}

void fix_stop(struct fix *f) {
        f->bz = bluez_free(f->bz);
        fix_sim_stop(f);
        f->ctl = sd_bus_flush_close_unref(f->ctl);
        if (f->bus)
                (void) sd_bus_detach_event(f->bus);
        f->bus = sd_bus_flush_close_unref(f->bus);
        f->event = sd_event_unref(f->event);
        f->tb = testbus_stop(f->tb);
}

static void check(int r, sd_bus_error *e, const char *what) {
        if (r < 0)
                fail_msg("%s: %s: %s", what, e->name ? e->name : strerror(-r), e->message ? e->message : "");
}

void fix_call(struct fix *f, const char *method, const char *types, ...) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *m = NULL, *reply = NULL;
        va_list ap;
        int r;

        r = sd_bus_message_new_method_call(f->ctl, &m, SIM_NAME, SIM_PATH, SIM_IFACE, method);
        va_start(ap, types);
        if (r >= 0 && types)
                r = sd_bus_message_appendv(m, types, ap);
        va_end(ap);
        if (r >= 0)
                r = sd_bus_call(f->ctl, m, FIX_DEADLINE_USEC, &e, &reply);
        check(r, &e, method);
        sd_bus_error_free(&e);
        sd_bus_message_unref(m);
        sd_bus_message_unref(reply);
}

void fix_option_s(struct fix *f, const char *name, const char *value) {
        fix_call(f, "SetOption", "sv", name, "s", value);
}

void fix_option_u(struct fix *f, const char *name, uint32_t value) {
        fix_call(f, "SetOption", "sv", name, "u", value);
}

void fix_option_b(struct fix *f, const char *name, bool value) {
        fix_call(f, "SetOption", "sv", name, "b", (int) value);
}

void fix_fault(struct fix *f, const char *addr, const char *target, const char *kind,
               const char *param, char type, uint64_t value) {
        if (!param)
                fix_call(f, "InjectFault", "sssa{sv}", addr, target, kind, 0);
        else if (type == 'u')
                fix_call(f, "InjectFault", "sssa{sv}", addr, target, kind, 1, param, "u", (uint32_t) value);
        else if (type == 'y')
                fix_call(f, "InjectFault", "sssa{sv}", addr, target, kind, 1, param, "y", (uint8_t) value);
        else
                fix_call(f, "InjectFault", "sssa{sv}", addr, target, kind, 1, param, "b", (int) value);
}

uint64_t fix_counter(struct fix *f, const char *addr, const char *name) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        const char *k;
        uint64_t v, found = 0;
        int r;

        r = sd_bus_call_method(f->ctl, SIM_NAME, SIM_PATH, SIM_IFACE, "GetCounters", &e, &reply, "s", addr);
        check(r, &e, "GetCounters");
        assert_true(sd_bus_message_enter_container(reply, 'a', "{st}") > 0);
        while (sd_bus_message_read(reply, "{st}", &k, &v) > 0)
                if (strcmp(k, name) == 0)
                        found = v;
        sd_bus_message_unref(reply);
        return found;
}

/* Walks GetManagedObjects for a GattCharacteristic1 with uuid under the device. */
int fix_chr_path(struct fix *f, const char *addr, const char *uuid, char **ret) {
        sd_bus_message *reply = NULL;
        char dev[64], *found = NULL;
        const char *path, *iface, *prop, *val;
        int r;

        snprintf(dev, sizeof(dev), "/org/bluez/hci0/dev_%s/", addr);
        for (char *p = dev; *p; p++)
                if (*p == ':')
                        *p = '_';
        r = sd_bus_call_method(f->ctl, "org.bluez", "/", "org.freedesktop.DBus.ObjectManager",
                               "GetManagedObjects", NULL, &reply, NULL);
        if (r < 0)
                return r;
        assert_true(sd_bus_message_enter_container(reply, 'a', "{oa{sa{sv}}}") > 0);
        while (sd_bus_message_enter_container(reply, 'e', "oa{sa{sv}}") > 0) {
                assert_true(sd_bus_message_read(reply, "o", &path) > 0);
                assert_true(sd_bus_message_enter_container(reply, 'a', "{sa{sv}}") > 0);
                while (sd_bus_message_enter_container(reply, 'e', "sa{sv}") > 0) {
                        assert_true(sd_bus_message_read(reply, "s", &iface) > 0);
                        assert_true(sd_bus_message_enter_container(reply, 'a', "{sv}") > 0);
                        while (sd_bus_message_enter_container(reply, 'e', "sv") > 0) {
                                assert_true(sd_bus_message_read(reply, "s", &prop) > 0);
                                if (strcmp(iface, "org.bluez.GattCharacteristic1") == 0 &&
                                    strcmp(prop, "UUID") == 0) {
                                        assert_true(sd_bus_message_read(reply, "v", "s", &val) > 0);
                                        if (strcmp(val, uuid) == 0 && strncmp(path, dev, strlen(dev)) == 0)
                                                found = strdup(path);
                                } else
                                        assert_true(sd_bus_message_skip(reply, "v") >= 0);
                                assert_true(sd_bus_message_exit_container(reply) >= 0);
                        }
                        assert_true(sd_bus_message_exit_container(reply) >= 0);
                        assert_true(sd_bus_message_exit_container(reply) >= 0);
                }
                assert_true(sd_bus_message_exit_container(reply) >= 0);
                assert_true(sd_bus_message_exit_container(reply) >= 0);
        }
        sd_bus_message_unref(reply);
        if (!found)
                return -ENOENT;
        *ret = found;
        return 0;
}

static void op_done(struct fix *f, int error, const char *msg) {
        f->done = true;
        f->n_done++;
        f->error_code = error;
        snprintf(f->message, sizeof(f->message), "%s", msg ? msg : "");
        if (getenv("FIX_VERBOSE") && error < 0)
                fprintf(stderr, "op: %d %s\n", error, msg);
}

void fix_on_record(struct bluez_buds *b, int error, const struct record *rec, const char *msg, void *ud) {
        struct fix *f = ud;

        (void) b;
        if (rec)
                f->rec = *rec;
        op_done(f, error, msg);
}

void fix_on_write(struct bluez_buds *b, int error, const char *msg, void *ud) {
        (void) b;
        op_done(ud, error, msg);
}

void fix_on_manifest(struct bluez_buds *b, int error, const struct manifest *m, const char *msg, void *ud) {
        struct fix *f = ud;

        (void) b;
        if (m)
                f->op_manifest = *m;
        op_done(f, error, msg);
}

void fix_on_device(struct bluez_buds *b, int error, const struct bluez_device_data *d, const char *msg,
                   void *ud) {
        struct fix *f = ud;

        (void) b;
        if (d)
                f->data = *d;
        op_done(f, error, msg);
}

int fix_read(struct fix *f, struct bluez_buds *b, enum key key, struct record *ret) {
        int r;

        f->done = false;
        r = bluez_read_item(b, key, fix_on_record, f, NULL);
        if (r < 0)
                return r;
        assert_true(FIX_WAIT(f, f->done));
        if (ret && f->error_code >= 0)
                *ret = f->rec;
        return f->error_code;
}

int fix_write(struct fix *f, struct bluez_buds *b, const struct record *rec) {
        int r;

        f->done = false;
        r = bluez_write_item(b, rec, fix_on_write, f, NULL);
        if (r < 0)
                return r;
        assert_true(FIX_WAIT(f, f->done));
        return f->error_code;
}

struct bluez_buds *fix_wait_ready(struct fix *f, const char *addr, unsigned n_ready) {
        struct bluez_buds *b;

        assert_true(FIX_WAIT(f, f->n_ready >= n_ready && (b = bluez_buds_find(f->bz, addr)) &&
                                bluez_buds_ready(b)));
        return bluez_buds_find(f->bz, addr);
}
