/* SPDX-License-Identifier: MIT */
/* Device bodies: {"kind": "buds|host", "family"?: "standard|pro", "model"?,
 * "firmware"?, "serial"?, "name"? (strings of at most DEVICES_TEXT_MAX bytes),
 * "battery"?: 0..100, "last_seen_ms": integer >= 0}. Stored as the object
 * with its "id" first, members in that order; an account keeps at most its
 * limit of them (the ones seen longest ago make room), and a list is paged.
 * Never stores what it did not check, never answers a PUT before its group
 * has committed, and never builds an answer larger than one page. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/recjson.h"
#include "cleanup.h"
#include "devices.h"

#define DEVICES_MS_MAX 9007199254740991.0       /* 2^53 - 1: exact in a JSON number */

static int devices_check_enum(const cJSON *j, const char *name, const char *a, const char *b, bool required,
                              struct value_err *e) {
        if (!j)
                return required ? value_errf(e, -EINVAL, "%s: required", name) : 0;
        if (!cJSON_IsString(j) || (strcmp(j->valuestring, a) != 0 && strcmp(j->valuestring, b) != 0))
                return value_errf(e, -EINVAL, "%s: must be \"%s\" or \"%s\"", name, a, b);
        return 0;
}

static int devices_check_int(const cJSON *j, const char *name, double max, bool required, struct value_err *e) {
        if (!j)
                return required ? value_errf(e, -EINVAL, "%s: required", name) : 0;
        if (!cJSON_IsNumber(j) || j->valuedouble != floor(j->valuedouble) || j->valuedouble < 0 ||
            j->valuedouble > max)
                return value_errf(e, -EINVAL, "%s: must be an integer 0..%.0f", name, max);
        return 0;
}

static int devices_check_text(const cJSON *j, const char *name, struct value_err *e) {
        if (!j)
                return 0;
        if (!cJSON_IsString(j) || strlen(j->valuestring) > DEVICES_TEXT_MAX)
                return value_errf(e, -EINVAL, "%s: must be a string of at most %d bytes", name, DEVICES_TEXT_MAX);
        if (!utf8_is_valid(j->valuestring, strlen(j->valuestring)))
                return value_errf(e, -EINVAL, "%s: must be UTF-8", name);
        return 0;
}

static const char *const devices_members[] = {
        "kind", "family", "model", "firmware", "serial", "name", "battery", "last_seen_ms", NULL
};

static int devices_check(const cJSON *d, struct value_err *e) {
        int r;

        if (!cJSON_IsObject(d))
                return value_errf(e, -EINVAL, "the body must be a JSON object");
        r = json_strict_check_members(d, devices_members, e);
        if (r >= 0)
                r = devices_check_enum(cJSON_GetObjectItemCaseSensitive(d, "kind"), "kind", "buds", "host", true, e);
        if (r >= 0)
                r = devices_check_enum(cJSON_GetObjectItemCaseSensitive(d, "family"), "family", "standard", "pro",
                                       false, e);
        for (size_t i = 2; r >= 0 && i < 6; i++)
                r = devices_check_text(cJSON_GetObjectItemCaseSensitive(d, devices_members[i]), devices_members[i], e);
        if (r >= 0)
                r = devices_check_int(cJSON_GetObjectItemCaseSensitive(d, "battery"), "battery", 100, false, e);
        if (r >= 0)
                r = devices_check_int(cJSON_GetObjectItemCaseSensitive(d, "last_seen_ms"), "last_seen_ms",
                                      DEVICES_MS_MAX, true, e);
        return r;
}

/* The stored form: "id" first, then the members present, in a fixed order. */
static cJSON *devices_normalize(const char *id, const cJSON *d) {
        _cleanup_(cJSON_Deletep) cJSON *out = cJSON_CreateObject();

        if (!out || !cJSON_AddStringToObject(out, "id", id))
                return NULL;
        for (size_t i = 0; devices_members[i]; i++) {
                const cJSON *m = cJSON_GetObjectItemCaseSensitive(d, devices_members[i]);
                cJSON *copy;

                if (!m)
                        continue;
                copy = cJSON_Duplicate(m, false);
                if (!copy)
                        return NULL;
                cJSON_AddItemToObject(out, devices_members[i], copy);
        }
        return TAKE_PTR(out);
}

/* One PUT waiting for its group: the checked, normalized device. */
struct devices_put {
        struct store *store;
        unsigned max;
        const char *account;
        const char *id;
        char *json;
        int result;                     /* the group's outcome */
};

static int devices_put_apply(void *userdata) {
        struct devices_put *p = userdata;
        int r;

        r = store_device_put(p->store, p->account, p->id, p->json);
        if (r >= 0)
                r = store_devices_trim(p->store, p->account, p->id, p->max);
        return r < 0 ? r : 0;
}

static void devices_put_committed(void *userdata, int result) {
        struct devices_put *p = userdata;

        p->result = result;
}

/* Resumed after the group: the stored object, or 500 (logged once for the
 * whole group, by the loop). */
