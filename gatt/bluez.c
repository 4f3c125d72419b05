/* SPDX-License-Identifier: MIT */
/* The BlueZ client's view of org.bluez: who owns the name, and which
 * adapters, devices and characteristics exist, learnt from GetManagedObjects,
 * InterfacesAdded/Removed and PropertiesChanged (never by polling). It picks
 * the Buds among the devices and hands changes to bluez-buds.c. It must never
 * trust a signal that does not come from the unique name owning org.bluez:
 * sd-bus does not filter senders by well-known name. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "bluez-private.h"
#include "common/random.h"

#define DBUS_SERVICE "org.freedesktop.DBus"
#define OM_IFACE "org.freedesktop.DBus.ObjectManager"
#define PROPS_IFACE "org.freedesktop.DBus.Properties"
#define OBJECTS_TIMEOUT_USEC (25ULL * 1000000ULL)

const char *const bluez_chr_uuid[_BLUEZ_CHR_MAX] = {
        [BLUEZ_CHR_INFO] = BUDS_INFO_UUID,
        [BLUEZ_CHR_MANIFEST] = BUDS_MANIFEST_UUID,
        [BLUEZ_CHR_PROFILE] = BUDS_PROFILE_UUID,
        [BLUEZ_CHR_EQ_CUSTOM] = BUDS_EQ_CUSTOM_UUID,
        [BLUEZ_CHR_EQ_ACTIVE] = BUDS_EQ_ACTIVE_UUID,
        [BLUEZ_CHR_BATTERY] = BATTERY_LEVEL_UUID,
        [BLUEZ_CHR_MANUFACTURER] = DIS_MANUFACTURER_UUID,
        [BLUEZ_CHR_MODEL] = DIS_MODEL_UUID,
        [BLUEZ_CHR_SERIAL] = DIS_SERIAL_UUID,
        [BLUEZ_CHR_FIRMWARE] = DIS_FIRMWARE_UUID,
};

const char *const bluez_chr_name[_BLUEZ_CHR_MAX] = {
        [BLUEZ_CHR_INFO] = "Buds Info",
        [BLUEZ_CHR_MANIFEST] = "Manifest",
        [BLUEZ_CHR_PROFILE] = "profile",
        [BLUEZ_CHR_EQ_CUSTOM] = "eq.custom",
        [BLUEZ_CHR_EQ_ACTIVE] = "eq.active",
        [BLUEZ_CHR_BATTERY] = "Battery Level",
        [BLUEZ_CHR_MANUFACTURER] = "Manufacturer Name",
        [BLUEZ_CHR_MODEL] = "Model Number",
        [BLUEZ_CHR_SERIAL] = "Serial Number",
        [BLUEZ_CHR_FIRMWARE] = "Firmware Revision",
};

/* Device1 properties as they arrive; absent ones stay -1 / NULL. */
struct dev_props {
        char *address;
        char *adapter;
        char *name;
        char *alias;
        int paired, connected, resolved, sync_uuid;
};

static void dev_props_done(struct dev_props *p) {
        free(p->address);
        free(p->adapter);
        free(p->name);
        free(p->alias);
}

/* ---- Buds Info known per address ---- */

const struct buds_info *bluez_known_get(struct bluez *bz, const char *address) {
        for (struct bluez_known *k = bz->known; k; k = k->next)
                if (buds_address_equal(k->address, address))
                        return &k->info;
        return NULL;
}

void bluez_known_drop(struct bluez *bz, const char *address) {
        for (struct bluez_known **p = &bz->known; *p; p = &(*p)->next)
                if (buds_address_equal((*p)->address, address)) {
                        struct bluez_known *k = *p;
                        *p = k->next;
                        free(k);
                        return;
                }
}

int bluez_known_put(struct bluez *bz, const char *address, const struct buds_info *info) {
        char a[BUDS_ADDRESS_SIZE];
        struct bluez_known *k;

        if (buds_address_normalise(address, a) < 0)
                return -EINVAL;
        for (k = bz->known; k; k = k->next)
                if (buds_address_equal(k->address, a))
                        break;
        if (!k) {
                k = calloc(1, sizeof(*k));
                if (!k)
                        return -ENOMEM;
                memcpy(k->address, a, sizeof(a));
                k->next = bz->known;
                bz->known = k;
        }
        k->info = *info;
        return 0;
}

int bluez_remember_buds(struct bluez *bz, const char *address, const struct buds_info *info) {
        uint8_t buf[WIRE_BUDS_INFO_SIZE];

        if (!bz || !address || !info || wire_buds_info_encode(info, buf) < 0)
                return -EINVAL;
        return bluez_known_put(bz, address, info);
}

/* ---- property parsing ---- */

