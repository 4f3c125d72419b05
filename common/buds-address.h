/* SPDX-License-Identifier: MIT */
/* A Buds' Bluetooth address, one representation for the whole house: upper
 * case "AA:BB:CC:DD:EE:FF", as BlueZ gives it. An address is normalised where
 * it enters (BlueZ, the configuration file) and compared byte for byte
 * everywhere after; no module compares addresses case-insensitively. */
#pragma once

#include <stdbool.h>

#define BUDS_ADDRESS_SIZE 18            /* "AA:BB:CC:DD:EE:FF" and its NUL */

/* Six hex pairs joined by ':', either case. */
bool buds_address_valid(const char *s);

/* Writes s in upper case to ret. -EINVAL (ret untouched) when s is not an
 * address. */
int buds_address_normalise(const char *s, char ret[static BUDS_ADDRESS_SIZE]);

/* Two normalised addresses are the same Buds. NULL equals nothing. */
bool buds_address_equal(const char *a, const char *b);
