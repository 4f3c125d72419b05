/* SPDX-License-Identifier: MIT */
/* buds-periph: the Buds model of buds.c served as a real GATT peripheral
 * through bluetoothd (GattManager1.RegisterApplication and
 * LEAdvertisingManager1.RegisterAdvertisement on one adapter), for the
 * hardware-in-loop VM (tests/hil/). budsim fakes bluetoothd; this program is
 * a client of the real one, so what a bridge sees comes from BlueZ's own
 * GATT server and client. A control FIFO lets a scenario make changes "on
 * the Buds" and take them out of range. A test tool: it must never be linked
 * into the daemon, and it knows nothing of the bridge. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "buds.h"
#include "common/cleanup.h"

#define APP_PATH "/org/bridged/hil/buds"
#define ADV_PATH "/org/bridged/hil/adv"
#define AGENT_PATH "/org/bridged/hil/agent"
#define GATT_SERVICE_IFACE "org.bluez.GattService1"
#define GATT_CHRC_IFACE "org.bluez.GattCharacteristic1"
#define NOTIFY_QUEUE_MAX 16

enum service {
        SERVICE_DIS,
        SERVICE_BATTERY,
        SERVICE_BUDS_SYNC,
        _SERVICE_MAX,
};

static const char *const service_uuid[_SERVICE_MAX] = {
        [SERVICE_DIS] = DIS_SERVICE_UUID,
        [SERVICE_BATTERY] = BATTERY_SERVICE_UUID,
        [SERVICE_BUDS_SYNC] = BUDS_SYNC_SERVICE_UUID,
};

/* Flags: "write" only, never "write-without-response": with the latter,
 * bluetoothd 5.66 acknowledges every write at once and drops our error
 * (gatt-database.c chrc_write_cb passes no reply queue), so a stale or
 * invalid record would look written. */
static const char *const flags_read[] = { "read", NULL };
static const char *const flags_notify[] = { "read", "notify", NULL };
static const char *const flags_write[] = { "read", "write", NULL };
/* --secure: the Buds Sync characteristics need an encrypted link, as on
 * Buds that must be paired; bluetoothd's client then raises the link's
 * security with the bond's key on the first read (BlueZ gatt-database.c
 * parse_chrc_flags: "encrypt-read" is the read property with the encrypt
 * permission). DIS and Battery stay open. */
static const char *const flags_secure_read[] = { "encrypt-read", NULL };
static const char *const flags_secure_notify[] = { "encrypt-read", "notify", NULL };
static const char *const flags_secure_write[] = { "encrypt-read", "encrypt-write", NULL };

static const struct chrc_def {
        const char *uuid;
        enum service service;
        const char *const *flags;
} chrc_defs[_BUDS_ATTR_MAX] = {
        [BUDS_ATTR_MANUFACTURER] = { DIS_MANUFACTURER_UUID, SERVICE_DIS, flags_read },
        [BUDS_ATTR_MODEL] = { DIS_MODEL_UUID, SERVICE_DIS, flags_read },
        [BUDS_ATTR_SERIAL] = { DIS_SERIAL_UUID, SERVICE_DIS, flags_read },
        [BUDS_ATTR_FIRMWARE] = { DIS_FIRMWARE_UUID, SERVICE_DIS, flags_read },
        [BUDS_ATTR_BATTERY] = { BATTERY_LEVEL_UUID, SERVICE_BATTERY, flags_notify },
        [BUDS_ATTR_INFO] = { BUDS_INFO_UUID, SERVICE_BUDS_SYNC, flags_read },
        [BUDS_ATTR_MANIFEST] = { BUDS_MANIFEST_UUID, SERVICE_BUDS_SYNC, flags_notify },
        [BUDS_ATTR_PROFILE] = { BUDS_PROFILE_UUID, SERVICE_BUDS_SYNC, flags_write },
        [BUDS_ATTR_EQ_CUSTOM] = { BUDS_EQ_CUSTOM_UUID, SERVICE_BUDS_SYNC, flags_write },
        [BUDS_ATTR_EQ_ACTIVE] = { BUDS_EQ_ACTIVE_UUID, SERVICE_BUDS_SYNC, flags_write },
};

/* "away-on-write": the next write takes the Buds out of range before they
 * answer it, either before applying it or after (the Buds hold the new
 * record, the client never hears so). */
enum away_on_write {
        AWAY_ON_WRITE_NONE,
        AWAY_ON_WRITE_UNAPPLIED,
        AWAY_ON_WRITE_APPLIED,
};

struct periph;

struct service_obj {
        const char *uuid;
        char path[64];
};

struct chrc_obj {
        struct periph *p;
        enum buds_attr attr;
        const char *uuid;
        const char *service_path;
        bool notifying;         /* between StartNotify and StopNotify */
        char path[64];
};