/* Reads a variant holding type sig into p (see sd_bus_message_read_basic),
 * or skips it when the type differs. 1 read, 0 skipped. */
static int read_variant(sd_bus_message *m, char type, void *p) {
        const char *contents;
        char sig[2] = { type, 0 };
        int r;

        r = sd_bus_message_peek_type(m, NULL, &contents);
        if (r < 0)
                return r;
        if (!contents || strcmp(contents, sig) != 0)
                return sd_bus_message_skip(m, "v");
        r = sd_bus_message_enter_container(m, 'v', sig);
        if (r < 0)
                return r;
        r = sd_bus_message_read_basic(m, type, p);
        if (r < 0)
                return r;
        r = sd_bus_message_exit_container(m);
        return r < 0 ? r : 1;
}

static int read_variant_bool(sd_bus_message *m, int *ret) {
        int v, r;

        r = read_variant(m, 'b', &v);
        if (r > 0)
                *ret = !!v;
        return r;
}

static int read_variant_str(sd_bus_message *m, char type, char **ret) {
        const char *s;
        char *d;
        int r;

        r = read_variant(m, type, &s);
        if (r <= 0)
                return r;
        d = strdup(s);
        if (!d)
                return -ENOMEM;
        free(*ret);
        *ret = d;
        return 1;
}

static int read_variant_uuids(sd_bus_message *m, int *ret_has_sync) {
        const char *contents, *s;
        int r, has = 0;

        r = sd_bus_message_peek_type(m, NULL, &contents);
        if (r < 0)
                return r;
        if (!contents || strcmp(contents, "as") != 0)
                return sd_bus_message_skip(m, "v");
        r = sd_bus_message_enter_container(m, 'v', "as");
        if (r >= 0)
                r = sd_bus_message_enter_container(m, 'a', "s");
        while (r >= 0 && (r = sd_bus_message_read_basic(m, 's', &s)) > 0)
                if (strcasecmp(s, BUDS_SYNC_SERVICE_UUID) == 0)
                        has = 1;
        if (r >= 0)
                r = sd_bus_message_exit_container(m);
        if (r >= 0)
                r = sd_bus_message_exit_container(m);
        if (r < 0)
                return r;
        *ret_has_sync = has;
        return 1;
}

static int read_variant_bytes(sd_bus_message *m, const void **ret, size_t *ret_len) {
        const char *contents;
        int r;

        r = sd_bus_message_peek_type(m, NULL, &contents);
        if (r < 0)
                return r;
        if (!contents || strcmp(contents, "ay") != 0)
                return sd_bus_message_skip(m, "v");
        r = sd_bus_message_enter_container(m, 'v', "ay");
        if (r < 0)
                return r;
        r = sd_bus_message_read_array(m, 'y', ret, ret_len);
        if (r < 0)
                return r;
        r = sd_bus_message_exit_container(m);
        return r < 0 ? r : 1;
}

/* An address BlueZ gives enters the house normalised (upper case, as BlueZ
 * writes it anyway); one that is not an address is left for the caller to
 * refuse. */
static int read_address(sd_bus_message *m, char **ret) {
        int r = read_variant_str(m, 's', ret);

        if (r >= 0 && *ret && buds_address_valid(*ret))
                (void) buds_address_normalise(*ret, *ret);
        return r;
}

/* Walks an a{sv}: prop() gets each property's name with the message at its
 * variant, which it must read or skip. The one loop under every reader of
 * properties here (Device1, Adapter1, a single property). */
