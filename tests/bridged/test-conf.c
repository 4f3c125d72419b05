/* SPDX-License-Identifier: MIT */
/* Tests of bridged's configuration file and token (conf.c) and command line
 * (options.c): every key, each kind of bad value, the exact "FILE:LINE: what"
 * messages, and the token's sources. Each test works in its own temporary
 * directory and leaves the environment as it found it. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <cmocka.h>

#include "bridged/conf.h"
#include "bridged/options.h"

#define URL_LINE "[Server]\nUrl=https://sync.example.com\n"
#define PIN_A "sha256//YhKJKSzoTt2b5FP18fvpHo7fJYqQCjAa3HWY3tvRMwE="
#define PIN_B "sha256//sRHdihwgkaib1P1gxX8HFszlD+7/gTfNvuAybgLPNis="

/* A self-signed certificate (EC P-256), only ever parsed. */
#define TEST_CA_PEM \
        "-----BEGIN CERTIFICATE-----\n" \
        "MIIBlTCCATugAwIBAgIUTC6/N+ux976HuDZKUiNDB9KvMjMwCgYIKoZIzj0EAwIw\n" \
        "HzEdMBsGA1UEAwwUYnJpZGdlZCB0ZXN0LWNvbmYgQ0EwIBcNMjYxMjAyMTAzMjI3\n" \
        "WhgPMjEyNjExMDgxMDMyMjdaMB8xHTAbBgNVBAMMFGJyaWRnZWQgdGVzdC1jb25m\n" \
        "IENBMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAELPqcU+0kRI+eZ0jfqNyKD7Bq\n" \
        "+WND1re5pkxyNvRS8DCqR7Er6L8Cm3eMqWsztadCGkEFDZjyenNtOInmP47FPqNT\n" \
        "MFEwHQYDVR0OBBYEFOhVL868WcXy7F6780364NRCmB0kMB8GA1UdIwQYMBaAFOhV\n" \
        "L868WcXy7F6780364NRCmB0kMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwID\n" \
        "SAAwRQIhAOr1jsn/h0Gf4DzyShnkxzcoZpBTiFMLr7MO3N6NEUEfAiA4McmC69Sh\n" \
        "9IrJ4sGVTVAihhc6qpug0OHNno0lBHJx2A==\n" \
        "-----END CERTIFICATE-----\n"

struct fixture {
        char dir[200];
        char conf_path[256];
};

static struct fixture *fx;

static int setup(void **state) {
        static struct fixture f;

        (void) state;
        snprintf(f.dir, sizeof(f.dir), "%s/test-conf.XXXXXX", getenv("TMPDIR") ?: "/tmp");
        if (!mkdtemp(f.dir))
                return -1;
        snprintf(f.conf_path, sizeof(f.conf_path), "%s/bridged.conf", f.dir);
        fx = &f;
        (void) unsetenv("CREDENTIALS_DIRECTORY");
        (void) unsetenv("BRIDGED_RELOAD_DIRECTORY");
        (void) unsetenv("STATE_DIRECTORY");
        return 0;
}

static int teardown(void **state) {
        char cmd[PATH_MAX + 32];

        (void) state;
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
        (void) unsetenv("CREDENTIALS_DIRECTORY");
        (void) unsetenv("BRIDGED_RELOAD_DIRECTORY");
        (void) unsetenv("STATE_DIRECTORY");
        return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *path, const char *data, size_t n) {
        FILE *f = fopen(path, "we");

        assert_non_null(f);
        assert_int_equal(fwrite(data, 1, n, f), n);
        assert_int_equal(fclose(f), 0);
}

static const char *in_dir(const char *name) {
        static char path[512];

        snprintf(path, sizeof(path), "%s/%s", fx->dir, name);
        return path;
}

/* Loads TEXT as the configuration file; the struct or the message. */
static int load(const char *text, struct conf **ret, char **ret_error) {
        write_file(fx->conf_path, text, strlen(text));
        return conf_load(fx->conf_path, ret, ret_error);
}

static struct conf *load_ok(const char *text) {
        struct conf *c = NULL;
        char *error = NULL;
        int r = load(text, &c, &error);

        if (r < 0)
                print_error("unexpected error: %s\n", error ? error : "(none)");
        assert_int_equal(r, 0);
        assert_null(error);
        assert_non_null(c);
        return c;
}

/* TEXT must fail with "PATH:LINE: WHAT" (no ":LINE" when line is 0). */
static void load_fails(const char *text, unsigned line, const char *what) {
        struct conf *c = (struct conf *) 0x1;
        char *error = NULL, expected[1024];
        int r = load(text, &c, &error);

        if (line > 0)
                snprintf(expected, sizeof(expected), "%s:%u: %s", fx->conf_path, line, what);
        else
                snprintf(expected, sizeof(expected), "%s: %s", fx->conf_path, what);
        assert_int_equal(r, -EINVAL);
        assert_ptr_equal(c, (struct conf *) 0x1);     /* untouched on failure */
        assert_non_null(error);
        assert_string_equal(error, expected);
        free(error);
}

/* "[Section]\nKEY=VALUE\n" after the Url, so the bad line is line 4. */
static void value_fails(const char *section, const char *key, const char *value, const char *what) {
        char text[1024];

        snprintf(text, sizeof(text), URL_LINE "[%s]\n%s=%s\n", section, key, value);
        load_fails(text, 4, what);
}

static struct conf *value_ok(const char *section, const char *key, const char *value) {
        char text[1024];

        snprintf(text, sizeof(text), URL_LINE "[%s]\n%s=%s\n", section, key, value);
        return load_ok(text);
}

/* ---- configuration: good files ---- */

static void test_defaults(void **state) {
        struct conf *c = NULL;

        (void) state;
        assert_int_equal(conf_new_default(&c), 0);
        assert_null(c->url);
        assert_null(c->token_file);
        assert_null(c->ca_file);
        assert_null(c->pinned_public_key);
        assert_true(c->long_poll);
        assert_int_equal(c->pull_interval_sec, 30);
        assert_null(c->buds_address);
        assert_null(c->adapter);
        assert_int_equal(c->push_debounce_ms, 2000);
        assert_int_equal(c->max_clock_skew_sec, 300);
        assert_int_equal(c->conflict_log_limit, 100);
        assert_null(conf_free(c));
        assert_null(conf_free(NULL));
}

static void test_minimal(void **state) {
        struct conf *c = load_ok(URL_LINE);

        (void) state;
        assert_string_equal(c->url, "https://sync.example.com");
        assert_true(c->long_poll);
        assert_int_equal(c->pull_interval_sec, 30);
        assert_int_equal(c->push_debounce_ms, 2000);
        assert_int_equal(c->max_clock_skew_sec, 300);
        assert_int_equal(c->conflict_log_limit, 100);
        assert_null(c->token_file);
        conf_free(c);
}

