/* SPDX-License-Identifier: MIT */
/* What the files of the BlueZ client share: the client, the Buds, their
 * characteristics and the queued GATT operations. Never included outside
 * gatt/bluez*.c. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "bluez.h"
#include "common/buds-address.h"
#include "common/cleanup.h"

static inline void bluez_freep(struct bluez **p) { bluez_free(*p); }

#define BLUEZ_SERVICE "org.bluez"
#define BLUEZ_DEVICE_IFACE "org.bluez.Device1"
#define BLUEZ_ADAPTER_IFACE "org.bluez.Adapter1"
#define BLUEZ_CHRC_IFACE "org.bluez.GattCharacteristic1"
#define BLUEZ_MSG_MAX 256

/* The characteristics the client uses; the first BLUEZ_CHR_REQUIRED must all
 * be present before the Buds are ready. */
enum bluez_chr_id {
        BLUEZ_CHR_INFO,
        BLUEZ_CHR_MANIFEST,
        BLUEZ_CHR_PROFILE,
        BLUEZ_CHR_EQ_CUSTOM,
        BLUEZ_CHR_EQ_ACTIVE,
        BLUEZ_CHR_BATTERY,
        BLUEZ_CHR_MANUFACTURER,
        BLUEZ_CHR_MODEL,
        BLUEZ_CHR_SERIAL,
        BLUEZ_CHR_FIRMWARE,
        _BLUEZ_CHR_MAX,
};
#define BLUEZ_CHR_REQUIRED (BLUEZ_CHR_EQ_ACTIVE + 1)

enum bluez_op_kind {
        BLUEZ_OP_READ,
        BLUEZ_OP_WRITE,
        BLUEZ_OP_START_NOTIFY,
};

struct bluez_op;

/* r: 0 or a negative errno; value/len on a successful read; why: what went
 * wrong, without the Buds and characteristic (the caller adds them). */
typedef void (*bluez_op_done_t)(struct bluez_op *op, int r, const uint8_t *value, size_t len,
                                const char *why, void *userdata);

/* One GATT method call, queued on its characteristic. */
struct bluez_op {
        struct bluez_buds *buds;        /* a reference */
        enum bluez_chr_id chr;
        enum bluez_op_kind kind;
        uint8_t *data;                  /* WriteValue's value */
        size_t len;
        sd_bus_slot *slot;              /* the call (or the connection check) in flight */
        bool sent;
        bool cancelled;                 /* no done; waits for BlueZ's answer to keep the queue honest */
        unsigned epoch;                 /* the Buds' link_epoch when sent */
        int error;                      /* while checking the link after an ambiguous error */
        char why[BLUEZ_MSG_MAX];
        bluez_op_done_t done;
        void *userdata;
        struct bluez_op *next;          /* in the characteristic's queue */
};

struct bluez_chr {
        char *path;                     /* NULL while the object is absent */
        bool notify_armed;              /* our StartNotify succeeded on this object */
        sd_bus_slot *value_match;       /* its own PropertiesChanged match (the notifying ones) */
        struct bluez_op *head;          /* head is the one in flight */
};

enum bluez_timer {
        BLUEZ_TIMER_NONE,
        BLUEZ_TIMER_CONNECT,            /* next Connect attempt */
        BLUEZ_TIMER_SETUP,              /* next setup attempt */
        BLUEZ_TIMER_GRACE,              /* characteristics missing after ServicesResolved */
};

enum bluez_setup_step {
        BLUEZ_SETUP_IDLE,
        BLUEZ_SETUP_NOTIFY_MANIFEST,
        BLUEZ_SETUP_NOTIFY_BATTERY,
        BLUEZ_SETUP_READ_INFO,
        BLUEZ_SETUP_READ_MANIFEST,
};

struct bluez_buds {
        unsigned n_ref;
        struct bluez *bluez;            /* NULL once detached */
        struct bluez_buds *next;        /* in bluez->buds */
        char address[BUDS_ADDRESS_SIZE];  /* normalised (common/buds-address.h) */
        char *path;                     /* Device1 object; NULL while bluetoothd is away */
        char *adapter_path;
        char *name;
        char *alias;
        bool paired, connected, resolved, has_sync_uuid;
        bool present;                   /* in the objects of the current bluetoothd */
        bool selected;                  /* matches the configuration: visible to the engine */
        bool ready;
        bool link_up;                   /* Connected seen true since the last loss */
        bool missing_reported;          /* the grace for missing characteristics ran out */
        bool checked;                   /* the view is a GetAll answer, no signal since */
        struct buds_info info;
        bool have_info;
        struct bluez_chr chr[_BLUEZ_CHR_MAX];