static int props_walk(sd_bus_message *m, int (*prop)(sd_bus_message *m, const char *name, void *userdata),
                      void *userdata) {
        const char *name;
        int r;

        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                r = sd_bus_message_read_basic(m, 's', &name);
                if (r >= 0)
                        r = prop(m, name, userdata);
                if (r >= 0)
                        r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

static int dev_prop(sd_bus_message *m, const char *name, void *userdata) {
        struct dev_props *p = userdata;

        if (strcmp(name, "Address") == 0)
                return read_address(m, &p->address);
        if (strcmp(name, "Adapter") == 0)
                return read_variant_str(m, 'o', &p->adapter);
        if (strcmp(name, "Name") == 0)
                return read_variant_str(m, 's', &p->name);
        if (strcmp(name, "Alias") == 0)
                return read_variant_str(m, 's', &p->alias);
        if (strcmp(name, "Paired") == 0)
                return read_variant_bool(m, &p->paired);
        if (strcmp(name, "Connected") == 0)
                return read_variant_bool(m, &p->connected);
        if (strcmp(name, "ServicesResolved") == 0)
                return read_variant_bool(m, &p->resolved);
        if (strcmp(name, "UUIDs") == 0)
                return read_variant_uuids(m, &p->sync_uuid);
        return sd_bus_message_skip(m, "v");
}

/* a{sv} of Device1 */
static int dev_props_read(sd_bus_message *m, struct dev_props *p) {
        *p = (struct dev_props) { .paired = -1, .connected = -1, .resolved = -1, .sync_uuid = -1 };
        return props_walk(m, dev_prop, p);
}

struct prop_want {
        const char *name;
        char type;
        const void **ret;
        size_t *ret_len;
        bool found;
};

static int prop_wanted(sd_bus_message *m, const char *name, void *userdata) {
        struct prop_want *w = userdata;
        int r;

        if (w->found || strcmp(name, w->name) != 0)
                return sd_bus_message_skip(m, "v");
        r = w->type == 'y' ? read_variant_bytes(m, w->ret, w->ret_len) : read_variant(m, w->type, w->ret);
        w->found = r > 0;
        return r;
}

/* Finds one property of type ay or s in an a{sv}; skips the rest. */
static int props_find(sd_bus_message *m, const char *want, char type, const void **ret, size_t *ret_len) {
        struct prop_want w = { want, type, ret, ret_len, false };
        int r = props_walk(m, prop_wanted, &w);

        return r < 0 ? r : w.found;
}

/* ---- adapters and selection ---- */

static struct bluez_adapter *adapter_find(struct bluez *bz, const char *path) {
        for (struct bluez_adapter *a = bz->adapters; a; a = a->next)
                if (strcmp(a->path, path) == 0)
                        return a;
        return NULL;
}

struct adapter_props {
        const char *address;            /* NULL: not there */
        int powered;                    /* -1: not there */
};

static int adapter_prop(sd_bus_message *m, const char *name, void *userdata) {
        struct adapter_props *p = userdata;

        if (strcmp(name, "Address") == 0)
                return read_variant(m, 's', &p->address);
        if (strcmp(name, "Powered") == 0)
                return read_variant_bool(m, &p->powered);
        return sd_bus_message_skip(m, "v");
}

/* Address and Powered from an Adapter1 a{sv} (InterfacesAdded,
 * GetManagedObjects, PropertiesChanged). */
static int adapter_props_read(sd_bus_message *m, struct adapter_props *p) {
        *p = (struct adapter_props) { .powered = -1 };
        return props_walk(m, adapter_prop, p);
}

static int adapter_add(struct bluez *bz, const char *path, sd_bus_message *m) {
        struct bluez_adapter *a = adapter_find(bz, path);
        struct adapter_props p;
        int r;

        r = adapter_props_read(m, &p);
        if (r < 0)
                return r;
        if (!a) {
                a = calloc(1, sizeof(*a));
                if (!a || !(a->path = strdup(path))) {
                        free(a);
                        return -ENOMEM;
                }
                a->next = bz->adapters;
                bz->adapters = a;
        }
        if (p.address && buds_address_normalise(p.address, a->address) < 0)
                snprintf(a->address, sizeof(a->address), "%s", p.address);
        if (p.powered >= 0)
                a->powered = p.powered;
        return 0;
}

static void adapter_changed(struct bluez *bz, const char *path, sd_bus_message *m) {
        struct bluez_adapter *a = adapter_find(bz, path);
        struct adapter_props p;

        if (a && adapter_props_read(m, &p) >= 0 && p.powered >= 0)
                a->powered = p.powered;
}

void bluez_summary(struct bluez *bz, struct bluez_summary *ret) {
        *ret = (struct bluez_summary) { .running = bz->owner != NULL };
        for (struct bluez_adapter *a = bz->adapters; a; a = a->next) {
                if (!a->address[0])
                        continue;       /* removed */
                ret->adapters++;
                ret->powered += a->powered;
        }
        for (struct bluez_buds *b = bz->buds; b; b = b->next) {
                if (!b->present)
                        continue;
                ret->paired += b->paired;
                ret->buds += b->selected;
        }
}

static void adapters_free(struct bluez *bz) {
        while (bz->adapters) {
                struct bluez_adapter *a = bz->adapters;
                bz->adapters = a->next;
                free(a->path);
                free(a);
        }
}

static bool adapter_matches(struct bluez *bz, const char *adapter_path) {
        const char *base;
        struct bluez_adapter *a;

        if (!bz->cfg_adapter)
                return true;
        if (!adapter_path)
                return false;
        base = strrchr(adapter_path, '/');
        if (base && strcmp(base + 1, bz->cfg_adapter) == 0)
                return true;
        a = adapter_find(bz, adapter_path);
        return a && buds_address_equal(a->address, bz->cfg_adapter);
}

static bool buds_matches(struct bluez *bz, const struct bluez_buds *b) {
        if (!adapter_matches(bz, b->adapter_path))
                return false;
        if (bz->cfg_address)
                return buds_address_equal(b->address, bz->cfg_address);
        /* Paired Buds already met (in the cache, or read in this run) stay
         * ours when bluetoothd lists their services without the Buds Sync
         * service: its copy of their database can be stale, and that is
         * said (the grace for missing characteristics), not a silence. */
        return b->paired && (b->has_sync_uuid || bluez_known_get(bz, b->address));
}

/* ---- devices ---- */

static struct bluez_buds *buds_by_path(struct bluez *bz, const char *path) {
        for (struct bluez_buds *b = bz->buds; b; b = b->next)
                if (b->path && strcmp(b->path, path) == 0)
                        return b;
        return NULL;
}

/* The device a GATT object belongs to: BlueZ nests them under its path. */
static struct bluez_buds *buds_by_child(struct bluez *bz, const char *path) {
        for (struct bluez_buds *b = bz->buds; b; b = b->next) {
                size_t n = b->path ? strlen(b->path) : 0;
                if (n && strncmp(path, b->path, n) == 0 && path[n] == '/')
                        return b;
        }
        return NULL;
}

/* Buds kept from a previous bluetoothd, found again by address and adapter. */
static struct bluez_buds *buds_absent(struct bluez *bz, const char *address, const char *adapter) {
        for (struct bluez_buds *b = bz->buds; b; b = b->next)
                if (!b->present && buds_address_equal(b->address, address) &&
                    (!adapter || !b->adapter_path || strcmp(b->adapter_path, adapter) == 0))
                        return b;
        return NULL;
}

static void buds_unlink(struct bluez *bz, struct bluez_buds *b) {
        for (struct bluez_buds **p = &bz->buds; *p; p = &(*p)->next)
                if (*p == b) {
                        *p = b->next;
                        b->next = NULL;
                        return;
                }
}

static void take_str(char **dst, char **src) {
        if (!*src)
                return;
        free(*dst);
        *dst = *src;
        *src = NULL;
}

static void dev_props_apply(struct bluez_buds *b, struct dev_props *p) {
        take_str(&b->adapter_path, &p->adapter);
        take_str(&b->name, &p->name);
        take_str(&b->alias, &p->alias);
        if (p->paired >= 0)
                b->paired = p->paired;
        if (p->connected >= 0)
                b->connected = p->connected;
        if (p->connected > 0)
                b->unreachable_told = false;    /* the next streak of failures is news */
        if (p->resolved >= 0)
                b->resolved = p->resolved;
        if (p->sync_uuid >= 0)
                b->has_sync_uuid = p->sync_uuid;
}

/* The Buds no longer match: the engine sees them removed; a fresh, hidden
 * record keeps following the device in case they match again. */
static void buds_deselect(struct bluez *bz, struct bluez_buds *b) {
        struct bluez_buds *n = bluez_buds_new(bz, b->address);

        if (n) {
                n->path = b->path;
                b->path = NULL;
                take_str(&n->adapter_path, &b->adapter_path);
                n->present = true;
                n->paired = b->paired;
                n->connected = b->connected;
                n->resolved = b->resolved;
                n->has_sync_uuid = b->has_sync_uuid;
                for (int i = 0; i < _BLUEZ_CHR_MAX; i++) {
                        n->chr[i].path = b->chr[i].path;
                        n->chr[i].notify_armed = b->chr[i].notify_armed;
                        n->chr[i].value_match = b->chr[i].value_match;
                        b->chr[i].path = NULL;
                        b->chr[i].value_match = NULL;
                }
        }
        buds_unlink(bz, b);
        bluez_buds_detach(b);
}

static void buds_reselect(struct bluez *bz, struct bluez_buds *b) {
        bool match = buds_matches(bz, b);

        if (b->selected && !match)
                buds_deselect(bz, b);
        else {
                b->selected = match;
                bluez_buds_update(b);
        }
}

static int device_added(struct bluez *bz, const char *path, sd_bus_message *m) {
        struct dev_props p;
        struct bluez_buds *b;
        int r;

        r = dev_props_read(m, &p);
        if (r < 0)
                goto out;
        b = buds_by_path(bz, path);
        if (!b && p.address)
                b = buds_absent(bz, p.address, p.adapter);
        if (!b && p.address)
                b = bluez_buds_new(bz, p.address);
        if (!b) {
                r = p.address ? -ENOMEM : 0;
                goto out;
        }
        if (!b->path && !(b->path = strdup(path))) {
                r = -ENOMEM;
                goto out;
        }
        b->present = true;
        dev_props_apply(b, &p);
        buds_reselect(bz, b);
out:
        dev_props_done(&p);
        return r;
}

static void device_removed(struct bluez *bz, const char *path) {
        struct bluez_buds *b = buds_by_path(bz, path);

        if (!b)
                return;
        buds_unlink(bz, b);
        bluez_buds_detach(b);
}

static int chrc_added(struct bluez *bz, const char *path, sd_bus_message *m) {
        struct bluez_buds *b = buds_by_child(bz, path);
        const char *uuid = NULL;
        int r;

        r = props_find(m, "UUID", 's', (const void **) &uuid, NULL);
        if (r <= 0 || !b)
                return r;
        for (int i = 0; i < _BLUEZ_CHR_MAX; i++) {
                if (strcasecmp(uuid, bluez_chr_uuid[i]) != 0 || b->chr[i].path)
                        continue;
                b->chr[i].path = strdup(path);
                if (!b->chr[i].path)
                        return -ENOMEM;
                b->chr[i].notify_armed = false;
                bluez_buds_update(b);
                break;
        }
        return 0;
}

static int chr_by_path(struct bluez *bz, const char *path, struct bluez_buds **ret) {
        struct bluez_buds *b = buds_by_child(bz, path);

        if (!b)
                return -ENOENT;
        for (int i = 0; i < _BLUEZ_CHR_MAX; i++)
                if (b->chr[i].path && strcmp(b->chr[i].path, path) == 0) {
                        *ret = b;
                        return i;
                }
        return -ENOENT;
}

static void chrc_removed(struct bluez *bz, const char *path) {
        struct bluez_buds *b;
        int i = chr_by_path(bz, path, &b);

        if (i >= 0)
                bluez_buds_chr_removed(b, i);
}

/* ---- InterfacesAdded / GetManagedObjects ---- */

/* a{sa{sv}} of one object. gatt: false handles adapters and devices, true
 * characteristics (so a reply's order never matters). */
static int object_added(struct bluez *bz, const char *path, sd_bus_message *m, bool gatt) {
        const char *iface;
        int r;

        r = sd_bus_message_enter_container(m, 'a', "{sa{sv}}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'e', "sa{sv}")) > 0) {
                r = sd_bus_message_read_basic(m, 's', &iface);
                if (r < 0)
                        return r;
                if (!gatt && strcmp(iface, BLUEZ_ADAPTER_IFACE) == 0)
                        r = adapter_add(bz, path, m);
                else if (!gatt && strcmp(iface, BLUEZ_DEVICE_IFACE) == 0)
                        r = device_added(bz, path, m);
                else if (gatt && strcmp(iface, BLUEZ_CHRC_IFACE) == 0)
                        r = chrc_added(bz, path, m);
                else
                        r = sd_bus_message_skip(m, "a{sv}");
                if (r >= 0)
                        r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

static bool from_owner(struct bluez *bz, sd_bus_message *m) {
        const char *sender = sd_bus_message_get_sender(m);

        return bz->owner && sender && strcmp(sender, bz->owner) == 0;
}

static int on_interfaces_added(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct bluez *bz = userdata;
        const char *path;
        int r;

        (void) error;
        if (!from_owner(bz, m))
                return 0;
        r = sd_bus_message_read_basic(m, 'o', &path);
        if (r < 0)
                return 0;
        (void) object_added(bz, path, m, false);
        /* a GATT object of a device we never saw added: a signal was missed,
         * and its objects would stay unmapped; ask for everything again */
        if (strstr(path, "/service") && !buds_by_child(bz, path)) {
                bluez_rescan(bz);
                return 0;
        }
        r = sd_bus_message_rewind(m, true);
        if (r >= 0)
                r = sd_bus_message_skip(m, "o");
        if (r >= 0)
                (void) object_added(bz, path, m, true);
        return 0;
}

static int on_interfaces_removed(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct bluez *bz = userdata;
        const char *path, *iface;
        int r;

        (void) error;
        if (!from_owner(bz, m))
                return 0;
        r = sd_bus_message_read(m, "o", &path);
        if (r >= 0)
                r = sd_bus_message_enter_container(m, 'a', "s");
        while (r >= 0 && (r = sd_bus_message_read_basic(m, 's', &iface)) > 0) {
                if (strcmp(iface, BLUEZ_CHRC_IFACE) == 0)
                        chrc_removed(bz, path);
                else if (strcmp(iface, BLUEZ_DEVICE_IFACE) == 0)
                        device_removed(bz, path);
                else if (strcmp(iface, BLUEZ_ADAPTER_IFACE) == 0) {
                        struct bluez_adapter *a = adapter_find(bz, path);
                        if (a)
                                a->address[0] = 0;
                }
        }
        return 0;
}

static int objects_pass(struct bluez *bz, sd_bus_message *m, bool gatt) {
        const char *path;
        int r;

        r = sd_bus_message_enter_container(m, 'a', "{oa{sa{sv}}}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'e', "oa{sa{sv}}")) > 0) {
                r = sd_bus_message_read_basic(m, 'o', &path);
                if (r >= 0)
                        r = object_added(bz, path, m, gatt);
                if (r >= 0)
                        r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        return r < 0 ? r : sd_bus_message_exit_container(m);
}

/* Buds of a previous bluetoothd that the new one does not have. */
static void drop_vanished(struct bluez *bz) {
        struct bluez_buds *b = bz->buds, *next;

        for (; b; b = next) {
                next = b->next;
                if (!b->present) {
                        buds_unlink(bz, b);
                        bluez_buds_detach(b);
                }
        }
}

static int on_managed_objects(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct bluez *bz = userdata;
        int r;

        (void) error;
        bz->objects_call = sd_bus_slot_unref(bz->objects_call);
        if (sd_bus_message_is_method_error(m, NULL))
                return 0;       /* the owner went away; NameOwnerChanged follows */
        r = objects_pass(bz, m, false);
        if (r >= 0)
                r = sd_bus_message_rewind(m, true);
        if (r >= 0)
                (void) objects_pass(bz, m, true);
        drop_vanished(bz);
        return 0;
}

static int objects_call_start(struct bluez *bz) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = NULL;
        int r;

        /* to the unique name: the reply is that bluetoothd's, whatever happens to the name */
        r = sd_bus_message_new_method_call(bz->bus, &call, bz->owner, "/", OM_IFACE, "GetManagedObjects");
        if (r < 0)
                return r;
        return sd_bus_call_async(bz->bus, &bz->objects_call, call, on_managed_objects, bz,
                                 OBJECTS_TIMEOUT_USEC);
}

void bluez_rescan(struct bluez *bz) {
        if (bz && bz->owner && !bz->objects_call && !bz->freeing)
                (void) objects_call_start(bz);
}

/* ---- PropertiesChanged ---- */

static void device_changed(struct bluez *bz, const char *path, sd_bus_message *m) {
        struct bluez_buds *b = buds_by_path(bz, path);
        struct dev_props p;

        if (!b)
                return;
        if (dev_props_read(m, &p) >= 0) {
                free(p.address);        /* never changes */
                p.address = NULL;
                dev_props_apply(b, &p);
                b->checked = false;
                buds_reselect(bz, b);
        }
        dev_props_done(&p);
}

static int on_device_props(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct bluez_buds *b = userdata;
        struct dev_props p;

        (void) error;
        b->refresh_slot = sd_bus_slot_unref(b->refresh_slot);
        if (!b->bluez || sd_bus_message_is_method_error(m, NULL))
                return 0;       /* the device or bluetoothd went away: their signals say so */
        if (dev_props_read(m, &p) >= 0) {
                free(p.address);
                p.address = NULL;
                dev_props_apply(b, &p);
                b->checked = true;
                buds_reselect(b->bluez, b);
        }
        dev_props_done(&p);
        return 0;
}

int bluez_device_refresh(struct bluez_buds *b) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        struct bluez *bz = b->bluez;
        int r;

        if (!bz || !bz->owner || !b->path)
                return -ENOTCONN;
        if (b->refresh_slot)
                return 0;       /* its answer comes after whatever asked for this one */
        r = sd_bus_message_new_method_call(bz->bus, &m, bz->owner, b->path, PROPS_IFACE, "GetAll");
        if (r >= 0)
                r = sd_bus_message_append(m, "s", BLUEZ_DEVICE_IFACE);
        if (r >= 0)
                r = sd_bus_call_async(bz->bus, &b->refresh_slot, m, on_device_props, b,
                                      bz->cfg.call_timeout_usec);
        return r;
}

static void chrc_changed(struct bluez *bz, const char *path, sd_bus_message *m) {
        struct bluez_buds *b;
        const void *v = NULL;
        size_t n = 0;
        int i = chr_by_path(bz, path, &b);

        if (i < 0)
                return;
        if (props_find(m, "Value", 'y', &v, &n) > 0)
                bluez_buds_value_changed(b, i, v, n);
}

static int on_properties_changed(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct bluez *bz = userdata;
        const char *iface, *path = sd_bus_message_get_path(m);

        (void) error;
        if (!from_owner(bz, m) || !path || sd_bus_message_read_basic(m, 's', &iface) < 0)
                return 0;
        if (strcmp(iface, BLUEZ_DEVICE_IFACE) == 0)
                device_changed(bz, path, m);
        else if (strcmp(iface, BLUEZ_CHRC_IFACE) == 0)
                chrc_changed(bz, path, m);
        else if (strcmp(iface, BLUEZ_ADAPTER_IFACE) == 0)
                adapter_changed(bz, path, m);
        return 0;
}

int bluez_chr_watch(struct bluez_buds *b, enum bluez_chr_id chr) {
        struct bluez_chr *c = &b->chr[chr];

        if (c->value_match)
                return 0;
        if (!b->bluez || !c->path)
                return -ENOTCONN;
        return sd_bus_match_signal_async(b->bluez->bus, &c->value_match, BLUEZ_SERVICE, c->path, PROPS_IFACE,
                                         "PropertiesChanged", on_properties_changed, NULL, b->bluez);
}

/* ---- the owner of org.bluez ---- */

static void owner_lost(struct bluez *bz) {
        struct bluez_buds *b = bz->buds, *next;

        bz->objects_call = sd_bus_slot_unref(bz->objects_call);
        bz->owner = mfree(bz->owner);
        for (; b; b = next) {
                next = b->next;
                if (b->selected)
                        bluez_buds_lost(b);
                else {
                        buds_unlink(bz, b);
                        bluez_buds_detach(b);
                }
        }
        adapters_free(bz);
        if (!bz->freeing && bz->ops.bluetoothd_changed)
                bz->ops.bluetoothd_changed(false, bz->userdata);
}

static int owner_set(struct bluez *bz, const char *owner) {
        bz->owner = strdup(owner);
        if (!bz->owner)
                return -ENOMEM;
        if (bz->ops.bluetoothd_changed)
                bz->ops.bluetoothd_changed(true, bz->userdata);
        return objects_call_start(bz);
}

static int on_name_owner_changed(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct bluez *bz = userdata;
        const char *name, *old, *new, *sender = sd_bus_message_get_sender(m);

        (void) error;
        if (!sender || strcmp(sender, DBUS_SERVICE) != 0)
                return 0;
        if (sd_bus_message_read(m, "sss", &name, &old, &new) < 0 || strcmp(name, BLUEZ_SERVICE) != 0)
                return 0;
        bz->owner_call = sd_bus_slot_unref(bz->owner_call);
        if (bz->owner)
                owner_lost(bz);
        if (*new)
                (void) owner_set(bz, new);
        return 0;
}

static int on_get_name_owner(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct bluez *bz = userdata;
        const char *owner;

        (void) error;
        bz->owner_call = sd_bus_slot_unref(bz->owner_call);
        if (sd_bus_message_is_method_error(m, NULL) || sd_bus_message_read(m, "s", &owner) < 0)
                return 0;       /* not running yet: NameOwnerChanged tells us when it is */
        if (!bz->owner)
                (void) owner_set(bz, owner);
        return 0;
}

static int watch_start(struct bluez *bz) {
        int r;

        /* matches first, then the calls whose answers they complete */
        r = sd_bus_match_signal_async(bz->bus, &bz->match_owner, DBUS_SERVICE, "/org/freedesktop/DBus",
                                      DBUS_SERVICE, "NameOwnerChanged", on_name_owner_changed, NULL, bz);
        if (r >= 0)
                r = sd_bus_match_signal_async(bz->bus, &bz->match_added, BLUEZ_SERVICE, "/", OM_IFACE,
                                              "InterfacesAdded", on_interfaces_added, NULL, bz);
        if (r >= 0)
                r = sd_bus_match_signal_async(bz->bus, &bz->match_removed, BLUEZ_SERVICE, "/", OM_IFACE,
                                              "InterfacesRemoved", on_interfaces_removed, NULL, bz);
        if (r >= 0)
                r = sd_bus_add_match_async(bz->bus, &bz->match_changed,
                                           "type='signal',sender='" BLUEZ_SERVICE "',"
                                           "interface='" PROPS_IFACE "',member='PropertiesChanged',"
                                           "path_namespace='/org/bluez',arg0='" BLUEZ_DEVICE_IFACE "'",
                                           on_properties_changed, NULL, bz);
        /* adapters and devices here; a characteristic only when we asked for
         * its notifications (bluez_chr_watch): BlueZ announces the Value
         * after every ReadValue, and each read would otherwise bring that
         * signal before its answer */
        if (r >= 0)
                r = sd_bus_add_match_async(bz->bus, &bz->match_adapter_changed,
                                           "type='signal',sender='" BLUEZ_SERVICE "',"
                                           "interface='" PROPS_IFACE "',member='PropertiesChanged',"
                                           "path_namespace='/org/bluez',arg0='" BLUEZ_ADAPTER_IFACE "'",
                                           on_properties_changed, NULL, bz);
        if (r < 0)
                return r;
        return sd_bus_call_method_async(bz->bus, &bz->owner_call, DBUS_SERVICE, "/org/freedesktop/DBus",
                                        DBUS_SERVICE, "GetNameOwner", on_get_name_owner, bz, "s",
                                        BLUEZ_SERVICE);
}

/* ---- the client ---- */

/* The configured address, or adapter, normalised as BlueZ's addresses are;
 * an adapter's name ("hci0") is kept as it is. */
static char *strdup_address(const char *s) {
        char *d = strdup(s);

        if (d && buds_address_valid(d))
                (void) buds_address_normalise(d, d);
        return d;
}

static int config_copy(struct bluez *bz, const struct bluez_config *cfg) {
        static const struct bluez_config defaults = {
                .connect_timeout_usec = 30ULL * 1000000ULL,
                .call_timeout_usec = 35ULL * 1000000ULL,
                .backoff_min_usec = 1000000ULL,
                .backoff_max_usec = 300ULL * 1000000ULL,
                .resolve_grace_usec = 5ULL * 1000000ULL,
        };

        bz->cfg = cfg ? *cfg : defaults;
#define DEFAULT(f) if (!bz->cfg.f) bz->cfg.f = defaults.f
        DEFAULT(connect_timeout_usec);
        DEFAULT(call_timeout_usec);
        DEFAULT(backoff_min_usec);
        DEFAULT(backoff_max_usec);
        DEFAULT(resolve_grace_usec);
#undef DEFAULT
        bz->cfg.address = bz->cfg.adapter = NULL;
        if (cfg && cfg->address && *cfg->address && !(bz->cfg_address = strdup_address(cfg->address)))
                return -ENOMEM;
        if (cfg && cfg->adapter && *cfg->adapter && !(bz->cfg_adapter = strdup_address(cfg->adapter)))
                return -ENOMEM;
        return 0;
}

int bluez_new(sd_bus *bus, sd_event *e, const struct bluez_config *cfg,
              const struct bluez_ops *ops, void *userdata, struct bluez **ret) {
        _cleanup_(bluez_freep) struct bluez *bz = NULL;
        int r;

        if (!bus || !e || !ret)
                return -EINVAL;
        bz = calloc(1, sizeof(*bz));
        if (!bz)
                return -ENOMEM;
        bz->bus = sd_bus_ref(bus);
        bz->event = sd_event_ref(e);
        if (ops)
                bz->ops = *ops;
        bz->userdata = userdata;
        bz->next_id = 1;
        bz->rng = random_seed(0);
        r = config_copy(bz, cfg);
        if (r >= 0)
                r = watch_start(bz);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(bz);
        return 0;
}

struct bluez *bluez_free(struct bluez *bz) {
        if (!bz)
                return NULL;
        bz->freeing = true;
        bluez_req_free_all(bz);
        bz->match_owner = sd_bus_slot_unref(bz->match_owner);
        bz->match_added = sd_bus_slot_unref(bz->match_added);
        bz->match_removed = sd_bus_slot_unref(bz->match_removed);
        bz->match_changed = sd_bus_slot_unref(bz->match_changed);
        bz->match_adapter_changed = sd_bus_slot_unref(bz->match_adapter_changed);
        bz->owner_call = sd_bus_slot_unref(bz->owner_call);
        bz->objects_call = sd_bus_slot_unref(bz->objects_call);
        while (bz->buds) {
                struct bluez_buds *b = bz->buds;
                bz->buds = b->next;
                b->next = NULL;
                b->selected = false;    /* no callbacks from here on */
                bluez_buds_detach(b);
        }
        adapters_free(bz);
        while (bz->known) {
                struct bluez_known *k = bz->known;
                bz->known = k->next;
                free(k);
        }
        free(bz->owner);
        free(bz->cfg_address);
        free(bz->cfg_adapter);
        sd_bus_unref(bz->bus);
        sd_event_unref(bz->event);
        free(bz);
        return NULL;
}

const char *bluez_owner(struct bluez *bz) {
        return bz ? bz->owner : NULL;
}

struct bluez_buds *bluez_buds_first(struct bluez *bz) {
        struct bluez_buds *b = bz ? bz->buds : NULL;

        while (b && !b->selected)
                b = b->next;
        return b;
}

struct bluez_buds *bluez_buds_next(struct bluez_buds *b) {
        for (b = b ? b->next : NULL; b && !b->selected; b = b->next)
                ;
        return b;
}

struct bluez_buds *bluez_buds_find(struct bluez *bz, const char *address) {
        char a[BUDS_ADDRESS_SIZE];

        if (!address || buds_address_normalise(address, a) < 0)
                return NULL;
        for (struct bluez_buds *b = bluez_buds_first(bz); b; b = bluez_buds_next(b))
                if (buds_address_equal(b->address, a))
                        return b;
        return NULL;
}
