/* SPDX-License-Identifier: MIT */
/* The access log (see accesslog.h). An entry is written with one write(2),
 * so entries and syncd's other lines never interleave mid-line, and it
 * blocks the loop no longer than a line on stderr does. Must never repeat
 * anything of a request but the fields below: its path holds ids, its
 * headers a token, its body records. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#define SD_JOURNAL_SUPPRESS_LOCATION 1
#include <systemd/sd-journal.h>

#include "accesslog.h"

/* journalctl MESSAGE_ID=… shows the access entries alone. */
#define ACCESSLOG_MESSAGE_ID "1e061da959ba470abeddc80e463906d5"
#define ACCESSLOG_LINE_MAX 512

struct accesslog {
        bool journal;
};

/* As bridged/log.c: systemd documents $JOURNAL_STREAM as "DEV:INODE" of
 * the stream it connected to stdout/stderr; children whose stderr is
 * elsewhere inherit it, so only a match with our own stderr counts. */
static bool accesslog_stderr_is_journal(void) {
        const char *e = getenv("JOURNAL_STREAM");
        uintmax_t dev, ino;
        struct stat st;
        int n = 0;

        if (!e || sscanf(e, "%ju:%ju%n", &dev, &ino, &n) != 2 || e[n] != '\0')
                return false;
        if (fstat(STDERR_FILENO, &st) < 0)
                return false;
        return (uintmax_t) st.st_dev == dev && (uintmax_t) st.st_ino == ino;
}

int accesslog_new(struct accesslog **ret) {
        struct accesslog *l = calloc(1, sizeof(*l));

        if (!l)
                return -ENOMEM;
        l->journal = accesslog_stderr_is_journal();
        *ret = l;
        return 0;
}

struct accesslog *accesslog_free(struct accesslog *l) {
        free(l);
        return NULL;
}

const char *accesslog_account_hash(const char *account, char buf[static ACCESSLOG_ACCOUNT_HEX + 1]) {
        static const char hex[] = "0123456789abcdef";
        uint8_t digest[32];

        if (!account || gnutls_hash_fast(GNUTLS_DIG_SHA256, account, strlen(account), digest) < 0)
                return strcpy(buf, "-");
        for (size_t i = 0; i < ACCESSLOG_ACCOUNT_HEX / 2; i++) {
                buf[2 * i] = hex[digest[i] >> 4];
                buf[2 * i + 1] = hex[digest[i] & 0xf];
        }
        buf[ACCESSLOG_ACCOUNT_HEX] = '\0';
        return buf;
}

/* How the request ended, as libmicrohttpd says. */
static const char *accesslog_end(enum MHD_RequestTerminationCode toe) {
        switch (toe) {
        case MHD_REQUEST_TERMINATED_COMPLETED_OK: return "ok";
        case MHD_REQUEST_TERMINATED_WITH_ERROR: return "error";
        case MHD_REQUEST_TERMINATED_TIMEOUT_REACHED: return "timeout";
        case MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN: return "shutdown";
        case MHD_REQUEST_TERMINATED_READ_ERROR: return "read_error";
        case MHD_REQUEST_TERMINATED_CLIENT_ABORT: return "aborted";
        }
        return "other";
}

/* The fields as text, each fit for a key=value line and a journal field. */
struct accesslog_fields {
        char route[64];
        char status[12];
        char ms[24];
        char account[ACCESSLOG_ACCOUNT_HEX + 1];
        const char *key, *encoding, *replay, *end;
};

static void accesslog_fields(const struct http_done *d, struct accesslog_fields *f) {
        if (d->route)
                (void) http_route_name(d->route, f->route, sizeof(f->route));
        else
                strcpy(f->route, "-");
        if (d->status)
                (void) snprintf(f->status, sizeof(f->status), "%u", d->status);
        else
                strcpy(f->status, "-");
        (void) snprintf(f->ms, sizeof(f->ms), "%" PRIu64 ".%03" PRIu64, d->duration_us / 1000,
                        d->duration_us % 1000);
        (void) accesslog_account_hash(d->account, f->account);
        f->key = d->idempotency_key ?: "-";
        f->encoding = d->gzip ? "gzip" : "identity";
        f->replay = d->replay ? "yes" : "no";
        f->end = accesslog_end(d->end);
}

static int accesslog_journal(const struct http_done *d, const struct accesslog_fields *f, const char *line) {
        return sd_journal_send("MESSAGE=%s", line,
                               "MESSAGE_ID=" ACCESSLOG_MESSAGE_ID,
                               "PRIORITY=6",
                               "SYSLOG_IDENTIFIER=syncd",
                               "HTTP_METHOD=%s", d->method,
                               "HTTP_ROUTE=%s", f->route,
                               "HTTP_STATUS=%s", f->status,
                               "DURATION_USEC=%" PRIu64, d->duration_us,
                               "BYTES_SENT=%zu", d->bytes,
                               "CONTENT_ENCODING=%s", f->encoding,
                               "ACCOUNT_HASH=%s", f->account,
                               "IDEMPOTENCY_KEY=%s", f->key,
                               "IDEMPOTENT_REPLAY=%s", f->replay,
                               "REQUEST_END=%s", f->end,
                               NULL);
}

static void accesslog_stderr(const char *line) {
        char buf[ACCESSLOG_LINE_MAX + 16];
        int n = snprintf(buf, sizeof(buf), "syncd: %s\n", line);
        size_t done = 0;

        if (n < 0)
                return;
        if ((size_t) n >= sizeof(buf))
                n = sizeof(buf) - 1;
        while (done < (size_t) n) {
                ssize_t w = write(STDERR_FILENO, buf + done, (size_t) n - done);

                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0)
                        return;
                done += (size_t) w;
        }
}

void accesslog_write(struct accesslog *l, const struct http_done *d) {
        struct accesslog_fields f;
        char line[ACCESSLOG_LINE_MAX];

        accesslog_fields(d, &f);
        (void) snprintf(line, sizeof(line),
                        "access method=%s route=%s status=%s ms=%s bytes=%zu encoding=%s account=%s idem=%s "
                        "replay=%s end=%s", d->method, f.route, f.status, f.ms, d->bytes, f.encoding, f.account,
                        f.key, f.replay, f.end);
        /* sd_journal_send() fails only without memory or when the socket refused it */
        if (l->journal && accesslog_journal(d, &f, line) >= 0)
                return;
        accesslog_stderr(line);
}
