/* SPDX-License-Identifier: MIT */
/* The shared codec vectors (docs/vectors/codec.json, also handed to the phone
 * app team) against both codecs: each valid record's bytes (codec/wire.c) and
 * JSON form (codec/recjson.c) decode to the same record and encode back to the
 * same bytes and JSON; each invalid case is rejected with the error class it
 * names. Run from the top of the tree. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "codec/recjson.h"
#include "codec/wire.h"
#include "tests/lib/vectors.h"

#define VECTORS_PATH "docs/vectors/codec.json"

static int setup(void **state) {
        *state = vectors_load(VECTORS_PATH);
        return 0;
}

static int teardown(void **state) {
        cJSON_Delete(*state);
        return 0;
}

static size_t unhex(const char *hex, uint8_t *buf, size_t size) {
        size_t n = strlen(hex) / 2;

        assert_int_equal(strlen(hex) % 2, 0);
        assert_true(n <= size);
        for (size_t i = 0; i < n; i++) {
                unsigned v;
                assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
                buf[i] = (uint8_t) v;
        }
        return n;
}

static void to_hex(const uint8_t *buf, size_t n, char *out) {
        for (size_t i = 0; i < n; i++)
                (void) sprintf(out + 2 * i, "%02x", buf[i]);
        out[2 * n] = '\0';
}

static bool record_equal(const struct record *a, const struct record *b) {
        return value_equal(&a->value, &b->value) && stamp_eq(a->stamp, b->stamp) &&
               a->flags == b->flags && a->revision == b->revision;
}

/* 0, or 1 after saying what is wrong with the case */
static int check_valid(const cJSON *c) {
        const char *name = vectors_string(c, "name"), *hex = vectors_string(c, "hex");
        const cJSON *json = cJSON_GetObjectItemCaseSensitive(c, "json");
        struct value_err e1 = { { 0 } }, e2 = { { 0 } };
        uint8_t buf[512], out[WIRE_RECORD_MAX];
        char outhex[2 * WIRE_RECORD_MAX + 1];
        struct record from_wire, from_json;
        char *want = cJSON_PrintUnformatted(json), *got = NULL;
        size_t n = unhex(hex, buf, sizeof(buf));
        int len, bad = 0;

        if (wire_record_decode(buf, n, &from_wire, &e1) < 0 || recjson_record_from(json, &from_json, &e2) < 0) {
                free(want);
                return vectors_complain("%s: rejected: wire \"%s\", json \"%s\"\n", name, e1.msg, e2.msg);
        }
        if (!record_equal(&from_wire, &from_json))
                bad |= vectors_complain("%s: the bytes and the JSON are different records\n", name);
        len = wire_record_encode(&from_json, out, sizeof(out));
        if (len > 0)
                to_hex(out, (size_t) len, outhex);
        if (len <= 0 || strcmp(outhex, hex) != 0)
                bad |= vectors_complain("%s: encodes to %s\n", name, len > 0 ? outhex : "(error)");
        got = recjson_record_print(&from_wire);
        if (!got || strcmp(got, want) != 0)
                bad |= vectors_complain("%s: prints as %s\n  want %s\n", name, got ? got : "(NULL)", want);
        if (got && recjson_record_parse(want, strlen(want), &from_json, &e2) < 0)
                bad |= vectors_complain("%s: the JSON text is rejected: %s\n", name, e2.msg);
        free(got);
        free(want);
        return bad;
}

static void test_valid(void **state) {
        const cJSON *c;
        int failed = 0;

        cJSON_ArrayForEach(c, vectors_cases(*state, "valid", 30))
                failed += check_valid(c);
        assert_int_equal(failed, 0);
}

static int check_invalid_binary(const cJSON *c) {
        const char *name = vectors_string(c, "name"), *error = vectors_string(c, "error");
        struct value_err e = { { 0 } };
        uint8_t buf[512];
        size_t n = unhex(vectors_string(c, "hex"), buf, sizeof(buf));
        int want = strcmp(error, "length") == 0 ? -EMSGSIZE : -EINVAL, r;
        struct record rec;

        assert_true(strcmp(error, "length") == 0 || strcmp(error, "value") == 0);
        r = wire_record_decode(buf, n, &rec, &e);
        if (r != want || !e.msg[0])
                return vectors_complain("%s: returned %d (%s), want %d\n", name, r, e.msg, want);
        return 0;
}

static void test_invalid_binary(void **state) {
        const cJSON *c;
        int failed = 0;

        cJSON_ArrayForEach(c, vectors_cases(*state, "invalid_binary", 40))
                failed += check_invalid_binary(c);
        assert_int_equal(failed, 0);
}

/* Both ways in: the object as it is, and as text through the strict parser. */
static int check_invalid_json(const cJSON *c) {
        const char *name = vectors_string(c, "name");
        const cJSON *json = cJSON_GetObjectItemCaseSensitive(c, "json");
        struct value_err e1 = { { 0 } }, e2 = { { 0 } };
        char *text = json ? cJSON_PrintUnformatted(json) : NULL;
        const char *t = text ? text : vectors_string(c, "json_text");
        struct record rec;
        int r1 = json ? recjson_record_from(json, &rec, &e1) : -EINVAL;
        int r2 = recjson_record_parse(t, strlen(t), &rec, &e2);
        int bad = 0;

        assert_string_equal(vectors_string(c, "error"), json ? "value" : "json");
        if (r1 != -EINVAL || r2 != -EINVAL || !e2.msg[0] || (json && strcmp(e1.msg, e2.msg) != 0))
                bad = vectors_complain("%s: returned %d (%s) and %d (%s)\n", name, r1, e1.msg, r2, e2.msg);
        free(text);
        return bad;
}

static void test_invalid_json(void **state) {
        const cJSON *c;
        int failed = 0;

        cJSON_ArrayForEach(c, vectors_cases(*state, "invalid_json", 40))
                failed += check_invalid_json(c);
        assert_int_equal(failed, 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_valid),
                cmocka_unit_test(test_invalid_binary),
                cmocka_unit_test(test_invalid_json),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
