/* SPDX-License-Identifier: MIT */
/* POST /v1/sync/push. The boundary between a bad request and a bad record:
 * a body that is not JSON, not an object of exactly "schema" and "records",
 * an empty records array, or an element that is not an object with string
 * "key" and "family" is a 400 (the results could not even name it); more than
 * 1000 records is a 413 (the client splits); anything else wrong with an
 * element is that record's "rejected"/"invalid_value", its result naming
 * the item in our own words (or "" when it names none: never the client's
 * strings, which would make the stored answer as large as the push). A
 * valid push joins the group commit (group.h): its records and its stored
 * response are written in the group's transaction, after the pushes that
 * arrived before it, and the answer is sent only after that transaction's
 * COMMIT. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "codec/recjson.h"
#include "cleanup.h"
#include "now.h"
#include "ratelimit.h"
#include "sync.h"

#define SYNC_PUSH_MAX 1000
#define SYNC_PURGE_EVERY_MS (60u * 1000u)

/* One push from its headers to its answer. The parsed body waits here for
 * the group's transaction; the answer is made inside it. */
struct sync_push {
        struct sync_ctx *s;
        struct idempotency_claim *claim;
        const char *account;
        const char *device;
        cJSON *root;
        const cJSON *records;
        uint8_t digest[IDEMPOTENCY_DIGEST_SIZE];
        uint64_t now_ms;
        unsigned applied, stale, rejected;
        uint64_t seq;                   /* the account's sequence after it */
        char *body;                     /* the answer, once applied */
        unsigned status;                /* its status */
        int result;                     /* the group's outcome */
        bool joined;
        bool replay;                    /* body is the stored answer another syncd gave first */
        bool reused;                    /* another syncd stored an answer of another body under the key */
};

/* The key, no longer in progress here nor for the other syncd. */
static void sync_push_unclaim(struct sync_push *p) {
        if (!p->claim)
                return;
        store_idem_release(p->s->store, p->account, idempotency_claim_key(p->claim));
        idempotency_release(p->s->idempotency, p->claim);
        p->claim = NULL;
}

/* After the 400s and the 409, which cost nothing: only a push that would be
 * processed is counted. Its body is then read and dropped (http.c). */
static int sync_push_rate(struct sync_ctx *s, const char *account, struct reply *ret) {
        unsigned wait;
        int r;

        r = ratelimit_take(s->pushes, account, now_ms(CLOCK_MONOTONIC), &wait);
        if (r != -EAGAIN)
                return r;
        r = reply_error(ret, 429, "rate_limited", "more pushes than this server takes from one account "
                        "(%u a minute); retry in %u s", s->max_pushes_per_minute, wait);
        ret->retry_after = wait;
        return r;
}

int sync_push_begin(void *userdata, struct http_request *req, struct reply *ret) {
        struct sync_ctx *s = userdata;
        const char *key = MHD_lookup_connection_value(req->connection, MHD_HEADER_KIND, "Idempotency-Key");
        const char *dev = MHD_lookup_connection_value(req->connection, MHD_HEADER_KIND, "Device-Id");
        char norm[IDEMPOTENCY_KEY_LEN + 1];
        struct sync_push *p;
        uint64_t origin;
        int r;

        if (!key)
                return reply_error(ret, 400, "bad_request", "the Idempotency-Key header is required");
        if (idempotency_key_normalize(key, norm) < 0)
                return reply_error(ret, 400, "bad_request", "Idempotency-Key: must be a UUID");
        if (!dev || recjson_origin_parse(dev, &origin) < 0)
                return reply_error(ret, 400, "bad_request", "Device-Id: must be 16 lower-case hex digits");
        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        *p = (struct sync_push) { .s = s, .account = req->account, .device = dev };
        r = idempotency_claim(s->idempotency, req->account, norm, &p->claim);
        if (r >= 0 && (r = store_idem_claim(s->store, req->account, norm)) < 0) {
                idempotency_release(s->idempotency, p->claim);
                p->claim = NULL;
        }
        if (r < 0) {
                free(p);
                return r != -EBUSY ? r : reply_error(ret, 409, "in_progress",
                                                     "a request with this Idempotency-Key is still being processed");
        }
        req->data = p;
        return sync_push_rate(s, req->account, ret);
}

