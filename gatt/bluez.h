/* SPDX-License-Identifier: MIT */
/* The Buds side of the bridge: a GATT client of bluetoothd (org.bluez) over
 * sd-bus, driven by one sd-event loop. It follows BlueZ's objects through the
 * ObjectManager and PropertiesChanged (never polls), picks the Buds, keeps
 * them connected (reconnecting with backoff), reads Buds Info and the
 * Manifest, arms the Manifest and battery notifications, and reads and
 * writes the three records for the sync engine. It never logs and never
 * decides policy: every failure comes back as a negative errno and a message
 * naming the Buds, the characteristic and what happened.
 *
 * Lifetimes. A struct bluez_buds stands for one Buds (one address on one
 * adapter) and survives a restart or crash of bluetoothd: the handle is
 * rebound to the new objects when they come back. It is detached for good
 * (every operation fails -ENODEV) when the device is removed or unpaired or
 * no longer matches the configuration; ops->buds_gone(BLUEZ_GONE_REMOVED) is
 * its last event. The client holds one reference while the Buds are known;
 * take your own with bluez_buds_ref() to keep a handle past that.
 *
 * Operations. Every bluez_read_*()/bluez_write_*() either fails at once (a
 * negative errno, no callback) or returns 0 and an id (> 0, never reused;
 * ret_id may be NULL); then its callback runs exactly once, later, from the
 * event loop, unless bluez_cancel(id) or bluez_free() runs first, in which
 * case it never runs. Pointers given to a callback are valid only during the
 * callback. Do not call bluez_free() from inside a callback. There is no
 * destroy callback for userdata (BlueZ's src/shared has one): every userdata
 * is an object that outlives its operations and cancels them, or frees the
 * client, before it goes, so nothing is left to release. uplink/uplink.h
 * keeps the same contract. Operations on one characteristic run one at a
 * time, in the order they were issued (BlueZ answers InProgress to a second
 * write in flight).
 *
 * Errors of operations:
 *   -ESTALE     the record's revision is not the Buds' current one (ATT 0x80):
 *               nothing changed; read the item again and re-decide.
 *   -EINVAL     the Buds reject the value (ATT 0x13, 0x0E, 0x0D): nothing changed.
 *   -ENOTCONN   the Buds are not connected, or the link (or bluetoothd) went
 *               away during the operation. After a write this means the write
 *               MAY OR MAY NOT have been applied: read the item again.
 *   -ETIMEDOUT  no answer in time (the same uncertainty as -ENOTCONN for a write).
 *   -EBADMSG    a value read from the Buds is malformed, or a record's key
 *               does not match its characteristic (the message has the codec's reason).
 *   -ENOENT     the Buds lack the characteristic.
 *   -ENODEV     the Buds were removed.
 *   -EBUSY      BlueZ still had an operation in flight (after a timeout).
 *   -EIO        any other failure. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "../policy/value.h"
#include "codec/wire.h"

struct bluez;
struct bluez_buds;

struct bluez_config {
        const char *address;            /* NULL or "": every paired device with the Buds Sync service */
        const char *adapter;            /* NULL or "": every adapter; else "hci0" or the adapter's address */
        uint64_t connect_timeout_usec;  /* Device1.Connect; 0: 30 s */
        uint64_t call_timeout_usec;     /* GATT calls; 0: 35 s (BlueZ's ATT timeout is 30 s) */
        uint64_t backoff_min_usec;      /* first reconnect delay; 0: 1 s */
        uint64_t backoff_max_usec;      /* doubling up to; 0: 5 min */
        uint64_t resolve_grace_usec;    /* wait for missing characteristics after
                                         * ServicesResolved before reporting; 0: 5 s */
};

enum bluez_gone_reason {
        BLUEZ_GONE_DISCONNECTED,        /* link down; the client reconnects */
        BLUEZ_GONE_BLUEZ_LOST,          /* bluetoothd exited or restarted; found again when back */
        BLUEZ_GONE_REMOVED,             /* removed, unpaired or no longer configured: final */
};

struct bluez_device_data {
        char manufacturer[64];          /* "" when the Buds lack it */
        char model[64];
        char serial[64];
        char firmware[64];
        int battery;                    /* 0..100, -1 when unknown */
};

