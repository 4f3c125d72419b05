/* SPDX-License-Identifier: MIT */
/* The Buds objects of the control API: /org/bridged/buds/AA_BB_CC_DD_EE_FF
 * with org.bridged.Buds1, under the ObjectManager on /org/bridged, for
 * applets and status bars. Each is the manager's view of one Buds the bridge
 * remembers; after every report of the manager the views are taken again and
 * compared with what was last announced: a new Buds is InterfacesAdded, a
 * property that moved is PropertiesChanged, a Buds forgotten is
 * InterfacesRemoved. A handful of Buds: a linear pass is the whole cost. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "control-private.h"
#include "log.h"

#define BUDS_PREFIX CONTROL_PATH "/buds"
#define BUDS_INTERFACE "org.bridged.Buds1"

static void buds_path(const char *address, char buf[static CONTROL_BUDS_PATH_MAX]) {
        size_t n = (size_t) snprintf(buf, CONTROL_BUDS_PATH_MAX, "%s/%s", BUDS_PREFIX, address);

        for (size_t i = sizeof(BUDS_PREFIX); i < n; i++)
                if (buf[i] == ':')
                        buf[i] = '_';
}

static struct control_buds *buds_in(struct control_buds *all, size_t n, const char *path) {
        for (size_t i = 0; i < n; i++)
                if (strcmp(all[i].path, path) == 0)
                        return &all[i];
        return NULL;
}

static int buds_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **found,
                     sd_bus_error *ret_error) {
        struct control *c = userdata;
        struct control_buds *b = buds_in(c->buds, c->n_buds, path);

        (void) bus;
        (void) interface;
        (void) ret_error;
        if (!b)
                return 0;
        *found = b;
        return 1;
}

static int buds_enumerate(sd_bus *bus, const char *prefix, void *userdata, char ***ret_nodes,
                          sd_bus_error *ret_error) {
        struct control *c = userdata;
        char **nodes = calloc(c->n_buds + 1, sizeof(char *));

        (void) bus;
        (void) prefix;
        (void) ret_error;
        if (!nodes)
                return -ENOMEM;
        for (size_t i = 0; i < c->n_buds; i++)
                if (!(nodes[i] = strdup(c->buds[i].path))) {
                        for (size_t k = 0; k < i; k++)
                                free(nodes[k]);
                        free(nodes);
                        return -ENOMEM;
                }
        *ret_nodes = nodes;
        return 0;
}

static int buds_property(sd_bus *bus, const char *path, const char *interface, const char *property,
                         sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        const struct manager_buds_view *v = &((struct control_buds *) userdata)->view;
        char id[17];
        int r;

        (void) bus;
        (void) path;
        (void) interface;
        (void) ret_error;
        if (strcmp(property, "Address") == 0)
                return sd_bus_message_append(reply, "s", v->address);
        if (strcmp(property, "Name") == 0)
                return sd_bus_message_append(reply, "s", v->name);
        if (strcmp(property, "Family") == 0)
                return sd_bus_message_append(reply, "s", v->family == FAMILY_ANY ? "" : family_name(v->family));
        if (strcmp(property, "BudsId") == 0) {
                (void) snprintf(id, sizeof(id), "%016llx", (unsigned long long) v->buds_id);
                return sd_bus_message_append(reply, "s", id);
        }
        if (strcmp(property, "Firmware") == 0)
                return sd_bus_message_append(reply, "s", v->firmware);
        if (strcmp(property, "Battery") == 0)
                return sd_bus_message_append(reply, "y", (uint8_t) (v->battery >= 0 ? v->battery : 255));
        if (strcmp(property, "Connected") == 0)
                return sd_bus_message_append(reply, "b", v->connected);
        /* Items */
        r = sd_bus_message_open_container(reply, 'a', "{ss}");
        for (int k = KEY_MIN; r >= 0 && k <= KEY_MAX; k++)
                if (v->item[k])
                        r = sd_bus_message_append(reply, "{ss}", key_name((enum key) k), v->item[k]);
        return r < 0 ? r : sd_bus_message_close_container(reply);
}

