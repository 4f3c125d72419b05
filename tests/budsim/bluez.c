/* SPDX-License-Identifier: MIT */
/* budsim's org.bluez connection: the object manager, Adapter1 and Device1
 * objects, and the link of each device (Connect, Disconnect, link loss,
 * service resolution) with bluetoothd 5.66's ordering of signals and its
 * error names. The GATT objects are chrc.c's; the Buds' behaviour is buds.c's.
 * It must never decide a Buds answer itself. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

#define DEVICE_IFACE "org.bluez.Device1"
#define ADAPTER_IFACE "org.bluez.Adapter1"

static const char *const device_uuids[] = {
        "00001800-0000-1000-8000-00805f9b34fb",
        "00001801-0000-1000-8000-00805f9b34fb",
        "0000180a-0000-1000-8000-00805f9b34fb",
        "0000180f-0000-1000-8000-00805f9b34fb",
        BUDS_SYNC_SERVICE_UUID,
};

uint64_t sim_random(struct sim *sim) {
        uint64_t x = sim->rng;

        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        sim->rng = x;
        return x;
}

static void counters_add(struct sim_counters *c, const char *name) {
        for (unsigned i = 0; i < c->n; i++)
                if (strcmp(c->e[i].name, name) == 0) {
                        c->e[i].value++;
                        return;
                }
        if (c->n == SIM_COUNTERS_MAX)
                return;
        snprintf(c->e[c->n].name, sizeof(c->e[c->n].name), "%s", name);
        c->e[c->n++].value = 1;
}

void sim_count(struct sim_device *d, const char *name) {
        counters_add(&d->counters, name);
        counters_add(&d->sim->counters, name);
}

void sim_countf(struct sim_device *d, const char *fmt, const char *arg) {
        char name[32];

        snprintf(name, sizeof(name), fmt, arg);
        sim_count(d, name);
}

int sim_emit_changed(struct sim *sim, const char *path, const char *iface, const char *prop) {
        if (!sim->bus)
                return 0;
        return sd_bus_emit_properties_changed(sim->bus, path, iface, prop, NULL);
}

bool sim_device_cache_keeps(const struct sim_device *d) {
        switch (d->sim->opt.cache) {
        case SIM_CACHE_YES:
                return d->paired;
        case SIM_CACHE_NO:
                return false;
        case SIM_CACHE_ALWAYS:
                return true;
        }
        return true;
}

static struct sim_device *device_by_path(struct sim *sim, const char *path) {
        for (struct sim_device *d = sim->devices; d; d = d->next)
                if (strcmp(d->path, path) == 0)
                        return d;
        return NULL;
}

static struct sim_adapter *adapter_by_path(struct sim *sim, const char *path) {
        for (unsigned i = 0; i < sim->n_adapters; i++)
                if (strcmp(sim->adapter[i].path, path) == 0)
                        return &sim->adapter[i];
        return NULL;
}

/* "AA:BB:..." (first adapter holding it) or "hciN/AA:BB:...". */
struct sim_device *sim_device_find(struct sim *sim, const char *spec) {
        const char *slash = strchr(spec, '/');

        for (struct sim_device *d = sim->devices; d; d = d->next) {
                if (slash && strncmp(spec, d->adapter->path + strlen("/org/bluez/"),
                                     (size_t) (slash - spec)) != 0)
                        continue;
                if (strcasecmp(slash ? slash + 1 : spec, d->address) == 0)
                        return d;
        }
        return NULL;
}

/* ---- link ---- */

void sim_device_set_resolved(struct sim_device *d, bool resolved) {
        if (d->services_resolved == resolved)
                return;
        d->services_resolved = resolved;
        (void) sim_emit_changed(d->sim, d->path, DEVICE_IFACE, "ServicesResolved");
}

static void reply_connect(struct sim_device *d, const char *error) {
        if (!d->connect_msg)
                return;
        if (error)
                (void) sd_bus_reply_method_errorf(d->connect_msg, SIM_ERROR_BLUEZ ".Failed", "%s", error);
        else
                (void) sd_bus_reply_method_return(d->connect_msg, NULL);
        d->connect_msg = sd_bus_message_unref(d->connect_msg);
}