void sync_push_done(void *userdata, struct http_request *req) {
        struct sync_push *p = req->data;

        (void) userdata;
        if (!p)
                return;
        sync_push_unclaim(p);
        cJSON_Delete(p->root);
        free(p->body);
        free(p);
        req->data = NULL;
}

/* 1 when the key already has a stored response: then *ret is its replay, or
 * a 422 for another body. 0 when the key is new (or its response expired). */
static int sync_push_replay(struct sync_ctx *s, const char *account, const char *key,
                            const uint8_t digest[static IDEMPOTENCY_DIGEST_SIZE], struct reply *ret) {
        uint8_t stored[STORE_DIGEST_SIZE];
        char *body = NULL;
        unsigned status;
        int r;

        r = store_idem_get(s->store, account, key, now_ms(CLOCK_REALTIME) - IDEMPOTENCY_TTL_MS,
                           stored, &status, &body);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        if (memcmp(stored, digest, STORE_DIGEST_SIZE) != 0) {
                free(body);
                r = reply_error(ret, 422, "idempotency_key_reused",
                                "this Idempotency-Key was used for another body");
                return r < 0 ? r : 1;
        }
        reply_clear(ret);
        ret->status = status;
        ret->body = body;
        ret->replay = true;
        return 1;
}

static bool sync_push_element_is_named(const cJSON *j) {
        return cJSON_IsObject(j) && cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "key")) &&
                cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "family"));
}

/* 1 with an error in *ret when the body's shape is wrong; 0 and the records. */
static int sync_push_shape(const cJSON *root, const cJSON **ret_records, struct reply *ret) {
        static const char *const names[] = { "schema", "records", NULL };
        const cJSON *schema = cJSON_GetObjectItemCaseSensitive(root, "schema");
        const cJSON *records = cJSON_GetObjectItemCaseSensitive(root, "records");
        struct value_err e = {};
        int i = 0, n;

        if (!cJSON_IsObject(root))
                return reply_error(ret, 400, "bad_request", "the body must be a JSON object") ?: 1;
        if (!cJSON_IsNumber(schema))
                return reply_error(ret, 400, "bad_request", "schema: must be a number") ?: 1;
        if (schema->valuedouble != SYNC_SCHEMA)
                return reply_schema_mismatch(ret, "schema %g is not supported", schema->valuedouble) ?: 1;
        if (json_strict_check_members(root, names, &e) < 0)
                return reply_error(ret, 400, "bad_request", "%s", e.msg) ?: 1;
        if (!cJSON_IsArray(records) || (n = cJSON_GetArraySize(records)) == 0)
                return reply_error(ret, 400, "bad_request", "records: must be an array of 1..%d records",
                                   SYNC_PUSH_MAX) ?: 1;
        if (n > SYNC_PUSH_MAX)
                return reply_error(ret, 413, "too_large", "records: at most %d in one push", SYNC_PUSH_MAX) ?: 1;
        for (const cJSON *j = records->child; j; j = j->next, i++)
                if (!sync_push_element_is_named(j))
                        return reply_error(ret, 400, "bad_request",
                                           "records[%d]: must be an object with string key and family", i) ?: 1;
        *ret_records = records;
        return 0;
}

static int sync_push_stale(struct sync_push *p, cJSON *res, const char *current_json) {
        cJSON *cur = cJSON_Parse(current_json);

        if (!cur)
                return -EIO;
        p->stale++;
        if (!cJSON_AddStringToObject(res, "status", "stale")) {
                cJSON_Delete(cur);
                return -ENOMEM;
        }
        cJSON_AddItemToObject(res, "current", cur);
        return 0;
}

