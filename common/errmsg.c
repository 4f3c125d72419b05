/* SPDX-License-Identifier: MIT */
/* The error-message helper (see errmsg.h). Never logs: the caller decides
 * whether and how the message is shown. */
#include <stdarg.h>
#include <stdio.h>

#include "errmsg.h"

int errmsg_setf(char **ret_error, int r, const char *fmt, ...) {
        va_list ap;

        if (!ret_error)
                return r;
        va_start(ap, fmt);
        if (vasprintf(ret_error, fmt, ap) < 0)
                *ret_error = NULL;
        va_end(ap);
        return r;
}