static int on_resolve(sd_event_source *s, uint64_t usec, void *userdata) {
        struct sim_device *d = userdata;

        (void) s;
        (void) usec;
        d->link_timer = sd_event_source_disable_unref(d->link_timer);
        d->gatt_ready = true;
        if (!d->exported)
                sim_gatt_export(d, d->sim->opt.resolve_before);
        sim_gatt_link_up(d);
        /* already resolved when resolve-order is "before" */
        sim_device_set_resolved(d, true);
        return 0;
}

static int arm_timer(struct sim_device *d, uint32_t ms, sd_event_time_handler_t cb) {
        d->link_timer = sd_event_source_disable_unref(d->link_timer);
        return sd_event_add_time_relative(d->sim->event, &d->link_timer, CLOCK_MONOTONIC,
                                          (uint64_t) ms * 1000, 1, cb, d);
}

static int on_connect(sd_event_source *s, uint64_t usec, void *userdata) {
        struct sim_device *d = userdata;

        (void) s;
        (void) usec;
        d->link_timer = sd_event_source_disable_unref(d->link_timer);
        if (!d->reachable || !d->adapter->powered) {
                d->link = SIM_LINK_DOWN;
                sim_count(d, "connect-failed");
                reply_connect(d, "le-connection-abort-by-local");
                return 0;
        }
        d->link = SIM_LINK_UP;
        d->gatt_ready = d->exported;
        /* bluetoothd 5.66: when its ATT connect callback runs before the
         * kernel's Device Connected event, att_connect_cb() sets the state
         * and device_add_connection() then finds it "already connected" and
         * emits nothing: Connected reads true but is never signalled */
        if (!d->sim->opt.silent_connect)
                (void) sim_emit_changed(d->sim, d->path, DEVICE_IFACE, "Connected");
        reply_connect(d, NULL);
        return arm_timer(d, d->sim->opt.resolve_delay_ms, on_resolve);
}

int sim_device_link_up(struct sim_device *d) {
        if (d->link != SIM_LINK_DOWN)
                return 0;
        sim_count(d, "connect");
        d->link = SIM_LINK_CONNECTING;
        return arm_timer(d, d->reachable ? d->sim->opt.connect_delay_ms : d->sim->opt.connect_timeout_ms,
                         on_connect);
}

/* emit=false: bluetoothd went away; nothing is sent, nothing is answered. */
void sim_device_link_down(struct sim_device *d, bool emit) {
        d->link_timer = sd_event_source_disable_unref(d->link_timer);
        if (emit)
                reply_connect(d, "br-connection-canceled");
        d->connect_msg = sd_bus_message_unref(d->connect_msg);
        if (!emit) {
                sim_gatt_drop_all(d);
                d->link = SIM_LINK_DOWN;
                d->gatt_ready = d->services_resolved = false;
                d->exported = sim_device_cache_keeps(d);
                return;
        }
        if (d->link == SIM_LINK_DOWN)
                return;
        sim_gatt_link_down(d);
        d->gatt_ready = false;
        sim_device_set_resolved(d, false);
        if (d->exported && !sim_device_cache_keeps(d))
                sim_gatt_unexport(d, true);
        d->link = SIM_LINK_DOWN;
        if (!d->hold_connected)
                (void) sim_emit_changed(d->sim, d->path, DEVICE_IFACE, "Connected");
}

void sim_device_set_paired(struct sim_device *d, bool paired) {
        if (d->paired == paired)
                return;
        d->paired = paired;
        (void) sim_emit_changed(d->sim, d->path, DEVICE_IFACE, "Paired");
        (void) sim_emit_changed(d->sim, d->path, DEVICE_IFACE, "Bonded");
}

/* ---- Device1 ---- */