static int sync_push_apply_one(struct sync_push *p, const struct record *rec, cJSON *res) {
        const char *key = key_name(rec->value.key), *family = family_name(rec->value.family);
        _cleanup_(freep) char *cur_json = NULL, *json = NULL;
        struct stamp cur;
        uint64_t seq;
        int r;

        r = store_record_get(p->s->store, p->account, key, family, &cur, &cur_json);
        if (r < 0 && r != -ENOENT)
                return r;
        if (r == 0 && stamp_cmp(cur, rec->stamp) >= 0)
                return sync_push_stale(p, res, cur_json);
        json = recjson_record_print(rec);
        if (!json)
                return -ENOMEM;
        r = store_record_put(p->s->store, p->account, key, family, rec->stamp, p->device, json, &seq);
        if (r < 0)
                return r;
        p->applied++;
        return cJSON_AddStringToObject(res, "status", "applied") ? 0 : -ENOMEM;
}

static int sync_push_rejected(struct sync_push *p, cJSON *res, const char *reason) {
        p->rejected++;
        if (!cJSON_AddStringToObject(res, "status", "rejected") || !cJSON_AddStringToObject(res, "reason", reason))
                return -ENOMEM;
        return 0;
}

/* The names a result carries: our own spelling of the record's item when it
 * names one of the five, else "" for both. Never the strings as sent: a
 * push of records with megabyte names would store an answer as large as
 * itself, kept for a day, for every key it is sent under. */
static void sync_push_item_names(const cJSON *j, const char **ret_key, const char **ret_family) {
        enum key k;
        enum family f;

        if (key_from_name(cJSON_GetObjectItemCaseSensitive(j, "key")->valuestring, &k) < 0 ||
            family_from_name(cJSON_GetObjectItemCaseSensitive(j, "family")->valuestring, &f) < 0 ||
            !key_family_is_valid((int) k, (int) f)) {
                *ret_key = *ret_family = "";
                return;
        }
        *ret_key = key_name(k);
        *ret_family = family_name(f);
}

static int sync_push_one(struct sync_push *p, const cJSON *j, cJSON *results) {
        cJSON *res = cJSON_CreateObject();
        struct value_err e = {};
        const char *key, *family;
        struct record rec;

        if (!res)
                return -ENOMEM;
        cJSON_AddItemToArray(results, res);
        sync_push_item_names(j, &key, &family);
        if (!cJSON_AddStringToObject(res, "key", key) || !cJSON_AddStringToObject(res, "family", family))
                return -ENOMEM;
        if (recjson_record_from(j, &rec, &e) < 0 || value_check(&rec.value, &e) < 0)
                return sync_push_rejected(p, res, "invalid_value");
        if (stamp_ms(rec.stamp) > p->now_ms + p->s->max_skew_ms)
                return sync_push_rejected(p, res, "future_stamp");
        return sync_push_apply_one(p, &rec, res);
}

/* 1 when the key's answer was stored since the replay check: by another
 * syncd on the same database (the claim of this one kept out its own
 * duplicates), which holds the account until its COMMIT. Its answer is then
 * this one's, as a replay. */
static int sync_push_stored_meanwhile(struct sync_push *p) {
        uint8_t stored[STORE_DIGEST_SIZE];
        char *body = NULL;
        unsigned status;
        int r;

        r = store_idem_get(p->s->store, p->account, idempotency_claim_key(p->claim),
                           p->now_ms - IDEMPOTENCY_TTL_MS, stored, &status, &body);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        p->reused = memcmp(stored, p->digest, STORE_DIGEST_SIZE) != 0;
        p->replay = !p->reused;
        free(p->body);
        p->body = body;
        p->status = status;
        return 1;
}

/* Inside the group's transaction, its accounts held: every record, the
 * cursor, the stored response. */