/* bridged.conf(5)'s example, byte for byte, comments after values included. */
static void test_spec_example(void **state) {
        struct conf *c = load_ok(
                "[Server]\n"
                "Url=https://sync.example.com     # https only\n"
                "TokenFile=/etc/bridged/token     # else the systemd credential \"token\"\n"
                "CAFile=                          # empty: the system's trust store\n"
                "PinnedPublicKey=                 # optional, as libcurl takes it (sha256//...)\n"
                "LongPoll=yes\n"
                "PullIntervalSec=30\n"
                "\n"
                "[Buds]\n"
                "Address=                         # empty: every paired device that exposes the Buds Sync service\n"
                "Adapter=                         # empty: every adapter\n"
                "\n"
                "[Sync]\n"
                "PushDebounceMs=2000\n"
                "MaxClockSkewSec=300\n"
                "ConflictLogLimit=100\n");

        (void) state;
        assert_string_equal(c->url, "https://sync.example.com");
        assert_string_equal(c->token_file, "/etc/bridged/token");
        assert_null(c->ca_file);
        assert_null(c->pinned_public_key);
        assert_true(c->long_poll);
        assert_int_equal(c->pull_interval_sec, 30);
        assert_null(c->buds_address);
        assert_null(c->adapter);
        assert_int_equal(c->push_debounce_ms, 2000);
        assert_int_equal(c->max_clock_skew_sec, 300);
        assert_int_equal(c->conflict_log_limit, 100);
        conf_free(c);
}

static void test_every_key(void **state) {
        char text[2048];
        struct conf *c;

        (void) state;
        write_file(in_dir("ca.pem"), TEST_CA_PEM, strlen(TEST_CA_PEM));
        snprintf(text, sizeof(text),
                 "[Server]\n"
                 "Url = https://sync.example.com:8443/bridge\n"
                 "TokenFile=/run/token\n"
                 "CAFile=%s\n"
                 "PinnedPublicKey=" PIN_A ";" PIN_B "\n"
                 "LongPoll=no\n"
                 "PullIntervalSec=86400\n"
                 "[Buds]\n"
                 "Address=a0:b1:c2:d3:e4:f5\n"
                 "Adapter=hci1\n"
                 "[Sync]\n"
                 "PushDebounceMs=0\n"
                 "MaxClockSkewSec=1\n"
                 "ConflictLogLimit=10000\n", in_dir("ca.pem"));
        c = load_ok(text);
        assert_string_equal(c->url, "https://sync.example.com:8443/bridge");
        assert_string_equal(c->token_file, "/run/token");
        assert_string_equal(c->ca_file, in_dir("ca.pem"));
        assert_string_equal(c->pinned_public_key, PIN_A ";" PIN_B);
        assert_false(c->long_poll);
        assert_int_equal(c->pull_interval_sec, 86400);
        assert_string_equal(c->buds_address, "A0:B1:C2:D3:E4:F5");
        assert_string_equal(c->adapter, "hci1");
        assert_int_equal(c->push_debounce_ms, 0);
        assert_int_equal(c->max_clock_skew_sec, 1);
        assert_int_equal(c->conflict_log_limit, 10000);
        conf_free(c);
}

static void test_booleans(void **state) {
        static const struct {
                const char *text;
                bool value;
        } good[] = { { "yes", true }, { "true", true }, { "1", true }, { "no", false }, { "false", false }, { "0", false } };
        static const char *const bad[] = { "Yes", "TRUE", "on", "off", "y", "2", "yes please", "-1" };
        char what[256];

        (void) state;
        for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
                struct conf *c = value_ok("Server", "LongPoll", good[i].text);

                assert_int_equal(c->long_poll, good[i].value);
                conf_free(c);
        }
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                snprintf(what, sizeof(what), "LongPoll=%s is not a boolean (yes|no|true|false|1|0)", bad[i]);
                value_fails("Server", "LongPoll", bad[i], what);
        }
        value_fails("Server", "LongPoll", "", "LongPoll= is not a boolean (yes|no|true|false|1|0)");
}

static const struct {
        const char *section, *key;
        unsigned min, max;
        size_t offset;
} numbers[] = {
        { "Server", "PullIntervalSec", 5, 86400, offsetof(struct conf, pull_interval_sec) },
        { "Sync", "PushDebounceMs", 0, 60000, offsetof(struct conf, push_debounce_ms) },
        { "Sync", "MaxClockSkewSec", 1, 86400, offsetof(struct conf, max_clock_skew_sec) },
        { "Sync", "ConflictLogLimit", 1, 10000, offsetof(struct conf, conflict_log_limit) },
};

static void test_number_ranges(void **state) {
        char value[32], what[256];

        (void) state;
        for (size_t i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++) {
                unsigned edges[] = { numbers[i].min, numbers[i].max };

                for (size_t e = 0; e < 2; e++) {
                        struct conf *c;

                        snprintf(value, sizeof(value), "%u", edges[e]);
                        c = value_ok(numbers[i].section, numbers[i].key, value);
                        assert_int_equal(*(unsigned *) ((char *) c + numbers[i].offset), edges[e]);
                        conf_free(c);
                }
                snprintf(value, sizeof(value), "%u", numbers[i].max + 1);
                snprintf(what, sizeof(what), "%s=%s is outside %u..%u", numbers[i].key, value,
                         numbers[i].min, numbers[i].max);
                value_fails(numbers[i].section, numbers[i].key, value, what);
                if (numbers[i].min > 0) {
                        snprintf(value, sizeof(value), "%u", numbers[i].min - 1);
                        snprintf(what, sizeof(what), "%s=%s is outside %u..%u", numbers[i].key, value,
                                 numbers[i].min, numbers[i].max);
                        value_fails(numbers[i].section, numbers[i].key, value, what);
                }
        }
}

/* The message of bridged.conf(5)'s own example of an error. */
static void test_number_message(void **state) {
        (void) state;
        load_fails(URL_LINE "\n; debounce\n\n[Sync]\nPushDebounceMs=70000\n", 7,
                   "PushDebounceMs=70000 is outside 0..60000");
}

static void test_number_syntax(void **state) {
        static const char *const not_numbers[] = {
                "+30", "-30", "-0", "30s", "0x10", "1e3", "3.0", "30,", "٣٠", "30 30", "abc",
        };
        char what[256];

        (void) state;
        for (size_t i = 0; i < sizeof(not_numbers) / sizeof(not_numbers[0]); i++) {
                snprintf(what, sizeof(what), "PullIntervalSec=%s is not a number (5..86400, decimal digits only)",
                         not_numbers[i]);
                value_fails("Server", "PullIntervalSec", not_numbers[i], what);
        }
        value_fails("Server", "PullIntervalSec", "", "PullIntervalSec= is empty; it takes a number 5..86400");
        /* Overflow of any width is out of range, not a wrap to a small number. */
        value_fails("Server", "PullIntervalSec", "18446744073709551646",
                    "PullIntervalSec=18446744073709551646 is outside 5..86400");
        value_fails("Server", "PullIntervalSec", "4294967326", "PullIntervalSec=4294967326 is outside 5..86400");
}

static void test_number_leading_zeros_and_blanks(void **state) {
        struct conf *c;

        (void) state;
        c = value_ok("Server", "PullIntervalSec", "0030");
        assert_int_equal(c->pull_interval_sec, 30);
        conf_free(c);
        c = load_ok(URL_LINE "PullIntervalSec =\t 45 \t\n");
        assert_int_equal(c->pull_interval_sec, 45);
        conf_free(c);
}