static int method_connect(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct sim_device *d = userdata;
        int r;

        if (!d->adapter->powered)
                return sd_bus_error_set(error, SIM_ERROR_BLUEZ ".NotReady", "Resource Not Ready");
        if (d->link == SIM_LINK_UP)
                return sd_bus_reply_method_return(m, NULL);
        if (d->connect_msg)
                return sd_bus_error_set(error, SIM_ERROR_BLUEZ ".Failed", "Operation already in progress");
        d->connect_msg = sd_bus_message_ref(m);
        r = sim_device_link_up(d);
        return r < 0 ? r : 1;   /* answered later */
}

/* bluetoothd 5.82 answers after Connected=false; 5.66 answers after
 * ServicesResolved=false and before Connected=false (both measured in the
 * HIL VM): a client must not take the reply for the link being down. */
static int method_disconnect(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct sim_device *d = userdata;
        bool was_up = d->link != SIM_LINK_DOWN;
        int r;

        (void) error;
        if (was_up)
                sim_count(d, "disconnect");
        d->hold_connected = was_up && d->sim->opt.disconnect_reply_first;
        sim_device_link_down(d, true);
        if (!d->hold_connected)
                return sd_bus_reply_method_return(m, NULL);
        d->hold_connected = false;
        r = sd_bus_reply_method_return(m, NULL);
        (void) sim_emit_changed(d->sim, d->path, DEVICE_IFACE, "Connected");
        return r;
}

static int method_not_supported(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        (void) m;
        (void) userdata;
        return sd_bus_error_set(error, SIM_ERROR_BLUEZ ".NotSupported", "Operation is not supported");
}

#define GETTER(fn) \
        static int fn(sd_bus *bus, const char *path, const char *iface, const char *prop, \
                      sd_bus_message *reply, void *userdata, sd_bus_error *error)
#define UNUSED_GETTER_ARGS (void) bus, (void) path, (void) iface, (void) prop, (void) error

GETTER(dev_get_string) {
        struct sim_device *d = userdata;
        const char *v = "";

        UNUSED_GETTER_ARGS;
        if (strcmp(prop, "Address") == 0)
                v = d->address;
        else if (strcmp(prop, "AddressType") == 0)
                v = "public";
        else if (strcmp(prop, "Name") == 0)
                v = d->name;
        else if (strcmp(prop, "Alias") == 0)
                v = d->alias ? d->alias : d->name;
        else if (strcmp(prop, "Icon") == 0)
                v = "audio-headset";
        return sd_bus_message_append(reply, "s", v);
}

GETTER(dev_get_bool) {
        struct sim_device *d = userdata;
        bool v = false;

        UNUSED_GETTER_ARGS;
        if (strcmp(prop, "Paired") == 0 || strcmp(prop, "Bonded") == 0)
                v = d->paired;
        else if (strcmp(prop, "Trusted") == 0)
                v = d->trusted;
        else if (strcmp(prop, "Blocked") == 0)
                v = d->blocked;
        else if (strcmp(prop, "Connected") == 0)
                v = d->link == SIM_LINK_UP;
        else if (strcmp(prop, "ServicesResolved") == 0)
                v = d->services_resolved;
        else if (strcmp(prop, "WakeAllowed") == 0)
                v = d->wake_allowed;
        return sd_bus_message_append(reply, "b", (int) v);
}

GETTER(dev_get_appearance) {
        UNUSED_GETTER_ARGS;
        (void) userdata;
        return sd_bus_message_append(reply, "q", (uint16_t) 0x0941);
}

GETTER(dev_get_uuids) {
        const struct sim_device *d = userdata;

        UNUSED_GETTER_ARGS;
        return sd_bus_message_append_strv(reply, (char **) (const char *[]) {
                device_uuids[0], device_uuids[1], device_uuids[2], device_uuids[3],
                sim_gatt_hidden(d, SIM_SVC_SYNC) ? NULL : device_uuids[4], NULL });
}

GETTER(dev_get_adapter) {
        struct sim_device *d = userdata;

        UNUSED_GETTER_ARGS;
        return sd_bus_message_append(reply, "o", d->adapter->path);
}

