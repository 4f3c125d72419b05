/* SPDX-License-Identifier: MIT */
/* One Buds as the client keeps them: the link (Connect with a timeout,
 * reconnect with backoff), the setup that makes them ready (Manifest
 * notifications armed before the Manifest is read, Buds Info read unless
 * known), and the notifications that follow. It must never touch GATT before
 * ServicesResolved and every needed characteristic are there, and never
 * leave an operation behind when the Buds go away. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bluez-private.h"
#include "common/backoff.h"
#include "common/random.h"

struct bluez_buds *bluez_buds_new(struct bluez *bz, const char *address) {
        struct bluez_buds *b, **tail;

        if (!buds_address_valid(address))
                return NULL;
        b = calloc(1, sizeof(*b));
        if (!b)
                return NULL;
        b->n_ref = 1;
        b->bluez = bz;
        b->battery = -1;
        (void) buds_address_normalise(address, b->address);
        for (tail = &bz->buds; *tail; tail = &(*tail)->next)
                ;
        *tail = b;
        return b;
}

struct bluez_buds *bluez_buds_ref(struct bluez_buds *b) {
        if (b)
                b->n_ref++;
        return b;
}

struct bluez_buds *bluez_buds_unref(struct bluez_buds *b) {
        if (!b || --b->n_ref > 0)
                return NULL;
        /* detached (no bluez) and every op gone: each op holds a reference */
        for (int i = 0; i < _BLUEZ_CHR_MAX; i++) {
                free(b->chr[i].path);
                sd_bus_slot_unref(b->chr[i].value_match);
        }
        sd_bus_slot_unref(b->connect_slot);
        sd_bus_slot_unref(b->refresh_slot);
        sd_bus_slot_unref(b->cancel_slot);
        sd_event_source_disable_unref(b->timer);
        free(b->path);
        free(b->adapter_path);
        free(b->name);
        free(b->alias);
        free(b);
        return NULL;
}

const char *bluez_buds_address(const struct bluez_buds *b) {
        return b ? b->address : NULL;
}

const char *bluez_buds_name(const struct bluez_buds *b) {
        if (!b)
                return NULL;
        return b->alias ? b->alias : b->name ? b->name : "";
}

enum family bluez_buds_family(const struct bluez_buds *b) {
        return b && b->have_info ? (enum family) b->info.family : FAMILY_ANY;
}

uint64_t bluez_buds_id(const struct bluez_buds *b) {
        return b && b->have_info ? b->info.buds_id : 0;
}

bool bluez_buds_connected(const struct bluez_buds *b) {
        return b && b->bluez && b->present && b->connected;
}

bool bluez_buds_ready(const struct bluez_buds *b) {
        return b && b->ready;
}

bool bluez_buds_detached(const struct bluez_buds *b) {
        return !b || !b->bluez;
}

void bluez_buds_error(struct bluez_buds *b, int r, const char *fmt, ...) {
        struct bluez *bz = b->bluez;
        char msg[BLUEZ_MSG_MAX];
        int n;
        va_list ap;

        if (!bz || bz->freeing || !b->selected || !bz->ops.buds_error)
                return;
        n = snprintf(msg, sizeof(msg), "Buds %s: ", b->address);
        va_start(ap, fmt);
        vsnprintf(msg + n, sizeof(msg) - (size_t) n, fmt, ap);
        va_end(ap);
        bz->ops.buds_error(b, r, msg, bz->userdata);
}

/* ---- timers and backoff ---- */

static void timer_stop(struct bluez_buds *b) {
        b->timer = sd_event_source_disable_unref(b->timer);
        b->timer_kind = BLUEZ_TIMER_NONE;
}

static void connect_start(struct bluez_buds *b);

