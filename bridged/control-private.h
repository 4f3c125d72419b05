/* SPDX-License-Identifier: MIT */
/* What control.c and control-buds.c share: the control's state. */
#pragma once

#include "access.h"
#include "control.h"
#include "control-watch.h"

#define CONTROL_BUDS_PATH_MAX 64        /* "/org/bridged/buds/AA_BB_CC_DD_EE_FF" */

/* One Buds object as last announced. */
struct control_buds {
        char path[CONTROL_BUDS_PATH_MAX];
        struct manager_buds_view view;
};

struct control {
        sd_bus *bus;
        sd_bus_slot *slot;
        struct manager *manager;
        struct access_rules rules;
        /* who gets the Changed signal (control-watch.h) */
        sd_bus_slot *filter_slot;
        struct control_watch *watch;
        bool watch_full_logged, watch_user_logged;
        /* the properties as last announced */
        const char *state;
        int online, bluetoothd;
        unsigned pending, conflicts;
        /* the Buds objects (control-buds.c) */
        sd_bus_slot *manager_slot, *buds_slot, *enum_slot;
        struct control_buds *buds;
        size_t n_buds;
};

/* control-buds.c: the ObjectManager and the Buds objects on the bus; the
 * views taken again and the differences announced. */
int control_buds_init(struct control *c);
void control_buds_done(struct control *c);
void control_buds_refresh(struct control *c);
