/* SPDX-License-Identifier: MIT */
/* The daemon's log (see log.h): formats one message, then hands it to the
 * journal or writes one line on stderr. It keeps errno as it found it; the
 * stderr path never allocates and the journal path falls back to it, so
 * "Out of memory." still gets out. It must never decide anything: it is told
 * the level and the words. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define SD_JOURNAL_SUPPRESS_LOCATION 1
#include <systemd/sd-journal.h>

#include "common/cleanup.h"
#include "log.h"


#define LOG_MESSAGE_MAX 2048    /* LINE_MAX, as systemd's log.c */
#define LOG_FIELDS_MAX 16       /* caller's fields kept per message */
#define LOG_FIELD_NAME_MAX 64   /* the journal's limit on field names */

static int log_max_level = LOG_INFO;
static enum log_target log_target = LOG_TARGET_AUTO;
static enum log_target log_detected = LOG_TARGET_AUTO;

static const char *const log_level_names[] = {
        [LOG_ERR] = "err",
        [LOG_WARNING] = "warning",
        [LOG_INFO] = "info",
        [LOG_DEBUG] = "debug",
};

void log_set_max_level(int level) {
        if (level >= LOG_EMERG && level <= LOG_DEBUG)
                log_max_level = level;
}

int log_get_max_level(void) {
        return log_max_level;
}

int log_level_from_string(const char *s) {
        if (!s)
                return -EINVAL;
        for (size_t i = 0; i < sizeof(log_level_names) / sizeof(log_level_names[0]); i++)
                if (log_level_names[i] && strcmp(log_level_names[i], s) == 0)
                        return (int) i;
        return -EINVAL;
}

const char *log_level_to_string(int level) {
        if (level < 0 || (size_t) level >= sizeof(log_level_names) / sizeof(log_level_names[0]))
                return NULL;
        return log_level_names[level];
}

void log_set_target(enum log_target target) {
        log_target = target;
        log_detected = LOG_TARGET_AUTO;
}

/* systemd documents $JOURNAL_STREAM as "DEV:INODE" of the stream it connected
 * to stdout/stderr; it is inherited by children whose stderr is elsewhere, so
 * only a match with our own stderr means the journal reads it. */
static bool log_stderr_is_journal(void) {
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

enum log_target log_get_target(void) {
        if (log_target != LOG_TARGET_AUTO)
                return log_target;
        if (log_detected == LOG_TARGET_AUTO) {
                if (log_stderr_is_journal())
                        log_detected = LOG_TARGET_JOURNAL;
                else
                        log_detected = LOG_TARGET_CONSOLE;
        }
        return log_detected;
}

/* The level word a person reads on a console or in a file. */
static const char *log_level_word(int level) {
        if (level <= LOG_ERR)
                return "error";
        if (level == LOG_WARNING)
                return "warning";
        if (level == LOG_NOTICE)
                return "notice";
        return level == LOG_INFO ? "info" : "debug";
}

/* One write(), so lines from several processes on one pipe do not interleave. */
static void log_write_stderr(enum log_target target, int level, const char *message) {
        char line[LOG_MESSAGE_MAX + 64];
        size_t done = 0;
        int n;

        if (target == LOG_TARGET_CONSOLE)
                n = snprintf(line, sizeof(line), "%s: %s: %s\n", program_invocation_short_name,
                             log_level_word(level), message);
        else
                n = snprintf(line, sizeof(line), "<%d>%s\n", level, message);
        if (n < 0)
                return;
        if ((size_t) n >= sizeof(line)) {
                n = sizeof(line) - 1;
                line[n - 1] = '\n';
        }
        while (done < (size_t) n) {
                ssize_t w = write(STDERR_FILENO, line + done, (size_t) n - done);

                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0)
                        return;
                done += (size_t) w;
        }
}

static bool log_field_name_valid(const char *name) {
        size_t n = strlen(name);

        if (n == 0 || n > LOG_FIELD_NAME_MAX || name[0] == '_' || (name[0] >= '0' && name[0] <= '9'))
                return false;
        return strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") == n;
}

