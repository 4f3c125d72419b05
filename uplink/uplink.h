/* SPDX-License-Identifier: MIT */
/* The bridge's HTTPS client for the sync API (docs/protocol.md): status, pull,
 * push, the long poll and the device registry, on libcurl's multi interface
 * driven by the caller's sd-event loop. It retries what the API says to
 * retry (backoff with jitter, Retry-After, the same Idempotency-Key and body),
 * splits a push the server finds too large, parses every answer strictly, and
 * reports online/offline through ops->state. It never blocks, never logs,
 * never turns TLS verification off and never puts the token in a message.
 *
 * Calls. Every uplink_status()/_pull()/_push()/_wait()/_put_device()/
 * _list_devices() either fails at once (a negative errno, no callback) or
 * returns 0 and an id (> 0, never reused; ret_id may be NULL); then its
 * callback runs exactly once, later, from the event loop, unless
 * uplink_cancel(id) or uplink_free() runs first, in which case it never runs.
 * It runs with r >= 0 and the result, or with a negative errno and a message
 * naming the endpoint and what was wrong. Results, messages and every pointer
 * inside them belong to the uplink and live until the callback returns.
 * Callbacks may start, cancel and free. There is no destroy callback for
 * userdata (BlueZ's src/shared has one): every userdata is an object that
 * outlives its calls and cancels them, or frees the uplink, before it goes,
 * so nothing is left to release. gatt/bluez.h keeps the same contract. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <systemd/sd-event.h>

#include "policy/value.h"

#define UPLINK_SCHEMA 1
#define UPLINK_PULL_LIMIT_MAX 1000
#define UPLINK_WAIT_MAX_SEC 60
#define UPLINK_PUSH_MAX 65536           /* records in one uplink_push (the server takes 1000 a request) */

/* Errors a caller tells apart (besides -EINVAL on arguments):
 *   -EACCES           401: the token was refused; never retried
 *   -EPROTONOSUPPORT  400 schema_mismatch: this bridge is too old; never retried
 *   -EBADMSG          400 bad_request: the server refused the request; never retried
 *   -EEXIST           422: the Idempotency-Key was used for another body (a client bug: new key)
 *   -E2BIG            413 for a single record, which cannot be split
 *   -EREMOTEIO        an answer the API does not define (404, a redirect, ...)
 * and, only with UPLINK_NO_RETRY (otherwise these are retried):
 *   -EKEYREJECTED     TLS verification failed (unknown CA, wrong host, pin mismatch)
 *   -ECONNREFUSED, -EHOSTUNREACH, -ECONNRESET, -ETIMEDOUT   the connection failed
 *   -EIO              5xx
 *   -EAGAIN           429
 *   -EBUSY            409 in_progress
 *   -EPROTO           a malformed answer (garbage, truncated, wrong types, wrong count) */

enum {
        UPLINK_NO_RETRY = 1u << 0,      /* one attempt (a 413 still splits); its failure is the result */
};

struct uplink_config {
        const char *url;                /* https://host[:port][/prefix]; anything else is refused */
        const char *token;              /* the bearer token; required */
        const char *ca_file;            /* NULL or "": the system's trust store */
        const char *pinned_public_key;  /* NULL or "": none; else as CURLOPT_PINNEDPUBLICKEY takes it */
        uint64_t backoff_min_usec;      /* first retry delay; 0: 1 s */
        uint64_t backoff_max_usec;      /* the doubling stops here; 0: 5 min */
        uint64_t timeout_usec;          /* one attempt, and the margin above a long poll's; 0: 20 s */
        unsigned schema;                /* the push body's "schema"; 0: UPLINK_SCHEMA (tests set another) */
};

struct uplink;

struct uplink_ops {
        /* The link went online (a request was answered as the API defines)
         * or offline (last_error: why), or stayed offline for a different
         * reason. Optional. */
        void (*state)(struct uplink *u, bool online, const char *last_error, void *userdata);
};

struct uplink_stats {
        uint64_t requests;              /* attempts sent */
        uint64_t retries;               /* attempts that were retries */
        uint64_t connects;              /* new connections, each a TLS handshake (CURLINFO_NUM_CONNECTS) */
};

struct uplink_status {
        uint64_t server_time_ms;
        const char *cursor;
        unsigned schema;
};

struct uplink_pull_reply {
        const struct record *records;   /* revision 0, flags only RECORD_DERIVED */
        size_t n;
        const char *cursor;
        bool more;
};