static bool chrs_none(const struct bluez_buds *b) {
        for (int i = 0; i < BLUEZ_CHR_REQUIRED; i++)
                if (b->chr[i].path)
                        return false;
        return true;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        struct bluez_buds *b = userdata;
        enum bluez_timer kind = b->timer_kind;

        (void) s;
        (void) usec;
        timer_stop(b);
        if (kind == BLUEZ_TIMER_CONNECT && !b->connected && b->bluez->owner && b->path) {
                connect_start(b);
                return 0;
        }
        if (kind == BLUEZ_TIMER_GRACE) {
                b->missing_reported = true;
                if (chrs_none(b))
                        bluez_buds_error(b, -ENOENT, "connected, but the services bluetoothd resolved lack "
                                         "the Buds Sync service (%s); its copy of their GATT database "
                                         "may be stale: `bluetoothctl remove %s` and pairing them again "
                                         "makes it read the database anew; waiting for it meanwhile",
                                         BUDS_SYNC_SERVICE_UUID, b->address);
                else
                        for (int i = 0; i < BLUEZ_CHR_REQUIRED; i++)
                                if (!b->chr[i].path)
                                        bluez_buds_error(b, -ENOENT, "characteristic %s (%s) missing after "
                                                         "the services were resolved; asking bluetoothd "
                                                         "for its objects again and waiting for it",
                                                         bluez_chr_name[i], bluez_chr_uuid[i]);
                /* in case their InterfacesAdded went past us */
                bluez_rescan(b->bluez);
        }
        bluez_buds_update(b);
        return 0;
}

static int timer_start(struct bluez_buds *b, enum bluez_timer kind, uint64_t usec) {
        int r;

        timer_stop(b);
        /* accuracy 0 would mean sd-event's default of 250 ms */
        r = sd_event_add_time_relative(b->bluez->event, &b->timer, CLOCK_MONOTONIC, usec, usec / 16 + 1,
                                       on_timer, b);
        if (r >= 0)
                b->timer_kind = kind;
        return r;
}

/* min doubling to max, then "equal jitter": half fixed, half random. */
static uint64_t backoff(struct bluez_buds *b, unsigned *attempt) {
        const struct bluez_config *c = &b->bluez->cfg;

        return backoff_delay(c->backoff_min_usec, c->backoff_max_usec, (*attempt)++, random_jitter(&b->bluez->rng));
}

static uint64_t backoff_next(struct bluez_buds *b) {
        return backoff(b, &b->attempt);
}

/* ---- connect ---- */

static int on_cancel_reply(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct bluez_buds *b = userdata;

        (void) m;
        (void) error;
        b->cancel_slot = sd_bus_slot_unref(b->cancel_slot);
        return 0;
}

/* A Connect of ours that timed out leaves bluetoothd's attempt running, and
 * every Connect after it is answered "Operation already in progress"; so
 * does an attempt of bluetoothd's own (a device it reconnects by itself).
 * Seen on 5.66 after a restart: such an attempt never ended, and neither
 * did the wait. Two in a row, with no link (so no audio to drop): cancel it
 * with Disconnect() before the next try. */
static bool connect_stuck(const sd_bus_error *e) {
        return sd_bus_error_has_name(e, SD_BUS_ERROR_NO_REPLY) || sd_bus_error_has_name(e, "org.bluez.Error.InProgress") ||
               (e->message && strstr(e->message, "already in progress"));
}

static void cancel_stuck(struct bluez_buds *b) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        struct bluez *bz = b->bluez;
        int r;

        if (b->cancel_slot || b->connected)
                return;
        r = sd_bus_message_new_method_call(bz->bus, &m, bz->owner, b->path, BLUEZ_DEVICE_IFACE, "Disconnect");
        if (r >= 0)
                r = sd_bus_call_async(bz->bus, &b->cancel_slot, m, on_cancel_reply, b, bz->cfg.call_timeout_usec);
        if (r >= 0)
                bluez_buds_error(b, -EINPROGRESS, "a connection attempt stays pending in bluetoothd; cancelling it "
                                 "before trying again");
        b->stuck = 0;
}