/* ---- Url ---- */

static void test_url_good(void **state) {
        static const char *const good[] = {
                "https://sync.example.com", "https://sync.example.com/", "HTTPS://Sync.Example.COM",
                "https://127.0.0.1:8443", "https://[::1]:8443/api", "https://host/base/path",
        };

        (void) state;
        for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
                char text[256];
                struct conf *c;

                snprintf(text, sizeof(text), "[Server]\nUrl=%s\n", good[i]);
                c = load_ok(text);
                assert_string_equal(c->url, good[i]);
                conf_free(c);
        }
}

static void test_url_bad(void **state) {
        (void) state;
        load_fails("[Server]\nUrl=http://sync.example.com\n", 2,
                   "Url=http://sync.example.com: only https:// URLs are allowed");
        load_fails("[Server]\nUrl=ftp://sync.example.com\n", 2,
                   "Url=ftp://sync.example.com: only https:// URLs are allowed");
        load_fails("[Server]\nUrl=sync.example.com\n", 2, "Url=sync.example.com: only https:// URLs are allowed");
        load_fails("[Server]\nUrl=https:/x\n", 2, "Url=https:/x: only https:// URLs are allowed");
        load_fails("[Server]\nUrl=https://\n", 2, "Url=https:// has no host");
        load_fails("[Server]\nUrl=https:///path\n", 2, "Url=https:///path has no host");
        load_fails("[Server]\nUrl=\n", 2, "Url= is empty; the https:// URL of the sync server is required");
        load_fails("[Server]\nUrl=https://x:99999\n", 2,
                   "Url=https://x:99999 is not a URL libcurl can use: "
                   "Port number was not a decimal number between 0 and 65535");
        load_fails("[Server]\nUrl=https://x:0\n", 2, "Url=https://x:0: port 0 cannot be connected to");
        load_fails("[Server]\nUrl=https://x/a?b=c\n", 2, "Url=https://x/a?b=c must not have a query ('?')");
        load_fails("[Server]\nUrl=https://x/a#frag\n", 2, "Url=https://x/a#frag must not have a fragment ('#')");
}

/* A user name or password in the URL is not repeated back. */
static void test_url_credentials_hidden(void **state) {
        struct conf *c = NULL;
        char *error = NULL;

        (void) state;
        assert_int_equal(load("[Server]\nUrl=https://me:hunter2@x\n", &c, &error), -EINVAL);
        assert_non_null(error);
        assert_null(strstr(error, "hunter2"));
        assert_non_null(strstr(error, ":2: Url=(not shown: it has an '@') must not have a user name"));
        free(error);
}

/* ---- the other strings ---- */

static void test_paths(void **state) {
        char what[1024];
        struct conf *c;

        (void) state;
        value_fails("Server", "TokenFile", "token", "TokenFile=token is not an absolute path");
        value_fails("Server", "CAFile", "certs/ca.pem", "CAFile=certs/ca.pem is not an absolute path");
        snprintf(what, sizeof(what), "CAFile=%s: cannot read it: No such file or directory", in_dir("none.pem"));
        value_fails("Server", "CAFile", in_dir("none.pem"), what);
        c = value_ok("Server", "TokenFile", "");
        assert_null(c->token_file);
        conf_free(c);
}

/* A CA file is loaded with the configuration: one that libcurl could not
 * use stops the start (or the reload) instead of keeping bridged offline. */
static void test_ca_file_loaded(void **state) {
        static const char two[] = TEST_CA_PEM "# a comment between\n" TEST_CA_PEM;
        char what[1024];
        struct conf *c;

        (void) state;
        write_file(in_dir("two.pem"), two, strlen(two));
        c = value_ok("Server", "CAFile", in_dir("two.pem"));
        assert_string_equal(c->ca_file, in_dir("two.pem"));
        conf_free(c);

        write_file(in_dir("text.pem"), "not a certificate\n", 18);
        snprintf(what, sizeof(what), "CAFile=%s: it holds no PEM certificate (\"-----BEGIN CERTIFICATE-----\"), "
                 "or one that cannot be parsed", in_dir("text.pem"));
        value_fails("Server", "CAFile", in_dir("text.pem"), what);

        /* The armour is right, the content is not. */
        write_file(in_dir("bad.pem"), "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", 58);
        snprintf(what, sizeof(what), "CAFile=%s: it holds no PEM certificate (\"-----BEGIN CERTIFICATE-----\"), "
                 "or one that cannot be parsed", in_dir("bad.pem"));
        value_fails("Server", "CAFile", in_dir("bad.pem"), what);

        write_file(in_dir("empty.pem"), "", 0);
        snprintf(what, sizeof(what), "CAFile=%s: it holds no PEM certificate (\"-----BEGIN CERTIFICATE-----\"), "
                 "or one that cannot be parsed", in_dir("empty.pem"));
        value_fails("Server", "CAFile", in_dir("empty.pem"), what);

        snprintf(what, sizeof(what), "CAFile=%s: it is a directory, not a PEM file of certificates", fx->dir);
        value_fails("Server", "CAFile", fx->dir, what);

        snprintf(what, sizeof(what), "CAFile=/dev/null: it is not a regular file");
        value_fails("Server", "CAFile", "/dev/null", what);

        if (geteuid() != 0) {           /* root reads it anyway */
                assert_int_equal(chmod(in_dir("two.pem"), 0), 0);
                snprintf(what, sizeof(what), "CAFile=%s: cannot read it: Permission denied", in_dir("two.pem"));
                value_fails("Server", "CAFile", in_dir("two.pem"), what);
        }
}

/* Settings cross D-Bus as strings, which must be UTF-8: a value that is not
 * would make Status() fail for good, hiding what is wrong. */
static void test_not_utf8(void **state) {
        static const char *const bad[] = {
                "\xff", "\xc3", "\xc3\x28", "\xe2\x82", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xc0\xaf",
        };
        char text[256], expected[512], *error = NULL;
        struct conf *c = NULL;

        (void) state;
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                snprintf(text, sizeof(text), URL_LINE "Url=https://sync.example.com/%s\n", bad[i]);
                write_file(fx->conf_path, text, strlen(text));
                assert_int_equal(conf_load(fx->conf_path, &c, &error), -EINVAL);
                snprintf(expected, sizeof(expected), "%s:3: is not valid UTF-8", fx->conf_path);
                assert_string_equal(error, expected);
                error = (free(error), NULL);
        }
        /* In a comment too: the file is one text. */
        load_fails(URL_LINE "# caf\xe9\n", 3, "is not valid UTF-8");
        c = load_ok(URL_LINE "# café, 音\n[Buds]\nAdapter=\n");
        conf_free(c);
}

