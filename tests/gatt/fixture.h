/* SPDX-License-Identifier: MIT */
/* The BlueZ client's test bench: a private dbus-daemon, budsim owning
 * org.bluez on it, the client on its own sd-event loop, a control connection
 * for Budsim1, and a record of every callback. Waits run the loop until a
 * condition holds or a deadline passes; nothing sleeps. Test-only. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "gatt/bluez.h"

#define FIX_ADDR1 "AA:BB:CC:DD:EE:01"
#define FIX_ADDR2 "AA:BB:CC:DD:EE:02"
#define FIX_DEADLINE_USEC (5ULL * 1000000ULL)

struct fix {
        struct testbus *tb;
        pid_t sim;
        sd_event *event;
        sd_bus *bus;                    /* the client's */
        sd_bus *ctl;                    /* the test's: Budsim1 calls, forged signals */
        struct bluez *bz;
        struct bluez_config cfg;

        unsigned n_ready, n_gone, n_notify, n_battery, n_error, n_unreachable;
        struct bluez_buds *ready_buds;
        enum bluez_gone_reason gone_reason;
        struct buds_info info;
        struct manifest manifest;
        struct manifest_notify notify;
        uint8_t battery;
        char error[512];
        char unreachable[512];          /* the last buds_unreachable */

        /* the result of the last operation */
        bool done;
        int error_code;
        struct record rec;
        struct manifest op_manifest;
        struct bluez_device_data data;
        char message[512];
        unsigned n_done;
};

uint64_t fix_now(void);
/* Runs the loop until cond holds (true) or the deadline passes (false). */
#define FIX_WAIT(f, cond) ({                                                    \
        uint64_t _dl = fix_now() + FIX_DEADLINE_USEC;                           \
        bool _ok;                                                               \
        while (!(_ok = (cond)) && fix_now() < _dl)                              \
                (void) sd_event_run((f)->event, 50000);                          \
        _ok;                                                                    \
})

/* Starts the bus and budsim with args (NULL-terminated, after argv[0]). 77 to skip. */
int fix_start(struct fix *f, const char *const *args);
int fix_sim_start(struct fix *f, const char *const *args);
void fix_sim_stop(struct fix *f);
/* The client, with fast test timings unless cfg says otherwise. */
int fix_client(struct fix *f);
void fix_stop(struct fix *f);

/* Budsim1 calls; abort the test on failure. */
void fix_call(struct fix *f, const char *method, const char *types, ...);
void fix_option_s(struct fix *f, const char *name, const char *value);
void fix_option_u(struct fix *f, const char *name, uint32_t value);
void fix_option_b(struct fix *f, const char *name, bool value);
void fix_fault(struct fix *f, const char *addr, const char *target, const char *kind,
               const char *param, char type, uint64_t value);
uint64_t fix_counter(struct fix *f, const char *addr, const char *name);
/* The object path of the characteristic with uuid under the device of addr. */
int fix_chr_path(struct fix *f, const char *addr, const char *uuid, char **ret);

/* Operation callbacks storing into f. */
void fix_on_record(struct bluez_buds *b, int error, const struct record *rec, const char *msg, void *ud);
void fix_on_write(struct bluez_buds *b, int error, const char *msg, void *ud);
void fix_on_manifest(struct bluez_buds *b, int error, const struct manifest *m, const char *msg, void *ud);
void fix_on_device(struct bluez_buds *b, int error, const struct bluez_device_data *d, const char *msg,
                   void *ud);
/* Synchronous wrappers: start, wait, return the error. */
int fix_read(struct fix *f, struct bluez_buds *b, enum key key, struct record *ret);
int fix_write(struct fix *f, struct bluez_buds *b, const struct record *rec);
struct bluez_buds *fix_wait_ready(struct fix *f, const char *addr, unsigned n_ready);