static int on_connect_reply(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct bluez_buds *b = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);
        uint64_t delay;

        (void) error;
        b->connect_slot = sd_bus_slot_unref(b->connect_slot);
        if (b->connected)
                return 0;
        /* Connected=true may never be signalled (bluetoothd 5.66, when its ATT
         * connect callback beats the kernel's Device Connected event), and a
         * failed Connect ("Operation already in progress") may mean another
         * client is bringing the link up: ask for the device's state, whose
         * answer comes after every signal sent before it */
        (void) bluez_device_refresh(b);
        if (!e) {
                b->stuck = 0;
                return 0;
        }
        b->stuck = connect_stuck(e) ? b->stuck + 1 : 0;
        if (b->stuck >= 2)
                cancel_stuck(b);
        delay = backoff_next(b);
        if (timer_start(b, BLUEZ_TIMER_CONNECT, delay) < 0)
                return 0;
        if (b->bluez->ops.buds_unreachable) {
                struct bluez *bz = b->bluez;
                char msg[BLUEZ_MSG_MAX];

                if (b->unreachable_told || bz->freeing || !b->selected)
                        return 0;
                b->unreachable_told = true;
                (void) snprintf(msg, sizeof(msg), "Buds %s: connecting failed: %s: %s", b->address, e->name,
                                e->message ? e->message : "");
                bz->ops.buds_unreachable(b, msg, bz->userdata);
                return 0;
        }
        bluez_buds_error(b, sd_bus_error_get_errno(e) ? -sd_bus_error_get_errno(e) : -EIO,
                         "connecting failed: %s: %s; retrying in %.1f s", e->name,
                         e->message ? e->message : "", (double) delay / 1e6);
        return 0;
}

static void connect_start(struct bluez_buds *b) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        struct bluez *bz = b->bluez;
        int r;

        r = sd_bus_message_new_method_call(bz->bus, &m, bz->owner, b->path, BLUEZ_DEVICE_IFACE, "Connect");
        if (r >= 0)
                r = sd_bus_call_async(bz->bus, &b->connect_slot, m, on_connect_reply, b,
                                      bz->cfg.connect_timeout_usec);
        if (r < 0) {
                bluez_buds_error(b, r, "cannot call Connect; retrying");
                (void) timer_start(b, BLUEZ_TIMER_CONNECT, backoff_next(b));
        }
}

/* ---- readiness ---- */

static void early_clear(struct bluez_buds *b) {
        memset(b->have_early, 0, sizeof(b->have_early));
}

static void setup_abort(struct bluez_buds *b) {
        if (b->setup_op)
                bluez_op_cancel(b->setup_op);
        b->setup_op = NULL;
        b->step = BLUEZ_SETUP_IDLE;
        early_clear(b);
        if (b->timer_kind == BLUEZ_TIMER_SETUP)
                timer_stop(b);
}

static void unready(struct bluez_buds *b, enum bluez_gone_reason reason) {
        struct bluez *bz = b->bluez;

        setup_abort(b);
        if (!b->ready)
                return;
        b->ready = false;
        if (bz && !bz->freeing && bz->ops.buds_gone)
                bz->ops.buds_gone(b, reason, bz->userdata);
}

static void fail_queued(struct bluez_buds *b, int r, const char *why) {
        for (int i = 0; i < _BLUEZ_CHR_MAX; i++)
                bluez_chr_fail_queued(b, i, r, why);
}

static void link_lost(struct bluez_buds *b) {
        b->link_up = false;
        b->link_epoch++;
        b->missing_reported = false;
        if (b->timer_kind == BLUEZ_TIMER_GRACE)
                timer_stop(b);
        unready(b, BLUEZ_GONE_DISCONNECTED);
        fail_queued(b, -ENOTCONN, "not connected (link lost)");
}

static bool chrs_complete(const struct bluez_buds *b) {
        for (int i = 0; i < BLUEZ_CHR_REQUIRED; i++)
                if (!b->chr[i].path)
                        return false;
        return true;
}

static void setup_next(struct bluez_buds *b);

static void link_disconnected(struct bluez_buds *b) {
        if (b->link_up)
                link_lost(b);
        if (b->connect_slot || b->timer_kind == BLUEZ_TIMER_CONNECT)
                return;
        if (b->attempt == 0)
                connect_start(b);
        else
                (void) timer_start(b, BLUEZ_TIMER_CONNECT, backoff_next(b));
}

