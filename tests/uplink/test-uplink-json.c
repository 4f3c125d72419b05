/* SPDX-License-Identifier: MIT */
/* The uplink's request bodies and answer readers with the bytes written out:
 * what the bridge sends, and every way an answer can be wrong (garbage,
 * truncated, wrong types, a result count or item that does not match the
 * push, records recjson refuses), each named in the message. Also the
 * derived idempotency keys against Python's uuid.uuid5. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "codec/recjson.h"
#include "uplink/uplink-json.h"
#include "uplink/uplink-key.h"

#define STAMP_JSON "{\"ms\":1763700000000,\"c\":3,\"origin\":\"00a1b2c3d4e5f607\"}"
#define ACTIVE_FLAT "{\"key\":\"eq.active\",\"family\":\"pro\",\"stamp\":" STAMP_JSON \
        ",\"derived\":false,\"value\":{\"preset\":\"flat\"}}"

static struct record active_flat(void) {
        struct record r = { .stamp = { stamp_pack(1763700000000, 3), UINT64_C(0x00a1b2c3d4e5f607) } };

        value_init(&r.value, KEY_EQ_ACTIVE, FAMILY_PRO);
        return r;
}

static cJSON *parse_ok(const char *text) {
        struct value_err e = {};
        cJSON *root = NULL;

        if (uplink_json_parse(text, strlen(text), &root, &e) < 0)
                fail_msg("%s: %s", text, e.msg);
        return root;
}

static void assert_parse_fails(const char *text, const char *why) {
        struct value_err e = {};
        cJSON *root = NULL;

        assert_int_equal(uplink_json_parse(text, strlen(text), &root, &e), -EINVAL);
        assert_null(root);
        if (!strstr(e.msg, why))
                fail_msg("\"%s\": message \"%s\" lacks \"%s\"", text, e.msg, why);
}

static void test_keys(void **state) {
        char k[UPLINK_KEY_LEN + 1];

        (void) state;
        assert_true(uplink_key_is_valid("6ba7b810-9dad-11d1-80b4-00c04fd430c8"));
        assert_true(uplink_key_is_valid("6BA7B810-9DAD-11D1-80B4-00C04FD430C8"));
        assert_false(uplink_key_is_valid("6ba7b810-9dad-11d1-80b4-00c04fd430c"));
        assert_false(uplink_key_is_valid("6ba7b810x9dad-11d1-80b4-00c04fd430c8"));
        assert_false(uplink_key_is_valid("6ba7b810-9dad-11d1-80b4-00c04fd430cg"));
        assert_false(uplink_key_is_valid(NULL));
        /* python3 -c 'import uuid; print(uuid.uuid5(uuid.NAMESPACE_DNS, "split/0"))' */
        uplink_key_derive("6ba7b810-9dad-11d1-80b4-00c04fd430c8", 0, k);
        assert_string_equal(k, "6d035a81-62c2-5afe-9f73-728c32a0d23f");
        uplink_key_derive("6BA7B810-9DAD-11D1-80B4-00C04FD430C8", 1, k);
        assert_string_equal(k, "89c94007-c488-5bbb-8c07-06900e16135e");
        assert_true(uplink_key_is_valid(k));
}

static void test_bodies(void **state) {
        struct record r = active_flat();
        const struct uplink_device d = { .id = 1, .kind = UPLINK_DEVICE_BUDS, .has_family = true,
                                         .family = FAMILY_STANDARD, .name = "Buds", .battery = 55,
                                         .last_seen_ms = 1763700000000 };
        const struct uplink_device host = { .id = 2, .kind = UPLINK_DEVICE_HOST, .battery = -1, .last_seen_ms = 7 };
        char *s;

        (void) state;
        s = uplink_json_pull_body(NULL, 1000);
        assert_string_equal(s, "{\"cursor\":null,\"limit\":1000}");
        free(s);
        s = uplink_json_pull_body("abc\"d", 5);
        assert_string_equal(s, "{\"cursor\":\"abc\\\"d\",\"limit\":5}");
        free(s);
        s = recjson_push_body_print(1, &r, 1);
        assert_string_equal(s, "{\"schema\":1,\"records\":[" ACTIVE_FLAT "]}");
        free(s);
        s = uplink_json_device_body(&d);
        assert_string_equal(s, "{\"kind\":\"buds\",\"family\":\"standard\",\"name\":\"Buds\",\"battery\":55,"
                               "\"last_seen_ms\":1763700000000}");
        free(s);
        s = uplink_json_device_body(&host);
        assert_string_equal(s, "{\"kind\":\"host\",\"last_seen_ms\":7}");
        free(s);
}

