/* SPDX-License-Identifier: MIT */
/* Reads the configuration file (conf.h has the rules) into a fresh struct
 * conf, and the bearer token. inih does the INI syntax; common/ini-file.c
 * reads and counts the lines; this file judges each line before inih sees it,
 * and checks every key against a table of parsers.
 * It must never accept a value it has not checked, never keep going after
 * the first error (one line names it), and never show the token. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gnutls/x509.h>

#include "common/buds-address.h"
#include "common/cleanup.h"
#include "common/ini-file.h"
#include "common/ini-line.h"
#include "conf.h"
#include "policy/value.h"
#include "uplink/uplink-url.h"

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

struct conf_key;

/* One load: the file, where we are in it, the first error. */
struct conf_parser {
        struct ini_file in;             /* the file (or the token file's path), the first error */
        struct conf *conf;
        unsigned seen[16];              /* line each key of conf_keys was set on */
};

typedef int (*conf_parse_fn)(struct conf_parser *p, const struct conf_key *k, const char *value, void *field);

struct conf_key {
        const char *section;
        const char *name;
        conf_parse_fn parse;
        size_t offset;
        unsigned min, max;              /* numbers only */
};

int conf_new_default(struct conf **ret) {
        struct conf *c = calloc(1, sizeof(*c));

        if (!c)
                return -ENOMEM;
        c->long_poll = true;
        c->pull_interval_sec = CONF_PULL_INTERVAL_SEC_DEFAULT;
        c->push_debounce_ms = CONF_PUSH_DEBOUNCE_MS_DEFAULT;
        c->max_clock_skew_sec = CONF_MAX_CLOCK_SKEW_SEC_DEFAULT;
        c->conflict_log_limit = CONF_CONFLICT_LOG_LIMIT_DEFAULT;
        *ret = c;
        return 0;
}

static int dup_string(const char *s, char **ret) {
        *ret = NULL;
        if (s && !(*ret = strdup(s)))
                return -ENOMEM;
        return 0;
}

int conf_dup(const struct conf *c, struct conf **ret) {
        struct conf *d = calloc(1, sizeof(*d));
        int r;

        if (!d)
                return -ENOMEM;
        *d = *c;
        d->url = d->token_file = d->ca_file = d->pinned_public_key = d->buds_address = d->adapter = NULL;
        r = dup_string(c->url, &d->url);
        if (r == 0)
                r = dup_string(c->token_file, &d->token_file);
        if (r == 0)
                r = dup_string(c->ca_file, &d->ca_file);
        if (r == 0)
                r = dup_string(c->pinned_public_key, &d->pinned_public_key);
        if (r == 0)
                r = dup_string(c->buds_address, &d->buds_address);
        if (r == 0)
                r = dup_string(c->adapter, &d->adapter);
        if (r < 0) {
                conf_free(d);
                return r;
        }
        *ret = d;
        return 0;
}

struct conf *conf_free(struct conf *c) {
        if (!c)
                return NULL;
        free(c->url);
        free(c->token_file);
        free(c->ca_file);
        free(c->pinned_public_key);
        free(c->buds_address);
        free(c->adapter);
        free(c);
        return NULL;
}

#define conf_fail_at(p, ...) ini_file_fail_at(&(p)->in, __VA_ARGS__)
#define conf_fail(p, ...) ini_file_fail(&(p)->in, __VA_ARGS__)

/* ---- values ---- */

/* Reads at most max bytes (and one more, to see that there is more). */
static ssize_t conf_read_all(int fd, char *buf, size_t max) {
        size_t done = 0;

        while (done <= max) {
                ssize_t n = read(fd, buf + done, max + 1 - done);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        break;
                done += (size_t) n;
        }
        return (ssize_t) done;
}


static int conf_set_string(struct conf_parser *p, const char *value, void *field) {
        char **s = field, *copy = NULL;

        if (*value) {
                copy = strdup(value);
                if (!copy)
                        return conf_fail_at(p, -ENOMEM, 0, "out of memory");
        }
        free(*s);
        *s = copy;
        return 0;
}

