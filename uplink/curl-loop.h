/* SPDX-License-Identifier: MIT */
/* libcurl's multi interface driven by one sd-event loop: every socket curl
 * wants watched becomes an sd-event I/O source, curl's single timer one time
 * source, and each finished transfer is handed to the owner's done callback.
 * Knows nothing of HTTP requests or of what a transfer is for; never blocks
 * and never runs a transfer on a thread. */
#pragma once

#include <curl/curl.h>
#include <systemd/sd-event.h>

struct curl_loop;

/* A transfer finished (result: its CURLcode). The easy handle is already out
 * of the multi handle; the callee owns it again. The callee may add and
 * remove transfers and may call curl_loop_free(). */
typedef void (*curl_loop_done_fn)(struct curl_loop *l, CURL *easy, CURLcode result, void *userdata);

int curl_loop_new(sd_event *event, curl_loop_done_fn done, void *userdata, struct curl_loop **ret);
/* Removes nothing by itself: the owner removes its transfers first. Safe to
 * call from the done callback (the release then waits until it returns). */
struct curl_loop *curl_loop_free(struct curl_loop *l);

/* Starts a transfer: its request leaves in this call when a connection is
 * there to reuse (and curl is not on the stack); its done callback never
 * runs from inside it. 0 or a negative errno. */
int curl_loop_add(struct curl_loop *l, CURL *easy);
/* Stops a running transfer; its done callback is not called. */
void curl_loop_remove(struct curl_loop *l, CURL *easy);
