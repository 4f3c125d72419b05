/* SPDX-License-Identifier: MIT */
/* The uplink tests' handle on the reference server, over tests/server's
 * harness: certificates made once per process by tests/lib/mkcerts.sh in a
 * temporary directory, syncd started on 127.0.0.1 port 0 with a chosen
 * certificate, a fresh database and the test fault hooks on, fault rules
 * set over HTTPS, and SIGTERM at the end. Never sleeps to wait. */
#pragma once

#include "tests/lib/harness.h"

#define SYNCD_TOKEN_A HARNESS_TOKEN_A
#define SYNCD_TOKEN_B HARNESS_TOKEN_B

struct syncd {
        struct harness_syncd h;
        int port;
        char url[64];                   /* "https://127.0.0.1:PORT" */
};

/* The directory with ca.pem, server.pin, ...; made on first use. NULL on error. */
const char *syncd_certs(void);
/* A path in that directory, in a static buffer overwritten by the next call. */
const char *syncd_cert_path(const char *name);
/* cert: "server", "wrong-host" or "other-server". A fresh database each time. */
int syncd_start(struct syncd *s, const char *cert);
int syncd_stop(struct syncd *s);
/* POST /test/faults with a JSON array of rules; DELETE when rules is NULL. */
int syncd_faults(const struct syncd *s, const char *rules);
/* Removes the certificate directory; call once at the end. */
void syncd_certs_cleanup(void);
