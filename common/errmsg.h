/* SPDX-License-Identifier: MIT */
/* The error message that goes with a negative errno: a function that fails
 * returns r and, through char **ret_error, a sentence a person can act on.
 * One helper instead of a vasprintf() dance in every module. */
#pragma once

/* Sets *ret_error to the formatted message (malloc'd; NULL when out of
 * memory) and returns r. ret_error may be NULL: then only r is returned. */
int errmsg_setf(char **ret_error, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