static int conf_parse_number(struct conf_parser *p, const struct conf_key *k, const char *value, void *field) {
        uint64_t v = 0;

        if (!*value)
                return conf_fail(p, "%s= is empty; it takes a number %u..%u", k->name, k->min, k->max);
        if (value[strspn(value, "0123456789")] != '\0')
                return conf_fail(p, "%s=%s is not a number (%u..%u, decimal digits only)",
                                 k->name, value, k->min, k->max);
        /* Saturates past max, so a long row of digits is out of range, not a wrap. */
        for (const char *c = value; *c && v <= k->max; c++)
                v = v * 10 + (uint64_t) (*c - '0');
        if (v < k->min || v > k->max)
                return conf_fail(p, "%s=%s is outside %u..%u", k->name, value, k->min, k->max);
        *(unsigned *) field = (unsigned) v;
        return 0;
}

static int conf_parse_bool(struct conf_parser *p, const struct conf_key *k, const char *value, void *field) {
        static const char *const yes[] = { "yes", "true", "1" }, *const no[] = { "no", "false", "0" };

        for (size_t i = 0; i < ELEMENTSOF(yes); i++)
                if (strcmp(value, yes[i]) == 0 || strcmp(value, no[i]) == 0) {
                        *(bool *) field = strcmp(value, yes[i]) == 0;
                        return 0;
                }
        return conf_fail(p, "%s=%s is not a boolean (yes|no|true|false|1|0)", k->name, value);
}

static int conf_parse_path(struct conf_parser *p, const struct conf_key *k, const char *value, void *field) {
        if (*value && value[0] != '/')
                return conf_fail(p, "%s=%s is not an absolute path", k->name, value);
        return conf_set_string(p, value, field);
}

/* The certificates of a PEM file, counted by GnuTLS as libcurl will read
 * them. 0 and the count, or a negative errno and what is wrong. */
#define CONF_CA_FILE_MAX (16u * 1024 * 1024)

static int conf_ca_count(const char *path, unsigned *ret_n, const char **ret_what) {
        _cleanup_(closep) int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        _cleanup_free_ char *buf = NULL;
        gnutls_x509_crt_t *crts = NULL;
        gnutls_datum_t data;
        unsigned n = 0;
        struct stat st;
        ssize_t len;
        int r;

        *ret_what = NULL;
        if (fd < 0 || fstat(fd, &st) < 0)
                return -errno;
        if (S_ISDIR(st.st_mode))
                return *ret_what = "it is a directory, not a PEM file of certificates", -EISDIR;
        if (!S_ISREG(st.st_mode))
                return *ret_what = "it is not a regular file", -EINVAL;
        if (st.st_size > CONF_CA_FILE_MAX)
                return *ret_what = "it is larger than 16 MiB", -EFBIG;
        buf = malloc((size_t) st.st_size + 1);
        if (!buf)
                return -ENOMEM;
        len = conf_read_all(fd, buf, (size_t) st.st_size);
        if (len < 0)
                return (int) len;
        if ((size_t) len > (size_t) st.st_size)
                return *ret_what = "it grew while being read", -EAGAIN;
        data = (gnutls_datum_t) { .data = (unsigned char *) buf, .size = (unsigned) len };
        r = gnutls_x509_crt_list_import2(&crts, &n, &data, GNUTLS_X509_FMT_PEM, 0);
        for (unsigned i = 0; r >= 0 && i < n; i++)
                gnutls_x509_crt_deinit(crts[i]);
        gnutls_free(crts);
        if (r == GNUTLS_E_MEMORY_ERROR)
                return -ENOMEM;
        if (r < 0 || n == 0)
                return *ret_what = "it holds no PEM certificate (\"-----BEGIN CERTIFICATE-----\"), or one that "
                                   "cannot be parsed", -EINVAL;
        *ret_n = n;
        return 0;
}

/* The file is loaded here, not at the first connection: a CA file that is
 * wrong in any way would otherwise show only as TLS errors, and bridged would
 * stay offline with a good configuration in appearance. */
