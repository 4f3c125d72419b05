/* SPDX-License-Identifier: MIT */
/* Fault rules: {"path", "method"?, "count"? (default 1), "action", "status"?,
 * "retry_after"?, "body"?}, checked in order; each match uses up one count,
 * and the hits are counted (a client's tests count its requests so). The
 * action "answer" sends "body" (any JSON) as the answer, status 200 unless
 * "status" says otherwise, without processing the request: a server that
 * lies in well-formed JSON. Matching
 * happens when a request's headers arrive, before routing and before the
 * bearer token, so a rule works on any path. Must never be reachable unless
 * enabled at start. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "codec/recjson.h"
#include "cleanup.h"
#include "faults.h"
#include "http.h"

#define FAULTS_PATH_MAX 256

struct faults_rule {
        char path[FAULTS_PATH_MAX + 1];
        char method[16];                /* "" matches any */
        unsigned count;
        struct faults_hit hit;          /* hit.body: the rule's own */
};

struct faults {
        struct faults_rule *rules;
        size_t n;
        unsigned long hits;             /* matches since start or the last DELETE */
};

int faults_new(struct faults **ret) {
        struct faults *f = calloc(1, sizeof(*f));

        if (!f)
                return -ENOMEM;
        *ret = f;
        return 0;
}

static void faults_free_bodies(struct faults_rule *rules, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(rules[i].hit.body);
}

void faults_clear(struct faults *f) {
        faults_free_bodies(f->rules, f->n);
        free(f->rules);
        f->rules = NULL;
        f->n = 0;
        f->hits = 0;
}

struct faults *faults_free(struct faults *f) {
        if (!f)
                return NULL;
        faults_clear(f);
        free(f);
        return NULL;
}

static int faults_action_from_name(const char *s, enum faults_action *ret) {
        static const char *const names[] = {
                [FAULTS_STATUS] = "status",
                [FAULTS_GARBAGE] = "garbage",
                [FAULTS_TRUNCATE] = "truncate",
                [FAULTS_STALL] = "stall",
                [FAULTS_APPLY_THEN_DROP] = "apply_then_drop",
                [FAULTS_ANSWER] = "answer",
        };

        for (size_t i = FAULTS_STATUS; i < sizeof(names) / sizeof(names[0]); i++)
                if (strcmp(s, names[i]) == 0) {
                        *ret = (enum faults_action) i;
                        return 0;
                }
        return -EINVAL;
}

static int faults_uint(const cJSON *j, const char *name, unsigned lo, unsigned hi, unsigned *ret,
                       struct value_err *e) {
        if (!j)
                return 0;
        if (!cJSON_IsNumber(j) || j->valuedouble != floor(j->valuedouble) ||
            j->valuedouble < lo || j->valuedouble > hi)
                return value_errf(e, -EINVAL, "%s: must be an integer %u..%u", name, lo, hi);
        *ret = (unsigned) j->valuedouble;
        return 0;
}

static int faults_string(const cJSON *j, const char *name, char *buf, size_t size, struct value_err *e) {
        if (!j)
                return 0;
        if (!cJSON_IsString(j) || strlen(j->valuestring) >= size)
                return value_errf(e, -EINVAL, "%s: must be a string shorter than %zu bytes", name, size);
        strcpy(buf, j->valuestring);
        return 0;
}

/* "body" only with "answer", and "answer" only with a body. */
static int faults_body(const cJSON *j, struct faults_rule *rule, struct value_err *e) {
        if (!j != (rule->hit.action != FAULTS_ANSWER))
                return value_errf(e, -EINVAL, "\"body\" goes with the action \"answer\", and only there");
        if (!j)
                return 0;
        rule->hit.body = cJSON_PrintUnformatted(j);
        if (!rule->hit.body)
                return -ENOMEM;
        if (rule->hit.status == 0)
                rule->hit.status = 200;
        return 0;
}

