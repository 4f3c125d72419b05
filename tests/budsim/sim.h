/* SPDX-License-Identifier: MIT */
/* budsim's shared state: the fake bluetoothd (adapters, devices, their GATT
 * objects and in-flight operations), its options, faults and counters. Only
 * budsim's own files include it; the Buds model (buds.h) never does. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "buds.h"

#define SIM_ERROR_BLUEZ "org.bluez.Error"
#define SIM_ADAPTERS_MAX 4
#define SIM_PATH_MAX 64           /* a device's path; its objects add to it */
#define SIM_FAULTS_MAX 16
#define SIM_COUNTERS_MAX 64
#define SIM_SESSIONS_MAX 8
#define SIM_JOINED_MAX 8

enum sim_cache {
        SIM_CACHE_YES,          /* keep the objects of paired devices */
        SIM_CACHE_NO,
        SIM_CACHE_ALWAYS,
};

struct sim_options {
        enum sim_cache cache;
        bool resolve_before;    /* ServicesResolved before the last service is added */
        uint32_t gatt_delay_ms;
        uint32_t connect_delay_ms;
        uint32_t resolve_delay_ms;
        uint32_t connect_timeout_ms;
        uint16_t mtu;
        bool notify_before_reply;
        bool silent_connect;    /* Connected=true without PropertiesChanged (5.66's race) */
        bool stale_cache;       /* a GATT cache without the Buds Sync service (5.66, after the
                                 * database changed mid-discovery): neither in UUIDs nor exported */
        bool disconnect_reply_first; /* Disconnect answered before Connected=false (5.66) */
};

enum sim_svc {
        SIM_SVC_GATT,
        SIM_SVC_DIS,
        SIM_SVC_BATTERY,
        SIM_SVC_SYNC,
        _SIM_SVC_MAX,
};

/* Characteristics of one device; the order is the handle order in a service. */
enum sim_chr {
        SIM_CHR_SERVICE_CHANGED,
        SIM_CHR_MANUFACTURER,
        SIM_CHR_MODEL,
        SIM_CHR_SERIAL,
        SIM_CHR_FIRMWARE,
        SIM_CHR_BATTERY,
        SIM_CHR_INFO,
        SIM_CHR_MANIFEST,
        SIM_CHR_PROFILE,
        SIM_CHR_EQ_CUSTOM,
        SIM_CHR_EQ_ACTIVE,
        _SIM_CHR_MAX,
};

enum sim_fault_kind {
        SIM_FAULT_DELAY,
        SIM_FAULT_ATT_ERROR,
        SIM_FAULT_ERROR,
        SIM_FAULT_MALFORMED,
        SIM_FAULT_DISCONNECT_IN_WRITE,
        SIM_FAULT_DROP_NOTIFY,
        SIM_FAULT_CRASH,
        SIM_FAULT_IGNORE_WRITE,         /* acknowledged, not applied (firmware that drops it) */
};

struct sim_fault {
        enum sim_fault_kind kind;
        int target;             /* enum sim_chr, -1 for any */
        uint32_t count;         /* 0: until cleared */
        uint32_t ms;
        uint8_t ecode;
        char name[64];
        char message[128];
        char how[16];
        bool applied;
};

struct sim_counters {
        unsigned n;
        struct {
                char name[32];
                uint64_t value;
        } e[SIM_COUNTERS_MAX];
};

enum sim_op_kind {
        SIM_OP_READ,
        SIM_OP_WRITE,
        SIM_OP_START_NOTIFY,
};

/* A GATT operation in flight: the reply waits for its timer. */
struct sim_op {
        enum sim_op_kind kind;
        struct sim_chrc *chrc;
        struct sim_session *session;            /* START_NOTIFY */
        sd_bus_message *msg[SIM_JOINED_MAX];    /* reads with the same offset join */
        unsigned n_msg;
        uint16_t offset;
        uint8_t value[512];                     /* ATT's longest value */
        size_t len;
        bool too_long;
        sd_event_source *timer;
        struct sim_fault fault;                 /* the fault that hit it (kind or -1) */
        bool faulted;
};

struct sim_session {
        char *sender;
        bool armed;
        sd_bus_track *track;
        struct sim_op *op;                      /* StartNotify in flight */
};

struct sim_chrc {
        struct sim_device *dev;
        enum sim_chr id;
        uint16_t handle;                        /* declaration; value is +1 */
        char path[SIM_PATH_MAX + 32];
        char ccc_path[SIM_PATH_MAX + 48];
        uint8_t value[BUDS_VALUE_MAX + 1];      /* BlueZ's cached Value */
        size_t value_len;
        bool notifying;
        struct sim_op *read_op;
        struct sim_op *write_op;
        struct sim_session *session[SIM_SESSIONS_MAX];
};