static void test_checks(void **state) {
        struct record r = active_flat();
        struct uplink_device d = { .kind = UPLINK_DEVICE_HOST, .battery = -1 };
        struct value_err e = {};
        char long_name[80];

        (void) state;
        assert_int_equal(uplink_json_check_record(&r, &e), 0);
        r.value.active.preset = 9;
        assert_int_equal(uplink_json_check_record(&r, &e), -EINVAL);
        r = active_flat();
        r.value.family = FAMILY_ANY;
        assert_int_equal(uplink_json_check_record(&r, NULL), -EINVAL);
        assert_int_equal(uplink_json_check_device(&d, NULL), 0);
        d.has_family = true;
        d.family = FAMILY_ANY;
        assert_int_equal(uplink_json_check_device(&d, NULL), -EINVAL);
        d.has_family = false;
        memset(long_name, 'x', sizeof(long_name) - 1);
        long_name[sizeof(long_name) - 1] = '\0';
        d.name = long_name;
        assert_int_equal(uplink_json_check_device(&d, NULL), -EINVAL);
        d.name = "\xff";
        assert_int_equal(uplink_json_check_device(&d, NULL), -EINVAL);
}

static void test_parse_garbage(void **state) {
        (void) state;
        assert_parse_fails("", "empty");
        assert_parse_fails("<html>502 Bad Gateway</html>", "");
        assert_parse_fails("{\"records\": [", "");                        /* truncated */
        assert_parse_fails("{\"a\": 1} trailing", "");
        assert_parse_fails("[1, 2]", "not a JSON object");
        assert_parse_fails("{\"cursor\": \"a\", \"cursor\": \"b\"}", "");  /* duplicate member */
}

static void test_status(void **state) {
        struct uplink_status s;
        struct value_err e = {};
        cJSON *j;

        (void) state;
        j = parse_ok("{\"server_time_ms\": 1763700000000, \"cursor\": \"c1\", \"schema\": 1, \"new\": true}");
        assert_int_equal(uplink_json_status(j, &s, &e), 0);     /* unknown envelope members are tolerated */
        assert_string_equal(s.cursor, "c1");
        assert_int_equal(s.schema, 1);
        cJSON_Delete(j);
        j = parse_ok("{\"server_time_ms\": \"now\", \"cursor\": \"c1\", \"schema\": 1}");
        assert_int_equal(uplink_json_status(j, &s, &e), -EINVAL);
        assert_string_equal(e.msg, "server_time_ms: must be an integer 0..9007199254740991");
        cJSON_Delete(j);
        e = (struct value_err) {};
        j = parse_ok("{\"server_time_ms\": 1, \"schema\": 1}");
        assert_int_equal(uplink_json_status(j, &s, &e), -EINVAL);
        assert_string_equal(e.msg, "cursor: missing");
        cJSON_Delete(j);
}

static int pull_fails_from(const char *text, unsigned limit, const char *sent, const char *why) {
        struct uplink_pull_reply p;
        struct value_err e = {};
        cJSON *j = parse_ok(text);
        int r = uplink_json_pull(j, limit, sent, &p, &e);

        cJSON_Delete(j);
        if (r >= 0)
                fail_msg("accepted: %s", text);
        if (!strstr(e.msg, why))
                fail_msg("\"%s\": message \"%s\" lacks \"%s\"", text, e.msg, why);
        return r;
}

static int pull_fails(const char *text, unsigned limit, const char *why) {
        return pull_fails_from(text, limit, NULL, why);
}

