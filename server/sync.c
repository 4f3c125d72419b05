/* SPDX-License-Identifier: MIT */
/* status, pull and the long poll. A cursor names a point in the account's
 * sequence; pull returns the records whose current copy was applied after it,
 * oldest first; the long poll parks until the account's sequence passes it. A
 * cursor that this server did not give to this account is a 400, never a
 * silent "from the start". */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "codec/recjson.h"
#include "cleanup.h"
#include "now.h"
#include "sync.h"

int sync_cursor_json(struct sync_ctx *s, const char *account, uint64_t seq, cJSON *obj) {
        char buf[CURSOR_LEN + 1];
        int r;

        r = cursor_format(store_secret(s->store), account, seq, buf);
        if (r < 0)
                return r;
        return cJSON_AddStringToObject(obj, "cursor", buf) ? 0 : -ENOMEM;
}

/* A cursor text (NULL: the start) as a sequence number not beyond the
 * account's current one. */
static int sync_cursor_parse(struct sync_ctx *s, const char *account, const char *text, uint64_t current,
                             uint64_t *ret) {
        uint64_t seq = 0;

        if (text && cursor_parse(store_secret(s->store), account, text, &seq) < 0)
                return -EINVAL;
        if (seq > current)
                return -EINVAL;
        *ret = seq;
        return 0;
}

int sync_handle_status(void *userdata, struct http_request *req, struct reply *ret) {
        _cleanup_(cJSON_Deletep) cJSON *root = cJSON_CreateObject();
        struct sync_ctx *s = userdata;
        uint64_t seq;
        int r;

        r = store_seq(s->store, req->account, &seq);
        if (r < 0)
                return r;
        if (!root || !cJSON_AddNumberToObject(root, "server_time_ms", (double) now_ms(CLOCK_REALTIME)))
                return -ENOMEM;
        r = sync_cursor_json(s, req->account, seq, root);
        if (r < 0)
                return r;
        if (!cJSON_AddNumberToObject(root, "schema", SYNC_SCHEMA))
                return -ENOMEM;
        return reply_json(ret, 200, TAKE_PTR(root));
}

struct sync_page {
        cJSON *records;
        unsigned limit, n;
        uint64_t last_seq;
        bool more;
};

/* Keeps up to limit records; one more row only says there are more. */
static int sync_page_add(uint64_t seq, const char *json, void *userdata) {
        struct sync_page *p = userdata;
        cJSON *rec;

        if (p->n == p->limit) {
                p->more = true;
                return 0;
        }
        rec = cJSON_Parse(json);        /* our own text, written by recjson */
        if (!rec)
                return -EIO;
        cJSON_AddItemToArray(p->records, rec);
        p->last_seq = seq;
        p->n++;
        return 0;
}

/* {"cursor": string|null, "limit": 1..1000}, both required. */
static int sync_pull_args(const cJSON *root, const char **ret_cursor, unsigned *ret_limit, struct value_err *e) {
        static const char *const names[] = { "cursor", "limit", NULL };
        const cJSON *cursor = cJSON_GetObjectItemCaseSensitive(root, "cursor");
        const cJSON *limit = cJSON_GetObjectItemCaseSensitive(root, "limit");
        int r;

        if (!cJSON_IsObject(root))
                return value_errf(e, -EINVAL, "the body must be a JSON object");
        r = json_strict_check_members(root, names, e);
        if (r < 0)
                return r;
        if (!cursor || !(cJSON_IsNull(cursor) || cJSON_IsString(cursor)))
                return value_errf(e, -EINVAL, "cursor: must be a string or null");
        if (!cJSON_IsNumber(limit) || limit->valuedouble != floor(limit->valuedouble) ||
            limit->valuedouble < 1 || limit->valuedouble > SYNC_LIMIT_MAX)
                return value_errf(e, -EINVAL, "limit: must be an integer 1..%d", SYNC_LIMIT_MAX);
        *ret_cursor = cJSON_IsString(cursor) ? cursor->valuestring : NULL;
        *ret_limit = (unsigned) limit->valuedouble;
        return 0;
}

/* The page after since; its cursor is the last record's when more follow,
 * else the account's current one. */
static int sync_pull_reply(struct sync_ctx *s, const char *account, uint64_t since, unsigned limit,
                           uint64_t current, struct reply *ret) {
        _cleanup_(cJSON_Deletep) cJSON *root = cJSON_CreateObject();
        struct sync_page page = { .limit = limit };
        int r;

        page.records = cJSON_AddArrayToObject(root, "records");
        if (!page.records)
                return -ENOMEM;
        r = store_records_since(s->store, account, since, limit + 1, sync_page_add, &page);
        if (r < 0)
                return r;
        r = sync_cursor_json(s, account, page.more ? page.last_seq : current, root);
        if (r < 0)
                return r;
        if (!cJSON_AddBoolToObject(root, "more", page.more))
                return -ENOMEM;
        return reply_json(ret, 200, TAKE_PTR(root));
}