static void link_connected(struct bluez_buds *b) {
        if (!b->link_up)
                b->setup_attempt = 0;   /* setup retries are paced per link */
        b->link_up = true;
        if (b->timer_kind == BLUEZ_TIMER_CONNECT)
                timer_stop(b);
        if (!b->resolved || !chrs_complete(b)) {
                unready(b, BLUEZ_GONE_DISCONNECTED);
                if (b->resolved && !b->missing_reported && b->timer_kind == BLUEZ_TIMER_NONE)
                        (void) timer_start(b, BLUEZ_TIMER_GRACE, b->bluez->cfg.resolve_grace_usec);
                return;
        }
        if (b->timer_kind == BLUEZ_TIMER_GRACE)
                timer_stop(b);
        b->missing_reported = false;
        if (!b->ready && b->step == BLUEZ_SETUP_IDLE && b->timer_kind == BLUEZ_TIMER_NONE) {
                b->step = BLUEZ_SETUP_NOTIFY_MANIFEST;
                setup_next(b);
        }
}

void bluez_buds_update(struct bluez_buds *b) {
        struct bluez *bz = b->bluez;

        if (!bz || bz->freeing || !b->selected || !b->present || !bz->owner)
                return;
        bluez_buds_ref(b);
        /* resolved services without a link: a Connected=true we were never told of */
        if (!b->connected && b->resolved && !b->checked)
                (void) bluez_device_refresh(b);
        if (b->connected)
                link_connected(b);
        else
                link_disconnected(b);
        bluez_buds_unref(b);
}

/* ---- setup: notify armed, Buds Info, Manifest ---- */

static void setup_failed(struct bluez_buds *b, int r, const char *what, const char *why) {
        uint64_t delay;

        b->setup_op = NULL;
        b->step = BLUEZ_SETUP_IDLE;
        early_clear(b);
        if (!b->connected)
                return;         /* the link's own handling takes over */
        /* never idle on a link we believe up: if BlueZ says "not connected",
         * a signal may be missing or late; check, and try again meanwhile */
        if (r == -ENOTCONN)
                (void) bluez_device_refresh(b);
        delay = backoff(b, &b->setup_attempt);
        (void) timer_start(b, BLUEZ_TIMER_SETUP, delay);
        bluez_buds_error(b, r, "%s: %s; retrying in %.1f s", what, why, (double) delay / 1e6);
}

static void became_ready(struct bluez_buds *b, const struct manifest *m) {
        struct bluez *bz = b->bluez;
        struct manifest_notify early[KEY_MAX + 1];
        bool have[KEY_MAX + 1];

        memcpy(early, b->early, sizeof(early));
        memcpy(have, b->have_early, sizeof(have));
        early_clear(b);
        b->step = BLUEZ_SETUP_IDLE;
        b->ready = true;
        b->attempt = b->setup_attempt = 0;
        if (bz->ops.buds_ready)
                bz->ops.buds_ready(b, &b->info, m, bz->userdata);
        for (int k = KEY_MIN; k <= KEY_MAX && b->ready; k++)
                if (have[k] && bz->ops.manifest_changed)
                        bz->ops.manifest_changed(b, &early[k], bz->userdata);
}

static void on_setup_manifest(struct bluez_op *op, int r, const uint8_t *v, size_t n, const char *why,
                              void *userdata) {
        struct bluez_buds *b = userdata;
        struct value_err e = { "" };
        struct manifest m;

        (void) op;
        b->setup_op = NULL;
        if (r < 0)
                return setup_failed(b, r, "reading the Manifest failed", why);
        r = wire_manifest_decode(v, n, &m, &e);
        if (r < 0)
                return setup_failed(b, -EBADMSG, "malformed Manifest", e.msg);
        if (m.family != b->info.family) {
                /* the Buds Info we knew is not these Buds': read it again */
                b->have_info = false;
                bluez_known_drop(b->bluez, b->address);
                return setup_failed(b, -EBADMSG, "Manifest family differs from Buds Info",
                                    "reading Buds Info again");
        }
        became_ready(b, &m);
}

