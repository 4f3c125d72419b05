/* SPDX-License-Identifier: MIT */
/* The bridge at work: the sync engine driven by the Buds (gatt/bluez), the
 * server (uplink) and timers on one sd-event loop. Owns the store, the
 * engine, the BlueZ client and the HTTPS client; reports to the control API
 * through the ops it was given and never calls up into it. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "common/buds-address.h"
#include "conf.h"
#include "policy/value.h"

struct manager;

enum manager_state {
        MANAGER_IDLE,
        MANAGER_SYNCING,
        MANAGER_OFFLINE,
        MANAGER_ERROR,
};

struct manager_ops {
        /* The intent of key changed, whatever the source. */
        void (*changed)(enum key key, const struct record *intent, void *userdata);
        /* State, Online, Pending or Conflicts may have changed. */
        void (*properties)(void *userdata);
};

struct manager_options {
        /* test hooks: 0 means the production value */
        uint64_t uplink_backoff_min_usec;
        uint64_t uplink_backoff_max_usec;
        uint64_t bluez_backoff_min_usec;
        uint64_t bluez_backoff_max_usec;
        unsigned wait_timeout_sec;      /* long poll; 0: 60 */
};

/* Takes the store directory (must exist), a loaded configuration and token.
 * Failure: a negative errno and a message naming what (free it);
 * *ret_config_error tells whether the state directory or the server settings
 * were at fault (bridged exits 78) or something else (exit 1). */
int manager_new(sd_event *event, sd_bus *bus, const char *state_dir, const struct conf *conf, const char *token,
                const struct manager_options *opts, const struct manager_ops *ops, void *userdata,
                struct manager **ret, char **ret_error, bool *ret_config_error);
struct manager *manager_free(struct manager *m);

/* SIGHUP: a new configuration and token (already checked). The server
 * settings, the Buds selection and the sync timings take effect; a halt
 * (a refused token, a schema mismatch) is lifted. */
int manager_reload(struct manager *m, const struct conf *conf, const char *token, char **ret_error);

enum manager_state manager_state(const struct manager *m);
/* Nothing in flight: the WAL is checkpointed when due (not inside an
 * engine step's commit), and the caches give back what they hold beyond
 * use. */
void manager_tidy(struct manager *m);
const char *manager_state_name(enum manager_state s);
bool manager_online(const struct manager *m);
unsigned manager_pending(struct manager *m);
unsigned manager_conflicts(struct manager *m);
/* bluetoothd owns org.bluez (the Bluetoothd property). */
bool manager_bluetoothd(struct manager *m);
/* one line for sd_notify STATUS= */
const char *manager_status_line(struct manager *m);

/* Each Buds the bridge remembers, as the control API shows it (the Buds
 * objects). item[k] is NULL unless connected, else synced|pending|failing. */
struct manager_buds_view {
        char address[BUDS_ADDRESS_SIZE];
        char name[249];
        enum family family;             /* FAMILY_ANY until known */
        uint64_t buds_id;
        char firmware[65];
        int battery;                    /* -1: unknown */
        bool connected;
        const char *item[KEY_MAX + 1];
};
/* Newest first; *ret malloc'd (NULL and 0 when none). */
int manager_buds_views(struct manager *m, struct manager_buds_view **ret, size_t *ret_n);

/* The control API's answers, as the API's JSON (malloc'd). Errors are a
 * negative errno and a message a person can act on (malloc'd):
 * -EINVAL invalid argument, -ENOTCONN no Buds to pick a family from,
 * -ENETDOWN offline, -ENOENT not found, others a failure. */
int manager_status_json(struct manager *m, char **ret);
int manager_stats_json(struct manager *m, char **ret);
int manager_get_json(struct manager *m, const char *key, char **ret, char **ret_error);
int manager_set_json(struct manager *m, const char *key, const char *family, const char *value, char **ret,
                     char **ret_error);
/* Patch: patch is a JSON Merge Patch (RFC 7396) applied to the item's intent
 * (converted to the family when it is of the other), then taken as Set takes
 * a value. For eq.active, a patch naming a preset other than custom drops the
 * parameters, and custom without parameters takes the Custom EQ's. */
int manager_patch_json(struct manager *m, const char *key, const char *family, const char *patch, char **ret,
                       char **ret_error);
int manager_conflicts_json(struct manager *m, char **ret);
int manager_restore_json(struct manager *m, uint64_t id, char **ret, char **ret_error);
/* DismissConflicts: removes ids[0..n) from the conflict log (all when n is
 * 0); *ret: how many went. */
int manager_dismiss_conflicts(struct manager *m, const uint64_t *ids, size_t n, unsigned *ret, char **ret_error);

/* Push and pull now, once, without retrying; done() runs exactly once with
 * the result JSON or an error (-ENETDOWN offline, -ECANCELED when the
 * manager goes away). */
typedef void (*manager_sync_fn)(int r, const char *json, const char *error, void *userdata);
int manager_sync(struct manager *m, manager_sync_fn done, void *userdata);
