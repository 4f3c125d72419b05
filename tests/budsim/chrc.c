/* SPDX-License-Identifier: MIT */
/* budsim's GATT objects as bluetoothd 5.66 exports a remote device's
 * database: GattService1, GattCharacteristic1 and GattDescriptor1 at
 * handle-numbered paths, ReadValue/WriteValue/StartNotify/StopNotify with
 * asynchronous replies, in-flight operations, notify sessions per sender,
 * injected faults, and BlueZ's mapping of ATT errors to D-Bus errors (in one
 * place: reply_att_error). The Buds' answers come from buds.c only. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "sim.h"

#define SERVICE_IFACE "org.bluez.GattService1"
#define CHRC_IFACE "org.bluez.GattCharacteristic1"
#define DESC_IFACE "org.bluez.GattDescriptor1"
#define CCC_UUID "00002902-0000-1000-8000-00805f9b34fb"

#define P_READ 0x01u
#define P_WRITE 0x02u
#define P_NOTIFY 0x04u
#define P_INDICATE 0x08u

#define ATT_ECODE_READ_NOT_PERMITTED 0x02
#define ATT_ECODE_WRITE_NOT_PERMITTED 0x03
#define ATT_ECODE_INVALID_OFFSET 0x07

struct chr_def {
        const char *uuid;
        enum sim_svc svc;
        int attr;               /* enum buds_attr, -1 for Service Changed */
        unsigned props;
};

static const char *const svc_uuids[_SIM_SVC_MAX] = {
        [SIM_SVC_GATT] = "00001801-0000-1000-8000-00805f9b34fb",
        [SIM_SVC_DIS] = DIS_SERVICE_UUID,
        [SIM_SVC_BATTERY] = BATTERY_SERVICE_UUID,
        [SIM_SVC_SYNC] = BUDS_SYNC_SERVICE_UUID,
};

static const struct chr_def chr_defs[_SIM_CHR_MAX] = {
        [SIM_CHR_SERVICE_CHANGED] = { "00002a05-0000-1000-8000-00805f9b34fb", SIM_SVC_GATT, -1, P_INDICATE },
        [SIM_CHR_MANUFACTURER] = { DIS_MANUFACTURER_UUID, SIM_SVC_DIS, BUDS_ATTR_MANUFACTURER, P_READ },
        [SIM_CHR_MODEL] = { DIS_MODEL_UUID, SIM_SVC_DIS, BUDS_ATTR_MODEL, P_READ },
        [SIM_CHR_SERIAL] = { DIS_SERIAL_UUID, SIM_SVC_DIS, BUDS_ATTR_SERIAL, P_READ },
        [SIM_CHR_FIRMWARE] = { DIS_FIRMWARE_UUID, SIM_SVC_DIS, BUDS_ATTR_FIRMWARE, P_READ },
        [SIM_CHR_BATTERY] = { BATTERY_LEVEL_UUID, SIM_SVC_BATTERY, BUDS_ATTR_BATTERY, P_READ | P_NOTIFY },
        [SIM_CHR_INFO] = { BUDS_INFO_UUID, SIM_SVC_SYNC, BUDS_ATTR_INFO, P_READ },
        [SIM_CHR_MANIFEST] = { BUDS_MANIFEST_UUID, SIM_SVC_SYNC, BUDS_ATTR_MANIFEST, P_READ | P_NOTIFY },
        [SIM_CHR_PROFILE] = { BUDS_PROFILE_UUID, SIM_SVC_SYNC, BUDS_ATTR_PROFILE, P_READ | P_WRITE },
        [SIM_CHR_EQ_CUSTOM] = { BUDS_EQ_CUSTOM_UUID, SIM_SVC_SYNC, BUDS_ATTR_EQ_CUSTOM, P_READ | P_WRITE },
        [SIM_CHR_EQ_ACTIVE] = { BUDS_EQ_ACTIVE_UUID, SIM_SVC_SYNC, BUDS_ATTR_EQ_ACTIVE, P_READ | P_WRITE },
};

const char *const sim_chr_names[_SIM_CHR_MAX] = {
        [SIM_CHR_SERVICE_CHANGED] = "service-changed",
        [SIM_CHR_MANUFACTURER] = "manufacturer",
        [SIM_CHR_MODEL] = "model",
        [SIM_CHR_SERIAL] = "serial",
        [SIM_CHR_FIRMWARE] = "firmware",
        [SIM_CHR_BATTERY] = "battery",
        [SIM_CHR_INFO] = "info",
        [SIM_CHR_MANIFEST] = "manifest",
        [SIM_CHR_PROFILE] = "profile",
        [SIM_CHR_EQ_CUSTOM] = "eq.custom",
        [SIM_CHR_EQ_ACTIVE] = "eq.active",
};

int sim_chr_from_name(const char *name) {
        if (strcmp(name, "*") == 0)
                return -1;
        for (int i = 0; i < _SIM_CHR_MAX; i++)
                if (strcmp(name, sim_chr_names[i]) == 0)
                        return i;
        return -EINVAL;
}