/* {"records": [ACTIVE_FLAT], "cursor": "<n x's>", "more": false} */
static char *page_with_cursor(size_t n) {
        static const char head[] = "{\"records\": [" ACTIVE_FLAT "], \"cursor\": \"";
        static const char tail[] = "\", \"more\": false}";
        char *text = malloc(sizeof(head) + n + sizeof(tail));

        assert_non_null(text);
        memcpy(text, head, sizeof(head) - 1);
        memset(text + sizeof(head) - 1, 'x', n);
        memcpy(text + sizeof(head) - 1 + n, tail, sizeof(tail));
        return text;
}

/* A server that lies in well-formed JSON: a page that sends the client back
 * to where it was ("more" for ever), two copies of one item in a page, a
 * record whose family does not fit its key, a cursor of megabytes. */
static void test_pull_lies(void **state) {
        struct uplink_pull_reply p;
        struct value_err e = {};
        char *text;
        cJSON *j;

        (void) state;
        pull_fails_from("{\"records\": [" ACTIVE_FLAT "], \"cursor\": \"c1\", \"more\": true}", 10, "c1",
                        "more: true, but the cursor is the one sent");
        j = parse_ok("{\"records\": [" ACTIVE_FLAT "], \"cursor\": \"c2\", \"more\": true}");
        assert_int_equal(uplink_json_pull(j, 10, "c1", &p, &e), 0);
        free((void *) p.records);
        cJSON_Delete(j);
        /* the last page's cursor may be the one sent (nothing changed) */
        j = parse_ok("{\"records\": [], \"cursor\": \"c1\", \"more\": false}");
        assert_int_equal(uplink_json_pull(j, 10, "c1", &p, &e), 0);
        cJSON_Delete(j);
        pull_fails("{\"records\": [" ACTIVE_FLAT ", {\"key\":\"eq.active\",\"family\":\"pro\",\"stamp\":"
                   "{\"ms\":1763700000009,\"c\":0,\"origin\":\"0000000000000001\"},\"value\":{\"preset\":"
                   "\"voice\"}}], \"cursor\": \"c\", \"more\": false}", 10,
                   "records[1]: a second eq.active/pro in one page");
        pull_fails("{\"records\": [{\"key\":\"eq.active\",\"family\":\"any\",\"stamp\":" STAMP_JSON
                   ",\"value\":{\"preset\":\"flat\"}}], \"cursor\": \"c\", \"more\": false}", 10, "records[0]");
        pull_fails("{\"records\": [{\"key\":\"profile\",\"family\":\"pro\",\"stamp\":" STAMP_JSON
                   ",\"value\":{\"name\":\"x\"}}], \"cursor\": \"c\", \"more\": false}", 10, "records[0]");
        text = page_with_cursor(UPLINK_CURSOR_MAX);
        j = parse_ok(text);
        assert_int_equal(uplink_json_pull(j, 10, NULL, &p, &e), 0);
        free((void *) p.records);
        cJSON_Delete(j);
        free(text);
        text = page_with_cursor(4u << 20);
        pull_fails(text, 10, "cursor: 4194304 bytes, more than a cursor may have (1024)");
        free(text);
}