static int conf_parse_ca_file(struct conf_parser *p, const struct conf_key *k, const char *value, void *field) {
        const char *what = NULL;
        unsigned n = 0;
        int r = conf_parse_path(p, k, value, field);

        if (r < 0 || !*value)
                return r;
        r = conf_ca_count(value, &n, &what);
        if (r == -ENOMEM)
                return conf_fail_at(p, -ENOMEM, 0, "out of memory");
        if (r < 0 && what)
                return conf_fail(p, "%s=%s: %s", k->name, value, what);
        if (r < 0)
                return conf_fail(p, "%s=%s: cannot read it: %s", k->name, value, strerror(-r));
        return 0;
}

/* A URL with a user name or password in it may hold a secret: not repeated. */
static const char *conf_url_shown(const char *url) {
        return strchr(url, '@') ? "(not shown: it has an '@')" : url;
}

/* The check is uplink-url.c's, the one the uplink makes; the words are the
 * configuration's. */
static int conf_parse_url(struct conf_parser *p, const struct conf_key *k, const char *value, void *field) {
        const char *shown = conf_url_shown(value), *detail = "";

        switch (uplink_url_check(value, &detail)) {
        case UPLINK_URL_OK:
                return conf_set_string(p, value, field);
        case UPLINK_URL_NO_MEMORY:
                return conf_fail_at(p, -ENOMEM, 0, "out of memory");
        case UPLINK_URL_EMPTY:
                return conf_fail(p, "%s= is empty; the https:// URL of the sync server is required", k->name);
        case UPLINK_URL_NOT_HTTPS:
                return conf_fail(p, "%s=%s: only https:// URLs are allowed", k->name, shown);
        case UPLINK_URL_NO_HOST:
                return conf_fail(p, "%s=%s has no host", k->name, shown);
        case UPLINK_URL_UNUSABLE:
                return conf_fail(p, "%s=%s is not a URL libcurl can use: %s", k->name, shown, detail);
        case UPLINK_URL_PORT_ZERO:
                return conf_fail(p, "%s=%s: port 0 cannot be connected to", k->name, shown);
        case UPLINK_URL_USER:
                return conf_fail(p, "%s=%s must not have a user name (the token goes in TokenFile=)", k->name, shown);
        case UPLINK_URL_PASSWORD:
                return conf_fail(p, "%s=%s must not have a password (the token goes in TokenFile=)", k->name, shown);
        case UPLINK_URL_QUERY:
                return conf_fail(p, "%s=%s must not have a query ('?')", k->name, shown);
        case UPLINK_URL_FRAGMENT:
                return conf_fail(p, "%s=%s must not have a fragment ('#')", k->name, shown);
        }
        return -EINVAL;
}

/* libcurl's CURLOPT_PINNEDPUBLICKEY hash form: "sha256//" and the base64 of
 * a SHA-256 (32 bytes: 43 characters and one '='), ';' between hashes. The
 * 43rd character carries 2 unused bits, which must be 0 in canonical base64. */
static const char *conf_pin_skip_one(const char *s) {
        static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

        if (strncmp(s, "sha256//", 8) != 0)
                return NULL;
        s += 8;
        if (strspn(s, b64) != 43 || s[43] != '=' || !strchr("AEIMQUYcgkosw048", s[42]))
                return NULL;
        return s + 44;
}

static int conf_parse_pin(struct conf_parser *p, const struct conf_key *k, const char *value, void *field) {
        for (const char *s = value; *s; s++) {
                s = conf_pin_skip_one(s);
                if (!s || (*s != ';' && *s != '\0') || (*s == ';' && s[1] == '\0'))
                        return conf_fail(p, "%s= is not sha256//BASE64[;sha256//BASE64...] "
                                         "(SHA-256 hashes as libcurl takes them)", k->name);
                if (*s == '\0')
                        break;
        }
        return conf_set_string(p, value, field);
}

/* An address enters the house normalised (common/buds-address.h); the
 * callers checked it, and "" stays "" (the key unset). */
static int conf_set_address(struct conf_parser *p, const char *value, void *field) {
        char a[BUDS_ADDRESS_SIZE];

        return conf_set_string(p, buds_address_normalise(value, a) < 0 ? value : a, field);
}

static int conf_parse_bdaddr(struct conf_parser *p, const struct conf_key *k, const char *value, void *field) {
        if (*value && !buds_address_valid(value))
                return conf_fail(p, "%s=%s is not a Bluetooth address (AA:BB:CC:DD:EE:FF)", k->name, value);
        return conf_set_address(p, value, field);
}