struct periph {
        sd_event *event;
        sd_bus *bus;
        struct buds *buds;
        const char *adapter;
        const char *name;
        const char *control;
        bool secure;                    /* --secure: pairing needed, and an agent for it */
        char adapter_path[32];
        struct service_obj service[_SERVICE_MAX];
        struct chrc_obj chrc[_BUDS_ATTR_MAX];
        uint8_t queue[NOTIFY_QUEUE_MAX][WIRE_NOTIFY_SIZE];
        unsigned n_queued;
        sd_event_source *flush;
        char line[512];
        size_t line_len;
        unsigned registered;
        enum away_on_write away_on_write;
        sd_bus_message *held;           /* the write answered only once the link is down */
        int held_result;
        bool reregistering;             /* after bluetoothd came back */
        bool awaiting_adapter;          /* ... until it has our adapter again */
        unsigned register_attempts;
        sd_event_source *retry;
};

static void help(void) {
        printf("buds-periph [OPTIONS]\n\n"
               "The Buds of tests/budsim/buds.c as a GATT peripheral of bluetoothd.\n\n"
               "  --adapter hciN       adapter to serve and advertise on (default hci0)\n"
               "  --family standard|pro  (default standard)\n"
               "  --name NAME          advertised local name (default \"Buds\")\n"
               "  --id BUDS_ID         buds id, decimal or 0x-hex (default 0x0123456789abcdef)\n"
               "  --control FIFO       control FIFO (created if missing); one command a line:\n"
               "                         touch KEY HEX   a change on the Buds (payload, wire form)\n"
               "                         reset [pristine]  factory reset\n"
               "                         battery N       battery level 0..100\n"
               "                         away | back     stop advertising and power the adapter off\n"
               "                                         (out of range) / power on and advertise\n"
               "                         away-on-write [applied]  the next record write goes\n"
               "                                         unanswered: away before (or after) applying it\n"
               "                         quit\n"
               "  --secure             the Buds Sync characteristics need an encrypted link\n"
               "                       (a bond); registers a NoInputNoOutput agent as the\n"
               "                       default, which accepts every pairing (Just Works)\n"
               "  -h --help\n\n"
               "Prints \"buds-periph: ready ADDRESS\" on stdout once registered, and again\n"
               "after registering anew with a restarted bluetoothd.\n");
}

/* The one place that knows D-Bus error names. bluetoothd 5.66 maps them to
 * ATT errors (src/gatt-database.c, dbus_error_to_att_ecode): Failed becomes
 * 0x80 unless its message is a number (then that number, 0x80..0x9f, else
 * 0x0e; an empty message parses as 0 and gives 0x0e), InvalidValueLength
 * 0x0d, InvalidOffset 0x07, NotSupported 0x06, any unknown name 0x0e. The
 * messages below always start with a word for that reason. */
static int reply_errno(sd_bus_message *m, int r, const char *why) {
        switch (r) {
        case -ESTALE:
                return sd_bus_reply_method_errorf(m, "org.bluez.Error.Failed", "stale: %s", why);
        case -EMSGSIZE:
                return sd_bus_reply_method_errorf(m, "org.bluez.Error.InvalidValueLength",
                                                  "length: %s", why);
        case -ERANGE:
                return sd_bus_reply_method_errorf(m, "org.bluez.Error.InvalidOffset", "offset: %s", why);
        case -EOPNOTSUPP:
                return sd_bus_reply_method_errorf(m, "org.bluez.Error.NotSupported", "not supported");
        default:
                /* 0x13 cannot be sent through 5.66; the profile's stand-in is 0x0e */
                return sd_bus_reply_method_errorf(m, "org.bridged.Error.InvalidValue", "invalid: %s", why);
        }
}

