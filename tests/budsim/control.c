/* SPDX-License-Identifier: MIT */
/* budsim's control interface for tests and the demo:
 * org.bridged.test.Budsim1 at /org/bridged/test on its own bus connection
 * (README.md documents every method). It drives the Buds (changes on the
 * Buds, link loss, faults) and the fake bluetoothd's options; errno values
 * become D-Bus error names here and nowhere else in budsim. It must never
 * answer a client of org.bluez. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim.h"

#define CTL_ERROR "org.bridged.test.Error"

static int ctl_error(sd_bus_error *error, int r, const char *what) {
        switch (r) {
        case -ENOENT:
                return sd_bus_error_setf(error, CTL_ERROR ".NotFound", "%s: no such Buds", what);
        case -EEXIST:
                return sd_bus_error_setf(error, CTL_ERROR ".Exists", "%s: already there", what);
        case -ESTALE:
        case -EMSGSIZE:
                return sd_bus_error_setf(error, CTL_ERROR ".Rejected", "%s: ATT error 0x%02x", what,
                                         buds_att_ecode(r));
        case -EINVAL:
        case -ERANGE:
                return sd_bus_error_setf(error, CTL_ERROR ".InvalidArgs", "%s", what);
        case -EHOSTUNREACH:
                return sd_bus_error_setf(error, CTL_ERROR ".Rejected", "%s: unreachable", what);
        default:
                return r;
        }
}

static int read_device(sd_bus_message *m, struct sim *sim, struct sim_device **ret, sd_bus_error *error) {
        const char *addr;
        int r;

        r = sd_bus_message_read(m, "s", &addr);
        if (r < 0)
                return r;
        *ret = sim_device_find(sim, addr);
        if (!*ret)
                return ctl_error(error, -ENOENT, addr);
        return 1;
}

static int method_add(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct sim *sim = userdata;
        struct sim_device *d;
        const char *addr, *name;
        uint8_t family;
        uint64_t id;
        int r;

        r = sd_bus_message_read(m, "ssyt", &addr, &name, &family, &id);
        if (r < 0)
                return r;
        r = sim_device_add(sim, addr, name, (enum family) family, id, &d);
        if (r < 0)
                return ctl_error(error, r, r == -EINVAL ? "address or family invalid" : addr);
        return sd_bus_reply_method_return(m, "o", d->path);
}

static int method_remove(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct sim_device *d;
        int r = read_device(m, userdata, &d, error);

        if (r <= 0)
                return r;
        sim_device_remove(d);
        return sd_bus_reply_method_return(m, NULL);
}

static int method_set_bool(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const char *member = sd_bus_message_get_member(m);
        struct sim_device *d;
        int b, r = read_device(m, userdata, &d, error);

        if (r <= 0)
                return r;
        r = sd_bus_message_read(m, "b", &b);
        if (r < 0)
                return r;
        if (strcmp(member, "SetReachable") == 0)
                d->reachable = b;
        else
                sim_device_set_paired(d, b);
        return sd_bus_reply_method_return(m, NULL);
}

static int method_link_up(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct sim_device *d;
        int r = read_device(m, userdata, &d, error);

        if (r <= 0)
                return r;
        if (!d->reachable || !d->adapter->powered)
                return ctl_error(error, -EHOSTUNREACH, d->address);
        r = sim_device_link_up(d);
        return r < 0 ? r : sd_bus_reply_method_return(m, NULL);
}

static int method_link_loss(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct sim_device *d;
        int r = read_device(m, userdata, &d, error);

        if (r <= 0)
                return r;
        if (d->link != SIM_LINK_DOWN)
                sim_count(d, "link-loss");
        sim_device_link_down(d, true);
        return sd_bus_reply_method_return(m, NULL);
}

static int method_touch(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct value_err e = { { 0 } };
        struct sim_device *d;
        const void *payload;
        size_t len;
        uint8_t key;
        int r = read_device(m, userdata, &d, error);

        if (r <= 0)
                return r;
        r = sd_bus_message_read(m, "y", &key);
        if (r >= 0)
                r = sd_bus_message_read_array(m, 'y', &payload, &len);
        if (r < 0)
                return r;
        r = buds_touch(d->buds, (enum key) key, payload, len, &e);
        if (r < 0)
                return ctl_error(error, r == -EMSGSIZE ? -EINVAL : r, e.msg);
        return sd_bus_reply_method_return(m, NULL);
}

static int method_factory_reset(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct sim_device *d;
        int pristine, r = read_device(m, userdata, &d, error);

        if (r <= 0)
                return r;
        r = sd_bus_message_read(m, "b", &pristine);
        if (r < 0)
                return r;
        buds_factory_reset(d->buds, pristine);
        return sd_bus_reply_method_return(m, NULL);
}

static int method_get_record(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        uint8_t buf[WIRE_RECORD_MAX], key;
        struct sim_device *d;
        sd_bus_message *reply = NULL;
        int len, r = read_device(m, userdata, &d, error);

        if (r <= 0)
                return r;
        r = sd_bus_message_read(m, "y", &key);
        if (r < 0)
                return r;
        if (!key_is_valid(key))
                return ctl_error(error, -EINVAL, "key must be 1, 2 or 3");
        len = buds_read(d->buds, buds_attr_from_key((enum key) key), buf, sizeof(buf));
        if (len < 0)
                return len;
        r = sd_bus_message_new_method_return(m, &reply);
        if (r >= 0)
                r = sd_bus_message_append_array(reply, 'y', buf, (size_t) len);
        if (r >= 0)
                r = sd_bus_send(NULL, reply, NULL);
        sd_bus_message_unref(reply);
        return r;
}

static int method_set_record(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct value_err e = { { 0 } };
        struct sim_device *d;
        const void *rec;
        size_t len;
        uint8_t key;
        int r = read_device(m, userdata, &d, error);

        if (r <= 0)
                return r;
        r = sd_bus_message_read(m, "y", &key);
        if (r >= 0)
                r = sd_bus_message_read_array(m, 'y', &rec, &len);
        if (r < 0)
                return r;
        r = buds_set_record(d->buds, (enum key) key, rec, len, &e);
        if (r < 0)
                return ctl_error(error, r == -EMSGSIZE ? -EINVAL : r, e.msg);
        return sd_bus_reply_method_return(m, NULL);
}

static int method_set_battery(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct sim_device *d;
        uint8_t level;
        int r = read_device(m, userdata, &d, error);

        if (r <= 0)
                return r;
        r = sd_bus_message_read(m, "y", &level);
        if (r < 0)
                return r;
        r = buds_set_battery(d->buds, level);
        if (r < 0)
                return ctl_error(error, r, "level must be 0..100");
        return sd_bus_reply_method_return(m, NULL);
}

/* ---- options ---- */