/* "hci0".."hci65535" (the kernel's 16-bit index), no leading zeros. */
static bool conf_hci_name_valid(const char *s) {
        size_t n;

        if (strncmp(s, "hci", 3) != 0)
                return false;
        s += 3;
        n = strlen(s);
        if (n < 1 || n > 5 || strspn(s, "0123456789") != n || (n > 1 && s[0] == '0'))
                return false;
        return strtoul(s, NULL, 10) <= 65535;
}

static int conf_parse_adapter(struct conf_parser *p, const struct conf_key *k, const char *value, void *field) {
        if (!*value || conf_hci_name_valid(value))
                return conf_set_string(p, value, field);
        if (buds_address_valid(value))
                return conf_set_address(p, value, field);
        return conf_fail(p, "%s=%s is neither hciN nor an adapter's address (AA:BB:CC:DD:EE:FF)", k->name, value);
}

/* ---- keys ---- */

#define CONF_KEY(section, name, parse, member, min, max) \
        { section, name, parse, offsetof(struct conf, member), min, max }

static const struct conf_key conf_keys[] = {
        CONF_KEY("Server", "Url", conf_parse_url, url, 0, 0),
        CONF_KEY("Server", "TokenFile", conf_parse_path, token_file, 0, 0),
        CONF_KEY("Server", "CAFile", conf_parse_ca_file, ca_file, 0, 0),
        CONF_KEY("Server", "PinnedPublicKey", conf_parse_pin, pinned_public_key, 0, 0),
        CONF_KEY("Server", "LongPoll", conf_parse_bool, long_poll, 0, 0),
        CONF_KEY("Server", "PullIntervalSec", conf_parse_number, pull_interval_sec, 5, 86400),
        CONF_KEY("Buds", "Address", conf_parse_bdaddr, buds_address, 0, 0),
        CONF_KEY("Buds", "Adapter", conf_parse_adapter, adapter, 0, 0),
        CONF_KEY("Sync", "PushDebounceMs", conf_parse_number, push_debounce_ms, 0, 60000),
        CONF_KEY("Sync", "MaxClockSkewSec", conf_parse_number, max_clock_skew_sec, 1, 86400),
        CONF_KEY("Sync", "ConflictLogLimit", conf_parse_number, conflict_log_limit, 1, CONF_CONFLICT_LOG_MAX),
};

_Static_assert(ELEMENTSOF(conf_keys) <= ELEMENTSOF(((struct conf_parser *) NULL)->seen),
               "conf_parser.seen is too small");

static bool conf_section_known(const char *section, size_t n) {
        for (size_t i = 0; i < ELEMENTSOF(conf_keys); i++)
                if (strlen(conf_keys[i].section) == n && strncmp(conf_keys[i].section, section, n) == 0)
                        return true;
        return false;
}

/* section NULL: the key in any section. */
static const struct conf_key *conf_key_find(const char *section, const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(conf_keys); i++)
                if ((!section || strcmp(conf_keys[i].section, section) == 0) && strcmp(conf_keys[i].name, name) == 0)
                        return &conf_keys[i];
        return NULL;
}

static int conf_unknown_key(struct conf_parser *p, const char *section, const char *name) {
        const struct conf_key *elsewhere = conf_key_find(NULL, name);

        if (elsewhere)
                return conf_fail(p, "unknown key %s= in [%s] (it belongs in [%s])", name, section, elsewhere->section);
        return conf_fail(p, "unknown key %s= in [%s]", name, section);
}

/* inih's handler: nonzero to go on. The reader has already rejected unknown
 * sections, so section is empty (before any header) or known. */
static int conf_handler(void *user, const char *section, const char *name, const char *value) {
        struct conf_parser *p = user;
        const struct conf_key *k;
        size_t i;

        if (p->in.r < 0)
                return 0;
        if (!*section)
                return conf_fail(p, "%s= comes before any [Section]", name), 0;
        k = conf_key_find(section, name);
        if (!k)
                return conf_unknown_key(p, section, name), 0;
        i = (size_t) (k - conf_keys);
        if (p->seen[i] > 0)
                return conf_fail(p, "%s= is already set on line %u", name, p->seen[i]), 0;
        p->seen[i] = p->in.line;
        return k->parse(p, k, value, (char *) p->conf + k->offset) >= 0;
}

