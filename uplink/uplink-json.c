/* SPDX-License-Identifier: MIT */
/* Request bodies and strict answer readers of the sync API. Every reader
 * names the member that is wrong ("results[2].current.value.q: ..."), so the
 * uplink's message says what the server got wrong. Must never accept a record
 * recjson would refuse, nor a push answer that does not match what was sent. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "codec/recjson.h"
#include "common/cleanup.h"
#include "uplink-json.h"

#define JSON_INT_MAX 9007199254740991.0         /* 2^53 - 1: exact in a JSON number */
#define DEVICE_TEXT_MAX 64

DEFINE_TRIVIAL_CLEANUP_FUNC(cJSON *, cJSON_Delete)

/* Puts "name" or "name[i]" in front of an inner message, as recjson does. */
static int err_in(int r, struct value_err *e, const char *name, long idx) {
        char path[48];

        if (r >= 0 || !e || !e->msg[0])
                return r;
        if (idx >= 0)
                (void) snprintf(path, sizeof(path), "%s[%ld]", name, idx);
        else
                (void) snprintf(path, sizeof(path), "%s", name);
        value_err_prefix(e, "%s%s", path, e->msg[0] == ':' || e->msg[0] == '[' ? "" : ".");
        return r;
}

static const cJSON *member(const cJSON *obj, const char *name) {
        return cJSON_GetObjectItemCaseSensitive(obj, name);
}

static int read_string(const cJSON *obj, const char *name, bool required, const char **ret, struct value_err *e) {
        const cJSON *j = member(obj, name);

        if (!j) {
                *ret = NULL;
                return required ? value_errf(e, -EINVAL, "%s: missing", name) : 0;
        }
        if (!cJSON_IsString(j))
                return value_errf(e, -EINVAL, "%s: must be a string", name);
        *ret = j->valuestring;
        return 0;
}

/* It goes back in every pull and long poll, and is stored: a server's
 * megabytes stay there. */
static int read_cursor(const cJSON *obj, const char **ret, struct value_err *e) {
        int r = read_string(obj, "cursor", true, ret, e);
        size_t len;

        if (r < 0)
                return r;
        len = strlen(*ret);
        if (len == 0)
                return value_errf(e, -EINVAL, "cursor: must not be empty");
        if (len > UPLINK_CURSOR_MAX)
                return value_errf(e, -EINVAL, "cursor: %zu bytes, more than a cursor may have (%u)", len,
                                  UPLINK_CURSOR_MAX);
        return 0;
}

static int read_uint(const cJSON *obj, const char *name, double max, bool required, uint64_t *ret,
                     struct value_err *e) {
        const cJSON *j = member(obj, name);

        if (!j)
                return required ? value_errf(e, -EINVAL, "%s: missing", name) : 0;
        if (!cJSON_IsNumber(j) || j->valuedouble != floor(j->valuedouble) || j->valuedouble < 0 ||
            j->valuedouble > max)
                return value_errf(e, -EINVAL, "%s: must be an integer 0..%.0f", name, max);
        *ret = (uint64_t) j->valuedouble;
        return 0;
}

static int read_array(const cJSON *obj, const char *name, const cJSON **ret, struct value_err *e) {
        const cJSON *j = member(obj, name);

        if (!j)
                return value_errf(e, -EINVAL, "%s: missing", name);
        if (!cJSON_IsArray(j))
                return value_errf(e, -EINVAL, "%s: must be an array", name);
        *ret = j;
        return 0;
}

int uplink_json_parse(const char *body, size_t len, cJSON **ret, struct value_err *e) {
        _cleanup_(cJSON_Deletep) cJSON *root = NULL;
        int r;

        if (len == 0)
                return value_errf(e, -EINVAL, "empty body");
        r = json_strict_parse(body, len, &root, e);
        if (r < 0)
                return r;
        if (!cJSON_IsObject(root))
                return value_errf(e, -EINVAL, "not a JSON object");
        *ret = TAKE_PTR(root);
        return 0;
}

