/* SPDX-License-Identifier: MIT */
/* ini-file.h: reading an INI file through inih, a line at a time. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "cleanup.h"
#include "ini-file.h"
#include "ini-line.h"

int ini_file_fail_at(struct ini_file *f, int r, unsigned line, const char *format, ...) {
        _cleanup_free_ char *what = NULL;
        va_list ap;
        int n;

        if (f->r < 0)
                return f->r;
        f->r = r;
        va_start(ap, format);
        n = vasprintf(&what, format, ap);
        va_end(ap);
        if (n < 0) {
                what = NULL;
                return f->r;
        }
        n = line > 0 ? asprintf(&f->error, "%s:%u: %s", f->path, line, what)
                     : asprintf(&f->error, "%s: %s", f->path, what);
        if (n < 0)
                f->error = NULL;
        return f->r;
}

/* inih's reader, fgets()-like: NULL at the end, on a read error, and after
 * the first error. */
static char *ini_file_reader(char *str, int num, void *stream) {
        struct ini_file *f = stream;
        char *line;
        ssize_t n;

        if (f->r < 0)
                return NULL;
        errno = 0;
        n = getline(&f->buf, &f->buf_size, f->file);
        if (n < 0) {
                if (ferror(f->file))
                        (void) ini_file_fail_at(f, errno > 0 ? -errno : -EIO, 0, "cannot read: %s",
                                                strerror(errno > 0 ? errno : EIO));
                return NULL;
        }
        f->line++;
        line = f->buf;
        if (f->line == 1 && strncmp(line, "\xef\xbb\xbf", 3) == 0)
                line += 3;
        if (f->check_bytes(f->userdata, line, (size_t) (n - (line - f->buf))) < 0)
                return NULL;
        line = ini_line_clean(line);
        if (f->check_line(f->userdata, line) < 0)
                return NULL;
        if (num < 2 || strlen(line) > (size_t) num - 2) {
                (void) ini_file_fail(f, "line is longer than %d characters", num - 2);
                return NULL;
        }
        (void) snprintf(str, (size_t) num, "%s\n", line);
        return str;
}

int ini_file_parse(struct ini_file *f, ini_file_bytes_fn check_bytes, ini_file_line_fn check_line,
                   ini_handler handler, void *userdata) {
        int r;

        f->file = fopen(f->path, "re");
        if (!f->file)
                return ini_file_fail_at(f, -errno, 0, "cannot open: %s", strerror(errno));
        f->check_bytes = check_bytes;
        f->check_line = check_line;
        f->userdata = userdata;
        r = ini_parse_stream(ini_file_reader, f, handler, userdata);
        if (f->r < 0)
                return f->r;
        if (r == -2)
                return ini_file_fail_at(f, -ENOMEM, 0, "out of memory");
        if (r != 0)
                return ini_file_fail_at(f, -EINVAL, r > 0 ? (unsigned) r : 0, "syntax error");
        return 0;
}

void ini_file_done(struct ini_file *f) {
        if (f->file)
                (void) fclose(f->file);
        f->file = NULL;
        free(f->buf);
        f->buf = NULL;
        free(f->error);
        f->error = NULL;
}