/* ---- lines ---- */

static int conf_check_syntax(void *userdata, const char *line) {
        struct conf_parser *p = userdata;
        const char *name = NULL;
        size_t n = 0;

        switch (ini_line_kind(line, &name, &n)) {
        case INI_LINE_EMPTY:
        case INI_LINE_KEY:
                return 0;
        case INI_LINE_SECTION:
                if (!conf_section_known(name, n))
                        return conf_fail(p, "unknown section %s", line);
                return 0;
        case INI_LINE_BAD_SECTION:
                return conf_fail(p, "expected a section header like [Server]");
        case INI_LINE_BAD:
                break;
        }
        return conf_fail(p, "expected [Section], Key=Value or a comment");
}

static int conf_check_bytes(void *userdata, const char *line, size_t n) {
        struct conf_parser *p = userdata;

        if (ini_line_has_control(line, n))
                return conf_fail(p, "contains a control character");
        /* D-Bus carries the settings as strings, which must be UTF-8. */
        if (!utf8_is_valid(line, n))
                return conf_fail(p, "is not valid UTF-8");
        return 0;
}

/* ---- loading ---- */

static void conf_parser_done(struct conf_parser *p) { ini_file_done(&p->in); }

static int conf_parse_file(struct conf_parser *p) {
        int r = ini_file_parse(&p->in, conf_check_bytes, conf_check_syntax, conf_handler, p);

        if (r < 0)
                return r;
        if (!p->conf->url)
                return conf_fail_at(p, -EINVAL, 0, "[Server] Url= is missing; it is required");
        return 0;
}

int conf_load(const char *path, struct conf **ret_conf, char **ret_error) {
        _cleanup_(conf_freep) struct conf *c = NULL;
        _cleanup_(conf_parser_done) struct conf_parser p = { .in.path = path };
        int r;

        r = conf_new_default(&c);
        if (r >= 0) {
                p.conf = c;
                r = conf_parse_file(&p);
        }
        if (r < 0) {
                if (ret_error)
                        *ret_error = TAKE_PTR(p.in.error);
                return r;
        }
        *ret_conf = TAKE_PTR(c);
        return 0;
}

/* ---- the token ---- */

char *conf_token_free(char *token) {
        if (token) {
                explicit_bzero(token, strlen(token));
                free(token);
        }
        return NULL;
}

/* The whole buffer, not up to a NUL: a rejected token may hold one. */
#define CONF_TOKEN_BUF_SIZE (CONF_TOKEN_MAX + 3)

static void conf_token_buf_freep(char **buf) {
        if (*buf) {
                explicit_bzero(*buf, CONF_TOKEN_BUF_SIZE);
                free(*buf);
        }
}

static int conf_token_check(struct conf_parser *p, char *buf, size_t n) {
        if (n > 0 && buf[n - 1] == '\n')
                buf[--n] = '\0';
        if (n == 0)
                return conf_fail_at(p, -EINVAL, 0, "the token file is empty");
        for (size_t i = 0; i < n; i++)
                if ((unsigned char) buf[i] <= 0x20 || (unsigned char) buf[i] >= 0x7f)
                        return conf_fail_at(p, -EINVAL, 0, "the token contains whitespace, a control character "
                                            "or a non-ASCII byte (only one trailing newline is allowed)");
        return 0;
}

/* The token names the account: whoever reads it may read and change the
 * person's data on the server, whoever may replace it may point the bridge at
 * another account. A file anyone may write is refused; one anyone may read,
 * or the group may write, is taken with a warning (as OpenSSH says of keys),
 * since refusing it would stop a bridge that worked before. Group read is
 * how the daemon's group reads it (/etc/bridged is root:bridged). */
