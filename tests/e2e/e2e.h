/* SPDX-License-Identifier: MIT */
/* End-to-end harness: everything real on one machine. A private dbus-daemon,
 * budsim owning org.bluez on it, syncd over TLS with a CA made at test time,
 * and bridged itself, started with NOTIFY_SOCKET pointing at the harness so
 * that "ready" is bridged's own READY=1. The test talks to bridged and budsim
 * over the bus and to syncd as a phone would (HTTPS). Waits run on bus
 * signals with a deadline; nothing sleeps. Test-only. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <systemd/sd-bus.h>

#include "policy/value.h"
#include "tests/lib/harness.h"

#define E2E_DEADLINE_USEC (20 * UINT64_C(1000000))
#define E2E_PHONE UINT64_C(0x00000000000000fe)

struct e2e {
        struct testbus *tb;
        sd_bus *bus;                    /* the test's own connection */
        pid_t budsim, bridged;
        struct harness_syncd server;
        char dir[64];                   /* configuration, token, state */
        char conf[128];
        char state[128];
        char notify[128];
        int notify_fd;
        unsigned push_debounce_ms;
        bool long_poll;
        bool server_shared;             /* another e2e's syncd: not ours to stop */
        bool server_no_faults;          /* syncd without its test fault hooks (the demo) */
        const char *const *server_args; /* more syncd options, at every start; NULL-ended */
        /* With E2E_HAPROXY=1 and SYNCD_TEST_PG: a second syncd on server's
         * database and directory, and HAProxy (TCP, round robin) in front of
         * both; bridged's Url= is HAProxy's. e2e_server_stop and _start act
         * on both. */
        struct harness_syncd server2;
        pid_t haproxy;
        char url[64];                   /* bridged's Url=: "" for server.base */
        uint64_t ready_usec;            /* start to READY=1 of the last start */
};

/* Bus, budsim, syncd (and bridged unless no_bridged). */
int e2e_start(struct e2e *e, bool no_bridged);
/* The same, with syncd's test fault hooks off (what a person runs). */
int e2e_start_without_faults(struct e2e *e, bool no_bridged);
/* The same as e2e_start, syncd given these options too, at every start. */
int e2e_start_with_server_args(struct e2e *e, bool no_bridged, const char *const *server_args);
/* Another host on the same server: its own bus, budsim, state and bridged,
 * syncing with owner's syncd (which owner starts and stops). */
int e2e_start_host(struct e2e *e, const struct e2e *owner, bool no_bridged);
void e2e_stop(struct e2e *e);

/* bridged with the configuration in e (rewritten each start): spawned, then
 * READY=1 awaited. A fresh state directory when fresh_state. */
int e2e_bridged_start(struct e2e *e, bool fresh_state);
/* Sends sig (SIGTERM, SIGKILL), reaps; returns the wait status. */
int e2e_bridged_stop(struct e2e *e, int sig);
/* The server: stopped (connections refused), started again on the same
 * port and database. */
int e2e_server_stop(struct e2e *e);
int e2e_server_start(struct e2e *e);
/* The same with more syncd arguments (NULL-terminated), e.g. --max-skew-sec. */
int e2e_server_start_with(struct e2e *e, const char *const *extra);

/* org.bridged.Manager1: member with arguments; the JSON answer (malloc'd)
 * or, on a D-Bus error, its name and message in err. */
int e2e_call(struct e2e *e, const char *member, char **ret_json, sd_bus_error *err, const char *types, ...);
/* Runs a shell command line (bridgectl, say), its standard output into out
 * (NUL-terminated, cut to size), draining bridged's notify socket meanwhile
 * as systemd would, so a status change bridged reports while serving the
 * command never blocks it. Its exit status (128+N for signal N), or -errno;
 * killed after 60 s. */
int e2e_run(struct e2e *e, const char *cmd, char *out, size_t size);
/* Serves the bus and drains the notify socket for usec: for a caller that
 * only waits (the demo's shell), so bridged never blocks meanwhile. */
void e2e_idle(struct e2e *e, uint64_t usec);
/* Starts a shell command line that runs on (bridgectl monitor): its pid
 * and the read end of its standard output. It gets SIGTERM if the test dies. */
int e2e_spawn(struct e2e *e, const char *cmd, pid_t *ret_pid, int *ret_fd);
/* Appends what fd gives to buf (NUL-terminated, holding what came before)
 * until buf holds needle (true) or the timeout passes or fd ends (false),
 * draining the notify socket and serving the bus meanwhile. */
bool e2e_read_until(struct e2e *e, int fd, const char *needle, char *buf, size_t size, uint64_t timeout_usec);
/* org.bridged.test.Budsim1 */
int e2e_sim(struct e2e *e, const char *member, sd_bus_message **ret_reply, const char *types, ...);
int e2e_sim_add_buds(struct e2e *e, const char *address, const char *name, enum family f, uint64_t id);
int e2e_sim_touch(struct e2e *e, const char *address, const struct value *v);
int e2e_sim_record(struct e2e *e, const char *address, enum key key, struct record *ret);
/* The record replaces the item as is (revision, flags, stamp): Buds moved
 * to this budsim with their state. */
int e2e_sim_set_record(struct e2e *e, const char *address, const struct record *rec);
/* The private bus (for a bridgectl run with DBUS_SYSTEM_BUS_ADDRESS). */
const char *e2e_bus_address(const struct e2e *e);

/* The server's copy of (key, family), as a phone pulling from the start sees it. -ENOENT if none. */
int e2e_server_record(struct e2e *e, enum key key, enum family family, struct record *ret);
/* A phone's push of one record (its own Idempotency-Key); the result status. */
int e2e_phone_push(struct e2e *e, const struct record *r, char *ret_status, size_t size);

/* DismissConflicts(ids): how many went, or a negative errno. */
int e2e_dismiss_conflicts(struct e2e *e, const uint64_t *ids, size_t n);

/* Set(v) over D-Bus (the family "" for the profile, v's for an EQ item):
 * 0 and the record the bridge stored in *ret (may be NULL), or the D-Bus
 * error in err (may be NULL). */
int e2e_set(struct e2e *e, const struct value *v, sd_bus_error *err, struct record *ret);

/* The bridge's intent of key (Get), decoded. -ENOENT when it has none. */
int e2e_intent(struct e2e *e, enum key key, struct record *ret);

/* Runs the bus until cond(e, userdata) holds, re-checking after every
 * message and every 50 ms at most; false when the deadline passes first. */
bool e2e_wait(struct e2e *e, bool (*cond)(struct e2e *e, void *userdata), void *userdata, uint64_t timeout_usec);

/* Waits until bridged's Status shows the Buds at address connected. */
bool e2e_wait_buds_ready(struct e2e *e, const char *address, uint64_t timeout_usec);

/* Rewrites bridged's configuration from e (or with text, verbatim) and sends SIGHUP. */
int e2e_bridged_reload(struct e2e *e, const char *text);

/* Converged: the Buds at address, the server and the bridge hold the same
 * stamp and value for key in the Buds' family (and nothing is pending). */
bool e2e_converged(struct e2e *e, const char *address, enum key key, const struct record *want);

uint64_t e2e_now_usec(void);