static bool has_ccc(enum sim_chr id) {
        return chr_defs[id].props & (P_NOTIFY | P_INDICATE);
}

static bool gatt_usable(const struct sim_device *d) {
        return d->link == SIM_LINK_UP && d->gatt_ready;
}

/* ---- layout ---- */

static void shuffle_services(struct sim_device *d) {
        enum sim_svc first[] = { SIM_SVC_GATT, SIM_SVC_DIS, SIM_SVC_BATTERY };

        for (unsigned i = 2; i > 0; i--) {
                unsigned j = (unsigned) (sim_random(d->sim) % (i + 1));
                enum sim_svc t = first[i];

                first[i] = first[j];
                first[j] = t;
        }
        memcpy(d->svc_order, first, sizeof(first));
        d->svc_order[3] = SIM_SVC_SYNC;         /* always last: see resolve-order */
}

/* dst = base + "/" + kind + 4 hex digits; base lives in the same device as dst. */
static void path_join(char *dst, size_t size, const char *base, const char *kind, unsigned handle) {
        size_t n = strnlen(base, size - 1);

        memmove(dst, base, n);
        snprintf(dst + n, size - n, "/%s%04x", kind, handle);
}

static uint16_t layout_service(struct sim_device *d, enum sim_svc s, uint16_t h) {
        struct sim_service *svc = &d->svc[s];

        svc->dev = d;
        svc->id = s;
        svc->handle = h++;
        snprintf(svc->path, sizeof(svc->path), "%s/service%04x", d->path, svc->handle);
        for (int c = 0; c < _SIM_CHR_MAX; c++) {
                struct sim_chrc *chrc = &d->chrc[c];

                if (chr_defs[c].svc != s)
                        continue;
                h += (uint16_t) (sim_random(d->sim) % 3);
                chrc->dev = d;
                chrc->id = (enum sim_chr) c;
                chrc->handle = h;
                h += 2;
                path_join(chrc->path, sizeof(chrc->path), svc->path, "char", chrc->handle);
                if (has_ccc(chrc->id))
                        path_join(chrc->ccc_path, sizeof(chrc->ccc_path), chrc->path, "desc", h++);
        }
        return (uint16_t) (h + sim_random(d->sim) % 4);
}

void sim_gatt_layout(struct sim_device *d) {
        uint16_t h = (uint16_t) (1 + sim_random(d->sim) % 32);

        shuffle_services(d);
        for (int i = 0; i < _SIM_SVC_MAX; i++)
                h = layout_service(d, d->svc_order[i], h);
}

/* ---- replies ---- */

static int reply_att_error(sd_bus_message *m, uint8_t ecode) {
        const char *e = SIM_ERROR_BLUEZ ".Failed";

        switch (ecode) {
        case ATT_ECODE_READ_NOT_PERMITTED:
                return sd_bus_reply_method_errorf(m, SIM_ERROR_BLUEZ ".NotPermitted", "Read not permitted");
        case ATT_ECODE_WRITE_NOT_PERMITTED:
                return sd_bus_reply_method_errorf(m, SIM_ERROR_BLUEZ ".NotPermitted", "Write not permitted");
        case 0x05: case 0x0f: case 0x0c:
                return sd_bus_reply_method_errorf(m, SIM_ERROR_BLUEZ ".NotPermitted", "Not paired");
        case ATT_ECODE_INVALID_OFFSET:
                return sd_bus_reply_method_errorf(m, SIM_ERROR_BLUEZ ".InvalidArguments", "Invalid offset");
        case ATT_ECODE_INVALID_LENGTH:
                return sd_bus_reply_method_errorf(m, SIM_ERROR_BLUEZ ".InvalidArguments", "Invalid Length");
        case 0x08:
                return sd_bus_reply_method_errorf(m, SIM_ERROR_BLUEZ ".NotAuthorized", "Operation Not Authorized");
        case 0x06:
                return sd_bus_reply_method_errorf(m, SIM_ERROR_BLUEZ ".NotSupported", "Operation is not supported");
        case 0:
                return sd_bus_reply_method_errorf(m, e, "Operation failed");
        default:
                return sd_bus_reply_method_errorf(m, e, "Operation failed with ATT error: 0x%02x", ecode);
        }
}

static int reply_bytes(sd_bus_message *m, const uint8_t *buf, size_t len) {
        sd_bus_message *reply = NULL;
        int r;

        r = sd_bus_message_new_method_return(m, &reply);
        if (r >= 0)
                r = sd_bus_message_append_array(reply, 'y', buf, len);
        if (r >= 0)
                r = sd_bus_send(NULL, reply, NULL);
        sd_bus_message_unref(reply);
        return r;
}

/* ---- faults ---- */

static bool fault_hits(const struct sim_fault *f, enum sim_chr id, enum sim_fault_kind kind) {
        return f->kind == kind && (f->target < 0 || f->target == (int) id);
}

