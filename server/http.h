/* SPDX-License-Identifier: MIT */
/* syncd's HTTPS front: libmicrohttpd with TLS driven by the caller's event
 * loop (epoll, external), its limits and deadlines on connections, the
 * framing checks, routing, bearer tokens, request bodies with their size
 * limit, replies and errors (gzip when the client takes it), parked
 * (suspended) requests, the test fault hooks, and a report of every request
 * that ended (for the access log and the metrics, which it does not know). Endpoints see a whole request and fill a struct reply; they
 * never touch libmicrohttpd responses. Never answers before an endpoint has
 * finished (and so committed). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "conns.h"
#include "counters.h"
#include "faults.h"
#include "longpoll.h"
#include "reply.h"
#include "tlscert.h"
#include "tokens.h"

#define HTTP_BODY_MAX (1024u * 1024u)   /* bytes; larger bodies get 413 too_large */
#define HTTP_PARKED 1                   /* a handler's "suspended, call me again" */

struct http_request {
        struct MHD_Connection *connection;
        const char *method;
        const char *account;            /* the bearer token's; NULL on public routes */
        const char *path_arg;           /* the {id} of a route with an argument */
        const char *body;               /* NULL when there was none */
        size_t body_len;
        struct longpoll_waiter *waiter; /* set while parked and when resumed */
        void *data;                     /* the endpoint's, released by its done hook */
};

/* Returns 0 with *ret filled, HTTP_PARKED, or a negative errno (answered as
 * 500 internal, and logged). A begin hook runs when the headers are in and the
 * body is not; it leaves ret->status 0 to go on, or sets an error reply that is
 * sent once the body has been read. */
typedef int (*http_handler_fn)(void *userdata, struct http_request *req, struct reply *ret);

struct http_route {
        const char *method;
        const char *path;               /* exact, or with_arg: a prefix ending in '/' + one segment */
        bool with_arg;
        bool public;                    /* no bearer token (the test hooks) */
        http_handler_fn begin;          /* optional */
        http_handler_fn handle;
        void (*done)(void *userdata, struct http_request *req);  /* optional; always called */
        void *userdata;
};

/* One request as it ended (answered, or closed without an answer), for the
 * access log and the metrics. */
struct http_done {
        const char *method;             /* as sent, made printable and cut short */
        const struct http_route *route; /* NULL: none matched (404, 405, 400 before routing, a test fault) */
        const char *account;            /* the bearer token's; NULL when none was known */
        const char *idempotency_key;    /* lower case; NULL: none sent; "invalid": not a UUID */
        unsigned status;                /* 0: closed without an answer */
        uint64_t duration_us;           /* from the request line to the end of the answer */
        size_t bytes;                   /* of the body as sent (compressed, when it was) */
        bool gzip;                      /* Content-Encoding: gzip */
        bool replay;                    /* an idempotent replay of a stored answer */
        enum MHD_RequestTerminationCode end;
};

typedef void (*http_done_fn)(void *userdata, const struct http_done *d);

struct http_config {
        struct sockaddr_storage addr;
        socklen_t addr_len;
        struct tlscert *cert;           /* http_new takes a reference of its own */
        const struct http_route *routes;
        size_t n_routes;
        const struct tokens *tokens;    /* reloaded in place (tokens_reload) */
        struct longpoll *longpoll;
        struct faults *faults;          /* NULL: fault hooks disabled */
        struct counters *counters;
        unsigned max_connections;
        unsigned max_connections_per_address;   /* 0: no limit */
        struct conns_timeouts timeouts;
        http_done_fn done;              /* optional: told of every request that ended */
        void *done_userdata;
};

struct http;

int http_new(const struct http_config *cfg, struct http **ret);
struct http *http_free(struct http *h);

/* The route as its template: "/v1/devices/{id}" for a route with an
 * argument. Returns buf. */
const char *http_route_name(const struct http_route *rt, char *buf, size_t size);

int http_local_port(const struct http *h);
int http_epoll_fd(const struct http *h);
/* Milliseconds the loop may sleep before http_run must be called; -1: no limit. */
int http_timeout_ms(const struct http *h);
/* Cuts the connections past their deadlines, lets libmicrohttpd work, sums up
 * the log lines held back. */
int http_run(struct http *h);
/* Connections held and not closing. */
size_t http_connections(const struct http *h);
/* Stops accepting; parked requests are resumed to answer 503. */
void http_quiesce(struct http *h);
/* The certificate for connections accepted from now on; each one accepted
 * before keeps its own until it closes. Takes a reference of its own. */
void http_set_cert(struct http *h, struct tlscert *cert);
