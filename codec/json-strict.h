/* SPDX-License-Identifier: MIT */
/* The strict JSON reader: what every JSON input from outside goes through
 * before anything else looks at it. RFC 8259 and nothing more, on cJSON. */
#pragma once

#include <stddef.h>

#include <cjson/cJSON.h>

#include "policy/value.h"

#define JSON_STRICT_QUOTE_MAX 32        /* bytes of input quoted in a message */

/* Parses one JSON document strictly: the whole of text (no trailing bytes),
 * valid UTF-8, no "\u0000" escape (cJSON would silently cut the string there),
 * no object with two members of the same name, nesting at most 16 deep.
 * *ret is freed with cJSON_Delete. */
int json_strict_parse(const char *text, size_t len, cJSON **ret, struct value_err *e);

/* Member access for strict objects: checks that obj is an object whose member
 * names are all in names[] (NULL-terminated), so callers reject unknown members
 * in one call. Returns 0 or -EINVAL naming the unknown member. */
int json_strict_check_members(const cJSON *obj, const char *const *names, struct value_err *e);

/* A piece of input fit to quote in a message: at most JSON_STRICT_QUOTE_MAX
 * bytes, cut on a character boundary, and nothing that would need escaping. */
const char *json_strict_quote(const char *s, char buf[static JSON_STRICT_QUOTE_MAX + 4]);