/* Takes one use of the first matching fault; false if none. */
static bool fault_take(struct sim_device *d, enum sim_chr id, enum sim_fault_kind kind, struct sim_fault *ret) {
        for (unsigned i = 0; i < d->n_fault; i++) {
                struct sim_fault *f = &d->fault[i];

                if (!fault_hits(f, id, kind))
                        continue;
                *ret = *f;
                if (f->count > 0 && --f->count == 0)
                        memmove(f, f + 1, sizeof(*f) * (--d->n_fault - i));
                sim_count(d, "fault");
                return true;
        }
        return false;
}

static void crash_if_told(struct sim_device *d, enum sim_chr id) {
        struct sim_fault f;

        if (!fault_take(d, id, SIM_FAULT_CRASH, &f))
                return;
        fprintf(stderr, "budsim: crashing as told (%s)\n", sim_chr_names[id]);
        fflush(NULL);
        _exit(0);
}

/* The outcome fault of a read or write, if any. */
static bool fault_outcome(struct sim_device *d, enum sim_chr id, bool write, struct sim_fault *ret) {
        return fault_take(d, id, SIM_FAULT_ATT_ERROR, ret) || fault_take(d, id, SIM_FAULT_ERROR, ret) ||
               (!write && fault_take(d, id, SIM_FAULT_MALFORMED, ret)) ||
               (write && fault_take(d, id, SIM_FAULT_DISCONNECT_IN_WRITE, ret)) ||
               (write && fault_take(d, id, SIM_FAULT_IGNORE_WRITE, ret));
}

/* ---- operations ---- */

static struct sim_op *op_free(struct sim_op *op) {
        if (!op)
                return NULL;
        sd_event_source_disable_unref(op->timer);
        for (unsigned i = 0; i < op->n_msg; i++)
                sd_bus_message_unref(op->msg[i]);
        free(op);
        return NULL;
}

/* Detaches op from its characteristic or session. */
static void op_detach(struct sim_op *op) {
        if (op->chrc->read_op == op)
                op->chrc->read_op = NULL;
        if (op->chrc->write_op == op)
                op->chrc->write_op = NULL;
        if (op->session && op->session->op == op)
                op->session->op = NULL;
}

static void op_reply_att(struct sim_op *op, uint8_t ecode) {
        for (unsigned i = 0; i < op->n_msg; i++)
                (void) reply_att_error(op->msg[i], ecode);
}

static void op_reply_fault(struct sim_op *op) {
        for (unsigned i = 0; i < op->n_msg; i++) {
                if (op->fault.kind == SIM_FAULT_ERROR)
                        (void) sd_bus_reply_method_errorf(op->msg[i], op->fault.name, "%s", op->fault.message);
                else
                        (void) reply_att_error(op->msg[i], op->fault.ecode);
        }
}

static void set_value(struct sim_chrc *c, const uint8_t *buf, size_t len) {
        if (len > sizeof(c->value))
                len = sizeof(c->value);
        memcpy(c->value, buf, len);
        c->value_len = len;
        (void) sim_emit_changed(c->dev->sim, c->path, CHRC_IFACE, "Value");
}

static int malform(const struct sim_fault *f, uint8_t *buf, int len) {
        if (strcmp(f->how, "version") == 0 && len > 0) {
                buf[0] = 0xff;
                return len;
        }
        if (strcmp(f->how, "trailing") == 0 && len < BUDS_VALUE_MAX) {
                buf[len] = 0;
                return len + 1;
        }
        return len > 0 ? len - 1 : 0;
}

static void read_complete(struct sim_op *op) {
        struct sim_chrc *c = op->chrc;
        uint8_t buf[BUDS_VALUE_MAX + 1];
        int len;

        if (op->faulted && op->fault.kind != SIM_FAULT_MALFORMED)
                return op_reply_fault(op);
        if (chr_defs[c->id].attr < 0 || !(chr_defs[c->id].props & P_READ))
                return op_reply_att(op, ATT_ECODE_READ_NOT_PERMITTED);
        len = buds_read(c->dev->buds, (enum buds_attr) chr_defs[c->id].attr, buf, BUDS_VALUE_MAX);
        if (len < 0)
                return op_reply_att(op, ATT_ECODE_UNLIKELY);
        if (op->faulted)
                len = malform(&op->fault, buf, len);
        if (op->offset > len)
                return op_reply_att(op, ATT_ECODE_INVALID_OFFSET);
        set_value(c, buf, (size_t) len);        /* BlueZ caches what it read, and says so */
        for (unsigned i = 0; i < op->n_msg; i++)
                (void) reply_bytes(op->msg[i], buf + op->offset, (size_t) len - op->offset);
}

static void flush_deferred(struct sim_device *d) {
        unsigned n = d->n_deferred;

        d->n_deferred = 0;
        for (unsigned i = 0; i < n; i++)
                sim_gatt_notify(d, SIM_CHR_MANIFEST, d->deferred[i], WIRE_NOTIFY_SIZE);
}