static void test_pins(void **state) {
        static const char *const bad[] = {
                "sha256//YhKJKSzoTt2b5FP18fvpHo7fJYqQCjAa3HWY3tvRMwE",          /* no '=' */
                "sha256//YhKJKSzoTt2b5FP18fvpHo7fJYqQCjAa3HWY3tvRMwE==",        /* one too many */
                "sha256//YhKJKSzoTt2b5FP18fvpHo7fJYqQCjAa3HWY3tvRMwF=",         /* stray low bits */
                "sha256//YhKJKSzoTt2b5FP18fvpHo7fJYqQCjAa3HWY3tv!MwE=",         /* not base64 */
                "sha1//YhKJKSzoTt2b5FP18fvpHo7fJYqQCjAa3HWY3tvRMwE=",
                "SHA256//YhKJKSzoTt2b5FP18fvpHo7fJYqQCjAa3HWY3tvRMwE=",
                PIN_A ";",
                PIN_A ";;" PIN_B,
                ";" PIN_A,
                PIN_A "," PIN_B,
                "/etc/bridged/server.pem",
                "sha256//",
        };
        struct conf *c;

        (void) state;
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                value_fails("Server", "PinnedPublicKey", bad[i],
                            "PinnedPublicKey= is not sha256//BASE64[;sha256//BASE64...] "
                            "(SHA-256 hashes as libcurl takes them)");
        c = value_ok("Server", "PinnedPublicKey", PIN_B);
        assert_string_equal(c->pinned_public_key, PIN_B);
        conf_free(c);
}

static void test_buds_address(void **state) {
        static const char *const bad[] = {
                "AA:BB:CC:DD:EE", "AA:BB:CC:DD:EE:FF:00", "AA-BB-CC-DD-EE-FF", "GG:BB:CC:DD:EE:FF",
                "AABBCCDDEEFF", "A:BB:CC:DD:EE:FFF", "hci0",
        };
        char what[256];
        struct conf *c;

        (void) state;
        c = value_ok("Buds", "Address", "aa:bb:cc:dd:ee:0f");
        assert_string_equal(c->buds_address, "AA:BB:CC:DD:EE:0F");
        conf_free(c);
        c = value_ok("Buds", "Address", "");
        assert_null(c->buds_address);
        conf_free(c);
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                snprintf(what, sizeof(what), "Address=%s is not a Bluetooth address (AA:BB:CC:DD:EE:FF)", bad[i]);
                value_fails("Buds", "Address", bad[i], what);
        }
}

static void test_adapter(void **state) {
        static const char *const good[][2] = {
                { "hci0", "hci0" }, { "hci12", "hci12" }, { "hci65535", "hci65535" },
                { "00:1a:7d:da:71:13", "00:1A:7D:DA:71:13" },
        };
        static const char *const bad[] = { "hci", "hci01", "hci65536", "hci-1", "HCI0", "eth0", "hci0 " "x" };
        char what[256];

        (void) state;
        for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
                struct conf *c = value_ok("Buds", "Adapter", good[i][0]);

                assert_string_equal(c->adapter, good[i][1]);
                conf_free(c);
        }
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                snprintf(what, sizeof(what),
                         "Adapter=%s is neither hciN nor an adapter's address (AA:BB:CC:DD:EE:FF)", bad[i]);
                value_fails("Buds", "Adapter", bad[i], what);
        }
}

/* ---- structure ---- */

static void test_unknown_section_and_key(void **state) {
        (void) state;
        load_fails(URL_LINE "[Foo]\n", 3, "unknown section [Foo]");
        load_fails(URL_LINE "[server]\nUrl=https://x\n", 3, "unknown section [server]");
        load_fails(URL_LINE "[Sync]\nPushDebounce=5\n", 4, "unknown key PushDebounce= in [Sync]");
        load_fails(URL_LINE "url=https://y\n", 3, "unknown key url= in [Server]");
        load_fails(URL_LINE "Address=AA:BB:CC:DD:EE:FF\n", 3,
                   "unknown key Address= in [Server] (it belongs in [Buds])");
        load_fails("LongPoll=yes\n" URL_LINE, 1, "LongPoll= comes before any [Section]");
}

static void test_duplicates(void **state) {
        struct conf *c;

        (void) state;
        load_fails(URL_LINE "PullIntervalSec=10\n\nPullIntervalSec=20\n", 5,
                   "PullIntervalSec= is already set on line 3");
        load_fails(URL_LINE "[Buds]\n[Server]\nUrl=https://other\n", 5, "Url= is already set on line 2");
        /* A section may come back; its keys still count once. */
        c = load_ok("[Server]\nLongPoll=no\n[Sync]\nPushDebounceMs=5\n[Server]\nUrl=https://x\n");
        assert_false(c->long_poll);
        assert_string_equal(c->url, "https://x");
        conf_free(c);
}

static void test_comment_needs_blank(void **state) {
        struct conf *c;

        (void) state;
        value_fails("Buds", "Address", "aa:bb:cc:dd:ee:ff#x",
                    "Address=aa:bb:cc:dd:ee:ff#x is not a Bluetooth address (AA:BB:CC:DD:EE:FF)");
        c = load_ok("[Server]\nUrl=https://x\t# tab then '#'\n[Sync]\nConflictLogLimit=7 ;x\n");
        assert_string_equal(c->url, "https://x");
        assert_int_equal(c->conflict_log_limit, 7);
        conf_free(c);
        c = load_ok("[Server]   ; c\nUrl=https://x\n");
        conf_free(c);
}

static void test_comments_parsed(void **state) {
        struct conf *c;

        (void) state;
        c = load_ok("; a comment\n# another\n   # indented\n[Server]   # after a header\n"
                    "Url=https://x ; trailing comment\n"
                    "PinnedPublicKey=" PIN_A ";" PIN_B "\t# ';' inside a value stays\n");
        assert_string_equal(c->url, "https://x");
        assert_string_equal(c->pinned_public_key, PIN_A ";" PIN_B);
        conf_free(c);
}

/* Blank lines, comments, CRLF and a BOM do not shift the line numbers. */
static void test_line_numbers(void **state) {
        (void) state;
        load_fails("\xef\xbb\xbf[Server]\r\n"
                   "\r\n"
                   "Url=https://x  # c\r\n"
                   "; 4\r\n"
                   "# 5\r\n"
                   "   \r\n"
                   "PullIntervalSec=4\r\n", 7, "PullIntervalSec=4 is outside 5..86400");
        /* Indented lines are lines of their own, not continuations. */
        load_fails(URL_LINE "  LongPoll=yes\n  LongPoll=no\n", 4, "LongPoll= is already set on line 3");
        /* The first of two errors is the one reported. */
        load_fails(URL_LINE "PullIntervalSec=1\nPullIntervalSec=x\n", 3, "PullIntervalSec=1 is outside 5..86400");
}

