/* SPDX-License-Identifier: MIT */
/* The Buds address helper (see buds-address.h). Pure: no I/O, no logging. */
#include <errno.h>
#include <string.h>

#include "buds-address.h"

bool buds_address_valid(const char *s) {
        if (!s || strlen(s) != BUDS_ADDRESS_SIZE - 1)
                return false;
        for (size_t i = 0; i < BUDS_ADDRESS_SIZE - 1; i++)
                if (i % 3 == 2 ? s[i] != ':' : !strchr("0123456789abcdefABCDEF", s[i]))
                        return false;
        return true;
}

int buds_address_normalise(const char *s, char ret[static BUDS_ADDRESS_SIZE]) {
        if (!buds_address_valid(s))
                return -EINVAL;
        for (size_t i = 0; i < BUDS_ADDRESS_SIZE; i++)
                ret[i] = s[i] >= 'a' && s[i] <= 'f' ? (char) (s[i] - 'a' + 'A') : s[i];
        return 0;
}

bool buds_address_equal(const char *a, const char *b) {
        return a && b && strcmp(a, b) == 0;
}