/* a{sv} options of ReadValue/WriteValue: only "offset" matters here. */
static int read_offset(sd_bus_message *m, uint16_t *ret) {
        const char *key;
        int r;

        *ret = 0;
        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        while (r >= 0 && (r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                r = sd_bus_message_read(m, "s", &key);
                if (r >= 0 && strcmp(key, "offset") == 0)
                        r = sd_bus_message_read(m, "v", "q", ret);
                else if (r >= 0)
                        r = sd_bus_message_skip(m, "v");
                if (r >= 0)
                        r = sd_bus_message_exit_container(m);
        }
        if (r >= 0)
                r = sd_bus_message_exit_container(m);
        return r;
}

static int method_read(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct chrc_obj *c = userdata;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        uint8_t buf[BUDS_VALUE_MAX];
        uint16_t offset;
        int n, r;

        (void) error;
        r = read_offset(m, &offset);
        if (r < 0)
                return r;
        n = buds_read(c->p->buds, c->attr, buf, sizeof(buf));
        if (n < 0)
                return reply_errno(m, n, "cannot encode the value");
        if (offset > n)
                return reply_errno(m, -ERANGE, "past the end");
        r = sd_bus_message_new_method_return(m, &reply);
        if (r >= 0)
                r = sd_bus_message_append_array(reply, 'y', buf + offset, (size_t) (n - offset));
        if (r >= 0)
                r = sd_bus_send(NULL, reply, NULL);
        return r;
}

static int on_step_done(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const sd_bus_error *e = sd_bus_message_get_error(m);

        (void) userdata, (void) error;
        if (e)
                fprintf(stderr, "buds-periph: %s: %s, ignoring\n", e->name, e->message);
        return 0;
}

static int set_powered(struct periph *p, bool on, sd_bus_message_handler_t then) {
        return sd_bus_call_method_async(p->bus, NULL, "org.bluez", p->adapter_path,
                                        "org.freedesktop.DBus.Properties", "Set", then, p, "ssv",
                                        "org.bluez.Adapter1", "Powered", "b", on);
}

static int on_powered_on(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct periph *p = userdata;

        (void) on_step_done(m, userdata, error);
        return sd_bus_call_method_async(p->bus, NULL, "org.bluez", p->adapter_path,
                                        "org.bluez.LEAdvertisingManager1", "RegisterAdvertisement",
                                        on_step_done, p, "oa{sv}", ADV_PATH, 0);
}

/* The answer to a write that took the Buds away goes out after the link
 * dropped, so no client hears it: never answering instead makes
 * bluetoothd 5.66 crash (see tests/hil/README.md). */
static int on_powered_off(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct periph *p = userdata;

        (void) on_step_done(m, userdata, error);
        if (!p->held)
                return 0;
        if (p->held_result < 0)
                (void) sd_bus_reply_method_errorf(p->held, "org.bluez.Error.Failed", "out of range");
        else
                (void) sd_bus_reply_method_return(p->held, NULL);
        p->held = sd_bus_message_unref(p->held);
        return 0;
}

static int on_adv_removed(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        (void) on_step_done(m, userdata, error);
        return set_powered(userdata, false, on_powered_off);
}

/* Out of range: the advertisement goes first, then the adapter powers off
 * and the link drops. In that order because btvirt's emulated controller
 * can go on advertising after a power-off, and a connection to it then
 * trips a kernel BUG in 6.1 (hci_chan_del list corruption). Back: power on,
 * then advertise again. */
static int set_away(struct periph *p, bool away) {
        if (!away)
                return set_powered(p, true, on_powered_on);
        return sd_bus_call_method_async(p->bus, NULL, "org.bluez", p->adapter_path,
                                        "org.bluez.LEAdvertisingManager1", "UnregisterAdvertisement",
                                        on_adv_removed, p, "o", ADV_PATH);
}

/* The write arrives but its answer leaves only after the Buds went out of
 * range: the client sees the link loss, not an answer. */
static int write_then_away(struct periph *p, sd_bus_message *m, enum key key, const uint8_t *value,
                           size_t len) {
        struct value_err e = { "" };
        int r = -ENOTCONN;

        if (p->away_on_write == AWAY_ON_WRITE_APPLIED)
                r = buds_write(p->buds, key, value, len, &e);
        fprintf(stderr, "buds-periph: write %s (%zu bytes): %s, going away before answering\n",
                key_name(key), len,
                p->away_on_write == AWAY_ON_WRITE_UNAPPLIED ? "not applied" : r < 0 ? "rejected" : "applied");
        p->away_on_write = AWAY_ON_WRITE_NONE;
        sd_bus_message_unref(p->held);
        p->held = sd_bus_message_ref(m);
        p->held_result = r;
        return set_away(p, true);
}

static int method_write(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct chrc_obj *c = userdata;
        struct value_err e = { "" };
        const void *value;
        uint16_t offset;
        size_t len;
        int key, r;

        (void) error;
        r = sd_bus_message_read_array(m, 'y', &value, &len);
        if (r >= 0)
                r = read_offset(m, &offset);
        if (r < 0)
                return r;
        key = buds_attr_to_key(c->attr);
        if (key < 0)
                return reply_errno(m, -EOPNOTSUPP, "");
        if (offset != 0)        /* records are written whole */
                return reply_errno(m, -ERANGE, "records are written whole");
        if (c->p->away_on_write != AWAY_ON_WRITE_NONE)
                return write_then_away(c->p, m, (enum key) key, value, len);
        r = buds_write(c->p->buds, (enum key) key, value, len, &e);
        fprintf(stderr, "buds-periph: write %s (%zu bytes): %s%s\n", buds_attr_name(c->attr), len,
                r < 0 ? "rejected, " : "ok", r < 0 ? (e.msg[0] ? e.msg : strerror(-r)) : "");
        if (r < 0)
                return reply_errno(m, r, e.msg[0] ? e.msg : strerror(-r));
        return sd_bus_reply_method_return(m, NULL);
}

static int method_start_notify(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct chrc_obj *c = userdata;

        (void) error;
        c->notifying = true;
        fprintf(stderr, "buds-periph: StartNotify %s\n", buds_attr_name(c->attr));
        return sd_bus_reply_method_return(m, NULL);
}

static int method_stop_notify(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct chrc_obj *c = userdata;

        (void) error;
        c->notifying = false;
        fprintf(stderr, "buds-periph: StopNotify %s\n", buds_attr_name(c->attr));
        return sd_bus_reply_method_return(m, NULL);
}

static int get_flags(sd_bus *bus, const char *path, const char *interface, const char *property,
                     sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        struct chrc_obj *c = userdata;
        const char *const *flags = chrc_defs[c->attr].flags;

        (void) bus, (void) path, (void) interface, (void) property, (void) error;
        if (c->p->secure && chrc_defs[c->attr].service == SERVICE_BUDS_SYNC)
                flags = flags == flags_read     ? flags_secure_read
                        : flags == flags_notify ? flags_secure_notify
                                                : flags_secure_write;
        return sd_bus_message_append_strv(reply, (char **) flags);
}

/* ---- the pairing agent (--secure) ----
 * Buds have neither display nor keyboard: LE Secure Connections "Just
 * Works". One bluetoothd owns both of the VM's controllers, so this default
 * agent answers for the central's side too (a client that calls Pair
 * without an agent of its own gets the default one). Everything is
 * accepted: a test peripheral, never a host's agent. */
static int agent_ok(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        (void) userdata, (void) error;
        fprintf(stderr, "buds-periph: agent %s: accepted\n", sd_bus_message_get_member(m));
        return sd_bus_reply_method_return(m, NULL);
}

static int agent_pin(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        (void) userdata, (void) error;
        return sd_bus_reply_method_return(m, "s", "0000");
}

static int agent_passkey(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        (void) userdata, (void) error;
        return sd_bus_reply_method_return(m, "u", 0);
}

static const sd_bus_vtable agent_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("Release", "", "", agent_ok, 0),
        SD_BUS_METHOD("RequestPinCode", "o", "s", agent_pin, 0),
        SD_BUS_METHOD("DisplayPinCode", "os", "", agent_ok, 0),
        SD_BUS_METHOD("RequestPasskey", "o", "u", agent_passkey, 0),
        SD_BUS_METHOD("DisplayPasskey", "ouq", "", agent_ok, 0),
        SD_BUS_METHOD("RequestConfirmation", "ou", "", agent_ok, 0),
        SD_BUS_METHOD("RequestAuthorization", "o", "", agent_ok, 0),
        SD_BUS_METHOD("AuthorizeService", "os", "", agent_ok, 0),
        SD_BUS_METHOD("Cancel", "", "", agent_ok, 0),
        SD_BUS_VTABLE_END,
};

