/* SPDX-License-Identifier: MIT */
/* The JSON form of records and values (the sync API's), with cJSON, both ways,
 * as strict as the binary codecs: unknown members, missing members, wrong
 * types, numbers that are not an exact multiple of their unit, and values out
 * of range are all errors naming the member. Pure: no I/O; links alone. */
#pragma once

#include <stddef.h>

#include <cjson/cJSON.h>

#include "codec/json-strict.h"
#include "policy/value.h"

/* A stamp object {"ms": n, "c": n, "origin": "16 lower-case hex digits"}. */
int recjson_stamp_from(const cJSON *j, struct stamp *ret, struct value_err *e);
cJSON *recjson_stamp_to(struct stamp s);

/* "origin" hex form; buf must hold 17 bytes. */
void recjson_origin_format(uint64_t origin, char buf[static 17]);
int recjson_origin_parse(const char *s, uint64_t *ret);   /* exactly 16 lower-case hex digits */

/* A value object for a known key and family. */
int recjson_value_from(const cJSON *j, enum key key, enum family family, struct value *ret, struct value_err *e);
cJSON *recjson_value_to(const struct value *v);          /* NULL on OOM or an invalid value */

/* A record object {"key", "family", "stamp", "derived", "value"}. "derived" may
 * be omitted (false); everything else is required. ret->revision is 0 and
 * ret->flags carries only RECORD_DERIVED. */
int recjson_record_from(const cJSON *j, struct record *ret, struct value_err *e);
cJSON *recjson_record_to(const struct record *r);

/* Text helpers: parse a whole document holding one record; print compactly
 * (the result is malloc'd, NUL-terminated; NULL on OOM). */
int recjson_record_parse(const char *text, size_t len, struct record *ret, struct value_err *e);
char *recjson_record_print(const struct record *r);
int recjson_value_parse(const char *text, size_t len, enum key key, enum family family,
                        struct value *ret, struct value_err *e);
char *recjson_value_print(const struct value *v);

/* A push request's body, {"schema": schema, "records": [...]}, printed
 * compactly: the one writer, so that the body the bridge stores for a retry
 * and the body its HTTPS client sends are byte for byte the same. NULL on
 * OOM or an invalid record. */
char *recjson_push_body_print(unsigned schema, const struct record *records, size_t n);
