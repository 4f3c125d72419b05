/* SPDX-License-Identifier: MIT */
/* Starting and stopping syncd for the uplink tests, and its fault hooks, on
 * tests/lib/harness.c. Blocking is fine here: the uplink under test runs
 * on its own loop only while none of these run. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "syncd-harness.h"

static struct harness_syncd certs = { .pid = -1, .pidfd = -1 };
static unsigned db_counter;

const char *syncd_certs(void) {
        if (certs.dir[0])
                return certs.dir;
        if (harness_dir(&certs) < 0) {
                harness_cleanup(&certs);
                certs.dir[0] = '\0';
                return NULL;
        }
        return certs.dir;
}

const char *syncd_cert_path(const char *name) {
        static char buf[192];

        (void) snprintf(buf, sizeof(buf), "%s/%s", syncd_certs(), name);
        return buf;
}

void syncd_certs_cleanup(void) {
        harness_cleanup(&certs);
        certs.dir[0] = '\0';
}

int syncd_start(struct syncd *s, const char *cert) {
        int r;

        if (!syncd_certs())
                return -EIO;
        *s = (struct syncd) { .h = certs };
        s->h.cert = cert;
        s->h.quiet = !getenv("UPLINK_TEST_VERBOSE");
        (void) snprintf(s->h.db, sizeof(s->h.db), "%s/db-%u-%s", certs.dir, db_counter++, cert);
        /* the client's suites and bench-uplink push far more than a bridge does
         * (1000 pushes in a few seconds); the server's limit has its own tests */
        r = harness_start(&s->h, true, (const char *const[]) { "--max-pushes-per-minute", "0", NULL });
        if (r < 0) {
                (void) syncd_stop(s);
                return r;
        }
        s->port = s->h.port;
        (void) snprintf(s->url, sizeof(s->url), "%s", s->h.base);
        return 0;
}

int syncd_stop(struct syncd *s) {
        if (s->h.pid <= 0)
                return 0;
        return harness_stop(&s->h) == 0 ? 0 : -EIO;
}

int syncd_faults(const struct syncd *s, const char *rules) {
        struct harness_resp resp = { 0 };
        int r;

        r = harness_request(&s->h, rules ? "POST" : "DELETE", "/test/faults", NULL, rules, NULL, &resp);
        if (r >= 0 && resp.status != 200)
                r = -EIO;
        harness_resp_clear(&resp);
        return r < 0 ? -EIO : 0;
}