static int dev_set(sd_bus *bus, const char *path, const char *iface, const char *prop,
                   sd_bus_message *value, void *userdata, sd_bus_error *error) {
        struct sim_device *d = userdata;
        const char *s;
        int b, r;

        UNUSED_GETTER_ARGS;
        if (strcmp(prop, "Alias") == 0) {
                r = sd_bus_message_read(value, "s", &s);
                if (r < 0)
                        return r;
                free(d->alias);
                d->alias = *s ? strdup(s) : NULL;
        } else {
                r = sd_bus_message_read(value, "b", &b);
                if (r < 0)
                        return r;
                if (strcmp(prop, "Trusted") == 0)
                        d->trusted = b;
                else if (strcmp(prop, "Blocked") == 0)
                        d->blocked = b;
                else
                        d->wake_allowed = b;
        }
        return sim_emit_changed(d->sim, d->path, DEVICE_IFACE, prop);
}

#define PROP_CHANGE SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE

static const sd_bus_vtable device_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Address", "s", dev_get_string, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("AddressType", "s", dev_get_string, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Name", "s", dev_get_string, 0, PROP_CHANGE),
        SD_BUS_WRITABLE_PROPERTY("Alias", "s", dev_get_string, dev_set, 0, PROP_CHANGE),
        SD_BUS_PROPERTY("Appearance", "q", dev_get_appearance, 0, PROP_CHANGE),
        SD_BUS_PROPERTY("Icon", "s", dev_get_string, 0, PROP_CHANGE),
        SD_BUS_PROPERTY("Paired", "b", dev_get_bool, 0, PROP_CHANGE),
        SD_BUS_PROPERTY("Bonded", "b", dev_get_bool, 0, PROP_CHANGE),
        SD_BUS_WRITABLE_PROPERTY("Trusted", "b", dev_get_bool, dev_set, 0, PROP_CHANGE),
        SD_BUS_WRITABLE_PROPERTY("Blocked", "b", dev_get_bool, dev_set, 0, PROP_CHANGE),
        SD_BUS_PROPERTY("LegacyPairing", "b", dev_get_bool, 0, PROP_CHANGE),
        SD_BUS_PROPERTY("Connected", "b", dev_get_bool, 0, PROP_CHANGE),
        SD_BUS_PROPERTY("UUIDs", "as", dev_get_uuids, 0, PROP_CHANGE),
        SD_BUS_PROPERTY("Adapter", "o", dev_get_adapter, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("ServicesResolved", "b", dev_get_bool, 0, PROP_CHANGE),
        SD_BUS_WRITABLE_PROPERTY("WakeAllowed", "b", dev_get_bool, dev_set, 0, PROP_CHANGE),
        SD_BUS_METHOD("Connect", "", "", method_connect, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("Disconnect", "", "", method_disconnect, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("Pair", "", "", method_not_supported, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("CancelPairing", "", "", method_not_supported, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("ConnectProfile", "s", "", method_not_supported, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("DisconnectProfile", "s", "", method_not_supported, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

/* ---- Adapter1 ---- */

GETTER(adapter_get) {
        struct sim_adapter *a = userdata;

        UNUSED_GETTER_ARGS;
        if (strcmp(prop, "Address") == 0)
                return sd_bus_message_append(reply, "s", a->address);
        if (strcmp(prop, "AddressType") == 0)
                return sd_bus_message_append(reply, "s", "public");
        if (strcmp(prop, "Name") == 0)
                return sd_bus_message_append(reply, "s", "budsim");
        if (strcmp(prop, "Alias") == 0)
                return sd_bus_message_append(reply, "s", a->alias ? a->alias : "budsim");
        if (strcmp(prop, "Modalias") == 0)
                return sd_bus_message_append(reply, "s", "usb:v1D6Bp0246d0542");
        if (strcmp(prop, "Class") == 0)
                return sd_bus_message_append(reply, "u", (uint32_t) 0x6c010c);
        if (strcmp(prop, "Powered") == 0)
                return sd_bus_message_append(reply, "b", (int) a->powered);
        if (strcmp(prop, "Discoverable") == 0)
                return sd_bus_message_append(reply, "b", (int) a->discoverable);
        if (strcmp(prop, "Pairable") == 0)
                return sd_bus_message_append(reply, "b", (int) a->pairable);
        if (strcmp(prop, "Discovering") == 0)
                return sd_bus_message_append(reply, "b", (int) a->discovering);
        if (strcmp(prop, "DiscoverableTimeout") == 0)
                return sd_bus_message_append(reply, "u", a->discoverable_timeout);
        if (strcmp(prop, "PairableTimeout") == 0)
                return sd_bus_message_append(reply, "u", a->pairable_timeout);
        if (strcmp(prop, "Roles") == 0)
                return sd_bus_message_append(reply, "as", 2, "central", "peripheral");
        return sd_bus_message_append(reply, "as", 2, device_uuids[0], device_uuids[1]);
}

static void adapter_power_off(struct sim_adapter *a) {
        for (struct sim_device *d = a->sim->devices; d; d = d->next)
                if (d->adapter == a && d->link != SIM_LINK_DOWN) {
                        sim_count(d, "link-loss");
                        sim_device_link_down(d, true);
                }
}

static int adapter_set(sd_bus *bus, const char *path, const char *iface, const char *prop,
                       sd_bus_message *value, void *userdata, sd_bus_error *error) {
        struct sim_adapter *a = userdata;
        const char *s;
        uint32_t u;
        int b, r;

        UNUSED_GETTER_ARGS;
        if (strcmp(prop, "Alias") == 0) {
                r = sd_bus_message_read(value, "s", &s);
                if (r >= 0) {
                        free(a->alias);
                        a->alias = *s ? strdup(s) : NULL;
                }
        } else if (strstr(prop, "Timeout")) {
                r = sd_bus_message_read(value, "u", &u);
                if (r >= 0)
                        *(strcmp(prop, "PairableTimeout") == 0 ? &a->pairable_timeout
                                                               : &a->discoverable_timeout) = u;
        } else {
                r = sd_bus_message_read(value, "b", &b);
                if (r >= 0 && strcmp(prop, "Powered") == 0) {
                        a->powered = b;
                        if (!b)
                                adapter_power_off(a);
                } else if (r >= 0)
                        *(strcmp(prop, "Pairable") == 0 ? &a->pairable : &a->discoverable) = b;
        }
        if (r < 0)
                return r;
        return sim_emit_changed(a->sim, a->path, ADAPTER_IFACE, prop);
}

static int adapter_discovery(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct sim_adapter *a = userdata;
        bool on = strcmp(sd_bus_message_get_member(m), "StartDiscovery") == 0;

        (void) error;
        if (a->discovering != on) {
                a->discovering = on;
                (void) sim_emit_changed(a->sim, a->path, ADAPTER_IFACE, "Discovering");
        }
        return sd_bus_reply_method_return(m, NULL);
}

static int adapter_set_filter(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        (void) userdata;
        (void) error;
        return sd_bus_reply_method_return(m, NULL);
}

static int adapter_get_filters(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        (void) userdata;
        (void) error;
        return sd_bus_reply_method_return(m, "as", 4, "UUIDs", "RSSI", "Transport", "DuplicateData");
}

static int adapter_remove_device(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct sim_adapter *a = userdata;
        struct sim_device *d;
        const char *path;
        int r;

        r = sd_bus_message_read(m, "o", &path);
        if (r < 0)
                return r;
        d = device_by_path(a->sim, path);
        if (!d || d->adapter != a)
                return sd_bus_error_set(error, SIM_ERROR_BLUEZ ".DoesNotExist", "Does Not Exist");
        sim_device_remove(d);
        return sd_bus_reply_method_return(m, NULL);
}

static const sd_bus_vtable adapter_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Address", "s", adapter_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("AddressType", "s", adapter_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Name", "s", adapter_get, 0, PROP_CHANGE),
        SD_BUS_WRITABLE_PROPERTY("Alias", "s", adapter_get, adapter_set, 0, PROP_CHANGE),
        SD_BUS_PROPERTY("Class", "u", adapter_get, 0, PROP_CHANGE),
        SD_BUS_WRITABLE_PROPERTY("Powered", "b", adapter_get, adapter_set, 0, PROP_CHANGE),
        SD_BUS_WRITABLE_PROPERTY("Discoverable", "b", adapter_get, adapter_set, 0, PROP_CHANGE),
        SD_BUS_WRITABLE_PROPERTY("DiscoverableTimeout", "u", adapter_get, adapter_set, 0, PROP_CHANGE),
        SD_BUS_WRITABLE_PROPERTY("Pairable", "b", adapter_get, adapter_set, 0, PROP_CHANGE),
        SD_BUS_WRITABLE_PROPERTY("PairableTimeout", "u", adapter_get, adapter_set, 0, PROP_CHANGE),
        SD_BUS_PROPERTY("Discovering", "b", adapter_get, 0, PROP_CHANGE),
        SD_BUS_PROPERTY("UUIDs", "as", adapter_get, 0, PROP_CHANGE),
        SD_BUS_PROPERTY("Modalias", "s", adapter_get, 0, PROP_CHANGE),
        SD_BUS_PROPERTY("Roles", "as", adapter_get, 0, PROP_CHANGE),
        SD_BUS_METHOD("StartDiscovery", "", "", adapter_discovery, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("StopDiscovery", "", "", adapter_discovery, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("SetDiscoveryFilter", "a{sv}", "", adapter_set_filter, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("GetDiscoveryFilters", "", "as", adapter_get_filters, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("RemoveDevice", "o", "", adapter_remove_device, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

/* ---- /org/bluez: AgentManager1, accepted and ignored ---- */

static int agent_ok(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        (void) userdata;
        (void) error;
        return sd_bus_reply_method_return(m, NULL);
}

static const sd_bus_vtable agent_manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("RegisterAgent", "os", "", agent_ok, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("UnregisterAgent", "o", "", agent_ok, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("RequestDefaultAgent", "o", "", agent_ok, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

/* ---- object tree ---- */

/* sd-bus wants one kind of vtable per node: /org/bluez holds fallbacks, so this one is too. */
static int find_root(sd_bus *bus, const char *path, const char *iface, void *userdata,
                     void **ret, sd_bus_error *error) {
        (void) bus;
        (void) iface;
        (void) error;
        if (strcmp(path, "/org/bluez") != 0)
                return 0;
        *ret = userdata;
        return 1;
}

static int find_device(sd_bus *bus, const char *path, const char *iface, void *userdata,
                       void **ret, sd_bus_error *error) {
        struct sim_device *d = device_by_path(userdata, path);

        (void) bus;
        (void) iface;
        (void) error;
        if (!d)
                return 0;
        *ret = d;
        return 1;
}

static int find_adapter(sd_bus *bus, const char *path, const char *iface, void *userdata,
                        void **ret, sd_bus_error *error) {
        struct sim_adapter *a = adapter_by_path(userdata, path);

        (void) bus;
        (void) iface;
        (void) error;
        if (!a)
                return 0;
        *ret = a;
        return 1;
}

static int strv_push(char ***strv, size_t *n, const char *s) {
        char **v = realloc(*strv, sizeof(char *) * (*n + 2));

        if (!v)
                return -ENOMEM;
        *strv = v;
        v[*n] = strdup(s);
        if (!v[*n])
                return -ENOMEM;
        v[++*n] = NULL;
        return 0;
}

static void strv_free(char **strv) {
        for (char **p = strv; p && *p; p++)
                free(*p);
        free(strv);
}

static int enumerate(sd_bus *bus, const char *prefix, void *userdata, char ***ret, sd_bus_error *error) {
        struct sim *sim = userdata;
        char **strv = NULL;
        size_t n = 0;
        int r = 0;

        (void) bus;
        (void) prefix;
        (void) error;
        for (unsigned i = 0; r >= 0 && i < sim->n_adapters; i++)
                r = strv_push(&strv, &n, sim->adapter[i].path);
        for (struct sim_device *d = sim->devices; r >= 0 && d; d = d->next) {
                r = strv_push(&strv, &n, d->path);
                if (r >= 0)
                        r = sim_gatt_enumerate(d, &strv, &n);
        }
        if (r < 0) {
                strv_free(strv);
                return r;
        }
        *ret = strv;
        return 1;
}

int sim_gatt_enumerate(struct sim_device *d, char ***strv, size_t *n) {
        int r = 0;

        if (!d->exported)
                return 0;
        for (int s = 0; r >= 0 && s < _SIM_SVC_MAX; s++)
                if (!sim_gatt_hidden(d, (enum sim_svc) s))
                        r = strv_push(strv, n, d->svc[s].path);
        for (int c = 0; r >= 0 && c < _SIM_CHR_MAX; c++) {
                if (sim_gatt_hidden(d, sim_gatt_chr_service(c)))
                        continue;
                r = strv_push(strv, n, d->chrc[c].path);
                if (r >= 0 && d->chrc[c].ccc_path[0])
                        r = strv_push(strv, n, d->chrc[c].ccc_path);
        }
        return r;
}

static int register_objects(struct sim *sim) {
        sd_bus *bus = sim->bus;
        int r;

        r = sd_bus_add_object_manager(bus, NULL, "/");
        if (r >= 0)
                r = sd_bus_add_fallback_vtable(bus, NULL, "/org/bluez", "org.bluez.AgentManager1",
                                               agent_manager_vtable, find_root, sim);
        if (r >= 0)
                r = sd_bus_add_fallback_vtable(bus, NULL, "/org/bluez", ADAPTER_IFACE, adapter_vtable,
                                               find_adapter, sim);
        if (r >= 0)
                r = sd_bus_add_fallback_vtable(bus, NULL, "/org/bluez", DEVICE_IFACE, device_vtable,
                                               find_device, sim);
        if (r >= 0)
                r = sd_bus_add_node_enumerator(bus, NULL, "/org/bluez", enumerate, sim);
        if (r >= 0)
                r = sim_gatt_register(sim);
        return r;
}

/* ---- devices ---- */

static int device_path(struct sim_device *d, const char *address) {
        unsigned v[6];
        char c;

        if (sscanf(address, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &c) != 6 ||
            strlen(address) != 17)
                return -EINVAL;
        snprintf(d->address, sizeof(d->address), "%02X:%02X:%02X:%02X:%02X:%02X",
                 v[0], v[1], v[2], v[3], v[4], v[5]);
        snprintf(d->path, sizeof(d->path), "%s/dev_%02X_%02X_%02X_%02X_%02X_%02X",
                 d->adapter->path, v[0], v[1], v[2], v[3], v[4], v[5]);
        return 0;
}

static struct sim_adapter *adapter_of_spec(struct sim *sim, const char *spec, const char **ret_addr) {
        const char *slash = strchr(spec, '/');
        unsigned idx = 0;

        *ret_addr = slash ? slash + 1 : spec;
        if (slash && (sscanf(spec, "hci%u/", &idx) != 1 || idx >= sim->n_adapters))
                return NULL;
        return &sim->adapter[idx];
}

static void device_free(struct sim_device *d) {
        d->link_timer = sd_event_source_disable_unref(d->link_timer);
        d->connect_msg = sd_bus_message_unref(d->connect_msg);
        sim_gatt_drop_all(d);
        buds_free(d->buds);
        free(d->name);
        free(d->alias);
        free(d);
}

static void emit_device_added(struct sim_device *d) {
        if (!d->sim->bus)
                return;
        (void) sd_bus_emit_object_added(d->sim->bus, d->path);
        if (d->exported) {
                d->exported = false;
                sim_gatt_export(d, false);
        }
}

static int device_init(struct sim_device *d, const char *name, enum family family, uint64_t id) {
        int r;

        r = buds_new(family, id, &d->buds);
        if (r < 0)
                return r;
        d->name = strdup(name);
        if (!d->name)
                return -ENOMEM;
        buds_set_callbacks(d->buds, sim_gatt_item_changed, sim_gatt_battery_changed, d);
        d->paired = d->trusted = d->reachable = true;
        sim_gatt_layout(d);
        d->exported = sim_device_cache_keeps(d);
        return 0;
}

int sim_device_add(struct sim *sim, const char *spec, const char *name, enum family family,
                   uint64_t id, struct sim_device **ret) {
        struct sim_device *d;
        const char *addr;
        int r;

        if (sim_device_find(sim, spec))
                return -EEXIST;
        d = calloc(1, sizeof(*d));
        if (!d)
                return -ENOMEM;
        d->sim = sim;
        d->adapter = adapter_of_spec(sim, spec, &addr);
        r = d->adapter ? device_path(d, addr) : -EINVAL;
        if (r >= 0)
                r = device_init(d, name, family, id);
        if (r < 0) {
                device_free(d);
                return r;
        }
        d->next = sim->devices;
        sim->devices = d;
        emit_device_added(d);
        *ret = d;
        return 0;
}

void sim_device_remove(struct sim_device *d) {
        struct sim_device **p;

        sim_device_link_down(d, true);
        if (d->exported)
                sim_gatt_unexport(d, true);
        if (d->sim->bus)
                (void) sd_bus_emit_object_removed(d->sim->bus, d->path);
        for (p = &d->sim->devices; *p && *p != d; p = &(*p)->next)
                ;
        if (*p)
                *p = d->next;
        device_free(d);
}

/* ---- the connection ---- */

int sim_bus_open(struct sim *sim, sd_bus **ret) {
        sd_bus *bus = NULL;
        int r;

        if (!sim->bus_address)
                return sd_bus_open_system(ret);
        r = sd_bus_new(&bus);
        if (r >= 0)
                r = sd_bus_set_address(bus, sim->bus_address);
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

int sim_bluez_start(struct sim *sim) {
        int r;

        r = sim_bus_open(sim, &sim->bus);
        if (r < 0)
                return r;
        r = sd_bus_attach_event(sim->bus, sim->event, 0);
        if (r >= 0)
                r = register_objects(sim);
        if (r >= 0)
                r = sd_bus_request_name(sim->bus, "org.bluez", 0);
        if (r < 0)
                return r;
        for (unsigned i = 0; i < sim->n_adapters; i++)
                (void) sd_bus_emit_object_added(sim->bus, sim->adapter[i].path);
        for (struct sim_device *d = sim->devices; d; d = d->next)
                emit_device_added(d);
        return 0;
}

void sim_bluez_stop(struct sim *sim) {
        while (sim->devices) {
                struct sim_device *d = sim->devices;

                sim->devices = d->next;
                device_free(d);
        }
        sim->bus = sd_bus_flush_close_unref(sim->bus);
        sim->restart_timer = sd_event_source_disable_unref(sim->restart_timer);
        for (unsigned i = 0; i < sim->n_adapters; i++)
                free(sim->adapter[i].alias);
}

static int on_restart(sd_event_source *s, uint64_t usec, void *userdata) {
        struct sim *sim = userdata;
        int r;

        (void) s;
        (void) usec;
        sim->restart_timer = sd_event_source_disable_unref(sim->restart_timer);
        r = sim_bluez_start(sim);
        if (r < 0) {
                fprintf(stderr, "budsim: cannot own org.bluez again: %s\n", strerror(-r));
                return sd_event_exit(sim->event, 1);
        }
        return 0;
}

int sim_bluez_restart(struct sim *sim, uint32_t down_ms) {
        if (!sim->bus)
                return -EALREADY;
        for (struct sim_device *d = sim->devices; d; d = d->next)
                sim_device_link_down(d, false);
        sim->bus = sd_bus_flush_close_unref(sim->bus);
        return sd_event_add_time_relative(sim->event, &sim->restart_timer, CLOCK_MONOTONIC,
                                          (uint64_t) down_ms * 1000, 1, on_restart, sim);
}
