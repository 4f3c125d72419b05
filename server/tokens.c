/* SPDX-License-Identifier: MIT */
/* Loading and looking up bearer tokens. A token and an account are runs of
 * printable ASCII without '#'; one pair per line. The table lives as long as
 * the server; lookups never log. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "tokens.h"

#define TOKENS_FIELD_MAX 256

struct tokens_entry {
        char *token;
        char *account;
};

struct tokens {
        struct tokens_entry *entries;
        size_t n;
};

struct tokens *tokens_free(struct tokens *t) {
        if (!t)
                return NULL;
        for (size_t i = 0; i < t->n; i++) {
                free(t->entries[i].token);
                free(t->entries[i].account);
        }
        free(t->entries);
        free(t);
        return NULL;
}

static void tokens_freep(struct tokens **t) {
        tokens_free(*t);
}

static bool tokens_field_is_valid(const char *s) {
        size_t n = strlen(s);

        return n > 0 && n <= TOKENS_FIELD_MAX;
}

static int tokens_add(struct tokens *t, const char *token, const char *account) {
        struct tokens_entry *e;

        if (tokens_account(t, token))
                return -EEXIST;
        e = realloc(t->entries, (t->n + 1) * sizeof(*e));
        if (!e)
                return -ENOMEM;
        t->entries = e;
        e[t->n] = (struct tokens_entry) { strdup(token), strdup(account) };
        if (!e[t->n].token || !e[t->n].account) {
                free(e[t->n].token);
                free(e[t->n].account);
                return -ENOMEM;
        }
        t->n++;
        return 0;
}

/* Splits one line (comment already cut) into its fields: 0 fields is a blank
 * line; exactly 2 are a pair; anything else, or a byte outside printable
 * ASCII, is malformed. */
static int tokens_parse_line(char *line, struct tokens *t) {
        char *fields[3] = {};
        size_t n = 0;

        for (char *p = line; *p; p++)
                if ((unsigned char) *p > 0x7e || ((unsigned char) *p < 0x21 && *p != ' ' && *p != '\t'))
                        return -EINVAL;
        for (char *f = strtok(line, " \t"); f; f = strtok(NULL, " \t")) {
                if (n == 3)
                        return -EINVAL;
                fields[n++] = f;
        }
        if (n == 0)
                return 0;
        if (n != 2 || !tokens_field_is_valid(fields[0]) || !tokens_field_is_valid(fields[1]))
                return -EINVAL;
        return tokens_add(t, fields[0], fields[1]);
}

int tokens_load(const char *path, struct tokens **ret, unsigned *ret_line) {
        _cleanup_(tokens_freep) struct tokens *t = calloc(1, sizeof(*t));
        _cleanup_(fclosep) FILE *f = NULL;
        _cleanup_(freep) char *line = NULL;
        size_t cap = 0;
        unsigned lineno = 0;
        ssize_t len;

        if (!t)
                return -ENOMEM;
        f = fopen(path, "re");
        if (!f)
                return -errno;
        while ((len = getline(&line, &cap, f)) >= 0) {
                char *hash;
                int r;

                lineno++;
                if (len > 0 && line[len - 1] == '\n')
                        line[--len] = '\0';
                if ((size_t) len != strlen(line))       /* a NUL byte inside */
                        r = -EINVAL;
                else {
                        hash = strchr(line, '#');
                        if (hash)
                                *hash = '\0';
                        r = tokens_parse_line(line, t);
                }
                if (r == -EINVAL || r == -EEXIST)
                        *ret_line = lineno;
                if (r < 0)
                        return r;
        }
        if (ferror(f))
                return -EIO;
        *ret = TAKE_PTR(t);
        return 0;
}

const char *tokens_account(const struct tokens *t, const char *token) {
        for (size_t i = 0; i < t->n; i++)
                if (strcmp(t->entries[i].token, token) == 0)
                        return t->entries[i].account;
        return NULL;
}
