/* SPDX-License-Identifier: MIT */
/* The operations the sync engine asks for: read or write one record, read the
 * Manifest, read Device Information and battery. Each is a request with an
 * id; its callback runs exactly once unless cancelled. This file decodes what
 * is read (a value that fails the codec is -EBADMSG, never repaired) and
 * words every failure with the Buds, the characteristic and what happened. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bluez-private.h"

enum req_kind {
        REQ_READ_ITEM,
        REQ_WRITE_ITEM,
        REQ_READ_MANIFEST,
        REQ_DEVICE_DATA,
};

struct bluez_req {
        uint64_t id;
        struct bluez *bz;
        struct bluez_buds *buds;        /* a reference */
        enum req_kind kind;
        enum bluez_chr_id chr;          /* the one being read or written */
        struct bluez_op *op;
        union {
                bluez_record_func_t record;
                bluez_write_func_t write;
                bluez_manifest_func_t manifest;
                bluez_device_data_func_t device;
        } cb;
        void *userdata;
        struct bluez_device_data data;
        struct bluez_req *next;
};

static void req_unlink(struct bluez_req *q) {
        for (struct bluez_req **p = &q->bz->reqs; *p; p = &(*p)->next)
                if (*p == q) {
                        *p = q->next;
                        return;
                }
}

static void req_free(struct bluez_req *q) {
        bluez_buds_unref(q->buds);
        free(q);
}

static int req_new(struct bluez_buds *b, enum req_kind kind, void *userdata, struct bluez_req **ret) {
        struct bluez_req *q;

        if (!b)
                return -EINVAL;
        if (!b->bluez)
                return -ENODEV;
        if (!b->ready)
                return -ENOTCONN;
        q = calloc(1, sizeof(*q));
        if (!q)
                return -ENOMEM;
        *q = (struct bluez_req) { .bz = b->bluez, .buds = bluez_buds_ref(b), .kind = kind,
                                  .userdata = userdata, .data.battery = -1 };
        *ret = q;
        return 0;
}

static void req_done(struct bluez_op *op, int r, const uint8_t *v, size_t n, const char *why, void *userdata);

static int req_start(struct bluez_req *q, enum bluez_chr_id chr, enum bluez_op_kind kind,
                     const uint8_t *data, size_t len) {
        q->chr = chr;
        return bluez_op_start(q->buds, chr, kind, data, len, req_done, q, &q->op);
}

/* Links q in and hands out its id. */
static int req_submit(struct bluez_req *q, uint64_t *ret_id) {
        q->id = q->bz->next_id++;
        q->next = q->bz->reqs;
        q->bz->reqs = q;
        if (ret_id)
                *ret_id = q->id;
        return 0;
}

/* ---- completions ---- */

static void complete_record(struct bluez_req *q, int r, const uint8_t *v, size_t n, const char *why) {
        const char *what = bluez_chr_name[q->chr];
        struct bluez_buds *b = q->buds;
        struct value_err e = { "" };
        char msg[BLUEZ_MSG_MAX + VALUE_ERR_MAX];
        struct record rec;
        int key = (int) q->chr - BLUEZ_CHR_PROFILE + KEY_PROFILE;

        if (r < 0)
                snprintf(msg, sizeof(msg), "Buds %s %s: read failed: %s", b->address, what, why);
        else if ((r = wire_record_decode(v, n, &rec, &e)) < 0) {
                r = -EBADMSG;
                snprintf(msg, sizeof(msg), "Buds %s %s: malformed record: %s", b->address, what, e.msg);
        } else if ((int) rec.value.key != key) {
                r = -EBADMSG;
                snprintf(msg, sizeof(msg), "Buds %s %s: the record carries key %u", b->address, what,
                         (unsigned) rec.value.key);
        } else if (key != KEY_PROFILE && b->have_info && rec.value.family != (enum family) b->info.family) {
                r = -EBADMSG;
                snprintf(msg, sizeof(msg), "Buds %s %s: record of family %s from %s Buds", b->address, what,
                         family_name(rec.value.family), family_name((enum family) b->info.family));
        } else
                msg[0] = 0;
        q->cb.record(b, r < 0 ? r : 0, r < 0 ? NULL : &rec, msg, q->userdata);
}

