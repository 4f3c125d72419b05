/* SPDX-License-Identifier: MIT */
/* GATT method calls on BlueZ's characteristics, one at a time per
 * characteristic (BlueZ answers InProgress to a second write in flight), and
 * BlueZ's errors turned into errnos. A cancelled call stays at the head of
 * its queue until BlueZ answers, so the next one never overlaps it. It must
 * never guess: an error that a lost link also produces (ATT 0x0E) is checked
 * against the link before it is called a rejection. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bluez-private.h"

#define ATT_ERROR_PREFIX "Operation failed with ATT error: "

static void op_free(struct bluez_op *op) {
        sd_bus_slot_unref(op->slot);
        bluez_buds_unref(op->buds);
        free(op->data);
        free(op);
}

static struct bluez_op *queue_pop(struct bluez_chr *c) {
        struct bluez_op *op = c->head;

        if (op) {
                c->head = op->next;
                op->next = NULL;
        }
        return op;
}

static void queue_unlink(struct bluez_chr *c, struct bluez_op *op) {
        for (struct bluez_op **p = &c->head; *p; p = &(*p)->next)
                if (*p == op) {
                        *p = op->next;
                        op->next = NULL;
                        return;
                }
}

static void op_complete(struct bluez_op *op, int r, const uint8_t *v, size_t n, const char *why) {
        op->slot = sd_bus_slot_unref(op->slot);
        if (!op->cancelled && op->done)
                op->done(op, r, v, n, why ? why : "", op->userdata);
        op_free(op);
}

static int on_reply(sd_bus_message *m, void *userdata, sd_bus_error *error);

static int op_send(struct bluez_op *op) {
        static const char *const member[] = {
                [BLUEZ_OP_READ] = "ReadValue",
                [BLUEZ_OP_WRITE] = "WriteValue",
                [BLUEZ_OP_START_NOTIFY] = "StartNotify",
        };
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        struct bluez_buds *b = op->buds;
        struct bluez *bz = b->bluez;
        int r;

        if (!bz || !bz->owner || !b->chr[op->chr].path)
                return -ENOTCONN;
        r = sd_bus_message_new_method_call(bz->bus, &m, bz->owner, b->chr[op->chr].path,
                                           BLUEZ_CHRC_IFACE, member[op->kind]);
        if (r >= 0 && op->kind == BLUEZ_OP_WRITE)
                r = sd_bus_message_append_array(m, 'y', op->data, op->len);
        if (r >= 0 && op->kind == BLUEZ_OP_WRITE)
                r = sd_bus_message_append(m, "a{sv}", 1, "type", "s", "request");
        else if (r >= 0 && op->kind == BLUEZ_OP_READ)
                r = sd_bus_message_append(m, "a{sv}", 0);
        if (r >= 0)
                r = sd_bus_call_async(bz->bus, &op->slot, m, on_reply, op, bz->cfg.call_timeout_usec);
        if (r < 0)
                return r;
        op->sent = true;
        op->epoch = b->link_epoch;
        return 0;
}

/* Sends the head of chr's queue when nothing is in flight; failures of ops
 * that cannot be sent complete them. */
static void chr_kick(struct bluez_buds *b, enum bluez_chr_id chr) {
        struct bluez_chr *c = &b->chr[chr];
        int r;

        while (c->head && !c->head->sent) {
                r = op_send(c->head);
                if (r >= 0)
                        return;
                op_complete(queue_pop(c), r, NULL, 0,
                            r == -ENOTCONN ? "not connected" : "cannot send the call");
        }
}

/* The op at the head of its queue is done. */
static void op_finish(struct bluez_op *op, int r, const uint8_t *v, size_t n, const char *why) {
        struct bluez_buds *b = bluez_buds_ref(op->buds);
        enum bluez_chr_id chr = op->chr;

        queue_unlink(&b->chr[chr], op);
        op_complete(op, r, v, n, why);
        chr_kick(b, chr);
        bluez_buds_unref(b);
}

static int att_error(const char *message) {
        unsigned ecode;

        if (!message || strncmp(message, ATT_ERROR_PREFIX, strlen(ATT_ERROR_PREFIX)) != 0)
                return -1;
        if (sscanf(message + strlen(ATT_ERROR_PREFIX), "%x", &ecode) != 1 || ecode > 0xff)
                return -1;
        return (int) ecode;
}

