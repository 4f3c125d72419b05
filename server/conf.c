/* SPDX-License-Identifier: MIT */
/* Reads syncd's configuration file (conf.h has the rules). inih does the INI
 * syntax; common/ini-file.c reads and counts the lines; this file judges each
 * line before inih sees it and checks every key against settings_keys. Must
 * never accept a value it has not checked, nor keep going after the first
 * error. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "common/ini-file.h"
#include "common/ini-line.h"
#include "conf.h"

/* One load: the file, where we are in it, the first error. */
struct conf_parser {
        struct ini_file in;
        struct settings settings;
        unsigned seen[SETTINGS_KEYS_MAX];       /* the line each key was set on */
};

#define conf_fail_at(p, ...) ini_file_fail_at(&(p)->in, __VA_ARGS__)
#define conf_fail(p, ...) ini_file_fail(&(p)->in, __VA_ARGS__)

/* ---- keys ---- */

static bool conf_section_known(const char *section, size_t n) {
        for (size_t i = 0; i < settings_n_keys; i++)
                if (strlen(settings_keys[i].section) == n && strncmp(settings_keys[i].section, section, n) == 0)
                        return true;
        return false;
}

/* section NULL: the key in any section. */
static const struct settings_key *conf_key_find(const char *section, const char *name) {
        for (size_t i = 0; i < settings_n_keys; i++)
                if ((!section || strcmp(settings_keys[i].section, section) == 0) &&
                    strcmp(settings_keys[i].name, name) == 0)
                        return &settings_keys[i];
        return NULL;
}

static int conf_unknown_key(struct conf_parser *p, const char *section, const char *name) {
        const struct settings_key *elsewhere = conf_key_find(NULL, name);

        if (elsewhere)
                return conf_fail(p, "unknown key %s= in [%s] (it belongs in [%s])", name, section,
                                 elsewhere->section);
        return conf_fail(p, "unknown key %s= in [%s]", name, section);
}

static int conf_set(struct conf_parser *p, const struct settings_key *k, const char *value) {
        int r;

        if (k->kind == SETTINGS_NUMBER && !*value)
                return conf_fail(p, "%s= is empty; it takes a number %u..%u", k->name, k->min, k->max);
        /* a database URI is libpq's to read */
        if ((k->kind == SETTINGS_PATH || (k->kind == SETTINGS_DATABASE && !settings_database_is_uri(value))) &&
            *value && value[0] != '/')
                return conf_fail(p, "%s=%s is not an absolute path%s", k->name, value,
                                 k->kind == SETTINGS_DATABASE ? " (nor a postgresql:// URI)" : "");
        r = settings_set(&p->settings, k, value);
        if (r == -ENOMEM)
                return conf_fail_at(p, r, 0, "out of memory");
        if (r < 0 && k->kind == SETTINGS_NUMBER)
                return conf_fail(p, "%s=%s is not a number %u..%u (decimal digits only)", k->name, value, k->min,
                                 k->max);
        if (r < 0)
                return conf_fail(p, "%s=%s is not ADDR:PORT (127.0.0.1:8443, [::1]:8443, host:8443) of this host",
                                 k->name, value);
        return 0;
}

/* inih's handler: nonzero to go on. The reader has already refused unknown
 * sections, so section is empty (before any header) or known. */
static int conf_handler(void *user, const char *section, const char *name, const char *value) {
        struct conf_parser *p = user;
        const struct settings_key *k;
        size_t i;

        if (p->in.r < 0)
                return 0;
        if (!*section)
                return conf_fail(p, "%s= comes before any [Section]", name), 0;
        k = conf_key_find(section, name);
        if (!k)
                return conf_unknown_key(p, section, name), 0;
        i = (size_t) (k - settings_keys);
        if (p->seen[i] > 0)
                return conf_fail(p, "%s= is already set on line %u", name, p->seen[i]), 0;
        p->seen[i] = p->in.line;
        return conf_set(p, k, value) >= 0;
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
                        return conf_fail(p, "unknown section %s (syncd knows [Server] and [Limits])", line);
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
        return 0;
}

/* ---- loading ---- */

static void conf_parser_done(struct conf_parser *p) {
        ini_file_done(&p->in);
        settings_done(&p->settings);
}

int conf_load(const char *path, struct settings *ret, char **ret_error) {
        _cleanup_(conf_parser_done) struct conf_parser p = { .in.path = path, .settings = SETTINGS_DEFAULT };
        int r = ini_file_parse(&p.in, conf_check_bytes, conf_check_syntax, conf_handler, &p);

        if (r < 0) {
                if (ret_error)
                        *ret_error = TAKE_PTR(p.in.error);
                return r;
        }
        *ret = p.settings;
        p.settings = (struct settings) {};
        return 0;
}