static void on_setup_info(struct bluez_op *op, int r, const uint8_t *v, size_t n, const char *why,
                          void *userdata) {
        struct bluez_buds *b = userdata;
        struct value_err e = { "" };
        struct buds_info info;

        (void) op;
        b->setup_op = NULL;
        if (r < 0)
                return setup_failed(b, r, "reading Buds Info failed", why);
        r = wire_buds_info_decode(v, n, &info, &e);
        if (r < 0)
                return setup_failed(b, -EBADMSG, "malformed Buds Info", e.msg);
        b->info = info;
        b->have_info = true;
        (void) bluez_known_put(b->bluez, b->address, &info);
        b->step = BLUEZ_SETUP_READ_MANIFEST;
        setup_next(b);
}

static void on_setup_notify(struct bluez_op *op, int r, const uint8_t *v, size_t n, const char *why,
                            void *userdata) {
        struct bluez_buds *b = userdata;
        enum bluez_chr_id chr = op->chr;

        (void) v;
        (void) n;
        b->setup_op = NULL;
        /* InProgress: our session exists and is not armed yet; BlueZ arms it on connect */
        if (r >= 0 || r == -EBUSY)
                b->chr[chr].notify_armed = true;
        else if (chr == BLUEZ_CHR_MANIFEST)
                return setup_failed(b, r, "StartNotify on the Manifest failed", why);
        else
                bluez_buds_error(b, r, "StartNotify on %s failed: %s; continuing without battery "
                                 "notifications", bluez_chr_name[chr], why);
        b->step++;
        setup_next(b);
}

static int setup_step(struct bluez_buds *b) {
        const struct buds_info *known;

        switch (b->step) {
        case BLUEZ_SETUP_NOTIFY_MANIFEST:
        case BLUEZ_SETUP_NOTIFY_BATTERY: {
                enum bluez_chr_id chr = b->step == BLUEZ_SETUP_NOTIFY_MANIFEST ?
                                        BLUEZ_CHR_MANIFEST : BLUEZ_CHR_BATTERY;
                if (!b->chr[chr].path || b->chr[chr].notify_armed)
                        return 0;
                /* the match first: dbus-daemon takes it before it passes the
                 * StartNotify on, so no notification comes before it */
                if (bluez_chr_watch(b, chr) < 0)
                        return -EIO;
                return bluez_op_start(b, chr, BLUEZ_OP_START_NOTIFY, NULL, 0, on_setup_notify, b,
                                      &b->setup_op) < 0 ? -EIO : 1;
        }
        case BLUEZ_SETUP_READ_INFO:
                known = bluez_known_get(b->bluez, b->address);
                if (known) {
                        b->info = *known;
                        b->have_info = true;
                        return 0;
                }
                return bluez_op_start(b, BLUEZ_CHR_INFO, BLUEZ_OP_READ, NULL, 0, on_setup_info, b,
                                      &b->setup_op) < 0 ? -EIO : 1;
        case BLUEZ_SETUP_READ_MANIFEST:
                return bluez_op_start(b, BLUEZ_CHR_MANIFEST, BLUEZ_OP_READ, NULL, 0, on_setup_manifest, b,
                                      &b->setup_op) < 0 ? -EIO : 1;
        case BLUEZ_SETUP_IDLE:
                break;
        }
        return -EINVAL;
}

/* Runs the steps that need no GATT call, up to the next that does. */
static void setup_next(struct bluez_buds *b) {
        int r;

        while ((r = setup_step(b)) == 0)
                b->step++;
        if (r < 0)
                setup_failed(b, r, "setting up failed", "cannot start a GATT call");
}

/* ---- notifications ---- */