/* A line too long for inih's buffer is an error on that line, not two lines. */
static void test_long_line(void **state) {
        char text[1024], path[512], what[64];
        struct conf *c;

        (void) state;
        memset(path, 'a', 300);
        path[300] = '\0';
        snprintf(text, sizeof(text), URL_LINE "TokenFile=/%s\nLongPoll=maybe\n", path);
        snprintf(what, sizeof(what), "line is longer than %d characters", 198);
        load_fails(text, 3, what);
        /* A long comment does not count. */
        snprintf(text, sizeof(text), URL_LINE "LongPoll=no   # %s\n", path);
        c = load_ok(text);
        assert_false(c->long_poll);
        conf_free(c);
        /* 198 characters fit. */
        memset(path, 'b', 187);
        path[187] = '\0';
        snprintf(text, sizeof(text), URL_LINE "TokenFile=/%s\n", path);
        c = load_ok(text);
        assert_int_equal(strlen(c->token_file), 188);
        /* 199 do not. */
        snprintf(text, sizeof(text), URL_LINE "TokenFile=/%sb\n", path);
        load_fails(text, 3, what);
        conf_free(c);
}

static void test_syntax_errors(void **state) {
        (void) state;
        load_fails(URL_LINE "LongPoll\n", 3, "expected [Section], Key=Value or a comment");
        load_fails(URL_LINE "=yes\n", 3, "expected [Section], Key=Value or a comment");
        load_fails(URL_LINE "LongPoll:yes\n", 3, "expected [Section], Key=Value or a comment");
        load_fails(URL_LINE "[Sync\n", 3, "expected a section header like [Server]");
        load_fails(URL_LINE "[Sync] x\n", 3, "expected a section header like [Server]");
        load_fails(URL_LINE "[Sync]]\n", 3, "expected a section header like [Server]");
        load_fails(URL_LINE "[]\n", 3, "unknown section []");
        load_fails(URL_LINE "Token\x01=x\n", 3, "contains a control character");
}

static void test_nul_byte(void **state) {
        static const char text[] = URL_LINE "LongPoll=yes\0no\n";
        char expected[1024], *error = NULL;
        struct conf *c = NULL;

        (void) state;
        write_file(fx->conf_path, text, sizeof(text) - 1);
        assert_int_equal(conf_load(fx->conf_path, &c, &error), -EINVAL);
        snprintf(expected, sizeof(expected), "%s:3: contains a control character", fx->conf_path);
        assert_string_equal(error, expected);
        free(error);
}

static void test_missing_url(void **state) {
        (void) state;
        load_fails("", 0, "[Server] Url= is missing; it is required");
        load_fails("[Server]\nLongPoll=yes\n[Sync]\nPushDebounceMs=1\n", 0,
                   "[Server] Url= is missing; it is required");
        load_fails("# only a comment\n", 0, "[Server] Url= is missing; it is required");
}

static void test_missing_file(void **state) {
        char *error = NULL, expected[1024];
        struct conf *c = NULL;

        (void) state;
        assert_int_equal(conf_load(in_dir("nope.conf"), &c, &error), -ENOENT);
        assert_null(c);
        snprintf(expected, sizeof(expected), "%s: cannot open: No such file or directory", in_dir("nope.conf"));
        assert_string_equal(error, expected);
        free(error);
        /* ret_error may be NULL. */
        assert_int_equal(conf_load(in_dir("nope.conf"), &c, NULL), -ENOENT);
}

static void test_unreadable_file(void **state) {
        char *error = NULL, expected[1024];
        struct conf *c = NULL;

        (void) state;
        /* A directory opens, and fails on the first read (even for root). */
        assert_int_equal(conf_load(fx->dir, &c, &error), -EISDIR);
        snprintf(expected, sizeof(expected), "%s: cannot read: Is a directory", fx->dir);
        assert_string_equal(error, expected);
        free(error);
        error = NULL;
        if (geteuid() == 0)
                return;                 /* root reads a mode 000 file */
        write_file(fx->conf_path, URL_LINE, strlen(URL_LINE));
        assert_int_equal(chmod(fx->conf_path, 0), 0);
        assert_int_equal(conf_load(fx->conf_path, &c, &error), -EACCES);
        snprintf(expected, sizeof(expected), "%s: cannot open: Permission denied", fx->conf_path);
        assert_string_equal(error, expected);
        free(error);
}

/* A reload loads into a new struct; the old one is untouched either way. */
static void test_reload(void **state) {
        struct conf *old = load_ok(URL_LINE "PullIntervalSec=10\n"), *new = NULL;
        char *error = NULL;

        (void) state;
        assert_int_equal(load(URL_LINE "PullIntervalSec=1\n", &new, &error), -EINVAL);
        assert_null(new);
        assert_int_equal(old->pull_interval_sec, 10);
        free(error);
        new = load_ok(URL_LINE "PullIntervalSec=20\n");
        assert_int_equal(old->pull_interval_sec, 10);
        assert_int_equal(new->pull_interval_sec, 20);
        conf_free(old);
        conf_free(new);
}

/* ---- the shipped default configuration (systemd/bridged.conf) ---- */

/* Found from the top of the tree, where make check runs the tests. */
static char *read_shipped_conf(void) {
        static const char self[] = "tests/bridged/test-conf.c";
        const char *file = __FILE__;
        size_t top = strlen(file) - strlen(self), n;
        char path[512], *text;
        FILE *f;

        snprintf(path, sizeof(path), "%.*ssystemd/bridged.conf", (int) top, file);
        f = fopen(path, "re");
        if (!f)
                return NULL;
        text = calloc(1, 16384);
        assert_non_null(text);
        n = fread(text, 1, 16383, f);
        assert_true(n > 0 && n < 16383);
        fclose(f);
        return text;
}

/* As shipped it lacks only Url=; with every "#Key=" line uncommented it is
 * valid and holds exactly the defaults. */
static void test_shipped_conf(void **state) {
        char *text = read_shipped_conf(), *uncommented, *out;
        struct conf *c;

        (void) state;
        if (!text)
                skip();
        load_fails(text, 0, "[Server] Url= is missing; it is required");
        uncommented = out = calloc(1, strlen(text) + 1);
        assert_non_null(out);
        for (const char *line = text; *line; ) {
                size_t n = strcspn(line, "\n") + (line[strcspn(line, "\n")] == '\n');

                if (line[0] == '#' && line[1] >= 'A' && line[1] <= 'Z' && memchr(line, '=', n))
                        line++, n--;
                memcpy(out, line, n);
                out += n;
                line += n;
        }
        c = load_ok(uncommented);
        assert_string_equal(c->url, "https://sync.example.com");
        assert_null(c->token_file);
        assert_null(c->ca_file);
        assert_null(c->pinned_public_key);
        assert_true(c->long_poll);
        assert_int_equal(c->pull_interval_sec, CONF_PULL_INTERVAL_SEC_DEFAULT);
        assert_null(c->buds_address);
        assert_null(c->adapter);
        assert_int_equal(c->push_debounce_ms, CONF_PUSH_DEBOUNCE_MS_DEFAULT);
        assert_int_equal(c->max_clock_skew_sec, CONF_MAX_CLOCK_SKEW_SEC_DEFAULT);
        assert_int_equal(c->conflict_log_limit, CONF_CONFLICT_LOG_LIMIT_DEFAULT);
        conf_free(c);
        free(uncommented);
        free(text);
}

/* ---- the token ---- */

static struct conf *conf_with_token_file(const char *path) {
        struct conf *c = NULL;