/* ---- Request bodies ---- */

static char *print_and_free(cJSON *j) {
        char *text = j ? cJSON_PrintUnformatted(j) : NULL;

        cJSON_Delete(j);
        return text;
}

char *uplink_json_pull_body(const char *cursor, unsigned limit) {
        _cleanup_(cJSON_Deletep) cJSON *o = cJSON_CreateObject();

        if (!o || !(cursor ? cJSON_AddStringToObject(o, "cursor", cursor) : cJSON_AddNullToObject(o, "cursor")) ||
            !cJSON_AddNumberToObject(o, "limit", limit))
                return NULL;
        return print_and_free(TAKE_PTR(o));
}

static const char *device_kind_name(enum uplink_device_kind k) {
        switch (k) {
        case UPLINK_DEVICE_BUDS:
                return "buds";
        case UPLINK_DEVICE_HOST:
                return "host";
        }
        return NULL;
}

static bool add_text(cJSON *o, const char *name, const char *text) {
        return !text || cJSON_AddStringToObject(o, name, text);
}

char *uplink_json_device_body(const struct uplink_device *d) {
        _cleanup_(cJSON_Deletep) cJSON *o = cJSON_CreateObject();

        if (!o || !cJSON_AddStringToObject(o, "kind", device_kind_name(d->kind)) ||
            (d->has_family && !cJSON_AddStringToObject(o, "family", family_name(d->family))) ||
            !add_text(o, "model", d->model) || !add_text(o, "firmware", d->firmware) ||
            !add_text(o, "serial", d->serial) || !add_text(o, "name", d->name) ||
            (d->battery >= 0 && !cJSON_AddNumberToObject(o, "battery", d->battery)) ||
            !cJSON_AddNumberToObject(o, "last_seen_ms", (double) d->last_seen_ms))
                return NULL;
        return print_and_free(TAKE_PTR(o));
}

int uplink_json_check_record(const struct record *r, struct value_err *e) {
        if (!key_family_is_valid(r->value.key, r->value.family))
                return value_errf(e, -EINVAL, "key/family: not an item of Shared Data");
        if (stamp_ms(r->stamp) > (UINT64_C(1) << 48) - 1)
                return value_errf(e, -EINVAL, "stamp: ms out of range");
        return value_check(&r->value, e);
}

static int check_text(const char *s, const char *name, struct value_err *e) {
        if (!s)
                return 0;
        if (strlen(s) > DEVICE_TEXT_MAX || !utf8_is_valid(s, strlen(s)))
                return value_errf(e, -EINVAL, "%s: must be UTF-8 of at most %d bytes", name, DEVICE_TEXT_MAX);
        return 0;
}

int uplink_json_check_device(const struct uplink_device *d, struct value_err *e) {
        int r = 0;

        if (!device_kind_name(d->kind))
                return value_errf(e, -EINVAL, "kind: must be buds or host");
        if (d->has_family && d->family != FAMILY_STANDARD && d->family != FAMILY_PRO)
                return value_errf(e, -EINVAL, "family: must be standard or pro");
        if (d->battery > 100)
                return value_errf(e, -EINVAL, "battery: must be 0..100");
        if ((double) d->last_seen_ms > JSON_INT_MAX)
                return value_errf(e, -EINVAL, "last_seen_ms: out of range");
        if ((r = check_text(d->model, "model", e)) < 0 || (r = check_text(d->firmware, "firmware", e)) < 0 ||
            (r = check_text(d->serial, "serial", e)) < 0 || (r = check_text(d->name, "name", e)) < 0)
                return r;
        return 0;
}

/* ---- Answers ---- */