static int apply_write(struct sim_op *op) {
        struct sim_device *d = op->chrc->dev;
        int r;

        d->deferring = !d->sim->opt.notify_before_reply;
        r = buds_write(d->buds, (enum key) buds_attr_to_key((enum buds_attr) chr_defs[op->chrc->id].attr),
                       op->value, op->len, NULL);
        d->deferring = false;
        sim_count(d, r == 0 ? "write-ok" : r == -ESTALE ? "stale" : "rejected");
        return r;
}

static void write_complete(struct sim_op *op) {
        struct sim_device *d = op->chrc->dev;
        int r;

        if (op->faulted && op->fault.kind == SIM_FAULT_DISCONNECT_IN_WRITE) {
                if (op->fault.applied)
                        (void) apply_write(op);
                d->n_deferred = 0;              /* the link is gone before the notify */
                sim_count(d, "link-loss");
                op_reply_att(op, ATT_ECODE_UNLIKELY);   /* ATT fails it before the disconnect */
                return sim_device_link_down(d, true);
        }
        if (op->faulted && op->fault.kind == SIM_FAULT_IGNORE_WRITE) {
                sim_count(d, "write-ignored");
                (void) sd_bus_reply_method_return(op->msg[0], NULL);   /* acknowledged, dropped */
                return;
        }
        if (op->faulted)
                return op_reply_fault(op);
        if (!(chr_defs[op->chrc->id].props & P_WRITE))
                return op_reply_att(op, ATT_ECODE_WRITE_NOT_PERMITTED);
        if (op->offset)
                return op_reply_att(op, ATT_ECODE_INVALID_OFFSET);
        if (op->too_long)
                return op_reply_att(op, ATT_ECODE_INVALID_LENGTH);
        r = apply_write(op);
        if (r < 0)
                op_reply_att(op, buds_att_ecode(r));
        else
                (void) sd_bus_reply_method_return(op->msg[0], NULL);
        flush_deferred(d);
}

static void update_notifying(struct sim_chrc *c) {
        bool armed = false;

        for (int i = 0; i < SIM_SESSIONS_MAX; i++)
                armed = armed || (c->session[i] && c->session[i]->armed);
        if (armed == c->notifying)
                return;
        c->notifying = armed;
        (void) sim_emit_changed(c->dev->sim, c->path, CHRC_IFACE, "Notifying");
}

static void start_notify_complete(struct sim_op *op) {
        if (op->faulted) {
                op_reply_fault(op);
                return;
        }
        op->session->armed = true;
        update_notifying(op->chrc);
        (void) sd_bus_reply_method_return(op->msg[0], NULL);
}

static int on_op_done(sd_event_source *s, uint64_t usec, void *userdata) {
        struct sim_op *op = userdata;

        (void) s;
        (void) usec;
        op_detach(op);
        switch (op->kind) {
        case SIM_OP_READ:
                read_complete(op);
                break;
        case SIM_OP_WRITE:
                write_complete(op);
                break;
        case SIM_OP_START_NOTIFY:
                start_notify_complete(op);
                break;
        }
        op_free(op);
        return 0;
}

static int op_new(struct sim_chrc *c, enum sim_op_kind kind, sd_bus_message *m, struct sim_op **ret) {
        struct sim_device *d = c->dev;
        struct sim_fault delay;
        uint64_t ms = d->sim->opt.gatt_delay_ms;
        struct sim_op *op;
        int r;

        crash_if_told(d, c->id);
        if (fault_take(d, c->id, SIM_FAULT_DELAY, &delay))
                ms += delay.ms;
        op = calloc(1, sizeof(*op));
        if (!op)
                return -ENOMEM;
        op->kind = kind;
        op->chrc = c;
        op->msg[op->n_msg++] = sd_bus_message_ref(m);
        if (kind != SIM_OP_START_NOTIFY)
                op->faulted = fault_outcome(d, c->id, kind == SIM_OP_WRITE, &op->fault);
        else
                op->faulted = fault_take(d, c->id, SIM_FAULT_ATT_ERROR, &op->fault) ||
                              fault_take(d, c->id, SIM_FAULT_ERROR, &op->fault);
        r = sd_event_add_time_relative(d->sim->event, &op->timer, CLOCK_MONOTONIC, ms * 1000, 1, on_op_done, op);
        if (r < 0) {
                op_free(op);
                return r;
        }
        *ret = op;
        return 0;
}

/* ---- options a{sv} ---- */