static int on_agent_reply(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const sd_bus_error *e = sd_bus_message_get_error(m);

        (void) userdata, (void) error;
        if (e && !sd_bus_error_has_name(e, "org.bluez.Error.AlreadyExists"))
                fprintf(stderr, "buds-periph: the pairing agent: %s: %s\n", e->name, e->message);
        return 0;
}

static int register_agent(struct periph *p) {
        int r;

        r = sd_bus_call_method_async(p->bus, NULL, "org.bluez", "/org/bluez", "org.bluez.AgentManager1",
                                     "RegisterAgent", on_agent_reply, p, "os", AGENT_PATH, "NoInputNoOutput");
        if (r >= 0)
                r = sd_bus_call_method_async(p->bus, NULL, "org.bluez", "/org/bluez", "org.bluez.AgentManager1",
                                             "RequestDefaultAgent", on_agent_reply, p, "o", AGENT_PATH);
        return r;
}

static int get_true(sd_bus *bus, const char *path, const char *interface, const char *property,
                    sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        (void) bus, (void) path, (void) interface, (void) property, (void) userdata, (void) error;
        return sd_bus_message_append(reply, "b", 1);
}

static const sd_bus_vtable service_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("UUID", "s", NULL, offsetof(struct service_obj, uuid), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Primary", "b", get_true, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_VTABLE_END,
};

static const sd_bus_vtable chrc_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("UUID", "s", NULL, offsetof(struct chrc_obj, uuid), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Service", "o", NULL, offsetof(struct chrc_obj, service_path),
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Flags", "as", get_flags, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_METHOD("ReadValue", "a{sv}", "ay", method_read, 0),
        SD_BUS_METHOD("WriteValue", "aya{sv}", "", method_write, 0),
        SD_BUS_METHOD("StartNotify", "", "", method_start_notify, 0),
        SD_BUS_METHOD("StopNotify", "", "", method_stop_notify, 0),
        SD_BUS_VTABLE_END,
};

/* The advertisement. Legacy advertising data holds 31 bytes: flags (3), the
 * 128-bit Buds Sync UUID (18) and the appearance (4) leave 6, too few for
 * most names; bluetoothd 5.66 puts LocalName in the scan response
 * (advertising.c generate_scan_rsp), which active discovery reads. */
static int get_adv_type(sd_bus *bus, const char *path, const char *interface, const char *property,
                        sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        (void) bus, (void) path, (void) interface, (void) property, (void) userdata, (void) error;
        return sd_bus_message_append(reply, "s", "peripheral");
}

static int get_adv_uuids(sd_bus *bus, const char *path, const char *interface, const char *property,
                         sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        (void) bus, (void) path, (void) interface, (void) property, (void) userdata, (void) error;
        return sd_bus_message_append(reply, "as", 1, BUDS_SYNC_SERVICE_UUID);
}

static int get_adv_appearance(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        (void) bus, (void) path, (void) interface, (void) property, (void) userdata, (void) error;
        return sd_bus_message_append(reply, "q", 0x0941);       /* earbud */
}

