/* SPDX-License-Identifier: MIT */
/* access.h's decision. Kept apart from sd-bus so that its table is tested
 * on its own: every caller kind against every need. */
#include "access.h"

static bool access_in_group(const struct access_rules *rules, const struct access_caller *caller) {
        if (!rules->has_group)
                return false;
        for (size_t i = 0; i < caller->n_gids; i++)
                if (caller->gids[i] == rules->group)
                        return true;
        return false;
}

bool access_allowed(const struct access_rules *rules, const struct access_caller *caller, enum access_need need) {
        if (caller->uid == 0 || caller->uid == rules->self || access_in_group(rules, caller))
                return true;
        return need == ACCESS_READ_SHARED && caller->on_active_seat;
}

const char *access_refusal(enum access_need need) {
        if (need == ACCESS_READ_SHARED)
                return "reading the Shared Data (it holds the hearing profile) is for root, members of group "
                       ACCESS_GROUP " and the user at the machine's active seat";
        return "changing settings or syncing is for root and members of group " ACCESS_GROUP
               " (sudo, or: usermod -aG " ACCESS_GROUP " USER, then log in again)";
}
