/* SPDX-License-Identifier: MIT */
/* One TLS library: bridged and syncd, running and after a sync over TLS,
 * have GnuTLS mapped and never OpenSSL's libssl, and bridged's libcurl is
 * the GnuTLS flavour (libcurl-gnutls.so). Read from /proc/PID/maps of the
 * real processes. Debian's libcurl3-gnutls also links libssh2 (for scp://
 * and sftp://, which bridged never asks for), and libssh2 links OpenSSL's
 * libcrypto: that one file is allowed in bridged only beside libssh2, and
 * never in syncd. And bridged runs with glibc's tcache off (its heap stays
 * smaller; see bridged.c). Same harness as test-scenarios.c. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "e2e.h"
#include "tests/lib/procinfo.h"
#include "tests/lib/values.h"

#define A "AA:BB:CC:DD:EE:01"

static struct e2e E;

static int setup(void **state) {
        int r = e2e_start(&E, false);

        (void) state;
        if (r == -ENOENT)
                skip();
        assert_int_equal(r, 0);
        assert_int_equal(e2e_sim_add_buds(&E, A, "Libraries", FAMILY_PRO, 0x51), 0);
        return 0;
}

static int teardown(void **state) {
        (void) state;
        e2e_stop(&E);
        return 0;
}

static bool cond_on_server(struct e2e *e, void *userdata) {
        const struct value *v = userdata;
        struct record r;

        return e2e_server_record(e, v->key, FAMILY_ANY, &r) == 0 && value_equal(&r.value, v);
}

static bool mapped(pid_t pid, const char *prefix, char *path, size_t size) {
        int r = procinfo_mapped(pid, prefix, path, size);

        assert_true(r >= 0);
        return r > 0;
}

static void test_one_tls_library(void **state) {
        struct value v = test_profile("one TLS library");
        char path[256] = "";

        (void) state;
        /* a change that reaches the server: bridged's TLS has run */
        assert_int_equal(e2e_sim_touch(&E, A, &v), 0);
        assert_true(e2e_wait(&E, cond_on_server, &v, E2E_DEADLINE_USEC));

        if (mapped(E.bridged, "libssl.so", path, sizeof(path)))
                fail_msg("bridged maps OpenSSL: %s", path);
        if (mapped(E.bridged, "libcurl.so", path, sizeof(path)))
                fail_msg("bridged maps libcurl's OpenSSL flavour: %s", path);
        assert_true(mapped(E.bridged, "libcurl-gnutls.so", path, sizeof(path)));
        assert_true(mapped(E.bridged, "libgnutls.so", path, sizeof(path)));
        if (mapped(E.bridged, "libcrypto.so", path, sizeof(path))) {
                assert_true(mapped(E.bridged, "libssh2.so", NULL, 0));
                printf("bridged maps %s only as libssh2's (Debian's libcurl3-gnutls links libssh2)\n", path);
        }

        assert_true(mapped(E.server.pid, "libgnutls.so", path, sizeof(path)));
        if (mapped(E.server.pid, "libssl.so", path, sizeof(path)))
                fail_msg("syncd maps OpenSSL: %s", path);
        if (mapped(E.server.pid, "libcrypto.so", path, sizeof(path)))
                fail_msg("syncd maps OpenSSL's libcrypto: %s", path);
}

/* Whether /proc/PID/environ holds the entry (NUL-separated entries). */
static bool environ_has(pid_t pid, const char *entry) {
        char path[64], buf[16384];
        size_t n, len = strlen(entry);
        FILE *f;

        (void) snprintf(path, sizeof(path), "/proc/%d/environ", (int) pid);
        f = fopen(path, "re");
        assert_non_null(f);
        n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        for (size_t i = 0; i < n; i += strlen(buf + i) + 1)
                if (strncmp(buf + i, entry, len) == 0 && buf[i + len] == '\0')
                        return true;
        return false;
}

/* bridged runs with glibc's tcache off: started without GLIBC_TUNABLES (as
 * here), it executed itself again with the setting (bridged.c). */
static void test_tcache_off(void **state) {
        (void) state;
#ifdef __SANITIZE_ADDRESS__
        skip();                 /* bridged built as this test is: ASan's allocator, no tcache */
#endif
        if (getenv("GLIBC_TUNABLES"))
                skip();         /* then bridged keeps what it was given */
        assert_true(environ_has(E.bridged, "GLIBC_TUNABLES=glibc.malloc.tcache_count=0"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_one_tls_library, setup, teardown),
                cmocka_unit_test_setup_teardown(test_tcache_off, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