struct sim_service {
        struct sim_device *dev;
        enum sim_svc id;
        uint16_t handle;
        char path[SIM_PATH_MAX + 16];
};

enum sim_link {
        SIM_LINK_DOWN,
        SIM_LINK_CONNECTING,
        SIM_LINK_UP,
};

struct sim_device {
        struct sim *sim;
        struct sim_adapter *adapter;
        struct sim_device *next;
        char address[18];
        char path[SIM_PATH_MAX];
        char *name;
        char *alias;
        bool paired, trusted, blocked, wake_allowed, reachable;
        enum sim_link link;
        bool gatt_ready;                        /* ATT usable: reads do not fail "Not connected" */
        bool services_resolved;
        bool hold_connected;                    /* link_down leaves Connected=false to its caller */
        bool exported;                          /* GATT objects on the bus */
        struct buds *buds;
        struct sim_service svc[_SIM_SVC_MAX];
        enum sim_svc svc_order[_SIM_SVC_MAX];   /* handle order */
        struct sim_chrc chrc[_SIM_CHR_MAX];
        sd_event_source *link_timer;            /* connecting, or resolving */
        sd_bus_message *connect_msg;
        bool deferring;                         /* a write is applying: hold the notify */
        uint8_t deferred[KEY_MAX][WIRE_NOTIFY_SIZE];
        unsigned n_deferred;
        struct sim_fault fault[SIM_FAULTS_MAX];
        unsigned n_fault;
        struct sim_counters counters;
};

struct sim_adapter {
        struct sim *sim;
        unsigned index;
        char path[32];
        char address[18];
        char *alias;
        bool powered, discoverable, pairable, discovering;
        uint32_t discoverable_timeout, pairable_timeout;
};

struct sim {
        sd_event *event;
        sd_bus *bus;                            /* owns org.bluez */
        sd_bus *ctl;                            /* owns the control name */
        char *bus_address;                      /* --bus, or NULL for the system bus */
        struct sim_options opt;
        struct sim_adapter adapter[SIM_ADAPTERS_MAX];
        unsigned n_adapters;
        struct sim_device *devices;
        uint64_t rng;
        sd_event_source *restart_timer;
        struct sim_counters counters;           /* totals */
};

/* bluez.c: the org.bluez connection and the adapter/device objects */
int sim_bus_open(struct sim *sim, sd_bus **ret);
int sim_bluez_start(struct sim *sim);
void sim_bluez_stop(struct sim *sim);
int sim_bluez_restart(struct sim *sim, uint32_t down_ms);
int sim_device_add(struct sim *sim, const char *spec, const char *name, enum family family,
                   uint64_t buds_id, struct sim_device **ret);
void sim_device_remove(struct sim_device *d);
struct sim_device *sim_device_find(struct sim *sim, const char *spec);
int sim_device_link_up(struct sim_device *d);
void sim_device_link_down(struct sim_device *d, bool emit);
void sim_device_set_paired(struct sim_device *d, bool paired);
void sim_device_set_resolved(struct sim_device *d, bool resolved);
int sim_gatt_enumerate(struct sim_device *d, char ***strv, size_t *n);
bool sim_device_cache_keeps(const struct sim_device *d);
void sim_count(struct sim_device *d, const char *name);
void sim_countf(struct sim_device *d, const char *fmt, const char *arg);
uint64_t sim_random(struct sim *sim);
int sim_emit_changed(struct sim *sim, const char *path, const char *iface, const char *prop);

/* chrc.c (sim_gatt_enumerate is bluez.c's): GATT services, characteristics, descriptors and their methods */
extern const char *const sim_chr_names[_SIM_CHR_MAX];
int sim_gatt_register(struct sim *sim);
void sim_gatt_layout(struct sim_device *d);
void sim_gatt_export(struct sim_device *d, bool resolve_before_last);
void sim_gatt_unexport(struct sim_device *d, bool emit);
void sim_gatt_link_up(struct sim_device *d);
void sim_gatt_link_down(struct sim_device *d);
void sim_gatt_drop_all(struct sim_device *d);
/* the service of characteristic c; a service the stale cache hides */
enum sim_svc sim_gatt_chr_service(int c);
bool sim_gatt_hidden(const struct sim_device *d, enum sim_svc s);
void sim_gatt_item_changed(struct buds *b, const uint8_t notify[WIRE_NOTIFY_SIZE], void *userdata);
void sim_gatt_battery_changed(struct buds *b, uint8_t level, void *userdata);
void sim_gatt_notify(struct sim_device *d, enum sim_chr id, const uint8_t *value, size_t len);
int sim_chr_from_name(const char *name);

/* control.c: org.bridged.test.Budsim1 */
int sim_control_start(struct sim *sim);
