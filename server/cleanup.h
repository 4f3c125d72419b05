/* SPDX-License-Identifier: MIT */
/* syncd's _cleanup_ helpers: those of every library (common/cleanup.h) and
 * the one for cJSON trees, which syncd frees everywhere. Only inline
 * definitions; no state. */
#pragma once

#include <stdio.h>
#include <stdlib.h>

#include <cjson/cJSON.h>

#include "common/cleanup.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(cJSON *, cJSON_Delete)
