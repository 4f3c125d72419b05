/* SPDX-License-Identifier: MIT */
/* An INI file read with inih, as bridged and syncd read theirs: the file,
 * the line being read, and the first error with its place ("PATH:LINE:
 * what"). Debian builds inih without INI_HANDLER_LINENO, so the handler is
 * never told the line, and inih itself would count a line too long for its
 * buffer as two: lines are read and counted here, each judged by the caller
 * before inih sees it, and reading stops at the first error. */
#pragma once

#include <stddef.h>
#include <stdio.h>

#include <ini.h>

/* Judge one line before inih sees it: its bytes as read (n of them, without a
 * UTF-8 BOM on the first line), then the line as ini_line_clean() leaves it.
 * < 0 (after ini_file_fail()) stops reading. */
typedef int (*ini_file_bytes_fn)(void *userdata, const char *raw, size_t n);
typedef int (*ini_file_line_fn)(void *userdata, const char *clean);

struct ini_file {
        const char *path;
        FILE *file;
        unsigned line;                  /* the line being read; 0 before the first */
        char *buf;                      /* getline()'s */
        size_t buf_size;
        int r;                          /* 0, or the first error */
        char *error;                    /* its message */
        ini_file_bytes_fn check_bytes;
        ini_file_line_fn check_line;
        void *userdata;
};

/* Keeps the first error only: "PATH:LINE: what" (no line when line is 0).
 * Returns the first error. */
int ini_file_fail_at(struct ini_file *f, int r, unsigned line, const char *format, ...)
        __attribute__((format(printf, 4, 5)));
#define ini_file_fail(f, ...) ini_file_fail_at((f), -EINVAL, (f)->line, __VA_ARGS__)

/* Opens f->path and reads it through the two checks and handler (inih's),
 * each called with userdata. 0, or the first error (f->error says it). */
int ini_file_parse(struct ini_file *f, ini_file_bytes_fn check_bytes, ini_file_line_fn check_line,
                   ini_handler handler, void *userdata);

/* Closes the file and frees the buffer and the message. */
void ini_file_done(struct ini_file *f);
