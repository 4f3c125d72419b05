/* SPDX-License-Identifier: MIT */
/* The certificate chain and key syncd serves, loaded together into GnuTLS
 * credentials and counted by reference: a reload makes a new one for the
 * connections to come while every connection accepted before keeps the one
 * its TLS session was given, until it closes (GnuTLS holds no reference of
 * its own). Checks what it loads, the key against the certificate included,
 * and never logs: the caller says what failed, once. */
#pragma once

#include <time.h>

#include <gnutls/gnutls.h>

struct tlscert;

/* Reads and checks both files. On failure a negative errno and, in
 * *ret_error (malloc'd), one sentence naming the file at fault. */
int tlscert_load(const char *cert_path, const char *key_path, struct tlscert **ret, char **ret_error);
struct tlscert *tlscert_ref(struct tlscert *c);
/* Accepts NULL; returns NULL. */
struct tlscert *tlscert_unref(struct tlscert *c);

gnutls_certificate_credentials_t tlscert_credentials(const struct tlscert *c);
/* The end of the first (the server's own) certificate's validity. */
time_t tlscert_expires(const struct tlscert *c);
/* The SHA-256 of the server certificate's public key, base64: what curl's
 * --pinnedpubkey sha256// and bridged.conf's PinnedPublicKey= take. */
const char *tlscert_pin(const struct tlscert *c);