static int read_cache_mode(sd_bus_message *v, enum sim_cache *ret) {
        const char *s;
        int r = sd_bus_message_read(v, "v", "s", &s);

        if (r < 0)
                return r;
        if (strcmp(s, "yes") == 0)
                *ret = SIM_CACHE_YES;
        else if (strcmp(s, "no") == 0)
                *ret = SIM_CACHE_NO;
        else if (strcmp(s, "always") == 0)
                *ret = SIM_CACHE_ALWAYS;
        else
                return -EINVAL;
        return 0;
}

static int read_resolve_order(sd_bus_message *v, bool *ret) {
        const char *s;
        int r = sd_bus_message_read(v, "v", "s", &s);

        if (r < 0)
                return r;
        if (strcmp(s, "before") != 0 && strcmp(s, "after") != 0)
                return -EINVAL;
        *ret = strcmp(s, "before") == 0;
        return 0;
}

static uint32_t *option_ms(struct sim_options *o, const char *name) {
        if (strcmp(name, "gatt-delay-ms") == 0)
                return &o->gatt_delay_ms;
        if (strcmp(name, "connect-delay-ms") == 0)
                return &o->connect_delay_ms;
        if (strcmp(name, "resolve-delay-ms") == 0)
                return &o->resolve_delay_ms;
        if (strcmp(name, "connect-timeout-ms") == 0)
                return &o->connect_timeout_ms;
        return NULL;
}