static int devices_put_answer(struct devices_put *p, struct reply *ret) {
        if (p->result < 0)
                return reply_failure(ret, p->result);
        reply_clear(ret);
        ret->status = 200;
        ret->body = TAKE_PTR(p->json);
        return 0;
}

static int devices_put_join(struct devices_ctx *d, struct http_request *req, char *json) {
        struct devices_put *p = calloc(1, sizeof(*p));
        int r;

        if (!p) {
                free(json);
                return -ENOMEM;
        }
        *p = (struct devices_put) { d->store, d->max, req->account, req->path_arg, json, 0 };
        r = group_join(d->group, req->connection, &(struct group_write) { devices_put_apply,
                                                                          devices_put_committed, p, p->account });
        if (r < 0) {
                free(json);
                free(p);
                return r;
        }
        req->data = p;
        return HTTP_PARKED;
}

int devices_handle_put(void *userdata, struct http_request *req, struct reply *ret) {
        _cleanup_(cJSON_Deletep) cJSON *root = NULL, *dev = NULL;
        struct value_err e = {};
        char *json;
        uint64_t id;
        int r;

        if (req->data)
                return devices_put_answer(req->data, ret);
        if (recjson_origin_parse(req->path_arg, &id) < 0)
                return reply_error(ret, 400, "bad_request", "device id: must be 16 lower-case hex digits");
        r = json_strict_parse(req->body ?: "", req->body_len, &root, &e);
        if (r >= 0)
                r = devices_check(root, &e);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return reply_error(ret, 400, "bad_request", "%s", e.msg[0] ? e.msg : "malformed device");
        dev = devices_normalize(req->path_arg, root);
        json = dev ? cJSON_PrintUnformatted(dev) : NULL;
        if (!json)
                return -ENOMEM;
        return devices_put_join(userdata, req, json);
}

void devices_put_done(void *userdata, struct http_request *req) {
        struct devices_put *p = req->data;

        (void) userdata;
        if (!p)
                return;
        free(p->json);
        free(p);
        req->data = NULL;
}

/* The query of a list: limit (1..DEVICES_PAGE_MAX) and after (an id), both
 * optional; anything else is an error. */
struct devices_list_args {
        const char *limit;
        const char *after;
        bool unknown;
};

static enum MHD_Result devices_list_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
        struct devices_list_args *a = cls;

        (void) kind;
        if (strcmp(key, "limit") == 0 && !a->limit)
                a->limit = value ?: "";
        else if (strcmp(key, "after") == 0 && !a->after)
                a->after = value ?: "";
        else
                a->unknown = true;
        return MHD_YES;
}

static int devices_list_limit(const char *text, unsigned *ret) {
        char *end;
        unsigned long v;

        if (!text) {
                *ret = DEVICES_PAGE_MAX;
                return 0;
        }
        if (text[0] < '0' || text[0] > '9')
                return -EINVAL;
        errno = 0;
        v = strtoul(text, &end, 10);
        if (errno || *end || v < 1 || v > DEVICES_PAGE_MAX)
                return -EINVAL;
        *ret = (unsigned) v;
        return 0;
}

/* One page: up to limit devices; one more row only says there are more. */
struct devices_page {
        cJSON *list;
        unsigned limit, n;
        char last[17];
        bool more;
};

static int devices_page_add(const char *id, const char *json, void *userdata) {
        struct devices_page *p = userdata;
        cJSON *d;

        if (p->n == p->limit) {
                p->more = true;
                return 0;
        }
        d = cJSON_Parse(json);          /* our own text */
        if (!d)
                return -EIO;
        cJSON_AddItemToArray(p->list, d);
        snprintf(p->last, sizeof(p->last), "%s", id);
        p->n++;
        return 0;
}

int devices_handle_list(void *userdata, struct http_request *req, struct reply *ret) {
        _cleanup_(cJSON_Deletep) cJSON *root = cJSON_CreateObject();
        struct devices_ctx *d = userdata;
        struct devices_list_args a = {};
        struct devices_page page = { .list = cJSON_AddArrayToObject(root, "devices") };
        uint64_t after;
        int r;

        if (!page.list)
                return -ENOMEM;
        (void) MHD_get_connection_values(req->connection, MHD_GET_ARGUMENT_KIND, devices_list_arg, &a);
        if (a.unknown || devices_list_limit(a.limit, &page.limit) < 0)
                return reply_error(ret, 400, "bad_request", "the query may be limit=1..%d and after=ID",
                                   DEVICES_PAGE_MAX);
        if (a.after && recjson_origin_parse(a.after, &after) < 0)
                return reply_error(ret, 400, "bad_request", "after: must be a device id (16 lower-case hex digits)");
        r = store_devices_list(d->store, req->account, a.after, page.limit + 1, devices_page_add, &page);
        if (r < 0)
                return r;
        if (page.more && !cJSON_AddStringToObject(root, "next", page.last))
                return -ENOMEM;
        return reply_json(ret, 200, TAKE_PTR(root));
}