static void complete_write(struct bluez_req *q, int r, const char *why) {
        char msg[BLUEZ_MSG_MAX + 64];

        if (r < 0)
                snprintf(msg, sizeof(msg), "Buds %s %s: write failed: %s", q->buds->address,
                         bluez_chr_name[q->chr], why);
        else
                msg[0] = 0;
        q->cb.write(q->buds, r, msg, q->userdata);
}

static void complete_manifest(struct bluez_req *q, int r, const uint8_t *v, size_t n, const char *why) {
        struct value_err e = { "" };
        char msg[BLUEZ_MSG_MAX + VALUE_ERR_MAX];
        struct manifest m;

        if (r < 0)
                snprintf(msg, sizeof(msg), "Buds %s Manifest: read failed: %s", q->buds->address, why);
        else if (wire_manifest_decode(v, n, &m, &e) < 0) {
                r = -EBADMSG;
                snprintf(msg, sizeof(msg), "Buds %s Manifest: malformed: %s", q->buds->address, e.msg);
        } else
                msg[0] = 0;
        q->cb.manifest(q->buds, r, r < 0 ? NULL : &m, msg, q->userdata);
}

static char *device_field(struct bluez_device_data *d, enum bluez_chr_id chr) {
        switch (chr) {
        case BLUEZ_CHR_MANUFACTURER:
                return d->manufacturer;
        case BLUEZ_CHR_MODEL:
                return d->model;
        case BLUEZ_CHR_SERIAL:
                return d->serial;
        case BLUEZ_CHR_FIRMWARE:
                return d->firmware;
        case BLUEZ_CHR_INFO:
        case BLUEZ_CHR_MANIFEST:
        case BLUEZ_CHR_PROFILE:
        case BLUEZ_CHR_EQ_CUSTOM:
        case BLUEZ_CHR_EQ_ACTIVE:
        case BLUEZ_CHR_BATTERY:
        case _BLUEZ_CHR_MAX:
                break;
        }
        return NULL;
}

/* Stores one Device Information or battery value; -EBADMSG if malformed. */
static int device_store(struct bluez_req *q, const uint8_t *v, size_t n, char *why, size_t size) {
        char *f = device_field(&q->data, q->chr);

        if (q->chr == BLUEZ_CHR_BATTERY) {
                if (n != 1 || v[0] > 100)
                        return snprintf(why, size, "malformed (%zu bytes, expected one of 0..100)", n), -EBADMSG;
                q->data.battery = v[0];
                return 0;
        }
        if (n >= sizeof(q->data.model) || memchr(v, 0, n) || !utf8_is_valid((const char *) v, n))
                return snprintf(why, size, "malformed (not UTF-8 text of at most 63 bytes)"), -EBADMSG;
        memcpy(f, v, n);
        f[n] = 0;
        return 0;
}

/* Next characteristic of the Device Data that the Buds have: 1 started, 0 none left. */
static int device_next(struct bluez_req *q) {
        static const enum bluez_chr_id order[] = {
                BLUEZ_CHR_MANUFACTURER, BLUEZ_CHR_MODEL, BLUEZ_CHR_SERIAL, BLUEZ_CHR_FIRMWARE, BLUEZ_CHR_BATTERY,
        };
        size_t i = 0;
        int r;

        if (q->op)      /* q->chr was read: continue after it */
                while (i < sizeof(order) / sizeof(order[0]) && order[i++] != q->chr)
                        ;
        q->op = NULL;
        for (; i < sizeof(order) / sizeof(order[0]); i++) {
                r = req_start(q, order[i], BLUEZ_OP_READ, NULL, 0);
                if (r != -ENOENT)
                        return r < 0 ? r : 1;
        }
        return 0;
}

/* 1 when another read was started and q stays pending. */
static int complete_device(struct bluez_req *q, int r, const uint8_t *v, size_t n, const char *why) {
        char msg[BLUEZ_MSG_MAX * 2], reason[BLUEZ_MSG_MAX];

        if (r >= 0)
                r = device_store(q, v, n, reason, sizeof(reason));
        else
                snprintf(reason, sizeof(reason), "%s", why);
        if (r >= 0 && (r = device_next(q)) > 0)
                return 1;
        if (r < 0)
                snprintf(msg, sizeof(msg), "Buds %s %s: read failed: %s", q->buds->address,
                         bluez_chr_name[q->chr], reason);
        else
                msg[0] = 0;
        q->cb.device(q->buds, r < 0 ? r : 0, r < 0 ? NULL : &q->data, msg, q->userdata);
        return 0;
}

