/* SPDX-License-Identifier: MIT */
/* Reading the shared vectors of docs/vectors in a cmocka test: the file as
 * JSON, its members, and a way to say what is wrong with one case and go on
 * to the next. Every reader fails the running test with the path or member
 * it could not have. Tests run from the top of the tree. */
#pragma once

#include <cjson/cJSON.h>

/* The whole file, parsed; the caller cJSON_Delete()s it. */
cJSON *vectors_load(const char *path);
/* obj's member name, which must be there. */
const cJSON *vectors_member(const cJSON *obj, const char *name);
/* obj's member name, which must be a string. */
const char *vectors_string(const cJSON *obj, const char *name);
/* obj's member name, which must be an array of at least at_least items. */
const cJSON *vectors_cases(const cJSON *obj, const char *name, int at_least);
/* Prints what is wrong with a case (cmocka's error output); returns 1, so a
 * case's checks add up how many failed: bad |= vectors_complain(...). */
int vectors_complain(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