/* org.bluez.Error.Failed. *ambiguous: a lost link answers the same. */
static int map_failed(const sd_bus_error *e, char *why, size_t n, bool *ambiguous) {
        int ecode = att_error(e->message);

        if (e->message && strcmp(e->message, "Not connected") == 0)
                return snprintf(why, n, "not connected"), -ENOTCONN;
        if (ecode == ATT_ECODE_STALE)
                return snprintf(why, n, "stale revision (ATT error 0x80): nothing changed, read the item again"),
                       -ESTALE;
        if (ecode == ATT_ECODE_VALUE_NOT_ALLOWED)
                return snprintf(why, n, "value rejected by the Buds (ATT error 0x13): nothing changed"), -EINVAL;
        if (ecode == ATT_ECODE_UNLIKELY) {
                *ambiguous = true;
                return snprintf(why, n, "value rejected by the Buds (ATT error 0x0e): nothing changed"), -EINVAL;
        }
        if (ecode < 0 && e->message && strcmp(e->message, "Operation failed") == 0)
                *ambiguous = true;
        return snprintf(why, n, "%s: %s", e->name, e->message ? e->message : ""), -EIO;
}

static int map_error(const sd_bus_error *e, char *why, size_t n, bool *ambiguous) {
        const char *msg = e->message ? e->message : "";

        if (sd_bus_error_has_name(e, "org.bluez.Error.Failed"))
                return map_failed(e, why, n, ambiguous);
        if (sd_bus_error_has_name(e, "org.bluez.Error.InvalidArguments"))
                return snprintf(why, n, "value rejected by the Buds (%s, ATT error 0x0d): nothing changed", msg),
                       -EINVAL;
        if (sd_bus_error_has_name(e, "org.bluez.Error.InProgress"))
                return snprintf(why, n, "BlueZ still has an operation in flight (InProgress)"), -EBUSY;
        if (sd_bus_error_has_name(e, "org.bluez.Error.NotConnected"))
                return snprintf(why, n, "not connected"), -ENOTCONN;
        if (sd_bus_error_has_name(e, SD_BUS_ERROR_NO_REPLY) && !strstr(msg, "disconnected"))
                return snprintf(why, n, "no answer from bluetoothd in time (%s)", msg), -ETIMEDOUT;
        if (sd_bus_error_has_name(e, SD_BUS_ERROR_TIMEOUT) ||
            sd_bus_error_has_name(e, "org.freedesktop.DBus.Error.TimedOut"))
                return snprintf(why, n, "timed out (%s)", msg), -ETIMEDOUT;
        if (sd_bus_error_has_name(e, SD_BUS_ERROR_NO_REPLY) ||
            sd_bus_error_has_name(e, SD_BUS_ERROR_SERVICE_UNKNOWN) ||
            sd_bus_error_has_name(e, SD_BUS_ERROR_NAME_HAS_NO_OWNER) ||
            sd_bus_error_has_name(e, SD_BUS_ERROR_DISCONNECTED))
                return snprintf(why, n, "bluetoothd went away (%s)", msg), -ENOTCONN;
        if (sd_bus_error_has_name(e, SD_BUS_ERROR_UNKNOWN_OBJECT) ||
            sd_bus_error_has_name(e, SD_BUS_ERROR_UNKNOWN_METHOD))
                return snprintf(why, n, "the characteristic vanished (%s)", msg), -ENOENT;
        return snprintf(why, n, "%s: %s", e->name, msg), -EIO;
}

static void lost_link(struct bluez_op *op) {
        op->error = -ENOTCONN;
        snprintf(op->why, sizeof(op->why), op->kind == BLUEZ_OP_WRITE ?
                 "link lost during the write: it may or may not have been applied, read the item again" :
                 "link lost during the operation");
}

static int on_connected(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct bluez_op *op = userdata;
        int connected = 0;

        (void) error;
        if (sd_bus_message_is_method_error(m, NULL) ||
            sd_bus_message_read(m, "v", "b", &connected) < 0 || !connected ||
            op->epoch != op->buds->link_epoch)
                lost_link(op);
        op_finish(op, op->error, NULL, 0, op->why);
        return 0;
}

/* ATT 0x0E is also what a link lost mid-operation gives: ask BlueZ whether
 * the device is still connected. Its answer comes after any signal it sent
 * about the link before, so the order on the bus settles it. */
static int check_link(struct bluez_op *op) {
        struct bluez_buds *b = op->buds;
        struct bluez *bz = b->bluez;

        if (op->epoch != b->link_epoch || !b->connected || !bz || !bz->owner || !b->path)
                return -ENOTCONN;
        return sd_bus_call_method_async(bz->bus, &op->slot, bz->owner, b->path,
                                        "org.freedesktop.DBus.Properties", "Get", on_connected, op,
                                        "ss", BLUEZ_DEVICE_IFACE, "Connected");
}