static int set_option(struct sim *sim, const char *name, sd_bus_message *m) {
        struct sim_options *o = &sim->opt;
        uint32_t *ms = option_ms(o, name);
        int b, r;

        if (ms)
                return sd_bus_message_read(m, "v", "u", ms);
        if (strcmp(name, "cache") == 0)
                return read_cache_mode(m, &o->cache);
        if (strcmp(name, "resolve-order") == 0)
                return read_resolve_order(m, &o->resolve_before);
        if (strcmp(name, "mtu") == 0)
                return sd_bus_message_read(m, "v", "q", &o->mtu);
        if (strcmp(name, "notify-before-reply") == 0) {
                r = sd_bus_message_read(m, "v", "b", &b);
                o->notify_before_reply = r >= 0 ? b : o->notify_before_reply;
                return r;
        }
        if (strcmp(name, "silent-connect") == 0) {
                r = sd_bus_message_read(m, "v", "b", &b);
                o->silent_connect = r >= 0 ? b : o->silent_connect;
                return r;
        }
        if (strcmp(name, "stale-cache") == 0) {
                r = sd_bus_message_read(m, "v", "b", &b);
                o->stale_cache = r >= 0 ? b : o->stale_cache;
                return r;
        }
        if (strcmp(name, "disconnect-reply-first") == 0) {
                r = sd_bus_message_read(m, "v", "b", &b);
                o->disconnect_reply_first = r >= 0 ? b : o->disconnect_reply_first;
                return r;
        }
        return -EINVAL;
}

static int method_set_option(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const char *name;
        int r;

        r = sd_bus_message_read(m, "s", &name);
        if (r < 0)
                return r;
        r = set_option(userdata, name, m);
        if (r < 0)
                return sd_bus_error_setf(error, CTL_ERROR ".InvalidArgs",
                                         "option %s: unknown, or wrong type or value", name);
        return sd_bus_reply_method_return(m, NULL);
}

static int method_get_option(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        static const char *const cache[] = { "yes", "no", "always" };
        struct sim_options *o = &((struct sim *) userdata)->opt;
        const char *name;
        uint32_t *ms;
        int r;

        r = sd_bus_message_read(m, "s", &name);
        if (r < 0)
                return r;
        ms = option_ms(o, name);
        if (ms)
                return sd_bus_reply_method_return(m, "v", "u", *ms);
        if (strcmp(name, "cache") == 0)
                return sd_bus_reply_method_return(m, "v", "s", cache[o->cache]);
        if (strcmp(name, "resolve-order") == 0)
                return sd_bus_reply_method_return(m, "v", "s", o->resolve_before ? "before" : "after");
        if (strcmp(name, "mtu") == 0)
                return sd_bus_reply_method_return(m, "v", "q", o->mtu);
        if (strcmp(name, "notify-before-reply") == 0)
                return sd_bus_reply_method_return(m, "v", "b", (int) o->notify_before_reply);
        if (strcmp(name, "silent-connect") == 0)
                return sd_bus_reply_method_return(m, "v", "b", (int) o->silent_connect);
        if (strcmp(name, "stale-cache") == 0)
                return sd_bus_reply_method_return(m, "v", "b", (int) o->stale_cache);
        if (strcmp(name, "disconnect-reply-first") == 0)
                return sd_bus_reply_method_return(m, "v", "b", (int) o->disconnect_reply_first);
        return sd_bus_error_setf(error, CTL_ERROR ".InvalidArgs", "option %s: unknown", name);
}

/* ---- faults ---- */