static int faults_rule_from(const cJSON *j, struct faults_rule *ret, struct value_err *e) {
        static const char *const names[] = { "path", "method", "count", "action", "status", "retry_after", "body",
                                             NULL };
        struct faults_rule rule = { .count = 1 };
        const cJSON *action = cJSON_GetObjectItemCaseSensitive(j, "action");
        int r;

        r = json_strict_check_members(j, names, e);
        if (r < 0)
                return r;
        if (!cJSON_GetObjectItemCaseSensitive(j, "path") || !cJSON_IsString(action))
                return value_errf(e, -EINVAL, "\"path\" and \"action\" are required");
        if (faults_action_from_name(action->valuestring, &rule.hit.action) < 0)
                return value_errf(e, -EINVAL, "action: unknown \"%s\"", action->valuestring);
        if ((r = faults_string(cJSON_GetObjectItemCaseSensitive(j, "path"), "path", rule.path,
                               sizeof(rule.path), e)) < 0 ||
            (r = faults_string(cJSON_GetObjectItemCaseSensitive(j, "method"), "method", rule.method,
                               sizeof(rule.method), e)) < 0 ||
            (r = faults_uint(cJSON_GetObjectItemCaseSensitive(j, "count"), "count", 1, 1000000,
                             &rule.count, e)) < 0 ||
            (r = faults_uint(cJSON_GetObjectItemCaseSensitive(j, "status"), "status", 200, 599,
                             &rule.hit.status, e)) < 0 ||
            (r = faults_uint(cJSON_GetObjectItemCaseSensitive(j, "retry_after"), "retry_after", 0, 86400,
                             &rule.hit.retry_after, e)) < 0)
                return r;
        if (rule.hit.action == FAULTS_STATUS && rule.hit.status == 0)
                return value_errf(e, -EINVAL, "action \"status\" needs \"status\"");
        r = faults_body(cJSON_GetObjectItemCaseSensitive(j, "body"), &rule, e);
        if (r < 0)
                return r;
        *ret = rule;
        return 0;
}

int faults_add(struct faults *f, const cJSON *rules, struct value_err *e) {
        size_t n = (size_t) cJSON_GetArraySize(rules), i = 0;
        struct faults_rule *all;
        const cJSON *j;
        int r;

        if (!cJSON_IsArray(rules))
                return value_errf(e, -EINVAL, "the body must be a JSON array of rules");
        all = realloc(f->rules, (f->n + n + 1) * sizeof(*all));
        if (!all)
                return -ENOMEM;
        f->rules = all;
        cJSON_ArrayForEach(j, rules) {
                r = faults_rule_from(j, &all[f->n + i], e);
                if (r < 0) {
                        faults_free_bodies(all + f->n, i);
                        value_err_prefix(e, "rule %zu: ", i);
                        return r;
                }
                i++;
        }
        f->n += n;
        return 0;
}

struct faults_hit faults_take(struct faults *f, const char *method, const char *path) {
        struct faults_hit hit;

        for (size_t i = 0; i < f->n; i++) {
                struct faults_rule *rule = &f->rules[i];

                if (rule->count == 0 || strcmp(rule->path, path) != 0 ||
                    (rule->method[0] && strcmp(rule->method, method) != 0))
                        continue;
                rule->count--;
                f->hits++;
                hit = rule->hit;
                if (hit.body)
                        hit.body = strdup(hit.body);
                return hit;
        }
        return (struct faults_hit) { FAULTS_NONE, 0, 0, NULL };
}

static size_t faults_active(const struct faults *f) {
        size_t n = 0;

        for (size_t i = 0; i < f->n; i++)
                n += f->rules[i].count > 0;
        return n;
}

static int faults_reply_count(struct faults *f, struct reply *ret) {
        cJSON *root = cJSON_CreateObject();

        if (!root || !cJSON_AddNumberToObject(root, "rules", (double) faults_active(f)) ||
            !cJSON_AddNumberToObject(root, "hits", (double) f->hits)) {
                cJSON_Delete(root);
                return -ENOMEM;
        }
        return reply_json(ret, 200, root);
}

/* POST appends the rules; PUT replaces them all and the hits in one step,
 * so that no request meets the server without rules in between (a DELETE
 * then a POST leaves that gap). */
static int faults_handle_set(struct faults *f, struct http_request *req, bool replace, struct reply *ret) {
        _cleanup_(cJSON_Deletep) cJSON *rules = NULL;
        struct faults fresh = {};
        struct value_err e = {};
        int r;

        r = json_strict_parse(req->body ? req->body : "", req->body_len, &rules, &e);
        if (r >= 0)
                r = faults_add(replace ? &fresh : f, rules, &e);
        if (r == -ENOMEM) {
                faults_clear(&fresh);
                return r;
        }
        if (r < 0) {
                faults_clear(&fresh);
                return reply_error(ret, 400, "bad_request", "%s", e.msg[0] ? e.msg : "malformed rules");
        }
        if (replace) {
                faults_clear(f);
                *f = fresh;
        }
        return faults_reply_count(f, ret);
}

int faults_handle_post(void *userdata, struct http_request *req, struct reply *ret) {
        return faults_handle_set(userdata, req, false, ret);
}

int faults_handle_put(void *userdata, struct http_request *req, struct reply *ret) {
        return faults_handle_set(userdata, req, true, ret);
}

int faults_handle_delete(void *userdata, struct http_request *req, struct reply *ret) {
        struct faults *f = userdata;

        (void) req;
        faults_clear(f);
        return faults_reply_count(f, ret);
}
