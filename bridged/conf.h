/* SPDX-License-Identifier: MIT */
/* The daemon's configuration file (bridged.conf(5)): an INI file
 * read with inih into a fresh struct conf, checked completely before anyone
 * sees it, so a reload (SIGHUP) can load the new file and keep the old struct
 * when the new one is bad. Also reads the bearer token (TokenFile= or the
 * systemd credential "token"). Must never put the token, or any part of it,
 * into a message.
 *
 * The file's rules beyond bridged.conf(5)'s:
 * - Section and key names are case-sensitive, as written in bridged.conf(5). A
 *   section may appear more than once; a key set twice is an error (a silent
 *   "last one wins" hides typos in a file people edit by hand).
 * - [Server] Url= is required: there is nothing to sync with without it.
 * - Comments: a line whose first non-blank character is ';' or '#', and from
 *   whitespace followed by ';' or '#' to the end of a line (so a value cannot
 *   contain " #" or " ;"). Leading blanks are ignored; there are no
 *   continuation lines.
 * - Numbers are plain decimal digits: no sign, no spaces, no unit, no 0x.
 *   Booleans are exactly yes|no|true|false|1|0 (lower case).
 * - An empty value means the default ("unset") for the optional strings, and
 *   is an error for Url=, booleans and numbers.
 * - TokenFile= and CAFile= are absolute paths; CAFile= must be readable when
 *   the file is loaded.
 * - A line may hold at most 198 characters once comments and blanks around
 *   them are gone: Debian's inih reads lines into a 200-byte buffer, and a
 *   longer line is an error rather than a line cut in two. */
#pragma once

/* The most entries ConflictLogLimit= may keep: also the most ids one
 * DismissConflicts() takes, since more could name no more entries. */
#define CONF_CONFLICT_LOG_MAX 10000

#include <stdbool.h>

#define CONF_DEFAULT_PATH "/etc/bridged/bridged.conf"
#define CONF_TOKEN_CREDENTIAL "token"
#define CONF_TOKEN_MAX 4096

#define CONF_PULL_INTERVAL_SEC_DEFAULT 30
#define CONF_PUSH_DEBOUNCE_MS_DEFAULT 2000
#define CONF_MAX_CLOCK_SKEW_SEC_DEFAULT 300
#define CONF_CONFLICT_LOG_LIMIT_DEFAULT 100

/* Optional strings are NULL when unset (empty in the file). */
struct conf {
        /* [Server] */
        char *url;                      /* https://HOST[:PORT][/PATH], never NULL once loaded */
        char *token_file;               /* NULL: the credential "token" */
        char *ca_file;                  /* NULL: the system's trust store */
        char *pinned_public_key;        /* NULL: no pinning; else "sha256//B64[;sha256//B64...]" */
        bool long_poll;                 /* default yes */
        unsigned pull_interval_sec;     /* 5..86400 */

        /* [Buds] */
        char *buds_address;             /* NULL: every paired Buds; else "AA:BB:CC:DD:EE:FF" */
        char *adapter;                  /* NULL: every adapter; else "hciN" or an upper-case address */

        /* [Sync] */
        unsigned push_debounce_ms;      /* 0..60000, 0: push at once */
        unsigned max_clock_skew_sec;    /* 1..86400 */
        unsigned conflict_log_limit;    /* 1..CONF_CONFLICT_LOG_MAX */
};

/* Every setting at its default; url is NULL (there is no default server). */
int conf_new_default(struct conf **ret);

struct conf *conf_free(struct conf *c);
/* A deep copy (the manager keeps its own). */
int conf_dup(const struct conf *c, struct conf **ret);

static inline void conf_freep(struct conf **c) {
        conf_free(*c);
}

/* Reads and checks PATH into a new struct conf. On failure returns a negative
 * errno (-EINVAL for anything wrong inside the file, else what opening or
 * reading it gave) and, when ret_error is not NULL, one line for a person:
 * "PATH:LINE: what is wrong" (or "PATH: ..." when no line is to blame), or
 * NULL if even that could not be allocated. ret_conf is written only on
 * success, ret_error only on failure. */
int conf_load(const char *path, struct conf **ret_conf, char **ret_error);

/* The bearer token: from c->token_file, else $BRIDGED_RELOAD_DIRECTORY/token
 * when that file exists (the copy a reload of bridged.service makes), else
 * $CREDENTIALS_DIRECTORY/token.
 * One trailing newline is dropped; what remains must be 1..CONF_TOKEN_MAX
 * bytes of printable ASCII without spaces. Errors as conf_load(), naming the
 * file, never its content. Release the token with conf_token_free(). A file
 * anyone may write is refused (-EPERM); one anyone may read, or its group may
 * write, is taken, and ret_warning (when not NULL) gets one line saying so;
 * else it is left alone. */
int conf_load_token(const struct conf *c, char **ret_token, char **ret_error, char **ret_warning);

/* Overwrites the token, then frees it. Returns NULL. */
char *conf_token_free(char *token);
