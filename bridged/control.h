/* SPDX-License-Identifier: MIT */
/* The D-Bus control API org.bridged.Manager1 at /org/bridged (bridged(8)):
 * methods, the Changed signal and the properties, over the manager. The
 * one place that turns errno into D-Bus error names. */
#pragma once

#include <systemd/sd-bus.h>

#include "manager.h"

#define CONTROL_NAME "org.bridged"
#define CONTROL_PATH "/org/bridged"
#define CONTROL_INTERFACE "org.bridged.Manager1"

struct control;

/* Registers the object on bus (it does not request the name). */
int control_new(sd_bus *bus, struct control **ret);
struct control *control_free(struct control *c);
void control_set_manager(struct control *c, struct manager *m);

/* For manager_new(): the ops that turn the manager's reports into the
 * Changed signal and PropertiesChanged; userdata is the control. */
extern const struct manager_ops control_manager_ops;
