/* SPDX-License-Identifier: MIT */
/* The daemon's log, after systemd's log.h: one call per event at a syslog
 * level, dropped above the maximum level (--log-level). Where it goes is
 * decided once, from stderr: the journal's native protocol when stderr is the
 * stream systemd connected to the journal ($JOURNAL_STREAM matches its
 * dev:ino), with CODE_FILE/CODE_LINE/CODE_FUNC, ERRNO and the caller's fields;
 * otherwise (a terminal, a file, a pipe) lines a person reads:
 * "bridged: warning: message". The sd-daemon "<N>message" form is there
 * for a caller that asks for it.
 *
 * Nothing here can tell a secret from a string: callers must never pass a
 * bearer token (or any part of it), a password, or a whole record. */
#pragma once

#include <stdlib.h>
#include <syslog.h>

enum log_target {
        LOG_TARGET_AUTO,        /* decide from stderr, as above */
        LOG_TARGET_JOURNAL,
        LOG_TARGET_PREFIXED,    /* "<3>message" on stderr, only when asked for */
        LOG_TARGET_CONSOLE,     /* "bridged: error: message" on stderr */
};

/* LOG_ERR..LOG_DEBUG; LOG_INFO until set. */
void log_set_max_level(int level);
int log_get_max_level(void);

/* "err", "warning", "info", "debug" (the --log-level words) to LOG_*, or -EINVAL. */
int log_level_from_string(const char *s);
const char *log_level_to_string(int level);

/* LOG_TARGET_AUTO (the default) looks at stderr again on the next message. */
void log_set_target(enum log_target target);
enum log_target log_get_target(void);

/* Journal fields for log_struct(): pairs of a field name (upper case, as
 * journal field names are: BUDS_ADDRESS, ITEM, ORIGIN) and its value. A pair
 * whose value is NULL is left out, so optional fields need no second call. */
#define LOG_FIELDS(...) ((const char *const[]) { __VA_ARGS__, NULL, NULL })

/* Both return -abs(error) (0 when error is 0), whether or not they logged.
 * "%m" in the format is strerror(abs(error)) when error is not 0. */
__attribute__((format(printf, 6, 7)))
int log_internal(int level, int error, const char *file, int line, const char *func,
                 const char *format, ...);
__attribute__((format(printf, 7, 8)))
int log_struct_internal(int level, int error, const char *file, int line, const char *func,
                        const char *const *fields, const char *format, ...);

#define LOG_ERRNO_VALUE(e) (-abs(e))

#define log_full_errno(level, error, ...)                                               \
        ({                                                                              \
                int _level = (level), _e = (error);                                     \
                log_get_max_level() >= _level                                           \
                        ? log_internal(_level, _e, __FILE__, __LINE__, __func__, __VA_ARGS__) \
                        : LOG_ERRNO_VALUE(_e);                                          \
        })

#define log_full(level, ...) ((void) log_full_errno((level), 0, __VA_ARGS__))

#define log_debug(...)   log_full(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)    log_full(LOG_INFO, __VA_ARGS__)
#define log_notice(...)  log_full(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) log_full(LOG_WARNING, __VA_ARGS__)
#define log_error(...)   log_full(LOG_ERR, __VA_ARGS__)

/* return log_error_errno(r, "Failed to open %s: %m", path); */
#define log_debug_errno(error, ...)   log_full_errno(LOG_DEBUG, error, __VA_ARGS__)
#define log_info_errno(error, ...)    log_full_errno(LOG_INFO, error, __VA_ARGS__)
#define log_notice_errno(error, ...)  log_full_errno(LOG_NOTICE, error, __VA_ARGS__)
#define log_warning_errno(error, ...) log_full_errno(LOG_WARNING, error, __VA_ARGS__)
#define log_error_errno(error, ...)   log_full_errno(LOG_ERR, error, __VA_ARGS__)

#define log_oom() log_error_errno(ENOMEM, "Out of memory.")

/* log_struct(LOG_INFO, LOG_FIELDS("BUDS_ADDRESS", addr, "ITEM", key),
 *            "Wrote %s to %s", key, addr);
 * The fields reach only the journal; the message must stand on its own. */
#define log_struct_errno(level, error, fields, ...)                                     \
        ({                                                                              \
                int _level = (level), _e = (error);                                     \
                log_get_max_level() >= _level                                           \
                        ? log_struct_internal(_level, _e, __FILE__, __LINE__, __func__, \
                                              (fields), __VA_ARGS__)                    \
                        : LOG_ERRNO_VALUE(_e);                                          \
        })

#define log_struct(level, fields, ...) ((void) log_struct_errno((level), 0, (fields), __VA_ARGS__))