static int parse_options(sd_bus_message *m, uint16_t *offset, const char **type) {
        const char *key, *contents;
        char t;
        int r;

        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                r = sd_bus_message_read(m, "s", &key);
                if (r >= 0)
                        r = sd_bus_message_peek_type(m, &t, &contents);
                if (r < 0)
                        return r;
                if (strcasecmp(key, "offset") == 0 && strcmp(contents, "q") == 0)
                        r = sd_bus_message_read(m, "v", "q", offset);
                else if (type && strcasecmp(key, "type") == 0 && strcmp(contents, "s") == 0)
                        r = sd_bus_message_read(m, "v", "s", type);
                else if (strcasecmp(key, "offset") == 0 || (type && strcasecmp(key, "type") == 0))
                        return -EINVAL;
                else
                        r = sd_bus_message_skip(m, "v");
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

static int invalid_args(sd_bus_error *error) {
        return sd_bus_error_set(error, SIM_ERROR_BLUEZ ".InvalidArguments", "Invalid arguments in method call");
}

static int not_connected(struct sim_device *d, sd_bus_error *error) {
        sim_count(d, "not-connected");
        return sd_bus_error_set(error, SIM_ERROR_BLUEZ ".Failed", "Not connected");
}

static int in_progress(struct sim_device *d, sd_bus_error *error) {
        sim_count(d, "in-progress");
        return sd_bus_error_set(error, SIM_ERROR_BLUEZ ".InProgress", "In Progress");
}

/* ---- GattCharacteristic1 methods ---- */

static int method_read(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct sim_chrc *c = userdata;
        struct sim_device *d = c->dev;
        uint16_t offset = 0;
        int r;

        sim_count(d, "read");
        sim_countf(d, "read:%s", sim_chr_names[c->id]);
        if (!gatt_usable(d))
                return not_connected(d, error);
        if (parse_options(m, &offset, NULL) < 0)
                return invalid_args(error);
        if (c->read_op) {
                if (c->read_op->offset != offset || c->read_op->n_msg == SIM_JOINED_MAX)
                        return in_progress(d, error);
                c->read_op->msg[c->read_op->n_msg++] = sd_bus_message_ref(m);
                return 1;
        }
        r = op_new(c, SIM_OP_READ, m, &c->read_op);
        if (r >= 0)
                c->read_op->offset = offset;
        return r < 0 ? r : 1;
}

/* 1: a request goes out; 0: a command (answered at once); <0: NotSupported */
static int write_kind(const struct sim_chrc *c, const char *type, uint16_t offset) {
        bool can_write = chr_defs[c->id].props & P_WRITE;

        if (type && (strcasecmp(type, "request") == 0 || strcasecmp(type, "reliable") == 0))
                return 1;
        if (!type && can_write)
                return 1;
        if (type && strcasecmp(type, "command") == 0 && !offset)
                return 0;
        return -EOPNOTSUPP;
}

static int start_write(struct sim_chrc *c, sd_bus_message *m, const void *value, size_t len, uint16_t offset) {
        int r;

        r = op_new(c, SIM_OP_WRITE, m, &c->write_op);
        if (r < 0)
                return r;
        c->write_op->offset = offset;
        c->write_op->too_long = len > sizeof(c->write_op->value);
        c->write_op->len = c->write_op->too_long ? 0 : len;
        memcpy(c->write_op->value, value, c->write_op->len);
        return 1;
}

static int method_write(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct sim_chrc *c = userdata;
        struct sim_device *d = c->dev;
        const char *type = NULL;
        uint16_t offset = 0;
        const void *value;
        size_t len;
        int k;

        sim_count(d, "write");
        sim_countf(d, "write:%s", sim_chr_names[c->id]);
        if (!gatt_usable(d))
                return not_connected(d, error);
        if (c->write_op)
                return in_progress(d, error);
        if (sd_bus_message_read_array(m, 'y', &value, &len) < 0 || parse_options(m, &offset, &type) < 0)
                return invalid_args(error);
        k = write_kind(c, type, offset);
        if (k < 0)
                return sd_bus_error_set(error, SIM_ERROR_BLUEZ ".NotSupported", "Operation is not supported");
        if (k == 0) {
                sim_count(d, "write-command");  /* the Buds drop write commands */
                return sd_bus_reply_method_return(m, NULL);
        }
        return start_write(c, m, value, len, offset);
}

static struct sim_session **session_slot(struct sim_chrc *c, const char *sender) {
        for (int i = 0; i < SIM_SESSIONS_MAX; i++)
                if (c->session[i] && strcmp(c->session[i]->sender, sender) == 0)
                        return &c->session[i];
        return NULL;
}

static struct sim_session *session_free(struct sim_session *s) {
        if (!s)
                return NULL;
        if (s->op) {
                op_detach(s->op);
                op_free(s->op);
        }
        sd_bus_track_unref(s->track);
        free(s->sender);
        free(s);
        return NULL;
}

static int on_track_gone(sd_bus_track *track, void *userdata) {
        struct sim_chrc *c = userdata;

        for (int i = 0; i < SIM_SESSIONS_MAX; i++)
                if (c->session[i] && c->session[i]->track == track) {
                        c->session[i] = session_free(c->session[i]);
                        update_notifying(c);
                        break;
                }
        return 0;
}

static int session_new(struct sim_chrc *c, sd_bus_message *m, struct sim_session **ret) {
        struct sim_session **slot = NULL;
        struct sim_session *s;
        int r;

        for (int i = 0; !slot && i < SIM_SESSIONS_MAX; i++)
                if (!c->session[i])
                        slot = &c->session[i];
        if (!slot)
                return -ENOSPC;
        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->sender = strdup(sd_bus_message_get_sender(m));
        r = s->sender ? sd_bus_track_new(sd_bus_message_get_bus(m), &s->track, on_track_gone, c) : -ENOMEM;
        if (r >= 0)
                r = sd_bus_track_add_sender(s->track, m);
        if (r < 0) {
                session_free(s);
                return r;
        }
        *slot = s;
        *ret = s;
        return 0;
}

static int method_start_notify(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct sim_chrc *c = userdata;
        struct sim_session **slot, *s;
        int r;

        sim_count(c->dev, "start-notify");
        if (!has_ccc(c->id))
                return sd_bus_error_set(error, SIM_ERROR_BLUEZ ".NotSupported", "Operation is not supported");
        slot = session_slot(c, sd_bus_message_get_sender(m));
        if (slot)
                return (*slot)->armed ? sd_bus_reply_method_return(m, NULL) : in_progress(c->dev, error);
        r = session_new(c, m, &s);
        if (r < 0)
                return sd_bus_error_set(error, SIM_ERROR_BLUEZ ".Failed", "Failed allocate notify session");
        if (!gatt_usable(c->dev))
                return sd_bus_reply_method_return(m, NULL);     /* armed on connect */
        r = op_new(c, SIM_OP_START_NOTIFY, m, &s->op);
        if (r < 0)
                return r;
        s->op->session = s;
        return 1;
}

static int method_stop_notify(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct sim_chrc *c = userdata;
        struct sim_session **slot;

        sim_count(c->dev, "stop-notify");
        slot = session_slot(c, sd_bus_message_get_sender(m));
        if (!slot)
                return sd_bus_error_set(error, SIM_ERROR_BLUEZ ".Failed", "No notify session started");
        *slot = session_free(*slot);
        update_notifying(c);
        return sd_bus_reply_method_return(m, NULL);
}

/* ---- properties ---- */

#define GETTER(fn) \
        static int fn(sd_bus *bus, const char *path, const char *iface, const char *prop, \
                      sd_bus_message *reply, void *userdata, sd_bus_error *error)
#define UNUSED_GETTER_ARGS (void) bus, (void) path, (void) iface, (void) error

GETTER(chrc_get) {
        struct sim_chrc *c = userdata;
        const char *flags[5];
        unsigned n = 0, p = chr_defs[c->id].props;

        UNUSED_GETTER_ARGS;
        if (strcmp(prop, "UUID") == 0)
                return sd_bus_message_append(reply, "s", chr_defs[c->id].uuid);
        if (strcmp(prop, "Service") == 0)
                return sd_bus_message_append(reply, "o", c->dev->svc[chr_defs[c->id].svc].path);
        if (strcmp(prop, "Value") == 0)
                return sd_bus_message_append_array(reply, 'y', c->value, c->value_len);
        if (strcmp(prop, "Notifying") == 0)
                return sd_bus_message_append(reply, "b", (int) c->notifying);
        if (strcmp(prop, "MTU") == 0)
                return sd_bus_message_append(reply, "q", c->dev->sim->opt.mtu);
        if (p & P_READ)
                flags[n++] = "read";
        if (p & P_WRITE)
                flags[n++] = "write";
        if (p & P_NOTIFY)
                flags[n++] = "notify";
        if (p & P_INDICATE)
                flags[n++] = "indicate";
        flags[n] = NULL;
        return sd_bus_message_append_strv(reply, (char **) flags);
}

GETTER(service_get) {
        struct sim_service *s = userdata;

        UNUSED_GETTER_ARGS;
        if (strcmp(prop, "UUID") == 0)
                return sd_bus_message_append(reply, "s", svc_uuids[s->id]);
        if (strcmp(prop, "Primary") == 0)
                return sd_bus_message_append(reply, "b", 1);
        if (strcmp(prop, "Device") == 0)
                return sd_bus_message_append(reply, "o", s->dev->path);
        return sd_bus_message_append(reply, "ao", 0);
}

GETTER(desc_get) {
        struct sim_chrc *c = userdata;

        UNUSED_GETTER_ARGS;
        if (strcmp(prop, "UUID") == 0)
                return sd_bus_message_append(reply, "s", CCC_UUID);
        if (strcmp(prop, "Characteristic") == 0)
                return sd_bus_message_append(reply, "o", c->path);
        if (strcmp(prop, "Value") == 0)
                return sd_bus_message_append(reply, "ay", 0);
        return sd_bus_message_append(reply, "as", 2, "read", "write");
}

static int desc_not_supported(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        (void) m;
        (void) userdata;
        return sd_bus_error_set(error, SIM_ERROR_BLUEZ ".NotSupported", "Operation is not supported");
}

#define PROP_CHANGE SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE
#define CONST SD_BUS_VTABLE_PROPERTY_CONST
#define UNPRIV SD_BUS_VTABLE_UNPRIVILEGED

static const sd_bus_vtable chrc_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("UUID", "s", chrc_get, 0, CONST),
        SD_BUS_PROPERTY("Service", "o", chrc_get, 0, CONST),
        SD_BUS_PROPERTY("Value", "ay", chrc_get, 0, PROP_CHANGE),
        SD_BUS_PROPERTY("Notifying", "b", chrc_get, 0, PROP_CHANGE),
        SD_BUS_PROPERTY("Flags", "as", chrc_get, 0, CONST),
        SD_BUS_PROPERTY("MTU", "q", chrc_get, 0, PROP_CHANGE),
        SD_BUS_METHOD("ReadValue", "a{sv}", "ay", method_read, UNPRIV),
        SD_BUS_METHOD("WriteValue", "aya{sv}", "", method_write, UNPRIV),
        SD_BUS_METHOD("StartNotify", "", "", method_start_notify, UNPRIV),
        SD_BUS_METHOD("StopNotify", "", "", method_stop_notify, UNPRIV),
        SD_BUS_VTABLE_END,
};