static int fault_kind(const char *s, enum sim_fault_kind *ret) {
        static const char *const names[] = {
                [SIM_FAULT_DELAY] = "delay", [SIM_FAULT_ATT_ERROR] = "att-error",
                [SIM_FAULT_ERROR] = "error", [SIM_FAULT_MALFORMED] = "malformed",
                [SIM_FAULT_DISCONNECT_IN_WRITE] = "disconnect-in-write",
                [SIM_FAULT_DROP_NOTIFY] = "drop-notify", [SIM_FAULT_CRASH] = "crash",
                [SIM_FAULT_IGNORE_WRITE] = "ignore-write",
        };

        for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
                if (strcmp(s, names[i]) == 0) {
                        *ret = (enum sim_fault_kind) i;
                        return 0;
                }
        return -EINVAL;
}

static int fault_param(sd_bus_message *m, const char *key, struct sim_fault *f) {
        const char *s;
        int b, r;

        if (strcmp(key, "count") == 0)
                return sd_bus_message_read(m, "v", "u", &f->count);
        if (strcmp(key, "ms") == 0)
                return sd_bus_message_read(m, "v", "u", &f->ms);
        if (strcmp(key, "ecode") == 0)
                return sd_bus_message_read(m, "v", "y", &f->ecode);
        if (strcmp(key, "applied") == 0) {
                r = sd_bus_message_read(m, "v", "b", &b);
                f->applied = b;
                return r;
        }
        r = sd_bus_message_read(m, "v", "s", &s);
        if (r < 0)
                return r;
        if (strcmp(key, "name") == 0)
                snprintf(f->name, sizeof(f->name), "%s", s);
        else if (strcmp(key, "message") == 0)
                snprintf(f->message, sizeof(f->message), "%s", s);
        else if (strcmp(key, "how") == 0)
                snprintf(f->how, sizeof(f->how), "%s", s);
        else
                return -EINVAL;
        return 0;
}

static int fault_params(sd_bus_message *m, struct sim_fault *f) {
        const char *key;
        int r;

        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        while (r >= 0 && (r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                r = sd_bus_message_read(m, "s", &key);
                if (r >= 0)
                        r = fault_param(m, key, f);
                if (r >= 0)
                        r = sd_bus_message_exit_container(m);
        }
        if (r < 0)
                return r;
        if (f->kind == SIM_FAULT_ERROR && !sd_bus_interface_name_is_valid(f->name))
                return -EINVAL;
        return sd_bus_message_exit_container(m);
}

static int method_inject(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct sim_fault f = { .count = 1, .how = "truncate" };
        const char *target, *kind;
        struct sim_device *d;
        int r = read_device(m, userdata, &d, error);

        if (r <= 0)
                return r;
        r = sd_bus_message_read(m, "ss", &target, &kind);
        if (r < 0)
                return r;
        f.target = sim_chr_from_name(target);
        if (f.target == -EINVAL || fault_kind(kind, &f.kind) < 0 || fault_params(m, &f) < 0)
                return ctl_error(error, -EINVAL, "target, kind or params invalid (see README.md)");
        if (d->n_fault == SIM_FAULTS_MAX)
                return ctl_error(error, -EINVAL, "too many faults pending");
        d->fault[d->n_fault++] = f;
        return sd_bus_reply_method_return(m, NULL);
}

static int method_clear_faults(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct sim *sim = userdata;
        const char *addr;
        int r;

        r = sd_bus_message_read(m, "s", &addr);
        if (r < 0)
                return r;
        if (*addr && !sim_device_find(sim, addr))
                return ctl_error(error, -ENOENT, addr);
        for (struct sim_device *d = sim->devices; d; d = d->next)
                if (!*addr || d == sim_device_find(sim, addr))
                        d->n_fault = 0;
        return sd_bus_reply_method_return(m, NULL);
}

/* ---- counters, lifecycle ---- */

static int method_get_counters(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct sim *sim = userdata;
        struct sim_counters *c = &sim->counters;
        sd_bus_message *reply = NULL;
        const char *addr;
        int r;

        r = sd_bus_message_read(m, "s", &addr);
        if (r < 0)
                return r;
        if (*addr) {
                struct sim_device *d = sim_device_find(sim, addr);

                if (!d)
                        return ctl_error(error, -ENOENT, addr);
                c = &d->counters;
        }
        r = sd_bus_message_new_method_return(m, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "{st}");
        for (unsigned i = 0; r >= 0 && i < c->n; i++)
                r = sd_bus_message_append(reply, "{st}", c->e[i].name, c->e[i].value);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r >= 0)
                r = sd_bus_send(NULL, reply, NULL);
        sd_bus_message_unref(reply);
        return r;
}