int uplink_json_status(const cJSON *root, struct uplink_status *ret, struct value_err *e) {
        uint64_t ms = 0, schema = 0;
        const char *cursor;
        int r;

        if ((r = read_uint(root, "server_time_ms", JSON_INT_MAX, true, &ms, e)) < 0 ||
            (r = read_cursor(root, &cursor, e)) < 0 ||
            (r = read_uint(root, "schema", UINT32_MAX, true, &schema, e)) < 0)
                return r;
        if (schema == 0)
                return value_errf(e, -EINVAL, "schema: must be 1 or more");
        *ret = (struct uplink_status) { .server_time_ms = ms, .cursor = cursor, .schema = (unsigned) schema };
        return 0;
}

/* A page holds the newest record of each item changed: two copies of one
 * item in a page leave the client to guess which the server means. */
static int check_one_per_item(const struct record *recs, size_t n, struct value_err *e) {
        bool seen[KEY_MAX + 1][FAMILY_COUNT] = {};

        for (size_t i = 0; i < n; i++) {
                enum key k = recs[i].value.key;
                enum family f = recs[i].value.family;

                if (seen[k][f])
                        return value_errf(e, -EINVAL, "records[%zu]: a second %s/%s in one page", i, key_name(k),
                                          family_name(f));
                seen[k][f] = true;
        }
        return 0;
}

static int read_records(const cJSON *list, unsigned limit, struct record **ret, size_t *ret_n,
                        struct value_err *e) {
        _cleanup_(freep) struct record *recs = NULL;
        size_t n = (size_t) cJSON_GetArraySize(list), i = 0;
        const cJSON *j;
        int r;

        if (n > limit)
                return value_errf(e, -EINVAL, "records: %zu records, but the limit was %u", n, limit);
        if (n > 0 && !(recs = calloc(n, sizeof(*recs))))
                return -ENOMEM;
        cJSON_ArrayForEach(j, list) {
                r = recjson_record_from(j, &recs[i], e);
                if (r < 0)
                        return err_in(r, e, "records", (long) i);
                i++;
        }
        r = check_one_per_item(recs, n, e);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(recs);
        *ret_n = n;
        return 0;
}

int uplink_json_pull(const cJSON *root, unsigned limit, const char *sent, struct uplink_pull_reply *ret,
                     struct value_err *e) {
        const cJSON *list, *more = member(root, "more");
        struct record *recs = NULL;
        const char *cursor;
        size_t n = 0;
        int r;

        if ((r = read_array(root, "records", &list, e)) < 0 || (r = read_cursor(root, &cursor, e)) < 0)
                return r;
        if (!more)
                return value_errf(e, -EINVAL, "more: missing");
        if (!cJSON_IsBool(more))
                return value_errf(e, -EINVAL, "more: must be true or false");
        r = read_records(list, limit, &recs, &n, e);
        if (r < 0)
                return r;
        if (cJSON_IsTrue(more) && n == 0) {
                free(recs);
                return value_errf(e, -EINVAL, "more: true on a page without records");
        }
        if (cJSON_IsTrue(more) && sent && strcmp(cursor, sent) == 0) {
                /* the next page would be this one, for ever */
                free(recs);
                return value_errf(e, -EINVAL, "more: true, but the cursor is the one sent");
        }
        *ret = (struct uplink_pull_reply) { .records = recs, .n = n, .cursor = cursor, .more = cJSON_IsTrue(more) };
        return 0;
}

static int read_name(const cJSON *obj, const char *name, const char *want, struct value_err *e) {
        const char *s;
        int r = read_string(obj, name, true, &s, e);

        if (r < 0)
                return r;
        if (strcmp(s, want) != 0)
                return value_errf(e, -EINVAL, "%s: \"%.32s\", but the record pushed there is \"%s\"", name, s, want);
        return 0;
}

static int read_push_status(const cJSON *obj, enum uplink_push_status *ret, struct value_err *e) {
        const char *s;
        int r = read_string(obj, "status", true, &s, e);

        if (r < 0)
                return r;
        if (strcmp(s, "applied") == 0)
                *ret = UPLINK_PUSH_APPLIED;
        else if (strcmp(s, "stale") == 0)
                *ret = UPLINK_PUSH_STALE;
        else if (strcmp(s, "rejected") == 0)
                *ret = UPLINK_PUSH_REJECTED;
        else
                return value_errf(e, -EINVAL, "status: \"%.32s\" is not applied, stale or rejected", s);
        return 0;
}