static void test_pull(void **state) {
        struct uplink_pull_reply p;
        struct value_err e = {};
        cJSON *j;

        (void) state;
        j = parse_ok("{\"records\": [" ACTIVE_FLAT "], \"cursor\": \"c2\", \"more\": false}");
        assert_int_equal(uplink_json_pull(j, 10, NULL, &p, &e), 0);
        assert_int_equal(p.n, 1);
        assert_false(p.more);
        assert_int_equal(p.records[0].value.key, KEY_EQ_ACTIVE);
        assert_int_equal(p.records[0].stamp.origin, UINT64_C(0x00a1b2c3d4e5f607));
        free((void *) p.records);
        cJSON_Delete(j);
        pull_fails("{\"records\": {}, \"cursor\": \"c\", \"more\": false}", 10, "records: must be an array");
        pull_fails("{\"records\": [], \"cursor\": 5, \"more\": false}", 10, "cursor: must be a string");
        pull_fails("{\"records\": [], \"cursor\": \"\", \"more\": false}", 10, "cursor: must not be empty");
        pull_fails("{\"records\": [], \"cursor\": \"c\", \"more\": 1}", 10, "more: must be true or false");
        pull_fails("{\"records\": [], \"cursor\": \"c\"}", 10, "more: missing");
        pull_fails("{\"records\": [], \"cursor\": \"c\", \"more\": true}", 10, "more: true on a page without");
        pull_fails("{\"records\": [" ACTIVE_FLAT "," ACTIVE_FLAT "], \"cursor\": \"c\", \"more\": false}", 1,
                   "2 records, but the limit was 1");
        /* records are strict: an unknown member, a value off its unit */
        pull_fails("{\"records\": [{\"key\":\"eq.active\",\"family\":\"pro\",\"stamp\":" STAMP_JSON
                   ",\"value\":{\"preset\":\"flat\"},\"extra\":1}], \"cursor\": \"c\", \"more\": false}", 10,
                   "records[0]");
        pull_fails("{\"records\": [" ACTIVE_FLAT ", {\"key\":\"eq.custom\",\"family\":\"standard\",\"stamp\":"
                   STAMP_JSON ",\"value\":{\"bands_db\":[0,0,0.25,0,0]}}], \"cursor\": \"c\", \"more\": false}",
                   10, "records[1].value.bands_db");
}

static int push_fails(const char *text, const struct record *sent, size_t n, const char *why) {
        struct uplink_push_result res[4];
        struct value_err e = {};
        const char *cursor;
        cJSON *j = parse_ok(text);
        int r = uplink_json_push(j, sent, n, res, &cursor, &e);

        cJSON_Delete(j);
        if (r >= 0)
                fail_msg("accepted: %s", text);
        if (!strstr(e.msg, why))
                fail_msg("\"%s\": message \"%s\" lacks \"%s\"", text, e.msg, why);
        return r;
}

#define NEWER "{\"key\":\"eq.active\",\"family\":\"pro\",\"stamp\":{\"ms\":1763700000001,\"c\":0,\"origin\":" \
        "\"0000000000000001\"},\"value\":{\"preset\":\"voice\"}}"

static void test_push(void **state) {
        struct record sent[2] = { active_flat(), active_flat() };
        struct uplink_push_result res[2];
        struct value_err e = {};
        const char *cursor;
        cJSON *j;

        (void) state;
        sent[1].value.family = FAMILY_STANDARD;
        j = parse_ok("{\"results\": [{\"key\": \"eq.active\", \"family\": \"pro\", \"status\": \"stale\", \"current\": "
                     NEWER "}, {\"key\": \"eq.active\", \"family\": \"standard\", \"status\": \"rejected\", "
                     "\"reason\": \"future_stamp\", \"later\": 1}], \"cursor\": \"c3\"}");
        assert_int_equal(uplink_json_push(j, sent, 2, res, &cursor, &e), 0);
        assert_int_equal(res[0].status, UPLINK_PUSH_STALE);
        assert_int_equal(res[0].current.value.active.preset, PRESET_VOICE);
        assert_int_equal(res[1].status, UPLINK_PUSH_REJECTED);
        assert_int_equal(res[1].reason, UPLINK_REJECT_FUTURE_STAMP);
        assert_int_equal(res[1].family, FAMILY_STANDARD);
        assert_string_equal(cursor, "c3");
        cJSON_Delete(j);
        push_fails("{\"results\": [{\"key\": \"eq.active\", \"family\": \"pro\", \"status\": \"applied\"}], "
                   "\"cursor\": \"c\"}", sent, 2, "results: 1 results for 2 pushed records");
        push_fails("{\"results\": [{\"key\": \"profile\", \"family\": \"pro\", \"status\": \"applied\"}], "
                   "\"cursor\": \"c\"}", sent, 1, "results[0].key: \"profile\", but the record pushed there");
        push_fails("{\"results\": [{\"key\": \"eq.active\", \"family\": \"pro\", \"status\": \"done\"}], "
                   "\"cursor\": \"c\"}", sent, 1, "results[0].status");
        push_fails("{\"results\": [{\"key\": \"eq.active\", \"family\": \"pro\", \"status\": \"stale\"}], "
                   "\"cursor\": \"c\"}", sent, 1, "results[0].current: missing");
        push_fails("{\"results\": [{\"key\": \"eq.active\", \"family\": \"pro\", \"status\": \"stale\", \"current\": "
                   "{\"key\":\"eq.active\",\"family\":\"pro\",\"stamp\":{\"ms\":1,\"c\":0,\"origin\":"
                   "\"0000000000000001\"},\"value\":{\"preset\":\"voice\"}}}], \"cursor\": \"c\"}", sent, 1,
                   "older than the pushed");
        push_fails("{\"results\": [{\"key\": \"eq.active\", \"family\": \"pro\", \"status\": \"stale\", \"current\": "
                   "{\"key\":\"eq.active\",\"family\":\"pro\",\"stamp\":" STAMP_JSON ",\"value\":{\"preset\":"
                   "\"loud\"}}}], \"cursor\": \"c\"}", sent, 1, "results[0].current.value.preset");
        push_fails("{\"results\": [{\"key\": \"eq.active\", \"family\": \"pro\", \"status\": \"applied\", "
                   "\"reason\": \"invalid_value\"}], \"cursor\": \"c\"}", sent, 1, "only a rejected result");
        push_fails("{\"results\": [{\"key\": \"eq.active\", \"family\": \"pro\", \"status\": \"rejected\"}], "
                   "\"cursor\": \"c\"}", sent, 1, "results[0].reason: missing");
        push_fails("{\"results\": [7], \"cursor\": \"c\"}", sent, 1, "results[0]: must be an object");
        push_fails("{\"results\": [{\"key\": \"eq.active\", \"family\": \"pro\", \"status\": \"applied\"}]}",
                   sent, 1, "cursor: missing");
}