static int method_reset_counters(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct sim *sim = userdata;

        (void) error;
        sim->counters.n = 0;
        for (struct sim_device *d = sim->devices; d; d = d->next)
                d->counters.n = 0;
        return sd_bus_reply_method_return(m, NULL);
}

static int method_restart(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        uint32_t ms;
        int r;

        r = sd_bus_message_read(m, "u", &ms);
        if (r < 0)
                return r;
        r = sim_bluez_restart(userdata, ms);
        if (r == -EALREADY)
                return sd_bus_error_set(error, CTL_ERROR ".InvalidArgs", "org.bluez is already down");
        return r < 0 ? r : sd_bus_reply_method_return(m, NULL);
}

static int method_crash(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        (void) m;
        (void) userdata;
        (void) error;
        fprintf(stderr, "budsim: crashing as told\n");
        fflush(NULL);
        _exit(0);
}

#define UNPRIV SD_BUS_VTABLE_UNPRIVILEGED

static const sd_bus_vtable control_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("AddBuds", "ssyt", "o", method_add, UNPRIV),
        SD_BUS_METHOD("RemoveBuds", "s", "", method_remove, UNPRIV),
        SD_BUS_METHOD("SetReachable", "sb", "", method_set_bool, UNPRIV),
        SD_BUS_METHOD("SetPaired", "sb", "", method_set_bool, UNPRIV),
        SD_BUS_METHOD("LinkUp", "s", "", method_link_up, UNPRIV),
        SD_BUS_METHOD("LinkLoss", "s", "", method_link_loss, UNPRIV),
        SD_BUS_METHOD("Touch", "syay", "", method_touch, UNPRIV),
        SD_BUS_METHOD("FactoryReset", "sb", "", method_factory_reset, UNPRIV),
        SD_BUS_METHOD("GetRecord", "sy", "ay", method_get_record, UNPRIV),
        SD_BUS_METHOD("SetRecord", "syay", "", method_set_record, UNPRIV),
        SD_BUS_METHOD("SetBattery", "sy", "", method_set_battery, UNPRIV),
        SD_BUS_METHOD("SetOption", "sv", "", method_set_option, UNPRIV),
        SD_BUS_METHOD("GetOption", "s", "v", method_get_option, UNPRIV),
        SD_BUS_METHOD("InjectFault", "sssa{sv}", "", method_inject, UNPRIV),
        SD_BUS_METHOD("ClearFaults", "s", "", method_clear_faults, UNPRIV),
        SD_BUS_METHOD("GetCounters", "s", "a{st}", method_get_counters, UNPRIV),
        SD_BUS_METHOD("ResetCounters", "", "", method_reset_counters, UNPRIV),
        SD_BUS_METHOD("RestartBluez", "u", "", method_restart, UNPRIV),
        SD_BUS_METHOD("Crash", "", "", method_crash, UNPRIV),
        SD_BUS_VTABLE_END,
};

int sim_control_start(struct sim *sim) {
        int r;

        r = sd_bus_add_object_vtable(sim->ctl, NULL, "/org/bridged/test", "org.bridged.test.Budsim1",
                                     control_vtable, sim);
        if (r >= 0)
                r = sd_bus_request_name(sim->ctl, "org.bridged.test.Budsim", 0);
        return r;
}
