/* SPDX-License-Identifier: MIT */
/* Test-only fault injection for the client's tests: rules set through
 * POST /test/faults make the next matching requests fail in chosen ways.
 * Exists only when SYNCD_TEST_FAULTS=1 was set at start; a server without it
 * has no such endpoint and never consults a rule. */
#pragma once

#include <cjson/cJSON.h>

#include "../policy/value.h"
#include "reply.h"

#define FAULTS_STALL_CAP_MS (120u * 1000u)

enum faults_action {
        FAULTS_NONE,
        FAULTS_STATUS,                  /* answer status with the API's error body */
        FAULTS_GARBAGE,                 /* 200 with a body that is not JSON */
        FAULTS_TRUNCATE,                /* declare a Content-Length, send less, close */
        FAULTS_STALL,                   /* never answer (until FAULTS_STALL_CAP_MS, then close) */
        FAULTS_APPLY_THEN_DROP,         /* process and store, then close without answering */
        FAULTS_ANSWER,                  /* answer status (default 200) with the rule's JSON body, unprocessed */
};

struct faults_hit {
        enum faults_action action;
        unsigned status;
        unsigned retry_after;
        char *body;                     /* FAULTS_ANSWER: malloc'd, the taker frees it */
};

struct faults;

int faults_new(struct faults **ret);
struct faults *faults_free(struct faults *f);

/* Appends the rules of a JSON array; all or none. */
int faults_add(struct faults *f, const cJSON *rules, struct value_err *e);
void faults_clear(struct faults *f);
/* Consumes one use of the first rule matching method and path. A hit's body
 * (FAULTS_ANSWER) is the caller's to free; NULL there means out of memory. */
struct faults_hit faults_take(struct faults *f, const char *method, const char *path);

/* The endpoints POST, PUT and DELETE /test/faults (userdata: struct faults). */
struct http_request;
int faults_handle_post(void *userdata, struct http_request *req, struct reply *ret);
int faults_handle_put(void *userdata, struct http_request *req, struct reply *ret);
int faults_handle_delete(void *userdata, struct http_request *req, struct reply *ret);