        assert_int_equal(conf_new_default(&c), 0);
        if (path) {
                c->token_file = strdup(path);
                assert_non_null(c->token_file);
        }
        return c;
}

static void token_ok(const char *content, size_t n, const char *expected) {
        struct conf *c = conf_with_token_file(in_dir("token"));
        char *token = NULL, *error = NULL;

        write_file(in_dir("token"), content, n);
        assert_int_equal(conf_load_token(c, &token, &error, NULL), 0);
        assert_null(error);
        assert_string_equal(token, expected);
        assert_null(conf_token_free(token));
        conf_free(c);
}

static void token_fails(const char *content, size_t n, int r, const char *what) {
        struct conf *c = conf_with_token_file(in_dir("token"));
        char *token = NULL, *error = NULL, expected[1024];

        write_file(in_dir("token"), content, n);
        assert_int_equal(conf_load_token(c, &token, &error, NULL), r);
        assert_null(token);
        snprintf(expected, sizeof(expected), "%s: %s", in_dir("token"), what);
        assert_string_equal(error, expected);
        /* The message never carries the token. */
        if (n > 3)
                assert_null(strstr(error, "s3cr"));
        free(error);
        conf_free(c);
}

static void test_token_file(void **state) {
        char big[CONF_TOKEN_MAX + 2], expected[CONF_TOKEN_MAX + 1];

        (void) state;
        token_ok("s3cret-Token_1.~+/=", 19, "s3cret-Token_1.~+/=");
        token_ok("s3cret\n", 7, "s3cret");
        memset(big, 'A', sizeof(big));
        memset(expected, 'A', CONF_TOKEN_MAX);
        expected[CONF_TOKEN_MAX] = '\0';
        token_ok(big, CONF_TOKEN_MAX, expected);
        big[CONF_TOKEN_MAX] = '\n';
        token_ok(big, CONF_TOKEN_MAX + 1, expected);
}

static void test_token_bad(void **state) {
        static const char bad_chars[] = "the token contains whitespace, a control character or a non-ASCII byte "
                                        "(only one trailing newline is allowed)";
        char big[CONF_TOKEN_MAX + 2];

        (void) state;
        token_fails("", 0, -EINVAL, "the token file is empty");
        token_fails("\n", 1, -EINVAL, "the token file is empty");
        token_fails("s3cret\n\n", 8, -EINVAL, bad_chars);
        token_fails("s3cret\r\n", 8, -EINVAL, bad_chars);
        token_fails("s3cr et", 7, -EINVAL, bad_chars);
        token_fails("s3cr\tet", 7, -EINVAL, bad_chars);
        token_fails(" s3cret", 7, -EINVAL, bad_chars);
        token_fails("s3cr\x01t", 6, -EINVAL, bad_chars);
        token_fails("s3cr\0et", 7, -EINVAL, bad_chars);
        token_fails("s3cr\xc3\xa9t", 7, -EINVAL, bad_chars);
        memset(big, 'A', sizeof(big));
        token_fails(big, CONF_TOKEN_MAX + 1, -EINVAL, "the token is longer than 4096 bytes");
        big[CONF_TOKEN_MAX + 1] = '\n';
        token_fails(big, CONF_TOKEN_MAX + 2, -EINVAL, "the token is longer than 4096 bytes");
}

/* Others may not write the token; reading it, or the group writing it, is
 * taken with a warning. Group read is how the daemon's group reads it. */
static void test_token_mode(void **state) {
        static const struct {
                mode_t mode;
                int r;
                const char *what;       /* the error or the warning */
        } cases[] = {
                { 0600, 0, NULL },
                { 0640, 0, NULL },
                { 0400, 0, NULL },
                { 0644, 0, "the token file may be read by anyone (mode 0644); chmod 0640 it (or 0600)" },
                { 0660, 0, "the token file may be written by its group (mode 0660); chmod 0640 it (or 0600)" },
                { 0602, -EPERM, "the token file may be written by anyone (mode 0602): refused; chmod o-w it and "
                                "check that the token is still yours" },
                { 0666, -EPERM, "the token file may be written by anyone (mode 0666): refused; chmod o-w it and "
                                "check that the token is still yours" },
        };
        struct conf *c = conf_with_token_file(in_dir("token"));
        char expected[1024];

        (void) state;
        write_file(in_dir("token"), "s3cret\n", 7);
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                char *token = NULL, *error = NULL, *warning = NULL;

                assert_int_equal(chmod(in_dir("token"), cases[i].mode), 0);
                assert_int_equal(conf_load_token(c, &token, &error, &warning), cases[i].r);
                if (cases[i].what)
                        snprintf(expected, sizeof(expected), "%s: %s", in_dir("token"), cases[i].what);
                if (cases[i].r < 0) {
                        assert_null(token);
                        assert_null(warning);
                        assert_string_equal(error, expected);
                } else {
                        assert_string_equal(token, "s3cret");
                        assert_null(error);
                        if (cases[i].what)
                                assert_string_equal(warning, expected);
                        else
                                assert_null(warning);
                }
                free(error);
                free(warning);
                conf_token_free(token);
        }
        /* A bad token after a warning: the error only. */
        {
                char *token = NULL, *error = NULL, *warning = NULL;

                write_file(in_dir("token"), "", 0);
                assert_int_equal(chmod(in_dir("token"), 0644), 0);
                assert_int_equal(conf_load_token(c, &token, &error, &warning), -EINVAL);
                assert_null(warning);
                free(error);
        }
        conf_free(c);
}

static void test_token_missing_or_unreadable(void **state) {
        struct conf *c = conf_with_token_file(in_dir("none"));
        char *token = NULL, *error = NULL, expected[1024];

        (void) state;
        assert_int_equal(conf_load_token(c, &token, &error, NULL), -ENOENT);
        snprintf(expected, sizeof(expected), "%s: cannot open the token file: No such file or directory", in_dir("none"));
        assert_string_equal(error, expected);
        free(error);
        conf_free(c);

        c = conf_with_token_file(fx->dir);
        assert_int_equal(conf_load_token(c, &token, &error, NULL), -EINVAL);
        snprintf(expected, sizeof(expected), "%s: the token file is not a regular file", fx->dir);
        assert_string_equal(error, expected);
        free(error);
        conf_free(c);
        assert_null(token);
}

static void test_token_credential(void **state) {
        struct conf *c = conf_with_token_file(NULL);
        char *token = NULL, *error = NULL, expected[1024];

        (void) state;
        assert_int_equal(mkdir(in_dir("creds"), 0700), 0);
        write_file(in_dir("creds/token"), "from-credential\n", 16);
        assert_int_equal(setenv("CREDENTIALS_DIRECTORY", in_dir("creds"), 1), 0);
        assert_int_equal(conf_load_token(c, &token, &error, NULL), 0);
        assert_string_equal(token, "from-credential");
        token = conf_token_free(token);

        /* TokenFile= wins over the credential. */
        write_file(in_dir("token"), "from-file", 9);
        c->token_file = strdup(in_dir("token"));
        assert_int_equal(conf_load_token(c, &token, &error, NULL), 0);
        assert_string_equal(token, "from-file");
        token = conf_token_free(token);
        free(c->token_file);
        c->token_file = NULL;

        /* The unit's placeholder (SetCredential=token:\n) when /etc/bridged/token is missing. */
        write_file(in_dir("creds/token"), "\n", 1);
        assert_int_equal(conf_load_token(c, &token, &error, NULL), -EINVAL);
        snprintf(expected, sizeof(expected), "%s/token: the token file is empty", in_dir("creds"));
        assert_string_equal(error, expected);
        free(error);

        assert_int_equal(unlink(in_dir("creds/token")), 0);
        assert_int_equal(conf_load_token(c, &token, &error, NULL), -ENOENT);
        snprintf(expected, sizeof(expected), "%s/token: cannot open the token file: No such file or directory",
                 in_dir("creds"));
        assert_string_equal(error, expected);
        free(error);
        conf_free(c);
}

