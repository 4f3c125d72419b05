/* SPDX-License-Identifier: MIT */
/* The sync API's error table as the uplink applies it: each status and
 * transport failure to its errno, retry/split/done, link state and message. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "uplink/uplink-error.h"

#define EP "POST /v1/sync/push"

static void http(long status, const char *body, bool can_split, int r, enum uplink_next next,
                 enum uplink_link link, const char *msg) {
        struct uplink_outcome o;

        uplink_error_http(&o, EP, status, body, body ? strlen(body) : 0, can_split, 1);
        assert_int_equal(o.r, r);
        assert_int_equal(o.next, next);
        assert_int_equal(o.link, link);
        if (!strstr(o.message, msg))
                fail_msg("%ld: \"%s\" lacks \"%s\"", status, o.message, msg);
}

static void test_table(void **state) {
        (void) state;
        http(400, "{\"error\":{\"code\":\"bad_request\",\"message\":\"limit: must be 1..1000\"}}", true, -EBADMSG,
             UPLINK_NEXT_DONE, UPLINK_LINK_SAME, EP ": 400 bad_request: limit: must be 1..1000");
        http(400, "{\"error\":{\"code\":\"schema_mismatch\",\"message\":\"no\",\"required_schema\":2}}", true,
             -EPROTONOSUPPORT, UPLINK_NEXT_DONE, UPLINK_LINK_DOWN, "requires schema 2, this bridge speaks 1");
        http(401, "{\"error\":{\"code\":\"unauthorized\",\"message\":\"bad token\"}}", true, -EACCES,
             UPLINK_NEXT_DONE, UPLINK_LINK_DOWN, "401 unauthorized");
        http(409, NULL, true, -EBUSY, UPLINK_NEXT_RETRY, UPLINK_LINK_UP, "409, without the API's error body");
        http(413, NULL, true, -E2BIG, UPLINK_NEXT_SPLIT, UPLINK_LINK_UP, "413");
        http(413, NULL, false, -E2BIG, UPLINK_NEXT_DONE, UPLINK_LINK_UP, "413");
        http(422, NULL, true, -EEXIST, UPLINK_NEXT_DONE, UPLINK_LINK_UP, "422");
        http(429, NULL, true, -EAGAIN, UPLINK_NEXT_RETRY, UPLINK_LINK_UP, "429");
        http(500, "<html>", true, -EIO, UPLINK_NEXT_RETRY, UPLINK_LINK_DOWN, "500, without");
        http(503, NULL, true, -EIO, UPLINK_NEXT_RETRY, UPLINK_LINK_DOWN, "503");
        http(404, NULL, true, -EREMOTEIO, UPLINK_NEXT_DONE, UPLINK_LINK_DOWN, "404");
        http(301, NULL, true, -EREMOTEIO, UPLINK_NEXT_DONE, UPLINK_LINK_DOWN, "301");
        /* a server's words are quoted as printable ASCII */
        http(500, "{\"error\":{\"code\":\"internal\",\"message\":\"a\\nb\\u0007c\"}}", true, -EIO,
             UPLINK_NEXT_RETRY, UPLINK_LINK_DOWN, "internal: a?b?c");
}

static void transport(CURLcode k, const char *errbuf, bool too_big, int r, enum uplink_next next, const char *msg) {
        struct uplink_outcome o;

        uplink_error_transport(&o, EP, k, errbuf, too_big);
        assert_int_equal(o.r, r);
        assert_int_equal(o.next, next);
        assert_int_equal(o.link, UPLINK_LINK_DOWN);
        if (!strstr(o.message, msg))
                fail_msg("%d: \"%s\" lacks \"%s\"", k, o.message, msg);
}

static void test_transport(void **state) {
        (void) state;
        /* TLS failures are retried like any transport failure, never loosened */
        transport(CURLE_PEER_FAILED_VERIFICATION, "SSL certificate problem: unable to get local issuer certificate",
                  false, -EKEYREJECTED, UPLINK_NEXT_RETRY, EP ": TLS verification failed: SSL certificate problem");
        transport(CURLE_SSL_PINNEDPUBKEYNOTMATCH, "", false, -EKEYREJECTED, UPLINK_NEXT_RETRY,
                  "TLS verification failed");
        transport(CURLE_COULDNT_CONNECT, "Failed to connect", false, -ECONNREFUSED, UPLINK_NEXT_RETRY,
                  EP ": Failed to connect");
        transport(CURLE_OPERATION_TIMEDOUT, "", false, -ETIMEDOUT, UPLINK_NEXT_RETRY, EP ": ");
        transport(CURLE_GOT_NOTHING, "Empty reply from server", false, -ECONNRESET, UPLINK_NEXT_RETRY, "Empty reply");
        transport(CURLE_PARTIAL_FILE, "transfer closed", false, -EPROTO, UPLINK_NEXT_RETRY, "truncated");
        transport(CURLE_WRITE_ERROR, "", true, -EPROTO, UPLINK_NEXT_RETRY, "larger than");
        transport(CURLE_UNSUPPORTED_PROTOCOL, "", false, -EINVAL, UPLINK_NEXT_DONE, EP);
}

static void test_retry_after(void **state) {
        (void) state;
        assert_int_equal(uplink_error_retry_after("3", 0), 3000000);
        assert_int_equal(uplink_error_retry_after("0", 0), 0);
        assert_int_equal(uplink_error_retry_after("999999999999999999999", 0),
                         (int64_t) UPLINK_RETRY_AFTER_MAX * 1000000);
        assert_int_equal(uplink_error_retry_after("3s", 0), -1);
        assert_int_equal(uplink_error_retry_after("", 0), -1);
        assert_int_equal(uplink_error_retry_after(NULL, 0), -1);
        /* Sun, 06 Nov 1994 08:49:37 GMT is 784111777 */
        assert_int_equal(uplink_error_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784111770), 7000000);
        assert_int_equal(uplink_error_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784111800), 0);
        assert_int_equal(uplink_error_retry_after("tomorrow-ish", 0), -1);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_table),
                cmocka_unit_test(test_transport),
                cmocka_unit_test(test_retry_after),
        };

        return cmocka_run_group_tests_name("uplink-error", tests, NULL, NULL);
}