enum uplink_push_status {
        UPLINK_PUSH_APPLIED,
        UPLINK_PUSH_STALE,
        UPLINK_PUSH_REJECTED,
};

enum uplink_reject_reason {
        UPLINK_REJECT_NONE,
        UPLINK_REJECT_INVALID_VALUE,
        UPLINK_REJECT_FUTURE_STAMP,
};

struct uplink_push_result {
        enum key key;
        enum family family;
        enum uplink_push_status status;
        enum uplink_reject_reason reason;       /* rejected only */
        struct record current;                  /* stale only: the server's copy, to adopt */
};

struct uplink_push_reply {
        const struct uplink_push_result *results;       /* one per pushed record, in order */
        size_t n;
        const char *cursor;
        bool replayed;                  /* an answer carried Idempotent-Replay: true */
};

struct uplink_wait_reply {
        bool changed;                   /* false: the timeout passed (204), or a 200 with the cursor given */
        const char *cursor;             /* the new cursor; the one given when unchanged */
};

enum uplink_device_kind {
        UPLINK_DEVICE_BUDS,
        UPLINK_DEVICE_HOST,
};

/* Optional members: NULL strings, has_family false, battery < 0 are omitted. */
struct uplink_device {
        uint64_t id;                    /* buds id, or the bridge's origin */
        enum uplink_device_kind kind;
        bool has_family;
        enum family family;             /* standard or pro */
        const char *model, *firmware, *serial, *name;   /* UTF-8, at most 64 bytes */
        int battery;                    /* 0..100 */
        uint64_t last_seen_ms;
};

typedef void (*uplink_status_fn)(struct uplink *u, int r, const char *error, const struct uplink_status *s,
                                 void *userdata);
typedef void (*uplink_pull_fn)(struct uplink *u, int r, const char *error, const struct uplink_pull_reply *p,
                               void *userdata);
typedef void (*uplink_push_fn)(struct uplink *u, int r, const char *error, const struct uplink_push_reply *p,
                               void *userdata);
typedef void (*uplink_wait_fn)(struct uplink *u, int r, const char *error, const struct uplink_wait_reply *w,
                               void *userdata);
typedef void (*uplink_devices_fn)(struct uplink *u, int r, const char *error, const struct uplink_device *d,
                                  size_t n, void *userdata);
typedef void (*uplink_done_fn)(struct uplink *u, int r, const char *error, void *userdata);

/* -EINVAL with *ret_error saying why (plain http, no token, a CAFile that
 * cannot be read, ...). *ret_error is malloc'd, the caller frees it. */
int uplink_new(sd_event *event, const struct uplink_config *cfg, const struct uplink_ops *ops, void *userdata,
               struct uplink **ret, char **ret_error);
/* Drops every call (no callback runs), then frees; safe from a callback. */
struct uplink *uplink_free(struct uplink *u);

/* Replaces the token for every later attempt, retries included. */
int uplink_set_token(struct uplink *u, const char *token);
bool uplink_is_online(const struct uplink *u);
void uplink_get_stats(const struct uplink *u, struct uplink_stats *ret);

int uplink_status(struct uplink *u, unsigned flags, uplink_status_fn cb, void *userdata, uint64_t *ret_id);
/* cursor NULL: from the start. limit 1..UPLINK_PULL_LIMIT_MAX. */
int uplink_pull(struct uplink *u, const char *cursor, unsigned limit, unsigned flags, uplink_pull_fn cb,
                void *userdata, uint64_t *ret_id);
/* idem_key: a UUID, the same for every repetition of this batch; device_id:
 * the bridge's origin. The records are copied. */
int uplink_push(struct uplink *u, const char *idem_key, uint64_t device_id, const struct record *records,
                size_t n, unsigned flags, uplink_push_fn cb, void *userdata, uint64_t *ret_id);
/* timeout_sec 1..UPLINK_WAIT_MAX_SEC. */
int uplink_wait(struct uplink *u, const char *cursor, unsigned timeout_sec, unsigned flags, uplink_wait_fn cb,
                void *userdata, uint64_t *ret_id);
int uplink_put_device(struct uplink *u, const struct uplink_device *d, unsigned flags, uplink_done_fn cb,
                      void *userdata, uint64_t *ret_id);
int uplink_list_devices(struct uplink *u, unsigned flags, uplink_devices_fn cb, void *userdata, uint64_t *ret_id);

/* Ends a call; its callback never runs. 0, or -ENOENT when id is not
 * pending (already completed or cancelled). */
int uplink_cancel(struct uplink *u, uint64_t id);