        sd_bus_slot *connect_slot;
        sd_bus_slot *refresh_slot;      /* GetAll(Device1): our view of the link checked */
        sd_bus_slot *cancel_slot;       /* Disconnect(): a stuck connection attempt cancelled */
        sd_event_source *timer;
        enum bluez_timer timer_kind;
        unsigned attempt;               /* failed attempts since the last ready */
        unsigned stuck;                 /* Connects in a row that timed out or met one in progress */
        bool unreachable_told;          /* buds_unreachable since last connected */
        unsigned setup_attempt;         /* failed setups on this link */
        unsigned link_epoch;            /* +1 whenever the link goes down */

        enum bluez_setup_step step;
        struct bluez_op *setup_op;
        struct manifest_notify early[KEY_MAX + 1];    /* notifications during setup, by key */
        bool have_early[KEY_MAX + 1];
        int battery;
};

struct bluez_known {
        char address[BUDS_ADDRESS_SIZE];
        struct buds_info info;
        struct bluez_known *next;
};

struct bluez_adapter {
        char *path;
        char address[BUDS_ADDRESS_SIZE];       /* "" once removed */
        bool powered;
        struct bluez_adapter *next;
};

struct bluez_req;

struct bluez {
        sd_bus *bus;
        sd_event *event;
        struct bluez_config cfg;
        char *cfg_address;
        char *cfg_adapter;
        struct bluez_ops ops;
        void *userdata;
        uint64_t rng;

        sd_bus_slot *match_owner;
        sd_bus_slot *match_added;
        sd_bus_slot *match_removed;
        sd_bus_slot *match_changed;             /* Device1's PropertiesChanged */
        sd_bus_slot *match_adapter_changed;     /* Adapter1's */
        sd_bus_slot *owner_call;
        sd_bus_slot *objects_call;
        char *owner;                    /* unique name owning org.bluez */

        struct bluez_buds *buds;        /* every Device1, selected or not */
        struct bluez_adapter *adapters;
        struct bluez_known *known;
        struct bluez_req *reqs;
        uint64_t next_id;
        bool freeing;                   /* bluez_free(): no callbacks any more */
};

/* bluez.c */
extern const char *const bluez_chr_uuid[_BLUEZ_CHR_MAX];
extern const char *const bluez_chr_name[_BLUEZ_CHR_MAX];
const struct buds_info *bluez_known_get(struct bluez *bz, const char *address);
void bluez_known_drop(struct bluez *bz, const char *address);
int bluez_known_put(struct bluez *bz, const char *address, const struct buds_info *info);
/* Reads the Device1 properties again and applies them as a PropertiesChanged
 * would: for when a signal may never come (bluetoothd 5.66 can bring a link
 * up without signalling Connected). One call in flight per Buds. */
int bluez_device_refresh(struct bluez_buds *b);
/* The PropertiesChanged match of a characteristic we StartNotify, before
 * the StartNotify (kept with its path, dropped with it). 0 or -errno. */
int bluez_chr_watch(struct bluez_buds *b, enum bluez_chr_id chr);
/* GetManagedObjects again (objects already known are kept): for objects
 * whose signals were missed. */
void bluez_rescan(struct bluez *bz);

/* bluez-op.c */
/* Queues a call on chr; -ENOENT when the characteristic is absent. done
 * runs later, from the loop, unless the op is cancelled. */
int bluez_op_start(struct bluez_buds *b, enum bluez_chr_id chr, enum bluez_op_kind kind,
                   const uint8_t *data, size_t len, bluez_op_done_t done, void *userdata,
                   struct bluez_op **ret);
void bluez_op_cancel(struct bluez_op *op);
/* Fails every queued (unsent) operation of chr with r; in-flight ones get BlueZ's answer. */
void bluez_chr_fail_queued(struct bluez_buds *b, enum bluez_chr_id chr, int r, const char *why);
/* bluetoothd is gone: fails everything with r (sent or not). */
void bluez_chr_fail_all(struct bluez_buds *b, enum bluez_chr_id chr, int r, const char *why);
/* Frees queued operations without calling anything. */
void bluez_chr_drop(struct bluez_buds *b, enum bluez_chr_id chr);
void bluez_req_free_all(struct bluez *bz);

/* bluez-buds.c */
struct bluez_buds *bluez_buds_new(struct bluez *bz, const char *address);
void bluez_buds_update(struct bluez_buds *b);
void bluez_buds_lost(struct bluez_buds *b);
void bluez_buds_detach(struct bluez_buds *b);
void bluez_buds_value_changed(struct bluez_buds *b, enum bluez_chr_id chr, const uint8_t *v, size_t n);
void bluez_buds_chr_removed(struct bluez_buds *b, enum bluez_chr_id chr);
void bluez_buds_error(struct bluez_buds *b, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
