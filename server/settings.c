/* SPDX-License-Identifier: MIT */
/* The table of syncd's settings and the checks of their values (settings.h).
 * Must never store a value it has not checked. */
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "devices.h"
#include "settings.h"

#define SETTINGS_STRING(option, section, name, kind, member) \
        { option, section, name, kind, offsetof(struct settings, member), 0, 0, false }
#define SETTINGS_OPTIONAL(option, section, name, kind, member) \
        { option, section, name, kind, offsetof(struct settings, member), 0, 0, true }
#define SETTINGS_NUMBER(option, name, member, min, max) \
        { option, "Limits", name, SETTINGS_NUMBER, offsetof(struct settings, member), min, max, false }

const struct settings_key settings_keys[] = {
        SETTINGS_STRING("listen", "Server", "Listen", SETTINGS_ADDRESS, listen),
        SETTINGS_STRING("cert", "Server", "Certificate", SETTINGS_PATH, cert),
        SETTINGS_STRING("key", "Server", "Key", SETTINGS_PATH, key),
        SETTINGS_STRING("tokens", "Server", "Tokens", SETTINGS_PATH, tokens),
        SETTINGS_STRING("db", "Server", "Database", SETTINGS_DATABASE, db),
        SETTINGS_OPTIONAL("metrics", "Server", "Metrics", SETTINGS_ADDRESS, metrics),
        SETTINGS_NUMBER("max-skew-sec", "MaxSkewSec", max_skew_sec, 0, 86400),
        SETTINGS_NUMBER("max-replay-kib", "MaxReplayKiB", max_replay_kib, 1, SETTINGS_REPLAY_KIB_MAX),
        SETTINGS_NUMBER("max-pushes-per-minute", "MaxPushesPerMinute", max_pushes_per_minute, 0,
                        SETTINGS_PUSHES_PER_MINUTE_MAX),
        SETTINGS_NUMBER("max-devices", "MaxDevices", max_devices, 1, DEVICES_PAGE_MAX),
        SETTINGS_NUMBER("max-connections", "MaxConnections", max_connections, 1, 1000000),
        SETTINGS_NUMBER("max-connections-per-ip", "MaxConnectionsPerIP", max_connections_per_ip, 0, 1000000),
        SETTINGS_NUMBER("max-waits-per-account", "MaxWaitsPerAccount", max_waits_per_account, 0, 1000000),
        SETTINGS_NUMBER("max-waits-per-ip", "MaxWaitsPerIP", max_waits_per_ip, 0, 1000000),
        SETTINGS_NUMBER("header-timeout-sec", "HeaderTimeoutSec", header_timeout_sec, 1, 3600),
        SETTINGS_NUMBER("body-timeout-sec", "BodyTimeoutSec", body_timeout_sec, 1, 3600),
        SETTINGS_NUMBER("idle-timeout-sec", "IdleTimeoutSec", idle_timeout_sec, 1, 3600),
};

const size_t settings_n_keys = sizeof(settings_keys) / sizeof(settings_keys[0]);

_Static_assert(sizeof(settings_keys) / sizeof(settings_keys[0]) <= SETTINGS_KEYS_MAX, "SETTINGS_KEYS_MAX is too small");

const struct settings_key *settings_key_by_option(const char *option) {
        for (size_t i = 0; i < settings_n_keys; i++)
                if (strcmp(settings_keys[i].option, option) == 0)
                        return &settings_keys[i];
        return NULL;
}

char **settings_string(struct settings *s, const struct settings_key *k) {
        return (char **) ((char *) s + k->offset);
}

unsigned *settings_number(struct settings *s, const struct settings_key *k) {
        return (unsigned *) ((char *) s + k->offset);
}

/* Plain decimal digits: no sign, no blank, no 0x; saturates past max, so a
 * long row of digits is out of range, not a wrap. */
static int settings_check_number(const struct settings_key *k, const char *text, unsigned *ret) {
        unsigned long long v = 0;

        if (!*text || text[strspn(text, "0123456789")] != '\0')
                return -EINVAL;
        for (const char *c = text; *c && v <= k->max; c++)
                v = v * 10 + (unsigned) (*c - '0');
        if (v < k->min || v > k->max)
                return -EINVAL;
        *ret = (unsigned) v;
        return 0;
}

static int settings_set_string(struct settings *s, const struct settings_key *k, const char *text) {
        char **field = settings_string(s, k), *copy = NULL;

        if (*text && !(copy = strdup(text)))
                return -ENOMEM;
        free(*field);
        *field = copy;
        return 0;
}

int settings_set(struct settings *s, const struct settings_key *k, const char *text) {
        struct sockaddr_storage addr;
        socklen_t len;
        unsigned v;

        switch (k->kind) {
        case SETTINGS_ADDRESS:
                if (settings_parse_listen(text, &addr, &len) < 0)
                        return -EINVAL;
                return settings_set_string(s, k, text);
        case SETTINGS_PATH:
        case SETTINGS_DATABASE:
                return settings_set_string(s, k, text);
        case SETTINGS_NUMBER:
                if (settings_check_number(k, text, &v) < 0)
                        return -EINVAL;
                *settings_number(s, k) = v;
                return 0;
        }
        return -EINVAL;
}

void settings_done(struct settings *s) {
        for (size_t i = 0; i < settings_n_keys; i++)
                if (settings_keys[i].kind != SETTINGS_NUMBER)
                        *settings_string(s, &settings_keys[i]) = mfree(*settings_string(s, &settings_keys[i]));
}

int settings_parse_listen(const char *text, struct sockaddr_storage *ret_addr, socklen_t *ret_len) {
        _cleanup_(freep) char *host = strdup(text);
        struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV }, *ai = NULL;
        char *colon, *port, *h;

        if (!host)
                return -ENOMEM;
        colon = strrchr(host, ':');
        if (!colon || colon == host || !colon[1])
                return -EINVAL;
        *colon = '\0';
        port = colon + 1;
        h = host;
        if (h[0] == '[') {
                size_t n = strlen(h);

                if (n < 3 || h[n - 1] != ']')
                        return -EINVAL;
                h[n - 1] = '\0';
                h++;
        }
        if (strspn(port, "0123456789") != strlen(port) || strtoul(port, NULL, 10) > 65535)
                return -EINVAL;
        if (getaddrinfo(h, port, &hints, &ai) != 0 || !ai)
                return -EINVAL;
        memcpy(ret_addr, ai->ai_addr, ai->ai_addrlen);
        *ret_len = ai->ai_addrlen;
        freeaddrinfo(ai);
        return 0;
}
