/* SPDX-License-Identifier: MIT */
/* Loading the certificate and key (tlscert.h). GnuTLS parses both and checks
 * that the key is the certificate's (GNUTLS_E_CERTIFICATE_KEY_MISMATCH), so
 * a renewal that got only one of the two files is refused, not served. The
 * key's bytes are wiped once GnuTLS has its own copy. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/x509.h>

#include "cleanup.h"
#include "common/errmsg.h"
#include "tlscert.h"

#define TLSCERT_FILE_MAX (1024 * 1024)  /* a chain of a few certificates is a few KB */

struct tlscert {
        unsigned n_ref;
        gnutls_certificate_credentials_t cred;
        time_t expires;
        char pin[64];
};

struct tlscert_file {
        char *data;
        size_t len;
};

static void tlscert_file_wipe(struct tlscert_file *f) {
        if (f->data) {
                explicit_bzero(f->data, f->len);
                free(f->data);
        }
}

static int tlscert_read(const char *path, struct tlscert_file *ret) {
        _cleanup_(fclosep) FILE *f = fopen(path, "re");
        struct tlscert_file file = { malloc(TLSCERT_FILE_MAX + 1), 0 };
        size_t n;

        if (!f || !file.data) {
                int r = f ? -ENOMEM : -errno;

                free(file.data);
                return r;
        }
        while ((n = fread(file.data + file.len, 1, TLSCERT_FILE_MAX + 1 - file.len, f)) > 0)
                file.len += n;
        if (ferror(f) || file.len > TLSCERT_FILE_MAX || file.len == 0) {
                int r = ferror(f) ? -EIO : file.len ? -EFBIG : -ENODATA;

                tlscert_file_wipe(&file);
                return r;
        }
        file.data[file.len] = '\0';
        *ret = file;
        return 0;
}

/* The server's own certificate (the chain's first): its end of validity and
 * its public key's pin. */
static int tlscert_describe(struct tlscert *c, const struct tlscert_file *pem, const char *path, char **ret_error) {
        gnutls_datum_t data = { (unsigned char *) pem->data, (unsigned) pem->len }, b64 = {};
        gnutls_x509_crt_t *crts = NULL;
        unsigned n = 0;
        unsigned char id[32];
        size_t id_len = sizeof(id);
        int r;

        r = gnutls_x509_crt_list_import2(&crts, &n, &data, GNUTLS_X509_FMT_PEM, 0);
        if (r < 0 || n == 0)
                return errmsg_setf(ret_error, -EINVAL, "certificate %s: no PEM certificate in it that GnuTLS can "
                                   "read (%s)", path, r < 0 ? gnutls_strerror(r) : "none found");
        c->expires = gnutls_x509_crt_get_expiration_time(crts[0]);
        r = gnutls_x509_crt_get_key_id(crts[0], GNUTLS_KEYID_USE_SHA256, id, &id_len);
        if (r >= 0)
                r = gnutls_base64_encode2(&(gnutls_datum_t) { id, (unsigned) id_len }, &b64);
        if (r >= 0)
                snprintf(c->pin, sizeof(c->pin), "%.*s", (int) b64.size, (const char *) b64.data);
        gnutls_free(b64.data);
        for (unsigned i = 0; i < n; i++)
                gnutls_x509_crt_deinit(crts[i]);
        gnutls_free(crts);
        return r < 0 ? errmsg_setf(ret_error, -ENOMEM, "certificate %s: %s", path, gnutls_strerror(r)) : 0;
}

static int tlscert_credentials_load(struct tlscert *c, const struct tlscert_file *cert, const char *cert_path,
                                    const struct tlscert_file *key, const char *key_path, char **ret_error) {
        gnutls_datum_t cd = { (unsigned char *) cert->data, (unsigned) cert->len };
        gnutls_datum_t kd = { (unsigned char *) key->data, (unsigned) key->len };
        int r;

        if (gnutls_certificate_allocate_credentials(&c->cred) < 0)
                return errmsg_setf(ret_error, -ENOMEM, "out of memory");
        r = gnutls_certificate_set_x509_key_mem2(c->cred, &cd, &kd, GNUTLS_X509_FMT_PEM, NULL, 0);
        if (r == GNUTLS_E_CERTIFICATE_KEY_MISMATCH)
                return errmsg_setf(ret_error, -EINVAL, "key %s is not the key of certificate %s", key_path,
                                   cert_path);
        if (r < 0)
                return errmsg_setf(ret_error, -EINVAL, "key %s: not a PEM private key GnuTLS can use (%s)",
                                   key_path, gnutls_strerror(r));
        return 0;
}

static void tlscert_unrefp(struct tlscert **c) {
        tlscert_unref(*c);
}

int tlscert_load(const char *cert_path, const char *key_path, struct tlscert **ret, char **ret_error) {
        _cleanup_(tlscert_unrefp) struct tlscert *c = calloc(1, sizeof(*c));
        _cleanup_(tlscert_file_wipe) struct tlscert_file cert = {}, key = {};
        int r;

        if (!c)
                return errmsg_setf(ret_error, -ENOMEM, "out of memory");
        c->n_ref = 1;
        r = tlscert_read(cert_path, &cert);
        if (r < 0)
                return errmsg_setf(ret_error, r, "cannot read certificate %s: %s", cert_path,
                                   r == -ENODATA ? "it is empty" : strerror(-r));
        r = tlscert_read(key_path, &key);
        if (r < 0)
                return errmsg_setf(ret_error, r, "cannot read key %s: %s", key_path,
                                   r == -ENODATA ? "it is empty" : strerror(-r));
        r = tlscert_describe(c, &cert, cert_path, ret_error);
        if (r >= 0)
                r = tlscert_credentials_load(c, &cert, cert_path, &key, key_path, ret_error);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(c);
        return 0;
}

struct tlscert *tlscert_ref(struct tlscert *c) {
        c->n_ref++;
        return c;
}

struct tlscert *tlscert_unref(struct tlscert *c) {
        if (!c || --c->n_ref > 0)
                return NULL;
        if (c->cred)
                gnutls_certificate_free_credentials(c->cred);
        free(c);
        return NULL;
}

gnutls_certificate_credentials_t tlscert_credentials(const struct tlscert *c) {
        return c->cred;
}

time_t tlscert_expires(const struct tlscert *c) {
        return c->expires;
}

const char *tlscert_pin(const struct tlscert *c) {
        return c->pin;
}
