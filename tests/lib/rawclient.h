/* SPDX-License-Identifier: MIT */
/* Clients that libcurl will not be: bare TCP connections from a chosen
 * loopback address (127.0.0.2 is another client than 127.0.0.1 to a server's
 * per-address limits), and GnuTLS sessions with a forced protocol version
 * that write exactly the bytes given, a few at a time if asked. For the
 * hostile-client tests only; every wait has a deadline. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <gnutls/gnutls.h>

/* TLS 1.2 and 1.3 as a client normally offers them. */
#define RAWCLIENT_TLS_MODERN "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

struct rawclient_tls {
        int fd;
        gnutls_session_t session;
        gnutls_certificate_credentials_t cred;
};

/* A TCP connection from src (NULL: any) to 127.0.0.1:port, connected within
 * deadline_ms (harness_now_ms); the socket, or a negative errno. */
int rawclient_tcp(const char *src, int port, uint64_t deadline_ms);
/* Whether the server closed (or reset) fd before deadline_ms; reads and drops
 * anything sent before that. */
bool rawclient_closed(int fd, uint64_t deadline_ms);

/* A TLS session over a new connection, handshake done before deadline_ms,
 * the server verified against the CA file ca; priority as GnuTLS spells it.
 * 0, or a negative errno (-EPROTO: the handshake failed). */
int rawclient_tls_open(struct rawclient_tls *t, const char *src, int port, const char *ca, const char *priority,
                       uint64_t deadline_ms);
void rawclient_tls_close(struct rawclient_tls *t);
/* Sends all of data; 0 or a negative errno. */
int rawclient_tls_send(struct rawclient_tls *t, const char *data, size_t len);
/* Reads until the server closes or deadline_ms passes, into buf (NUL-terminated);
 * returns the bytes read, and *ret_closed whether the server closed. */
size_t rawclient_tls_read(struct rawclient_tls *t, char *buf, size_t size, uint64_t deadline_ms, bool *ret_closed);
/* Reads one HTTP answer with a Content-Length (or none, for 204) into buf:
 * its status, or a negative errno. */
int rawclient_tls_answer(struct rawclient_tls *t, char *buf, size_t size, uint64_t deadline_ms);