static const sd_bus_vtable service_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("UUID", "s", service_get, 0, CONST),
        SD_BUS_PROPERTY("Primary", "b", service_get, 0, CONST),
        SD_BUS_PROPERTY("Device", "o", service_get, 0, CONST),
        SD_BUS_PROPERTY("Includes", "ao", service_get, 0, PROP_CHANGE),
        SD_BUS_VTABLE_END,
};

static const sd_bus_vtable desc_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("UUID", "s", desc_get, 0, CONST),
        SD_BUS_PROPERTY("Characteristic", "o", desc_get, 0, CONST),
        SD_BUS_PROPERTY("Value", "ay", desc_get, 0, PROP_CHANGE),
        SD_BUS_PROPERTY("Flags", "as", desc_get, 0, CONST),
        SD_BUS_METHOD("ReadValue", "a{sv}", "ay", desc_not_supported, UNPRIV),
        SD_BUS_METHOD("WriteValue", "aya{sv}", "", desc_not_supported, UNPRIV),
        SD_BUS_VTABLE_END,
};

/* ---- object lookup ---- */

enum obj_kind { OBJ_SERVICE, OBJ_CHRC, OBJ_DESC };

enum sim_svc sim_gatt_chr_service(int c) {
        return chr_defs[c].svc;
}

