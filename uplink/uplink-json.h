/* SPDX-License-Identifier: MIT */
/* The JSON bodies of the sync API as the bridge writes and reads them: the
 * request bodies (a push body is codec's recjson_push_body_print, the one
 * writer, whose bytes the engine stores for retries), and strict readers
 * for every answer. Records go through recjson (unknown members invalid,
 * every range checked). The envelopes
 * around them ({"records", "cursor", "more"}, a push result, an error, ...)
 * ignore members they do not know, so a server may add members within
 * schema 1; every member they do know must be there with its exact type.
 * Pure: no I/O. Readers borrow strings from the cJSON tree they were given. */
#pragma once

#include <stddef.h>

#include <cjson/cJSON.h>

#include "policy/value.h"
#include "uplink.h"

struct uplink_json_error {
        const char *code;               /* NULL when the body is not the API's error object */
        const char *message;
        unsigned required_schema;       /* schema_mismatch only; 0 otherwise */
};

char *uplink_json_pull_body(const char *cursor, unsigned limit);
char *uplink_json_device_body(const struct uplink_device *d);

/* Whether a record or a device may be sent; -EINVAL naming what is wrong. */
int uplink_json_check_record(const struct record *r, struct value_err *e);
int uplink_json_check_device(const struct uplink_device *d, struct value_err *e);

/* A whole answer body: json_strict_parse, and it must be an object. */
int uplink_json_parse(const char *body, size_t len, cJSON **ret, struct value_err *e);

/* The longest cursor taken from a server: an opaque token that goes back in
 * every pull and long poll (syncd's are 32 bytes). */
#define UPLINK_CURSOR_MAX 1024

int uplink_json_status(const cJSON *root, struct uplink_status *ret, struct value_err *e);
/* *ret->records is malloc'd (NULL when n is 0); at most limit records, one
 * per (key, family); sent: the cursor the pull sent (NULL: none). */
int uplink_json_pull(const cJSON *root, unsigned limit, const char *sent, struct uplink_pull_reply *ret,
                     struct value_err *e);
/* One result per sent record, each naming that record's key and family;
 * results must hold n. */
int uplink_json_push(const cJSON *root, const struct record *sent, size_t n, struct uplink_push_result *results,
                     const char **ret_cursor, struct value_err *e);
int uplink_json_wait(const cJSON *root, const char **ret_cursor, struct value_err *e);
/* *ret is malloc'd (NULL when n is 0). */
int uplink_json_devices(const cJSON *root, struct uplink_device **ret, size_t *ret_n, struct value_err *e);
/* Never fails: what cannot be read is left NULL. */
void uplink_json_error_read(const cJSON *root, struct uplink_json_error *ret);