static void manifest_value(struct bluez_buds *b, const uint8_t *v, size_t n) {
        struct bluez *bz = b->bluez;
        struct value_err e = { "" };
        struct manifest_notify mn;

        if (n != WIRE_NOTIFY_SIZE) {
                /* BlueZ also sends the value of every read: 4 + 22 × count bytes */
                if (n < WIRE_MANIFEST_HEADER_SIZE || (n - WIRE_MANIFEST_HEADER_SIZE) % WIRE_MANIFEST_ENTRY_SIZE)
                        bluez_buds_error(b, -EBADMSG, "Manifest notification of %zu bytes, ignoring", n);
                return;
        }
        if (wire_notify_decode(v, n, &mn, &e) < 0)
                return bluez_buds_error(b, -EBADMSG, "malformed Manifest notification, ignoring: %s", e.msg);
        if (b->ready) {
                if (bz->ops.manifest_changed)
                        bz->ops.manifest_changed(b, &mn, bz->userdata);
        } else if (b->step != BLUEZ_SETUP_IDLE) {
                b->early[mn.key] = mn;
                b->have_early[mn.key] = true;
        }
}

void bluez_buds_value_changed(struct bluez_buds *b, enum bluez_chr_id chr, const uint8_t *v, size_t n) {
        struct bluez *bz = b->bluez;

        if (!bz || !b->selected)
                return;
        bluez_buds_ref(b);
        if (chr == BLUEZ_CHR_MANIFEST)
                manifest_value(b, v, n);
        else if (chr == BLUEZ_CHR_BATTERY && n == 1 && v[0] <= 100 && v[0] != b->battery) {
                b->battery = v[0];
                if (b->ready && bz->ops.battery_changed)
                        bz->ops.battery_changed(b, v[0], bz->userdata);
        }
        bluez_buds_unref(b);
}

/* ---- objects going away ---- */

void bluez_buds_chr_removed(struct bluez_buds *b, enum bluez_chr_id chr) {
        char why[BLUEZ_MSG_MAX];

        bluez_buds_ref(b);
        snprintf(why, sizeof(why), "characteristic %s removed (link down or services changed)",
                 bluez_chr_name[chr]);
        if (chr < BLUEZ_CHR_REQUIRED)
                unready(b, BLUEZ_GONE_DISCONNECTED);
        bluez_chr_fail_queued(b, chr, -ENOTCONN, why);
        b->chr[chr].path = mfree(b->chr[chr].path);
        b->chr[chr].value_match = sd_bus_slot_unref(b->chr[chr].value_match);
        b->chr[chr].notify_armed = false;
        bluez_buds_update(b);
        bluez_buds_unref(b);
}

/* Forgets the objects of a bluetoothd that is gone; ops fail with r. */
static void forget_objects(struct bluez_buds *b, enum bluez_gone_reason reason, int r, const char *why) {
        b->connect_slot = sd_bus_slot_unref(b->connect_slot);
        b->refresh_slot = sd_bus_slot_unref(b->refresh_slot);
        b->cancel_slot = sd_bus_slot_unref(b->cancel_slot);
        timer_stop(b);
        unready(b, reason);
        for (int i = 0; i < _BLUEZ_CHR_MAX; i++) {
                if (b->bluez->freeing)
                        bluez_chr_drop(b, i);
                else
                        bluez_chr_fail_all(b, i, r, why);
                b->chr[i].path = mfree(b->chr[i].path);
                b->chr[i].value_match = sd_bus_slot_unref(b->chr[i].value_match);
                b->chr[i].notify_armed = false;
        }
        b->path = mfree(b->path);
        b->present = b->connected = b->resolved = b->link_up = false;
        b->link_epoch++;
        b->attempt = 0;
        b->missing_reported = false;
}

void bluez_buds_lost(struct bluez_buds *b) {
        bluez_buds_ref(b);
        forget_objects(b, BLUEZ_GONE_BLUEZ_LOST, -ENOTCONN, "bluetoothd went away");
        bluez_buds_unref(b);
}

/* Already unlinked from the client's list; drops the client's reference. */
void bluez_buds_detach(struct bluez_buds *b) {
        struct bluez *bz = b->bluez;
        bool was_ready = b->ready;

        forget_objects(b, BLUEZ_GONE_REMOVED, -ENODEV, "the Buds were removed");
        if (b->selected && !bz->freeing && bz->ops.buds_gone && !was_ready)
                bz->ops.buds_gone(b, BLUEZ_GONE_REMOVED, bz->userdata);
        b->selected = false;
        b->bluez = NULL;
        bluez_buds_unref(b);
}