static int method_release(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        (void) userdata, (void) error;
        fprintf(stderr, "buds-periph: advertisement released\n");
        return sd_bus_reply_method_return(m, NULL);
}

static const sd_bus_vtable adv_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Type", "s", get_adv_type, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("ServiceUUIDs", "as", get_adv_uuids, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("LocalName", "s", NULL, offsetof(struct periph, name), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Appearance", "q", get_adv_appearance, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Discoverable", "b", get_true, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_METHOD("Release", "", "", method_release, 0),
        SD_BUS_VTABLE_END,
};

/* A notification is a PropertiesChanged of Value (gatt-api.txt); bluetoothd
 * sends it to every client that enabled the CCC. */
static int emit_value(struct periph *p, const struct chrc_obj *c, const uint8_t *value, size_t len) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *s = NULL;
        int r;

        r = sd_bus_message_new_signal(p->bus, &s, c->path, "org.freedesktop.DBus.Properties",
                                      "PropertiesChanged");
        if (r >= 0)
                r = sd_bus_message_append(s, "s", GATT_CHRC_IFACE);
        if (r >= 0)
                r = sd_bus_message_open_container(s, 'a', "{sv}");
        if (r >= 0)
                r = sd_bus_message_open_container(s, 'e', "sv");
        if (r >= 0)
                r = sd_bus_message_append(s, "s", "Value");
        if (r >= 0)
                r = sd_bus_message_open_container(s, 'v', "ay");
        if (r >= 0)
                r = sd_bus_message_append_array(s, 'y', value, len);
        for (int i = 0; i < 3 && r >= 0; i++)
                r = sd_bus_message_close_container(s);
        if (r >= 0)
                r = sd_bus_message_append(s, "as", 0);
        if (r >= 0)
                r = sd_bus_send(p->bus, s, NULL);
        return r;
}

/* Deferred so that a write's reply goes out before its Manifest notify, the
 * order budsim keeps by default (the model reports the change from inside
 * buds_write, before the handler replies). */
static int on_flush(sd_event_source *s, void *userdata) {
        struct periph *p = userdata;
        const struct chrc_obj *c = &p->chrc[BUDS_ATTR_MANIFEST];

        (void) sd_event_source_set_enabled(s, SD_EVENT_OFF);
        for (unsigned i = 0; i < p->n_queued; i++) {
                fprintf(stderr, "buds-periph: manifest notify key %u revision %u%s\n", p->queue[i][0],
                        p->queue[i][2] | p->queue[i][3] << 8, c->notifying ? "" : " (nobody subscribed)");
                if (c->notifying && emit_value(p, c, p->queue[i], WIRE_NOTIFY_SIZE) < 0)
                        fprintf(stderr, "buds-periph: cannot emit the notify, ignoring\n");
        }
        p->n_queued = 0;
        return 0;
}

static void on_item_changed(struct buds *b, const uint8_t notify[WIRE_NOTIFY_SIZE], void *userdata) {
        struct periph *p = userdata;

        (void) b;
        if (p->n_queued == NOTIFY_QUEUE_MAX) {
                fprintf(stderr, "buds-periph: notify queue full, dropping a notify\n");
                return;
        }
        memcpy(p->queue[p->n_queued++], notify, WIRE_NOTIFY_SIZE);
        (void) sd_event_source_set_enabled(p->flush, SD_EVENT_ONESHOT);
}

static void on_battery_changed(struct buds *b, uint8_t level, void *userdata) {
        struct periph *p = userdata;
        const struct chrc_obj *c = &p->chrc[BUDS_ATTR_BATTERY];

        (void) b;
        if (c->notifying && emit_value(p, c, &level, 1) < 0)
                fprintf(stderr, "buds-periph: cannot emit the battery notify, ignoring\n");
}

static int add_objects(struct periph *p) {
        int r;

        r = sd_bus_add_object_manager(p->bus, NULL, APP_PATH);
        for (unsigned i = 0; i < _SERVICE_MAX && r >= 0; i++) {
                struct service_obj *s = &p->service[i];

                s->uuid = service_uuid[i];
                snprintf(s->path, sizeof(s->path), APP_PATH "/service%u", i);
                r = sd_bus_add_object_vtable(p->bus, NULL, s->path, GATT_SERVICE_IFACE, service_vtable, s);
        }
        for (unsigned i = 0; i < _BUDS_ATTR_MAX && r >= 0; i++) {
                struct chrc_obj *c = &p->chrc[i];

                *c = (struct chrc_obj) {
                        .p = p, .attr = (enum buds_attr) i, .uuid = chrc_defs[i].uuid,
                        .service_path = p->service[chrc_defs[i].service].path,
                };
                char path[sizeof(c->path)];     /* gcc -O1 -Wrestrict cannot tell the two apart */

                snprintf(path, sizeof(path), "%s/char%u", c->service_path, i);
                memcpy(c->path, path, sizeof(path));
                r = sd_bus_add_object_vtable(p->bus, NULL, c->path, GATT_CHRC_IFACE, chrc_vtable, c);
        }
        if (r >= 0)
                r = sd_bus_add_object_vtable(p->bus, NULL, ADV_PATH, "org.bluez.LEAdvertisement1",
                                             adv_vtable, p);
        if (r >= 0 && p->secure)
                r = sd_bus_add_object_vtable(p->bus, NULL, AGENT_PATH, "org.bluez.Agent1", agent_vtable, p);
        return r;
}