/* A reload's copy (bridged.service's ExecReload=) wins over the credential
 * loaded at start; without the copy, the credential; TokenFile= over both. */
static void test_token_reload_copy(void **state) {
        struct conf *c = conf_with_token_file(NULL);
        char *token = NULL, *error = NULL;

        (void) state;
        assert_int_equal(mkdir(in_dir("creds"), 0700), 0);
        assert_int_equal(mkdir(in_dir("reload"), 0700), 0);
        write_file(in_dir("creds/token"), "at-start\n", 9);
        assert_int_equal(setenv("CREDENTIALS_DIRECTORY", in_dir("creds"), 1), 0);
        assert_int_equal(setenv("BRIDGED_RELOAD_DIRECTORY", in_dir("reload"), 1), 0);
        assert_int_equal(conf_load_token(c, &token, &error, NULL), 0);
        assert_string_equal(token, "at-start");
        token = conf_token_free(token);

        write_file(in_dir("reload/token"), "replaced\n", 9);
        assert_int_equal(conf_load_token(c, &token, &error, NULL), 0);
        assert_string_equal(token, "replaced");
        token = conf_token_free(token);

        write_file(in_dir("token"), "from-file", 9);
        c->token_file = strdup(in_dir("token"));
        assert_int_equal(conf_load_token(c, &token, &error, NULL), 0);
        assert_string_equal(token, "from-file");
        token = conf_token_free(token);
        conf_free(c);
}

static void test_token_no_source(void **state) {
        struct conf *c = conf_with_token_file(NULL);
        char *token = NULL, *error = NULL;

        (void) state;
        assert_int_equal(conf_load_token(c, &token, &error, NULL), -ENOKEY);
        assert_string_equal(error, "no token: TokenFile= is not set in [Server] and there is no systemd "
                                   "credential \"token\" ($CREDENTIALS_DIRECTORY is not set)");
        free(error);
        assert_int_equal(setenv("CREDENTIALS_DIRECTORY", "", 1), 0);
        assert_int_equal(conf_load_token(c, &token, NULL, NULL), -ENOKEY);
        assert_null(token);
        conf_free(c);
}

/* ---- the command line ---- */

/* Runs options_parse() with stdout and stderr in files; returns its result. */
struct run {
        int r;
        struct options o;
        char out[4096], err[4096];
};

static void slurp(int fd, char *buf, size_t size) {
        ssize_t n = pread(fd, buf, size - 1, 0);

        buf[n > 0 ? n : 0] = '\0';
}

static int redirect(int target, const char *path) {
        int saved = dup(target), fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

        assert_true(saved >= 0 && fd >= 0);
        assert_int_equal(dup2(fd, target), target);
        close(fd);
        return saved;
}

static void restore(int target, int saved, char *buf, size_t size) {
        slurp(target, buf, size);
        assert_int_equal(dup2(saved, target), target);
        close(saved);
}

#define RUN(run, ...) run_options((run), (char *[]) { "bridged", __VA_ARGS__, NULL })

static void run_options(struct run *run, char *argv[]) {
        int argc = 0, out, err;

        while (argv[argc])
                argc++;
        fflush(stdout);
        out = redirect(STDOUT_FILENO, in_dir("stdout"));
        err = redirect(STDERR_FILENO, in_dir("stderr"));
        memset(&run->o, 0xaa, sizeof(run->o));
        run->r = options_parse(argc, argv, &run->o);
        fflush(stdout);
        fflush(stderr);
        restore(STDOUT_FILENO, out, run->out, sizeof(run->out));
        restore(STDERR_FILENO, err, run->err, sizeof(run->err));
}

static void usage_error(struct run *run, const char *line) {
        assert_int_equal(run->r, 1);
        assert_int_equal(run->o.exit_status, 2);
        assert_string_equal(run->err, line);
        assert_string_equal(run->out, "");
        options_done(&run->o);
}

static void test_options_defaults(void **state) {
        struct run run;

        (void) state;
        run_options(&run, (char *[]) { "bridged", NULL });
        assert_int_equal(run.r, 0);
        assert_string_equal(run.o.config_path, "/etc/bridged/bridged.conf");
        assert_string_equal(run.o.state_dir, "/var/lib/bridged");
        assert_int_equal(run.o.log_level, LOG_INFO);
        assert_string_equal(run.err, "");
        options_done(&run.o);
        assert_null(run.o.state_dir);
}

static void test_options_each(void **state) {
        static const struct {
                const char *arg;
                int level;
        } levels[] = { { "err", LOG_ERR }, { "warning", LOG_WARNING }, { "info", LOG_INFO }, { "debug", LOG_DEBUG } };
        struct run run;

        (void) state;
        RUN(&run, "--config", "/tmp/x.conf", "--state-dir", "/srv/state", "--log-level", "debug");
        assert_int_equal(run.r, 0);
        assert_string_equal(run.o.config_path, "/tmp/x.conf");
        assert_string_equal(run.o.state_dir, "/srv/state");
        assert_int_equal(run.o.log_level, LOG_DEBUG);
        options_done(&run.o);

        RUN(&run, "--config=/a.conf", "--state-dir=rel/dir");
        assert_int_equal(run.r, 0);
        assert_string_equal(run.o.config_path, "/a.conf");
        assert_string_equal(run.o.state_dir, "rel/dir");
        assert_false(run.o.check_config);
        options_done(&run.o);

        RUN(&run, "--check-config", "--config", "/b.conf");
        assert_int_equal(run.r, 0);
        assert_true(run.o.check_config);
        assert_string_equal(run.o.config_path, "/b.conf");
        options_done(&run.o);

        for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
                RUN(&run, "--log-level", (char *) levels[i].arg);
                assert_int_equal(run.r, 0);
                assert_int_equal(run.o.log_level, levels[i].level);
                options_done(&run.o);
        }
}

