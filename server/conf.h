/* SPDX-License-Identifier: MIT */
/* syncd's configuration file (syncd(8), CONFIGURATION FILE; the commented
 * default is systemd/syncd.conf, installed as /etc/bridged/syncd.conf): an
 * INI file read with inih into struct settings, every value checked through
 * settings.h before anyone sees it. The rules are bridged.conf's:
 * - Sections [Server] and [Limits]; names are case-sensitive. A section may
 *   come more than once; a key set twice is an error, as is an unknown
 *   section or key, or a key before any section.
 * - Comments: a line whose first non-blank character is '#' or ';', and
 *   from whitespace followed by '#' or ';' to the end of a line. Leading
 *   blanks are ignored; there are no continuation lines.
 * - Numbers are plain decimal digits within the key's range; paths are
 *   absolute; an empty path means unset (the key and the tokens then come
 *   from systemd's credentials, see syncd.c).
 * - A line holds at most 198 characters once comments and the blanks around
 *   them are gone (Debian's inih reads lines into 200 bytes).
 * Never goes on after the first error, which names FILE:LINE. */
#pragma once

#include "settings.h"

/* Reads and checks PATH into *ret: SETTINGS_DEFAULT with what the file sets.
 * On failure returns a negative errno (-EINVAL for anything wrong inside the
 * file, else what opening or reading it gave) and, when ret_error is not
 * NULL, one line for a person: "PATH:LINE: what is wrong" (or "PATH: ..."
 * when no line is to blame). *ret is written only on success, *ret_error
 * only on failure. */
int conf_load(const char *path, struct settings *ret, char **ret_error);