static void on_error_reply(struct bluez_op *op, const sd_bus_error *e) {
        bool ambiguous = false;

        op->error = map_error(e, op->why, sizeof(op->why), &ambiguous);
        if (op->error == -ENOTCONN && op->kind == BLUEZ_OP_WRITE && op->epoch != op->buds->link_epoch)
                lost_link(op);
        if (ambiguous && check_link(op) >= 0)
                return;
        if (ambiguous)
                lost_link(op);
        op_finish(op, op->error, NULL, 0, op->why);
}

static int on_reply(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct bluez_op *op = userdata;
        const void *v = NULL;
        size_t n = 0;
        int r;

        (void) error;
        op->slot = sd_bus_slot_unref(op->slot);
        if (sd_bus_message_is_method_error(m, NULL)) {
                on_error_reply(op, sd_bus_message_get_error(m));
                return 0;
        }
        if (op->kind != BLUEZ_OP_READ) {
                op_finish(op, 0, NULL, 0, NULL);
                return 0;
        }
        r = sd_bus_message_read_array(m, 'y', &v, &n);
        if (r < 0)
                op_finish(op, -EBADMSG, NULL, 0, "ReadValue's reply is not an array of bytes");
        else
                op_finish(op, 0, v, n, NULL);
        return 0;
}

int bluez_op_start(struct bluez_buds *b, enum bluez_chr_id chr, enum bluez_op_kind kind,
                   const uint8_t *data, size_t len, bluez_op_done_t done, void *userdata,
                   struct bluez_op **ret) {
        struct bluez_chr *c = &b->chr[chr];
        struct bluez_op **tail, *op;
        int r;

        if (!b->bluez || !b->present)
                return b->bluez ? -ENOTCONN : -ENODEV;
        if (!c->path)
                return -ENOENT;
        op = calloc(1, sizeof(*op));
        if (!op || (len && !(op->data = malloc(len)))) {
                free(op);
                return -ENOMEM;
        }
        if (len)
                memcpy(op->data, data, len);
        *op = (struct bluez_op) { .buds = bluez_buds_ref(b), .chr = chr, .kind = kind, .data = op->data,
                                  .len = len, .done = done, .userdata = userdata };
        for (tail = &c->head; *tail; tail = &(*tail)->next)
                ;
        *tail = op;
        if (c->head == op && (r = op_send(op)) < 0) {
                queue_unlink(c, op);
                op_free(op);
                return r;
        }
        if (ret)
                *ret = op;
        return 0;
}

void bluez_op_cancel(struct bluez_op *op) {
        struct bluez_chr *c;

        if (!op)
                return;
        if (op->sent) {
                op->cancelled = true;   /* BlueZ is busy with it: keep our place until it answers */
                return;
        }
        c = &op->buds->chr[op->chr];
        queue_unlink(c, op);
        op_free(op);
}

void bluez_chr_fail_queued(struct bluez_buds *b, enum bluez_chr_id chr, int r, const char *why) {
        struct bluez_chr *c = &b->chr[chr];
        struct bluez_op **p = &c->head;

        bluez_buds_ref(b);
        while (*p) {
                struct bluez_op *op = *p;
                if (op->sent) {
                        p = &op->next;
                        continue;
                }
                *p = op->next;
                op->next = NULL;
                op_complete(op, r, NULL, 0, why);
                p = &c->head;   /* a callback may have changed the queue */
        }
        bluez_buds_unref(b);
}

void bluez_chr_fail_all(struct bluez_buds *b, enum bluez_chr_id chr, int r, const char *why) {
        struct bluez_op *op;

        bluez_buds_ref(b);
        while ((op = queue_pop(&b->chr[chr]))) {
                if (op->sent && op->kind == BLUEZ_OP_WRITE && r == -ENOTCONN)
                        op_complete(op, r, NULL, 0,
                                    "bluetoothd went away during the write: it may or may not have been "
                                    "applied, read the item again");
                else
                        op_complete(op, r, NULL, 0, why);
        }
        bluez_buds_unref(b);
}

void bluez_chr_drop(struct bluez_buds *b, enum bluez_chr_id chr) {
        struct bluez_op *op;

        while ((op = queue_pop(&b->chr[chr])))
                op_free(op);
}