static void req_done(struct bluez_op *op, int r, const uint8_t *v, size_t n, const char *why, void *userdata) {
        struct bluez_req *q = userdata;

        (void) op;
        if (q->kind == REQ_DEVICE_DATA) {
                if (complete_device(q, r, v, n, why) > 0)
                        return;
        } else if (q->kind == REQ_READ_ITEM)
                complete_record(q, r, v, n, why);
        else if (q->kind == REQ_WRITE_ITEM)
                complete_write(q, r, why);
        else
                complete_manifest(q, r, v, n, why);
        req_unlink(q);
        req_free(q);
}

/* ---- the API ---- */

static enum bluez_chr_id key_chr(enum key key) {
        return (enum bluez_chr_id) (BLUEZ_CHR_PROFILE + (key - KEY_PROFILE));
}

static int req_go(struct bluez_req *q, enum bluez_chr_id chr, enum bluez_op_kind kind,
                  const uint8_t *data, size_t len, uint64_t *ret_id) {
        int r = req_start(q, chr, kind, data, len);

        if (r < 0) {
                req_free(q);
                return r;
        }
        return req_submit(q, ret_id);
}

int bluez_read_item(struct bluez_buds *b, enum key key, bluez_record_func_t cb, void *userdata,
                    uint64_t *ret_id) {
        struct bluez_req *q;
        int r;

        if (!key_is_valid((int) key) || !cb)
                return -EINVAL;
        r = req_new(b, REQ_READ_ITEM, userdata, &q);
        if (r < 0)
                return r;
        q->cb.record = cb;
        return req_go(q, key_chr(key), BLUEZ_OP_READ, NULL, 0, ret_id);
}

int bluez_write_item(struct bluez_buds *b, const struct record *rec, bluez_write_func_t cb,
                     void *userdata, uint64_t *ret_id) {
        uint8_t buf[WIRE_RECORD_MAX];
        struct bluez_req *q;
        int n, r;

        if (!rec || !cb || !key_is_valid((int) rec->value.key))
                return -EINVAL;
        n = wire_record_encode(rec, buf, sizeof(buf));
        if (n < 0)
                return -EINVAL;
        r = req_new(b, REQ_WRITE_ITEM, userdata, &q);
        if (r < 0)
                return r;
        q->cb.write = cb;
        return req_go(q, key_chr(rec->value.key), BLUEZ_OP_WRITE, buf, (size_t) n, ret_id);
}

int bluez_read_manifest(struct bluez_buds *b, bluez_manifest_func_t cb, void *userdata, uint64_t *ret_id) {
        struct bluez_req *q;
        int r;

        if (!cb)
                return -EINVAL;
        r = req_new(b, REQ_READ_MANIFEST, userdata, &q);
        if (r < 0)
                return r;
        q->cb.manifest = cb;
        return req_go(q, BLUEZ_CHR_MANIFEST, BLUEZ_OP_READ, NULL, 0, ret_id);
}

int bluez_read_device_data(struct bluez_buds *b, bluez_device_data_func_t cb, void *userdata,
                           uint64_t *ret_id) {
        struct bluez_req *q;
        int r;

        if (!cb)
                return -EINVAL;
        r = req_new(b, REQ_DEVICE_DATA, userdata, &q);
        if (r < 0)
                return r;
        q->cb.device = cb;
        r = device_next(q);
        if (r <= 0) {
                req_free(q);
                return r < 0 ? r : -ENOENT;
        }
        return req_submit(q, ret_id);
}

int bluez_cancel(struct bluez *bz, uint64_t id) {
        for (struct bluez_req *q = bz ? bz->reqs : NULL; q; q = q->next)
                if (q->id == id) {
                        req_unlink(q);
                        bluez_op_cancel(q->op);
                        req_free(q);
                        return 0;
                }
        return -ENOENT;
}

void bluez_req_free_all(struct bluez *bz) {
        while (bz->reqs) {
                struct bluez_req *q = bz->reqs;
                bz->reqs = q->next;
                bluez_op_cancel(q->op);
                req_free(q);
        }
}
