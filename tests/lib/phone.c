/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "codec/recjson.h"
#include "tests/lib/phone.h"

int phone_pull_record(const struct harness_syncd *s, const char *token, enum key key, enum family family,
                        struct record *ret) {
        struct harness_resp resp = { 0 };
        cJSON *doc, *it;
        int r = harness_request(s, "POST", "/v1/sync/pull", token, "{\"cursor\":null,\"limit\":1000}", NULL, &resp);

        if (r < 0 || resp.status != 200) {
                harness_resp_clear(&resp);
                return -EIO;
        }
        doc = cJSON_ParseWithLength(resp.body, resp.len);
        r = -ENOENT;
        cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(doc, "records")) {
                struct record rec;
                if (recjson_record_from(it, &rec, NULL) == 0 && rec.value.key == key && rec.value.family == family) {
                        *ret = rec;
                        r = 0;
                }
        }
        cJSON_Delete(doc);
        harness_resp_clear(&resp);
        return r;
}

int phone_push_record(const struct harness_syncd *s, const char *token, const struct record *rec, char *ret_status,
               size_t size) {
        static unsigned seq;
        struct harness_resp resp = { 0 };
        char key[80], *json = recjson_record_print(rec), *body = NULL;
        struct timespec ts;
        cJSON *doc, *res;
        const char *st;
        int r;

        /* unique across runs too: an external server keeps its keys */
        clock_gettime(CLOCK_REALTIME, &ts);
        (void) snprintf(key, sizeof(key), "Idempotency-Key: 00000000-0000-4000-8000-%012llx",
                        (unsigned long long) (((uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000) * 256 +
                                              (++seq & 0xff)) & 0xffffffffffffULL);
        if (!json || asprintf(&body, "{\"schema\":1,\"records\":[%s]}", json) < 0) {
                free(json);
                (void) snprintf(ret_status, size, "out of memory");
                return -ENOMEM;
        }
        r = harness_request(s, "POST", "/v1/sync/push", token, body,
                            (const char *const[]) { key, "Device-Id: 00000000000000fe", NULL }, &resp);
        free(json);
        free(body);
        if (r < 0 || resp.status != 200) {
                (void) snprintf(ret_status, size, "HTTP %ld %s", resp.status, resp.body ? resp.body : "");
                harness_resp_clear(&resp);
                return -EIO;
        }
        doc = cJSON_ParseWithLength(resp.body, resp.len);
        res = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(doc, "results"), 0);
        st = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(res, "status"));
        (void) snprintf(ret_status, size, "%s", st ? st : "?");
        cJSON_Delete(doc);
        harness_resp_clear(&resp);
        return 0;
}