static int read_reason(const cJSON *obj, enum uplink_reject_reason *ret, struct value_err *e) {
        const char *s;
        int r = read_string(obj, "reason", true, &s, e);

        if (r < 0)
                return r;
        if (strcmp(s, "invalid_value") == 0)
                *ret = UPLINK_REJECT_INVALID_VALUE;
        else if (strcmp(s, "future_stamp") == 0)
                *ret = UPLINK_REJECT_FUTURE_STAMP;
        else
                return value_errf(e, -EINVAL, "reason: \"%.32s\" is not invalid_value or future_stamp", s);
        return 0;
}

/* The server's copy must be the same item, and not older than what lost to it. */
static int read_current(const cJSON *obj, const struct record *sent, struct record *ret, struct value_err *e) {
        const cJSON *j = member(obj, "current");
        int r;

        if (!j)
                return value_errf(e, -EINVAL, "current: missing on a stale result");
        r = recjson_record_from(j, ret, e);
        if (r < 0)
                return err_in(r, e, "current", -1);
        if (ret->value.key != sent->value.key || ret->value.family != sent->value.family)
                return value_errf(e, -EINVAL, "current: is %s/%s, not the pushed item", key_name(ret->value.key),
                                  family_name(ret->value.family));
        if (stamp_cmp(ret->stamp, sent->stamp) < 0)
                return value_errf(e, -EINVAL, "current: its stamp is older than the pushed record's");
        return 0;
}

static int read_push_result(const cJSON *obj, const struct record *sent, struct uplink_push_result *ret,
                            struct value_err *e) {
        struct uplink_push_result res = { .key = sent->value.key, .family = sent->value.family };
        int r;

        if (!cJSON_IsObject(obj))
                return value_errf(e, -EINVAL, ": must be an object");
        if ((r = read_name(obj, "key", key_name(sent->value.key), e)) < 0 ||
            (r = read_name(obj, "family", family_name(sent->value.family), e)) < 0 ||
            (r = read_push_status(obj, &res.status, e)) < 0)
                return r;
        if (res.status == UPLINK_PUSH_STALE)
                r = read_current(obj, sent, &res.current, e);
        else if (member(obj, "current"))
                return value_errf(e, -EINVAL, "current: only a stale result has one");
        if (r >= 0 && res.status == UPLINK_PUSH_REJECTED)
                r = read_reason(obj, &res.reason, e);
        else if (r >= 0 && member(obj, "reason"))
                return value_errf(e, -EINVAL, "reason: only a rejected result has one");
        if (r < 0)
                return r;
        *ret = res;
        return 0;
}

int uplink_json_push(const cJSON *root, const struct record *sent, size_t n, struct uplink_push_result *results,
                     const char **ret_cursor, struct value_err *e) {
        const cJSON *list, *j;
        const char *cursor;
        size_t i = 0;
        int r;

        if ((r = read_array(root, "results", &list, e)) < 0 || (r = read_cursor(root, &cursor, e)) < 0)
                return r;
        if ((size_t) cJSON_GetArraySize(list) != n)
                return value_errf(e, -EINVAL, "results: %d results for %zu pushed records",
                                  cJSON_GetArraySize(list), n);
        cJSON_ArrayForEach(j, list) {
                r = read_push_result(j, &sent[i], &results[i], e);
                if (r < 0)
                        return err_in(r, e, "results", (long) i);
                i++;
        }
        *ret_cursor = cursor;
        return 0;
}

int uplink_json_wait(const cJSON *root, const char **ret_cursor, struct value_err *e) {
        return read_cursor(root, ret_cursor, e);
}