bool sim_gatt_hidden(const struct sim_device *d, enum sim_svc s) {
        return d->sim->opt.stale_cache && s == SIM_SVC_SYNC;
}

static void *lookup(struct sim *sim, const char *path, enum obj_kind kind) {
        for (struct sim_device *d = sim->devices; d; d = d->next) {
                if (!d->exported || strncmp(path, d->path, strlen(d->path)) != 0)
                        continue;
                for (int i = 0; kind == OBJ_SERVICE && i < _SIM_SVC_MAX; i++)
                        if (strcmp(path, d->svc[i].path) == 0 && !sim_gatt_hidden(d, (enum sim_svc) i))
                                return &d->svc[i];
                for (int i = 0; kind == OBJ_CHRC && i < _SIM_CHR_MAX; i++)
                        if (strcmp(path, d->chrc[i].path) == 0 && !sim_gatt_hidden(d, chr_defs[i].svc))
                                return &d->chrc[i];
                for (int i = 0; kind == OBJ_DESC && i < _SIM_CHR_MAX; i++)
                        if (d->chrc[i].ccc_path[0] && strcmp(path, d->chrc[i].ccc_path) == 0 &&
                            !sim_gatt_hidden(d, chr_defs[i].svc))
                                return &d->chrc[i];
        }
        return NULL;
}

#define FINDER(fn, kind) \
        static int fn(sd_bus *bus, const char *path, const char *iface, void *userdata, \
                      void **ret, sd_bus_error *error) { \
                void *o = lookup(userdata, path, kind); \
                (void) bus, (void) iface, (void) error; \
                if (!o) \
                        return 0; \
                *ret = o; \
                return 1; \
        }

FINDER(find_service, OBJ_SERVICE)
FINDER(find_chrc, OBJ_CHRC)
FINDER(find_desc, OBJ_DESC)

int sim_gatt_register(struct sim *sim) {
        int r;

        r = sd_bus_add_fallback_vtable(sim->bus, NULL, "/org/bluez", SERVICE_IFACE, service_vtable,
                                       find_service, sim);
        if (r >= 0)
                r = sd_bus_add_fallback_vtable(sim->bus, NULL, "/org/bluez", CHRC_IFACE, chrc_vtable,
                                               find_chrc, sim);
        if (r >= 0)
                r = sd_bus_add_fallback_vtable(sim->bus, NULL, "/org/bluez", DESC_IFACE, desc_vtable,
                                               find_desc, sim);
        return r;
}

/* ---- export, link ---- */