struct bluez_ops {
        /* Connected, services resolved, Buds Info and the Manifest read, the
         * Manifest notification armed. Manifest notifications that arrived
         * while getting there follow as manifest_changed. */
        void (*buds_ready)(struct bluez_buds *b, const struct buds_info *info,
                           const struct manifest *m, void *userdata);
        /* After buds_ready: no longer usable. REMOVED also comes for Buds that
         * never got ready; it is the handle's last event. */
        void (*buds_gone)(struct bluez_buds *b, enum bluez_gone_reason reason, void *userdata);
        /* A Manifest notification (every one, also when the value repeats). */
        void (*manifest_changed)(struct bluez_buds *b, const struct manifest_notify *n, void *userdata);
        /* The battery level changed (notification or read). */
        void (*battery_changed)(struct bluez_buds *b, uint8_t level, void *userdata);
        /* Optional: a failure in the background (connect failed, setup failed,
         * a malformed notification) and what the client does about it; for
         * the daemon's log. */
        void (*buds_error)(struct bluez_buds *b, int error, const char *message, void *userdata);
        /* Optional: Connect failed, the first time since the Buds were last
         * connected. Earbuds in their case, switched off or out of range are
         * the usual state, not an error: the client keeps trying with backoff,
         * quietly, and says it again only after they were connected. Without
         * it, each failure goes to buds_error. */
        void (*buds_unreachable)(struct bluez_buds *b, const char *message, void *userdata);
        /* Optional: bluetoothd came (it owns org.bluez) or went. */
        void (*bluetoothd_changed)(bool running, void *userdata);
};

typedef void (*bluez_record_func_t)(struct bluez_buds *b, int error, const struct record *rec,
                                    const char *message, void *userdata);
typedef void (*bluez_write_func_t)(struct bluez_buds *b, int error, const char *message, void *userdata);
typedef void (*bluez_manifest_func_t)(struct bluez_buds *b, int error, const struct manifest *m,
                                      const char *message, void *userdata);
typedef void (*bluez_device_data_func_t)(struct bluez_buds *b, int error,
                                         const struct bluez_device_data *d,
                                         const char *message, void *userdata);

/* cfg and ops are copied. Starts following org.bluez at once (it may appear later). */
int bluez_new(sd_bus *bus, sd_event *e, const struct bluez_config *cfg,
              const struct bluez_ops *ops, void *userdata, struct bluez **ret);
/* Cancels every operation (no callbacks), detaches every Buds handle. */
struct bluez *bluez_free(struct bluez *bz);

/* The engine already knows these Buds (from its cache): on (re)connect the
 * client skips the Buds Info read and reads only the Manifest. The client
 * also remembers every Buds Info it read, per address, for its lifetime. */
int bluez_remember_buds(struct bluez *bz, const char *address, const struct buds_info *info);

/* The unique name owning org.bluez, or NULL while bluetoothd is away. */
const char *bluez_owner(struct bluez *bz);

/* What a person needs to know when there are no Buds: is bluetoothd there,
 * how many adapters (powered), paired devices, and Buds among them (devices
 * that match the configuration and expose the Buds Sync service). */
struct bluez_summary {
        bool running;
        unsigned adapters, powered;
        unsigned paired, buds;
};
void bluez_summary(struct bluez *bz, struct bluez_summary *ret);

/* Known Buds: those matching the configuration, also while bluetoothd is
 * away. Do not let a callback run between first and next (keep the loop
 * out of it). */
struct bluez_buds *bluez_buds_first(struct bluez *bz);
struct bluez_buds *bluez_buds_next(struct bluez_buds *b);
/* By address (either case: it is normalised first), or NULL. */
struct bluez_buds *bluez_buds_find(struct bluez *bz, const char *address);

struct bluez_buds *bluez_buds_ref(struct bluez_buds *b);
struct bluez_buds *bluez_buds_unref(struct bluez_buds *b);

const char *bluez_buds_address(const struct bluez_buds *b);   /* "AA:BB:CC:DD:EE:FF" */
const char *bluez_buds_name(const struct bluez_buds *b);      /* Alias, else Name, else "" */
enum family bluez_buds_family(const struct bluez_buds *b);    /* FAMILY_ANY until Buds Info is known */
uint64_t bluez_buds_id(const struct bluez_buds *b);           /* 0 until Buds Info is known */
bool bluez_buds_connected(const struct bluez_buds *b);        /* the link is up */
bool bluez_buds_ready(const struct bluez_buds *b);            /* between buds_ready and buds_gone */
bool bluez_buds_detached(const struct bluez_buds *b);         /* removed for good */

/* The record of key as the Buds hold it. Needs ready Buds (else -ENOTCONN at once). */
int bluez_read_item(struct bluez_buds *b, enum key key, bluez_record_func_t cb, void *userdata,
                    uint64_t *ret_id);
/* Compare-and-set: rec->revision is the revision last read; rec->flags
 * should carry only RECORD_DERIVED. -EINVAL at once when rec does not encode.
 * Success means the Buds stored it with revision rec->revision + 1 (the
 * Manifest notification follows). */
int bluez_write_item(struct bluez_buds *b, const struct record *rec, bluez_write_func_t cb,
                     void *userdata, uint64_t *ret_id);
int bluez_read_manifest(struct bluez_buds *b, bluez_manifest_func_t cb, void *userdata,
                        uint64_t *ret_id);
/* Device Information and battery level; missing characteristics stay empty. */
int bluez_read_device_data(struct bluez_buds *b, bluez_device_data_func_t cb, void *userdata,
                           uint64_t *ret_id);
/* 0, or -ENOENT when id is not pending (already completed or cancelled). */
int bluez_cancel(struct bluez *bz, uint64_t id);
