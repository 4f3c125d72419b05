/* SPDX-License-Identifier: MIT */
/* The connections libmicrohttpd holds, each with the step it is in and that
 * step's deadline: the TLS handshake and the request's headers (from accept),
 * the body coming in or the answer going out (from the start of each), the
 * wait for the next request on a kept-alive connection (from the previous
 * answer). A deadline runs from the start of its step and no byte received
 * moves it, so a client that trickles bytes gains nothing. A connection past
 * its deadline is shut down both ways; libmicrohttpd then reads the end of
 * the stream and closes it on its next pass. Never closes a descriptor
 * (libmicrohttpd owns them) and knows nothing of HTTP. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "counters.h"

enum conns_step {
        CONNS_HEADERS,          /* accepted: TLS handshake, request line and headers */
        CONNS_TRANSFER,         /* the request's body coming in, or the answer going out */
        CONNS_IDLE,             /* kept alive: the next request's headers */
        CONNS_WORKING,          /* the handler's: parked, in a group commit; no deadline */
        CONNS_CLOSING,          /* cut, or answered with Connection: close; not counted */
        CONNS_STEP_MAX,
};

struct conns_timeouts {
        uint64_t headers_ms, transfer_ms, idle_ms;
};

struct conns;
struct conns_entry;

int conns_new(const struct conns_timeouts *t, struct counters *counters, struct conns **ret);
/* Forgets every entry; the descriptors are libmicrohttpd's. */
struct conns *conns_free(struct conns *cs);

/* A connection accepted at now_ms, in CONNS_HEADERS. */
int conns_add(struct conns *cs, int fd, uint64_t now_ms, struct conns_entry **ret);
/* What the caller keeps with the connection (http.c: the certificate its TLS
 * session was given); NULL until set. Theirs to release before removing it. */
void conns_entry_set_data(struct conns_entry *e, void *data);
void *conns_entry_data(const struct conns_entry *e);
/* Accepts NULL. */
void conns_remove(struct conns *cs, struct conns_entry *e);
/* The connection starts step at now_ms (again, if it was in it). CONNS_CLOSING
 * is final: later steps are ignored. Accepts NULL. */
void conns_step(struct conns *cs, struct conns_entry *e, enum conns_step step, uint64_t now_ms);

/* Milliseconds until the next deadline, -1 when none. */
int conns_timeout_ms(const struct conns *cs, uint64_t now_ms);
/* Shuts down every connection past its deadline. */
void conns_expire(struct conns *cs, uint64_t now_ms);
/* Connections held and not closing. */
size_t conns_live(const struct conns *cs);