static int sync_push_apply(void *userdata) {
        _cleanup_(cJSON_Deletep) cJSON *root = cJSON_CreateObject();
        _cleanup_(freep) char *body = NULL;
        struct sync_push *p = userdata;
        cJSON *results = cJSON_AddArrayToObject(root, "results");
        const cJSON *j;
        int r;

        if (!results)
                return -ENOMEM;
        p->now_ms = now_ms(CLOCK_REALTIME);
        p->applied = p->stale = p->rejected = 0;        /* a group run again after a deadlock starts afresh */
        p->replay = p->reused = false;
        r = sync_push_stored_meanwhile(p);
        if (r != 0)
                return r < 0 ? r : 0;
        cJSON_ArrayForEach(j, p->records) {
                r = sync_push_one(p, j, results);
                if (r < 0)
                        return r;
        }
        if (p->applied > 0 && (r = store_notify(p->s->store, p->account)) < 0)   /* the other syncd's long polls */
                return r;
        r = store_seq(p->s->store, p->account, &p->seq);
        if (r >= 0)
                r = sync_cursor_json(p->s, p->account, p->seq, root);
        if (r < 0)
                return r;
        body = cJSON_PrintUnformatted(root);
        if (!body)
                return -ENOMEM;
        r = store_idem_put(p->s->store, p->account, idempotency_claim_key(p->claim), p->digest, 200, body,
                           p->now_ms);
        if (r >= 0)
                r = store_idem_trim(p->s->store, p->account, idempotency_claim_key(p->claim),
                                    p->s->max_replay_bytes);
        if (r >= 0 && p->now_ms - p->s->last_purge_ms >= SYNC_PURGE_EVERY_MS) {
                r = store_idem_purge(p->s->store, p->now_ms - IDEMPOTENCY_TTL_MS);
                p->s->last_purge_ms = p->now_ms;
        }
        if (r < 0)
                return r;
        free(p->body);
        p->body = TAKE_PTR(body);
        p->status = 200;
        return 0;
}

/* After the group's COMMIT or ROLLBACK, before the connection is resumed. */
static void sync_push_committed(void *userdata, int result) {
        struct sync_push *p = userdata;

        p->result = result;
        if (result < 0)
                return;
        p->s->counters->push_applied += p->applied;    /* counted once on disk, not when tried */
        p->s->counters->push_stale += p->stale;
        p->s->counters->push_rejected += p->rejected;
        sync_push_unclaim(p);           /* stored: no longer in progress */
        if (p->applied > 0)
                longpoll_wake(p->s->longpoll, p->account, p->seq);
}

static int sync_push_answer(struct sync_push *p, struct reply *ret) {
        if (p->result < 0)              /* logged once for the whole group, by the loop */
                return reply_failure(ret, p->result);
        if (p->reused)
                return reply_error(ret, 422, "idempotency_key_reused",
                                   "this Idempotency-Key was used for another body");
        reply_clear(ret);
        ret->status = p->status;
        ret->body = TAKE_PTR(p->body);
        ret->replay = p->replay;
        return 0;
}

int sync_push_handle(void *userdata, struct http_request *req, struct reply *ret) {
        struct sync_ctx *s = userdata;
        struct sync_push *p = req->data;
        struct value_err e = {};
        int r;

        if (p->joined)                  /* resumed: the group has committed or failed */
                return sync_push_answer(p, ret);
        r = idempotency_digest(req->body ?: "", req->body_len, p->digest);
        if (r >= 0)
                r = sync_push_replay(s, req->account, idempotency_claim_key(p->claim), p->digest, ret);
        if (r != 0)
                return r < 0 ? r : 0;
        r = json_strict_parse(req->body ?: "", req->body_len, &p->root, &e);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return reply_error(ret, 400, "bad_request", "%s", e.msg[0] ? e.msg : "the body is not JSON");
        r = sync_push_shape(p->root, &p->records, ret);
        if (r != 0)
                return r < 0 ? r : 0;
        r = group_join(s->group, req->connection,
                       &(struct group_write) { sync_push_apply, sync_push_committed, p, p->account });
        if (r < 0)
                return r;
        p->joined = true;
        return HTTP_PARKED;
}
