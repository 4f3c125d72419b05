/* SPDX-License-Identifier: MIT */
/* ini-line.h: the line rules both configuration readers share. */
#include <string.h>

#include "ini-line.h"

static bool ini_is_blank(char c) {
        return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

char *ini_line_clean(char *line) {
        char *end;

        while (ini_is_blank(*line))
                line++;
        if (*line == '#' || *line == ';')
                *line = '\0';
        for (char *c = line; *c; c++)
                if (ini_is_blank(*c) && (c[1] == '#' || c[1] == ';')) {
                        *c = '\0';
                        break;
                }
        end = line + strlen(line);
        while (end > line && ini_is_blank(end[-1]))
                *--end = '\0';
        return line;
}

enum ini_line ini_line_kind(const char *line, const char **ret_name, size_t *ret_len) {
        size_t n = strlen(line), name_len;

        if (n == 0)
                return INI_LINE_EMPTY;
        if (line[0] == '[') {
                if (n < 2 || line[n - 1] != ']' || memchr(line + 1, ']', n - 2))
                        return INI_LINE_BAD_SECTION;
                *ret_name = line + 1;
                *ret_len = n - 2;
                return INI_LINE_SECTION;
        }
        name_len = strcspn(line, "=:");
        if (line[name_len] != '=' || name_len == 0)
                return INI_LINE_BAD;
        return INI_LINE_KEY;
}

bool ini_line_has_control(const char *line, size_t n) {
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char) line[i];

                if ((c < 0x20 && c != '\t' && c != '\r' && c != '\n') || c == 0x7f)
                        return true;
        }
        return false;
}
