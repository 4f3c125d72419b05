/* SPDX-License-Identifier: MIT */
/* syncd's settings: what the command line and the configuration file set,
 * the name of each in both, its default and its range, and the check of a
 * value. Reads neither argv nor a file (syncd.c and conf.c do), so a value
 * means the same and is refused with the same reason wherever it is
 * written. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>

#define SETTINGS_REPLAY_KIB_DEFAULT 8192u       /* 8 MiB: nine of the largest answers (850 KB) */
#define SETTINGS_REPLAY_KIB_MAX (1024u * 1024)
#define SETTINGS_PUSHES_PER_MINUTE_DEFAULT 120u /* a bridge pushes a handful a minute */
#define SETTINGS_PUSHES_PER_MINUTE_MAX 60000u
#define SETTINGS_DEVICES_DEFAULT 64u            /* a household has a handful */

/* Strings are malloc'd; NULL when unset. */
struct settings {
        char *listen, *cert, *key, *db, *tokens;
        char *metrics;                  /* NULL: no monitoring listener */
        unsigned max_skew_sec;
        unsigned max_replay_kib;
        unsigned max_pushes_per_minute;
        unsigned max_devices;
        unsigned max_connections, max_connections_per_ip;
        unsigned max_waits_per_account, max_waits_per_ip;
        unsigned header_timeout_sec, body_timeout_sec, idle_timeout_sec;
};

#define SETTINGS_DEFAULT { \
        .max_skew_sec = 300, \
        .max_replay_kib = SETTINGS_REPLAY_KIB_DEFAULT, \
        .max_pushes_per_minute = SETTINGS_PUSHES_PER_MINUTE_DEFAULT, \
        .max_devices = SETTINGS_DEVICES_DEFAULT, \
        .max_connections = 1000, .max_connections_per_ip = 128, \
        .max_waits_per_account = 112, .max_waits_per_ip = 112, \
        .header_timeout_sec = 10, .body_timeout_sec = 30, .idle_timeout_sec = 30, \
}

enum settings_kind {
        SETTINGS_ADDRESS,               /* ADDR:PORT (settings_parse_listen) */
        SETTINGS_PATH,                  /* a file; in the configuration file an absolute path */
        SETTINGS_DATABASE,              /* a file as SETTINGS_PATH, or a postgresql:// or postgres:// URI */
        SETTINGS_NUMBER,                /* decimal digits, min..max */
};

/* Whether a database setting is a libpq connection URI rather than a file. */
static inline bool settings_database_is_uri(const char *db) {
        return strncmp(db, "postgresql://", 13) == 0 || strncmp(db, "postgres://", 11) == 0;
}

struct settings_key {
        const char *option;             /* the command line's --OPTION */
        const char *section;            /* the configuration file's [Section] */
        const char *name;               /* and Name= */
        enum settings_kind kind;
        size_t offset;                  /* of its char * or unsigned in struct settings */
        unsigned min, max;              /* numbers only */
        bool optional;                  /* a string that may stay unset */
};

#define SETTINGS_KEYS_MAX 32
extern const struct settings_key settings_keys[];
extern const size_t settings_n_keys;

const struct settings_key *settings_key_by_option(const char *option);

/* Checks text as k's value and stores it (a copy) in s: 0, -EINVAL for a
 * value k cannot take (an address that does not resolve, a number that is
 * not plain digits within k's range), -ENOMEM. An empty path unsets it. The
 * callers word the refusal, each for where the value was written. */
int settings_set(struct settings *s, const struct settings_key *k, const char *text);
/* The string or number k names in s. */
char **settings_string(struct settings *s, const struct settings_key *k);
unsigned *settings_number(struct settings *s, const struct settings_key *k);
/* Frees the strings; s may be reused (as SETTINGS_DEFAULT's strings: unset). */
void settings_done(struct settings *s);

/* "ADDR:PORT", ADDR a numeric IPv4 address, a host name, or "[IPv6]". */
int settings_parse_listen(const char *text, struct sockaddr_storage *ret_addr, socklen_t *ret_len);
