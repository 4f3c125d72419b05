/* SPDX-License-Identifier: MIT */
/* The sync API's error table as the bridge applies it: what one finished
 * attempt (a curl failure, or an HTTP status with its error body) means for
 * the call (the errno it ends with, whether it is retried or split) and for
 * the link (up, down, unchanged), with the message a person reads. No I/O;
 * knows neither calls nor the uplink. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <curl/curl.h>

#define UPLINK_MESSAGE_MAX 512
#define UPLINK_ANSWER_MAX (16u << 20)           /* bytes of one answer */
#define UPLINK_RETRY_AFTER_MAX (24 * 3600)      /* seconds; a longer Retry-After is cut to this */

enum uplink_next {
        UPLINK_NEXT_DONE,
        UPLINK_NEXT_RETRY,
        UPLINK_NEXT_SPLIT,
};

enum uplink_link {
        UPLINK_LINK_SAME,
        UPLINK_LINK_UP,
        UPLINK_LINK_DOWN,
};

struct uplink_outcome {
        int r;
        enum uplink_next next;
        enum uplink_link link;
        char message[UPLINK_MESSAGE_MAX];
};

void uplink_outcome_set(struct uplink_outcome *o, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* A transfer that failed below HTTP; errbuf is curl's CURLOPT_ERRORBUFFER
 * (may be empty), too_big that the answer passed UPLINK_ANSWER_MAX. */
void uplink_error_transport(struct uplink_outcome *o, const char *endpoint, CURLcode k, const char *errbuf,
                            bool too_big);
/* A status the endpoint does not define as success; body is the answer (may
 * be NULL); can_split: a push of more than one record; schema: ours. */
void uplink_error_http(struct uplink_outcome *o, const char *endpoint, long status, const char *body, size_t len,
                       bool can_split, unsigned schema);
/* A Retry-After value (delta-seconds or an HTTP date) in microseconds from
 * now, at most UPLINK_RETRY_AFTER_MAX seconds; -1 when it cannot be read. */
int64_t uplink_error_retry_after(const char *value, time_t now);
