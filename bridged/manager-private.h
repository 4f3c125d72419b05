/* SPDX-License-Identifier: MIT */
/* What the files of the manager share: the manager, its Buds handlers and
 * the Sync() call in flight, and the functions one part calls in another.
 * Never included outside bridged/manager*.c and bridged/control-json.c. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "common/cleanup.h"
#include "conf.h"
#include "engine.h"
#include "gatt/bluez.h"
#include "latency.h"
#include "manager.h"
#include "policy/value.h"
#include "store.h"
#include "uplink/uplink.h"

#define MANAGER_USEC_PER_MSEC UINT64_C(1000)

struct mbuds;

/* The steps of a change from the Buds to the server, timed for Stats()
 * (path_usec): what make bench's profile prints. The push and the
 * write-back both leave once the engine step is committed, the push first,
 * neither waiting for the other: each is timed from the engine step, and
 * the write's answer from its issue, beside the push. */
enum path_step {
        PATH_READ,                      /* notification in -> read answered */
        PATH_ENGINE,                    /* read answered -> engine step done, its commit excluded */
        PATH_COMMIT,                    /* the engine step's synchronous=FULL commit */
        PATH_WRITE_ISSUED,              /* engine step done -> write-back issued */
        PATH_PUSH_ISSUED,               /* engine step done -> push issued */
        PATH_PUSH_ANSWERED,             /* push issued -> push answered */
        PATH_WRITE_ANSWERED,            /* write-back issued -> write-back answered */
        _PATH_STEP_MAX,
};

/* When a change noticed on the Buds passed each step (0: not yet). */
struct path_times {
        uint64_t read, engine, commit_usec, write, push;
};

/* One item of one Buds: at most one GATT operation in flight. */
struct mitem {
        struct mbuds *owner;
        enum key key;
        uint64_t read_id, write_id;
        bool again;                     /* re-decide when the operation in flight ends */
        uint32_t notified;              /* the newest revision a notification announced */
        struct record writing;
        uint64_t changed_usec;          /* a change on the Buds was noticed (latency) */
        struct path_times path;         /* ... and when it passed each step since */
        uint64_t write_issued_usec;     /* the write in flight left (path profile) */
        uint32_t written;               /* the revision our last write produced (its notify is ours) */
        unsigned stale_streak;          /* stale answers in a row: a CAS that makes no progress */
        uint64_t from_server_usec;      /* a server change is on its way to these Buds */
        sd_event_source *retry;         /* after a failed read or write: read again then */
        sd_event_source *confirm;       /* a write acknowledged, its notification awaited */
        uint64_t held_usec;             /* a write waits for that notification since (item_write) */
        bool hold_cut;                  /* ... and the wait for it was cut short for that write */
        unsigned unapplied;             /* acknowledged writes in a row whose notification never came */
        unsigned failures;              /* failed operations in a row, since the last success */
        char *failing;                  /* what the last one said, while failing */
};

struct mbuds {
        struct manager *m;
        struct bluez_buds *b;
        char address[BUDS_ADDRESS_SIZE];        /* as gatt/ gives it: normalised */
        bool ready;
        uint64_t data_id;
        struct mitem item[KEY_MAX + 1];
        struct mbuds *next;
};

struct sync_call {
        manager_sync_fn done;
        void *userdata;
        unsigned pulled, pushed, written, writes_pending;
        int error;
        char *message;
};

struct counters {
        uint64_t syncs_ok, syncs_failed, pushed, pulled, gatt_reads, gatt_writes, gatt_stale, buds_connects;
};

struct manager {
        sd_event *event;
        sd_bus *bus;
        struct manager_options opts;
        struct manager_ops ops;
        void *userdata;

        struct conf *conf;              /* the settings in use (a copy) */
        struct store *store;
        struct engine *engine;
        struct bluez *bluez;
        struct uplink *uplink;
        struct mbuds *buds;

        /* the sync loop */
        uint64_t pull_id, push_id, wait_id;    /* 0: none in flight; whoever cancels clears it */
        bool pull_wanted, push_wanted, pulled_since_online, online;
        sd_event_source *debounce, *interval, *registry, *cooldown, *wait_pace;
        unsigned pull_pages;            /* pages in a row that said "more" */
        bool cursor_forgotten;          /* a refused cursor started this pull round over */
        uint64_t wait_started_usec;     /* the long poll in flight left */
        unsigned quick_waits;           /* long polls in a row answered at once */
        uint64_t wait_not_before_usec;  /* the next long poll leaves then at the earliest */
        bool wait_paced;                /* said so in the log, until a long poll waits */
        uint64_t cooldown_usec;         /* after a final error: wait before trying again */
        bool registry_dirty;
        char *halted;                   /* why syncing stopped (401, schema) until a reload */
        char *cache_error;              /* the cache failed its last step (until one succeeds) */
        bool cache_damaged;             /* ... and store_check() found it damaged: until a restart */
        char *last_error;
        struct sync_call *sync;
        unsigned push_unusable;         /* answers to the push in flight that could not be taken */
        unsigned registry_busy;         /* device registry requests in flight */
        bool stopping;                  /* manager_free runs: the sync loop starts nothing new */

        uint64_t started_usec;
        uint64_t rng;                   /* jitter of the Buds items' retries */
        struct counters c;
        struct latency buds_to_server, server_to_buds;
        struct latency path[_PATH_STEP_MAX];    /* µs, not ms */
        char status_line[160];
};

static inline char *xstrdup(const char *s) { return s ? strdup(s) : NULL; }

/* manager.c: the whole */
uint64_t manager_now_usec(struct manager *m);
uint64_t manager_clock_usec(void);
uint64_t manager_wall_ms(void *userdata);
void manager_set_string(char **p, const char *s);
void manager_notify_properties(struct manager *m);
/* A step of the engine failed (the cache: a full disk, I/O, damage): the
 * state is error, with what failed, until a step succeeds again. */
void manager_cache_failed(struct manager *m, int r, const char *what);
struct mbuds *manager_find_buds(struct manager *m, const char *address);

/* manager.c: the path profile (Stats() path_usec) */
const char *manager_path_step_name(enum path_step s);
/* The change noticed on it reached the server: its steps into m->path. */
void manager_path_done(struct manager *m, struct mitem *it);

/* manager-buds.c: the Buds items (read, write, check) and the Buds' events */
extern const struct bluez_ops manager_bluez_ops;
void manager_carry_out(struct manager *m, const struct engine_outcome *o);
void manager_item_check(struct mitem *it, uint32_t revision);
void manager_buds_detach(struct manager *m, struct mbuds *b);
/* "synced", "pending" (an operation in flight or due) or "failing". */
const char *manager_item_state(const struct mitem *it);

/* manager-sync.c: the sync loop (pull, push, wait, debounce, cool-down) */
extern const struct uplink_ops manager_uplink_ops;
void manager_kick(struct manager *m);
void manager_schedule_push(struct manager *m);
int manager_on_interval(sd_event_source *s, uint64_t usec, void *userdata);

/* manager-registry.c: the device registry (Server Data) */
void manager_registry_touch(struct manager *m);

/* manager-sync-call.c: the one-shot Sync() */
void manager_sync_free(struct sync_call *s);
void manager_sync_finish(struct manager *m);
void manager_sync_write_done(struct manager *m, bool ok);