int sync_handle_pull(void *userdata, struct http_request *req, struct reply *ret) {
        _cleanup_(cJSON_Deletep) cJSON *root = NULL;
        struct sync_ctx *s = userdata;
        struct value_err e = {};
        const char *cursor = NULL;
        uint64_t current, since;
        unsigned limit = 0;
        int r;

        r = json_strict_parse(req->body ?: "", req->body_len, &root, &e);
        if (r >= 0)
                r = sync_pull_args(root, &cursor, &limit, &e);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return reply_error(ret, 400, "bad_request", "%s", e.msg[0] ? e.msg : "malformed body");
        r = store_seq(s->store, req->account, &current);
        if (r < 0)
                return r;
        if (sync_cursor_parse(s, req->account, cursor, current, &since) < 0)
                return reply_error(ret, 400, "bad_request", "cursor: not a cursor of this account");
        return sync_pull_reply(s, req->account, since, limit, current, ret);
}

/* The query of a long poll: cursor (required) and timeout 1..60 (required);
 * any other argument is an error. */
struct sync_wait_args {
        const char *cursor;
        const char *timeout;
        bool unknown;
};

static enum MHD_Result sync_wait_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
        struct sync_wait_args *a = cls;

        (void) kind;
        if (strcmp(key, "cursor") == 0 && !a->cursor)
                a->cursor = value ?: "";
        else if (strcmp(key, "timeout") == 0 && !a->timeout)
                a->timeout = value ?: "";
        else
                a->unknown = true;
        return MHD_YES;
}

static int sync_wait_timeout(const char *text, unsigned *ret) {
        char *end;
        unsigned long v;

        if (!text || text[0] < '0' || text[0] > '9')
                return -EINVAL;
        errno = 0;
        v = strtoul(text, &end, 10);
        if (errno || *end || v < 1 || v > SYNC_WAIT_MAX_SEC)
                return -EINVAL;
        *ret = (unsigned) v;
        return 0;
}

static int sync_wait_changed(struct sync_ctx *s, const char *account, uint64_t current, struct reply *ret) {
        _cleanup_(cJSON_Deletep) cJSON *root = cJSON_CreateObject();
        int r;

        if (!root)
                return -ENOMEM;
        r = sync_cursor_json(s, account, current, root);
        if (r < 0)
                return r;
        return reply_json(ret, 200, TAKE_PTR(root));
}

/* A wait shed near the connection limit is answered as a timeout would be,
 * and its connection closed so that the place is really given up. A woken
 * wait finds its account past its cursor, unless the wake-up could not read
 * the account's sequence: then, with nothing newer, it is answered as a
 * timeout too, never with the cursor it sent. */
static int sync_wait_resumed(struct sync_ctx *s, struct http_request *req, uint64_t current, struct reply *ret) {
        int r;

        switch (longpoll_waiter_state(req->waiter)) {
        case LONGPOLL_CHANGED:
                if (current > longpoll_waiter_since(req->waiter))
                        return sync_wait_changed(s, req->account, current, ret);
                break;
        case LONGPOLL_SHED:
                r = reply_empty(ret, 204);
                ret->close = true;
                return r;
        case LONGPOLL_WAITING:
        case LONGPOLL_TIMED_OUT:
        case LONGPOLL_GONE:
        case LONGPOLL_STOPPING:
                break;
        }
        return reply_empty(ret, 204);
}

int sync_handle_wait(void *userdata, struct http_request *req, struct reply *ret) {
        struct sync_ctx *s = userdata;
        enum longpoll_admission admission;
        struct sync_wait_args a = {};
        uint64_t current, since;
        unsigned timeout, retry = 0;
        int r;

        r = store_seq(s->store, req->account, &current);
        if (r < 0)
                return r;
        if (req->waiter)                /* resumed: changed, timed out or shed */
                return sync_wait_resumed(s, req, current, ret);
        (void) MHD_get_connection_values(req->connection, MHD_GET_ARGUMENT_KIND, sync_wait_arg, &a);
        if (a.unknown || !a.cursor || sync_wait_timeout(a.timeout, &timeout) < 0)
                return reply_error(ret, 400, "bad_request", "the query must be cursor=...&timeout=1..%d",
                                   SYNC_WAIT_MAX_SEC);
        if (sync_cursor_parse(s, req->account, a.cursor, current, &since) < 0)
                return reply_error(ret, 400, "bad_request", "cursor: not a cursor of this account");
        if (current > since)
                return sync_wait_changed(s, req->account, current, ret);
        admission = longpoll_admit(s->longpoll, req->connection, req->account, now_ms(CLOCK_MONOTONIC), &retry);
        if (admission == LONGPOLL_CLOSING)
                return reply_error(ret, 503, "unavailable", "the server is stopping");
        if (admission != LONGPOLL_ADMITTED) {
                r = reply_error(ret, 429, "rate_limited", "too many long polls are waiting %s; retry in %u s",
                                admission == LONGPOLL_ACCOUNT_FULL ? "for this account" : "from this address",
                                retry);
                ret->retry_after = retry;
                return r;
        }
        r = longpoll_park(s->longpoll, req->connection, req->account, since,
                          now_ms(CLOCK_MONOTONIC) + timeout * 1000ull, &req->waiter);
        return r < 0 ? r : HTTP_PARKED;
}
