/* SPDX-License-Identifier: MIT */
/* A private dbus-daemon for tests: started on a unix socket in a fresh
 * temporary directory with a policy that allows everything, and programs
 * spawned against it (as their system and session bus) that tell when they
 * are ready by printing a line. Every wait has a deadline; nothing sleeps.
 * Test-only: never link it into the daemon.
 *
 *     struct testbus *tb;
 *     pid_t pid;
 *     r = testbus_start(&tb);                  // -ENOENT: no dbus-daemon, skip
 *     r = testbus_spawn(tb, (char *[]) { "build/tests/budsim/budsim", NULL },
 *                       "budsim: ready", 5 * 1000000, &pid);
 *     ... sd_bus_set_address(bus, testbus_address(tb)) ...
 *     testbus_kill(pid);
 *     tb = testbus_stop(tb);
 */
#pragma once

#include <stdint.h>
#include <sys/types.h>

struct testbus;

/* Starts the daemon and waits (5 s at most) for its address. */
int testbus_start(struct testbus **ret);
/* "unix:path=/tmp/testbus-XXXXXX/bus,guid=..." */
const char *testbus_address(const struct testbus *tb);
/* Lets every user of the machine connect (the directory and the socket open
 * to others), for tests that call as another user. */
int testbus_open_to_others(struct testbus *tb);
/* Kills the daemon (SIGTERM, then waits), removes the directory. NULL-safe. */
struct testbus *testbus_stop(struct testbus *tb);

/* Runs argv[0] (a path) with DBUS_SYSTEM_BUS_ADDRESS and
 * DBUS_SESSION_BUS_ADDRESS set to the bus, and waits until it prints the
 * line ready_line on stdout (its other output is dropped; stderr is
 * inherited). The child gets SIGTERM if the test dies. -ETIMEDOUT when the
 * line does not come within timeout_usec (the child is killed then),
 * -EPIPE when the child closes stdout first. */
int testbus_spawn(struct testbus *tb, char *const argv[], const char *ready_line, uint64_t timeout_usec,
                  pid_t *ret_pid);
/* SIGTERM, then reaps it. Returns its wait status, or -errno. */
int testbus_kill(pid_t pid);
/* Reaps pid, waiting at most timeout_usec. Returns its wait status, -ETIMEDOUT, or -errno. */
int testbus_wait(pid_t pid, uint64_t timeout_usec);