static void test_options_help_version(void **state) {
        struct run run;

        (void) state;
        RUN(&run, "--help");
        assert_int_equal(run.r, 1);
        assert_int_equal(run.o.exit_status, 0);
        assert_string_equal(run.err, "");
        /* bridged(8)'s synopsis, byte for byte. */
        assert_memory_equal(run.out, "Usage: bridged [--config FILE] [--state-dir DIR] "
                            "[--log-level err|warning|info|debug] [--version] [--help]\n", 107);
        assert_non_null(strstr(run.out, "--config FILE      configuration file (default: /etc/bridged/bridged.conf)"));
        assert_non_null(strstr(run.out, "--state-dir DIR"));
        assert_non_null(strstr(run.out, "(default: /var/lib/bridged;"));
        assert_non_null(strstr(run.out, "--log-level LEVEL  err, warning, info or debug (default: info)"));
        assert_non_null(strstr(run.out, "--version"));
        assert_non_null(strstr(run.out, "--help"));
        options_done(&run.o);

        RUN(&run, "--version", "--bogus");
        assert_int_equal(run.r, 1);
        assert_int_equal(run.o.exit_status, 0);
        assert_string_equal(run.out, "bridged " BRIDGED_VERSION "\n");
        options_done(&run.o);
}

static void test_options_usage_errors(void **state) {
        struct run run;

        (void) state;
        RUN(&run, "--config");
        usage_error(&run, "bridged: option '--config' needs an argument (see bridged --help)\n");
        RUN(&run, "--log-level");
        usage_error(&run, "bridged: option '--log-level' needs an argument (see bridged --help)\n");
        RUN(&run, "--log-level", "verbose");
        usage_error(&run, "bridged: --log-level: 'verbose' is not err, warning, info or debug (see bridged --help)\n");
        RUN(&run, "--log-level=ERR");
        usage_error(&run, "bridged: --log-level: 'ERR' is not err, warning, info or debug (see bridged --help)\n");
        RUN(&run, "--frobnicate");
        usage_error(&run, "bridged: unknown option '--frobnicate' (see bridged --help)\n");
        RUN(&run, "-x");
        usage_error(&run, "bridged: unknown option '-x' (see bridged --help)\n");
        RUN(&run, "--help=yes");
        usage_error(&run, "bridged: option '--help=yes' takes no argument (see bridged --help)\n");
        RUN(&run, "--config", "/a.conf", "extra");
        usage_error(&run, "bridged: unexpected argument 'extra' (see bridged --help)\n");
        RUN(&run, "--config=");
        usage_error(&run, "bridged: --config needs a file name, not '' (see bridged --help)\n");
        RUN(&run, "--state-dir", "");
        usage_error(&run, "bridged: --state-dir needs a directory, not '' (see bridged --help)\n");
}

/* bridged(8): $STATE_DIRECTORY, else --state-dir, else /var/lib/bridged. */
static void test_options_state_directory(void **state) {
        struct run run;

        (void) state;
        assert_int_equal(setenv("STATE_DIRECTORY", "/var/lib/bridged-sd", 1), 0);
        RUN(&run, "--log-level", "info");
        assert_int_equal(run.r, 0);
        assert_string_equal(run.o.state_dir, "/var/lib/bridged-sd");
        options_done(&run.o);

        RUN(&run, "--state-dir", "/srv/mine");
        assert_int_equal(run.r, 0);
        assert_string_equal(run.o.state_dir, "/var/lib/bridged-sd");
        options_done(&run.o);

        assert_int_equal(setenv("STATE_DIRECTORY", "/var/lib/one:/var/lib/two:/var/lib/three", 1), 0);
        RUN(&run, "--state-dir", "/srv/mine");
        assert_int_equal(run.r, 0);
        assert_string_equal(run.o.state_dir, "/var/lib/one");
        options_done(&run.o);

        assert_int_equal(setenv("STATE_DIRECTORY", "", 1), 0);
        RUN(&run, "--state-dir", "/srv/mine");
        assert_int_equal(run.r, 0);
        assert_string_equal(run.o.state_dir, "/srv/mine");
        options_done(&run.o);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
                cmocka_unit_test_setup_teardown(test_minimal, setup, teardown),
                cmocka_unit_test_setup_teardown(test_spec_example, setup, teardown),
                cmocka_unit_test_setup_teardown(test_every_key, setup, teardown),
                cmocka_unit_test_setup_teardown(test_booleans, setup, teardown),
                cmocka_unit_test_setup_teardown(test_number_ranges, setup, teardown),
                cmocka_unit_test_setup_teardown(test_number_message, setup, teardown),
                cmocka_unit_test_setup_teardown(test_number_syntax, setup, teardown),
                cmocka_unit_test_setup_teardown(test_number_leading_zeros_and_blanks, setup, teardown),
                cmocka_unit_test_setup_teardown(test_url_good, setup, teardown),
                cmocka_unit_test_setup_teardown(test_url_bad, setup, teardown),
                cmocka_unit_test_setup_teardown(test_url_credentials_hidden, setup, teardown),
                cmocka_unit_test_setup_teardown(test_paths, setup, teardown),
                cmocka_unit_test_setup_teardown(test_ca_file_loaded, setup, teardown),
                cmocka_unit_test_setup_teardown(test_not_utf8, setup, teardown),
                cmocka_unit_test_setup_teardown(test_pins, setup, teardown),
                cmocka_unit_test_setup_teardown(test_buds_address, setup, teardown),
                cmocka_unit_test_setup_teardown(test_adapter, setup, teardown),
                cmocka_unit_test_setup_teardown(test_unknown_section_and_key, setup, teardown),
                cmocka_unit_test_setup_teardown(test_duplicates, setup, teardown),
                cmocka_unit_test_setup_teardown(test_comment_needs_blank, setup, teardown),
                cmocka_unit_test_setup_teardown(test_comments_parsed, setup, teardown),
                cmocka_unit_test_setup_teardown(test_line_numbers, setup, teardown),
                cmocka_unit_test_setup_teardown(test_long_line, setup, teardown),
                cmocka_unit_test_setup_teardown(test_syntax_errors, setup, teardown),
                cmocka_unit_test_setup_teardown(test_nul_byte, setup, teardown),
                cmocka_unit_test_setup_teardown(test_missing_url, setup, teardown),
                cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
                cmocka_unit_test_setup_teardown(test_unreadable_file, setup, teardown),
                cmocka_unit_test_setup_teardown(test_reload, setup, teardown),
                cmocka_unit_test_setup_teardown(test_shipped_conf, setup, teardown),
                cmocka_unit_test_setup_teardown(test_token_file, setup, teardown),
                cmocka_unit_test_setup_teardown(test_token_bad, setup, teardown),
                cmocka_unit_test_setup_teardown(test_token_mode, setup, teardown),
                cmocka_unit_test_setup_teardown(test_token_missing_or_unreadable, setup, teardown),
                cmocka_unit_test_setup_teardown(test_token_credential, setup, teardown),
                cmocka_unit_test_setup_teardown(test_token_reload_copy, setup, teardown),
                cmocka_unit_test_setup_teardown(test_token_no_source, setup, teardown),
                cmocka_unit_test_setup_teardown(test_options_defaults, setup, teardown),
                cmocka_unit_test_setup_teardown(test_options_each, setup, teardown),
                cmocka_unit_test_setup_teardown(test_options_help_version, setup, teardown),
                cmocka_unit_test_setup_teardown(test_options_usage_errors, setup, teardown),
                cmocka_unit_test_setup_teardown(test_options_state_directory, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
