/* SPDX-License-Identifier: MIT */
/* JSON Merge Patch (RFC 7396) on cJSON trees: what Patch() of the control
 * API applies to an item's value. Written here because Debian's libcjson
 * ships without cJSON_Utils, where cJSONUtils_MergePatch would be. */
#pragma once

#include <cjson/cJSON.h>

/* Applies patch to target and returns the result, which takes target's
 * place: target is used up (changed in place, or freed when the result is
 * another tree), patch is only read. NULL when out of memory (target freed).
 * target may be NULL (no document yet). A null member of an object in patch
 * removes that member; an object merges member by member; anything else
 * replaces, arrays whole. */
cJSON *merge_patch_apply(cJSON *target, const cJSON *patch);