static size_t log_add_fields(struct iovec *iov, char **extra, const char *const *fields) {
        size_t n = 0;

        for (size_t i = 0; fields && fields[i] && n < LOG_FIELDS_MAX; i += 2) {
                if (!fields[i + 1] || !log_field_name_valid(fields[i]))
                        continue;
                if (asprintf(&extra[n], "%s=%s", fields[i], fields[i + 1]) < 0)
                        continue;
                iov[n] = (struct iovec) { extra[n], strlen(extra[n]) };
                n++;
        }
        return n;
}

/* Our own CODE_FILE/CODE_LINE/CODE_FUNC (SD_JOURNAL_SUPPRESS_LOCATION): the
 * caller's, not this file's. Each iovec holds one whole "NAME=value". */
static int log_send_journal(int level, int error, const char *file, int line, const char *func,
                            const char *const *fields, const char *message) {
        char priority[16], code_line[32], errno_field[32], *extra[LOG_FIELDS_MAX] = {};
        _cleanup_free_ char *code_file = NULL, *code_func = NULL, *msg = NULL, *identifier = NULL;
        struct iovec iov[7 + LOG_FIELDS_MAX];
        size_t n = 0, n_extra;
        int r;

        if (asprintf(&code_file, "CODE_FILE=%s", file) < 0 ||
            asprintf(&code_func, "CODE_FUNC=%s", func) < 0 ||
            asprintf(&msg, "MESSAGE=%s", message) < 0 ||
            asprintf(&identifier, "SYSLOG_IDENTIFIER=%s", program_invocation_short_name) < 0)
                return -ENOMEM;
        (void) snprintf(priority, sizeof(priority), "PRIORITY=%d", level);
        (void) snprintf(code_line, sizeof(code_line), "CODE_LINE=%d", line);
        (void) snprintf(errno_field, sizeof(errno_field), "ERRNO=%d", abs(error));
        iov[n++] = (struct iovec) { priority, strlen(priority) };
        iov[n++] = (struct iovec) { msg, strlen(msg) };
        iov[n++] = (struct iovec) { code_file, strlen(code_file) };
        iov[n++] = (struct iovec) { code_line, strlen(code_line) };
        iov[n++] = (struct iovec) { code_func, strlen(code_func) };
        iov[n++] = (struct iovec) { identifier, strlen(identifier) };
        if (error != 0)
                iov[n++] = (struct iovec) { errno_field, strlen(errno_field) };
        n_extra = log_add_fields(iov + n, extra, fields);
        r = sd_journal_sendv(iov, (int) (n + n_extra));
        for (size_t i = 0; i < n_extra; i++)
                free(extra[i]);
        return r;
}

static void log_dispatch(int level, int error, const char *file, int line, const char *func,
                         const char *const *fields, const char *message) {
        enum log_target target = log_get_target();

        if (target == LOG_TARGET_JOURNAL &&
            log_send_journal(level, error, file, line, func, fields, message) >= 0)
                return;
        /* sd_journal_sendv() counts a journal that is not there as success;
         * what lands here is no memory or a socket that refused the message. */
        log_write_stderr(target == LOG_TARGET_PREFIXED ? target : LOG_TARGET_CONSOLE, level, message);
}

/* "%m" is strerror(abs(error)) when an error is given, else the caller's errno. */
static int log_format_and_dispatch(int level, int error, const char *file, int line, const char *func,
                                   const char *const *fields, const char *format, va_list ap) {
        char message[LOG_MESSAGE_MAX];
        int saved_errno = errno;

        if (error != 0)
                errno = abs(error);
        (void) vsnprintf(message, sizeof(message), format, ap);
        log_dispatch(level, error, file, line, func, fields, message);
        errno = saved_errno;
        return LOG_ERRNO_VALUE(error);
}

int log_internal(int level, int error, const char *file, int line, const char *func,
                 const char *format, ...) {
        va_list ap;
        int r;

        if (level > log_max_level)
                return LOG_ERRNO_VALUE(error);
        va_start(ap, format);
        r = log_format_and_dispatch(level, error, file, line, func, NULL, format, ap);
        va_end(ap);
        return r;
}

int log_struct_internal(int level, int error, const char *file, int line, const char *func,
                        const char *const *fields, const char *format, ...) {
        va_list ap;
        int r;

        if (level > log_max_level)
                return LOG_ERRNO_VALUE(error);
        va_start(ap, format);
        r = log_format_and_dispatch(level, error, file, line, func, fields, format, ap);
        va_end(ap);
        return r;
}