/* bluetoothd came back (or its adapter was not there yet): register
 * again a little later, for up to 20 s. */
static void retry_later(struct periph *p) {
        uint64_t now;

        if (++p->register_attempts > 100) {
                fprintf(stderr, "buds-periph: cannot register with bluetoothd again, giving up\n");
                (void) sd_event_exit(p->event, 1);
                return;
        }
        (void) sd_event_now(p->event, CLOCK_MONOTONIC, &now);
        if (sd_event_source_set_time(p->retry, now + 200000) < 0 ||
            sd_event_source_set_enabled(p->retry, SD_EVENT_ONESHOT) < 0)
                (void) sd_event_exit(p->event, 1);
}

static int on_registered(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct periph *p = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);
        _cleanup_(freep) char *address = NULL;

        (void) error;
        if (e && !sd_bus_error_has_name(e, "org.bluez.Error.AlreadyExists")) {
                fprintf(stderr, "buds-periph: registration on %s failed: %s: %s%s\n", p->adapter, e->name,
                        e->message, p->reregistering ? "; retrying" : "");
                if (!p->reregistering)
                        return sd_event_exit(p->event, 1);
                if (p->registered < 2)
                        retry_later(p);
                p->registered = 2;      /* one retry for both calls */
                return 0;
        }
        if (++p->registered < 2)
                return 0;
        p->reregistering = false;
        (void) sd_bus_get_property_string(p->bus, "org.bluez", p->adapter_path, "org.bluez.Adapter1",
                                          "Address", NULL, &address);
        printf("buds-periph: ready %s\n", address ? address : "?");
        fflush(stdout);
        return 0;
}

/* Asynchronous: bluetoothd calls GetManagedObjects and GetAll back into us
 * before it answers RegisterApplication. */
static int register_all(struct periph *p) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        r = sd_bus_set_property(p->bus, "org.bluez", p->adapter_path, "org.bluez.Adapter1", "Powered",
                                &error, "b", 1);
        /* a client reads the name from our GAP service after connecting,
         * and bluetoothd serves the adapter's Alias there */
        if (r >= 0)
                r = sd_bus_set_property(p->bus, "org.bluez", p->adapter_path, "org.bluez.Adapter1", "Alias",
                                        &error, "s", p->name);
        if (r < 0) {
                fprintf(stderr, "buds-periph: cannot set up %s: %s%s%s\n", p->adapter,
                        error.name ? error.name : strerror(-r), error.message && *error.message ? ": " : "",
                        error.message && *error.message ? error.message : "");
                sd_bus_error_free(&error);
                return r;
        }
        /* Pairable: bluetoothd's default, said so that a restarted or
         * differently configured one accepts the bond all the same */
        if (p->secure && (r = sd_bus_set_property(p->bus, "org.bluez", p->adapter_path, "org.bluez.Adapter1",
                                                  "Pairable", &error, "b", 1)) >= 0)
                r = register_agent(p);
        if (r < 0) {
                fprintf(stderr, "buds-periph: cannot make %s pairable: %s\n", p->adapter,
                        error.message ? error.message : strerror(-r));
                sd_bus_error_free(&error);
                return r;
        }
        r = sd_bus_call_method_async(p->bus, NULL, "org.bluez", p->adapter_path, "org.bluez.GattManager1",
                                     "RegisterApplication", on_registered, p, "oa{sv}", APP_PATH, 0);
        if (r >= 0)
                r = sd_bus_call_method_async(p->bus, NULL, "org.bluez", p->adapter_path,
                                             "org.bluez.LEAdvertisingManager1", "RegisterAdvertisement",
                                             on_registered, p, "oa{sv}", ADV_PATH, 0);
        return r;
}

static int on_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        struct periph *p = userdata;

        (void) s, (void) usec;
        p->registered = 0;
        if (register_all(p) < 0)
                retry_later(p);
        return 0;
}

/* A restarted bluetoothd knows nothing of us: once it has our adapter
 * again, register everything again. */
static void adapter_back(struct periph *p) {
        if (!p->awaiting_adapter)
                return;
        p->awaiting_adapter = false;
        fprintf(stderr, "buds-periph: %s is back, registering again\n", p->adapter);
        p->register_attempts = 0;
        p->registered = 0;
        if (register_all(p) < 0)
                retry_later(p);
}