static void emit_service(struct sim_device *d, enum sim_svc s, bool added) {
        sd_bus *bus = d->sim->bus;

        if (sim_gatt_hidden(d, s))
                return;
        if (added)
                (void) sd_bus_emit_object_added(bus, d->svc[s].path);
        for (int c = 0; c < _SIM_CHR_MAX; c++) {
                if (chr_defs[c].svc != s)
                        continue;
                if (added) {
                        (void) sd_bus_emit_object_added(bus, d->chrc[c].path);
                        if (d->chrc[c].ccc_path[0])
                                (void) sd_bus_emit_object_added(bus, d->chrc[c].ccc_path);
                } else {
                        if (d->chrc[c].ccc_path[0])
                                (void) sd_bus_emit_object_removed(bus, d->chrc[c].ccc_path);
                        (void) sd_bus_emit_object_removed(bus, d->chrc[c].path);
                }
        }
        if (!added)
                (void) sd_bus_emit_object_removed(bus, d->svc[s].path);
}

void sim_gatt_export(struct sim_device *d, bool resolve_before_last) {
        d->exported = true;
        if (!d->sim->bus)
                return;
        for (int i = 0; i < _SIM_SVC_MAX; i++) {
                if (resolve_before_last && i == _SIM_SVC_MAX - 1)
                        sim_device_set_resolved(d, true);
                emit_service(d, d->svc_order[i], true);
        }
}

static void chrc_drop(struct sim_chrc *c) {
        c->read_op = op_free(c->read_op);
        c->write_op = op_free(c->write_op);
        for (int i = 0; i < SIM_SESSIONS_MAX; i++)
                c->session[i] = session_free(c->session[i]);
        c->notifying = false;
        c->value_len = 0;
}

void sim_gatt_unexport(struct sim_device *d, bool emit) {
        if (emit && d->sim->bus)
                for (int i = _SIM_SVC_MAX - 1; i >= 0; i--)
                        emit_service(d, d->svc_order[i], false);
        for (int c = 0; c < _SIM_CHR_MAX; c++)
                chrc_drop(&d->chrc[c]);
        d->exported = false;
}

void sim_gatt_drop_all(struct sim_device *d) {
        for (int c = 0; c < _SIM_CHR_MAX; c++)
                chrc_drop(&d->chrc[c]);
}

void sim_gatt_link_up(struct sim_device *d) {
        for (int c = 0; c < _SIM_CHR_MAX; c++) {
                for (int i = 0; i < SIM_SESSIONS_MAX; i++)
                        if (d->chrc[c].session[i])
                                d->chrc[c].session[i]->armed = true;
                update_notifying(&d->chrc[c]);
        }
}

static void fail_op(struct sim_op *op, uint8_t ecode) {
        if (!op)
                return;
        op_detach(op);
        op_reply_att(op, ecode);
        op_free(op);
}

void sim_gatt_link_down(struct sim_device *d) {
        for (int c = 0; c < _SIM_CHR_MAX; c++) {
                struct sim_chrc *chrc = &d->chrc[c];

                fail_op(chrc->read_op, ATT_ECODE_UNLIKELY);
                fail_op(chrc->write_op, ATT_ECODE_UNLIKELY);
                for (int i = 0; i < SIM_SESSIONS_MAX; i++) {
                        struct sim_session *s = chrc->session[i];

                        if (s && s->op) {
                                fail_op(s->op, ATT_ECODE_UNLIKELY);
                                chrc->session[i] = session_free(s);
                        } else if (s)
                                s->armed = false;
                }
        }
}

/* ---- notifications ---- */

void sim_gatt_notify(struct sim_device *d, enum sim_chr id, const uint8_t *value, size_t len) {
        struct sim_chrc *c = &d->chrc[id];
        struct sim_fault f;
        bool armed = false;

        for (int i = 0; i < SIM_SESSIONS_MAX; i++)
                armed = armed || (c->session[i] && c->session[i]->armed);
        if (!gatt_usable(d) || !d->exported || !armed)
                return;
        if (fault_take(d, id, SIM_FAULT_DROP_NOTIFY, &f))
                return;
        sim_count(d, "notify");
        sim_countf(d, "notify:%s", sim_chr_names[id]);
        set_value(c, value, len);
}

void sim_gatt_item_changed(struct buds *b, const uint8_t notify[WIRE_NOTIFY_SIZE], void *userdata) {
        struct sim_device *d = userdata;

        (void) b;
        if (d->deferring && d->n_deferred < KEY_MAX) {
                memcpy(d->deferred[d->n_deferred++], notify, WIRE_NOTIFY_SIZE);
                return;
        }
        sim_gatt_notify(d, SIM_CHR_MANIFEST, notify, WIRE_NOTIFY_SIZE);
}

void sim_gatt_battery_changed(struct buds *b, uint8_t level, void *userdata) {
        (void) b;
        sim_gatt_notify(userdata, SIM_CHR_BATTERY, &level, 1);
}