static int read_kind(const cJSON *obj, enum uplink_device_kind *ret, struct value_err *e) {
        const char *s;
        int r = read_string(obj, "kind", true, &s, e);

        if (r < 0)
                return r;
        if (strcmp(s, "buds") == 0)
                *ret = UPLINK_DEVICE_BUDS;
        else if (strcmp(s, "host") == 0)
                *ret = UPLINK_DEVICE_HOST;
        else
                return value_errf(e, -EINVAL, "kind: \"%.32s\" is not buds or host", s);
        return 0;
}

static int read_device_family(const cJSON *obj, struct uplink_device *d, struct value_err *e) {
        const char *s;
        int r = read_string(obj, "family", false, &s, e);

        if (r < 0 || !s)
                return r;
        if (family_from_name(s, &d->family) < 0 || d->family == FAMILY_ANY)
                return value_errf(e, -EINVAL, "family: \"%.32s\" is not standard or pro", s);
        d->has_family = true;
        return 0;
}

static int read_device(const cJSON *obj, struct uplink_device *ret, struct value_err *e) {
        struct uplink_device d = { .battery = -1 };
        uint64_t battery = UINT64_MAX;
        const char *id;
        int r;

        if (!cJSON_IsObject(obj))
                return value_errf(e, -EINVAL, ": must be an object");
        if ((r = read_string(obj, "id", true, &id, e)) < 0)
                return r;
        if (recjson_origin_parse(id, &d.id) < 0)
                return value_errf(e, -EINVAL, "id: must be 16 lower-case hex digits");
        if ((r = read_kind(obj, &d.kind, e)) < 0 || (r = read_device_family(obj, &d, e)) < 0 ||
            (r = read_string(obj, "model", false, &d.model, e)) < 0 ||
            (r = read_string(obj, "firmware", false, &d.firmware, e)) < 0 ||
            (r = read_string(obj, "serial", false, &d.serial, e)) < 0 ||
            (r = read_string(obj, "name", false, &d.name, e)) < 0 ||
            (r = read_uint(obj, "battery", 100, false, &battery, e)) < 0 ||
            (r = read_uint(obj, "last_seen_ms", JSON_INT_MAX, true, &d.last_seen_ms, e)) < 0)
                return r;
        if (battery != UINT64_MAX)
                d.battery = (int) battery;
        *ret = d;
        return 0;
}

int uplink_json_devices(const cJSON *root, struct uplink_device **ret, size_t *ret_n, struct value_err *e) {
        _cleanup_(freep) struct uplink_device *devs = NULL;
        const cJSON *list, *j;
        size_t n, i = 0;
        int r;

        r = read_array(root, "devices", &list, e);
        if (r < 0)
                return r;
        n = (size_t) cJSON_GetArraySize(list);
        if (n > 0 && !(devs = calloc(n, sizeof(*devs))))
                return -ENOMEM;
        cJSON_ArrayForEach(j, list) {
                r = read_device(j, &devs[i], e);
                if (r < 0)
                        return err_in(r, e, "devices", (long) i);
                i++;
        }
        *ret = TAKE_PTR(devs);
        *ret_n = n;
        return 0;
}

void uplink_json_error_read(const cJSON *root, struct uplink_json_error *ret) {
        const cJSON *err = member(root, "error"), *code, *msg, *schema;

        *ret = (struct uplink_json_error) {};
        if (!cJSON_IsObject(err))
                return;
        code = member(err, "code");
        msg = member(err, "message");
        schema = member(err, "required_schema");
        ret->code = cJSON_IsString(code) ? code->valuestring : NULL;
        ret->message = cJSON_IsString(msg) ? msg->valuestring : NULL;
        if (cJSON_IsNumber(schema) && schema->valuedouble >= 1 && schema->valuedouble <= UINT32_MAX &&
            schema->valuedouble == floor(schema->valuedouble))
                ret->required_schema = (unsigned) schema->valuedouble;
}
