/* SPDX-License-Identifier: MIT */
/* The account's device registry (Server Data of the sync API): PUT
 * /v1/devices/{id} stores one device, GET /v1/devices lists them, a page at
 * a time. Every member is checked; a device is stored whole or not at all,
 * in the group commit of its loop turn (group.h), and answered after that
 * commit. The registry is a last-seen cache of bounded size. */
#pragma once

#include "group.h"
#include "http.h"
#include "store.h"

#define DEVICES_TEXT_MAX 64             /* bytes of UTF-8 in model, firmware, serial, name */
#define DEVICES_PAGE_MAX 1000           /* devices in one GET, and the most an account may keep */

struct devices_ctx {
        struct store *store;
        struct group *group;
        unsigned max;                   /* devices per account; a PUT beyond drops the one seen longest ago */
};

/* userdata: struct devices_ctx */
int devices_handle_put(void *userdata, struct http_request *req, struct reply *ret);
void devices_put_done(void *userdata, struct http_request *req);
int devices_handle_list(void *userdata, struct http_request *req, struct reply *ret);
