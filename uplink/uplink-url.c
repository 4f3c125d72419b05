/* SPDX-License-Identifier: MIT */
/* The sync server's URL, checked once for everyone (see uplink-url.h). Must
 * never accept a URL that would send the token anywhere but over TLS to the
 * host written in it. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "common/cleanup.h"
#include "uplink-url.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(CURLU *, curl_url_cleanup)

static void curl_freep(char **p) {
        curl_free(*p);
}

static bool url_has(CURLU *u, CURLUPart part) {
        _cleanup_(curl_freep) char *s = NULL;

        return curl_url_get(u, part, &s, 0) == CURLUE_OK;
}

static enum uplink_url_problem url_parts_check(CURLU *u) {
        _cleanup_(curl_freep) char *scheme = NULL, *host = NULL, *port = NULL;

        if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK || strcmp(scheme, "https") != 0)
                return UPLINK_URL_NOT_HTTPS;
        if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !*host)
                return UPLINK_URL_NO_HOST;
        if (curl_url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_OK && strcmp(port, "0") == 0)
                return UPLINK_URL_PORT_ZERO;
        if (url_has(u, CURLUPART_USER))
                return UPLINK_URL_USER;
        if (url_has(u, CURLUPART_PASSWORD))
                return UPLINK_URL_PASSWORD;
        if (url_has(u, CURLUPART_QUERY))
                return UPLINK_URL_QUERY;
        if (url_has(u, CURLUPART_FRAGMENT))
                return UPLINK_URL_FRAGMENT;
        return UPLINK_URL_OK;
}

/* Parses url into u; UPLINK_URL_OK when libcurl reads it as an https URL. */
static enum uplink_url_problem url_parse(CURLU *u, const char *url, const char **ret_detail) {
        CURLUcode rc;

        if (!url || !*url)
                return UPLINK_URL_EMPTY;
        if (strncasecmp(url, "https://", 8) != 0)
                return UPLINK_URL_NOT_HTTPS;
        /* libcurl would read "https:///x" as host x: not what anyone meant. */
        if (url[8] == '/')
                return UPLINK_URL_NO_HOST;
        rc = curl_url_set(u, CURLUPART_URL, url, 0);
        if (rc == CURLUE_NO_HOST)
                return UPLINK_URL_NO_HOST;
        if (rc == CURLUE_OUT_OF_MEMORY)
                return UPLINK_URL_NO_MEMORY;
        if (rc != CURLUE_OK) {
                if (ret_detail)
                        *ret_detail = curl_url_strerror(rc);
                return UPLINK_URL_UNUSABLE;
        }
        return url_parts_check(u);
}

enum uplink_url_problem uplink_url_check(const char *url, const char **ret_detail) {
        _cleanup_(curl_url_cleanupp) CURLU *u = curl_url();

        if (!u)
                return UPLINK_URL_NO_MEMORY;
        return url_parse(u, url, ret_detail);
}

int uplink_url_base(const char *url, char **ret) {
        _cleanup_(curl_url_cleanupp) CURLU *u = curl_url();
        _cleanup_(curl_freep) char *full = NULL;
        enum uplink_url_problem p;
        char *base;
        size_t n;

        if (!u)
                return -ENOMEM;
        p = url_parse(u, url, NULL);
        if (p != UPLINK_URL_OK)
                return p == UPLINK_URL_NO_MEMORY ? -ENOMEM : -EINVAL;
        if (curl_url_get(u, CURLUPART_URL, &full, 0) != CURLUE_OK)
                return -ENOMEM;
        n = strlen(full);
        while (n > 0 && full[n - 1] == '/')
                n--;
        base = strndup(full, n);
        if (!base)
                return -ENOMEM;
        *ret = base;
        return 0;
}
