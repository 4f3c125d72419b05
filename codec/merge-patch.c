/* SPDX-License-Identifier: MIT */
/* RFC 7396 section 2, in cJSON: objects merge recursively, null deletes, the
 * rest replaces. A member the patch sets moves to the end of its object;
 * the order of members means nothing to the records' readers. */
#include "merge-patch.h"

cJSON *merge_patch_apply(cJSON *target, const cJSON *patch) {
        const cJSON *item;

        if (!cJSON_IsObject(patch)) {
                cJSON_Delete(target);
                return cJSON_Duplicate(patch, 1);
        }
        if (!cJSON_IsObject(target)) {
                cJSON_Delete(target);
                target = cJSON_CreateObject();
                if (!target)
                        return NULL;
        }
        cJSON_ArrayForEach(item, patch) {
                cJSON *merged;

                if (cJSON_IsNull(item)) {
                        cJSON_DeleteItemFromObjectCaseSensitive(target, item->string);
                        continue;
                }
                merged = merge_patch_apply(cJSON_DetachItemFromObjectCaseSensitive(target, item->string), item);
                if (!merged || !cJSON_AddItemToObject(target, item->string, merged)) {
                        cJSON_Delete(merged);
                        cJSON_Delete(target);
                        return NULL;
                }
        }
        return target;
}