static int on_adapter_added(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct periph *p = userdata;
        const char *path, *iface;
        int r;

        (void) error;
        if (sd_bus_message_read(m, "o", &path) < 0 || strcmp(path, p->adapter_path) != 0)
                return 0;
        r = sd_bus_message_enter_container(m, 'a', "{sa{sv}}");
        while (r > 0 && (r = sd_bus_message_enter_container(m, 'e', "sa{sv}")) > 0) {
                if (sd_bus_message_read(m, "s", &iface) < 0)
                        return 0;
                if (strcmp(iface, "org.bluez.Adapter1") == 0) {
                        adapter_back(p);
                        return 0;
                }
                if (sd_bus_message_skip(m, "a{sv}") < 0 || sd_bus_message_exit_container(m) < 0)
                        return 0;
        }
        return 0;
}

/* The adapter registered before our match took effect: in the objects. */
static int on_objects(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct periph *p = userdata;
        const char *path;
        int r;

        (void) error;
        if (sd_bus_message_is_method_error(m, NULL))
                return 0;       /* gone again: NameOwnerChanged follows */
        r = sd_bus_message_enter_container(m, 'a', "{oa{sa{sv}}}");
        while (r > 0 && (r = sd_bus_message_enter_container(m, 'e', "oa{sa{sv}}")) > 0) {
                if (sd_bus_message_read(m, "o", &path) < 0)
                        return 0;
                if (strcmp(path, p->adapter_path) == 0) {
                        adapter_back(p);
                        return 0;
                }
                if (sd_bus_message_skip(m, "a{sa{sv}}") < 0 || sd_bus_message_exit_container(m) < 0)
                        return 0;
        }
        return 0;
}

static int on_bluez_owner(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct periph *p = userdata;
        const char *name, *old, *new;

        (void) error;
        if (sd_bus_message_read(m, "sss", &name, &old, &new) < 0 || strcmp(name, "org.bluez") != 0 || !new[0])
                return 0;
        /* the name comes first, the adapters a little later (InterfacesAdded) */
        fprintf(stderr, "buds-periph: bluetoothd is back (%s), waiting for %s\n", new, p->adapter);
        p->reregistering = true;
        p->awaiting_adapter = true;
        if (sd_event_source_set_enabled(p->retry, SD_EVENT_OFF) < 0 ||
            sd_bus_call_method_async(p->bus, NULL, new, "/", "org.freedesktop.DBus.ObjectManager",
                                     "GetManagedObjects", on_objects, p, NULL) < 0)
                (void) sd_event_exit(p->event, 1);
        return 0;
}

static int parse_hex(const char *s, uint8_t *buf, size_t size, size_t *ret_len) {
        size_t n = 0;

        for (; s[0] && s[1]; s += 2) {
                unsigned v;

                if (n == size || sscanf(s, "%2x", &v) != 1)
                        return -EINVAL;
                buf[n++] = (uint8_t) v;
        }
        if (*s)
                return -EINVAL;
        *ret_len = n;
        return 0;
}

static int control_touch(struct periph *p, const char *args) {
        struct value_err e = { "" };
        char keyname[16], hex[2 * WIRE_PAYLOAD_MAX + 1] = "";
        uint8_t payload[WIRE_PAYLOAD_MAX];
        size_t len;
        enum key key;
        int r;

        if (sscanf(args, "%15s %148s", keyname, hex) < 1 || key_from_name(keyname, &key) < 0 ||
            parse_hex(hex, payload, sizeof(payload), &len) < 0)
                return -EINVAL;
        r = buds_touch(p->buds, key, payload, len, &e);
        if (r < 0 && e.msg[0])
                fprintf(stderr, "buds-periph: touch %s: %s\n", keyname, e.msg);
        return r;
}

static int control_command(struct periph *p, const char *line) {
        unsigned level;

        fprintf(stderr, "buds-periph: control: %s\n", line);
        if (strncmp(line, "touch ", 6) == 0)
                return control_touch(p, line + 6);
        if (strcmp(line, "reset") == 0 || strcmp(line, "reset pristine") == 0) {
                buds_factory_reset(p->buds, strcmp(line, "reset") != 0);
                return 0;
        }
        if (sscanf(line, "battery %u", &level) == 1)
                return level > 100 ? -EINVAL : buds_set_battery(p->buds, (uint8_t) level);
        if (strcmp(line, "away") == 0 || strcmp(line, "back") == 0)
                return set_away(p, strcmp(line, "away") == 0);
        if (strcmp(line, "away-on-write") == 0 || strcmp(line, "away-on-write applied") == 0) {
                p->away_on_write = line[13] ? AWAY_ON_WRITE_APPLIED : AWAY_ON_WRITE_UNAPPLIED;
                return 0;
        }
        if (strcmp(line, "quit") == 0)
                return sd_event_exit(p->event, 0);
        return -EINVAL;
}

static int on_control(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct periph *p = userdata;
        char *nl;
        ssize_t n;

        (void) s, (void) revents;
        n = read(fd, p->line + p->line_len, sizeof(p->line) - 1 - p->line_len);
        if (n <= 0)
                return 0;       /* EAGAIN; we hold a write end, so never EOF */
        p->line_len += (size_t) n;
        p->line[p->line_len] = '\0';
        while ((nl = strchr(p->line, '\n'))) {
                *nl = '\0';
                if (p->line[0] && control_command(p, p->line) < 0)
                        fprintf(stderr, "buds-periph: control: \"%s\" failed, ignoring\n", p->line);
                p->line_len -= (size_t) (nl + 1 - p->line);
                memmove(p->line, nl + 1, p->line_len + 1);
        }
        if (p->line_len == sizeof(p->line) - 1)
                p->line_len = 0;        /* a line too long for any command */
        return 0;
}