static const sd_bus_vtable buds_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Address", "s", buds_property, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Name", "s", buds_property, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Family", "s", buds_property, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("BudsId", "s", buds_property, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Firmware", "s", buds_property, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Battery", "y", buds_property, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Connected", "b", buds_property, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Items", "a{ss}", buds_property, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_VTABLE_END,
};

int control_buds_init(struct control *c) {
        int r = sd_bus_add_object_manager(c->bus, &c->manager_slot, CONTROL_PATH);

        if (r >= 0)
                r = sd_bus_add_fallback_vtable(c->bus, &c->buds_slot, BUDS_PREFIX, BUDS_INTERFACE, buds_vtable,
                                               buds_find, c);
        if (r >= 0)
                r = sd_bus_add_node_enumerator(c->bus, &c->enum_slot, BUDS_PREFIX, buds_enumerate, c);
        return r;
}

void control_buds_done(struct control *c) {
        c->enum_slot = sd_bus_slot_unref(c->enum_slot);
        c->buds_slot = sd_bus_slot_unref(c->buds_slot);
        c->manager_slot = sd_bus_slot_unref(c->manager_slot);
        c->buds = mfree(c->buds);
        c->n_buds = 0;
}

static bool items_equal(const struct manager_buds_view *a, const struct manager_buds_view *b) {
        for (int k = KEY_MIN; k <= KEY_MAX; k++)
                if ((a->item[k] == NULL) != (b->item[k] == NULL) ||
                    (a->item[k] && strcmp(a->item[k], b->item[k]) != 0))
                        return false;
        return true;
}

/* The names of the properties that differ between was and now. */
static size_t buds_diff(const struct manager_buds_view *was, const struct manager_buds_view *now,
                        const char *changed[static 8]) {
        size_t n = 0;

        if (strcmp(was->name, now->name) != 0)
                changed[n++] = "Name";
        if (was->family != now->family)
                changed[n++] = "Family";
        if (was->buds_id != now->buds_id)
                changed[n++] = "BudsId";
        if (strcmp(was->firmware, now->firmware) != 0)
                changed[n++] = "Firmware";
        if (was->battery != now->battery)
                changed[n++] = "Battery";
        if (was->connected != now->connected)
                changed[n++] = "Connected";
        if (!items_equal(was, now))
                changed[n++] = "Items";
        changed[n] = NULL;
        return n;
}

void control_buds_refresh(struct control *c) {
        _cleanup_free_ struct manager_buds_view *views = NULL;
        _cleanup_free_ struct control_buds *old = NULL;
        struct control_buds *next;
        size_t n = 0, old_n;

        if (!c->manager || manager_buds_views(c->manager, &views, &n) < 0)
                return;
        next = calloc(n ? n : 1, sizeof(*next));
        if (!next)
                return;
        for (size_t i = 0; i < n; i++) {
                buds_path(views[i].address, next[i].path);
                next[i].view = views[i];
        }
        /* gone: announced while the old views still answer for them */
        for (size_t i = 0; i < c->n_buds; i++)
                if (!buds_in(next, n, c->buds[i].path))
                        (void) sd_bus_emit_object_removed(c->bus, c->buds[i].path);
        old = c->buds;
        old_n = c->n_buds;
        c->buds = next;
        c->n_buds = n;
        for (size_t i = 0; i < n; i++) {
                struct control_buds *was = buds_in(old, old_n, next[i].path);
                const char *changed[8];

                if (!was)
                        (void) sd_bus_emit_object_added(c->bus, next[i].path);
                else if (buds_diff(&was->view, &next[i].view, changed) > 0)
                        (void) sd_bus_emit_properties_changed_strv(c->bus, next[i].path, BUDS_INTERFACE,
                                                                   (char **) changed);
        }
}