static void test_devices_and_errors(void **state) {
        struct uplink_device *d = NULL;
        struct uplink_json_error err;
        struct value_err e = {};
        size_t n;
        cJSON *j;

        (void) state;
        j = parse_ok("{\"devices\": [{\"id\": \"0011223344556677\", \"kind\": \"buds\", \"family\": \"pro\", "
                     "\"battery\": 5, \"last_seen_ms\": 9}, {\"id\": \"0000000000000002\", \"kind\": \"host\", "
                     "\"last_seen_ms\": 1}]}");
        assert_int_equal(uplink_json_devices(j, &d, &n, &e), 0);
        assert_int_equal(n, 2);
        assert_int_equal(d[0].id, UINT64_C(0x0011223344556677));
        assert_int_equal(d[0].battery, 5);
        assert_int_equal(d[1].battery, -1);
        free(d);
        cJSON_Delete(j);
        j = parse_ok("{\"devices\": [{\"id\": \"0011223344556677\", \"kind\": \"phone\", \"last_seen_ms\": 9}]}");
        assert_int_equal(uplink_json_devices(j, &d, &n, &e), -EINVAL);
        assert_string_equal(e.msg, "devices[0].kind: \"phone\" is not buds or host");
        cJSON_Delete(j);
        j = parse_ok("{\"error\": {\"code\": \"schema_mismatch\", \"message\": \"no\", \"required_schema\": 2}}");
        uplink_json_error_read(j, &err);
        assert_string_equal(err.code, "schema_mismatch");
        assert_int_equal(err.required_schema, 2);
        cJSON_Delete(j);
        j = parse_ok("{\"error\": \"flat\"}");
        uplink_json_error_read(j, &err);
        assert_null(err.code);
        cJSON_Delete(j);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_keys),
                cmocka_unit_test(test_bodies),
                cmocka_unit_test(test_checks),
                cmocka_unit_test(test_parse_garbage),
                cmocka_unit_test(test_status),
                cmocka_unit_test(test_pull),
                cmocka_unit_test(test_pull_lies),
                cmocka_unit_test(test_push),
                cmocka_unit_test(test_devices_and_errors),
        };

        return cmocka_run_group_tests_name("uplink-json", tests, NULL, NULL);
}