/* O_RDWR: the FIFO keeps a writer (us), so it never reports EOF when a
 * scenario's echo closes its end. */
static int control_open(struct periph *p) {
        int fd, r;

        if (mkfifo(p->control, 0600) < 0 && errno != EEXIST)
                return -errno;
        fd = open(p->control, O_RDWR | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        r = sd_event_add_io(p->event, NULL, fd, EPOLLIN, on_control, p);
        if (r < 0) {
                close(fd);
                return r;
        }
        return 0;
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        (void) si, (void) userdata;
        return sd_event_exit(sd_event_source_get_event(s), 0);
}

static int start(struct periph *p) {
        sigset_t mask;
        int r;

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        r = sd_event_add_signal(p->event, NULL, SIGTERM, on_signal, NULL);
        if (r >= 0)
                r = sd_event_add_signal(p->event, NULL, SIGINT, on_signal, NULL);
        if (r >= 0)
                r = sd_event_add_defer(p->event, &p->flush, on_flush, p);
        if (r >= 0)
                r = sd_event_source_set_enabled(p->flush, SD_EVENT_OFF);
        if (r >= 0)
                r = sd_event_add_time(p->event, &p->retry, CLOCK_MONOTONIC, UINT64_MAX, 0, on_retry, p);
        if (r >= 0)
                r = sd_event_source_set_enabled(p->retry, SD_EVENT_OFF);
        if (r >= 0 && p->control)
                r = control_open(p);
        if (r >= 0)
                r = sd_bus_open_system(&p->bus);
        if (r >= 0)
                r = sd_bus_attach_event(p->bus, p->event, 0);
        if (r >= 0)
                r = sd_bus_add_match(p->bus, NULL,
                                     "type='signal',sender='org.freedesktop.DBus',member='NameOwnerChanged',"
                                     "arg0='org.bluez'", on_bluez_owner, p);
        if (r >= 0)
                r = sd_bus_match_signal(p->bus, NULL, "org.bluez", "/", "org.freedesktop.DBus.ObjectManager",
                                        "InterfacesAdded", on_adapter_added, p);
        if (r >= 0)
                r = add_objects(p);
        if (r >= 0)
                r = register_all(p);
        return r;
}

static int parse_args(struct periph *p, int argc, char **argv, enum family *family, uint64_t *id) {
        static const struct option options[] = {
                { "adapter", required_argument, NULL, 'a' }, { "family", required_argument, NULL, 'f' },
                { "name", required_argument, NULL, 'n' }, { "id", required_argument, NULL, 'i' },
                { "control", required_argument, NULL, 'c' }, { "secure", no_argument, NULL, 's' },
                { "help", no_argument, NULL, 'h' }, {},
        };
        int c;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                switch (c) {
                case 'a':
                        p->adapter = optarg;
                        break;
                case 'f':
                        if (family_from_name(optarg, family) < 0 || *family == FAMILY_ANY)
                                return -EINVAL;
                        break;
                case 'n':
                        p->name = optarg;
                        break;
                case 'i':
                        *id = strtoull(optarg, NULL, 0);
                        break;
                case 'c':
                        p->control = optarg;
                        break;
                case 's':
                        p->secure = true;
                        break;
                case 'h':
                        help();
                        return 0;
                default:
                        return -EINVAL;
                }
        }
        return optind < argc || strlen(p->adapter) > 16 ? -EINVAL : 1;
}

int main(int argc, char **argv) {
        struct periph p = { .adapter = "hci0", .name = "Buds" };
        enum family family = FAMILY_STANDARD;
        uint64_t id = 0x0123456789abcdefull;
        int r;

        r = parse_args(&p, argc, argv, &family, &id);
        if (r <= 0) {
                if (r < 0)
                        fprintf(stderr, "buds-periph: invalid arguments; see --help\n");
                return r < 0 ? 2 : 0;
        }
        snprintf(p.adapter_path, sizeof(p.adapter_path), "/org/bluez/%s", p.adapter);
        r = buds_new(family, id, &p.buds);
        if (r >= 0) {
                buds_set_callbacks(p.buds, on_item_changed, on_battery_changed, &p);
                r = sd_event_default(&p.event);
        }
        if (r >= 0)
                r = start(&p);
        if (r >= 0)
                r = sd_event_loop(p.event);
        if (r < 0)
                fprintf(stderr, "buds-periph: %s\n", strerror(-r));
        p.flush = sd_event_source_unref(p.flush);
        p.retry = sd_event_source_unref(p.retry);
        p.held = sd_bus_message_unref(p.held);
        sd_bus_flush_close_unref(p.bus);
        sd_event_unref(p.event);
        buds_free(p.buds);
        return r < 0 ? 1 : r;
}