static int conf_token_mode(struct conf_parser *p, const struct stat *st, char **ret_warning) {
        const char *what;

        if (st->st_mode & S_IWOTH)
                return conf_fail_at(p, -EPERM, 0, "the token file may be written by anyone (mode %04o): "
                                    "refused; chmod o-w it and check that the token is still yours",
                                    (unsigned) (st->st_mode & 07777));
        if (st->st_mode & S_IROTH)
                what = "may be read by anyone";
        else if (st->st_mode & S_IWGRP)
                what = "may be written by its group";
        else
                return 0;
        if (asprintf(ret_warning, "%s: the token file %s (mode %04o); chmod 0640 it (or 0600)",
                     p->in.path, what, (unsigned) (st->st_mode & 07777)) < 0)
                *ret_warning = NULL;
        return 0;
}

static int conf_token_read(struct conf_parser *p, char **ret_token, char **ret_warning) {
        _cleanup_(closep) int fd = -1;
        _cleanup_(conf_token_buf_freep) char *buf = NULL;
        _cleanup_free_ char *warning = NULL;
        struct stat st;
        ssize_t n;
        int r;

        fd = open(p->in.path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return conf_fail_at(p, -errno, 0, "cannot open the token file: %s", strerror(errno));
        if (fstat(fd, &st) < 0)
                return conf_fail_at(p, -errno, 0, "cannot read the token file: %s", strerror(errno));
        if (!S_ISREG(st.st_mode))
                return conf_fail_at(p, -EINVAL, 0, "the token file is not a regular file");
        r = conf_token_mode(p, &st, &warning);
        if (r < 0)
                return r;
        buf = calloc(1, CONF_TOKEN_BUF_SIZE);
        if (!buf)
                return conf_fail_at(p, -ENOMEM, 0, "out of memory");
        n = conf_read_all(fd, buf, CONF_TOKEN_MAX + 1);
        if (n < 0)
                return conf_fail_at(p, (int) n, 0, "cannot read the token file: %s", strerror((int) -n));
        if ((size_t) n > CONF_TOKEN_MAX + 1 || ((size_t) n == CONF_TOKEN_MAX + 1 && buf[n - 1] != '\n'))
                return conf_fail_at(p, -EINVAL, 0, "the token is longer than %d bytes", CONF_TOKEN_MAX);
        r = conf_token_check(p, buf, (size_t) n);
        if (r < 0)
                return r;
        *ret_token = TAKE_PTR(buf);
        if (ret_warning && warning)
                *ret_warning = TAKE_PTR(warning);
        return 0;
}

/* The fresh copy of the token that bridged.service's ExecReload= left in
 * $BRIDGED_RELOAD_DIRECTORY, or NULL when there is none. systemd 252 loads
 * credentials at start only, and its ExecReload= processes do not even see
 * them in a mount namespace, so the reload copies the token as root. */
static char *conf_token_reload_path(void) {
        const char *dir = getenv("BRIDGED_RELOAD_DIRECTORY");
        char *p;

        if (!dir || !*dir || asprintf(&p, "%s/%s", dir, CONF_TOKEN_CREDENTIAL) < 0)
                return NULL;
        if (access(p, F_OK) == 0)
                return p;
        free(p);
        return NULL;
}

int conf_load_token(const struct conf *c, char **ret_token, char **ret_error, char **ret_warning) {
        _cleanup_free_ char *path = NULL;
        _cleanup_(conf_parser_done) struct conf_parser p = {};
        const char *dir = getenv("CREDENTIALS_DIRECTORY");
        int r = -ENOMEM;

        if (c->token_file)
                path = strdup(c->token_file);
        else if ((path = conf_token_reload_path()))
                ;
        else if (dir && *dir) {
                if (asprintf(&path, "%s/%s", dir, CONF_TOKEN_CREDENTIAL) < 0)
                        path = NULL;
        } else {
                if (ret_error)
                        *ret_error = strdup("no token: TokenFile= is not set in [Server] and there is no "
                                            "systemd credential \"token\" ($CREDENTIALS_DIRECTORY is not set)");
                return -ENOKEY;
        }
        if (path) {
                p.in.path = path;
                r = conf_token_read(&p, ret_token, ret_warning);
        }
        if (r < 0 && ret_error)
                *ret_error = TAKE_PTR(p.in.error);
        return r;
}
