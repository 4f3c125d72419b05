/* SPDX-License-Identifier: MIT */
/* Loading, reloading and looking up bearer tokens. A token and an account are
 * runs of printable ASCII without '#'; one pair per line. The names of
 * accounts are kept, each once, for the table's whole life, so the account a
 * request was authenticated as stays valid however many reloads happen
 * before it ends. Lookups never log. */
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
        const char *account;            /* one of accounts[] */
};

struct tokens {
        struct tokens_entry *entries;
        size_t n;
        char **accounts;                /* every account named since the table was made */
        size_t n_accounts;
};

static void tokens_entries_free(struct tokens_entry *entries, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(entries[i].token);
        free(entries);
}

struct tokens *tokens_free(struct tokens *t) {
        if (!t)
                return NULL;
        tokens_entries_free(t->entries, t->n);
        for (size_t i = 0; i < t->n_accounts; i++)
                free(t->accounts[i]);
        free(t->accounts);
        free(t);
        return NULL;
}

static void tokens_freep(struct tokens **t) {
        tokens_free(*t);
}

static const char *tokens_account_find(const struct tokens *t, const char *account) {
        for (size_t i = 0; i < t->n_accounts; i++)
                if (strcmp(t->accounts[i], account) == 0)
                        return t->accounts[i];
        return NULL;
}

/* The pool's copy of account, made when missing. */
static const char *tokens_account_intern(struct tokens *t, const char *account) {
        const char *found = tokens_account_find(t, account);
        char **a;

        if (found)
                return found;
        a = realloc(t->accounts, (t->n_accounts + 1) * sizeof(*a));
        if (!a)
                return NULL;
        t->accounts = a;
        a[t->n_accounts] = strdup(account);
        return a[t->n_accounts] ? a[t->n_accounts++] : NULL;
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
        e[t->n] = (struct tokens_entry) { strdup(token), tokens_account_intern(t, account) };
        if (!e[t->n].token || !e[t->n].account) {
                free(e[t->n].token);
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

int tokens_reload(struct tokens *t, const char *path, unsigned *ret_line) {
        _cleanup_(tokens_freep) struct tokens *fresh = NULL;
        char **a;
        int r;

        r = tokens_load(path, &fresh, ret_line);
        if (r < 0)
                return r;
        /* room for every new name first: past this point nothing can fail */
        a = realloc(t->accounts, (t->n_accounts + fresh->n_accounts + 1) * sizeof(*a));
        if (!a)
                return -ENOMEM;
        t->accounts = a;
        for (size_t k = 0; k < fresh->n_accounts; k++) {
                char *name = fresh->accounts[k];
                const char *kept = tokens_account_find(t, name);

                if (!kept)
                        kept = t->accounts[t->n_accounts++] = TAKE_PTR(fresh->accounts[k]);
                for (size_t i = 0; i < fresh->n; i++)
                        if (fresh->entries[i].account == name)
                                fresh->entries[i].account = kept;
        }
        tokens_entries_free(t->entries, t->n);
        t->entries = TAKE_PTR(fresh->entries);
        t->n = fresh->n;
        fresh->n = 0;
        return 0;
}

size_t tokens_count(const struct tokens *t) {
        return t->n;
}

const char *tokens_account(const struct tokens *t, const char *token) {
        for (size_t i = 0; i < t->n; i++)
                if (strcmp(t->entries[i].token, token) == 0)
                        return t->entries[i].account;
        return NULL;
}
