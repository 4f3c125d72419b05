/* SPDX-License-Identifier: MIT */
/* One line of an INI file as bridged and syncd read theirs, before inih
 * sees it: Debian's inih strips ';' comments only inside values and takes an
 * indented line for a continuation, so each line is cleaned and judged here,
 * the same way for both programs. The callers word the errors. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

enum ini_line {
        INI_LINE_EMPTY,                 /* blank, or a comment */
        INI_LINE_SECTION,               /* "[Name]": *ret_name, *ret_len */
        INI_LINE_KEY,                   /* "Key=Value" */
        INI_LINE_BAD_SECTION,           /* starts with '[' but is no "[Name]" */
        INI_LINE_BAD,                   /* anything else */
};

/* Drops leading blanks, a comment ('#' or ';' at the start, or after a
 * blank) and trailing blanks, in place; returns the start of what remains. */
char *ini_line_clean(char *line);

/* What a cleaned line is. */
enum ini_line ini_line_kind(const char *line, const char **ret_name, size_t *ret_len);

/* A control character other than tab, CR and LF among n bytes. */
bool ini_line_has_control(const char *line, size_t n);
