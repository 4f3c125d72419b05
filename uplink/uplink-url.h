/* SPDX-License-Identifier: MIT */
/* The one check of the sync server's URL, for the uplink (before it connects)
 * and for the configuration file (before the daemon starts): an https URL
 * libcurl reads as we mean it, https://host[:port][/prefix], nothing else.
 * Pure apart from libcurl's URL parser; it writes no message: each caller
 * words its own. */
#pragma once

enum uplink_url_problem {
        UPLINK_URL_OK,
        UPLINK_URL_NO_MEMORY,
        UPLINK_URL_EMPTY,
        UPLINK_URL_NOT_HTTPS,           /* the token must never travel in clear */
        UPLINK_URL_NO_HOST,
        UPLINK_URL_UNUSABLE,            /* libcurl's parser refuses it; *ret_detail says why */
        UPLINK_URL_PORT_ZERO,
        UPLINK_URL_USER,
        UPLINK_URL_PASSWORD,
        UPLINK_URL_QUERY,
        UPLINK_URL_FRAGMENT,
};

/* What is wrong with url (NULL counts as empty). With UPLINK_URL_UNUSABLE,
 * *ret_detail is libcurl's static explanation; ret_detail may be NULL. */
enum uplink_url_problem uplink_url_check(const char *url, const char **ret_detail);

/* The base the uplink puts paths after: url as libcurl writes it back,
 * without trailing '/'. -EINVAL when uplink_url_check() finds a problem. */
int uplink_url_base(const char *url, char **ret);
